/*
 * ictal/score.h - SzCORE scoring of seizure detections, exactly as the reference
 * (timescoring 0.0.7 with szcore-evaluation), plus detection latency.
 *
 * Pipeline for one recording (times in seconds from the start of the recording):
 *   1. Each annotation list becomes a mask at label_rate_hz (FS, 1 Hz): samples
 *      int(onset*FS) .. int((onset+duration)*FS), end excluded, for events whose type
 *      starts with "sz"; the mask has int(recordingDuration*FS) samples. Events are
 *      then re-derived from the mask (runs of seizure samples).
 *   2. If the hypothesis mask has a different length, it is zero-padded or truncated
 *      when the lengths differ by at most duration_tolerance_s; otherwise the
 *      hypothesis is ignored (scored as no detection) and a warning is raised.
 *   3. Sample scoring at sample_rate_hz (1 Hz): counts of seizure samples.
 *   4. Event scoring at event_rate_hz (10 Hz): events closer than
 *      min_duration_between_events_s are merged, events longer than
 *      max_event_duration_s are split; a reference event is detected (TP) when the
 *      hypothesis covers more than min_overlap (+1e-6) of its window extended by
 *      tolerance_start_s before and tolerance_end_s after (clipped to the file); a
 *      hypothesis event is a false positive when it touches no detected window.
 *   5. Latency (an ictal extension): for each detected reference seizure (a merged
 *      reference event; when split, its earliest detected piece), onset of the first
 *      hypothesis event overlapping that piece's extended window minus the seizure's
 *      onset (negative when early).
 * Metrics follow the reference: sensitivity = tp/refTrue, precision = tp/(tp+fp),
 * f1 = 2tp/(2tp+fp+fn), fpRate = fp per 24 h; sensitivity and precision are NaN when
 * their denominator is 0, F1 only with no reference event and no false positive.
 *
 * The implementation works on sorted intervals, never on one sample at a time, and
 * gives the reference's counts exactly (the same int() and round-half-even rules).
 *
 * Part of ictal-score. Results and datasets own their arrays: init before use, free
 * after (free leaves them initialised, ready for reuse). No global state; distinct
 * objects may be used on distinct threads.
 */
#ifndef ICTAL_SCORE_H
#define ICTAL_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/annot.h"
#include "ictal/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ictal_score_params {
    double label_rate_hz;                 /* FS of the annotation masks: 1 */
    double sample_rate_hz;                /* rate of sample scoring: 1 */
    double event_rate_hz;                 /* rate of event scoring: 10 */
    double tolerance_start_s;             /* window extension before onset: 30 */
    double tolerance_end_s;               /* window extension after offset: 60 */
    double min_overlap;                   /* relative overlap for a detection: 0 */
    double max_event_duration_s;          /* longer events are split: 300 */
    double min_duration_between_events_s; /* closer events are merged: 90 */
    double duration_tolerance_s;          /* hyp vs ref length, padded/cut: 0 */
} ictal_score_params;

/* The SzCORE defaults above. */
void ictal_score_params_default(ictal_score_params *p);
/* 0, or ICTAL_EINVAL with a message naming the bad parameter. */
int ictal_score_params_check(const ictal_score_params *p, ictal_diag *d);

/* Counts of one scoring method (the reference's Result): summable over files. */
typedef struct ictal_score_counts {
    int64_t ref_true;    /* reference seizure samples, or reference events */
    int64_t tp;          /* true positive samples, or detected reference events */
    int64_t fp;          /* false positive samples, or false detections */
    int64_t num_samples; /* length of the scored mask */
    double fs_hz;        /* rate of the mask (1 or 10 by default) */
} ictal_score_counts;

typedef struct ictal_score_metrics {
    double sensitivity; /* tp / ref_true, NaN when ref_true == 0 */
    double precision;   /* tp / (tp + fp), NaN when tp + fp == 0 */
    double f1;          /* 2tp / (2tp + fp + fn), NaN when that denominator is 0 */
    double fp_rate;     /* false positives per 24 h */
} ictal_score_metrics;

void ictal_score_counts_add(ictal_score_counts *sum, const ictal_score_counts *c);
void ictal_score_metrics_compute(const ictal_score_counts *c, ictal_score_metrics *m);

typedef struct ictal_score_result {
    ictal_score_counts sample;
    ictal_score_counts event;
    double *latency_s;   /* one per detected reference seizure, in time order */
    size_t n_latency;
    size_t latency_capacity;
    int hyp_ignored;     /* non-zero: hypothesis length outside the tolerance */
} ictal_score_result;

void ictal_score_result_init(ictal_score_result *r);
void ictal_score_result_free(ictal_score_result *r);

/*
 * Scores one recording. hyp may be NULL (no detections). ref must know its
 * recording_duration_s; so must hyp unless it is NULL. r is overwritten (its latency
 * array reused). Warnings (length mismatch) go through d. Returns 0 or ICTAL_E*.
 */
int ictal_score_recording(const ictal_annotations *ref, const ictal_annotations *hyp,
                          const ictal_score_params *p, ictal_score_result *r, ictal_diag *d);

/* Median, 90th percentile and maximum (numpy's linear interpolation); NaN when
 * count is 0. */
typedef struct ictal_latency_stats {
    size_t count;
    double median_s;
    double p90_s;
    double max_s;
} ictal_latency_stats;

/* Sorts latency_s in place, then fills *s. */
void ictal_latency_stats_compute(double *latency_s, size_t n, ictal_latency_stats *s);

/*
 * Mean and population standard deviation ignoring NaN (numpy's nanmean and nanstd,
 * with its pairwise summation). Both NaN when every value is NaN.
 */
void ictal_nanmean_nanstd(const double *x, size_t n, double *mean, double *std);

/* Averages over subjects (NaN ignored) and pooled metrics. */
typedef struct ictal_score_summary {
    ictal_score_metrics mean;   /* average of the per-subject metrics */
    ictal_score_metrics std;    /* population std of the per-subject metrics */
    ictal_score_metrics pooled; /* metrics of the counts summed over every file */
} ictal_score_summary;

/* subjects: summed counts of each subject. Returns 0 or ICTAL_ENOMEM. */
int ictal_score_summarize(const ictal_score_counts *subjects, size_t n, ictal_score_summary *s);

/* ---- Datasets: BIDS-like trees, sub-<id>/.../<name>_events.tsv ----------------------- */

typedef struct ictal_score_file {
    char *path;              /* relative to the reference root, '/'-separated */
    size_t subject;          /* index into the dataset's subjects */
    int hyp_missing;         /* no hypothesis file: scored as no detection */
    ictal_score_result result;
} ictal_score_file;

typedef struct ictal_score_subject {
    char *name;                 /* "sub-01" */
    ictal_score_counts sample;  /* summed over the subject's files */
    ictal_score_counts event;
    ictal_score_metrics sample_metrics;
    ictal_score_metrics event_metrics;
} ictal_score_subject;

typedef struct ictal_score_dataset {
    ictal_score_file *files;      /* sorted by path */
    size_t n_files;
    ictal_score_subject *subjects; /* sorted by name */
    size_t n_subjects;
    ictal_score_summary sample;
    ictal_score_summary event;
    ictal_latency_stats latency;  /* over every detected event of every file */
    char *diag_path;              /* owns the path a diagnostic names (d->source) */
} ictal_score_dataset;

void ictal_score_dataset_init(ictal_score_dataset *ds);
void ictal_score_dataset_free(ictal_score_dataset *ds);

/*
 * Scores every ref_dir/sub-<id>/.../<name>_events.tsv against the file at the same
 * relative path under hyp_dir (missing: no detections). A file that cannot be read or parsed
 * stops the run with its diagnostic in d. Subjects without any events file are left
 * out with a warning (the reference would divide by zero).
 */
int ictal_score_dataset_run(const char *ref_dir, const char *hyp_dir,
                            const ictal_score_params *p, ictal_score_dataset *ds,
                            ictal_diag *d);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_SCORE_H */
