/*
 * ictal train - build a seizure model from annotated recordings, cross-validate it, and
 * run the published leave-one-patient-out protocols on local copies of CHB-MIT / Siena.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ictal/train.h"

const char ictal_cmd_train_summary[] = "train a model; cross-validate; run published protocols";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal train [OPTIONS] [RECORDING[:ANNOTATIONS] ...]\n"
            "\n"
            "Builds the feature table with libictal itself (features-only mode), trains a\n"
            "per-channel model (XGBoost trees or logistic regression) and writes it in the\n"
            "ictal model format; optionally cross-validates with the streaming detector.\n"
            "\n"
            "data:\n"
            "  --data DIR          the data sets of a folder laid out as ../shared/data\n"
            "  --sets LIST         of those: chbmit-windows,chbmit-continuous,eegmmidb,eegmat,\n"
            "                      guinea-bissau,bonn, or default (all but bonn), all\n"
            "  --protocol chbmit|siena|tusz DIR\n"
            "                      a local copy of CHB-MIT (chbNN/chbNN_MM.edf, chbNN-summary.txt)\n"
            "                      or Siena (PNxx/PNxx-N.edf, Seizures-list-PNxx.txt): runs the\n"
            "                      published leave-one-patient-out protocol (implies --cv lopo);\n"
            "                      of TUSZ (edf/{train,dev,eval}/PATIENT/SESSION/MONTAGE/*.edf\n"
            "                      with .csv_bi beside each; v1.5's layout with .tse_bi too):\n"
            "                      its patient-disjoint split: one model trained (threshold\n"
            "                      tuned) on train, scored on dev and eval, reported apart;\n"
            "                      recordings without the montage's channels are skipped\n"
            "  RECORDING[:ANNOT]   a recording (EDF, .npy, text, CSV), seizures from ANNOT (any annotation format)\n"
            "                      or from its EDF+ annotations; patient = name up to '_' or '-'\n"
            "  --montage M         double-banana, wearable or auto (default auto)\n"
            "  --neg-stride N      keep every Nth seizure-free hop (default 2; 8 for --protocol)\n"
            "model:\n"
            "  --type xgb|logreg   model kind (default xgb)\n"
            "  --rounds N --depth N --eta X --seed N   XGBoost parameters (60, 4, 0.2, 20101)\n"
            "  --l2 X              logistic regression penalty (default 0.001)\n"
            "  --mode generic|patient   generic (default) or patient-specific (--patient ID)\n"
            "  --patient ID        the patient of --mode patient\n"
            "  --exclude-patient ID   leave this patient out entirely (a generic model to\n"
            "                      personalise for ID without having seen ID)\n"
            "  --init MODEL        continue from this tree model (patient-specific on top of\n"
            "                      the generic one)\n"
            "  --no-tune           keep the default threshold (else tuned on training data)\n"
            "  --threshold X       fix the alarm threshold (no tuning; off = 0.7 X)\n"
            "  --smooth S, --min-duration S   post-processing written into the model\n"
            "                      (default 2 s and 1.5 s)\n"
            "  --window S          feature window in seconds (default 4; hops of 0.5 s)\n"
            "  --feature-set N     libictal's hop features: 1 (22 features, default) or 2 (set\n"
            "                      1 plus permutation entropy, skewness, excess kurtosis)\n"
            "  --features SET      all, or relative: without the absolute amplitude features\n"
            "                      (log line length, variance, band powers, Teager energy),\n"
            "                      which differ more between devices and ages than between\n"
            "                      seizure and background (default relative; set 2's three\n"
            "                      are amplitude-independent and kept)\n"
            "  --hard-weight K     weight of the seizure-free hops of recordings that have\n"
            "                      seizures (the patient's own background; default 1)\n"
            "  --agg max|topK      channel aggregation: the largest probability, or the mean\n"
            "                      of the K largest (default top2: two channels must agree)\n"
            "  -o, --out MODEL     write the model trained on all the data\n"
            "evaluation:\n"
            "  --cv lopo|loro|kfold   leave one patient / record out, or k folds (--folds K)\n"
            "  --folds K           folds of --cv kfold (default 10)\n"
            "  --report FILE       Markdown report of the cross-validation (- for stdout)\n"
            "  --evaluate MODEL    no training: run MODEL (its own thresholds) over the data\n"
            "                      and report the same figures (in-sample if it saw them)\n"
            "  --unit hop|segment  hop (default): the per-hop model and the streaming detector;\n"
            "                      segment: for data sets of labelled fixed-length segments\n"
            "                      (Bonn, ...), one row per segment and channel: the mean, sd,\n"
            "                      min and max of each hop feature over the judged hops (88\n"
            "                      values; 100 with --feature-set 2), a model over those, the\n"
            "                      same folds (--cv), ictal\n"
            "                      at probability >= 0.5; reports segment accuracy, sensitivity,\n"
            "                      specificity, AUC and every error. Evaluation only: the\n"
            "                      streaming detector does not use segment models (no --out)\n"
            "  --select            choose the feature set (1, 2), features (all, relative)\n"
            "                      and window (4, 8 s) by nested cross-validation: each\n"
            "                      outer fold runs an inner 5-fold cross-validation on its\n"
            "                      own training segments (with --out: on all the data).\n"
            "                      For data sets of labelled segments (Bonn, ...); the\n"
            "                      report lists every candidate's inner score and choice\n"
            "  -q, --quiet         no progress\n"
            "  -h, --help          this help\n"
            "\n"
            "Training is deterministic: the same data and options give the same model file.\n");
}

static int parse_montage(const char *s)
{
    if (strcmp(s, "double-banana") == 0)
        return ICTAL_TRAIN_MONTAGE_DOUBLE_BANANA;
    if (strcmp(s, "wearable") == 0)
        return ICTAL_TRAIN_MONTAGE_WEARABLE;
    if (strcmp(s, "auto") == 0)
        return ICTAL_TRAIN_MONTAGE_AUTO;
    return -1;
}

struct progress_ctx {
    int show;
};

static void on_fold(void *user, int fold, int n_folds)
{
    struct progress_ctx *p = user;
    if (p->show)
        ictal_cli_progress("cross-validation", fold, n_folds);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Patient of a recording named like chb01_03 or PN00-1: the part before '_' or '-'. */
static void patient_of(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strcspn(b, "_-.");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* --mode patient keeps that patient's recordings only; --exclude-patient all others. */
static int is_patient(void *user, const ictal_corpus_item *it)
{
    return strcmp(it->patient, (const char *)user) == 0;
}

static int is_not_patient(void *user, const ictal_corpus_item *it)
{
    return !is_patient(user, it);
}


/* The decision options of the command line (negative or 0: not given) over tmpl's. */
static void apply_decisions(ictal_model_info *tmpl, int top_k, double smooth_s,
                            double min_duration_s, double threshold)
{
    if (top_k > 0) {
        tmpl->aggregation = ICTAL_AGG_TOPK_MEAN;
        tmpl->top_k = (uint16_t)top_k;
    }
    if (smooth_s >= 0)
        tmpl->post.smooth_s = (float)smooth_s;
    if (min_duration_s >= 0)
        tmpl->post.min_duration_s = (float)min_duration_s;
    if (threshold > 0) {
        tmpl->post.threshold_on = (float)threshold;
        tmpl->post.threshold_off = (float)(0.7 * threshold);
    }
}

struct set_sel {
    const ictal_corpus *c;
    const char *set;
};

static int in_set(void *user, size_t i)
{
    const struct set_sel *s = user;
    return strcmp(s->c->items[i].set, s->set) == 0;
}

/* The command line, for reports. */
static void command_line(int argc, char **argv, char *command, size_t cap)
{
    snprintf(command, cap, "ictal");
    for (int k = 0; k < argc; k++) {
        if (strlen(command) + strlen(argv[k]) + 2 < cap) {
            strcat(command, " ");
            strcat(command, argv[k]);
        }
    }
}

/* --unit segment: the segment table, its cross-validation, figures and report. */
static int run_segments(const ictal_corpus *c, const ictal_cv_params *cvp,
                        const ictal_model_info *tmpl, int relative, int quiet,
                        struct progress_ctx *prog, const char *report_path, int argc,
                        char **argv, ictal_diag *d)
{
    double t0 = now_s();
    ictal_dataset seg;
    ictal_dataset_init(&seg, ictal_segment_n_features(tmpl->feature_set));
    ictal_segment_result r;
    ictal_segment_result_init(&r);
    if (prog->show)
        ictal_cli_progress("segment descriptors", 0, 1);
    int rc = ictal_segment_table(c, tmpl, relative ? ICTAL_TRAIN_ABSOLUTE_FEATURES : 0, &seg, d);
    if (prog->show)
        ictal_cli_progress_end();
    if (rc == 0 && !quiet)
        fprintf(stderr, "ictal train: %zu segments, %zu rows of %d descriptor values in %.1f s\n",
                c->n_items, seg.n_rows, seg.n_features, now_s() - t0);
    if (rc == 0)
        rc = ictal_segment_cv_run(c, &seg, cvp, tmpl, &r, on_fold, prog, d);
    if (prog->show)
        ictal_cli_progress_end();
    if (rc == 0) {
        ictal_segment_summary s;
        for (size_t i = 0; i < c->n_items; i++) {
            if ((r.prob[i] >= 0.5f) != (seg.records[i].has_seizure != 0) && !quiet)
                fprintf(stderr, "%s: %s misclassified by the segment model (probability %.3f, "
                                "fold %d)\n",
                        c->items[i].set, c->items[i].name, (double)r.prob[i], r.fold[i] + 1);
        }
        for (size_t i = 0; i < c->n_items; i++) {
            int first = 1;
            for (size_t j = 0; j < i && first; j++)
                first = strcmp(c->items[j].set, c->items[i].set) != 0;
            if (!first)
                continue;
            struct set_sel sel = {c, c->items[i].set};
            ictal_segment_summarize(c, &r, in_set, &sel, &s);
            printf("%s: segment model accuracy %.4f (%zu of %zu); sensitivity %.4f, "
                   "specificity %.4f, AUC %.4f\n",
                   c->items[i].set, s.accuracy, s.n_correct, s.n, s.sensitivity, s.specificity,
                   s.auc);
        }
        printf("cross-validation: %d folds, segment models, training %.1f s\n", r.n_folds,
               r.train_s);
    }
    if (rc == 0 && report_path) {
        char title[256], command[4096];
        command_line(argc, argv, command, sizeof command);
        snprintf(title, sizeof title, "%s cross-validation of a segment model (%s, %s features%s)",
                 cvp->scheme == ICTAL_CV_LOPO   ? "Leave-one-patient-out"
                 : cvp->scheme == ICTAL_CV_LORO ? "Leave-one-record-out"
                                                : "k-fold",
                 cvp->train.kind == ICTAL_MODEL_LOGISTIC ? "logistic regression" : "XGBoost trees",
                 relative ? "relative" : "all", tmpl->feature_set == 2 ? " of feature set 2" : "");
        rc = ictal_segment_write_report(report_path, title, command, c, &r, d);
    }
    ictal_segment_result_free(&r);
    ictal_dataset_free(&seg);
    return rc;
}

/* The candidates of --select, in the order that breaks ties: the smaller feature set,
 * the shorter window (earlier alarms), then all features (one recording system). */
static const struct {
    int feature_set, relative;
    float window_s;
} select_grid[] = {
    {1, 0, 4.0f}, {1, 1, 4.0f}, {1, 0, 8.0f}, {1, 1, 8.0f},
    {2, 0, 4.0f}, {2, 1, 4.0f}, {2, 0, 8.0f}, {2, 1, 8.0f},
};
#define N_SELECT (sizeof select_grid / sizeof select_grid[0])

/* The feature table of c for tmpl, without the absolute features when relative, the
 * seizure recordings' own background weighted by hard_weight. */
static int build_table(const ictal_corpus *c, const ictal_model_info *tmpl, int neg_stride,
                       int relative, double hard_weight, ictal_dataset *ds, ictal_diag *d)
{
    int rc = ictal_corpus_features(c, tmpl, neg_stride, ds, d);
    if (rc)
        return rc;
    if (relative)
        ictal_dataset_drop_features(ds, ICTAL_TRAIN_ABSOLUTE_FEATURES);
    /* the background of seizure recordings is the hard negative: same patient, same
     * montage and amplifier as the seizures, unlike the seizure-free data sets */
    for (size_t i = 0; i < ds->n_rows; i++)
        if (ds->y[i] < 0.5f && ds->records[ds->record[i]].has_seizure)
            ds->w[i] = (float)hard_weight;
    return 0;
}

int ictal_cmd_train(int argc, char **argv);

int ictal_cmd_train(int argc, char **argv)
{
    const char *data_dir = NULL, *sets_arg = "default", *protocol = NULL, *protocol_dir = NULL;
    const char *out_path = NULL, *report_path = NULL, *init_path = NULL, *patient = NULL;
    const char *exclude = NULL;
    const char *cv_arg = NULL;
    int montage = ICTAL_TRAIN_MONTAGE_AUTO, mode_patient = 0, quiet = 0, neg_stride = -1;
    /* smoothing and minimum duration chosen by leave-one-patient-out (docs/results.md) */
    double threshold = -1, smooth_s = 2.0, min_duration_s = 1.5, window_s = -1;
    int top_k = 2, relative = 1, feature_set = 1;
    double hard_weight = 1.0;
    const char *evaluate_path = NULL;
    int unit_segment = 0, select_config = 0, fixed_config = 0;
    ictal_cv_params cvp;
    ictal_cv_params_default(&cvp);
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n_inputs = 0;
    if (inputs == NULL)
        return ICTAL_EXIT_FAIL;
    int status = ICTAL_EXIT_OK;

#define NEED_ARG()                                                                                 \
    do {                                                                                           \
        if (i + 1 >= argc) {                                                                       \
            fprintf(stderr, "ictal train: %s needs a value\n", a);                                 \
            free(inputs);                                                                          \
            return ICTAL_EXIT_USAGE;                                                               \
        }                                                                                          \
    } while (0)

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(inputs);
            return ICTAL_EXIT_OK;
        } else if (strcmp(a, "--data") == 0) {
            NEED_ARG();
            data_dir = argv[++i];
        } else if (strcmp(a, "--sets") == 0) {
            NEED_ARG();
            sets_arg = argv[++i];
        } else if (strcmp(a, "--protocol") == 0) {
            if (i + 2 >= argc) {
                fprintf(stderr, "ictal train: --protocol needs a name and a folder\n");
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
            protocol = argv[++i];
            protocol_dir = argv[++i];
        } else if (strcmp(a, "--montage") == 0) {
            NEED_ARG();
            montage = parse_montage(argv[++i]);
            if (montage < 0) {
                fprintf(stderr, "ictal train: unknown montage '%s'\n", argv[i]);
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--neg-stride") == 0) {
            NEED_ARG();
            neg_stride = atoi(argv[++i]);
        } else if (strcmp(a, "--type") == 0) {
            NEED_ARG();
            const char *t = argv[++i];
            if (strcmp(t, "xgb") == 0)
                cvp.train.kind = ICTAL_MODEL_TREES;
            else if (strcmp(t, "logreg") == 0)
                cvp.train.kind = ICTAL_MODEL_LOGISTIC;
            else {
                fprintf(stderr, "ictal train: --type is xgb or logreg, not '%s'\n", t);
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--rounds") == 0) {
            NEED_ARG();
            cvp.train.xgb.n_rounds = atoi(argv[++i]);
        } else if (strcmp(a, "--depth") == 0) {
            NEED_ARG();
            cvp.train.xgb.max_depth = atoi(argv[++i]);
        } else if (strcmp(a, "--eta") == 0) {
            NEED_ARG();
            cvp.train.xgb.eta = atof(argv[++i]);
        } else if (strcmp(a, "--seed") == 0) {
            NEED_ARG();
            cvp.train.xgb.seed = (unsigned)strtoul(argv[++i], NULL, 10);
            cvp.seed = cvp.train.xgb.seed;
        } else if (strcmp(a, "--l2") == 0) {
            NEED_ARG();
            cvp.train.logreg.l2 = atof(argv[++i]);
        } else if (strcmp(a, "--mode") == 0) {
            NEED_ARG();
            const char *m = argv[++i];
            if (strcmp(m, "patient") == 0)
                mode_patient = 1;
            else if (strcmp(m, "generic") != 0) {
                fprintf(stderr, "ictal train: --mode is generic or patient, not '%s'\n", m);
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--exclude-patient") == 0) {
            NEED_ARG();
            exclude = argv[++i];
        } else if (strcmp(a, "--patient") == 0) {
            NEED_ARG();
            patient = argv[++i];
        } else if (strcmp(a, "--init") == 0) {
            NEED_ARG();
            init_path = argv[++i];
        } else if (strcmp(a, "--no-tune") == 0) {
            cvp.tune = 0;
        } else if (strcmp(a, "--threshold") == 0) {
            NEED_ARG();
            threshold = atof(argv[++i]);
            cvp.tune = 0;
            if (!(threshold > 0 && threshold < 1)) {
                fprintf(stderr, "ictal train: --threshold is between 0 and 1\n");
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--smooth") == 0) {
            NEED_ARG();
            smooth_s = atof(argv[++i]);
        } else if (strcmp(a, "--window") == 0) {
            NEED_ARG();
            window_s = atof(argv[++i]);
            fixed_config = 1;
        } else if (strcmp(a, "--min-duration") == 0) {
            NEED_ARG();
            min_duration_s = atof(argv[++i]);
        } else if (strcmp(a, "--hard-weight") == 0) {
            NEED_ARG();
            hard_weight = atof(argv[++i]);
        } else if (strcmp(a, "--feature-set") == 0) {
            NEED_ARG();
            fixed_config = 1;
            const char *fs = argv[++i];
            if (strcmp(fs, "1") == 0 || strcmp(fs, "2") == 0) {
                feature_set = fs[0] - '0';
            } else {
                fprintf(stderr, "ictal train: --feature-set is 1 or 2, not '%s'\n", fs);
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--features") == 0) {
            NEED_ARG();
            fixed_config = 1;
            const char *fs = argv[++i];
            if (strcmp(fs, "all") == 0)
                relative = 0;
            else if (strcmp(fs, "relative") == 0)
                relative = 1;
            else {
                fprintf(stderr, "ictal train: --features is all or relative, not '%s'\n", fs);
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--agg") == 0) {
            NEED_ARG();
            const char *g = argv[++i];
            if (strcmp(g, "max") == 0)
                top_k = 0;
            else if (strncmp(g, "top", 3) == 0 && atoi(g + 3) >= 1)
                top_k = atoi(g + 3);
            else {
                fprintf(stderr, "ictal train: --agg is max or topK, not '%s'\n", g);
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0) {
            NEED_ARG();
            out_path = argv[++i];
        } else if (strcmp(a, "--evaluate") == 0) {
            NEED_ARG();
            evaluate_path = argv[++i];
        } else if (strcmp(a, "--unit") == 0) {
            NEED_ARG();
            const char *u = argv[++i];
            if (strcmp(u, "segment") == 0)
                unit_segment = 1;
            else if (strcmp(u, "hop") != 0) {
                fprintf(stderr, "ictal train: --unit is hop or segment, not '%s'\n", u);
                free(inputs);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--cv") == 0) {
            NEED_ARG();
            cv_arg = argv[++i];
        } else if (strcmp(a, "--folds") == 0) {
            NEED_ARG();
            cvp.k = atoi(argv[++i]);
        } else if (strcmp(a, "--report") == 0) {
            NEED_ARG();
            report_path = argv[++i];
        } else if (strcmp(a, "--select") == 0) {
            select_config = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "ictal train: unknown option '%s'\n", a);
            usage(stderr);
            free(inputs);
            return ICTAL_EXIT_USAGE;
        } else {
            inputs[n_inputs++] = a;
        }
    }
#undef NEED_ARG
    if (cv_arg) {
        if (strcmp(cv_arg, "lopo") == 0)
            cvp.scheme = ICTAL_CV_LOPO;
        else if (strcmp(cv_arg, "loro") == 0)
            cvp.scheme = ICTAL_CV_LORO;
        else if (strcmp(cv_arg, "kfold") == 0)
            cvp.scheme = ICTAL_CV_KFOLD;
        else {
            fprintf(stderr, "ictal train: --cv is lopo, loro or kfold, not '%s'\n", cv_arg);
            free(inputs);
            return ICTAL_EXIT_USAGE;
        }
    }
    if (protocol && strcmp(protocol, "chbmit") != 0 && strcmp(protocol, "siena") != 0 &&
        strcmp(protocol, "tusz") != 0) {
        fprintf(stderr, "ictal train: --protocol is chbmit, siena or tusz, not '%s'\n",
                protocol);
        free(inputs);
        return ICTAL_EXIT_USAGE;
    }
    int tusz = protocol && strcmp(protocol, "tusz") == 0;
    if (tusz && cv_arg == NULL) {
        /* TUSZ's published protocol is its split, not leave-one-patient-out */
        cv_arg = "split";
        cvp.scheme = ICTAL_CV_SPLIT;
        cvp.train_set = "tusz-train";
    } else if (protocol && cv_arg == NULL) {
        cv_arg = "lopo";
        cvp.scheme = ICTAL_CV_LOPO;
    }
    unsigned sets = ictal_shared_sets_parse(sets_arg);
    if (sets == 0) {
        fprintf(stderr, "ictal train: unknown data set in '%s'\n", sets_arg);
        free(inputs);
        return ICTAL_EXIT_USAGE;
    }
    if (mode_patient && patient == NULL) {
        fprintf(stderr, "ictal train: --mode patient needs --patient ID\n");
        free(inputs);
        return ICTAL_EXIT_USAGE;
    }
    if (data_dir == NULL && protocol == NULL && n_inputs == 0) {
        fprintf(stderr, "ictal train: no data (--data DIR, --protocol NAME DIR or recordings)\n");
        usage(stderr);
        free(inputs);
        return ICTAL_EXIT_USAGE;
    }
    if (!out_path && !cv_arg && !evaluate_path) {
        fprintf(stderr, "ictal train: nothing to do (--out MODEL, --cv SCHEME or --evaluate MODEL)\n");
        free(inputs);
        return ICTAL_EXIT_USAGE;
    }
    if (unit_segment && (!cv_arg || out_path || evaluate_path || init_path)) {
        fprintf(stderr, "ictal train: --unit segment is a cross-validation (--cv SCHEME); it "
                        "writes no model and takes no --out, --evaluate or --init\n");
        free(inputs);
        return ICTAL_EXIT_USAGE;
    }
    if (select_config && (fixed_config || unit_segment || evaluate_path || init_path || mode_patient)) {
        fprintf(stderr, "ictal train: --select chooses the feature set, features and window "
                        "itself, for hop models of labelled segments; it takes no --feature-set, "
                        "--features, --window, --unit segment, --evaluate, --init or --mode patient\n");
        free(inputs);
        return ICTAL_EXIT_USAGE;
    }
    if (neg_stride < 0)
        neg_stride = protocol ? 8 : 2;

    ictal_diag d;
    ictal_diag_init(&d);
    d.on_warning = ictal_cli_warn_stderr;
    d.user = (void *)"train";
    ictal_corpus c;
    ictal_corpus_init(&c);
    ictal_dataset ds;
    ictal_model_info tmpl;
    ictal_train_template_set(&tmpl, feature_set);
    if (window_s > 0)
        tmpl.window_s = (float)window_s;
    apply_decisions(&tmpl, top_k, smooth_s, min_duration_s, threshold);
    ictal_dataset_init(&ds, tmpl.n_features);
    ictal_cv_result cvr;
    ictal_cv_result_init(&cvr);
    ictal_dataset cand_ds[N_SELECT];
    ictal_cv_candidate cand[N_SELECT];
    size_t n_cand_ds = 0;
    unsigned char *init_bytes = NULL, *model_bytes = NULL, *eval_bytes = NULL;
    size_t init_len = 0, model_len = 0, eval_len = 0;
    ictal_model init_model;
    ictal_trained trained;
    ictal_trained_init(&trained);
    int rc = 0;
    double t_start = now_s();
    struct progress_ctx prog = {!quiet && ictal_cli_stdout_is_tty()};

    if (init_path) {
        rc = ictal_cli_read_file(init_path, 64u << 20, &init_bytes, &init_len, NULL);
        if (rc) {
            fprintf(stderr, "ictal train: %s: cannot read the initial model\n", init_path);
            status = ICTAL_EXIT_IO;
            goto done;
        }
        d.source = init_path;
        rc = ictal_model_parse(&init_model, init_bytes, init_len, &d);
        if (rc)
            goto fail;
        if (init_model.info.feature_set != tmpl.feature_set) {
            rc = ictal_diag_error(&d, ICTAL_EINVAL, "the initial model is of feature set %u: "
                                  "give --feature-set %u", (unsigned)init_model.info.feature_set,
                                  (unsigned)init_model.info.feature_set);
            goto fail;
        }
        cvp.train.init = &init_model;
        /* A model continued from another keeps its decisions (tuned on its own, larger
         * training set) unless the command line or tuning on this data replaces them:
         * one patient's few recordings cannot tune a threshold. */
        tmpl.post = init_model.info.post;
        tmpl.aggregation = init_model.info.aggregation;
        tmpl.top_k = init_model.info.top_k;
        apply_decisions(&tmpl, top_k, smooth_s, min_duration_s, threshold);
    }
    if (tusz) {
        c.lazy = 1;
        ictal_tusz_counts tc;
        rc = ictal_corpus_add_tusz(&c, protocol_dir, montage, &tc, &d);
        static const char *const split_names[3] = {"train", "dev", "eval"};
        for (int k = 0; k < 3 && (rc == 0 || rc == ICTAL_ENOENT); k++) {
            if (!tc.present[k])
                printf("tusz-%s: MISSING (no %s split in %s): no figures for it\n",
                       split_names[k], split_names[k], protocol_dir);
            else
                printf("tusz-%s: %zu recordings of %zu EDF files%s%zu skipped%s\n",
                       split_names[k], tc.n_added[k], tc.n_found[k],
                       tc.n_skipped[k] ? ", " : "; ", tc.n_skipped[k],
                       tc.n_skipped[k] ? " (see the warnings)" : "");
        }
        if (rc)
            goto fail;
    } else if (protocol) {
        c.lazy = 1;
        rc = strcmp(protocol, "chbmit") == 0 ? ictal_corpus_add_chbmit(&c, protocol_dir, montage, &d)
                                             : ictal_corpus_add_siena(&c, protocol_dir, montage, &d);
        if (rc)
            goto fail;
    }
    if (data_dir) {
        rc = ictal_corpus_add_shared(&c, data_dir, sets, montage, &d);
        if (rc)
            goto fail;
    }
    for (int k = 0; k < n_inputs; k++) {
        char path[4096], pat[ICTAL_TRAIN_NAME_MAX];
        snprintf(path, sizeof path, "%s", inputs[k]);
        char *colon = strrchr(path, ':');
        const char *annot = NULL;
        if (colon && colon != path) {
            *colon = '\0';
            annot = colon + 1;
        }
        patient_of(path, pat, sizeof pat);
        rc = ictal_corpus_add_file(&c, "files", path, pat, montage, annot, NULL, &d);
        if (rc) {
            ictal_cli_print_diag("train", &d); /* d names this loop's path buffer */
            status = ictal_cli_exit_code(rc);
            goto done;
        }
    }
    d.source = NULL; /* the loaders pointed it at paths that are gone now */
    if (exclude != NULL) {
        size_t before = c.n_items;
        if (ictal_corpus_keep(&c, is_not_patient, (void *)exclude) == before) {
            fprintf(stderr, "ictal train: no recording of patient '%s' to exclude\n", exclude);
            status = ICTAL_EXIT_USAGE;
            goto done;
        }
    }
    if (mode_patient) {
        if (ictal_corpus_keep(&c, is_patient, (void *)patient) == 0) {
            fprintf(stderr, "ictal train: no recording of patient '%s'\n", patient);
            status = ICTAL_EXIT_USAGE;
            goto done;
        }
        if (cv_arg == NULL || cvp.scheme == ICTAL_CV_LOPO)
            cvp.scheme = ICTAL_CV_LORO; /* one patient: hold out one recording at a time */
    }
    if (unit_segment) {
        rc = run_segments(&c, &cvp, &tmpl, relative, quiet, &prog, report_path, argc, argv, &d);
        if (rc)
            goto fail;
        goto done;
    }
    /* --evaluate streams the recordings through the given model (of its own feature
     * set): no feature table is needed */
    if (prog.show && !evaluate_path)
        ictal_cli_progress("features", 0, 1);
    if (evaluate_path) {
        rc = 0;
    } else if (select_config) {
        size_t bad = 0;
        if (!ictal_corpus_is_segments(&c, &bad)) {
            fprintf(stderr, "ictal train: --select is for data sets of labelled segments "
                            "(seizure throughout or seizure-free), and %s is not one\n",
                    c.n_items ? c.items[bad].name : "the data");
            status = ICTAL_EXIT_USAGE;
            goto done;
        }
        for (size_t j = 0; j < N_SELECT && rc == 0; j++) {
            ictal_model_info t;
            ictal_train_template_set(&t, select_grid[j].feature_set);
            t.window_s = select_grid[j].window_s;
            t.post = tmpl.post;
            t.aggregation = tmpl.aggregation;
            t.top_k = tmpl.top_k;
            ictal_dataset_init(&cand_ds[j], t.n_features);
            n_cand_ds = j + 1;
            rc = build_table(&c, &t, neg_stride, select_grid[j].relative, hard_weight,
                             &cand_ds[j], &d);
            cand[j].ds = &cand_ds[j];
            cand[j].tmpl = t;
            snprintf(cand[j].name, sizeof cand[j].name, "set %d, %s, %g s",
                     select_grid[j].feature_set, select_grid[j].relative ? "relative" : "all",
                     (double)select_grid[j].window_s);
        }
        cvp.candidates = cand;
        cvp.n_candidates = N_SELECT;
    } else {
        rc = build_table(&c, &tmpl, neg_stride, relative, hard_weight, &ds, &d);
    }
    if (prog.show && !evaluate_path)
        ictal_cli_progress_end();
    if (rc)
        goto fail;
    const ictal_dataset *train_ds = select_config ? &cand_ds[0] : &ds;
    size_t n_pos, n_neg;
    ictal_dataset_count(train_ds, NULL, &n_pos, &n_neg);
    double t_features = now_s() - t_start;
    if (!quiet && !evaluate_path)
        fprintf(stderr, "ictal train: %zu recordings, %zu rows (%zu seizure, %zu other)%s, "
                        "features in %.1f s\n",
                c.n_items, train_ds->n_rows, n_pos, n_neg,
                select_config ? " in the first of 8 candidate tables" : "", t_features);

    if (cv_arg || evaluate_path) {
        char title[512], command[4096];
        if (evaluate_path) {
            rc = ictal_cli_read_file(evaluate_path, 64u << 20, &eval_bytes, &eval_len, NULL);
            if (rc) {
                fprintf(stderr, "ictal train: %s: cannot read the model\n", evaluate_path);
                status = ICTAL_EXIT_IO;
                goto done;
            }
            ictal_model em;
            d.source = evaluate_path;
            rc = ictal_model_parse(&em, eval_bytes, eval_len, &d);
            if (rc == 0) {
                d.source = NULL;
                rc = ictal_evaluate_model(&c, &em, &cvr, &d);
            }
            snprintf(title, sizeof title, "Evaluation of %s (threshold %.2f)", evaluate_path,
                     rc == 0 ? (double)em.info.post.threshold_on : 0.0);
        } else {
            rc = ictal_cv_run(&c, &ds, &cvp, &tmpl, &cvr, on_fold, &prog, &d);
            snprintf(title, sizeof title, "%s (%s, %s%s)",
                     cvp.scheme == ICTAL_CV_LOPO   ? "Leave-one-patient-out cross-validation"
                     : cvp.scheme == ICTAL_CV_LORO ? "Leave-one-record-out cross-validation"
                     : cvp.scheme == ICTAL_CV_SPLIT
                         ? "Patient-disjoint split: trained on tusz-train, scored on held-out sets"
                         : "k-fold cross-validation",
                     cvp.train.kind == ICTAL_MODEL_LOGISTIC ? "logistic regression"
                                                            : "XGBoost trees",
                     protocol ? protocol : "ictal data",
                     select_config        ? ", configuration chosen per fold by nested cross-validation"
                     : tmpl.feature_set == 2 ? ", feature set 2"
                                             : "");
        }
        if (prog.show)
            ictal_cli_progress_end();
        if (rc)
            goto fail;
        command_line(argc, argv, command, sizeof command);
        for (int f = 0; f < cvr.n_folds && cvr.chosen; f++)
            printf("fold %d: chose %s (inner accuracy %.4f)\n", f + 1,
                   cvr.chosen[f] >= 0 ? cand[cvr.chosen[f]].name : "-",
                   cvr.chosen[f] >= 0
                       ? cvr.scores[(size_t)f * cvr.n_candidates + (size_t)cvr.chosen[f]].accuracy
                       : NAN);
        /* the Bonn figure is a segment accuracy: the mean probability of its hops */
        size_t bonn = 0, bonn_ok = 0;
        for (size_t i = 0; i < c.n_items; i++) {
            if (strcmp(c.items[i].set, "bonn") != 0)
                continue;
            size_t n_used = 0;
            double mean = ictal_detection_mean_prob(&cvr.det[i], &n_used);
            bonn++;
            int ok = (mean >= 0.5) == (c.items[i].n_sz > 0);
            bonn_ok += ok;
            if (!ok && !quiet)
                fprintf(stderr, "bonn: %s misclassified (mean probability %.2f over %zu hops)\n",
                        c.items[i].name, mean, n_used);
        }
        if (bonn)
            printf("bonn: segment accuracy %.4f (%zu of %zu)\n", (double)bonn_ok / (double)bonn,
                   bonn_ok, bonn);
        for (size_t i = 0; i < c.n_items; i++) {
            int first = 1;
            for (size_t j = 0; j < i; j++)
                first &= strcmp(c.items[j].set, c.items[i].set) != 0;
            if (!first)
                continue;
            struct set_sel sel = {&c, c.items[i].set};
            ictal_cv_summary s;
            ictal_cv_summarize(&c, &cvr, in_set, &sel, &s);
            if (s.n_items == 0) {
                printf("%s: trained on, not scored\n", c.items[i].set);
                continue;
            }
            printf("%s: %zu recordings, %.2f h; hop AUC %.3f; seizures alarmed %zu of %zu "
                   "(median latency %.1f s); false alarms %zu (%.2f/h, %.1f/24h)\n",
                   c.items[i].set, s.n_items, s.hours, s.auc, s.n_detected, s.n_seizures,
                   s.latency_median_s, s.n_false_alarms, s.fa_per_hour, s.fa_per_24h);
        }
        if (report_path) {
            rc = ictal_cv_write_report(report_path, title, command, &c, &cvr, &d);
            if (rc)
                goto fail;
        }
        if (!evaluate_path && cvp.scheme == ICTAL_CV_SPLIT)
            printf("split: one model, training %.1f s\n", cvr.train_s);
        else if (!evaluate_path)
            printf("cross-validation: %d folds, training %.1f s\n", cvr.n_folds, cvr.train_s);
    }

    if (out_path) {
        double t0 = now_s();
        if (select_config) {
            uint8_t *all = malloc(c.n_items ? c.n_items : 1);
            if (all == NULL) {
                rc = ICTAL_ENOMEM;
                goto fail;
            }
            memset(all, 1, c.n_items);
            ictal_select_score sc[N_SELECT];
            int j = ictal_select(&c, cand, N_SELECT, all, cvp.inner_k, cvp.seed, &cvp.train, sc, &d);
            free(all);
            if (j < 0) {
                rc = j;
                goto fail;
            }
            if (!quiet)
                for (size_t k = 0; k < N_SELECT; k++)
                    fprintf(stderr, "ictal train: %-24s inner accuracy %.4f, Brier %.4f%s\n",
                            cand[k].name, sc[k].accuracy, sc[k].brier,
                            (int)k == j ? "  <- chosen" : "");
            train_ds = &cand_ds[j];
            tmpl = cand[j].tmpl;
            relative = select_grid[j].relative;
            ictal_dataset_count(train_ds, NULL, &n_pos, NULL);
        }
        ictal_postproc post = tmpl.post;
        if (cvp.tune) {
            uint8_t *all = malloc(c.n_items ? c.n_items : 1);
            if (all == NULL) {
                rc = ICTAL_ENOMEM;
                goto fail;
            }
            for (size_t i = 0; i < c.n_items; i++)
                all[i] = cvp.scheme != ICTAL_CV_SPLIT || strcmp(c.items[i].set, cvp.train_set) == 0;
            rc = ictal_tune_on_training(&c, train_ds, all, &cvp, &tmpl, &post, &d);
            free(all);
            if (rc)
                goto fail;
        }
        ictal_model_info t2 = tmpl;
        t2.post = post;
        /* a split's model is trained on its training set only, as the one it reports */
        uint8_t *rows = NULL;
        if (cvp.scheme == ICTAL_CV_SPLIT) {
            rows = malloc(train_ds->n_rows ? train_ds->n_rows : 1);
            if (rows == NULL) {
                rc = ICTAL_ENOMEM;
                goto fail;
            }
            for (size_t i = 0; i < train_ds->n_rows; i++)
                rows[i] = strcmp(c.items[train_ds->record[i]].set, cvp.train_set) == 0;
        }
        rc = ictal_train(train_ds, rows, &cvp.train, &t2, &trained, &d);
        free(rows);
        if (rc)
            goto fail;
        char prov[1024];
        char sets_seen[256] = "";
        for (size_t i = 0; i < c.n_items; i++) {
            if (strstr(sets_seen, c.items[i].set) == NULL &&
                strlen(sets_seen) + strlen(c.items[i].set) + 3 < sizeof sets_seen) {
                if (sets_seen[0])
                    strcat(sets_seen, ", ");
                strcat(sets_seen, c.items[i].set);
            }
        }
        snprintf(prov, sizeof prov,
                 "ictal %s model, %s on %s features of set %u; data: %s; %zu recordings, %zu rows "
                 "(%zu seizure); threshold %.2f tuned on held-out patients of the training "
                 "data%s; see models/README.md",
                 mode_patient ? "patient-specific" : "generic",
                 cvp.train.kind == ICTAL_MODEL_LOGISTIC ? "logistic regression" : "XGBoost trees",
                 relative ? "relative" : "all", (unsigned)tmpl.feature_set, sets_seen,
                 c.n_items, train_ds->n_rows, n_pos, (double)post.threshold_on,
                 select_config ? "; configuration chosen by 5-fold cross-validation (--select)"
                               : "");
        rc = ictal_trained_set_provenance(&trained, prov);
        if (rc == 0)
            rc = ictal_trained_serialize(&trained, &model_bytes, &model_len, &d);
        if (rc)
            goto fail;
        FILE *f = fopen(out_path, "wb");
        if (f == NULL || fwrite(model_bytes, 1, model_len, f) != model_len) {
            if (f)
                fclose(f);
            fprintf(stderr, "ictal train: %s: cannot write the model\n", out_path);
            status = ICTAL_EXIT_IO;
            goto done;
        }
        if (fclose(f) != 0) {
            fprintf(stderr, "ictal train: %s: cannot write the model\n", out_path);
            status = ICTAL_EXIT_IO;
            goto done;
        }
        printf("model: %s (%zu bytes, %s, threshold %.2f), trained in %.1f s\n", out_path,
               model_len, trained.info.kind == ICTAL_MODEL_TREES ? "trees" : "logistic",
               (double)post.threshold_on, now_s() - t0);
    }
    goto done;
fail:
    ictal_cli_print_diag("train", &d);
    status = ictal_cli_exit_code(rc);
done:
    ictal_trained_free(&trained);
    ictal_cv_result_free(&cvr);
    ictal_dataset_free(&ds);
    for (size_t j = 0; j < n_cand_ds; j++)
        ictal_dataset_free(&cand_ds[j]);
    ictal_corpus_free(&c);
    free(init_bytes);
    free(model_bytes);
    free(eval_bytes);
    free(inputs);
    return status;
}
