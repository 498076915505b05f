/*
 * Metrics from counts, and their aggregation over subjects, as szcore-evaluation
 * computes them (see include/ictal/score.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/score.h"

void ictal_score_counts_add(ictal_score_counts *sum, const ictal_score_counts *c)
{
    sum->ref_true += c->ref_true;
    sum->tp += c->tp;
    sum->fp += c->fp;
    sum->num_samples += c->num_samples;
    sum->fs_hz = c->fs_hz;
}

void ictal_score_metrics_compute(const ictal_score_counts *c, ictal_score_metrics *m)
{
    /* The reference's expressions, in its order of operations. */
    m->sensitivity = c->ref_true > 0 ? (double)c->tp / (double)c->ref_true : NAN;
    m->precision = c->tp + c->fp > 0 ? (double)c->tp / (double)(c->tp + c->fp) : NAN;
    /* timescoring 0.0.7: F1 from the counts, 2TP / (2TP + FP + FN), so a recording
     * with seizures and no detection scores 0, not NaN. */
    int64_t fn = c->ref_true - c->tp;
    int64_t denom = 2 * c->tp + c->fp + fn;
    m->f1 = denom > 0 ? (double)(2 * c->tp) / (double)denom : NAN;
    m->fp_rate = (double)c->fp / ((double)c->num_samples / c->fs_hz / 3600 / 24);
}

/* numpy's pairwise summation (8 accumulators per block of up to 128), so that means
 * match the reference to the last bit in the common cases. */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

void ictal_nanmean_nanstd(const double *x, size_t n, double *mean, double *std)
{
    *mean = NAN;
    *std = NAN;
    double *v = malloc((n ? n : 1) * sizeof(*v));
    if (v == NULL) {
        /* Fall back to a plain two-pass sum: same value to rounding. */
        double s = 0, c = 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(x[i]))
                s += x[i], c++;
        if (c == 0)
            return;
        *mean = s / c;
        double q = 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(x[i]))
                q += (x[i] - *mean) * (x[i] - *mean);
        *std = sqrt(q / c);
        return;
    }
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = isnan(x[i]) ? 0.0 : x[i];
        cnt += !isnan(x[i]);
    }
    if (cnt > 0) {
        double avg = pairwise_sum(v, n) / (double)cnt;
        for (size_t i = 0; i < n; i++) {
            double dv = isnan(x[i]) ? 0.0 : v[i] - avg;
            v[i] = dv * dv;
        }
        *mean = avg;
        *std = sqrt(pairwise_sum(v, n) / (double)cnt);
    }
    free(v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile_sorted(const double *v, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double t = pos - (double)lo;
    return v[lo] + (v[hi] - v[lo]) * t;
}

void ictal_latency_stats_compute(double *latency_s, size_t n, ictal_latency_stats *s)
{
    s->count = n;
    if (n == 0) {
        s->median_s = s->p90_s = s->max_s = NAN;
        return;
    }
    qsort(latency_s, n, sizeof(*latency_s), cmp_double);
    s->median_s = percentile_sorted(latency_s, n, 50);
    s->p90_s = percentile_sorted(latency_s, n, 90);
    s->max_s = latency_s[n - 1];
}

static void nan_aggregate(const ictal_score_metrics *m, size_t n, double *tmp,
                          ictal_score_metrics *mean, ictal_score_metrics *std)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = m[i].sensitivity;
    ictal_nanmean_nanstd(tmp, n, &mean->sensitivity, &std->sensitivity);
    for (size_t i = 0; i < n; i++)
        tmp[i] = m[i].precision;
    ictal_nanmean_nanstd(tmp, n, &mean->precision, &std->precision);
    for (size_t i = 0; i < n; i++)
        tmp[i] = m[i].f1;
    ictal_nanmean_nanstd(tmp, n, &mean->f1, &std->f1);
    for (size_t i = 0; i < n; i++)
        tmp[i] = m[i].fp_rate;
    ictal_nanmean_nanstd(tmp, n, &mean->fp_rate, &std->fp_rate);
}

int ictal_score_summarize(const ictal_score_counts *subjects, size_t n, ictal_score_summary *s)
{
    ictal_score_metrics *m = malloc((n ? n : 1) * sizeof(*m));
    double *tmp = calloc(n ? n : 1, sizeof(*tmp));
    if (m == NULL || tmp == NULL) {
        free(m);
        free(tmp);
        return ICTAL_ENOMEM;
    }
    ictal_score_counts pooled;
    memset(&pooled, 0, sizeof(pooled));
    for (size_t i = 0; i < n; i++) {
        ictal_score_metrics_compute(&subjects[i], &m[i]);
        ictal_score_counts_add(&pooled, &subjects[i]);
    }
    nan_aggregate(m, n, tmp, &s->mean, &s->std);
    ictal_score_metrics_compute(&pooled, &s->pooled);
    free(m);
    free(tmp);
    return 0;
}
