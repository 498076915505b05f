/*
 * The published leave-one-patient-out protocols need the public data sets in their own
 * layout; this lists such a local copy into a corpus (lazily for the full sets).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/annot.h"
#include "ictal/train.h"


static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir for which keep(name) is true (malloc'd array of malloc'd names). */
static int list_dir(const char *dir, int (*keep)(const char *), char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return ICTAL_ENOENT;
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(dp)) != NULL) {
        if (!keep(e->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = realloc(*out, cap * sizeof *v);
            if (v == NULL) {
                rc = ICTAL_ENOMEM;
                break;
            }
            *out = v;
        }
        size_t len = strlen(e->d_name) + 1;
        char *s = malloc(len);
        if (s == NULL) {
            rc = ICTAL_ENOMEM;
            break;
        }
        memcpy(s, e->d_name, len);
        (*out)[(*n)++] = s;
    }
    closedir(dp);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_str);
    return rc;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_chb_patient(const char *s)
{
    return strncmp(s, "chb", 3) == 0 && strlen(s) == 5 && s[3] >= '0' && s[3] <= '9' &&
           s[4] >= '0' && s[4] <= '9';
}

static int is_siena_patient(const char *s)
{
    return strncmp(s, "PN", 2) == 0 && strlen(s) == 4 && s[2] >= '0' && s[2] <= '9' &&
           s[3] >= '0' && s[3] <= '9';
}

static int is_edf(const char *s)
{
    return ends_with(s, ".edf") || ends_with(s, ".EDF");
}

/* Adds every EDF of dir/patient with seizures from dir/patient/<annot_name>. */
static int add_patient(ictal_corpus *c, const char *set, const char *dir, const char *patient,
                       const char *annot_name, int montage, ictal_diag *d)
{
    char pdir[2048], annot[4096];
    if ((size_t)snprintf(pdir, sizeof pdir, "%s/%s", dir, patient) >= sizeof pdir)
        return ictal_diag_error(d, ICTAL_ERANGE, "%s: path too long", dir);
    snprintf(annot, sizeof annot, "%s/%s", pdir, annot_name);
    FILE *f = fopen(annot, "rb");
    if (f == NULL)
        return ictal_diag_warn(d, "%s: no %s: patient skipped", pdir, annot_name);
    fclose(f);
    char **files;
    size_t n;
    int rc = list_dir(pdir, is_edf, &files, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%.1000s", pdir, files[i]) >= sizeof path)
            continue;
        ictal_diag dd;
        ictal_diag_init(&dd);
        dd.on_warning = d ? d->on_warning : NULL;
        dd.user = d ? d->user : NULL;
        /* Siena lists only the recordings with seizures: the others are seizure-free
         * (their EDF files carry no annotations). CHB-MIT's summary lists every file. */
        const char *use = annot;
        if (strcmp(set, "siena") == 0) {
            ictal_annotations a;
            ictal_annotations_init(&a);
            if (ictal_annot_read_any(annot, files[i], &a, &dd) == ICTAL_ENOENT)
                use = NULL;
            ictal_annotations_free(&a);
            ictal_diag_clear(&dd);
        }
        rc = ictal_corpus_add_edf(c, set, path, patient, montage, use, files[i], &dd);
        if (rc == ICTAL_ENOENT) {
            /* a recording its summary does not list, or without the montage's channels */
            rc = ictal_diag_warn(d, "%s skipped: %s", path, dd.message);
        } else if (rc) {
            /* dd names a path on this stack frame: keep its text, not the pointer */
            char buf[1024];
            ictal_diag_format(&dd, buf, sizeof buf);
            if (d)
                d->source = NULL;
            rc = ictal_diag_error(d, rc, "%s", buf);
        }
    }
    free_list(files, n);
    return rc;
}

static int add_layout(ictal_corpus *c, const char *set, const char *dir,
                      int (*is_patient)(const char *), const char *annot_fmt, int montage,
                      ictal_diag *d)
{
    char **pats;
    size_t n;
    size_t before = c->n_items;
    int rc = list_dir(dir, is_patient, &pats, &n);
    if (rc == ICTAL_ENOENT)
        return ictal_diag_error(d, rc, "%s: cannot open the folder", dir);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char annot[64];
        snprintf(annot, sizeof annot, annot_fmt, pats[i]);
        rc = add_patient(c, set, dir, pats[i], annot, montage, d);
    }
    free_list(pats, n);
    if (rc == 0 && c->n_items == before)
        rc = ictal_diag_error(d, ICTAL_ENOENT, "%s: no recording in the %s layout", dir, set);
    return rc;
}

int ictal_corpus_add_chbmit(ictal_corpus *c, const char *dir, int montage, ictal_diag *d)
{
    return add_layout(c, "chbmit", dir, is_chb_patient, "%s-summary.txt", montage, d);
}

int ictal_corpus_add_siena(ictal_corpus *c, const char *dir, int montage, ictal_diag *d)
{
    return add_layout(c, "siena", dir, is_siena_patient, "Seizures-list-%s.txt", montage, d);
}
