/*
 * Gradient-boosted trees with XGBoost's C API, exported into ictal's model format.
 *
 * XGBoost semantics that the export must keep (ictal/model.h follows them): at an
 * internal node go left when x < threshold, a NaN follows default_left, the margin is
 * base_score + the sum of the leaves, and base_score in XGBoost's JSON is a
 * probability for binary:logistic, so it becomes a logit here.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "ictal/train.h"

void ictal_xgb_params_default(ictal_xgb_params *p)
{
    p->n_rounds = 60;
    p->max_depth = 4;
    p->eta = 0.2;
    p->min_child_weight = 2.0;
    p->lambda = 1.0;
    p->subsample = 0.8;
    p->colsample = 0.8;
    p->scale_pos_weight = 0.0;
    p->seed = 20101;
}

static int xgb_fail(ictal_diag *d, const char *what)
{
    return ictal_diag_error(d, ICTAL_EINVAL, "XGBoost %s: %s", what, XGBGetLastError());
}

/* --- JSON model -> ictal_trained --------------------------------------------------- */

static json_t *path_get(json_t *root, const char *const *keys)
{
    json_t *j = root;
    for (; *keys && j; keys++)
        j = json_object_get(j, *keys);
    return j;
}

static int int_at(json_t *arr, size_t i, long long *out)
{
    json_t *v = json_array_get(arr, i);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    return -1;
}

/* Appends one XGBoost tree to out->nodes (breadth-first renumbering). */
static int export_tree(json_t *tree, size_t t, int n_features, ictal_tree_node **nodes,
                       size_t *n_nodes, size_t *cap, ictal_diag *d)
{
    json_t *split_idx = json_object_get(tree, "split_indices");
    json_t *cond = json_object_get(tree, "split_conditions");
    json_t *left = json_object_get(tree, "left_children");
    json_t *right = json_object_get(tree, "right_children");
    json_t *defl = json_object_get(tree, "default_left");
    json_t *stype = json_object_get(tree, "split_type");
    if (!json_is_array(split_idx) || !json_is_array(cond) || !json_is_array(left) ||
        !json_is_array(right) || !json_is_array(defl))
        return ictal_diag_error(d, ICTAL_EFORMAT, "XGBoost tree %zu: missing node arrays", t);
    size_t n = json_array_size(left);
    if (n == 0 || json_array_size(right) != n || json_array_size(cond) != n ||
        json_array_size(split_idx) != n || json_array_size(defl) != n)
        return ictal_diag_error(d, ICTAL_EFORMAT, "XGBoost tree %zu: node arrays differ in size",
                                t);
    /* order[k] = XGBoost node id placed at position k of this tree; pos[id] = k */
    size_t *order = malloc(n * sizeof *order);
    long long *pos = malloc(n * sizeof *pos);
    if (order == NULL || pos == NULL) {
        free(order);
        free(pos);
        return ICTAL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        pos[i] = -1;
    size_t head = 0, tail = 0;
    order[tail++] = 0;
    pos[0] = 0;
    int rc = 0;
    while (head < tail && rc == 0) {
        size_t id = order[head++];
        long long l, r;
        if (int_at(left, id, &l) || int_at(right, id, &r)) {
            rc = ictal_diag_error(d, ICTAL_EFORMAT, "XGBoost tree %zu node %zu: bad children", t,
                                  id);
            break;
        }
        if (l == -1)
            continue;
        long long kids[2] = {l, r};
        for (int k = 0; k < 2; k++) {
            if (kids[k] < 0 || (size_t)kids[k] >= n || pos[kids[k]] != -1) {
                rc = ictal_diag_error(d, ICTAL_EFORMAT,
                                      "XGBoost tree %zu node %zu: child %lld out of range or "
                                      "reached twice",
                                      t, id, kids[k]);
                break;
            }
            pos[kids[k]] = (long long)tail;
            order[tail++] = (size_t)kids[k];
        }
    }
    if (rc == 0 && *n_nodes + tail > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *n_nodes + tail)
            c *= 2;
        ictal_tree_node *nn = realloc(*nodes, c * sizeof *nn);
        if (nn == NULL)
            rc = ICTAL_ENOMEM;
        else {
            *nodes = nn;
            *cap = c;
        }
    }
    size_t base = *n_nodes;
    for (size_t k = 0; rc == 0 && k < tail; k++) {
        size_t id = order[k];
        long long l, r, fi, dl = 0, st = 0;
        int_at(left, id, &l);
        int_at(right, id, &r);
        json_t *cv = json_array_get(cond, id);
        if (!json_is_number(cv) || int_at(split_idx, id, &fi) || int_at(defl, id, &dl)) {
            rc = ictal_diag_error(d, ICTAL_EFORMAT, "XGBoost tree %zu node %zu: bad split", t, id);
            break;
        }
        if (json_is_array(stype) && int_at(stype, id, &st) == 0 && st != 0) {
            rc = ictal_diag_error(d, ICTAL_ENOTSUP,
                                  "XGBoost tree %zu node %zu: categorical split", t, id);
            break;
        }
        ictal_tree_node *o = &(*nodes)[base + k];
        memset(o, 0, sizeof *o);
        /* The JSON prints each float32 with enough digits to round-trip exactly. */
        o->value = (float)json_number_value(cv);
        if (l == -1) {
            o->feature = -1;
            o->left = o->right = -1;
        } else {
            if (fi < 0 || fi >= n_features) {
                rc = ictal_diag_error(d, ICTAL_EFORMAT,
                                      "XGBoost tree %zu node %zu: feature %lld outside 0..%d", t,
                                      id, fi, n_features - 1);
                break;
            }
            o->feature = (int32_t)fi;
            o->left = (int32_t)(base + (size_t)pos[l]);
            o->right = (int32_t)(base + (size_t)pos[r]);
            o->default_left = dl ? 1 : 0;
        }
    }
    if (rc == 0)
        *n_nodes += tail;
    free(order);
    free(pos);
    return rc;
}

int ictal_xgb_export_json(const char *json, size_t len, const ictal_model_info *tmpl,
                          ictal_trained *out, ictal_diag *d)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (root == NULL)
        return ictal_diag_error(d, ICTAL_EFORMAT, "XGBoost model JSON, line %d: %s", jerr.line,
                                jerr.text);
    int rc = 0;
    static const char *const k_obj[] = {"learner", "objective", "name", NULL};
    static const char *const k_gb[] = {"learner", "gradient_booster", "name", NULL};
    static const char *const k_base[] = {"learner", "learner_model_param", "base_score", NULL};
    static const char *const k_trees[] = {"learner", "gradient_booster", "model", "trees", NULL};
    json_t *obj = path_get(root, k_obj), *gb = path_get(root, k_gb);
    json_t *base = path_get(root, k_base), *trees = path_get(root, k_trees);
    if (!json_is_string(obj) || strcmp(json_string_value(obj), "binary:logistic") != 0) {
        rc = ictal_diag_error(d, ICTAL_ENOTSUP, "XGBoost model: objective is not binary:logistic");
        goto done;
    }
    if (!json_is_string(gb) || strcmp(json_string_value(gb), "gbtree") != 0) {
        rc = ictal_diag_error(d, ICTAL_ENOTSUP, "XGBoost model: booster is not gbtree");
        goto done;
    }
    if (!json_is_array(trees) || (!json_is_string(base) && !json_is_number(base))) {
        rc = ictal_diag_error(d, ICTAL_EFORMAT, "XGBoost model: no trees or no base_score");
        goto done;
    }
    double p = json_is_string(base) ? strtod(json_string_value(base), NULL)
                                    : json_number_value(base);
    if (!(p > 0.0 && p < 1.0)) {
        rc = ictal_diag_error(d, ICTAL_ERANGE, "XGBoost model: base_score %g is not in (0, 1)", p);
        goto done;
    }
    size_t n_trees = json_array_size(trees);
    ictal_trained_free(out);
    out->roots = malloc((n_trees ? n_trees : 1) * sizeof *out->roots);
    if (out->roots == NULL) {
        rc = ICTAL_ENOMEM;
        goto done;
    }
    size_t n_nodes = 0, cap = 0;
    for (size_t t = 0; t < n_trees && rc == 0; t++) {
        out->roots[t] = (uint32_t)n_nodes;
        rc = export_tree(json_array_get(trees, t), t, tmpl->n_features, &out->nodes, &n_nodes,
                         &cap, d);
    }
    if (rc)
        goto done;
    out->info = *tmpl;
    out->info.kind = ICTAL_MODEL_TREES;
    /* XGBoost's ProbToMargin for the logistic objective. */
    out->info.base_score = (float)-log(1.0 / p - 1.0);
    out->info.n_trees = (uint32_t)n_trees;
    out->info.n_nodes = (uint32_t)n_nodes;
    out->info.nodes = out->nodes;
    out->info.tree_roots = out->roots;
    out->info.weights = out->info.mean = out->info.scale = NULL;
    out->info.provenance = NULL;
    out->info.provenance_len = 0;
done:
    json_decref(root);
    return rc;
}

/* --- training ------------------------------------------------------------------------ */

static int set_param(BoosterHandle b, const char *k, const char *v, ictal_diag *d)
{
    if (XGBoosterSetParam(b, k, v) != 0)
        return xgb_fail(d, k);
    return 0;
}

static int set_paramf(BoosterHandle b, const char *k, double v, ictal_diag *d)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    return set_param(b, k, buf, d);
}

/* Appends init's trees before the new ones (continued training). */
static int prepend_init(ictal_trained *out, const ictal_model *init)
{
    uint32_t n0 = init->info.n_nodes, t0 = init->info.n_trees;
    size_t n_nodes = (size_t)n0 + out->info.n_nodes, n_trees = (size_t)t0 + out->info.n_trees;
    ictal_tree_node *nodes = malloc(n_nodes * sizeof *nodes);
    uint32_t *roots = malloc(n_trees * sizeof *roots);
    if (nodes == NULL || roots == NULL) {
        free(nodes);
        free(roots);
        return ICTAL_ENOMEM;
    }
    for (uint32_t i = 0; i < n0; i++)
        ictal_model_node(init, i, &nodes[i]);
    for (uint32_t t = 0; t < t0; t++)
        ictal_model_tree_root(init, t, &roots[t]);
    for (uint32_t i = 0; i < out->info.n_nodes; i++) {
        ictal_tree_node nd = out->nodes[i];
        if (nd.feature >= 0) {
            nd.left += (int32_t)n0;
            nd.right += (int32_t)n0;
        }
        nodes[n0 + i] = nd;
    }
    for (uint32_t t = 0; t < out->info.n_trees; t++)
        roots[t0 + t] = out->roots[t] + n0;
    free(out->nodes);
    free(out->roots);
    out->nodes = nodes;
    out->roots = roots;
    out->info.nodes = nodes;
    out->info.tree_roots = roots;
    out->info.n_nodes = (uint32_t)n_nodes;
    out->info.n_trees = (uint32_t)n_trees;
    out->info.base_score = init->info.base_score;
    return 0;
}

int ictal_train_xgb(const ictal_dataset *ds, const uint8_t *mask, const ictal_xgb_params *p,
                    const ictal_model_info *tmpl, const ictal_model *init, ictal_trained *out,
                    char **xgb_json, ictal_diag *d)
{
    if (xgb_json)
        *xgb_json = NULL;
    if (ds->n_features != tmpl->n_features)
        return ictal_diag_error(d, ICTAL_EINVAL, "table has %d features, the model %u",
                                ds->n_features, (unsigned)tmpl->n_features);
    if (init && (init->info.kind != ICTAL_MODEL_TREES ||
                 init->info.n_features != tmpl->n_features))
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "the initial model must be a tree model with %u features",
                                (unsigned)tmpl->n_features);
    size_t n_pos, n_neg;
    ictal_dataset_count(ds, mask, &n_pos, &n_neg);
    if (n_pos == 0 || n_neg == 0)
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "training needs both classes (%zu seizure rows, %zu others)",
                                n_pos, n_neg);
    size_t nf = (size_t)ds->n_features, n = n_pos + n_neg;
    float *x = malloc(n * nf * sizeof *x), *y = malloc(n * sizeof *y);
    float *w = malloc(n * sizeof *w), *margin = init ? malloc(n * sizeof *margin) : NULL;
    int rc = 0;
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    if (x == NULL || y == NULL || w == NULL || (init && margin == NULL)) {
        rc = ICTAL_ENOMEM;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < ds->n_rows; i++) {
        if (mask && !mask[i])
            continue;
        memcpy(x + k * nf, ds->x + i * nf, nf * sizeof *x);
        y[k] = ds->y[i] > 0.5f ? 1.0f : 0.0f;
        w[k] = ds->w[i];
        if (init)
            margin[k] = ictal_model_margin(init, ds->x + i * nf);
        k++;
    }
    if (XGDMatrixCreateFromMat(x, (bst_ulong)n, (bst_ulong)nf, NAN, &dm) != 0) {
        rc = xgb_fail(d, "DMatrix");
        goto done;
    }
    if (XGDMatrixSetFloatInfo(dm, "label", y, (bst_ulong)n) != 0 ||
        XGDMatrixSetFloatInfo(dm, "weight", w, (bst_ulong)n) != 0 ||
        (init && XGDMatrixSetFloatInfo(dm, "base_margin", margin, (bst_ulong)n) != 0)) {
        rc = xgb_fail(d, "labels");
        goto done;
    }
    if (XGBoosterCreate(&dm, 1, &b) != 0) {
        rc = xgb_fail(d, "booster");
        goto done;
    }
    double spw = p->scale_pos_weight > 0 ? p->scale_pos_weight : (double)n_neg / (double)n_pos;
    if ((rc = set_param(b, "verbosity", "0", d)) || (rc = set_param(b, "nthread", "1", d)) ||
        (rc = set_param(b, "objective", "binary:logistic", d)) ||
        (rc = set_param(b, "booster", "gbtree", d)) ||
        (rc = set_param(b, "tree_method", "hist", d)) ||
        (rc = set_paramf(b, "seed", p->seed, d)) ||
        (rc = set_paramf(b, "max_depth", p->max_depth, d)) ||
        (rc = set_paramf(b, "eta", p->eta, d)) ||
        (rc = set_paramf(b, "min_child_weight", p->min_child_weight, d)) ||
        (rc = set_paramf(b, "lambda", p->lambda, d)) ||
        (rc = set_paramf(b, "subsample", p->subsample, d)) ||
        (rc = set_paramf(b, "colsample_bytree", p->colsample, d)) ||
        (rc = set_paramf(b, "scale_pos_weight", spw, d)))
        goto done;
    for (int it = 0; it < p->n_rounds; it++) {
        if (XGBoosterUpdateOneIter(b, it, dm) != 0) {
            rc = xgb_fail(d, "training");
            goto done;
        }
    }
    bst_ulong jlen = 0;
    const char *jbuf = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &jlen, &jbuf) != 0) {
        rc = xgb_fail(d, "save");
        goto done;
    }
    rc = ictal_xgb_export_json(jbuf, (size_t)jlen, tmpl, out, d);
    if (rc == 0 && init)
        rc = prepend_init(out, init);
    if (rc == 0 && xgb_json) {
        *xgb_json = malloc((size_t)jlen + 1);
        if (*xgb_json == NULL)
            rc = ICTAL_ENOMEM;
        else {
            memcpy(*xgb_json, jbuf, (size_t)jlen);
            (*xgb_json)[jlen] = '\0';
        }
    }
done:
    if (b)
        XGBoosterFree(b);
    if (dm)
        XGDMatrixFree(dm);
    free(x);
    free(y);
    free(w);
    free(margin);
    return rc;
}
