/* imgcmp — pixel comparisons for the plug-in tests (PNG files, as RGB).
 *
 *   imgcmp A B                       A and B have equal RGB pixels
 *   imgcmp --inside MASK A B         equal where MASK (gray) is 255
 *   imgcmp --outside MASK A B        equal where MASK is 0
 *   imgcmp --composite GEN ORIG MASK OUT
 *                                    OUT = (GEN·m + ORIG·(255 − m) + 127) / 255, the
 *                                    plug-in's inpainting composite, everywhere
 *
 * Alpha is dropped (pd_image_read). Prints one line; exit 0 when it holds,
 * 1 when not (with the count of differing pixels and the first one), 2 on
 * a usage or file error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/imagefile.h"

static int load(const char *path, int channels, pd_pixels *p)
{
    pd_error err;
    if (pd_image_read(path, channels, p, &err)) {
        fprintf(stderr, "imgcmp: %s\n", err.message);
        return 0;
    }
    return 1;
}

static int same_size(const pd_pixels *a, const pd_pixels *b, const char *na, const char *nb)
{
    if (a->width == b->width && a->height == b->height)
        return 1;
    printf("imgcmp: %s is %dx%d but %s is %dx%d\n", na, a->width, a->height, nb, b->width, b->height);
    return 0;
}

int main(int argc, char **argv)
{
    pd_pixels a = {0}, b = {0}, m = {0}, g = {0};
    int where = 0; /* 0 everywhere, 1 inside, -1 outside, 2 composite */
    int i = 1;
    if (argc == 5 && (!strcmp(argv[1], "--inside") || !strcmp(argv[1], "--outside"))) {
        where = argv[1][2] == 'i' ? 1 : -1;
        i = 2;
    } else if (argc == 6 && !strcmp(argv[1], "--composite")) {
        where = 2;
    } else if (argc != 3) {
        fprintf(stderr, "usage: imgcmp [--inside|--outside MASK] A B | --composite GEN ORIG MASK OUT\n");
        return 2;
    }
    const char *na, *nb;
    if (where == 2) {
        if (!load(argv[2], 3, &g) || !load(argv[3], 3, &a) || !load(argv[4], 1, &m) || !load(argv[5], 3, &b))
            return 2;
        na = argv[3];
        nb = argv[5];
        if (!same_size(&g, &a, argv[2], na) || !same_size(&m, &a, argv[4], na))
            return 1;
    } else {
        if (where && !load(argv[i++], 1, &m))
            return 2;
        na = argv[i];
        nb = argv[i + 1];
        if (!load(na, 3, &a) || !load(nb, 3, &b))
            return 2;
        if (m.data && !same_size(&m, &a, argv[2], na))
            return 1;
    }
    if (!same_size(&a, &b, na, nb))
        return 1;
    long n = (long)a.width * a.height, diff = 0, first = -1, checked = 0;
    for (long p = 0; p < n; p++) {
        if ((where == 1 && m.data[p] != 255) || (where == -1 && m.data[p] != 0))
            continue;
        checked++;
        for (int c = 0; c < 3; c++) {
            int want = a.data[p * 3 + c];
            if (where == 2)
                want = (g.data[p * 3 + c] * m.data[p] + want * (255 - m.data[p]) + 127) / 255;
            if (want != b.data[p * 3 + c]) {
                if (first < 0)
                    first = p;
                diff++;
                break;
            }
        }
    }
    if (diff) {
        const uint8_t *pa = a.data + first * 3, *pb = b.data + first * 3;
        printf("imgcmp: %ld of %ld pixels differ, the first at (%ld, %ld): %d %d %d vs %d %d %d", diff, checked,
               first % a.width, first / a.width, pa[0], pa[1], pa[2], pb[0], pb[1], pb[2]);
        if (g.data)
            printf(" (generated %d %d %d, mask %d)", g.data[first * 3], g.data[first * 3 + 1],
                   g.data[first * 3 + 2], m.data[first]);
        printf("\n");
    }
    else
        printf("imgcmp: %ld pixels equal\n", checked);
    pd_pixels_free(&a);
    pd_pixels_free(&b);
    pd_pixels_free(&m);
    pd_pixels_free(&g);
    return diff != 0 || checked == 0;
}
