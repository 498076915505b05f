/* Live EDF+ recording of a session (recorder.h). */
#include "server/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ictal/edf.h"
#include "server/seslog.h"

struct ictal__recorder {
    ictal_edf_writer *w;
    int n_channels;
    double rate_hz;
    int64_t start_us;
    uint32_t per_record;   /* samples per record per channel */
    float *rec;            /* signal-major record being filled [n_channels * per_record] */
    uint32_t filled;       /* samples in rec */
    double rec_start_s;    /* start of the record being filled, or -1: contiguous */
    int64_t expected_us;   /* device time of the next contiguous sample, or INT64_MIN */
    double end_s;          /* end of the last record written */
};

/* A record duration the 8-character header field holds exactly. */
static int duration_fits(double dur_s)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.8g", dur_s);
    return strlen(buf) <= 8 && strtod(buf, NULL) == dur_s;
}

int ictal__recorder_open(ictal__recorder **out, const char *path, const ictal__recorder_session *s,
                         const ictal_wire_frame *first, ictal_diag *d)
{
    *out = NULL;
    int n = (int)json_array_size(s->labels);
    if (n != first->n_channels || n < 1 || n > ICTAL_WIRE_MAX_CHANNELS || !(s->rate_hz > 0))
        return ictal_diag_error(d, ICTAL_EFORMAT, "session and frame disagree on the channels");
    uint32_t per_record = first->n_samples;
    if (!duration_fits((double)per_record / s->rate_hz))
        per_record = (uint32_t)lround(s->rate_hz);
    double phys = first->format == ICTAL_WIRE_INT16 ? 32768.0 * first->scale_uv : 3276.8;
    ictal_edf_writer_signal sig[ICTAL_WIRE_MAX_CHANNELS];
    memset(sig, 0, sizeof sig);
    for (int c = 0; c < n; c++) {
        sig[c].label = json_string_value(json_array_get(s->labels, (size_t)c));
        sig[c].rate_hz = s->rate_hz;
        sig[c].physical_min = -phys;
        sig[c].physical_max = phys * 32767.0 / 32768.0;
        sig[c].digital_min = -32768;
        sig[c].digital_max = 32767;
        sig[c].unit = "uV";
    }
    time_t secs = (time_t)(s->start_time_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    ictal_edf_writer_options o;
    memset(&o, 0, sizeof o);
    o.record_duration_s = (double)per_record / s->rate_hz;
    o.year = tm.tm_year + 1900;
    o.month = tm.tm_mon + 1;
    o.day = tm.tm_mday;
    o.hour = tm.tm_hour;
    o.minute = tm.tm_min;
    o.second = tm.tm_sec;
    o.start_subsecond_s = (double)(s->start_time_us % 1000000) * 1e-6;
    if (o.year < 1985 || o.year > 2084) { /* a device clock outside EDF's calendar */
        o.year = 1985;
        o.month = o.day = 1;
        o.hour = o.minute = o.second = 0;
    }
    char recording[81];
    snprintf(recording, sizeof recording, "ictal session %lld device %s",
             (long long)s->session_id, s->device_id);
    o.recording = recording;
    o.annotation_bytes = 160;
    o.patch_every_records = 0; /* -1 until a clean close: the crash marker */
    ictal__recorder *r = calloc(1, sizeof *r);
    if (r == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    r->n_channels = n;
    r->rate_hz = s->rate_hz;
    r->start_us = s->start_time_us;
    r->per_record = per_record;
    r->rec_start_s = -1;
    r->expected_us = INT64_MIN;
    r->rec = malloc((size_t)per_record * (size_t)n * sizeof(float));
    int rc = r->rec ? ictal_edf_writer_open(&r->w, path, sig, n, &o, d)
                    : ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    if (rc != 0) {
        free(r->rec);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Writes the record being filled; a partial one only when pad (before a gap, at close). */
static int flush_record(ictal__recorder *r, int pad, ictal_diag *d)
{
    if (r->filled == 0 || (r->filled < r->per_record && !pad))
        return 0;
    if (r->filled < r->per_record) {
        for (int ch = 0; ch < r->n_channels; ch++)
            memset(r->rec + (size_t)ch * r->per_record + r->filled, 0,
                   (r->per_record - r->filled) * sizeof(float));
        double at = (r->rec_start_s >= 0 ? r->rec_start_s : r->end_s) +
                    (double)r->filled / r->rate_hz;
        ictal_edf_writer_annotate(r->w, at, (double)(r->per_record - r->filled) / r->rate_hz,
                                  "padding (no data)", d);
    }
    const float *ptrs[ICTAL_WIRE_MAX_CHANNELS];
    for (int ch = 0; ch < r->n_channels; ch++)
        ptrs[ch] = r->rec + (size_t)ch * r->per_record;
    int rc = ictal_edf_writer_write_record(r->w, r->rec_start_s, ptrs, d);
    r->end_s = (r->rec_start_s >= 0 ? r->rec_start_s : r->end_s) + (double)r->per_record / r->rate_hz;
    r->filled = 0;
    r->rec_start_s = -1;
    return rc;
}

int ictal__recorder_frame(ictal__recorder *r, const ictal_wire_frame *f, const float *uv,
                          ictal_diag *d)
{
    if (f->n_channels != r->n_channels)
        return ictal_diag_error(d, ICTAL_EINVAL, "frame has %d channels, the recording %d",
                                f->n_channels, r->n_channels);
    /* The same gap rule as the analysis: later than two samples and 20 ms of jitter. */
    int64_t tol_us = (int64_t)(2e6 / r->rate_hz) + 20000;
    int rc;
    double t_s = (double)(f->device_time_us - r->start_us) * 1e-6;
    if (r->expected_us == INT64_MIN) {
        r->rec_start_s = t_s > 0 ? t_s : 0;
    } else if (f->device_time_us > r->expected_us + tol_us) {
        if ((rc = flush_record(r, 1, d)) != 0)
            return rc;
        double from_s = (double)(r->expected_us - r->start_us) * 1e-6;
        char note[64];
        snprintf(note, sizeof note, "gap: no data for %.3f s", t_s - from_s);
        ictal_edf_writer_annotate(r->w, from_s, t_s - from_s, note, d);
        r->rec_start_s = t_s;
    }
    r->expected_us = f->device_time_us + (int64_t)((double)f->n_samples * 1e6 / r->rate_hz);
    for (uint32_t i = 0; i < f->n_samples; i++) {
        for (int ch = 0; ch < r->n_channels; ch++)
            r->rec[(size_t)ch * r->per_record + r->filled] =
                uv[(size_t)i * (size_t)r->n_channels + (size_t)ch];
        if (++r->filled == r->per_record && (rc = flush_record(r, 0, d)) != 0)
            return rc;
    }
    return 0;
}

int ictal__recorder_annotate(ictal__recorder *r, double onset_s, double duration_s,
                             const char *text, ictal_diag *d)
{
    return ictal_edf_writer_annotate(r->w, onset_s, duration_s, text, d);
}

int ictal__recorder_close(ictal__recorder *r, ictal_diag *d)
{
    if (r == NULL)
        return 0;
    int rc = flush_record(r, 1, d);
    int rc2 = ictal_edf_writer_close(r->w, d);
    free(r->rec);
    free(r);
    return rc ? rc : rc2;
}

void ictal__recorder_alarm_text(char *buf, size_t size, int64_t alarm_id, int raised,
                                double alarm_s, double peak_prob)
{
    if (raised)
        snprintf(buf, size, "seizure alarm %lld raised at %.2f s (p %.2f)", (long long)alarm_id,
                 alarm_s, peak_prob);
    else
        snprintf(buf, size, "seizure alarm %lld (peak p %.2f)", (long long)alarm_id, peak_prob);
}

/* --- rebuild from the frame log ------------------------------------------------------ */

typedef struct rebuild_ctx {
    const char *path;
    const ictal__recorder_session *s;
    ictal__recorder *r;
    float *uv;
    int rc;
    ictal_diag *d;
} rebuild_ctx;

static int rebuild_cb(void *user, const ictal_wire_frame *f)
{
    rebuild_ctx *c = user;
    if (c->r == NULL && (c->rc = ictal__recorder_open(&c->r, c->path, c->s, f, c->d)) != 0)
        return 1;
    ictal_wire_decode_uv(f, c->uv);
    return (c->rc = ictal__recorder_frame(c->r, f, c->uv, c->d)) != 0;
}

int ictal__recorder_rebuild(const char *log_path, const char *path, const ictal__recorder_session *s,
                            json_t *alarms, ictal_diag *d)
{
    rebuild_ctx c = {path, s, NULL, NULL, 0, d};
    c.uv = malloc((size_t)ICTAL_WIRE_MAX_FRAME_BYTES / 2 * sizeof(float));
    if (c.uv == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    int rc = ictal__seslog_walk(log_path, rebuild_cb, &c, d);
    free(c.uv);
    if (rc == 0)
        rc = c.rc;
    if (rc == 0 && c.r == NULL)
        rc = ictal_diag_error(d, ICTAL_ENOENT, "the session has no data yet");
    for (size_t i = 0; rc == 0 && i < json_array_size(alarms); i++) {
        json_t *a = json_array_get(alarms, i);
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        double onset = json_number_value(json_object_get(a, "onset_s"));
        double peak = json_number_value(json_object_get(a, "peak_prob"));
        json_t *off = json_object_get(a, "offset_s");
        char text[96];
        ictal__recorder_alarm_text(text, sizeof text, id, 1,
                                   json_number_value(json_object_get(a, "alarm_s")), peak);
        rc = ictal__recorder_annotate(c.r, onset, -1, text, d);
        if (rc == 0 && json_is_number(off)) {
            ictal__recorder_alarm_text(text, sizeof text, id, 0, 0, peak);
            rc = ictal__recorder_annotate(c.r, onset, json_number_value(off) - onset, text, d);
        }
    }
    int rc2 = ictal__recorder_close(c.r, d);
    return rc ? rc : rc2;
}

/* --- reading for download ----------------------------------------------------------- */

static long header_int(const unsigned char *h, int off, int width)
{
    char buf[16];
    memcpy(buf, h + off, (size_t)width);
    buf[width] = 0;
    char *end;
    long v = strtol(buf, &end, 10);
    while (*end == ' ')
        end++;
    return *end == 0 && end != buf ? v : -2;
}

int ictal__recorder_snapshot(const char *path, unsigned char **out, size_t *size, ictal_diag *d)
{
    *out = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ictal_diag_error(d, errno == ENOENT ? ICTAL_ENOENT : ICTAL_EIO, "%s: %s", path,
                                strerror(errno));
    struct stat sb;
    unsigned char h[256];
    int rc = 0;
    long ns = -1;
    if (fstat(fd, &sb) != 0 || pread(fd, h, 256, 0) != 256 ||
        (ns = header_int(h, 252, 4)) < 2 || ns > ICTAL_WIRE_MAX_CHANNELS + 1 ||
        header_int(h, 184, 8) != 256 * (ns + 1)) {
        close(fd);
        return ictal_diag_error(d, ICTAL_EFORMAT, "%s: not a recording written by the server", path);
    }
    int64_t header_bytes = 256 * (ns + 1), record_bytes = 0;
    unsigned char *buf = malloc((size_t)header_bytes);
    if (buf == NULL) {
        close(fd);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    }
    if (pread(fd, buf, (size_t)header_bytes, 0) != header_bytes)
        rc = ICTAL_EFORMAT;
    for (long i = 0; rc == 0 && i < ns; i++) {
        long spr = header_int(buf, 256 + (int)ns * 216 + (int)i * 8, 8);
        if (spr < 1)
            rc = ICTAL_EFORMAT;
        record_bytes += 2 * spr;
    }
    free(buf);
    if (rc != 0) {
        close(fd);
        return ictal_diag_error(d, rc, "%s: bad samples-per-record field", path);
    }
    int64_t n_records = ((int64_t)sb.st_size - header_bytes) / record_bytes;
    if (n_records < 0)
        n_records = 0;
    size_t n = (size_t)(header_bytes + n_records * record_bytes);
    buf = malloc(n);
    if (buf == NULL) {
        close(fd);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory (%zu bytes)", n);
    }
    for (size_t done = 0; done < n;) {
        ssize_t k = pread(fd, buf + done, n - done, (off_t)done);
        if (k <= 0) {
            free(buf);
            close(fd);
            return ictal_diag_error(d, ICTAL_EIO, "%s: read failed", path);
        }
        done += (size_t)k;
    }
    close(fd);
    char count[32];
    snprintf(count, sizeof count, "%-8lld", (long long)n_records);
    memcpy(buf + 236, count, 8);
    *out = buf;
    *size = n;
    return 0;
}

int ictal__recorder_is_closed(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned char h[256];
    int ok = pread(fd, h, 256, 0) == 256 && header_int(h, 236, 8) >= 0;
    close(fd);
    return ok;
}
