/* sha256.h — SHA-256 of large files, fast enough to fingerprint a model.
 *
 *     pd_sha256 h;
 *     pd_sha256_init(&h);
 *     pd_sha256_update(&h, data, n);          // as often as needed
 *     char hex[65];
 *     pd_sha256_hex(&h, hex);                 // lower-case hex digest, NUL-terminated
 *
 * GLib's GChecksum runs at about 75 MB/s here: a minute for an SD 1.5
 * checkpoint. CPUs with the SHA extensions (SHA-NI) hash with them at well
 * over 1 GB/s; elsewhere GChecksum does the work. Both give the standard
 * digest (tests/unit/test_convert.c compares them).
 *
 * One context per thread; the functions keep no shared state.
 */
#ifndef PD_SHA256_H
#define PD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

typedef struct pd_sha256 {
    GChecksum *gc;             /* the portable path; NULL on the SHA-NI path */
    uint32_t state[8];
    uint8_t buf[64];
    size_t nbuf;
    uint64_t total;            /* bytes so far */
} pd_sha256;

/* use_ni: 1 to use SHA-NI where the CPU has it, 0 to force GChecksum. */
void pd_sha256_init_with(pd_sha256 *h, int use_ni);
static inline void pd_sha256_init(pd_sha256 *h) { pd_sha256_init_with(h, 1); }
void pd_sha256_update(pd_sha256 *h, const void *data, size_t n);
/* Finishes and frees the context: hex gets 64 hex digits and a NUL. */
void pd_sha256_hex(pd_sha256 *h, char hex[65]);

#endif
