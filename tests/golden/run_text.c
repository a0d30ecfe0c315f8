/* run_text.c — golden "tokenizer" and "text" cases. */
#include <string.h>

#include "runner.h"

void run_tokenizer(const manifest *mf, JsonObject *c, const source *s)
{
    const char *id = json_object_get_string_member(c, "id");
    const char *text = json_object_get_string_member(c, "text");
    JsonArray *want = json_object_get_array_member(c, "ids");
    int32_t ids[PD_TOKENS];
    pd_error err;
    if (pd_tokenize(s->model, text, ids, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
        return;
    }
    if (json_array_get_length(want) != PD_TOKENS) {
        report(0, mf->rel, id, s->name, "manifest gives %u ids, expected %d",
               json_array_get_length(want), PD_TOKENS);
        return;
    }
    for (int i = 0; i < PD_TOKENS; i++) {
        int64_t w = json_array_get_int_element(want, (guint)i);
        if (ids[i] != w) {
            report(0, mf->rel, id, s->name, "id %d is %d, expected %lld", i, ids[i], (long long)w);
            return;
        }
    }
    report(1, mf->rel, id, s->name, "77 ids exact");
}

void run_text(const manifest *mf, JsonObject *c, const source *s, const pd_safetensors *st,
                     double tol)
{
    const char *id = json_object_get_string_member(c, "id");
    const pd_st_tensor *in, *want;
    if (!case_tensors(mf, id, s, st, "input_ids", PD_ST_I64, &in, "hidden_states", PD_ST_F32, &want, NULL))
        return;
    if (in->numel != PD_TOKENS) {
        report(0, mf->rel, id, s->name, "input_ids has %lld ids", (long long)in->numel);
        return;
    }
    int clip_skip = PD_CLIP_SKIP_NONE;
    JsonNode *skip = json_object_get_member(c, "clip_skip");
    if (skip && !JSON_NODE_HOLDS_NULL(skip))
        clip_skip = (int)json_node_get_int(skip);

    int32_t ids[PD_TOKENS], tok[PD_TOKENS];
    for (int i = 0; i < PD_TOKENS; i++) {
        int64_t v;
        memcpy(&v, (const char *)in->data + 8 * i, 8);
        ids[i] = v < INT32_MIN || v > INT32_MAX ? -1 : (int32_t)v;
    }
    /* The case's text must tokenize to its input_ids, then encode to hidden_states. */
    pd_error err;
    const char *text = json_object_get_string_member(c, "text");
    if (pd_tokenize(s->model, text, tok, &err)) {
        report(0, mf->rel, id, s->name, "tokenizing: %s", err.message);
        return;
    }
    if (memcmp(tok, ids, sizeof ids)) {
        report(0, mf->rel, id, s->name, "the text does not tokenize to the case's input_ids");
        return;
    }
    pd_embedding emb;
    if (pd_encode_ids(s->model, ids, clip_skip, &emb, &err)) {
        report(0, mf->rel, id, s->name, "%s", err.message);
        return;
    }
    report_diff(mf, id, s, want, emb.data, (int64_t)emb.tokens * emb.width, tol);
    pd_embedding_free(&emb);
}

