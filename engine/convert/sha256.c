/* sha256.c — SHA-256 (FIPS 180-4) with the x86 SHA extensions, GChecksum
 * elsewhere. The SHA-NI block function follows Intel's description of the
 * instructions: the state is kept as ABEF/CDGH, four rounds per pair of
 * sha256rnds2, the message schedule four words at a time with
 * sha256msg1/msg2. */
#include "convert/sha256.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define PD_HAVE_SHANI 1
#endif

#ifdef PD_HAVE_SHANI
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static int cpu_has_shani(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1;
}

__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_ni(uint32_t state[8], const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_loadu_si128((const __m128i *)&state[0]);      /* DCBA (a lowest) */
    __m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);     /* HGFE */
    t = _mm_shuffle_epi32(t, 0xB1);                                 /* CDAB */
    s1 = _mm_shuffle_epi32(s1, 0x1B);                               /* EFGH */
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);                         /* ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0);                              /* CDGH */
    for (; n; n--, p += 64) {
        __m128i save0 = s0, save1 = s1;
        __m128i m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
        for (int i = 0; i < 16; i++) {
            __m128i w;
            if (i < 4) {
                w = m[i];
            } else { /* W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four at a time */
                w = _mm_add_epi32(_mm_sha256msg1_epu32(m[0], m[1]), _mm_alignr_epi8(m[3], m[2], 4));
                w = _mm_sha256msg2_epu32(w, m[3]);
                m[0] = m[1], m[1] = m[2], m[2] = m[3], m[3] = w;
            }
            __m128i k = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, k);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k, 0x0E));
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
    }
    t = _mm_shuffle_epi32(s0, 0x1B);        /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);       /* DCHG */
    s0 = _mm_blend_epi16(t, s1, 0xF0);      /* DCBA */
    s1 = _mm_alignr_epi8(s1, t, 8);         /* HGFE */
    _mm_storeu_si128((__m128i *)&state[0], s0);
    _mm_storeu_si128((__m128i *)&state[4], s1);
}
#endif

void pd_sha256_init_with(pd_sha256 *h, int use_ni)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memset(h, 0, sizeof *h);
    memcpy(h->state, iv, sizeof iv);
#ifdef PD_HAVE_SHANI
    if (use_ni && cpu_has_shani())
        return;
#endif
    (void)use_ni;
    h->gc = g_checksum_new(G_CHECKSUM_SHA256);
}

void pd_sha256_update(pd_sha256 *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (h->gc) {
        while (n) { /* g_checksum_update takes a gssize */
            size_t k = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
            g_checksum_update(h->gc, p, (gssize)k);
            p += k, n -= k;
        }
        return;
    }
#ifdef PD_HAVE_SHANI
    h->total += n;
    if (h->nbuf) {
        size_t k = 64 - h->nbuf < n ? 64 - h->nbuf : n;
        memcpy(h->buf + h->nbuf, p, k);
        h->nbuf += k, p += k, n -= k;
        if (h->nbuf < 64)
            return;
        blocks_ni(h->state, h->buf, 1);
        h->nbuf = 0;
    }
    if (n >= 64) {
        blocks_ni(h->state, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
    }
    memcpy(h->buf, p, n);
    h->nbuf = n;
#endif
}

void pd_sha256_hex(pd_sha256 *h, char hex[65])
{
    if (h->gc) {
        g_strlcpy(hex, g_checksum_get_string(h->gc), 65);
        g_checksum_free(h->gc);
        h->gc = NULL;
        return;
    }
#ifdef PD_HAVE_SHANI
    uint64_t bits = h->total * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (h->nbuf < 56 ? 56 : 120) - h->nbuf;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    uint64_t total = h->total;
    pd_sha256_update(h, pad, padlen + 8);
    h->total = total;
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", h->state[i]);
#endif
}
