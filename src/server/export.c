/* Session frame log -> EDF+ (export.h). */
#include "server/export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ictal/edf.h"
#include "ictal/wire.h"
#include "server/seslog.h"

typedef struct scan {
    uint32_t spf;       /* samples per frame if uniform, else 0 */
    int format;
    float scale;
    int n_channels;
    int64_t frames;
} scan;

static int scan_cb(void *user, const ictal_wire_frame *f)
{
    scan *s = user;
    if (s->frames == 0) {
        s->spf = f->n_samples;
        s->format = f->format;
        s->scale = f->scale_uv;
        s->n_channels = f->n_channels;
    } else if (f->n_samples != s->spf) {
        s->spf = 0;
    }
    s->frames++;
    return 0;
}

typedef struct writer_ctx {
    ictal_edf_writer *w;
    int n_channels;
    double rate_hz;
    int64_t start_us;
    uint32_t per_record;   /* samples per record per channel */
    float *rec;            /* signal-major record buffer [n_channels * per_record] */
    uint32_t filled;       /* samples in rec */
    double rec_start_s;    /* start of the record being filled, or -1: contiguous */
    int64_t expected_us;
    float *uv;
    int rc;
    ictal_diag *d;
} writer_ctx;

static int flush_record(writer_ctx *c, int pad)
{
    if (c->filled == 0)
        return 0;
    if (c->filled < c->per_record) {
        if (!pad)
            return 0;
        for (int ch = 0; ch < c->n_channels; ch++)
            memset(c->rec + (size_t)ch * c->per_record + c->filled, 0,
                   (c->per_record - c->filled) * sizeof(float));
        double at = (c->rec_start_s >= 0 ? c->rec_start_s : 0) +
                    (double)c->filled / c->rate_hz;
        ictal_edf_writer_annotate(c->w, at, (double)(c->per_record - c->filled) / c->rate_hz,
                                  "padding (no data)", c->d);
    }
    const float *ptrs[ICTAL_WIRE_MAX_CHANNELS];
    for (int ch = 0; ch < c->n_channels; ch++)
        ptrs[ch] = c->rec + (size_t)ch * c->per_record;
    int rc = ictal_edf_writer_write_record(c->w, c->rec_start_s, ptrs, c->d);
    c->filled = 0;
    c->rec_start_s = -1;
    return rc;
}

static int write_cb(void *user, const ictal_wire_frame *f)
{
    writer_ctx *c = user;
    int64_t tol_us = (int64_t)(2e6 / c->rate_hz) + 20000;
    if (c->expected_us != INT64_MIN && f->device_time_us > c->expected_us + tol_us) {
        /* A gap: close the current record, the next one starts at the frame's time. */
        if ((c->rc = flush_record(c, 1)) != 0)
            return 1;
        c->rec_start_s = (double)(f->device_time_us - c->start_us) * 1e-6;
    } else if (c->expected_us == INT64_MIN) {
        c->rec_start_s = (double)(f->device_time_us - c->start_us) * 1e-6;
    }
    c->expected_us = f->device_time_us + (int64_t)((double)f->n_samples * 1e6 / c->rate_hz);
    ictal_wire_decode_uv(f, c->uv);
    for (uint32_t i = 0; i < f->n_samples; i++) {
        for (int ch = 0; ch < c->n_channels; ch++)
            c->rec[(size_t)ch * c->per_record + c->filled] = c->uv[(size_t)i * (size_t)c->n_channels + (size_t)ch];
        if (++c->filled == c->per_record && (c->rc = flush_record(c, 0)) != 0)
            return 1;
    }
    return 0;
}

int ictal__export_edf(const char *log_path, const char *out_path, json_t *session, json_t *alarms,
                      ictal_diag *d)
{
    scan s = {0, 0, 0, 0, 0};
    int rc = ictal__seslog_walk(log_path, scan_cb, &s, d);
    if (rc != 0)
        return rc;
    json_t *labels = json_object_get(session, "labels");
    double rate = json_number_value(json_object_get(session, "rate_hz"));
    int n = (int)json_array_size(labels);
    if (s.frames == 0)
        return ictal_diag_error(d, ICTAL_ENOENT, "the session has no data yet");
    if (n != s.n_channels || n < 1 || rate <= 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "session row and frame log disagree");
    uint32_t per_record = s.spf ? s.spf : (uint32_t)lround(rate);
    double phys = s.format == ICTAL_WIRE_INT16 ? 32768.0 * s.scale : 3276.8;
    ictal_edf_writer_signal sig[ICTAL_WIRE_MAX_CHANNELS];
    memset(sig, 0, sizeof sig);
    for (int c = 0; c < n; c++) {
        sig[c].label = json_string_value(json_array_get(labels, (size_t)c));
        sig[c].rate_hz = rate;
        sig[c].physical_min = -phys;
        sig[c].physical_max = phys * 32767.0 / 32768.0;
        sig[c].digital_min = -32768;
        sig[c].digital_max = 32767;
        sig[c].unit = "uV";
    }
    int64_t start_us = json_integer_value(json_object_get(session, "start_time_us"));
    time_t secs = (time_t)(start_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    ictal_edf_writer_options o;
    memset(&o, 0, sizeof o);
    o.record_duration_s = (double)per_record / rate;
    o.year = tm.tm_year + 1900;
    o.month = tm.tm_mon + 1;
    o.day = tm.tm_mday;
    o.hour = tm.tm_hour;
    o.minute = tm.tm_min;
    o.second = tm.tm_sec;
    o.start_subsecond_s = (double)(start_us % 1000000) * 1e-6;
    char recording[81];
    snprintf(recording, sizeof recording, "ictal session %lld device %s",
             (long long)json_integer_value(json_object_get(session, "id")),
             json_string_value(json_object_get(session, "device_id")));
    o.recording = recording;
    o.annotation_bytes = 160;
    writer_ctx c;
    memset(&c, 0, sizeof c);
    c.n_channels = n;
    c.rate_hz = rate;
    c.start_us = start_us;
    c.per_record = per_record;
    c.rec_start_s = -1;
    c.expected_us = INT64_MIN;
    c.d = d;
    c.rec = malloc((size_t)per_record * (size_t)n * sizeof(float));
    c.uv = malloc((size_t)ICTAL_WIRE_MAX_FRAME_BYTES / 2 * sizeof(float));
    if (c.rec == NULL || c.uv == NULL) {
        free(c.rec);
        free(c.uv);
        return ICTAL_ENOMEM;
    }
    rc = ictal_edf_writer_open(&c.w, out_path, sig, n, &o, d);
    if (rc == 0) {
        rc = ictal__seslog_walk(log_path, write_cb, &c, d);
        if (rc == 0)
            rc = c.rc;
        if (rc == 0)
            rc = flush_record(&c, 1);
        for (size_t i = 0; rc == 0 && i < json_array_size(alarms); i++) {
            json_t *a = json_array_get(alarms, i);
            double onset = json_number_value(json_object_get(a, "onset_s"));
            json_t *off = json_object_get(a, "offset_s");
            char text[96];
            snprintf(text, sizeof text, "seizure alarm %lld (peak p %.2f)%s",
                     (long long)json_integer_value(json_object_get(a, "id")),
                     json_number_value(json_object_get(a, "peak_prob")),
                     json_is_number(json_object_get(a, "acked_at")) ? " acknowledged" : "");
            rc = ictal_edf_writer_annotate(c.w, onset,
                                           json_is_number(off) ? json_number_value(off) - onset : -1,
                                           text, d);
        }
        int rc2 = ictal_edf_writer_close(c.w, d);
        if (rc == 0)
            rc = rc2;
    }
    free(c.rec);
    free(c.uv);
    return rc;
}
