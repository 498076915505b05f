/*
 * Per-stream analysis: what the server runs on every device stream. It turns frames in
 * µV into hops (probability, burden, state, signal quality per channel) and detector
 * events (alarm raised, event ended), through callbacks.
 *
 * This is the one place where the server meets libictal's detector (ictal.h): one
 * detector per stream, its memory sized by ictal_detector_size() and owned here.
 * Without a model the detector runs in features-only mode: hops still carry
 * per-channel signal quality (libictal's ICTAL_Q_* flags and the RMS), and no event is
 * ever raised.
 */
#ifndef ICTAL_SERVER_ANALYSIS_H
#define ICTAL_SERVER_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"
#include "ictal/model.h"

#define ICTAL__ANALYSIS_MAX_CHANNELS 32

typedef struct ictal__hop_info {
    double t_s;          /* end of the hop, seconds from the session start */
    float prob;          /* smoothed probability; NaN without a model */
    float burden;        /* share of the last 5 minutes above threshold; NaN without a model */
    float threshold;     /* the alarm threshold; NaN without a model */
    const char *state;   /* "warmup", "idle", "alarm", ... or "signal" without a model */
    int n_channels;
    float rms_uv[ICTAL__ANALYSIS_MAX_CHANNELS];
    uint16_t quality[ICTAL__ANALYSIS_MAX_CHANNELS]; /* ICTAL_Q_* bits of ictal.h */
} ictal__hop_info;

typedef struct ictal__event_info {
    int kind;            /* 1 alarm raised, 2 event ended */
    uint32_t id;         /* per stream, stable across a replay of the same frames */
    double onset_s, alarm_s, offset_s;
    float peak_prob;
    uint32_t channels;   /* bit c: channel c fired */
} ictal__event_info;

typedef struct ictal__analysis_cb {
    void (*on_hop)(void *user, const ictal__hop_info *hop);
    void (*on_event)(void *user, const ictal__event_info *ev);
    void *user;
} ictal__analysis_cb;

typedef struct ictal__analysis ictal__analysis;

/* model may be NULL (signal quality only); it must outlive the analysis. labels:
 * n_channels bipolar labels ("F7-T7"). */
int ictal__analysis_create(ictal__analysis **out, int n_channels, const char *const *labels,
                           double rate_hz, const ictal_model *model, const ictal__analysis_cb *cb,
                           ictal_diag *d);
/*
 * The channels the detector sees: the device's channels mapped to a bipolar montage
 * (ictal/montage.h, ICTAL_MONTAGE_AUTO: the double banana when the device has it, else
 * the wearable temporal chains, else the bipolar pairs it has, else its channels as
 * they are). Hop quality and RMS are per montage channel.
 */
int ictal__analysis_channels(const ictal__analysis *a);
const char *ictal__analysis_label(const ictal__analysis *a, int channel);
/* Maps n_frames device frames to montage frames (out: n_frames * channels floats). */
void ictal__analysis_montage(const ictal__analysis *a, const float *in, size_t n_frames, float *out);

/* Pushes frames (frame-major µV, device channels); callbacks fire as hops complete. */
int ictal__analysis_push(ictal__analysis *a, const float *frames_uv, size_t n_frames);
/* After a gap: starts over at t0_s (open events end first). */
void ictal__analysis_reset(ictal__analysis *a, double t0_s);
/* Bytes of state held for the stream. */
size_t ictal__analysis_bytes(const ictal__analysis *a);
void ictal__analysis_destroy(ictal__analysis *a);

#endif
