/*
 * Segment-level classification (ictal/train.h): one descriptor per segment and channel
 * (mean, standard deviation, minimum, maximum of libictal's hop features over the judged
 * hops), a model over those rows, cross-validated on the hop model's folds, and its
 * report. For data sets of labelled fixed-length segments; the streaming detector does
 * not use it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ictal/ictal.h"
#include "ictal/train.h"
#include "train_internal.h"

void ictal_segment_stats(const float *x, size_t n, size_t stride, float out[ICTAL_SEGMENT_STATS])
{
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i * stride];
        if (isnan(v))
            continue;
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        m++;
    }
    if (m == 0) {
        for (int s = 0; s < ICTAL_SEGMENT_STATS; s++)
            out[s] = NAN;
        return;
    }
    double mean = sum / (double)m, ss = 0;
    /* two passes: the deviations from the mean, not sum x^2 - n mean^2, which cancels */
    for (size_t i = 0; i < n; i++) {
        double v = x[i * stride];
        if (!isnan(v))
            ss += (v - mean) * (v - mean);
    }
    out[ICTAL_SEGMENT_MEAN] = (float)mean;
    out[ICTAL_SEGMENT_SD] = (float)sqrt(ss / (double)m);
    out[ICTAL_SEGMENT_MIN] = (float)lo;
    out[ICTAL_SEGMENT_MAX] = (float)hi;
}

int ictal_segment_n_features(int feature_set)
{
    return ICTAL_SEGMENT_STATS * ictal_feature_count(feature_set);
}

int ictal_segment_column_name(int feature_set, int col, char *buf, size_t cap)
{
    static const char *const stat[ICTAL_SEGMENT_STATS] = {"mean", "sd", "min", "max"};
    int nf = ictal_feature_count(feature_set);
    if (nf == 0 || col < 0 || col >= ICTAL_SEGMENT_STATS * nf || buf == NULL || cap == 0)
        return ICTAL_EINVAL;
    int n = snprintf(buf, cap, "%s_%s", stat[col / nf], ictal_feature_name(col % nf));
    return n > 0 && (size_t)n < cap ? 0 : ICTAL_EINVAL;
}

int ictal_segment_feature_name(int col, char *buf, size_t cap)
{
    return ictal_segment_column_name(1, col, buf, cap);
}

int ictal_segment_table(const ictal_corpus *c, const ictal_model_info *tmpl, uint64_t drop,
                        ictal_dataset *ds, ictal_diag *d)
{
    const int nf = ictal_feature_count(tmpl->feature_set), ncol = ICTAL_SEGMENT_STATS * nf;
    if (nf == 0 || ds->n_features != ncol)
        return ictal_diag_error(d, ICTAL_EINVAL, "a segment table of feature set %u has %d "
                                "columns, not %d", (unsigned)tmpl->feature_set, ncol,
                                ds->n_features);
    float *desc = malloc((size_t)ICTAL_MAX_CHANNELS * (size_t)ncol * sizeof *desc);
    if (desc == NULL)
        return ICTAL_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < c->n_items && rc == 0; i++) {
        const ictal_corpus_item *it = &c->items[i];
        int rec = ictal_dataset_add_record(ds, it->name, it->patient);
        if (rec < 0) {
            rc = rec;
            break;
        }
        ictal_signal sig;
        float *owned = NULL;
        int n_judged[ICTAL_MAX_CHANNELS];
        rc = ictal_corpus_acquire(it, &sig, &owned, d);
        if (rc == 0)
            rc = ictal_segment_describe(&sig, tmpl, desc, n_judged, d);
        free(owned);
        if (rc)
            break;
        float y = ictal__item_has_seizure(it) ? 1.0f : 0.0f;
        float dur = (float)ictal_corpus_duration_s(it);
        for (int ch = 0; ch < sig.n_channels && rc == 0; ch++) {
            if (n_judged[ch] == 0)
                continue;
            float *x = desc + (size_t)ch * (size_t)ncol;
            for (int f = 0; f < nf && f < 64; f++)
                if (drop & ((uint64_t)1 << f))
                    for (int s = 0; s < ICTAL_SEGMENT_STATS; s++)
                        x[s * nf + f] = NAN;
            rc = ictal_dataset_add_row(ds, rec, ch, dur, x, y);
        }
        ds->records[rec].duration_s = dur;
        ds->records[rec].n_channels = sig.n_channels;
        ds->records[rec].has_seizure = y > 0.5f;
    }
    free(desc);
    return rc;
}

void ictal_segment_result_init(ictal_segment_result *r)
{
    memset(r, 0, sizeof *r);
}

void ictal_segment_result_free(ictal_segment_result *r)
{
    free(r->fold);
    free(r->prob);
    free(r->n_rows);
    memset(r, 0, sizeof *r);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The channels' probabilities of one segment, aggregated as the detector does over
 * its usable channels: the largest, or the mean of the K largest. */
static float aggregate(float *p, int n, const ictal_model_info *tmpl)
{
    if (n == 0)
        return 0.0f;
    for (int i = 1; i < n; i++) /* descending insertion sort: n <= 32 */
        for (int j = i; j > 0 && p[j - 1] < p[j]; j--) {
            float t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    int k = tmpl->aggregation == ICTAL_AGG_MAX ? 1 : (tmpl->top_k < n ? tmpl->top_k : n);
    if (k < 1)
        k = 1;
    float s = 0.0f;
    for (int i = 0; i < k; i++)
        s += p[i];
    return s / (float)k;
}

int ictal_segment_cv_run(const ictal_corpus *c, const ictal_dataset *seg,
                         const ictal_cv_params *p, const ictal_model_info *tmpl,
                         ictal_segment_result *r,
                         void (*progress)(void *user, int fold, int n_folds), void *user,
                         ictal_diag *d)
{
    if (seg->n_records != c->n_items ||
        seg->n_features != ictal_segment_n_features(tmpl->feature_set))
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "the segment table has %zu records of %d columns; the corpus "
                                "%zu items (%d columns expected)",
                                seg->n_records, seg->n_features, c->n_items,
                                ictal_segment_n_features(tmpl->feature_set));
    if (p->train.init)
        return ictal_diag_error(d, ICTAL_ENOTSUP,
                                "a segment model cannot continue from a hop model (--init)");
    ictal_segment_result_free(r);
    size_t n = c->n_items;
    r->n_items = n;
    r->fold = malloc((n ? n : 1) * sizeof *r->fold);
    r->prob = calloc(n ? n : 1, sizeof *r->prob);
    r->n_rows = calloc(n ? n : 1, sizeof *r->n_rows);
    uint8_t *in_train = malloc(n ? n : 1);
    float *chan = malloc(seg->n_rows ? seg->n_rows * sizeof *chan : 1);
    if (!r->fold || !r->prob || !r->n_rows || !in_train || !chan) {
        free(in_train);
        free(chan);
        return ICTAL_ENOMEM;
    }
    int n_folds = ictal_cv_folds(c, p, r->fold);
    if (n_folds < 2) {
        free(in_train);
        free(chan);
        return ictal_diag_error(d, ICTAL_EINVAL, "cross-validation needs at least 2 folds");
    }
    r->n_folds = n_folds;
    r->n_features = seg->n_features;
    ictal_model_info st = *tmpl;
    st.n_features = (uint16_t)seg->n_features;
    int rc = 0;
    for (int f = 0; f < n_folds && rc == 0; f++) {
        if (progress)
            progress(user, f, n_folds);
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            in_train[i] = r->fold[i] != f;
            any |= !in_train[i];
        }
        if (!any)
            continue;
        double t0 = now_s();
        unsigned char *bytes = NULL;
        ictal_model m;
        rc = ictal_train_parsed(seg, in_train, &p->train, &st, &bytes, &m, d);
        r->train_s += now_s() - t0;
        /* rows of one record are contiguous (ictal_segment_table appends them so) */
        for (size_t k = 0; k < seg->n_rows && rc == 0;) {
            size_t i = (size_t)seg->record[k], e = k;
            while (e < seg->n_rows && (size_t)seg->record[e] == i)
                e++;
            if (!in_train[i]) {
                for (size_t j = k; j < e; j++) {
                    float q = ictal_model_predict(&m, seg->x + j * (size_t)seg->n_features);
                    chan[j - k] = q >= 0.0f ? q : 0.0f; /* as the detector: never a NaN */
                }
                r->n_rows[i] = (int)(e - k);
                r->prob[i] = aggregate(chan, (int)(e - k), tmpl);
            }
            k = e;
        }
        free(bytes);
    }
    free(in_train);
    free(chan);
    return rc;
}

void ictal_segment_summarize(const ictal_corpus *c, const ictal_segment_result *r,
                             int (*select)(void *user, size_t item), void *user,
                             ictal_segment_summary *s)
{
    memset(s, 0, sizeof *s);
    float *score = malloc((r->n_items ? r->n_items : 1) * sizeof *score);
    float *label = malloc((r->n_items ? r->n_items : 1) * sizeof *label);
    size_t k = 0;
    for (size_t i = 0; i < r->n_items && i < c->n_items; i++) {
        if (select && !select(user, i))
            continue;
        int pos = ictal__item_has_seizure(&c->items[i]), said = r->prob[i] >= 0.5f;
        s->n++;
        if (pos) {
            s->n_pos++;
            s->tp += said;
        } else {
            s->n_neg++;
            s->tn += !said;
        }
        if (score && label) {
            score[k] = r->prob[i];
            label[k] = (float)pos;
            k++;
        }
    }
    s->n_correct = s->tp + s->tn;
    s->accuracy = s->n ? (double)s->n_correct / (double)s->n : NAN;
    s->sensitivity = s->n_pos ? (double)s->tp / (double)s->n_pos : NAN;
    s->specificity = s->n_neg ? (double)s->tn / (double)s->n_neg : NAN;
    s->auc = score && label ? ictal_auc(score, label, k) : NAN;
    free(score);
    free(label);
}

/* --- report ------------------------------------------------------------------------------ */

/* A segment's series: its name without the trailing number ("S016" -> "S"). */
static size_t series_len(const char *name)
{
    size_t n = strlen(name);
    while (n > 0 && name[n - 1] >= '0' && name[n - 1] <= '9')
        n--;
    return n;
}

struct group_sel {
    const ictal_corpus *c;
    const char *set;
    const char *series; /* NULL: the whole set */
    size_t series_len;
};

static int in_group(void *user, size_t i)
{
    const struct group_sel *g = user;
    const ictal_corpus_item *it = &g->c->items[i];
    if (strcmp(it->set, g->set) != 0)
        return 0;
    return g->series == NULL ||
           (series_len(it->name) == g->series_len &&
            strncmp(it->name, g->series, g->series_len) == 0);
}

static void fmt(char *buf, size_t n, const char *f, double v)
{
    if (isnan(v))
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, f, v);
}

static void summary_row(FILE *f, const char *label, const ictal_segment_summary *s)
{
    char acc[16], se[16], sp[16], auc[16];
    fmt(acc, sizeof acc, "%.2f %%", 100.0 * s->accuracy);
    fmt(se, sizeof se, "%.4f", s->sensitivity);
    fmt(sp, sizeof sp, "%.4f", s->specificity);
    fmt(auc, sizeof auc, "%.4f", s->auc);
    fprintf(f, "| %s | %zu | %zu | %zu | %zu | %s | %s | %s | %s |\n", label, s->n, s->n_pos,
            s->n_neg, s->n_correct, acc, se, sp, auc);
}

int ictal_segment_write_report(const char *path, const char *title, const char *command,
                               const ictal_corpus *c, const ictal_segment_result *r,
                               ictal_diag *d)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL)
        return ictal_diag_error(d, ICTAL_EIO, "%s: cannot write the report", path);
    fprintf(f, "# %s\n\n", title);
    if (command)
        fprintf(f, "Reproduce: `%s`\n\n", command);
    fprintf(f,
            "%zu segments, %d folds; every segment is scored by a model trained without its "
            "fold. Training took %.1f s in all.\n\n"
            "Segment model: one row per segment and channel, %d descriptor values (the mean, "
            "standard deviation, minimum and maximum of each of libictal's %d hop features over "
            "the hops the detector judged); a segment is called ictal at probability >= 0.5. "
            "An evaluation and research tool: the streaming detector does not use it.\n\n",
            c->n_items, r->n_folds, r->train_s, r->n_features,
            r->n_features / ICTAL_SEGMENT_STATS);
    fprintf(f, "| segments | n | ictal | other | correct | accuracy | sensitivity | "
               "specificity | AUC |\n|---|---|---|---|---|---|---|---|---|\n");
    ictal_segment_summary s;
    ictal_segment_summarize(c, r, NULL, NULL, &s);
    summary_row(f, "all", &s);
    for (size_t i = 0; i < c->n_items; i++) {
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(c->items[j].set, c->items[i].set) != 0;
        if (!first)
            continue;
        struct group_sel g = {c, c->items[i].set, NULL, 0};
        ictal_segment_summarize(c, r, in_group, &g, &s);
        summary_row(f, c->items[i].set, &s);
    }
    /* per series, when a set has several segments in some series */
    for (size_t i = 0; i < c->n_items; i++) {
        const ictal_corpus_item *it = &c->items[i];
        size_t sl = series_len(it->name);
        if (sl == 0 || sl == strlen(it->name))
            continue;
        struct group_sel g = {c, it->set, it->name, sl};
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            first = !in_group(&g, j);
        if (!first)
            continue;
        ictal_segment_summarize(c, r, in_group, &g, &s);
        if (s.n < 2)
            continue;
        char label[ICTAL_SET_NAME_MAX + ICTAL_TRAIN_NAME_MAX + 4];
        snprintf(label, sizeof label, "%s %.*s", it->set, (int)sl, it->name);
        summary_row(f, label, &s);
    }
    fprintf(f, "\nSensitivity: share of the segments with a seizure called ictal; specificity: "
               "share of the others called not ictal; AUC over the segments' probabilities. "
               "Per series: the segment name without its number.\n\n");
    fprintf(f, "## Misclassified segments\n\n| segment | set | true | probability | fold | "
               "channels |\n|---|---|---|---|---|---|\n");
    size_t n_err = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        int pos = ictal__item_has_seizure(&c->items[i]);
        if ((r->prob[i] >= 0.5f) == pos)
            continue;
        fprintf(f, "| %s | %s | %s | %.3f | %d | %d |\n", c->items[i].name, c->items[i].set,
                pos ? "ictal" : "not ictal", (double)r->prob[i], r->fold[i] + 1, r->n_rows[i]);
        n_err++;
    }
    if (n_err == 0)
        fprintf(f, "| (none) | | | | | |\n");
    int rc = 0;
    if (f != stdout && fclose(f) != 0)
        rc = ictal_diag_error(d, ICTAL_EIO, "%s: write failed", path);
    return rc;
}
