/* config.h — typed, validated reads of a JSON config (config.json,
 * scheduler_config.json, tokenizer_config.json, model_index.json).
 *
 *     pd_config *c;
 *     if (pd_config_load("model/text_encoder/config.json", &c, &err)) return err.status;
 *     int64_t heads = 12;                         // kept when the key is absent
 *     if (pd_config_int(c, "num_attention_heads", 1, 256, &heads, &err)) ...
 *     pd_config_free(c);
 *
 * The file must be strict JSON (io/json.h: no comments, trailing data or
 * repeated keys, integers within int64, nesting at most 64 deep) holding one
 * object. A present key of the wrong type or out of range is PD_E_FORMAT
 * naming the file and the key; an absent key leaves *out untouched and
 * succeeds.
 * Strings returned are owned by the config. Immutable after loading.
 */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include <stdint.h>

#include "paldiff.h"

typedef struct pd_config pd_config;

/* Reads a JSON object from a file (at most 16 MiB). */
pd_status pd_config_load(const char *path, pd_config **out, pd_error *err);
/* Parses a JSON object from memory; `label` names it in messages. */
pd_status pd_config_parse(const char *label, const char *json, size_t len,
                          pd_config **out, pd_error *err);
void pd_config_free(pd_config *c);

const char *pd_config_path(const pd_config *c);
int pd_config_has(const pd_config *c, const char *key);
pd_status pd_config_int(const pd_config *c, const char *key, int64_t min, int64_t max,
                        int64_t *out, pd_error *err);
pd_status pd_config_double(const pd_config *c, const char *key, double *out, pd_error *err);
pd_status pd_config_bool(const pd_config *c, const char *key, int *out, pd_error *err);
/* As pd_config_double, but the strings "inf" and "-inf" are also accepted,
 * as infinities (strict JSON has no other way to write them; diffusers'
 * lambda_min_clipped defaults to -inf). */
pd_status pd_config_double_inf(const pd_config *c, const char *key, double *out, pd_error *err);
/* A list of integers (an integer alone counts as a list of one, as diffusers'
 * attention_head_dim may be either). At most cap; *n = 0 when absent. */
pd_status pd_config_ints(const pd_config *c, const char *key, int64_t min, int64_t max,
                         int64_t *out, int cap, int *n, pd_error *err);
/* A list of strings (pointers owned by the config). At most cap; *n = 0 when absent. */
pd_status pd_config_strings(const pd_config *c, const char *key, const char **out, int cap,
                            int *n, pd_error *err);
/* A string value; also accepts {"content": "..."} (tokenizer special tokens). */
pd_status pd_config_string(const pd_config *c, const char *key, const char **out, pd_error *err);

#endif
