/* The feature table of ictal/train.h: rows of per-channel features with labels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/train.h"

void ictal_dataset_init(ictal_dataset *ds, int n_features)
{
    memset(ds, 0, sizeof *ds);
    ds->n_features = n_features;
}

void ictal_dataset_free(ictal_dataset *ds)
{
    free(ds->x);
    free(ds->y);
    free(ds->w);
    free(ds->record);
    free(ds->channel);
    free(ds->t_s);
    free(ds->records);
    int nf = ds->n_features;
    memset(ds, 0, sizeof *ds);
    ds->n_features = nf;
}

static void copy_name(char *dst, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= ICTAL_TRAIN_NAME_MAX)
        n = ICTAL_TRAIN_NAME_MAX - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int ictal_dataset_add_record(ictal_dataset *ds, const char *name, const char *patient)
{
    if (ds->n_records == ds->cap_records) {
        size_t cap = ds->cap_records ? ds->cap_records * 2 : 16;
        ictal_train_record *r = realloc(ds->records, cap * sizeof *r);
        if (r == NULL)
            return ICTAL_ENOMEM;
        ds->records = r;
        ds->cap_records = cap;
    }
    ictal_train_record *r = &ds->records[ds->n_records];
    memset(r, 0, sizeof *r);
    copy_name(r->name, name);
    copy_name(r->patient, patient ? patient : name);
    return (int)ds->n_records++;
}

static int grow_rows(ictal_dataset *ds, size_t need)
{
    if (need <= ds->cap_rows)
        return 0;
    size_t cap = ds->cap_rows ? ds->cap_rows : 1024;
    while (cap < need)
        cap *= 2;
    size_t nf = (size_t)ds->n_features;
    /* Each column keeps its old block on failure, so the table stays consistent. */
#define GROW_COLUMN(col, elem)                                                                     \
    do {                                                                                           \
        void *g = realloc(ds->col, cap * (elem));                                                  \
        if (g == NULL)                                                                             \
            return ICTAL_ENOMEM;                                                                   \
        ds->col = g;                                                                               \
    } while (0)
    GROW_COLUMN(x, nf * sizeof *ds->x);
    GROW_COLUMN(y, sizeof *ds->y);
    GROW_COLUMN(w, sizeof *ds->w);
    GROW_COLUMN(record, sizeof *ds->record);
    GROW_COLUMN(channel, sizeof *ds->channel);
    GROW_COLUMN(t_s, sizeof *ds->t_s);
#undef GROW_COLUMN
    ds->cap_rows = cap;
    return 0;
}

int ictal_dataset_add_row(ictal_dataset *ds, int record, int channel, float t_s,
                          const float *x, float y)
{
    if (record < 0 || (size_t)record >= ds->n_records || ds->n_features <= 0)
        return ICTAL_EINVAL;
    int rc = grow_rows(ds, ds->n_rows + 1);
    if (rc)
        return rc;
    size_t i = ds->n_rows++;
    memcpy(ds->x + i * (size_t)ds->n_features, x, (size_t)ds->n_features * sizeof *x);
    ds->y[i] = y;
    ds->w[i] = 1.0f;
    ds->record[i] = record;
    ds->channel[i] = (int16_t)channel;
    ds->t_s[i] = t_s;
    if (y > 0.5f)
        ds->records[record].has_seizure = 1;
    return 0;
}

int ictal_dataset_append(ictal_dataset *dst, const ictal_dataset *src)
{
    if (dst->n_features != src->n_features)
        return ICTAL_EINVAL;
    size_t base = dst->n_records;
    for (size_t r = 0; r < src->n_records; r++) {
        int rc = ictal_dataset_add_record(dst, src->records[r].name, src->records[r].patient);
        if (rc < 0)
            return rc;
        dst->records[rc] = src->records[r];
    }
    int rc = grow_rows(dst, dst->n_rows + src->n_rows);
    if (rc)
        return rc;
    size_t nf = (size_t)src->n_features, at = dst->n_rows;
    memcpy(dst->x + at * nf, src->x, src->n_rows * nf * sizeof *src->x);
    memcpy(dst->y + at, src->y, src->n_rows * sizeof *src->y);
    memcpy(dst->w + at, src->w, src->n_rows * sizeof *src->w);
    memcpy(dst->channel + at, src->channel, src->n_rows * sizeof *src->channel);
    memcpy(dst->t_s + at, src->t_s, src->n_rows * sizeof *src->t_s);
    for (size_t i = 0; i < src->n_rows; i++)
        dst->record[at + i] = src->record[i] + (int32_t)base;
    dst->n_rows += src->n_rows;
    return 0;
}

void ictal_dataset_drop_features(ictal_dataset *ds, uint64_t drop)
{
    size_t nf = (size_t)ds->n_features;
    for (size_t j = 0; j < nf && j < 64; j++) {
        if (!(drop & ((uint64_t)1 << j)))
            continue;
        for (size_t i = 0; i < ds->n_rows; i++)
            ds->x[i * nf + j] = NAN;
    }
}

void ictal_dataset_count(const ictal_dataset *ds, const uint8_t *mask, size_t *n_pos,
                         size_t *n_neg)
{
    size_t p = 0, n = 0;
    for (size_t i = 0; i < ds->n_rows; i++) {
        if (mask && !mask[i])
            continue;
        if (ds->y[i] > 0.5f)
            p++;
        else
            n++;
    }
    if (n_pos)
        *n_pos = p;
    if (n_neg)
        *n_neg = n;
}

void ictal_trained_init(ictal_trained *t)
{
    memset(t, 0, sizeof *t);
}

void ictal_trained_free(ictal_trained *t)
{
    free(t->nodes);
    free(t->roots);
    free(t->weights);
    free(t->mean);
    free(t->scale);
    free(t->provenance);
    memset(t, 0, sizeof *t);
}

int ictal_trained_set_provenance(ictal_trained *t, const char *text)
{
    size_t n = strlen(text);
    char *p = malloc(n + 1);
    if (p == NULL)
        return ICTAL_ENOMEM;
    memcpy(p, text, n + 1);
    free(t->provenance);
    t->provenance = p;
    t->info.provenance = p;
    t->info.provenance_len = n;
    return 0;
}

int ictal_trained_serialize(const ictal_trained *t, unsigned char **bytes, size_t *len,
                            ictal_diag *d)
{
    *bytes = NULL;
    *len = 0;
    ictal_model_info info = t->info;
    if (info.provenance == NULL) {
        info.provenance = "";
        info.provenance_len = 0;
    }
    size_t size = ictal_model_serialized_size(&info);
    if (size == 0) {
        /* serialize() says why */
        unsigned char dummy[1];
        size_t n;
        int rc = ictal_model_serialize(&info, dummy, 0, &n, d);
        return rc ? rc : ICTAL_EINVAL;
    }
    unsigned char *buf = malloc(size);
    if (buf == NULL)
        return ICTAL_ENOMEM;
    int rc = ictal_model_serialize(&info, buf, size, len, d);
    if (rc) {
        free(buf);
        return rc;
    }
    *bytes = buf;
    return 0;
}
