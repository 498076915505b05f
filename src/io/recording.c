/* A uniform source of EEG frames (see include/ictal/recording.h): format detection,
 * labels and the calls every back-end shares. */
#include "rec_internal.h"
#include "textio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const ictal_chbmit_labels[23] = {
    "FP1-F7", "F7-T7",  "T7-P7",  "P7-O1",  "FP1-F3", "F3-C3",    "C3-P3",   "P3-O1",
    "FP2-F4", "F4-C4",  "C4-P4",  "P4-O2",  "FP2-F8", "F8-T8",    "T8-P8",   "P8-O2",
    "FZ-CZ",  "CZ-PZ",  "P7-T7",  "T7-FT9", "FT9-FT10", "FT10-T8", "T8-P8"};

void ictal_recording_options_init(ictal_recording_options *o)
{
    memset(o, 0, sizeof(*o));
}

static void free_labels(ictal_recording *r)
{
    if (r->label_store != NULL)
        for (int i = 0; i < r->info.n_channels; i++)
            free(r->label_store[i]);
    free(r->label_store);
    free(r->label_ptrs);
    r->label_store = NULL;
    r->label_ptrs = NULL;
    r->info.labels = NULL;
}

int ictal__rec_set_labels(ictal_recording *r, int n, const char *const *names, ictal_diag *d)
{
    free_labels(r);
    r->info.n_channels = 0;
    if (n <= 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "no channel");
    r->label_store = calloc((size_t)n, sizeof(char *));
    r->label_ptrs = calloc((size_t)n, sizeof(char *));
    if (r->label_store == NULL || r->label_ptrs == NULL) {
        free(r->label_store);
        free(r->label_ptrs);
        r->label_store = NULL;
        r->label_ptrs = NULL;
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    }
    r->info.n_channels = n;
    for (int i = 0; i < n; i++) {
        char buf[32];
        const char *s = names != NULL ? names[i] : NULL;
        if (s == NULL) {
            snprintf(buf, sizeof(buf), "ch%d", i + 1);
            s = buf;
        }
        size_t len = strlen(s);
        r->label_store[i] = malloc(len + 1);
        if (r->label_store[i] == NULL) {
            free_labels(r);
            r->info.n_channels = 0;
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        }
        memcpy(r->label_store[i], s, len + 1);
        r->label_ptrs[i] = r->label_store[i];
    }
    r->info.labels = r->label_ptrs;
    return 0;
}

int ictal__rec_apply_option_labels(ictal_recording *r, const ictal_recording_options *opt,
                                   ictal_diag *d)
{
    if (opt == NULL || opt->labels == NULL)
        return 0;
    if (opt->n_labels != r->info.n_channels)
        return ictal_diag_error(d, ICTAL_EINVAL,
                                "%d labels given, but the file has %d channels", opt->n_labels,
                                r->info.n_channels);
    for (int i = 0; i < opt->n_labels; i++)
        if (opt->labels[i] == NULL)
            return ictal_diag_error(d, ICTAL_EINVAL, "label %d is NULL", i);
    return ictal__rec_set_labels(r, opt->n_labels, opt->labels, d);
}

/* The format from the first bytes: npy and EDF/BDF have magic numbers; the rest is
 * text (plain or gzip'd), told apart later from its header. */
static int sniff(const char *path, ictal_recording_format *fmt, ictal_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ictal__open_error(d, errno);
    unsigned char b[8] = {0};
    size_t n = fread(b, 1, sizeof(b), f);
    fclose(f);
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
        *fmt = ICTAL_RECORDING_NPY;
    else if (n == 8 && (memcmp(b, "0       ", 8) == 0 || memcmp(b, "\xff" "BIOSEMI", 8) == 0))
        *fmt = ICTAL_RECORDING_EDF;
    else
        *fmt = ICTAL_RECORDING_CSV; /* or one value per line: decided from the content */
    return 0;
}

int ictal_recording_open(ictal_recording **out, const char *path,
                         const ictal_recording_options *opt, ictal_diag *d)
{
    if (out == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no output pointer");
    *out = NULL;
    if (path == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no path");
    ictal_recording_options defaults;
    if (opt == NULL) {
        ictal_recording_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->sample_rate_hz < 0 || opt->sample_rate_hz != opt->sample_rate_hz ||
        opt->sample_rate_hz > 1e7)
        return ictal_diag_error(d, ICTAL_EINVAL, "sample rate %g Hz: expected a positive rate",
                                opt->sample_rate_hz);
    ictal_recording *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    r->path = malloc(strlen(path) + 1);
    if (r->path == NULL) {
        free(r);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    }
    strcpy(r->path, path);
    if (d != NULL) {
        ictal_diag_clear(d);
        d->source = r->path;
    }
    r->info.n_frames = -1;
    r->info.layout = r->layout;
    r->info.rate_source = "unknown";

    ictal_recording_format fmt = opt->format;
    int rc = 0;
    if (fmt == ICTAL_RECORDING_AUTO)
        rc = sniff(path, &fmt, d);
    if (rc == 0) {
        r->info.format = fmt;
        switch (fmt) {
        case ICTAL_RECORDING_NPY: rc = ictal__rec_open_npy(r, opt, d); break;
        case ICTAL_RECORDING_TEXT: rc = ictal__rec_open_csv(r, opt, 1, d); break;
        case ICTAL_RECORDING_CSV: rc = ictal__rec_open_csv(r, opt, 0, d); break;
        case ICTAL_RECORDING_EDF: rc = ictal__rec_open_edf(r, opt, d); break;
        default: rc = ictal_diag_error(d, ICTAL_EINVAL, "unknown format %d", (int)fmt); break;
        }
    }
    if (rc == 0 && opt->sample_rate_hz > 0) {
        r->info.sample_rate_hz = opt->sample_rate_hz;
        r->info.rate_source = "option";
    }
    if (rc == 0 && !(r->info.sample_rate_hz > 0) && !opt->allow_unknown_rate)
        rc = ictal_diag_error(d, ICTAL_EINVAL,
                              "the sample rate cannot be known: the file (%s) does not say it "
                              "and its layout has no default; give it (--rate)",
                              r->layout);
    if (rc != 0) {
        /* d->source points into r->path: keep the caller's diagnostic readable. */
        if (d != NULL)
            d->source = path;
        ictal_recording_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

const ictal_recording_info *ictal_recording_get_info(const ictal_recording *r)
{
    return &r->info;
}

int64_t ictal_recording_read(ictal_recording *r, float *frames_uv, int64_t max_frames,
                             ictal_diag *d)
{
    if (r == NULL || (frames_uv == NULL && max_frames > 0) || max_frames < 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "bad arguments");
    if (d != NULL) {
        ictal_diag_clear(d);
        d->source = r->path;
    }
    if (max_frames == 0)
        return 0;
    return r->ops->read(r, frames_uv, max_frames, d);
}

int ictal_recording_rewind(ictal_recording *r, ictal_diag *d)
{
    if (r == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no recording");
    if (d != NULL) {
        ictal_diag_clear(d);
        d->source = r->path;
    }
    return r->ops->rewind(r, d);
}

void ictal_recording_close(ictal_recording *r)
{
    if (r == NULL)
        return;
    if (r->ops != NULL && r->ops->close != NULL)
        r->ops->close(r);
    free_labels(r);
    free(r->path);
    free(r);
}
