/* Status codes and diagnostics (see include/ictal/error.h). */
#include "ictal/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ictal_strerror(int code)
{
    switch (code) {
    case ICTAL_OK: return "success";
    case ICTAL_EINVAL: return "invalid argument";
    case ICTAL_ENOMEM: return "out of memory or buffer too small";
    case ICTAL_EIO: return "input/output error";
    case ICTAL_EFORMAT: return "format error";
    case ICTAL_ETRUNC: return "truncated input";
    case ICTAL_ERANGE: return "value out of range";
    case ICTAL_ENOTSUP: return "not supported";
    case ICTAL_ENOENT: return "not found";
    case ICTAL_ESTRICT: return "rejected in strict mode";
    case ICTAL_EVERSION: return "incompatible version";
    case ICTAL_ESTATE: return "invalid state";
    case ICTAL_EOF: return "end of data";
    default: return "unknown error";
    }
}

const char *ictal_error_name(int code)
{
    switch (code) {
    case ICTAL_OK: return "ICTAL_OK";
    case ICTAL_EINVAL: return "ICTAL_EINVAL";
    case ICTAL_ENOMEM: return "ICTAL_ENOMEM";
    case ICTAL_EIO: return "ICTAL_EIO";
    case ICTAL_EFORMAT: return "ICTAL_EFORMAT";
    case ICTAL_ETRUNC: return "ICTAL_ETRUNC";
    case ICTAL_ERANGE: return "ICTAL_ERANGE";
    case ICTAL_ENOTSUP: return "ICTAL_ENOTSUP";
    case ICTAL_ENOENT: return "ICTAL_ENOENT";
    case ICTAL_ESTRICT: return "ICTAL_ESTRICT";
    case ICTAL_EVERSION: return "ICTAL_EVERSION";
    case ICTAL_ESTATE: return "ICTAL_ESTATE";
    case ICTAL_EOF: return "ICTAL_EOF";
    default: return "ICTAL_EUNKNOWN";
    }
}

void ictal_diag_init(ictal_diag *d)
{
    memset(d, 0, sizeof(*d));
    ictal_diag_clear(d);
}

void ictal_diag_clear(ictal_diag *d)
{
    d->code = 0;
    d->field = NULL;
    d->offset = -1;
    d->record = -1;
    d->signal = -1;
    d->line = -1;
    d->message[0] = '\0';
}

int ictal_diag_error(ictal_diag *d, int code, const char *fmt, ...)
{
    if (d == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof(d->message), fmt, ap);
    va_end(ap);
    d->code = code;
    return code;
}

int ictal_diag_warn(ictal_diag *d, const char *fmt, ...)
{
    if (d == NULL)
        return 0;
    ictal_diag w = *d;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w.message, sizeof(w.message), fmt, ap);
    va_end(ap);
    w.code = 0;
    d->n_warnings++;
    if (d->strict) {
        memcpy(d->message, w.message, sizeof(d->message));
        d->code = ICTAL_ESTRICT;
        return ICTAL_ESTRICT;
    }
    if (d->on_warning != NULL)
        d->on_warning(d->user, &w);
    return 0;
}

const char *ictal_diag_format(const ictal_diag *d, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
#define ICTAL__APPEND(...)                                                                         \
    do {                                                                                           \
        if (n < size) {                                                                            \
            int k = snprintf(buf + n, size - n, __VA_ARGS__);                                      \
            if (k > 0)                                                                             \
                n += (size_t)k;                                                                    \
        }                                                                                          \
    } while (0)
    const char *sep = "";
    if (d->source != NULL) {
        ICTAL__APPEND("%s", d->source);
        sep = ": ";
    }
    if (d->line >= 0) {
        ICTAL__APPEND("%sline %lld", sep, (long long)d->line);
        sep = ", ";
    }
    if (d->offset >= 0) {
        ICTAL__APPEND("%sbyte %lld", sep, (long long)d->offset);
        sep = ", ";
    }
    if (d->record >= 0) {
        ICTAL__APPEND("%srecord %lld", sep, (long long)d->record);
        sep = ", ";
    }
    if (d->signal >= 0) {
        ICTAL__APPEND("%ssignal %d", sep, d->signal);
        sep = ", ";
    }
    if (d->field != NULL) {
        ICTAL__APPEND("%sfield '%s'", sep, d->field);
        sep = ", ";
    }
    if (n > 0)
        ICTAL__APPEND(": ");
    ICTAL__APPEND("%s", d->message[0] ? d->message : ictal_strerror(d->code));
    if (d->code != 0)
        ICTAL__APPEND(" (%s)", ictal_strerror(d->code));
#undef ICTAL__APPEND
    return buf;
}
