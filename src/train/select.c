/*
 * Model selection by nested cross-validation, for data sets of labelled segments: the
 * configuration (feature set, window, features) is chosen on the training folds alone,
 * so the outer figure measures the whole procedure, choice included (Varma & Simon 2006;
 * Cawley & Talbot 2010). Choosing among configurations by their outer figure would
 * report the best of several draws instead.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/model.h"
#include "ictal/train.h"
#include "train_internal.h"

/* The inner score of one candidate: mean-row probability per held-out training item. */
static int score_candidate(const ictal_corpus *c, const ictal_cv_candidate *cand,
                           const int *inner, int k, const ictal_train_params *tp,
                           double *sum, size_t *n_rows, ictal_select_score *out, ictal_diag *d)
{
    const ictal_dataset *ds = cand->ds;
    size_t n = c->n_items;
    uint8_t *sub = malloc(n ? n : 1);
    if (sub == NULL)
        return ICTAL_ENOMEM;
    memset(sum, 0, n * sizeof *sum);
    memset(n_rows, 0, n * sizeof *n_rows);
    int rc = 0;
    for (int g = 0; g < k && rc == 0; g++) {
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            sub[i] = inner[i] >= 0 && inner[i] != g;
            any |= inner[i] == g;
        }
        if (!any)
            continue;
        unsigned char *bytes = NULL;
        ictal_model m;
        rc = ictal_train_parsed(ds, sub, tp, &cand->tmpl, &bytes, &m, d);
        for (size_t r = 0; r < ds->n_rows && rc == 0; r++) {
            size_t i = (size_t)ds->record[r];
            if (inner[i] != g)
                continue;
            sum[i] += ictal_model_predict(&m, ds->x + r * (size_t)ds->n_features);
            n_rows[i]++;
        }
        free(bytes);
    }
    free(sub);
    if (rc)
        return rc;
    size_t n_items = 0, n_ok = 0;
    double sq = 0;
    for (size_t i = 0; i < n; i++) {
        if (inner[i] < 0)
            continue;
        /* an item without a judged hop is called seizure-free, as the outer rule calls it */
        double p = n_rows[i] ? sum[i] / (double)n_rows[i] : 0.0;
        int y = ictal__item_has_seizure(&c->items[i]);
        n_items++;
        n_ok += (p >= 0.5) == y;
        sq += (p - y) * (p - y);
    }
    out->n_items = n_items;
    out->accuracy = n_items ? (double)n_ok / (double)n_items : NAN;
    out->brier = n_items ? sq / (double)n_items : NAN;
    return 0;
}

int ictal_select(const ictal_corpus *c, const ictal_cv_candidate *cand, size_t n,
                 const uint8_t *in_train, int k, unsigned seed, const ictal_train_params *tp,
                 ictal_select_score *scores, ictal_diag *d)
{
    if (n == 0 || k < 2)
        return ictal_diag_error(d, ICTAL_EINVAL, "model selection needs candidates and "
                                                 "at least 2 inner folds");
    size_t bad = 0;
    if (!ictal_corpus_is_segments(c, &bad))
        return ictal_diag_error(d, ICTAL_EINVAL, "model selection is for labelled segments "
                                "(seizure throughout or seizure-free): %s is not one",
                                c->n_items ? c->items[bad].name : "(no item)");
    for (size_t j = 0; j < n; j++)
        if (cand[j].ds == NULL || cand[j].ds->n_records != c->n_items)
            return ictal_diag_error(d, ICTAL_EINVAL, "candidate %zu: its table does not "
                                    "match the corpus", j);
    size_t ni = c->n_items;
    int *inner = malloc(ni * sizeof *inner);
    double *sum = malloc(ni * sizeof *sum);
    size_t *n_rows = malloc(ni * sizeof *n_rows);
    ictal_select_score *sc = malloc(n * sizeof *sc);
    int rc = inner && sum && n_rows && sc ? 0 : ICTAL_ENOMEM;
    if (rc == 0)
        rc = ictal__deal_folds(c, in_train, k, seed, inner);
    if (rc > 0)
        rc = 0;
    int best = -1;
    for (size_t j = 0; j < n && rc == 0; j++) {
        rc = score_candidate(c, &cand[j], inner, k, tp, sum, n_rows, &sc[j], d);
        if (rc)
            break;
        if (best < 0 || sc[j].accuracy > sc[best].accuracy + 1e-12 ||
            (fabs(sc[j].accuracy - sc[best].accuracy) <= 1e-12 &&
             sc[j].brier < sc[best].brier - 1e-12))
            best = (int)j;
    }
    if (rc == 0 && scores)
        memcpy(scores, sc, n * sizeof *sc);
    free(inner);
    free(sum);
    free(n_rows);
    free(sc);
    return rc ? rc : best;
}
