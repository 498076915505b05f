/*
 * Feature tables from real recordings: hop labels, the chb05_06 excerpt through the
 * features-only detector (rows, labels, channels, negative stride), folds of each
 * cross-validation scheme, and the window-level AUC.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/train.h"
#include "test.h"

static void test_hop_labels(void)
{
    ictal_interval sz[2] = {{10.0, 20.0}, {100.0, 101.0}};
    CHECK(ictal_hop_label(9.0, 4.0, sz, 2) == 0.0f);   /* window 5-9: before */
    CHECK(ictal_hop_label(10.0, 4.0, sz, 2) == 0.0f);  /* touches the onset only */
    CHECK(isnan(ictal_hop_label(11.0, 4.0, sz, 2)));   /* 1 s of 4 inside: left out */
    CHECK(ictal_hop_label(12.0, 4.0, sz, 2) == 1.0f);  /* half inside */
    CHECK(ictal_hop_label(20.0, 4.0, sz, 2) == 1.0f);
    CHECK(isnan(ictal_hop_label(23.0, 4.0, sz, 2)));   /* 1 s of 4 inside */
    CHECK(ictal_hop_label(24.0, 4.0, sz, 2) == 0.0f);
    CHECK(isnan(ictal_hop_label(102.0, 4.0, sz, 2))); /* a short seizure never fills half */
    CHECK(ictal_hop_label(50.0, 4.0, NULL, 0) == 0.0f);
}

static void test_auc(void)
{
    float s[6] = {0.1f, 0.4f, 0.35f, 0.8f, 0.2f, NAN};
    float y[6] = {0, 0, 1, 1, 0, 1};
    /* positives 0.35, 0.8 against negatives 0.1, 0.4, 0.2: 5 of 6 pairs ordered */
    CHECK_NEAR(ictal_auc(s, y, 6), 5.0 / 6.0, 1e-12);
    float t[4] = {0.5f, 0.5f, 0.5f, 0.5f}, u[4] = {0, 1, 0, 1};
    CHECK_NEAR(ictal_auc(t, u, 4), 0.5, 1e-12); /* ties count half */
    CHECK(isnan(ictal_auc(t, t, 0)));
    float z[3] = {0, 0, 0};
    CHECK(isnan(ictal_auc(s, z, 3))); /* one class only */
}

static int is_patient_a(void *user, const ictal_corpus_item *it)
{
    (void)user;
    return strcmp(it->patient, "a") == 0;
}

static void test_folds(void)
{
    ictal_corpus c;
    ictal_corpus_init(&c);
    float frames[256 * 2];
    memset(frames, 0, sizeof frames);
    const char *labels[2] = {"F7-T7", "T7-P7"};
    ictal_signal sig = {frames, 256, 2, 256.0, labels, 0};
    ictal_interval sz = {0.2, 0.8};
    const char *pat[6] = {"a", "b", "a", "c", "b", "a"};
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        CHECK(ictal_corpus_add(&c, "x", name, pat[i], &sig, i % 2 ? &sz : NULL, i % 2) == i);
    }
    CHECK_NEAR(ictal_corpus_duration_s(&c.items[0]), 1.0, 1e-12);
    ictal_cv_params p;
    ictal_cv_params_default(&p);
    int fold[6];
    p.scheme = ICTAL_CV_LOPO;
    CHECK_EQ_INT(ictal_cv_folds(&c, &p, fold), 3);
    CHECK(fold[0] == fold[2] && fold[2] == fold[5] && fold[1] == fold[4] && fold[0] != fold[1] &&
          fold[3] != fold[0] && fold[3] != fold[1]);
    p.scheme = ICTAL_CV_LORO;
    CHECK_EQ_INT(ictal_cv_folds(&c, &p, fold), 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(fold[i], i);
    p.scheme = ICTAL_CV_KFOLD;
    p.k = 3;
    CHECK_EQ_INT(ictal_cv_folds(&c, &p, fold), 3);
    /* stratified: the three seizure items land in three different folds */
    CHECK(fold[1] != fold[3] && fold[3] != fold[5] && fold[1] != fold[5]);
    int again[6];
    ictal_cv_folds(&c, &p, again);
    CHECK(memcmp(fold, again, sizeof fold) == 0);
    p.k = 1;
    CHECK_EQ_INT(ictal_cv_folds(&c, &p, fold), ICTAL_EINVAL);
    /* keep one patient: its items, in order, with their labels still readable */
    CHECK_EQ_INT(ictal_corpus_keep(&c, is_patient_a, NULL), 3);
    CHECK_STR(c.items[1].name, "r2");
    CHECK_STR(c.items[2].label_ptrs[1], "T7-P7");
    ictal_corpus_free(&c);
}

/* The chb05_06 excerpt: 181 s, seizure 37-152 s, 23 CHB-MIT bipolar signals. */
static void test_excerpt(const char *path)
{
    ictal_corpus c;
    ictal_corpus_init(&c);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_corpus_add_edf(&c, "chbmit-continuous", path, "chb05",
                                  ICTAL_TRAIN_MONTAGE_DOUBLE_BANANA, NULL, NULL, &d);
    CHECK_MSG(rc == 0, "%s", d.message);
    if (rc) {
        ictal_corpus_free(&c);
        return;
    }
    const ictal_corpus_item *it = &c.items[0];
    CHECK_STR(it->name, "chb05_06_excerpt");
    CHECK_EQ_INT(it->n_channels, 18);
    CHECK_STR(it->label_ptrs[0], "Fp1-F7");
    CHECK_EQ_INT(it->n_sz, 1);
    CHECK_NEAR(it->sz[0].onset_s, 37.0, 1e-9);
    CHECK_NEAR(it->sz[0].offset_s, 152.0, 1e-9);
    CHECK_NEAR(ictal_corpus_duration_s(it), 181.0, 1e-9);

    ictal_model_info tmpl;
    ictal_train_template(&tmpl);
    ictal_dataset ds, ds4;
    ictal_dataset_init(&ds, tmpl.n_features);
    ictal_dataset_init(&ds4, tmpl.n_features);
    CHECK(ictal_corpus_features(&c, &tmpl, 1, &ds, &d) == 0);
    CHECK(ictal_corpus_features(&c, &tmpl, 4, &ds4, &d) == 0);
    size_t n_pos, n_neg, p4, n4;
    ictal_dataset_count(&ds, NULL, &n_pos, &n_neg);
    ictal_dataset_count(&ds4, NULL, &p4, &n4);
    printf("excerpt: %zu rows, %zu seizure; stride 4: %zu other\n", ds.n_rows, n_pos, n4);
    /* a hop every 0.5 s from the first full 4 s window: about 354 hops of which ~226
     * are labelled 1 (window half inside 37-152 s) on up to 18 channels */
    CHECK(n_pos > 150 * 18 && n_pos <= 232 * 18);
    CHECK(n_neg > 60 * 18);
    CHECK_EQ_INT(p4, n_pos);
    CHECK(n4 * 3 < n_neg && n4 * 5 > n_neg);
    int ok_labels = 1, finite = 1;
    for (size_t i = 0; i < ds.n_rows; i++) {
        double t = ds.t_s[i];
        if (ds.y[i] > 0.5f && !(t >= 37.0 + 2.0 && t <= 152.0 + 2.0))
            ok_labels = 0;
        if (ds.y[i] < 0.5f && t > 37.0 && t - 4.0 < 152.0)
            ok_labels = 0;
        for (int j = 0; j < ds.n_features; j++)
            finite &= isfinite(ds.x[i * (size_t)ds.n_features + (size_t)j]) != 0;
        if (ds.channel[i] < 0 || ds.channel[i] >= 18)
            ok_labels = 0;
    }
    CHECK(ok_labels);
    CHECK(finite);
    CHECK_EQ_INT(ds.n_records, 1);
    CHECK(ds.records[0].has_seizure);
    ictal_dataset_free(&ds);
    ictal_dataset_free(&ds4);

    /* the same excerpt in the wearable montage: 4 channels */
    ictal_corpus w;
    ictal_corpus_init(&w);
    CHECK(ictal_corpus_add_edf(&w, "x", path, "chb05", ICTAL_TRAIN_MONTAGE_WEARABLE, NULL, NULL,
                               &d) == 0);
    CHECK(w.n_items == 1 && w.items[0].n_channels == 4);
    if (w.n_items == 1)
        CHECK_STR(w.items[0].label_ptrs[3], "T8-P8");
    /* lazy: the same item without its samples, read again on demand */
    ictal_corpus l;
    ictal_corpus_init(&l);
    l.lazy = 1;
    CHECK(ictal_corpus_add_edf(&l, "x", path, "chb05", ICTAL_TRAIN_MONTAGE_WEARABLE, NULL, NULL,
                               &d) == 0);
    if (l.n_items == 1 && w.n_items == 1) {
        CHECK(l.items[0].frames_uv == NULL);
        ictal_signal sig;
        float *owned = NULL;
        CHECK(ictal_corpus_acquire(&l.items[0], &sig, &owned, &d) == 0);
        CHECK(owned != NULL && sig.n_frames == w.items[0].n_frames);
        if (owned)
            CHECK(memcmp(owned, w.items[0].frames_uv, sig.n_frames * 4 * sizeof(float)) == 0);
        free(owned);
    }
    ictal_corpus_free(&l);
    ictal_corpus_free(&w);

    /* errors name the file */
    CHECK(ictal_corpus_add_edf(&c, "x", "/nonexistent/x.edf", "p", 0, NULL, NULL, &d) != 0);
    CHECK(strstr(d.message, "x.edf") != NULL || (d.source && strstr(d.source, "x.edf")));
    ictal_corpus_free(&c);
}

/* Threshold tuning on held-out detections: the lowest threshold that keeps the seizures
 * and loses the false alarms wins. */
static void test_tune(void)
{
    ictal_corpus c;
    ictal_corpus_init(&c);
    float frames[256];
    memset(frames, 0, sizeof frames);
    ictal_signal sig = {frames, 256, 1, 256.0, NULL, 0};
    ictal_interval sz = {20.0, 40.0};
    CHECK(ictal_corpus_add(&c, "x", "seizure", "a", &sig, &sz, 1) == 0);
    CHECK(ictal_corpus_add(&c, "x", "background", "b", &sig, NULL, 0) == 1);
    /* 60 s of hops: the seizure recording reaches 0.9 inside its seizure; the background
     * recording has an excursion to 0.72 lasting 5 s */
    ictal_detection det[2];
    size_t items[2] = {0, 1};
    for (int k = 0; k < 2; k++) {
        ictal_detection_init(&det[k]);
        det[k].n_hops = 120;
        det[k].duration_s = 60;
        det[k].t_s = malloc(120 * sizeof(double));
        det[k].prob = malloc(120 * sizeof(float));
        det[k].prob_smooth = malloc(120 * sizeof(float));
        det[k].any_usable = malloc(120);
        for (int h = 0; h < 120; h++) {
            double t = 0.5 * (h + 1);
            det[k].t_s[h] = t;
            float p = 0.1f;
            if (k == 0 && t > 22 && t < 38)
                p = 0.9f;
            if (k == 1 && t > 30 && t < 35)
                p = 0.72f;
            det[k].prob[h] = det[k].prob_smooth[h] = p;
            det[k].any_usable[h] = 1;
        }
    }
    ictal_postproc post;
    ictal_postproc_default(&post);
    post.min_duration_s = 2.0f;
    float ratio = post.threshold_off / post.threshold_on;
    ictal_tune_threshold(&c, items, det, 2, 0.5f, &post);
    /* 0.75 is the lowest grid value above the background's 0.72 and below 0.9 */
    CHECK_NEAR(post.threshold_on, 0.75, 1e-6);
    CHECK_NEAR(post.threshold_off / post.threshold_on, ratio, 1e-6);
    /* a shorter excursion than the minimum duration costs nothing: the lowest wins */
    for (int h = 0; h < 120; h++)
        if (det[1].prob_smooth[h] > 0.5f && det[1].t_s[h] > 31)
            det[1].prob_smooth[h] = 0.1f;
    ictal_postproc_default(&post);
    post.min_duration_s = 2.0f;
    ictal_tune_threshold(&c, items, det, 2, 0.5f, &post);
    CHECK_NEAR(post.threshold_on, 0.30, 1e-6);
    for (int k = 0; k < 2; k++)
        ictal_detection_free(&det[k]);
    ictal_corpus_free(&c);
}

int main(void)
{
    test_hop_labels();
    test_tune();
    test_auc();
    test_folds();
    const char *excerpt = test_shared_path("data/chbmit-continuous/chb05_06_excerpt.edf");
    if (excerpt)
        test_excerpt(excerpt);
    else
        printf("../shared absent: real-data part skipped\n");
    return test_summary();
}
