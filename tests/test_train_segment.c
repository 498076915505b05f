/*
 * The segment model of ictal train (--unit segment): the statistics and column names of
 * the descriptor; on real Bonn segments (needs ../shared, else only the unit part runs
 * and the test skips), descriptors against the mean / sd / min / max of hop features
 * collected here straight from libictal, the segment table, and a cross-validation that
 * scores every segment, on the hop model's folds, the same way twice.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect_util.h"
#include "ictal/ictal.h"
#include "ictal/train.h"
#include "test.h"

static void test_stats(void)
{
    float st[ICTAL_SEGMENT_STATS];
    float x[4] = {1.0f, NAN, 3.0f, 5.0f};
    ictal_segment_stats(x, 4, 1, st);
    CHECK_NEAR(st[ICTAL_SEGMENT_MEAN], 3.0, 1e-6);
    CHECK_NEAR(st[ICTAL_SEGMENT_SD], sqrt(8.0 / 3.0), 1e-6); /* population: over n = 3 */
    CHECK_NEAR(st[ICTAL_SEGMENT_MIN], 1.0, 0);
    CHECK_NEAR(st[ICTAL_SEGMENT_MAX], 5.0, 0);
    /* a column of a row-major table: every third value */
    float t[9] = {2, 100, 100, -4, 100, 100, 8, 100, 100};
    ictal_segment_stats(t, 3, 3, st);
    CHECK_NEAR(st[ICTAL_SEGMENT_MEAN], 2.0, 1e-6);
    CHECK_NEAR(st[ICTAL_SEGMENT_SD], sqrt(24.0), 1e-5);
    CHECK_NEAR(st[ICTAL_SEGMENT_MIN], -4.0, 0);
    CHECK_NEAR(st[ICTAL_SEGMENT_MAX], 8.0, 0);
    float one = 7.5f;
    ictal_segment_stats(&one, 1, 1, st);
    CHECK(st[ICTAL_SEGMENT_MEAN] == 7.5f && st[ICTAL_SEGMENT_SD] == 0.0f &&
          st[ICTAL_SEGMENT_MIN] == 7.5f && st[ICTAL_SEGMENT_MAX] == 7.5f);
    /* large offset, small spread: two passes keep the spread */
    float big[2] = {10000.0f, 10000.5f};
    ictal_segment_stats(big, 2, 1, st);
    CHECK_NEAR(st[ICTAL_SEGMENT_SD], 0.25, 1e-6);
    float nan2[2] = {NAN, NAN};
    ictal_segment_stats(nan2, 2, 1, st);
    for (int s = 0; s < ICTAL_SEGMENT_STATS; s++)
        CHECK(isnan(st[s]));
    ictal_segment_stats(NULL, 0, 1, st);
    CHECK(isnan(st[ICTAL_SEGMENT_MEAN]));
}

static void test_names(void)
{
    char b[64];
    CHECK(ictal_segment_feature_name(0, b, sizeof b) == 0);
    CHECK_STR(b, "mean_log_line_length");
    CHECK(ictal_segment_feature_name(ICTAL_N_FEATURES, b, sizeof b) == 0);
    CHECK_STR(b, "sd_log_line_length");
    CHECK(ictal_segment_feature_name(2 * ICTAL_N_FEATURES + ICTAL_F_REL_DELTA, b, sizeof b) == 0);
    CHECK_STR(b, "min_rel_delta");
    CHECK(ictal_segment_feature_name(ICTAL_SEGMENT_N_FEATURES - 1, b, sizeof b) == 0);
    CHECK_STR(b, "max_hop_ll_spread");
    CHECK(ictal_segment_feature_name(ICTAL_SEGMENT_N_FEATURES, b, sizeof b) == ICTAL_EINVAL);
    CHECK(ictal_segment_feature_name(-1, b, sizeof b) == ICTAL_EINVAL);
    CHECK(ictal_segment_feature_name(0, b, 8) == ICTAL_EINVAL); /* does not fit */
    CHECK_EQ_INT(ICTAL_SEGMENT_N_FEATURES, ICTAL_SEGMENT_STATS * ICTAL_N_FEATURES);
}

/* --- the oracle: hop features straight from libictal ------------------------------------- */

struct hops {
    double *f; /* [n * ICTAL_N_FEATURES] judged hops of channel 0 */
    size_t n, n_all;
};

static void on_hop(void *user, const ictal_hop *h)
{
    struct hops *o = user;
    o->n_all++;
    if (!(h->usable & 1u))
        return;
    o->f = realloc(o->f, (o->n + 1) * ICTAL_N_FEATURES * sizeof *o->f);
    for (int k = 0; k < ICTAL_N_FEATURES; k++)
        o->f[o->n * ICTAL_N_FEATURES + k] = h->features[k];
    o->n++;
}

/* Features-only detector over a one-channel item, artefact checks scaled as the item asks. */
static int oracle_hops(const ictal_corpus_item *it, const ictal_model_info *tmpl, struct hops *o)
{
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = 1;
    cfg.rate_hz = it->rate_hz;
    cfg.window_s = tmpl->window_s;
    cfg.hop_s = tmpl->hop_s;
    float k = it->artefact_scale;
    if (k > 0 && k != 1.0f) {
        cfg.jump_uv *= k;
        cfg.drift_uv *= k;
        cfg.movement_uv *= k;
        cfg.disconnect_uv *= k;
        cfg.muscle_uv2 *= k * k;
    }
    cfg.on_hop = on_hop;
    cfg.user = o;
    ictal_detector *det = du_detector_new(&cfg, NULL);
    if (det == NULL)
        return -1;
    int rc = ictal_detector_push(det, it->frames_uv, it->n_frames);
    free(det);
    return rc;
}

static const ictal_corpus_item *find(const ictal_corpus *c, const char *name)
{
    for (size_t i = 0; i < c->n_items; i++)
        if (strcmp(c->items[i].name, name) == 0)
            return &c->items[i];
    return NULL;
}

/* Descriptor of one segment against the statistics computed here in double. */
static void check_descriptor(const ictal_corpus *c, const char *name, const ictal_model_info *tmpl,
                             int expect_flagged)
{
    const ictal_corpus_item *it = find(c, name);
    CHECK_MSG(it != NULL, "%s loaded", name);
    if (it == NULL)
        return;
    struct hops o = {NULL, 0, 0};
    CHECK(oracle_hops(it, tmpl, &o) == 0);
    CHECK_MSG(o.n > 20, "%s: %zu judged hops", name, o.n);
    /* settling hops (and for F009 the clipped ones) are not judged */
    CHECK(o.n < o.n_all);
    if (expect_flagged)
        CHECK_MSG(o.n + 7 < o.n_all, "%s: %zu judged of %zu: flagged hops left out", name, o.n,
                  o.n_all);
    ictal_signal sig = {it->frames_uv, it->n_frames, 1, it->rate_hz, NULL, it->artefact_scale};
    float desc[ICTAL_SEGMENT_N_FEATURES];
    int n_judged = -1;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK(ictal_segment_describe(&sig, tmpl, desc, &n_judged, &d) == 0);
    CHECK_EQ_INT(n_judged, (int)o.n);
    int bad = 0;
    for (int f = 0; f < ICTAL_N_FEATURES; f++) {
        double sum = 0, lo = INFINITY, hi = -INFINITY, ss = 0;
        size_t m = 0;
        for (size_t h = 0; h < o.n; h++) {
            double v = o.f[h * ICTAL_N_FEATURES + f];
            if (isnan(v))
                continue;
            sum += v;
            m++;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        double mean = sum / (double)m;
        for (size_t h = 0; h < o.n; h++) {
            double v = o.f[h * ICTAL_N_FEATURES + f];
            if (!isnan(v))
                ss += (v - mean) * (v - mean);
        }
        double want[ICTAL_SEGMENT_STATS] = {mean, sqrt(ss / (double)m), lo, hi};
        for (int s = 0; s < ICTAL_SEGMENT_STATS; s++) {
            double got = desc[s * ICTAL_N_FEATURES + f];
            if (m == 0 ? !isnan(got) : !(fabs(got - want[s]) <= 1e-5 * (1 + fabs(want[s])))) {
                char col[64];
                ictal_segment_feature_name(s * ICTAL_N_FEATURES + f, col, sizeof col);
                CHECK_MSG(0, "%s %s: %g, expected %g", name, col, got, want[s]);
                bad++;
            }
        }
    }
    CHECK_MSG(bad == 0, "%s: all %d descriptor values", name, ICTAL_SEGMENT_N_FEATURES);
    free(o.f);
}

/* Eight segments of each series keep the cross-validation quick. */
static int first_eight(void *user, const ictal_corpus_item *it)
{
    (void)user;
    return atoi(it->name + 1) <= 8;
}

static void test_real(const char *data)
{
    ictal_corpus c;
    ictal_corpus_init(&c);
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK(ictal_corpus_add_shared(&c, data, ICTAL_SET_BONN, ICTAL_TRAIN_MONTAGE_AUTO, &d) == 0);
    ictal_model_info tmpl;
    ictal_train_template(&tmpl);
    tmpl.aggregation = ICTAL_AGG_TOPK_MEAN; /* ictal train's default; one channel here */
    tmpl.top_k = 2;
    check_descriptor(&c, "S001", &tmpl, 0);
    check_descriptor(&c, "Z001", &tmpl, 0);
    check_descriptor(&c, "F009", &tmpl, 1); /* clipping: 8 flagged hops */

    CHECK_EQ_INT((int)ictal_corpus_keep(&c, first_eight, NULL), 40);
    ictal_dataset seg;
    ictal_dataset_init(&seg, ICTAL_N_FEATURES);
    CHECK(ictal_segment_table(&c, &tmpl, 0, &seg, &d) == ICTAL_EINVAL); /* wrong width */
    ictal_dataset_free(&seg);
    ictal_dataset_init(&seg, ICTAL_SEGMENT_N_FEATURES);
    CHECK(ictal_segment_table(&c, &tmpl, 0, &seg, &d) == 0);
    CHECK_EQ_INT((int)seg.n_records, 40);
    CHECK_EQ_INT((int)seg.n_rows, 40);
    size_t n_pos = 0;
    ictal_dataset_count(&seg, NULL, &n_pos, NULL);
    CHECK_EQ_INT((int)n_pos, 8);
    int labels_ok = 1, rows_ok = 1;
    for (size_t i = 0; i < seg.n_rows; i++) {
        labels_ok &= (seg.y[i] > 0.5f) == (c.items[seg.record[i]].name[0] == 'S');
        rows_ok &= seg.record[i] == (int32_t)i;
    }
    CHECK(labels_ok);
    CHECK(rows_ok);
    /* the table's row is the descriptor */
    ictal_signal sig = {c.items[3].frames_uv, c.items[3].n_frames, 1, c.items[3].rate_hz, NULL,
                        c.items[3].artefact_scale};
    float desc[ICTAL_SEGMENT_N_FEATURES];
    int nj;
    CHECK(ictal_segment_describe(&sig, &tmpl, desc, &nj, &d) == 0);
    CHECK(memcmp(desc, seg.x + 3 * ICTAL_SEGMENT_N_FEATURES, sizeof desc) == 0);
    /* relative features: the absolute ones' four columns are missing, the others kept */
    ictal_dataset rel;
    ictal_dataset_init(&rel, ICTAL_SEGMENT_N_FEATURES);
    CHECK(ictal_segment_table(&c, &tmpl, ICTAL_TRAIN_ABSOLUTE_FEATURES, &rel, &d) == 0);
    int drop_ok = 1;
    for (int col = 0; col < ICTAL_SEGMENT_N_FEATURES; col++) {
        int absolute = (int)((ICTAL_TRAIN_ABSOLUTE_FEATURES >> (col % ICTAL_N_FEATURES)) & 1u);
        float v = rel.x[col], w = seg.x[col];
        drop_ok &= absolute ? isnan(v) : (v == w || (isnan(v) && isnan(w)));
    }
    CHECK(drop_ok);
    ictal_dataset_free(&rel);

    char b[64];
    /* Feature set 2: 100 columns; set 1's statistics unchanged, the three new features'
     * kept by --features relative (amplitude-independent). */
    ictal_model_info t2 = tmpl;
    t2.feature_set = 2;
    t2.n_features = ICTAL_N_FEATURES_SET2;
    const int nf2 = ICTAL_N_FEATURES_SET2;
    CHECK_EQ_INT(ictal_segment_n_features(2), 100);
    CHECK_EQ_INT(ictal_segment_n_features(1), ICTAL_SEGMENT_N_FEATURES);
    CHECK_EQ_INT(ictal_segment_n_features(3), 0);
    CHECK(ictal_segment_column_name(2, 3 * nf2 + ICTAL_F_EXCESS_KURTOSIS, b, sizeof b) == 0);
    CHECK_STR(b, "max_excess_kurtosis");
    CHECK(ictal_segment_column_name(2, 100, b, sizeof b) == ICTAL_EINVAL);
    ictal_dataset s2;
    ictal_dataset_init(&s2, ICTAL_SEGMENT_N_FEATURES);
    CHECK(ictal_segment_table(&c, &t2, 0, &s2, &d) == ICTAL_EINVAL); /* set 1's width */
    ictal_dataset_free(&s2);
    ictal_dataset_init(&s2, ictal_segment_n_features(2));
    CHECK(ictal_segment_table(&c, &t2, ICTAL_TRAIN_ABSOLUTE_FEATURES, &s2, &d) == 0);
    CHECK_EQ_INT((int)s2.n_rows, 40);
    int same1 = 1, kept = 1;
    for (size_t i = 0; i < s2.n_rows; i++)
        for (int st = 0; st < ICTAL_SEGMENT_STATS; st++) {
            for (int f = 0; f < ICTAL_N_FEATURES; f++) {
                float v = s2.x[i * 100 + (size_t)(st * nf2 + f)];
                float w = seg.x[i * ICTAL_SEGMENT_N_FEATURES + (size_t)(st * ICTAL_N_FEATURES + f)];
                int absolute = (int)((ICTAL_TRAIN_ABSOLUTE_FEATURES >> f) & 1u);
                same1 &= absolute ? isnan(v) : (v == w || (isnan(v) && isnan(w)));
            }
            for (int f = ICTAL_N_FEATURES; f < nf2; f++)
                kept &= isfinite(s2.x[i * 100 + (size_t)(st * nf2 + f)]) != 0;
        }
    CHECK(same1);
    CHECK(kept);
    ictal_dataset_free(&s2);

    ictal_cv_params p;
    ictal_cv_params_default(&p);
    p.scheme = ICTAL_CV_KFOLD;
    p.k = 5;
    ictal_segment_result r1, r2;
    ictal_segment_result_init(&r1);
    ictal_segment_result_init(&r2);
    CHECK(ictal_segment_cv_run(&c, &seg, &p, &tmpl, &r1, NULL, NULL, &d) == 0);
    CHECK(ictal_segment_cv_run(&c, &seg, &p, &tmpl, &r2, NULL, NULL, &d) == 0);
    CHECK_EQ_INT(r1.n_folds, 5);
    int folds[40];
    CHECK_EQ_INT(ictal_cv_folds(&c, &p, folds), 5);
    CHECK(memcmp(folds, r1.fold, sizeof folds) == 0); /* the hop model's folds */
    int probs_ok = 1;
    size_t correct = 0;
    for (size_t i = 0; i < 40; i++) {
        probs_ok &= r1.prob[i] >= 0.0f && r1.prob[i] <= 1.0f && r1.n_rows[i] == 1;
        correct += (r1.prob[i] >= 0.5f) == (c.items[i].name[0] == 'S');
    }
    CHECK_MSG(probs_ok, "a held-out probability in [0, 1] for every segment");
    CHECK_MSG(memcmp(r1.prob, r2.prob, 40 * sizeof *r1.prob) == 0, "deterministic");
    ictal_segment_summary s;
    ictal_segment_summarize(&c, &r1, NULL, NULL, &s);
    CHECK_EQ_INT((int)s.n, 40);
    CHECK_EQ_INT((int)s.n_correct, (int)correct);
    CHECK_NEAR(s.accuracy, (double)correct / 40.0, 1e-12);
    float lab[40];
    for (int i = 0; i < 40; i++)
        lab[i] = c.items[i].name[0] == 'S';
    CHECK_NEAR(s.auc, ictal_auc(r1.prob, lab, 40), 1e-12);
    /* a model that separates nothing would sit near 0.5; this is a sanity floor */
    CHECK_MSG(s.accuracy >= 0.8, "accuracy %.3f on 40 segments", s.accuracy);

    /* the report lists every misclassified segment */
    char path[] = "/tmp/ictal_segment_report_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        CHECK(ictal_segment_write_report(path, "t", "cmd", &c, &r1, &d) == 0);
        FILE *f = fopen(path, "r");
        char *text = calloc(1, 1 << 16);
        size_t len = f && text ? fread(text, 1, (1 << 16) - 1, f) : 0;
        if (f)
            fclose(f);
        CHECK(len > 0 && strstr(text, "| all | 40 | 8 | 32 |") != NULL);
        CHECK(strstr(text, "| bonn S | 8 | 8 | 0 |") != NULL);
        CHECK(strstr(text, "| bonn Z | 8 | 0 | 8 |") != NULL);
        int listed = 1;
        for (size_t i = 0; i < 40; i++) {
            if ((r1.prob[i] >= 0.5f) == (c.items[i].name[0] == 'S'))
                continue;
            char row[ICTAL_TRAIN_NAME_MAX + 16];
            snprintf(row, sizeof row, "| %s | bonn |", c.items[i].name);
            listed &= strstr(text, row) != NULL;
        }
        CHECK(listed);
        free(text);
        remove(path);
    }

    /* a hop model cannot seed a segment model */
    ictal_model dummy;
    memset(&dummy, 0, sizeof dummy);
    p.train.init = &dummy;
    CHECK(ictal_segment_cv_run(&c, &seg, &p, &tmpl, &r2, NULL, NULL, &d) == ICTAL_ENOTSUP);
    ictal_segment_result_free(&r1);
    ictal_segment_result_free(&r2);
    ictal_dataset_free(&seg);
    ictal_corpus_free(&c);
}

int main(void)
{
    test_stats();
    test_names();
    const char *bonn = test_shared_path("data/bonn/S/S001.txt");
    if (bonn == NULL) {
        test_summary();
        TEST_SKIP("../shared/data/bonn absent: real-data part skipped");
    }
    char data[1024];
    snprintf(data, sizeof data, "%s/data", getenv("ICTAL_SHARED"));
    test_real(data);
    return test_summary();
}
