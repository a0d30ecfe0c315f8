/* tokenizer.c — CLIP's byte-level BPE (OpenAI CLIP simple_tokenizer.py),
 * with the BOS/EOS, truncation and padding of the tokenizer SD ships.
 *
 * Load: vocab.json gives every symbol an id; merges.txt gives the merge
 * rules by rank. Ids are the vocabulary's own, special tokens included, so a
 * byte-level vocabulary of 514 entries and no merges (the demo model's,
 * io/demo.h) works as CLIP's 49408 do. A symbol is held as its vocab id from the start, so the BPE
 * works on integers: a merge is a pair of ids with a rank and a result id,
 * kept in one open-addressing table.
 *
 * Encode: clean the text (textclean.h), split it with CLIP's pattern, turn
 * each piece into bytes, each byte into its symbol ("</w>" marks the last
 * one), merge, and stop as soon as 75 tokens are out.
 */
#include "text/tokenizer.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "error.h"
#include "io/config.h"
#include "io/json.h"
#include "text/textclean.h"

enum {
    MAX_CONTENT = PD_TOKENS - 2, /* tokens between BOS and EOS */
    /* CLIP uses the first 49152 - 256 - 2 merges: with 2 x 256 byte symbols
     * and 2 special tokens the vocabulary has 49408 entries. */
    MAX_MERGES = 49152 - 256 - 2,
    MERGE_BITS = 17, /* 131072 slots: the table stays under 40% full */
    /* A vocabulary without merges: the byte symbols, alone and word-final,
     * and the two special tokens. */
    BYTE_LEVEL_VOCAB = 2 * 256 + 2,
};

/* vocab.json and merges.txt of CLIP are about 1 MB; anything far larger is
 * not a tokenizer file. */
#define MAX_FILE_BYTES ((gsize)64 << 20)

/* vocab.json is one flat object of symbol → id (see load_vocab). */
#define VOCAB_MAX_DEPTH 2

static const char SOT[] = "<|startoftext|>", EOT[] = "<|endoftext|>";

/* CLIP's pre-tokenizer, matched case-insensitively as the reference's
 * `regex` module does (so "'ſ" is a contraction like "'s"), with two changes
 * that keep the matches identical to the reference's under GRegex (PCRE2):
 *  - its \s is written ' ': after cleaning no other whitespace is left, and
 *    PCRE's \s also takes U+180E, which Unicode no longer counts as space;
 *  - U+0345 (combining ypogegrammeni) is excluded from the last class: the
 *    `regex` module, case-insensitive, counts it as a letter there (its case
 *    variants are ι and Ι) but not in [\p{L}], so no branch matches it and
 *    the reference drops it. */
static const char PATTERN[] = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|"
                              "[\\p{L}]+|[\\p{N}]|[^ \\p{L}\\p{N}\\x{0345}]+";

typedef struct merge_slot {
    uint64_t key; /* (left + 1) << 32 | right; 0 = empty */
    int32_t rank;
    int32_t merged;
} merge_slot;

struct pd_tokenizer {
    int32_t byte_sym[256];     /* a byte's symbol inside a word        */
    int32_t byte_end_sym[256]; /* the same byte ending a word ("</w>") */
    merge_slot *merges;        /* open addressing, size mask + 1       */
    uint64_t mask;
    int32_t sot, eot;          /* the special strings in the text      */
    int32_t bos, eos, pad;
    int32_t vocab_size;
    GRegex *pattern;
};

/* ---- the merge table ---------------------------------------------------- */

static uint64_t pair_key(int32_t left, int32_t right)
{
    return ((uint64_t)(uint32_t)left + 1) << 32 | (uint32_t)right;
}

static uint64_t slot_of(const pd_tokenizer *t, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ull) >> (64 - MERGE_BITS) & t->mask;
}

static const merge_slot *merge_find(const pd_tokenizer *t, int32_t left, int32_t right)
{
    uint64_t key = pair_key(left, right);
    for (uint64_t i = slot_of(t, key);; i = (i + 1) & t->mask) {
        if (t->merges[i].key == key)
            return &t->merges[i];
        if (t->merges[i].key == 0)
            return NULL;
    }
}

/* A pair listed twice keeps its later rank, as Python's dict does. */
static void merge_put(pd_tokenizer *t, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    uint64_t key = pair_key(left, right);
    uint64_t i = slot_of(t, key);
    while (t->merges[i].key != 0 && t->merges[i].key != key)
        i = (i + 1) & t->mask;
    t->merges[i] = (merge_slot){key, rank, merged};
}

/* ---- loading ------------------------------------------------------------- */

static pd_status read_file(const char *path, char **text, gsize *len, pd_error *err)
{
    GStatBuf sb;
    if (g_stat(path, &sb) != 0)
        return pd_fail(err, PD_E_IO,
                       "%s: not found; a tokenizer folder holds vocab.json and merges.txt "
                       "(as a diffusers model's tokenizer/ does)", path);
    if ((gsize)sb.st_size > MAX_FILE_BYTES)
        return pd_fail(err, PD_E_FORMAT, "%s: %lld bytes, too large for a tokenizer file (64 MiB at most)",
                       path, (long long)sb.st_size);
    GError *gerr = NULL;
    if (!g_file_get_contents(path, text, len, &gerr)) {
        pd_fail(err, PD_E_IO, "%s: cannot read: %s", path, gerr->message);
        g_error_free(gerr);
        return PD_E_IO;
    }
    return PD_OK;
}

/* Parses vocab.json into a table symbol -> id (keys copied). Strict JSON
 * (io/json.h), so a symbol listed twice is an error rather than one id
 * silently lost. Ids must be 0 .. count-1, each used once. */
static pd_status load_vocab(const pd_tokenizer_file *f, GHashTable **out, int32_t *count, pd_error *err)
{
    const char *path = f->label;
    /* A flat object: depth 1, and 2 lets a stray array or object be
     * reported below as an entry that is not an integer. */
    JsonParser *parser = NULL;
    pd_status st = pd_json_parse(path, NULL, f->text, f->len, VOCAB_MAX_DEPTH, 0, &parser, err);
    if (st) {
        if (err)
            g_strlcat(err->message, "; replace it with the model's original vocab.json",
                      sizeof err->message);
        return st;
    }
    JsonNode *root = json_parser_get_root(parser);
    JsonObject *obj = json_node_get_object(root);
    guint n = json_object_get_size(obj);
    if (n == 0 || n > INT32_MAX / 2) {
        g_object_unref(parser);
        return pd_fail(err, PD_E_FORMAT, "%s: %u entries; a CLIP vocabulary has 49408", path, n);
    }
    GHashTable *vocab = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    guint8 *seen = g_new0(guint8, n);
    JsonObjectIter it;
    const char *sym;
    JsonNode *node;
    json_object_iter_init(&it, obj);
    st = PD_OK;
    while (json_object_iter_next(&it, &sym, &node)) {
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
            st = pd_fail(err, PD_E_FORMAT, "%s: the id of \"%s\" is not an integer", path, sym);
            break;
        }
        gint64 id = json_node_get_int(node);
        if (id < 0 || id >= (gint64)n) {
            st = pd_fail(err, PD_E_FORMAT, "%s: \"%s\" has id %lld, outside 0..%u (one id per entry); "
                         "replace it with the model's original vocab.json", path, sym, (long long)id, n - 1);
            break;
        }
        if (seen[id]) {
            st = pd_fail(err, PD_E_FORMAT, "%s: id %lld is given twice (again to \"%s\"); replace it with "
                         "the model's original vocab.json", path, (long long)id, sym);
            break;
        }
        seen[id] = 1;
        g_hash_table_insert(vocab, g_strdup(sym), GINT_TO_POINTER((gint)id));
    }
    g_free(seen);
    g_object_unref(parser);
    if (st) {
        g_hash_table_destroy(vocab);
        return st;
    }
    *out = vocab;
    *count = (int32_t)n;
    return PD_OK;
}

static int vocab_get(GHashTable *vocab, const char *sym, int32_t *id)
{
    gpointer v;
    if (!g_hash_table_lookup_extended(vocab, sym, NULL, &v))
        return 0;
    *id = GPOINTER_TO_INT(v);
    return 1;
}

/* GPT-2's byte-to-character map: printable Latin-1 bytes stand for
 * themselves, the rest get U+0100 onwards, so no symbol is whitespace or a
 * control character. */
static void bytes_to_unicode(gunichar map[256])
{
    gunichar next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        map[b] = printable ? (gunichar)b : next++;
    }
}

void pd_tokenizer_byte_symbol(uint8_t byte, char out[8])
{
    gunichar map[256];
    bytes_to_unicode(map);
    out[g_unichar_to_utf8(map[byte], out)] = '\0';
}

static pd_status load_byte_symbols(pd_tokenizer *t, GHashTable *vocab, const char *path, pd_error *err)
{
    for (int b = 0; b < 256; b++) {
        char sym[16];
        pd_tokenizer_byte_symbol((uint8_t)b, sym);
        size_t len = strlen(sym);
        if (!vocab_get(vocab, sym, &t->byte_sym[b]))
            return pd_fail(err, PD_E_FORMAT, "%s: lacks the symbol \"%s\" of byte 0x%02X; not a CLIP vocabulary",
                           path, sym, b);
        memcpy(sym + len, "</w>", 5);
        if (!vocab_get(vocab, sym, &t->byte_end_sym[b]))
            return pd_fail(err, PD_E_FORMAT, "%s: lacks the symbol \"%s\"; not a CLIP vocabulary", path, sym);
    }
    return PD_OK;
}

/* merges.txt: a "#version" line, then one "left right" pair per line, best
 * first (none for a byte-level vocabulary). Every symbol a merge names or
 * makes must be in the vocabulary, so that encoding can never meet an
 * unknown symbol. */
static pd_status load_merges(pd_tokenizer *t, GHashTable *vocab, const pd_tokenizer_file *f,
                             const char *vocab_path, pd_error *err)
{
    const char *path = f->label;
    pd_status st = PD_OK;
    gsize len = f->len;
    if (len > MAX_FILE_BYTES)
        return pd_fail(err, PD_E_FORMAT, "%s: %llu bytes, too large for a tokenizer file (64 MiB at most)",
                       path, (unsigned long long)len);
    char *text = g_strndup(f->text, len); /* cut into lines in place below */
    if (strlen(text) != len || !g_utf8_validate(text, (gssize)len, NULL)) {
        g_free(text);
        return pd_fail(err, PD_E_FORMAT, "%s: not valid UTF-8; replace it with the model's original merges.txt", path);
    }
    t->mask = ((uint64_t)1 << MERGE_BITS) - 1;
    t->merges = g_new0(merge_slot, t->mask + 1);

    /* Lines are cut in place, without str* calls on the rest of the
     * buffer (under ASan those cost the whole remainder each). As in the
     * reference, a merge's rank is its line number after the header, and
     * only the first MAX_MERGES lines count. */
    GString *joined = g_string_new(NULL);
    char *p = text, *end = text + len;
    int header = len >= 8 && memcmp(text, "#version", 8) == 0;
    int32_t merges = 0;
    for (int ln = 0; p < end && ln - header < MAX_MERGES && !st; ln++) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        *eol = '\0';
        char *part[3] = {NULL, NULL, NULL};
        int nparts = 0;
        for (char *q = p; q < eol && ln >= header;) {
            while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
                *q++ = '\0';
            if (q == eol)
                break;
            if (nparts < 3)
                part[nparts] = q;
            nparts++;
            while (q < eol && *q != ' ' && *q != '\t' && *q != '\r')
                q++;
        }
        p = eol + 1;
        if (nparts == 0) /* the header, or a blank line (the final newline) */
            continue;
        if (nparts != 2) {
            st = pd_fail(err, PD_E_FORMAT, "%s: line %d: expected two symbols separated by a space",
                         path, ln + 1);
            break;
        }
        g_string_assign(joined, part[0]);
        g_string_append(joined, part[1]);
        int32_t a, b, m;
        if (!vocab_get(vocab, part[0], &a) || !vocab_get(vocab, part[1], &b) ||
            !vocab_get(vocab, joined->str, &m))
            st = pd_fail(err, PD_E_FORMAT,
                         "%s: line %d: merge \"%s %s\" uses a symbol %s lacks; the two files "
                         "must come from the same tokenizer", path, ln + 1, part[0], part[1], vocab_path);
        else
            merge_put(t, a, b, ln - header, m);
        merges++;
    }
    g_string_free(joined, TRUE);
    g_free(text);
    /* No merges is a byte-level tokenizer (paldiff's demo model has one),
     * but only where the vocabulary holds nothing a merge would make: with
     * more, merges.txt has lost its lines. */
    if (!st && merges == 0 && t->vocab_size > BYTE_LEVEL_VOCAB)
        st = pd_fail(err, PD_E_FORMAT, "%s: no merges, yet %s has %d symbols beyond the 512 byte symbols "
                     "and the 2 special tokens; replace it with the model's original merges.txt",
                     path, vocab_path, t->vocab_size - BYTE_LEVEL_VOCAB);
    return st;
}

/* A special token named by tokenizer_config.json, else special_tokens_map.json,
 * else `fallback`; a string or {"content": ...}. Absent files are fine. */
static pd_status special_token(const pd_tokenizer_files *f, const char *key, const char *fallback,
                               GHashTable *vocab, int32_t *id, pd_error *err)
{
    const pd_tokenizer_file *files[] = {&f->tokenizer_config, &f->special_tokens_map};
    char *name = NULL;
    const char *from = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(files) && !name; i++) {
        if (!files[i]->text)
            continue;
        pd_config *c = NULL;
        const char *s = NULL;
        pd_status st = pd_config_parse(files[i]->label, files[i]->text, files[i]->len, &c, err);
        if (!st)
            st = pd_config_string(c, key, &s, err);
        if (!st && s) {
            name = g_strdup(s);
            from = files[i]->label;
        }
        pd_config_free(c);
        if (st)
            return st;
    }
    pd_status st = PD_OK;
    const char *sym = name ? name : fallback;
    if (!vocab_get(vocab, sym, id))
        st = pd_fail(err, PD_E_FORMAT, "%s: %s \"%s\" is not in %s; the files must come from the same tokenizer",
                     from ? from : f->vocab.label, key, sym, f->vocab.label);
    g_free(name);
    return st;
}

/* merges_err: why merges.txt could not be read (the folder loader reports it
 * only once vocab.json has passed, as before), or NULL. */
static pd_status load_files(const pd_tokenizer_files *f, pd_tokenizer **out, const pd_error *merges_err,
                            pd_error *err)
{
    if (!out)
        return pd_fail(err, PD_E_ARG, "pd_tokenizer_load_files: out is NULL");
    *out = NULL;
    if (!f || !f->vocab.text || (!f->merges.text && !merges_err))
        return pd_fail(err, PD_E_ARG, "%s: a tokenizer needs vocab.json and merges.txt",
                       f && f->vocab.label ? f->vocab.label : "pd_tokenizer_load_files");
    const char *vocab_path = f->vocab.label;
    pd_tokenizer *t = g_new0(pd_tokenizer, 1);
    GHashTable *vocab = NULL;
    pd_status st = load_vocab(&f->vocab, &vocab, &t->vocab_size, err);
    if (!st)
        st = load_byte_symbols(t, vocab, vocab_path, err);
    if (!st && !f->merges.text) {
        if (err)
            *err = *merges_err;
        st = merges_err->status;
    }
    if (!st)
        st = load_merges(t, vocab, &f->merges, vocab_path, err);
    if (!st && (!vocab_get(vocab, SOT, &t->sot) || !vocab_get(vocab, EOT, &t->eot)))
        st = pd_fail(err, PD_E_FORMAT, "%s: lacks \"%s\" or \"%s\"; not a CLIP vocabulary", vocab_path, SOT, EOT);
    if (!st)
        st = special_token(f, "bos_token", SOT, vocab, &t->bos, err);
    if (!st)
        st = special_token(f, "eos_token", EOT, vocab, &t->eos, err);
    /* With no pad_token anywhere, pad as CLIPTokenizer's default does: EOS. */
    if (!st)
        st = special_token(f, "pad_token", EOT, vocab, &t->pad, err);
    if (!st) {
        GError *gerr = NULL;
        t->pattern = g_regex_new(PATTERN, G_REGEX_OPTIMIZE | G_REGEX_CASELESS, 0, &gerr);
        if (!t->pattern) {
            st = pd_fail(err, PD_E_UNSUPPORTED, "%s: GLib cannot compile CLIP's pattern: %s", vocab_path,
                         gerr->message);
            g_error_free(gerr);
        }
    }
    if (vocab)
        g_hash_table_destroy(vocab);
    if (st) {
        pd_tokenizer_free(t);
        return st;
    }
    *out = t;
    return PD_OK;
}

pd_status pd_tokenizer_load_files(const pd_tokenizer_files *f, pd_tokenizer **out, pd_error *err)
{
    return load_files(f, out, NULL, err);
}

pd_status pd_tokenizer_load(const char *dir, pd_tokenizer **out, pd_error *err)
{
    if (!out)
        return pd_fail(err, PD_E_ARG, "pd_tokenizer_load: out is NULL");
    *out = NULL;
    if (!dir)
        return pd_fail(err, PD_E_ARG, "pd_tokenizer_load: no tokenizer folder given");
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
        return pd_fail(err, PD_E_IO, "%s: not a folder; name the tokenizer folder holding vocab.json and merges.txt",
                       dir);
    static const char *const names[4] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                                          "special_tokens_map.json"};
    pd_tokenizer_files f;
    memset(&f, 0, sizeof f);
    pd_tokenizer_file *slot[4] = {&f.vocab, &f.merges, &f.tokenizer_config, &f.special_tokens_map};
    char *text[4] = {NULL, NULL, NULL, NULL};
    pd_status st = PD_OK;
    pd_error merges_err = {0};
    for (int i = 0; i < 4 && !st; i++) {
        char *path = g_build_filename(dir, names[i], NULL);
        slot[i]->label = path;
        if (i < 2 || g_file_test(path, G_FILE_TEST_EXISTS)) {
            gsize len = 0;
            pd_status r = read_file(path, &text[i], &len, i == 1 ? &merges_err : err);
            if (i != 1) /* merges.txt: reported after vocab.json has passed */
                st = r;
            slot[i]->text = text[i];
            slot[i]->len = len;
        }
    }
    if (!st)
        st = load_files(&f, out, &merges_err, err);
    for (int i = 0; i < 4; i++) {
        g_free(text[i]);
        g_free((char *)slot[i]->label);
    }
    return st;
}

void pd_tokenizer_free(pd_tokenizer *t)
{
    if (!t)
        return;
    if (t->pattern)
        g_regex_unref(t->pattern);
    g_free(t->merges);
    g_free(t);
}

int32_t pd_tokenizer_bos(const pd_tokenizer *t) { return t->bos; }
int32_t pd_tokenizer_eos(const pd_tokenizer *t) { return t->eos; }
int32_t pd_tokenizer_pad(const pd_tokenizer *t) { return t->pad; }
int32_t pd_tokenizer_vocab_size(const pd_tokenizer *t) { return t->vocab_size; }

/* ---- BPE ------------------------------------------------------------------ */

/* A pair of neighbouring symbols that a merge rule covers: left symbol at
 * position `pos`, as it was when the pair was seen. */
enum { REMOVED = -2 }; /* prev[] of a position merged into its left neighbour */

typedef struct bpe_pair {
    int32_t rank, pos, left, right;
} bpe_pair;

/* Scratch of one encode call, grown to the longest word. */
typedef struct bpe_work {
    int32_t *sym, *prev, *next; /* the word as a linked list of positions */
    bpe_pair *heap, *batch;
    size_t nheap, cap;
} bpe_work;

static void work_reserve(bpe_work *w, size_t len)
{
    if (len <= w->cap)
        return;
    w->cap = len;
    w->sym = g_renew(int32_t, w->sym, len);
    w->prev = g_renew(int32_t, w->prev, len);
    w->next = g_renew(int32_t, w->next, len);
    /* k - 1 first pairs, and each merge (at most k - 1) adds two. */
    w->heap = g_renew(bpe_pair, w->heap, 3 * len);
    w->batch = g_renew(bpe_pair, w->batch, 3 * len);
}

static void work_free(bpe_work *w)
{
    g_free(w->sym);
    g_free(w->prev);
    g_free(w->next);
    g_free(w->heap);
    g_free(w->batch);
}

static int pair_less(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(bpe_work *w, bpe_pair p)
{
    size_t i = w->nheap++;
    while (i > 0 && pair_less(&p, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = p;
}

static bpe_pair heap_pop(bpe_work *w)
{
    bpe_pair top = w->heap[0], last = w->heap[--w->nheap];
    size_t i = 0, n = w->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_less(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!pair_less(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

/* Queues the pair starting at position pos, if a merge covers it. */
static void queue_pair(const pd_tokenizer *t, bpe_work *w, int32_t pos)
{
    if (pos < 0 || w->next[pos] < 0)
        return;
    int32_t l = w->sym[pos], r = w->sym[w->next[pos]];
    const merge_slot *m = merge_find(t, l, r);
    if (m)
        heap_push(w, (bpe_pair){m->rank, pos, l, r});
}

/* Merges the k symbols in w->sym as CLIP's bpe() does: take the best-ranked
 * pair present, merge every occurrence of it left to right, repeat. Pairs
 * are kept in a heap by (rank, position) instead of rescanning the word,
 * which keeps a 10,000-letter word fast. All occurrences of one rank are
 * taken out before any is merged, so that a better pair made by one of these
 * merges waits for the next round, as in the reference. */
static void bpe(const pd_tokenizer *t, bpe_work *w, int32_t k)
{
    for (int32_t i = 0; i < k; i++) {
        w->prev[i] = i - 1;
        w->next[i] = i + 1 < k ? i + 1 : -1;
    }
    w->nheap = 0;
    for (int32_t i = 0; i + 1 < k; i++)
        queue_pair(t, w, i);
    while (w->nheap) {
        int32_t rank = w->heap[0].rank;
        size_t nb = 0;
        while (w->nheap && w->heap[0].rank == rank)
            w->batch[nb++] = heap_pop(w); /* in position order */
        for (size_t b = 0; b < nb; b++) {
            bpe_pair p = w->batch[b];
            int32_t r = w->next[p.pos];
            /* Stale: a merge since it was queued removed this position or
             * changed a side. */
            if (w->prev[p.pos] == REMOVED || w->sym[p.pos] != p.left || r < 0 || w->sym[r] != p.right)
                continue;
            w->sym[p.pos] = merge_find(t, p.left, p.right)->merged;
            w->next[p.pos] = w->next[r];
            if (w->next[r] >= 0)
                w->prev[w->next[r]] = p.pos;
            w->prev[r] = REMOVED;
            queue_pair(t, w, w->prev[p.pos]);
            queue_pair(t, w, p.pos);
        }
    }
}

/* Appends the tokens of one pre-token to ids[*n..MAX_CONTENT). */
static void encode_word(const pd_tokenizer *t, bpe_work *w, const char *s, int32_t len, int32_t *ids,
                        int *n)
{
    if ((size_t)len == sizeof SOT - 1 && memcmp(s, SOT, (size_t)len) == 0) {
        ids[(*n)++] = t->sot;
        return;
    }
    if ((size_t)len == sizeof EOT - 1 && memcmp(s, EOT, (size_t)len) == 0) {
        ids[(*n)++] = t->eot;
        return;
    }
    work_reserve(w, (size_t)len);
    for (int32_t i = 0; i < len; i++) {
        guint8 b = (guint8)s[i];
        w->sym[i] = i + 1 < len ? t->byte_sym[b] : t->byte_end_sym[b];
    }
    bpe(t, w, len);
    for (int32_t i = 0; i >= 0 && *n < MAX_CONTENT; i = w->next[i])
        ids[(*n)++] = w->sym[i];
}

pd_status pd_tokenizer_encode(const pd_tokenizer *t, const char *text, int32_t ids[PD_TOKENS],
                              pd_error *err)
{
    if (!t || !text || !ids)
        return pd_fail(err, PD_E_ARG, "pd_tokenizer_encode: %s is NULL",
                       !t ? "the tokenizer" : !text ? "the prompt" : "ids");
    /* CLIP reads 75 tokens; cleaning is superlinear on crafted text (ftfy peels
     * one "&amp;" per round), so a bound keeps every prompt under a second. */
    size_t len = strnlen(text, PD_PROMPT_MAX_BYTES + 1);
    if (len > PD_PROMPT_MAX_BYTES)
        return pd_fail(err, PD_E_ARG, "prompt: longer than %d bytes; CLIP reads only its first 75 "
                       "tokens, so shorten it", PD_PROMPT_MAX_BYTES);
    const char *bad;
    if (!g_utf8_validate(text, (gssize)len, &bad))
        return pd_fail(err, PD_E_ARG, "prompt: not valid UTF-8 (byte %td, 0x%02X); pass the text as UTF-8",
                       bad - text, (unsigned)(guint8)*bad);
    char *clean = pd_text_clean(text);

    int32_t content[MAX_CONTENT];
    int n = 0;
    bpe_work w = {0};
    GMatchInfo *mi = NULL;
    GError *gerr = NULL;
    g_regex_match(t->pattern, clean, 0, &mi);
    while (n < MAX_CONTENT && g_match_info_matches(mi)) {
        int a, b;
        g_match_info_fetch_pos(mi, 0, &a, &b);
        encode_word(t, &w, clean + a, b - a, content, &n);
        if (!g_match_info_next(mi, &gerr) && gerr)
            break;
    }
    g_match_info_free(mi);
    work_free(&w);
    g_free(clean);
    if (gerr) {
        pd_fail(err, PD_E_ARG, "prompt: the pre-tokenizer failed: %s", gerr->message);
        g_error_free(gerr);
        return PD_E_ARG;
    }

    int k = 0;
    ids[k++] = t->bos;
    for (int i = 0; i < n; i++)
        ids[k++] = content[i];
    ids[k++] = t->eos;
    while (k < PD_TOKENS)
        ids[k++] = t->pad;
    return PD_OK;
}
