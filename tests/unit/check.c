#include "check.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int check_passed, check_failed;

int check_dir_entries(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    int n = 0;
    while (d && g_dir_read_name(d))
        n++;
    if (d)
        g_dir_close(d);
    return n;
}

int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

const char *check_golden_dir(void)
{
    const char *dirs[] = {getenv("PALDIFF_GOLDEN"), getenv("PALDIFF_GOLDEN_DEFAULT")};
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        if (dirs[i] && dirs[i][0] && stat(dirs[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            return dirs[i];
    }
    return NULL;
}

int check_has_all(const char *msg, const char *want)
{
    char **pieces = g_strsplit(want, "|", -1);
    int ok = 1;
    for (char **p = pieces; *p && ok; p++)
        ok = strstr(msg, *p) != NULL;
    g_strfreev(pieces);
    return ok;
}
