/*
 * ictal/train.h - training seizure models: feature tables, XGBoost, logistic regression.
 *
 * The model that libictal evaluates (ictal/model.h) reads ONE channel's feature vector
 * per hop and the detector aggregates across channels. Training therefore works on a
 * table with one row per (hop, channel): the features libictal itself computed for
 * that channel at that hop (dataset.c runs the detector in features-only mode, so
 * training and detection can never disagree), the hop's label (1 when the hop's
 * window ends inside an annotated seizure) and a weight.
 *
 * (Data sets of labelled fixed-length segments can also be classified per segment: the
 * segment tables below have one row per (segment, channel) instead, for evaluation.)
 *
 * Rows remember their recording (for leave-one-record-out), the recording's patient
 * (for leave-one-patient-out) and the time of the hop, so that cross-validation can
 * split them and event-level evaluation can find the recordings again.
 *
 * Training is deterministic: the same table and parameters give the same model file,
 * byte for byte (XGBoost with one thread and fixed seeds; logistic regression by
 * Newton's method in a fixed order).
 *
 * Part of ictal-train. Tables and trained models are heap-allocated; free them with
 * their _free function. Errors go through ictal_diag.
 */
#ifndef ICTAL_TRAIN_H
#define ICTAL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"
#include "ictal/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ICTAL_TRAIN_NAME_MAX 128

/* One recording that contributed rows. */
typedef struct ictal_train_record {
    char name[ICTAL_TRAIN_NAME_MAX];    /* file name or segment id, "chb01_03_ictal" */
    char patient[ICTAL_TRAIN_NAME_MAX]; /* "chb01", "bonn-S", "gb-07": the CV group */
    double duration_s;                  /* seconds of signal */
    int n_channels;                     /* montage channels the rows come from */
    int has_seizure;                    /* some hop labelled 1 */
} ictal_train_record;

/* The feature table. x is row-major, n_rows x n_features; NaN marks a missing value. */
typedef struct ictal_dataset {
    int n_features;
    size_t n_rows, cap_rows;
    float *x;           /* [n_rows * n_features] */
    float *y;           /* [n_rows] 0 or 1 */
    float *w;           /* [n_rows] sample weight (1 unless set) */
    int32_t *record;    /* [n_rows] index into records */
    int16_t *channel;   /* [n_rows] montage channel */
    float *t_s;         /* [n_rows] end of the hop's window, s from the record start */

    ictal_train_record *records;
    size_t n_records, cap_records;
} ictal_dataset;

void ictal_dataset_init(ictal_dataset *ds, int n_features);
void ictal_dataset_free(ictal_dataset *ds);
/* Adds a record and returns its index (>= 0) or ICTAL_ENOMEM. */
int ictal_dataset_add_record(ictal_dataset *ds, const char *name, const char *patient);
/* Appends one row (n_features values copied). Returns 0 or ICTAL_ENOMEM. */
int ictal_dataset_add_row(ictal_dataset *ds, int record, int channel, float t_s,
                          const float *x, float y);
/* Appends every row of src (with its records) to dst; both have the same n_features. */
int ictal_dataset_append(ictal_dataset *dst, const ictal_dataset *src);
/*
 * Hides the features whose bit is set in drop (bit i = feature i) by making them missing
 * (NaN) in every row: the trainers then never use them (XGBoost cannot split on a
 * column that is always missing; logistic regression gives it weight 0).
 */
void ictal_dataset_drop_features(ictal_dataset *ds, uint64_t drop);

/* Counts of rows with label 1 and 0 among those selected by mask (NULL = all). */
void ictal_dataset_count(const ictal_dataset *ds, const uint8_t *mask, size_t *n_pos,
                         size_t *n_neg);

/*
 * A trained model: the description ictal_model_serialize() takes, with the arrays it
 * points to owned here. meta fields (feature_set, rate, window, hop, aggregation,
 * post-processing) are copied from the template the trainer is given.
 */
typedef struct ictal_trained {
    ictal_model_info info;  /* info.nodes etc. point into the arrays below */
    ictal_tree_node *nodes;
    uint32_t *roots;
    float *weights, *mean, *scale;
    char *provenance;
} ictal_trained;

void ictal_trained_init(ictal_trained *t);
void ictal_trained_free(ictal_trained *t);
/* Sets the provenance text (copied). */
int ictal_trained_set_provenance(ictal_trained *t, const char *text);
/* Serializes into a malloc'd buffer (*bytes, free() it). */
int ictal_trained_serialize(const ictal_trained *t, unsigned char **bytes, size_t *len,
                            ictal_diag *d);

/* --- features from signals --------------------------------------------------------- */

/* A recording in memory, already in its montage: n_frames frames of n_channels
 * interleaved samples in µV (frames_uv[f * n_channels + c]). */
typedef struct ictal_signal {
    const float *frames_uv;
    size_t n_frames;
    int n_channels;
    double rate_hz;
    const char *const *labels; /* bipolar labels, or NULL */
    /* Multiplies the detector's artefact amplitudes (jump, drift, movement, disconnect;
     * muscle power by its square); 0 or 1 keeps the scalp defaults. Intracranial EEG is
     * several times larger than scalp EEG and would otherwise read as artefact. */
    float artefact_scale;
} ictal_signal;

/* A seizure, seconds from the start of the recording. */
typedef struct ictal_interval {
    double onset_s, offset_s;
} ictal_interval;

/*
 * Hop labels: a hop whose window [t - window_s, t] lies inside a seizure for at least
 * half its length is 1, one that does not touch any seizure is 0, and the hops in
 * between (the window straddles an onset or offset) are left out, since neither label
 * describes them. Channels with a signal-quality flag at that hop are left out too:
 * the detector never gives them to the model.
 */
float ictal_hop_label(double t_s, double window_s, const ictal_interval *sz, size_t n_sz);

/*
 * Runs libictal in features-only mode over sig (window and hop of tmpl) and appends
 * one row per usable (hop, channel) to ds under record, labelled from sz (of the hops
 * labelled 0, every neg_stride-th is kept). Sets the
 * record's duration and channel count. Returns 0 or ICTAL_E* (d says why).
 */
int ictal_dataset_add_signal(ictal_dataset *ds, int record, const ictal_signal *sig,
                             const ictal_interval *sz, size_t n_sz,
                             const ictal_model_info *tmpl, int neg_stride, ictal_diag *d);

/* The features that measure absolute amplitude (µV): log line length, log variance, the
 * five log band powers and the log Teager energy (bits of ictal.h's feature indices).
 * Set 2's three additions (permutation entropy, skewness, kurtosis) are
 * amplitude-independent: `--features relative` keeps them. */
extern const uint64_t ICTAL_TRAIN_ABSOLUTE_FEATURES;

/* The template of a model for the detector's defaults: feature set 1, 22 features,
 * 128 Hz, 4 s windows, 0.5 s hops, max aggregation, default post-processing.
 * ictal_train_template_set: the same for feature set 1 or 2 (25 features; n_features 0
 * for an unknown set). The feature tables, segment descriptors and models built from a
 * template are of its feature set. */
void ictal_train_template(ictal_model_info *tmpl);
void ictal_train_template_set(ictal_model_info *tmpl, int feature_set);

/* --- running the detector over a recording ---------------------------------------------- */

typedef struct ictal_train_alarm {
    double onset_s;   /* start of the event (the detector's onset) */
    double alarm_s;   /* when the alarm was raised */
    double offset_s;  /* end of the event */
    float peak_prob;
    uint32_t channels; /* bit c: channel c fired */
} ictal_train_alarm;

/* What the detector said about one recording: every hop and every event. */
typedef struct ictal_detection {
    size_t n_hops;
    double *t_s;        /* [n_hops] end of each hop's window */
    float *prob;        /* [n_hops] aggregated probability */
    float *prob_smooth; /* [n_hops] what the thresholds saw */
    uint8_t *any_usable;/* [n_hops] some channel had good quality */
    ictal_train_alarm *alarms;
    size_t n_alarms, cap_alarms;
    double duration_s;
    float window_s;     /* the model's window, for hop labels */
} ictal_detection;

void ictal_detection_init(ictal_detection *r);
void ictal_detection_free(ictal_detection *r);
/* A segment's probability: the mean of the hop probabilities over the hops the detector
 * judged (some channel usable), 0 when none was; *n_used (may be NULL) counts them. A
 * segment is called seizure at >= 0.5 (the rule of the Bonn figures). */
double ictal_detection_mean_prob(const ictal_detection *r, size_t *n_used);

/*
 * Streams sig through a detector with model m (post-processing from post, or the
 * model's when post is NULL) and records every hop and event. An event still open at
 * the end is closed at the last hop.
 */
int ictal_detect_signal(const ictal_model *m, const ictal_postproc *post,
                        const ictal_signal *sig, ictal_detection *out, ictal_diag *d);

/* --- corpora: labelled recordings in memory ----------------------------------------- */

#define ICTAL_CORPUS_CHANNELS 32 /* = ICTAL_MAX_CHANNELS of ictal.h */
#define ICTAL_CORPUS_LABEL 24    /* = ICTAL_LABEL_MAX of montage.h */
#define ICTAL_SET_NAME_MAX 32

/* One recording in its montage, with its seizures. */
typedef struct ictal_corpus_item {
    char name[ICTAL_TRAIN_NAME_MAX];    /* "chb01_03", "Subject04_1", "S/S001" */
    char patient[ICTAL_TRAIN_NAME_MAX]; /* cross-validation group */
    char set[ICTAL_SET_NAME_MAX];       /* data set: "chbmit-windows", "eegmat", ... */
    float *frames_uv;                   /* n_frames x n_channels, interleaved, owned */
    size_t n_frames;
    int n_channels;
    double rate_hz;
    char (*labels)[ICTAL_CORPUS_LABEL]; /* [n_channels] montage labels, owned */
    const char **label_ptrs;            /* [n_channels] into labels (heap: items move) */
    ictal_interval *sz;                 /* seizures, owned */
    size_t n_sz;
    double duration_s;
    float artefact_scale;               /* as ictal_signal */
    /* A lazy item (frames_uv NULL) is read again from its file when needed. */
    char *path, *annot_path, *record;   /* owned */
    int montage;
} ictal_corpus_item;

typedef struct ictal_corpus {
    ictal_corpus_item *items;
    size_t n_items, cap_items;
    int lazy; /* set by the caller: ictal_corpus_add_edf keeps paths, not samples (for
                 data sets larger than memory, such as all of CHB-MIT) */
} ictal_corpus;

void ictal_corpus_init(ictal_corpus *c);
void ictal_corpus_free(ictal_corpus *c);
/* Keeps only the items for which keep() is non-zero (in order); returns how many. */
size_t ictal_corpus_keep(ictal_corpus *c, int (*keep)(void *user, const ictal_corpus_item *it),
                         void *user);
/* Adds a copy of sig with its seizures. Returns the item index or ICTAL_E*. */
int ictal_corpus_add(ictal_corpus *c, const char *set, const char *name, const char *patient,
                     const ictal_signal *sig, const ictal_interval *sz, size_t n_sz);
/*
 * The item as a signal: pointers into the item, or for a lazy item the file read again
 * into *owned (free() it after use; NULL for items in memory).
 */
int ictal_corpus_acquire(const ictal_corpus_item *it, ictal_signal *sig, float **owned,
                         ictal_diag *d);
/* Duration of an item in seconds. */
double ictal_corpus_duration_s(const ictal_corpus_item *it);

/*
 * The feature table of a corpus: record i of ds is item i (name, patient copied).
 * Hops labelled 0 are kept every neg_stride-th (1 = all): windows half a second apart
 * overlap by 7/8 and add little but time and memory on long recordings.
 */
int ictal_corpus_features(const ictal_corpus *c, const ictal_model_info *tmpl, int neg_stride,
                          ictal_dataset *ds, ictal_diag *d);

/* --- loading recordings into a corpus (dataset.c) -------------------------------------- */

/* Montage choice for loaders: the values of ictal_montage_kind (montage.h). */
#define ICTAL_TRAIN_MONTAGE_AUTO 0
#define ICTAL_TRAIN_MONTAGE_DOUBLE_BANANA 1
#define ICTAL_TRAIN_MONTAGE_WEARABLE 2

/*
 * Adds a recording given as its raw input signals (n_frames x n_inputs interleaved µV,
 * with the recording's labels): builds the montage (an ictal_montage_kind) from the
 * labels and applies it to every frame. ICTAL_ENOENT (d says which derivations) when
 * the montage cannot be built.
 */
int ictal_corpus_add_raw(ictal_corpus *c, const char *set, const char *name,
                         const char *patient, const float *frames_uv, size_t n_frames,
                         int n_inputs, double rate_hz, const char *const *labels, int montage,
                         const ictal_interval *sz, size_t n_sz, ictal_diag *d);

/*
 * Adds a recording in any format ictal reads (EDF family, .npy, text, CSV / csv.gz; see
 * ictal/recording.h) in the given montage, seizures from annot_path when given (and
 * for EDF+ files without it, from their own annotations). EDF files go through
 * ictal_corpus_add_edf() (and can be lazy); the others are read whole.
 */
int ictal_corpus_add_file(ictal_corpus *c, const char *set, const char *path,
                          const char *patient, int montage, const char *annot_path,
                          const char *record, ictal_diag *d);

/*
 * Adds an EDF/EDF+/BDF recording in the given montage. Its seizures come from
 * annot_path (any annotation format ictal reads; record names the recording in
 * multi-record formats such as CHB-MIT summaries), or, when annot_path is NULL, from
 * the file's own EDF+ annotations.
 */
int ictal_corpus_add_edf(ictal_corpus *c, const char *set, const char *path,
                         const char *patient, int montage, const char *annot_path,
                         const char *record, ictal_diag *d);

/* The data sets of ../shared/data that ictal_corpus_add_shared() knows (bit mask). */
enum ictal_shared_set {
    ICTAL_SET_CHBMIT_WINDOWS = 1 << 0,    /* chbmit-windows: pre-ictal then ictal, 20 s each */
    ICTAL_SET_CHBMIT_CONTINUOUS = 1 << 1, /* chbmit-continuous/chb05_06_excerpt.edf */
    ICTAL_SET_EEGMMIDB = 1 << 2,          /* eegmmidb-S001: seizure-free */
    ICTAL_SET_EEGMAT = 1 << 3,            /* eegmat-rest: seizure-free */
    ICTAL_SET_GUINEA_BISSAU = 1 << 4,     /* guinea-bissau-epilepsy: no seizure annotated */
    ICTAL_SET_BONN = 1 << 5               /* bonn: single-channel segments, set S ictal */
};
#define ICTAL_SET_DEFAULT 0x1F /* every set but Bonn */

/* Parses "chbmit-windows,eegmat,..." (or "all", "default") into a mask; 0 when unknown. */
unsigned ictal_shared_sets_parse(const char *list);

/*
 * Adds the recordings of a folder laid out as ../shared/data (see its PROVENANCE.md):
 * the sets in mask, each in the given montage (the Guinea-Bissau headset has no
 * double banana: it always gets the wearable montage; Bonn has one channel, taken as
 * it is). Patients: chb01, chb02, chb05, S001, SubjectNN, gb-N, and for Bonn one group
 * per segment.
 */
int ictal_corpus_add_shared(ictal_corpus *c, const char *dir, unsigned mask, int montage,
                            ictal_diag *d);

/* --- gradient-boosted trees (XGBoost) ------------------------------------------------- */

typedef struct ictal_xgb_params {
    int n_rounds;            /* boosting rounds (trees) */
    int max_depth;
    double eta;              /* learning rate */
    double min_child_weight;
    double lambda;           /* L2 on leaf weights */
    double subsample;        /* row subsampling per tree, (0, 1] */
    double colsample;        /* feature subsampling per tree, (0, 1] */
    double scale_pos_weight; /* weight of positives; <= 0: n_neg / n_pos of the data */
    unsigned seed;
} ictal_xgb_params;

void ictal_xgb_params_default(ictal_xgb_params *p);

/*
 * Trains on the rows selected by mask (NULL = all) and exports the booster into
 * out (kind ICTAL_MODEL_TREES), meta copied from tmpl. init, when not NULL, is a tree
 * model to continue from: its margin becomes each row's base margin, the new trees
 * are trained on top, and out holds init's trees followed by the new ones (XGBoost's
 * continued training, done on ictal's own model so the shipped file is enough).
 * xgb_json, when not NULL, receives XGBoost's own JSON model (malloc'd) for checks.
 */
int ictal_train_xgb(const ictal_dataset *ds, const uint8_t *mask, const ictal_xgb_params *p,
                    const ictal_model_info *tmpl, const ictal_model *init, ictal_trained *out,
                    char **xgb_json, ictal_diag *d);

/*
 * Converts an XGBoost JSON model (binary:logistic, gbtree) into out. base_score,
 * a probability in XGBoost's JSON, becomes a logit; extra_margin is added to it (0
 * unless the trees were trained on top of a base margin). Trees are renumbered
 * breadth-first so that children always follow their parent.
 */
int ictal_xgb_export_json(const char *json, size_t len, const ictal_model_info *tmpl,
                          ictal_trained *out, ictal_diag *d);

/* --- logistic regression ---------------------------------------------------------------- */

typedef struct ictal_logreg_params {
    double l2;             /* penalty on the standardised weights (not the bias) */
    int max_iter;          /* Newton iterations */
    double tol;            /* stop when the largest step is below this */
    double pos_weight;     /* weight of positives; <= 0: n_neg / n_pos (balanced) */
} ictal_logreg_params;

void ictal_logreg_params_default(ictal_logreg_params *p);

/*
 * Fits L2-regularised logistic regression on standardised features (mean and scale
 * from the selected rows; a NaN feature counts as the mean, as libictal evaluates it)
 * and writes out (kind ICTAL_MODEL_LOGISTIC), meta copied from tmpl.
 */
int ictal_train_logreg(const ictal_dataset *ds, const uint8_t *mask,
                       const ictal_logreg_params *p, const ictal_model_info *tmpl,
                       ictal_trained *out, ictal_diag *d);

/* --- training either kind ----------------------------------------------------------- */

typedef struct ictal_train_params {
    ictal_model_kind kind;   /* ICTAL_MODEL_TREES or ICTAL_MODEL_LOGISTIC */
    ictal_xgb_params xgb;
    ictal_logreg_params logreg;
    const ictal_model *init; /* trees: continue from this model (patient-specific) */
} ictal_train_params;

void ictal_train_params_default(ictal_train_params *p);

/* Trains the kind p asks for on the rows selected by mask (NULL = all). */
int ictal_train(const ictal_dataset *ds, const uint8_t *mask, const ictal_train_params *p,
                const ictal_model_info *tmpl, ictal_trained *out, ictal_diag *d);

/*
 * Chooses threshold_on (and threshold_off in the same ratio) for post from the
 * smoothed probabilities of held-out detections: for each candidate threshold, the
 * share of seizures alarmed within their span and the false alarms per hour, scored
 * sensitivity - 0.5 * false alarms per hour; ties go to the lower threshold (earlier
 * alarms). items[i] and dets[i] belong together. Used on training folds only.
 */
void ictal_tune_threshold(const ictal_corpus *c, const size_t *items, const ictal_detection *dets,
                          size_t n, float hop_s, ictal_postproc *post);

/* --- cross-validation ------------------------------------------------------------------- */

typedef enum ictal_cv_scheme {
    ICTAL_CV_LOPO = 1, /* leave one patient out */
    ICTAL_CV_LORO,     /* leave one record out */
    ICTAL_CV_KFOLD,    /* k folds of records, stratified by seizure / no seizure */
    ICTAL_CV_SPLIT     /* a fixed split (TUSZ): the items of data set train_set are never
                          held out; one model trained on them (its threshold tuned on them
                          alone) scores every other item */
} ictal_cv_scheme;

/*
 * A configuration to choose from by nested cross-validation (ictal_select): a feature
 * table of the corpus (record i is item i, as ictal_corpus_features builds it) and the
 * template it was built with (feature set, window). Features hidden from the trainer
 * (ictal_dataset_drop_features) make a candidate too.
 */
typedef struct ictal_cv_candidate {
    const ictal_dataset *ds;
    ictal_model_info tmpl;
    char name[64];            /* for reports: "set 2, relative, 8 s" */
} ictal_cv_candidate;

typedef struct ictal_cv_params {
    ictal_cv_scheme scheme;
    int k;             /* folds for ICTAL_CV_KFOLD */
    unsigned seed;     /* record shuffle for ICTAL_CV_KFOLD */
    const char *train_set; /* ICTAL_CV_SPLIT: the set (corpus item set) trained on */
    int tune;          /* tune the threshold on the training folds (inner 3-fold by patient) */
    ictal_train_params train;
    /* Model selection: with n_candidates > 0, each fold chooses one of candidates by
     * ictal_select() on its training items only, with inner_k inner folds, and
     * ictal_cv_run's ds and tmpl are not used. */
    const ictal_cv_candidate *candidates;
    size_t n_candidates;
    int inner_k;       /* default 5 */
} ictal_cv_params;

void ictal_cv_params_default(ictal_cv_params *p);

/*
 * Tunes post (from the template's defaults) on the items with in_train[item] set: their
 * patients are dealt into 3 inner folds, each inner fold is detected by a model trained
 * on the other two, and ictal_tune_threshold() chooses on those held-out detections.
 * Leaves post as it is when there are fewer than 2 patients.
 */
int ictal_tune_on_training(const ictal_corpus *c, const ictal_dataset *ds,
                           const uint8_t *in_train, const ictal_cv_params *p,
                           const ictal_model_info *tmpl, ictal_postproc *post, ictal_diag *d);

/* Assigns a fold to every item; returns the number of folds (or ICTAL_EINVAL). With
 * ICTAL_CV_SPLIT the items of train_set get fold -1 (always trained on), the others fold
 * 0: one fold, ICTAL_EINVAL unless both kinds exist. */
int ictal_cv_folds(const ictal_corpus *c, const ictal_cv_params *p, int *fold_of_item);

/*
 * Nested cross-validation for data sets of labelled segments (Bonn, ...: every item is
 * seizure throughout or seizure-free, ictal_corpus_is_segments()).
 *
 * ictal_select() chooses among candidates using only the items with in_train set: they
 * are dealt into k stratified inner folds (seeded by seed); for each candidate and inner
 * fold, a model is trained on the other inner folds' rows of the candidate's table and
 * predicts the rows of the inner fold's items; an item's probability is the mean over
 * its rows (the hops the detector judged), called seizure at >= 0.5 - the rule by which
 * the outer figure is measured. A candidate's score is its inner accuracy over the
 * training items; ties go to the lower Brier score of the item probabilities, then to
 * the earlier candidate. Items without in_train never enter: not a row, not a fold.
 * Fills scores[n] (may be NULL) and returns the chosen index, or ICTAL_E*.
 */
typedef struct ictal_select_score {
    double accuracy;   /* inner accuracy over the training items */
    double brier;      /* mean squared error of the item probabilities */
    size_t n_items;    /* training items scored */
} ictal_select_score;

int ictal_corpus_is_segments(const ictal_corpus *c, size_t *bad_item);
int ictal_select(const ictal_corpus *c, const ictal_cv_candidate *cand, size_t n,
                 const uint8_t *in_train, int k, unsigned seed, const ictal_train_params *tp,
                 ictal_select_score *scores, ictal_diag *d);

typedef struct ictal_cv_result {
    size_t n_items;
    int n_folds;
    int *fold;               /* [n_items]; -1: never held out (ICTAL_CV_SPLIT's training
                                items, which have no detection and are not summarised) */
    ictal_postproc *post;    /* [n_items] decisions used on the item (tuned on its training folds) */
    ictal_detection *det;    /* [n_items] the held-out detection */
    double train_s;          /* seconds spent training (all folds, tuning included) */
    /* with candidates: the one each fold chose, and every candidate's inner score */
    int *chosen;                /* [n_folds] index into the candidates */
    ictal_select_score *scores; /* [n_folds * n_candidates] */
    size_t n_candidates;
    char (*candidate_names)[64]; /* [n_candidates], copied */
} ictal_cv_result;

void ictal_cv_result_init(ictal_cv_result *r);
void ictal_cv_result_free(ictal_cv_result *r);

/*
 * Cross-validates: for each fold, trains on the rows of ds (built from c by
 * ictal_corpus_features: record i is item i) whose item is in another fold, tunes the
 * threshold on those training items only when p->tune, and runs the streaming
 * detector over each held-out item. progress, when not NULL, is called per fold.
 */
int ictal_cv_run(const ictal_corpus *c, const ictal_dataset *ds, const ictal_cv_params *p,
                 const ictal_model_info *tmpl, ictal_cv_result *r,
                 void (*progress)(void *user, int fold, int n_folds), void *user, ictal_diag *d);

/*
 * Runs model m, with its own post-processing, over every item of c into r (one
 * "fold"): the figures of a given model, in-sample for the data it was trained on.
 */
int ictal_evaluate_model(const ictal_corpus *c, const ictal_model *m, ictal_cv_result *r,
                         ictal_diag *d);

/* Figures for a set of items (e.g. every item of one data set). */
typedef struct ictal_cv_summary {
    size_t n_items;
    double hours;               /* signal duration */
    /* window level: hops with a label, overall probability vs label */
    size_t n_hops_pos, n_hops_neg;
    double auc;                 /* NaN without both classes */
    double sensitivity, specificity; /* probability >= 0.5 */
    /* event level (alarms of the streaming detector) */
    size_t n_seizures;
    size_t n_detected;          /* an alarm raised between onset and offset */
    size_t n_early;             /* alarms raised before a seizure of the item, within 30 s */
    size_t n_false_alarms;      /* alarms not between onset - 30 s and offset + 60 s */
    double fa_per_hour, fa_per_24h;
    double latency_median_s, latency_max_s; /* alarm time - onset, detected seizures */
} ictal_cv_summary;

/* Summarises the items for which select(user, item) is non-zero (NULL = all), leaving
 * out those never held out (fold -1). */
void ictal_cv_summarize(const ictal_corpus *c, const ictal_cv_result *r,
                        int (*select)(void *user, size_t item), void *user,
                        ictal_cv_summary *s);

/* Window-level AUC of scores against 0/1 labels (ties counted half); NaN without both. */
double ictal_auc(const float *score, const float *label, size_t n);

/*
 * Trains on the rows whose record has in_train[record] set and parses the model into m
 * for prediction; *bytes (malloc'd, free() it after m) holds the serialized model that m
 * points into.
 */
int ictal_train_parsed(const ictal_dataset *ds, const uint8_t *in_train,
                       const ictal_train_params *p, const ictal_model_info *tmpl,
                       unsigned char **bytes, ictal_model *m, ictal_diag *d);

/* --- segment-level classification (signal.c, segment.c) ------------------------------- */

/*
 * Data sets of labelled fixed-length segments (Bonn, Bern-Barcelona, ...) are classified
 * per segment in the literature. The segment model does that, as an evaluation and
 * research tool: the streaming detector never uses it (the detector's models read one
 * hop's 22 or 25 features; a segment model does not load into it).
 *
 * A segment's descriptor, per channel: for each of libictal's hop
 * features (features-only mode, exactly as the hop pipeline computes them), over the hops
 * the detector judged for that channel (not settling, no quality flag: the hops the
 * model would have seen), the mean, the standard deviation (population, 1/n), the
 * minimum and the maximum. Column s * NF + f holds statistic s of feature f (NF: the
 * hop features of the template's feature set, 22 or 25), named "mean_log_line_length", "sd_...", "min_...", "max_...". NaN feature values
 * are skipped; a statistic with no value is NaN (missing to the trainers).
 *
 * The segment table has one row per (segment, channel with a judged hop), labelled 1
 * when the segment has a seizure; a segment's probability aggregates its channels'
 * probabilities as the hop model does (the largest, or the mean of the K largest).
 */
enum ictal_segment_stat {
    ICTAL_SEGMENT_MEAN = 0,
    ICTAL_SEGMENT_SD,
    ICTAL_SEGMENT_MIN,
    ICTAL_SEGMENT_MAX,
    ICTAL_SEGMENT_STATS
};
#define ICTAL_SEGMENT_N_FEATURES 88 /* ICTAL_SEGMENT_STATS x ICTAL_N_FEATURES of ictal.h */
#define ICTAL_SEGMENT_MAX_FEATURES (ICTAL_SEGMENT_STATS * ICTAL_MAX_FEATURES) /* set 2: 100 */

/* Descriptor columns for hop feature set fs: 88 (set 1), 100 (set 2), 0 if unknown. */
int ictal_segment_n_features(int feature_set);

/*
 * Mean, population standard deviation, minimum and maximum (out[ICTAL_SEGMENT_*]) of the
 * non-NaN values among x[0], x[stride], ..., x[(n - 1) * stride]; all NaN when there is
 * none. Sums in double.
 */
void ictal_segment_stats(const float *x, size_t n, size_t stride,
                         float out[ICTAL_SEGMENT_STATS]);

/* Name of descriptor column col of feature set 1 into buf ("mean_log_line_length"); 0 or
 * ICTAL_EINVAL. ictal_segment_column_name: the same for feature set fs. */
int ictal_segment_feature_name(int col, char *buf, size_t cap);
int ictal_segment_column_name(int feature_set, int col, char *buf, size_t cap);

/*
 * Runs libictal in features-only mode over sig (window and hop of tmpl) and writes the
 * descriptor of every channel (feature set of tmpl): desc[c * ictal_segment_n_features(
 * tmpl->feature_set) + col], and in
 * n_judged[c] the number of hops it summarises (0: all NaN). Returns 0 or ICTAL_E*.
 */
int ictal_segment_describe(const ictal_signal *sig, const ictal_model_info *tmpl, float *desc,
                           int *n_judged, ictal_diag *d);

/*
 * The segment table of a corpus into ds (initialised with ictal_segment_n_features of
 * tmpl's feature set):
 * record i is item i, one row per channel with a judged hop (t_s = the segment's
 * duration). The descriptor columns of the hop features whose bit is set in drop
 * (as ictal_dataset_drop_features) are made missing.
 */
int ictal_segment_table(const ictal_corpus *c, const ictal_model_info *tmpl, uint64_t drop,
                        ictal_dataset *ds, ictal_diag *d);

typedef struct ictal_segment_result {
    size_t n_items;
    int n_folds;
    int *fold;         /* [n_items] */
    float *prob;       /* [n_items] held-out probability; 0 without a row */
    int *n_rows;       /* [n_items] channels that gave the probability */
    double train_s;    /* seconds spent training, all folds */
    int n_features;    /* descriptor columns of the table (88 or 100) */
} ictal_segment_result;

void ictal_segment_result_init(ictal_segment_result *r);
void ictal_segment_result_free(ictal_segment_result *r);

/*
 * Cross-validates the segment model: the folds of ictal_cv_folds() (so the same folds
 * as the hop model's cross-validation), for each a model (p->train with a template
 * whose n_features is seg's) trained on the rows of seg (built by
 * ictal_segment_table from c) of the other folds, which scores the held-out segments;
 * channel aggregation from tmpl. No threshold is tuned: a segment is called ictal at
 * probability >= 0.5.
 */
int ictal_segment_cv_run(const ictal_corpus *c, const ictal_dataset *seg,
                         const ictal_cv_params *p, const ictal_model_info *tmpl,
                         ictal_segment_result *r,
                         void (*progress)(void *user, int fold, int n_folds), void *user,
                         ictal_diag *d);

/* Segment figures (probability >= 0.5 is ictal; a segment is ictal when it has a seizure). */
typedef struct ictal_segment_summary {
    size_t n, n_pos, n_neg, n_correct, tp, tn;
    double accuracy, sensitivity, specificity; /* NaN when undefined */
    double auc;                                /* NaN without both classes */
} ictal_segment_summary;

/* Summarises the items for which select(user, item) is non-zero (NULL = all). */
void ictal_segment_summarize(const ictal_corpus *c, const ictal_segment_result *r,
                             int (*select)(void *user, size_t item), void *user,
                             ictal_segment_summary *s);

/*
 * Markdown report of a segment cross-validation: the protocol, the figures over all
 * segments, per data set and per series (the segment name without its trailing number:
 * Bonn's Z, O, N, F, S), and every misclassified segment with its probability and fold.
 */
int ictal_segment_write_report(const char *path, const char *title, const char *command,
                               const ictal_corpus *c, const ictal_segment_result *r,
                               ictal_diag *d);

/* --- published protocols on local copies of public data sets (protocol.c) ------------- */

/*
 * Lists a local copy of CHB-MIT (DIR/chbNN/chbNN_MM.edf with DIR/chbNN/chbNN-summary.txt)
 * or of the Siena Scalp EEG database (DIR/PNxx/PNxx-N.edf with
 * DIR/PNxx/Seizures-list-PNxx.txt) into c, one patient per folder, seizures from the
 * summary or seizure list. Set c->lazy first for the full data sets. Files that the
 * summary does not list are skipped with a warning. Returns 0, or ICTAL_ENOENT when no
 * recording was found.
 */
int ictal_corpus_add_chbmit(ictal_corpus *c, const char *dir, int montage, ictal_diag *d);
int ictal_corpus_add_siena(ictal_corpus *c, const char *dir, int montage, ictal_diag *d);

/*
 * Lists a local copy of the TUH EEG Seizure Corpus into c: DIR/edf/{train,dev,eval}/
 * PATIENT/SESSION/MONTAGE/PATIENT_SESSION_TNNN.edf (v2.x; MONTAGE such as 01_tcp_ar) or
 * v1.5's DIR/edf/{train,dev}/MONTAGE/GROUP/PATIENT/SESSION/FILE.edf (DIR may also be the
 * edf folder), each with its .csv_bi (else .csv, .tse_bi, .tse) beside it. Items go to
 * sets "tusz-train", "tusz-dev", "tusz-eval" (for ICTAL_CV_SPLIT with train_set
 * "tusz-train"), patient = the file name up to its first '_'. montage AUTO means the
 * double banana; a recording that lacks a channel the montage needs, has no annotation
 * file or cannot be read is skipped with a warning naming it (and the channels), and
 * counted. A missing split is a warning. Set c->lazy first (TUSZ is ~1,500 h). Returns
 * 0, or ICTAL_ENOENT when train or both dev and eval give no recording.
 */
typedef struct ictal_tusz_counts {
    int present[3];        /* train, dev, eval: the split's folder exists */
    size_t n_found[3];     /* EDF files found */
    size_t n_added[3];     /* added to the corpus */
    size_t n_skipped[3];   /* skipped with a warning */
} ictal_tusz_counts;

int ictal_corpus_add_tusz(ictal_corpus *c, const char *dir, int montage,
                          ictal_tusz_counts *counts, ictal_diag *d);

/* --- reports (report.c) ------------------------------------------------------------------- */

/*
 * Writes a Markdown report of a cross-validation: the protocol, per data set the
 * window-level and event-level figures, and every alarm outside a seizure (recording,
 * time, peak probability, channels) so that each false alarm can be looked at.
 */
int ictal_cv_write_report(const char *path, const char *title, const char *command,
                          const ictal_corpus *c, const ictal_cv_result *r, ictal_diag *d);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_TRAIN_H */
