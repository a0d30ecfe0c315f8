/* hostile.h — what the hostile tests (hostile_*.c) share: judging and
 * printing one row of their tables.
 *
 * A row expects a status `want` and, for a refusal, a message that starts
 * with the label or path it was given and ": ", and contains every
 * '|'-separated piece of `expect`.
 */
#ifndef PD_TESTS_HOSTILE_H
#define PD_TESTS_HOSTILE_H

#include <stddef.h>

#include "paldiff.h"

/* NULL when status and message are as the row expects, else what differs
 * (a static buffer, good until the next call). */
const char *hostile_verdict(pd_status want, const char *expect, const char *label,
                            pd_status got, const pd_error *err);

/* The rows' outcomes so far. */
typedef struct hostile_tally {
    int passed, failed, skipped;
} hostile_tally;

/* Prints row `n`'s line: "ok" or "FAIL", `what`, then "accepted" for a
 * success the row wanted, else `message` cut to `width` characters; on a
 * failure, `bad` below it. Counts the row as passed when bad is NULL. */
void hostile_report(hostile_tally *t, size_t n, const char *what, pd_status want,
                    const char *message, int width, const char *bad);

/* Prints "NAME: N passed, M failed" (", K skipped" when some were) and
 * returns the exit status: 1 when a row failed, else 0. */
int hostile_summary(const hostile_tally *t, const char *name);

#endif
