/* test_tokenizer.c — the CLIP tokenizer and its text cleaning.
 *
 *  1. each cleaning step against what the reference (ftfy 6.1.1 and Python
 *     3.11's html.unescape, re, str.lower) gives for the same input;
 *  2. BPE order and load errors on a tiny tokenizer written to a temporary
 *     folder;
 *  3. every "tokenizer" case of every manifest.json under the golden folder,
 *     run with each tokenizer the manifest's sources name;
 *  4. hostile prompts on the first golden tokenizer: invalid UTF-8 and
 *     10,000-character prompts.
 * Without a golden folder, 3 and 4 are skipped and the test exits 77.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "check.h"
#include "paldiff.h"
#include "text/textclean.h"
#include "text/tokenizer.h"

/* ---- 1. cleaning ---------------------------------------------------------- */

typedef char *(*clean_fn)(const char *);

static void check_clean(clean_fn f, const char *name, const char *in, const char *want)
{
    char *got = f(in);
    CHECK_MSG(got && strcmp(got, want) == 0, "%s(\"%s\") = \"%s\", want \"%s\"", name, in,
              got ? got : "(null)", want);
    g_free(got);
}

static void test_cleaning(void)
{
    /* Expected strings are the reference's:
     * whitespace_clean(basic_clean(text)).lower() of CLIP's simple_tokenizer. */
    static const struct {
        const char *in, *want;
    } cases[] = {
        /* curly quotes, U+02BC included */
        {"\342\200\234curly\342\200\235 \342\200\230single\342\200\231 \342\200\233x\342\200\237 \312\274n",
         "\"curly\" 'single' 'x\" 'n"},
        /* fullwidth, the ideographic space, halfwidth katakana + voiced mark → NFC ガ */
        {"\357\274\246\357\275\225\357\275\214\357\275\214\343\200\200\357\275\227\357\275\211\357\275\204"
         "\357\275\224\357\275\210 \357\275\266\357\276\236",
         "full width \343\202\254"},
        /* Latin ligatures and digraphs; ŉ becomes ʼn, then ' n */
        {"\357\254\201ne \357\254\202 \357\254\203 \304\262 \307\205 \305\211", "fine fl ffi ij d\305\276 'n"},
        /* NFC */
        {"cafe\314\201 A\314\212", "caf\303\251 \303\245"},
        /* ftfy's unescape (repeated until stable), then html.unescape twice */
        {"&amp;amp; &lt;3 &EACUTE; &eacute &notit; &#x41;&#65; &#59; &#0;",
         "& <3 \303\251 \303\251 \302\254it; aa ; \357\277\275"},
        {"&amp;amp;amp;", "&"},
        /* a '<' stops ftfy's unescaping for that line and all after it */
        {"<b> &amp;amp;amp;", "<b> &amp;"},
        {"a &amp;amp;amp;\n<b>\n&amp;amp;amp;", "a & <b> &amp;"},
        /* whitespace of every kind; U+0085 is a C1 control first, so '…' */
        {" \t a\302\240\342\200\203b\343\200\200c\r\nd \342\200\250 e\302\205f ", "a b c d e\342\200\246f"},
        {"", ""},
        {" \t\n ", ""},
        /* control characters, terminal escapes; U+200B stays */
        {"a\001b\177c\342\200\213d\357\273\277e\342\201\252f\033[31mred\033[0m", "abc\342\200\213defred"},
        /* C1 controls read as windows-1252 */
        {"\302\200\302\223x\302\224", "\342\202\254\"x\""},
        /* lower: İ → i + U+0307, final sigma, Roman numerals, circled letters */
        {"\304\260STANBUL \316\237\316\224\316\237\316\243 \316\243\316\221 A\316\243. \342\205\253 \342\222\266",
         "i\314\207stanbul \316\277\316\264\316\277\317\202 \317\203\316\261 a\317\202. \342\205\273 \342\223\220"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        check_clean(pd_text_clean, "pd_text_clean", cases[i].in, cases[i].want);

    /* Python's html.unescape: legacy names without ';', longest prefix,
     * out-of-range numbers, windows-1252 for 0x80, CR kept, U+0001 dropped. */
    check_clean(pd_html_unescape, "pd_html_unescape",
                "&ampfoo &notin &notit; &#x110000; &#99999999999999999999; &#128;&#13;&#1;&#X41",
                "&foo \302\254in \302\254it; \357\277\275 \357\277\275 \342\202\254\rA");
    /* ftfy's fix_text keeps the case and the lines; "auto" unescaping. */
    check_clean(pd_text_fix, "pd_text_fix", "&amp;amp;\n<b>&amp;amp;\n&amp;amp;", "&\n<b>&amp;amp;\n&amp;amp;");
    check_clean(pd_text_fix, "pd_text_fix", "&#59; &#x3b; &#65a; &Eacute; &EACUTE; &SZLIG; &nTILDE;",
                "&#59; &#x3b; &#65a; \303\211 \303\211 SS &nTILDE;");
    check_clean(pd_text_lower, "pd_text_lower", "\303\211T\303\211 \316\243", "\303\251t\303\251 \317\203");

    /* Invalid UTF-8 is refused, not repaired. */
    clean_fn fns[] = {pd_text_clean, pd_text_fix, pd_html_unescape, pd_text_lower};
    for (size_t i = 0; i < G_N_ELEMENTS(fns); i++) {
        CHECK(fns[i]("ok \377") == NULL);
        CHECK(fns[i]("\300\200") == NULL); /* overlong NUL */
        CHECK(fns[i]("\355\240\200") == NULL); /* a surrogate */
        CHECK(fns[i](NULL) == NULL);
    }
}

/* ---- 2. a tiny tokenizer -------------------------------------------------- */

/* The folder's files, written fresh for each case. */
typedef struct tiny {
    char *dir;
    int32_t ab, aba, abab, aa, aaa_end, a_end, b_end, sot, eot, bang;
} tiny;

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);
    if (text)
        CHECK(g_file_set_contents(path, text, -1, NULL));
    else
        g_remove(path);
    g_free(path);
}

/* GPT-2's byte symbols, as the tokenizer maps bytes. */
static void byte_symbol(int b, char out[8])
{
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    int n = 0;
    if (!printable)
        for (int k = 0; k < b; k++)
            if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || k >= 0xAE))
                n++;
    int len = g_unichar_to_utf8(printable ? (gunichar)b : 256 + (gunichar)n, out);
    out[len] = '\0';
}

/* vocab.json: the 512 byte symbols, the merges' results, the specials.
 * `corrupt`: 0 none, 1 an id out of range, 2 an id given twice. */
static void write_vocab(tiny *t, int corrupt)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    int32_t id = 0;
    for (int end = 0; end < 2; end++)
        for (int by = 0; by < 256; by++) {
            char sym[16];
            byte_symbol(by, sym);
            if (end)
                strcat(sym, "</w>");
            json_builder_set_member_name(b, sym);
            json_builder_add_int_value(b, id);
            if (by == 'a' && end)
                t->a_end = id;
            if (by == 'b' && end)
                t->b_end = id;
            if (by == '!' && !end)
                t->bang = id;
            id++;
        }
    const char *more[] = {"aba", "ab", "abab", "aa", "aaa</w>", "<|startoftext|>", "<|endoftext|>"};
    int32_t *ids[] = {&t->aba, &t->ab, &t->abab, &t->aa, &t->aaa_end, &t->sot, &t->eot};
    for (size_t i = 0; i < G_N_ELEMENTS(more); i++) {
        json_builder_set_member_name(b, more[i]);
        *ids[i] = id;
        int64_t v = id++;
        if (corrupt == 1 && i == 0)
            v = 100000;
        if (corrupt == 2 && i == 0)
            v = 0;
        json_builder_add_int_value(b, v);
    }
    json_builder_end_object(b);
    JsonGenerator *g = json_generator_new();
    JsonNode *root = json_builder_get_root(b);
    json_generator_set_root(g, root);
    char *text = json_generator_to_data(g, NULL);
    write_file(t->dir, "vocab.json", text);
    g_free(text);
    json_node_unref(root);
    g_object_unref(g);
    g_object_unref(b);
}

/* Ranks chosen so that "ab a" is better than "a b", which makes it. */
static const char TINY_MERGES[] = "#version: 0.2\nab a\na b\nab ab\na a\naa a</w>\n";

static pd_tokenizer *load_ok(const tiny *t)
{
    pd_tokenizer *tok = NULL;
    pd_error err = {0};
    pd_status st = pd_tokenizer_load(t->dir, &tok, &err);
    CHECK_MSG(st == PD_OK, "loading the tiny tokenizer: %s", err.message);
    return tok;
}

static void expect_load_error(const tiny *t, pd_status want, const char *needle, const char *what)
{
    pd_tokenizer *tok = (pd_tokenizer *)1;
    pd_error err = {0};
    pd_status st = pd_tokenizer_load(t->dir, &tok, &err);
    CHECK_MSG(st == want && tok == NULL && err.status == want, "%s: status %d (%s), want %d", what, st,
              err.message, want);
    CHECK_MSG(strstr(err.message, needle) != NULL, "%s: message \"%s\" should name %s", what, err.message,
              needle);
    if (st == PD_OK)
        pd_tokenizer_free(tok);
}

static void test_tiny(void)
{
    tiny t = {0};
    GError *gerr = NULL;
    t.dir = g_dir_make_tmp("pd-tok-XXXXXX", &gerr);
    CHECK_MSG(t.dir != NULL, "cannot make a temporary folder: %s", gerr ? gerr->message : "");
    if (!t.dir) {
        g_clear_error(&gerr);
        return;
    }
    write_vocab(&t, 0);
    write_file(t.dir, "merges.txt", TINY_MERGES);

    pd_tokenizer *tok = load_ok(&t);
    if (tok) {
        int32_t ids[PD_TOKENS];
        pd_error err;
        /* No config: BOS/EOS are CLIP's, padding is EOS. */
        CHECK(pd_tokenizer_bos(tok) == t.sot && pd_tokenizer_eos(tok) == t.eot);
        CHECK(pd_tokenizer_pad(tok) == t.eot);
        CHECK(pd_tokenizer_vocab_size(tok) == 512 + 7);

        /* "ababa": both "a b" are merged in one round before the better
         * "ab a" they create is considered, as the reference's loop does. */
        CHECK(pd_tokenizer_encode(tok, "ababa", ids, &err) == PD_OK);
        CHECK_MSG(ids[0] == t.sot && ids[1] == t.abab && ids[2] == t.a_end && ids[3] == t.eot &&
                      ids[4] == t.eot && ids[PD_TOKENS - 1] == t.eot,
                  "ababa -> %d %d %d %d", ids[0], ids[1], ids[2], ids[3]);
        /* "aaaaa": non-overlapping, left to right: aa aa a</w>, then aa aaa</w>. */
        CHECK(pd_tokenizer_encode(tok, "AAAAA", ids, &err) == PD_OK);
        CHECK_MSG(ids[1] == t.aa && ids[2] == t.aaa_end && ids[3] == t.eot, "aaaaa -> %d %d %d", ids[1],
                  ids[2], ids[3]);
        /* one byte: its word-final symbol; specials in the text keep their ids */
        CHECK(pd_tokenizer_encode(tok, "b <|startoftext|><|endoftext|>", ids, &err) == PD_OK);
        CHECK(ids[1] == t.b_end && ids[2] == t.sot && ids[3] == t.eot && ids[4] == t.eot);
        pd_tokenizer_free(tok);
    }

    /* pad_token as an object, as newer tokenizer_config.json files write it */
    write_file(t.dir, "tokenizer_config.json", "{\"pad_token\": {\"content\": \"!\", \"lstrip\": false}}");
    if ((tok = load_ok(&t))) {
        CHECK(pd_tokenizer_pad(tok) == t.bang);
        pd_tokenizer_free(tok);
    }
    /* a null pad_token falls through to special_tokens_map.json */
    write_file(t.dir, "tokenizer_config.json", "{\"pad_token\": null}");
    write_file(t.dir, "special_tokens_map.json", "{\"pad_token\": \"!\"}");
    if ((tok = load_ok(&t))) {
        CHECK(pd_tokenizer_pad(tok) == t.bang);
        pd_tokenizer_free(tok);
    }
    write_file(t.dir, "tokenizer_config.json", "{\"pad_token\": \"<|nope|>\"}");
    expect_load_error(&t, PD_E_FORMAT, "<|nope|>", "pad_token not in the vocabulary");
    write_file(t.dir, "tokenizer_config.json", "{\"pad_token\": 5}");
    expect_load_error(&t, PD_E_FORMAT, "tokenizer_config.json", "pad_token a number");
    write_file(t.dir, "tokenizer_config.json", "{\"pad_token\": ");
    expect_load_error(&t, PD_E_FORMAT, "tokenizer_config.json", "tokenizer_config.json not JSON");
    write_file(t.dir, "tokenizer_config.json", NULL);
    write_file(t.dir, "special_tokens_map.json", NULL);

    /* broken merges.txt */
    write_file(t.dir, "merges.txt", "#version: 0.2\na b\nq zz\n");
    expect_load_error(&t, PD_E_FORMAT, "merges.txt: line 3", "a merge of unknown symbols");
    write_file(t.dir, "merges.txt", "#version: 0.2\na b c\n");
    expect_load_error(&t, PD_E_FORMAT, "merges.txt: line 2", "three symbols on a line");
    write_file(t.dir, "merges.txt", "#version: 0.2\n");
    expect_load_error(&t, PD_E_FORMAT, "merges.txt", "no merges");
    write_file(t.dir, "merges.txt", NULL);
    expect_load_error(&t, PD_E_IO, "merges.txt", "no merges.txt");
    write_file(t.dir, "merges.txt", TINY_MERGES);

    /* broken vocab.json */
    write_vocab(&t, 1);
    expect_load_error(&t, PD_E_FORMAT, "vocab.json", "an id out of range");
    write_vocab(&t, 2);
    expect_load_error(&t, PD_E_FORMAT, "vocab.json", "an id given twice");
    write_file(t.dir, "vocab.json", "{\"a\": 0,");
    expect_load_error(&t, PD_E_FORMAT, "vocab.json", "vocab.json not JSON");
    write_file(t.dir, "vocab.json", "[1, 2]");
    expect_load_error(&t, PD_E_FORMAT, "vocab.json", "vocab.json an array");
    write_file(t.dir, "vocab.json", "{\"a\": \"zero\"}");
    expect_load_error(&t, PD_E_FORMAT, "vocab.json", "a string id");
    write_file(t.dir, "vocab.json", "{\"a\": 0}");
    expect_load_error(&t, PD_E_FORMAT, "vocab.json", "byte symbols missing");
    write_file(t.dir, "vocab.json", NULL);
    expect_load_error(&t, PD_E_IO, "vocab.json", "no vocab.json");

    write_file(t.dir, "merges.txt", NULL);
    g_rmdir(t.dir);
    expect_load_error(&t, PD_E_IO, t.dir, "a missing folder");
    g_free(t.dir);
}

/* ---- 3. golden cases ------------------------------------------------------- */

/* The tokenizer folders a manifest's sources name: a source's "tokenizer",
 * else a diffusers folder's own tokenizer/. */
static GPtrArray *manifest_tokenizers(const char *dir, JsonObject *manifest)
{
    GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
    JsonArray *sources = json_object_has_member(manifest, "sources")
                             ? json_object_get_array_member(manifest, "sources")
                             : NULL;
    for (guint i = 0; sources && i < json_array_get_length(sources); i++) {
        JsonObject *s = json_array_get_object_element(sources, i);
        const char *tok = s ? json_object_get_string_member_with_default(s, "tokenizer", NULL) : NULL;
        const char *layout = s ? json_object_get_string_member_with_default(s, "layout", "") : "";
        const char *path = s ? json_object_get_string_member_with_default(s, "path", NULL) : NULL;
        char *full = tok                                           ? g_build_filename(dir, tok, NULL)
                     : path && strcmp(layout, "diffusers") == 0 ? g_build_filename(dir, path, "tokenizer", NULL)
                                                                   : NULL;
        if (!full)
            continue;
        int seen = 0;
        for (guint k = 0; k < dirs->len; k++)
            seen |= strcmp(g_ptr_array_index(dirs, k), full) == 0;
        if (seen)
            g_free(full);
        else
            g_ptr_array_add(dirs, full);
    }
    return dirs;
}

typedef struct golden_state {
    int cases;             /* case x tokenizer runs */
    pd_tokenizer *first;   /* kept for the hostile checks */
} golden_state;

static void run_case(const char *path, JsonObject *c, GPtrArray *dirs, GPtrArray *toks, golden_state *gs)
{
    const char *id = json_object_get_string_member_with_default(c, "id", "?");
    const char *text = json_object_get_string_member_with_default(c, "text", NULL);
    JsonArray *want = json_object_has_member(c, "ids") ? json_object_get_array_member(c, "ids") : NULL;
    int ok = text && want && json_array_get_length(want) == PD_TOKENS;
    CHECK_MSG(ok, "%s: case %s: no text or not %d ids", path, id, PD_TOKENS);
    for (guint k = 0; ok && k < toks->len; k++) {
        const pd_tokenizer *tok = g_ptr_array_index(toks, k);
        int32_t ids[PD_TOKENS];
        pd_error err = {0};
        pd_status st = pd_tokenizer_encode(tok, text, ids, &err);
        int bad = -1;
        for (int j = 0; j < PD_TOKENS && st == PD_OK && bad < 0; j++)
            if (ids[j] != json_array_get_int_element(want, (guint)j))
                bad = j;
        CHECK_MSG(st == PD_OK && bad < 0, "%s: case %s, tokenizer %s: %s at position %d: %d, want %d", path,
                  id, (const char *)g_ptr_array_index(dirs, k), st ? err.message : "ids differ", bad,
                  bad >= 0 ? ids[bad] : 0, bad >= 0 ? (int)json_array_get_int_element(want, (guint)bad) : 0);
        gs->cases++;
    }
}

static void run_manifest(const char *dir, const char *path, golden_state *gs)
{
    JsonParser *parser = json_parser_new();
    GError *gerr = NULL;
    if (!json_parser_load_from_file(parser, path, &gerr)) {
        CHECK_MSG(0, "%s: %s", path, gerr->message);
        g_error_free(gerr);
        g_object_unref(parser);
        return;
    }
    JsonNode *root = json_parser_get_root(parser);
    JsonObject *m = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonArray *cases = m && json_object_has_member(m, "cases") ? json_object_get_array_member(m, "cases") : NULL;
    GPtrArray *dirs = NULL, *toks = NULL;
    for (guint i = 0; cases && i < json_array_get_length(cases); i++) {
        JsonObject *c = json_array_get_object_element(cases, i);
        if (!c || g_strcmp0(json_object_get_string_member_with_default(c, "kind", ""), "tokenizer") != 0)
            continue;
        if (!dirs) { /* load the manifest's tokenizers once, at its first case */
            dirs = manifest_tokenizers(dir, m);
            toks = g_ptr_array_new();
            CHECK_MSG(dirs->len > 0, "%s: tokenizer cases but no source names a tokenizer", path);
            for (guint k = 0; k < dirs->len; k++) {
                pd_tokenizer *tok;
                pd_error err = {0};
                if (pd_tokenizer_load(g_ptr_array_index(dirs, k), &tok, &err) == PD_OK) {
                    g_ptr_array_add(toks, tok);
                } else {
                    CHECK_MSG(0, "%s: %s", path, err.message);
                    g_ptr_array_remove_index(dirs, k--);
                }
            }
        }
        run_case(path, c, dirs, toks, gs);
    }
    for (guint k = 0; toks && k < toks->len; k++) {
        if (!gs->first)
            gs->first = g_ptr_array_index(toks, k);
        else
            pd_tokenizer_free(g_ptr_array_index(toks, k));
    }
    if (toks)
        g_ptr_array_unref(toks);
    if (dirs)
        g_ptr_array_unref(dirs);
    g_object_unref(parser);
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_golden(const char *dir, golden_state *gs)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    for (const char *n; (n = g_dir_read_name(d));)
        g_ptr_array_add(names, g_strdup(n));
    g_dir_close(d);
    g_ptr_array_sort(names, compare_names); /* a stable order */
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
            walk_golden(path, gs);
        else if (strcmp(g_ptr_array_index(names, i), "manifest.json") == 0)
            run_manifest(dir, path, gs);
        g_free(path);
    }
    g_ptr_array_unref(names);
}

/* ---- 4. hostile prompts ----------------------------------------------------- */

static double seconds_since(gint64 t0) { return (double)(g_get_monotonic_time() - t0) / 1e6; }

/* Encodes and checks the frame: BOS, then content, EOS, padding. */
static int encode_framed(const pd_tokenizer *tok, const char *text, int32_t ids[PD_TOKENS], double *secs)
{
    pd_error err = {0};
    gint64 t0 = g_get_monotonic_time();
    pd_status st = pd_tokenizer_encode(tok, text, ids, &err);
    *secs = seconds_since(t0);
    CHECK_MSG(st == PD_OK, "encode: %s", err.message);
    if (st)
        return 0;
    int eos = -1;
    for (int i = 1; i < PD_TOKENS && eos < 0; i++)
        if (ids[i] == pd_tokenizer_eos(tok))
            eos = i;
    CHECK(ids[0] == pd_tokenizer_bos(tok) && eos > 0);
    for (int i = 0; i < PD_TOKENS; i++)
        CHECK(ids[i] >= 0 && ids[i] < pd_tokenizer_vocab_size(tok));
    for (int i = eos + 1; eos > 0 && i < PD_TOKENS; i++)
        CHECK(ids[i] == pd_tokenizer_pad(tok));
    return eos;
}

static void test_hostile(const pd_tokenizer *tok)
{
    int32_t ids[PD_TOKENS], ref[PD_TOKENS];
    double secs;
    enum { N = 10000 };
    /* ASan builds run several times slower; this still catches quadratic work. */
    const double limit = 5.0;

    /* invalid UTF-8: PD_E_ARG, ids untouched */
    const char *bad[] = {"caf\351", "a\300\257b", "\355\240\200", "\364\220\200\200", "ok\377"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        pd_error err = {0};
        for (int k = 0; k < PD_TOKENS; k++)
            ids[k] = -7;
        CHECK(pd_tokenizer_encode(tok, bad[i], ids, &err) == PD_E_ARG && err.status == PD_E_ARG);
        CHECK(strstr(err.message, "UTF-8") != NULL);
        CHECK(ids[0] == -7 && ids[PD_TOKENS - 1] == -7);
    }
    pd_error err;
    CHECK(pd_tokenizer_encode(tok, NULL, ids, &err) == PD_E_ARG);

    /* 10,000 characters of words: 75 tokens kept, the same as from a prefix
     * long enough to give 75. */
    GString *s = g_string_new(NULL);
    for (int i = 0; s->len < N; i++)
        g_string_append_printf(s, "word%d ", i);
    g_string_truncate(s, N);
    CHECK(encode_framed(tok, s->str, ids, &secs) == PD_TOKENS - 1);
    CHECK_MSG(secs < limit, "10,000 characters of words took %.2f s", secs);
    char *prefix = g_strndup(s->str, 400);
    encode_framed(tok, prefix, ref, &secs);
    CHECK(memcmp(ids, ref, sizeof ids) == 0);
    g_free(prefix);

    /* one 10,000-letter word: the BPE merges all of it before truncation.
     * The ids are the reference's for this word, valid for CLIP's vocabulary. */
    static const int32_t word_ids[PD_TOKENS] = {
        49406, 666, 1544, 79, 25467, 598, 1990, 2825, 65, 25277, 80, 670, 23753, 8440, 65, 87,
        567, 582, 10869, 43898, 20071, 4592, 6615, 3197, 3213, 82, 719, 64, 8849, 22717, 1021, 66,
        1075, 70, 73, 691, 22709, 4390, 74, 80, 87, 24044, 966, 30221, 3080, 75, 1383, 73,
        1719, 2833, 89, 80, 639, 73, 3381, 562, 6560, 16174, 1470, 2254, 845, 3361, 869, 854,
        80, 602, 85, 2648, 85, 15378, 87, 80, 848, 854, 4212, 6897, 49407};
    g_string_truncate(s, 0);
    uint32_t x = 1;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        g_string_append_c(s, (char)('a' + (x >> 16) % 26));
    }
    CHECK(encode_framed(tok, s->str, ids, &secs) == PD_TOKENS - 1);
    CHECK_MSG(secs < limit, "a 10,000-letter word took %.2f s", secs);
    if (pd_tokenizer_vocab_size(tok) == 49408)
        CHECK(memcmp(ids, word_ids, sizeof ids) == 0);

    /* &amp; nested 2,500 deep: ftfy unescapes one level per round */
    g_string_assign(s, "&amp;");
    while (s->len < N)
        g_string_append(s, "amp;");
    encode_framed(tok, s->str, ids, &secs);
    CHECK_MSG(secs < limit, "nested &amp; took %.2f s", secs);
    encode_framed(tok, "&", ref, &secs);
    CHECK(memcmp(ids, ref, sizeof ids) == 0);

    /* 10,000 characters that every fixer touches */
    g_string_truncate(s, 0);
    while (s->len < N)
        g_string_append(s, "\357\275\266\357\276\236\357\254\201\342\200\234e\314\201\r\n\033[1m");
    encode_framed(tok, s->str, ids, &secs);
    CHECK_MSG(secs < limit, "10,000 characters of fixes took %.2f s", secs);
    g_string_free(s, TRUE);
}

int main(void)
{
    test_cleaning();
    test_tiny();

    const char *golden = check_golden_dir();
    if (!golden) {
        printf("unit-tokenizer: no golden folder (set PALDIFF_GOLDEN); golden and hostile cases skipped\n");
        int st = check_summary("unit-tokenizer");
        return st ? st : 77;
    }
    golden_state gs = {0};
    walk_golden(golden, &gs);
    printf("unit-tokenizer: %d golden tokenizer case runs under %s\n", gs.cases, golden);
    CHECK_MSG(gs.cases > 0, "no tokenizer cases under %s", golden);
    if (gs.first) {
        test_hostile(gs.first);
        pd_tokenizer_free(gs.first);
    }
    return check_summary("unit-tokenizer");
}
