/*
 * SzCORE scoring (include/ictal/score.h):
 *  - the golden outputs of the reference scorer (tests/fixtures/scoring/, copied from
 *    the shared test vectors): every count exactly, every metric within 1e-9;
 *  - an independent sample-by-sample transcription of the reference algorithm (boolean
 *    arrays and slices, as timescoring does) agrees with the interval implementation
 *    on thousands of random recordings, with default and non-default parameters;
 *  - properties: a reference scored against itself, event order, TP <= refTrue;
 *  - latency on the hand-made edge cases.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/score.h"
#include "test.h"

/* ---- golden vectors ------------------------------------------------------------------- */

static double json_metric(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return NAN;
    return json_number_value(v);
}

static void check_counts(const char *path, const char *method, json_t *exp,
                         const ictal_score_counts *c)
{
    long long ref_true = json_integer_value(json_object_get(exp, "refTrue"));
    long long tp = json_integer_value(json_object_get(exp, "tp"));
    long long fp = json_integer_value(json_object_get(exp, "fp"));
    long long ns = json_integer_value(json_object_get(exp, "numSamples"));
    double fs = json_number_value(json_object_get(exp, "fs"));
    CHECK_MSG(c->ref_true == ref_true && c->tp == tp && c->fp == fp && c->num_samples == ns &&
                  c->fs_hz == fs,
              "%s %s: got refTrue %lld tp %lld fp %lld n %lld fs %g, expected %lld %lld %lld "
              "%lld %g",
              path, method, (long long)c->ref_true, (long long)c->tp, (long long)c->fp,
              (long long)c->num_samples, c->fs_hz, ref_true, tp, fp, ns, fs);
}

static void check_metrics(const char *set, const char *what, json_t *exp,
                          const ictal_score_metrics *m, const ictal_score_metrics *std)
{
    const char *names[4] = {"sensitivity", "precision", "f1", "fpRate"};
    double got[4] = {m->sensitivity, m->precision, m->f1, m->fp_rate};
    double got_std[4] = {0};
    if (std) {
        got_std[0] = std->sensitivity;
        got_std[1] = std->precision;
        got_std[2] = std->f1;
        got_std[3] = std->fp_rate;
    }
    for (int i = 0; i < 4; i++) {
        double e = json_metric(exp, names[i]);
        CHECK_MSG((isnan(e) && isnan(got[i])) || fabs(e - got[i]) <= 1e-9,
                  "%s %s %s: got %.17g expected %.17g", set, what, names[i], got[i], e);
        if (std) {
            char key[32];
            snprintf(key, sizeof(key), "%s_std", names[i]);
            double es = json_metric(exp, key);
            CHECK_MSG((isnan(es) && isnan(got_std[i])) || fabs(es - got_std[i]) <= 1e-9,
                      "%s %s %s: got %.17g expected %.17g", set, what, key, got_std[i], es);
        }
    }
}

static void test_vectors(const char *set)
{
    char ref[1024], hyp[1024], exp_path[1024];
    snprintf(ref, sizeof(ref), "%s", test_fixture_path("scoring"));
    size_t n = strlen(ref);
    snprintf(ref + n, sizeof(ref) - n, "/%s/ref", set);
    snprintf(hyp, sizeof(hyp), "%s/%s/hyp", test_fixture_path("scoring"), set);
    snprintf(exp_path, sizeof(exp_path), "%s/%s/expected.json", test_fixture_path("scoring"),
             set);
    json_error_t jerr;
    json_t *exp = json_load_file(exp_path, 0, &jerr);
    CHECK_MSG(exp != NULL, "%s: %s", exp_path, jerr.text);
    if (exp == NULL)
        return;
    ictal_score_params p;
    ictal_score_params_default(&p);
    ictal_score_dataset ds;
    ictal_score_dataset_init(&ds);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_score_dataset_run(ref, hyp, &p, &ds, &d);
    char buf[512];
    CHECK_MSG(rc == 0, "%s: %s", set, ictal_diag_format(&d, buf, sizeof(buf)));
    json_t *per_file = json_object_get(exp, "per_file");
    CHECK_EQ_INT(ds.n_files, json_object_size(per_file));
    size_t matched = 0;
    const char *key;
    json_t *val;
    json_object_foreach(per_file, key, val)
    {
        const ictal_score_file *f = NULL;
        for (size_t i = 0; i < ds.n_files; i++)
            if (strcmp(ds.files[i].path, key) == 0)
                f = &ds.files[i];
        CHECK_MSG(f != NULL, "%s: %s not scored", set, key);
        if (f == NULL)
            continue;
        matched++;
        check_counts(key, "sample", json_object_get(val, "sample"), &f->result.sample);
        check_counts(key, "event", json_object_get(val, "event"), &f->result.event);
    }
    CHECK_EQ_INT(matched, ds.n_files);
    json_t *avg = json_object_get(exp, "avg_per_subject");
    if (avg != NULL) {
        check_metrics(set, "avg event", json_object_get(avg, "event_results"), &ds.event.mean,
                      &ds.event.std);
        check_metrics(set, "avg sample", json_object_get(avg, "sample_results"),
                      &ds.sample.mean, &ds.sample.std);
    }
    json_t *cum = json_object_get(exp, "cumulative");
    if (cum != NULL) {
        check_metrics(set, "pooled event", json_object_get(cum, "event_results"),
                      &ds.event.pooled, NULL);
        check_metrics(set, "pooled sample", json_object_get(cum, "sample_results"),
                      &ds.sample.pooled, NULL);
    }
    printf("%s: %zu files, %zu subjects checked\n", set, ds.n_files, ds.n_subjects);
    ictal_score_dataset_free(&ds);
    json_decref(exp);
}

/* ---- an independent, sample-by-sample transcription of the reference ------------------ */

typedef struct {
    double *t0, *t1;
    size_t n, cap;
} evlist;

static void ev_insert(evlist *l, size_t at, double t0, double t1)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->t0 = realloc(l->t0, l->cap * sizeof(double));
        l->t1 = realloc(l->t1, l->cap * sizeof(double));
        if (!l->t0 || !l->t1)
            abort();
    }
    memmove(l->t0 + at + 1, l->t0 + at, (l->n - at) * sizeof(double));
    memmove(l->t1 + at + 1, l->t1 + at, (l->n - at) * sizeof(double));
    l->t0[at] = t0;
    l->t1[at] = t1;
    l->n++;
}

static void ev_delete(evlist *l, size_t at)
{
    memmove(l->t0 + at, l->t0 + at + 1, (l->n - at - 1) * sizeof(double));
    memmove(l->t1 + at, l->t1 + at + 1, (l->n - at - 1) * sizeof(double));
    l->n--;
}

static void ev_free(evlist *l)
{
    free(l->t0);
    free(l->t1);
    memset(l, 0, sizeof(*l));
}

/* Python's a[s:e] bounds for non-negative s, e. */
static void slice(long long *s, long long *e, long long n)
{
    if (*s > n)
        *s = n;
    if (*e > n)
        *e = n;
    if (*e < *s)
        *e = *s;
}

static long long pyround(double x)
{
    double r = round(x);
    if (fabs(x - trunc(x)) == 0.5)
        r = 2.0 * round(x / 2.0);
    return (long long)r;
}

/* Annotation(mask, fs).events */
static void mask_events(const unsigned char *m, long long n, double fs, evlist *out)
{
    for (long long i = 0; i < n;) {
        if (!m[i]) {
            i++;
            continue;
        }
        long long j = i;
        while (j < n && m[j])
            j++;
        ev_insert(out, out->n, (double)i / fs, (double)j / fs);
        i = j;
    }
}

/* Annotation(events, fs, numSamples).mask */
static unsigned char *events_mask(const evlist *ev, double fs, long long n)
{
    unsigned char *m = calloc((size_t)n + 1, 1);
    for (size_t k = 0; k < ev->n; k++) {
        long long s = pyround(ev->t0[k] * fs), e = pyround(ev->t1[k] * fs);
        slice(&s, &e, n);
        for (long long i = s; i < e; i++)
            m[i] = 1;
    }
    return m;
}

static unsigned char *get_mask(const ictal_annotations *a, double fs, long long *n)
{
    *n = (long long)(a->recording_duration_s * fs);
    unsigned char *m = calloc((size_t)*n + 1, 1);
    for (size_t k = 0; k < a->count; k++) {
        if (strncmp(a->events[k].event_type, "sz", 2) != 0)
            continue;
        long long s = (long long)(a->events[k].onset_s * fs);
        long long e = (long long)((a->events[k].onset_s + a->events[k].duration_s) * fs);
        slice(&s, &e, *n);
        for (long long i = s; i < e; i++)
            m[i] = 1;
    }
    return m;
}

static void oracle(const ictal_annotations *ref, const ictal_annotations *hyp,
                   const ictal_score_params *p, ictal_score_counts *sample,
                   ictal_score_counts *event)
{
    double FS = p->label_rate_hz;
    long long nr, nh;
    unsigned char *rm = get_mask(ref, FS, &nr);
    unsigned char *hm = get_mask(hyp, FS, &nh);
    if (nh != nr) {
        double diff = (double)llabs(nh - nr) / FS;
        unsigned char *h2 = calloc((size_t)nr + 1, 1);
        if (diff <= p->duration_tolerance_s)
            memcpy(h2, hm, (size_t)(nh < nr ? nh : nr));
        free(hm);
        hm = h2;
    }
    evlist re = {0}, he = {0};
    mask_events(rm, nr, FS, &re);
    mask_events(hm, nr, FS, &he);

    /* SampleScoring */
    double fs = p->sample_rate_hz;
    long long n = pyround((double)nr / FS * fs);
    unsigned char *a = events_mask(&re, fs, n), *b = events_mask(&he, fs, n);
    memset(sample, 0, sizeof(*sample));
    for (long long i = 0; i < n; i++) {
        sample->ref_true += a[i];
        sample->tp += a[i] & b[i];
        sample->fp += (!a[i]) && b[i];
    }
    sample->num_samples = n;
    sample->fs_hz = fs;
    free(a);
    free(b);

    /* EventScoring */
    fs = p->event_rate_hz;
    n = pyround((double)nr / FS * fs);
    evlist *lists[2] = {&re, &he};
    for (int k = 0; k < 2; k++) {
        evlist *l = lists[k];
        for (size_t i = 1; i < l->n;) {
            if (l->t0[i] - l->t1[i - 1] < p->min_duration_between_events_s) {
                l->t1[i - 1] = l->t1[i];
                ev_delete(l, i);
            } else {
                i++;
            }
        }
        for (size_t i = 0; i < l->n; i++) {
            if (l->t1[i] - l->t0[i] > p->max_event_duration_s) {
                double t0 = l->t0[i], t1 = l->t1[i];
                l->t1[i] = t0 + p->max_event_duration_s;
                ev_insert(l, i + 1, t0 + p->max_event_duration_s, t1);
            }
        }
    }
    unsigned char *hyp10 = events_mask(&he, fs, n);
    unsigned char *tpm = calloc((size_t)n + 1, 1);
    double file_s = (double)n / fs;
    memset(event, 0, sizeof(*event));
    for (size_t i = 0; i < re.n; i++) {
        double w0 = fmax(0, re.t0[i] - p->tolerance_start_s);
        double w1 = fmin(file_s, re.t1[i] + p->tolerance_end_s);
        long long s = pyround(w0 * fs), e = pyround(w1 * fs);
        slice(&s, &e, n);
        long long sum = 0;
        for (long long j = s; j < e; j++)
            sum += hyp10[j];
        if (((double)sum / fs) / (w1 - w0) > p->min_overlap + 1e-6) {
            event->tp++;
            for (long long j = s; j < e; j++)
                tpm[j] = 1;
        }
    }
    for (size_t i = 0; i < he.n; i++) {
        long long s = pyround(he.t0[i] * fs), e = pyround(he.t1[i] * fs);
        slice(&s, &e, n);
        int all_off = 1;
        for (long long j = s; j < e; j++)
            if (tpm[j])
                all_off = 0;
        event->fp += all_off;
    }
    event->ref_true = (int64_t)re.n;
    event->num_samples = n;
    event->fs_hz = fs;
    free(hyp10);
    free(tpm);
    free(rm);
    free(hm);
    ev_free(&re);
    ev_free(&he);
}

/* ---- random recordings ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double urand(void)
{
    return test_uniform(&rng_state);
}

/* Times on a 0.01 s grid, as the TSV format writes them. */
static double grid(double x)
{
    return round(x * 100) / 100;
}

static void random_annotations(ictal_annotations *a, double rec_s, int max_events)
{
    ictal_annotations_init(a);
    a->recording_duration_s = rec_s;
    int n = (int)(urand() * (max_events + 1));
    for (int i = 0; i < n; i++) {
        ictal_event e;
        memset(&e, 0, sizeof(e));
        e.onset_s = grid(urand() * rec_s * 0.98);
        double dmax = urand() < 0.2 ? 900 : 90;
        e.duration_s = grid(urand() * dmax);
        if (e.onset_s + e.duration_s > rec_s)
            e.duration_s = grid(rec_s - e.onset_s);
        strcpy(e.event_type, urand() < 0.9 ? "sz" : "bckg");
        e.confidence = NAN;
        ictal_annotations_add(a, &e);
    }
}

static void random_params(ictal_score_params *p)
{
    ictal_score_params_default(p);
    if (urand() < 0.4)
        return;
    p->tolerance_start_s = round(urand() * 160) / 4;  /* quarter seconds: ties in round() */
    p->tolerance_end_s = round(urand() * 320) / 4;
    p->min_overlap = urand() < 0.5 ? 0 : urand() * 0.3;
    p->max_event_duration_s = 20 + round(urand() * 400);
    p->min_duration_between_events_s = round(urand() * 1200) / 10;
    if (urand() < 0.3)
        p->event_rate_hz = 4;
    if (urand() < 0.3)
        p->label_rate_hz = 2;
    if (urand() < 0.3)
        p->sample_rate_hz = 2;
    p->duration_tolerance_s = urand() < 0.5 ? 0 : 5;
}

static int counts_equal(const ictal_score_counts *a, const ictal_score_counts *b)
{
    return a->ref_true == b->ref_true && a->tp == b->tp && a->fp == b->fp &&
           a->num_samples == b->num_samples && a->fs_hz == b->fs_hz;
}

static void test_against_oracle(void)
{
    int mismatches = 0, cases = 2000;
    ictal_score_result r;
    ictal_score_result_init(&r);
    for (int c = 0; c < cases; c++) {
        ictal_score_params p;
        random_params(&p);
        double rec = grid(300 + urand() * 7000);
        ictal_annotations ref, hyp;
        random_annotations(&ref, rec, 6);
        /* Now and then a hypothesis of a slightly different length. */
        random_annotations(&hyp, urand() < 0.15 ? grid(rec + (urand() - 0.5) * 16) : rec, 8);
        ictal_diag d;
        ictal_diag_init(&d);
        int rc = ictal_score_recording(&ref, &hyp, &p, &r, &d);
        ictal_score_counts s, e;
        oracle(&ref, &hyp, &p, &s, &e);
        if (rc != 0 || !counts_equal(&s, &r.sample) || !counts_equal(&e, &r.event)) {
            if (mismatches++ < 5)
                fprintf(stderr,
                        "case %d (rc %d): sample %lld/%lld/%lld vs oracle %lld/%lld/%lld, event "
                        "%lld/%lld/%lld vs oracle %lld/%lld/%lld\n",
                        c, rc, (long long)r.sample.ref_true, (long long)r.sample.tp,
                        (long long)r.sample.fp, (long long)s.ref_true, (long long)s.tp,
                        (long long)s.fp, (long long)r.event.ref_true, (long long)r.event.tp,
                        (long long)r.event.fp, (long long)e.ref_true, (long long)e.tp,
                        (long long)e.fp);
        }
        CHECK(r.event.tp <= r.event.ref_true);
        CHECK(r.n_latency <= (size_t)r.event.tp);
        ictal_annotations_free(&ref);
        ictal_annotations_free(&hyp);
    }
    CHECK_MSG(mismatches == 0, "%d of %d random recordings differ from the sample-by-sample "
              "reference", mismatches, cases);
    ictal_score_result_free(&r);
}

/* ---- properties ------------------------------------------------------------------------- */

static void shuffle_copy(const ictal_annotations *a, ictal_annotations *out)
{
    ictal_annotations_init(out);
    out->recording_duration_s = a->recording_duration_s;
    for (size_t i = 0; i < a->count; i++)
        ictal_annotations_add(out, &a->events[i]);
    for (size_t i = out->count; i > 1; i--) {
        size_t j = (size_t)(urand() * (double)i);
        ictal_event t = out->events[i - 1];
        out->events[i - 1] = out->events[j];
        out->events[j] = t;
    }
}

static void test_properties(void)
{
    ictal_score_result r1, r2;
    ictal_score_result_init(&r1);
    ictal_score_result_init(&r2);
    int self_ok = 1, order_ok = 1;
    for (int c = 0; c < 500; c++) {
        ictal_score_params p;
        ictal_score_params_default(&p);
        ictal_annotations ref;
        random_annotations(&ref, grid(600 + urand() * 86400), 12);
        ictal_diag d;
        ictal_diag_init(&d);
        CHECK(ictal_score_recording(&ref, &ref, &p, &r1, &d) == 0);
        ictal_score_metrics ms, me;
        ictal_score_metrics_compute(&r1.sample, &ms);
        ictal_score_metrics_compute(&r1.event, &me);
        if (r1.event.ref_true > 0) {
            if (!(ms.sensitivity == 1 && ms.precision == 1 && me.sensitivity == 1 &&
                  me.precision == 1))
                self_ok = 0;
            for (size_t i = 0; i < r1.n_latency; i++)
                if (r1.latency_s[i] != 0)
                    self_ok = 0;
        }
        if (r1.sample.fp != 0 || r1.event.fp != 0 || ms.fp_rate != 0 || me.fp_rate != 0)
            self_ok = 0;

        /* Shuffled rows, in the hypothesis and in the reference, give the same result. */
        ictal_annotations hyp, shuffled, ref_shuffled;
        random_annotations(&hyp, ref.recording_duration_s, 10);
        shuffle_copy(&hyp, &shuffled);
        shuffle_copy(&ref, &ref_shuffled);
        CHECK(ictal_score_recording(&ref, &hyp, &p, &r1, &d) == 0);
        CHECK(ictal_score_recording(&ref_shuffled, &shuffled, &p, &r2, &d) == 0);
        if (!counts_equal(&r1.sample, &r2.sample) || !counts_equal(&r1.event, &r2.event) ||
            r1.n_latency != r2.n_latency)
            order_ok = 0;
        for (size_t i = 0; i < r1.n_latency && i < r2.n_latency; i++)
            if (r1.latency_s[i] != r2.latency_s[i])
                order_ok = 0;
        ictal_annotations_free(&ref_shuffled);
        CHECK(r1.event.tp <= r1.event.ref_true);
        ictal_annotations_free(&ref);
        ictal_annotations_free(&hyp);
        ictal_annotations_free(&shuffled);
    }
    CHECK_MSG(self_ok, "a reference scored against itself is not perfect");
    CHECK_MSG(order_ok, "the order of events changed the result");
    ictal_score_result_free(&r1);
    ictal_score_result_free(&r2);
}

/* ---- latency and the details of the rules ---------------------------------------------- */

static void one(double rec, double ref_on, double ref_dur, double hyp_on, double hyp_dur,
                ictal_score_result *r)
{
    ictal_annotations ref, hyp;
    ictal_annotations_init(&ref);
    ictal_annotations_init(&hyp);
    ref.recording_duration_s = hyp.recording_duration_s = rec;
    ictal_event e;
    memset(&e, 0, sizeof(e));
    strcpy(e.event_type, "sz");
    e.onset_s = ref_on;
    e.duration_s = ref_dur;
    ictal_annotations_add(&ref, &e);
    e.onset_s = hyp_on;
    e.duration_s = hyp_dur;
    ictal_annotations_add(&hyp, &e);
    ictal_score_params p;
    ictal_score_params_default(&p);
    CHECK(ictal_score_recording(&ref, &hyp, &p, r, NULL) == 0);
    ictal_annotations_free(&ref);
    ictal_annotations_free(&hyp);
}

static void test_latency(void)
{
    ictal_score_result r;
    ictal_score_result_init(&r);
    one(3600, 1000, 60, 970, 10, &r); /* 30 s early: still a hit */
    CHECK_EQ_INT(r.n_latency, 1);
    CHECK_NEAR(r.latency_s[0], -30, 0);
    one(3600, 1000, 60, 1115, 10, &r); /* 55 s after the end */
    CHECK_EQ_INT(r.n_latency, 1);
    CHECK_NEAR(r.latency_s[0], 115, 0);
    one(3600, 1000, 60, 1130, 10, &r); /* 70 s after the end: a miss */
    CHECK_EQ_INT(r.n_latency, 0);
    CHECK_EQ_INT(r.event.fp, 1);
    one(3600, 1000, 60, 900, 800, &r); /* split: the first piece overlaps */
    CHECK_EQ_INT(r.n_latency, 1);
    CHECK_NEAR(r.latency_s[0], -100, 0);
    CHECK_EQ_INT(r.event.fp, 2);
    one(3600, 1000, 700, 1500, 30, &r); /* only the 2nd piece of a split seizure: */
    CHECK_EQ_INT(r.event.ref_true, 3);     /* the latency runs from the seizure onset */
    CHECK_EQ_INT(r.event.tp, 1);
    CHECK_EQ_INT(r.n_latency, 1);
    CHECK_NEAR(r.latency_s[0], 500, 0);
    one(3600, 1000.4, 10, 1003.7, 5, &r); /* masks at 1 Hz: onsets 1000 and 1003 */
    CHECK_NEAR(r.latency_s[0], 3, 0);

    double lat[] = {5, -2, 3, 10, 1};
    ictal_latency_stats st;
    ictal_latency_stats_compute(lat, 5, &st);
    CHECK_EQ_INT(st.count, 5);
    CHECK_NEAR(st.median_s, 3, 1e-12);
    CHECK_NEAR(st.p90_s, 8, 1e-12); /* numpy: 5 + (10 - 5) * 0.6 */
    CHECK_NEAR(st.max_s, 10, 0);
    ictal_latency_stats_compute(lat, 0, &st);
    CHECK(isnan(st.median_s) && isnan(st.max_s));
    ictal_score_result_free(&r);
}

static void test_metrics_and_params(void)
{
    ictal_score_counts c = {10, 0, 0, 864000, 10};
    ictal_score_metrics m;
    ictal_score_metrics_compute(&c, &m);
    CHECK(m.sensitivity == 0 && isnan(m.precision) && m.f1 == 0 && m.fp_rate == 0);
    ictal_score_counts c2 = {0, 0, 3, 864000, 10};
    ictal_score_metrics_compute(&c2, &m);
    CHECK(isnan(m.sensitivity) && m.precision == 0 && m.f1 == 0 && m.fp_rate == 3);
    ictal_score_counts c4 = {0, 0, 0, 864000, 10};
    ictal_score_metrics_compute(&c4, &m); /* F1 is NaN only without reference and FP */
    CHECK(isnan(m.sensitivity) && isnan(m.precision) && isnan(m.f1) && m.fp_rate == 0);
    ictal_score_counts c3 = {4, 2, 2, 432000, 10};
    ictal_score_metrics_compute(&c3, &m);
    CHECK_NEAR(m.f1, 0.5, 1e-15);
    CHECK_NEAR(m.fp_rate, 4, 1e-12);

    double x[] = {1, NAN, 3}, mean, sd;
    ictal_nanmean_nanstd(x, 3, &mean, &sd);
    CHECK_NEAR(mean, 2, 0);
    CHECK_NEAR(sd, 1, 0); /* population std, as numpy's default ddof=0 */
    double y[] = {NAN, NAN};
    ictal_nanmean_nanstd(y, 2, &mean, &sd);
    CHECK(isnan(mean) && isnan(sd));

    ictal_score_params p;
    ictal_score_params_default(&p);
    CHECK(ictal_score_params_check(&p, NULL) == 0);
    p.max_event_duration_s = 0;
    CHECK(ictal_score_params_check(&p, NULL) == ICTAL_EINVAL);
    ictal_score_params_default(&p);
    p.event_rate_hz = NAN;
    CHECK(ictal_score_params_check(&p, NULL) == ICTAL_EINVAL);

    /* A reference without a known duration cannot be scored. */
    ictal_annotations ref;
    ictal_annotations_init(&ref);
    ictal_score_result r;
    ictal_score_result_init(&r);
    ictal_score_params_default(&p);
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK(ictal_score_recording(&ref, NULL, &p, &r, &d) == ICTAL_ERANGE);
    CHECK(strstr(d.message, "duration") != NULL);
    ref.recording_duration_s = 0.5; /* shorter than one 1 Hz sample */
    CHECK(ictal_score_recording(&ref, NULL, &p, &r, &d) == ICTAL_ERANGE);
    /* No hypothesis: no detection. */
    ref.recording_duration_s = 3600;
    ictal_event e;
    memset(&e, 0, sizeof(e));
    strcpy(e.event_type, "sz_foc_a");
    e.onset_s = 100;
    e.duration_s = 50;
    ictal_annotations_add(&ref, &e);
    CHECK(ictal_score_recording(&ref, NULL, &p, &r, &d) == 0);
    CHECK(r.sample.ref_true == 50 && r.sample.tp == 0 && r.event.ref_true == 1 &&
          r.event.tp == 0 && r.event.fp == 0 && r.event.num_samples == 36000);

    /* Length mismatch: a warning, and the hypothesis is ignored beyond the tolerance. */
    ictal_annotations hyp;
    ictal_annotations_init(&hyp);
    hyp.recording_duration_s = 3590;
    ictal_annotations_add(&hyp, &e);
    unsigned warnings = d.n_warnings;
    CHECK(ictal_score_recording(&ref, &hyp, &p, &r, &d) == 0);
    CHECK(d.n_warnings == warnings + 1 && r.hyp_ignored && r.event.tp == 0);
    p.duration_tolerance_s = 10;
    CHECK(ictal_score_recording(&ref, &hyp, &p, &r, &d) == 0);
    CHECK(d.n_warnings == warnings + 2 && !r.hyp_ignored && r.event.tp == 1 &&
          r.sample.tp == 50);
    d.strict = 1;
    CHECK(ictal_score_recording(&ref, &hyp, &p, &r, &d) == ICTAL_ESTRICT);
    ictal_annotations_free(&hyp);
    ictal_annotations_free(&ref);
    ictal_score_result_free(&r);
}

int main(void)
{
    test_vectors("edges");
    test_vectors("set1");
    test_vectors("set2");
    test_latency();
    test_metrics_and_params();
    test_properties();
    test_against_oracle();
    return test_summary();
}
