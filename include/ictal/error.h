/*
 * ictal/error.h - status codes and diagnostics shared by every ictal component.
 *
 * Every ictal function that can fail returns 0 on success or a negative ICTAL_E*
 * code; ictal_strerror() names the code. Functions that read files or streams also
 * take an ictal_diag, which they fill with *where* (file, byte offset, record,
 * signal, line, field) and *what* (a sentence saying what was found and what was
 * expected). The same structure carries warnings: input that deviates from a
 * standard but can still be read. Set on_warning to be told of each one; set
 * strict to turn every warning into an error.
 *
 * An ictal_diag is caller-owned plain data (no init/free pair beyond ictal_diag_init:
 * it holds no allocation) and is used by one thread at a time; the functions here keep
 * no state of their own, so they are safe to call from any thread.
 *
 * Part of libictal: C11, no allocation, no global state.
 */
#ifndef ICTAL_ERROR_H
#define ICTAL_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ICTAL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define ICTAL_PRINTF(fmt, args)
#endif

enum {
    ICTAL_OK = 0,
    ICTAL_EINVAL = -1,    /* invalid argument */
    ICTAL_ENOMEM = -2,    /* out of memory, or caller buffer too small */
    ICTAL_EIO = -3,       /* read or write failed (errno tells more) */
    ICTAL_EFORMAT = -4,   /* malformed input: a field that breaks the format */
    ICTAL_ETRUNC = -5,    /* input ends early */
    ICTAL_ERANGE = -6,    /* value outside the supported range */
    ICTAL_ENOTSUP = -7,   /* valid input that ictal does not support */
    ICTAL_ENOENT = -8,    /* no such file, signal, record or item */
    ICTAL_ESTRICT = -9,   /* a warning turned into an error by strict mode */
    ICTAL_EVERSION = -10, /* incompatible version (model file, protocol) */
    ICTAL_ESTATE = -11,   /* call not valid in the object's current state */
    ICTAL_EOF = -12       /* end of data reached (not an error for loops) */
};

/* The name of a status code: "invalid argument", ... Never NULL. */
const char *ictal_strerror(int code);

/* The code's symbol: "ICTAL_EINVAL", ... ("ICTAL_OK" for 0, "ICTAL_EUNKNOWN" for a
 * value that is none of them), for machine-readable reports. Never NULL. */
const char *ictal_error_name(int code);

#define ICTAL_DIAG_MESSAGE_MAX 256

typedef struct ictal_diag ictal_diag;
typedef void (*ictal_warn_fn)(void *user, const ictal_diag *warning);

/*
 * Where and what. Fields that do not apply are -1 (numbers) or NULL (strings).
 * Initialise with ictal_diag_init(); the caller then may set on_warning, user and
 * strict. Functions fill the rest.
 */
struct ictal_diag {
    int code;              /* ICTAL_E* of the last error, or 0 */
    const char *source;    /* file name or stream name, not owned */
    const char *field;     /* static name of the header field or column, or NULL */
    int64_t offset;        /* byte offset in the source, or -1 */
    int64_t record;        /* data record (0-based), or -1 */
    int signal;            /* signal or channel index (0-based), or -1 */
    int64_t line;          /* line number (1-based) in text formats, or -1 */
    char message[ICTAL_DIAG_MESSAGE_MAX];

    /* Set by the caller. */
    ictal_warn_fn on_warning; /* called for each warning, may be NULL */
    void *user;               /* passed to on_warning */
    int strict;               /* non-zero: warnings are errors (ICTAL_ESTRICT) */

    unsigned n_warnings;      /* warnings raised since init */
};

void ictal_diag_init(ictal_diag *d);

/* Clears code, message and the location fields except source, before a new operation
 * (the caller's settings, source and n_warnings stay). */
void ictal_diag_clear(ictal_diag *d);

/*
 * Records an error: sets code and message (printf-style) and returns code, so that
 * a parser can write `return ictal_diag_error(d, ICTAL_EFORMAT, "...")`. The location
 * fields are whatever the caller set before. d may be NULL.
 */
int ictal_diag_error(ictal_diag *d, int code, const char *fmt, ...) ICTAL_PRINTF(3, 4);

/*
 * Reports a warning at the current location: counts it in n_warnings and passes
 * on_warning a copy of *d holding the message (code 0); *d itself is unchanged. Returns
 * 0, or ICTAL_ESTRICT (and records it as the error, without calling on_warning) when
 * d->strict is set. d may be NULL.
 */
int ictal_diag_warn(ictal_diag *d, const char *fmt, ...) ICTAL_PRINTF(2, 3);

/*
 * Formats a diagnostic for people, truncated to size bytes (NUL included):
 *   "rec.edf: byte 236, field 'number of data records': expected ... (format error)"
 * The fields set appear in the order source, line, byte, record, signal, field. Returns
 * buf.
 */
const char *ictal_diag_format(const ictal_diag *d, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_ERROR_H */
