/* check.h — the few assertions unit tests share.
 *
 *     CHECK(n == 3);
 *     CHECK_MSG(st == PD_OK, "open failed: %s", err.message);
 *     return check_summary("unit-gemm");   // prints "N passed, M failed"
 *
 * Failures are counted, not fatal, so one run reports every broken case.
 * Single-threaded.
 */
#ifndef PD_TEST_CHECK_H
#define PD_TEST_CHECK_H

#include <stdio.h>

extern int check_passed, check_failed;

#define CHECK_MSG(cond, ...)                                                   \
    do {                                                                       \
        if (cond) {                                                            \
            check_passed++;                                                    \
        } else {                                                               \
            check_failed++;                                                    \
            fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)
#define CHECK(cond) CHECK_MSG(cond, "%s", "")

/* Prints "<name>: N passed, M failed" and returns the exit status. */
int check_summary(const char *name);

/* True when msg holds every '|'-separated piece of want. */
int check_has_all(const char *msg, const char *want);

/* How many entries the folder holds (0 when it cannot be opened): tests
 * that a failed write left no temporary file behind. */
int check_dir_entries(const char *dir);

/* The golden folder: $PALDIFF_GOLDEN, else $PALDIFF_GOLDEN_DEFAULT (set by
 * meson). NULL when neither names an existing folder. */
const char *check_golden_dir(void);

#endif
