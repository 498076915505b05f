/*
 * The streaming detector (see include/ictal/ictal.h).
 *
 * Layout: every per-channel quantity is an array over channels (structure of arrays),
 * and every per-sample loop runs over channels innermost, so that the channels'
 * recursions (which each wait on their own previous output) run side by side in SIMD
 * lanes. The raw input rate only sees the quality checks and the anti-aliasing
 * lowpass; everything else runs at 128 Hz. Features are combined per hop from running
 * sums kept per hop (a ring of window/hop slots): no window is ever rescanned.
 */
#if defined(__GNUC__) && !defined(__clang__)
/* The library never reads floating-point exception flags; without trapping math gcc may
 * compute both sides of a select, which the channel loops need to vectorise. Nor may gcc
 * turn the per-frame copy of a few channels into a call to memcpy (4 % of `ictal
 * detect`): inline, it is a few vector moves. */
#pragma GCC optimize("no-trapping-math", "no-tree-loop-distribute-patterns")
#endif

#include "ictal/ictal.h"

#include <math.h>
#include <string.h>

#include "decide.h"
#include "dsp.h"

#define FS ((double)ICTAL_INTERNAL_RATE_HZ)
#define N_AA 4          /* anti-aliasing sections at most: 8th-order Butterworth */
#define N_BANDS 5
#define MAX_SMOOTH 64   /* hops of smoothing */
#define INPUT_LIMIT_UV 1e6f /* larger magnitudes are treated as non-finite */
#define CLIP_MIN_UV 100.0f  /* identical runs below this are quantised EEG, not clipping */
#define PI 3.14159265358979323846

static const float band_edges_hz[N_BANDS + 1] = {0.5f, 4.0f, 8.0f, 13.0f, 30.0f, 45.0f};

/* Per-hop running sums, kept per slot (the window is the sum of its slots). */
enum {
    A_S1,   /* sum x */
    A_S2,   /* sum x^2 */
    A_D1,   /* sum |dx| */
    A_D,    /* sum dx */
    A_D2,   /* sum dx^2 */
    A_DD,   /* sum ddx */
    A_DD2,  /* sum ddx^2 */
    A_ZC,   /* sign changes */
    A_TE,   /* sum Teager energy */
    A_B0,   /* band power sums, N_BANDS of them */
    N_SUMS = A_B0 + N_BANDS
};

/* Feature set 2's state, carved after everything else and only when set 2 is in use,
 * so that set 1 pays nothing (one pointer in the detector, NULL). Pattern counts per hop
 * fit in 16 bits (a hop is at most 512 internal samples). */
typedef struct fs2_state {
    float *x3;           /* [ncp] the high-passed sample three steps back */
    uint32_t *slot_of;   /* [ncp] scratch: where the current sample's pattern is counted,
                          * pattern * ncp + channel (an index: the scatter does no
                          * arithmetic, and the vector loop packs nothing) */
    uint16_t *pcnt;      /* [ICTAL__N_PATTERNS][ncp] current hop's pattern counts */
    double *mom;         /* [4][ncp] current hop's sums of x, x^2, x^3, x^4 */
    uint16_t *slot_pcnt; /* [window_hops][ICTAL__N_PATTERNS][ncp] */
    double *slot_mom;    /* [window_hops][4][ncp] */
    ictal__plnp_cache plnp; /* p ln p of the permutation entropy, by count */
} fs2_state;

/* Per-hop quality accumulators (not kept across hops). */
enum {
    Q_HPMAX,  /* max |high-passed| */
    Q_SLMIN,  /* slow component (< 0.3 Hz) min / max */
    Q_SLMAX,
    Q_RAWMIN, /* raw input min / max */
    Q_RAWMAX,
    Q_NAN,    /* non-finite samples */
    Q_CLIP,   /* samples in a run of identical large values */
    Q_RAIL,   /* samples at the rail */
    N_QACC
};

struct ictal_detector {
    /* Configuration, resolved. */
    int nch, ncp;             /* channels; ncp rounded up to 4 for array strides */
    double rate_hz, ratio;    /* input rate; input samples per internal sample */
    int hop_n, window_hops;   /* internal samples per hop; hops per window */
    float hop_s, window_s;
    const ictal_model *model;
    ictal_postproc post;
    int agg, top_k;
    float flat_uv, jump_uv, drift_uv, movement_uv, disconnect_uv, muscle_rel, muscle_uv2;
    float settle_s, clip_run;
    int notch_on, smooth_hops, burden_hops;
    int n_aa;                 /* anti-aliasing sections in use (3 or 4) */
    ictal_hop_fn on_hop;
    ictal_alarm_fn on_alarm;
    void *user;
    ictal__biquad aa[N_AA], notch, band_hp[N_BANDS], band_lp[N_BANDS];
    ictal__biquad hp_slow[3]; /* high-pass, then the two slow-component sections */

    /* Time and counters since the last reset. */
    double t0_s;
    uint64_t n_in;     /* input frames */
    uint64_t n_out;    /* internal samples */
    uint64_t hop_idx;  /* hops completed */
    int hop_fill;      /* internal samples in the current hop */
    int started;       /* a first frame was seen (filters initialised) */

    /* Per-channel state, arrays of ncp floats (see init for the layout). */
    float *hold, *prev_raw, *run, *rail;
    float *aa_s;        /* [N_AA][2][ncp] */
    float *y1, *y2, *y3; /* the last three anti-aliased input samples (newest first) */
    float *xi;          /* interpolated internal sample (scratch) */
    float *hp_s, *notch_s; /* [2][ncp] */
    float *slow_s;      /* [2][2][ncp] slow-component lowpass */
    float *slow_acc;    /* [ncp] sum of the internal samples since the last slow step */
    int slow_fill;
    int n_feat;         /* features per channel: 22 (set 1) or 25 (set 2) */
    float *band_s;      /* [N_BANDS][4][ncp]: high-pass s1,s2 then low-pass s1,s2 */
    float *x1, *x2, *dx1; /* previous high-passed samples, previous difference */
    float *acc;         /* [N_SUMS][ncp] current hop */
    float *qacc;        /* [N_QACC][ncp] current hop */
    float *slots;       /* [window_hops][N_SUMS][ncp] */
    uint16_t *slot_q;   /* [window_hops][ncp] per-hop flags */
    float *slot_hpmax, *slot_slmin, *slot_slmax; /* [window_hops][ncp] */
    float *feat;        /* [nch][n_feat] */
    float *chan_prob;   /* [ncp] */
    uint16_t *quality;  /* [ncp] */
    float *bg;          /* [2][ncp] background of log line length, log variance */
    float *bg_ok;       /* [ncp] */
    float *ll_hist;     /* [window_hops][ncp] log line length of past windows */
    float *smooth;      /* [smooth_hops] */
    uint8_t *burden_bits; /* [ceil(burden_hops / 8)] */
    char (*labels)[ICTAL_LABEL_BYTES];
    fs2_state *fs2;     /* feature set 2 only, else NULL */

    /* Decisions. */
    int smooth_pos, smooth_fill;
    int burden_pos, burden_fill, burden_count;
    ictal__decider dec;

    ictal_alarm queue[ICTAL_ALARM_QUEUE];
    int q_head, q_len;

    ictal_hop hop;
    int have_hop;
    ictal_detector_stats stats;
};

static const char *const feature_names[ICTAL_MAX_FEATURES] = {
    "log_line_length", "log_variance", "log_delta", "log_theta", "log_alpha", "log_beta",
    "log_gamma", "rel_delta", "rel_theta", "rel_alpha", "rel_beta", "rel_gamma",
    "mobility_hz", "complexity", "spectral_entropy", "spectral_edge_hz",
    "zero_crossings_hz", "log_nonlinear_energy", "line_length_vs_bg", "variance_vs_bg",
    "line_length_vs_prev", "hop_ll_spread", "perm_entropy", "skewness", "excess_kurtosis",
};

const char *ictal_feature_name(int i)
{
    return (i >= 0 && i < ICTAL_MAX_FEATURES) ? feature_names[i] : NULL;
}

int ictal_feature_count(int feature_set)
{
    return feature_set == 1 ? ICTAL_N_FEATURES
                            : feature_set == 2 ? ICTAL_N_FEATURES_SET2 : 0;
}

const char *ictal_state_name(int state)
{
    static const char *const names[] = {"warmup", "idle", "candidate", "alarm",
                                        "ending", "refractory", "artifact", "no-model"};
    return (state >= 0 && state <= ICTAL_STATE_NO_MODEL) ? names[state] : "unknown";
}

const char *ictal_detector_strerror(int code)
{
    return ictal_strerror(code);
}

void ictal_config_init(ictal_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->window_s = 4.0f;
    cfg->hop_s = 0.5f;
    cfg->feature_set = ICTAL_FEATURE_SET;
    cfg->highpass_hz = 0.5f;
    cfg->notch_hz = 0;
    cfg->flat_uv = 1.0f;
    cfg->jump_uv = 200.0f;
    cfg->drift_uv = 500.0f;
    cfg->movement_uv = 1500.0f;
    cfg->disconnect_uv = 5000.0f;
    cfg->muscle_rel = 0.6f;
    cfg->muscle_uv2 = 100.0f;
    cfg->settle_s = 2.0f;
    cfg->post.threshold_on = -1.0f;
    cfg->post.threshold_off = -1.0f;
    cfg->post.smooth_s = -1.0f;
    cfg->post.min_duration_s = -1.0f;
    cfg->post.merge_gap_s = -1.0f;
    cfg->post.refractory_s = -1.0f;
    cfg->aggregation = -1;
    cfg->top_k = -1;
}

/* Everything the layout and the checks need, resolved from a config. */
typedef struct resolved {
    int nch, window_hops, hop_n, smooth_hops, burden_hops;
    int feature_set, n_feat;
    float window_s, hop_s;
    ictal_postproc post;
    int agg, top_k;
} resolved;

static int is_whole(double x)
{
    return fabs(x - floor(x + 0.5)) < 1e-4;
}

static int resolve(const ictal_config *cfg, resolved *r, ictal_diag *d)
{
    if (cfg == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "NULL configuration");
    memset(r, 0, sizeof *r);
    if (cfg->n_channels < 1 || cfg->n_channels > ICTAL_MAX_CHANNELS)
        return ictal_diag_error(d, ICTAL_EINVAL, "%d channels: the detector takes 1 to %d",
                                cfg->n_channels, ICTAL_MAX_CHANNELS);
    r->nch = cfg->n_channels;
    if (!(cfg->rate_hz >= ICTAL_RATE_MIN_HZ && cfg->rate_hz <= ICTAL_RATE_MAX_HZ))
        return ictal_diag_error(d, ICTAL_ERANGE, "input rate %g Hz: supported are %g to %g Hz",
                                cfg->rate_hz, ICTAL_RATE_MIN_HZ, ICTAL_RATE_MAX_HZ);
    if (cfg->labels) {
        for (int c = 0; c < cfg->n_channels; c++) {
            const char *l = cfg->labels[c];
            size_t n = l ? strlen(l) : 0;
            if (d)
                d->signal = c;
            if (n == 0 || n >= ICTAL_LABEL_BYTES)
                return ictal_diag_error(d, ICTAL_EINVAL, "channel %d: label %s", c,
                                        n == 0 ? "missing or empty" : "too long");
            /* CHB-MIT's dummy channels are "-" or "--": no electrode at all. */
            if (strspn(l, "- ") == n)
                return ictal_diag_error(d, ICTAL_EINVAL, "channel %d: label '%s' names no "
                                        "electrode (a dummy channel)", c, l);
        }
        if (d)
            d->signal = -1;
    }
    ictal_postproc post;
    ictal_postproc_default(&post);
    r->agg = ICTAL_AGG_MAX;
    r->top_k = 2;
    r->window_s = cfg->window_s;
    r->hop_s = cfg->hop_s;
    r->feature_set = cfg->feature_set == 0 ? ICTAL_FEATURE_SET : cfg->feature_set;
    if (cfg->model) {
        const ictal_model_info *mi = &cfg->model->info;
        if (ictal_feature_count(mi->feature_set) == 0 ||
            mi->n_features != (unsigned)ictal_feature_count(mi->feature_set))
            return ictal_diag_error(d, ICTAL_EVERSION, "model uses feature set %u with %u "
                                    "features; this detector computes set 1 with %d "
                                    "features and set 2 with %d",
                                    (unsigned)mi->feature_set, (unsigned)mi->n_features,
                                    ICTAL_N_FEATURES, ICTAL_N_FEATURES_SET2);
        r->feature_set = mi->feature_set;
        if (mi->rate_hz != (float)ICTAL_INTERNAL_RATE_HZ)
            return ictal_diag_error(d, ICTAL_ENOTSUP, "model rate %g Hz: the detector "
                                    "computes features at %d Hz", (double)mi->rate_hz,
                                    ICTAL_INTERNAL_RATE_HZ);
        post = mi->post;
        r->agg = mi->aggregation;
        r->top_k = mi->top_k;
        r->window_s = mi->window_s;
        r->hop_s = mi->hop_s;
    }
    r->n_feat = ictal_feature_count(r->feature_set);
    if (r->n_feat == 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "feature set %d: the detector computes "
                                "set 1 and set 2", cfg->feature_set);
    double hop_n = (double)r->hop_s * FS, wh = (double)r->window_s / (double)r->hop_s;
    if (!(r->hop_s >= 0.25f && r->hop_s <= 4.0f) || !is_whole(hop_n))
        return ictal_diag_error(d, ICTAL_ENOTSUP, "hop %g s: need 0.25..4 s and a whole "
                                "number of 1/128 s", (double)r->hop_s);
    if (!(wh >= 1.0 && wh <= ICTAL_MAX_HOPS_PER_WINDOW + 1e-6) || !is_whole(wh))
        return ictal_diag_error(d, ICTAL_ENOTSUP, "window %g s with hop %g s: the window "
                                "must be 1 to %d whole hops", (double)r->window_s,
                                (double)r->hop_s, ICTAL_MAX_HOPS_PER_WINDOW);
    r->hop_n = (int)floor(hop_n + 0.5);
    r->window_hops = (int)floor(wh + 0.5);

    /* Config overrides (negative = keep the model's / default). */
    const ictal_postproc *o = &cfg->post;
    if (o->threshold_on >= 0.0f)
        post.threshold_on = o->threshold_on;
    if (o->threshold_off >= 0.0f)
        post.threshold_off = o->threshold_off;
    else if (o->threshold_on >= 0.0f && post.threshold_off > post.threshold_on)
        post.threshold_off = post.threshold_on;
    if (o->smooth_s >= 0.0f)
        post.smooth_s = o->smooth_s;
    if (o->min_duration_s >= 0.0f)
        post.min_duration_s = o->min_duration_s;
    if (o->merge_gap_s >= 0.0f)
        post.merge_gap_s = o->merge_gap_s;
    if (o->refractory_s >= 0.0f)
        post.refractory_s = o->refractory_s;
    if (!(post.threshold_on <= 1.0f) || !(post.threshold_off <= post.threshold_on) ||
        !isfinite(post.smooth_s) || !isfinite(post.min_duration_s) ||
        !isfinite(post.merge_gap_s) || !isfinite(post.refractory_s))
        return ictal_diag_error(d, ICTAL_EINVAL, "thresholds on %g / off %g: need "
                                "0 <= off <= on <= 1 and finite durations",
                                (double)post.threshold_on, (double)post.threshold_off);
    if (cfg->aggregation >= 0)
        r->agg = cfg->aggregation;
    if (cfg->top_k >= 0)
        r->top_k = cfg->top_k;
    if (r->agg != ICTAL_AGG_MAX && r->agg != ICTAL_AGG_TOPK_MEAN)
        return ictal_diag_error(d, ICTAL_EINVAL, "aggregation %d unknown", r->agg);
    if (r->agg == ICTAL_AGG_TOPK_MEAN && r->top_k < 1)
        return ictal_diag_error(d, ICTAL_EINVAL, "top-k aggregation needs k >= 1");
    r->smooth_hops = (int)floor(post.smooth_s / r->hop_s + 0.5);
    if (r->smooth_hops < 1)
        r->smooth_hops = 1;
    if (r->smooth_hops > MAX_SMOOTH)
        return ictal_diag_error(d, ICTAL_ENOTSUP, "smoothing over %g s is more than %d hops",
                                (double)post.smooth_s, MAX_SMOOTH);
    r->burden_hops = (int)floor(ICTAL_BURDEN_WINDOW_S / r->hop_s + 0.5);
    r->post = post;

    if (!(cfg->highpass_hz >= 0.05f && cfg->highpass_hz <= 4.0f))
        return ictal_diag_error(d, ICTAL_EINVAL, "high-pass %g Hz: need 0.05..4 Hz",
                                (double)cfg->highpass_hz);
    if (cfg->notch_hz != 0 && cfg->notch_hz != 50 && cfg->notch_hz != 60)
        return ictal_diag_error(d, ICTAL_EINVAL, "notch %d Hz: need 0, 50 or 60",
                                cfg->notch_hz);
    const float q[] = {cfg->flat_uv, cfg->jump_uv, cfg->drift_uv, cfg->movement_uv,
                       cfg->disconnect_uv, cfg->muscle_rel, cfg->muscle_uv2, cfg->settle_s};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if (!(q[i] >= 0.0f) || !isfinite(q[i]))
            return ictal_diag_error(d, ICTAL_EINVAL, "quality thresholds must be finite and "
                                    ">= 0");
    return 0;
}

int ictal_config_check(const ictal_config *cfg, ictal_diag *d)
{
    resolved r;
    return resolve(cfg, &r, d);
}

/* Carves aligned arrays out of the detector's memory; with base NULL it only counts. */
typedef struct carver {
    unsigned char *base;
    size_t off;
} carver;

static void *carve(carver *k, size_t bytes)
{
    k->off = (k->off + 15u) & ~(size_t)15u;
    void *p = k->base ? k->base + k->off : NULL;
    k->off += bytes;
    return p;
}

static size_t layout(const resolved *r, ictal_detector *det)
{
    carver k = {(unsigned char *)det, 0};
    carve(&k, sizeof(ictal_detector));
    size_t ncp = ((size_t)r->nch + 3u) & ~(size_t)3u, fb = ncp * sizeof(float);
    size_t W = (size_t)r->window_hops;
    float *hold = carve(&k, fb), *prev_raw = carve(&k, fb), *run = carve(&k, fb),
          *rail = carve(&k, fb), *aa_s = carve(&k, fb * N_AA * 2), *y1 = carve(&k, fb), *y2 = carve(&k, fb), *y3 = carve(&k, fb),
          *xi = carve(&k, fb), *hp_s = carve(&k, fb * 2), *notch_s = carve(&k, fb * 2),
          *band_s = carve(&k, fb * N_BANDS * 4), *x1 = carve(&k, fb), *x2 = carve(&k, fb),
          *dx1 = carve(&k, fb), *acc = carve(&k, fb * N_SUMS), *qacc = carve(&k, fb * N_QACC),
          *slots = carve(&k, fb * W * N_SUMS), *slow_s = carve(&k, fb * 4), *slow_acc = carve(&k, fb),
          *slot_hpmax = carve(&k, fb * W), *slot_slmin = carve(&k, fb * W),
          *slot_slmax = carve(&k, fb * W);
    uint16_t *slot_q = carve(&k, ncp * W * sizeof(uint16_t));
    float *feat = carve(&k, (size_t)r->nch * (size_t)r->n_feat * sizeof(float)),
          *chan_prob = carve(&k, fb);
    uint16_t *quality = carve(&k, ncp * sizeof(uint16_t));
    float *bg = carve(&k, fb * 2), *bg_ok = carve(&k, fb), *ll_hist = carve(&k, fb * W),
          *smooth = carve(&k, (size_t)r->smooth_hops * sizeof(float));
    uint8_t *burden_bits = carve(&k, ((size_t)r->burden_hops + 7u) / 8u);
    char(*labels)[ICTAL_LABEL_BYTES] = carve(&k, (size_t)r->nch * ICTAL_LABEL_BYTES);
    fs2_state *fs2 = NULL;
    if (r->feature_set == 2) {
        const size_t P = ICTAL__N_PATTERNS;
        fs2 = carve(&k, sizeof *fs2);
        float *x3 = carve(&k, fb);
        uint32_t *slot_of = carve(&k, ncp * sizeof(uint32_t));
        uint16_t *pcnt = carve(&k, P * ncp * sizeof(uint16_t));
        double *mom = carve(&k, 4 * ncp * sizeof(double));
        uint16_t *slot_pcnt = carve(&k, W * P * ncp * sizeof(uint16_t));
        double *slot_mom = carve(&k, W * 4 * ncp * sizeof(double));
        if (det) {
            fs2->x3 = x3;
            fs2->slot_of = slot_of;
            fs2->pcnt = pcnt;
            fs2->mom = mom;
            fs2->slot_pcnt = slot_pcnt;
            fs2->slot_mom = slot_mom; /* plnp: zeroed by init, so empty */
        }
    }
    if (det) {
        det->fs2 = fs2;
        det->ncp = (int)ncp;
        det->hold = hold;
        det->prev_raw = prev_raw;
        det->run = run;
        det->rail = rail;
        det->aa_s = aa_s;
        det->y1 = y1;
        det->y2 = y2;
        det->y3 = y3;
        det->xi = xi;
        det->hp_s = hp_s;
        det->notch_s = notch_s;
        det->band_s = band_s;
        det->x1 = x1;
        det->x2 = x2;
        det->dx1 = dx1;
        det->acc = acc;
        det->qacc = qacc;
        det->slots = slots;
        det->slot_q = slot_q;
        det->slow_s = slow_s;
        det->slow_acc = slow_acc;
        det->slot_hpmax = slot_hpmax;
        det->slot_slmin = slot_slmin;
        det->slot_slmax = slot_slmax;
        det->feat = feat;
        det->chan_prob = chan_prob;
        det->quality = quality;
        det->bg = bg;
        det->bg_ok = bg_ok;
        det->ll_hist = ll_hist;
        det->smooth = smooth;
        det->burden_bits = burden_bits;
        det->labels = labels;
    }
    return (k.off + 15u) & ~(size_t)15u;
}

size_t ictal_detector_size(const ictal_config *cfg)
{
    resolved r;
    if (resolve(cfg, &r, NULL) != 0)
        return 0;
    return layout(&r, NULL);
}

static void reset_hop_acc(ictal_detector *det)
{
    size_t ncp = (size_t)det->ncp;
    memset(det->acc, 0, ncp * N_SUMS * sizeof(float));
    if (det->fs2) {
        memset(det->fs2->pcnt, 0, ICTAL__N_PATTERNS * ncp * sizeof(uint16_t));
        memset(det->fs2->mom, 0, 4 * ncp * sizeof(double));
    }
    float *q = det->qacc;
    for (size_t c = 0; c < ncp; c++) {
        q[Q_HPMAX * ncp + c] = 0.0f;
        q[Q_SLMIN * ncp + c] = INFINITY;
        q[Q_SLMAX * ncp + c] = -INFINITY;
        q[Q_RAWMIN * ncp + c] = INFINITY;
        q[Q_RAWMAX * ncp + c] = -INFINITY;
        q[Q_NAN * ncp + c] = 0.0f;
        q[Q_CLIP * ncp + c] = 0.0f;
        q[Q_RAIL * ncp + c] = 0.0f;
    }
}

/* Clears the signal state (not the configuration, labels, event ids or stats). */
static void clear_signal_state(ictal_detector *det, double t0_s)
{
    size_t ncp = (size_t)det->ncp, W = (size_t)det->window_hops;
    det->t0_s = t0_s;
    det->n_in = det->n_out = det->hop_idx = 0;
    det->hop_fill = 0;
    det->started = 0;
    memset(det->slots, 0, ncp * W * N_SUMS * sizeof(float));
    memset(det->slot_q, 0, ncp * W * sizeof(uint16_t));
    memset(det->slot_hpmax, 0, ncp * W * sizeof(float));
    memset(det->slot_slmin, 0, ncp * W * sizeof(float));
    memset(det->slot_slmax, 0, ncp * W * sizeof(float));
    memset(det->feat, 0, (size_t)det->nch * (size_t)det->n_feat * sizeof(float));
    if (det->fs2) {
        memset(det->fs2->x3, 0, ncp * sizeof(float));
        memset(det->fs2->slot_pcnt, 0, W * ICTAL__N_PATTERNS * ncp * sizeof(uint16_t));
        memset(det->fs2->slot_mom, 0, W * 4 * ncp * sizeof(double));
    }
    memset(det->chan_prob, 0, ncp * sizeof(float));
    memset(det->quality, 0, ncp * sizeof(uint16_t));
    memset(det->bg, 0, ncp * 2 * sizeof(float));
    memset(det->bg_ok, 0, ncp * sizeof(float));
    memset(det->ll_hist, 0, ncp * W * sizeof(float));
    memset(det->smooth, 0, (size_t)det->smooth_hops * sizeof(float));
    memset(det->burden_bits, 0, ((size_t)det->burden_hops + 7u) / 8u);
    det->smooth_pos = det->smooth_fill = 0;
    det->burden_pos = det->burden_fill = det->burden_count = 0;
    ictal__decider_clear(&det->dec);
    det->have_hop = 0;
    reset_hop_acc(det);
}

int ictal_detector_init(void *mem, size_t size, const ictal_config *cfg)
{
    resolved r;
    if (mem == NULL)
        return ICTAL_EINVAL;
    if (((uintptr_t)mem % ICTAL_DETECTOR_ALIGN) != 0)
        return ICTAL_EINVAL;
    int rc = resolve(cfg, &r, NULL);
    if (rc)
        return rc;
    if (size < layout(&r, NULL))
        return ICTAL_ENOMEM;
    ictal_detector *det = mem;
    memset(det, 0, layout(&r, NULL));
    layout(&r, det);
    det->nch = r.nch;
    det->rate_hz = cfg->rate_hz;
    det->ratio = cfg->rate_hz / FS;
    det->hop_n = r.hop_n;
    det->window_hops = r.window_hops;
    det->hop_s = r.hop_s;
    det->window_s = r.window_s;
    det->n_feat = r.n_feat;
    det->model = cfg->model;
    det->post = r.post;
    det->agg = r.agg;
    det->top_k = r.top_k;
    det->flat_uv = cfg->flat_uv;
    det->jump_uv = cfg->jump_uv;
    det->drift_uv = cfg->drift_uv;
    det->movement_uv = cfg->movement_uv;
    det->disconnect_uv = cfg->disconnect_uv;
    det->muscle_rel = cfg->muscle_rel;
    det->muscle_uv2 = cfg->muscle_uv2;
    det->settle_s = cfg->settle_s;
    /* About 31 ms of identical samples, at least 4. */
    det->clip_run = (float)fmax(4.0, floor(cfg->rate_hz / 32.0));
    det->smooth_hops = r.smooth_hops;
    det->burden_hops = r.burden_hops;
    det->on_hop = cfg->on_hop;
    det->on_alarm = cfg->on_alarm;
    det->user = cfg->user;
    for (int c = 0; c < det->ncp; c++)
        det->rail[c] = (cfg->rail_uv && c < det->nch && cfg->rail_uv[c] > 0.0f)
                           ? cfg->rail_uv[c] * 0.999f
                           : INFINITY;
    for (int c = 0; c < det->nch; c++) {
        if (cfg->labels) {
            memcpy(det->labels[c], cfg->labels[c], strlen(cfg->labels[c]) + 1);
        } else {
            det->labels[c][0] = '\0';
        }
    }

    /* Anti-aliasing: Butterworth at 45 Hz (0.4 x the input rate below 112.5 Hz), 6th
     * order up to 300 Hz and 8th above, so that whatever would fold into 0-45 Hz at
     * 128 Hz (83 Hz and up) is at least 40 dB down (test_resample checks every rate). The
     * unused fourth section is the identity. */
    double fc = fmin(45.0, 0.4 * cfg->rate_hz);
    det->n_aa = cfg->rate_hz <= 300.0 ? 3 : 4;
    for (int s = 0; s < N_AA; s++) {
        if (s < det->n_aa) {
            ictal__biquad_lowpass(&det->aa[s], fc, cfg->rate_hz, ictal__butter_q(det->n_aa, s));
        } else {
            det->aa[s].b0 = 1.0f;
            det->aa[s].b1 = det->aa[s].b2 = det->aa[s].a1 = det->aa[s].a2 = 0.0f;
        }
    }
    ictal__biquad_highpass(&det->hp_slow[0], cfg->highpass_hz, FS, ictal__butter_q(1, 0));
    for (int s = 0; s < 2; s++)
        ictal__biquad_lowpass(&det->hp_slow[1 + s], 0.3, FS / 4.0, ictal__butter_q(2, s));
    det->notch_on = cfg->notch_hz != 0;
    if (det->notch_on)
        ictal__biquad_notch(&det->notch, cfg->notch_hz, FS, 10.0);
    for (int b = 0; b < N_BANDS; b++) {
        ictal__biquad_highpass(&det->band_hp[b], band_edges_hz[b], FS, ictal__butter_q(1, 0));
        ictal__biquad_lowpass(&det->band_lp[b], band_edges_hz[b + 1], FS, ictal__butter_q(1, 0));
    }
    ictal__decider_init(&det->dec, &det->post, det->hop_s);
    clear_signal_state(det, 0.0);
    return 0;
}

static void emit_alarm(ictal_detector *det, const ictal_alarm *ev)
{
    if (det->q_len == ICTAL_ALARM_QUEUE) {
        det->q_head = (det->q_head + 1) % ICTAL_ALARM_QUEUE;
        det->q_len--;
        det->stats.alarms_dropped++;
    }
    det->queue[(det->q_head + det->q_len) % ICTAL_ALARM_QUEUE] = *ev;
    det->q_len++;
    if (det->on_alarm)
        det->on_alarm(det->user, ev);
}

int ictal_detector_poll_alarm(ictal_detector *det, ictal_alarm *ev)
{
    if (det == NULL || ev == NULL || det->q_len == 0)
        return 0;
    *ev = det->queue[det->q_head];
    det->q_head = (det->q_head + 1) % ICTAL_ALARM_QUEUE;
    det->q_len--;
    return 1;
}

/* First frame after init or reset: start every filter in its steady state for that
 * frame, so a DC offset (4000 µV on consumer headsets) causes no start transient. */
static void start_filters(ictal_detector *det, const float *v)
{
    size_t ncp = (size_t)det->ncp;
    for (size_t c = 0; c < (size_t)det->nch; c++) {
        float u = v[c];
        det->hold[c] = det->prev_raw[c] = det->y1[c] = det->y2[c] = det->y3[c] = u;
        det->run[c] = 0.0f;
        float y = u;
        for (int s = 0; s < N_AA; s++)
            y = ictal__biquad_steady(&det->aa[s], y, &det->aa_s[(2 * s) * ncp + c],
                                     &det->aa_s[(2 * s + 1) * ncp + c]);
        ictal__biquad_steady(&det->hp_slow[0], y, &det->hp_s[c], &det->hp_s[ncp + c]);
        float z = ictal__biquad_steady(&det->hp_slow[1], y, &det->slow_s[c], &det->slow_s[ncp + c]);
        ictal__biquad_steady(&det->hp_slow[2], z, &det->slow_s[2 * ncp + c],
                             &det->slow_s[3 * ncp + c]);
        det->notch_s[c] = det->notch_s[ncp + c] = 0.0f;
        for (int k = 0; k < N_BANDS * 4; k++)
            det->band_s[(size_t)k * ncp + c] = 0.0f;
        det->x1[c] = det->x2[c] = det->dx1[c] = 0.0f;
        if (det->fs2)
            det->fs2->x3[c] = 0.0f;
        det->slow_acc[c] = 0.0f;
    }
    det->slow_fill = 0;
    det->started = 1;
}

static void hop_end(ictal_detector *det);

/* The channel stride of the per-sample loops, a multiple of 4 by construction (layout);
 * saying so lets the compiler drop each loop's scalar remainder (2 % of the
 * instructions of `ictal detect`). */
#define NCP_OF(det) ((size_t)(det)->ncp & ~(size_t)3)

/* The per-sample kernels. Each takes its state rows as restrict parameters (gcc honours
 * restrict on parameters, not on locals), so that the loops over channels vectorise.
 * They are forced inline so that they land in each CPU variant of the push loop. */
#if defined(__GNUC__)
#define ICTAL__KERNEL static inline __attribute__((always_inline))
#else
#define ICTAL__KERNEL static inline
#endif

/* High-pass in place, and the slow component (4th-order lowpass at 0.3 Hz) for the
 * DC-jump and drift checks. */
ICTAL__KERNEL void k_highpass(size_t ncp, float *restrict xi, float *restrict h1, float *restrict h2,
                       float *restrict sacc, const ictal__biquad *restrict bq)
{
    const ictal__biquad hp = *bq;
    for (size_t c = 0; c < ncp; c++) {
        float u = xi[c];
        float y = hp.b0 * u + h1[c];
        h1[c] = hp.b1 * u - hp.a1 * y + h2[c];
        h2[c] = hp.b2 * u - hp.a2 * y;
        sacc[c] += u;
        xi[c] = y;
    }
}

/* The slow component at 32 Hz: the mean of 4 internal samples (a boxcar whose nulls at
 * 32 and 64 Hz keep anything from folding onto DC), then a 4th-order lowpass at 0.3 Hz;
 * its range per hop and per window tells DC jumps and drift. */
ICTAL__KERNEL void k_slow(size_t ncp, float *restrict sacc, float *restrict w0, float *restrict w1,
                   float *restrict w2, float *restrict w3, float *restrict smn,
                   float *restrict smx, const ictal__biquad *restrict bq)
{
    const ictal__biquad l0 = bq[0], l1 = bq[1];
    for (size_t c = 0; c < ncp; c++) {
        float u = 0.25f * sacc[c];
        sacc[c] = 0.0f;
        float z = l0.b0 * u + w0[c];
        w0[c] = l0.b1 * u - l0.a1 * z + w1[c];
        w1[c] = l0.b2 * u - l0.a2 * z;
        float sl = l1.b0 * z + w2[c];
        w2[c] = l1.b1 * z - l1.a1 * sl + w3[c];
        w3[c] = l1.b2 * z - l1.a2 * sl;
        float mn = smn[c], mx = smx[c];
        smn[c] = sl < mn ? sl : mn;
        smx[c] = sl > mx ? sl : mx;
    }
}

ICTAL__KERNEL void k_biquad(size_t ncp, float *restrict xi, float *restrict s1, float *restrict s2,
                     const ictal__biquad *restrict bq)
{
    const ictal__biquad f = *bq;
    for (size_t c = 0; c < ncp; c++) {
        float u = xi[c];
        float y = f.b0 * u + s1[c];
        s1[c] = f.b1 * u - f.a1 * y + s2[c];
        s2[c] = f.b2 * u - f.a2 * y;
        xi[c] = y;
    }
}

/* Running sums of the high-passed signal: moments, differences, crossings, Teager. */
ICTAL__KERNEL void k_sums(size_t ncp, const float *restrict xi, float *restrict x1, float *restrict x2,
                   float *restrict dx1, float *restrict hm, float *restrict aS1,
                   float *restrict aS2, float *restrict aD1, float *restrict aD,
                   float *restrict aD2, float *restrict aDD, float *restrict aDD2,
                   float *restrict aZC, float *restrict aTE)
{
    for (size_t c = 0; c < ncp; c++) {
        float x = xi[c], p1 = x1[c], d = x - p1, dd = d - dx1[c];
        aS1[c] += x;
        aS2[c] += x * x;
        aD1[c] += fabsf(d);
        aD[c] += d;
        aD2[c] += d * d;
        aDD[c] += dd;
        aDD2[c] += dd * dd;
        aZC[c] += ((x < 0.0f) != (p1 < 0.0f)) ? 1.0f : 0.0f;
        aTE[c] += p1 * p1 - x * x2[c];
        float ax = fabsf(x), m = hm[c];
        hm[c] = ax > m ? ax : m;
        x2[c] = p1;
        x1[c] = x;
        dx1[c] = d;
    }
}

/* Feature set 2, per sample: the ordinal pattern of (x3, x2, x1, x) (ictal__ordinal4,
 * written out so that it vectorises) and the sums of x..x^4 in double. Runs before
 * k_sums, which shifts x1 and x2. */
ICTAL__KERNEL void k_ordinal(size_t ncp, const float *restrict xi, const float *restrict x1,
                      const float *restrict x2, float *restrict x3, uint32_t *restrict slot_of,
                      double *restrict m1, double *restrict m2, double *restrict m3,
                      double *restrict m4)
{
    for (size_t c = 0; c < ncp; c++) {
        float a = x3[c], b = x2[c], cc = x1[c], d = xi[c];
        int la = (b < a) + (cc < a) + (d < a), lb = (cc < b) + (d < b), lc = d < cc;
        slot_of[c] = (uint32_t)(6 * la + 2 * lb + lc) * (uint32_t)ncp + (uint32_t)c;
        x3[c] = b;
    }
    for (size_t c = 0; c < ncp; c++) {
        double v = (double)xi[c], v2 = v * v;
        m1[c] += v;
        m2[c] += v2;
        m3[c] += v2 * v;
        m4[c] += v2 * v2;
    }
}

/* A band edged by the high-pass or the anti-aliasing on one side: one section. */
ICTAL__KERNEL void k_band1(size_t ncp, const float *restrict xi, float *restrict s0, float *restrict s1,
                    float *restrict pw, const ictal__biquad *restrict bq)
{
    const ictal__biquad f = *bq;
    for (size_t c = 0; c < ncp; c++) {
        float u = xi[c];
        float y = f.b0 * u + s0[c];
        s0[c] = f.b1 * u - f.a1 * y + s1[c];
        s1[c] = f.b2 * u - f.a2 * y;
        pw[c] += y * y;
    }
}

/* One band: 2nd-order high-pass then 2nd-order low-pass, power summed. */
ICTAL__KERNEL void k_band(size_t ncp, const float *restrict xi, float *restrict s0, float *restrict s1,
                   float *restrict s2, float *restrict s3, float *restrict pw,
                   const ictal__biquad *restrict bh_, const ictal__biquad *restrict bl_)
{
    const ictal__biquad bh = *bh_, bl = *bl_;
    for (size_t c = 0; c < ncp; c++) {
        float u = xi[c];
        float y = bh.b0 * u + s0[c];
        s0[c] = bh.b1 * u - bh.a1 * y + s1[c];
        s1[c] = bh.b2 * u - bh.a2 * y;
        float z = bl.b0 * y + s2[c];
        s2[c] = bl.b1 * y - bl.a1 * z + s3[c];
        s3[c] = bl.b2 * y - bl.a2 * z;
        pw[c] += z * z;
    }
}

/* The filters' coefficients, copied out of the detector for the push loop: stores to the
 * state rows cannot reach a local copy, so the compiler keeps them (broadcast to vector
 * width) across frames instead of reloading them in every kernel call. */
typedef struct coefs {
    ictal__biquad aa[N_AA], hp_slow[3], notch, band_hp[N_BANDS], band_lp[N_BANDS];
} coefs;

/* One internal (128 Hz) sample in det->xi: high-pass, notch, bands, running sums. */
ICTAL__KERNEL void internal_step(ictal_detector *det, const coefs *k)
{
    const size_t ncp = NCP_OF(det);
    float *w = det->slow_s;
    k_highpass(ncp, det->xi, det->hp_s, det->hp_s + ncp, det->slow_acc, &k->hp_slow[0]);
    if (++det->slow_fill == 4) {
        det->slow_fill = 0;
        k_slow(ncp, det->slow_acc, w, w + ncp, w + 2 * ncp, w + 3 * ncp,
               det->qacc + Q_SLMIN * ncp, det->qacc + Q_SLMAX * ncp, &k->hp_slow[1]);
    }
    if (det->notch_on)
        k_biquad(ncp, det->xi, det->notch_s, det->notch_s + ncp, &k->notch);
    float *a = det->acc;
    fs2_state *f2 = det->fs2;
    if (f2) {
        double *m = f2->mom;
        k_ordinal(ncp, det->xi, det->x1, det->x2, f2->x3, f2->slot_of, m, m + ncp, m + 2 * ncp,
                  m + 3 * ncp);
        for (size_t c = 0; c < ncp; c++) /* a scatter: scalar */
            f2->pcnt[f2->slot_of[c]]++;
    }
    k_sums(ncp, det->xi, det->x1, det->x2, det->dx1, det->qacc + Q_HPMAX * ncp, a + A_S1 * ncp,
           a + A_S2 * ncp, a + A_D1 * ncp, a + A_D * ncp, a + A_D2 * ncp, a + A_DD * ncp,
           a + A_DD2 * ncp, a + A_ZC * ncp, a + A_TE * ncp);
    /* Delta is edged below by the 0.5 Hz high-pass, gamma above by the 45 Hz
     * anti-aliasing: one section each. */
    k_band1(ncp, det->xi, det->band_s, det->band_s + ncp, det->acc + A_B0 * ncp,
            &k->band_lp[0]);
    float *g = det->band_s + (size_t)(4 * (N_BANDS - 1)) * ncp;
    k_band1(ncp, det->xi, g, g + ncp, det->acc + (size_t)(A_B0 + N_BANDS - 1) * ncp,
            &k->band_hp[N_BANDS - 1]);
    /* Theta, alpha, beta: written out rather than looped, so that each call's
     * coefficients are constants of the push loop (kept, not reloaded). */
    float *s1 = det->band_s + (size_t)4 * ncp, *s2 = det->band_s + (size_t)8 * ncp,
          *s3 = det->band_s + (size_t)12 * ncp;
    k_band(ncp, det->xi, s1, s1 + ncp, s1 + 2 * ncp, s1 + 3 * ncp, a + (A_B0 + 1) * ncp,
           &k->band_hp[1], &k->band_lp[1]);
    k_band(ncp, det->xi, s2, s2 + ncp, s2 + 2 * ncp, s2 + 3 * ncp, a + (A_B0 + 2) * ncp,
           &k->band_hp[2], &k->band_lp[2]);
    k_band(ncp, det->xi, s3, s3 + ncp, s3 + 2 * ncp, s3 + 3 * ncp, a + (A_B0 + 3) * ncp,
           &k->band_hp[3], &k->band_lp[3]);
    det->n_out++;
    if (++det->hop_fill == det->hop_n)
        hop_end(det);
}

/* Raw checks at the input rate (quality rows q0..q4: non-finite, clip, rail, min, max)
 * and the first three anti-aliasing sections (state rows a0..a5), one frame, in place
 * in v.
 * Non-finite (and absurd) samples are held at the last good value. */
ICTAL__KERNEL void k_input(size_t ncp, float *restrict v, float *restrict hold, float *restrict prev,
                    float *restrict run, const float *restrict rail, float *restrict qnan,
                    float *restrict qclip, float *restrict qrail, float *restrict qmin,
                    float *restrict qmax, float *restrict a0, float *restrict a1,
                    float *restrict a2, float *restrict a3, float *restrict a4,
                    float *restrict a5, float clip_run,
                    const ictal__biquad *restrict aa)
{
    const ictal__biquad f0 = aa[0], f1 = aa[1], f2 = aa[2];
    for (size_t c = 0; c < ncp; c++) {
        float x = v[c], h = hold[c];
        int is_bad = !(fabsf(x) <= INPUT_LIMIT_UV); /* NaN compares false */
        float bad = is_bad ? 1.0f : 0.0f;
        x = is_bad ? h : x;
        hold[c] = x;
        qnan[c] += bad;
        float p = prev[c], ax = fabsf(x);
        float r1 = run[c] + 1.0f; /* computed unconditionally, so the select vectorises */
        float r = x == p ? r1 : 0.0f;
        run[c] = r;
        qclip[c] += ((r >= clip_run) & (ax >= CLIP_MIN_UV)) ? 1.0f : 0.0f;
        qrail[c] += ax >= rail[c] ? 1.0f : 0.0f;
        float mn = qmin[c], mx = qmax[c];
        qmin[c] = x < mn ? x : mn;
        qmax[c] = x > mx ? x : mx;
        prev[c] = x;
        float y = f0.b0 * x + a0[c];
        a0[c] = f0.b1 * x - f0.a1 * y + a1[c];
        a1[c] = f0.b2 * x - f0.a2 * y;
        float y_ = f1.b0 * y + a2[c];
        a2[c] = f1.b1 * y - f1.a1 * y_ + a3[c];
        a3[c] = f1.b2 * y - f1.a2 * y_;
        y = f2.b0 * y_ + a4[c];
        a4[c] = f2.b1 * y_ - f2.a1 * y + a5[c];
        a5[c] = f2.b2 * y_ - f2.a2 * y;
        v[c] = y;
    }
}

/* Catmull-Rom interpolation at fraction t between y2 and y1 (y3, y2, y1, v oldest first),
 * then the history shift is left to k_shift. */
ICTAL__KERNEL void k_interp(size_t ncp, float *restrict xi, const float *restrict y3,
                     const float *restrict y2, const float *restrict y1, const float *restrict v,
                     float t)
{
    for (size_t c = 0; c < ncp; c++) {
        float ym1 = y3[c], y0 = y2[c], yq = y1[c], yr = v[c];
        xi[c] = y0 + 0.5f * t * (yq - ym1 + t * (2.0f * ym1 - 5.0f * y0 + 4.0f * yq - yr +
                                                 t * (3.0f * (y0 - yq) + yr - ym1)));
    }
}

ICTAL__KERNEL void k_shift(size_t ncp, float *restrict y3, float *restrict y2, float *restrict y1,
                    const float *restrict v)
{
    for (size_t c = 0; c < ncp; c++) {
        y3[c] = y2[c];
        y2[c] = y1[c];
        y1[c] = v[c];
    }
}

/* On x86-64 Linux with gcc, the push loop (and the kernels inlined into it) is also
 * compiled for AVX2, chosen at load time when the CPU has it: 8 channels per
 * instruction instead of 4. Same arithmetic, same results (no FMA contraction). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(ICTAL_NO_MULTIVERSION)
__attribute__((target_clones("avx2", "default")))
#endif
int ictal_detector_push(ictal_detector *det, const float *frames_uv, size_t n_frames)
{
    if (det == NULL || (frames_uv == NULL && n_frames > 0))
        return ICTAL_EINVAL;
    const size_t n = (size_t)det->nch, ncp = NCP_OF(det);
    float v[ICTAL_MAX_CHANNELS] = {0}; /* padding channels stay 0 */
    coefs k;
    memcpy(k.aa, det->aa, sizeof k.aa);
    memcpy(k.hp_slow, det->hp_slow, sizeof k.hp_slow);
    k.notch = det->notch;
    memcpy(k.band_hp, det->band_hp, sizeof k.band_hp);
    memcpy(k.band_lp, det->band_lp, sizeof k.band_lp);
    for (size_t f = 0; f < n_frames; f++) {
        const float *in = frames_uv + f * n;
        for (size_t c = 0; c < n; c++)
            v[c] = in[c];
        if (!det->started) {
            float v0[ICTAL_MAX_CHANNELS] = {0};
            for (size_t c = 0; c < n; c++)
                v0[c] = fabsf(v[c]) <= INPUT_LIMIT_UV ? v[c] : 0.0f;
            start_filters(det, v0);
        }
        float *q = det->qacc, *a = det->aa_s;
        k_input(ncp, v, det->hold, det->prev_raw, det->run, det->rail, q + Q_NAN * ncp,
                q + Q_CLIP * ncp, q + Q_RAIL * ncp, q + Q_RAWMIN * ncp, q + Q_RAWMAX * ncp, a,
                a + ncp, a + 2 * ncp, a + 3 * ncp, a + 4 * ncp, a + 5 * ncp,
                det->clip_run, k.aa);
        if (det->n_aa == 4) /* the fourth section above 300 Hz */
            k_biquad(ncp, v, a + 6 * ncp, a + 7 * ncp, &k.aa[3]);
        /* Internal sample k lies at input position pos = k * ratio (computed from k, not
         * accumulated, so it never drifts). It is interpolated (Catmull-Rom cubic, which
         * passes through the samples: integer ratios such as 256 -> 128 Hz decimate
         * exactly) from y[i-1..i+2], i = floor(pos), once y[i+2] is here: with the
         * newest sample at index n_in, every k with pos < n_in - 1 has i = n_in - 2. */
        double now = (double)det->n_in;
        for (;;) {
            double pos = (double)det->n_out * det->ratio;
            if (!(pos < now - 1.0))
                break;
            k_interp(ncp, det->xi, det->y3, det->y2, det->y1, v, (float)(pos - (now - 2.0)));
            internal_step(det, &k);
        }
        k_shift(ncp, det->y3, det->y2, det->y1, v);
        det->n_in++;
        det->stats.frames++;
    }
    return 0;
}

/* --- per hop ----------------------------------------------------------------------- */

static float lg(float x)
{
    return log10f(1.0f + (x > 0.0f ? x : 0.0f));
}

/* Features of channel c from window sums w[N_SUMS] over n internal samples. */
static void compute_features(const double *w, double n, float *f)
{
    double mean = w[A_S1] / n, var = w[A_S2] / n - mean * mean;
    double dm = w[A_D] / n, dvar = w[A_D2] / n - dm * dm;
    double ddm = w[A_DD] / n, ddvar = w[A_DD2] / n - ddm * ddm;
    if (var < 0.0)
        var = 0.0;
    if (dvar < 0.0)
        dvar = 0.0;
    if (ddvar < 0.0)
        ddvar = 0.0;
    double secs = n / FS;
    f[ICTAL_F_LOG_LINE_LENGTH] = lg((float)(w[A_D1] / secs));
    f[ICTAL_F_LOG_VARIANCE] = lg((float)var);
    double bp[N_BANDS], tot = 0.0;
    for (int b = 0; b < N_BANDS; b++) {
        bp[b] = w[A_B0 + b] / n;
        if (bp[b] < 0.0)
            bp[b] = 0.0;
        tot += bp[b];
        f[ICTAL_F_LOG_DELTA + b] = lg((float)bp[b]);
    }
    double ent = 0.0, cum = 0.0, edge = band_edges_hz[N_BANDS];
    int edge_found = 0;
    for (int b = 0; b < N_BANDS; b++) {
        double p = tot > 1e-12 ? bp[b] / tot : 1.0 / N_BANDS;
        f[ICTAL_F_REL_DELTA + b] = (float)p;
        if (p > 0.0)
            ent -= p * log(p);
        if (!edge_found && cum + p >= 0.9) {
            edge = band_edges_hz[b] + (band_edges_hz[b + 1] - band_edges_hz[b]) *
                                          (p > 0.0 ? (0.9 - cum) / p : 0.0);
            edge_found = 1;
        }
        cum += p;
    }
    f[ICTAL_F_SPECTRAL_ENTROPY] = (float)(ent / log((double)N_BANDS));
    f[ICTAL_F_SPECTRAL_EDGE_HZ] = (float)edge;
    double mob = var > 1e-9 ? sqrt(dvar / var) : 0.0;
    double mob_d = dvar > 1e-9 ? sqrt(ddvar / dvar) : 0.0;
    f[ICTAL_F_MOBILITY_HZ] = (float)(mob * FS / (2.0 * PI));
    f[ICTAL_F_COMPLEXITY] = (float)(mob > 1e-9 ? mob_d / mob : 0.0);
    f[ICTAL_F_ZERO_CROSSINGS_HZ] = (float)(w[A_ZC] / secs);
    f[ICTAL_F_LOG_NONLINEAR_ENERGY] = lg((float)(w[A_TE] / n));
}


static void hop_end(ictal_detector *det)
{
    const size_t n = (size_t)det->nch, ncp = (size_t)det->ncp, W = (size_t)det->window_hops;
    const size_t slot = (size_t)(det->hop_idx % W);
    float *acc = det->acc, *qa = det->qacc;
    float *sl = det->slots + slot * N_SUMS * ncp;
    memcpy(sl, acc, N_SUMS * ncp * sizeof(float));
    fs2_state *f2 = det->fs2;
    if (f2) {
        memcpy(f2->slot_pcnt + slot * ICTAL__N_PATTERNS * ncp, f2->pcnt,
               ICTAL__N_PATTERNS * ncp * sizeof(uint16_t));
        memcpy(f2->slot_mom + slot * 4 * ncp, f2->mom, 4 * ncp * sizeof(double));
    }
    double t = det->t0_s + (double)det->n_out / FS;
    size_t filled = det->hop_idx + 1 < W ? (size_t)det->hop_idx + 1 : W;
    double nsamp = (double)filled * det->hop_n;
    double in_per_hop = det->hop_n * det->ratio;
    int settling = filled < W || (double)det->n_out / FS < det->settle_s;

    /* Per-hop quality. */
    uint16_t *sq = det->slot_q + slot * ncp;
    for (size_t c = 0; c < n; c++) {
        uint16_t q = 0;
        det->stats.nonfinite += (uint64_t)qa[Q_NAN * ncp + c];
        if (qa[Q_NAN * ncp + c] > 0.0f)
            q |= ICTAL_Q_NAN;
        if (qa[Q_RAWMAX * ncp + c] - qa[Q_RAWMIN * ncp + c] < det->flat_uv)
            q |= ICTAL_Q_FLAT;
        if (qa[Q_CLIP * ncp + c] > 0.0f || qa[Q_RAIL * ncp + c] > 0.0f)
            q |= ICTAL_Q_CLIP;
        if (qa[Q_SLMAX * ncp + c] - qa[Q_SLMIN * ncp + c] > det->jump_uv)
            q |= ICTAL_Q_JUMP;
        det->slot_hpmax[slot * ncp + c] = qa[Q_HPMAX * ncp + c];
        det->slot_slmin[slot * ncp + c] = qa[Q_SLMIN * ncp + c];
        det->slot_slmax[slot * ncp + c] = qa[Q_SLMAX * ncp + c];
        if (qa[Q_HPMAX * ncp + c] > det->disconnect_uv ||
            qa[Q_NAN * ncp + c] + qa[Q_RAIL * ncp + c] > 0.5 * in_per_hop)
            q |= ICTAL_Q_DISCONNECT;
        sq[c] = q;
    }

    if (f2) {
        /* Set 2's window sums, for all channels at once (channels innermost: the loops
         * vectorise), in place of the current hop's sums, which its slot now holds and
         * reset_hop_acc clears. Pattern counts are integers (at most 16 x 512: exact in
         * any order); each channel's moments are added slot by slot from 0 as ever, so
         * every double sum is the one it was. */
        const size_t P = ICTAL__N_PATTERNS;
        uint16_t *pc = f2->pcnt;
        for (size_t s = 0; s < filled; s++) {
            const uint16_t *sp = f2->slot_pcnt + s * P * ncp;
            if (s != slot)
                for (size_t i = 0; i < P * ncp; i++)
                    pc[i] = (uint16_t)(pc[i] + sp[i]);
        }
        double *mom = f2->mom;
        memset(mom, 0, 4 * ncp * sizeof(double));
        for (size_t s = 0; s < filled; s++) {
            const double *sm = f2->slot_mom + s * 4 * ncp;
            for (size_t i = 0; i < 4 * ncp; i++)
                mom[i] += sm[i];
        }
    }

    /* Window features from the slots. */
    uint32_t usable = 0;
    const float alpha = (float)(det->hop_s / ICTAL_BACKGROUND_S);
    double wb[N_SUMS][4]; /* window sums of channels c0..c0+3 (ncp is a multiple of 4) */
    for (size_t c = 0; c < n; c++) {
        const size_t cb = c & 3u;
        if (cb == 0) {
            /* Four channels at a time, in the same order per channel (slot 0 first,
             * in double): the same sums, with vector conversions and adds. */
            memset(wb, 0, sizeof wb);
            for (size_t s = 0; s < filled; s++) {
                const float *ss = det->slots + s * N_SUMS * ncp + c;
                for (int a = 0; a < N_SUMS; a++)
                    for (size_t k = 0; k < 4; k++)
                        wb[a][k] += ss[(size_t)a * ncp + k];
            }
        }
        double w[N_SUMS];
        for (int a = 0; a < N_SUMS; a++)
            w[a] = wb[a][cb];
        float llmax = 0.0f, llmin = INFINITY, hpmax = 0.0f, slmin = INFINITY,
              slmax = -INFINITY;
        uint16_t q = 0;
        for (size_t s = 0; s < filled; s++) {
            const float *ss = det->slots + s * N_SUMS * ncp;
            float ll = ss[A_D1 * ncp + c];
            llmax = ll > llmax ? ll : llmax;
            llmin = ll < llmin ? ll : llmin;
            q |= det->slot_q[s * ncp + c];
            float hm = det->slot_hpmax[s * ncp + c], a = det->slot_slmin[s * ncp + c],
                  b = det->slot_slmax[s * ncp + c];
            hpmax = hm > hpmax ? hm : hpmax;
            slmin = a < slmin ? a : slmin;
            slmax = b > slmax ? b : slmax;
        }
        float *f = det->feat + c * (size_t)det->n_feat;
        compute_features(w, nsamp, f);
        if (f2) {
            /* Set 2: pattern counts and moments of the window (summed above). */
            double cnt[ICTAL__N_PATTERNS], mom[4], skew, kurt;
            for (int p = 0; p < ICTAL__N_PATTERNS; p++)
                cnt[p] = f2->pcnt[(size_t)p * ncp + c];
            for (int k = 0; k < 4; k++)
                mom[k] = f2->mom[(size_t)k * ncp + c];
            ictal__shape_moments(nsamp, mom, &skew, &kurt);
            f[ICTAL_F_PERM_ENTROPY] = (float)ictal__perm_entropy(cnt, &f2->plnp);
            f[ICTAL_F_SKEWNESS] = (float)skew;
            f[ICTAL_F_EXCESS_KURTOSIS] = (float)kurt;
        }
        float hop_secs = (float)det->hop_s;
        f[ICTAL_F_HOP_LL_SPREAD] =
            log10f((llmax / hop_secs + 1.0f) / (llmin / hop_secs + 1.0f));
        if (f[ICTAL_F_REL_GAMMA] > det->muscle_rel &&
            (float)(w[A_B0 + 4] / nsamp) > det->muscle_uv2)
            q |= ICTAL_Q_MUSCLE;
        if (slmax - slmin > det->drift_uv)
            q |= ICTAL_Q_DRIFT;
        /* Movement: large and slow. Seizures can be as large (CHB-MIT chb05_06 reaches
         * 1300 µV) but keep most of their power above the delta band. */
        if (hpmax > det->movement_uv && f[ICTAL_F_REL_DELTA] > 0.6f)
            q |= ICTAL_Q_MOVEMENT;
        if (settling)
            q |= ICTAL_Q_SETTLING;
        det->quality[c] = q;

        /* Context: background (good hops only) and the value one window earlier. */
        float lll = f[ICTAL_F_LOG_LINE_LENGTH], lv = f[ICTAL_F_LOG_VARIANCE];
        float *bgl = &det->bg[c], *bgv = &det->bg[ncp + c];
        f[ICTAL_F_LINE_LENGTH_VS_BG] = det->bg_ok[c] != 0.0f ? lll - *bgl : 0.0f;
        f[ICTAL_F_VARIANCE_VS_BG] = det->bg_ok[c] != 0.0f ? lv - *bgv : 0.0f;
        float *hist = &det->ll_hist[slot * ncp + c];
        f[ICTAL_F_LINE_LENGTH_VS_PREV] = det->hop_idx >= W ? lll - *hist : 0.0f;
        *hist = lll;
        if (q == 0) {
            usable |= 1u << c;
            if (det->bg_ok[c] == 0.0f) {
                *bgl = lll;
                *bgv = lv;
                det->bg_ok[c] = 1.0f;
            } else {
                *bgl += alpha * (lll - *bgl);
                *bgv += alpha * (lv - *bgv);
            }
        }
    }

    /* Model and aggregation over usable channels. */
    float prob = NAN, ps = NAN;
    uint32_t fired = 0;
    ictal_state state = ICTAL_STATE_NO_MODEL;
    if (det->model) {
        float top[ICTAL_MAX_CHANNELS];
        int nu = 0;
        for (size_t c = 0; c < n; c++) {
            float p = 0.0f;
            if (usable & (1u << c)) {
                p = ictal_model_predict(det->model, det->feat + c * (size_t)det->n_feat);
                if (!(p >= 0.0f))
                    p = 0.0f; /* never let a NaN reach the decisions */
                /* insertion into a descending list for top-k */
                int i = nu++;
                while (i > 0 && top[i - 1] < p) {
                    top[i] = top[i - 1];
                    i--;
                }
                top[i] = p;
                if (p >= det->post.threshold_on)
                    fired |= 1u << c;
            }
            det->chan_prob[c] = p;
        }
        if (nu == 0) {
            prob = 0.0f;
        } else if (det->agg == ICTAL_AGG_MAX) {
            prob = top[0];
        } else {
            int k = det->top_k < nu ? det->top_k : nu;
            float s = 0.0f;
            for (int i = 0; i < k; i++)
                s += top[i];
            prob = s / (float)k;
        }
        /* Smoothing: causal mean of the last smooth_hops probabilities. */
        det->smooth[det->smooth_pos] = prob;
        det->smooth_pos = (det->smooth_pos + 1) % det->smooth_hops;
        if (det->smooth_fill < det->smooth_hops)
            det->smooth_fill++;
        float s = 0.0f;
        for (int i = 0; i < det->smooth_fill; i++)
            s += det->smooth[i];
        ps = s / (float)det->smooth_fill;
        ictal_alarm ev;
        if (ictal__decider_step(&det->dec, t, ps, fired, &ev)) {
            if (ev.kind == ICTAL_ALARM_RAISED)
                det->stats.alarms++;
            emit_alarm(det, &ev);
        }
        state = (ictal_state)det->dec.state;
        if (state == ICTAL_STATE_IDLE && nu == 0) {
            int all_settling = 1;
            for (size_t c = 0; c < n; c++)
                if (det->quality[c] & ~ICTAL_Q_SETTLING)
                    all_settling = 0;
            state = all_settling ? ICTAL_STATE_WARMUP : ICTAL_STATE_ARTIFACT;
        }
    } else {
        for (size_t c = 0; c < n; c++)
            det->chan_prob[c] = NAN;
    }

    /* Burden: share of the last 5 minutes of hops at or above threshold_on. */
    int bit = det->model && ps >= det->post.threshold_on;
    int bp = det->burden_pos;
    uint8_t *byte = &det->burden_bits[bp / 8], mask = (uint8_t)(1u << (bp % 8));
    if (det->burden_fill == det->burden_hops && (*byte & mask))
        det->burden_count--;
    *byte = (uint8_t)(bit ? (*byte | mask) : (*byte & ~mask));
    det->burden_count += bit;
    det->burden_pos = (bp + 1) % det->burden_hops;
    if (det->burden_fill < det->burden_hops)
        det->burden_fill++;

    ictal_hop *h = &det->hop;
    h->t_s = t;
    h->index = det->hop_idx;
    h->prob = prob;
    h->prob_smooth = ps;
    h->state = state;
    h->burden = (float)det->burden_count / (float)det->burden_hops;
    h->n_channels = det->nch;
    h->n_features = det->n_feat;
    h->chan_prob = det->chan_prob;
    h->quality = det->quality;
    h->features = det->feat;
    h->usable = usable;
    h->fired = fired;
    det->have_hop = 1;
    det->hop_idx++;
    det->stats.hops++;
    det->hop_fill = 0;
    reset_hop_acc(det);
    if (det->on_hop)
        det->on_hop(det->user, h);
}

void ictal_detector_reset(ictal_detector *det, double t0_s)
{
    if (det == NULL)
        return;
    ictal_alarm ev;
    if (ictal__decider_close(&det->dec, &ev))
        emit_alarm(det, &ev);
    clear_signal_state(det, t0_s);
}

const ictal_hop *ictal_detector_last_hop(const ictal_detector *det)
{
    return det && det->have_hop ? &det->hop : NULL;
}

void ictal_detector_postproc(const ictal_detector *det, ictal_postproc *post)
{
    *post = det->post;
}

float ictal_detector_window_s(const ictal_detector *det)
{
    return det->window_s;
}

float ictal_detector_hop_s(const ictal_detector *det)
{
    return det->hop_s;
}

int ictal_detector_feature_set(const ictal_detector *det)
{
    return det->fs2 ? 2 : 1;
}

int ictal_detector_n_features(const ictal_detector *det)
{
    return det->n_feat;
}

int ictal_detector_channels(const ictal_detector *det)
{
    return det->nch;
}

const char *ictal_detector_label(const ictal_detector *det, int channel)
{
    if (det == NULL || channel < 0 || channel >= det->nch)
        return "";
    return det->labels[channel];
}

void ictal_detector_stats_get(const ictal_detector *det, ictal_detector_stats *st)
{
    *st = det->stats;
}
