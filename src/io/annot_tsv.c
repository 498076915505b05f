/*
 * SzCORE / BIDS *_events.tsv (see include/ictal/annot.h and DESIGN.md section 4).
 *
 * The reference reads these files with pandas and builds its masks from
 * int(onset * fs) .. int((onset + duration) * fs) over int(recordingDuration * fs)
 * samples; the checks below refuse what would make those masks meaningless
 * (negative times, events past the end, disagreeing durations) instead of letting a
 * slice silently clip them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/annot.h"
#include "textio.h"

/* Far beyond any recording (about 30 years), small enough that times * rate stay exact
 * in int64 arithmetic downstream. */
#define TSV_MAX_SECONDS 1e9

enum { COL_ONSET, COL_DURATION, COL_EVENT_TYPE, COL_CONFIDENCE, COL_CHANNELS, COL_DATE_TIME,
       COL_RECORDING_DURATION, COL_COUNT };

static const char *const column_names[COL_COUNT] = {
    "onset", "duration", "eventType", "confidence", "channels", "dateTime", "recordingDuration"};

typedef struct {
    const char *p;
    size_t len;
} span;

static int span_is(span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

static span span_trim(span s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\r'))
        s.p++, s.len--;
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\r'))
        s.len--;
    return s;
}

static int is_na(span s)
{
    return s.len == 0 || span_is(s, "n/a");
}

static int parse_number(span s, double *out)
{
    return ictal__parse_decimal(s.p, s.len, out);
}

/* Splits one line into at most max fields at tabs; returns the field count, or
 * max + 1 when there are more. */
static size_t split_fields(span line, span *fields, size_t max)
{
    size_t n = 0;
    const char *p = line.p, *end = line.p + line.len;
    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *stop = tab ? tab : end;
        if (n == max)
            return max + 1;
        fields[n].p = p;
        fields[n].len = (size_t)(stop - p);
        fields[n] = span_trim(fields[n]);
        n++;
        if (tab == NULL)
            return n;
        p = tab + 1;
    }
}

#define TSV_MAX_FIELDS 64

static int line_is_blank(span line)
{
    for (size_t i = 0; i < line.len; i++)
        if (line.p[i] != ' ' && line.p[i] != '\t' && line.p[i] != '\r')
            return 0;
    return 1;
}

static int copy_text(ictal_diag *d, char *dst, size_t cap, span s, const char *what)
{
    if (s.len >= cap)
        return ictal_diag_error(d, ICTAL_EFORMAT, "%s is %zu bytes long; at most %zu fit",
                                what, s.len, cap - 1);
    memcpy(dst, s.p, s.len);
    dst[s.len] = '\0';
    return 0;
}

static int field_number(ictal_diag *d, span s, int col, double *out)
{
    d->field = column_names[col];
    if (parse_number(s, out) != 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "expected a number, found \"%.*s\"",
                                (int)(s.len > 40 ? 40 : s.len), s.p);
    if (fabs(*out) > TSV_MAX_SECONDS && col != COL_CONFIDENCE)
        return ictal_diag_error(d, ICTAL_ERANGE, "%g s is beyond any recording (at most %g s)",
                                *out, TSV_MAX_SECONDS);
    return 0;
}

static int parse_row(ictal_diag *d, const span *f, const int *col_of, ictal_event *e,
                     double *rec_dur, char *date_time)
{
    span v[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        v[c] = f[col_of[c]];
    int rc;
    if ((rc = field_number(d, v[COL_ONSET], COL_ONSET, &e->onset_s)) != 0)
        return rc;
    if (e->onset_s < 0)
        return ictal_diag_error(d, ICTAL_ERANGE, "negative onset %g s", e->onset_s);
    if ((rc = field_number(d, v[COL_DURATION], COL_DURATION, &e->duration_s)) != 0)
        return rc;
    if (e->duration_s < 0)
        return ictal_diag_error(d, ICTAL_ERANGE, "negative duration %g s", e->duration_s);
    d->field = column_names[COL_EVENT_TYPE];
    if (is_na(v[COL_EVENT_TYPE]))
        return ictal_diag_error(d, ICTAL_EFORMAT, "missing event type (\"sz...\" or \"bckg\")");
    if ((rc = copy_text(d, e->event_type, sizeof(e->event_type), v[COL_EVENT_TYPE],
                        "the event type")) != 0)
        return rc;
    e->confidence = NAN;
    if (!is_na(v[COL_CONFIDENCE])) {
        if ((rc = field_number(d, v[COL_CONFIDENCE], COL_CONFIDENCE, &e->confidence)) != 0)
            return rc;
    }
    e->channels[0] = '\0';
    if (!is_na(v[COL_CHANNELS])) {
        d->field = column_names[COL_CHANNELS];
        if ((rc = copy_text(d, e->channels, sizeof(e->channels), v[COL_CHANNELS],
                            "the channel list")) != 0)
            return rc;
    }
    date_time[0] = '\0';
    if (!is_na(v[COL_DATE_TIME])) {
        d->field = column_names[COL_DATE_TIME];
        if ((rc = copy_text(d, date_time, ICTAL_DATETIME_MAX, v[COL_DATE_TIME],
                            "the date and time")) != 0)
            return rc;
    }
    d->field = column_names[COL_RECORDING_DURATION];
    if (is_na(v[COL_RECORDING_DURATION]))
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                "recordingDuration is n/a; scoring needs the length of the "
                                "recording");
    if ((rc = field_number(d, v[COL_RECORDING_DURATION], COL_RECORDING_DURATION, rec_dur)) != 0)
        return rc;
    if (*rec_dur <= 0)
        return ictal_diag_error(d, ICTAL_ERANGE, "recordingDuration %g s is not positive",
                                *rec_dur);
    return 0;
}

int ictal_annot_parse_tsv(const char *text, size_t len, const char *name, ictal_annotations *a,
                          ictal_diag *d)
{
    ictal_diag local;
    if (d == NULL) {
        ictal_diag_init(&local);
        d = &local;
    }
    ictal_diag_clear(d);
    d->source = name;
    if (text == NULL) {
        if (len > 0)
            return ictal_diag_error(d, ICTAL_EINVAL, "no text");
        text = "";
    }
    if (len > 0 && memchr(text, '\0', len) != NULL) {
        d->offset = (const char *)memchr(text, '\0', len) - text;
        return ictal_diag_error(d, ICTAL_EFORMAT, "a NUL byte: this is not a text file");
    }

    span fields[TSV_MAX_FIELDS];
    int col_of[COL_COUNT];
    size_t n_header = 0;
    int have_header = 0;
    size_t rows = 0;
    const char *p = text, *end = text + len;
    /* A UTF-8 byte order mark is not part of the first column's name. */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    int64_t line_no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        span line = {p, (size_t)((nl ? nl : end) - p)};
        p = nl ? nl + 1 : end;
        line_no++;
        d->line = line_no;
        d->field = NULL;
        if (line_is_blank(line))
            continue;
        size_t n = split_fields(line, fields, TSV_MAX_FIELDS);
        if (!have_header) {
            if (n > TSV_MAX_FIELDS)
                return ictal_diag_error(d, ICTAL_EFORMAT, "more than %d columns",
                                        TSV_MAX_FIELDS);
            for (int c = 0; c < COL_COUNT; c++)
                col_of[c] = -1;
            for (size_t i = 0; i < n; i++) {
                int known = 0;
                for (int c = 0; c < COL_COUNT; c++) {
                    if (span_is(fields[i], column_names[c])) {
                        if (col_of[c] >= 0)
                            return ictal_diag_error(d, ICTAL_EFORMAT,
                                                    "column '%s' appears twice",
                                                    column_names[c]);
                        col_of[c] = (int)i;
                        known = 1;
                    }
                }
                if (!known) {
                    int rc = ictal_diag_warn(d, "unknown column \"%.*s\" ignored",
                                             (int)(fields[i].len > 40 ? 40 : fields[i].len),
                                             fields[i].p);
                    if (rc != 0)
                        return rc;
                }
            }
            for (int c = 0; c < COL_COUNT; c++) {
                if (col_of[c] < 0) {
                    d->field = column_names[c];
                    return ictal_diag_error(
                        d, ICTAL_EFORMAT,
                        "missing column '%s' in the header (expected onset, duration, "
                        "eventType, confidence, channels, dateTime, recordingDuration)",
                        column_names[c]);
                }
            }
            n_header = n;
            have_header = 1;
            continue;
        }
        if (n != n_header)
            return ictal_diag_error(d, ICTAL_EFORMAT, "%s%zu fields, the header has %zu",
                                    n > TSV_MAX_FIELDS ? "more than " : "",
                                    n > TSV_MAX_FIELDS ? (size_t)TSV_MAX_FIELDS : n, n_header);
        ictal_event e;
        memset(&e, 0, sizeof(e));
        double rec_dur;
        char date_time[ICTAL_DATETIME_MAX];
        int rc = parse_row(d, fields, col_of, &e, &rec_dur, date_time);
        if (rc != 0)
            return rc;
        if (rows == 0) {
            a->recording_duration_s = rec_dur;
            memcpy(a->date_time, date_time, sizeof(a->date_time));
        } else if (rec_dur != a->recording_duration_s) {
            d->field = column_names[COL_RECORDING_DURATION];
            return ictal_diag_error(d, ICTAL_EFORMAT,
                                    "recordingDuration %.6g s disagrees with %.6g s on the "
                                    "first row",
                                    rec_dur, a->recording_duration_s);
        }
        /* Times are printed with two decimals: onset, duration and recordingDuration
         * may each be rounded by 0.005 s, so allow their sum to exceed by 0.015 s. */
        if (e.onset_s + e.duration_s > rec_dur + 0.015) {
            d->field = column_names[COL_DURATION];
            return ictal_diag_error(d, ICTAL_ERANGE,
                                    "event %.6g s + %.6g s ends after recordingDuration %.6g s",
                                    e.onset_s, e.duration_s, rec_dur);
        }
        rc = ictal_annotations_add(a, &e);
        if (rc != 0)
            return ictal_diag_error(d, rc, "out of memory at row %zu", rows + 1);
        rows++;
    }
    d->field = NULL;
    if (!have_header) {
        d->line = -1;
        return ictal_diag_error(d, ICTAL_EFORMAT, "empty file: no header row");
    }
    if (rows == 0) {
        d->line = line_no;
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                "no rows; a recording without seizure has one \"bckg\" row "
                                "giving recordingDuration");
    }
    d->line = -1;
    return 0;
}

int ictal_annot_read_tsv(const char *path, ictal_annotations *a, ictal_diag *d)
{
    if (d != NULL)
        ictal_diag_clear(d);
    char *text = NULL;
    size_t len = 0;
    /* Annotation files are small; the bound keeps a wrong path from eating memory. */
    int rc = ictal__read_file(path, (size_t)64 << 20, &text, &len, d);
    if (rc == 0)
        rc = ictal_annot_parse_tsv(text, len, path, a, d);
    free(text);
    return rc;
}

static int has_separator(const char *s)
{
    return strpbrk(s, "\t\n\r") != NULL;
}

int ictal_annot_write_tsv(const char *path, const ictal_annotations *a, ictal_diag *d)
{
    if (d != NULL) {
        ictal_diag_clear(d);
        d->source = path;
    }
    double rec = a->recording_duration_s;
    if (!isfinite(rec) || rec <= 0)
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "recording duration unknown: the format requires it");
    for (size_t i = 0; i < a->count; i++) {
        const ictal_event *e = &a->events[i];
        if (!isfinite(e->onset_s) || !isfinite(e->duration_s) || e->onset_s < 0 ||
            e->duration_s < 0 || e->event_type[0] == '\0' || has_separator(e->event_type) ||
            has_separator(e->channels))
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "event %zu cannot be written (negative or non-finite time, "
                                    "empty type, or a tab or newline in a text field)",
                                    i);
    }
    if (has_separator(a->date_time))
        return ictal_diag_error(d, ICTAL_EINVAL, "date and time contain a tab or newline");
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return ictal_diag_error(d, ICTAL_EIO, "cannot create: %s", strerror(errno));
    const char *dt = a->date_time[0] ? a->date_time : "n/a";
    fprintf(f, "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n");
    if (a->count == 0)
        fprintf(f, "%.2f\t%.2f\tbckg\tn/a\tn/a\t%s\t%.2f\n", 0.0, rec, dt, rec);
    for (size_t i = 0; i < a->count; i++) {
        const ictal_event *e = &a->events[i];
        fprintf(f, "%.2f\t%.2f\t%s\t", e->onset_s, e->duration_s, e->event_type);
        if (isnan(e->confidence))
            fputs("n/a\t", f);
        else
            fprintf(f, "%.2f\t", e->confidence);
        fprintf(f, "%s\t%s\t%.2f\n", e->channels[0] ? e->channels : "n/a", dt, rec);
    }
    int failed = ferror(f);
    if (fclose(f) != 0 || failed)
        return ictal_diag_error(d, ICTAL_EIO, "write failed: %s", strerror(errno));
    return 0;
}
