/* st_writer.c — atomic, streaming .safetensors writer (see st_writer.h).
 *
 * The header is escaped by hand rather than with JsonGenerator: json-glib 1.6
 * leaves U+001F unescaped, which is not JSON and which our own reader (and
 * the reference) would refuse.
 */
#include "io/st_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"

/* The reader's cap (the reference implementation's MAX_HEADER_SIZE). */
#define STW_MAX_HEADER 100000000u

typedef struct {
    char *name;
    pd_st_dtype dtype;
    int ndim;
    int64_t shape[PD_ST_MAX_DIMS];
    uint64_t nbytes;
} stw_tensor;

struct pd_st_writer {
    char *path;
    char *tmp_path;             /* "<path>.tmp-XXXXXX", removed unless renamed */
    int fd;
    bool failed;                /* every later call fails                      */
    bool header_done;
    GArray *tensors;            /* stw_tensor, declaration order               */
    GPtrArray *meta;            /* key, value, key, value, ...                 */
    GHashTable *names;          /* tensor names and metadata keys seen (owned by the arrays) */
    GHashTable *meta_keys;
    uint64_t declared;          /* data bytes the header promises              */
    uint64_t written;           /* data bytes written or skipped so far        */
    uint64_t data_start;        /* 8 + header length                           */
};

/* Marks the writer failed and returns the status; messages name the file. */
#define FAIL(w, status, ...) ((w)->failed = true, pd_fail(err, status, __VA_ARGS__))

static pd_status usable(pd_st_writer *w, pd_error *err)
{
    if (!w)
        return pd_fail(err, PD_E_ARG, "safetensors writer: NULL writer");
    if (w->failed)
        return pd_fail(err, PD_E_ARG, "%s: an earlier call on this writer failed", w->path);
    return PD_OK;
}

static bool write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

pd_status pd_stw_begin(const char *path, pd_st_writer **out, pd_error *err)
{
    if (!out || !path || !path[0])
        return pd_fail(err, PD_E_ARG, "pd_stw_begin: path or out is NULL or empty");
    *out = NULL;
    char *tmp = g_strdup_printf("%s.tmp-XXXXXX", path);
    /* 0666 through the umask, like any new file (mkstemp would give 0600). */
    int fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        g_free(tmp);
        return pd_fail(err, PD_E_IO, "%s: cannot create a temporary file beside it: %s",
                       path, g_strerror(e));
    }
    pd_st_writer *w = g_new0(pd_st_writer, 1);
    w->path = g_strdup(path);
    w->tmp_path = tmp;
    w->fd = fd;
    w->tensors = g_array_new(FALSE, TRUE, sizeof(stw_tensor));
    w->meta = g_ptr_array_new_with_free_func(g_free);
    w->names = g_hash_table_new(g_str_hash, g_str_equal);
    w->meta_keys = g_hash_table_new(g_str_hash, g_str_equal);
    *out = w;
    pd_error_clear(err);
    return PD_OK;
}

pd_status pd_stw_metadata(pd_st_writer *w, const char *key, const char *value, pd_error *err)
{
    pd_status status = usable(w, err);
    if (status != PD_OK)
        return status;
    if (w->header_done)
        return FAIL(w, PD_E_ARG, "%s: metadata added after pd_stw_write_header", w->path);
    if (!key || !value || !g_utf8_validate(key, -1, NULL) || !g_utf8_validate(value, -1, NULL))
        return FAIL(w, PD_E_ARG, "%s: metadata key or value is NULL or not UTF-8", w->path);
    if (g_hash_table_contains(w->meta_keys, key))
        return FAIL(w, PD_E_ARG, "%s: metadata key \"%s\" given twice", w->path, key);
    char *k = g_strdup(key);
    g_ptr_array_add(w->meta, k);
    g_ptr_array_add(w->meta, g_strdup(value));
    g_hash_table_add(w->meta_keys, k);
    return PD_OK;
}

pd_status pd_stw_add(pd_st_writer *w, const char *name, pd_st_dtype dtype, int ndim,
                     const int64_t *shape, pd_error *err)
{
    pd_status status = usable(w, err);
    if (status != PD_OK)
        return status;
    if (w->header_done)
        return FAIL(w, PD_E_ARG, "%s: tensor '%s' added after pd_stw_write_header", w->path,
                    name ? name : "");
    if (!name || !name[0] || !g_utf8_validate(name, -1, NULL) || !strcmp(name, "__metadata__"))
        return FAIL(w, PD_E_ARG, "%s: a tensor name is NULL, empty, not UTF-8 or "
                    "\"__metadata__\"", w->path);
    if (g_hash_table_contains(w->names, name))
        return FAIL(w, PD_E_ARG, "%s: tensor '%s' declared twice", w->path, name);
    if ((unsigned)dtype >= PD_ST_DTYPE_COUNT)
        return FAIL(w, PD_E_ARG, "%s: tensor '%s': unknown dtype %d", w->path, name, (int)dtype);
    if (ndim < 0 || ndim > PD_ST_MAX_DIMS || (ndim > 0 && !shape))
        return FAIL(w, PD_E_ARG, "%s: tensor '%s': %d dimensions, expected 0..%d with a shape",
                    w->path, name, ndim, PD_ST_MAX_DIMS);
    stw_tensor t = {.dtype = dtype, .ndim = ndim};
    int64_t n = (int64_t)pd_st_dtype_size(dtype);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || __builtin_mul_overflow(n, shape[d], &n))
            return FAIL(w, PD_E_ARG, "%s: tensor '%s': shape[%d] = %" PRId64 " is negative or "
                        "makes the size overflow", w->path, name, d, shape[d]);
        t.shape[d] = shape[d];
    }
    if ((uint64_t)n > UINT64_MAX - w->declared)
        return FAIL(w, PD_E_ARG, "%s: tensor '%s': total size overflows", w->path, name);
    t.nbytes = (uint64_t)n;
    t.name = g_strdup(name);
    w->declared += t.nbytes;
    g_array_append_val(w->tensors, t);
    g_hash_table_add(w->names, t.name);
    return PD_OK;
}

/* A JSON string: quotes, backslash and every control character escaped. */
static void json_quote(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(out, '\\'), g_string_append_c(out, (char)*p);
        else if (*p < 0x20)
            g_string_append_printf(out, "\\u%04x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '"');
}

pd_status pd_stw_write_header(pd_st_writer *w, pd_error *err)
{
    pd_status status = usable(w, err);
    if (status != PD_OK)
        return status;
    if (w->header_done)
        return FAIL(w, PD_E_ARG, "%s: header written twice", w->path);

    GString *h = g_string_new("{");
    bool first = true;
    if (w->meta->len) {
        g_string_append(h, "\"__metadata__\":{");
        for (guint i = 0; i < w->meta->len; i += 2) {
            if (i)
                g_string_append_c(h, ',');
            json_quote(h, w->meta->pdata[i]);
            g_string_append_c(h, ':');
            json_quote(h, w->meta->pdata[i + 1]);
        }
        g_string_append_c(h, '}');
        first = false;
    }
    uint64_t off = 0;
    for (guint i = 0; i < w->tensors->len; i++) {
        const stw_tensor *t = &g_array_index(w->tensors, stw_tensor, i);
        if (!first)
            g_string_append_c(h, ',');
        first = false;
        json_quote(h, t->name);
        g_string_append_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", pd_st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            g_string_append_printf(h, "%s%" PRId64, d ? "," : "", t->shape[d]);
        g_string_append_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off,
                               off + t->nbytes);
        off += t->nbytes;
    }
    g_string_append_c(h, '}');
    /* Spaces up to a multiple of 8, so the data area (at 8 + length) is
     * aligned for every dtype. */
    while (h->len % 8)
        g_string_append_c(h, ' ');

    if (h->len > STW_MAX_HEADER) {
        status = FAIL(w, PD_E_ARG, "%s: header would be %zu bytes, above the safetensors limit "
                      "of %u", w->path, (size_t)h->len, STW_MAX_HEADER);
    } else {
        uint8_t prefix[8];
        for (int i = 0; i < 8; i++)
            prefix[i] = (uint8_t)((uint64_t)h->len >> (8 * i));
        if (!write_all(w->fd, prefix, 8) || !write_all(w->fd, h->str, h->len))
            status = FAIL(w, PD_E_IO, "%s: writing the header to %s failed: %s", w->path,
                          w->tmp_path, g_strerror(errno));
        w->data_start = 8 + h->len;
        w->header_done = true;
    }
    g_string_free(h, TRUE);
    return status;
}

static pd_status room_for(pd_st_writer *w, uint64_t n, pd_error *err)
{
    pd_status status = usable(w, err);
    if (status != PD_OK)
        return status;
    if (!w->header_done)
        return FAIL(w, PD_E_ARG, "%s: data written before pd_stw_write_header", w->path);
    if (n > w->declared - w->written)
        return FAIL(w, PD_E_ARG, "%s: %" PRIu64 " more bytes would pass the %" PRIu64
                    " declared (%" PRIu64 " written)", w->path, n, w->declared, w->written);
    return PD_OK;
}

pd_status pd_stw_write(pd_st_writer *w, const void *data, size_t n, pd_error *err)
{
    pd_status status = room_for(w, n, err);
    if (status != PD_OK)
        return status;
    if (n && !data)
        return FAIL(w, PD_E_ARG, "%s: pd_stw_write: data is NULL", w->path);
    if (!write_all(w->fd, data, n))
        return FAIL(w, PD_E_IO, "%s: writing to %s failed: %s", w->path, w->tmp_path,
                    g_strerror(errno));
    w->written += n;
    return PD_OK;
}

pd_status pd_stw_skip(pd_st_writer *w, uint64_t n, pd_error *err)
{
    pd_status status = room_for(w, n, err);
    if (status != PD_OK)
        return status;
    /* Seeking leaves a hole; pd_stw_finish's ftruncate covers a trailing one. */
    if (n > (uint64_t)INT64_MAX - (w->data_start + w->written) ||
        lseek(w->fd, (off_t)n, SEEK_CUR) < 0)
        return FAIL(w, PD_E_IO, "%s: seeking %" PRIu64 " bytes in %s failed: %s", w->path, n,
                    w->tmp_path, g_strerror(errno));
    w->written += n;
    return PD_OK;
}

static void writer_free(pd_st_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path)
        g_unlink(w->tmp_path);
    for (guint i = 0; i < w->tensors->len; i++)
        g_free(g_array_index(w->tensors, stw_tensor, i).name);
    g_array_free(w->tensors, TRUE);
    g_ptr_array_free(w->meta, TRUE);
    g_hash_table_destroy(w->names);
    g_hash_table_destroy(w->meta_keys);
    g_free(w->tmp_path);
    g_free(w->path);
    g_free(w);
}

void pd_stw_abort(pd_st_writer *w)
{
    if (w)
        writer_free(w);
}

/* The rename is durable only once the folder's entry is on disk. */
static pd_status sync_folder(const char *path, pd_error *err)
{
    char *dir = g_path_get_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    pd_status status = PD_OK;
    /* Some file systems cannot fsync a folder (EINVAL); nothing more to do there. */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP))
        status = pd_fail(err, PD_E_IO, "%s: written, but syncing its folder %s failed: %s",
                         path, dir, g_strerror(errno));
    if (fd >= 0)
        close(fd);
    g_free(dir);
    return status;
}

pd_status pd_stw_finish(pd_st_writer *w, pd_error *err)
{
    pd_status status = usable(w, err);
    if (status == PD_OK && !w->header_done)
        status = pd_fail(err, PD_E_ARG, "%s: finished without pd_stw_write_header", w->path);
    else if (status == PD_OK && w->written != w->declared)
        status = pd_fail(err, PD_E_ARG, "%s: %" PRIu64 " data bytes written, %" PRIu64
                         " declared", w->path, w->written, w->declared);
    else if (status == PD_OK && (ftruncate(w->fd, (off_t)(w->data_start + w->declared)) != 0 ||
                                 fsync(w->fd) != 0))
        status = pd_fail(err, PD_E_IO, "%s: finishing %s failed: %s", w->path, w->tmp_path,
                         g_strerror(errno));
    if (status == PD_OK) {
        int rc = close(w->fd);
        w->fd = -1;
        if (rc != 0 || rename(w->tmp_path, w->path) != 0)
            status = pd_fail(err, PD_E_IO, "%s: cannot move %s into place: %s", w->path,
                             w->tmp_path, g_strerror(errno));
    }
    if (status == PD_OK) {
        g_clear_pointer(&w->tmp_path, g_free);   /* renamed: nothing to remove */
        status = sync_folder(w->path, err);
    }
    if (w)
        writer_free(w);
    if (status == PD_OK)
        pd_error_clear(err);
    return status;
}
