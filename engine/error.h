/* error.h — filling a pd_error (see paldiff.h for the error model).
 *
 *     if (n > limit)
 *         return pd_fail(err, PD_E_FORMAT, "%s: tensor '%s': %d dimensions, at most %d",
 *                        path, name, n, limit);
 *
 * `err` may be NULL (the message is dropped). Thread-safe: writes only *err.
 */
#ifndef PD_ERROR_H
#define PD_ERROR_H

#include "paldiff.h"

#if defined(__GNUC__)
#define PD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PD_PRINTF(f, a)
#endif

/* Sets err->status and err->message (truncated to fit) and returns status. */
pd_status pd_fail(pd_error *err, pd_status status, const char *fmt, ...) PD_PRINTF(3, 4);

/* Clears *err to PD_OK with an empty message. */
void pd_error_clear(pd_error *err);

#endif
