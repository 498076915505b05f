/*
 * SzCORE scoring of one recording (see include/ictal/score.h).
 *
 * The reference builds boolean masks (1 Hz for sample scoring, 10 Hz for event
 * scoring) and slices them; a day at 10 Hz is 864,000 samples per mask. Every mask
 * here is instead a sorted list of disjoint half-open sample intervals, and every
 * slice sum or any()/all() test a binary search over it. The sample indices are
 * computed with the reference's own arithmetic (int() truncation for the annotation
 * masks, Python's round-half-even for resampling, its float operations in its order),
 * so the counts are identical, not approximately equal.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/score.h"

/* Half-open interval of sample indices [s, e). */
typedef struct {
    int64_t s, e;
} ivl;

/* An event in seconds, as the reference's (start, stop) tuples. */
typedef struct {
    double t0, t1;
    int first; /* the first piece of a merged event (its onset is a seizure onset) */
} tev;

typedef struct {
    ivl *v;
    size_t n, cap;
} ivl_vec;

typedef struct {
    tev *v;
    size_t n, cap;
} tev_vec;

static int ivl_push(ivl_vec *a, int64_t s, int64_t e)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        ivl *g = realloc(a->v, cap * sizeof(*g));
        if (g == NULL)
            return ICTAL_ENOMEM;
        a->v = g;
        a->cap = cap;
    }
    a->v[a->n].s = s;
    a->v[a->n].e = e;
    a->n++;
    return 0;
}

static int tev_push_piece(tev_vec *a, double t0, double t1, int first)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        tev *g = realloc(a->v, cap * sizeof(*g));
        if (g == NULL)
            return ICTAL_ENOMEM;
        a->v = g;
        a->cap = cap;
    }
    a->v[a->n].t0 = t0;
    a->v[a->n].t1 = t1;
    a->v[a->n].first = first;
    a->n++;
    return 0;
}

static int tev_push(tev_vec *a, double t0, double t1)
{
    return tev_push_piece(a, t0, t1, 1);
}

void ictal_score_params_default(ictal_score_params *p)
{
    p->label_rate_hz = 1;
    p->sample_rate_hz = 1;
    p->event_rate_hz = 10;
    p->tolerance_start_s = 30;
    p->tolerance_end_s = 60;
    p->min_overlap = 0;
    p->max_event_duration_s = 5 * 60;
    p->min_duration_between_events_s = 90;
    p->duration_tolerance_s = 0;
}

int ictal_score_params_check(const ictal_score_params *p, ictal_diag *d)
{
    const struct {
        const char *name;
        double v;
        double min;
    } rates[] = {{"label rate", p->label_rate_hz, 1e-3},
                 {"sample scoring rate", p->sample_rate_hz, 1e-3},
                 {"event scoring rate", p->event_rate_hz, 1e-3}};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
        if (!(rates[i].v >= rates[i].min && rates[i].v <= 1e4))
            return ictal_diag_error(d, ICTAL_EINVAL, "%s %g Hz: expected %g to 10000 Hz",
                                    rates[i].name, rates[i].v, rates[i].min);
    const struct {
        const char *name;
        double v;
    } finite[] = {{"tolerance before onset", p->tolerance_start_s},
                  {"tolerance after offset", p->tolerance_end_s},
                  {"minimum overlap", p->min_overlap},
                  {"minimum duration between events", p->min_duration_between_events_s}};
    for (size_t i = 0; i < sizeof(finite) / sizeof(finite[0]); i++)
        if (!isfinite(finite[i].v) || fabs(finite[i].v) > 1e9)
            return ictal_diag_error(d, ICTAL_EINVAL, "%s %g: expected a finite value",
                                    finite[i].name, finite[i].v);
    /* The reference loops forever when it cannot split (0); pieces shorter than one
     * event-scoring sample would only multiply events without meaning. */
    if (!(p->max_event_duration_s >= 1.0 / p->event_rate_hz && p->max_event_duration_s <= 1e9))
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "maximum event duration %g s: expected at least one sample "
                                "at the event scoring rate (%g s)",
                                p->max_event_duration_s, 1.0 / p->event_rate_hz);
    if (!(p->duration_tolerance_s >= 0 && p->duration_tolerance_s <= 1e9))
        return ictal_diag_error(d, ICTAL_EINVAL, "duration tolerance %g s: expected >= 0",
                                p->duration_tolerance_s);
    return 0;
}

void ictal_score_result_init(ictal_score_result *r)
{
    memset(r, 0, sizeof(*r));
}

void ictal_score_result_free(ictal_score_result *r)
{
    free(r->latency_s);
    ictal_score_result_init(r);
}

static int latency_push(ictal_score_result *r, double v)
{
    if (r->n_latency == r->latency_capacity) {
        size_t cap = r->latency_capacity ? r->latency_capacity * 2 : 8;
        double *g = realloc(r->latency_s, cap * sizeof(*g));
        if (g == NULL)
            return ICTAL_ENOMEM;
        r->latency_s = g;
        r->latency_capacity = cap;
    }
    r->latency_s[r->n_latency++] = v;
    return 0;
}

/* Python's round() of a float: nearest integer, ties to even (the default rounding
 * mode of nearbyint). Arguments stay far below 2^53 (times <= 1e9 s, rates <= 1e4). */
static int64_t py_round(double x)
{
    return (int64_t)nearbyint(x);
}

/* Python slice bounds a[s:e] on a sequence of length n, for s, e that may be
 * negative or beyond n: returns the effective [s, e) (empty when s >= e). */
static ivl py_slice(int64_t s, int64_t e, int64_t n)
{
    if (s < 0)
        s = s + n < 0 ? 0 : s + n;
    if (e < 0)
        e = e + n < 0 ? 0 : e + n;
    if (s > n)
        s = n;
    if (e > n)
        e = n;
    ivl r = {s, e};
    return r;
}

static int cmp_ivl(const void *a, const void *b)
{
    const ivl *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? -1 : 1;
    return (x->e > y->e) - (x->e < y->e);
}

/* Sorts (unless already sorted) and merges overlapping or touching intervals, drops
 * empty ones: the runs of the mask the intervals paint. */
static void normalize(ivl_vec *a)
{
    size_t k = 0;
    int sorted = 1;
    for (size_t i = 1; i < a->n && sorted; i++)
        if (a->v[i].s < a->v[i - 1].s)
            sorted = 0;
    if (!sorted)
        qsort(a->v, a->n, sizeof(ivl), cmp_ivl);
    for (size_t i = 0; i < a->n; i++) {
        ivl x = a->v[i];
        if (x.s >= x.e)
            continue;
        if (k > 0 && x.s <= a->v[k - 1].e) {
            if (x.e > a->v[k - 1].e)
                a->v[k - 1].e = x.e;
        } else {
            a->v[k++] = x;
        }
    }
    a->n = k;
}

/* First interval (of a normalized list) whose end is after sample a. */
static size_t first_ending_after(const ivl_vec *m, int64_t a)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].e <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Number of mask samples in [a, b): np.sum(mask[a:b]). */
static int64_t count_in(const ivl_vec *m, int64_t a, int64_t b)
{
    int64_t n = 0;
    for (size_t i = first_ending_after(m, a); i < m->n && m->v[i].s < b; i++) {
        int64_t s = m->v[i].s > a ? m->v[i].s : a;
        int64_t e = m->v[i].e < b ? m->v[i].e : b;
        if (e > s)
            n += e - s;
    }
    return n;
}

static int64_t measure(const ivl_vec *m)
{
    int64_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->v[i].e - m->v[i].s;
    return n;
}

/* Samples in both normalized lists. */
static int64_t intersection(const ivl_vec *x, const ivl_vec *y)
{
    int64_t n = 0;
    size_t i = 0, j = 0;
    while (i < x->n && j < y->n) {
        int64_t s = x->v[i].s > y->v[j].s ? x->v[i].s : y->v[j].s;
        int64_t e = x->v[i].e < y->v[j].e ? x->v[i].e : y->v[j].e;
        if (e > s)
            n += e - s;
        if (x->v[i].e < y->v[j].e)
            i++;
        else
            j++;
    }
    return n;
}

/*
 * Annotations.getMask(fs) then Annotation(mask, fs).events: the seizure runs of
 * mask[int(onset*fs) : int((onset+duration)*fs)] over int(recordingDuration*fs)
 * samples, as events in seconds.
 */
static int annotation_events(const ictal_annotations *a, double fs, int64_t *n_samples,
                             ivl_vec *runs, tev_vec *events)
{
    int64_t n = (int64_t)(a->recording_duration_s * fs);
    *n_samples = n;
    runs->n = 0;
    events->n = 0;
    for (size_t i = 0; i < a->count; i++) {
        const ictal_event *e = &a->events[i];
        if (!ictal_event_is_seizure(e))
            continue;
        ivl x = py_slice((int64_t)(e->onset_s * fs), (int64_t)((e->onset_s + e->duration_s) * fs),
                         n);
        if (x.s < x.e && ivl_push(runs, x.s, x.e) != 0)
            return ICTAL_ENOMEM;
    }
    normalize(runs);
    for (size_t i = 0; i < runs->n; i++)
        if (tev_push(events, (double)runs->v[i].s / fs, (double)runs->v[i].e / fs) != 0)
            return ICTAL_ENOMEM;
    return 0;
}

/* Annotation(events, fs, numSamples).mask, as runs. */
static int events_mask(const tev_vec *ev, double fs, int64_t n, ivl_vec *mask)
{
    mask->n = 0;
    for (size_t i = 0; i < ev->n; i++) {
        ivl x = py_slice(py_round(ev->v[i].t0 * fs), py_round(ev->v[i].t1 * fs), n);
        if (x.s < x.e && ivl_push(mask, x.s, x.e) != 0)
            return ICTAL_ENOMEM;
    }
    normalize(mask);
    return 0;
}

/* EventScoring._mergeNeighbouringEvents then _splitLongEvents. */
static int merge_split(const tev_vec *in, const ictal_score_params *p, tev_vec *merged,
                       tev_vec *out)
{
    merged->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (merged->n > 0 &&
            in->v[i].t0 - merged->v[merged->n - 1].t1 < p->min_duration_between_events_s)
            merged->v[merged->n - 1].t1 = in->v[i].t1;
        else if (tev_push(merged, in->v[i].t0, in->v[i].t1) != 0)
            return ICTAL_ENOMEM;
    }
    out->n = 0;
    double max_d = p->max_event_duration_s;
    for (size_t i = 0; i < merged->n; i++) {
        double start = merged->v[i].t0, stop = merged->v[i].t1;
        int first = 1;
        while (stop - start > max_d) {
            if (tev_push_piece(out, start, start + max_d, first) != 0)
                return ICTAL_ENOMEM;
            start = start + max_d;
            first = 0;
        }
        if (tev_push_piece(out, start, stop, first) != 0)
            return ICTAL_ENOMEM;
    }
    return 0;
}

typedef struct {
    ivl_vec ref_runs, hyp_runs, ref_mask, hyp_mask, tp_mask;
    tev_vec ref_ev, hyp_ev, merged, ref_pieces, hyp_pieces;
} workspace;

static void workspace_free(workspace *w)
{
    free(w->ref_runs.v);
    free(w->hyp_runs.v);
    free(w->ref_mask.v);
    free(w->hyp_mask.v);
    free(w->tp_mask.v);
    free(w->ref_ev.v);
    free(w->hyp_ev.v);
    free(w->merged.v);
    free(w->ref_pieces.v);
    free(w->hyp_pieces.v);
}

static int check_annotations(const ictal_annotations *a, const char *which, ictal_diag *d)
{
    double rd = a->recording_duration_s;
    if (!isfinite(rd) || rd <= 0 || rd > 1e9)
        return ictal_diag_error(d, ICTAL_ERANGE,
                                "the %s has no valid recording duration (%g s); scoring needs "
                                "it",
                                which, rd);
    for (size_t i = 0; i < a->count; i++) {
        const ictal_event *e = &a->events[i];
        if (!isfinite(e->onset_s) || !isfinite(e->duration_s) || fabs(e->onset_s) > 1e9 ||
            fabs(e->duration_s) > 1e9)
            return ictal_diag_error(d, ICTAL_ERANGE, "the %s has an event with time %g s + %g s",
                                    which, e->onset_s, e->duration_s);
    }
    return 0;
}

static int sample_scoring(workspace *w, int64_t n_label, const ictal_score_params *p,
                          ictal_score_result *r)
{
    double fs = p->sample_rate_hz;
    int64_t n = py_round((double)n_label / p->label_rate_hz * fs);
    int rc;
    if ((rc = events_mask(&w->ref_ev, fs, n, &w->ref_mask)) != 0 ||
        (rc = events_mask(&w->hyp_ev, fs, n, &w->hyp_mask)) != 0)
        return rc;
    int64_t tp = intersection(&w->ref_mask, &w->hyp_mask);
    r->sample.ref_true = measure(&w->ref_mask);
    r->sample.tp = tp;
    r->sample.fp = measure(&w->hyp_mask) - tp;
    r->sample.num_samples = n;
    r->sample.fs_hz = fs;
    return 0;
}

static int event_scoring(workspace *w, int64_t n_label, const ictal_score_params *p,
                         ictal_score_result *r)
{
    double fs = p->event_rate_hz;
    int64_t n = py_round((double)n_label / p->label_rate_hz * fs);
    int rc;
    if ((rc = merge_split(&w->ref_ev, p, &w->merged, &w->ref_pieces)) != 0 ||
        (rc = merge_split(&w->hyp_ev, p, &w->merged, &w->hyp_pieces)) != 0)
        return rc;
    /* The pieces of a split event share their boundaries, so they paint the same mask
     * as the merged events. */
    if ((rc = events_mask(&w->hyp_pieces, fs, n, &w->hyp_mask)) != 0)
        return rc;

    double file_s = (double)n / fs;
    int64_t tp = 0;
    w->tp_mask.n = 0;
    const tev_vec *hp = &w->hyp_pieces;
    size_t first_hyp = 0;
    double seizure_onset = 0;
    int seizure_timed = 0;
    for (size_t i = 0; i < w->ref_pieces.n; i++) {
        tev ev = w->ref_pieces.v[i];
        if (ev.first) {
            seizure_onset = ev.t0;
            seizure_timed = 0;
        }
        double w0 = ev.t0 - p->tolerance_start_s;
        double w1 = ev.t1 + p->tolerance_end_s;
        if (!(w0 > 0))
            w0 = 0;
        if (file_s < w1)
            w1 = file_s;
        ivl win = py_slice(py_round(w0 * fs), py_round(w1 * fs), n);
        int64_t covered = win.s < win.e ? count_in(&w->hyp_mask, win.s, win.e) : 0;
        double rel = ((double)covered / fs) / (w1 - w0);
        if (!(rel > p->min_overlap + 1e-6))
            continue;
        tp++;
        if (win.s < win.e && (rc = ivl_push(&w->tp_mask, win.s, win.e)) != 0)
            return rc;
        /* Latency: once per seizure (the pieces after the first of a split event have
         * no onset of their own), from the first hypothesis piece with a sample in the
         * window. Windows start in time order, so the search resumes where the last
         * one began. */
        if (seizure_timed)
            continue;
        while (first_hyp < hp->n) {
            ivl h = py_slice(py_round(hp->v[first_hyp].t0 * fs),
                             py_round(hp->v[first_hyp].t1 * fs), n);
            if (h.e > win.s || h.s >= h.e)
                break;
            first_hyp++;
        }
        for (size_t j = first_hyp; j < hp->n; j++) {
            ivl h = py_slice(py_round(hp->v[j].t0 * fs), py_round(hp->v[j].t1 * fs), n);
            if (h.s >= win.e && h.s < h.e)
                break;
            int64_t s = h.s > win.s ? h.s : win.s;
            int64_t e = h.e < win.e ? h.e : win.e;
            if (e > s) {
                if ((rc = latency_push(r, hp->v[j].t0 - seizure_onset)) != 0)
                    return rc;
                seizure_timed = 1;
                break;
            }
        }
    }
    normalize(&w->tp_mask);

    int64_t fp = 0;
    for (size_t j = 0; j < hp->n; j++) {
        ivl h = py_slice(py_round(hp->v[j].t0 * fs), py_round(hp->v[j].t1 * fs), n);
        /* np.all(~tpMask[h]) is true for an empty slice too. */
        if (h.s >= h.e || count_in(&w->tp_mask, h.s, h.e) == 0)
            fp++;
    }
    r->event.ref_true = (int64_t)w->ref_pieces.n;
    r->event.tp = tp;
    r->event.fp = fp;
    r->event.num_samples = n;
    r->event.fs_hz = fs;
    return 0;
}

int ictal_score_recording(const ictal_annotations *ref, const ictal_annotations *hyp,
                          const ictal_score_params *p, ictal_score_result *r, ictal_diag *d)
{
    int rc;
    if ((rc = ictal_score_params_check(p, d)) != 0)
        return rc;
    if ((rc = check_annotations(ref, "reference", d)) != 0)
        return rc;
    if (hyp != NULL && (rc = check_annotations(hyp, "hypothesis", d)) != 0)
        return rc;
    r->n_latency = 0;
    r->hyp_ignored = 0;
    memset(&r->sample, 0, sizeof(r->sample));
    memset(&r->event, 0, sizeof(r->event));

    workspace w;
    memset(&w, 0, sizeof(w));
    double fs = p->label_rate_hz;
    int64_t n_ref = 0, n_hyp = 0;
    rc = annotation_events(ref, fs, &n_ref, &w.ref_runs, &w.ref_ev);
    if (rc == 0 && n_ref <= 0)
        rc = ictal_diag_error(d, ICTAL_ERANGE,
                              "the reference recording (%g s) is shorter than one sample at "
                              "%g Hz",
                              ref->recording_duration_s, fs);
    if (rc == 0 && hyp != NULL)
        rc = annotation_events(hyp, fs, &n_hyp, &w.hyp_runs, &w.hyp_ev);
    if (rc == 0 && hyp != NULL && n_hyp != n_ref) {
        /* szcore-evaluation: pad or cut within duration_tolerance, else score the
         * recording as if the hypothesis had no detection. */
        double diff = (double)(n_hyp > n_ref ? n_hyp - n_ref : n_ref - n_hyp) / fs;
        if (diff <= p->duration_tolerance_s) {
            size_t k = 0;
            for (size_t i = 0; i < w.hyp_runs.n; i++) {
                ivl x = w.hyp_runs.v[i];
                if (x.e > n_ref)
                    x.e = n_ref;
                if (x.s < x.e)
                    w.hyp_runs.v[k++] = x;
            }
            w.hyp_runs.n = k;
            w.hyp_ev.n = 0;
            for (size_t i = 0; i < k && rc == 0; i++)
                rc = tev_push(&w.hyp_ev, (double)w.hyp_runs.v[i].s / fs,
                              (double)w.hyp_runs.v[i].e / fs);
            if (rc == 0 && n_hyp > n_ref)
                rc = ictal_diag_warn(d, "hypothesis %g s longer than the reference; cut to %g s",
                                     diff, (double)n_ref / fs);
            else if (rc == 0)
                rc = ictal_diag_warn(d, "hypothesis %g s shorter than the reference; padded",
                                     diff);
        } else {
            w.hyp_runs.n = 0;
            w.hyp_ev.n = 0;
            r->hyp_ignored = 1;
            rc = ictal_diag_warn(d,
                                 "hypothesis lasts %g s, reference %g s: beyond the duration "
                                 "tolerance of %g s, scored as no detection",
                                 (double)n_hyp / fs, (double)n_ref / fs, p->duration_tolerance_s);
        }
    }
    if (rc == 0)
        rc = sample_scoring(&w, n_ref, p, r);
    if (rc == 0)
        rc = event_scoring(&w, n_ref, p, r);
    workspace_free(&w);
    if (rc == ICTAL_ENOMEM)
        ictal_diag_error(d, rc, "out of memory while scoring");
    return rc;
}
