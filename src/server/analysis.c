/* Per-stream analysis with libictal's detector (analysis.h). */
#include "server/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/ictal.h"

struct ictal__analysis {
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
    a->n_channels = n_channels;
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = n_channels;
    cfg.rate_hz = rate_hz;
    cfg.labels = labels;
    cfg.model = model;
    cfg.on_hop = det_hop;
    cfg.on_alarm = det_alarm;
    cfg.user = a;
    int rc = ictal_config_check(&cfg, NULL);
    if (rc == ICTAL_EINVAL && labels) {
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
        free(a);
        return rc;
    }
    ictal_postproc post;
    ictal_detector_postproc(a->det, &post);
    a->threshold = post.threshold_on;
    *out = a;
    return 0;
}

int ictal__analysis_push(ictal__analysis *a, const float *frames_uv, size_t n_frames)
{
    return ictal_detector_push(a->det, frames_uv, n_frames);
}

void ictal__analysis_reset(ictal__analysis *a, double t0_s)
{
    ictal_detector_reset(a->det, t0_s);
}

size_t ictal__analysis_bytes(const ictal__analysis *a)
{
    return sizeof *a + a->det_bytes;
}

void ictal__analysis_destroy(ictal__analysis *a)
{
    if (a == NULL)
        return;
    free(a->det);
    free(a);
}
