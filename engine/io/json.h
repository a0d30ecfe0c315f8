/* json.h — the one entry point for untrusted JSON (model configs, vocab.json,
 * safetensors headers).
 *
 *     JsonParser *p;
 *     if (pd_json_parse("unet/config.json", NULL, text, len, 64, 0, &p, &err))
 *         return err.status;
 *     JsonObject *root = json_node_get_object(json_parser_get_root(p));
 *     ...
 *     g_object_unref(p);                      // frees root and everything in it
 *
 * json-glib 1.6 alone is too lenient and too recursive for files from the
 * internet: it accepts comments, hex and octal numbers, trailing data,
 * silently wraps integers beyond 64 bits, cuts strings at "\u0000" (so two
 * different keys can become one), keeps the last of a repeated key without a
 * word, and recurses once per nesting level. pd_json_parse first proves the
 * text strict RFC 8259 JSON — valid UTF-8 without NUL bytes, exactly one
 * object followed only by whitespace, nesting at most max_depth, integers
 * within int64, no "\u0000", surrogates paired — iteratively, so no input
 * can exhaust the stack; only then does json-glib build the tree, and a key
 * repeated within one object is refused.
 *
 * On success *out owns a new parser whose root is a JSON object; nodes are
 * sealed (immutable). On failure *out is NULL and err holds PD_E_FORMAT (or
 * PD_E_ARG, PD_E_NOMEM) with a message "<label>: ..." giving the byte offset
 * and the reason. `what`, when not NULL, names the JSON inside the labelled
 * thing: "header" gives "<label>: header is not valid JSON at byte 9: ...".
 *
 * Reentrant: no shared state; parsers from different threads are
 * independent. Does not keep `text`; it parses a private NUL-terminated copy,
 * so json-glib cannot read past len and the check and the parse see the same
 * bytes even if the caller's buffer (say a mapped file) changes meanwhile.
 */
#ifndef PD_JSON_H
#define PD_JSON_H

#include <stddef.h>

#include <json-glib/json-glib.h>

#include "paldiff.h"

/* The largest max_depth accepted: json-glib recurses per level when it
 * parses, seals and frees, so even the callers' limit stays far below what
 * could threaten a thread's stack. */
#define PD_JSON_MAX_DEPTH 256

enum {
    /* The object must open at byte 0: no leading whitespace or byte order
     * mark (safetensors headers, as the reference implementation requires).
     * Without it leading whitespace is allowed. */
    PD_JSON_OBJECT_AT_START = 1u << 0,
    /* Integers of 20 digits or more are read as doubles instead of refused:
     * Hugging Face configs write "model_max_length": 1000000000000000019884624838656. */
    PD_JSON_WIDE_INTS = 1u << 1,
};

/* Checks and parses text[0..len) as described above. max_depth counts
 * containers, the root object included: a flat object has depth 1; it must
 * be 1..PD_JSON_MAX_DEPTH. flags: PD_JSON_* above. */
pd_status pd_json_parse(const char *label, const char *what, const char *text, size_t len,
                        int max_depth, unsigned flags, JsonParser **out, pd_error *err);

#endif
