/* hostile.c — judging and printing table rows for the hostile tests; see
 * hostile.h. */
#include "hostile.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

const char *hostile_verdict(pd_status want, const char *expect, const char *label,
                            pd_status got, const pd_error *err)
{
    static char why[256];
    if (got != want) {
        snprintf(why, sizeof why, "status '%s', want '%s'", pd_status_name(got),
                 pd_status_name(want));
        return why;
    }
    if (got == PD_OK)
        return NULL;
    if (strncmp(err->message, label, strlen(label)) != 0 ||
        strncmp(err->message + strlen(label), ": ", 2) != 0)
        return "message does not start with the file's name";
    char **pieces = g_strsplit(expect, "|", -1);
    const char *missing = NULL;
    for (char **p = pieces; *p && !missing; p++)
        if (!strstr(err->message, *p)) {
            snprintf(why, sizeof why, "message lacks \"%s\"", *p);
            missing = why;
        }
    g_strfreev(pieces);
    return missing;
}

void hostile_report(hostile_tally *t, size_t n, const char *what, pd_status want,
                    const char *message, int width, const char *bad)
{
    printf("%s %2zu %s: %.*s\n", bad ? "FAIL" : "ok  ", n, what, width,
           want == PD_OK && !bad ? "accepted" : message);
    if (bad) {
        printf("     -> %s\n", bad);
        t->failed++;
    } else {
        t->passed++;
    }
}

int hostile_summary(const hostile_tally *t, const char *name)
{
    printf("%s: %d passed, %d failed", name, t->passed, t->failed);
    if (t->skipped)
        printf(", %d skipped", t->skipped);
    printf("\n");
    return t->failed ? 1 : 0;
}
