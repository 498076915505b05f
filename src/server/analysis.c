/* Per-stream analysis with libictal's detector (analysis.h). */
#include "server/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/ictal.h"
#include "ictal/montage.h"

#define CHUNK_FRAMES 64 /* montage output is pushed to the detector this many frames at a time */

struct ictal__analysis {
    ictal_montage mon;
    int n_in;
    float *chunk;      /* CHUNK_FRAMES montage frames */
    ictal_detector *det;
    size_t det_bytes;
    int n_channels;
    float threshold;
    ictal__analysis_cb cb;
};

static void det_hop(void *user, const ictal_hop *h)
{
    ictal__analysis *a = user;
    if (a->cb.on_hop == NULL)
        return;
    ictal__hop_info o;
    memset(&o, 0, sizeof o);
    o.t_s = h->t_s;
    o.prob = h->state == ICTAL_STATE_NO_MODEL ? NAN : h->prob_smooth;
    o.burden = h->state == ICTAL_STATE_NO_MODEL ? NAN : h->burden;
    o.threshold = h->state == ICTAL_STATE_NO_MODEL ? NAN : a->threshold;
    o.state = h->state == ICTAL_STATE_NO_MODEL ? "signal" : ictal_state_name((int)h->state);
    o.n_channels = h->n_channels;
    for (int c = 0; c < h->n_channels && c < ICTAL__ANALYSIS_MAX_CHANNELS; c++) {
        /* log variance is L(var) = log10(1 + var) in µV^2. */
        double lv = h->features[(size_t)c * (size_t)h->n_features + ICTAL_F_LOG_VARIANCE];
        double var = pow(10.0, lv) - 1.0;
        o.rms_uv[c] = (float)sqrt(var > 0 ? var : 0);
        o.quality[c] = h->quality[c];
    }
    a->cb.on_hop(a->cb.user, &o);
}

static void det_alarm(void *user, const ictal_alarm *ev)
{
    ictal__analysis *a = user;
    if (a->cb.on_event == NULL)
        return;
    ictal__event_info o = {ev->kind == ICTAL_ALARM_RAISED ? 1 : 2, ev->id, ev->onset_s,
                           ev->alarm_s, ev->offset_s, ev->peak_prob, ev->channels};
    a->cb.on_event(a->cb.user, &o);
}

int ictal__analysis_create(ictal__analysis **out, int n_channels, const char *const *labels,
                           double rate_hz, const ictal_model *model, const ictal__analysis_cb *cb,
                           ictal_diag *d)
{
    *out = NULL;
    if (n_channels < 1 || n_channels > ICTAL__ANALYSIS_MAX_CHANNELS ||
        n_channels > ICTAL_MAX_CHANNELS)
        return ictal_diag_error(d, ICTAL_ERANGE, "channel count %d outside 1..%d", n_channels,
                                ICTAL_MAX_CHANNELS);
    ictal__analysis *a = calloc(1, sizeof *a);
    if (a == NULL)
        return ICTAL_ENOMEM;
    if (cb)
        a->cb = *cb;
    a->n_in = n_channels;
    int rc = labels ? ictal_montage_build(&a->mon, ICTAL_MONTAGE_AUTO, labels, n_channels, NULL)
                    : ICTAL_ENOENT;
    if (rc != 0) {
        /* Labels that name no electrode: the channels as they are. */
        memset(&a->mon, 0, sizeof a->mon);
        a->mon.n_channels = n_channels;
        for (int c = 0; c < n_channels; c++) {
            a->mon.pos[c] = (int16_t)c;
            a->mon.neg[c] = -1;
            snprintf(a->mon.labels[c], ICTAL_LABEL_MAX, "%s", labels ? labels[c] : "");
        }
    }
    a->n_channels = a->mon.n_channels;
    a->chunk = malloc((size_t)CHUNK_FRAMES * (size_t)a->n_channels * sizeof(float));
    if (a->chunk == NULL) {
        free(a);
        return ICTAL_ENOMEM;
    }
    const char *mlabels[ICTAL_MONTAGE_MAX];
    for (int c = 0; c < a->n_channels; c++)
        mlabels[c] = a->mon.labels[c];
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = a->n_channels;
    cfg.rate_hz = rate_hz;
    cfg.labels = mlabels;
    cfg.model = model;
    cfg.on_hop = det_hop;
    cfg.on_alarm = det_alarm;
    cfg.user = a;
    rc = ictal_config_check(&cfg, NULL);
    if (rc == ICTAL_EINVAL) {
        /* Labels the detector does not take (not bipolar): run without them. */
        cfg.labels = NULL;
        rc = ictal_config_check(&cfg, d);
    } else if (rc != 0) {
        rc = ictal_config_check(&cfg, d);
    }
    if (rc == 0) {
        a->det_bytes = ictal_detector_size(&cfg);
        size_t rounded = (a->det_bytes + ICTAL_DETECTOR_ALIGN - 1) / ICTAL_DETECTOR_ALIGN *
                         ICTAL_DETECTOR_ALIGN;
        void *mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, rounded);
        if (mem == NULL)
            rc = ICTAL_ENOMEM;
        else if ((rc = ictal_detector_init(mem, rounded, &cfg)) != 0)
            free(mem);
        else
            a->det = mem;
    }
    if (rc != 0) {
        free(a->chunk);
        free(a);
        return rc;
    }
    ictal_postproc post;
    ictal_detector_postproc(a->det, &post);
    a->threshold = post.threshold_on;
    *out = a;
    return 0;
}

int ictal__analysis_channels(const ictal__analysis *a)
{
    return a->n_channels;
}

const char *ictal__analysis_label(const ictal__analysis *a, int channel)
{
    return channel >= 0 && channel < a->n_channels ? a->mon.labels[channel] : "";
}

void ictal__analysis_montage(const ictal__analysis *a, const float *in, size_t n_frames, float *out)
{
    for (size_t f = 0; f < n_frames; f++)
        ictal_montage_apply(&a->mon, in + f * (size_t)a->n_in, out + f * (size_t)a->n_channels);
}

int ictal__analysis_push(ictal__analysis *a, const float *frames_uv, size_t n_frames)
{
    for (size_t f = 0; f < n_frames; f += CHUNK_FRAMES) {
        size_t n = n_frames - f < CHUNK_FRAMES ? n_frames - f : CHUNK_FRAMES;
        ictal__analysis_montage(a, frames_uv + f * (size_t)a->n_in, n, a->chunk);
        int rc = ictal_detector_push(a->det, a->chunk, n);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void ictal__analysis_reset(ictal__analysis *a, double t0_s)
{
    ictal_detector_reset(a->det, t0_s);
}

size_t ictal__analysis_bytes(const ictal__analysis *a)
{
    return sizeof *a + a->det_bytes + (size_t)CHUNK_FRAMES * (size_t)a->n_channels * sizeof(float);
}

void ictal__analysis_destroy(ictal__analysis *a)
{
    if (a == NULL)
        return;
    free(a->det);
    free(a->chunk);
    free(a);
}
