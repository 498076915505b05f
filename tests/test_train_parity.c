/*
 * libictal's tree walk (ictal_model_predict on an exported model) against XGBoost's own
 * XGBoosterPredict, on at least 10,000 rows with NaN entries and values exactly at
 * split thresholds; continued training (init model + base margin); determinism of
 * both trainers (same data, same bytes); logistic regression against a direct
 * evaluation of its formula. All of it for models of feature set 1 and of set 2.
 *
 * The rows are real features when ../shared is there (the chb05_06 excerpt and two
 * eegmat recordings through libictal's features-only mode), else a fixed pseudo-random
 * table.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "ictal/ictal.h"
#include "ictal/train.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double rnd(void)
{
    return test_uniform(&rng_state);
}

/* A pseudo-random table with a nonlinear rule, 10 % NaN. */
static void synthetic_table(ictal_dataset *ds, size_t n)
{
    int nf = ds->n_features;
    float *x = malloc((size_t)nf * sizeof *x);
    int rec = ictal_dataset_add_record(ds, "synthetic", "synthetic");
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < nf; j++)
            x[j] = (float)(rnd() * 4.0 - 2.0);
        double s = x[0] * x[1] + sin(3.0 * x[2]) + 0.5 * x[3] + 0.3 * rnd();
        for (int j = 0; j < nf; j++)
            if (rnd() < 0.1)
                x[j] = NAN;
        ictal_dataset_add_row(ds, rec, 0, (float)i, x, s > 0.8 ? 1.0f : 0.0f);
    }
    free(x);
}

/* Real features: the chb05_06 excerpt (a seizure) and two eegmat resting recordings,
 * through libictal's features-only mode. 0 when ../shared is there and it worked. */
static int real_table(ictal_dataset *ds, const ictal_model_info *tmpl)
{
    const char *rel[3] = {"data/chbmit-continuous/chb05_06_excerpt.edf",
                          "data/eegmat-rest/Subject00_1.edf", "data/eegmat-rest/Subject01_1.edf"};
    ictal_corpus c;
    ictal_corpus_init(&c);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        const char *path = test_shared_path(rel[i]);
        if (path == NULL) {
            rc = -1;
            break;
        }
        rc = ictal_corpus_add_edf(&c, "parity", path, NULL, ICTAL_TRAIN_MONTAGE_DOUBLE_BANANA,
                                  NULL, NULL, &d);
    }
    if (rc == 0)
        rc = ictal_corpus_features(&c, tmpl, 1, ds, &d);
    if (rc > 0 || (rc < 0 && rc != -1))
        fprintf(stderr, "real table: %s\n", d.message);
    ictal_corpus_free(&c);
    return rc;
}

/* Sets, in about a third of the rows, one feature exactly to a threshold the model
 * uses for it (the `<` versus `<=` trap). */
static size_t put_thresholds(float *x, size_t n, int nf, const ictal_trained *t)
{
    size_t n_set = 0;
    uint32_t nn = t->info.n_nodes;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t k = (uint32_t)(rnd() * nn) % nn;
        for (uint32_t s = 0; s < nn; s++) {
            const ictal_tree_node *nd = &t->nodes[(k + s) % nn];
            if (nd->feature >= 0) {
                x[i * (size_t)nf + (size_t)nd->feature] = nd->value;
                n_set++;
                break;
            }
        }
    }
    return n_set;
}

static int parse_model(const ictal_trained *t, unsigned char **bytes, size_t *len,
                       ictal_model *m)
{
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal_trained_serialize(t, bytes, len, &d) != 0) {
        fprintf(stderr, "serialize: %s\n", d.message);
        return -1;
    }
    if (ictal_model_parse(m, *bytes, *len, &d) != 0) {
        fprintf(stderr, "parse: %s\n", d.message);
        return -1;
    }
    return 0;
}

/* Max |ictal - XGBoost| over the rows; base_margin may be NULL. */
static double compare(const ictal_model *m, const char *json, const float *x, size_t n,
                      int nf, const float *base_margin, double *max_margin_diff)
{
    DMatrixHandle dm;
    BoosterHandle b;
    CHECK(XGDMatrixCreateFromMat(x, n, (bst_ulong)nf, NAN, &dm) == 0);
    if (base_margin)
        CHECK(XGDMatrixSetFloatInfo(dm, "base_margin", base_margin, n) == 0);
    CHECK(XGBoosterCreate(NULL, 0, &b) == 0);
    CHECK(XGBoosterLoadModelFromBuffer(b, json, strlen(json)) == 0);
    XGBoosterSetParam(b, "nthread", "1");
    bst_ulong out_len = 0;
    const float *pred = NULL, *marg = NULL;
    CHECK(XGBoosterPredict(b, dm, 0, 0, 0, &out_len, &pred) == 0);
    CHECK_EQ_INT(out_len, n);
    float *p = malloc(n * sizeof *p);
    memcpy(p, pred, n * sizeof *p);
    CHECK(XGBoosterPredict(b, dm, 1, 0, 0, &out_len, &marg) == 0);
    double worst = 0, worst_m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)ictal_model_predict(m, x + i * (size_t)nf) - p[i]);
        double em = fabs((double)ictal_model_margin(m, x + i * (size_t)nf) - marg[i]);
        if (e > worst)
            worst = e;
        if (em > worst_m)
            worst_m = em;
    }
    free(p);
    XGBoosterFree(b);
    XGDMatrixFree(dm);
    *max_margin_diff = worst_m;
    return worst;
}

/* Everything below, for the models of one feature set (1: 22 features, 2: 25). */
static void parity(int feature_set)
{
    printf("feature set %d\n", feature_set);
    ictal_model_info tmpl;
    ictal_train_template_set(&tmpl, feature_set);
    ictal_dataset ds;
    ictal_dataset_init(&ds, tmpl.n_features);
    const char *source = "real";
    if (real_table(&ds, &tmpl) != 0 || ds.n_rows < 10000) {
        ictal_dataset_free(&ds);
        source = "synthetic";
        synthetic_table(&ds, 12000);
    }
    size_t n_pos, n_neg;
    ictal_dataset_count(&ds, NULL, &n_pos, &n_neg);
    printf("%s rows: %zu (%zu seizure)\n", source, ds.n_rows, n_pos);
    CHECK(ds.n_rows >= 10000);
    int nf = ds.n_features;

    ictal_xgb_params p;
    ictal_xgb_params_default(&p);
    p.max_depth = 6;
    p.n_rounds = 40;
    ictal_trained t1, t2;
    ictal_trained_init(&t1);
    ictal_trained_init(&t2);
    char *json1 = NULL, *json2 = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_train_xgb(&ds, NULL, &p, &tmpl, NULL, &t1, &json1, &d);
    CHECK_MSG(rc == 0, "%s", d.message);
    CHECK_EQ_INT(t1.info.n_trees, p.n_rounds);
    CHECK(t1.info.n_nodes > (uint32_t)p.n_rounds * 3);
    CHECK_EQ_INT(t1.info.feature_set, feature_set);
    CHECK_EQ_INT(t1.info.n_features, ictal_feature_count(feature_set));
    if (feature_set == 2 && strcmp(source, "real") == 0) { /* splits on the new columns */
        uint32_t on_new = 0;
        for (uint32_t i = 0; i < t1.info.n_nodes; i++)
            on_new += t1.nodes[i].feature >= ICTAL_N_FEATURES &&
                      t1.nodes[i].feature < ICTAL_N_FEATURES_SET2;
        printf("splits on set 2's features: %u\n", on_new);
        CHECK(on_new >= 10);
    }

    /* the table to compare on: every row, a third with a value exactly at a split */
    size_t n = ds.n_rows;
    float *x = malloc(n * (size_t)nf * sizeof *x);
    memcpy(x, ds.x, n * (size_t)nf * sizeof *x);
    size_t n_at = put_thresholds(x, n, nf, &t1);
    size_t n_nan = 0;
    for (size_t i = 0; i < n * (size_t)nf; i++)
        n_nan += isnan(x[i]) != 0;
    /* real features have few NaN: make sure missing values are exercised */
    for (size_t i = 1; i < n && n_nan < n / 5; i += 4) {
        x[i * (size_t)nf + (i % (size_t)nf)] = NAN;
        n_nan++;
    }
    printf("rows at a threshold: %zu, NaN entries: %zu\n", n_at, n_nan);
    CHECK(n_at >= n / 4);

    unsigned char *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    ictal_model m1;
    CHECK(parse_model(&t1, &b1, &l1, &m1) == 0);
    double dm1, d1 = compare(&m1, json1, x, n, nf, NULL, &dm1);
    printf("trees: max |p_ictal - p_xgboost| = %.3g, margin %.3g\n", d1, dm1);
    CHECK(d1 <= 1e-5);

    /* same data, same parameters: same bytes */
    rc = ictal_train_xgb(&ds, NULL, &p, &tmpl, NULL, &t2, &json2, &d);
    CHECK(rc == 0);
    CHECK(parse_model(&t2, &b2, &l2, &(ictal_model){0}) == 0);
    CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0);
    free(b2);
    free(json2);
    ictal_trained_free(&t2);

    /* continued training on top of m1: init's trees + new trees, base margin = m1 */
    uint8_t *half = calloc(ds.n_rows, 1);
    for (size_t i = 0; i < ds.n_rows; i += 2)
        half[i] = 1;
    ictal_xgb_params p2 = p;
    p2.n_rounds = 10;
    rc = ictal_train_xgb(&ds, half, &p2, &tmpl, &m1, &t2, &json2, &d);
    CHECK_MSG(rc == 0, "%s", d.message);
    CHECK_EQ_INT(t2.info.n_trees, p.n_rounds + p2.n_rounds);
    ictal_model m2;
    CHECK(parse_model(&t2, &b2, &l2, &m2) == 0);
    float *bm = malloc(n * sizeof *bm);
    for (size_t i = 0; i < n; i++)
        bm[i] = ictal_model_margin(&m1, x + i * (size_t)nf);
    double dm2, d2 = compare(&m2, json2, x, n, nf, bm, &dm2);
    printf("continued: max |p_ictal - p_xgboost| = %.3g, margin %.3g\n", d2, dm2);
    CHECK(d2 <= 1e-5);

    /* logistic regression: deterministic, and the model computes its own formula */
    ictal_logreg_params lp;
    ictal_logreg_params_default(&lp);
    ictal_trained l_a, l_b;
    ictal_trained_init(&l_a);
    ictal_trained_init(&l_b);
    CHECK(ictal_train_logreg(&ds, NULL, &lp, &tmpl, &l_a, &d) == 0);
    CHECK(ictal_train_logreg(&ds, NULL, &lp, &tmpl, &l_b, &d) == 0);
    unsigned char *la = NULL, *lb = NULL;
    size_t lla = 0, llb = 0;
    ictal_model ma, mb;
    CHECK(parse_model(&l_a, &la, &lla, &ma) == 0);
    CHECK(parse_model(&l_b, &lb, &llb, &mb) == 0);
    CHECK(lla == llb && memcmp(la, lb, lla) == 0);
    double worst = 0;
    size_t correct_lr = 0, correct_xgb = 0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = ds.x + i * (size_t)nf;
        double mg = l_a.info.base_score;
        for (int j = 0; j < nf; j++)
            if (!isnan(xi[j]))
                mg += l_a.weights[j] * ((xi[j] - l_a.mean[j]) / l_a.scale[j]);
        double e = fabs(1.0 / (1.0 + exp(-mg)) - ictal_model_predict(&ma, xi));
        if (e > worst)
            worst = e;
        correct_lr += (ictal_model_predict(&ma, xi) >= 0.5f) == (ds.y[i] > 0.5f);
        correct_xgb += (ictal_model_predict(&m1, xi) >= 0.5f) == (ds.y[i] > 0.5f);
    }
    printf("logreg formula vs libictal: %.3g; training accuracy logreg %.3f, trees %.3f\n",
           worst, (double)correct_lr / n, (double)correct_xgb / n);
    CHECK(worst <= 1e-5);
    CHECK((double)correct_xgb / n > 0.85);
    CHECK((double)correct_lr / n > 0.6);

    /* bad input: a JSON that is not a model, a model with a foreign objective */
    ictal_trained bad;
    ictal_trained_init(&bad);
    CHECK(ictal_xgb_export_json("{", 1, &tmpl, &bad, &d) == ICTAL_EFORMAT);
    const char *reg = "{\"learner\":{\"objective\":{\"name\":\"reg:squarederror\"}}}";
    CHECK(ictal_xgb_export_json(reg, strlen(reg), &tmpl, &bad, &d) == ICTAL_ENOTSUP);
    ictal_trained_free(&bad);
    /* one class only */
    for (size_t i = 0; i < ds.n_rows; i++)
        half[i] = ds.y[i] < 0.5f;
    CHECK(ictal_train_xgb(&ds, half, &p, &tmpl, NULL, &bad, NULL, &d) == ICTAL_EINVAL);
    CHECK(ictal_train_logreg(&ds, half, &lp, &tmpl, &bad, &d) == ICTAL_EINVAL);

    free(la);
    free(lb);
    ictal_trained_free(&l_a);
    ictal_trained_free(&l_b);
    free(bm);
    free(half);
    free(b1);
    free(b2);
    free(x);
    free(json1);
    free(json2);
    ictal_trained_free(&t1);
    ictal_trained_free(&t2);
    ictal_dataset_free(&ds);
}

int main(void)
{
    parity(1);
    parity(2);
    return test_summary();
}
