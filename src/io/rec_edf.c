/*
 * EDF-family back-end of ictal/recording.h, over ictal/edf.h. The channels are the data
 * signals at the rate most EEG-labelled signals share (a recording's EEG shares one
 * rate; slower or faster auxiliary signals are left out). Frames are decoded a few
 * records at a time with ictal_edf_read_frames (the fast path); EDF+D gaps close up.
 */
#include "rec_internal.h"

#include <stdlib.h>
#include <string.h>

#include "ictal/edf.h"
#include "ictal/montage.h"

/* Records decoded per refill: about 4096 frames, at least one record. */
static int64_t chunk_records(const ictal_recording *r)
{
    int64_t n = 4096 / (r->spr > 0 ? r->spr : 1);
    return n < 1 ? 1 : n;
}

static int64_t edf_read(ictal_recording *r, float *frames, int64_t max_frames, ictal_diag *d)
{
    const ictal_edf_info *info = ictal_edf_get_info(r->edf);
    int nc = r->info.n_channels;
    int64_t got = 0;
    while (got < max_frames) {
        if (r->buf_pos == r->buf_frames) {
            int64_t left = info->n_records - r->rec_next;
            if (left <= 0)
                break;
            int64_t n = chunk_records(r);
            if (n > left)
                n = left;
            int rc = ictal_edf_read_frames(r->edf, r->rec_next, n, r->sig, nc, r->rec_buf, d);
            if (rc != 0)
                return rc;
            r->rec_next += n;
            r->buf_frames = n * r->spr;
            r->buf_pos = 0;
        }
        int64_t take = r->buf_frames - r->buf_pos;
        if (take > max_frames - got)
            take = max_frames - got;
        memcpy(frames + got * nc, r->rec_buf + r->buf_pos * nc,
               (size_t)(take * nc) * sizeof(float));
        r->buf_pos += take;
        got += take;
    }
    return got;
}

static int edf_rewind(ictal_recording *r, ictal_diag *d)
{
    (void)d;
    r->rec_next = 0;
    r->buf_frames = r->buf_pos = 0;
    return 0;
}

static void edf_close(ictal_recording *r)
{
    ictal_edf_close(r->edf);
    r->edf = NULL;
    free(r->sig);
    free(r->rec_buf);
}

static const ictal__rec_ops edf_ops = {edf_read, edf_rewind, edf_close};

int ictal__rec_open_edf(ictal_recording *r, const ictal_recording_options *opt, ictal_diag *d)
{
    r->ops = &edf_ops;
    int rc = ictal_edf_open(&r->edf, r->path, NULL, d);
    if (rc != 0)
        return rc;
    const ictal_edf_info *info = ictal_edf_get_info(r->edf);
    /* The rate (samples per record) shared by the most EEG-labelled signals, else by
     * the most data signals; the first such signal in file order on a tie. */
    int pick = -1, best = 0;
    for (int pass = 0; pass < 2 && pick < 0; pass++) {
        for (int i = 0; i < info->n_signals; i++) {
            const ictal_edf_signal *s = &info->signals[i];
            if (s->is_annotation || s->samples_per_record <= 0 ||
                (pass == 0 && !ictal_label_is_eeg(s->label)))
                continue;
            int count = 0;
            for (int j = 0; j < info->n_signals; j++) {
                const ictal_edf_signal *t = &info->signals[j];
                count += !t->is_annotation && t->samples_per_record == s->samples_per_record &&
                         (pass == 1 || ictal_label_is_eeg(t->label));
            }
            if (count > best) {
                best = count;
                pick = i;
            }
        }
    }
    if (pick < 0)
        return ictal_diag_error(d, ICTAL_ENOENT, "no data signal: the file holds only annotations");
    r->spr = info->signals[pick].samples_per_record;
    r->sig = malloc((size_t)info->n_signals * sizeof(int));
    const char **names = malloc((size_t)info->n_signals * sizeof(char *));
    if (r->sig == NULL || names == NULL) {
        free(names);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < info->n_signals; i++) {
        const ictal_edf_signal *s = &info->signals[i];
        if (s->is_annotation || s->samples_per_record != r->spr)
            continue;
        r->sig[n] = i;
        names[n] = s->label;
        n++;
    }
    rc = ictal__rec_set_labels(r, n, names, d);
    free(names);
    if (rc != 0)
        return rc;
    rc = ictal__rec_apply_option_labels(r, opt, d);
    if (rc != 0)
        return rc;
    r->rec_buf = malloc((size_t)(chunk_records(r) * r->spr * n) * sizeof(float));
    if (r->rec_buf == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    r->info.sample_rate_hz = info->signals[pick].rate_hz;
    r->info.rate_source = "file";
    r->info.n_frames = info->n_records * r->spr;
    static const char *const variants[] = {"", "+C", "+D"};
    snprintf(r->layout, sizeof(r->layout), "%s%s, %d of %d data signals at %g Hz%s",
             info->format == ICTAL_EDF_FORMAT_BDF ? "BDF" : "EDF", variants[info->variant % 3], n,
             info->n_data_signals, r->info.sample_rate_hz,
             info->n_gaps > 0 ? ", gaps closed up" : "");
    return 0;
}
