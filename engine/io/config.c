#include "io/config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "io/json.h"

struct pd_config {
    char *path;
    JsonParser *parser;
    JsonObject *root;
};

enum {
    MAX_CONFIG_BYTES = 16 << 20,
    /* Configs are small and shallow (model_index.json and
     * tokenizer_config.json's added_tokens_decoder reach 3); the margin
     * admits new layouts while keeping json-glib's recursion short. */
    MAX_CONFIG_DEPTH = 64,
};

pd_status pd_config_parse(const char *label, const char *json, size_t len,
                          pd_config **out, pd_error *err)
{
    *out = NULL;
    if (len > MAX_CONFIG_BYTES)
        return pd_fail(err, PD_E_FORMAT, "%s: %zu bytes, more than a config can be (16 MiB)", label, len);
    /* Configs come with downloaded models: strict JSON, no repeated keys. */
    JsonParser *parser = NULL;
    pd_status st = pd_json_parse(label, NULL, json, len, MAX_CONFIG_DEPTH, PD_JSON_WIDE_INTS, &parser, err);
    if (st != PD_OK)
        return st;
    pd_config *c = g_new0(pd_config, 1);
    c->path = g_strdup(label);
    c->parser = parser;
    c->root = json_node_get_object(json_parser_get_root(parser));
    *out = c;
    return PD_OK;
}

pd_status pd_config_load(const char *path, pd_config **out, pd_error *err)
{
    *out = NULL;
    gchar *text = NULL;
    gsize len = 0;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, &len, &gerr)) {
        pd_fail(err, PD_E_IO, "%s: cannot read: %s", path, gerr->message);
        g_error_free(gerr);
        return PD_E_IO;
    }
    pd_status st = pd_config_parse(path, text, len, out, err);
    g_free(text);
    return st;
}

void pd_config_free(pd_config *c)
{
    if (!c)
        return;
    g_object_unref(c->parser);
    g_free(c->path);
    g_free(c);
}

const char *pd_config_path(const pd_config *c) { return c->path; }

static JsonNode *member(const pd_config *c, const char *key)
{
    JsonNode *n = json_object_get_member(c->root, key);
    return n && !JSON_NODE_HOLDS_NULL(n) ? n : NULL;
}

int pd_config_has(const pd_config *c, const char *key) { return member(c, key) != NULL; }

pd_status pd_config_int(const pd_config *c, const char *key, int64_t min, int64_t max,
                        int64_t *out, pd_error *err)
{
    JsonNode *n = member(c, key);
    if (!n)
        return PD_OK;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be an integer", c->path, key);
    int64_t v = json_node_get_int(n);
    if (v < min || v > max)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" is %lld, expected %lld..%lld", c->path, key,
                       (long long)v, (long long)min, (long long)max);
    *out = v;
    return PD_OK;
}

pd_status pd_config_double(const pd_config *c, const char *key, double *out, pd_error *err)
{
    JsonNode *n = member(c, key);
    if (!n)
        return PD_OK;
    GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
    if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be a number", c->path, key);
    double v = json_node_get_double(n);
    if (!isfinite(v))
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be finite", c->path, key);
    *out = v;
    return PD_OK;
}

pd_status pd_config_double_inf(const pd_config *c, const char *key, double *out, pd_error *err)
{
    JsonNode *n = member(c, key);
    if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING) {
        const char *s = json_node_get_string(n);
        if (strcmp(s, "inf") && strcmp(s, "-inf"))
            return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be a number, \"inf\" or \"-inf\"", c->path, key);
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return PD_OK;
    }
    return pd_config_double(c, key, out, err);
}

pd_status pd_config_bool(const pd_config *c, const char *key, int *out, pd_error *err)
{
    JsonNode *n = member(c, key);
    if (!n)
        return PD_OK;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be true or false", c->path, key);
    *out = json_node_get_boolean(n);
    return PD_OK;
}

pd_status pd_config_string(const pd_config *c, const char *key, const char **out, pd_error *err)
{
    JsonNode *n = member(c, key);
    if (!n)
        return PD_OK;
    if (JSON_NODE_HOLDS_OBJECT(n)) /* {"content": "...", "lstrip": ...} in tokenizer configs */
        n = json_object_get_member(json_node_get_object(n), "content");
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be a string", c->path, key);
    *out = json_node_get_string(n);
    return PD_OK;
}

pd_status pd_config_ints(const pd_config *c, const char *key, int64_t min, int64_t max,
                         int64_t *out, int cap, int *n, pd_error *err)
{
    *n = 0;
    JsonNode *node = member(c, key);
    if (!node)
        return PD_OK;
    JsonArray *a = JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
    guint len = a ? json_array_get_length(a) : 1;
    if (len > (guint)cap)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" has %u entries, at most %d", c->path, key, len, cap);
    for (guint i = 0; i < len; i++) {
        JsonNode *e = a ? json_array_get_element(a, i) : node;
        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_INT64)
            return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be an integer or a list of integers",
                           c->path, key);
        int64_t v = json_node_get_int(e);
        if (v < min || v > max)
            return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" holds %lld, expected %lld..%lld", c->path, key,
                           (long long)v, (long long)min, (long long)max);
        out[i] = v;
    }
    *n = (int)len;
    return PD_OK;
}

pd_status pd_config_strings(const pd_config *c, const char *key, const char **out, int cap,
                            int *n, pd_error *err)
{
    *n = 0;
    JsonNode *node = member(c, key);
    if (!node)
        return PD_OK;
    JsonArray *a = JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
    if (!a)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be a list of strings", c->path, key);
    guint len = json_array_get_length(a);
    if (len > (guint)cap)
        return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" has %u entries, at most %d", c->path, key, len, cap);
    for (guint i = 0; i < len; i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
            return pd_fail(err, PD_E_FORMAT, "%s: \"%s\" must be a list of strings", c->path, key);
        out[i] = json_node_get_string(e);
    }
    *n = (int)len;
    return PD_OK;
}
