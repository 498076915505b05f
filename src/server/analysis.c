/* Per-stream analysis (analysis.h): signal quality per hop; the detector's decisions
 * when a model is given. */
#include "server/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOP_S 0.5

struct ictal__analysis {
    int n_channels;
    double rate_hz;
    ictal__analysis_cb cb;
    double t0_s;
    uint64_t frames;        /* since t0 */
    uint32_t hop_frames;    /* frames per hop */
    uint32_t in_hop;        /* frames in the current hop */
    double sum[ICTAL__ANALYSIS_MAX_CHANNELS], sum2[ICTAL__ANALYSIS_MAX_CHANNELS];
    float lo[ICTAL__ANALYSIS_MAX_CHANNELS], hi[ICTAL__ANALYSIS_MAX_CHANNELS];
    uint16_t flags[ICTAL__ANALYSIS_MAX_CHANNELS];
};

static void hop_clear(ictal__analysis *a)
{
    a->in_hop = 0;
    for (int c = 0; c < a->n_channels; c++) {
        a->sum[c] = a->sum2[c] = 0;
        a->lo[c] = INFINITY;
        a->hi[c] = -INFINITY;
        a->flags[c] = 0;
    }
}

int ictal__analysis_create(ictal__analysis **out, int n_channels, const char *const *labels,
                           double rate_hz, const void *model, const ictal__analysis_cb *cb,
                           ictal_diag *d)
{
    (void)labels;
    *out = NULL;
    if (n_channels < 1 || n_channels > ICTAL__ANALYSIS_MAX_CHANNELS)
        return ictal_diag_error(d, ICTAL_ERANGE, "channel count %d outside 1..32", n_channels);
    if (!(rate_hz >= 1.0 && rate_hz <= 65536.0))
        return ictal_diag_error(d, ICTAL_ERANGE, "rate %g Hz out of range", rate_hz);
    if (model != NULL)
        return ictal_diag_error(d, ICTAL_ENOTSUP, "this build has no detector to run a model");
    ictal__analysis *a = calloc(1, sizeof *a);
    if (a == NULL)
        return ICTAL_ENOMEM;
    a->n_channels = n_channels;
    a->rate_hz = rate_hz;
    if (cb)
        a->cb = *cb;
    a->hop_frames = (uint32_t)lround(rate_hz * HOP_S);
    if (a->hop_frames < 1)
        a->hop_frames = 1;
    hop_clear(a);
    *out = a;
    return 0;
}

static void hop_emit(ictal__analysis *a)
{
    ictal__hop_info h;
    memset(&h, 0, sizeof h);
    h.t_s = a->t0_s + (double)a->frames / a->rate_hz;
    h.prob = NAN;
    h.burden = NAN;
    h.threshold = NAN;
    h.state = "signal";
    h.n_channels = a->n_channels;
    for (int c = 0; c < a->n_channels; c++) {
        double n = a->in_hop;
        double mean = a->sum[c] / n;
        double var = a->sum2[c] / n - mean * mean;
        h.rms_uv[c] = (float)sqrt(var > 0 ? var : 0);
        h.quality[c] = a->flags[c];
        if (a->hi[c] - a->lo[c] < 1.0f)
            h.quality[c] |= 1;
    }
    if (a->cb.on_hop)
        a->cb.on_hop(a->cb.user, &h);
    hop_clear(a);
}

int ictal__analysis_push(ictal__analysis *a, const float *x, size_t n_frames)
{
    int nc = a->n_channels;
    for (size_t f = 0; f < n_frames; f++) {
        const float *row = x + f * (size_t)nc;
        for (int c = 0; c < nc; c++) {
            float v = row[c];
            if (!isfinite(v)) {
                a->flags[c] |= 4;
                continue;
            }
            a->sum[c] += v;
            a->sum2[c] += (double)v * v;
            if (v < a->lo[c])
                a->lo[c] = v;
            if (v > a->hi[c])
                a->hi[c] = v;
        }
        a->frames++;
        if (++a->in_hop == a->hop_frames)
            hop_emit(a);
    }
    return 0;
}

void ictal__analysis_reset(ictal__analysis *a, double t0_s)
{
    a->t0_s = t0_s;
    a->frames = 0;
    hop_clear(a);
}

size_t ictal__analysis_bytes(const ictal__analysis *a)
{
    return sizeof *a;
}

void ictal__analysis_destroy(ictal__analysis *a)
{
    free(a);
}
