/* Helpers shared by the subcommands (see cli.h). */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ictal_cli_exit_code(int status)
{
    switch (status) {
    case ICTAL_OK: return ICTAL_EXIT_OK;
    case ICTAL_EIO:
    case ICTAL_ENOENT: return ICTAL_EXIT_IO;
    case ICTAL_EINVAL: return ICTAL_EXIT_USAGE;
    default: return ICTAL_EXIT_FAIL;
    }
}

void ictal_cli_print_diag(const char *cmd, const ictal_diag *d)
{
    char buf[1024];
    fprintf(stderr, "ictal %s: %s\n", cmd, ictal_diag_format(d, buf, sizeof(buf)));
}

void ictal_cli_warn_stderr(void *user, const ictal_diag *w)
{
    char buf[1024];
    fprintf(stderr, "ictal %s: warning: %s\n", (const char *)user,
            ictal_diag_format(w, buf, sizeof(buf)));
}

/* A copy of s with every non-ASCII byte as '?' (free()), or NULL. */
static char *ascii_copy(const char *s)
{
    size_t n = strlen(s);
    char *t = malloc(n + 1);
    if (t == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        t[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    return t;
}

json_t *ictal_cli_json_string(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL || s == NULL)
        return j;
    char *t = ascii_copy(s);
    j = t ? json_string(t) : NULL;
    free(t);
    return j;
}

int ictal_cli_json_set(json_t *obj, const char *key, json_t *value)
{
    if (json_object_set(obj, key, value) == 0) {
        json_decref(value);
        return 0;
    }
    char *t = ascii_copy(key);
    int rc = t ? json_object_set(obj, t, value) : -1;
    free(t);
    json_decref(value);
    return rc;
}

int ictal_cli_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO);
}

void ictal_cli_progress(const char *label, double done, double total)
{
    const int width = 30;
    double frac = total > 0 ? done / total : 0;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    int filled = (int)(frac * width);
    fprintf(stderr, "\r%-24.24s [", label);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%", (int)(frac * 100));
    fflush(stderr);
}

void ictal_cli_progress_end(void)
{
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
