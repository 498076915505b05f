/*
 * EDF / EDF+ / BDF / BDF+ reader (see include/ictal/edf.h).
 *
 * open() parses and checks the header, works out how many complete records the file
 * holds, then scans the annotation signals of every record (one positioned read of
 * the annotation bytes per record) for the timekeeping TALs and the annotations. Data
 * is read on demand: the float path reads many records per call and converts them in
 * tight loops; the per-sample path keeps one record cached.
 */
#include "ictal/edf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/edf_internal.h"
#include "io/textio.h"

#define EDF_MAX_SIGNALS 4096
#define EDF_MAX_RECORD_BYTES (64 * 1024 * 1024)
#define EDF_MAX_DURATION_S 1e6
#define EDF_MAX_ANNOTATIONS (1 << 20) /* bounds memory on hostile files */
#define EDF_CHUNK_BYTES (256 * 1024) /* bulk reads: a few records that stay in L2 */

struct ictal_edf {
    int fd;              /* -1 when reading from memory */
    const uint8_t *mem;
    int64_t file_size;
    ictal_edf_info info;
    ictal_edf_signal *sig;
    int sample_bytes;    /* 2 (EDF) or 3 (BDF) */
    double *rec_start;   /* EDF+D: start of each record; NULL: contiguous */
    ictal_edf_annotation *ann;
    size_t n_ann, cap_ann;
    ictal_edf_gap *gaps;
    uint8_t *chunk;      /* bulk read buffer */
    size_t chunk_size;
    uint8_t *rec_buf;    /* one record's slice for the per-sample readers */
    unsigned warned;     /* WARN_* bits: warn once per kind per file */
};

enum {
    WARN_NONASCII = 1u << 0,
    WARN_CONTIG = 1u << 2,
    WARN_NO_TK = 1u << 3,
    WARN_UTF8 = 1u << 4,
    WARN_ANNOT_FIELDS = 1u << 5, /* ... << 5 + 5: one bit per annotation-signal field */
    WARN_COMMA = 1u << 11,
    WARN_MANY = 1u << 12
};

/* ----------------------------------------------------------------------------------
 * Small helpers
 * -------------------------------------------------------------------------------- */

static void loc(ictal_diag *d, const char *field, int64_t offset, int signal, int64_t record)
{
    if (d == NULL)
        return;
    d->field = field;
    d->offset = offset;
    d->signal = signal;
    d->record = record;
    d->line = -1;
}

/* Reads up to n bytes at off; returns the count (short at the end of the file) or -1. */
static int64_t src_read(ictal_edf *r, int64_t off, void *buf, size_t n)
{
    if (off < 0 || off >= r->file_size)
        return 0;
    if ((int64_t)n > r->file_size - off)
        n = (size_t)(r->file_size - off);
    if (r->fd < 0) {
        memcpy(buf, r->mem + off, n);
        return (int64_t)n;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(r->fd, (uint8_t *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (int64_t)got;
}

/* Trimmed copy of a fixed-width field into a C string (w < 128). */
static void field_copy(const uint8_t *f, int w, char *out)
{
    int b = 0, e = w;
    while (b < e && f[b] == ' ')
        b++;
    while (e > b && (f[e - 1] == ' ' || f[e - 1] == 0))
        e--;
    memcpy(out, f + b, (size_t)(e - b));
    out[e - b] = '\0';
}

/* Integer field: optional sign then digits, spaces around. 0 or -1. */
static int parse_int(const uint8_t *f, int w, int64_t *out)
{
    char s[128];
    field_copy(f, w, s);
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p == '\0' || strlen(p) > 17)
        return -1;
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/*
 * Real field: sign, digits, '.', exponent. A ',' used as the decimal separator is
 * accepted (*comma set) as MNE and EDFbrowser do. 0 or -1.
 */
static int parse_real(const uint8_t *f, int w, double *out, int *comma)
{
    char s[128];
    field_copy(f, w, s);
    if (s[0] == '\0')
        return -1;
    int digits = 0;
    for (char *p = s; *p; p++) {
        if (*p == ',' && strchr(s, '.') == NULL) {
            *p = '.';
            *comma = 1;
        } else if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (!(*p == '+' || *p == '-' || *p == '.' || *p == 'e' || *p == 'E')) {
            return -1;
        }
    }
    if (digits == 0)
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int two_digits(const uint8_t *p, int *out)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return 0;
}

int64_t ictal__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ictal__civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static const char *const month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                             "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

const char *ictal__month_abbrev(int month)
{
    return month >= 1 && month <= 12 ? month_names[month - 1] : "XXX";
}

/* Replaces bytes outside printable ASCII by '?'; returns how many. */
static int sanitize_ascii(char *s)
{
    int n = 0;
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s > 126) {
            *s = '?';
            n++;
        }
    return n;
}

/* Replaces invalid UTF-8 sequences and control bytes by '?'; returns how many. */
static int sanitize_utf8(char *s)
{
    int bad = 0;
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        int ok = len > 0;
        for (int k = 1; ok && k < len; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (ok && len == 1 && *p < 32)
            ok = 0;
        if (!ok) {
            *p++ = '?';
            bad++;
        } else {
            p += len;
        }
    }
    return bad;
}

/* µV per unit of a physical dimension, from its raw bytes (µ may be Latin-1 or UTF-8). */
static double uv_per_unit(const char *raw)
{
    char u[16];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)raw; *p && n < sizeof(u) - 1; p++) {
        if (*p == 0xC2 && p[1] == 0xB5)
            continue;          /* UTF-8 lead byte of µ */
        if (*p == 0xB5 || *p == 'u' || *p == 'U')
            u[n++] = 'u';
        else
            u[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    u[n] = '\0';
    if (strcmp(u, "uv") == 0)
        return 1.0;
    if (strcmp(u, "mv") == 0)
        return 1e3;
    if (strcmp(u, "v") == 0)
        return 1e6;
    if (strcmp(u, "nv") == 0)
        return 1e-3;
    return 1.0;
}

static int warn_once(ictal_edf *r, unsigned kind, ictal_diag *d, const char *msg)
{
    if (r->warned & kind)
        return 0;
    r->warned |= kind;
    return ictal_diag_warn(d, "%s", msg);
}

/* ----------------------------------------------------------------------------------
 * Header
 * -------------------------------------------------------------------------------- */

/* Byte offset of field k of signal s: the per-signal fields are stored field by field. */
static int64_t sig_field(int ns, int64_t field_start_per_signal, int width, int s)
{
    return 256 + (int64_t)ns * field_start_per_signal + (int64_t)s * width;
}

static int check_ascii(ictal_edf *r, const uint8_t *f, int w, const char *field, int64_t off,
                       int sig, ictal_diag *d)
{
    for (int i = 0; i < w; i++)
        if (f[i] < 32 || f[i] > 126) {
            if (r->warned & WARN_NONASCII)
                return 0;
            r->warned |= WARN_NONASCII;
            loc(d, field, off + i, sig, -1);
            return ictal_diag_warn(d, "byte 0x%02x is not printable ASCII (read as '?'; "
                                      "EDFlib refuses such headers)", f[i]);
        }
    return 0;
}

static int parse_fixed_header(ictal_edf *r, const uint8_t *h, int *ns_out, ictal_diag *d)
{
    ictal_edf_info *in = &r->info;
    int rc, comma = 0;

    /* Version. */
    if (h[0] == '0' && memcmp(h + 1, "       ", 7) == 0) {
        in->format = ICTAL_EDF_FORMAT_EDF;
    } else if (h[0] == 0xFF && memcmp(h + 1, "BIOSEMI", 7) == 0) {
        in->format = ICTAL_EDF_FORMAT_BDF;
    } else if (h[0] == '0') {
        in->format = ICTAL_EDF_FORMAT_EDF;
        loc(d, "version", 1, -1, -1);
        if ((rc = ictal_diag_warn(d, "version field is '0' followed by bytes other than spaces")))
            return rc;
    } else {
        loc(d, "version", 0, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                "expected \"0       \" (EDF) or 0xFF \"BIOSEMI\" (BDF), found "
                                "0x%02x%02x%02x%02x...: not an EDF or BDF file",
                                h[0], h[1], h[2], h[3]);
    }
    r->sample_bytes = in->format == ICTAL_EDF_FORMAT_BDF ? 3 : 2;

    if ((rc = check_ascii(r, h + 8, 80, "patient identification", 8, -1, d)) ||
        (rc = check_ascii(r, h + 88, 80, "recording identification", 88, -1, d)))
        return rc;
    field_copy(h + 8, 80, in->patient);
    field_copy(h + 88, 80, in->recording);
    sanitize_ascii(in->patient);
    sanitize_ascii(in->recording);

    /* Start date and time: dd.mm.yy hh.mm.ss. */
    int dd, mm, yy, hh, mi, ss;
    if (two_digits(h + 168, &dd) || two_digits(h + 171, &mm) || two_digits(h + 174, &yy)) {
        loc(d, "start date", 168, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected dd.mm.yy, found '%.8s'",
                                (const char *)h + 168);
    }
    if (two_digits(h + 176, &hh) || two_digits(h + 179, &mi) || two_digits(h + 182, &ss)) {
        loc(d, "start time", 176, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected hh.mm.ss, found '%.8s'",
                                (const char *)h + 176);
    }
    if (h[170] != '.' || h[173] != '.' || h[178] != '.' || h[181] != '.') {
        loc(d, h[170] != '.' || h[173] != '.' ? "start date" : "start time",
            h[170] != '.' || h[173] != '.' ? 168 : 176, -1, -1);
        if ((rc = ictal_diag_warn(d, "date and time fields must use '.' as separator")))
            return rc;
    }
    if (dd < 1 || dd > 31 || mm < 1 || mm > 12) {
        loc(d, "start date", 168, -1, -1);
        return ictal_diag_error(d, ICTAL_ERANGE, "day %d or month %d out of range in '%.8s'",
                                dd, mm, (const char *)h + 168);
    }
    if (hh > 23 || mi > 59 || ss > 59) {
        loc(d, "start time", 176, -1, -1);
        return ictal_diag_error(d, ICTAL_ERANGE, "hour, minute or second out of range in '%.8s'",
                                (const char *)h + 176);
    }
    in->year = yy >= 85 ? 1900 + yy : 2000 + yy;
    in->month = mm;
    in->day = dd;
    in->hour = hh;
    in->minute = mi;
    in->second = ss;

    /* Header size, reserved, records, duration, signal count. */
    int64_t hbytes, nrec, nsig;
    if (parse_int(h + 252, 4, &nsig)) {
        loc(d, "number of signals", 252, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected an integer, found '%.4s'",
                                (const char *)h + 252);
    }
    if (nsig < 1 || nsig > EDF_MAX_SIGNALS) {
        loc(d, "number of signals", 252, -1, -1);
        return ictal_diag_error(d, ICTAL_ERANGE, "%lld signals: expected 1 to %d",
                                (long long)nsig, EDF_MAX_SIGNALS);
    }
    if (parse_int(h + 184, 8, &hbytes)) {
        loc(d, "number of bytes in header", 184, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected an integer, found '%.8s'",
                                (const char *)h + 184);
    }
    if (hbytes != 256 * (nsig + 1)) {
        loc(d, "number of bytes in header", 184, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                "%lld bytes does not match %lld signals: expected %lld",
                                (long long)hbytes, (long long)nsig, (long long)(256 * (nsig + 1)));
    }
    if (parse_int(h + 236, 8, &nrec)) {
        loc(d, "number of data records", 236, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected an integer, found '%.8s'",
                                (const char *)h + 236);
    }
    if (nrec < -1) {
        loc(d, "number of data records", 236, -1, -1);
        return ictal_diag_error(d, ICTAL_ERANGE, "%lld: expected -1 (unknown) or a count >= 0",
                                (long long)nrec);
    }
    if (parse_real(h + 244, 8, &in->record_duration_s, &comma)) {
        loc(d, "duration of a data record", 244, -1, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected a number of seconds, found '%.8s'",
                                (const char *)h + 244);
    }
    if (in->record_duration_s < 0 || in->record_duration_s > EDF_MAX_DURATION_S) {
        loc(d, "duration of a data record", 244, -1, -1);
        return ictal_diag_error(d, ICTAL_ERANGE, "%g s: expected 0 to %g s",
                                in->record_duration_s, EDF_MAX_DURATION_S);
    }
    if (comma) {
        loc(d, "duration of a data record", 244, -1, -1);
        r->warned |= WARN_COMMA;
        if ((rc = ictal_diag_warn(d, "decimal comma instead of a point")))
            return rc;
    }
    in->header_bytes = hbytes;
    in->header_n_records = nrec;
    in->n_signals = (int)nsig;

    char reserved[48];
    field_copy(h + 192, 44, reserved);
    in->variant = ICTAL_EDF_VARIANT_PLAIN;
    if (strncmp(reserved, "EDF+C", 5) == 0 || strncmp(reserved, "BDF+C", 5) == 0)
        in->variant = ICTAL_EDF_VARIANT_PLUS_C;
    else if (strncmp(reserved, "EDF+D", 5) == 0 || strncmp(reserved, "BDF+D", 5) == 0)
        in->variant = ICTAL_EDF_VARIANT_PLUS_D;
    if (in->variant != ICTAL_EDF_VARIANT_PLAIN &&
        (reserved[0] == 'B') != (in->format == ICTAL_EDF_FORMAT_BDF)) {
        loc(d, "reserved", 192, -1, -1);
        if ((rc = ictal_diag_warn(d, "'%.5s' in a %s file", reserved,
                                  in->format == ICTAL_EDF_FORMAT_BDF ? "BDF" : "EDF")))
            return rc;
    }
    *ns_out = (int)nsig;
    return 0;
}

/* EDF+ "Startdate dd-MMM-yyyy": the 4-digit year (the header's yy stops at 2084). */
static int check_startdate(ictal_edf *r, ictal_diag *d)
{
    ictal_edf_info *in = &r->info;
    const char *s = in->recording;
    if (strncmp(s, "Startdate ", 10) != 0) {
        loc(d, "recording identification", 88, -1, -1);
        return ictal_diag_warn(d, "EDF+ recording field does not start with 'Startdate '");
    }
    if (strncmp(s + 10, "X", 1) == 0 && (s[11] == ' ' || s[11] == '\0'))
        return 0;
    int day = 0, year = 0, mon = 0;
    char m[4] = {0};
    if (strlen(s) >= 21 && s[12] == '-' && s[16] == '-' && sscanf(s + 10, "%2d", &day) == 1 &&
        sscanf(s + 17, "%4d", &year) == 1) {
        memcpy(m, s + 13, 3);
        for (int i = 0; i < 12; i++)
            if (strcmp(m, month_names[i]) == 0)
                mon = i + 1;
    }
    if (mon == 0 || year < 1985) {
        loc(d, "recording identification", 98, -1, -1);
        return ictal_diag_warn(d, "EDF+ Startdate: expected dd-MMM-yyyy or X, found '%.11s'",
                               s + 10);
    }
    if (day != in->day || mon != in->month || year % 100 != in->year % 100) {
        loc(d, "recording identification", 98, -1, -1);
        return ictal_diag_warn(d, "EDF+ Startdate %.11s disagrees with the start date field",
                               s + 10);
    }
    in->year = year;
    return 0;
}

/*
 * EDF+ wants an annotation signal's transducer, dimension, prefiltering and reserved
 * fields blank, its digital range the full 16 (24) bits and its physical range not
 * empty. Each deviation is one warning per file; EDFlib refuses a non-blank transducer
 * or prefiltering field (the BCI2000 files of eegmmidb have "HP:0Hz LP:0Hz N:0Hz").
 */
static int check_annotation_signal(ictal_edf *r, const uint8_t *h, int s, int64_t dmin,
                                   int64_t dmax, ictal_diag *d)
{
    static const struct {
        const char *name;
        int start, width;
        const char *edflib;
    } blank[] = {
        {"transducer type", 16, 80, " (EDFlib refuses such files)"},
        {"physical dimension", 96, 8, ""},
        {"prefiltering", 136, 80, " (EDFlib refuses such files)"},
        {"reserved (signal)", 224, 32, ""},
    };
    int ns = r->info.n_signals, rc;
    char text[128];
    for (unsigned k = 0; k < sizeof(blank) / sizeof(blank[0]); k++) {
        int64_t o = sig_field(ns, blank[k].start, blank[k].width, s);
        field_copy(h + o, blank[k].width, text);
        if (text[0] == '\0' || (r->warned & (WARN_ANNOT_FIELDS << k)))
            continue;
        r->warned |= WARN_ANNOT_FIELDS << k;
        sanitize_ascii(text);
        loc(d, blank[k].name, o, s, -1);
        if ((rc = ictal_diag_warn(d, "'%s' in an annotation signal, where EDF+ requires "
                                     "spaces%s", text, blank[k].edflib)))
            return rc;
    }
    int bdf = r->info.format == ICTAL_EDF_FORMAT_BDF;
    int64_t lo = bdf ? -8388608 : -32768, hi = bdf ? 8388607 : 32767;
    if ((dmin != lo || dmax != hi) && !(r->warned & (WARN_ANNOT_FIELDS << 4))) {
        r->warned |= WARN_ANNOT_FIELDS << 4;
        loc(d, dmin != lo ? "digital minimum" : "digital maximum",
            sig_field(ns, dmin != lo ? 120 : 128, 8, s), s, -1);
        if ((rc = ictal_diag_warn(d, "annotation signal with digital range %lld..%lld, where "
                                     "EDF+ requires %lld..%lld",
                                  (long long)dmin, (long long)dmax, (long long)lo, (long long)hi)))
            return rc;
    }
    return 0;
}

/* Reads the text field of signal s (at per-signal start k, w bytes) into out (w + 1
 * bytes): trimmed, with bytes outside printable ASCII warned about and replaced. */
static int text_field(ictal_edf *r, const uint8_t *h, int ns, int64_t k, int w, int s,
                      const char *name, char *out, ictal_diag *d)
{
    int64_t o = sig_field(ns, k, w, s);
    int rc = check_ascii(r, h + o, w, name, o, s, d);
    if (rc != 0)
        return rc;
    field_copy(h + o, w, out);
    sanitize_ascii(out);
    return 0;
}

/* Parses the digital minimum or maximum of signal s (field at per-signal start k) and
 * checks it fits the sample width: 16 bits for EDF, 24 for BDF. */
static int digital_field(const uint8_t *h, int ns, int64_t k, int s, const char *name,
                         int is_bdf, int64_t *out, ictal_diag *d)
{
    int64_t lo = is_bdf ? -8388608 : -32768, hi = is_bdf ? 8388607 : 32767;
    int64_t o = sig_field(ns, k, 8, s);
    if (parse_int(h + o, 8, out)) {
        loc(d, name, o, s, -1);
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected an integer, found '%.8s'",
                                (const char *)h + o);
    }
    if (*out < lo || *out > hi) {
        loc(d, name, o, s, -1);
        return ictal_diag_error(d, ICTAL_ERANGE, "%lld outside the %s range %lld..%lld",
                                (long long)*out, is_bdf ? "24-bit" : "16-bit", (long long)lo,
                                (long long)hi);
    }
    return 0;
}

static int parse_signal_headers(ictal_edf *r, const uint8_t *h, ictal_diag *d)
{
    ictal_edf_info *in = &r->info;
    int ns = in->n_signals, rc;
    int is_bdf = in->format == ICTAL_EDF_FORMAT_BDF;
    int64_t pos = 0;
    int n_annot = 0;
    char raw[128];

    for (int s = 0; s < ns; s++) {
        ictal_edf_signal *g = &r->sig[s];
        int64_t o;
        int comma = 0;
        if ((rc = text_field(r, h, ns, 0, 16, s, "label", g->label, d)) ||
            (rc = text_field(r, h, ns, 16, 80, s, "transducer type", g->transducer, d)))
            return rc;
        o = sig_field(ns, 96, 8, s);
        field_copy(h + o, 8, raw);
        g->uv_per_unit = uv_per_unit(raw);
        if ((rc = check_ascii(r, h + o, 8, "physical dimension", o, s, d)))
            return rc;
        field_copy(h + o, 8, g->dimension);
        if (sanitize_ascii(g->dimension) && g->uv_per_unit == 1.0 && strchr(raw, 'V'))
            strcpy(g->dimension, "uV"); /* "µV" in Latin-1 or UTF-8 */
        if ((rc = text_field(r, h, ns, 136, 80, s, "prefiltering", g->prefilter, d)))
            return rc;
        o = sig_field(ns, 224, 32, s);
        if ((rc = check_ascii(r, h + o, 32, "reserved (signal)", o, s, d)))
            return rc;

        g->is_annotation = strcmp(g->label, "EDF Annotations") == 0 ||
                           strcmp(g->label, "BDF Annotations") == 0;

        o = sig_field(ns, 104, 8, s);
        if (parse_real(h + o, 8, &g->physical_min, &comma)) {
            loc(d, "physical minimum", o, s, -1);
            return ictal_diag_error(d, ICTAL_EFORMAT, "expected a number, found '%.8s'",
                                    (const char *)h + o);
        }
        o = sig_field(ns, 112, 8, s);
        if (parse_real(h + o, 8, &g->physical_max, &comma)) {
            loc(d, "physical maximum", o, s, -1);
            return ictal_diag_error(d, ICTAL_EFORMAT, "expected a number, found '%.8s'",
                                    (const char *)h + o);
        }
        if (comma && !(r->warned & WARN_COMMA)) {
            r->warned |= WARN_COMMA;
            loc(d, "physical minimum", o, s, -1);
            if ((rc = ictal_diag_warn(d, "decimal comma instead of a point")))
                return rc;
        }
        int64_t dmin, dmax, spr;
        if ((rc = digital_field(h, ns, 120, s, "digital minimum", is_bdf, &dmin, d)))
            return rc;
        o = sig_field(ns, 128, 8, s);
        if ((rc = digital_field(h, ns, 128, s, "digital maximum", is_bdf, &dmax, d)))
            return rc;
        if (dmin >= dmax && !g->is_annotation) {
            loc(d, "digital maximum", o, s, -1);
            return ictal_diag_error(d, ICTAL_EFORMAT,
                                    "digital minimum %lld must be below digital maximum %lld",
                                    (long long)dmin, (long long)dmax);
        }
        if (g->physical_min == g->physical_max && !g->is_annotation) {
            o = sig_field(ns, 112, 8, s);
            loc(d, "physical maximum", o, s, -1);
            return ictal_diag_error(d, ICTAL_EFORMAT,
                                    "physical minimum and maximum are both %g: no scale",
                                    g->physical_min);
        }
        o = sig_field(ns, 216, 8, s);
        if (parse_int(h + o, 8, &spr)) {
            loc(d, "number of samples in each data record", o, s, -1);
            return ictal_diag_error(d, ICTAL_EFORMAT, "expected an integer, found '%.8s'",
                                    (const char *)h + o);
        }
        if (spr < 1 || spr * r->sample_bytes > EDF_MAX_RECORD_BYTES) {
            loc(d, "number of samples in each data record", o, s, -1);
            return ictal_diag_error(d, ICTAL_ERANGE, "%lld: expected 1 to %d", (long long)spr,
                                    EDF_MAX_RECORD_BYTES / r->sample_bytes);
        }
        g->digital_min = (int32_t)dmin;
        g->digital_max = (int32_t)dmax;
        g->samples_per_record = (int32_t)spr;
        g->byte_in_record = pos;
        pos += spr * r->sample_bytes;
        if (pos > EDF_MAX_RECORD_BYTES) {
            loc(d, "number of samples in each data record", o, s, -1);
            return ictal_diag_error(d, ICTAL_ERANGE, "a data record of more than %d bytes",
                                    EDF_MAX_RECORD_BYTES);
        }
        g->rate_hz = in->record_duration_s > 0 ? (double)spr / in->record_duration_s : 0;
        if (g->is_annotation) {
            g->gain = 1;
            g->offset = 0;
            n_annot++;
            if ((rc = check_annotation_signal(r, h, s, dmin, dmax, d)))
                return rc;
        } else {
            g->gain = (g->physical_max - g->physical_min) / (double)(dmax - dmin);
            g->offset = g->physical_max - g->gain * (double)dmax;
            in->n_data_signals++;
        }
    }
    in->record_bytes = pos;

    if (in->record_duration_s == 0 && in->n_data_signals > 0) {
        loc(d, "duration of a data record", 244, -1, -1);
        if ((rc = ictal_diag_warn(d, "0 s with %d data signals: sampling rates unknown",
                                  in->n_data_signals)))
            return rc;
    }
    if (n_annot > 0 && in->variant == ICTAL_EDF_VARIANT_PLAIN) {
        loc(d, "reserved", 192, -1, -1);
        if ((rc = ictal_diag_warn(d, "annotation signal present but the reserved field does not "
                                     "say EDF+C or EDF+D: read as EDF+C")))
            return rc;
        in->variant = ICTAL_EDF_VARIANT_PLUS_C;
    }
    if (n_annot == 0 && in->variant != ICTAL_EDF_VARIANT_PLAIN) {
        loc(d, "reserved", 192, -1, -1);
        if ((rc = ictal_diag_warn(d, "EDF+/BDF+ file without an annotation signal: record "
                                     "times assumed contiguous")))
            return rc;
    }
    if (in->variant != ICTAL_EDF_VARIANT_PLAIN && (rc = check_startdate(r, d)))
        return rc;
    return 0;
}

/* Complete records in the file, against the header's count. */
static int count_records(ictal_edf *r, ictal_diag *d)
{
    ictal_edf_info *in = &r->info;
    int rc;
    if (r->file_size < in->header_bytes) {
        loc(d, "number of bytes in header", r->file_size, -1, -1);
        return ictal_diag_error(d, ICTAL_ETRUNC,
                                "the file ends at byte %lld, inside the %lld-byte header",
                                (long long)r->file_size, (long long)in->header_bytes);
    }
    int64_t data = r->file_size - in->header_bytes;
    int64_t avail = data / in->record_bytes, rem = data % in->record_bytes;
    int64_t hn = in->header_n_records;
    if (hn == -1) {
        in->n_records = avail;
        in->truncated_bytes = rem;
        loc(d, "number of data records", 236, -1, -1);
        if ((rc = ictal_diag_warn(d, "-1 (file still being written or not closed): %lld "
                                     "records from the file size", (long long)avail)))
            return rc;
        if (rem) {
            loc(d, "number of data records", in->header_bytes + avail * in->record_bytes, -1,
                avail);
            return ictal_diag_warn(d, "last record truncated: %lld of its %lld bytes present",
                                   (long long)rem, (long long)in->record_bytes);
        }
        return 0;
    }
    if (avail < hn) {
        in->n_records = avail;
        in->truncated_bytes = rem;
        loc(d, "number of data records", in->header_bytes + avail * in->record_bytes, -1, avail);
        return ictal_diag_warn(d, "file truncated: header says %lld records, the file holds "
                                  "%lld complete records%s (%lld bytes of record %lld)",
                               (long long)hn, (long long)avail, "", (long long)rem,
                               (long long)avail);
    }
    in->n_records = hn;
    if (avail > hn || rem) {
        loc(d, "number of data records", in->header_bytes + hn * in->record_bytes, -1, hn);
        return ictal_diag_warn(d, "%lld bytes after the %lld records the header declares "
                                  "(ignored)",
                               (long long)(data - hn * in->record_bytes), (long long)hn);
    }
    return 0;
}

/* ----------------------------------------------------------------------------------
 * Annotations and record times
 * -------------------------------------------------------------------------------- */

static int add_annotation(ictal_edf *r, const ictal_tal *t, int sig, int64_t rec,
                          ictal_diag *d)
{
    if (r->n_ann >= EDF_MAX_ANNOTATIONS) {
        loc(d, "TAL", -1, sig, rec);
        return warn_once(r, WARN_MANY, d, "more than 1048576 annotations: the rest ignored");
    }
    if (r->n_ann == r->cap_ann) {
        size_t cap = r->cap_ann ? r->cap_ann * 2 : 64;
        ictal_edf_annotation *grown = realloc(r->ann, cap * sizeof(*grown));
        if (grown == NULL)
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory for annotations");
        r->ann = grown;
        r->cap_ann = cap;
    }
    char *text = malloc(t->text_len + 1);
    if (text == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory for annotations");
    memcpy(text, t->text, t->text_len);
    text[t->text_len] = '\0';
    if (sanitize_utf8(text) && !(r->warned & WARN_UTF8)) {
        r->warned |= WARN_UTF8;
        loc(d, "TAL", -1, sig, rec);
        int rc = ictal_diag_warn(d, "annotation text is not valid UTF-8 (bad bytes read as '?')");
        if (rc) {
            free(text);
            return rc;
        }
    }
    ictal_edf_annotation *a = &r->ann[r->n_ann++];
    a->onset_s = t->onset_s;
    a->duration_s = t->duration_s;
    a->text = text;
    a->signal = sig;
    a->record = rec;
    return 0;
}

/* Stable merge sort of the annotations by onset. */
static int sort_annotations(ictal_edf *r)
{
    size_t n = r->n_ann;
    if (n < 2)
        return 0;
    ictal_edf_annotation *tmp = malloc(n * sizeof(*tmp));
    if (tmp == NULL)
        return ICTAL_ENOMEM;
    ictal_edf_annotation *a = r->ann, *b = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = a[j].onset_s < a[i].onset_s ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        ictal_edf_annotation *t = a;
        a = b;
        b = t;
    }
    if (a != r->ann)
        memcpy(r->ann, a, n * sizeof(*a));
    free(tmp);
    return 0;
}

static int scan_annotations(ictal_edf *r, const ictal_edf_options *opt, ictal_diag *d)
{
    ictal_edf_info *in = &r->info;
    int ns = in->n_signals, rc = 0;
    int first_annot = -1;
    int64_t lo = INT64_MAX, hi = 0;
    for (int s = 0; s < ns; s++)
        if (r->sig[s].is_annotation) {
            if (first_annot < 0)
                first_annot = s;
            int64_t b = r->sig[s].byte_in_record;
            int64_t e = b + (int64_t)r->sig[s].samples_per_record * r->sample_bytes;
            lo = b < lo ? b : lo;
            hi = e > hi ? e : hi;
        }
    int is_d = in->variant == ICTAL_EDF_VARIANT_PLUS_D;
    if (first_annot < 0 || in->n_records == 0 || (opt && opt->skip_annotations && !is_d))
        return 0;
    int want_annots = !(opt && opt->skip_annotations);

    double dur = in->record_duration_s;
    double max_rate = 0;
    for (int s = 0; s < ns; s++)
        if (!r->sig[s].is_annotation && r->sig[s].rate_hz > max_rate)
            max_rate = r->sig[s].rate_hz;
    /* Records closer than half a sample are contiguous; TAL times have 7 decimals. */
    double tol = max_rate > 0 ? 0.5 / max_rate : 1e-6;
    if (tol < 1e-6)
        tol = 1e-6;

    double *start = malloc((size_t)in->n_records * sizeof(double));
    uint8_t *area = malloc((size_t)(hi - lo));
    if (start == NULL || area == NULL) {
        free(start);
        free(area);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory for %lld record times",
                                (long long)in->n_records);
    }
    double t0 = 0;
    for (int64_t rec = 0; rec < in->n_records; rec++) {
        int64_t off = in->header_bytes + rec * in->record_bytes + lo;
        int64_t got = src_read(r, off, area, (size_t)(hi - lo));
        if (got != hi - lo) {
            loc(d, "data record", off, first_annot, rec);
            rc = ictal_diag_error(d, got < 0 ? ICTAL_EIO : ICTAL_ETRUNC,
                                  "could not read the annotations of record %lld",
                                  (long long)rec);
            goto out;
        }
        int have_tk = 0;
        double tk = 0;
        for (int s = first_annot; s < ns; s++) {
            const ictal_edf_signal *g = &r->sig[s];
            if (!g->is_annotation)
                continue;
            ictal_tal_iter it;
            ictal_tal t;
            size_t n = (size_t)g->samples_per_record * (size_t)r->sample_bytes;
            ictal_tal_iter_init(&it, area + (g->byte_in_record - lo), n);
            it.base_offset = in->header_bytes + rec * in->record_bytes + g->byte_in_record;
            int first = 1;
            while ((rc = ictal_tal_next(&it, &t, d)) == 1) {
                if (s == first_annot && first) {
                    first = 0;
                    if (t.first_in_tal && t.text_len == 0) {
                        have_tk = 1;
                        tk = t.onset_s;
                        continue;
                    }
                }
                first = 0;
                if (t.text_len > 0 && want_annots &&
                    (rc = add_annotation(r, &t, s, rec, d)) != 0)
                    goto out;
            }
            if (rc < 0) {
                if (d != NULL) {
                    d->signal = s;
                    d->record = rec;
                }
                goto out;
            }
        }
        if (!have_tk) {
            loc(d, "TAL", in->header_bytes + rec * in->record_bytes + r->sig[first_annot].byte_in_record,
                first_annot, rec);
            if (is_d) {
                rc = ictal_diag_error(d, ICTAL_EFORMAT,
                                      "EDF+D record without a timekeeping TAL ('+onset\\x14\\x14') "
                                      "first in its annotation signal: its start is unknown");
                goto out;
            }
            if ((rc = warn_once(r, WARN_NO_TK, d,
                                "record without a timekeeping TAL first in its annotation "
                                "signal: record times assumed contiguous")))
                goto out;
            tk = rec == 0 ? 0 : start[rec - 1] + dur;
        }
        if (rec == 0) {
            t0 = tk;
            start[0] = 0;
            continue;
        }
        double t = tk - t0, expect = start[rec - 1] + dur;
        if (is_d) {
            if (t < expect - tol) {
                loc(d, "TAL", in->header_bytes + rec * in->record_bytes + r->sig[first_annot].byte_in_record,
                    first_annot, rec);
                rc = ictal_diag_error(d, ICTAL_EFORMAT,
                                      "record starts at %.7g s, before the end of the previous "
                                      "record at %.7g s",
                                      t, expect);
                goto out;
            }
            start[rec] = t < expect + tol ? expect : t;
        } else {
            if (fabs(t - expect) > tol && have_tk) {
                loc(d, "TAL", in->header_bytes + rec * in->record_bytes + r->sig[first_annot].byte_in_record,
                    first_annot, rec);
                char msg[160];
                snprintf(msg, sizeof(msg), "EDF+C record starts at %.7g s by its timekeeping TAL, "
                         "expected %.7g s: read as contiguous", t, expect);
                if ((rc = warn_once(r, WARN_CONTIG, d, msg)))
                    goto out;
            }
            start[rec] = expect;
        }
    }
    /* Time origin: the start of record 0. */
    for (size_t i = 0; i < r->n_ann; i++)
        r->ann[i].onset_s -= t0;
    if (t0 < 0 || t0 >= 1) {
        loc(d, "TAL", in->header_bytes + r->sig[first_annot].byte_in_record, first_annot, 0);
        if ((rc = ictal_diag_warn(d, "first record starts %.7g s after the header's start time; "
                                     "expected 0 <= offset < 1", t0)))
            goto out;
    }
    double whole = floor(t0);
    in->start_subsecond_s = t0 - whole;
    if (whole != 0 && fabs(whole) < 1e9) {
        int64_t days = ictal__days_from_civil(in->year, in->month, in->day);
        int64_t secs = days * 86400 + in->hour * 3600 + in->minute * 60 + in->second + (int64_t)whole;
        int64_t dd = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        int64_t sod = secs - dd * 86400;
        ictal__civil_from_days(dd, &in->year, &in->month, &in->day);
        in->hour = (int)(sod / 3600);
        in->minute = (int)(sod / 60 % 60);
        in->second = (int)(sod % 60);
    }
    if (is_d) {
        r->rec_start = start;
        start = NULL;
    }
    rc = sort_annotations(r);
    if (rc)
        rc = ictal_diag_error(d, rc, "out of memory sorting annotations");
out:
    free(start);
    free(area);
    return rc;
}

static int build_gaps(ictal_edf *r, ictal_diag *d)
{
    ictal_edf_info *in = &r->info;
    if (r->rec_start == NULL)
        return 0;
    size_t n = 0;
    for (int64_t i = 1; i < in->n_records; i++)
        if (r->rec_start[i] > r->rec_start[i - 1] + in->record_duration_s)
            n++;
    if (n == 0)
        return 0;
    r->gaps = malloc(n * sizeof(*r->gaps));
    if (r->gaps == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory for gaps");
    n = 0;
    for (int64_t i = 1; i < in->n_records; i++) {
        double end = r->rec_start[i - 1] + in->record_duration_s;
        if (r->rec_start[i] > end) {
            r->gaps[n].start_s = end;
            r->gaps[n].duration_s = r->rec_start[i] - end;
            r->gaps[n].before_record = i;
            n++;
        }
    }
    in->n_gaps = n;
    in->gaps = r->gaps;
    return 0;
}

/* ----------------------------------------------------------------------------------
 * Open and close
 * -------------------------------------------------------------------------------- */

static int open_common(ictal_edf *r, const ictal_edf_options *opt, ictal_diag *d)
{
    ictal_edf_info *in = &r->info;
    uint8_t fixed[256];
    int rc, ns = 0;
    int64_t got = src_read(r, 0, fixed, 256);
    if (got < 0) {
        loc(d, NULL, 0, -1, -1);
        return ictal_diag_error(d, ICTAL_EIO, "read failed: %s", strerror(errno));
    }
    if (got < 256) {
        loc(d, "version", got, -1, -1);
        return ictal_diag_error(d, ICTAL_ETRUNC,
                                "the file has %lld bytes, less than the 256-byte EDF header",
                                (long long)got);
    }
    if ((rc = parse_fixed_header(r, fixed, &ns, d)))
        return rc;
    size_t hsize = (size_t)in->header_bytes;
    if (r->file_size < (int64_t)hsize) {
        loc(d, "number of signals", 252, -1, -1);
        return ictal_diag_error(d, ICTAL_ETRUNC,
                                "%d signals need a %zu-byte header but the file has %lld bytes",
                                ns, hsize, (long long)r->file_size);
    }
    uint8_t *h = malloc(hsize);
    r->sig = calloc((size_t)ns, sizeof(*r->sig));
    if (h == NULL || r->sig == NULL) {
        free(h);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory for %d signal headers", ns);
    }
    if (src_read(r, 0, h, hsize) != (int64_t)hsize) {
        free(h);
        loc(d, NULL, 256, -1, -1);
        return ictal_diag_error(d, ICTAL_EIO, "could not read the signal headers");
    }
    in->signals = r->sig;
    rc = parse_signal_headers(r, h, d);
    free(h);
    if (rc)
        return rc;
    if ((rc = count_records(r, d)))
        return rc;
    if ((rc = scan_annotations(r, opt, d)))
        return rc;
    if ((rc = build_gaps(r, d)))
        return rc;
    in->annotations = r->ann;
    in->n_annotations = r->n_ann;
    in->duration_s = r->rec_start && in->n_records > 0
                         ? r->rec_start[in->n_records - 1] + in->record_duration_s
                         : (double)in->n_records * in->record_duration_s;
    int n = snprintf(in->start_iso, sizeof(in->start_iso), "%04d-%02d-%02dT%02d:%02d:%02d",
                     in->year, in->month, in->day, in->hour, in->minute, in->second);
    if (in->start_subsecond_s > 0 && n > 0) {
        char frac[16];
        snprintf(frac, sizeof(frac), "%.6f", in->start_subsecond_s);
        size_t k = strlen(frac);
        while (k > 2 && frac[k - 1] == '0')
            frac[--k] = '\0';
        if (strcmp(frac, "1.") != 0 && frac[1] == '.') /* "0.394531" -> ".394531" */
            snprintf(in->start_iso + n, sizeof(in->start_iso) - (size_t)n, "%s", frac + 1);
    }
    return 0;
}

static ictal_edf *alloc_reader(void)
{
    ictal_edf *r = calloc(1, sizeof(*r));
    if (r != NULL)
        r->fd = -1;
    return r;
}

int ictal_edf_open(ictal_edf **out, const char *path, const ictal_edf_options *opt,
                   ictal_diag *d)
{
    if (out == NULL || path == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "ictal_edf_open: NULL argument");
    *out = NULL;
    if (d != NULL) {
        ictal_diag_clear(d);
        if (d->source == NULL)
            d->source = path;
    }
    ictal_edf *r = alloc_reader();
    if (r == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        free(r);
        return ictal__open_error(d, e);
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ictal_edf_close(r);
        return ictal_diag_error(d, ICTAL_EIO, "not a regular file");
    }
    r->file_size = (int64_t)st.st_size;
    int rc = open_common(r, opt, d);
    if (rc) {
        ictal_edf_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int ictal_edf_open_memory(ictal_edf **out, const void *data, size_t size,
                          const ictal_edf_options *opt, ictal_diag *d)
{
    if (out == NULL || (data == NULL && size > 0))
        return ictal_diag_error(d, ICTAL_EINVAL, "ictal_edf_open_memory: NULL argument");
    *out = NULL;
    if (d != NULL) {
        ictal_diag_clear(d);
        if (d->source == NULL)
            d->source = "(memory)";
    }
    ictal_edf *r = alloc_reader();
    if (r == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    r->mem = data;
    r->file_size = (int64_t)size;
    int rc = open_common(r, opt, d);
    if (rc) {
        ictal_edf_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void ictal_edf_close(ictal_edf *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    for (size_t i = 0; i < r->n_ann; i++)
        free(r->ann[i].text);
    free(r->ann);
    free(r->sig);
    free(r->rec_start);
    free(r->gaps);
    free(r->chunk);
    free(r->rec_buf);
    free(r);
}

const ictal_edf_info *ictal_edf_get_info(const ictal_edf *r)
{
    return &r->info;
}

/* ----------------------------------------------------------------------------------
 * Time
 * -------------------------------------------------------------------------------- */

int ictal_edf_record_start(const ictal_edf *r, int64_t rec, double *start_s)
{
    if (rec < 0 || rec >= r->info.n_records)
        return ICTAL_ENOENT;
    *start_s = r->rec_start ? r->rec_start[rec] : (double)rec * r->info.record_duration_s;
    return 0;
}

int ictal_edf_find_time(const ictal_edf *r, double t_s, int64_t *rec)
{
    const ictal_edf_info *in = &r->info;
    if (!(t_s >= 0) || t_s >= in->duration_s || in->n_records == 0)
        return ICTAL_ENOENT;
    if (r->rec_start == NULL) {
        int64_t i = in->record_duration_s > 0 ? (int64_t)(t_s / in->record_duration_s) : 0;
        *rec = i < in->n_records ? i : in->n_records - 1;
        return 0;
    }
    /* Last record starting at or before t_s. */
    int64_t lo = 0, hi = in->n_records - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (r->rec_start[mid] <= t_s)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (t_s >= r->rec_start[lo] + in->record_duration_s && lo + 1 < in->n_records)
        lo++; /* in the gap after record lo */
    *rec = lo;
    return 0;
}

int ictal_edf_find_signal(const ictal_edf *r, const char *label)
{
    for (int s = 0; s < r->info.n_signals; s++)
        if (strcmp(r->sig[s].label, label) == 0)
            return s;
    return -1;
}

/* ----------------------------------------------------------------------------------
 * Data
 * -------------------------------------------------------------------------------- */

int ictal_edf_read_record_raw(ictal_edf *r, int64_t rec, void *buf, size_t size, ictal_diag *d)
{
    const ictal_edf_info *in = &r->info;
    if (rec < 0 || rec >= in->n_records) {
        loc(d, NULL, -1, -1, rec);
        return ictal_diag_error(d, ICTAL_ENOENT, "no record %lld (the file has %lld)",
                                (long long)rec, (long long)in->n_records);
    }
    if (size < (size_t)in->record_bytes)
        return ictal_diag_error(d, ICTAL_ENOMEM, "buffer of %zu bytes for a %lld-byte record",
                                size, (long long)in->record_bytes);
    int64_t off = in->header_bytes + rec * in->record_bytes;
    int64_t got = src_read(r, off, buf, (size_t)in->record_bytes);
    if (got != in->record_bytes) {
        loc(d, "data record", off + (got > 0 ? got : 0), -1, rec);
        return ictal_diag_error(d, got < 0 ? ICTAL_EIO : ICTAL_ETRUNC,
                                "the file ends inside record %lld", (long long)rec);
    }
    return 0;
}

static inline int32_t get_sample(const uint8_t *p, int sb)
{
    if (sb == 2)
        return (int16_t)(uint16_t)(p[0] | (p[1] << 8));
    int32_t v = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16));
    return (v ^ 0x800000) - 0x800000;
}

/*
 * The bytes [off, off + n) of record rec: a pointer into the caller's memory, or into
 * rec_buf after one positioned read. Only the slice asked for is read, so reading one
 * signal costs its own bytes, not whole records.
 */
static int read_slice(ictal_edf *r, int64_t rec, int64_t off, size_t n, const uint8_t **p,
                      ictal_diag *d)
{
    const ictal_edf_info *in = &r->info;
    int64_t at = in->header_bytes + rec * in->record_bytes + off;
    if (r->fd < 0) {
        if (at + (int64_t)n > r->file_size) {
            loc(d, "data record", r->file_size, -1, rec);
            return ictal_diag_error(d, ICTAL_ETRUNC, "the data ends inside record %lld",
                                    (long long)rec);
        }
        *p = r->mem + at;
        return 0;
    }
    if (r->rec_buf == NULL) {
        r->rec_buf = malloc((size_t)in->record_bytes);
        if (r->rec_buf == NULL)
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory for a record");
    }
    int64_t got = src_read(r, at, r->rec_buf, n);
    if (got != (int64_t)n) {
        loc(d, "data record", at + (got > 0 ? got : 0), -1, rec);
        return ictal_diag_error(d, got < 0 ? ICTAL_EIO : ICTAL_ETRUNC,
                                "the file ends inside record %lld", (long long)rec);
    }
    *p = r->rec_buf;
    return 0;
}

static int read_samples(ictal_edf *r, int signal, int64_t first, size_t n, double *phys,
                        int32_t *dig, size_t *n_read, ictal_diag *d)
{
    const ictal_edf_info *in = &r->info;
    if (n_read)
        *n_read = 0;
    if (signal < 0 || signal >= in->n_signals || r->sig[signal].is_annotation || first < 0) {
        loc(d, NULL, -1, signal, -1);
        return ictal_diag_error(d, ICTAL_EINVAL, "signal %d is not a data signal, or first < 0",
                                signal);
    }
    const ictal_edf_signal *g = &r->sig[signal];
    int64_t spr = g->samples_per_record, total = spr * in->n_records;
    int sb = r->sample_bytes;
    if (first >= total)
        return 0;
    if ((int64_t)n > total - first)
        n = (size_t)(total - first);
    size_t done = 0;
    while (done < n) {
        int64_t idx = first + (int64_t)done, rec = idx / spr, k = idx % spr;
        size_t m = (size_t)(spr - k);
        if (m > n - done)
            m = n - done;
        const uint8_t *p = NULL;
        int rc = read_slice(r, rec, g->byte_in_record + k * sb, m * (size_t)sb, &p, d);
        if (rc) {
            if (d)
                d->signal = signal;
            if (n_read)
                *n_read = done;
            return rc;
        }
        if (phys != NULL) {
            double *o = phys + done;
            if (sb == 2)
                for (size_t i = 0; i < m; i++)
                    o[i] = g->gain * (double)(int16_t)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)) +
                           g->offset;
            else
                for (size_t i = 0; i < m; i++)
                    o[i] = g->gain * (double)get_sample(p + 3 * i, 3) + g->offset;
        } else {
            for (size_t i = 0; i < m; i++)
                dig[done + i] = get_sample(p + i * (size_t)sb, sb);
        }
        done += m;
    }
    if (n_read)
        *n_read = done;
    return 0;
}

int ictal_edf_read_physical(ictal_edf *r, int signal, int64_t first, size_t n, double *out,
                            size_t *n_read, ictal_diag *d)
{
    return read_samples(r, signal, first, n, out, NULL, n_read, d);
}

int ictal_edf_read_digital(ictal_edf *r, int signal, int64_t first, size_t n, int32_t *out,
                           size_t *n_read, ictal_diag *d)
{
    return read_samples(r, signal, first, n, NULL, out, n_read, d);
}

/*
 * The conversion loops: the samples of one signal in one record to float, out[i*stride].
 * Kept separate per width and stride so the compiler vectorises the common case.
 */
static void decode16(const uint8_t *p, int32_t n, float *out, float g, float o)
{
    for (int32_t i = 0; i < n; i++) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        int16_t v;
        memcpy(&v, p + 2 * i, 2);
#else
        int16_t v = (int16_t)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
#endif
        out[i] = (float)v * g + o;
    }
}

static void decode16_strided(const uint8_t *p, int32_t n, float *out, size_t stride, float g,
                             float o)
{
    for (int32_t i = 0; i < n; i++) {
        int16_t v = (int16_t)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        out[(size_t)i * stride] = (float)v * g + o;
    }
}

static void decode24(const uint8_t *p, int32_t n, float *out, size_t stride, float g, float o)
{
    for (int32_t i = 0; i < n; i++, p += 3) {
        int32_t v = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16));
        v = (v ^ 0x800000) - 0x800000;
        out[(size_t)i * stride] = (float)((double)v * g + o);
    }
}

static int read_bulk(ictal_edf *r, int64_t first, int64_t nrec, const int *signals, int n_sel,
                     float *const *per_signal, float *frames, ictal_diag *d)
{
    const ictal_edf_info *in = &r->info;
    if (n_sel < 0 || first < 0 || nrec < 0 || (signals == NULL && n_sel != in->n_data_signals))
        return ictal_diag_error(d, ICTAL_EINVAL, "bad record range or signal selection");
    if (nrec > in->n_records - first) { /* not first + nrec: that may overflow */
        loc(d, NULL, -1, -1, first < in->n_records ? in->n_records : first);
        return ictal_diag_error(d, ICTAL_ENOENT,
                                "%lld records from record %lld asked, the file has %lld",
                                (long long)nrec, (long long)first, (long long)in->n_records);
    }
    enum { SEL_STACK = 64 };
    int sel_stack[SEL_STACK];
    int *sel = n_sel <= SEL_STACK ? sel_stack : malloc((size_t)n_sel * sizeof(int));
    if (sel == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    int k = 0, rc = 0;
    for (int s = 0; s < in->n_signals && signals == NULL && k < n_sel; s++)
        if (!r->sig[s].is_annotation)
            sel[k++] = s;
    for (int i = 0; i < n_sel && signals != NULL; i++) {
        int s = signals[i];
        if (s < 0 || s >= in->n_signals || r->sig[s].is_annotation) {
            loc(d, NULL, -1, s, -1);
            rc = ictal_diag_error(d, ICTAL_EINVAL, "signal %d is not a data signal", s);
            goto out;
        }
        if (frames && r->sig[s].samples_per_record != r->sig[signals[0]].samples_per_record) {
            loc(d, NULL, -1, s, -1);
            rc = ictal_diag_error(d, ICTAL_EINVAL,
                                  "interleaved frames need one rate: signal %d has %d samples "
                                  "per record, signal %d has %d",
                                  s, r->sig[s].samples_per_record, signals[0],
                                  r->sig[signals[0]].samples_per_record);
            goto out;
        }
        sel[i] = s;
    }
    if (frames && signals == NULL)
        for (int i = 1; i < n_sel; i++)
            if (r->sig[sel[i]].samples_per_record != r->sig[sel[0]].samples_per_record) {
                loc(d, NULL, -1, sel[i], -1);
                rc = ictal_diag_error(d, ICTAL_EINVAL,
                                      "interleaved frames need one rate for every signal");
                goto out;
            }
    if (nrec == 0 || n_sel == 0)
        goto out;

    int64_t rb = in->record_bytes;
    int64_t per_chunk = EDF_CHUNK_BYTES / rb;
    if (per_chunk < 1)
        per_chunk = 1;
    if (r->fd >= 0 && r->chunk_size < (size_t)(per_chunk * rb)) {
        free(r->chunk);
        r->chunk_size = 0;
        r->chunk = malloc((size_t)(per_chunk * rb));
        if (r->chunk == NULL) {
            rc = ictal_diag_error(d, ICTAL_ENOMEM, "out of memory for the read buffer");
            goto out;
        }
        r->chunk_size = (size_t)(per_chunk * rb);
    }
    int sb = r->sample_bytes;
    for (int64_t done = 0; done < nrec;) {
        int64_t m = nrec - done < per_chunk ? nrec - done : per_chunk;
        int64_t off = in->header_bytes + (first + done) * rb;
        const uint8_t *base;
        if (r->fd < 0) {
            if (off + m * rb > r->file_size) {
                loc(d, "data record", r->file_size, -1, (r->file_size - in->header_bytes) / rb);
                rc = ictal_diag_error(d, ICTAL_ETRUNC, "the data ends inside a record");
                goto out;
            }
            base = r->mem + off;
        } else {
            int64_t got = src_read(r, off, r->chunk, (size_t)(m * rb));
            if (got != m * rb) {
                int64_t bad = first + done + (got > 0 ? got / rb : 0);
                loc(d, "data record", off + (got > 0 ? got : 0), -1, bad);
                rc = ictal_diag_error(d, got < 0 ? ICTAL_EIO : ICTAL_ETRUNC,
                                      "the file ends inside record %lld", (long long)bad);
                goto out;
            }
            base = r->chunk;
        }
        for (int64_t j = 0; j < m; j++) {
            const uint8_t *rec = base + j * rb;
            int64_t ri = done + j;
            for (int i = 0; i < n_sel; i++) {
                const ictal_edf_signal *g = &r->sig[sel[i]];
                int32_t spr = g->samples_per_record;
                float gain = (float)(g->gain * g->uv_per_unit);
                float offs = (float)(g->offset * g->uv_per_unit);
                const uint8_t *p = rec + g->byte_in_record;
                if (per_signal) {
                    float *o = per_signal[i] + ri * spr;
                    if (sb == 2)
                        decode16(p, spr, o, gain, offs);
                    else
                        decode24(p, spr, o, 1, gain, offs);
                } else {
                    float *o = frames + (size_t)ri * (size_t)spr * (size_t)n_sel + (size_t)i;
                    if (sb == 2)
                        decode16_strided(p, spr, o, (size_t)n_sel, gain, offs);
                    else
                        decode24(p, spr, o, (size_t)n_sel, gain, offs);
                }
            }
        }
        done += m;
    }
out:
    if (sel != sel_stack)
        free(sel);
    return rc;
}

int ictal_edf_read_float(ictal_edf *r, int64_t first_record, int64_t n_records,
                         const int *signals, int n_sel, float *const *out, ictal_diag *d)
{
    if (out == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "out is NULL");
    return read_bulk(r, first_record, n_records, signals, n_sel, out, NULL, d);
}

int ictal_edf_read_frames(ictal_edf *r, int64_t first_record, int64_t n_records,
                          const int *signals, int n_sel, float *frames, ictal_diag *d)
{
    if (frames == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "frames is NULL");
    return read_bulk(r, first_record, n_records, signals, n_sel, NULL, frames, d);
}
