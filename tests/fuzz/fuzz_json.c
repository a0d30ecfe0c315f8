/* fuzz_json.c — libFuzzer target for model configs (io/config.h, which
 * reads through io/json.h's strict parser).
 *
 * Configs come with models downloaded from anywhere. Any input must either
 * be refused as PD_E_FORMAT with a message naming the buffer, or give a
 * config whose accessors, asked about the keys the engine reads and about
 * every key the object holds, answer PD_OK or PD_E_FORMAT, leave the output
 * alone unless they succeed, and agree with each other about the value's
 * type. Built two ways (tests/fuzz/meson.build): with -fsanitize=fuzzer
 * under clang, and with replay.c's main for every compiler.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "io/config.h"
#include "io/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the reads below from being optimized away. */
static volatile size_t sink;

static void broken(const char *what, const char *key)
{
    fprintf(stderr, "fuzz-json: %s (key \"%s\")\n", what, key ? key : "");
    abort();
}

/* Checks one accessor's answer; returns whether it read a value. */
static int answered(pd_status st, const pd_error *err, int has, int wrote, const char *key)
{
    if (st != PD_OK && st != PD_E_FORMAT)
        broken("an accessor failed with a status other than PD_E_FORMAT", key);
    if (st != PD_OK && strncmp(err->message, "fuzz: ", 6) != 0)
        broken("an accessor's message does not name the config", err->message);
    if (st != PD_OK && wrote)
        broken("a failing accessor wrote its output", key);
    if (!has && (st != PD_OK || wrote))
        broken("an absent key did not leave the output alone", key);
    return st == PD_OK && has;
}

/* Sentinels: an accessor that does not read a value must leave them. */
#define NO_INT INT64_C(-0x5A5A5A5A5A5A5A5A)
#define NO_DOUBLE -12345.678
#define NO_BOOL 0x5A

static void check_key(const pd_config *c, const char *key)
{
    pd_error err;
    int has = pd_config_has(c, key);
    int64_t wide = NO_INT, narrow = NO_INT;
    double d = NO_DOUBLE;
    int b = NO_BOOL;
    const char *s = NULL;

    int is_int = answered(pd_config_int(c, key, INT64_MIN, INT64_MAX, &wide, &err), &err, has,
                          wide != NO_INT, key);
    int is_narrow = answered(pd_config_int(c, key, 1, 256, &narrow, &err), &err, has,
                             narrow != NO_INT, key);
    int is_double = answered(pd_config_double(c, key, &d, &err), &err, has, d != NO_DOUBLE, key);
    int is_bool = answered(pd_config_bool(c, key, &b, &err), &err, has, b != NO_BOOL, key);
    int is_string = answered(pd_config_string(c, key, &s, &err), &err, has, s != NULL, key);

    if (is_narrow && (!is_int || narrow != wide || narrow < 1 || narrow > 256))
        broken("pd_config_int with a range disagrees with the full range", key);
    if (is_int && !is_narrow && wide >= 1 && wide <= 256)
        broken("pd_config_int refused a value inside its range", key);
    if (is_int && (!is_double || d != (double)wide))
        broken("an integer does not read as the same double", key);
    if (is_double + is_bool + is_string > 1)
        broken("a value reads as two types", key);
    if (is_bool && b != 0 && b != 1)
        broken("a boolean is neither 0 nor 1", key);
    if (is_string && !g_utf8_validate(s, -1, NULL))
        broken("a string is not valid UTF-8", key);
    sink += (size_t)has + (s ? strlen(s) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pd_config *c = NULL;
    pd_error err;
    pd_status st = pd_config_parse("fuzz", (const char *)data, size, &c, &err);
    if (st != PD_OK) {
        if (st != PD_E_FORMAT || c)
            broken("refused with a status other than PD_E_FORMAT, or with a config", err.message);
        if (strncmp(err.message, "fuzz: ", 6) != 0)
            broken("refused with a message that does not name the buffer", err.message);
        return 0;
    }
    if (strcmp(pd_config_path(c), "fuzz") != 0)
        broken("the config does not keep its label", pd_config_path(c));

    /* What the engine asks of its configs, present or not. */
    static const char *const asked[] = {
        "num_attention_heads", "prediction_type", "pad_token", "layer_norm_eps", "hidden_size",
        "vocab_size", "model_max_length", "clip_sample", "bos_token", "",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(asked); i++)
        check_key(c, asked[i]);

    /* The config cannot list its keys, so read them from a second parse,
     * which must accept what the config accepted (a config's depth limit
     * is below PD_JSON_MAX_DEPTH). */
    JsonParser *p = NULL;
    if (pd_json_parse("fuzz", NULL, (const char *)data, size, PD_JSON_MAX_DEPTH, PD_JSON_WIDE_INTS,
                      &p, &err) != PD_OK)
        broken("pd_json_parse refuses what pd_config_parse accepted", err.message);
    JsonObjectIter it;
    const char *key;
    JsonNode *node;
    json_object_iter_init(&it, json_node_get_object(json_parser_get_root(p)));
    while (json_object_iter_next(&it, &key, &node)) {
        /* A null value counts as absent: diffusers writes null for unset options. */
        if (pd_config_has(c, key) == JSON_NODE_HOLDS_NULL(node))
            broken("pd_config_has disagrees with the object", key);
        check_key(c, key);
    }
    g_object_unref(p);
    pd_config_free(c);
    return 0;
}
