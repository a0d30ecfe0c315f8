/* hostile_safetensors.c — malformed .safetensors files, one table row each.
 *
 * Every row builds a file image in memory and runs it twice: through
 * pd_st_parse (from an exactly sized heap copy, so a sanitizer sees any read
 * past the end) and through pd_st_open on a temporary file (the mmap path).
 * Both must return the row's status, and the message must start with the
 * label or path and contain every '|'-separated piece of `expect`.
 * Prints one line per row and "N passed, M failed".
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "hostile.h"
#include "io/safetensors.h"

typedef struct row {
    const char *what;
    const char *json;          /* the header; NULL when gen builds it          */
    size_t json_len;           /* 0: strlen(json), unless raw                  */
    void (*gen)(GString *hdr); /* builds headers too large for a literal       */
    uint64_t data;             /* bytes in the data area                       */
    bool raw;                  /* the file is json_len bytes of json, no more  */
    bool set_length;           /* the prefix says `length`, not the truth      */
    uint64_t length;
    pd_status want;
    const char *expect;        /* '|'-separated pieces of the message          */
} row;

#define F PD_E_FORMAT
/* One well-formed entry, for the rows that break something else. */
#define T(name, dtype, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"
#define TRUNC(k) {"prefix of " #k " bytes", "\x02\0\0\0\0\0\0\0{}", k, .raw = true, \
                  .want = F, .expect = "too short"}

static void gen_deep_arrays(GString *h)
{
    g_string_append(h, "{\"a\":");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(h, '[');
}

static void gen_deep_objects(GString *h)
{
    for (int i = 0; i < 100000; i++)
        g_string_append(h, "{\"a\":");
}

static void gen_spaces(GString *h)
{
    for (int i = 0; i < 1000000; i++)
        g_string_append_c(h, ' ');
}

/* Legal: writers pad with spaces, and nothing caps the padding but the limit. */
static void gen_padded(GString *h)
{
    g_string_append(h, "{" T("pad", "U8", "[2]", 0, 2) "}");
    for (int i = 0; i < 10000000; i++)
        g_string_append_c(h, ' ');
}

static const row rows[] = {
    /* the length prefix */
    TRUNC(0), TRUNC(1), TRUNC(2), TRUNC(3), TRUNC(4), TRUNC(5), TRUNC(6), TRUNC(7),
    {"header length 2^63", "{}", .set_length = true, .length = UINT64_C(1) << 63, .want = F,
     .expect = "9223372036854775808|limit"},
    {"header length 2^64-1", "{}", .set_length = true, .length = UINT64_MAX, .want = F,
     .expect = "limit"},
    {"header length above 100,000,000", "{}", .set_length = true, .length = 100000001,
     .want = F, .expect = "100000001|limit"},
    {"header length beyond the file", "{}", .set_length = true, .length = 3, .want = F,
     .expect = "header length 3 exceeds the 2 bytes"},
    {"header length 0", "{}", .set_length = true, .length = 0, .data = 2, .want = F,
     .expect = "header length is 0"},

    /* JSON syntax */
    {"header not JSON", "hello, world", .want = F, .expect = "starting with '{'"},
    {"JSON array instead of object", "[1, 2]", .want = F, .expect = "starting with '{'"},
    {"JSON string instead of object", "\"x\"", .want = F, .expect = "starting with '{'"},
    {"space before the object", " {}", .want = F, .expect = "starting with '{'"},
    {"UTF-8 byte order mark", "\xEF\xBB\xBF{}", .want = F, .expect = "starting with '{'"},
    {"header of 1,000,000 spaces", .gen = gen_spaces, .want = F, .expect = "starting with '{'"},
    {"header cut mid-string", "{\"a\":{\"dtype\":\"F3", .want = F,
     .expect = "ends inside a string"},
    {"header cut after a value", "{\"a\":{\"dtype\":\"F32\"", .want = F,
     .expect = "ends before its JSON object is closed"},
    {"bareword key", "{hello: 1}", .want = F, .expect = "quoted member name"},
    {"missing colon", "{\"a\" 1}", .want = F, .expect = "':'"},
    {"trailing comma", "{\"__metadata__\":{\"a\":\"b\",}}", .want = F,
     .expect = "quoted member name"},
    {"data after the object", "{}   x", .want = F, .expect = "unexpected data after"},
    {"two objects", "{}{}", .want = F, .expect = "unexpected data after"},
    {"comment (json-glib accepts it)", "{/* c */}", .want = F, .expect = "quoted member name"},
    {"octal number (json-glib reads 010 as 8)", "{" T("t.oct", "U8", "[010]", 0, 8) "}",
     .data = 8, .want = F, .expect = "leading zero"},
    {"hex number", "{" T("t.hex", "U8", "[0x8]", 0, 8) "}", .data = 8, .want = F,
     .expect = "malformed number"},
    {"integer beyond int64", "{" T("t.big", "U8", "[2]", 0, 18446744073709551616) "}",
     .data = 2, .want = F, .expect = "64-bit range"},
    {"raw control character in a string", "{\"a\x01\":1}", .want = F,
     .expect = "control character"},
    {"unknown escape", "{\"a\\q\":1}", .want = F, .expect = "unknown escape"},
    {"lone high surrogate", "{\"a\\ud800\":1}", .want = F, .expect = "surrogate"},
    {"lone low surrogate", "{\"a\\udc00\":1}", .want = F, .expect = "surrogate"},
    {"short \\u escape", "{\"a\\u12\"}", .want = F, .expect = "four hex digits"},
    {"raw NUL byte", "{\"a\0\":1}", 8, .want = F, .expect = "NUL byte"},
    {"deep nesting: 100000 '['", .gen = gen_deep_arrays, .want = F, .expect = "nested deeper"},
    {"deep nesting: 100000 '{'", .gen = gen_deep_objects, .want = F, .expect = "nested deeper"},
    {"duplicate tensor", "{" T("t.dup", "U8", "[2]", 0, 2) "," T("t.dup", "U8", "[2]", 0, 2) "}",
     .data = 2, .want = F, .expect = "\"t.dup\" appears twice"},
    {"duplicate member in an entry",
     "{\"t\":{\"dtype\":\"U8\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,2]}}",
     .data = 2, .want = F, .expect = "\"dtype\" appears twice"},

    /* names */
    {"non-UTF-8 tensor name", "{" T("t\xff\xfe", "U8", "[2]", 0, 2) "}", .data = 2, .want = F,
     .expect = "not valid UTF-8"},
    {"overlong UTF-8 in a name", "{" T("t\xc0\xaf", "U8", "[2]", 0, 2) "}", .data = 2,
     .want = F, .expect = "not valid UTF-8"},
    {"empty tensor name", "{" T("", "U8", "[2]", 0, 2) "}", .data = 2, .want = F,
     .expect = "empty name"},
    {"name with \\u0000", "{" T("t.nul\\u0000hidden", "U8", "[2]", 0, 2) "}", .data = 2,
     .want = F, .expect = "t.nul|\\u0000"},

    /* entries */
    {"tensor entry not an object", "{\"t.str\":\"F32\"}", .want = F,
     .expect = "'t.str'|not a JSON object"},
    {"tensor entry an array", "{\"t.arr\":[1]}", .want = F, .expect = "'t.arr'|not a JSON object"},
    {"missing dtype", "{\"t.nodt\":{\"shape\":[2],\"data_offsets\":[0,2]}}", .data = 2,
     .want = F, .expect = "'t.nodt'|\"dtype\" is missing"},
    {"missing shape", "{\"t.nosh\":{\"dtype\":\"U8\",\"data_offsets\":[0,2]}}", .data = 2,
     .want = F, .expect = "'t.nosh'|\"shape\" is missing"},
    {"missing data_offsets", "{\"t.nooff\":{\"dtype\":\"U8\",\"shape\":[2]}}", .data = 2,
     .want = F, .expect = "'t.nooff'|\"data_offsets\" is missing"},
    {"unknown dtype F12", "{" T("t.f12", "F12", "[2]", 0, 2) "}", .data = 2, .want = F,
     .expect = "'t.f12'|\"F12\""},
    {"lower-case dtype", "{" T("t.lc", "f32", "[2]", 0, 8) "}", .data = 8, .want = F,
     .expect = "'t.lc'|\"f32\""},
    {"dtype not a string", "{\"t.dtn\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,2]}}",
     .data = 2, .want = F, .expect = "'t.dtn'|dtype is not a string"},
    {"shape not an array", "{" T("t.shn", "U8", "2", 0, 2) "}", .data = 2, .want = F,
     .expect = "'t.shn'|shape is not an array"},
    {"shape with a negative dim", "{" T("t.neg", "U8", "[2,-1]", 0, 2) "}", .data = 2,
     .want = F, .expect = "'t.neg'|shape[1] is negative"},
    {"shape with a float dim", "{" T("t.flt", "U8", "[2.0]", 0, 2) "}", .data = 2, .want = F,
     .expect = "'t.flt'|shape[0]|not an integer"},
    {"shape with an exponent", "{" T("t.exp", "U8", "[2e0]", 0, 2) "}", .data = 2, .want = F,
     .expect = "'t.exp'|not an integer"},
    {"shape with a string dim", "{" T("t.sdim", "U8", "[\"2\"]", 0, 2) "}", .data = 2,
     .want = F, .expect = "'t.sdim'|shape[0] is not an integer"},
    {"shape with null", "{" T("t.null", "U8", "[null]", 0, 2) "}", .data = 2, .want = F,
     .expect = "'t.null'|not an integer"},
    {"ndim 9", "{" T("t.nine", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", .data = 1, .want = F,
     .expect = "'t.nine'|9 dimensions"},
    {"shape product overflows int64",
     "{" T("t.ovf", "U8", "[4294967296,4294967296]", 0, 2) "}", .data = 2, .want = F,
     .expect = "'t.ovf'|overflows"},
    {"shape x dtype size overflows int64",
     "{" T("t.ovf4", "F32", "[4611686018427387904]", 0, 2) "}", .data = 2, .want = F,
     .expect = "'t.ovf4'|overflows"},
    {"shape x size != byte range", "{" T("t.size", "F32", "[3]", 0, 8) "}", .data = 8,
     .want = F, .expect = "'t.size'|12 bytes|hold 8"},
    {"data_offsets not an array", "{\"t.o\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":2}}",
     .data = 2, .want = F, .expect = "'t.o'|two integers"},
    {"data_offsets of three",
     "{\"t.o3\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2,2]}}", .data = 2,
     .want = F, .expect = "'t.o3'|two integers"},
    {"data_offsets negative", "{" T("t.oneg", "U8", "[2]", -2, 0) "}", .data = 2, .want = F,
     .expect = "'t.oneg'|data_offsets[0] is negative"},
    {"data_offsets float", "{" T("t.ofl", "U8", "[2]", 0, 2.0) "}", .data = 2, .want = F,
     .expect = "'t.ofl'|data_offsets[1]|not an integer"},
    {"begin > end", "{" T("t.rev", "U8", "[0]", 8, 4) "}", .data = 8, .want = F,
     .expect = "'t.rev'|begin after end"},
    {"end beyond the data area", "{" T("t.past", "U8", "[16]", 0, 16) "}", .data = 8,
     .want = F, .expect = "'t.past'|beyond the data area"},
    {"overlapping tensors", "{" T("t.a", "U8", "[8]", 0, 8) "," T("t.b", "U8", "[8]", 4, 12) "}",
     .data = 12, .want = F, .expect = "'t.b'|overlaps|'t.a'"},
    {"same range twice", "{" T("t.a", "U8", "[8]", 0, 8) "," T("t.c", "U8", "[8]", 0, 8) "}",
     .data = 8, .want = F, .expect = "overlaps"},
    {"zero-size tensor inside another",
     "{" T("t.a", "U8", "[8]", 0, 8) "," T("t.z", "U8", "[0]", 4, 4) "}", .data = 8, .want = F,
     .expect = "'t.z'|overlaps"},
    {"gap between tensors", "{" T("t.a", "U8", "[4]", 0, 4) "," T("t.b", "U8", "[4]", 8, 12) "}",
     .data = 12, .want = F, .expect = "gap of 4|'t.a'|'t.b'"},
    {"gap before the first tensor", "{" T("t.late", "U8", "[4]", 4, 8) "}", .data = 8,
     .want = F, .expect = "'t.late'|gap of 4"},
    {"data area longer than the tensors", "{" T("t.short", "U8", "[4]", 0, 4) "}", .data = 8,
     .want = F, .expect = "data area is 8|4 bytes belong to no tensor"},
    {"data area but no tensors", "{}", .data = 8, .want = F, .expect = "belong to no tensor"},

    /* __metadata__ */
    {"__metadata__ with a number", "{\"__metadata__\":{\"m.num\":1}}", .want = F,
     .expect = "\"m.num\"|not a string"},
    {"__metadata__ with an object", "{\"__metadata__\":{\"m.obj\":{}}}", .want = F,
     .expect = "\"m.obj\"|not a string"},
    {"__metadata__ a string", "{\"__metadata__\":\"pt\"}", .want = F,
     .expect = "__metadata__ is not a JSON object"},
    {"__metadata__ null", "{\"__metadata__\":null}", .want = F,
     .expect = "__metadata__ is not a JSON object"},
    {"__metadata__ twice", "{\"__metadata__\":{},\"__metadata__\":{}}", .want = F,
     .expect = "appears twice"},

    /* valid files */
    {"valid: one tensor", "{" T("ok", "F32", "[2]", 0, 8) "}", .data = 8},
    {"valid: empty header object", "{}", .want = PD_OK},
    {"valid: trailing spaces, tabs, newlines", "{" T("ok", "U8", "[3]", 0, 3) "} \t\r\n  ",
     .data = 3},
    {"valid: metadata, scalar, zero-size, unknown member, escapes",
     "{\"__metadata__\":{\"format\":\"pt\",\"q\":\"\\\"\\u00e9\\ud83d\\ude00\"},"
     "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8],\"extra\":[{}]},"
     T("z", "BF16", "[0,3]", 8, 8) "," T("b", "BOOL", "[2]", 8, 10) "}",
     .data = 10},
    {"valid: tensors listed out of order",
     "{" T("second", "I16", "[2]", 4, 8) "," T("first", "I8", "[4]", 0, 4) "}", .data = 8},
    {"valid: 10 MB of padding", .gen = gen_padded, .data = 2},
};

/* The whole file image, in an exactly sized allocation. */
static uint8_t *build(const row *r, size_t *size)
{
    GString *h = g_string_new(NULL);
    if (r->gen)
        r->gen(h);
    else
        g_string_append_len(h, r->json, r->raw || r->json_len ? (gssize)r->json_len
                                                              : (gssize)strlen(r->json));
    GByteArray *img = g_byte_array_new();
    if (r->raw) {
        g_byte_array_append(img, (const guint8 *)h->str, (guint)h->len);
    } else {
        uint64_t n = r->set_length ? r->length : h->len;
        for (int i = 0; i < 8; i++)
            g_byte_array_append(img, (const guint8[]){(guint8)(n >> (8 * i))}, 1);
        g_byte_array_append(img, (const guint8 *)h->str, (guint)h->len);
        for (uint64_t i = 0; i < r->data; i++)
            g_byte_array_append(img, (const guint8[]){(guint8)(i * 7 + 1)}, 1);
    }
    *size = img->len;
    uint8_t *out = g_malloc(img->len ? img->len : 1);
    if (img->len)
        memcpy(out, img->data, img->len);
    g_byte_array_free(img, TRUE);
    g_string_free(h, TRUE);
    return out;
}

/* Reads every byte a valid handle exposes, so a sanitizer sees a bad pointer;
 * the sum goes to a volatile so the reads cannot be optimized away. */
static volatile unsigned sink;

static unsigned touch(const pd_safetensors *st)
{
    unsigned sum = 0;
    for (size_t i = 0; i < pd_st_count(st); i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        for (uint64_t b = 0; b < t->nbytes; b++)
            sum += ((const uint8_t *)t->data)[b];
        sum += (unsigned)strlen(t->name) + (pd_st_find(st, t->name) == t);
    }
    for (size_t i = 0; i < pd_st_metadata_count(st); i++)
        sum += (unsigned)strlen(pd_st_metadata(st, pd_st_metadata_key(st, i)));
    return sum;
}

int main(void)
{
    char *dir = g_dir_make_tmp("paldiff-hostile-XXXXXX", NULL);
    if (!dir) {
        fprintf(stderr, "cannot create a temporary folder\n");
        return 1;
    }
    char *path = g_build_filename(dir, "hostile.safetensors", NULL);
    hostile_tally tally = {0};
    size_t nrows = sizeof rows / sizeof rows[0];

    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        size_t size;
        uint8_t *img = build(r, &size);
        char label[32];
        snprintf(label, sizeof label, "row %zu", i + 1);

        pd_error err1 = {0}, err2 = {0};
        pd_safetensors *st = NULL;
        pd_status got = pd_st_parse(label, img, size, &st, &err1);
        const char *bad = hostile_verdict(r->want, r->expect, label, got, &err1);
        if (st)
            sink += touch(st), pd_st_close(st);

        if (!g_file_set_contents(path, (const char *)img, (gssize)size, NULL)) {
            bad = "cannot write the temporary file";
        } else {
            st = NULL;
            got = pd_st_open(path, &st, &err2);
            const char *bad2 = hostile_verdict(r->want, r->expect, path, got, &err2);
            if (!bad && bad2)
                bad = bad2;
            if (!bad && got != PD_OK && strcmp(err1.message + strlen(label),
                                               err2.message + strlen(path)) != 0)
                bad = "pd_st_open and pd_st_parse disagree";
            if (st)
                sink += touch(st), pd_st_close(st);
            g_unlink(path);
        }
        g_free(img);

        hostile_report(&tally, i + 1, r->what, r->want, err1.message, 150, bad);
    }
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
    return hostile_summary(&tally, "hostile-safetensors");
}
