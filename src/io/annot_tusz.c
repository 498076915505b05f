/*
 * Temple University Hospital Seizure Corpus (TUSZ) annotations (see include/ictal/annot.h
 * and docs/annotation-formats.md).
 *
 * v2.x, one file per recording beside its EDF:
 *
 *   # version = csv_v1.0.0
 *   # bname = aaaaaaac_s001_t000
 *   # duration = 301.00 secs
 *   # montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt
 *   #
 *   channel,start_time,stop_time,label,confidence
 *   TERM,0.0000,36.8868,bckg,1.0000              (*.csv_bi: the whole recording)
 *   FP1-F7,36.8868,183.3055,cpsz,1.0000          (*.csv: one row per channel)
 *
 * v1.x (*.tse_bi, *.tse): "version = tse_v1.0.0", then "start stop label confidence",
 * blank-separated. Seizure rows of every channel are merged into one event per span of
 * time (what any channel shows is a seizure of the recording); background is dropped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ictal/annot.h"
#include "textio.h"

#define TUSZ_MAX_BYTES (16u << 20)
#define TUSZ_MAX_SECONDS 1e9 /* as the TSV reader: far beyond any recording */

/* TUSZ's labels and the SzCORE (HED-SCORE) event types that epilepsy2bids gives them. */
static const struct {
    const char *label, *event_type;
} seizure_labels[] = {
    {"seiz", "sz"},
    {"fnsz", "sz_foc"},
    {"gnsz", "sz_gen"},
    {"spsz", "sz_foc_a"},
    {"cpsz", "sz_foc_ia"},
    {"absz", "sz_gen_nm"},
    {"tnsz", "sz_gen_m_tonic"},
    {"cnsz", "sz_gen_m_clonic"},
    {"tcsz", "sz_gen_m_tonicClonic"},
    {"atsz", "sz_gen_m_atonic"},
    {"mysz", "sz_gen_nm_myoclonic"},
};
#define N_SEIZURE_LABELS (sizeof(seizure_labels) / sizeof(seizure_labels[0]))

typedef struct {
    double start_s, stop_s, confidence;
    int type;          /* index into seizure_labels */
    int64_t line;
    char channel[24];  /* "" for TERM */
} row;

typedef struct {
    row *v;
    size_t n, cap;
} rows;

static int rows_add(rows *r, const row *x)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        row *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = *x;
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->start_s != y->start_s)
        return x->start_s < y->start_s ? -1 : 1;
    return (x->stop_s > y->stop_s) - (x->stop_s < y->stop_s);
}

static int span_is_ci(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Splits s[0..n) at commas (csv) or runs of blanks (tse); returns the field count, or
 * max + 1 when there are more. */
static size_t split(const char *s, size_t n, int csv, const char **f, size_t *fn, size_t max)
{
    size_t k = 0, i = 0;
    for (;;) {
        if (!csv)
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
        if (!csv && i == n)
            return k;
        size_t j = i;
        while (j < n && (csv ? s[j] != ',' : s[j] != ' ' && s[j] != '\t'))
            j++;
        if (k == max)
            return max + 1;
        f[k] = s + i;
        fn[k] = j - i;
        ictal__trim(&f[k], &fn[k]);
        k++;
        if (j == n)
            return k;
        i = j + 1;
    }
}

static int number(ictal_diag *d, const char *s, size_t n, const char *what, double *out)
{
    if (d != NULL)
        d->field = what;
    if (ictal__parse_decimal(s, n, out) != 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "%s: expected a number, found \"%.*s\"", what,
                                (int)(n > 40 ? 40 : n), s);
    if (fabs(*out) > TUSZ_MAX_SECONDS)
        return ictal_diag_error(d, ICTAL_ERANGE, "%s: %g is beyond any recording", what, *out);
    return 0;
}

/* "# key = value" (the '#' already removed): the value of key, trimmed. */
static int header_value(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    size_t k = strlen(key);
    ictal__trim(&s, &n);
    if (n < k || strncasecmp(s, key, k) != 0)
        return 0;
    s += k;
    n -= k;
    ictal__trim(&s, &n);
    if (n == 0 || *s != '=')
        return 0;
    *v = s + 1;
    *vn = n - 1;
    ictal__trim(v, vn);
    return 1;
}

/* One data row into r (seizure rows only). */
static int read_row(const char *s, size_t n, int csv, rows *r, ictal_diag *d)
{
    const char *f[6];
    size_t fn[6];
    size_t k = split(s, n, csv, f, fn, 5);
    if (d != NULL)
        d->field = NULL;
    if (k != (csv ? 5u : 4u))
        return ictal_diag_error(d, ICTAL_EFORMAT, "%zu fields: expected %s", k > 5 ? (size_t)6 : k,
                                csv ? "channel,start_time,stop_time,label,confidence"
                                    : "'start stop label confidence'");
    const char **t = csv ? f + 1 : f;
    const size_t *tn = csv ? fn + 1 : fn;
    row x;
    memset(&x, 0, sizeof x);
    x.line = d != NULL ? d->line : -1;
    int rc = number(d, t[0], tn[0], "start_time", &x.start_s);
    if (rc == 0)
        rc = number(d, t[1], tn[1], "stop_time", &x.stop_s);
    if (rc == 0)
        rc = number(d, t[3], tn[3], "confidence", &x.confidence);
    if (rc != 0)
        return rc;
    if (d != NULL)
        d->field = "start_time";
    if (x.start_s < 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "start_time %g is negative", x.start_s);
    if (d != NULL)
        d->field = "stop_time";
    if (x.stop_s < x.start_s)
        return ictal_diag_error(d, ICTAL_EFORMAT, "stop_time %g is before start_time %g",
                                x.stop_s, x.start_s);
    if (!(x.confidence >= 0 && x.confidence <= 1)) {
        if (d != NULL)
            d->field = "confidence";
        rc = ictal_diag_warn(d, "confidence %g is outside 0..1", x.confidence);
        if (rc != 0)
            return rc;
    }
    if (d != NULL)
        d->field = "label";
    x.type = -1;
    for (size_t i = 0; i < N_SEIZURE_LABELS; i++)
        if (span_is_ci(t[2], tn[2], seizure_labels[i].label))
            x.type = (int)i;
    if (x.type < 0) {
        if (span_is_ci(t[2], tn[2], "bckg"))
            return 0;
        return ictal_diag_warn(d, "unknown label \"%.*s\" (expected bckg, seiz or a seizure "
                                  "type such as fnsz): not a seizure",
                               (int)(tn[2] > 24 ? 24 : tn[2]), t[2]);
    }
    if (csv && !span_is_ci(f[0], fn[0], "TERM")) {
        if (fn[0] == 0 || fn[0] >= sizeof x.channel)
            return ictal_diag_error(d, ICTAL_EFORMAT, "channel: expected a channel such as "
                                                      "FP1-F7 or TERM");
        memcpy(x.channel, f[0], fn[0]);
    }
    if (rows_add(r, &x) != 0)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    return 0;
}

/* Appends name to the comma-separated list when absent and when it fits. */
static void add_channel(char *list, size_t cap, const char *name)
{
    size_t n = strlen(name), len = strlen(list);
    if (n == 0)
        return;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && memcmp(p, name, n) == 0)
            return;
        p += k + (e != NULL);
    }
    if (len + (len > 0) + n + 1 > cap)
        return;
    if (len > 0)
        list[len++] = ',';
    memcpy(list + len, name, n + 1);
}

/* The union of the seizure rows: overlapping or touching spans become one event. */
static int merge_into(rows *r, ictal_annotations *a, ictal_diag *d)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof *r->v, cmp_row);
    for (size_t i = 0; i < r->n;) {
        ictal_event e;
        memset(&e, 0, sizeof e);
        double stop = r->v[i].stop_s, conf = r->v[i].confidence;
        int type = r->v[i].type;
        size_t j = i;
        for (; j < r->n && r->v[j].start_s <= stop; j++) {
            if (r->v[j].stop_s > stop)
                stop = r->v[j].stop_s;
            if (r->v[j].confidence > conf)
                conf = r->v[j].confidence;
            if (r->v[j].type != type)
                type = 0; /* channels disagree on the type: a seizure */
            add_channel(e.channels, sizeof e.channels, r->v[j].channel);
        }
        e.onset_s = r->v[i].start_s;
        e.duration_s = stop - e.onset_s;
        e.confidence = conf;
        strcpy(e.event_type, seizure_labels[type].event_type);
        if (ictal_annotations_add(a, &e) != 0)
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        i = j;
    }
    return 0;
}

int ictal_annot_parse_tusz(const char *text, size_t len, const char *source,
                           ictal_annotations *a, ictal_diag *d)
{
    if (text == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no text or annotation list");
    int rc = ictal__text_begin(text, len, source, "TUSZ annotation file", d);
    if (rc)
        return rc;
    size_t first = a->count;
    double duration_s = NAN;
    int mode = 0; /* 0: not known yet, 1: csv (after its header), 2: tse */
    size_t n_rows = 0;
    rows r = {NULL, 0, 0};
    ictal__lines it;
    ictal__lines_init(&it, text, len);
    const char *s, *v;
    size_t n, vn;
    rc = 0;
    while (rc == 0 && ictal__lines_next(&it, &s, &n)) {
        if (d != NULL) {
            d->line = it.line;
            d->offset = it.line_offset;
            d->field = NULL;
        }
        if (n == 0)
            continue;
        if (s[0] == '#') {
            if (header_value(s + 1, n - 1, "duration", &v, &vn)) {
                /* "301.00 secs" */
                size_t k = 0;
                while (k < vn && v[k] != ' ' && v[k] != '\t')
                    k++;
                const char *unit = v + k;
                size_t un = vn - k;
                ictal__trim(&unit, &un);
                if (ictal__parse_decimal(v, k, &duration_s) != 0 || duration_s < 0 ||
                    duration_s > TUSZ_MAX_SECONDS || (un > 0 && !span_is_ci(unit, un, "secs") &&
                                                      !span_is_ci(unit, un, "s"))) {
                    rc = ictal_diag_error(d, ICTAL_EFORMAT, "duration \"%.*s\": expected "
                                                            "seconds such as 301.00 secs",
                                          (int)(vn > 40 ? 40 : vn), v);
                    break;
                }
            } else if (header_value(s + 1, n - 1, "version", &v, &vn)) {
                if (vn < 5 || strncasecmp(v, "csv_v", 5) != 0)
                    rc = ictal_diag_warn(d, "version \"%.*s\": expected csv_v1.0.0",
                                         (int)(vn > 40 ? 40 : vn), v);
            }
            continue; /* bname, montage_file, annotator notes */
        }
        if (mode == 0) {
            if (header_value(s, n, "version", &v, &vn)) {
                if (vn < 5 || strncasecmp(v, "tse_v", 5) != 0)
                    rc = ictal_diag_warn(d, "version \"%.*s\": expected tse_v1.0.0",
                                         (int)(vn > 40 ? 40 : vn), v);
                mode = 2;
                continue;
            }
            const char *f[6];
            size_t fn[6];
            size_t k = split(s, n, 1, f, fn, 5);
            if (k == 5 && span_is_ci(f[0], fn[0], "channel") &&
                span_is_ci(f[1], fn[1], "start_time") && span_is_ci(f[2], fn[2], "stop_time") &&
                span_is_ci(f[3], fn[3], "label") && span_is_ci(f[4], fn[4], "confidence")) {
                mode = 1;
                continue;
            }
            if (k > 1) {
                rc = ictal_diag_error(d, ICTAL_EFORMAT, "expected the header "
                                      "\"channel,start_time,stop_time,label,confidence\"");
                break;
            }
            /* "start stop label confidence" without its version line */
            rc = ictal_diag_warn(d, "no \"version = tse_v1.0.0\" line: read as a .tse file");
            mode = 2;
            if (rc != 0)
                break;
        }
        rc = read_row(s, n, mode == 1, &r, d);
        n_rows++;
    }
    if (d != NULL && rc == 0) {
        d->line = -1;
        d->offset = -1;
        d->field = NULL;
    }
    if (rc == 0 && mode == 0)
        rc = ictal_diag_error(d, ICTAL_EFORMAT, "no \"channel,start_time,stop_time,label,"
                                                "confidence\" header and no \"version = tse_v1.0.0\" "
                                                "line: not a TUSZ annotation file");
    else if (rc == 0 && n_rows == 0)
        rc = ictal_diag_error(d, ICTAL_EFORMAT, "no annotation rows (TUSZ writes a bckg row "
                                                "for a seizure-free recording)");
    /* the duration line may come after rows (it does not in TUSZ's own files) */
    for (size_t i = 0; rc == 0 && !isnan(duration_s) && i < r.n; i++) {
        row *x = &r.v[i];
        if (x->stop_s <= duration_s)
            continue;
        if (d != NULL) {
            d->line = x->line;
            d->field = "stop_time";
        }
        /* beyond rounding of the times to 4 decimals: say so */
        if (x->stop_s > duration_s + 0.005)
            rc = ictal_diag_warn(d, "seizure ends at %g s, after the recording's duration %g "
                                    "s: clipped",
                                 x->stop_s, duration_s);
        x->stop_s = duration_s;
        if (x->start_s > x->stop_s)
            x->start_s = x->stop_s;
    }
    if (d != NULL && rc == 0) {
        d->line = -1;
        d->field = NULL;
    }
    if (rc == 0)
        rc = merge_into(&r, a, d);
    free(r.v);
    if (rc != 0) {
        a->count = first;
        return rc;
    }
    if (!isnan(duration_s))
        a->recording_duration_s = duration_s;
    ictal_annotations_sort(a);
    return 0;
}

int ictal_annot_read_tusz(const char *path, ictal_annotations *a, ictal_diag *d)
{
    if (path == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no path or annotation list");
    char *text;
    size_t len;
    int rc = ictal__read_file(path, TUSZ_MAX_BYTES, &text, &len, d);
    if (rc != 0)
        return rc;
    rc = ictal_annot_parse_tusz(text, len, path, a, d);
    free(text);
    return rc;
}
