/*
 * ictal/ictal.h - libictal, the streaming seizure detector.
 *
 * EEG in, seizure probability and alarms out, causally, in a few KB of caller memory.
 *
 *   frames (µV, interleaved, any rate 100..2048 Hz, any chunk size)
 *     -> non-finite samples held and flagged, raw-signal quality checks
 *     -> anti-aliasing lowpass (Butterworth at 45 Hz, or 0.4 x the input rate below
 *        112.5 Hz; 6th order up to 300 Hz input, 8th above) and Catmull-Rom cubic
 *        resampling to ICTAL_INTERNAL_RATE_HZ (128 Hz; exact decimation at 256, 512 Hz)
 *     -> high-pass (0.5 Hz), optional 50/60 Hz notch
 *     -> per-channel running sums per hop (IIR band filters, differences, crossings;
 *        set 2: ordinal-pattern counts and moments), combined over the window: the
 *        feature matrix, channels x ICTAL_N_FEATURES (set 1) or ICTAL_N_FEATURES_SET2
 *     -> the model per channel (model.h) -> aggregation (max / top-k mean) over the
 *        channels whose signal quality is good
 *     -> decisions: smoothing, hysteresis, minimum duration, merge gap, refractory
 *        period; seizure burden over the last 5 minutes
 *     -> per hop: an ictal_hop; on decisions: ictal_alarm (callback or polling).
 *
 * Channels are normally bipolar derivations ("F7-T7"): apply a montage first (montage.h,
 * ictal_montage_build / ictal_montage_apply). 1 to ICTAL_MAX_CHANNELS channels. Labels
 * are only names (for alarms): empty ones and dummies ("-") are refused.
 *
 * Memory: ictal_detector_size(cfg) bytes, owned by the caller, aligned to
 * ICTAL_DETECTOR_ALIGN; ictal_detector_init() lays the state out in it. The state holds
 * pointers into itself: do not move or copy it after init. Nothing is allocated, ever;
 * no globals, no threads; one detector per stream, any number of streams.
 *
 * Determinism: the outputs depend only on the samples and the config, never on how
 * the frames were split into pushes (bit for bit, same binary).
 *
 * Times: seconds from the first frame after init (or t0_s given to reset), computed as
 * t0_s + frame_index / rate_hz. A hop's time is the end of its window; the hop is
 * complete once the two input samples after that time have been pushed (the cubic
 * interpolation's look-ahead, 8 ms at 256 Hz: the only delay besides the filters').
 *
 * Part of libictal: C11 + libm only.
 */
#ifndef ICTAL_ICTAL_H
#define ICTAL_ICTAL_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"
#include "ictal/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ICTAL_MAX_CHANNELS 32
#define ICTAL_RATE_MIN_HZ 100.0
#define ICTAL_RATE_MAX_HZ 2048.0
#define ICTAL_INTERNAL_RATE_HZ 128   /* features are computed at this rate */
#define ICTAL_MAX_HOPS_PER_WINDOW 16 /* window_s / hop_s at most */
#define ICTAL_DETECTOR_ALIGN 16      /* alignment of the memory given to init */
#define ICTAL_BURDEN_WINDOW_S 300.0  /* seizure burden: share of the last 5 minutes */
#define ICTAL_ALARM_QUEUE 8          /* alarm records kept for polling */
#define ICTAL_LABEL_BYTES 24         /* channel label with NUL (= ICTAL_LABEL_MAX) */

/*
 * Features, per channel and window (feature set 1; set 2 appends three, below). "L(x)"
 * is log10(1 + x). Powers are mean squares in µV^2 of the high-passed signal at 128 Hz;
 * bands: delta 0.5-4 Hz (2nd-order Butterworth low-pass at 4 Hz after the 0.5 Hz
 * high-pass), theta 4-8,
 * alpha 8-13, beta 13-30 (2nd-order Butterworth high-pass then low-pass at the edges),
 * gamma 30-45 (high-pass at 30 Hz; the anti-aliasing bounds it at 45 Hz). Derivatives
 * are first differences at 128 Hz. A window is window_s long and
 * made of window_s/hop_s hops; each feature is combined from per-hop running sums.
 * The background is an exponential average of the feature over hops with good quality
 * (time constant ICTAL_BACKGROUND_S), started at the first good value, so context
 * features are 0 until the signal changes.
 */
#define ICTAL_FEATURE_SET 1 /* the default set (features-only mode) */
enum ictal_feature {
    ICTAL_F_LOG_LINE_LENGTH = 0, /* L(sum |dx| / window_s), µV/s */
    ICTAL_F_LOG_VARIANCE,        /* L(variance), µV^2 */
    ICTAL_F_LOG_DELTA,           /* L(band power) per band, µV^2 */
    ICTAL_F_LOG_THETA,
    ICTAL_F_LOG_ALPHA,
    ICTAL_F_LOG_BETA,
    ICTAL_F_LOG_GAMMA,
    ICTAL_F_REL_DELTA,           /* band power / sum of the five, 0..1 */
    ICTAL_F_REL_THETA,
    ICTAL_F_REL_ALPHA,
    ICTAL_F_REL_BETA,
    ICTAL_F_REL_GAMMA,
    ICTAL_F_MOBILITY_HZ,         /* Hjorth mobility sqrt(var dx / var x) * 128/(2 pi), Hz */
    ICTAL_F_COMPLEXITY,          /* Hjorth complexity: mobility(dx) / mobility(x) */
    ICTAL_F_SPECTRAL_ENTROPY,    /* -sum p ln p / ln 5 over the relative band powers, 0..1 */
    ICTAL_F_SPECTRAL_EDGE_HZ,    /* 90 % edge, linear within the band that crosses 90 % */
    ICTAL_F_ZERO_CROSSINGS_HZ,   /* sign changes of the high-passed signal per second */
    ICTAL_F_LOG_NONLINEAR_ENERGY,/* L(max(0, mean of x[n-1]^2 - x[n] x[n-2])), Teager */
    ICTAL_F_LINE_LENGTH_VS_BG,   /* log line length minus its background (log ratio) */
    ICTAL_F_VARIANCE_VS_BG,      /* log variance minus its background */
    ICTAL_F_LINE_LENGTH_VS_PREV, /* log line length minus its value one window earlier */
    ICTAL_F_HOP_LL_SPREAD,       /* log10((max + 1) / (min + 1)) of the hops' line lengths */
    ICTAL_N_FEATURES,            /* 22: the features of set 1 */
    /* Feature set 2: the 22 of set 1 (same order), then three amplitude-independent
     * measures of the high-passed 128 Hz signal over the window: */
    ICTAL_F_PERM_ENTROPY = ICTAL_N_FEATURES, /* permutation entropy (Bandt & Pompe 2002) of
                                    order 4, delay 1 sample: Shannon entropy of the 24
                                    ordinal patterns of 4 consecutive samples, / ln 24,
                                    0..1. The patterns counted are those whose newest
                                    sample is in the window; equal samples: the earlier
                                    one is the smaller (deterministic) */
    ICTAL_F_SKEWNESS,            /* m3 / m2^1.5 of the samples (central moments, 1/n) */
    ICTAL_F_EXCESS_KURTOSIS,     /* m4 / m2^2 - 3; both 0 when m2 <= 1e-9 µV^2 */
    ICTAL_N_FEATURES_SET2        /* 25 */
};
#define ICTAL_MAX_FEATURES ICTAL_N_FEATURES_SET2

/* Features per channel of feature set fs (1: 22, 2: 25), or 0 for an unknown set. */
int ictal_feature_count(int feature_set);
#define ICTAL_BACKGROUND_S 180.0

/* Name of feature i ("log_line_length", ...; 0 <= i < ICTAL_MAX_FEATURES), or NULL
 * when i is out of range. */
const char *ictal_feature_name(int i);

/*
 * Signal-quality flags, per channel and hop. A channel with any flag set is not given
 * to the model (its probability is reported as 0) and cannot raise or sustain an
 * alarm. A flag raised by a hop stays up for the hops whose window contains it.
 */
enum ictal_quality {
    ICTAL_Q_NAN = 1 << 0,        /* NaN or Inf samples (held at the last good value) */
    ICTAL_Q_FLAT = 1 << 1,       /* peak-to-peak below flat_uv over a hop */
    ICTAL_Q_CLIP = 1 << 2,       /* at the rail, or a run of identical large samples */
    ICTAL_Q_JUMP = 1 << 3,       /* DC jump / electrode pop: the slow component (4th-order
                                    lowpass at 0.3 Hz) moved > jump_uv within one hop */
    ICTAL_Q_DRIFT = 1 << 4,      /* the slow component spans > drift_uv over the window */
    ICTAL_Q_MOVEMENT = 1 << 5,   /* high-passed amplitude above movement_uv with most power
                                    (> 60 %) in the delta band: large and slow */
    ICTAL_Q_MUSCLE = 1 << 6,     /* gamma dominates (> muscle_rel) at high power (> muscle_uv2) */
    ICTAL_Q_SETTLING = 1 << 7,   /* after start or reset: the window is not full yet, or
                                    less than settle_s seconds have passed */
    ICTAL_Q_DISCONNECT = 1 << 8  /* most of the hop non-finite or at the rail, or the
                                    amplitude beyond disconnect_uv */
};

/* Detector state after a hop. */
typedef enum ictal_state {
    ICTAL_STATE_WARMUP = 0,   /* settling: no channel usable yet */
    ICTAL_STATE_IDLE,         /* below threshold */
    ICTAL_STATE_CANDIDATE,    /* above threshold_on, not yet for min_duration_s */
    ICTAL_STATE_ALARM,        /* in a seizure event (alarm raised) */
    ICTAL_STATE_ENDING,       /* below threshold_off, within merge_gap_s of the event */
    ICTAL_STATE_REFRACTORY,   /* an event ended less than refractory_s ago */
    ICTAL_STATE_ARTIFACT,     /* no channel has good quality */
    ICTAL_STATE_NO_MODEL      /* features only (no model configured) */
} ictal_state;

/* Name of a state ("idle", "alarm", ...). */
const char *ictal_state_name(int state);

/*
 * What the detector reports every hop. The arrays point into the detector and are
 * valid until the next call on it.
 */
typedef struct ictal_hop {
    double t_s;            /* end of the window */
    uint64_t index;        /* hop number since init / reset */
    float prob;            /* aggregated probability over usable channels; 0 when none,
                              NaN without a model */
    float prob_smooth;     /* after smoothing: the value the thresholds see */
    ictal_state state;
    float burden;          /* share of the last 5 minutes with prob_smooth >= threshold_on */
    int n_channels;
    int n_features;        /* of the feature set in use: ICTAL_N_FEATURES (set 1) or
                              ICTAL_N_FEATURES_SET2 (set 2) */
    const float *chan_prob;    /* [n_channels]; 0 for channels with a quality flag */
    const uint16_t *quality;   /* [n_channels] ICTAL_Q_* bits */
    const float *features;     /* [n_channels * n_features], row c = channel c: exactly
                                  the vector the model saw (or would have seen) */
    uint32_t usable;           /* bit c: channel c had no quality flag */
    uint32_t fired;            /* bit c: usable and chan_prob >= threshold_on */
} ictal_hop;

typedef enum ictal_alarm_kind {
    ICTAL_ALARM_RAISED = 1, /* an alarm was raised (offset_s is still unknown: -1) */
    ICTAL_ALARM_END = 2    /* the event ended: all fields final */
} ictal_alarm_kind;

typedef struct ictal_alarm {
    ictal_alarm_kind kind;
    uint32_t id;         /* 1, 2, ... per detector; RAISED and END of one event share it */
    double onset_s;      /* start of the hop whose smoothed probability first crossed
                            threshold_on (that hop's time minus hop_s) */
    double alarm_s;      /* when the alarm was raised: onset + min duration, causally */
    double offset_s;     /* END: time of the last hop at or above threshold_off */
    float peak_prob;     /* highest smoothed probability so far */
    uint32_t channels;   /* bit c: channel c fired during the event */
} ictal_alarm;

typedef void (*ictal_hop_fn)(void *user, const ictal_hop *hop);
typedef void (*ictal_alarm_fn)(void *user, const ictal_alarm *ev);

/*
 * Configuration. Start from ictal_config_init(), then set n_channels, rate_hz and
 * (optionally) labels and model. Post-processing fields left negative take the
 * model's defaults; a model's window and hop replace window_s / hop_s (the features
 * must be the ones it was trained on).
 */
typedef struct ictal_config {
    int n_channels;              /* 1..ICTAL_MAX_CHANNELS */
    double rate_hz;              /* input rate, ICTAL_RATE_MIN_HZ..ICTAL_RATE_MAX_HZ */
    const char *const *labels;   /* n_channels labels, "F7-T7" (copied), or NULL */
    const ictal_model *model;    /* NULL: features only, no probabilities or events */

    /* Analysis (features-only mode; a model fixes them). Defaults 4 s and 0.5 s.
     * hop_s: 0.25 to 4 s, a whole number of 1/128 s; window_s: 1 to 16 whole hops. */
    float window_s, hop_s;
    /* Feature set (features-only mode; a model fixes it): 1 (default) or 2. Set 2 adds
     * three features and their per-hop state; set 1 pays nothing for it. */
    int feature_set;

    /* Front end. */
    float highpass_hz;     /* default 0.5 */
    int notch_hz;          /* 0 (default), 50 or 60 */
    const float *rail_uv;  /* per channel |x| at the amplifier's rail, or NULL: unknown */

    /* Quality thresholds (defaults in ictal_config_init). */
    float flat_uv;         /* 1 */
    float jump_uv;         /* 200 */
    float drift_uv;        /* 500 */
    float movement_uv;     /* 1500 */
    float disconnect_uv;   /* 5000 */
    float muscle_rel;      /* 0.6 */
    float muscle_uv2;      /* 100 */
    float settle_s;        /* 2 */

    /* Decisions: negative = the model's default. */
    ictal_postproc post;
    int aggregation;       /* -1 = model's, or ictal_aggregation */
    int top_k;             /* -1 = model's */

    /* Outputs (either may be NULL; polling works in any case). */
    ictal_hop_fn on_hop;
    ictal_alarm_fn on_alarm;
    void *user;
} ictal_config;

typedef struct ictal_detector ictal_detector;

/* Fills cfg with the defaults above (n_channels 0, rate 0, no model). */
void ictal_config_init(ictal_config *cfg);

/*
 * Checks a configuration and says what is wrong in d (may be NULL): ICTAL_EINVAL (a
 * NULL or empty label, a channel count out of range, a bad threshold), ICTAL_ERANGE
 * (rate outside 100..2048 Hz, or a feature set other than 1 or 2), ICTAL_ENOTSUP /
 * ICTAL_EVERSION (a model with a feature set other than 1 and 2, a feature count not
 * its set's, another rate, or a window/hop the detector cannot do).
 */
int ictal_config_check(const ictal_config *cfg, ictal_diag *d);

/* Bytes of state for cfg (0 if cfg is invalid: ictal_config_check says why). */
size_t ictal_detector_size(const ictal_config *cfg);

/*
 * Lays out a detector in mem (size bytes, aligned to ICTAL_DETECTOR_ALIGN) for cfg.
 * The detector is then (ictal_detector *)mem. Returns 0, ICTAL_ENOMEM when size is
 * below ictal_detector_size(cfg), ICTAL_EINVAL for a misaligned mem, or the error of
 * ictal_config_check.
 */
int ictal_detector_init(void *mem, size_t size, const ictal_config *cfg);

/*
 * Pushes n_frames frames of n_channels interleaved samples in µV (frame-major:
 * frames_uv[f * n_channels + c]). Any n_frames, 0 included; non-finite samples are
 * flagged, not an error. Calls on_hop / on_alarm as hops complete. Returns 0, or
 * ICTAL_EINVAL for NULL arguments.
 */
int ictal_detector_push(ictal_detector *det, const float *frames_uv, size_t n_frames);

/*
 * Starts over (after a gap in the recording, or a new session): all signal state,
 * features, background and decisions are cleared; the next frame has time t0_s. An
 * open event is ended first (END emitted with its last offset). The event id counter
 * and the totals of ictal_detector_stats continue.
 */
void ictal_detector_reset(ictal_detector *det, double t0_s);

/* Dequeues the oldest pending alarm record into ev: returns 1, or 0 when there is none.
 * Records are queued whether or not on_alarm is set; the queue holds ICTAL_ALARM_QUEUE
 * and drops the oldest beyond that (counted in stats: expected when only the callback is
 * used). */
int ictal_detector_poll_alarm(ictal_detector *det, ictal_alarm *ev);

/* The last completed hop, or NULL before the first one. Valid until the next push. */
const ictal_hop *ictal_detector_last_hop(const ictal_detector *det);

/* Canonical parameters in use (model defaults merged with the config's overrides). */
void ictal_detector_postproc(const ictal_detector *det, ictal_postproc *post);
float ictal_detector_window_s(const ictal_detector *det);
float ictal_detector_hop_s(const ictal_detector *det);
int ictal_detector_feature_set(const ictal_detector *det); /* 1 or 2 */
int ictal_detector_n_features(const ictal_detector *det);  /* 22 or 25 */
int ictal_detector_channels(const ictal_detector *det);
const char *ictal_detector_label(const ictal_detector *det, int channel); /* "" if none */

typedef struct ictal_detector_stats {
    uint64_t frames;          /* pushed since init */
    uint64_t hops;
    uint64_t nonfinite;       /* non-finite samples seen */
    uint32_t alarms;          /* alarms raised (ICTAL_ALARM_RAISED) */
    uint32_t alarms_dropped;  /* records lost from the polling queue */
} ictal_detector_stats;

void ictal_detector_stats_get(const ictal_detector *det, ictal_detector_stats *st);

/* Same as ictal_strerror (error.h), for callers that include only this header. */
const char *ictal_detector_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_ICTAL_H */
