/*
 * Streaming EDF+ writer (see include/ictal/edf.h).
 *
 * Records are appended with plain sequential writes; the header says "-1" records until
 * it is patched (every patch_every_records records and on close), so whatever a crash
 * leaves is a readable file up to its last complete record. The file becomes EDF+D (one
 * positioned write of the reserved field) at the first record that leaves a gap.
 */
#include "ictal/edf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/edf_internal.h"

typedef struct pending_annotation {
    double onset_s, duration_s;
    char *text;
} pending_annotation;

typedef struct writer_signal {
    int32_t spr;
    double gain, offset;        /* from the header fields as written */
    int32_t dmin, dmax;
} writer_signal;

struct ictal_edf_writer {
    int fd;
    int ns;                     /* data signals */
    writer_signal *sig;
    double dur_s, subsecond_s, tol_s;
    int64_t header_bytes, record_bytes, n_records;
    int annot_bytes;
    double next_start_s;        /* end of the last record */
    int is_d, patch_every, failed;
    uint8_t *rec;               /* one record being assembled */
    pending_annotation *ann;
    size_t n_ann, cap_ann;
    float *frames;              /* push_frames: per signal spr values, signal-major */
    int32_t n_frames;           /* frames waiting in `frames` */
};

static void put_field(uint8_t *dst, int width, const char *s)
{
    size_t n = strlen(s);
    memset(dst, ' ', (size_t)width);
    memcpy(dst, s, n < (size_t)width ? n : (size_t)width);
}

/* A number in at most 8 characters; *written receives the value a reader will parse. */
static int format_number(char *out, double v, double *written)
{
    for (int prec = 8; prec >= 1; prec--) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strlen(buf) <= 8 && strchr(buf, 'e') == NULL) {
            strcpy(out, buf);
            *written = strtod(buf, NULL);
            return 0;
        }
    }
    return -1;
}

static int write_all(int fd, const void *buf, size_t n, int64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = off >= 0 ? pwrite(fd, (const uint8_t *)buf + done, n - done, (off_t)(off + (int64_t)done))
                             : write(fd, (const uint8_t *)buf + done, n - done);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)k;
    }
    return 0;
}

static int patch_count(ictal_edf_writer *w, int64_t count, ictal_diag *d)
{
    char f[16];
    uint8_t field[8];
    snprintf(f, sizeof(f), "%lld", (long long)count);
    put_field(field, 8, f);
    if (write_all(w->fd, field, 8, 236) != 0) {
        w->failed = 1;
        return ictal_diag_error(d, ICTAL_EIO, "cannot patch the record count: %s",
                                strerror(errno));
    }
    return 0;
}

int ictal_edf_writer_open(ictal_edf_writer **out, const char *path,
                          const ictal_edf_writer_signal *signals, int n_signals,
                          const ictal_edf_writer_options *opt, ictal_diag *d)
{
    if (out == NULL || path == NULL || signals == NULL || n_signals < 1 || n_signals > 4095)
        return ictal_diag_error(d, ICTAL_EINVAL, "writer: bad arguments (1 to 4095 signals)");
    *out = NULL;
    if (d != NULL) {
        ictal_diag_clear(d);
        if (d->source == NULL)
            d->source = path;
    }
    ictal_edf_writer_options o;
    memset(&o, 0, sizeof(o));
    if (opt)
        o = *opt;
    if (o.record_duration_s == 0)
        o.record_duration_s = 1;
    if (o.annotation_bytes == 0)
        o.annotation_bytes = 120;
    if (o.year == 0) {
        o.year = 1985;
        o.month = 1;
        o.day = 1;
    }
    if (o.year < 1985 || o.year > 2084 || o.month < 1 || o.month > 12 || o.day < 1 ||
        o.day > 31 || o.hour < 0 || o.hour > 23 || o.minute < 0 || o.minute > 59 ||
        o.second < 0 || o.second > 59)
        return ictal_diag_error(d, ICTAL_EINVAL, "start date/time out of range (years 1985-2084)");
    if (!(o.start_subsecond_s >= 0 && o.start_subsecond_s < 1))
        return ictal_diag_error(d, ICTAL_EINVAL, "start_subsecond_s must be in [0, 1)");
    if (o.annotation_bytes < 16 || o.annotation_bytes > 65534)
        return ictal_diag_error(d, ICTAL_EINVAL, "annotation_bytes must be 16 to 65534");
    o.annotation_bytes += o.annotation_bytes & 1; /* whole 16-bit samples */

    char num[16];
    double dur_written;
    if (!(o.record_duration_s > 0) || format_number(num, o.record_duration_s, &dur_written) ||
        fabs(dur_written - o.record_duration_s) > 1e-12 * o.record_duration_s)
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "record duration %g s does not fit the 8-character field exactly",
                                o.record_duration_s);

    ictal_edf_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    w->fd = -1;
    w->ns = n_signals;
    w->dur_s = o.record_duration_s;
    w->subsecond_s = o.start_subsecond_s;
    w->annot_bytes = o.annotation_bytes;
    w->patch_every = o.patch_every_records;
    w->sig = calloc((size_t)n_signals, sizeof(*w->sig));
    int ns_all = n_signals + 1;
    w->header_bytes = 256 * (int64_t)(ns_all + 1);
    uint8_t *h = calloc(1, (size_t)w->header_bytes);
    int rc = 0;
    if (w->sig == NULL || h == NULL) {
        rc = ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        goto fail;
    }

    /* Fixed part. */
    char buf[128];
    put_field(h, 8, "0");
    put_field(h + 8, 80, o.patient ? o.patient : "X X X X");
    snprintf(buf, sizeof(buf), "Startdate %02d-%s-%04d %s", o.day, ictal__month_abbrev(o.month),
             o.year, o.recording ? o.recording : "X X X");
    put_field(h + 88, 80, buf);
    snprintf(buf, sizeof(buf), "%02d.%02d.%02d", o.day, o.month, o.year % 100);
    put_field(h + 168, 8, buf);
    snprintf(buf, sizeof(buf), "%02d.%02d.%02d", o.hour, o.minute, o.second);
    put_field(h + 176, 8, buf);
    snprintf(buf, sizeof(buf), "%lld", (long long)w->header_bytes);
    put_field(h + 184, 8, buf);
    put_field(h + 192, 44, "EDF+C");
    put_field(h + 236, 8, "-1");
    put_field(h + 244, 8, num);
    snprintf(buf, sizeof(buf), "%d", ns_all);
    put_field(h + 252, 4, buf);

    /* Per-signal fields, field by field. */
    double max_rate = 0;
    int64_t rb = 0;
    for (int s = 0; s < ns_all; s++) {
        int is_ann = s == n_signals;
        const ictal_edf_writer_signal *g = is_ann ? NULL : &signals[s];
        char pmin[16], pmax[16], dmin[16], dmax[16], spr[16];
        if (is_ann) {
            strcpy(pmin, "-1");
            strcpy(pmax, "1");
            strcpy(dmin, "-32768");
            strcpy(dmax, "32767");
            snprintf(spr, sizeof(spr), "%d", w->annot_bytes / 2);
            rb += w->annot_bytes;
        } else {
            writer_signal *ws = &w->sig[s];
            double n = g->rate_hz * o.record_duration_s;
            if (!(g->rate_hz > 0) || fabs(n - floor(n + 0.5)) > 1e-6 || n < 1 || n > 1e6) {
                d ? (void)(d->signal = s) : (void)0;
                rc = ictal_diag_error(d, ICTAL_EINVAL,
                                      "signal %d: %g Hz x %g s is not a whole number of samples",
                                      s, g->rate_hz, o.record_duration_s);
                goto fail;
            }
            if (g->label && strlen(g->label) > 16) {
                d ? (void)(d->signal = s) : (void)0;
                rc = ictal_diag_error(d, ICTAL_EINVAL, "signal %d: label longer than 16 bytes", s);
                goto fail;
            }
            ws->spr = (int32_t)floor(n + 0.5);
            ws->dmin = g->digital_min;
            ws->dmax = g->digital_max;
            if (ws->dmin == 0 && ws->dmax == 0) {
                ws->dmin = -32768;
                ws->dmax = 32767;
            }
            double pmin_w, pmax_w;
            if (ws->dmin < -32768 || ws->dmax > 32767 || ws->dmin >= ws->dmax ||
                format_number(pmin, g->physical_min, &pmin_w) ||
                format_number(pmax, g->physical_max, &pmax_w) || pmin_w == pmax_w) {
                d ? (void)(d->signal = s) : (void)0;
                rc = ictal_diag_error(d, ICTAL_EINVAL,
                                      "signal %d: bad physical or digital range", s);
                goto fail;
            }
            ws->gain = (pmax_w - pmin_w) / (double)(ws->dmax - ws->dmin);
            ws->offset = pmax_w - ws->gain * ws->dmax;
            snprintf(dmin, sizeof(dmin), "%d", ws->dmin);
            snprintf(dmax, sizeof(dmax), "%d", ws->dmax);
            snprintf(spr, sizeof(spr), "%d", ws->spr);
            rb += 2 * (int64_t)ws->spr;
            if (g->rate_hz > max_rate)
                max_rate = g->rate_hz;
        }
        put_field(h + 256 + s * 16, 16, is_ann ? "EDF Annotations" : (g->label ? g->label : ""));
        put_field(h + 256 + ns_all * 16 + s * 80, 80,
                  is_ann || !g->transducer ? "" : g->transducer);
        put_field(h + 256 + ns_all * 96 + s * 8, 8, is_ann ? "" : (g->unit ? g->unit : "uV"));
        put_field(h + 256 + ns_all * 104 + s * 8, 8, pmin);
        put_field(h + 256 + ns_all * 112 + s * 8, 8, pmax);
        put_field(h + 256 + ns_all * 120 + s * 8, 8, dmin);
        put_field(h + 256 + ns_all * 128 + s * 8, 8, dmax);
        put_field(h + 256 + ns_all * 136 + s * 80, 80,
                  is_ann || !g->prefilter ? "" : g->prefilter);
        put_field(h + 256 + ns_all * 216 + s * 8, 8, spr);
        put_field(h + 256 + ns_all * 224 + s * 32, 32, "");
    }
    w->record_bytes = rb;
    w->tol_s = max_rate > 0 ? 0.5 / max_rate : 1e-7;
    w->rec = malloc((size_t)rb);
    w->frames = NULL;
    if (w->rec == NULL) {
        rc = ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        goto fail;
    }
    w->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = ictal_diag_error(d, ICTAL_EIO, "cannot create: %s", strerror(errno));
        goto fail;
    }
    if (write_all(w->fd, h, (size_t)w->header_bytes, -1) != 0) {
        rc = ictal_diag_error(d, ICTAL_EIO, "cannot write the header: %s", strerror(errno));
        goto fail;
    }
    free(h);
    *out = w;
    return 0;
fail:
    free(h);
    if (w->fd >= 0)
        close(w->fd);
    free(w->sig);
    free(w->rec);
    free(w);
    return rc;
}

int64_t ictal_edf_writer_records(const ictal_edf_writer *w)
{
    return w->n_records;
}

int ictal_edf_writer_annotate(ictal_edf_writer *w, double onset_s, double duration_s,
                              const char *text, ictal_diag *d)
{
    if (w == NULL || text == NULL || !isfinite(onset_s))
        return ictal_diag_error(d, ICTAL_EINVAL, "annotate: bad arguments");
    /* It must fit in an annotation area next to the timekeeping TAL. */
    char probe[65536];
    int need = ictal_tal_encode(probe, sizeof(probe), onset_s + w->subsecond_s, duration_s,
                                &text, 1);
    if (need < 0 || need + 24 > w->annot_bytes)
        return ictal_diag_error(d, need == ICTAL_EINVAL ? ICTAL_EINVAL : ICTAL_ENOMEM,
                                "annotation '%.40s' does not fit in %d bytes of TAL space "
                                "or holds 0x14/0x15",
                                text, w->annot_bytes);
    if (w->n_ann == w->cap_ann) {
        size_t cap = w->cap_ann ? 2 * w->cap_ann : 16;
        pending_annotation *g = realloc(w->ann, cap * sizeof(*g));
        if (g == NULL)
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        w->ann = g;
        w->cap_ann = cap;
    }
    char *copy = strdup(text);
    if (copy == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    w->ann[w->n_ann].onset_s = onset_s;
    w->ann[w->n_ann].duration_s = duration_s;
    w->ann[w->n_ann].text = copy;
    w->n_ann++;
    return 0;
}

/* Moves queued annotations that fit into area (used bytes already in it). */
static int drain_annotations(ictal_edf_writer *w, uint8_t *area, int used)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->n_ann; i++) {
        pending_annotation *a = &w->ann[i];
        const char *t = a->text;
        int n = ictal_tal_encode((char *)area + used, (size_t)(w->annot_bytes - used),
                                 a->onset_s + w->subsecond_s, a->duration_s, &t, 1);
        if (n > 0 && used + n < w->annot_bytes) { /* keep one NUL of padding at the end */
            used += n;
            free(a->text);
        } else {
            memset(area + used, 0, (size_t)(w->annot_bytes - used));
            w->ann[kept++] = *a;
        }
    }
    w->n_ann = kept;
    return used;
}

static int16_t quantise(const writer_signal *s, float x)
{
    double v = ((double)x - s->offset) / s->gain;
    if (!(v == v))
        v = 0;
    v = floor(v + 0.5);
    if (v < s->dmin)
        v = s->dmin;
    if (v > s->dmax)
        v = s->dmax;
    return (int16_t)v;
}

int ictal_edf_writer_write_record(ictal_edf_writer *w, double start_s,
                                  const float *const *samples, ictal_diag *d)
{
    if (w == NULL || samples == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "write_record: bad arguments");
    if (w->failed)
        return ictal_diag_error(d, ICTAL_ESTATE, "an earlier write failed");
    if (w->n_frames > 0)
        return ictal_diag_error(d, ICTAL_ESTATE,
                                "write_record with %d frames pending from push_frames",
                                w->n_frames);
    int rc;
    if (!(start_s >= 0) || (w->n_records > 0 && fabs(start_s - w->next_start_s) <= w->tol_s))
        start_s = w->next_start_s;
    if (w->n_records == 0 && start_s != 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "the first record starts at 0, not %g s",
                                start_s);
    if (start_s < w->next_start_s) {
        if (d)
            d->record = w->n_records;
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "record starts at %g s, before the end of the previous one (%g s)",
                                start_s, w->next_start_s);
    }
    if (start_s > w->next_start_s && !w->is_d) {
        uint8_t f[5];
        memcpy(f, "EDF+D", 5);
        if (write_all(w->fd, f, 5, 192) != 0) {
            w->failed = 1;
            return ictal_diag_error(d, ICTAL_EIO, "cannot mark the file EDF+D: %s",
                                    strerror(errno));
        }
        w->is_d = 1;
    }
    uint8_t *p = w->rec;
    for (int s = 0; s < w->ns; s++) {
        const writer_signal *g = &w->sig[s];
        const float *x = samples[s];
        for (int32_t i = 0; i < g->spr; i++) {
            uint16_t v = (uint16_t)quantise(g, x[i]);
            *p++ = (uint8_t)(v & 0xFF);
            *p++ = (uint8_t)(v >> 8);
        }
    }
    memset(p, 0, (size_t)w->annot_bytes);
    int used = ictal_tal_encode((char *)p, (size_t)w->annot_bytes, start_s + w->subsecond_s, -1,
                                NULL, 0);
    if (used < 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "record time %g s cannot be encoded", start_s);
    drain_annotations(w, p, used);
    if (write_all(w->fd, w->rec, (size_t)w->record_bytes,
                  w->header_bytes + w->n_records * w->record_bytes) != 0) {
        w->failed = 1;
        if (d)
            d->record = w->n_records;
        return ictal_diag_error(d, ICTAL_EIO, "cannot write record %lld: %s",
                                (long long)w->n_records, strerror(errno));
    }
    w->n_records++;
    w->next_start_s = start_s + w->dur_s;
    if (w->patch_every > 0 && w->n_records % w->patch_every == 0 &&
        (rc = patch_count(w, w->n_records, d)) != 0)
        return rc;
    return 0;
}

int ictal_edf_writer_push_frames(ictal_edf_writer *w, const float *frames, size_t n_frames,
                                 ictal_diag *d)
{
    if (w == NULL || (frames == NULL && n_frames > 0))
        return ictal_diag_error(d, ICTAL_EINVAL, "push_frames: bad arguments");
    int32_t spr = w->sig[0].spr;
    for (int s = 1; s < w->ns; s++)
        if (w->sig[s].spr != spr)
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "push_frames needs one rate for every signal");
    if (w->frames == NULL) {
        w->frames = malloc((size_t)spr * (size_t)w->ns * sizeof(float));
        if (w->frames == NULL)
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    }
    const float *ptrs_stack[64] = {0};
    const float **ptrs = w->ns <= 64 ? ptrs_stack : malloc((size_t)w->ns * sizeof(*ptrs));
    if (ptrs == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    for (int s = 0; s < w->ns; s++)
        ptrs[s] = w->frames + (size_t)s * (size_t)spr;
    int rc = 0;
    for (size_t i = 0; i < n_frames && rc == 0; i++) {
        for (int s = 0; s < w->ns; s++)
            w->frames[(size_t)s * (size_t)spr + (size_t)w->n_frames] = frames[i * (size_t)w->ns + (size_t)s];
        if (++w->n_frames == spr) {
            w->n_frames = 0;
            rc = ictal_edf_writer_write_record(w, -1, ptrs, d);
        }
    }
    if (ptrs != ptrs_stack)
        free(ptrs);
    return rc;
}

/* Puts annotations still queued into free TAL space of the records already written. */
static int place_leftovers(ictal_edf_writer *w, ictal_diag *d)
{
    uint8_t *area = malloc((size_t)w->annot_bytes);
    if (area == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    int rc = 0;
    for (int64_t r = w->n_records - 1; r >= 0 && w->n_ann > 0; r--) {
        int64_t off = w->header_bytes + (r + 1) * w->record_bytes - w->annot_bytes;
        if (pread(w->fd, area, (size_t)w->annot_bytes, (off_t)off) != w->annot_bytes)
            break;
        int used = w->annot_bytes;
        while (used > 0 && area[used - 1] == 0)
            used--;
        used += used > 0; /* keep the last TAL's NUL */
        int now = drain_annotations(w, area, used);
        if (now != used && write_all(w->fd, area, (size_t)w->annot_bytes, off) != 0) {
            rc = ictal_diag_error(d, ICTAL_EIO, "cannot write annotations: %s", strerror(errno));
            break;
        }
    }
    free(area);
    if (rc == 0 && w->n_ann > 0)
        rc = ictal_diag_error(d, ICTAL_ENOMEM,
                              "%zu annotations did not fit in the records' TAL space "
                              "(raise annotation_bytes)",
                              w->n_ann);
    return rc;
}

int ictal_edf_writer_close(ictal_edf_writer *w, ictal_diag *d)
{
    if (w == NULL)
        return 0;
    int rc = 0, r2;
    if (w->n_frames > 0 && !w->failed) {
        int32_t spr = w->sig[0].spr;
        for (int s = 0; s < w->ns; s++)
            for (int32_t i = w->n_frames; i < spr; i++)
                w->frames[(size_t)s * (size_t)spr + (size_t)i] = 0;
        const float *ptrs_stack[64] = {0};
        const float **ptrs = w->ns <= 64 ? ptrs_stack : malloc((size_t)w->ns * sizeof(*ptrs));
        if (ptrs != NULL) {
            for (int s = 0; s < w->ns; s++)
                ptrs[s] = w->frames + (size_t)s * (size_t)spr;
            w->n_frames = 0;
            rc = ictal_edf_writer_write_record(w, -1, ptrs, d);
            if (ptrs != ptrs_stack)
                free(ptrs);
        } else {
            rc = ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        }
    }
    if (!w->failed && w->n_ann > 0 && (r2 = place_leftovers(w, d)) != 0 && rc == 0)
        rc = r2;
    if (!w->failed && (r2 = patch_count(w, w->n_records, d)) != 0 && rc == 0)
        rc = r2;
    if (close(w->fd) != 0 && rc == 0)
        rc = ictal_diag_error(d, ICTAL_EIO, "close failed: %s", strerror(errno));
    for (size_t i = 0; i < w->n_ann; i++)
        free(w->ann[i].text);
    free(w->ann);
    free(w->sig);
    free(w->rec);
    free(w->frames);
    free(w);
    return rc;
}
