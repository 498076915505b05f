/*
 * Model selection by nested cross-validation (ictal_select, ictal_cv_run with
 * candidates, `ictal train --select`), on segments made here so that the right choice is
 * known: seizure and background segments share one spectrum and differ only in
 * amplitude, so candidates without the amplitude features cannot tell them apart and
 * candidates with them can. Checks the choice, that held-out segments take no part in it
 * (changing them changes no inner score), determinism, ties, and the refusals.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ictal/train.h"
#include "test.h"

#define RATE 128.0
#define SEG_S 20.0
#define N_SEG 40

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static double uniform(void)
{
    return test_uniform(&rng);
}

/* Resonant noise around 9 Hz (AR(2)) with a slow component: EEG-like, amplitude gain. */
static void make_segment(float *x, size_t n, double gain)
{
    double a = 0, b = 0, slow = 0;
    for (size_t i = 0; i < n + 256; i++) {
        double e = uniform() - 0.5;
        double v = 1.55 * a - 0.85 * b + 8.0 * e;
        b = a;
        a = v;
        slow = 0.98 * slow + 2.0 * (uniform() - 0.5);
        if (i >= 256)
            x[i - 256] = (float)(gain * (v + slow));
    }
}

static void build_corpus(ictal_corpus *c, int middle_seizure)
{
    size_t n = (size_t)(SEG_S * RATE);
    float *x = malloc(n * sizeof *x);
    for (int k = 0; k < N_SEG; k++) {
        int sz = k % 2 == 0;
        make_segment(x, n, sz ? 4.0 : 1.0);
        char name[16];
        snprintf(name, sizeof name, "%c%03d", sz ? 'S' : 'N', k);
        ictal_signal sig = {x, n, 1, RATE, NULL, 1.0f};
        ictal_interval iv = {0.0, SEG_S};
        if (middle_seizure && k == 7) /* seizure-free item 7 gets a seizure in its middle */
            iv = (ictal_interval){5.0, 12.0};
        int with = sz || (middle_seizure && k == 7);
        CHECK(ictal_corpus_add(c, "synthetic", name, name, &sig, &iv, with ? 1 : 0) >= 0);
    }
    free(x);
}

/* Candidates 0-1: set 1 with all features (4 s, 8 s); 2-3: set 1 without the amplitude
 * features (relative). */
static void build_candidates(const ictal_corpus *c, ictal_dataset ds[4], ictal_cv_candidate cand[4])
{
    for (int j = 0; j < 4; j++) {
        ictal_model_info t;
        ictal_train_template_set(&t, 1);
        t.window_s = j % 2 ? 8.0f : 4.0f;
        ictal_dataset_init(&ds[j], t.n_features);
        ictal_diag d;
        ictal_diag_init(&d);
        CHECK_EQ_INT(ictal_corpus_features(c, &t, 2, &ds[j], &d), 0);
        if (j >= 2)
            ictal_dataset_drop_features(&ds[j], ICTAL_TRAIN_ABSOLUTE_FEATURES);
        cand[j].ds = &ds[j];
        cand[j].tmpl = t;
        snprintf(cand[j].name, sizeof cand[j].name, "set 1, %s, %g s", j >= 2 ? "relative" : "all",
                 (double)t.window_s);
    }
}

static void test_choice(const ictal_corpus *c, ictal_cv_candidate cand[4])
{
    ictal_train_params tp;
    ictal_train_params_default(&tp);
    uint8_t in_train[N_SEG];
    memset(in_train, 1, sizeof in_train);
    ictal_select_score sc[4], sc2[4];
    ictal_diag d;
    ictal_diag_init(&d);
    int j = ictal_select(c, cand, 4, in_train, 5, 11, &tp, sc, &d);
    CHECK(j == 0 || j == 1); /* a candidate that sees amplitude */
    for (int k = 0; k < 4; k++)
        CHECK_EQ_INT((int64_t)sc[k].n_items, N_SEG);
    CHECK(sc[0].accuracy >= 0.95 && sc[1].accuracy >= 0.95);
    /* without amplitude the two classes are the same process: near chance */
    CHECK(sc[2].accuracy <= 0.8 && sc[3].accuracy <= 0.8);
    CHECK(sc[0].brier < sc[2].brier);
    /* deterministic */
    CHECK_EQ_INT(ictal_select(c, cand, 4, in_train, 5, 11, &tp, sc2, &d), j);
    CHECK(memcmp(sc, sc2, sizeof sc) == 0);

    /* ties go to the earlier candidate: the same table twice */
    ictal_cv_candidate twice[2] = {cand[2], cand[2]};
    ictal_select_score st[2];
    CHECK_EQ_INT(ictal_select(c, twice, 2, in_train, 5, 11, &tp, st, &d), 0);
    CHECK(st[0].accuracy == st[1].accuracy && st[0].brier == st[1].brier);
    ictal_cv_candidate rev[2] = {cand[2], cand[0]};
    CHECK_EQ_INT(ictal_select(c, rev, 2, in_train, 5, 11, &tp, st, &d), 1);

    /* held-out items take no part: scramble their rows in every table, flip their
     * labels in the corpus, and no inner score moves */
    for (int k = 0; k < N_SEG; k++)
        in_train[k] = k % 4 != 1; /* items 1, 5, 9, ... held out */
    CHECK(ictal_select(c, cand, 4, in_train, 5, 11, &tp, sc, &d) >= 0);
    for (int k = 0; k < 4; k++)
        CHECK_EQ_INT((int64_t)sc[k].n_items, N_SEG - N_SEG / 4);
    ictal_corpus changed = *c;
    ictal_corpus_item *items = malloc(c->n_items * sizeof *items);
    memcpy(items, c->items, c->n_items * sizeof *items);
    ictal_interval whole = {0.0, SEG_S};
    for (int k = 0; k < N_SEG; k++)
        if (!in_train[k]) { /* seizure-free items held out: now "seizures" */
            items[k].sz = &whole;
            items[k].n_sz = 1;
        }
    changed.items = items;
    ictal_dataset scrambled[4];
    ictal_cv_candidate sc_cand[4];
    for (int j2 = 0; j2 < 4; j2++) {
        ictal_dataset_init(&scrambled[j2], cand[j2].ds->n_features);
        CHECK_EQ_INT(ictal_dataset_append(&scrambled[j2], cand[j2].ds), 0);
        size_t nf = (size_t)scrambled[j2].n_features;
        for (size_t r = 0; r < scrambled[j2].n_rows; r++)
            if (!in_train[scrambled[j2].record[r]]) {
                for (size_t f = 0; f < nf; f++)
                    scrambled[j2].x[r * nf + f] = (float)(1000.0 * uniform());
                scrambled[j2].y[r] = 1.0f - scrambled[j2].y[r];
            }
        sc_cand[j2] = cand[j2];
        sc_cand[j2].ds = &scrambled[j2];
    }
    CHECK_EQ_INT(ictal_select(&changed, sc_cand, 4, in_train, 5, 11, &tp, sc2, &d),
                 ictal_select(c, cand, 4, in_train, 5, 11, &tp, sc, &d));
    CHECK(memcmp(sc, sc2, sizeof sc) == 0);
    for (int j2 = 0; j2 < 4; j2++)
        ictal_dataset_free(&scrambled[j2]);
    free(items);

    /* refusals */
    CHECK_EQ_INT(ictal_select(c, cand, 0, in_train, 5, 11, &tp, sc, &d), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_select(c, cand, 4, in_train, 1, 11, &tp, sc, &d), ICTAL_EINVAL);
    ictal_dataset empty;
    ictal_dataset_init(&empty, 22);
    ictal_cv_candidate bad = cand[0];
    bad.ds = &empty;
    CHECK_EQ_INT(ictal_select(c, &bad, 1, in_train, 5, 11, &tp, sc, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "does not match") != NULL);
    ictal_dataset_free(&empty);
}

static void test_nested_cv(const ictal_corpus *c, ictal_cv_candidate cand[4])
{
    ictal_cv_params p;
    ictal_cv_params_default(&p);
    p.scheme = ICTAL_CV_KFOLD;
    p.k = 4;
    p.tune = 0;
    p.candidates = cand;
    p.n_candidates = 4;
    p.inner_k = 3;
    ictal_cv_result r;
    ictal_cv_result_init(&r);
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_cv_run(c, NULL, &p, NULL, &r, NULL, NULL, &d), 0);
    CHECK_EQ_INT(r.n_folds, 4);
    CHECK_EQ_INT((int64_t)r.n_candidates, 4);
    size_t ok = 0;
    for (int f = 0; f < 4; f++) {
        CHECK(r.chosen[f] == 0 || r.chosen[f] == 1);
        CHECK(r.scores[(size_t)f * 4 + 2].accuracy < r.scores[(size_t)f * 4].accuracy);
        /* each fold scored its 30 training segments, never its 10 held out */
        CHECK_EQ_INT((int64_t)r.scores[(size_t)f * 4].n_items, N_SEG - N_SEG / 4);
    }
    CHECK_STR(r.candidate_names[2], "set 1, relative, 4 s");
    for (size_t i = 0; i < c->n_items; i++) {
        double pm = ictal_detection_mean_prob(&r.det[i], NULL);
        ok += (pm >= 0.5) == (c->items[i].n_sz > 0);
        /* the held-out detection ran the chosen candidate's window */
        float w = cand[r.chosen[r.fold[i]]].tmpl.window_s;
        CHECK(r.det[i].window_s == w);
    }
    CHECK(ok >= N_SEG - 2);
    /* the report names the choice per fold and the segments' figure */
    char path[] = "/tmp/ictal_select_reportXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ_INT(ictal_cv_write_report(path, "t", NULL, c, &r, &d), 0);
    FILE *f = fopen(path, "r");
    char buf[65536];
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[len] = '\0';
    if (f)
        fclose(f);
    unlink(path);
    CHECK(strstr(buf, "## Model selection (nested cross-validation)") != NULL);
    CHECK(strstr(buf, "| set 1, relative, 8 s |") != NULL);
    CHECK(strstr(buf, "## Segments") != NULL);
    char want[64];
    snprintf(want, sizeof want, "(%zu of %d)", ok, N_SEG);
    CHECK(strstr(buf, want) != NULL);
    ictal_cv_result_free(&r);
}

int main(void)
{
    ictal_corpus c;
    ictal_corpus_init(&c);
    build_corpus(&c, 0);
    size_t bad = 99;
    CHECK(ictal_corpus_is_segments(&c, &bad));
    ictal_dataset ds[4];
    ictal_cv_candidate cand[4];
    build_candidates(&c, ds, cand);
    test_choice(&c, cand);
    test_nested_cv(&c, cand);
    for (int j = 0; j < 4; j++)
        ictal_dataset_free(&ds[j]);
    ictal_corpus_free(&c);

    /* a recording with a seizure in its middle is not a labelled segment */
    ictal_corpus_init(&c);
    build_corpus(&c, 1);
    CHECK(!ictal_corpus_is_segments(&c, &bad));
    CHECK_EQ_INT((int64_t)bad, 7);
    build_candidates(&c, ds, cand);
    uint8_t all[N_SEG];
    memset(all, 1, sizeof all);
    ictal_train_params tp;
    ictal_train_params_default(&tp);
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_select(&c, cand, 4, all, 5, 11, &tp, NULL, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "N007") != NULL);
    for (int j = 0; j < 4; j++)
        ictal_dataset_free(&ds[j]);
    ictal_corpus_free(&c);
    return test_summary();
}
