/* hostile_images.c — malformed image files and unusable paths for
 * cli/imagefile.h, one table row each.
 *
 * A reading row builds a file's bytes from valid PNGs and JPEGs (made with
 * libpng and libjpeg directly, tests/unit/imagegen.h) and runs them twice:
 * through pd_image_decode (from an exactly sized heap copy, so a sanitizer
 * sees any read past the end) and through pd_image_read on a temporary
 * file. Both must return the row's status, and the message must start with
 * the label or path and contain every '|'-separated piece of `expect`.
 * Other rows read a folder or a missing file, or write where nothing can
 * be written. Prints one line per row and "N passed, M failed".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <zlib.h>

#include "cli/imagefile.h"
#include "hostile.h"
#include "imagegen.h"

typedef enum {
    BYTES,         /* read gen's bytes                               */
    FOLDER,        /* read a folder                                  */
    MISSING,       /* read a file that does not exist                */
    WRITE,         /* write a small image to `target` (in the folder) */
    WRITE_RO,      /* write into a folder of mode 0555 (not as root) */
} row_kind;

typedef struct row {
    const char *what;
    void (*gen)(GByteArray *b);
    row_kind kind;
    const char *target;    /* WRITE: path; "%s" is the temporary folder */
    pd_status want;
    const char *expect;    /* '|'-separated pieces of the message       */
} row;

/* Valid files the rows start from, made once. */
static GByteArray *png_rgb, *png_interlaced, *jpeg_rgb, *jpeg_progressive, *jpeg_cmyk,
    *jpeg_ycck;

/* ---- PNG surgery ---- */

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* Offset of the first chunk of `type`; the file must have one. */
static size_t chunk(const GByteArray *b, const char *type)
{
    for (size_t at = 8; at + 12 <= b->len; at += 12 + get32(b->data + at))
        if (!memcmp(b->data + at + 4, type, 4))
            return at;
    g_error("no %s chunk", type);
}

/* Recomputes the CRC of the chunk at `at`, after an edit. */
static void fix_crc(GByteArray *b, size_t at)
{
    uint32_t n = get32(b->data + at);
    put32(b->data + at + 8 + n, (uint32_t)crc32(0, b->data + at + 4, 4 + n));
}

static void append(GByteArray *b, const GByteArray *from)
{
    g_byte_array_append(b, from->data, from->len);
}

static void set_ihdr(GByteArray *b, uint32_t w, uint32_t h)
{
    append(b, png_rgb);
    put32(b->data + 16, w);
    put32(b->data + 20, h);
    fix_crc(b, 8);
}

static void add_chunk(GByteArray *b, const char *type, const void *data, uint32_t n)
{
    uint8_t head[8];
    put32(head, n);
    memcpy(head + 4, type, 4);
    size_t at = b->len;
    g_byte_array_append(b, head, 8);
    g_byte_array_append(b, data, n);
    g_byte_array_append(b, (const guint8[4]){0}, 4);
    fix_crc(b, at);
}

static void g_empty(GByteArray *b) { (void)b; }
static void g_garbage(GByteArray *b)
{
    g_byte_array_append(b, (const guint8 *)"this is not an image\n", 21);
}
static void g_gif(GByteArray *b) { g_byte_array_append(b, (const guint8 *)"GIF89a\1\0\1\0", 10); }
static void g_png_sig(GByteArray *b) { g_byte_array_append(b, png_rgb->data, 8); }
static void g_png_trunc_ihdr(GByteArray *b) { g_byte_array_append(b, png_rgb->data, 8 + 8 + 5); }
static void g_png_ihdr_crc(GByteArray *b)
{
    append(b, png_rgb);
    b->data[8 + 8 + 13 + 3] ^= 0x55;
}
static void g_png_ihdr_length(GByteArray *b)
{
    append(b, png_rgb);
    put32(b->data + 8, 14);
}
static void g_png_w0(GByteArray *b) { set_ihdr(b, 0, 12); }
static void g_png_h0(GByteArray *b) { set_ihdr(b, 16, 0); }
static void g_png_w31(GByteArray *b) { set_ihdr(b, 0x7FFFFFFF, 12); }
static void g_png_w32(GByteArray *b) { set_ihdr(b, 0x80000000u, 12); }
static void g_png_100k(GByteArray *b) { set_ihdr(b, 100000, 100000); }
static void g_png_side(GByteArray *b) { set_ihdr(b, 32769, 1); }
static void g_png_area(GByteArray *b) { set_ihdr(b, 32768, 32768); }
/* Within the limits but more rows than the data holds: 180 MiB allocated
 * (lazily: fresh zero pages) and refused at the first missing row. */
static void g_png_tall(GByteArray *b) { set_ihdr(b, 32768, 2048); }
static void g_png_bad_depth(GByteArray *b)
{
    append(b, png_rgb);
    b->data[24] = 7;
    fix_crc(b, 8);
}
static void g_png_no_plte(GByteArray *b)
{
    append(b, png_rgb);
    b->data[25] = PNG_COLOR_TYPE_PALETTE;
    fix_crc(b, 8);
}
static void g_png_idat_half(GByteArray *b)
{
    append(b, png_rgb);
    size_t at = chunk(b, "IDAT");
    g_byte_array_set_size(b, (guint)(at + 8 + get32(b->data + at) / 2));
}
static void g_png_idat_crc(GByteArray *b)
{
    append(b, png_rgb);
    size_t at = chunk(b, "IDAT");
    b->data[at + 8 + get32(b->data + at)] ^= 0x10;
}
/* libpng inflates as it reads, so the damage shows before the CRC. */
static void g_png_idat_damaged(GByteArray *b)
{
    append(b, png_rgb);
    b->data[chunk(b, "IDAT") + 8 + 5] ^= 0x10;
}
static void g_png_zlib(GByteArray *b)
{
    append(b, png_rgb);
    size_t at = chunk(b, "IDAT");
    b->data[at + 8] = 0x00; /* not a deflate stream header */
    fix_crc(b, at);
}
static void g_png_no_iend(GByteArray *b)
{
    append(b, png_rgb);
    g_byte_array_set_size(b, b->len - 12);
}
static void g_png_trailing(GByteArray *b)
{
    append(b, png_rgb);
    g_byte_array_append(b, (const guint8 *)"trailing garbage\xff\xd8", 18);
}
/* A text chunk claiming 2^31 − 1 bytes: skipped unread, so the end of the
 * file comes first; never a 2 GiB allocation. */
static void g_png_big_chunk(GByteArray *b)
{
    g_byte_array_append(b, png_rgb->data, 8 + 25);
    g_byte_array_append(b, (const guint8 *)"\x7f\xff\xff\xfftEXtparameters\0x", 20);
}
static void g_png_private_chunks(GByteArray *b)
{
    g_byte_array_append(b, png_rgb->data, 8 + 25);
    for (int i = 0; i < 10000; i++)
        add_chunk(b, "prVt", "x", 1);
    g_byte_array_append(b, png_rgb->data + 8 + 25, png_rgb->len - 8 - 25);
}
static void g_png_interlaced_half(GByteArray *b)
{
    append(b, png_interlaced);
    size_t at = chunk(b, "IDAT");
    g_byte_array_set_size(b, (guint)(at + 8 + get32(b->data + at) / 2));
}

/* ---- JPEG surgery ---- */

/* Offset of the first marker `code` (FF code) before the scan data. */
static size_t marker(const GByteArray *b, uint8_t code)
{
    for (size_t at = 2; at + 4 <= b->len; at += 2 + (size_t)(b->data[at + 2] << 8 | b->data[at + 3]))
        if (b->data[at] == 0xFF && b->data[at + 1] == code)
            return at;
    g_error("no marker %02x", code);
}

static void set_sof(GByteArray *b, unsigned w, unsigned h)
{
    append(b, jpeg_rgb);
    size_t at = marker(b, 0xC0);
    b->data[at + 5] = (uint8_t)(h >> 8), b->data[at + 6] = (uint8_t)h;
    b->data[at + 7] = (uint8_t)(w >> 8), b->data[at + 8] = (uint8_t)w;
}

static void g_jpeg_soi(GByteArray *b) { g_byte_array_append(b, (const guint8 *)"\xff\xd8", 2); }
static void g_jpeg_soi_eoi(GByteArray *b)
{
    g_byte_array_append(b, (const guint8 *)"\xff\xd8\xff\xd9", 4);
}
static void g_jpeg_half(GByteArray *b) { g_byte_array_append(b, jpeg_rgb->data, jpeg_rgb->len / 2); }
static void g_jpeg_header_only(GByteArray *b)
{
    g_byte_array_append(b, jpeg_rgb->data, marker(jpeg_rgb, 0xDA) + 14);
}
static void g_jpeg_no_eoi(GByteArray *b)
{
    g_byte_array_append(b, jpeg_rgb->data, jpeg_rgb->len - 2);
}
static void g_jpeg_trailing(GByteArray *b)
{
    append(b, jpeg_rgb);
    g_byte_array_append(b, (const guint8 *)"trailing garbage\x89PNG", 20);
}
static void g_jpeg_65535(GByteArray *b) { set_sof(b, 65535, 65535); }
static void g_jpeg_area(GByteArray *b) { set_sof(b, 30000, 30000); }
static void g_jpeg_h0(GByteArray *b) { set_sof(b, 32, 0); }
/* The same frame header with 12-bit samples, or as lossless (SOF3). */
static void g_jpeg_12bit(GByteArray *b)
{
    append(b, jpeg_rgb);
    b->data[marker(b, 0xC0) + 4] = 12;
}
static void g_jpeg_lossless(GByteArray *b)
{
    append(b, jpeg_rgb);
    b->data[marker(b, 0xC0) + 1] = 0xC3;
}
static void g_jpeg_cmyk(GByteArray *b) { append(b, jpeg_cmyk); }
static void g_jpeg_ycck(GByteArray *b) { append(b, jpeg_ycck); }
static void g_jpeg_prog_half(GByteArray *b)
{
    g_byte_array_append(b, jpeg_progressive->data, jpeg_progressive->len / 2);
}
/* The last scan (an AC refinement) repeated 600 times: libjpeg only warns
 * of the bogus progression; the scan limit stops it. */
static void g_jpeg_scans(GByteArray *b)
{
    const GByteArray *p = jpeg_progressive;
    size_t last = 0;
    for (size_t i = 0; i + 1 < p->len; i++)
        if (p->data[i] == 0xFF && p->data[i + 1] == 0xDA)
            last = i;
    g_byte_array_append(b, p->data, (guint)last);
    for (int k = 0; k < 600; k++)
        g_byte_array_append(b, p->data + last, (guint)(p->len - 2 - last));
    g_byte_array_append(b, (const guint8 *)"\xff\xd9", 2);
}
/* A DQT marker whose length runs past the end of the file. */
static void g_jpeg_long_marker(GByteArray *b)
{
    g_byte_array_append(b, jpeg_rgb->data, 2);
    g_byte_array_append(b, (const guint8 *)"\xff\xdb\xff\xff\x00\x01\x02", 7);
}

#define F PD_E_FORMAT
#define U PD_E_UNSUPPORTED

static const row rows[] = {
    /* not images */
    {"0-byte file", g_empty, .want = F, .expect = "empty (0 bytes)"},
    {"garbage", g_garbage, .want = F, .expect = "not a PNG or JPEG file"},
    {"a GIF", g_gif, .want = U, .expect = "GIF image|convert it"},
    {"a folder", .kind = FOLDER, .want = PD_E_IO, .expect = "is a folder"},
    {"a missing file", .kind = MISSING, .want = PD_E_IO, .expect = "cannot open|check the path"},

    /* PNG header */
    {"PNG signature only", g_png_sig, .want = F, .expect = "truncated PNG"},
    {"PNG cut inside IHDR", g_png_trunc_ihdr, .want = F, .expect = "truncated PNG"},
    {"PNG IHDR with a bad CRC", g_png_ihdr_crc, .want = F, .expect = "corrupt PNG|CRC"},
    {"PNG IHDR of length 14", g_png_ihdr_length, .want = F, .expect = "corrupt PNG"},
    {"PNG width 0", g_png_w0, .want = F, .expect = "0 × 12 pixels|corrupt"},
    {"PNG height 0", g_png_h0, .want = F, .expect = "16 × 0 pixels"},
    {"PNG width 2^31-1", g_png_w31, .want = U, .expect = "2147483647 × 12|scale it down"},
    {"PNG width 2^31", g_png_w32, .want = U, .expect = "2147483648 × 12"},
    {"PNG 100000 × 100000", g_png_100k, .want = U, .expect = "100000 × 100000|32768 a side"},
    {"PNG 32769 × 1", g_png_side, .want = U, .expect = "32769 × 1"},
    {"PNG 32768 × 32768 (sides fine, area not)", g_png_area, .want = U,
     .expect = "32768 × 32768|67108864 in all"},
    {"PNG bit depth 7", g_png_bad_depth, .want = F, .expect = "corrupt PNG"},
    {"PNG palette type without PLTE", g_png_no_plte, .want = F, .expect = "corrupt PNG"},

    /* PNG data */
    {"PNG cut halfway through IDAT", g_png_idat_half, .want = F, .expect = "truncated PNG"},
    {"PNG interlaced, cut halfway through IDAT", g_png_interlaced_half, .want = F,
     .expect = "truncated PNG"},
    {"PNG IDAT with a bad CRC", g_png_idat_crc, .want = F, .expect = "corrupt PNG|IDAT: CRC"},
    {"PNG IDAT with a damaged byte", g_png_idat_damaged, .want = F, .expect = "corrupt PNG"},
    {"PNG IDAT not zlib", g_png_zlib, .want = F, .expect = "corrupt PNG"},
    {"PNG 32768 × 2048 with the data of 16 × 12", g_png_tall, .want = F,
     .expect = "corrupt PNG"},
    {"PNG without IEND", g_png_no_iend, .want = F, .expect = "truncated PNG"},
    {"PNG tEXt chunk claiming 2^31-1 bytes", g_png_big_chunk, .want = F,
     .expect = "truncated PNG"},
    {"valid: PNG with trailing garbage", g_png_trailing, .want = PD_OK},
    {"valid: PNG with 10000 private chunks", g_png_private_chunks, .want = PD_OK},

    /* JPEG */
    {"JPEG SOI only", g_jpeg_soi, .want = F, .expect = "truncated JPEG"},
    {"JPEG SOI, EOI", g_jpeg_soi_eoi, .want = F, .expect = "corrupt JPEG"},
    {"JPEG cut after the scan header", g_jpeg_header_only, .want = F,
     .expect = "truncated JPEG"},
    {"JPEG cut halfway", g_jpeg_half, .want = F, .expect = "truncated JPEG|download it again"},
    {"JPEG without EOI", g_jpeg_no_eoi, .want = F, .expect = "truncated JPEG"},
    {"progressive JPEG cut halfway", g_jpeg_prog_half, .want = F, .expect = "truncated JPEG"},
    {"JPEG marker longer than the file", g_jpeg_long_marker, .want = F,
     .expect = "truncated JPEG"},
    {"JPEG 65535 × 65535", g_jpeg_65535, .want = U, .expect = "65535 × 65535|scale it down"},
    {"JPEG 30000 × 30000", g_jpeg_area, .want = U, .expect = "30000 × 30000"},
    {"JPEG height 0", g_jpeg_h0, .want = F, .expect = "corrupt JPEG"},
    {"JPEG of 12-bit samples", g_jpeg_12bit, .want = U, .expect = "precision 12|8-bit JPEG"},
    {"lossless JPEG (SOF3)", g_jpeg_lossless, .want = U, .expect = "SOF type 0xc3"},
    {"CMYK JPEG", g_jpeg_cmyk, .want = U, .expect = "CMYK|convert it to RGB"},
    {"YCCK JPEG", g_jpeg_ycck, .want = U, .expect = "CMYK"},
    {"progressive JPEG of 600 scans", g_jpeg_scans, .want = U, .expect = "500 scans"},
    {"valid: JPEG with trailing garbage", g_jpeg_trailing, .want = PD_OK},

    /* writing */
    {"write into a missing folder", .kind = WRITE, .target = "%s/no-such-folder/out.png",
     .want = PD_E_IO, .expect = "cannot create a file|folder exists and is writable"},
    {"write below a regular file", .kind = WRITE, .target = "%s/file.bin/out.jpg",
     .want = PD_E_IO, .expect = "cannot create a file"},
    {"write into an unwritable folder (/sys, even for root)", .kind = WRITE,
     .target = "/sys/paldiff-hostile.png", .want = PD_E_IO, .expect = "cannot create a file"},
    {"write into a folder of mode 0555", .kind = WRITE_RO, .target = "%s/ro/out.png",
     .want = PD_E_IO, .expect = "cannot create a file"},
    {"write over a folder", .kind = WRITE, .target = "%s/folder.png", .want = PD_E_IO,
     .expect = "cannot replace it"},
    {"write with an unknown extension", .kind = WRITE, .target = "%s/out.webp",
     .want = PD_E_ARG, .expect = "name the file .png or .jpg"},
    {"write with no extension", .kind = WRITE, .target = "%s/out", .want = PD_E_ARG,
     .expect = "unknown image type"},
};

/* Reads every pixel of a success, so a sanitizer sees a short buffer. */
static volatile unsigned sink;

static const char *check_pixels(const pd_pixels *p, pd_status got)
{
    if (got != PD_OK)
        return p->data || p->width || p->height ? "a refusal returned pixels" : NULL;
    if (!p->data || p->width < 1 || p->height < 1 || p->channels != 3)
        return "an accepted image is empty";
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)p->width * p->height * 3; i++)
        sum += p->data[i];
    sink += sum;
    return NULL;
}

static const char *run_bytes(const row *r, const char *dir, const char *label, pd_error *err)
{
    GByteArray *b = g_byte_array_new();
    r->gen(b);
    /* An exactly sized copy: a read past the end is a sanitizer report. */
    uint8_t *copy = g_malloc(b->len ? b->len : 1);
    if (b->len)
        memcpy(copy, b->data, b->len);
    pd_pixels px;
    pd_error err1 = {0};
    pd_status got = pd_image_decode(copy, b->len, label, 3, &px, &err1);
    const char *bad = hostile_verdict(r->want, r->expect, label, got, &err1);
    const char *bad_px = check_pixels(&px, got);
    bad = bad ? bad : bad_px;
    pd_pixels_free(&px);
    g_free(copy);

    char *path = g_build_filename(dir, "hostile.img", NULL);
    if (!gen_write_file(path, b)) {
        bad = "cannot write the temporary file";
    } else {
        got = pd_image_read(path, 3, &px, err);
        const char *bad2 = hostile_verdict(r->want, r->expect, path, got, err);
        bad_px = check_pixels(&px, got);
        bad = bad ? bad : bad2 ? bad2 : bad_px;
        if (!bad && got != PD_OK &&
            strcmp(err1.message + strlen(label), err->message + strlen(path)) != 0)
            bad = "pd_image_read and pd_image_decode disagree";
        pd_pixels_free(&px);
        g_unlink(path);
    }
    g_free(path);
    g_byte_array_free(b, TRUE);
    return bad;
}

static const char *run_write(const row *r, const char *dir, pd_error *err)
{
    uint8_t rgb[4 * 3 * 3] = {0};
    pd_pixels img = {4, 3, 3, rgb};
    char *file = g_build_filename(dir, "file.bin", NULL);
    char *folder = g_build_filename(dir, "folder.png", NULL);
    char *ro = g_build_filename(dir, "ro", NULL);
    g_file_set_contents(file, "x", 1, NULL);
    g_mkdir(folder, 0755);
    g_mkdir(ro, 0555);
    char *target = strstr(r->target, "%s") ? g_strdup_printf(r->target, dir) : g_strdup(r->target);

    pd_status got = pd_image_write(target, &img, "p", err);
    const char *bad = hostile_verdict(r->want, r->expect, target, got, err);
    /* Nothing left behind: only the three things made above. */
    int entries = 0;
    GDir *d = g_dir_open(dir, 0, NULL);
    while (d && g_dir_read_name(d))
        entries++;
    if (d)
        g_dir_close(d);
    if (!bad && entries != 3)
        bad = "the failed write left a file behind";

    g_free(target);
    g_unlink(file);
    g_rmdir(folder);
    g_rmdir(ro);
    g_free(file);
    g_free(folder);
    g_free(ro);
    return bad;
}

static GByteArray *make_png(bool interlace)
{
    uint8_t px[16 * 12 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 5 + i / 48);
    gen_png g = {.width = 16, .height = 12, .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8,
                 .interlace = interlace, .rows = px};
    return gen_png_bytes(&g);
}

static GByteArray *make_jpeg(int components, J_COLOR_SPACE in, J_COLOR_SPACE space, bool prog)
{
    uint8_t px[32 * 24 * 4];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 3 + i / 96);
    gen_jpeg g = {.width = 32, .height = 24, .components = components, .in_space = in,
                  .jpeg_space = space, .progressive = prog, .pixels = px};
    return gen_jpeg_bytes(&g);
}

int main(void)
{
    char *dir = g_dir_make_tmp("paldiff-hostile-XXXXXX", NULL);
    png_rgb = make_png(false);
    png_interlaced = make_png(true);
    jpeg_rgb = make_jpeg(3, JCS_RGB, JCS_UNKNOWN, false);
    jpeg_progressive = make_jpeg(3, JCS_RGB, JCS_UNKNOWN, true);
    jpeg_cmyk = make_jpeg(4, JCS_CMYK, JCS_UNKNOWN, false);
    jpeg_ycck = make_jpeg(4, JCS_CMYK, JCS_YCCK, false);
    if (!dir || !png_rgb || !png_interlaced || !jpeg_rgb || !jpeg_progressive || !jpeg_cmyk ||
        !jpeg_ycck) {
        fprintf(stderr, "cannot make the temporary folder or the valid images\n");
        return 1;
    }
    hostile_tally tally = {0};
    size_t nrows = sizeof rows / sizeof rows[0];

    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        char label[32];
        snprintf(label, sizeof label, "row %zu", i + 1);
        pd_error err = {0};
        const char *bad = NULL;
        pd_pixels px;
        pd_status got;

        switch (r->kind) {
        case BYTES:
            bad = run_bytes(r, dir, label, &err);
            break;
        case FOLDER:
            got = pd_image_read(dir, 3, &px, &err);
            bad = hostile_verdict(r->want, r->expect, dir, got, &err);
            bad = bad ? bad : check_pixels(&px, err.status);
            break;
        case MISSING: {
            char *path = g_build_filename(dir, "no-such-file.png", NULL);
            got = pd_image_read(path, 3, &px, &err);
            bad = hostile_verdict(r->want, r->expect, path, got, &err);
            bad = bad ? bad : check_pixels(&px, err.status);
            g_free(path);
            break;
        }
        case WRITE_RO:
            if (geteuid() == 0) { /* permission bits do not stop root */
                printf("skip %2zu %s: running as root\n", i + 1, r->what);
                tally.skipped++;
                continue;
            }
            /* fall through */
        case WRITE:
            bad = run_write(r, dir, &err);
            break;
        }

        hostile_report(&tally, i + 1, r->what, r->want, err.message, 200, bad);
    }
    g_rmdir(dir);
    g_free(dir);
    g_byte_array_free(png_rgb, TRUE);
    g_byte_array_free(png_interlaced, TRUE);
    g_byte_array_free(jpeg_rgb, TRUE);
    g_byte_array_free(jpeg_progressive, TRUE);
    g_byte_array_free(jpeg_cmyk, TRUE);
    g_byte_array_free(jpeg_ycck, TRUE);
    return hostile_summary(&tally, "hostile-images");
}
