/*
 * Scoring of a BIDS-like dataset, as szcore-evaluation's evaluate_dataset: every
 * reference events file of every subject against the hypothesis file at the same
 * relative path, counts summed per subject (see include/ictal/score.h).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ictal/score.h"

/* Deeper trees are not BIDS; the bound also stops symlink loops. */
#define WALK_MAX_DEPTH 16

typedef struct {
    char **v;
    size_t n, cap;
} str_vec;

static int str_push(str_vec *a, char *s)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        char **g = realloc(a->v, cap * sizeof(*g));
        if (g == NULL)
            return ICTAL_ENOMEM;
        a->v = g;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    return 0;
}

static void str_vec_free(str_vec *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Collects rel/.../<name>_events.tsv under root/rel (paths relative to root). */
static int walk(const char *root, const char *rel, int depth, str_vec *out, ictal_diag *d,
                char **err_path)
{
    char *dir_path = join(root, rel);
    if (dir_path == NULL)
        return ICTAL_ENOMEM;
    DIR *dir = opendir(dir_path);
    if (dir == NULL) {
        int e = errno;
        *err_path = dir_path;
        d->source = dir_path;
        return ictal_diag_error(d, ICTAL_EIO, "cannot list the directory: %s", strerror(e));
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child_rel = join(rel, de->d_name);
        char *child = child_rel ? join(root, child_rel) : NULL;
        struct stat st;
        if (child == NULL) {
            rc = ICTAL_ENOMEM;
        } else if (stat(child, &st) != 0) {
            /* A dangling link is not an events file. */
        } else if (S_ISDIR(st.st_mode)) {
            if (depth < WALK_MAX_DEPTH)
                rc = walk(root, child_rel, depth + 1, out, d, err_path);
        } else if (S_ISREG(st.st_mode) && ends_with(de->d_name, "_events.tsv")) {
            rc = str_push(out, child_rel);
            if (rc == 0)
                child_rel = NULL;
        }
        free(child_rel);
        free(child);
    }
    closedir(dir);
    free(dir_path == *err_path ? NULL : dir_path);
    return rc;
}

void ictal_score_dataset_init(ictal_score_dataset *ds)
{
    memset(ds, 0, sizeof(*ds));
    ds->latency.median_s = ds->latency.p90_s = ds->latency.max_s = NAN;
}

void ictal_score_dataset_free(ictal_score_dataset *ds)
{
    for (size_t i = 0; i < ds->n_files; i++) {
        free(ds->files[i].path);
        ictal_score_result_free(&ds->files[i].result);
    }
    for (size_t i = 0; i < ds->n_subjects; i++)
        free(ds->subjects[i].name);
    free(ds->files);
    free(ds->subjects);
    free(ds->diag_path);
    ictal_score_dataset_init(ds);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Reads and scores one file pair into f. */
static int score_file(const char *ref_dir, const char *hyp_dir, const ictal_score_params *p,
                      ictal_score_dataset *ds, ictal_score_file *f, ictal_diag *d)
{
    char *ref_path = join(ref_dir, f->path);
    char *hyp_path = join(hyp_dir, f->path);
    ictal_annotations ref, hyp;
    ictal_annotations_init(&ref);
    ictal_annotations_init(&hyp);
    int rc = 0;
    if (ref_path == NULL || hyp_path == NULL) {
        rc = ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        goto done;
    }
    /* Diagnostics name the file being read; ds keeps that name alive for the caller. */
    free(ds->diag_path);
    ds->diag_path = ref_path;
    ref_path = NULL;
    rc = ictal_annot_read_tsv(ds->diag_path, &ref, d);
    if (rc != 0)
        goto done;
    f->hyp_missing = !is_file(hyp_path);
    if (!f->hyp_missing) {
        free(ds->diag_path);
        ds->diag_path = hyp_path;
        hyp_path = NULL;
        rc = ictal_annot_read_tsv(ds->diag_path, &hyp, d);
        if (rc != 0)
            goto done;
    }
    /* Length warnings name the hypothesis file (or the reference when none). */
    ictal_diag_clear(d);
    d->source = ds->diag_path;
    rc = ictal_score_recording(&ref, f->hyp_missing ? NULL : &hyp, p, &f->result, d);
done:
    free(ref_path);
    free(hyp_path);
    ictal_annotations_free(&ref);
    ictal_annotations_free(&hyp);
    return rc;
}

int ictal_score_dataset_run(const char *ref_dir, const char *hyp_dir,
                            const ictal_score_params *p, ictal_score_dataset *ds,
                            ictal_diag *d)
{
    ictal_diag local;
    if (d == NULL) {
        ictal_diag_init(&local);
        d = &local;
    }
    ictal_diag_clear(d);
    int rc = ictal_score_params_check(p, d);
    if (rc != 0)
        return rc;
    str_vec subjects = {0}, paths = {0};
    char *err_path = NULL;
    double *all_latency = NULL;

    DIR *dir = opendir(ref_dir);
    if (dir == NULL) {
        d->source = ref_dir;
        return ictal_diag_error(d, errno == ENOENT ? ICTAL_ENOENT : ICTAL_EIO,
                                "cannot list the reference directory: %s", strerror(errno));
    }
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, "sub-", 4) != 0)
            continue;
        char *path = join(ref_dir, de->d_name);
        struct stat st;
        if (path == NULL)
            rc = ICTAL_ENOMEM;
        else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            char *name = strdup(de->d_name);
            rc = name ? str_push(&subjects, name) : ICTAL_ENOMEM;
            if (rc != 0)
                free(name);
        }
        free(path);
    }
    closedir(dir);
    if (rc != 0)
        goto fail;
    if (subjects.n > 1) /* an empty reference directory leaves subjects.v NULL */
        qsort(subjects.v, subjects.n, sizeof(char *), cmp_str);

    ds->subjects = calloc(subjects.n ? subjects.n : 1, sizeof(*ds->subjects));
    if (ds->subjects == NULL) {
        rc = ICTAL_ENOMEM;
        goto fail;
    }
    for (size_t s = 0; s < subjects.n; s++) {
        size_t first = paths.n;
        rc = walk(ref_dir, subjects.v[s], 0, &paths, d, &err_path);
        if (rc != 0)
            goto fail;
        if (paths.n == first) {
            ictal_diag_clear(d);
            d->source = ref_dir;
            rc = ictal_diag_warn(d, "%s has no *_events.tsv file: subject left out",
                                 subjects.v[s]);
            if (rc != 0)
                goto fail;
            continue;
        }
        qsort(paths.v + first, paths.n - first, sizeof(char *), cmp_str);
        ictal_score_subject *sub = &ds->subjects[ds->n_subjects];
        sub->name = subjects.v[s];
        subjects.v[s] = NULL;
        ds->n_subjects++;
        ictal_score_file *grown = realloc(ds->files, paths.n * sizeof(*grown));
        if (grown == NULL) {
            rc = ICTAL_ENOMEM;
            goto fail;
        }
        ds->files = grown;
        for (size_t i = first; i < paths.n; i++) {
            ictal_score_file *f = &ds->files[ds->n_files];
            memset(f, 0, sizeof(*f));
            ictal_score_result_init(&f->result);
            f->path = paths.v[i];
            paths.v[i] = NULL;
            f->subject = ds->n_subjects - 1;
            ds->n_files++;
            rc = score_file(ref_dir, hyp_dir, p, ds, f, d);
            if (rc != 0)
                goto fail;
            ictal_score_counts_add(&sub->sample, &f->result.sample);
            ictal_score_counts_add(&sub->event, &f->result.event);
        }
        ictal_score_metrics_compute(&sub->sample, &sub->sample_metrics);
        ictal_score_metrics_compute(&sub->event, &sub->event_metrics);
    }

    ictal_score_counts *counts = malloc((ds->n_subjects ? ds->n_subjects : 1) * sizeof(*counts));
    if (counts == NULL) {
        rc = ICTAL_ENOMEM;
        goto fail;
    }
    for (size_t s = 0; s < ds->n_subjects; s++)
        counts[s] = ds->subjects[s].sample;
    rc = ictal_score_summarize(counts, ds->n_subjects, &ds->sample);
    for (size_t s = 0; rc == 0 && s < ds->n_subjects; s++)
        counts[s] = ds->subjects[s].event;
    if (rc == 0)
        rc = ictal_score_summarize(counts, ds->n_subjects, &ds->event);
    free(counts);
    if (rc != 0)
        goto fail;

    size_t n_lat = 0;
    for (size_t i = 0; i < ds->n_files; i++)
        n_lat += ds->files[i].result.n_latency;
    all_latency = malloc((n_lat ? n_lat : 1) * sizeof(*all_latency));
    if (all_latency == NULL) {
        rc = ICTAL_ENOMEM;
        goto fail;
    }
    n_lat = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        const ictal_score_result *r = &ds->files[i].result;
        if (r->n_latency > 0)
            memcpy(all_latency + n_lat, r->latency_s, r->n_latency * sizeof(double));
        n_lat += r->n_latency;
    }
    ictal_latency_stats_compute(all_latency, n_lat, &ds->latency);
    free(all_latency);
    str_vec_free(&subjects);
    str_vec_free(&paths);
    free(err_path);
    return 0;

fail:
    if (rc == ICTAL_ENOMEM && d->code == 0)
        ictal_diag_error(d, rc, "out of memory");
    if (err_path != NULL) {
        free(ds->diag_path);
        ds->diag_path = err_path;
        d->source = err_path;
    }
    str_vec_free(&subjects);
    str_vec_free(&paths);
    return rc;
}
