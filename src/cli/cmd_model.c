/*
 * ictal model info FILE [--json]
 * ictal model c-array FILE [--name NAME]        (also: ictal model --c-array FILE)
 * ictal model fit-logistic --out FILE [--rate HZ] [--k K] --ictal NPY... --background NPY...
 *
 * info: what a model file records (kind, features, window, aggregation, decisions,
 * provenance). c-array: the file as a C array for firmware, which ictal_model_parse()
 * reads in place. fit-logistic: a logistic regression on libictal's own features of
 * labelled NumPy windows (channels x samples, float32 or float64 µV), with
 * leave-one-pair-out cross-validation when the two lists pair up (ictal i with
 * background i); the cross-validated figures go into the model's provenance. It made
 * the initial models/default.ictalmodel (scripts/fit-initial-model.sh); `ictal train`
 * makes the real ones.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ictal/ictal.h"
#include "ictal/model.h"

int ictal_cmd_model(int argc, char **argv);
extern const char ictal_cmd_model_summary[];
const char ictal_cmd_model_summary[] = "inspect a model, export it as a C array, fit a logistic model";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal model info FILE [--json]\n"
            "       ictal model c-array FILE [--name NAME]\n"
            "       ictal model fit-logistic --out FILE [--rate HZ] [--k K] [--shape-only]\n"
            "                                --ictal NPY... --background NPY...\n\n"
            "  info          kind, features, window and hop, aggregation, default decisions,\n"
            "                provenance\n"
            "  c-array       prints `const unsigned char NAME[]` and NAME_len for firmware\n"
            "                (default NAME ictal_model); ictal_model_parse reads it in place\n"
            "  fit-logistic  logistic regression on libictal's features of labelled NumPy\n"
            "                windows (channels x samples, <f4 or <f8, µV) at HZ (default 256);\n"
            "                aggregation: mean of the top K channels (default 2); --shape-only\n"
            "                leaves absolute amplitudes out (patient-independent)\n\n"
            "exit status: 0 ok, 1 invalid model or data, 2 usage, 3 file not readable.\n");
}

/* Whole file into memory. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (b == NULL) {
            fclose(f);
            return NULL;
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        unsigned char *nb = realloc(b, cap);
        if (nb == NULL)
            free(b);
        b = nb;
    }
    fclose(f);
    *len = n;
    return b;
}

static int load_model(const char *path, unsigned char **bytes, ictal_model *m)
{
    size_t len = 0;
    *bytes = slurp(path, &len);
    if (*bytes == NULL) {
        fprintf(stderr, "ictal model: cannot read %s\n", path);
        return ICTAL_EXIT_IO;
    }
    ictal_diag d;
    ictal_diag_init(&d);
    d.source = path;
    if (ictal_model_parse(m, *bytes, len, &d) != 0) {
        ictal_cli_print_diag("model", &d);
        return ICTAL_EXIT_FAIL;
    }
    return 0;
}

static int cmd_info(const char *path, int json)
{
    unsigned char *bytes;
    ictal_model m;
    int rc = load_model(path, &bytes, &m);
    if (rc)
        return rc;
    const ictal_model_info *in = &m.info;
    const char *kind = in->kind == ICTAL_MODEL_TREES ? "trees" : "logistic";
    const char *agg = in->aggregation == ICTAL_AGG_MAX ? "max" : "topk-mean";
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:f, s:f, s:f, s:s, s:i, s:f, s:i, s:i, "
                              "s:{s:f, s:f, s:f, s:f, s:f, s:f}, s:s%}",
                              "file", path, "kind", kind, "feature_set", in->feature_set,
                              "n_features", in->n_features, "rate_hz", in->rate_hz,
                              "window_s", in->window_s, "hop_s", in->hop_s, "aggregation",
                              agg, "top_k", in->top_k, "base_score", in->base_score, "n_trees",
                              (int)in->n_trees, "n_nodes", (int)in->n_nodes, "post",
                              "threshold_on", in->post.threshold_on, "threshold_off",
                              in->post.threshold_off, "smooth_s", in->post.smooth_s,
                              "min_duration_s", in->post.min_duration_s, "merge_gap_s",
                              in->post.merge_gap_s, "refractory_s", in->post.refractory_s,
                              "provenance", m.provenance_at, in->provenance_len);
        if (o) {
            json_dumpf(o, stdout, JSON_INDENT(2));
            putchar('\n');
            json_decref(o);
        }
    } else {
        printf("%s: %s model, feature set %u (%u features), %g Hz, window %g s, hop %g s\n",
               path, kind, (unsigned)in->feature_set, (unsigned)in->n_features,
               (double)in->rate_hz, (double)in->window_s, (double)in->hop_s);
        if (in->kind == ICTAL_MODEL_TREES)
            printf("  %u trees, %u nodes, base_score %g (logit)\n", (unsigned)in->n_trees,
                   (unsigned)in->n_nodes, (double)in->base_score);
        else
            printf("  bias %g\n", (double)in->base_score);
        printf("  aggregation %s (k %u); decisions: on %g, off %g, smooth %g s, min duration "
               "%g s, merge gap %g s, refractory %g s\n",
               agg, (unsigned)in->top_k, (double)in->post.threshold_on,
               (double)in->post.threshold_off, (double)in->post.smooth_s,
               (double)in->post.min_duration_s, (double)in->post.merge_gap_s,
               (double)in->post.refractory_s);
        printf("  provenance:\n%.*s\n", (int)in->provenance_len, m.provenance_at);
    }
    free(bytes);
    return 0;
}

static int cmd_c_array(const char *path, const char *name)
{
    size_t len = 0;
    unsigned char *bytes = slurp(path, &len);
    if (bytes == NULL) {
        fprintf(stderr, "ictal model: cannot read %s\n", path);
        return ICTAL_EXIT_IO;
    }
    ictal_model m;
    ictal_diag d;
    ictal_diag_init(&d);
    d.source = path;
    if (ictal_model_parse(&m, bytes, len, &d) != 0) {
        ictal_cli_print_diag("model", &d);
        free(bytes);
        return ICTAL_EXIT_FAIL;
    }
    printf("/* Generated by `ictal model c-array` from %s: an ictal model (format version %d,\n"
           " * see docs/model-format.md) for ictal_model_parse(). Do not edit. */\n",
           path, ICTAL_MODEL_VERSION);
    printf("extern const unsigned int %s_len;\nextern const unsigned char %s[%zu];\n", name,
           name, len);
    printf("const unsigned int %s_len = %zu;\n", name, len);
    printf("const unsigned char %s[%zu] = {\n", name, len);
    for (size_t i = 0; i < len; i++)
        printf("%s0x%02x,%s", i % 12 == 0 ? "    " : "", bytes[i],
               (i % 12 == 11 || i + 1 == len) ? "\n" : " ");
    printf("};\n");
    free(bytes);
    return 0;
}

/* --- fit-logistic ------------------------------------------------------------------------ */

/* A NumPy v1/v2 array (channels, samples), '<f4' or '<f8', C order, as frame-major floats. */
static float *read_npy(const char *path, int *nch, int *ns)
{
    size_t len = 0;
    unsigned char *b = slurp(path, &len);
    float *out = NULL;
    if (b == NULL || len < 12 || memcmp(b, "\x93NUMPY", 6) != 0)
        goto done;
    size_t hl, off;
    if (b[6] == 1) {
        hl = b[8] | (size_t)b[9] << 8;
        off = 10;
    } else {
        hl = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    }
    if (off + hl > len)
        goto done;
    char h[512] = {0};
    memcpy(h, b + off, hl < sizeof h - 1 ? hl : sizeof h - 1);
    int f8 = strstr(h, "'<f8'") != NULL, f4 = strstr(h, "'<f4'") != NULL;
    const char *sh = strstr(h, "'shape': (");
    if ((!f8 && !f4) || strstr(h, "'fortran_order': False") == NULL || sh == NULL ||
        sscanf(sh + 10, "%d, %d", nch, ns) != 2 || *nch <= 0 || *ns <= 0 ||
        *nch > ICTAL_MAX_CHANNELS)
        goto done;
    size_t n = (size_t)*nch * (size_t)*ns, es = f8 ? 8 : 4;
    if (off + hl + n * es > len)
        goto done;
    out = malloc(n * sizeof(float));
    if (out == NULL)
        goto done;
    const unsigned char *p = b + off + hl;
    for (int c = 0; c < *nch; c++)
        for (int s = 0; s < *ns; s++) {
            size_t i = (size_t)c * (size_t)*ns + (size_t)s;
            float v;
            if (f8) {
                double dv;
                memcpy(&dv, p + i * 8, 8);
                v = (float)dv;
            } else {
                memcpy(&v, p + i * 4, 4);
            }
            out[(size_t)s * (size_t)*nch + (size_t)c] = v;
        }
done:
    free(b);
    return out;
}

typedef struct sample_set {
    float *x;   /* [n][ICTAL_N_FEATURES] */
    int *file;  /* file index per row */
    int *hop;   /* hop index (per file) per row */
    int *label;
    size_t n, cap;
} sample_set;

typedef struct hop_ctx {
    sample_set *set;
    int file, label;
} hop_ctx;

static void collect_hop(void *user, const ictal_hop *h)
{
    hop_ctx *ctx = user;
    sample_set *s = ctx->set;
    for (int c = 0; c < h->n_channels; c++) {
        if (h->quality[c] != 0)
            continue; /* settling or artefact: never training material */
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 4096;
            s->x = realloc(s->x, s->cap * ICTAL_N_FEATURES * sizeof(float));
            s->file = realloc(s->file, s->cap * sizeof(int));
            s->hop = realloc(s->hop, s->cap * sizeof(int));
            s->label = realloc(s->label, s->cap * sizeof(int));
            if (!s->x || !s->file || !s->hop || !s->label) {
                fprintf(stderr, "ictal model: out of memory\n");
                exit(ICTAL_EXIT_FAIL);
            }
        }
        memcpy(s->x + s->n * ICTAL_N_FEATURES, h->features + (size_t)c * ICTAL_N_FEATURES,
               ICTAL_N_FEATURES * sizeof(float));
        s->file[s->n] = ctx->file;
        s->hop[s->n] = (int)h->index;
        s->label[s->n] = ctx->label;
        s->n++;
    }
}

/* Context features need minutes of history, which 10 s windows do not have. With
 * g_shape_only, absolute amplitudes (which differ between patients, montages and
 * amplifiers more than between seizure and background) are left out too. */
static int g_shape_only;

static int feature_used(int f)
{
    if (f == ICTAL_F_LINE_LENGTH_VS_BG || f == ICTAL_F_VARIANCE_VS_BG ||
        f == ICTAL_F_LINE_LENGTH_VS_PREV)
        return 0;
    if (g_shape_only)
        return !(f == ICTAL_F_LOG_LINE_LENGTH || f == ICTAL_F_LOG_VARIANCE ||
                 (f >= ICTAL_F_LOG_DELTA && f <= ICTAL_F_LOG_GAMMA) ||
                 f == ICTAL_F_LOG_NONLINEAR_ENERGY);
    return 1;
}

typedef struct lr {
    double w[ICTAL_N_FEATURES], mean[ICTAL_N_FEATURES], scale[ICTAL_N_FEATURES], bias;
} lr;

/* L2-regularised logistic regression by full-batch gradient descent on standardised
 * features, rows where skip_file != file; classes weighted to balance. */
static void fit(const sample_set *s, int skip_file, lr *m)
{
    const int F = ICTAL_N_FEATURES;
    double n1 = 0, n0 = 0;
    memset(m, 0, sizeof *m);
    for (int f = 0; f < F; f++) {
        double a = 0, q = 0, n = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->file[i] != skip_file) {
                double v = s->x[i * F + f];
                a += v;
                q += v * v;
                n++;
            }
        m->mean[f] = n > 0 ? a / n : 0;
        double var = n > 0 ? q / n - m->mean[f] * m->mean[f] : 1;
        m->scale[f] = var > 1e-12 ? sqrt(var) : 1.0;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->file[i] != skip_file)
            *(s->label[i] ? &n1 : &n0) += 1;
    double w1 = n1 > 0 ? 0.5 / n1 : 0, w0 = n0 > 0 ? 0.5 / n0 : 0;
    const double lambda = 1e-3, step = 1.0;
    for (int it = 0; it < 1500; it++) {
        double g[ICTAL_N_FEATURES] = {0}, gb = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (s->file[i] == skip_file)
                continue;
            double z = m->bias;
            for (int f = 0; f < F; f++)
                if (feature_used(f))
                    z += m->w[f] * (s->x[i * F + f] - m->mean[f]) / m->scale[f];
            double p = 1.0 / (1.0 + exp(-z)), e = (p - s->label[i]) * (s->label[i] ? w1 : w0);
            gb += e;
            for (int f = 0; f < F; f++)
                if (feature_used(f))
                    g[f] += e * (s->x[i * F + f] - m->mean[f]) / m->scale[f];
        }
        m->bias -= step * gb;
        for (int f = 0; f < F; f++)
            if (feature_used(f))
                m->w[f] -= step * (g[f] + lambda * m->w[f]);
    }
}

static double prob(const lr *m, const float *x)
{
    double z = m->bias;
    for (int f = 0; f < ICTAL_N_FEATURES; f++)
        if (feature_used(f))
            z += m->w[f] * (x[f] - m->mean[f]) / m->scale[f];
    return 1.0 / (1.0 + exp(-z));
}

/* Aggregated (top-k mean over channels) probability of each hop of file `file`. */
static int hop_probs(const sample_set *s, const lr *m, int file, int k, double *out, int max_hops)
{
    int nh = 0, cnt[64] = {0};
    double best[64][8]; /* the k (<= 8) largest channel probabilities of each hop */
    for (size_t i = 0; i < s->n; i++) {
        if (s->file[i] != file || s->hop[i] >= 64 || s->hop[i] >= max_hops)
            continue;
        int h = s->hop[i];
        double p = prob(m, s->x + i * ICTAL_N_FEATURES);
        /* keep the k largest */
        int j = cnt[h] < k ? cnt[h]++ : k - 1;
        if (j == k - 1 && cnt[h] == k && p <= best[h][k - 1])
            continue;
        best[h][j] = p;
        while (j > 0 && best[h][j - 1] < best[h][j]) {
            double t = best[h][j - 1];
            best[h][j - 1] = best[h][j];
            best[h][j] = t;
            j--;
        }
        if (h + 1 > nh)
            nh = h + 1;
    }
    int used = 0;
    for (int h = 0; h < nh; h++) {
        if (cnt[h] == 0)
            continue;
        double a = 0;
        for (int j = 0; j < cnt[h]; j++)
            a += best[h][j];
        out[used++] = a / cnt[h];
    }
    return used;
}

static int cmd_fit(int argc, char **argv)
{
    const char *out = NULL;
    double rate = 256.0;
    int k = 2;
    const char *files[512];
    int labels[512], nfiles = 0, mode = -1, n_ictal = 0, n_bg = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc)
            k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shape-only"))
            g_shape_only = 1;
        else if (!strcmp(argv[i], "--ictal"))
            mode = 1;
        else if (!strcmp(argv[i], "--background"))
            mode = 0;
        else if (argv[i][0] == '-' || mode < 0 || nfiles == 512) {
            usage(stderr);
            return ICTAL_EXIT_USAGE;
        } else {
            files[nfiles] = argv[i];
            labels[nfiles++] = mode;
            *(mode ? &n_ictal : &n_bg) += 1;
        }
    }
    if (out == NULL || n_ictal == 0 || n_bg == 0 || k < 1 || k > 8) {
        usage(stderr);
        return ICTAL_EXIT_USAGE;
    }
    sample_set set = {0};
    int max_hops = 64;
    for (int i = 0; i < nfiles; i++) {
        int nch, ns;
        float *fr = read_npy(files[i], &nch, &ns);
        if (fr == NULL) {
            fprintf(stderr, "ictal model: %s: not a (channels, samples) <f4/<f8 NumPy array\n",
                    files[i]);
            return ICTAL_EXIT_FAIL;
        }
        hop_ctx ctx = {&set, i, labels[i]};
        ictal_config cfg;
        ictal_config_init(&cfg);
        cfg.n_channels = nch;
        cfg.rate_hz = rate;
        cfg.on_hop = collect_hop;
        cfg.user = &ctx;
        ictal_diag d;
        ictal_diag_init(&d);
        size_t sz = ictal_detector_size(&cfg);
        if (sz == 0) {
            ictal_config_check(&cfg, &d);
            ictal_cli_print_diag("model", &d);
            return ICTAL_EXIT_FAIL;
        }
        void *mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, (sz + 15) / 16 * 16);
        if (mem == NULL || ictal_detector_init(mem, sz, &cfg) != 0)
            return ICTAL_EXIT_FAIL;
        ictal_detector_push(mem, fr, (size_t)ns);
        free(mem);
        free(fr);
    }
    fprintf(stderr, "ictal model: %zu channel-hops from %d files\n", set.n, nfiles);

    /* Leave-one-pair-out: hold out ictal file i and background file i together. */
    char cvtext[1024] = "";
    float threshold = 0.5f;
    static double cv_p[8192];
    static int cv_y[8192];
    int n_cv = 0;
    if (n_ictal == n_bg) {
        int correct = 0, total = 0;
        double auc_num = 0, auc_den = 0;
        for (int p = 0; p < n_ictal; p++) {
            int fi = -1, fb = -1, ci = 0, cb = 0;
            for (int i = 0; i < nfiles; i++) {
                if (labels[i] == 1 && ci++ == p)
                    fi = i;
                if (labels[i] == 0 && cb++ == p)
                    fb = i;
            }
            /* Two fits per pair would double the time: hold the pair out via file ids. */
            sample_set held = set;
            int *mask = malloc(set.n * sizeof(int));
            for (size_t i = 0; i < set.n; i++)
                mask[i] = (set.file[i] == fi || set.file[i] == fb) ? -2 : set.file[i];
            held.file = mask;
            lr m;
            fit(&held, -2, &m);
            double pi[64], pb[64];
            int ni = hop_probs(&set, &m, fi, k, pi, max_hops),
                nb = hop_probs(&set, &m, fb, k, pb, max_hops);
            for (int a = 0; a < ni && n_cv < 8192; a++, n_cv++) {
                cv_p[n_cv] = pi[a];
                cv_y[n_cv] = 1;
            }
            for (int b = 0; b < nb && n_cv < 8192; b++, n_cv++) {
                cv_p[n_cv] = pb[b];
                cv_y[n_cv] = 0;
            }
            for (int a = 0; a < ni; a++) {
                correct += pi[a] >= 0.5;
                total++;
                for (int b = 0; b < nb; b++) {
                    auc_num += pi[a] > pb[b] ? 1.0 : pi[a] == pb[b] ? 0.5 : 0.0;
                    auc_den += 1.0;
                }
            }
            for (int b = 0; b < nb; b++) {
                correct += pb[b] < 0.5;
                total++;
            }
            free(mask);
        }
        /* The default threshold: the best balanced accuracy of the held-out hops. */
        double best_ba = -1;
        for (int t = 5; t <= 95; t++) {
            double tp = 0, tn = 0, np = 0, nn = 0;
            for (int i = 0; i < n_cv; i++) {
                int pos = cv_p[i] >= t / 100.0;
                if (cv_y[i]) {
                    np++;
                    tp += pos;
                } else {
                    nn++;
                    tn += !pos;
                }
            }
            double ba = 0.5 * (np > 0 ? tp / np : 0) + 0.5 * (nn > 0 ? tn / nn : 0);
            if (ba > best_ba + 1e-12) {
                best_ba = ba;
                threshold = (float)(t / 100.0);
            }
        }
        snprintf(cvtext, sizeof cvtext,
                 "Leave-one-seizure-out cross-validation (%d folds, each holding out one "
                 "ictal window and its pre-ictal window), per hop after top-%d aggregation: "
                 "accuracy at 0.5 = %.3f over %d hops, AUC ictal vs pre-ictal hops = %.3f; "
                 "default threshold %.2f chosen on these held-out hops (balanced accuracy "
                 "%.3f, an optimistic figure since the threshold was picked on it).\n",
                 n_ictal, k, total ? (double)correct / total : 0.0, total,
                 auc_den > 0 ? auc_num / auc_den : 0.0, (double)threshold, best_ba);
        fprintf(stderr, "ictal model: %s", cvtext);
    }
    lr m;
    fit(&set, -1, &m);

    float w[ICTAL_N_FEATURES], mu[ICTAL_N_FEATURES], sc[ICTAL_N_FEATURES];
    for (int f = 0; f < ICTAL_N_FEATURES; f++) {
        w[f] = feature_used(f) ? (float)m.w[f] : 0.0f;
        mu[f] = (float)m.mean[f];
        sc[f] = (float)m.scale[f];
    }
    char prov[4096];
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    int pl = snprintf(prov, sizeof prov,
                      "Initial development model: logistic regression on libictal feature set "
                      "%d (context features unused: 10 s windows have no history%s), fitted by "
                      "`ictal model fit-logistic` on %s.\nData: %d ictal and %d background "
                      "NumPy windows at %g Hz, %zu channel-hops of good quality, every channel "
                      "of an ictal window labelled ictal.\n%sFiles:",
                      ICTAL_FEATURE_SET,
                      g_shape_only ? "; absolute amplitudes unused: --shape-only" : "", date, n_ictal, n_bg, rate, set.n, cvtext);
    for (int i = 0; i < nfiles && pl > 0 && (size_t)pl < sizeof prov - 80; i++) {
        const char *base = strrchr(files[i], '/');
        pl += snprintf(prov + pl, sizeof prov - (size_t)pl, " %s", base ? base + 1 : files[i]);
    }
    ictal_model_info in;
    memset(&in, 0, sizeof in);
    in.kind = ICTAL_MODEL_LOGISTIC;
    in.feature_set = ICTAL_FEATURE_SET;
    in.n_features = ICTAL_N_FEATURES;
    in.rate_hz = ICTAL_INTERNAL_RATE_HZ;
    in.window_s = 4.0f;
    in.hop_s = 0.5f;
    in.aggregation = ICTAL_AGG_TOPK_MEAN;
    in.top_k = (uint16_t)k;
    in.base_score = (float)m.bias;
    ictal_postproc_default(&in.post);
    in.post.threshold_on = threshold;
    in.post.threshold_off = threshold > 0.15f ? threshold - 0.15f : 0.0f;
    in.weights = w;
    in.mean = mu;
    in.scale = sc;
    in.provenance = prov;
    in.provenance_len = strlen(prov);
    unsigned char buf[8192];
    size_t len = 0;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal_model_serialize(&in, buf, sizeof buf, &len, &d) != 0) {
        ictal_cli_print_diag("model", &d);
        return ICTAL_EXIT_FAIL;
    }
    FILE *f = fopen(out, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "ictal model: cannot write %s\n", out);
        return ICTAL_EXIT_IO;
    }
    fprintf(stderr, "ictal model: wrote %s (%zu bytes)\n", out, len);
    free(set.x);
    free(set.file);
    free(set.hop);
    free(set.label);
    return 0;
}

int ictal_cmd_model(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ICTAL_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "info") && (argc == 3 || argc == 4)) {
        int json = argc == 4 && !strcmp(argv[3], "--json");
        if (argc == 4 && !json) {
            usage(stderr);
            return ICTAL_EXIT_USAGE;
        }
        return cmd_info(argv[2], json);
    }
    if ((!strcmp(sub, "c-array") || !strcmp(sub, "--c-array")) && argc >= 3) {
        const char *name = "ictal_model";
        if (argc == 5 && !strcmp(argv[3], "--name"))
            name = argv[4];
        else if (argc != 3) {
            usage(stderr);
            return ICTAL_EXIT_USAGE;
        }
        for (const char *p = name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                  (p > name && *p >= '0' && *p <= '9'))) {
                fprintf(stderr, "ictal model: '%s' is not a C identifier\n", name);
                return ICTAL_EXIT_USAGE;
            }
        return cmd_c_array(argv[2], name);
    }
    if (!strcmp(sub, "fit-logistic"))
        return cmd_fit(argc - 2, argv + 2);
    usage(stderr);
    return ICTAL_EXIT_USAGE;
}
