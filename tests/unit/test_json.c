/* test_json.c — strict parsing of untrusted JSON (io/json.h) and its users
 * other than safetensors (which hostile-safetensors covers):
 *
 *  1. pd_json_parse itself: arguments, leading whitespace, depth limits,
 *     byte offsets, the `what` prefix;
 *  2. hostile config.json text through pd_config_parse, one table row each:
 *     what json-glib alone would accept (comments, hex, trailing data,
 *     wrapped integers, NUL-cut strings, repeated keys) or overflow its
 *     stack on (100000 nested '[');
 *  3. hostile vocab.json files through pd_tokenizer_load;
 *  4. every JSON file of the golden diffusers folders still parses, and the
 *     golden tokenizers still load, also from a pretty-printed vocab.json.
 * Without a golden folder, 4 is skipped.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "io/config.h"
#include "io/json.h"
#include "paldiff.h"
#include "text/tokenizer.h"

static int starts_with_label(const char *msg, const char *label)
{
    size_t n = strlen(label);
    return strncmp(msg, label, n) == 0 && strncmp(msg + n, ": ", 2) == 0;
}

/* ---- 1. pd_json_parse ------------------------------------------------------ */

static pd_status parse(const char *text, size_t len, const char *what, int depth, unsigned flags,
                       pd_error *err)
{
    JsonParser *p = (JsonParser *)1;
    pd_status st = pd_json_parse("doc", what, text, len, depth, flags, &p, err);
    if (st == PD_OK) {
        JsonNode *root = json_parser_get_root(p);
        CHECK(root && JSON_NODE_HOLDS_OBJECT(root));
        g_object_unref(p);
    } else {
        CHECK_MSG(p == NULL, "*out must be NULL on failure");
        CHECK_MSG(starts_with_label(err->message, "doc"), "\"%s\" must start with the label",
                  err->message);
    }
    return st;
}

static void expect_parse(const char *text, const char *what, int depth, unsigned flags,
                         pd_status want, const char *needle)
{
    pd_error err = {0};
    pd_status st = parse(text, strlen(text), what, depth, flags, &err);
    CHECK_MSG(st == want, "'%s': status %s (%s), want %s", text, pd_status_name(st),
              err.message, pd_status_name(want));
    if (st != PD_OK && needle)
        CHECK_MSG(check_has_all(err.message, needle), "'%s': \"%s\" lacks \"%s\"", text, err.message,
                  needle);
}

/* An object `levels` deep in all: {} or {"a":[[...]]}. */
static char *nested(int levels)
{
    if (levels <= 1)
        return g_strdup("{}");
    int n = levels - 1;
    GString *s = g_string_new("{\"a\":");
    for (int i = 0; i < n; i++)
        g_string_append_c(s, '[');
    for (int i = 0; i < n; i++)
        g_string_append_c(s, ']');
    g_string_append_c(s, '}');
    return g_string_free(s, FALSE);
}

static void test_api(void)
{
    pd_error err = {0};
    JsonParser *p = (JsonParser *)1;

    CHECK(pd_json_parse("doc", NULL, "{}", 2, 4, 0, NULL, &err) == PD_E_ARG);
    CHECK(pd_json_parse("doc", NULL, NULL, 5, 4, 0, &p, &err) == PD_E_ARG && p == NULL);
    CHECK(pd_json_parse("doc", NULL, "{}", 2, 0, 0, &p, &err) == PD_E_ARG);
    CHECK(pd_json_parse("doc", NULL, "{}", 2, PD_JSON_MAX_DEPTH + 1, 0, &p, &err) == PD_E_ARG);
    CHECK(pd_json_parse("doc", NULL, "{}", 2, PD_JSON_MAX_DEPTH, 0, &p, &err) == PD_OK);
    g_object_unref(p);
    /* An empty buffer, even without a pointer, is a format error. */
    expect_parse("", NULL, 4, 0, PD_E_FORMAT, "must be a JSON object");
    CHECK(parse(NULL, 0, NULL, 4, 0, &err) == PD_E_FORMAT);

    /* Only len bytes count: what follows is not read. */
    CHECK(parse("{}garbage", 2, NULL, 4, 0, &err) == PD_OK);
    CHECK(parse("{\"a\":1}", 6, NULL, 4, 0, &err) == PD_E_FORMAT &&
          strstr(err.message, "before its JSON object is closed"));

    /* Leading whitespace: allowed unless the object must open at byte 0. */
    expect_parse(" \t\r\n{} \n", NULL, 4, 0, PD_OK, NULL);
    expect_parse(" {}", NULL, 4, PD_JSON_OBJECT_AT_START, PD_E_FORMAT, "at byte 0|starting with '{'");
    expect_parse("   ", NULL, 4, 0, PD_E_FORMAT, "at byte 3|must be a JSON object");
    expect_parse("[{}]", NULL, 4, 0, PD_E_FORMAT, "must be a JSON object");
    expect_parse("\"x\"", NULL, 4, 0, PD_E_FORMAT, "must be a JSON object");
    expect_parse("\xEF\xBB\xBF{}", NULL, 4, 0, PD_E_FORMAT, "must be a JSON object");

    /* Messages: the label, then the optional noun, the byte and the reason. */
    expect_parse("{\"a\":1} x", NULL, 4, 0, PD_E_FORMAT,
                 "doc: not valid JSON at byte 8: unexpected data after the text's JSON object");
    expect_parse("{\"a\":1} x", "header", 4, 0, PD_E_FORMAT,
                 "doc: header is not valid JSON at byte 8: unexpected data after the header's");
    expect_parse("{\"a\":1,\"a\":2}", "header", 4, 0, PD_E_FORMAT,
                 "doc: header: key \"a\" appears twice in one object");
    expect_parse("{\"a\":1,\"a\":2}", NULL, 4, 0, PD_E_FORMAT,
                 "doc: key \"a\" appears twice in one object");

    /* Depth counts containers, the root included. */
    for (int d = 1; d <= 5; d++) {
        char *s = nested(d);
        expect_parse(s, NULL, 4, 0, d <= 4 ? PD_OK : PD_E_FORMAT, "nested deeper than 4 levels");
        g_free(s);
    }
    expect_parse("{\"a\":{\"b\":{\"c\":{}}}}", NULL, 4, 0, PD_OK, NULL);
    expect_parse("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", NULL, 4, 0, PD_E_FORMAT,
                 "at byte 20|nested deeper than 4");
    char *deepest = nested(PD_JSON_MAX_DEPTH);
    expect_parse(deepest, NULL, PD_JSON_MAX_DEPTH, 0, PD_OK, NULL);
    g_free(deepest);

    /* The parser is reused by nothing: two parses of one text are independent. */
    JsonParser *a = NULL, *b = NULL;
    CHECK(pd_json_parse("a", NULL, "{\"k\":1}", 7, 2, 0, &a, &err) == PD_OK);
    CHECK(pd_json_parse("b", NULL, "{\"k\":2}", 7, 2, 0, &b, &err) == PD_OK);
    if (a && b) {
        JsonObject *oa = json_node_get_object(json_parser_get_root(a));
        JsonObject *ob = json_node_get_object(json_parser_get_root(b));
        CHECK(json_object_get_int_member(oa, "k") == 1 && json_object_get_int_member(ob, "k") == 2);
    }
    g_clear_object(&a);
    g_clear_object(&b);
}

/* ---- 2. hostile configs ------------------------------------------------------ */

typedef struct row {
    const char *what;
    const char *json;
    size_t len;                /* 0: strlen(json)                        */
    char *(*gen)(void);        /* builds texts too large for a literal   */
    pd_status want;
    const char *expect;        /* '|'-separated pieces of the message    */
} row;

static char *gen_deep_arrays(void)
{
    GString *s = g_string_new("{\"a\":");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(s, '[');
    return g_string_free(s, FALSE);
}

static char *gen_deep_closed(void) { return nested(100000); }

static char *gen_deep_objects(void)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 100000; i++)
        g_string_append(s, "{\"a\":");
    return g_string_free(s, FALSE);
}

static char *gen_spaces(void)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 1000000; i++)
        g_string_append_c(s, ' ');
    return g_string_free(s, FALSE);
}

#define F PD_E_FORMAT
static char *gen_400_digits(void)
{
    GString *s = g_string_new("{\"a\": 1");
    for (int i = 0; i < 399; i++)
        g_string_append_c(s, '0');
    g_string_append_c(s, '}');
    return g_string_free(s, FALSE);
}

static const row config_rows[] = {
    {"100000 '['", .gen = gen_deep_arrays, .want = F, .expect = "at byte 68|nested deeper than 64"},
    {"100000 '[' closed", .gen = gen_deep_closed, .want = F, .expect = "nested deeper than 64"},
    {"100000 '{'", .gen = gen_deep_objects, .want = F, .expect = "nested deeper than 64"},
    {"1,000,000 spaces", .gen = gen_spaces, .want = F, .expect = "at byte 1000000|JSON object"},
    {"duplicate key", "{\"sample_size\": 64, \"sample_size\": 32}", .want = F,
     .expect = "key \"sample_size\" appears twice"},
    {"duplicate nested key", "{\"a\": {\"b\": 1, \"b\": 1}}", .want = F,
     .expect = "key \"b\" appears twice"},
    {"duplicate through an escape", "{\"ab\": 1, \"\\u0061b\": 2}", .want = F,
     .expect = "key \"ab\" appears twice"},
    {"same key in sibling objects is fine", "{\"l\": [{\"k\": 1}, {\"k\": 2}], \"k\": 3}",
     .want = PD_OK},
    {"line comment", "{\"a\": 1 // one\n}", .want = F, .expect = "at byte 8|expected ',' or '}'"},
    {"block comment", "{/* c */ \"a\": 1}", .want = F, .expect = "expected a quoted member name"},
    {"hash comment", "# c\n{\"a\": 1}", .want = F, .expect = "must be a JSON object"},
    {"hex number", "{\"a\": 0x10}", .want = F, .expect = "at byte 7|malformed number"},
    {"octal number", "{\"a\": 010}", .want = F, .expect = "leading zero"},
    {"plus sign", "{\"a\": +1}", .want = F, .expect = "where a value should be"},
    {"bare fraction", "{\"a\": .5}", .want = F, .expect = "where a value should be"},
    {"dot without digits", "{\"a\": 1.}", .want = F, .expect = "digits must follow '.'"},
    {"exponent without digits", "{\"a\": 1e}", .want = F, .expect = "digits must follow the exponent"},
    {"NaN", "{\"a\": NaN}", .want = F, .expect = "where a value should be"},
    {"Infinity", "{\"a\": -Infinity}", .want = F, .expect = "malformed number"},
    {"True", "{\"a\": True}", .want = F, .expect = "where a value should be"},
    {"single quotes", "{'a': 1}", .want = F, .expect = "quoted member name"},
    {"bareword key", "{a: 1}", .want = F, .expect = "quoted member name"},
    {"trailing comma in object", "{\"a\": 1,}", .want = F, .expect = "quoted member name"},
    {"trailing comma in array", "{\"a\": [1,]}", .want = F, .expect = "where a value should be"},
    {"trailing garbage", "{\"a\": 1} garbage", .want = F,
     .expect = "at byte 9|unexpected data after"},
    {"two objects", "{}{}", .want = F, .expect = "unexpected data after"},
    {"trailing semicolon", "{};", .want = F, .expect = "unexpected data after"},
    {"cut short", "{\"a\": [1, 2", .want = F, .expect = "ends before its JSON object is closed"},
    {"cut in a string", "{\"a\": \"b", .want = F, .expect = "ends inside a string"},
    {"integer 2^63", "{\"a\": 9223372036854775808}", .want = F, .expect = "64-bit range"},
    {"integer -2^63-1", "{\"a\": -9223372036854775809}", .want = F, .expect = "64-bit range"},
    /* Configs read integers of 20+ digits as doubles (Hugging Face writes
     * model_max_length as 1000000000000000019884624838656); beyond a
     * double's range they are refused. */
    {"integer 2^64 (read as a double)", "{\"a\": 18446744073709551616}", .want = PD_OK},
    {"integer 1e30 as digits (read as a double)", "{\"a\": 1000000000000000019884624838656}",
     .want = PD_OK},
    {"integer 1e82 as digits (read as a double)", "{\"a\": 1" "000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000}", .want = PD_OK},
    {"integer of 400 digits", .gen = gen_400_digits, .want = F, .expect = "64-bit range"},
    {"NUL escape in a key", "{\"a\\u0000x\": 1, \"a\\u0000y\": 2}", .want = F,
     .expect = "at byte 3|\"a\\u0000...\"|\\u0000 (NUL)"},
    {"NUL escape in a value", "{\"a\": \"ok\\u0000\"}", .want = F, .expect = "\\u0000 (NUL)"},
    {"raw NUL byte", "{\"a\": 1}\0", 9, .want = F, .expect = "at byte 8|NUL byte"},
    {"raw NUL in a string", "{\"a\0b\": 1}", 10, .want = F, .expect = "at byte 3|NUL byte"},
    {"invalid UTF-8", "{\"a\": \"\xff\"}", .want = F, .expect = "not valid UTF-8 (byte 7)"},
    {"overlong UTF-8", "{\"\xc0\xaf\": 1}", .want = F, .expect = "not valid UTF-8 (byte 2)"},
    {"UTF-8 of a surrogate", "{\"\xed\xa0\x80\": 1}", .want = F, .expect = "not valid UTF-8"},
    {"truncated UTF-8", "{\"a\": 1}\xe2\x82", .want = F, .expect = "not valid UTF-8 (byte 8)"},
    {"lone high surrogate", "{\"\\ud800\": 1}", .want = F, .expect = "surrogate"},
    {"lone low surrogate", "{\"\\udc00\": 1}", .want = F, .expect = "surrogate"},
    {"raw tab in a string", "{\"a\": \"x\ty\"}", .want = F, .expect = "control character"},
    {"unknown escape", "{\"a\": \"\\x41\"}", .want = F, .expect = "unknown escape"},
    {"array at the top", "[1, 2]", .want = F, .expect = "must be a JSON object"},
    {"byte order mark", "\xEF\xBB\xBF{}", .want = F, .expect = "must be a JSON object"},

    {"valid: int64 limits, escapes, exponent, nesting, whitespace",
     "\n  {\"max\": 9223372036854775807, \"min\": -9223372036854775807, \"f\": -1.5E+2,\n"
     "   \"s\": \"\\\"\\u00e9\\ud83d\\ude00\\/\", \"n\": null, \"t\": true,\n"
     "   \"deep\": [[[{\"x\": [0]}]]], \"empty\": {}, \"e\": []}\r\n\t ", .want = PD_OK},
};

static pd_status config_from(const row *r, pd_config **c, pd_error *err)
{
    char *gen = r->gen ? r->gen() : NULL;
    const char *text = gen ? gen : r->json;
    size_t len = gen ? strlen(gen) : r->len ? r->len : strlen(r->json);
    /* An exactly sized copy, so ASan sees a read past len. */
    char *exact = g_malloc(len ? len : 1);
    memcpy(exact, text, len);
    pd_status st = pd_config_parse("cfg.json", exact, len, c, err);
    g_free(exact);
    g_free(gen);
    return st;
}

static void test_config_rows(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(config_rows); i++) {
        const row *r = &config_rows[i];
        pd_config *c = NULL;
        pd_error err = {0};
        pd_status st = config_from(r, &c, &err);
        CHECK_MSG(st == r->want, "config row '%s': status %s (%s)", r->what, pd_status_name(st),
                  err.message);
        if (st != PD_OK) {
            CHECK_MSG(c == NULL, "config row '%s': a config on failure", r->what);
            CHECK_MSG(starts_with_label(err.message, "cfg.json") && check_has_all(err.message, r->expect),
                      "config row '%s': \"%s\" lacks \"%s\"", r->what, err.message, r->expect);
        }
        pd_config_free(c);
    }

    /* The values of the valid row read back exactly. */
    pd_config *c = NULL;
    pd_error err = {0};
    if (config_from(&config_rows[G_N_ELEMENTS(config_rows) - 1], &c, &err) == PD_OK) {
        int64_t max = 0, min = 0;
        double f = 0;
        const char *s = NULL;
        CHECK(pd_config_int(c, "max", INT64_MIN, INT64_MAX, &max, &err) == PD_OK &&
              max == INT64_MAX);
        CHECK(pd_config_int(c, "min", INT64_MIN, INT64_MAX, &min, &err) == PD_OK &&
              min == -INT64_MAX);
        CHECK(pd_config_double(c, "f", &f, &err) == PD_OK && f == -150.0);
        CHECK(pd_config_string(c, "s", &s, &err) == PD_OK && s &&
              strcmp(s, "\"\xc3\xa9\xf0\x9f\x98\x80/") == 0);
        pd_config_free(c);
    }

    /* A wide integer reads as the double it spells, and is not an integer. */
    const char *wide = "{\"model_max_length\": 1000000000000000019884624838656, \"n\": -123456789012345678901}";
    if (pd_config_parse("cfg.json", wide, strlen(wide), &c, &err) == PD_OK) {
        double v = 0, n = 0;
        int64_t i = 0;
        CHECK(pd_config_double(c, "model_max_length", &v, &err) == PD_OK && fabs(v / 1e30 - 1) < 1e-15);
        CHECK(pd_config_double(c, "n", &n, &err) == PD_OK && fabs(n / -123456789012345678901.0 - 1) < 1e-15);
        CHECK(pd_config_int(c, "model_max_length", 0, INT64_MAX, &i, &err) == PD_E_FORMAT);
        pd_config_free(c);
    } else {
        CHECK_MSG(0, "wide integers: %s", err.message);
    }

    /* pd_config_load reads the same way from a file. */
    char *dir = g_dir_make_tmp("pd-json-XXXXXX", NULL);
    CHECK(dir != NULL);
    if (dir) {
        char *path = g_build_filename(dir, "config.json", NULL);
        char *deep = gen_deep_arrays();
        g_file_set_contents(path, deep, -1, NULL);
        c = NULL;
        CHECK(pd_config_load(path, &c, &err) == PD_E_FORMAT && c == NULL &&
              starts_with_label(err.message, path) && strstr(err.message, "nested deeper"));
        g_file_set_contents(path, "{\"a\": 1, /* x */ \"b\": 2}", -1, NULL);
        CHECK(pd_config_load(path, &c, &err) == PD_E_FORMAT && strstr(err.message, "at byte 9"));
        g_file_set_contents(path, "{\"a\": 1, \"b\": 2}\n", -1, NULL);
        CHECK_MSG(pd_config_load(path, &c, &err) == PD_OK, "%s", err.message);
        pd_config_free(c);
        g_unlink(path);
        g_rmdir(dir);
        g_free(deep);
        g_free(path);
        g_free(dir);
    }
}

/* ---- 3. hostile vocab.json ------------------------------------------------- */

static char *gen_vocab_deep(void)
{
    GString *s = g_string_new("{\"a\": 0, \"b\":");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(s, '[');
    return g_string_free(s, FALSE);
}

static const row vocab_rows[] = {
    {"100000 '['", .gen = gen_vocab_deep, .want = F, .expect = "nested deeper than 2"},
    {"100000 '{'", .gen = gen_deep_objects, .want = F, .expect = "nested deeper than 2"},
    {"a nested array", "{\"a\": [[0]]}", .want = F, .expect = "at byte 7|nested deeper than 2"},
    {"an array id", "{\"a\": [0]}", .want = F, .expect = "the id of \"a\" is not an integer"},
    {"duplicate symbol", "{\"a\": 0, \"b\": 1, \"a\": 2}", .want = F,
     .expect = "key \"a\" appears twice"},
    {"duplicate symbol, same id", "{\"a\": 0, \"a\": 0}", .want = F,
     .expect = "key \"a\" appears twice"},
    {"comment", "{\"a\": 0, // b\n \"b\": 1}", .want = F, .expect = "quoted member name"},
    {"hex id", "{\"a\": 0x0}", .want = F, .expect = "malformed number"},
    {"trailing garbage", "{\"a\": 0}\n{\"b\": 1}", .want = F, .expect = "unexpected data after"},
    {"id beyond int64 (would wrap)", "{\"a\": 18446744073709551616}", .want = F,
     .expect = "64-bit range"},
    {"NUL escape (two symbols would become one)", "{\"a\\u0000b\": 0, \"a\\u0000c\": 1}",
     .want = F, .expect = "\\u0000 (NUL)"},
    {"invalid UTF-8 symbol", "{\"\xc3\x28\": 0}", .want = F, .expect = "not valid UTF-8 (byte 2)"},
    {"an array", "[\"a\", \"b\"]", .want = F, .expect = "must be a JSON object"},
    {"empty file", "", .want = F, .expect = "must be a JSON object"},
};

static void test_vocab_rows(void)
{
    char *dir = g_dir_make_tmp("pd-json-vocab-XXXXXX", NULL);
    CHECK(dir != NULL);
    if (!dir)
        return;
    char *vocab = g_build_filename(dir, "vocab.json", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(vocab_rows); i++) {
        const row *r = &vocab_rows[i];
        char *gen = r->gen ? r->gen() : NULL;
        const char *text = gen ? gen : r->json;
        size_t len = gen ? strlen(gen) : r->len ? r->len : strlen(r->json);
        g_file_set_contents(vocab, text, (gssize)len, NULL);
        g_free(gen);

        pd_tokenizer *t = (pd_tokenizer *)1;
        pd_error err = {0};
        pd_status st = pd_tokenizer_load(dir, &t, &err);
        CHECK_MSG(st == r->want && t == NULL, "vocab row '%s': status %s (%s)", r->what,
                  pd_status_name(st), err.message);
        CHECK_MSG(starts_with_label(err.message, vocab) && check_has_all(err.message, r->expect),
                  "vocab row '%s': \"%s\" lacks \"%s\"", r->what, err.message, r->expect);
        if (st == PD_OK)
            pd_tokenizer_free(t);
    }
    g_unlink(vocab);
    g_rmdir(dir);
    g_free(vocab);
    g_free(dir);
}

/* ---- 4. golden files --------------------------------------------------------- */

/* Every *.json below dir, recursively, through pd_config_load. */
static int load_all_json(const char *dir)
{
    int n = 0;
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            n += load_all_json(p);
        } else if (g_str_has_suffix(name, ".json")) {
            pd_config *c = NULL;
            pd_error err = {0};
            CHECK_MSG(pd_config_load(p, &c, &err) == PD_OK, "golden %s: %s", p, err.message);
            pd_config_free(c);
            n++;
        }
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    return n;
}

/* The tokenizer in src, its vocab.json re-written pretty-printed (indented,
 * one symbol a line, as some tools save it), loads with the same size. */
static void check_pretty_vocab(const char *src, int32_t want_size)
{
    char *vocab_src = g_build_filename(src, "vocab.json", NULL);
    char *merges_src = g_build_filename(src, "merges.txt", NULL);
    char *text = NULL, *merges = NULL;
    gsize len = 0, mlen = 0;
    char *dir = g_dir_make_tmp("pd-json-pretty-XXXXXX", NULL);
    if (dir && g_file_get_contents(vocab_src, &text, &len, NULL) &&
        g_file_get_contents(merges_src, &merges, &mlen, NULL)) {
        JsonParser *p = json_parser_new();
        CHECK(json_parser_load_from_data(p, text, (gssize)len, NULL));
        JsonGenerator *g = json_generator_new();
        json_generator_set_pretty(g, TRUE);
        json_generator_set_root(g, json_parser_get_root(p));
        char *pretty = json_generator_to_data(g, NULL);
        char *padded = g_strconcat("\n", pretty, "\n", NULL);

        char *vocab = g_build_filename(dir, "vocab.json", NULL);
        char *mpath = g_build_filename(dir, "merges.txt", NULL);
        g_file_set_contents(vocab, padded, -1, NULL);
        g_file_set_contents(mpath, merges, (gssize)mlen, NULL);
        pd_tokenizer *t = NULL;
        pd_error err = {0};
        CHECK_MSG(pd_tokenizer_load(dir, &t, &err) == PD_OK, "pretty %s: %s", vocab_src,
                  err.message);
        if (t) {
            CHECK(pd_tokenizer_vocab_size(t) == want_size);
            pd_tokenizer_free(t);
        }
        g_unlink(vocab);
        g_unlink(mpath);
        g_free(vocab);
        g_free(mpath);
        g_free(padded);
        g_free(pretty);
        g_object_unref(g);
        g_object_unref(p);
    }
    if (dir)
        g_rmdir(dir);
    g_free(dir);
    g_free(text);
    g_free(merges);
    g_free(vocab_src);
    g_free(merges_src);
}

static void test_golden(void)
{
    const char *golden = check_golden_dir();
    if (!golden) {
        printf("unit-json: no golden folder; golden checks skipped\n");
        return;
    }
    int files = 0, tokenizers = 0;
    int pretty_done = 0;
    GDir *d = g_dir_open(golden, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *diffusers = g_build_filename(golden, name, "diffusers", NULL);
        if (g_file_test(diffusers, G_FILE_TEST_IS_DIR)) {
            files += load_all_json(diffusers);
            char *tok_dir = g_build_filename(diffusers, "tokenizer", NULL);
            pd_tokenizer *t = NULL;
            pd_error err = {0};
            CHECK_MSG(pd_tokenizer_load(tok_dir, &t, &err) == PD_OK, "golden %s: %s", tok_dir,
                      err.message);
            if (t) {
                tokenizers++;
                if (!pretty_done++)
                    check_pretty_vocab(tok_dir, pd_tokenizer_vocab_size(t));
                pd_tokenizer_free(t);
            }
            g_free(tok_dir);
        }
        g_free(diffusers);
    }
    if (d)
        g_dir_close(d);
    CHECK_MSG(files > 0 && tokenizers > 0, "no golden diffusers folders under %s", golden);
    printf("unit-json: %d golden JSON files parsed, %d golden tokenizers loaded\n", files,
           tokenizers);
}

int main(void)
{
    test_api();
    test_config_rows();
    test_vocab_rows();
    test_golden();
    return check_summary("unit-json");
}
