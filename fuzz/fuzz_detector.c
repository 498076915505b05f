/* Fuzzes the detector: a configuration from the first bytes (channels, rate, window,
 * hop, decisions, notch, quality thresholds, a model of feature set 1 or 2 or none, the
 * feature set of features-only mode, 0 to 3), then samples (any float
 * bit pattern: NaN, infinities, denormals, huge values) pushed in chunks of the sizes the
 * input chooses. Checks: init succeeds for every configuration that passes the check,
 * hops are finite, channels with a quality flag have probability 0, and two runs with
 * other chunk sizes give the same result. */
#include "ictal/ictal.h"
#include "ictal/model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/test_model_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct acc {
    uint64_t hash;
    unsigned hops;
} acc;

static void on_hop(void *user, const ictal_hop *h)
{
    acc *a = user;
    a->hops++;
    for (int c = 0; c < h->n_channels; c++) {
        for (int f = 0; f < h->n_features; f++)
            if (!isfinite(h->features[c * h->n_features + f]))
                abort();
        if (h->quality[c] && h->chan_prob[c] != 0.0f && !isnan(h->chan_prob[c]))
            abort();
    }
    uint32_t u;
    memcpy(&u, &h->prob_smooth, 4);
    a->hash = (a->hash ^ u ^ h->state) * 1099511628211ull;
    for (int i = 0; i < h->n_channels * h->n_features; i++) {
        memcpy(&u, &h->features[i], 4);
        a->hash = (a->hash ^ u) * 1099511628211ull;
    }
}

static unsigned char model_bytes[2][4096];
static size_t model_len[2];

static void make_model(int k) /* k = feature set - 1 */
{
    test_model m;
    test_model_init(&m);
    m.feature_set = k + 1;
    for (int i = 0; i < ictal_feature_count(k + 1); i++)
        m.weights[i] = (float)((i % 5) - 2) * 0.3f;
    m.window_s = 2.0f;
    m.aggregation = ICTAL_AGG_TOPK_MEAN;
    m.top_k = 2;
    model_len[k] = test_model_serialize(&m, model_bytes[k], sizeof model_bytes[k]);
}

static int run(const ictal_config *base, const float *x, size_t frames, size_t chunk, acc *a)
{
    ictal_config cfg = *base;
    cfg.on_hop = on_hop;
    cfg.user = a;
    size_t sz = ictal_detector_size(&cfg);
    if (sz == 0)
        return -1;
    void *mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, (sz + 15) / 16 * 16);
    if (mem == NULL)
        return -1;
    if (ictal_detector_init(mem, sz, &cfg) != 0)
        abort(); /* the check passed: init must too */
    size_t nch = (size_t)cfg.n_channels;
    for (size_t s = 0; s < frames; s += chunk) {
        size_t n = frames - s < chunk ? frames - s : chunk;
        if (ictal_detector_push(mem, x + s * nch, n) != 0)
            abort();
    }
    ictal_alarm al;
    while (ictal_detector_poll_alarm(mem, &al))
        if (!(al.onset_s <= al.alarm_s + 1e-9))
            abort();
    free(mem);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16)
        return 0;
    int mk = (data[2] >> 1) & 1;
    if (model_len[mk] == 0)
        make_model(mk);
    ictal_model model;
    if (ictal_model_parse(&model, model_bytes[mk], model_len[mk], NULL) != 0)
        abort();
    static const double rates[] = {100, 128, 160, 173.61, 200, 250, 256, 400, 500, 512, 1000,
                                   2048, 99, 3000};
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = data[0] % 34;
    cfg.rate_hz = rates[data[1] % (sizeof rates / sizeof rates[0])];
    cfg.model = (data[2] & 1) ? &model : NULL;
    cfg.hop_s = 0.25f * (float)(1 + data[3] % 4);
    cfg.window_s = cfg.hop_s * (float)(1 + data[4] % 16);
    cfg.notch_hz = (data[5] % 3) * 10 + (data[5] % 3 ? 40 : 0);
    cfg.post.threshold_on = (data[6] & 1) ? (float)data[7] / 255.0f : -1.0f;
    cfg.post.min_duration_s = (float)(data[8] % 8);
    cfg.post.merge_gap_s = (float)(data[9] % 16);
    cfg.post.refractory_s = (float)(data[10] % 16);
    cfg.flat_uv = (float)(data[11] % 4);
    size_t chunk = 1 + data[12] * (size_t)(1 + data[13]);
    cfg.feature_set = data[14] % 4; /* 0 is set 1, 3 is refused; a model fixes it */
    data += 16;
    size -= 16;
    if (cfg.n_channels == 0 || size / 4 / (size_t)cfg.n_channels == 0) {
        ictal_diag d;
        ictal_diag_init(&d);
        if (ictal_config_check(&cfg, &d) != 0 && d.message[0] == '\0')
            abort();
        return 0;
    }
    size_t frames = size / 4 / (size_t)cfg.n_channels;
    /* Repeat the input so that windows fill (up to 20 s). */
    size_t total = frames;
    while (total < (size_t)(cfg.rate_hz * 20) && total < frames * 64)
        total += frames;
    float *x = malloc(total * (size_t)cfg.n_channels * sizeof(float));
    if (x == NULL)
        return 0;
    for (size_t i = 0; i < total * (size_t)cfg.n_channels; i++)
        memcpy(&x[i], data + (i % (frames * (size_t)cfg.n_channels)) * 4, 4);
    acc a = {1469598103934665603ull, 0}, b = {1469598103934665603ull, 0};
    if (run(&cfg, x, total, chunk, &a) == 0) {
        run(&cfg, x, total, 1 + (chunk * 7) % 997, &b);
        if (a.hash != b.hash || a.hops != b.hops)
            abort(); /* chunking changed the output */
    } else {
        ictal_diag d;
        ictal_diag_init(&d);
        if (ictal_config_check(&cfg, &d) == 0 || d.message[0] == '\0')
            abort();
    }
    free(x);
    return 0;
}
