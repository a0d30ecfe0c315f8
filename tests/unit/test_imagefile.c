/* test_imagefile.c — cli/imagefile.h: PNG and JPEG round trips, every PNG
 * colour type and depth libpng must convert (made here with libpng
 * directly), the "parameters" text read back with libpng and libjpeg, the
 * atomic write, and pd_pixels_resize against values worked out by hand
 * (they are also PIL's BILINEAR results). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "check.h"
#include "cli/imagefile.h"
#include "imagegen.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static pd_pixels make(int w, int h, int c)
{
    pd_pixels p = {w, h, c, malloc((size_t)w * h * c)};
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        p.data[i] = (uint8_t)(i * 7 + i / 5);
    return p;
}

static bool same(const pd_pixels *a, const pd_pixels *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           !memcmp(a->data, b->data, (size_t)a->width * a->height * a->channels);
}

/* Reads a PNG made by gen_png from a file as `channels`. */
static pd_status read_gen(const gen_png *g, int channels, pd_pixels *out, pd_error *err)
{
    GByteArray *b = gen_png_bytes(g);
    CHECK(b != NULL);
    if (!b)
        return PD_E_ARG;
    char *path = tmp_path("gen.png");
    CHECK(gen_write_file(path, b));
    pd_status st = pd_image_read(path, channels, out, err);
    g_free(path);
    g_byte_array_free(b, TRUE);
    return st;
}

static void test_png_round_trip(void)
{
    pd_error err;
    for (int c = 1; c <= 3; c += 2) {
        pd_pixels img = make(37, 23, c), back;
        char *path = tmp_path(c == 1 ? "gray.png" : "rgb.PNG");
        CHECK_MSG(pd_image_write(path, &img, "a fox", &err) == PD_OK, "%s", err.message);
        CHECK_MSG(pd_image_read(path, c, &back, &err) == PD_OK, "%s", err.message);
        CHECK(same(&img, &back));
        pd_pixels_free(&back);

        /* The other channel count: gray → RGB repeats, RGB → gray keeps gray. */
        CHECK(pd_image_read(path, 4 - c, &back, &err) == PD_OK);
        CHECK(back.width == 37 && back.height == 23 && back.channels == 4 - c);
        if (c == 1 && back.data)
            CHECK(back.data[3 * 5] == img.data[5] && back.data[3 * 5 + 1] == img.data[5] &&
                  back.data[3 * 5 + 2] == img.data[5]);
        pd_pixels_free(&back);
        pd_pixels_free(&img);
        g_free(path);
    }

    /* A gray RGB image reads as the same gray. */
    pd_pixels rgb = make(5, 4, 3), gray;
    for (int i = 0; i < 20; i++)
        rgb.data[3 * i + 1] = rgb.data[3 * i + 2] = rgb.data[3 * i];
    char *path = tmp_path("grayish.png");
    CHECK(pd_image_write(path, &rgb, NULL, &err) == PD_OK);
    CHECK(pd_image_read(path, 1, &gray, &err) == PD_OK);
    int off = 0;
    for (int i = 0; gray.data && i < 20; i++)
        off += abs(gray.data[i] - rgb.data[3 * i]) > 1;
    CHECK_MSG(off == 0, "%d pixels changed", off);
    pd_pixels_free(&gray);
    pd_pixels_free(&rgb);
    g_free(path);
}

static void test_png_kinds(void)
{
    pd_error err;
    pd_pixels px;

    /* 16-bit gray: rounded, not truncated (0x00FF → 1, where the high byte is 0). */
    static const uint16_t v16[8] = {0, 0x00FF, 0x0080, 0x7F7F, 0x8080, 0x80FF, 0xFF7F, 0xFFFF};
    uint8_t rows16[2 * 8];
    for (int i = 0; i < 8; i++)
        rows16[2 * i] = (uint8_t)(v16[i] >> 8), rows16[2 * i + 1] = (uint8_t)v16[i];
    gen_png g16 = {.width = 4, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 16,
                   .rows = rows16};
    CHECK_MSG(read_gen(&g16, 1, &px, &err) == PD_OK, "%s", err.message);
    for (int i = 0; px.data && i < 8; i++)
        CHECK_MSG(px.data[i] == (v16[i] + 128) / 257, "16-bit %04x → %d", v16[i], px.data[i]);
    pd_pixels_free(&px);

    /* 16-bit RGBA: alpha dropped, colour kept. */
    uint8_t rgba16[3 * 8];
    for (int i = 0; i < 3 * 8; i++)
        rgba16[i] = (uint8_t)(i * 11);
    gen_png g16a = {.width = 3, .height = 1, .color_type = PNG_COLOR_TYPE_RGB_ALPHA,
                    .bit_depth = 16, .rows = rgba16};
    CHECK(read_gen(&g16a, 3, &px, &err) == PD_OK);
    for (int x = 0; px.data && x < 3; x++)
        for (int ch = 0; ch < 3; ch++) {
            unsigned v = (unsigned)rgba16[8 * x + 2 * ch] << 8 | rgba16[8 * x + 2 * ch + 1];
            CHECK(px.data[3 * x + ch] == (v + 128) / 257);
        }
    pd_pixels_free(&px);

    /* 2-bit palette with tRNS: the palette's colours, alpha dropped. */
    static const uint8_t pal[4 * 3] = {10, 20, 30, 200, 100, 0, 0, 0, 0, 255, 255, 255};
    static const uint8_t trns[2] = {0, 128};
    static const uint8_t idx[2] = {0x1B, 0xE4}; /* 0 1 2 3 / 3 2 1 0 */
    gen_png gp = {.width = 4, .height = 2, .color_type = PNG_COLOR_TYPE_PALETTE, .bit_depth = 2,
                  .rows = idx, .palette = pal, .palette_len = 4, .trns = trns, .trns_len = 2};
    CHECK_MSG(read_gen(&gp, 3, &px, &err) == PD_OK, "%s", err.message);
    static const int want_idx[8] = {0, 1, 2, 3, 3, 2, 1, 0};
    for (int i = 0; px.data && i < 8; i++)
        CHECK_MSG(!memcmp(px.data + 3 * i, pal + 3 * want_idx[i], 3), "palette pixel %d", i);
    pd_pixels_free(&px);
    CHECK(read_gen(&gp, 1, &px, &err) == PD_OK && px.channels == 1);
    if (px.data)
        CHECK(px.data[2] == 0 && px.data[3] == 255); /* black and white stay so */
    pd_pixels_free(&px);

    /* 8-bit gray + alpha, read as gray and as RGB. */
    static const uint8_t ga[2 * 3] = {0, 255, 90, 0, 255, 17};
    gen_png gga = {.width = 3, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA,
                   .bit_depth = 8, .rows = ga};
    CHECK(read_gen(&gga, 1, &px, &err) == PD_OK);
    if (px.data)
        CHECK(px.data[0] == 0 && px.data[1] == 90 && px.data[2] == 255);
    pd_pixels_free(&px);
    CHECK(read_gen(&gga, 3, &px, &err) == PD_OK);
    if (px.data)
        CHECK(px.data[3] == 90 && px.data[4] == 90 && px.data[5] == 90 && px.data[8] == 255);
    pd_pixels_free(&px);

    /* 1-bit gray: 0 and 1 become 0 and 255. */
    static const uint8_t bits[2] = {0xA0, 0x40}; /* 1 0 1 / 0 1 0 */
    gen_png g1 = {.width = 3, .height = 2, .color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 1,
                  .rows = bits};
    CHECK(read_gen(&g1, 1, &px, &err) == PD_OK);
    static const uint8_t want1[6] = {255, 0, 255, 0, 255, 0};
    CHECK(px.data && !memcmp(px.data, want1, 6));
    pd_pixels_free(&px);

    /* Interlaced (Adam7) RGB and gray, sizes that leave some passes empty. */
    for (int c = 1; c <= 3; c += 2) {
        pd_pixels img = make(13, 11, c);
        gen_png gi = {.width = 13, .height = 11, .bit_depth = 8, .interlace = true,
                      .color_type = c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                      .rows = img.data};
        CHECK_MSG(read_gen(&gi, c, &px, &err) == PD_OK, "%s", err.message);
        CHECK_MSG(same(&img, &px), "interlaced, %d channels", c);
        pd_pixels_free(&px);
        pd_pixels_free(&img);
    }
    pd_pixels tiny = make(1, 1, 3);
    gen_png gt = {.width = 1, .height = 1, .bit_depth = 8, .interlace = true,
                  .color_type = PNG_COLOR_TYPE_RGB, .rows = tiny.data};
    CHECK(read_gen(&gt, 3, &px, &err) == PD_OK && same(&tiny, &px));
    pd_pixels_free(&px);
    pd_pixels_free(&tiny);
}

/* The text chunk of keyword `key`, as libpng reads it; *compression its kind. */
static char *png_text_of(const char *path, const char *key, int *compression)
{
    char *volatile found = NULL; /* set after the setjmp */
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        g_free(found);
        return NULL;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_textp text;
    int n = png_get_text(png, info, &text, NULL);
    for (int i = 0; i < n; i++)
        if (!strcmp(text[i].key, key)) {
            found = g_strdup(text[i].text);
            *compression = text[i].compression;
        }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    return found;
}

static void test_png_parameters(void)
{
    pd_error err;
    pd_pixels img = make(6, 5, 3);
    char *path = tmp_path("params.png");
    int kind = -99;

    const char *ascii = "a red fox in the snow, watercolor\n"
                        "Negative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 42";
    CHECK(pd_image_write(path, &img, ascii, &err) == PD_OK);
    char *got = png_text_of(path, "parameters", &kind);
    CHECK_MSG(got && !strcmp(got, ascii), "got \"%s\"", got ? got : "(none)");
    CHECK(kind == PNG_TEXT_COMPRESSION_NONE); /* tEXt */
    g_free(got);

    /* Not Latin-1-safe: iTXt, the same keyword, the UTF-8 bytes exact. */
    const char *utf8 = "un renard roux, \xc3\xa9t\xc3\xa9, \xe7\x8b\x90\xe7\x8b\xb8 \xf0\x9f\xa6\x8a";
    CHECK(pd_image_write(path, &img, utf8, &err) == PD_OK);
    got = png_text_of(path, "parameters", &kind);
    CHECK_MSG(got && !strcmp(got, utf8), "got \"%s\"", got ? got : "(none)");
    CHECK(kind == PNG_ITXT_COMPRESSION_NONE); /* iTXt */
    g_free(got);

    /* Not UTF-8 at all: the image is still written, the text mended. */
    CHECK(pd_image_write(path, &img, "bad \xff byte", &err) == PD_OK);
    got = png_text_of(path, "parameters", &kind);
    CHECK(got && g_utf8_validate(got, -1, NULL) && !strncmp(got, "bad ", 4));
    g_free(got);

    /* NULL: no chunk. */
    CHECK(pd_image_write(path, &img, NULL, &err) == PD_OK);
    got = png_text_of(path, "parameters", &kind);
    CHECK(got == NULL);
    g_free(got);
    g_free(path);
    pd_pixels_free(&img);
}

/* The first COM marker's bytes, as libjpeg reads them; *len their count. */
static GByteArray *jpeg_comment_of(const char *path)
{
    GByteArray *found = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr); /* exits on error: only valid files here */
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, fp);
    jpeg_save_markers(&cinfo, JPEG_COM, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m && !found; m = m->next)
        if (m->marker == JPEG_COM) {
            found = g_byte_array_new();
            g_byte_array_append(found, m->data, m->data_length);
        }
    jpeg_destroy_decompress(&cinfo);
    fclose(fp);
    return found;
}

static void test_jpeg(void)
{
    pd_error err;
    /* Smooth content, as photographs and generated images are; JPEG at
     * quality 95 keeps it within a few levels. */
    for (int c = 1; c <= 3; c += 2) {
        pd_pixels img = {61, 43, c, malloc(61 * 43 * c)}, back;
        for (int y = 0; y < 43; y++)
            for (int x = 0; x < 61; x++)
                for (int ch = 0; ch < c; ch++)
                    img.data[(y * 61 + x) * c + ch] =
                        (uint8_t)(128 + 100 * sin(x * 0.11 + ch) * cos(y * 0.07 - ch));
        char *path = tmp_path(c == 1 ? "gray.jpg" : "rgb.JPEG");
        CHECK_MSG(pd_image_write(path, &img, "Steps: 20", &err) == PD_OK, "%s", err.message);
        CHECK_MSG(pd_image_read(path, c, &back, &err) == PD_OK, "%s", err.message);
        CHECK(back.width == 61 && back.height == 43 && back.channels == c);
        double sum = 0;
        int worst = 0;
        for (size_t i = 0; back.data && i < (size_t)61 * 43 * c; i++) {
            int d = abs(back.data[i] - img.data[i]);
            sum += d;
            worst = d > worst ? d : worst;
        }
        double mean = sum / (61.0 * 43 * c);
        CHECK_MSG(mean < 1.5 && worst <= 12, "%d channels: mean error %.2f, worst %d", c, mean,
                  worst);
        pd_pixels_free(&back);

        GByteArray *com = jpeg_comment_of(path);
        CHECK(com && com->len == 9 && !memcmp(com->data, "Steps: 20", 9));
        if (com)
            g_byte_array_free(com, TRUE);
        pd_pixels_free(&img);
        g_free(path);
    }

    /* A comment longer than a marker holds: cut to 65533 bytes, and before a
     * UTF-8 character rather than through it (é straddles byte 65533). */
    GString *big = g_string_new(NULL);
    while (big->len < 65532)
        g_string_append_c(big, 'a');
    g_string_append(big, "\xc3\xa9");
    g_string_append(big, " and more");
    pd_pixels img = make(8, 8, 3);
    char *path = tmp_path("long.jpg");
    CHECK(pd_image_write(path, &img, big->str, &err) == PD_OK);
    GByteArray *com = jpeg_comment_of(path);
    CHECK_MSG(com && com->len == 65532 && !memcmp(com->data, big->str, 65532), "COM of %u",
              com ? com->len : 0);
    if (com)
        g_byte_array_free(com, TRUE);
    g_string_truncate(big, 65533); /* all ASCII: exactly the limit */
    memset(big->str, 'b', 65533);
    CHECK(pd_image_write(path, &img, big->str, &err) == PD_OK);
    com = jpeg_comment_of(path);
    CHECK(com && com->len == 65533);
    if (com)
        g_byte_array_free(com, TRUE);
    g_string_free(big, TRUE);
    pd_pixels_free(&img);
    g_free(path);

    /* Progressive, arithmetic-coded and restart-marked JPEGs decode too. */
    pd_pixels src = make(24, 17, 3);
    gen_jpeg kinds[] = {
        {24, 17, 3, JCS_RGB, JCS_UNKNOWN, 95, .progressive = true, .pixels = src.data},
        {24, 17, 3, JCS_RGB, JCS_UNKNOWN, 95, .arith = true, .pixels = src.data},
        {24, 17, 3, JCS_RGB, JCS_UNKNOWN, 95, .restart_rows = 1, .pixels = src.data},
        {24, 17, 3, JCS_RGB, JCS_RGB, 95, .pixels = src.data}, /* RGB, not YCbCr, inside */
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        GByteArray *b = gen_jpeg_bytes(&kinds[k]);
        pd_pixels back;
        CHECK(b && pd_image_decode(b->data, b->len, "kind", 3, &back, &err) == PD_OK);
        CHECK_MSG(back.width == 24 && back.height == 17, "kind %zu: %s", k, err.message);
        pd_pixels_free(&back);
        if (b)
            g_byte_array_free(b, TRUE);
    }
    pd_pixels_free(&src);
}

/* An EXIF APP1 payload holding one IFD0 entry: Orientation (0x0112, SHORT,
 * count 1) = v, in either byte order. */
static unsigned exif_block(uint8_t *b, bool little, unsigned v)
{
    static const unsigned fields[][2] = {
        {42, 2}, {8, 4},                              /* TIFF's 42, IFD0 right after      */
        {1, 2},                                       /* one entry:                       */
        {0x0112, 2}, {3, 2}, {1, 4}, {0, 2}, {0, 2},  /* Orientation, SHORT, 1, the value */
        {0, 4},                                       /* no next IFD                      */
    };
    memcpy(b, "Exif\0\0", 6);
    b[6] = b[7] = little ? 'I' : 'M';
    unsigned at = 8;
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        unsigned x = f == 6 ? v : fields[f][0], n = fields[f][1];
        for (unsigned i = 0; i < n; i++)
            b[at + i] = (uint8_t)(x >> (8 * (little ? i : n - 1 - i)));
        at += n;
    }
    return at;
}

/* The displayed image's corners (TL, TR, BL, BR) for each EXIF orientation of
 * a stored image whose quadrants are red, green / blue, white (EXIF 2.3). */
static void test_jpeg_orientation(void)
{
    enum { R, G, B, W };
    static const uint8_t colour[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    static const int corners[9][4] = {
        {0}, {R, G, B, W}, {G, R, W, B}, {W, B, G, R}, {B, W, R, G},
        {R, B, G, W}, {B, R, W, G}, {W, G, B, R}, {G, W, R, B},
    };
    const int w = 32, h = 16;
    pd_pixels src = make(w, h, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(src.data + (y * w + x) * 3, colour[(y >= h / 2) * 2 + (x >= w / 2)], 3);
    pd_error err;
    for (int v = 1; v <= 8; v++) {
        uint8_t exif[64];
        gen_jpeg j = {w, h, 3, JCS_RGB, JCS_UNKNOWN, 95, .pixels = src.data, .app1 = exif,
                      .app1_len = exif_block(exif, v % 2, (unsigned)v)};
        GByteArray *b = gen_jpeg_bytes(&j);
        pd_pixels back = {0};
        CHECK_MSG(b && pd_image_decode(b->data, b->len, "turned", 3, &back, &err) == PD_OK, "%s",
                  err.message);
        bool swap = v >= 5;
        CHECK_MSG(back.width == (swap ? h : w) && back.height == (swap ? w : h),
                  "orientation %d: %d × %d", v, back.width, back.height);
        for (int k = 0; k < 4 && back.data; k++) {
            int x = k % 2 ? back.width - 2 : 1, y = k / 2 ? back.height - 2 : 1;
            const uint8_t *p = back.data + ((size_t)y * back.width + x) * 3;
            const uint8_t *want = colour[corners[v][k]];
            CHECK_MSG(abs(p[0] - want[0]) < 40 && abs(p[1] - want[1]) < 40 && abs(p[2] - want[2]) < 40,
                      "orientation %d, corner %d: %d %d %d", v, k, p[0], p[1], p[2]);
        }
        pd_pixels_free(&back);
        if (b)
            g_byte_array_free(b, TRUE);
    }

    /* Broken EXIF blocks are "as stored": the pixels are fine. */
    uint8_t exif[64];
    unsigned n = exif_block(exif, true, 6);
    /* Byte offsets in the block: 6 byte order, 8 the 42, 10 IFD0's offset,
     * 14 the entry count, 16 the tag, 18 its type, 24 the value. */
    struct { unsigned at, at2; uint8_t byte, byte2; unsigned len; } broken[] = {
        {6, 0, 'X', 0, 0},        /* not II/MM                            */
        {8, 0, 41, 0, 0},         /* not TIFF's 42                        */
        {10, 0, 200, 0, 0},       /* IFD0 beyond the block                */
        {14, 16, 255, 0x13, 0},   /* 255 entries, none Orientation, in a block of one */
        {18, 0, 4, 0, 0},         /* the tag is a LONG, not a SHORT       */
        {24, 0, 9, 0, 0},         /* Orientation 9 does not exist         */
        {0, 0, 0, 0, 20},         /* cut inside the entry                 */
        {0, 0, 0, 0, 9},          /* cut inside the TIFF header           */
    };
    for (size_t k = 0; k < sizeof broken / sizeof broken[0]; k++) {
        uint8_t bad[64];
        memcpy(bad, exif, n);
        if (!broken[k].len) {
            bad[broken[k].at] = broken[k].byte;
            if (broken[k].at2)
                bad[broken[k].at2] = broken[k].byte2;
        }
        gen_jpeg j = {w, h, 3, JCS_RGB, JCS_UNKNOWN, 95, .pixels = src.data, .app1 = bad,
                      .app1_len = broken[k].len ? broken[k].len : n};
        GByteArray *b = gen_jpeg_bytes(&j);
        pd_pixels back = {0};
        CHECK(b && pd_image_decode(b->data, b->len, "broken", 3, &back, &err) == PD_OK);
        CHECK_MSG(back.width == w && back.height == h, "broken EXIF %zu: %d × %d", k, back.width,
                  back.height);
        pd_pixels_free(&back);
        if (b)
            g_byte_array_free(b, TRUE);
    }
    pd_pixels_free(&src);
}

static int count_leftovers(void)
{
    int n = 0;
    GDir *d = g_dir_open(tmpdir, 0, NULL);
    for (const char *name; d && (name = g_dir_read_name(d));)
        n += strstr(name, ".tmp-") != NULL;
    if (d)
        g_dir_close(d);
    return n;
}

static void test_write(void)
{
    pd_error err;
    pd_pixels img = make(4, 3, 3), back;
    char *path = tmp_path("over.png");

    /* Replacing a file: the new image, with the usual permissions. */
    CHECK(g_file_set_contents(path, "old", 3, NULL));
    mode_t old_umask = umask(022);
    CHECK(pd_image_write(path, &img, NULL, &err) == PD_OK);
    umask(old_umask);
    CHECK(pd_image_read(path, 3, &back, &err) == PD_OK && same(&img, &back));
    pd_pixels_free(&back);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);

    /* Refused before anything is created. */
    char *gif = tmp_path("x.gif");
    CHECK(pd_image_write(gif, &img, NULL, &err) == PD_E_ARG);
    CHECK(strstr(err.message, gif) == err.message && strstr(err.message, ".png"));
    CHECK(!g_file_test(gif, G_FILE_TEST_EXISTS));
    char *noext = tmp_path("png");
    CHECK(pd_image_write(noext, &img, NULL, &err) == PD_E_ARG);
    pd_pixels bad = img;
    bad.channels = 2;
    CHECK(pd_image_write(path, &bad, NULL, &err) == PD_E_ARG);
    bad = img;
    bad.width = 0;
    CHECK(pd_image_write(path, &bad, NULL, &err) == PD_E_ARG);
    CHECK(pd_image_read(path, 2, &back, &err) == PD_E_ARG && back.data == NULL);

    /* A failed write leaves the old file and no temporary one. */
    char *dir = tmp_path("a-folder.png");
    CHECK(g_mkdir(dir, 0755) == 0);
    CHECK(pd_image_write(dir, &img, NULL, &err) == PD_E_IO);
    CHECK(strstr(err.message, dir) == err.message);
    CHECK(g_file_test(dir, G_FILE_TEST_IS_DIR));
    CHECK_MSG(count_leftovers() == 0, "temporary files left behind");
    g_rmdir(dir);

    g_free(dir);
    g_free(noext);
    g_free(gif);
    g_free(path);
    pd_pixels_free(&img);
}

static pd_pixels constant(int w, int h, int c, const uint8_t *v)
{
    pd_pixels p = {w, h, c, malloc((size_t)w * h * c)};
    for (size_t i = 0; i < (size_t)w * h; i++)
        memcpy(p.data + i * c, v, c);
    return p;
}

static bool is_constant(const pd_pixels *p, const uint8_t *v)
{
    for (size_t i = 0; i < (size_t)p->width * p->height; i++)
        if (memcmp(p->data + i * p->channels, v, p->channels))
            return false;
    return true;
}

static void test_resize(void)
{
    pd_error err;
    pd_pixels out;

    /* Identity: exact. */
    pd_pixels img = make(37, 23, 3);
    CHECK(pd_pixels_resize(&img, 37, 23, &out, &err) == PD_OK && same(&img, &out));
    pd_pixels_free(&out);

    /* A constant image stays constant: halving, odd factors both ways,
     * down to 1 × 1 and up from it. */
    static const uint8_t rgb[3] = {0, 77, 255};
    static const int sizes[][4] = {{64, 48, 32, 24}, {37, 23, 11, 7}, {5, 3, 17, 13},
                                   {9, 7, 1, 1},     {1, 1, 5, 3},    {1, 1, 1, 1},
                                   {1000, 3, 7, 300}, {2, 2, 3, 3}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pd_pixels k = constant(sizes[i][0], sizes[i][1], 3, rgb);
        CHECK(pd_pixels_resize(&k, sizes[i][2], sizes[i][3], &out, &err) == PD_OK);
        CHECK_MSG(out.width == sizes[i][2] && out.height == sizes[i][3] && out.channels == 3 &&
                  is_constant(&out, rgb), "%d×%d → %d×%d", sizes[i][0], sizes[i][1],
                  sizes[i][2], sizes[i][3]);
        pd_pixels_free(&out);
        pd_pixels_free(&k);
    }

    /* Bilinear up, pixel centres aligned, edges clamped: [0 255] → [0 64 191 255]. */
    uint8_t two[2] = {0, 255};
    pd_pixels row = {2, 1, 1, two};
    CHECK(pd_pixels_resize(&row, 4, 1, &out, &err) == PD_OK);
    CHECK_MSG(out.data && out.data[0] == 0 && out.data[1] == 64 && out.data[2] == 191 &&
              out.data[3] == 255, "%d %d %d %d", out.data[0], out.data[1], out.data[2],
              out.data[3]);
    pd_pixels_free(&out);
    /* ... and the same down the other axis. */
    pd_pixels col = {1, 2, 1, two};
    CHECK(pd_pixels_resize(&col, 1, 4, &out, &err) == PD_OK && out.data[1] == 64);
    pd_pixels_free(&out);

    /* Shrinking widens the triangle to the scale: [0 100 200 255] → 2 pixels
     * weighs 3 inputs each (0.75, 0.75, 0.25 renormalised): 71 and 209. */
    uint8_t four[4] = {0, 100, 200, 255};
    pd_pixels r4 = {4, 1, 1, four};
    CHECK(pd_pixels_resize(&r4, 2, 1, &out, &err) == PD_OK);
    CHECK_MSG(out.data && out.data[0] == 71 && out.data[1] == 209, "%d %d", out.data[0],
              out.data[1]);
    pd_pixels_free(&out);
    /* To one pixel: the mean, every pixel weighed alike by a triangle as
     * wide as the image ... nearly: (0·.625+100·.875+200·.875+255·.625)/3 */
    CHECK(pd_pixels_resize(&r4, 1, 1, &out, &err) == PD_OK);
    CHECK_MSG(out.data && out.data[0] == 141, "%d", out.data ? out.data[0] : -1);
    pd_pixels_free(&out);

    /* A checkerboard halved averages out (no aliasing): all near 127.5. */
    pd_pixels cb = {64, 64, 1, malloc(64 * 64)};
    for (int i = 0; i < 64 * 64; i++)
        cb.data[i] = ((i % 64) + (i / 64)) % 2 ? 255 : 0;
    CHECK(pd_pixels_resize(&cb, 32, 32, &out, &err) == PD_OK);
    int far = 0;
    for (int i = 0; out.data && i < 32 * 32; i++)
        far += abs(out.data[i] - 128) > 32;
    CHECK_MSG(far == 0, "%d pixels far from gray", far);
    pd_pixels_free(&out);
    pd_pixels_free(&cb);

    /* The two pass orders (rows first for A, columns first for its transpose
     * B: each takes the smaller intermediate) agree. */
    pd_pixels a = make(30, 10, 3), b = {10, 30, 3, malloc(30 * 10 * 3)}, oa, ob;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 30; x++)
            memcpy(b.data + (x * 10 + y) * 3, a.data + (y * 30 + x) * 3, 3);
    CHECK(pd_pixels_resize(&a, 7, 40, &oa, &err) == PD_OK);
    CHECK(pd_pixels_resize(&b, 40, 7, &ob, &err) == PD_OK);
    int differ = 0;
    for (int y = 0; oa.data && ob.data && y < 40; y++)
        for (int x = 0; x < 7; x++)
            for (int ch = 0; ch < 3; ch++)
                differ += abs(oa.data[(y * 7 + x) * 3 + ch] - ob.data[(x * 40 + y) * 3 + ch]) > 1;
    CHECK_MSG(differ == 0, "%d samples differ between the pass orders", differ);
    pd_pixels_free(&oa);
    pd_pixels_free(&ob);
    pd_pixels_free(&a);
    pd_pixels_free(&b);

    /* Refusals. */
    CHECK(pd_pixels_resize(&img, 0, 5, &out, &err) == PD_E_ARG && out.data == NULL);
    CHECK(pd_pixels_resize(&img, 5, -1, &out, &err) == PD_E_ARG);
    CHECK(pd_pixels_resize(&img, 40000, 4, &out, &err) == PD_E_ARG);
    CHECK(pd_pixels_resize(&img, 16384, 16384, &out, &err) == PD_E_ARG);
    CHECK(pd_pixels_resize(&img, 5, 5, &img, &err) == PD_E_ARG);
    pd_pixels none = {0};
    CHECK(pd_pixels_resize(&none, 5, 5, &out, &err) == PD_E_ARG);
    pd_pixels_free(&img);
    pd_pixels_free(&none);
    pd_pixels_free(NULL);
}

int main(void)
{
    tmpdir = g_dir_make_tmp("paldiff-imagefile-XXXXXX", NULL);
    if (!tmpdir) {
        fprintf(stderr, "cannot make a temporary folder\n");
        return 1;
    }
    test_png_round_trip();
    test_png_kinds();
    test_png_parameters();
    test_jpeg();
    test_jpeg_orientation();
    test_write();
    test_resize();

    GDir *d = g_dir_open(tmpdir, 0, NULL);
    for (const char *name; d && (name = g_dir_read_name(d));) {
        char *p = tmp_path(name);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return check_summary("unit-imagefile");
}
