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
#include "ictal/ictal.h"

#include <math.h>
#include <string.h>

#include "decide.h"
#include "dsp.h"

#define FS ((double)ICTAL_INTERNAL_RATE_HZ)
#define N_AA 4          /* anti-aliasing sections: 8th-order Butterworth */
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
    ictal_hop_fn on_hop;
    ictal_event_fn on_event;
    void *user;
    ictal__biquad aa[N_AA], hp, notch, band_hp[N_BANDS], band_lp[N_BANDS], slow[2];

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
    float *band_s;      /* [N_BANDS][4][ncp]: high-pass s1,s2 then low-pass s1,s2 */
    float *x1, *x2, *dx1; /* previous high-passed samples, previous difference */
    float *acc;         /* [N_SUMS][ncp] current hop */
    float *qacc;        /* [N_QACC][ncp] current hop */
    float *slots;       /* [window_hops][N_SUMS][ncp] */
    uint16_t *slot_q;   /* [window_hops][ncp] per-hop flags */
    float *slot_hpmax, *slot_slmin, *slot_slmax; /* [window_hops][ncp] */
    float *feat;        /* [nch][ICTAL_N_FEATURES] */
    float *chan_prob;   /* [ncp] */
    uint16_t *quality;  /* [ncp] */
    float *bg;          /* [2][ncp] background of log line length, log variance */
    float *bg_ok;       /* [ncp] */
    float *ll_hist;     /* [window_hops][ncp] log line length of past windows */
    float *smooth;      /* [smooth_hops] */
    uint8_t *burden_bits; /* [ceil(burden_hops / 8)] */
    char (*labels)[ICTAL_LABEL_BYTES];

    /* Decisions. */
    int smooth_pos, smooth_fill;
    int burden_pos, burden_fill, burden_count;
    ictal__decider dec;

    ictal_event queue[ICTAL_EVENT_QUEUE];
    int q_head, q_len;

    ictal_hop hop;
    int have_hop;
    ictal_detector_stats stats;
};

static const char *const feature_names[ICTAL_N_FEATURES] = {
    "log_line_length", "log_variance", "log_delta", "log_theta", "log_alpha", "log_beta",
    "log_gamma", "rel_delta", "rel_theta", "rel_alpha", "rel_beta", "rel_gamma",
    "mobility_hz", "complexity", "spectral_entropy", "spectral_edge_hz",
    "zero_crossings_hz", "log_nonlinear_energy", "line_length_vs_bg", "variance_vs_bg",
    "line_length_vs_prev", "hop_ll_spread",
};

const char *ictal_feature_name(int i)
{
    return (i >= 0 && i < ICTAL_N_FEATURES) ? feature_names[i] : NULL;
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
            const char *dash = l ? strchr(l, '-') : NULL;
            if (d)
                d->signal = c;
            if (n == 0 || n >= ICTAL_LABEL_BYTES)
                return ictal_diag_error(d, ICTAL_EINVAL, "channel %d: label %s", c,
                                        n == 0 ? "missing or empty" : "too long");
            if (dash == NULL || dash == l || dash[1] == '\0')
                return ictal_diag_error(d, ICTAL_EINVAL, "channel %d: label '%s' is not a "
                                        "bipolar derivation 'A-B' (apply a montage first)",
                                        c, l);
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
    if (cfg->model) {
        const ictal_model_info *mi = &cfg->model->info;
        if (mi->feature_set != ICTAL_FEATURE_SET || mi->n_features != ICTAL_N_FEATURES)
            return ictal_diag_error(d, ICTAL_EVERSION, "model uses feature set %u with %u "
                                    "features; this detector computes set %d with %d",
                                    (unsigned)mi->feature_set, (unsigned)mi->n_features,
                                    ICTAL_FEATURE_SET, ICTAL_N_FEATURES);
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
          *slots = carve(&k, fb * W * N_SUMS), *slow_s = carve(&k, fb * 4),
          *slot_hpmax = carve(&k, fb * W), *slot_slmin = carve(&k, fb * W),
          *slot_slmax = carve(&k, fb * W);
    uint16_t *slot_q = carve(&k, ncp * W * sizeof(uint16_t));
    float *feat = carve(&k, (size_t)r->nch * ICTAL_N_FEATURES * sizeof(float)),
          *chan_prob = carve(&k, fb);
    uint16_t *quality = carve(&k, ncp * sizeof(uint16_t));
    float *bg = carve(&k, fb * 2), *bg_ok = carve(&k, fb), *ll_hist = carve(&k, fb * W),
          *smooth = carve(&k, (size_t)r->smooth_hops * sizeof(float));
    uint8_t *burden_bits = carve(&k, ((size_t)r->burden_hops + 7u) / 8u);
    char(*labels)[ICTAL_LABEL_BYTES] = carve(&k, (size_t)r->nch * ICTAL_LABEL_BYTES);
    if (det) {
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
    memset(det->feat, 0, (size_t)det->nch * ICTAL_N_FEATURES * sizeof(float));
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
    det->on_event = cfg->on_event;
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

    /* Anti-aliasing: 8th-order Butterworth at 45 Hz, or 0.4 x the input rate below 112.5 Hz. */
    double fc = fmin(45.0, 0.4 * cfg->rate_hz);
    for (int s = 0; s < N_AA; s++)
        ictal__biquad_lowpass(&det->aa[s], fc, cfg->rate_hz, ictal__butter_q(N_AA, s));
    ictal__biquad_highpass(&det->hp, cfg->highpass_hz, FS, ictal__butter_q(1, 0));
    for (int s = 0; s < 2; s++)
        ictal__biquad_lowpass(&det->slow[s], 0.3, FS, ictal__butter_q(2, s));
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

static void emit_event(ictal_detector *det, const ictal_event *ev)
{
    if (det->q_len == ICTAL_EVENT_QUEUE) {
        det->q_head = (det->q_head + 1) % ICTAL_EVENT_QUEUE;
        det->q_len--;
        det->stats.events_dropped++;
    }
    det->queue[(det->q_head + det->q_len) % ICTAL_EVENT_QUEUE] = *ev;
    det->q_len++;
    if (det->on_event)
        det->on_event(det->user, ev);
}

int ictal_detector_poll_event(ictal_detector *det, ictal_event *ev)
{
    if (det == NULL || ev == NULL || det->q_len == 0)
        return 0;
    *ev = det->queue[det->q_head];
    det->q_head = (det->q_head + 1) % ICTAL_EVENT_QUEUE;
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
        ictal__biquad_steady(&det->hp, y, &det->hp_s[c], &det->hp_s[ncp + c]);
        float z = ictal__biquad_steady(&det->slow[0], y, &det->slow_s[c], &det->slow_s[ncp + c]);
        ictal__biquad_steady(&det->slow[1], z, &det->slow_s[2 * ncp + c], &det->slow_s[3 * ncp + c]);
        det->notch_s[c] = det->notch_s[ncp + c] = 0.0f;
        for (int k = 0; k < N_BANDS * 4; k++)
            det->band_s[(size_t)k * ncp + c] = 0.0f;
        det->x1[c] = det->x2[c] = det->dx1[c] = 0.0f;
    }
    det->started = 1;
}

static void hop_end(ictal_detector *det);

/* One internal (128 Hz) sample in det->xi: high-pass, notch, bands, running sums. */
static void internal_step(ictal_detector *det)
{
    const size_t n = (size_t)det->nch, ncp = (size_t)det->ncp;
    float *restrict xi = det->xi, *restrict acc = det->acc, *restrict qa = det->qacc;
    float *restrict x1 = det->x1, *restrict x2 = det->x2, *restrict dx1 = det->dx1;
    float *restrict h1 = det->hp_s, *restrict h2 = det->hp_s + ncp;
    const ictal__biquad hp = det->hp;
    const ictal__biquad l0 = det->slow[0], l1 = det->slow[1];
    float *restrict w = det->slow_s;
    for (size_t c = 0; c < n; c++) {
        float u = xi[c];
        float y = hp.b0 * u + h1[c];
        h1[c] = hp.b1 * u - hp.a1 * y + h2[c];
        h2[c] = hp.b2 * u - hp.a2 * y;
        /* The slow component (4th-order lowpass at 0.3 Hz): DC jumps and drift. */
        float z = l0.b0 * u + w[c];
        w[c] = l0.b1 * u - l0.a1 * z + w[ncp + c];
        w[ncp + c] = l0.b2 * u - l0.a2 * z;
        float sl = l1.b0 * z + w[2 * ncp + c];
        w[2 * ncp + c] = l1.b1 * z - l1.a1 * sl + w[3 * ncp + c];
        w[3 * ncp + c] = l1.b2 * z - l1.a2 * sl;
        float *smn = &qa[Q_SLMIN * ncp + c], *smx = &qa[Q_SLMAX * ncp + c];
        *smn = sl < *smn ? sl : *smn;
        *smx = sl > *smx ? sl : *smx;
        xi[c] = y;
    }
    if (det->notch_on) {
        const ictal__biquad nb = det->notch;
        float *restrict s1 = det->notch_s, *restrict s2 = det->notch_s + ncp;
        for (size_t c = 0; c < n; c++) {
            float u = xi[c];
            float y = nb.b0 * u + s1[c];
            s1[c] = nb.b1 * u - nb.a1 * y + s2[c];
            s2[c] = nb.b2 * u - nb.a2 * y;
            xi[c] = y;
        }
    }
    for (size_t c = 0; c < n; c++) {
        float x = xi[c], d = x - x1[c], dd = d - dx1[c];
        float te = x1[c] * x1[c] - x * x2[c];
        acc[A_S1 * ncp + c] += x;
        acc[A_S2 * ncp + c] += x * x;
        acc[A_D1 * ncp + c] += fabsf(d);
        acc[A_D * ncp + c] += d;
        acc[A_D2 * ncp + c] += d * d;
        acc[A_DD * ncp + c] += dd;
        acc[A_DD2 * ncp + c] += dd * dd;
        acc[A_ZC * ncp + c] += ((x < 0.0f) != (x1[c] < 0.0f)) ? 1.0f : 0.0f;
        acc[A_TE * ncp + c] += te;
        float ax = fabsf(x), *hm = &qa[Q_HPMAX * ncp + c];
        *hm = ax > *hm ? ax : *hm;
        x2[c] = x1[c];
        x1[c] = x;
        dx1[c] = d;
    }
    for (int b = 0; b < N_BANDS; b++) {
        const ictal__biquad bh = det->band_hp[b], bl = det->band_lp[b];
        float *restrict s = det->band_s + (size_t)b * 4 * ncp;
        float *restrict pw = acc + (size_t)(A_B0 + b) * ncp;
        for (size_t c = 0; c < n; c++) {
            float u = xi[c];
            float y = bh.b0 * u + s[c];
            s[c] = bh.b1 * u - bh.a1 * y + s[ncp + c];
            s[ncp + c] = bh.b2 * u - bh.a2 * y;
            float z = bl.b0 * y + s[2 * ncp + c];
            s[2 * ncp + c] = bl.b1 * y - bl.a1 * z + s[3 * ncp + c];
            s[3 * ncp + c] = bl.b2 * y - bl.a2 * z;
            pw[c] += z * z;
        }
    }
    det->n_out++;
    if (++det->hop_fill == det->hop_n)
        hop_end(det);
}

int ictal_detector_push(ictal_detector *det, const float *frames_uv, size_t n_frames)
{
    if (det == NULL || (frames_uv == NULL && n_frames > 0))
        return ICTAL_EINVAL;
    const size_t n = (size_t)det->nch, ncp = (size_t)det->ncp;
    float *restrict hold = det->hold, *restrict prev = det->prev_raw, *restrict run = det->run;
    float *restrict qa = det->qacc, *restrict xi = det->xi;
    float *restrict y1 = det->y1, *restrict y2 = det->y2, *restrict y3 = det->y3;
    const float *restrict rail = det->rail;
    const float clip_run = det->clip_run;
    float v[ICTAL_MAX_CHANNELS];
    for (size_t f = 0; f < n_frames; f++) {
        const float *in = frames_uv + f * n;
        /* Raw checks at the input rate; non-finite (and absurd) samples are held. */
        float nonfinite = 0.0f;
        for (size_t c = 0; c < n; c++) {
            float x = in[c];
            float bad = (fabsf(x) <= INPUT_LIMIT_UV) ? 0.0f : 1.0f; /* NaN compares false */
            x = bad != 0.0f ? hold[c] : x;
            hold[c] = x;
            nonfinite += bad;
            qa[Q_NAN * ncp + c] += bad;
            v[c] = x;
        }
        if (nonfinite != 0.0f)
            det->stats.nonfinite += (uint64_t)nonfinite;
        if (!det->started)
            start_filters(det, v);
        for (size_t c = 0; c < n; c++) {
            float x = v[c], p = prev[c];
            float r = x == p ? run[c] + 1.0f : 0.0f;
            run[c] = r;
            qa[Q_CLIP * ncp + c] += (r >= clip_run && fabsf(x) >= CLIP_MIN_UV) ? 1.0f : 0.0f;
            qa[Q_RAIL * ncp + c] += fabsf(x) >= rail[c] ? 1.0f : 0.0f;
            float *mn = &qa[Q_RAWMIN * ncp + c], *mx = &qa[Q_RAWMAX * ncp + c];
            *mn = x < *mn ? x : *mn;
            *mx = x > *mx ? x : *mx;
            prev[c] = x;
        }
        for (int s = 0; s < N_AA; s++) {
            const ictal__biquad bq = det->aa[s];
            float *restrict s1 = det->aa_s + (size_t)(2 * s) * ncp;
            float *restrict s2 = det->aa_s + (size_t)(2 * s + 1) * ncp;
            for (size_t c = 0; c < n; c++) {
                float u = v[c];
                float y = bq.b0 * u + s1[c];
                s1[c] = bq.b1 * u - bq.a1 * y + s2[c];
                s2[c] = bq.b2 * u - bq.a2 * y;
                v[c] = y;
            }
        }
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
            float t = (float)(pos - (now - 2.0));
            for (size_t c = 0; c < n; c++) {
                float ym1 = y3[c], y0 = y2[c], yq = y1[c], yr = v[c];
                xi[c] = y0 + 0.5f * t * (yq - ym1 + t * (2.0f * ym1 - 5.0f * y0 + 4.0f * yq - yr +
                                                         t * (3.0f * (y0 - yq) + yr - ym1)));
            }
            internal_step(det);
        }
        for (size_t c = 0; c < n; c++) {
            y3[c] = y2[c];
            y2[c] = y1[c];
            y1[c] = v[c];
        }
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
    double t = det->t0_s + (double)det->n_out / FS;
    size_t filled = det->hop_idx + 1 < W ? (size_t)det->hop_idx + 1 : W;
    double nsamp = (double)filled * det->hop_n;
    double in_per_hop = det->hop_n * det->ratio;
    int settling = filled < W || (double)det->n_out / FS < det->settle_s;

    /* Per-hop quality. */
    uint16_t *sq = det->slot_q + slot * ncp;
    for (size_t c = 0; c < n; c++) {
        uint16_t q = 0;
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

    /* Window features from the slots. */
    uint32_t usable = 0;
    const float alpha = (float)(det->hop_s / ICTAL_BACKGROUND_S);
    for (size_t c = 0; c < n; c++) {
        double w[N_SUMS] = {0};
        float llmax = 0.0f, llmin = INFINITY, hpmax = 0.0f, slmin = INFINITY,
              slmax = -INFINITY;
        uint16_t q = 0;
        for (size_t s = 0; s < filled; s++) {
            const float *ss = det->slots + s * N_SUMS * ncp;
            for (int a = 0; a < N_SUMS; a++)
                w[a] += ss[(size_t)a * ncp + c];
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
        float *f = det->feat + c * ICTAL_N_FEATURES;
        compute_features(w, nsamp, f);
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
                p = ictal_model_predict(det->model, det->feat + c * ICTAL_N_FEATURES);
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
        ictal_event ev;
        if (ictal__decider_step(&det->dec, t, ps, fired, &ev)) {
            if (ev.kind == ICTAL_EVENT_ALARM)
                det->stats.events++;
            emit_event(det, &ev);
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
    h->n_features = ICTAL_N_FEATURES;
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
    ictal_event ev;
    if (ictal__decider_close(&det->dec, &ev))
        emit_event(det, &ev);
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
