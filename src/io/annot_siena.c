/*
 * Siena Scalp EEG Seizures-list-PNxx.txt (see include/ictal/annot.h). After a header
 * (patient id, sampling rate, channel list) comes one block per seizure:
 *
 *   Seizure n 1                      ("Seizure n 2 (in sleep):", trailing blanks)
 *   File name: PN00-1.edf
 *   Registration start time: 19.39.33
 *   Registration end time:  20.22.58
 *   Seizure start time: 19.58.36     ("Start time:" in some lists)
 *   Seizure end time: 19.59.46       ("Seizure end time:19.59.46")
 *
 * Times are wall-clock hh.mm.ss (some lists use ':'), and a registration may pass
 * midnight. A block that repeats a file name may leave out the registration times.
 */
#include "ictal/annot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textio.h"

#define SIENA_MAX_BYTES (4u << 20)
#define DAY_S 86400

typedef struct block {
    int64_t line;                    /* of the "Seizure n" line */
    char file[64];                   /* "" until seen */
    int64_t reg_start, reg_end;      /* clock seconds, or -1 */
    int64_t sz_start, sz_end;        /* clock seconds, or -1 */
    int64_t sz_start_line, sz_end_line;
} block;

static void block_reset(block *b, int64_t line)
{
    memset(b, 0, sizeof(*b));
    b->line = line;
    b->reg_start = b->reg_end = b->sz_start = b->sz_end = -1;
}

static int64_t since(int64_t from, int64_t to)
{
    int64_t x = (to - from) % DAY_S;
    return x < 0 ? x + DAY_S : x;
}

static void clock_text(int64_t t, char *buf, size_t size)
{
    snprintf(buf, size, "%02d.%02d.%02d", (int)(t / 3600), (int)(t / 60 % 60), (int)(t % 60));
}

/* Turns a complete block into an event (and the recording duration). */
static int finish_block(block *b, const char *record, ictal_annotations *a, int *matched,
                        ictal_diag *d)
{
    if (d != NULL) {
        d->line = b->line;
        d->offset = -1;
    }
    if (b->file[0] == '\0')
        return ictal_diag_error(d, ICTAL_EFORMAT, "seizure block without a 'File name:' line");
    if (record != NULL && !ictal__same_record(b->file, strlen(b->file), record, strlen(record)))
        return 0;
    if (b->reg_start < 0)
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                "seizure block of %s without a registration start time", b->file);
    if (b->sz_start < 0 || b->sz_end < 0)
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                "seizure block of %s without a seizure %s time", b->file,
                                b->sz_start < 0 ? "start" : "end");
    int64_t dur = b->reg_end >= 0 ? since(b->reg_start, b->reg_end) : -1;
    if (dur == 0)
        dur = DAY_S;
    int64_t on = since(b->reg_start, b->sz_start);
    int64_t off = since(b->reg_start, b->sz_end);
    if (dur >= 0 && on > dur) {
        if (d != NULL)
            d->line = b->sz_start_line;
        char rs[16], re[16];
        clock_text(b->reg_start, rs, sizeof(rs));
        clock_text(b->reg_end, re, sizeof(re));
        return ictal_diag_error(d, ICTAL_ERANGE,
                                "seizure start of %s is outside its registration (%s to %s)",
                                b->file, rs, re);
    }
    int bad_end = off < on || (dur >= 0 && off > dur);
    if (bad_end) {
        if (d != NULL)
            d->line = b->sz_end_line;
        /* A one-digit typo in the hour (PN00-3: 19.29.29 for 18.29.29). */
        int64_t fixed = -1;
        for (int k = -1; k <= 1; k += 2) {
            int64_t cand = since(b->reg_start, b->sz_end + k * 3600);
            if (cand >= on && (dur < 0 || cand <= dur)) {
                fixed = cand;
                break;
            }
        }
        char was[16], now[16], why[64];
        clock_text(b->sz_end, was, sizeof(was));
        if (off < on) {
            clock_text(b->sz_start, now, sizeof(now));
            snprintf(why, sizeof(why), "before the seizure start (%s)", now);
        } else {
            clock_text(b->reg_end, now, sizeof(now));
            snprintf(why, sizeof(why), "after the registration end (%s)", now);
        }
        int rc;
        if (fixed >= 0) {
            clock_text((b->reg_start + fixed) % DAY_S, now, sizeof(now));
            rc = ictal_diag_warn(d,
                                 "seizure end time %s of %s is %s; read as %s (an hour typo): "
                                 "the seizure lasts %lld s",
                                 was, b->file, why, now, (long long)(fixed - on));
            off = fixed;
        } else if (off >= on) {
            rc = ictal_diag_warn(d, "seizure end time %s of %s is %s; clipped to it", was,
                                 b->file, why);
            off = dur;
        } else {
            return ictal_diag_error(d, ICTAL_EFORMAT,
                                    "seizure end time %s of %s is before its start time", was,
                                    b->file);
        }
        if (rc != 0)
            return rc;
    }
    ictal_event e;
    memset(&e, 0, sizeof(e));
    e.onset_s = (double)on;
    e.duration_s = (double)(off - on);
    strcpy(e.event_type, "sz");
    e.confidence = NAN;
    if (ictal_annotations_add(a, &e) != 0)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    if (record != NULL)
        a->recording_duration_s = dur >= 0 ? (double)dur : NAN;
    (*matched)++;
    return 0;
}

int ictal_annot_parse_siena(const char *text, size_t len, const char *source,
                            const char *record, ictal_annotations *a, ictal_diag *d)
{
    if (text == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no text or annotation list");
    int rc = ictal__text_begin(text, len, source, "Siena list", d);
    if (rc)
        return rc;
    size_t first = a->count;
    ictal__lines it;
    ictal__lines_init(&it, text, len);
    const char *s, *v;
    size_t n, vn;
    block b, prev;
    int in_block = 0, matched = 0, n_blocks = 0;
    block_reset(&prev, -1);

    for (;;) {
        int more = ictal__lines_next(&it, &s, &n);
        const char *rest;
        int starts = more && ictal__starts_with_words(s, n, "seizure n", &rest) &&
                     (rest == s + n || *rest == ' ' || *rest == '\t' ||
                      (*rest >= '0' && *rest <= '9') || *rest == '.' || *rest == ':');
        if (!more || starts) {
            if (in_block) {
                /* Registration times left out: those of the previous block of the file. */
                if (b.reg_start < 0 && prev.file[0] != '\0' && strcmp(prev.file, b.file) == 0) {
                    b.reg_start = prev.reg_start;
                    b.reg_end = prev.reg_end;
                }
                rc = finish_block(&b, record, a, &matched, d);
                if (rc != 0)
                    break;
                prev = b;
            }
            if (!more)
                break;
            block_reset(&b, it.line);
            in_block = 1;
            n_blocks++;
            continue;
        }
        if (!in_block)
            continue; /* header: patient, sampling rate, channels */
        if (d != NULL) {
            d->line = it.line;
            d->offset = it.line_offset;
        }
        if (ictal__key_value(s, n, "file name", &v, &vn)) {
            if (vn == 0 || vn >= sizeof(b.file)) {
                rc = ictal_diag_error(d, ICTAL_EFORMAT, "file name: expected a record name "
                                                        "such as PN00-1.edf");
                break;
            }
            memcpy(b.file, v, vn);
            b.file[vn] = '\0';
            continue;
        }
        int64_t *slot = NULL;
        const char *what = NULL;
        if (ictal__key_value(s, n, "registration start time", &v, &vn)) {
            slot = &b.reg_start;
            what = "registration start time";
        } else if (ictal__key_value(s, n, "registration end time", &v, &vn)) {
            slot = &b.reg_end;
            what = "registration end time";
        } else if (ictal__key_value(s, n, "seizure start time", &v, &vn) ||
                   ictal__key_value(s, n, "start time", &v, &vn)) {
            slot = &b.sz_start;
            what = "seizure start time";
            b.sz_start_line = it.line;
        } else if (ictal__key_value(s, n, "seizure end time", &v, &vn) ||
                   ictal__key_value(s, n, "end time", &v, &vn)) {
            slot = &b.sz_end;
            what = "seizure end time";
            b.sz_end_line = it.line;
        }
        if (slot == NULL)
            continue;
        int64_t t = ictal__parse_clock(v, vn, 23);
        if (t < 0) {
            rc = ictal_diag_error(d, ICTAL_EFORMAT, "%s '%.*s': expected a clock time hh.mm.ss",
                                  what, (int)(vn > 40 ? 40 : vn), v);
            break;
        }
        if (*slot >= 0) {
            rc = ictal_diag_error(d, ICTAL_EFORMAT, "%s given twice in one seizure block", what);
            break;
        }
        *slot = t;
    }
    if (rc != 0) {
        a->count = first;
        return rc;
    }
    if (d != NULL) {
        d->line = -1;
        d->offset = -1;
    }
    if (n_blocks == 0)
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                "no 'Seizure n' block: not a Siena seizure list");
    if (record != NULL && matched == 0)
        return ictal_diag_error(d, ICTAL_ENOENT,
                                "record '%s' is not listed (Siena lists only records with "
                                "seizures)",
                                record);
    ictal_annotations_sort(a);
    return 0;
}

int ictal_annot_read_siena(const char *path, const char *record, ictal_annotations *a,
                           ictal_diag *d)
{
    if (path == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no path or annotation list");
    char *text;
    size_t len;
    int rc = ictal__read_file(path, SIENA_MAX_BYTES, &text, &len, d);
    if (rc != 0)
        return rc;
    rc = ictal_annot_parse_siena(text, len, path, record, a, d);
    free(text);
    return rc;
}
