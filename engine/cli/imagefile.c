/* imagefile.c — reading, writing and resizing images for the CLI (see
 * imagefile.h). The codecs are imagefile_png.c and imagefile_jpeg.c; this
 * file does the file handling both share and the resampling.
 */
#include "imagefile.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "imagefile_internal.h"

/* ---- reading ------------------------------------------------------------- */

pd_status pd_image_check_size(const char *label, const char *format, uint64_t width,
                              uint64_t height, pd_error *err)
{
    if (width == 0 || height == 0)
        return pd_fail(err, PD_E_FORMAT, "%s: the %s header says %" PRIu64 " × %" PRIu64
                       " pixels; the file is corrupt", label, format, width, height);
    if (width > PD_IMAGEFILE_MAX_SIDE || height > PD_IMAGEFILE_MAX_SIDE ||
        width * height > PD_IMAGEFILE_MAX_PIXELS) /* both < 2^32: no overflow */
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: a %s of %" PRIu64 " × %" PRIu64 " pixels, "
                       "more than paldiff reads (%d a side, %d in all); scale it down first",
                       label, format, width, height, PD_IMAGEFILE_MAX_SIDE,
                       PD_IMAGEFILE_MAX_PIXELS);
    return PD_OK;
}

uint8_t *pd_image_alloc(int width, int height, int channels)
{
    if (width <= 0 || height <= 0 || channels <= 0 ||
        (size_t)width > SIZE_MAX / (size_t)height / (size_t)channels)
        return NULL;
    return calloc((size_t)width * (size_t)height, (size_t)channels);
}

/* Formats recognised only to say so; paldiff does not decode them. */
static const struct {
    const char *magic;
    size_t at, len;
    const char *name;
} others[] = {
    {"GIF8", 0, 4, "GIF"},
    {"WEBP", 8, 4, "WebP"},
    {"II*\0", 0, 4, "TIFF"},
    {"MM\0*", 0, 4, "TIFF"},
    {"\0\0\0\x0cjP  ", 0, 8, "JPEG 2000"},
};

pd_status pd_image_decode(const void *data, size_t len, const char *label, int channels,
                          pd_pixels *out, pd_error *err)
{
    if (!out)
        return pd_fail(err, PD_E_ARG, "pd_image_decode: out is NULL");
    *out = (pd_pixels){0};
    if (!label)
        label = "image";
    if (channels != 1 && channels != 3)
        return pd_fail(err, PD_E_ARG, "%s: %d channels asked for; 1 (gray) or 3 (RGB)", label,
                       channels);
    if (len && !data)
        return pd_fail(err, PD_E_ARG, "%s: data is NULL", label);
    if (len == 0)
        return pd_fail(err, PD_E_FORMAT, "%s: the file is empty (0 bytes); give a PNG or "
                       "JPEG file", label);
    if (len > PD_IMAGEFILE_MAX_FILE)
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: %zu bytes, more than paldiff reads (%d); "
                       "scale the image down or save it compressed", label, len,
                       PD_IMAGEFILE_MAX_FILE);

    const uint8_t *p = data;
    pd_status status;
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        status = pd_png_decode(p, len, label, channels, out, err);
    else if (len >= 2 && p[0] == 0xFF && p[1] == 0xD8) /* SOI: all libjpeg asks */
        status = pd_jpeg_decode(p, len, label, channels, out, err);
    else {
        for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
            if (len >= others[i].at + others[i].len &&
                memcmp(p + others[i].at, others[i].magic, others[i].len) == 0)
                return pd_fail(err, PD_E_UNSUPPORTED, "%s: a %s image; paldiff reads PNG and "
                               "JPEG: convert it first", label, others[i].name);
        return pd_fail(err, PD_E_FORMAT, "%s: not a PNG or JPEG file (by its first bytes); "
                       "give a PNG or JPEG file", label);
    }
    if (status == PD_OK)
        pd_error_clear(err);
    return status;
}

/* The whole file, at most PD_IMAGEFILE_MAX_FILE bytes; read in a loop, so
 * a pipe or a file that grows while read is bounded just the same. */
static pd_status read_file(const char *path, uint8_t **data, size_t *len, pd_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pd_fail(err, PD_E_IO, "%s: cannot open: %s; check the path", path,
                       g_strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return pd_fail(err, PD_E_IO, "%s: cannot stat: %s", path, g_strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return pd_fail(err, PD_E_IO, "%s: is a folder; give the path of a PNG or JPEG file",
                       path);
    }
    const size_t limit = PD_IMAGEFILE_MAX_FILE;
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > limit) {
        close(fd);
        return pd_fail(err, PD_E_UNSUPPORTED, "%s: %" PRIu64 " bytes, more than paldiff reads "
                       "(%zu); scale the image down or save it compressed", path,
                       (uint64_t)sb.st_size, limit);
    }
    /* One byte more than the size, so the loop sees the end without a
     * second allocation. */
    size_t cap = S_ISREG(sb.st_mode) && sb.st_size >= 0 && (uint64_t)sb.st_size < limit
                     ? (size_t)sb.st_size + 1 : 65536;
    uint8_t *buf = malloc(cap);
    size_t n = 0;
    pd_status status = PD_OK;
    while (buf) {
        if (n == cap) {
            if (cap > limit) {
                status = pd_fail(err, PD_E_UNSUPPORTED, "%s: more than %zu bytes, more than "
                                 "paldiff reads; scale the image down or save it compressed",
                                 path, limit);
                break;
            }
            cap = cap > limit / 2 ? limit + 1 : cap * 2;
            uint8_t *bigger = realloc(buf, cap);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            status = pd_fail(err, PD_E_IO, "%s: cannot read: %s", path, g_strerror(errno));
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (!buf)
        return pd_fail(err, PD_E_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    if (status != PD_OK) {
        free(buf);
        return status;
    }
    *data = buf;
    *len = n;
    return PD_OK;
}

pd_status pd_image_read(const char *path, int channels, pd_pixels *out, pd_error *err)
{
    if (!out || !path)
        return pd_fail(err, PD_E_ARG, "pd_image_read: path or out is NULL");
    *out = (pd_pixels){0};
    if (channels != 1 && channels != 3)
        return pd_fail(err, PD_E_ARG, "%s: %d channels asked for; 1 (gray) or 3 (RGB)", path,
                       channels);
    uint8_t *data = NULL;
    size_t len = 0;
    pd_status status = read_file(path, &data, &len, err);
    if (status != PD_OK)
        return status;
    status = pd_image_decode(data, len, path, channels, out, err);
    free(data);
    return status;
}

/* ---- writing ------------------------------------------------------------- */

typedef enum { FMT_NONE, FMT_PNG, FMT_JPEG } image_format;

static image_format format_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot)
        return FMT_NONE;
    if (!strcasecmp(dot, ".png"))
        return FMT_PNG;
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
        return FMT_JPEG;
    return FMT_NONE;
}

pd_status pd_image_write(const char *path, const pd_pixels *img, const char *parameters,
                         pd_error *err)
{
    if (!path || !path[0] || !img)
        return pd_fail(err, PD_E_ARG, "pd_image_write: path or image is NULL or empty");
    if (!img->data || (img->channels != 1 && img->channels != 3) ||
        pd_image_check_size(path, "image", (uint64_t)(img->width > 0 ? img->width : 0),
                            (uint64_t)(img->height > 0 ? img->height : 0), NULL) != PD_OK)
        return pd_fail(err, PD_E_ARG, "%s: cannot write a %d × %d image of %d channels (at "
                       "most %d a side, %d in all; 1 or 3 channels; pixels not NULL)", path,
                       img->width, img->height, img->channels, PD_IMAGEFILE_MAX_SIDE,
                       PD_IMAGEFILE_MAX_PIXELS);
    image_format fmt = format_of(path);
    if (fmt == FMT_NONE)
        return pd_fail(err, PD_E_ARG, "%s: unknown image type; name the file .png or .jpg",
                       path);

    /* A temporary file beside the target, renamed over it once complete:
     * same folder, same file system, so the rename is atomic. 0666 through
     * the umask, like any new file (mkstemp would give 0600). */
    char *tmp = g_strdup_printf("%s.tmp-XXXXXX", path);
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        g_free(tmp);
        return pd_fail(err, PD_E_IO, "%s: cannot create a file beside it: %s; check that the "
                       "folder exists and is writable", path, g_strerror(e));
    }
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd);
        g_unlink(tmp);
        g_free(tmp);
        return pd_fail(err, PD_E_NOMEM, "%s: out of memory opening a stream", path);
    }
    pd_status status = fmt == FMT_PNG ? pd_png_write(fp, path, img, parameters, err)
                                      : pd_jpeg_write(fp, path, img, parameters, err);
    /* fclose flushes: a full disk may show only here. */
    bool failed = ferror(fp) != 0;
    int e = errno;
    if (fclose(fp) != 0 && !failed) {
        failed = true;
        e = errno;
    }
    if (status == PD_OK && failed)
        status = pd_fail(err, PD_E_IO, "%s: writing failed: %s; check the free space", path,
                         g_strerror(e));
    if (status == PD_OK && rename(tmp, path) != 0)
        status = pd_fail(err, PD_E_IO, "%s: cannot replace it with the new image: %s", path,
                         g_strerror(errno));
    if (status != PD_OK)
        g_unlink(tmp);
    else
        pd_error_clear(err);
    g_free(tmp);
    return status;
}

/* ---- resizing ------------------------------------------------------------ */

/* One axis of a separable resampling: output i is the sum over k < taps of
 * w[i·taps + k] · input[first[i] + k]. */
typedef struct axis {
    int taps;
    int *first;
    float *w;
} axis;

static void axis_free(axis *a)
{
    free(a->first);
    free(a->w);
}

/* Input pixel j covers [j, j + 1), its centre at j + 0.5; output pixel i's
 * centre falls at (i + 0.5)·scale in input coordinates. The triangle has
 * radius 1 input pixel when enlarging (bilinear) and `scale` when
 * shrinking, so every input pixel counts. Taps outside the image are left
 * out and the rest renormalised, which clamps the edges (as PIL does). */
static bool axis_init(axis *a, int in, int out)
{
    double scale = (double)in / out;
    double radius = scale > 1 ? scale : 1;
    /* The open support (centre − radius, centre + radius) holds at most
     * ceil(2·radius) pixel centres; one more absorbs rounding. */
    double span = ceil(2 * radius) + 1;
    a->taps = span < in ? (int)span : in;
    a->first = malloc((size_t)out * sizeof *a->first);
    a->w = malloc((size_t)out * (size_t)a->taps * sizeof *a->w);
    if (!a->first || !a->w)
        return false;
    for (int i = 0; i < out; i++) {
        double centre = (i + 0.5) * scale;
        int lo = (int)floor(centre - radius - 0.5) + 1; /* the first centre inside */
        if (lo > in - a->taps) /* keep every tap inside the image */
            lo = in - a->taps;
        if (lo < 0)
            lo = 0;
        float *w = a->w + (size_t)i * (size_t)a->taps;
        double sum = 0;
        for (int k = 0; k < a->taps; k++) {
            double t = fabs(lo + k + 0.5 - centre) / radius;
            w[k] = t < 1 ? (float)(1 - t) : 0.0f;
            sum += w[k];
        }
        /* sum > 0: the nearest centre, within 0.5 ≤ radius / 2 of `centre`,
         * is inside the support and so among the taps. */
        for (int k = 0; k < a->taps; k++)
            w[k] = (float)(w[k] / sum);
        a->first[i] = lo;
    }
    return true;
}

static uint8_t to_u8(float v)
{
    if (!(v > 0)) /* NaN too, though weights ≥ 0 never make one */
        return 0;
    if (v >= 255)
        return 255;
    return (uint8_t)(v + 0.5f);
}

static float as_float(float v) { return v; }

/* One pass along one axis: in each of `lines` lines, output sample i is
 * the weighted sum of input samples first[i] .. first[i] + taps − 1, per
 * channel. Lines and samples are addressed by strides in elements, so the
 * same code runs along rows or along columns; along columns the lines lie
 * side by side, and walking them innermost keeps memory access sequential.
 * The two passes differ only in their types, so one macro stamps out both
 * (as ggml does its typed kernels): pass_u8 reads the image's bytes into
 * the float intermediate, pass_f reads that back into bytes, `store`
 * rounding and clamping each sum. */
#define RESAMPLE_PASS(name, src_type, dst_type, store)                                             \
    static void name(const src_type *src, size_t src_line, size_t src_step, dst_type *dst,         \
                     size_t dst_line, size_t dst_step, int lines, int c, const axis *a, int n)     \
    {                                                                                              \
        const bool lines_inner = src_line < src_step;                                              \
        const size_t outer = lines_inner ? (size_t)n : (size_t)lines;                              \
        const size_t inner = lines_inner ? (size_t)lines : (size_t)n;                              \
        for (size_t o = 0; o < outer; o++)                                                         \
            for (size_t j = 0; j < inner; j++) {                                                   \
                size_t l = lines_inner ? j : o, i = lines_inner ? o : j;                           \
                const float *w = a->w + i * (size_t)a->taps;                                       \
                const src_type *s = src + l * src_line + (size_t)a->first[i] * src_step;           \
                dst_type *d = dst + l * dst_line + i * dst_step;                                   \
                for (int ch = 0; ch < c; ch++) {                                                   \
                    float acc = 0;                                                                 \
                    for (int k = 0; k < a->taps; k++)                                              \
                        acc += w[k] * s[(size_t)k * src_step + (size_t)ch];                        \
                    d[ch] = store(acc);                                                            \
                }                                                                                  \
            }                                                                                      \
    }
RESAMPLE_PASS(pass_u8, uint8_t, float, as_float)
RESAMPLE_PASS(pass_f, float, uint8_t, to_u8)
#undef RESAMPLE_PASS

pd_status pd_pixels_resize(const pd_pixels *in, int width, int height, pd_pixels *out,
                           pd_error *err)
{
    if (!in || !out || in == out)
        return pd_fail(err, PD_E_ARG, "pd_pixels_resize: in or out is NULL, or the same");
    *out = (pd_pixels){0};
    const int c = in->channels;
    if (!in->data || c < 1 || c > 4 ||
        pd_image_check_size("", "", (uint64_t)(in->width > 0 ? in->width : 0),
                            (uint64_t)(in->height > 0 ? in->height : 0), NULL) != PD_OK)
        return pd_fail(err, PD_E_ARG, "pd_pixels_resize: the input, %d × %d pixels of %d "
                       "channels, is not an image (at most %d a side, %d in all)", in->width,
                       in->height, c, PD_IMAGEFILE_MAX_SIDE, PD_IMAGEFILE_MAX_PIXELS);
    if (pd_image_check_size("", "", (uint64_t)(width > 0 ? width : 0),
                            (uint64_t)(height > 0 ? height : 0), NULL) != PD_OK)
        return pd_fail(err, PD_E_ARG, "pd_pixels_resize: %d × %d pixels asked for; at least 1 "
                       "and at most %d a side, %d in all", width, height,
                       PD_IMAGEFILE_MAX_SIDE, PD_IMAGEFILE_MAX_PIXELS);

    const int iw = in->width, ih = in->height;
    /* Rows first, the intermediate is ih × width; columns first, height ×
     * iw. Their product is the input's pixels times the output's, at most
     * 2^52, so the smaller is at most 2^26: within the pixel limit, and
     * times 4 channels of 4-byte floats still far from overflowing size_t. */
    const bool rows_first = (uint64_t)ih * (uint64_t)width <= (uint64_t)height * (uint64_t)iw;
    const size_t mid_pixels = rows_first ? (size_t)ih * (size_t)width
                                         : (size_t)height * (size_t)iw;
    float *mid = malloc(mid_pixels * (size_t)c * sizeof *mid);
    uint8_t *dst = pd_image_alloc(width, height, c);
    axis ax = {0}, ay = {0};
    if (!mid || !dst || !axis_init(&ax, iw, width) || !axis_init(&ay, ih, height)) {
        free(mid);
        free(dst);
        axis_free(&ax);
        axis_free(&ay);
        return pd_fail(err, PD_E_NOMEM, "pd_pixels_resize: out of memory resizing %d × %d "
                       "to %d × %d", iw, ih, width, height);
    }

    const size_t in_row = (size_t)iw * (size_t)c, out_row = (size_t)width * (size_t)c;
    if (rows_first) { /* mid: ih rows of width pixels */
        pass_u8(in->data, in_row, (size_t)c, mid, out_row, (size_t)c, ih, c, &ax, width);
        pass_f(mid, (size_t)c, out_row, dst, (size_t)c, out_row, width, c, &ay, height);
    } else { /* mid: height rows of iw pixels, made column by column */
        pass_u8(in->data, (size_t)c, in_row, mid, (size_t)c, in_row, iw, c, &ay, height);
        pass_f(mid, in_row, (size_t)c, dst, out_row, (size_t)c, height, c, &ax, width);
    }
    free(mid);
    axis_free(&ax);
    axis_free(&ay);
    *out = (pd_pixels){.width = width, .height = height, .channels = c, .data = dst};
    pd_error_clear(err);
    return PD_OK;
}

void pd_pixels_free(pd_pixels *p)
{
    if (p) {
        free(p->data);
        *p = (pd_pixels){0};
    }
}
