/* Feature set 2 of the streaming detector (ictal/ictal.h): the ordinal-pattern and moment
 * kernels against two-pass references (synthetic edge cases and real EEG), the detector's
 * set-2 features against a non-incremental computation, set 1 left exactly as it was,
 * determinism over push sizes, state sizes, models of set 1 / 2 accepted and others
 * refused, NaN input. */
#include "core/dsp.h"
#include "detect_util.h"
#include "ictal/ictal.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

#define EXCERPT "data/chbmit-continuous/chb05_06_excerpt_uV_f32.npy"

static float *g_frames;
static int g_nch, g_ns;

/* --- kernels, synthetic --------------------------------------------------------------- */

/* The pattern by definition: sort the four indices by value, ties by index (a stable
 * sort), then the Lehmer code of the ranks. */
static int ordinal_reference(const float v[4])
{
    int rank[4];
    for (int i = 0; i < 4; i++) {
        rank[i] = 0;
        for (int j = 0; j < 4; j++)
            if (v[j] < v[i] || (v[j] == v[i] && j < i))
                rank[i]++;
    }
    int code = 0;
    static const int weight[3] = {6, 2, 1};
    for (int i = 0; i < 3; i++) {
        int later_smaller = 0;
        for (int j = i + 1; j < 4; j++)
            later_smaller += rank[j] < rank[i];
        code += weight[i] * later_smaller;
    }
    return code;
}

static void test_kernels_synthetic(void)
{
    /* Every tuple over {0, 1, 2, 3}: all 24 orders and every kind of tie. */
    int seen[24] = {0}, bad = 0;
    for (int t = 0; t < 256; t++) {
        float v[4] = {(float)(t & 3), (float)((t >> 2) & 3), (float)((t >> 4) & 3),
                      (float)(t >> 6)};
        int got = ictal__ordinal4(v[0], v[1], v[2], v[3]);
        if (got != ordinal_reference(v))
            bad++;
        if (got >= 0 && got < 24)
            seen[got]++;
    }
    CHECK_EQ_INT(bad, 0);
    for (int p = 0; p < 24; p++)
        CHECK(seen[p] > 0);
    CHECK_EQ_INT(ictal__ordinal4(5, 5, 5, 5), 0);   /* constant: ascending */
    CHECK_EQ_INT(ictal__ordinal4(3, 2, 1, 0), 23);  /* strictly falling: the last */
    int cn = ictal__ordinal4(NAN, 1, NAN, 0);
    CHECK(cn >= 0 && cn < 24);

    double cnt[24] = {0};
    CHECK_NEAR(ictal__perm_entropy(cnt, NULL), 0.0, 0);
    cnt[0] = 512;
    CHECK_NEAR(ictal__perm_entropy(cnt, NULL), 0.0, 0);
    for (int p = 0; p < 24; p++)
        cnt[p] = 7;
    CHECK_NEAR(ictal__perm_entropy(cnt, NULL), 1.0, 1e-12);
    memset(cnt, 0, sizeof cnt);
    cnt[3] = cnt[17] = 10; /* two equally likely patterns: ln 2 / ln 24 */
    CHECK_NEAR(ictal__perm_entropy(cnt, NULL), log(2.0) / log(24.0), 1e-12);

    /* The cache of p ln p gives the same bits as computing every term: windows of
     * changing totals (filling, then full) and counts on both sides of the cache's end. */
    static ictal__plnp_cache cache; /* zeroed: empty */
    unsigned rng = 12345u;
    int cache_bad = 0;
    for (int trial = 0; trial < 3000; trial++) {
        int total = trial < 1000 ? 64 * (1 + trial % 8) : 512 + 64 * (trial % 3 == 0);
        memset(cnt, 0, sizeof cnt);
        for (int k = 0; k < total; k++) {
            rng = rng * 1103515245u + 12345u;
            int r = (int)((rng >> 16) % 100);
            /* skewed: patterns 0 and 23 take most of a window, as in smooth EEG */
            cnt[r < 40 ? 0 : r < 70 ? 23 : 1 + (int)((rng >> 8) % 22)] += 1.0;
        }
        double a = ictal__perm_entropy(cnt, &cache), b = ictal__perm_entropy(cnt, NULL);
        if (memcmp(&a, &b, sizeof a) != 0)
            cache_bad++;
    }
    CHECK_EQ_INT(cache_bad, 0);

    /* Moments: constant (variance 0) gives 0, 0; a known small sample. */
    double s[4] = {4 * 7.0, 4 * 49.0, 4 * 343.0, 4 * 2401.0}, sk, ku;
    ictal__shape_moments(4, s, &sk, &ku);
    CHECK_NEAR(sk, 0.0, 0);
    CHECK_NEAR(ku, 0.0, 0);
    ictal__shape_moments(0, s, &sk, &ku);
    CHECK_NEAR(sk, 0.0, 0);
    /* {0, 0, 0, 1}: mean 1/4, m2 3/16, m3 3/32 (x 1/4 ...) -> skew 2/sqrt(3), kurt -2/3 */
    double t[4] = {1, 1, 1, 1};
    ictal__shape_moments(4, t, &sk, &ku);
    CHECK_NEAR(sk, 2.0 / sqrt(3.0), 1e-12);
    CHECK_NEAR(ku, 1.0 / 3.0 - 3.0 + 2.0, 1e-12); /* m4/m2^2 = 7/3, minus 3 */
}

/* --- moments over hops of real EEG against two passes ----------------------------------- */

static void test_moments_real(void)
{
    const int HOP = 64, W = 8;
    double worst_sk = 0, worst_ku = 0;
    int compared = 0;
    for (int c = 0; c < g_nch; c += 5) {
        int hops = g_ns / HOP;
        double(*hs)[4] = calloc((size_t)hops, sizeof *hs);
        for (int h = 0; h < hops; h++)
            for (int i = h * HOP; i < (h + 1) * HOP; i++) {
                double v = g_frames[(size_t)i * (size_t)g_nch + (size_t)c], v2 = v * v;
                hs[h][0] += v;
                hs[h][1] += v2;
                hs[h][2] += v2 * v;
                hs[h][3] += v2 * v2;
            }
        for (int h = W - 1; h < hops; h += 3) {
            double s[4] = {0};
            for (int k = h - W + 1; k <= h; k++)
                for (int j = 0; j < 4; j++)
                    s[j] += hs[k][j];
            int lo = (h - W + 1) * HOP, n = W * HOP;
            double sk, ku;
            ictal__shape_moments(n, s, &sk, &ku);
            long double m = 0, m2 = 0, m3 = 0, m4 = 0;
            for (int i = lo; i < lo + n; i++)
                m += g_frames[(size_t)i * (size_t)g_nch + (size_t)c];
            m /= n;
            for (int i = lo; i < lo + n; i++) {
                long double d = g_frames[(size_t)i * (size_t)g_nch + (size_t)c] - m;
                m2 += d * d;
                m3 += d * d * d;
                m4 += d * d * d * d;
            }
            m2 /= n;
            m3 /= n;
            m4 /= n;
            double rsk = (double)(m3 / (m2 * sqrtl(m2))), rku = (double)(m4 / (m2 * m2) - 3);
            double esk = fabs(sk - rsk), eku = fabs(ku - rku) / fmax(1.0, fabs(rku));
            worst_sk = esk > worst_sk ? esk : worst_sk;
            worst_ku = eku > worst_ku ? eku : worst_ku;
            compared++;
        }
        free(hs);
    }
    printf("moments: %d windows of real EEG, worst |skewness error| %.1e, worst kurtosis "
           "error (relative above 1) %.1e\n", compared, worst_sk, worst_ku);
    CHECK(compared > 1000);
    CHECK(worst_sk <= 1e-6);
    CHECK(worst_ku <= 1e-6);
}

/* --- the detector's set-2 features against a non-incremental computation ------------------ */

typedef struct feats {
    float *f;   /* [hops][nch][nf] */
    uint16_t *q; /* [hops][nch] */
    float *chan_prob; /* [hops][nch] */
    int hops, cap, nch, nf;
    uint64_t hash;
} feats;

static void on_hop(void *user, const ictal_hop *h)
{
    feats *r = user;
    size_t nf = (size_t)h->n_channels * (size_t)h->n_features;
    r->nf = h->n_features;
    r->hash = du_fnv(r->hash, &h->t_s, sizeof h->t_s);
    r->hash = du_fnv(r->hash, &h->prob, sizeof h->prob);
    r->hash = du_fnv(r->hash, &h->prob_smooth, sizeof h->prob_smooth);
    r->hash = du_fnv(r->hash, &h->state, sizeof h->state);
    r->hash = du_fnv(r->hash, h->chan_prob, sizeof(float) * (size_t)h->n_channels);
    r->hash = du_fnv(r->hash, h->quality, sizeof(uint16_t) * (size_t)h->n_channels);
    r->hash = du_fnv(r->hash, h->features, sizeof(float) * nf);
    if (r->f && r->hops < r->cap) {
        memcpy(r->f + (size_t)r->hops * nf, h->features, nf * sizeof(float));
        memcpy(r->q + (size_t)r->hops * (size_t)h->n_channels, h->quality,
               (size_t)h->n_channels * sizeof(uint16_t));
        memcpy(r->chan_prob + (size_t)r->hops * (size_t)h->n_channels, h->chan_prob,
               (size_t)h->n_channels * sizeof(float));
    }
    r->hops++;
}

static void run(const ictal_config *base, const float *frames, int nch, int ns, size_t chunk,
                feats *r, int keep)
{
    memset(r, 0, sizeof *r);
    r->hash = 1469598103934665603ull;
    r->nch = nch;
    if (keep) {
        r->cap = ns / 128 + 8;
        r->f = calloc((size_t)r->cap * (size_t)nch * ICTAL_MAX_FEATURES, sizeof(float));
        r->q = calloc((size_t)r->cap * (size_t)nch, sizeof(uint16_t));
        r->chan_prob = calloc((size_t)r->cap * (size_t)nch, sizeof(float));
    }
    ictal_config cfg = *base;
    cfg.on_hop = on_hop;
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

static void feats_free(feats *r)
{
    free(r->f);
    free(r->q);
    free(r->chan_prob);
}

static void features_only(ictal_config *cfg, int nch, int fs)
{
    ictal_config_init(cfg);
    cfg->n_channels = nch;
    cfg->rate_hz = 256.0;
    cfg->feature_set = fs;
}

static void test_features_reference(void)
{
    const int nch = g_nch, ns = g_ns, W = 8, HOP = 64;
    ictal_config cfg;
    features_only(&cfg, nch, 2);
    feats r2, r1;
    run(&cfg, g_frames, nch, ns, 1000, &r2, 1);
    CHECK_EQ_INT(r2.nf, ICTAL_N_FEATURES_SET2);
    features_only(&cfg, nch, 1);
    run(&cfg, g_frames, nch, ns, 1000, &r1, 1);
    CHECK_EQ_INT(r1.nf, ICTAL_N_FEATURES);
    CHECK_EQ_INT(r1.hops, r2.hops);

    /* Set 1's features are exactly the first 22 of set 2, and the flags the same. */
    int same = 1;
    for (int h = 0; h < r1.hops && same; h++)
        for (int c = 0; c < nch; c++) {
            const float *a = r1.f + ((size_t)h * (size_t)nch + (size_t)c) * ICTAL_N_FEATURES;
            const float *b = r2.f + ((size_t)h * (size_t)nch + (size_t)c) * ICTAL_N_FEATURES_SET2;
            if (memcmp(a, b, ICTAL_N_FEATURES * sizeof(float)) != 0 ||
                r1.q[(size_t)h * (size_t)nch + (size_t)c] != r2.q[(size_t)h * (size_t)nch + (size_t)c])
                same = 0;
        }
    CHECK_MSG(same, "set 2 changed a feature or flag of set 1");

    /* The high-passed 128 Hz signal in double (6th-order anti-aliasing, exact
     * decimation 256 -> 128, high-pass), then each window's statistics in two passes. */
    ictal__biquad aa[3], hp;
    for (int s = 0; s < 3; s++)
        ictal__biquad_lowpass(&aa[s], 45.0, 256.0, ictal__butter_q(3, s));
    ictal__biquad_highpass(&hp, 0.5, 128.0, ictal__butter_q(1, 0));
    const int nk = (ns + 1) / 2;
    double *x = malloc(sizeof(double) * (size_t)nk);
    double worst[3] = {0};
    int bad = 0, compared = 0, pattern_flips = 0;
    for (int c = 0; c < nch; c++) {
        du_biquad q[3], h;
        for (int s = 0; s < 3; s++)
            du_biquad_set(&q[s], &aa[s], g_frames[c]);
        int k = 0;
        for (int s = 0; s < ns; s++) {
            double y = g_frames[(size_t)s * (size_t)nch + (size_t)c];
            for (int t = 0; t < 3; t++)
                y = du_biquad_run(&q[t], y);
            if (s % 2 == 0) {
                if (k == 0)
                    du_biquad_set(&h, &hp, y);
                x[k++] = du_biquad_run(&h, y);
            }
        }
        for (int hi = 0; hi < r2.hops; hi++) {
            int lo = (hi + 1 - W) * HOP;
            if (lo < 0)
                lo = 0;
            int end = (hi + 1) * HOP, n = end - lo;
            double cnt[24] = {0};
            for (int i = lo; i < end; i++) { /* samples before the start are 0 */
                float v[4];
                for (int j = 0; j < 4; j++)
                    v[j] = i - 3 + j >= 0 ? (float)x[i - 3 + j] : 0.0f;
                cnt[ordinal_reference(v)] += 1;
            }
            double pe = 0;
            for (int p = 0; p < 24; p++)
                if (cnt[p] > 0)
                    pe -= cnt[p] / n * log(cnt[p] / n);
            pe /= log(24.0);
            double m = 0, m2 = 0, m3 = 0, m4 = 0;
            for (int i = lo; i < end; i++)
                m += x[i];
            m /= n;
            for (int i = lo; i < end; i++) {
                double d = x[i] - m;
                m2 += d * d;
                m3 += d * d * d;
                m4 += d * d * d * d;
            }
            m2 /= n;
            m3 /= n;
            m4 /= n;
            double ref[3] = {pe, m2 > 1e-9 ? m3 / pow(m2, 1.5) : 0,
                             m2 > 1e-9 ? m4 / (m2 * m2) - 3 : 0};
            const float *got = r2.f + ((size_t)hi * (size_t)nch + (size_t)c) * ICTAL_N_FEATURES_SET2;
            /* The detector's front end runs in float: a pattern whose samples differ by
             * less than float rounding may come out the other way (each such flip moves
             * the entropy by at most about 1/n), and the moments agree to about 1e-5. */
            const double tol[3] = {3e-3, 2e-3, 2e-3}; /* kurtosis: relative above 1 */
            for (int f = 0; f < 3; f++) {
                double e = fabs(got[ICTAL_F_PERM_ENTROPY + f] - ref[f]);
                if (f == 0 && e > 1e-6)
                    pattern_flips++;
                if (f == 2)
                    e /= fmax(1.0, fabs(ref[2]));
                worst[f] = e > worst[f] ? e : worst[f];
                if (!(e <= tol[f])) {
                    if (bad < 10)
                        fprintf(stderr, "ch %d hop %d %s: %.6f, reference %.6f\n", c, hi,
                                ictal_feature_name(ICTAL_F_PERM_ENTROPY + f),
                                got[ICTAL_F_PERM_ENTROPY + f], ref[f]);
                    bad++;
                }
                compared++;
            }
        }
    }
    printf("set 2: %d values compared with the reference, %d off; worst error: perm_entropy "
           "%.1e (%d windows not exact), skewness %.1e, excess_kurtosis %.1e (relative above 1)\n",
           compared, bad, worst[0], pattern_flips, worst[1], worst[2]);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(compared, nch * r2.hops * 3);
    /* Real EEG is not degenerate: the features vary and stay in range. */
    double pmin = 1, pmax = 0;
    for (int i = 0; i < r2.hops * nch; i++) {
        float pe = r2.f[(size_t)i * ICTAL_N_FEATURES_SET2 + ICTAL_F_PERM_ENTROPY];
        pmin = pe < pmin ? pe : pmin;
        pmax = pe > pmax ? pe : pmax;
    }
    CHECK(pmin >= 0 && pmax <= 1 && pmax - pmin > 0.1);
    free(x);
    feats_free(&r1);
    feats_free(&r2);
}

/* --- determinism, state, models ------------------------------------------------------------ */

static unsigned char g_mb[4096];
static ictal_model g_model2;

static void test_determinism(void)
{
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = g_nch;
    cfg.rate_hz = 256.0;
    cfg.model = &g_model2;
    const size_t chunks[] = {1, 7, 256, 10000, (size_t)g_ns};
    uint64_t first = 0;
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        feats r;
        run(&cfg, g_frames, g_nch, g_ns, chunks[i], &r, 0);
        CHECK_EQ_INT(r.nf, ICTAL_N_FEATURES_SET2);
        if (i == 0)
            first = r.hash;
        CHECK_MSG(r.hash == first, "set 2: push size %zu gives other output", chunks[i]);
    }
    /* A fractional rate, and features-only mode. */
    cfg.rate_hz = 173.61;
    feats a, b;
    run(&cfg, g_frames, g_nch, g_ns, 1, &a, 0);
    run(&cfg, g_frames, g_nch, g_ns, 333, &b, 0);
    CHECK(a.hash == b.hash);
    cfg.model = NULL;
    cfg.feature_set = 2;
    run(&cfg, g_frames, g_nch, g_ns, 3, &a, 0);
    run(&cfg, g_frames, g_nch, g_ns, 4096, &b, 0);
    CHECK(a.hash == b.hash);
    CHECK_EQ_INT(a.nf, ICTAL_N_FEATURES_SET2);
}

static void test_state_and_models(void)
{
    ictal_config cfg;
    ictal_diag d;
    static unsigned char mb1[4096];
    ictal_model m1;
    size_t l1 = du_line_length_model(mb1, sizeof mb1, 3.8f, 4.0f);
    CHECK(l1 > 0 && ictal_model_parse(&m1, mb1, l1, NULL) == 0);

    /* Set 1 pays nothing: its state is what it was before set 2 existed. */
    ictal_config_init(&cfg);
    cfg.rate_hz = 256;
    cfg.model = &m1;
    cfg.n_channels = 4;
    size_t s1_4 = ictal_detector_size(&cfg);
    cfg.n_channels = 18;
    size_t s1_18 = ictal_detector_size(&cfg);
    CHECK_EQ_INT(s1_4, 5536);
    CHECK_EQ_INT(s1_18, 21344);
    cfg.model = &g_model2;
    cfg.n_channels = 4;
    size_t s2_4 = ictal_detector_size(&cfg);
    cfg.n_channels = 18;
    size_t s2_18 = ictal_detector_size(&cfg);
    cfg.n_channels = 32;
    size_t s2_32 = ictal_detector_size(&cfg);
    printf("state: set 1 4 ch %zu B, 18 ch %zu B; set 2 4 ch %zu B, 18 ch %zu B, 32 ch %zu B\n",
           s1_4, s1_18, s2_4, s2_18, s2_32);
    CHECK(s2_4 > s1_4 && s2_4 <= 16384);
    CHECK(s2_18 > s1_18 && s2_18 <= 65536);
    /* features-only set 2 is the same size as with a set-2 model */
    ictal_config_init(&cfg);
    cfg.rate_hz = 256;
    cfg.n_channels = 18;
    cfg.feature_set = 2;
    CHECK_EQ_INT(ictal_detector_size(&cfg), s2_18);
    cfg.feature_set = 0; /* zero (a config not from ictal_config_init) is set 1 */
    CHECK_EQ_INT(ictal_config_check(&cfg, NULL), 0);
    cfg.feature_set = 3;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "feature set 3") != NULL);
    CHECK_EQ_INT(ictal_detector_size(&cfg), 0);

    /* A model fixes the set; others are refused with a clear error. */
    cfg.feature_set = 1;
    cfg.model = &g_model2;
    ictal_detector *det = du_detector_new(&cfg, NULL);
    CHECK(det != NULL);
    if (det) {
        CHECK_EQ_INT(ictal_detector_feature_set(det), 2);
        CHECK_EQ_INT(ictal_detector_n_features(det), 25);
        free(det);
    }
    ictal_model bad = g_model2;
    bad.info.feature_set = 3;
    cfg.model = &bad;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EVERSION);
    CHECK(strstr(d.message, "feature set 3") != NULL);
    bad.info.feature_set = 2;
    bad.info.n_features = ICTAL_N_FEATURES;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EVERSION);
    bad = m1;
    bad.info.n_features = ICTAL_N_FEATURES_SET2;
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EVERSION);
    CHECK_EQ_INT(ictal_feature_count(1), 22);
    CHECK_EQ_INT(ictal_feature_count(2), 25);
    CHECK_EQ_INT(ictal_feature_count(0), 0);
    CHECK_STR(ictal_feature_name(ICTAL_F_SKEWNESS), "skewness");
    CHECK_STR(ictal_feature_name(ICTAL_F_EXCESS_KURTOSIS), "excess_kurtosis");

    /* The model reads the new columns: a logistic model on permutation entropy alone
     * gives each usable channel sigmoid(-8 (pe - 0.8)). */
    ictal_config_init(&cfg);
    cfg.n_channels = g_nch;
    cfg.rate_hz = 256;
    cfg.model = &g_model2;
    feats r;
    run(&cfg, g_frames, g_nch, g_ns / 4, 500, &r, 1);
    int checked = 0, off = 0;
    for (int h = 0; h < r.hops; h++)
        for (int c = 0; c < g_nch; c++) {
            size_t i = (size_t)h * (size_t)g_nch + (size_t)c;
            if (r.q[i] != 0)
                continue;
            double pe = r.f[i * ICTAL_N_FEATURES_SET2 + ICTAL_F_PERM_ENTROPY];
            double want = 1.0 / (1.0 + exp(8.0 * (pe - 0.8)));
            off += fabs(r.chan_prob[i] - want) > 1e-5;
            checked++;
        }
    CHECK(checked > 1000);
    CHECK_EQ_INT(off, 0);
    feats_free(&r);
}

/* --- NaN and constant input ------------------------------------------------------------- */

static void test_nan_and_constant(void)
{
    const int nch = 4, ns = 256 * 30;
    float *fr = malloc(sizeof(float) * (size_t)nch * (size_t)ns);
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < nch; c++) {
            float v = g_frames[(size_t)s * (size_t)g_nch + (size_t)c];
            if (c == 1)
                v = 250.0f; /* constant */
            if (c == 2 && s >= 256 * 10 && s < 256 * 12)
                v = (s & 1) ? NAN : INFINITY;
            fr[(size_t)s * nch + (size_t)c] = v;
        }
    ictal_config cfg;
    features_only(&cfg, nch, 2);
    feats r;
    run(&cfg, fr, nch, ns, 100, &r, 1);
    int finite = 1, flagged = 0;
    for (int h = 0; h < r.hops; h++)
        for (int c = 0; c < nch; c++) {
            size_t i = (size_t)h * nch + (size_t)c;
            const float *f = r.f + i * ICTAL_N_FEATURES_SET2;
            for (int k = 0; k < ICTAL_N_FEATURES_SET2; k++)
                finite &= isfinite(f[k]) != 0;
            if (c == 2 && (r.q[i] & ICTAL_Q_NAN))
                flagged++;
            if (c == 1) {
                /* a constant input high-passes to a constant: one pattern, no spread */
                CHECK_NEAR(f[ICTAL_F_PERM_ENTROPY], 0.0, 0);
                CHECK_NEAR(f[ICTAL_F_SKEWNESS], 0.0, 0);
                CHECK_NEAR(f[ICTAL_F_EXCESS_KURTOSIS], 0.0, 0);
            }
        }
    CHECK(finite);
    CHECK(flagged >= 8);
    feats_free(&r);
    free(fr);
}

int main(void)
{
    test_kernels_synthetic();
    const char *path = test_shared_path(EXCERPT);
    if (path == NULL)
        TEST_SKIP("needs ../shared/" EXCERPT);
    g_frames = du_load_npy_frames(path, &g_nch, &g_ns);
    CHECK(g_frames != NULL);
    if (g_frames == NULL)
        return test_summary();
    test_model m;
    test_model_init(&m);
    m.feature_set = 2;
    m.weights[ICTAL_F_PERM_ENTROPY] = -8.0f;
    m.mean[ICTAL_F_PERM_ENTROPY] = 0.8f;
    m.provenance = "test: permutation entropy only";
    size_t ml = test_model_serialize(&m, g_mb, sizeof g_mb);
    CHECK(ml > 0);
    CHECK_EQ_INT(ictal_model_parse(&g_model2, g_mb, ml, NULL), 0);
    CHECK_EQ_INT(g_model2.info.feature_set, 2);
    CHECK_EQ_INT(g_model2.info.n_features, 25);

    test_moments_real();
    test_features_reference();
    test_determinism();
    test_state_and_models();
    test_nan_and_constant();
    free(g_frames);
    return test_summary();
}
