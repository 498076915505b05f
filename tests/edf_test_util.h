/*
 * Helpers for the EDF tests: whole-file I/O, the list of EDF/BDF files under
 * ../shared/data, and a field-by-field comparison of ictal's reader with EDFlib.
 * Included by one test each (static functions).
 */
#ifndef ICTAL_EDF_TEST_UTIL_H
#define ICTAL_EDF_TEST_UTIL_H

#include <dirent.h>
#include <edflib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ictal/edf.h"
#include "test.h"

static inline uint8_t *util_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

static inline int util_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, size, f);
    return fclose(f) == 0 && w == size ? 0 : -1;
}

/* Reads every record of every data signal with the bulk reader; returns its status
 * (0 when there is nothing to read). */
static inline int util_read_all_float(ictal_edf *r, ictal_diag *d)
{
    const ictal_edf_info *in = ictal_edf_get_info(r);
    if (in->n_data_signals == 0 || in->n_records == 0)
        return 0;
    float **out = calloc((size_t)in->n_data_signals, sizeof(float *));
    if (out == NULL)
        return ICTAL_ENOMEM;
    for (int s = 0, k = 0; s < in->n_signals; s++)
        if (!in->signals[s].is_annotation)
            out[k++] = malloc((size_t)in->signals[s].samples_per_record *
                              (size_t)in->n_records * sizeof(float));
    int rc = ictal_edf_read_float(r, 0, in->n_records, NULL, in->n_data_signals, out, d);
    for (int k = 0; k < in->n_data_signals; k++)
        free(out[k]);
    free(out);
    return rc;
}

/* Appends to list every *.edf / *.bdf (any case) below dir, sorted per folder. */
static inline int util_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void util_find_edf(const char *dir, char ***list, int *n)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return;
    struct dirent *e;
    int start = *n;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%.255s", dir, e->d_name) >= sizeof(path))
            continue;
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            util_find_edf(path, list, n);
            continue;
        }
        size_t len = strlen(e->d_name);
        if (len > 4 && (strcasecmp(e->d_name + len - 4, ".edf") == 0 ||
                        strcasecmp(e->d_name + len - 4, ".bdf") == 0)) {
            *list = realloc(*list, (size_t)(*n + 1) * sizeof(char *));
            (*list)[(*n)++] = strdup(path);
        }
    }
    closedir(dp);
    qsort(*list + start, (size_t)(*n - start), sizeof(char *), util_cmp_str);
}

static inline void util_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

/*
 * Compares everything ictal reads from ictal_path with what EDFlib reads from
 * edflib_path (usually the same file). Returns 0 when EDFlib could not open it.
 */
static inline int util_compare_with_edflib(const char *ictal_path, const char *edflib_path)
{
    struct edf_hdr_struct h;
    if (edfopen_file_readonly(edflib_path, &h, EDFLIB_READ_ALL_ANNOTATIONS) != 0)
        return 0;
    ictal_diag d;
    ictal_diag_init(&d);
    ictal_edf *r = NULL;
    int rc = ictal_edf_open(&r, ictal_path, NULL, &d);
    CHECK_MSG(rc == 0, "%s: %s", ictal_path, d.message);
    if (rc != 0) {
        edfclose_file(h.handle);
        return 1;
    }
    const ictal_edf_info *in = ictal_edf_get_info(r);
    CHECK_EQ_INT(in->n_data_signals, h.edfsignals);
    CHECK_EQ_INT(in->n_records, h.datarecords_in_file);
    CHECK_NEAR(in->record_duration_s, (double)h.datarecord_duration / EDFLIB_TIME_DIMENSION, 1e-7);
    CHECK_NEAR(in->duration_s, (double)h.file_duration / EDFLIB_TIME_DIMENSION, 1e-6);
    CHECK_EQ_INT(in->year, h.startdate_year);
    CHECK_EQ_INT(in->month, h.startdate_month);
    CHECK_EQ_INT(in->day, h.startdate_day);
    CHECK_EQ_INT(in->hour, h.starttime_hour);
    CHECK_EQ_INT(in->minute, h.starttime_minute);
    CHECK_EQ_INT(in->second, h.starttime_second);
    CHECK_NEAR(in->start_subsecond_s, (double)h.starttime_subsecond / EDFLIB_TIME_DIMENSION, 1e-7);
    CHECK_EQ_INT(in->format, (h.filetype == EDFLIB_FILETYPE_BDF || h.filetype == EDFLIB_FILETYPE_BDFPLUS)
                                 ? ICTAL_EDF_FORMAT_BDF : ICTAL_EDF_FORMAT_EDF);

    int k = 0;
    for (int s = 0; s < in->n_signals && k < h.edfsignals; s++) {
        const ictal_edf_signal *g = &in->signals[s];
        if (g->is_annotation)
            continue;
        struct edf_param_struct *p = &h.signalparam[k];
        char label[32], dim[16];
        snprintf(label, sizeof(label), "%s", p->label);
        snprintf(dim, sizeof(dim), "%s", p->physdimension);
        util_trim(label);
        util_trim(dim);
        CHECK_STR(g->label, label);
        CHECK_STR(g->dimension, dim);
        CHECK_EQ_INT(g->samples_per_record, p->smp_in_datarecord);
        CHECK_NEAR(g->physical_min, p->phys_min, 1e-9);
        CHECK_NEAR(g->physical_max, p->phys_max, 1e-9);
        CHECK_EQ_INT(g->digital_min, p->dig_min);
        CHECK_EQ_INT(g->digital_max, p->dig_max);

        /* Every sample, as physical doubles and through the float µV path. */
        int64_t n = (int64_t)g->samples_per_record * in->n_records;
        double *want = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        double *got = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        float *fl = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
        int m = edfread_physical_samples(h.handle, k, (int)n, want);
        CHECK_EQ_INT(m, n);
        size_t n_read = 0;
        CHECK_EQ_INT(ictal_edf_read_physical(r, s, 0, (size_t)n, got, &n_read, &d), 0);
        CHECK_EQ_INT(n_read, n);
        float *outs[1] = {fl};
        CHECK_EQ_INT(ictal_edf_read_float(r, 0, in->n_records, &s, 1, outs, &d), 0);
        /* EDFlib clips digital values to [digital_min, digital_max]; ictal does not
         * (docs/edf.md), so clip ictal's raw values before comparing. */
        int32_t *dig = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
        CHECK_EQ_INT(ictal_edf_read_digital(r, s, 0, (size_t)n, dig, &n_read, &d), 0);
        double range = fabs(g->physical_max - g->physical_min);
        int bad = 0, badf = 0, clipped = 0;
        for (int64_t i = 0; i < n && i < m; i++) {
            double phys = got[i], flv = fl[i];
            if (dig[i] < g->digital_min || dig[i] > g->digital_max) {
                int32_t c = dig[i] < g->digital_min ? g->digital_min : g->digital_max;
                phys = g->gain * c + g->offset;
                flv = (float)(phys * g->uv_per_unit);
                clipped++;
            } else if (fabs(g->gain * dig[i] + g->offset - got[i]) > 1e-12 * (range + fabs(got[i]))) {
                bad++;
            }
            if (fabs(phys - want[i]) > 1e-9 * (range + fabs(want[i])))
                bad++;
            if (fabs(flv - want[i] * g->uv_per_unit) >
                1e-6 * (range + fabs(want[i])) * g->uv_per_unit + 1e-6)
                badf++;
        }
        free(dig);
        CHECK_MSG(bad == 0, "%s signal %d: %d samples differ from EDFlib", ictal_path, s, bad);
        CHECK_MSG(badf == 0, "%s signal %d: %d float samples differ from EDFlib", ictal_path, s,
                  badf);
        free(want);
        free(got);
        free(fl);
        k++;
    }

    /* Annotations: the same multiset of (onset, duration, text). */
    CHECK_EQ_INT(in->n_annotations, h.annotations_in_file);
    int unmatched = 0;
    for (long long i = 0; i < h.annotations_in_file; i++) {
        struct edf_annotation_struct a;
        if (edf_get_annotation(h.handle, (int)i, &a) != 0) {
            unmatched++;
            continue;
        }
        double on = (double)a.onset / EDFLIB_TIME_DIMENSION;
        double du = a.duration[0] ? atof(a.duration) : -1;
        int found = 0;
        for (size_t j = 0; j < in->n_annotations && !found; j++) {
            const ictal_edf_annotation *x = &in->annotations[j];
            found = fabs(x->onset_s - on) < 1e-6 && fabs(x->duration_s - du) < 1e-6 &&
                    strcmp(x->text, a.annotation) == 0;
        }
        if (!found) {
            fprintf(stderr, "%s: EDFlib annotation %.7f %s '%s' not found\n", ictal_path, on,
                    a.duration, a.annotation);
            unmatched++;
        }
    }
    CHECK_EQ_INT(unmatched, 0);
    ictal_edf_close(r);
    edfclose_file(h.handle);
    return 1;
}

#endif
