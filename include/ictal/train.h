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
 * one row per usable (hop, channel) to ds under record, labelled from sz. Sets the
 * record's duration and channel count. Returns 0 or ICTAL_E* (d says why).
 */
int ictal_dataset_add_signal(ictal_dataset *ds, int record, const ictal_signal *sig,
                             const ictal_interval *sz, size_t n_sz,
                             const ictal_model_info *tmpl, ictal_diag *d);

/* The template of a model for the detector's defaults: feature set, 22 features,
 * 128 Hz, 4 s windows, 0.5 s hops, max aggregation, default post-processing. */
void ictal_train_template(ictal_model_info *tmpl);

/* --- running the detector over a recording ---------------------------------------------- */

typedef struct ictal_alarm {
    double onset_s;   /* start of the event (the detector's onset) */
    double alarm_s;   /* when the alarm was raised */
    double offset_s;  /* end of the event */
    float peak_prob;
    uint32_t channels; /* bit c: channel c fired */
} ictal_alarm;

/* What the detector said about one recording: every hop and every event. */
typedef struct ictal_detection {
    size_t n_hops;
    double *t_s;        /* [n_hops] end of each hop's window */
    float *prob;        /* [n_hops] aggregated probability */
    float *prob_smooth; /* [n_hops] what the thresholds saw */
    uint8_t *any_usable;/* [n_hops] some channel had good quality */
    ictal_alarm *alarms;
    size_t n_alarms, cap_alarms;
    double duration_s;
} ictal_detection;

void ictal_detection_init(ictal_detection *r);
void ictal_detection_free(ictal_detection *r);

/*
 * Streams sig through a detector with model m (post-processing from post, or the
 * model's when post is NULL) and records every hop and event. An event still open at
 * the end is closed at the last hop.
 */
int ictal_detect_signal(const ictal_model *m, const ictal_postproc *post,
                        const ictal_signal *sig, ictal_detection *out, ictal_diag *d);

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

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_TRAIN_H */
