/* fuzz_prompt.c — libFuzzer target for prompts: the text cleaning
 * (text/textclean.h) and the CLIP tokenizer (text/tokenizer.h).
 *
 * Prompts come from dialogs and from GIMP's Script-Fu, so any bytes may
 * arrive, as a C string (a NUL byte ends it). pd_text_clean must give NULL
 * exactly for invalid UTF-8, and otherwise valid UTF-8 whose whitespace is
 * collapsed to single spaces. pd_tokenizer_encode must refuse exactly the
 * invalid UTF-8 (PD_E_ARG, ids untouched) and otherwise write PD_TOKENS ids,
 * no more: BOS, at most 75 tokens, EOS, padding, all inside the vocabulary.
 * Built two ways (tests/fuzz/meson.build): with -fsanitize=fuzzer under
 * clang, and with replay.c's main for every compiler.
 *
 * The tokenizer is a tiny one, written to a temporary folder at start-up so
 * that no model is needed: CLIP's 512 byte symbols, a few merges, the two
 * special tokens, and SD 2.x's "!" as the pad token so that padding and EOS
 * differ.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "text/textclean.h"
#include "text/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pd_tokenizer *tok;

static void broken(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz-prompt: %s (%.200s)\n", what, detail ? detail : "");
    abort();
}

/* ---- the tiny tokenizer ---------------------------------------------------- */

/* The symbol of byte b in CLIP's bytes_to_unicode: printable Latin-1 bytes
 * stand for themselves; the 68 others (0x00-0x20, 0x7F-0xA0, 0xAD) take
 * U+0100 onwards in byte order. Worked out here in closed form rather than
 * as tokenizer.c does, so that loading also checks the engine's map. */
static gunichar byte_symbol(unsigned b)
{
    if (b <= 0x20)
        return 0x100 + b;
    if (b >= 0x7F && b <= 0xA0)
        return 0x121 + (b - 0x7F);
    return b == 0xAD ? 0x143 : b;
}

/* Merges, best first. Their results become symbols of their own; the "a"
 * chain makes long runs of one letter merge in several rounds, and
 * "Ã ©</w>" is é (bytes C3 A9) ending a word. */
static const char *const merges[][2] = {
    {"t", "h"}, {"th", "e</w>"}, {"a", "n"}, {"an", "d</w>"}, {"c", "a"}, {"ca", "t</w>"},
    {"o", "f</w>"}, {"i", "n"}, {"in", "g</w>"}, {"e", "r</w>"}, {"a", "a"}, {"aa", "aa"},
    {"aaaa", "aaaa"}, {"aa", "a</w>"}, {"\xC3\x83", "\xC2\xA9</w>"}, {"!", "!"},
};

/* Appends "sym":id to the vocabulary's JSON. Byte symbols hold no control
 * characters, so only '"' and '\\' need escaping. */
static void add_symbol(GString *json, const char *sym, int *id)
{
    g_string_append(json, *id ? ",\"" : "{\"");
    for (const char *p = sym; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(json, '\\');
        g_string_append_c(json, *p);
    }
    g_string_append_printf(json, "\":%d", (*id)++);
}

static void write_or_die(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);
    GError *gerr = NULL;
    if (!g_file_set_contents(path, text, -1, &gerr))
        broken("cannot write the tiny tokenizer", gerr->message);
    g_free(path);
}

static void remove_file(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, name, NULL);
    g_remove(path);
    g_free(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    GString *vocab = g_string_new(NULL), *merges_txt = g_string_new("#version: 0.2\n");
    int id = 0;
    for (int end = 0; end < 2; end++)
        for (unsigned b = 0; b < 256; b++) {
            char sym[16];
            sym[g_unichar_to_utf8(byte_symbol(b), sym)] = '\0';
            if (end)
                strcat(sym, "</w>");
            add_symbol(vocab, sym, &id);
        }
    for (size_t i = 0; i < G_N_ELEMENTS(merges); i++) {
        char *joined = g_strconcat(merges[i][0], merges[i][1], NULL);
        add_symbol(vocab, joined, &id);
        g_string_append_printf(merges_txt, "%s %s\n", merges[i][0], merges[i][1]);
        g_free(joined);
    }
    add_symbol(vocab, "<|startoftext|>", &id);
    add_symbol(vocab, "<|endoftext|>", &id);
    g_string_append(vocab, "}");

    GError *gerr = NULL;
    char *dir = g_dir_make_tmp("paldiff-fuzz-tokenizer-XXXXXX", &gerr);
    if (!dir)
        broken("cannot make a folder for the tiny tokenizer", gerr->message);
    write_or_die(dir, "vocab.json", vocab->str);
    write_or_die(dir, "merges.txt", merges_txt->str);
    write_or_die(dir, "tokenizer_config.json", "{\"pad_token\": {\"content\": \"!\", \"lstrip\": false}}");
    pd_error err;
    pd_status st = pd_tokenizer_load(dir, &tok, &err);
    /* The tokenizer keeps nothing of its files. */
    remove_file(dir, "vocab.json");
    remove_file(dir, "merges.txt");
    remove_file(dir, "tokenizer_config.json");
    g_rmdir(dir);
    if (st != PD_OK)
        broken("cannot load the tiny tokenizer", err.message);
    if (pd_tokenizer_vocab_size(tok) != id || pd_tokenizer_pad(tok) == pd_tokenizer_eos(tok))
        broken("the tiny tokenizer is not the one written", dir);
    g_free(dir);
    g_string_free(vocab, TRUE);
    g_string_free(merges_txt, TRUE);
    return 0;
}

/* ---- the checks -------------------------------------------------------------- */

static void check_clean(const char *clean)
{
    size_t n = strlen(clean);
    if (!g_utf8_validate(clean, -1, NULL))
        broken("pd_text_clean gave invalid UTF-8", clean);
    if (n && (clean[0] == ' ' || clean[n - 1] == ' '))
        broken("pd_text_clean left a space at an end", clean);
    if (strstr(clean, "  ") || strpbrk(clean, "\t\n\v\f\r"))
        broken("pd_text_clean left whitespace uncollapsed", clean);
}

/* ids[PD_TOKENS] is a canary that encoding must not touch. */
static void check_ids(const int32_t ids[PD_TOKENS + 1], const char *text)
{
    if (ids[PD_TOKENS] != -1)
        broken("encoding wrote more than PD_TOKENS ids", text);
    for (int i = 0; i < PD_TOKENS; i++)
        if (ids[i] < 0 || ids[i] >= pd_tokenizer_vocab_size(tok))
            broken("an id is unwritten or outside the vocabulary", text);
    if (ids[0] != pd_tokenizer_bos(tok))
        broken("the ids do not start with BOS", text);
    int k = PD_TOKENS - 1;
    while (k > 0 && ids[k] == pd_tokenizer_pad(tok))
        k--;
    if (k < 1 || ids[k] != pd_tokenizer_eos(tok))
        broken("the ids do not end with EOS and then padding", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = g_strndup((const char *)data, size);
    int valid = g_utf8_validate(text, -1, NULL);

    char *clean = pd_text_clean(text);
    if (!clean != !valid)
        broken(valid ? "pd_text_clean refused valid UTF-8" : "pd_text_clean accepted invalid UTF-8", text);
    if (clean)
        check_clean(clean);
    g_free(clean);

    int32_t ids[PD_TOKENS + 1];
    for (int i = 0; i <= PD_TOKENS; i++)
        ids[i] = -1;
    pd_error err;
    pd_status st = pd_tokenizer_encode(tok, text, ids, &err);
    if (valid && st != PD_OK)
        broken("pd_tokenizer_encode refused valid UTF-8", err.message);
    if (!valid) {
        if (st != PD_E_ARG || strncmp(err.message, "prompt: ", 8) != 0)
            broken("invalid UTF-8 was not refused as PD_E_ARG naming the prompt", err.message);
        for (int i = 0; i < PD_TOKENS; i++)
            if (ids[i] != -1)
                broken("a refused prompt wrote ids", text);
    } else {
        check_ids(ids, text);
    }
    g_free(text);
    return 0;
}
