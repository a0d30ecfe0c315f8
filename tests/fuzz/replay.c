/* replay.c — runs a libFuzzer target (fuzz_*.c) without libFuzzer, for
 * every compiler.
 *
 *     fuzz-NAME-replay CORPUS_DIR [MUTANTS [DICT]]
 *
 * Calls the target's LLVMFuzzerInitialize, if it has one, as libFuzzer
 * would. Feeds every file of CORPUS_DIR to LLVMFuzzerTestOneInput, then
 * MUTANTS (default 4000) deterministic mutations of them: bit flips,
 * JSON-flavoured bytes, cuts, splices, forged length prefixes and, given the
 * target's libFuzzer dictionary DICT, its words. Each input sits in an
 * exactly sized allocation, so a sanitizer build sees any read past its end.
 * A bad input aborts (the target's own checks, or a sanitizer); reaching the
 * end prints "fuzz-NAME-replay: N seeds, M mutants, 0 failed".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer: a target without one leaves it NULL. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* xorshift64*: small, deterministic across platforms. */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static void run(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size) /* an empty input's data may be NULL */
        memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

static void insert(GByteArray *b, guint at, const uint8_t *bytes, guint n)
{
    if (n == 0) /* b->data and bytes may then be NULL */
        return;
    guint tail = b->len - at;
    g_byte_array_set_size(b, b->len + n);
    memmove(b->data + at + n, b->data + at, tail);
    memcpy(b->data + at, bytes, n);
}

static int by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parses one line of a libFuzzer dictionary, name="word" or "word", with
 * the escapes \\, \" and \xAB, into w. Returns 0 where libFuzzer would
 * refuse the line. */
static int dict_word(const char *line, GByteArray *w)
{
    const char *p = strchr(line, '"'), *end = line + strlen(line) - 1;
    if (!p || p >= end || *end != '"')
        return 0;
    for (p++; p < end; p++) {
        guint8 byte = (guint8)*p;
        if (!g_ascii_isprint(*p) && !g_ascii_isspace(*p))
            return 0;
        if (*p == '\\') {
            if (p + 1 < end && (p[1] == '\\' || p[1] == '"')) {
                byte = (guint8)*++p;
            } else if (p + 3 < end && p[1] == 'x' && g_ascii_isxdigit(p[2]) && g_ascii_isxdigit(p[3])) {
                byte = (guint8)(g_ascii_xdigit_value(p[2]) << 4 | g_ascii_xdigit_value(p[3]));
                p += 3;
            } else {
                return 0;
            }
        }
        g_byte_array_append(w, &byte, 1);
    }
    return 1;
}

/* Reads a libFuzzer dictionary into a list of GBytes, skipping blank lines
 * and lines starting with '#'. A line libFuzzer would refuse is refused
 * here too, so that the replay test finds it in every build. */
static GPtrArray *read_dict(const char *path)
{
    char *text;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, NULL, &gerr)) {
        fprintf(stderr, "%s\n", gerr->message);
        exit(1);
    }
    GPtrArray *words = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    char **lines = g_strsplit(text, "\n", -1);
    for (int ln = 0; lines[ln]; ln++) {
        char *line = g_strstrip(lines[ln]);
        if (line[0] == '\0' || line[0] == '#')
            continue;
        GByteArray *w = g_byte_array_new();
        if (!dict_word(line, w)) {
            fprintf(stderr, "%s:%d: not a libFuzzer dictionary word\n", path, ln + 1);
            exit(1);
        }
        g_ptr_array_add(words, g_byte_array_free_to_bytes(w));
    }
    g_strfreev(lines);
    g_free(text);
    return words;
}

static void mutate(GByteArray *b, const GByteArray *other, const GPtrArray *dict)
{
    static const char interesting[] = "{}[]\":,\\-0123456789 eE.u\x00\xff\x80";
    /* The last case needs a dictionary. */
    switch (rnd() % (dict->len ? 9 : 8)) {
    case 0: /* flip a bit */
        if (b->len)
            b->data[below(b->len)] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    case 1: /* a JSON-significant byte */
        if (b->len)
            b->data[below(b->len)] = (uint8_t)interesting[below(sizeof interesting - 1)];
        break;
    case 2: /* cut the tail */
        g_byte_array_set_size(b, (guint)below(b->len + 1));
        break;
    case 3: /* remove a span */
        if (b->len) {
            guint at = (guint)below(b->len);
            g_byte_array_remove_range(b, at, (guint)below(b->len - at + 1));
        }
        break;
    case 4: /* repeat a span */
        if (b->len) {
            guint at = (guint)below(b->len), n = (guint)below(MIN(b->len - at, 64u) + 1);
            uint8_t span[64];
            memcpy(span, b->data + at, n);
            insert(b, at, span, n);
        }
        break;
    case 5: /* splice in a span of another seed */
        if (other->len) {
            guint from = (guint)below(other->len);
            insert(b, (guint)below(b->len + 1), other->data + from,
                   (guint)below(other->len - from + 1));
        }
        break;
    case 6: { /* forge the length prefix */
        static const uint64_t forged[] = {0, 1, 7, 8, 100000000, 100000001,
                                          UINT64_C(1) << 63, UINT64_MAX};
        uint64_t n = rnd() % 2 ? forged[below(8)] : (uint64_t)below(b->len + 16);
        for (guint i = 0; i < 8 && i < b->len; i++)
            b->data[i] = (uint8_t)(n >> (8 * i));
        break;
    }
    case 7: /* grow the data area, keeping the header */
        for (size_t n = below(16) + 1; n > 0; n--)
            g_byte_array_append(b, (const guint8[]){(guint8)rnd()}, 1);
        break;
    default: { /* a word of the target's dictionary */
        gsize n;
        const uint8_t *word = g_bytes_get_data(dict->pdata[below(dict->len)], &n);
        insert(b, (guint)below(b->len + 1), word, (guint)n);
        break;
    }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [MUTANTS [DICT]]\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    long mutants = argc > 2 ? strtol(argv[2], NULL, 10) : 4000;
    GPtrArray *dict = argc > 3 ? read_dict(argv[3])
                               : g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    char *self = g_path_get_basename(argv[0]);
    GError *gerr = NULL;
    GDir *dir = g_dir_open(argv[1], 0, &gerr);
    if (!dir) {
        fprintf(stderr, "%s\n", gerr->message);
        g_error_free(gerr);
        return 1;
    }
    GPtrArray *seeds = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(name));
    g_dir_close(dir);
    /* Directory order differs between file systems; the mutants must not. */
    g_ptr_array_sort(names, by_name);
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(argv[1], names->pdata[i], NULL);
        char *buf;
        gsize len;
        if (g_file_get_contents(path, &buf, &len, NULL)) {
            run((const uint8_t *)buf, len);
            g_ptr_array_add(seeds, g_bytes_new_take(buf, len));
        }
        g_free(path);
    }
    if (seeds->len == 0) {
        fprintf(stderr, "%s: no seed files\n", argv[1]);
        return 1;
    }
    for (long m = 0; m < mutants; m++) {
        gsize len, olen;
        const uint8_t *src = g_bytes_get_data(seeds->pdata[below(seeds->len)], &len);
        const uint8_t *oth = g_bytes_get_data(seeds->pdata[below(seeds->len)], &olen);
        GByteArray *b = g_byte_array_new(), *other = g_byte_array_new();
        g_byte_array_append(b, src, (guint)len);
        g_byte_array_append(other, oth, (guint)olen);
        for (int k = (int)below(4); k >= 0; k--)
            mutate(b, other, dict);
        run(b->data, b->len);
        g_byte_array_free(b, TRUE);
        g_byte_array_free(other, TRUE);
    }
    printf("%s: %u seeds, %ld mutants, 0 failed\n", self, seeds->len, mutants);
    g_free(self);
    g_ptr_array_free(dict, TRUE);
    g_ptr_array_free(names, TRUE);
    g_ptr_array_free(seeds, TRUE);
    return 0;
}
