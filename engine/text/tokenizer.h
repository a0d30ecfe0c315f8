/* tokenizer.h — CLIP's byte-level BPE tokenizer, as Stable Diffusion uses it.
 *
 *     pd_tokenizer *tok;
 *     if (pd_tokenizer_load("model/tokenizer", &tok, &err) != PD_OK) ...
 *     int32_t ids[PD_TOKENS];
 *     pd_tokenizer_encode(tok, "A photo of a cat", ids, &err);
 *     // ids = BOS, up to 75 tokens, EOS, then padding to 77
 *     pd_tokenizer_free(tok);
 *
 * Loads vocab.json and merges.txt from a folder, plus the pad token from
 * tokenizer_config.json (or special_tokens_map.json): SD 1.x pads with
 * "<|endoftext|>", SD 2.x with "!". Token ids, the special ones included,
 * are the vocabulary's own; a vocabulary of just the 512 byte symbols and
 * the two special tokens, with no merges, encodes byte by byte (the demo
 * model's, io/demo.h). The text is cleaned as OpenAI CLIP does
 * (ftfy-style fixes, HTML unescaped twice, whitespace collapsed, lower case;
 * see textclean.h), split with CLIP's pattern, and BPE-encoded.
 *
 * A loaded tokenizer is immutable; encoding from several threads is safe.
 */
#ifndef PD_TOKENIZER_H
#define PD_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "paldiff.h"

typedef struct pd_tokenizer pd_tokenizer;

pd_status pd_tokenizer_load(const char *dir, pd_tokenizer **out, pd_error *err);

/* The same files held in memory (a palettized model file embeds them,
 * docs/palettized-format.md). `label` names a file in messages; `text` NULL
 * means absent, allowed for the two optional files only. The bytes are only
 * read during the call. */
typedef struct pd_tokenizer_file {
    const char *label;
    const char *text;
    size_t len;
} pd_tokenizer_file;

typedef struct pd_tokenizer_files {
    pd_tokenizer_file vocab;              /* vocab.json (required)            */
    pd_tokenizer_file merges;             /* merges.txt (required)            */
    pd_tokenizer_file tokenizer_config;   /* tokenizer_config.json (optional) */
    pd_tokenizer_file special_tokens_map; /* special_tokens_map.json (optional) */
} pd_tokenizer_files;

pd_status pd_tokenizer_load_files(const pd_tokenizer_files *files, pd_tokenizer **out, pd_error *err);
void pd_tokenizer_free(pd_tokenizer *tok);

/* The longest prompt accepted, in bytes (PD_E_ARG beyond). */
#define PD_PROMPT_MAX_BYTES 16384

/* Encodes UTF-8 `text` (invalid UTF-8 is PD_E_ARG) into exactly PD_TOKENS ids. */
pd_status pd_tokenizer_encode(const pd_tokenizer *tok, const char *text,
                              int32_t ids[PD_TOKENS], pd_error *err);

/* The symbol byte-level vocabularies (GPT-2's and CLIP's bytes_to_unicode)
 * give `byte`: printable Latin-1 bytes stand for themselves, the others are
 * U+0100 onwards. UTF-8, NUL-terminated (at most 3 bytes). Thread-safe. */
void pd_tokenizer_byte_symbol(uint8_t byte, char out[8]);

int32_t pd_tokenizer_bos(const pd_tokenizer *tok);
int32_t pd_tokenizer_eos(const pd_tokenizer *tok);
int32_t pd_tokenizer_pad(const pd_tokenizer *tok);
int32_t pd_tokenizer_vocab_size(const pd_tokenizer *tok);

#endif
