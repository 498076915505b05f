/* The streaming detector (ictal/ictal.h) on real EEG: API and bad input, budgets,
 * determinism over push sizes, features against a straightforward non-incremental
 * computation, quality flags on artefacts injected into real EEG, no alarm from
 * artefacts, and the decisions on crafted probability sequences. */
#include "core/decide.h"
#include "core/dsp.h"
#include "detect_util.h"
#include "ictal/ictal.h"
#include "test.h"

#include <stdint.h>

#define EXCERPT "data/chbmit-continuous/chb05_06_excerpt_uV_f32.npy"

static float *g_frames;
static int g_nch, g_ns;

/* --- recording of outputs ------------------------------------------------------------ */

typedef struct rec {
    uint64_t hash;
    int hops, events;
    ictal_alarm ev[64];
    float *feat;       /* [hops][nch][NF] when keep is set */
    uint16_t *quality; /* [hops][nch] */
    int *state;
    float *prob, *smooth, *burden;
    int keep, cap;
} rec;

static void on_hop(void *user, const ictal_hop *h)
{
    rec *r = user;
    r->hash = du_fnv(r->hash, &h->t_s, sizeof h->t_s);
    r->hash = du_fnv(r->hash, &h->prob, sizeof h->prob);
    r->hash = du_fnv(r->hash, &h->prob_smooth, sizeof h->prob_smooth);
    r->hash = du_fnv(r->hash, &h->state, sizeof h->state);
    r->hash = du_fnv(r->hash, &h->burden, sizeof h->burden);
    r->hash = du_fnv(r->hash, h->chan_prob, sizeof(float) * (size_t)h->n_channels);
    r->hash = du_fnv(r->hash, h->quality, sizeof(uint16_t) * (size_t)h->n_channels);
    size_t nf = (size_t)h->n_channels * (size_t)h->n_features;
    r->hash = du_fnv(r->hash, h->features, sizeof(float) * nf);
    if (r->keep && r->hops < r->cap) {
        memcpy(r->feat + (size_t)r->hops * nf, h->features, nf * sizeof(float));
        memcpy(r->quality + (size_t)r->hops * (size_t)h->n_channels, h->quality,
               (size_t)h->n_channels * sizeof(uint16_t));
        r->state[r->hops] = h->state;
        r->prob[r->hops] = h->prob;
        r->smooth[r->hops] = h->prob_smooth;
        r->burden[r->hops] = h->burden;
    }
    r->hops++;
}

static void on_alarm(void *user, const ictal_alarm *e)
{
    rec *r = user;
    r->hash = du_fnv(r->hash, e, sizeof *e);
    if (r->events < 64)
        r->ev[r->events] = *e;
    r->events++;
}

static void rec_init(rec *r, int keep, int nch)
{
    memset(r, 0, sizeof *r);
    r->hash = 1469598103934665603ull;
    r->keep = keep;
    if (keep) {
        r->cap = 2000;
        r->feat = calloc((size_t)r->cap * (size_t)nch * ICTAL_N_FEATURES, sizeof(float));
        r->quality = calloc((size_t)r->cap * (size_t)nch, sizeof(uint16_t));
        r->state = calloc((size_t)r->cap, sizeof(int));
        r->prob = calloc((size_t)r->cap, sizeof(float));
        r->smooth = calloc((size_t)r->cap, sizeof(float));
        r->burden = calloc((size_t)r->cap, sizeof(float));
    }
}

static void rec_free(rec *r)
{
    free(r->feat);
    free(r->quality);
    free(r->state);
    free(r->prob);
    free(r->smooth);
    free(r->burden);
}

/* Runs the detector over frames in pushes of `chunk` frames. */
static void run(const ictal_config *base, const float *frames, int nch, int ns, size_t chunk,
                rec *r)
{
    ictal_config cfg = *base;
    cfg.on_hop = on_hop;
    cfg.on_alarm = on_alarm;
    cfg.user = r;
    ictal_detector *det = du_detector_new(&cfg, NULL);
    CHECK(det != NULL);
    if (det == NULL)
        return;
    for (size_t s = 0; s < (size_t)ns; s += chunk) {
        size_t n = (size_t)ns - s < chunk ? (size_t)ns - s : chunk;
        CHECK_EQ_INT(ictal_detector_push(det, frames + s * (size_t)nch, n), 0);
    }
    free(det);
}

static unsigned char g_model_bytes[4096];
static ictal_model g_model;

static void base_config(ictal_config *cfg, int nch, const ictal_model *m)
{
    ictal_config_init(cfg);
    cfg->n_channels = nch;
    cfg->rate_hz = 256.0;
    cfg->model = m;
}

/* Hops from ns input frames at ratio = rate / 128: internal sample k (at input position
 * k * ratio) is made once input sample floor(k * ratio) + 2 is in (cubic interpolation). */
static int expected_hops(int ns, double ratio)
{
    return (int)ceil((ns - 2) / ratio - 1e-9) / 64;
}

/* --- API and bad input ----------------------------------------------------------------- */

static void test_api(void)
{
    ictal_config cfg;
    ictal_diag d;
    ictal_diag_init(&d);
    base_config(&cfg, 4, &g_model);
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), 0);

    cfg.n_channels = 0;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "0 channels") != NULL);
    CHECK_EQ_INT(ictal_detector_size(&cfg), 0);
    cfg.n_channels = 33;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EINVAL);
    cfg.n_channels = 4;
    const double bad_rates[] = {0, 99.9, 2048.5, 1e9, -256, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
        cfg.rate_hz = bad_rates[i];
        CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_ERANGE);
    }
    const double good_rates[] = {100, 128, 160, 173.61, 200, 250, 256, 400, 500, 512, 2048};
    for (size_t i = 0; i < sizeof good_rates / sizeof good_rates[0]; i++) {
        cfg.rate_hz = good_rates[i];
        CHECK_EQ_INT(ictal_config_check(&cfg, &d), 0);
    }
    cfg.rate_hz = 256;
    const char *ok_labels[] = {"F7-T7", "T7-P7", "F8-T8", "T8-P8"};
    const char *bad1[] = {"F7-T7", NULL, "F8-T8", "T8-P8"};
    const char *bad2[] = {"F7-T7", "T7", "F8-T8", "T8-P8"};
    const char *bad3[] = {"F7-T7", "-", "F8-T8", "T8-P8"};
    const char *bad4[] = {"F7-T7", "T7-P7", "", "a-very-long-label-that-is-no-channel"};
    cfg.labels = ok_labels;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), 0);
    const char **bads[] = {bad1, bad3, bad4};
    for (int i = 0; i < 3; i++) {
        cfg.labels = bads[i];
        ictal_diag_clear(&d);
        CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EINVAL);
        CHECK(d.signal >= 1 && d.signal <= 2);
    }
    cfg.labels = bad3;
    ictal_config_check(&cfg, &d);
    CHECK(strstr(d.message, "dummy") != NULL);
    cfg.labels = bad2; /* a referential channel is a channel too */
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), 0);
    cfg.labels = ok_labels;
    cfg.post.threshold_on = 0.2f;
    cfg.post.threshold_off = 0.5f;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EINVAL);
    cfg.post.threshold_off = -1.0f; /* follows threshold_on down */
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), 0);
    cfg.post.threshold_on = -1.0f;
    cfg.notch_hz = 55;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EINVAL);
    cfg.notch_hz = 0;
    CHECK_EQ_INT(ictal_config_check(NULL, &d), ICTAL_EINVAL);
    /* Features-only mode: hop and window of our choosing, but sane ones. */
    cfg.model = NULL;
    cfg.hop_s = 0.3f; /* 38.4 samples at 128 Hz */
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_ENOTSUP);
    cfg.hop_s = 0.25f;
    cfg.window_s = 5.0f; /* 20 hops */
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_ENOTSUP);
    cfg.window_s = 2.0f;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), 0);

    /* Budgets: ictal_detector_size with a model at 256 Hz. */
    base_config(&cfg, 4, &g_model);
    size_t s4 = ictal_detector_size(&cfg);
    cfg.n_channels = 18;
    size_t s18 = ictal_detector_size(&cfg);
    cfg.n_channels = 32;
    cfg.rate_hz = 2048;
    size_t s32 = ictal_detector_size(&cfg);
    printf("state: 4 ch %zu B, 18 ch %zu B, 32 ch %zu B\n", s4, s18, s32);
    CHECK(s4 > 0 && s4 <= 16384);
    CHECK(s18 > 0 && s18 <= 65536);
    CHECK(s32 > 0 && s32 <= 131072);

    /* init: too small, misaligned, NULL. */
    cfg.n_channels = 4;
    cfg.rate_hz = 256;
    _Alignas(16) static unsigned char mem[65536 + 16];
    CHECK_EQ_INT(ictal_detector_init(mem, s4 - 1, &cfg), ICTAL_ENOMEM);
    CHECK_EQ_INT(ictal_detector_init(mem + 4, s4, &cfg), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_detector_init(NULL, s4, &cfg), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_detector_init(mem, s4, &cfg), 0);
    ictal_detector *det = (ictal_detector *)mem;
    CHECK(ictal_detector_last_hop(det) == NULL);
    CHECK_EQ_INT(ictal_detector_push(det, NULL, 5), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_detector_push(det, NULL, 0), 0);
    CHECK_EQ_INT(ictal_detector_push(NULL, g_frames, 1), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_detector_channels(det), 4);
    CHECK_NEAR(ictal_detector_hop_s(det), 0.5, 0);
    CHECK_NEAR(ictal_detector_window_s(det), 4.0, 0);
    CHECK_STR(ictal_detector_label(det, 9), "");
    CHECK_STR(ictal_detector_strerror(ICTAL_ERANGE), "value out of range");
    CHECK_STR(ictal_feature_name(0), "log_line_length");
    CHECK_STR(ictal_feature_name(ICTAL_N_FEATURES), "perm_entropy");
    CHECK(ictal_feature_name(ICTAL_MAX_FEATURES) == NULL);
    CHECK_STR(ictal_state_name(ICTAL_STATE_ALARM), "alarm");

    /* Polling: a long stretch of the excerpt in one push, then the last hop. */
    float *four = malloc(sizeof(float) * 4 * (size_t)g_ns);
    for (int s = 0; s < g_ns; s++)
        for (int c = 0; c < 4; c++)
            four[(size_t)s * 4 + (size_t)c] = g_frames[(size_t)s * (size_t)g_nch + (size_t)c];
    CHECK_EQ_INT(ictal_detector_push(det, four, (size_t)g_ns), 0);
    const ictal_hop *h = ictal_detector_last_hop(det);
    CHECK(h != NULL);
    if (h) {
        CHECK_NEAR(h->t_s, expected_hops(g_ns, 2.0) * 0.5, 1e-9);
        CHECK_EQ_INT(h->n_channels, 4);
        CHECK_EQ_INT(h->n_features, ICTAL_N_FEATURES);
    }
    ictal_detector_stats st;
    ictal_detector_stats_get(det, &st);
    CHECK_EQ_INT(st.frames, g_ns);
    CHECK_EQ_INT(st.hops, expected_hops(g_ns, 2.0));
    ictal_alarm ev;
    int polled = 0;
    while (ictal_detector_poll_alarm(det, &ev))
        polled++;
    CHECK_EQ_INT(polled, st.alarms * 2 - (h && h->state == ICTAL_STATE_ALARM));
    /* Reset: time restarts at t0, hops restart. */
    ictal_detector_reset(det, 1000.0);
    CHECK(ictal_detector_last_hop(det) == NULL);
    CHECK_EQ_INT(ictal_detector_push(det, four, 256 * 3), 0);
    h = ictal_detector_last_hop(det);
    CHECK(h != NULL && fabs(h->t_s - (1000.0 + 0.5 * expected_hops(768, 2.0))) < 1e-9);
    CHECK(h != NULL && h->quality[0] & ICTAL_Q_SETTLING);
    CHECK(h != NULL && h->state == ICTAL_STATE_WARMUP);
    free(four);
}

/* --- determinism ---------------------------------------------------------------------- */

static void test_determinism(void)
{
    ictal_config cfg;
    base_config(&cfg, g_nch, &g_model);
    const size_t chunks[] = {1, 7, 256, 10000, (size_t)g_ns};
    uint64_t first = 0;
    int hops0 = 0, events0 = 0;
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        for (int again = 0; again < (i == 2 ? 2 : 1); again++) {
            rec r;
            rec_init(&r, 0, g_nch);
            run(&cfg, g_frames, g_nch, g_ns, chunks[i], &r);
            if (i == 0 && again == 0) {
                first = r.hash;
                hops0 = r.hops;
                events0 = r.events;
            }
            CHECK_MSG(r.hash == first, "push size %zu gives other output", chunks[i]);
            CHECK_EQ_INT(r.hops, hops0);
            CHECK_EQ_INT(r.events, events0);
        }
    }
    CHECK_EQ_INT(hops0, expected_hops(g_ns, 2.0));
    /* Also at a fractional rate: the excerpt's first 4 channels declared as 173.61 Hz. */
    cfg.rate_hz = 173.61;
    cfg.n_channels = g_nch;
    rec a, b;
    rec_init(&a, 0, g_nch);
    rec_init(&b, 0, g_nch);
    run(&cfg, g_frames, g_nch, g_ns, 1, &a);
    run(&cfg, g_frames, g_nch, g_ns, 333, &b);
    CHECK(a.hash == b.hash);
    CHECK_EQ_INT(a.hops, expected_hops(g_ns, 173.61 / 128.0));
}

/* --- features against a straightforward computation --------------------------------------- */

static double l10(double x)
{
    return log10(1.0 + (x > 0 ? x : 0));
}

static void test_features_reference(void)
{
    const int nch = g_nch, ns = g_ns, W = 8, HOP = 64;
    ictal_config cfg;
    base_config(&cfg, nch, NULL);
    rec r;
    rec_init(&r, 1, nch);
    run(&cfg, g_frames, nch, ns, 1000, &r);
    const int nk = (ns + 1) / 2, hops = expected_hops(ns, 2.0);
    CHECK_EQ_INT(r.hops, hops);

    static const float edges[6] = {0.5f, 4.0f, 8.0f, 13.0f, 30.0f, 45.0f};
    ictal__biquad aa[3], hp, bh[5], bl[5];
    for (int s = 0; s < 3; s++) /* 6th order at input rates up to 300 Hz */
        ictal__biquad_lowpass(&aa[s], 45.0, 256.0, ictal__butter_q(3, s));
    ictal__biquad_highpass(&hp, 0.5, 128.0, ictal__butter_q(1, 0));
    for (int b = 0; b < 5; b++) {
        ictal__biquad_highpass(&bh[b], edges[b], 128.0, ictal__butter_q(1, 0));
        ictal__biquad_lowpass(&bl[b], edges[b + 1], 128.0, ictal__butter_q(1, 0));
    }
    double *x = malloc(sizeof(double) * (size_t)nk), *band = malloc(sizeof(double) * 5 * (size_t)nk);
    int bad = 0, compared = 0;
    double worst[ICTAL_N_FEATURES] = {0};
    for (int c = 0; c < nch; c++) {
        /* Front end over the whole channel at once, in double. */
        du_biquad q[3], h, qb[5][2];
        double u0 = g_frames[c];
        for (int s = 0; s < 3; s++)
            du_biquad_set(&q[s], &aa[s], u0);
        int k = 0;
        for (int s = 0; s < ns; s++) {
            double y = g_frames[(size_t)s * (size_t)nch + (size_t)c];
            for (int t = 0; t < 3; t++)
                y = du_biquad_run(&q[t], y);
            if (s % 2 == 0) { /* 256 -> 128 Hz: internal sample k is input sample 2k */
                if (k == 0) {
                    du_biquad_set(&h, &hp, y);
                    for (int b = 0; b < 5; b++) {
                        du_biquad_set(&qb[b][0], &bh[b], 0.0);
                        du_biquad_set(&qb[b][1], &bl[b], 0.0);
                    }
                }
                x[k] = du_biquad_run(&h, y);
                /* delta: low-pass only (edged below by the high-pass); gamma: high-pass
                 * only (edged above by the anti-aliasing); the others both. */
                for (int b = 0; b < 5; b++) {
                    double z = x[k];
                    if (b > 0)
                        z = du_biquad_run(&qb[b][0], z);
                    if (b < 4)
                        z = du_biquad_run(&qb[b][1], z);
                    band[(size_t)b * (size_t)nk + (size_t)k] = z;
                }
                k++;
            }
        }
        double bgl = 0, bgv = 0;
        int bg_ok = 0;
        double hist[8] = {0};
        for (int hi = 0; hi < hops; hi++) {
            int lo = (hi + 1 - W) * HOP;
            if (lo < 0)
                lo = 0;
            int end = (hi + 1) * HOP, n = end - lo;
            double ref[ICTAL_N_FEATURES];
            /* Two-pass statistics over the window, no running sums. */
            double m = 0, md = 0, mdd = 0;
            for (int i = lo; i < end; i++) {
                double xp = i > 0 ? x[i - 1] : 0, xpp = i > 1 ? x[i - 2] : 0;
                m += x[i];
                md += x[i] - xp;
                mdd += (x[i] - xp) - (xp - xpp);
            }
            m /= n;
            md /= n;
            mdd /= n;
            double v = 0, vd = 0, vdd = 0, ll = 0, zc = 0, te = 0, bp[5] = {0};
            double hll[8] = {0};
            for (int i = lo; i < end; i++) {
                double xp = i > 0 ? x[i - 1] : 0, xpp = i > 1 ? x[i - 2] : 0;
                double d1 = x[i] - xp, d2 = d1 - (xp - xpp);
                v += (x[i] - m) * (x[i] - m);
                vd += (d1 - md) * (d1 - md);
                vdd += (d2 - mdd) * (d2 - mdd);
                ll += fabs(d1);
                hll[(i - lo) / HOP] += fabs(d1);
                zc += (x[i] < 0) != (xp < 0);
                te += xp * xp - x[i] * xpp;
                for (int b = 0; b < 5; b++)
                    bp[b] += band[(size_t)b * (size_t)nk + (size_t)i] *
                             band[(size_t)b * (size_t)nk + (size_t)i];
            }
            v /= n;
            vd /= n;
            vdd /= n;
            double secs = n / 128.0, tot = 0;
            ref[ICTAL_F_LOG_LINE_LENGTH] = l10(ll / secs);
            ref[ICTAL_F_LOG_VARIANCE] = l10(v);
            for (int b = 0; b < 5; b++) {
                bp[b] /= n;
                tot += bp[b];
                ref[ICTAL_F_LOG_DELTA + b] = l10(bp[b]);
            }
            double ent = 0, cum = 0, edge = 45;
            int found = 0;
            for (int b = 0; b < 5; b++) {
                double p = bp[b] / tot;
                ref[ICTAL_F_REL_DELTA + b] = p;
                ent -= p > 0 ? p * log(p) : 0;
                if (!found && cum + p >= 0.9) {
                    edge = edges[b] + (edges[b + 1] - edges[b]) * (0.9 - cum) / p;
                    found = 1;
                }
                cum += p;
            }
            ref[ICTAL_F_SPECTRAL_ENTROPY] = ent / log(5.0);
            ref[ICTAL_F_SPECTRAL_EDGE_HZ] = edge;
            double mob = sqrt(vd / v);
            ref[ICTAL_F_MOBILITY_HZ] = mob * 128.0 / (2 * 3.14159265358979323846);
            ref[ICTAL_F_COMPLEXITY] = sqrt(vdd / vd) / mob;
            ref[ICTAL_F_ZERO_CROSSINGS_HZ] = zc / secs;
            ref[ICTAL_F_LOG_NONLINEAR_ENERGY] = l10(te / n);
            double hmax = 0, hmin = 1e300;
            for (int s = 0; s < (end - lo) / HOP; s++) {
                hmax = hll[s] > hmax ? hll[s] : hmax;
                hmin = hll[s] < hmin ? hll[s] : hmin;
            }
            ref[ICTAL_F_HOP_LL_SPREAD] = log10((hmax / 0.5 + 1) / (hmin / 0.5 + 1));
            ref[ICTAL_F_LINE_LENGTH_VS_BG] = bg_ok ? ref[0] - bgl : 0;
            ref[ICTAL_F_VARIANCE_VS_BG] = bg_ok ? ref[1] - bgv : 0;
            ref[ICTAL_F_LINE_LENGTH_VS_PREV] = hi >= W ? ref[0] - hist[hi % W] : 0;
            hist[hi % W] = ref[0];
            if (r.quality[(size_t)hi * (size_t)nch + (size_t)c] == 0) {
                if (!bg_ok) {
                    bgl = ref[0];
                    bgv = ref[1];
                    bg_ok = 1;
                } else {
                    bgl += 0.5 / 180.0 * (ref[0] - bgl);
                    bgv += 0.5 / 180.0 * (ref[1] - bgv);
                }
            }
            const float *got = r.feat + ((size_t)hi * (size_t)nch + (size_t)c) * ICTAL_N_FEATURES;
            for (int f = 0; f < ICTAL_N_FEATURES; f++) {
                double tol = 2e-3;
                if (f == ICTAL_F_MOBILITY_HZ || f == ICTAL_F_SPECTRAL_EDGE_HZ)
                    tol = 0.02;
                if (f == ICTAL_F_ZERO_CROSSINGS_HZ)
                    tol = 0.51; /* a sample within rounding of 0 can add or drop two
                                   crossings in 4 s between float and double */
                double e = fabs(got[f] - ref[f]);
                if (e > worst[f])
                    worst[f] = e;
                if (!(e <= tol)) {
                    if (bad < 10)
                        fprintf(stderr, "ch %d hop %d %s: %.6f, reference %.6f\n", c, hi,
                                ictal_feature_name(f), got[f], ref[f]);
                    bad++;
                }
                compared++;
            }
        }
    }
    printf("features: %d values compared with the reference, %d off; worst abs error:", compared,
           bad);
    for (int f = 0; f < ICTAL_N_FEATURES; f++)
        printf(" %.1e", worst[f]);
    printf("\n");
    CHECK_EQ_INT(bad, 0);
    CHECK(compared == nch * hops * ICTAL_N_FEATURES);
    free(x);
    free(band);
    rec_free(&r);
}

/* --- quality flags on artefacts injected into real EEG ---------------------------------- */

static float *copy_frames(void)
{
    float *f = malloc(sizeof(float) * (size_t)g_nch * (size_t)g_ns);
    memcpy(f, g_frames, sizeof(float) * (size_t)g_nch * (size_t)g_ns);
    return f;
}

#define AT(fr, s, c) (fr)[(size_t)(s) * (size_t)g_nch + (size_t)(c)]

/* Hops (index i, window end (i+1)/2 s) flagged with `flag` on channel c, within [t0, t1]. */
static int flagged(const rec *r, int c, uint16_t flag, double t0, double t1)
{
    int n = 0;
    for (int i = 0; i < r->hops && i < r->cap; i++) {
        double t = (i + 1) * 0.5;
        if (t >= t0 && t <= t1 && (r->quality[(size_t)i * (size_t)g_nch + (size_t)c] & flag))
            n++;
    }
    return n;
}

static void test_quality(void)
{
    ictal_config cfg;
    base_config(&cfg, g_nch, &g_model);
    rec clean;
    rec_init(&clean, 1, g_nch);
    run(&cfg, g_frames, g_nch, g_ns, 4096, &clean);
    /* The clean excerpt: no NaN, flat, clip or jump flags at all after settling. */
    uint16_t hard = ICTAL_Q_NAN | ICTAL_Q_FLAT | ICTAL_Q_CLIP | ICTAL_Q_JUMP | ICTAL_Q_DISCONNECT;
    int any = 0;
    for (int c = 0; c < g_nch; c++)
        any += flagged(&clean, c, hard, 0, 1e9);
    CHECK_EQ_INT(any, 0);
    CHECK(flagged(&clean, 0, ICTAL_Q_SETTLING, 0, 3.5) == 7);
    CHECK(flagged(&clean, 0, ICTAL_Q_SETTLING, 4.0, 1e9) == 0);

    float *fr = copy_frames();
    /* ch 3: NaN for 0.5 s at 60 s, one +Inf at 100 s, one -1e30 at 120 s. */
    for (int s = 60 * 256; s < 60 * 256 + 128; s++)
        AT(fr, s, 3) = NAN;
    AT(fr, 100 * 256, 3) = INFINITY;
    AT(fr, 120 * 256, 3) = -1e30f;
    /* ch 1: flat at 12.5 µV from 50 to 70 s (a disconnected lead held by the amplifier). */
    for (int s = 50 * 256; s < 70 * 256; s++)
        AT(fr, s, 1) = 12.5f;
    /* ch 2: clipped at +-150 µV from 80 to 120 s (inside the seizure). */
    for (int s = 80 * 256; s < 120 * 256; s++) {
        float v = AT(fr, s, 2);
        AT(fr, s, 2) = v > 150.0f ? 150.0f : v < -150.0f ? -150.0f : v;
    }
    /* ch 4: an electrode pop: a 1500 µV DC step at 30 s that stays. */
    for (int s = 30 * 256; s < g_ns; s++)
        AT(fr, s, 4) += 1500.0f;
    /* ch 7: a slow drift of 1500 µV over 8 s from 140 s. */
    for (int s = 140 * 256; s < g_ns; s++)
        AT(fr, s, 7) += 1500.0f * fminf(1.0f, (float)(s - 140 * 256) / (8.0f * 256.0f));
    rec art;
    rec_init(&art, 1, g_nch);
    cfg.rail_uv = NULL;
    float rail[23];
    for (int c = 0; c < 23; c++)
        rail[c] = 0.0f;
    rail[6] = 800.0f; /* ch 6 peaks at 840 µV during the seizure: at the rail */
    cfg.rail_uv = rail;
    run(&cfg, fr, g_nch, g_ns, 999, &art);

    CHECK(flagged(&art, 3, ICTAL_Q_NAN, 60.5, 64.0) == 8);
    CHECK(flagged(&art, 3, ICTAL_Q_NAN, 100.0, 104.0) == 8);
    CHECK(flagged(&art, 3, ICTAL_Q_NAN, 120.0, 124.0) == 8);
    CHECK(flagged(&art, 3, ICTAL_Q_NAN, 65.0, 99.5) == 0);
    CHECK(flagged(&art, 1, ICTAL_Q_FLAT, 54.0, 70.0) == 33);
    CHECK(flagged(&art, 1, ICTAL_Q_FLAT, 75.0, 1e9) == 0);
    CHECK(flagged(&art, 2, ICTAL_Q_CLIP, 85.0, 120.0) >= 60);
    CHECK(flagged(&art, 2, ICTAL_Q_CLIP, 0.0, 79.5) == 0);
    CHECK(flagged(&art, 4, ICTAL_Q_JUMP, 30.0, 35.0) >= 1);
    CHECK(flagged(&art, 4, ICTAL_Q_JUMP, 0.0, 29.5) == 0);
    CHECK(flagged(&art, 7, ICTAL_Q_DRIFT, 141.0, 150.0) >= 6);
    /* At the rail exactly in the hops whose window holds a sample at or beyond it.
     * Input sample n (256 Hz) is counted in hop floor((n + 1) / 128); hop i's window
     * is hops i-7..i. */
    int expect_rail = 0, rail_ok = 0;
    for (int i = 0; i < art.hops; i++) {
        int want = 0;
        for (int n = (i - 7) * 128 - 1; n <= i * 128 + 126; n++)
            if (n >= 0 && n < g_ns && fabsf(AT(fr, n, 6)) >= 800.0f * 0.999f)
                want = 1;
        int got = (art.quality[(size_t)i * (size_t)g_nch + 6] & ICTAL_Q_CLIP) != 0;
        expect_rail += want;
        rail_ok += want == got;
    }
    CHECK(expect_rail >= 10);
    CHECK_EQ_INT(rail_ok, art.hops);
    /* Never NaN into the features or probabilities; flagged channels have p = 0; other
     * channels are untouched, bit for bit. */
    int nonfinite = 0, differ = 0;
    for (int i = 0; i < art.hops; i++)
        for (int c = 0; c < g_nch; c++)
            for (int f = 0; f < ICTAL_N_FEATURES; f++) {
                size_t k = ((size_t)i * (size_t)g_nch + (size_t)c) * ICTAL_N_FEATURES + (size_t)f;
                nonfinite += !isfinite(art.feat[k]);
                if (c == 0 || c == 5 || c >= 8)
                    differ += memcmp(&art.feat[k], &clean.feat[k], sizeof(float)) != 0;
            }
    CHECK_EQ_INT(nonfinite, 0);
    CHECK_EQ_INT(differ, 0);
    for (int i = 0; i < art.hops; i++)
        CHECK(isfinite(art.prob[i]));
    free(fr);
    rec_free(&clean);
    rec_free(&art);
}

/* Artefacts never raise an alarm: a model that fires on any large line length, real
 * pre-ictal EEG, and artefacts on every channel. With the quality checks disabled the
 * same input does raise alarms, so the test can fail. */
static void test_no_alarm_from_artefacts(void)
{
    unsigned char mb[4096];
    size_t ml = du_line_length_model(mb, sizeof mb, 3.8f, 12.0f);
    ictal_model m;
    CHECK(ml > 0 && ictal_model_parse(&m, mb, ml, NULL) == 0);
    const int ns = 36 * 256; /* pre-ictal part only */
    float *fr = malloc(sizeof(float) * (size_t)g_nch * (size_t)ns);
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < g_nch; c++) {
            float v = AT(g_frames, s, c);
            int sec = s / 256;
            if (sec >= 10 && sec < 14)
                v += (s / 64) % 2 ? 2500.0f : -2500.0f;            /* pops, 2 per second */
            else if (sec >= 18 && sec < 22)
                v = (s % 3) ? NAN : v;                              /* lost samples */
            else if (sec >= 26 && sec < 30)
                v = 3000.0f * (float)((s / 16) % 2 ? 1 : -1);      /* at the rail */
            AT(fr, s, c) = v;
        }
    float rail[23];
    for (int c = 0; c < 23; c++)
        rail[c] = 3000.0f;
    ictal_config cfg;
    base_config(&cfg, g_nch, &m);
    cfg.rail_uv = rail;
    rec r;
    rec_init(&r, 1, g_nch);
    run(&cfg, fr, g_nch, ns, 512, &r);
    CHECK_EQ_INT(r.events, 0);
    int artifact_hops = 0;
    for (int i = 0; i < r.hops; i++)
        artifact_hops += r.state[i] == ICTAL_STATE_ARTIFACT;
    CHECK(artifact_hops >= 20);

    /* The same with the quality checks turned off: alarms. */
    cfg.rail_uv = NULL;
    cfg.jump_uv = cfg.drift_uv = cfg.movement_uv = cfg.disconnect_uv = 1e9f;
    cfg.flat_uv = 0.0f;
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < g_nch; c++)
            if (isnan(AT(fr, s, c)))
                AT(fr, s, c) = 0.0f; /* NaN is always flagged: replace it here */
    rec r2;
    rec_init(&r2, 0, g_nch);
    run(&cfg, fr, g_nch, ns, 512, &r2);
    CHECK(r2.events >= 1);
    free(fr);
    rec_free(&r);
}

/* Burden: the share of the last 5 minutes (600 hops) with the smoothed probability at or
 * above threshold_on, recomputed from the hops themselves. */
static void test_burden(void)
{
    unsigned char mb[4096];
    size_t ml = du_line_length_model(mb, sizeof mb, 3.8f, 4.0f);
    ictal_model m;
    CHECK(ml > 0 && ictal_model_parse(&m, mb, ml, NULL) == 0);
    /* 6 minutes: the excerpt twice, so that the 5-minute ring wraps. */
    size_t ns = 2 * (size_t)g_ns;
    float *fr = malloc(sizeof(float) * (size_t)g_nch * ns);
    memcpy(fr, g_frames, sizeof(float) * (size_t)g_nch * (size_t)g_ns);
    memcpy(fr + (size_t)g_nch * (size_t)g_ns, g_frames, sizeof(float) * (size_t)g_nch * (size_t)g_ns);
    ictal_config cfg;
    base_config(&cfg, g_nch, &m);
    rec r;
    rec_init(&r, 1, g_nch);
    run(&cfg, fr, g_nch, (int)ns, 4096, &r);
    CHECK(r.hops > 600);
    int bad = 0, above = 0;
    for (int i = 0; i < r.hops && i < r.cap; i++) {
        int n = 0;
        for (int j = i; j >= 0 && j > i - 600; j--)
            n += r.smooth[j] >= m.info.post.threshold_on;
        above += r.smooth[i] >= m.info.post.threshold_on;
        bad += fabsf(r.burden[i] - (float)n / 600.0f) > 1e-6f;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(above > 100 && above < r.hops - 100); /* the test sees both states */
    free(fr);
    rec_free(&r);
}

/* --- decisions on crafted probability sequences ---------------------------------------- */

static void test_decisions(void)
{
    ictal_postproc p = {0.5f, 0.3f, 0.0f, 2.0f, 5.0f, 10.0f};
    ictal__decider d;
    ictal__decider_init(&d, &p, 0.5f);
    /* (t, ps) pairs; hop 0.5 s. */
    ictal_alarm ev[16];
    int nev = 0;
    double t = 0.0;
    struct {
        double until;
        float ps;
        uint32_t fired;
    } seq[] = {
        {5.0, 0.1f, 0},   {6.0, 0.9f, 1},  /* a 1 s blip: shorter than min duration */
        {9.5, 0.2f, 0},   {10.0, 0.6f, 2}, /* candidate at 10 (onset 9.5) */
        {15.0, 0.8f, 4},  {19.5, 0.4f, 0}, /* held above threshold_off (hysteresis) */
        {22.0, 0.1f, 0},  {22.5, 0.45f, 0}, /* ending; 0.45 < on does not resume */
        {23.0, 0.7f, 8},  {29.5, 0.6f, 0},  /* back within the merge gap: same event */
        {38.0, 0.0f, 0},  /* ends at 29.5 + 5 = 34.5; refractory until 39.5 */
        {39.0, 0.9f, 0},  /* ignored: refractory */
        {39.5, 0.0f, 0},  {43.0, 0.95f, 16}, {50.0, 0.0f, 0},
    };
    size_t si = 0;
    while (t < 50.0) {
        t += 0.5;
        while (si < sizeof seq / sizeof seq[0] && t > seq[si].until + 1e-9)
            si++;
        if (si >= sizeof seq / sizeof seq[0])
            break;
        if (ictal__decider_step(&d, t, seq[si].ps, seq[si].fired, &ev[nev]) && nev < 15)
            nev++;
    }
    CHECK_EQ_INT(nev, 4);
    CHECK_EQ_INT(ev[0].kind, ICTAL_ALARM_RAISED);
    CHECK_EQ_INT(ev[0].id, 1);
    CHECK_NEAR(ev[0].onset_s, 9.5, 1e-9);
    CHECK_NEAR(ev[0].alarm_s, 11.5, 1e-9);
    CHECK_EQ_INT(ev[1].kind, ICTAL_ALARM_END);
    CHECK_EQ_INT(ev[1].id, 1);
    CHECK_NEAR(ev[1].offset_s, 29.5, 1e-9);
    CHECK_NEAR(ev[1].peak_prob, 0.8, 1e-6);
    CHECK_EQ_INT(ev[1].channels, 2 | 4 | 8);
    CHECK_EQ_INT(ev[2].kind, ICTAL_ALARM_RAISED);
    CHECK_EQ_INT(ev[2].id, 2);
    CHECK_NEAR(ev[2].onset_s, 39.5, 1e-9);
    CHECK_NEAR(ev[2].alarm_s, 41.5, 1e-9);
    CHECK_EQ_INT(ev[3].kind, ICTAL_ALARM_END);
    CHECK_NEAR(ev[3].offset_s, 43.0, 1e-9);
    CHECK_EQ_INT(ev[3].channels, 16);
    /* Close with nothing open; then an open event closed by a reset. */
    ictal_alarm e;
    CHECK_EQ_INT(ictal__decider_close(&d, &e), 0);
    ictal__decider_clear(&d);
    for (t = 100.0; t < 105.0; t += 0.5)
        ictal__decider_step(&d, t, 0.99f, 1, &e);
    CHECK_EQ_INT(d.state, ICTAL_STATE_ALARM);
    CHECK_EQ_INT(ictal__decider_close(&d, &e), 1);
    CHECK_EQ_INT(e.kind, ICTAL_ALARM_END);
    CHECK_EQ_INT(e.id, 3);
    /* min duration 0: the first hop above raises; NaN never does. */
    p.min_duration_s = 0.0f;
    ictal__decider_init(&d, &p, 0.5f);
    CHECK_EQ_INT(ictal__decider_step(&d, 1.0, NAN, 0, &e), 0);
    CHECK_EQ_INT(ictal__decider_step(&d, 1.5, 0.5f, 0, &e), 1);
    CHECK_NEAR(e.alarm_s, 1.5, 1e-9);
}

int main(void)
{
    const char *path = test_shared_path(EXCERPT);
    if (path == NULL)
        TEST_SKIP("needs ../shared/" EXCERPT);
    g_frames = du_load_npy_frames(path, &g_nch, &g_ns);
    CHECK(g_frames != NULL);
    if (g_frames == NULL)
        return test_summary();
    CHECK_EQ_INT(g_nch, 23);
    size_t ml = du_line_length_model(g_model_bytes, sizeof g_model_bytes, 3.8f, 4.0f);
    CHECK(ml > 0);
    CHECK_EQ_INT(ictal_model_parse(&g_model, g_model_bytes, ml, NULL), 0);

    test_api();
    test_determinism();
    test_features_reference();
    test_quality();
    test_no_alarm_from_artefacts();
    test_burden();
    test_decisions();
    free(g_frames);
    return test_summary();
}
