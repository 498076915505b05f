/* Internal helpers for the text formats (see textio.h). */
#include "textio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ictal__open_error(ictal_diag *d, int e)
{
    return ictal_diag_error(d, e == ENOENT ? ICTAL_ENOENT : ICTAL_EIO, "cannot open: %s",
                            e != 0 ? strerror(e) : "unknown reason");
}

int ictal__read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                     ictal_diag *d)
{
    *out = NULL;
    *len = 0;
    if (d != NULL)
        d->source = path;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ictal__open_error(d, errno);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        fclose(f);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                free(buf);
                fclose(f);
                return ictal_diag_error(d, ICTAL_ERANGE,
                                        "file larger than %zu bytes, more than this format allows",
                                        max_bytes);
            }
            size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            char *g = realloc(buf, ncap + 1);
            if (g == NULL) {
                free(buf);
                fclose(f);
                return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
            }
            buf = g;
            cap = ncap;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                fclose(f);
                return ictal_diag_error(d, ICTAL_EIO, "read failed: %s", strerror(e));
            }
            break;
        }
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

void ictal__trim(const char **s, size_t *n)
{
    while (*n > 0 && blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && blank((*s)[*n - 1]))
        (*n)--;
}

void ictal__lines_init(ictal__lines *it, const char *text, size_t len)
{
    it->p = text;
    it->end = text + len;
    it->line = 0;
    it->line_offset = 0;
    it->start = text;
}

int ictal__lines_next(ictal__lines *it, const char **s, size_t *n)
{
    if (it->p >= it->end)
        return 0;
    const char *b = it->p, *e = b;
    while (e < it->end && *e != '\n' && *e != '\r')
        e++;
    it->line++;
    it->line_offset = (int64_t)(b - it->start);
    if (e < it->end) {
        if (*e == '\r' && e + 1 < it->end && e[1] == '\n')
            it->p = e + 2;
        else
            it->p = e + 1;
    } else {
        it->p = e;
    }
    *s = b;
    *n = (size_t)(e - b);
    ictal__trim(s, n);
    return 1;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int ictal__starts_with_words(const char *s, size_t n, const char *prefix, const char **rest)
{
    size_t i = 0;
    for (const char *q = prefix; *q != '\0'; q++) {
        if (*q == ' ') {
            if (i >= n || !blank(s[i]))
                return 0;
            while (i < n && blank(s[i]))
                i++;
            continue;
        }
        if (i >= n || lower(s[i]) != lower(*q))
            return 0;
        i++;
    }
    if (rest != NULL)
        *rest = s + i;
    return 1;
}

int ictal__key_value(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    const char *rest;
    if (!ictal__starts_with_words(s, n, key, &rest))
        return 0;
    size_t rn = n - (size_t)(rest - s);
    while (rn > 0 && (*rest == ' ' || *rest == '\t')) {
        rest++;
        rn--;
    }
    if (rn == 0 || *rest != ':')
        return 0;
    *v = rest + 1;
    *vn = rn - 1;
    ictal__trim(v, vn);
    return 1;
}

static int digits(const char *s, size_t n, size_t *i, int max_digits, int *value)
{
    int v = 0, k = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9' && k < max_digits) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    *value = v;
    return k;
}

int64_t ictal__parse_clock(const char *s, size_t n, int max_hour)
{
    ictal__trim(&s, &n);
    size_t i = 0;
    int h, m, sec;
    if (digits(s, n, &i, 2, &h) < 1 || i >= n || (s[i] != ':' && s[i] != '.'))
        return -1;
    char sep = s[i++];
    if (digits(s, n, &i, 2, &m) != 2 || i >= n || s[i] != sep)
        return -1;
    i++;
    if (digits(s, n, &i, 2, &sec) != 2 || i != n)
        return -1;
    if (h > max_hour || m > 59 || sec > 59)
        return -1;
    return (int64_t)h * 3600 + m * 60 + sec;
}

void ictal__record_stem(const char *path, size_t n, const char **stem, size_t *stem_n)
{
    size_t b = n;
    while (b > 0 && path[b - 1] != '/' && path[b - 1] != '\\')
        b--;
    const char *s = path + b;
    size_t k = n - b;
    if (k > 4 && s[k - 4] == '.' && lower(s[k - 3]) == 'e' && lower(s[k - 2]) == 'd' &&
        lower(s[k - 1]) == 'f')
        k -= 4;
    *stem = s;
    *stem_n = k;
}

int ictal__same_record(const char *a, size_t an, const char *b, size_t bn)
{
    const char *sa, *sb;
    size_t na, nb;
    ictal__record_stem(a, an, &sa, &na);
    ictal__record_stem(b, bn, &sb, &nb);
    return na > 0 && na == nb && memcmp(sa, sb, na) == 0;
}

int ictal__parse_decimal(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    size_t i = 0, n_digits = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, n_digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, n_digits++;
    }
    if (n_digits == 0)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, exp_digits++;
        if (exp_digits == 0)
            return -1;
    }
    if (i != n)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int ictal__text_begin(const char *text, size_t len, const char *source, const char *what,
                      ictal_diag *d)
{
    if (d != NULL) {
        ictal_diag_clear(d);
        d->source = source;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul == NULL)
        return 0;
    if (d != NULL)
        d->offset = (int64_t)(nul - text);
    return ictal_diag_error(d, ICTAL_EFORMAT, "NUL byte in a text file: not a %s", what);
}
