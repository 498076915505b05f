/*
 * L2-regularised logistic regression by Newton's method, on standardised features.
 *
 * libictal evaluates margin = bias + sum w_i (x_i - mean_i) / scale_i with a NaN x_i
 * counting as 0 (ictal/model.h), so training standardises the same way and stores mean
 * and scale in the model. Newton's method on a few dozen features converges in a
 * handful of iterations and, unlike stochastic gradient descent, visits rows in a
 * fixed order: the same table gives the same weights, bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/train.h"

void ictal_logreg_params_default(ictal_logreg_params *p)
{
    p->l2 = 1e-3;
    p->max_iter = 50;
    p->tol = 1e-7;
    p->pos_weight = 0.0;
}

/* Solves A x = b for symmetric positive definite A (n x n, overwritten) by Cholesky. */
static int cholesky_solve(double *a, double *b, int n)
{
    for (int j = 0; j < n; j++) {
        double s = a[j * n + j];
        for (int k = 0; k < j; k++)
            s -= a[j * n + k] * a[j * n + k];
        if (!(s > 0.0))
            return -1;
        double l = sqrt(s);
        a[j * n + j] = l;
        for (int i = j + 1; i < n; i++) {
            double t = a[i * n + j];
            for (int k = 0; k < j; k++)
                t -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = t / l;
        }
    }
    for (int i = 0; i < n; i++) { /* L y = b */
        double t = b[i];
        for (int k = 0; k < i; k++)
            t -= a[i * n + k] * b[k];
        b[i] = t / a[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* L^T x = y */
        double t = b[i];
        for (int k = i + 1; k < n; k++)
            t -= a[k * n + i] * b[k];
        b[i] = t / a[i * n + i];
    }
    return 0;
}

int ictal_train_logreg(const ictal_dataset *ds, const uint8_t *mask,
                       const ictal_logreg_params *p, const ictal_model_info *tmpl,
                       ictal_trained *out, ictal_diag *d)
{
    if (ds->n_features != tmpl->n_features)
        return ictal_diag_error(d, ICTAL_EINVAL, "table has %d features, the model %u",
                                ds->n_features, (unsigned)tmpl->n_features);
    size_t n_pos, n_neg;
    ictal_dataset_count(ds, mask, &n_pos, &n_neg);
    if (n_pos == 0 || n_neg == 0)
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "training needs both classes (%zu seizure rows, %zu others)",
                                n_pos, n_neg);
    int nf = ds->n_features, dim = nf + 1; /* the last coefficient is the bias */
    double pw = p->pos_weight > 0 ? p->pos_weight : (double)n_neg / (double)n_pos;
    double *mean = calloc((size_t)nf, sizeof *mean), *sd = calloc((size_t)nf, sizeof *sd);
    double *cnt = calloc((size_t)nf, sizeof *cnt), *beta = calloc((size_t)dim, sizeof *beta);
    double *grad = malloc((size_t)dim * sizeof *grad), *z = malloc((size_t)dim * sizeof *z);
    double *hess = malloc((size_t)dim * (size_t)dim * sizeof *hess);
    int rc = 0;
    if (!mean || !sd || !cnt || !beta || !grad || !z || !hess) {
        rc = ICTAL_ENOMEM;
        goto done;
    }
    /* mean and standard deviation per feature over the finite values (two passes) */
    for (size_t i = 0; i < ds->n_rows; i++) {
        if (mask && !mask[i])
            continue;
        const float *x = ds->x + i * (size_t)nf;
        for (int j = 0; j < nf; j++)
            if (isfinite(x[j])) {
                mean[j] += x[j];
                cnt[j] += 1.0;
            }
    }
    for (int j = 0; j < nf; j++)
        mean[j] = cnt[j] > 0 ? mean[j] / cnt[j] : 0.0;
    for (size_t i = 0; i < ds->n_rows; i++) {
        if (mask && !mask[i])
            continue;
        const float *x = ds->x + i * (size_t)nf;
        for (int j = 0; j < nf; j++)
            if (isfinite(x[j]))
                sd[j] += (x[j] - mean[j]) * (x[j] - mean[j]);
    }
    for (int j = 0; j < nf; j++) {
        sd[j] = cnt[j] > 1 ? sqrt(sd[j] / cnt[j]) : 0.0;
        /* a constant feature carries nothing: scale 1 keeps z = 0 finite */
        if (!(sd[j] > 1e-12))
            sd[j] = 1.0;
        /* the model stores float: standardise with exactly what libictal will use */
        mean[j] = (float)mean[j];
        sd[j] = (float)sd[j];
    }
    double wsum = 0;
    for (size_t i = 0; i < ds->n_rows; i++)
        if (!mask || mask[i])
            wsum += ds->w[i] * (ds->y[i] > 0.5f ? pw : 1.0);
    for (int it = 0; it < p->max_iter; it++) {
        memset(grad, 0, (size_t)dim * sizeof *grad);
        memset(hess, 0, (size_t)dim * (size_t)dim * sizeof *hess);
        for (size_t i = 0; i < ds->n_rows; i++) {
            if (mask && !mask[i])
                continue;
            const float *x = ds->x + i * (size_t)nf;
            double m = beta[nf];
            for (int j = 0; j < nf; j++) {
                z[j] = isfinite(x[j]) ? (x[j] - mean[j]) / sd[j] : 0.0;
                m += beta[j] * z[j];
            }
            z[nf] = 1.0;
            int pos = ds->y[i] > 0.5f;
            double c = ds->w[i] * (pos ? pw : 1.0) / wsum;
            double pr = 1.0 / (1.0 + exp(-m));
            double g = c * (pr - (pos ? 1.0 : 0.0)), h = c * pr * (1.0 - pr);
            for (int a = 0; a < dim; a++) {
                grad[a] += g * z[a];
                double hz = h * z[a];
                for (int b = 0; b <= a; b++)
                    hess[a * dim + b] += hz * z[b];
            }
        }
        for (int a = 0; a < dim; a++)
            for (int b = 0; b < a; b++)
                hess[b * dim + a] = hess[a * dim + b];
        for (int j = 0; j < nf; j++) {
            grad[j] += p->l2 * beta[j];
            hess[j * dim + j] += p->l2;
        }
        hess[nf * dim + nf] += 1e-12; /* the bias is not penalised; keep H definite */
        if (cholesky_solve(hess, grad, dim) != 0) {
            rc = ictal_diag_error(d, ICTAL_ERANGE, "logistic regression: singular Hessian");
            goto done;
        }
        double step = 0;
        for (int a = 0; a < dim; a++) {
            beta[a] -= grad[a];
            if (fabs(grad[a]) > step)
                step = fabs(grad[a]);
        }
        if (step < p->tol)
            break;
    }
    ictal_trained_free(out);
    out->weights = malloc((size_t)nf * sizeof *out->weights);
    out->mean = malloc((size_t)nf * sizeof *out->mean);
    out->scale = malloc((size_t)nf * sizeof *out->scale);
    if (!out->weights || !out->mean || !out->scale) {
        rc = ICTAL_ENOMEM;
        goto done;
    }
    for (int j = 0; j < nf; j++) {
        out->weights[j] = (float)beta[j];
        out->mean[j] = (float)mean[j];
        out->scale[j] = (float)sd[j];
    }
    out->info = *tmpl;
    out->info.kind = ICTAL_MODEL_LOGISTIC;
    out->info.base_score = (float)beta[nf];
    out->info.n_trees = out->info.n_nodes = 0;
    out->info.nodes = NULL;
    out->info.tree_roots = NULL;
    out->info.weights = out->weights;
    out->info.mean = out->mean;
    out->info.scale = out->scale;
    out->info.provenance = NULL;
    out->info.provenance_len = 0;
done:
    free(mean);
    free(sd);
    free(cnt);
    free(beta);
    free(grad);
    free(z);
    free(hess);
    return rc;
}
