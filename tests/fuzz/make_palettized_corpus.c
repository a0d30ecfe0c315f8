/* make_palettized_corpus.c — writes the seeds under corpus/palettized/.
 *
 *     ninja -C build tests/fuzz/make-palettized-corpus
 *     build/tests/fuzz/make-palettized-corpus GOLDEN_MODEL_SOURCE tests/fuzz/corpus/palettized
 *
 * Converts a tiny golden model (e.g. golden/sd15-tiny/diffusers) at 2, 4 and
 * 8 bits, per tensor and per group, and keeps of each result the format's
 * metadata (tokenizer and configs left out, but for the UNet's config), the
 * two smallest palettized weights and the smallest plain one: valid files of
 * a few KB that libFuzzer mutates quickly. Not run by the tests: the seeds
 * are committed.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "convert/convert.h"
#include "io/palettized.h"
#include "io/safetensors.h"
#include "io/st_writer.h"

static uint64_t entry_bytes(const pd_safetensors *st, const char *name)
{
    char *p = g_strconcat(name, PD_PALF_SUFFIX_PALETTE, NULL), *i = g_strconcat(name, PD_PALF_SUFFIX_INDICES, NULL);
    uint64_t n = pd_st_find(st, p)->nbytes + pd_st_find(st, i)->nbytes;
    g_free(p);
    g_free(i);
    return n;
}

static int cut(const char *from, const char *to, pd_error *err)
{
    pd_safetensors *st;
    if (pd_st_open(from, &st, err))
        return 1;
    JsonParser *jp = json_parser_new();
    json_parser_load_from_data(jp, pd_st_metadata(st, PD_PALF_KEY_TENSORS), -1, NULL);
    JsonObject *all = json_node_get_object(json_parser_get_root(jp));
    /* the two smallest entries, the smallest plain tensor */
    const char *keep[2] = {NULL, NULL};
    GList *names = json_object_get_members(all);
    for (GList *l = names; l; l = l->next) {
        const char *n = l->data;
        if (!keep[0] || entry_bytes(st, n) < entry_bytes(st, keep[0]))
            keep[1] = keep[0], keep[0] = n;
        else if (!keep[1] || entry_bytes(st, n) < entry_bytes(st, keep[1]))
            keep[1] = n;
    }
    g_list_free(names);
    const pd_st_tensor *plain = NULL;
    for (size_t i = 0; i < pd_st_count(st); i++) {
        const pd_st_tensor *t = pd_st_at(st, i);
        if (!g_str_has_suffix(t->name, PD_PALF_SUFFIX_PALETTE) && !g_str_has_suffix(t->name, PD_PALF_SUFFIX_INDICES) &&
            (!plain || t->nbytes < plain->nbytes))
            plain = t;
    }
    JsonObject *sub = json_object_new();
    for (int k = 0; k < 2; k++)
        json_object_set_member(sub, keep[k], json_node_copy(json_object_get_member(all, keep[k])));
    JsonNode *root = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(root, sub);
    JsonGenerator *g = json_generator_new();
    json_generator_set_root(g, root);
    char *tensors = json_generator_to_data(g, NULL);

    pd_st_writer *w;
    pd_status s = pd_stw_begin(to, &w, err);
    const char *meta[] = {PD_PALF_KEY_FORMAT, PD_PALF_KEY_VERSION, PD_PALF_KEY_ARCH, PD_PALF_KEY_PREDICTION,
                          "paldiff.config.unet"};
    for (size_t i = 0; !s && i < G_N_ELEMENTS(meta); i++)
        if (pd_st_metadata(st, meta[i]))
            s = pd_stw_metadata(w, meta[i], pd_st_metadata(st, meta[i]), err);
    if (!s)
        s = pd_stw_metadata(w, PD_PALF_KEY_TENSORS, tensors, err);
    /* F16 first (palettes, plain), then the U8 indices */
    const pd_st_tensor *out[5];
    int n = 0;
    for (int k = 0; k < 2; k++) {
        char *p = g_strconcat(keep[k], PD_PALF_SUFFIX_PALETTE, NULL);
        out[n++] = pd_st_find(st, p);
        g_free(p);
    }
    out[n++] = plain;
    for (int k = 0; k < 2; k++) {
        char *p = g_strconcat(keep[k], PD_PALF_SUFFIX_INDICES, NULL);
        out[n++] = pd_st_find(st, p);
        g_free(p);
    }
    for (int i = 0; !s && i < n; i++)
        s = pd_stw_add(w, out[i]->name, out[i]->dtype, out[i]->ndim, out[i]->shape, err);
    if (!s)
        s = pd_stw_write_header(w, err);
    for (int i = 0; !s && i < n; i++)
        s = pd_stw_write(w, out[i]->data, out[i]->nbytes, err);
    if (!s)
        s = pd_stw_finish(w, err);
    else
        pd_stw_abort(w);
    g_free(tensors);
    g_object_unref(g);
    json_node_unref(root);
    g_object_unref(jp);
    pd_st_close(st);
    return s != PD_OK;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make-palettized-corpus GOLDEN_MODEL_SOURCE OUT_DIR\n");
        return 2;
    }
    g_mkdir_with_parents(argv[2], 0755);
    static const int bits[] = {2, 4, 8};
    for (size_t b = 0; b < G_N_ELEMENTS(bits); b++)
        for (int group = 0; group < 2; group++) {
            pd_convert_options o;
            pd_convert_options_init(&o);
            o.bits = bits[b];
            o.granularity = group ? PD_GRANULARITY_GROUP : PD_GRANULARITY_TENSOR;
            o.group_size = 8;
            char *tmp = g_strdup_printf("%s/full.tmp", argv[2]);
            char *seed = g_strdup_printf("%s/%dbit-%s.safetensors", argv[2], bits[b], group ? "group" : "tensor");
            pd_error err;
            if (pd_convert(argv[1], &o, tmp, NULL, NULL, &err) || cut(tmp, seed, &err)) {
                fprintf(stderr, "%s: %s\n", seed, err.message);
                return 1;
            }
            g_unlink(tmp);
            g_free(tmp);
            g_free(seed);
        }
    return 0;
}
