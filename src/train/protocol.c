/*
 * The published protocols (leave-one-patient-out for CHB-MIT and Siena, the fixed
 * patient-disjoint split for TUSZ) need the public data sets in their own layout; this
 * lists such a local copy into a corpus (lazily for the full sets).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ictal/annot.h"
#include "ictal/edf.h"
#include "ictal/montage.h"
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

/* --- TUSZ ------------------------------------------------------------------------------ */

static int not_hidden(const char *s)
{
    return s[0] != '.';
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The montage's channels that the recording cannot give, as "Fp1-F7 (needs Fp1, F7), ..."
 * into why; 0 when it has them all, else ICTAL_ENOENT (or the error opening it). */
static int montage_missing(const char *path, int montage, char *why, size_t cap, ictal_diag *d)
{
    why[0] = '\0';
    ictal_edf_options opt;
    memset(&opt, 0, sizeof opt);
    opt.skip_annotations = 1;
    ictal_edf *r = NULL;
    int rc = ictal_edf_open(&r, path, &opt, d);
    if (rc)
        return rc;
    const ictal_edf_info *info = ictal_edf_get_info(r);
    const char *labels[ICTAL_MONTAGE_INPUTS_MAX];
    int n = 0;
    for (int i = 0; i < info->n_signals && n < ICTAL_MONTAGE_INPUTS_MAX; i++)
        labels[n++] = info->signals[i].label;
    ictal_montage *m = malloc(sizeof *m);
    if (m == NULL) {
        ictal_edf_close(r);
        return ICTAL_ENOMEM;
    }
    rc = ictal_montage_build(m, (ictal_montage_kind)montage, labels, n, NULL);
    if (rc == 0 && m->n_missing == 0) {
        free(m);
        ictal_edf_close(r);
        return 0;
    }
    for (int i = 0; i < m->n_missing; i++) {
        size_t len = strlen(why);
        if (len + ICTAL_LABEL_MAX + 3 >= cap)
            break;
        snprintf(why + len, cap - len, "%s%s", i ? ", " : "", m->missing[i]);
    }
    free(m);
    ictal_edf_close(r);
    return ICTAL_ENOENT;
}

static const char *const tusz_annot_ext[] = {".csv_bi", ".csv", ".tse_bi", ".tse"};

struct tusz_walk {
    ictal_corpus *c;
    const char *set;
    int montage;
    int split;
    ictal_tusz_counts *counts;
    ictal_diag *d;
};

/* One EDF: its annotation beside it, its patient from its name, its channels. */
static int tusz_add_edf(struct tusz_walk *w, const char *path, const char *name)
{
    char annot[4096];
    size_t stem = strlen(path) - 4; /* without ".edf" */
    int found = 0;
    for (size_t k = 0; k < 4 && !found; k++) {
        snprintf(annot, sizeof annot, "%.*s%s", (int)stem, path, tusz_annot_ext[k]);
        found = is_file(annot);
    }
    w->counts->n_found[w->split]++;
    if (!found) {
        w->counts->n_skipped[w->split]++;
        return ictal_diag_warn(w->d, "%s skipped: no .csv_bi, .csv, .tse_bi or .tse beside it",
                               path);
    }
    /* TUSZ names files PATIENT_SESSION_TOKEN.edf in every version and layout */
    char patient[ICTAL_TRAIN_NAME_MAX];
    size_t pn = strcspn(name, "_");
    if (pn >= sizeof patient)
        pn = sizeof patient - 1;
    memcpy(patient, name, pn);
    patient[pn] = '\0';
    ictal_diag dd;
    ictal_diag_init(&dd);
    dd.on_warning = w->d ? w->d->on_warning : NULL;
    dd.user = w->d ? w->d->user : NULL;
    dd.strict = w->d ? w->d->strict : 0;
    char why[512];
    int rc = montage_missing(path, w->montage, why, sizeof why, &dd);
    if (rc == ICTAL_ENOENT) {
        w->counts->n_skipped[w->split]++;
        return ictal_diag_warn(w->d, "%s skipped: the montage needs %s, which it lacks", path,
                               why[0] ? why : "channels");
    }
    if (rc == 0)
        rc = ictal_corpus_add_edf(w->c, w->set, path, patient, w->montage, annot, NULL, &dd);
    if (rc == 0) {
        w->counts->n_added[w->split]++;
        return 0;
    }
    if (rc == ICTAL_ENOMEM)
        return ictal_diag_error(w->d, rc, "out of memory");
    /* a damaged file or annotation of ~7,000: skipped, said, counted (strict: an error) */
    char buf[1024];
    ictal_diag_format(&dd, buf, sizeof buf);
    w->counts->n_skipped[w->split]++;
    if (w->d)
        w->d->source = NULL;
    return ictal_diag_warn(w->d, "%s skipped: %s", path, buf);
}

/* Every EDF under dir (PATIENT/SESSION/MONTAGE in v2.x, MONTAGE/GROUP/PATIENT/SESSION in
 * v1.5), in sorted order. */
static int tusz_walk(struct tusz_walk *w, const char *dir, int depth)
{
    char **names;
    size_t n;
    int rc = list_dir(dir, not_hidden, &names, &n);
    if (rc == ICTAL_ENOENT)
        return 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
            continue;
        if (is_edf(names[i]) && is_file(path))
            rc = tusz_add_edf(w, path, names[i]);
        else if (depth < 8 && is_dir(path))
            rc = tusz_walk(w, path, depth + 1);
    }
    free_list(names, n);
    return rc;
}

int ictal_corpus_add_tusz(ictal_corpus *c, const char *dir, int montage,
                          ictal_tusz_counts *counts, ictal_diag *d)
{
    static const char *const splits[3] = {"train", "dev", "eval"};
    ictal_tusz_counts local;
    if (counts == NULL)
        counts = &local;
    memset(counts, 0, sizeof *counts);
    if (d != NULL)
        d->source = NULL; /* warnings below name their paths themselves */
    if (montage == ICTAL_TRAIN_MONTAGE_AUTO)
        montage = ICTAL_TRAIN_MONTAGE_DOUBLE_BANANA; /* TUSZ records all 19 electrodes */
    char root[2048];
    if ((size_t)snprintf(root, sizeof root, "%s/edf", dir) >= sizeof root)
        return ictal_diag_error(d, ICTAL_ERANGE, "%s: path too long", dir);
    if (!is_dir(root)) /* DIR may be the edf folder itself */
        snprintf(root, sizeof root, "%s", dir);
    if (!is_dir(root))
        return ictal_diag_error(d, ICTAL_ENOENT, "%s: cannot open the folder", dir);
    size_t before = c->n_items;
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        char sdir[4096];
        snprintf(sdir, sizeof sdir, "%s/%s", root, splits[k]);
        counts->present[k] = is_dir(sdir);
        if (!counts->present[k]) {
            rc = ictal_diag_warn(d, "%s: no %s split (TUSZ v1.5 has no eval): no tusz-%s "
                                    "figures",
                                 sdir, splits[k], splits[k]);
            continue;
        }
        char set[ICTAL_SET_NAME_MAX];
        snprintf(set, sizeof set, "tusz-%s", splits[k]);
        struct tusz_walk w = {c, set, montage, k, counts, d};
        rc = tusz_walk(&w, sdir, 0);
    }
    if (rc)
        return rc;
    if (counts->n_added[0] == 0)
        return ictal_diag_error(d, ICTAL_ENOENT, "%s: no usable recording in %s/train (expected "
                                "edf/train/PATIENT/SESSION/MONTAGE/*.edf with a .csv_bi "
                                "beside each)",
                                dir, root);
    if (c->n_items - before == counts->n_added[0])
        return ictal_diag_error(d, ICTAL_ENOENT, "%s: no usable recording in dev or eval: "
                                "nothing to score", dir);
    return 0;
}
