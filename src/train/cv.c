/*
 * Cross-validation: folds by patient, record or k-fold; per fold, training on the other
 * folds only (threshold tuning included, by an inner split of the training patients),
 * then the streaming detector over every held-out recording, exactly as `ictal detect`
 * would run it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ictal/train.h"
#include "train_internal.h"

void ictal_train_params_default(ictal_train_params *p)
{
    memset(p, 0, sizeof *p);
    p->kind = ICTAL_MODEL_TREES;
    ictal_xgb_params_default(&p->xgb);
    ictal_logreg_params_default(&p->logreg);
}

int ictal_train(const ictal_dataset *ds, const uint8_t *mask, const ictal_train_params *p,
                const ictal_model_info *tmpl, ictal_trained *out, ictal_diag *d)
{
    if (d) { /* errors from here on are not about the last file read */
        d->source = NULL;
        ictal_diag_clear(d);
    }
    if (p->kind == ICTAL_MODEL_LOGISTIC) {
        if (p->init)
            return ictal_diag_error(d, ICTAL_ENOTSUP,
                                    "continued training needs a tree model (--type xgb)");
        return ictal_train_logreg(ds, mask, &p->logreg, tmpl, out, d);
    }
    return ictal_train_xgb(ds, mask, &p->xgb, tmpl, p->init, out, NULL, d);
}

void ictal_cv_params_default(ictal_cv_params *p)
{
    memset(p, 0, sizeof *p);
    p->scheme = ICTAL_CV_LOPO;
    p->k = 10;
    p->seed = 20101;
    p->tune = 1;
    p->inner_k = 5;
    ictal_train_params_default(&p->train);
}

/* Index of name in names[0..n), appending it when new. */
static int group_index(const char **names, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    names[*n] = name;
    return (*n)++;
}

int ictal__deal_folds(const ictal_corpus *c, const uint8_t *subset, int k, unsigned seed,
                      int *fold_of_item)
{
    /* stratified: seizure items and the others each dealt round-robin after a seeded
     * shuffle (xorshift, so every platform deals the same folds); items outside subset
     * get -1 */
    size_t *order = malloc((c->n_items ? c->n_items : 1) * sizeof *order);
    if (order == NULL)
        return ICTAL_ENOMEM;
    uint64_t s = 0x9E3779B97F4A7C15ull ^ (uint64_t)seed;
    for (size_t i = 0; i < c->n_items; i++)
        order[i] = i;
    for (size_t i = c->n_items; i > 1; i--) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t j = (size_t)(s % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    int next[2] = {0, 0};
    for (size_t n = 0; n < c->n_items; n++) {
        size_t i = order[n];
        if (subset && !subset[i]) {
            fold_of_item[i] = -1;
            continue;
        }
        int cls = ictal__item_has_seizure(&c->items[i]);
        fold_of_item[i] = next[cls];
        next[cls] = (next[cls] + 1) % k;
    }
    free(order);
    return k;
}

int ictal_cv_folds(const ictal_corpus *c, const ictal_cv_params *p, int *fold_of_item)
{
    if (c->n_items == 0)
        return ICTAL_EINVAL;
    if (p->scheme == ICTAL_CV_LORO) {
        for (size_t i = 0; i < c->n_items; i++)
            fold_of_item[i] = (int)i;
        return (int)c->n_items;
    }
    if (p->scheme == ICTAL_CV_LOPO) {
        const char **names = malloc(c->n_items * sizeof *names);
        if (names == NULL)
            return ICTAL_ENOMEM;
        int n = 0;
        for (size_t i = 0; i < c->n_items; i++)
            fold_of_item[i] = group_index(names, &n, c->items[i].patient);
        free(names);
        return n;
    }
    if (p->scheme == ICTAL_CV_SPLIT) {
        size_t n_train = 0;
        for (size_t i = 0; i < c->n_items; i++) {
            int tr = p->train_set != NULL && strcmp(c->items[i].set, p->train_set) == 0;
            fold_of_item[i] = tr ? -1 : 0;
            n_train += (size_t)tr;
        }
        return n_train == 0 || n_train == c->n_items ? ICTAL_EINVAL : 1;
    }
    if (p->scheme != ICTAL_CV_KFOLD || p->k < 2)
        return ICTAL_EINVAL;
    return ictal__deal_folds(c, NULL, p->k, p->seed, fold_of_item);
}

void ictal_cv_result_init(ictal_cv_result *r)
{
    memset(r, 0, sizeof *r);
}

void ictal_cv_result_free(ictal_cv_result *r)
{
    if (r->det)
        for (size_t i = 0; i < r->n_items; i++)
            ictal_detection_free(&r->det[i]);
    free(r->det);
    free(r->fold);
    free(r->post);
    free(r->chosen);
    free(r->scores);
    free(r->candidate_names);
    memset(r, 0, sizeof *r);
}

/* --- threshold tuning ------------------------------------------------------------------ */

void ictal_tune_threshold(const ictal_corpus *c, const size_t *items, const ictal_detection *dets,
                          size_t n, float hop_s, ictal_postproc *post)
{
    /* Replays only the threshold and minimum duration over the smoothed probabilities
     * (which do not depend on the thresholds): enough to rank candidate thresholds; the
     * figures are always measured by the detector itself. */
    float ratio = post->threshold_on > 0 ? post->threshold_off / post->threshold_on : 1.0f;
    int need = (int)ceil(post->min_duration_s / hop_s);
    if (need < 1)
        need = 1;
    double best_score = -1e300;
    float best = post->threshold_on;
    static const float grid[] = {0.30f, 0.35f, 0.40f, 0.45f, 0.50f, 0.55f, 0.60f, 0.65f, 0.70f,
                                 0.75f, 0.80f, 0.85f, 0.90f, 0.95f, 0.97f, 0.98f, 0.99f};
    for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++) {
        float th = grid[g];
        size_t n_sz = 0, n_det = 0, n_fa = 0;
        double hours = 0;
        for (size_t k = 0; k < n; k++) {
            const ictal_corpus_item *it = &c->items[items[k]];
            const ictal_detection *dt = &dets[k];
            hours += dt->duration_s / 3600.0;
            uint8_t *hit = calloc(it->n_sz ? it->n_sz : 1, 1);
            int run = 0;
            for (size_t h = 0; h < dt->n_hops; h++) {
                if (dt->prob_smooth[h] >= th) {
                    if (++run != need)
                        continue;
                    double t = dt->t_s[h];
                    int matched = 0;
                    for (size_t z = 0; z < it->n_sz; z++) {
                        if (t >= it->sz[z].onset_s - 30 && t <= it->sz[z].offset_s + 60) {
                            matched = 1;
                            if (t >= it->sz[z].onset_s && t <= it->sz[z].offset_s)
                                hit[z] = 1;
                        }
                    }
                    if (!matched)
                        n_fa++;
                } else {
                    run = 0;
                }
            }
            for (size_t z = 0; z < it->n_sz; z++) {
                n_sz++;
                n_det += hit[z];
            }
            free(hit);
        }
        double sens = n_sz ? (double)n_det / (double)n_sz : 0.0;
        double fa_h = hours > 0 ? (double)n_fa / hours : 0.0;
        double score = sens - 0.5 * fa_h;
        if (score > best_score + 1e-12) {
            best_score = score;
            best = th;
        }
    }
    post->threshold_on = best;
    post->threshold_off = best * ratio;
}

/* --- the cross-validation loop ------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ictal_train_parsed(const ictal_dataset *ds, const uint8_t *in_train,
                       const ictal_train_params *tp, const ictal_model_info *tmpl,
                       unsigned char **bytes, ictal_model *m, ictal_diag *d)
{
    uint8_t *mask = malloc(ds->n_rows ? ds->n_rows : 1);
    if (mask == NULL)
        return ICTAL_ENOMEM;
    for (size_t i = 0; i < ds->n_rows; i++)
        mask[i] = in_train[ds->record[i]];
    ictal_trained t;
    ictal_trained_init(&t);
    int rc = ictal_train(ds, mask, tp, tmpl, &t, d);
    free(mask);
    size_t len = 0;
    if (rc == 0)
        rc = ictal_trained_serialize(&t, bytes, &len, d);
    ictal_trained_free(&t);
    if (rc == 0)
        rc = ictal_model_parse(m, *bytes, len, d);
    return rc;
}

int ictal_tune_on_training(const ictal_corpus *c, const ictal_dataset *ds,
                            const uint8_t *in_train, const ictal_cv_params *p,
                            const ictal_model_info *tmpl, ictal_postproc *post, ictal_diag *d)
{
    size_t n = c->n_items;
    int *inner = malloc(n * sizeof *inner);
    const char **names = malloc(n * sizeof *names);
    size_t *items = malloc(n * sizeof *items);
    ictal_detection *dets = calloc(n, sizeof *dets);
    uint8_t *sub = malloc(n);
    int rc = 0;
    if (!inner || !names || !items || !dets || !sub) {
        rc = ICTAL_ENOMEM;
        goto done;
    }
    int n_groups = 0;
    for (size_t i = 0; i < n; i++)
        inner[i] = in_train[i] ? group_index(names, &n_groups, c->items[i].patient) % 3 : -1;
    size_t n_done = 0;
    for (int g = 0; g < 3 && n_groups >= 2; g++) {
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            sub[i] = in_train[i] && inner[i] != g;
            any |= inner[i] == g;
        }
        if (!any)
            continue;
        unsigned char *bytes = NULL;
        ictal_model m;
        ictal_diag dd;
        ictal_diag_init(&dd);
        /* an inner split with a single class cannot train: skip it */
        if (ictal_train_parsed(ds, sub, &p->train, tmpl, &bytes, &m, &dd) != 0) {
            free(bytes);
            continue;
        }
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (inner[i] != g)
                continue;
            ictal_signal sig;
            float *owned = NULL;
            ictal_detection_init(&dets[n_done]);
            rc = ictal_corpus_acquire(&c->items[i], &sig, &owned, d);
            if (rc == 0)
                rc = ictal_detect_signal(&m, post, &sig, &dets[n_done], d);
            free(owned);
            items[n_done++] = i;
        }
        free(bytes);
        if (rc)
            break;
    }
    if (rc == 0 && n_done > 0)
        ictal_tune_threshold(c, items, dets, n_done, tmpl->hop_s, post);
    for (size_t k = 0; k < n_done; k++)
        ictal_detection_free(&dets[k]);
done:
    free(inner);
    free(names);
    free(items);
    free(dets);
    free(sub);
    return rc;
}

int ictal_cv_run(const ictal_corpus *c, const ictal_dataset *ds, const ictal_cv_params *p,
                 const ictal_model_info *tmpl, ictal_cv_result *r,
                 void (*progress)(void *user, int fold, int n_folds), void *user, ictal_diag *d)
{
    for (size_t j = 0; j <= p->n_candidates; j++) {
        const ictal_dataset *t = j < p->n_candidates ? p->candidates[j].ds
                                 : p->n_candidates ? NULL : ds;
        if (t && t->n_records != c->n_items)
            return ictal_diag_error(d, ICTAL_EINVAL, "the table has %zu records, the corpus %zu "
                                    "items", t->n_records, c->n_items);
    }
    ictal_cv_result_free(r);
    size_t n = c->n_items;
    r->n_items = n;
    r->fold = malloc(n * sizeof *r->fold);
    r->post = malloc(n * sizeof *r->post);
    r->det = calloc(n, sizeof *r->det);
    uint8_t *in_train = malloc(n);
    if (!r->fold || !r->post || !r->det || !in_train) {
        free(in_train);
        return ICTAL_ENOMEM;
    }
    int n_folds = ictal_cv_folds(c, p, r->fold);
    if (p->scheme == ICTAL_CV_SPLIT && n_folds < 1) {
        free(in_train);
        return ictal_diag_error(d, ICTAL_EINVAL, "a train/test split needs recordings of "
                                "the training set '%s' and of at least one other set",
                                p->train_set ? p->train_set : "(none)");
    }
    if (p->scheme != ICTAL_CV_SPLIT && n_folds < 2) {
        free(in_train);
        return ictal_diag_error(d, ICTAL_EINVAL, "cross-validation needs at least 2 folds");
    }
    r->n_folds = n_folds;
    size_t n_cand = p->n_candidates;
    if (n_cand > 0) {
        r->n_candidates = n_cand;
        r->chosen = malloc((size_t)n_folds * sizeof *r->chosen);
        r->scores = calloc((size_t)n_folds * n_cand, sizeof *r->scores);
        r->candidate_names = malloc(n_cand * sizeof *r->candidate_names);
        if (!r->chosen || !r->scores || !r->candidate_names) {
            free(in_train);
            return ICTAL_ENOMEM;
        }
        for (size_t j = 0; j < n_cand; j++)
            memcpy(r->candidate_names[j], p->candidates[j].name, sizeof r->candidate_names[j]);
        for (int f = 0; f < n_folds; f++)
            r->chosen[f] = -1;
    }
    for (size_t i = 0; i < n; i++)
        r->post[i] = p->n_candidates ? p->candidates[0].tmpl.post : tmpl->post;
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
        const ictal_dataset *fds = ds;
        const ictal_model_info *ftmpl = tmpl;
        if (n_cand > 0) {
            /* the fold's own seed, so that inner folds differ between outer folds */
            int j = ictal_select(c, p->candidates, n_cand, in_train, p->inner_k,
                                 p->seed + 1000u * (unsigned)(f + 1), &p->train,
                                 r->scores + (size_t)f * n_cand, d);
            if (j < 0) {
                rc = j;
                break;
            }
            r->chosen[f] = j;
            fds = p->candidates[j].ds;
            ftmpl = &p->candidates[j].tmpl;
        }
        ictal_postproc post = ftmpl->post;
        if (p->tune)
            rc = ictal_tune_on_training(c, fds, in_train, p, ftmpl, &post, d);
        unsigned char *bytes = NULL;
        ictal_model m;
        if (rc == 0)
            rc = ictal_train_parsed(fds, in_train, &p->train, ftmpl, &bytes, &m, d);
        r->train_s += now_s() - t0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (in_train[i])
                continue;
            ictal_signal sig;
            float *owned = NULL;
            r->post[i] = post;
            rc = ictal_corpus_acquire(&c->items[i], &sig, &owned, d);
            if (rc == 0)
                rc = ictal_detect_signal(&m, &post, &sig, &r->det[i], d);
            free(owned);
        }
        free(bytes);
    }
    free(in_train);
    return rc;
}

/* --- figures ---------------------------------------------------------------------------- */

struct scored {
    float s, y;
};

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return (x > y) - (x < y);
}

double ictal_auc(const float *score, const float *label, size_t n)
{
    struct scored *v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL)
        return NAN;
    size_t m = 0, n_pos = 0, n_neg = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(label[i]) || isnan(score[i]))
            continue;
        v[m].s = score[i];
        v[m].y = label[i];
        if (label[i] > 0.5f)
            n_pos++;
        else
            n_neg++;
        m++;
    }
    if (n_pos == 0 || n_neg == 0) {
        free(v);
        return NAN;
    }
    qsort(v, m, sizeof *v, cmp_scored);
    /* Mann-Whitney: sum of the positives' ranks, ties sharing their mean rank */
    double rank_sum = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v[j].s == v[i].s)
            j++;
        double mid = 0.5 * (double)(i + 1 + j);
        for (size_t k = i; k < j; k++)
            if (v[k].y > 0.5f)
                rank_sum += mid;
        i = j;
    }
    free(v);
    double np = (double)n_pos, nn = (double)n_neg;
    return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ictal_cv_summarize(const ictal_corpus *c, const ictal_cv_result *r,
                        int (*select)(void *user, size_t item), void *user,
                        ictal_cv_summary *s)
{
    memset(s, 0, sizeof *s);
    size_t n_hops = 0;
    for (size_t i = 0; i < r->n_items; i++)
        if ((!select || select(user, i)) && !(r->fold && r->fold[i] < 0))
            n_hops += r->det[i].n_hops;
    float *score = malloc((n_hops ? n_hops : 1) * sizeof *score);
    float *label = malloc((n_hops ? n_hops : 1) * sizeof *label);
    double *lat = malloc((n_hops ? n_hops : 1) * sizeof *lat);
    size_t k = 0, n_lat = 0, tp = 0, tn = 0;
    for (size_t i = 0; i < r->n_items && score && label && lat; i++) {
        if ((select && !select(user, i)) || (r->fold && r->fold[i] < 0))
            continue;
        const ictal_corpus_item *it = &c->items[i];
        const ictal_detection *dt = &r->det[i];
        s->n_items++;
        s->hours += ictal_corpus_duration_s(it) / 3600.0;
        for (size_t h = 0; h < dt->n_hops; h++) {
            score[k] = dt->prob[h];
            label[k] = ictal_hop_label(dt->t_s[h], dt->window_s, it->sz, it->n_sz);
            if (!isnan(label[k])) {
                int pos = label[k] > 0.5f, said = dt->prob[h] >= 0.5f;
                if (pos) {
                    s->n_hops_pos++;
                    tp += said;
                } else {
                    s->n_hops_neg++;
                    tn += !said;
                }
            }
            k++;
        }
        for (size_t z = 0; z < it->n_sz; z++) {
            s->n_seizures++;
            for (size_t a = 0; a < dt->n_alarms; a++) {
                double t = dt->alarms[a].alarm_s;
                if (t >= it->sz[z].onset_s && t <= it->sz[z].offset_s) {
                    s->n_detected++;
                    lat[n_lat++] = t - it->sz[z].onset_s;
                    break;
                }
            }
        }
        for (size_t a = 0; a < dt->n_alarms; a++) {
            double t = dt->alarms[a].alarm_s;
            int near = 0, early = 0;
            for (size_t z = 0; z < it->n_sz; z++) {
                if (t >= it->sz[z].onset_s - 30 && t <= it->sz[z].offset_s + 60)
                    near = 1;
                if (t < it->sz[z].onset_s && t >= it->sz[z].onset_s - 30)
                    early = 1;
            }
            s->n_early += early;
            s->n_false_alarms += !near;
        }
    }
    s->auc = ictal_auc(score, label, k);
    s->sensitivity = s->n_hops_pos ? (double)tp / (double)s->n_hops_pos : NAN;
    s->specificity = s->n_hops_neg ? (double)tn / (double)s->n_hops_neg : NAN;
    s->fa_per_hour = s->hours > 0 ? (double)s->n_false_alarms / s->hours : NAN;
    s->fa_per_24h = s->fa_per_hour * 24.0;
    if (n_lat) {
        qsort(lat, n_lat, sizeof *lat, cmp_double);
        s->latency_median_s = n_lat % 2 ? lat[n_lat / 2]
                                        : 0.5 * (lat[n_lat / 2 - 1] + lat[n_lat / 2]);
        s->latency_max_s = lat[n_lat - 1];
    } else {
        s->latency_median_s = s->latency_max_s = NAN;
    }
    free(score);
    free(label);
    free(lat);
}

int ictal_evaluate_model(const ictal_corpus *c, const ictal_model *m, ictal_cv_result *r,
                         ictal_diag *d)
{
    ictal_cv_result_free(r);
    size_t n = c->n_items;
    r->n_items = n;
    r->n_folds = 1;
    r->fold = calloc(n ? n : 1, sizeof *r->fold);
    r->post = malloc((n ? n : 1) * sizeof *r->post);
    r->det = calloc(n ? n : 1, sizeof *r->det);
    if (!r->fold || !r->post || !r->det)
        return ICTAL_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        ictal_signal sig;
        float *owned = NULL;
        r->post[i] = m->info.post;
        rc = ictal_corpus_acquire(&c->items[i], &sig, &owned, d);
        if (rc == 0)
            rc = ictal_detect_signal(m, NULL, &sig, &r->det[i], d);
        free(owned);
    }
    return rc;
}
