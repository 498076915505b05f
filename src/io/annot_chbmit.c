/*
 * CHB-MIT *-summary.txt (see include/ictal/annot.h). A summary lists, for each record:
 *
 *   File Name: chb01_03.edf
 *   File Start Time: 13:43:04
 *   File End Time: 14:43:04
 *   Number of Seizures in File: 1
 *   Seizure Start Time: 2996 seconds          (later patients: "Seizure 1 Start Time")
 *   Seizure End Time: 3036 seconds
 *
 * Clock times may pass midnight as "24:21:32" or "1:21:39"; some patients' summaries
 * have no clock times at all. Lines about channels and sampling rate are skipped.
 */
#include "ictal/annot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "textio.h"

#define SUMMARY_MAX_BYTES (4u << 20)

/* "2996 seconds", "2996", "2996.5 sec" -> seconds; -1 when not a time. */
static double parse_seconds(const char *s, size_t n)
{
    ictal__trim(&s, &n);
    size_t i = 0;
    double v = 0;
    int nd = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && nd < 9) {
        v = v * 10 + (s[i] - '0');
        i++;
        nd++;
    }
    if (nd == 0)
        return -1;
    if (i < n && s[i] == '.') {
        double scale = 0.1;
        i++;
        int nf = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && nf < 9) {
            v += (s[i] - '0') * scale;
            scale /= 10;
            i++;
            nf++;
        }
    }
    const char *rest = s + i;
    size_t rn = n - i;
    ictal__trim(&rest, &rn);
    static const char *const units[] = {"seconds", "second", "secs", "sec", "s"};
    if (rn == 0)
        return v;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        const char *after;
        if (ictal__starts_with_words(rest, rn, units[u], &after) && after == rest + rn)
            return v;
    }
    return -1;
}

/* Matches "Seizure Start Time:" and "Seizure 12 Start Time:" (which = "start"/"end");
 * v[0..vn) is set to the value after the colon. */
static int seizure_key(const char *s, size_t n, const char *which, const char **v, size_t *vn)
{
    const char *rest;
    if (!ictal__starts_with_words(s, n, "seizure ", &rest))
        return 0;
    size_t rn = n - (size_t)(rest - s);
    size_t i = 0;
    while (i < rn && rest[i] >= '0' && rest[i] <= '9')
        i++;
    if (i > 0) {
        while (i < rn && (rest[i] == ' ' || rest[i] == '\t'))
            i++;
    }
    char key[16];
    strcpy(key, which);
    strcat(key, " time");
    return ictal__key_value(rest + i, rn - i, key, v, vn);
}

int ictal_annot_parse_chbmit_summary(const char *text, size_t len, const char *source,
                                     const char *record, ictal_annotations *a, ictal_diag *d)
{
    if (text == NULL || record == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no text, record or annotation list");
    int rc = ictal__text_begin(text, len, source, "CHB-MIT summary", d);
    if (rc)
        return rc;

    ictal__lines it;
    ictal__lines_init(&it, text, len);
    const char *s;
    size_t n;
    int in_record = 0, found = 0;
    int64_t t_start = -1, t_end = -1, block_line = -1;
    long declared = -1;
    double onset = -1;
    int64_t onset_line = -1;
    size_t first_event = a->count;
    rc = 0;

    for (;;) {
        int more = ictal__lines_next(&it, &s, &n);
        const char *v;
        size_t vn;
        if (!more || ictal__key_value(s, n, "file name", &v, &vn)) {
            if (in_record)
                break; /* the block of the record we want has ended */
            if (!more)
                break;
            if (ictal__same_record(v, vn, record, strlen(record))) {
                in_record = 1;
                found = 1;
                block_line = it.line;
            }
            continue;
        }
        if (!in_record)
            continue;
        if (d != NULL) {
            d->line = it.line;
            d->offset = it.line_offset;
        }
        if (ictal__key_value(s, n, "file start time", &v, &vn) ||
            ictal__key_value(s, n, "file end time", &v, &vn)) {
            int is_start = ictal__starts_with_words(s, n, "file start", NULL);
            int64_t t = ictal__parse_clock(v, vn, 47);
            if (t < 0)
                return ictal_diag_error(d, ICTAL_EFORMAT,
                                        "file %s time '%.*s': expected a clock time hh:mm:ss",
                                        is_start ? "start" : "end", (int)(vn > 40 ? 40 : vn), v);
            if (is_start)
                t_start = t;
            else
                t_end = t;
            continue;
        }
        if (ictal__key_value(s, n, "number of seizures in file", &v, &vn)) {
            char *endp;
            char num[24];
            size_t k = vn < sizeof(num) - 1 ? vn : sizeof(num) - 1;
            memcpy(num, v, k);
            num[k] = '\0';
            declared = strtol(num, &endp, 10);
            if (k == 0 || *endp != '\0' || declared < 0 || declared > 100000)
                return ictal_diag_error(d, ICTAL_EFORMAT,
                                        "number of seizures '%s': expected a count", num);
            continue;
        }
        if (seizure_key(s, n, "start", &v, &vn)) {
            double t = parse_seconds(v, vn);
            if (t < 0)
                return ictal_diag_error(d, ICTAL_EFORMAT,
                                        "seizure start '%.*s': expected seconds, as '2996 seconds'",
                                        (int)(vn > 40 ? 40 : vn), v);
            if (onset >= 0)
                return ictal_diag_error(d, ICTAL_EFORMAT,
                                        "a second seizure start before the end of the seizure "
                                        "that starts on line %lld",
                                        (long long)onset_line);
            onset = t;
            onset_line = it.line;
            continue;
        }
        if (seizure_key(s, n, "end", &v, &vn)) {
            double t = parse_seconds(v, vn);
            if (t < 0)
                return ictal_diag_error(d, ICTAL_EFORMAT,
                                        "seizure end '%.*s': expected seconds, as '3036 seconds'",
                                        (int)(vn > 40 ? 40 : vn), v);
            if (onset < 0)
                return ictal_diag_error(d, ICTAL_EFORMAT, "seizure end without a seizure start");
            if (t < onset)
                return ictal_diag_error(d, ICTAL_EFORMAT,
                                        "seizure end %.17g s is before its start %.17g s", t, onset);
            ictal_event e;
            memset(&e, 0, sizeof(e));
            e.onset_s = onset;
            e.duration_s = t - onset;
            strcpy(e.event_type, "sz");
            e.confidence = NAN;
            if (ictal_annotations_add(a, &e) != 0)
                return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
            onset = -1;
            continue;
        }
    }
    if (!found) {
        if (d != NULL) {
            d->line = -1;
            d->offset = -1;
        }
        return ictal_diag_error(d, ICTAL_ENOENT, "record '%s' is not listed in the summary",
                                record);
    }
    if (d != NULL) {
        d->line = onset >= 0 ? onset_line : block_line;
        d->offset = -1;
    }
    if (onset >= 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "seizure start without a seizure end");

    size_t listed = a->count - first_event;
    if (declared >= 0 && (size_t)declared != listed) {
        rc = ictal_diag_warn(d, "the summary says %ld seizures for %s but lists %zu", declared,
                             record, listed);
        if (rc != 0)
            return rc;
    }
    if (t_start >= 0 && t_end >= 0) {
        int64_t dur = t_end - t_start;
        while (dur <= 0)
            dur += 86400; /* the file ends on the next day */
        a->recording_duration_s = (double)dur;
        for (size_t i = first_event; i < a->count; i++) {
            const ictal_event *e = &a->events[i];
            if (e->onset_s + e->duration_s > a->recording_duration_s) {
                rc = ictal_diag_warn(d,
                                     "seizure [%.17g, %.17g] s ends after the end of %s (%lld s)",
                                     e->onset_s, e->onset_s + e->duration_s, record,
                                     (long long)dur);
                if (rc != 0)
                    return rc;
            }
        }
    }
    ictal_annotations_sort(a);
    return 0;
}

int ictal_annot_read_chbmit_summary(const char *path, const char *record, ictal_annotations *a,
                                    ictal_diag *d)
{
    if (path == NULL || record == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no path, record or annotation list");
    char *text;
    size_t len;
    int rc = ictal__read_file(path, SUMMARY_MAX_BYTES, &text, &len, d);
    if (rc != 0)
        return rc;
    rc = ictal_annot_parse_chbmit_summary(text, len, path, record, a, d);
    free(text);
    return rc;
}
