/* Labelled recordings held in memory, and their feature table. */
#include <stdlib.h>
#include <string.h>

#include "ictal/train.h"
#include "train_internal.h"

void ictal_corpus_init(ictal_corpus *c)
{
    memset(c, 0, sizeof *c);
}

static void item_free(ictal_corpus_item *it)
{
    free(it->frames_uv);
    free(it->sz);
    free(it->path);
    free(it->annot_path);
    free(it->record);
    free(it->labels);
    free(it->label_ptrs);
}

void ictal_corpus_free(ictal_corpus *c)
{
    for (size_t i = 0; i < c->n_items; i++)
        item_free(&c->items[i]);
    free(c->items);
    memset(c, 0, sizeof *c);
}

size_t ictal_corpus_keep(ictal_corpus *c, int (*keep)(void *user, const ictal_corpus_item *it),
                         void *user)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        if (keep(user, &c->items[i]))
            c->items[k++] = c->items[i];
        else
            item_free(&c->items[i]);
    }
    c->n_items = k;
    return k;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int ictal_corpus_add(ictal_corpus *c, const char *set, const char *name, const char *patient,
                     const ictal_signal *sig, const ictal_interval *sz, size_t n_sz)
{
    if (sig == NULL || sig->n_channels <= 0 || sig->n_channels > ICTAL_CORPUS_CHANNELS ||
        (sig->n_frames > 0 && sig->frames_uv == NULL) || !(sig->rate_hz > 0))
        return ICTAL_EINVAL;
    if (c->n_items == c->cap_items) {
        size_t cap = c->cap_items ? c->cap_items * 2 : 16;
        ictal_corpus_item *it = realloc(c->items, cap * sizeof *it);
        if (it == NULL)
            return ICTAL_ENOMEM;
        c->items = it;
        c->cap_items = cap;
    }
    ictal_corpus_item *it = &c->items[c->n_items];
    memset(it, 0, sizeof *it);
    size_t n = sig->n_frames * (size_t)sig->n_channels;
    it->frames_uv = malloc((n ? n : 1) * sizeof *it->frames_uv);
    it->sz = malloc((n_sz ? n_sz : 1) * sizeof *it->sz);
    it->labels = malloc((size_t)sig->n_channels * sizeof *it->labels);
    it->label_ptrs = malloc((size_t)sig->n_channels * sizeof *it->label_ptrs);
    if (it->frames_uv == NULL || it->sz == NULL || it->labels == NULL || it->label_ptrs == NULL) {
        free(it->frames_uv);
        free(it->sz);
        free(it->labels);
        free(it->label_ptrs);
        return ICTAL_ENOMEM;
    }
    if (n)
        memcpy(it->frames_uv, sig->frames_uv, n * sizeof *it->frames_uv);
    if (n_sz)
        memcpy(it->sz, sz, n_sz * sizeof *sz);
    it->n_sz = n_sz;
    it->n_frames = sig->n_frames;
    it->n_channels = sig->n_channels;
    it->rate_hz = sig->rate_hz;
    it->duration_s = (double)sig->n_frames / sig->rate_hz;
    it->artefact_scale = sig->artefact_scale;
    copy_str(it->set, sizeof it->set, set);
    copy_str(it->name, sizeof it->name, name);
    copy_str(it->patient, sizeof it->patient, patient ? patient : name);
    for (int ch = 0; ch < sig->n_channels; ch++) {
        copy_str(it->labels[ch], ICTAL_CORPUS_LABEL, sig->labels ? sig->labels[ch] : "");
        it->label_ptrs[ch] = it->labels[ch];
    }
    return (int)c->n_items++;
}

double ictal_corpus_duration_s(const ictal_corpus_item *it)
{
    return it->duration_s;
}

int ictal__item_has_seizure(const ictal_corpus_item *it)
{
    for (size_t i = 0; i < it->n_sz; i++)
        if (it->sz[i].offset_s > it->sz[i].onset_s)
            return 1;
    return 0;
}

int ictal_corpus_is_segments(const ictal_corpus *c, size_t *bad_item)
{
    /* a labelled segment: seizure-free, or one seizure over the whole of it (within a
     * hop at either end) */
    for (size_t i = 0; i < c->n_items; i++) {
        const ictal_corpus_item *it = &c->items[i];
        if (!ictal__item_has_seizure(it))
            continue;
        if (it->n_sz != 1 || it->sz[0].onset_s > 0.5 || it->sz[0].offset_s < it->duration_s - 0.5) {
            if (bad_item)
                *bad_item = i;
            return 0;
        }
    }
    return c->n_items > 0;
}

int ictal_corpus_features(const ictal_corpus *c, const ictal_model_info *tmpl, int neg_stride,
                          ictal_dataset *ds, ictal_diag *d)
{
    for (size_t i = 0; i < c->n_items; i++) {
        const ictal_corpus_item *it = &c->items[i];
        int rec = ictal_dataset_add_record(ds, it->name, it->patient);
        if (rec < 0)
            return rec;
        ictal_signal sig;
        float *owned = NULL;
        int rc = ictal_corpus_acquire(it, &sig, &owned, d);
        if (rc == 0)
            rc = ictal_dataset_add_signal(ds, rec, &sig, it->sz, it->n_sz, tmpl, neg_stride, d);
        free(owned);
        if (rc)
            return rc;
    }
    return 0;
}
