/*
 * Internal helpers for ictal-io's file formats: reporting a file that cannot be opened,
 * reading a whole small file, walking its lines, matching keys and parsing clock times. Not a public API (ictal__ prefix).
 */
#ifndef ICTAL_IO_TEXTIO_H
#define ICTAL_IO_TEXTIO_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"

/* Records that a file could not be opened, from errno e: ICTAL_ENOENT when it does not
 * exist, else ICTAL_EIO; the message is "cannot open: <reason>". Returns that code. */
int ictal__open_error(ictal_diag *d, int e);

/* Reads the whole file (at most max_bytes) into a new NUL-terminated buffer (free()).
 * Errors name the file: ICTAL_ENOENT, ICTAL_EIO, ICTAL_ERANGE (too big), ICTAL_ENOMEM. */
int ictal__read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                     ictal_diag *d);

/* Walks the lines of text[0..len): "\n", "\r\n" and "\r" end a line. */
typedef struct ictal__lines {
    const char *p, *end;
    int64_t line;        /* 1-based number of the line last returned */
    int64_t line_offset; /* byte offset of that line */
    const char *start;
} ictal__lines;

void ictal__lines_init(ictal__lines *it, const char *text, size_t len);
/* Next line, without its end-of-line and surrounding blanks. Returns 0 at the end. */
int ictal__lines_next(ictal__lines *it, const char **s, size_t *n);

/* Trims blanks (space, tab, CR, LF, form feed, vertical tab) on both sides. */
void ictal__trim(const char **s, size_t *n);

/* Non-zero if s[0..n) starts with prefix, ignoring case and treating any run of blanks
 * in s as one space; *rest is set past the prefix. */
int ictal__starts_with_words(const char *s, size_t n, const char *prefix, const char **rest);

/* Matches a "Key: value" line (key as in ictal__starts_with_words, blanks allowed before
 * the colon); sets v[0..vn) to the trimmed value. Returns 0 when s is not that key. */
int ictal__key_value(const char *s, size_t n, const char *key, const char **v, size_t *vn);

/* A clock time "h:mm:ss", "hh.mm.ss" (hours 0..max_hour, minutes and seconds 0..59,
 * blanks around it allowed) to seconds; -1 when s[0..n) is not one. */
int64_t ictal__parse_clock(const char *s, size_t n, int max_hour);

/* The start of a text-format parser: clears d and names source in it, then refuses
 * binary data (a NUL byte, its offset in d) with "NUL byte in a text file: not a WHAT".
 * Returns 0 or ICTAL_EFORMAT. */
int ictal__text_begin(const char *text, size_t len, const char *source, const char *what,
                      ictal_diag *d);

/* A plain decimal number [+-]digits[.digits][(e|E)[+-]digits] filling all of s[0..n)
 * (strtod alone would also take "nan", "inf" and hexadecimal, which no annotation tool
 * means) into *out. Returns 0, or -1 when s is not one or is not finite. */
int ictal__parse_decimal(const char *s, size_t n, double *out);

/* Base name of a path without a ".edf" extension (any case): "x/chb01_03.edf" ->
 * "chb01_03", as pointer and length into path. */
void ictal__record_stem(const char *path, size_t n, const char **stem, size_t *stem_n);

/* Non-zero if the two record names name the same record (ictal__record_stem of each,
 * compared exactly). */
int ictal__same_record(const char *a, size_t an, const char *b, size_t bn);

#endif
