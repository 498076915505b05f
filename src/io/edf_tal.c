/* TAL codec: EDF+ time-stamped annotation lists (see include/ictal/edf.h). */
#include "ictal/edf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TAL_SEP 0x14 /* ends the onset/duration and each text */
#define TAL_DUR 0x15 /* between onset and duration */

void ictal_tal_iter_init(ictal_tal_iter *it, const void *buf, size_t size)
{
    memset(it, 0, sizeof(*it));
    it->buf = buf;
    it->size = size;
}

static int tal_error(ictal_tal_iter *it, size_t pos, ictal_diag *d, const char *what)
{
    if (d != NULL) {
        d->offset = it->base_offset + (int64_t)pos;
        d->field = "TAL";
    }
    return ictal_diag_error(d, ICTAL_EFORMAT, "%s", what);
}

/*
 * Parses an unsigned decimal "12", "12.", "12.375" at *pos up to the first byte that
 * is not a digit or a dot. Returns 0, or -1 when there is no digit, a second dot, or
 * more digits than a double holds exactly.
 */
static int parse_decimal(const uint8_t *b, size_t size, size_t *pos, double *out)
{
    size_t p = *pos;
    double ip = 0, frac = 0, scale = 1;
    int digits = 0, int_digits = 0, dot = 0;
    while (p < size && ((b[p] >= '0' && b[p] <= '9') || b[p] == '.')) {
        if (b[p] == '.') {
            if (dot)
                return -1;
            dot = 1;
        } else if (!dot) {
            if (++int_digits > 15)
                return -1;
            ip = ip * 10 + (b[p] - '0');
            digits++;
        } else {
            if (scale > 1e-15) { /* further decimals are below double precision */
                scale /= 10;
                frac += (b[p] - '0') * scale;
            }
            digits++;
        }
        p++;
    }
    if (digits == 0)
        return -1;
    *pos = p;
    *out = ip + frac;
    return 0;
}

int ictal_tal_next(ictal_tal_iter *it, ictal_tal *out, ictal_diag *d)
{
    const uint8_t *b = it->buf;
    size_t n = it->size;

    if (!it->in_tal) {
        if (it->pos >= n || b[it->pos] == 0)
            return 0; /* end of the area or NUL padding */
        size_t p = it->pos;
        it->tal_start = p;
        if (b[p] != '+' && b[p] != '-')
            return tal_error(it, p, d, "a TAL must start with '+' or '-' and the onset");
        double sign = b[p] == '-' ? -1.0 : 1.0;
        p++;
        double v;
        if (parse_decimal(b, n, &p, &v) != 0)
            return tal_error(it, p, d, "TAL onset: expected digits with an optional '.'");
        it->onset_s = sign * v;
        it->duration_s = -1;
        if (p < n && b[p] == TAL_DUR) {
            p++;
            if (parse_decimal(b, n, &p, &v) != 0)
                return tal_error(it, p, d,
                                 "TAL duration: expected digits with an optional '.' after 0x15");
            it->duration_s = v;
        }
        if (p >= n || b[p] != TAL_SEP)
            return tal_error(it, p, d, "TAL: expected 0x14 after the onset (and duration)");
        p++;
        it->pos = p;
        it->in_tal = 1;
        out->first_in_tal = 1;
        if (p < n && b[p] == 0) {
            /* "+0\x14\0": a TAL with no text at all; read it as the empty text. */
            it->pos = p + 1;
            it->in_tal = 0;
            out->onset_s = it->onset_s;
            out->duration_s = it->duration_s;
            out->text = (const char *)b + p;
            out->text_len = 0;
            return 1;
        }
    } else {
        out->first_in_tal = 0;
    }

    size_t start = it->pos, p = start;
    while (p < n && b[p] != TAL_SEP && b[p] != 0)
        p++;
    if (p >= n)
        return tal_error(it, start, d, "unterminated TAL: the annotation area ends inside a text");
    if (b[p] == 0)
        return tal_error(it, p, d, "TAL text not terminated by 0x14 before the NUL");
    out->onset_s = it->onset_s;
    out->duration_s = it->duration_s;
    out->text = (const char *)b + start;
    out->text_len = p - start;
    p++; /* the 0x14 */
    if (p < n && b[p] == 0) {
        it->in_tal = 0;
        p++;
    } else if (p >= n) {
        return tal_error(it, it->tal_start, d,
                         "unterminated TAL: no NUL after its last text (the area is full)");
    }
    it->pos = p;
    return 1;
}

/* "%.7f" without trailing zeros (and without a trailing dot). */
static int format_time(char *buf, size_t size, double v)
{
    int n = snprintf(buf, size, "%.7f", v);
    if (n < 0 || (size_t)n >= size)
        return -1;
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
    return n;
}

int ictal_tal_encode(char *buf, size_t size, double onset_s, double duration_s,
                     const char *const *texts, int n_texts)
{
    char num[64];
    size_t n = 0;
    if (!isfinite(onset_s) || fabs(onset_s) > 1e12 || n_texts < 0)
        return ICTAL_EINVAL;
    if (format_time(num, sizeof(num), fabs(onset_s)) < 0)
        return ICTAL_EINVAL;
    /* "+0" for 0 and for values that round to 0; '-' only for a negative onset. */
    int neg = onset_s < 0 && strcmp(num, "0") != 0;
    size_t len = strlen(num);
    if (n + 1 + len + 1 > size)
        return ICTAL_ENOMEM;
    buf[n++] = neg ? '-' : '+';
    memcpy(buf + n, num, len);
    n += len;
    if (duration_s >= 0) {
        if (!isfinite(duration_s) || duration_s > 1e12 ||
            format_time(num, sizeof(num), duration_s) < 0)
            return ICTAL_EINVAL;
        len = strlen(num);
        if (n + 1 + len > size)
            return ICTAL_ENOMEM;
        buf[n++] = TAL_DUR;
        memcpy(buf + n, num, len);
        n += len;
    }
    if (n + 1 > size)
        return ICTAL_ENOMEM;
    buf[n++] = TAL_SEP;
    if (n_texts == 0) {
        if (n + 1 > size)
            return ICTAL_ENOMEM;
        buf[n++] = TAL_SEP; /* the empty text of a timekeeping TAL */
    }
    for (int i = 0; i < n_texts; i++) {
        const char *t = texts[i] ? texts[i] : "";
        len = strlen(t);
        for (size_t k = 0; k < len; k++)
            if (t[k] == TAL_SEP || t[k] == TAL_DUR)
                return ICTAL_EINVAL;
        if (n + len + 1 > size)
            return ICTAL_ENOMEM;
        memcpy(buf + n, t, len);
        n += len;
        buf[n++] = TAL_SEP;
    }
    if (n + 1 > size)
        return ICTAL_ENOMEM;
    buf[n++] = 0;
    return (int)n;
}
