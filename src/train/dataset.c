/*
 * Loading labelled recordings into a corpus: read the signals, map them to the
 * montage the model works on, and attach the seizures from the annotations.
 */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/annot.h"
#include "ictal/edf.h"
#include "ictal/montage.h"
#include "ictal/recording.h"
#include "ictal/train.h"

/* Applies the montage of kind to raw frames: *out (malloc'd) n_frames x m->n_channels. */
static int apply_montage(const char *name, const float *frames_uv, size_t n_frames, int n_inputs,
                         const char *const *labels, int montage, ictal_montage *m, float **out,
                         ictal_diag *d)
{
    *out = NULL;
    int rc = ictal_montage_build(m, (ictal_montage_kind)montage, labels, n_inputs, NULL);
    if (rc == ICTAL_ENOENT) {
        char missing[256] = "";
        for (int i = 0; i < m->n_missing && strlen(missing) + ICTAL_LABEL_MAX + 2 < sizeof missing;
             i++) {
            strcat(missing, i ? ", " : "");
            strcat(missing, m->missing[i]);
        }
        return ictal_diag_error(d, rc, "%s: no channel of the montage (missing %s)", name,
                                missing);
    }
    if (rc)
        return ictal_diag_error(d, rc, "%s: cannot build the montage", name);
    if (m->n_channels > ICTAL_CORPUS_CHANNELS)
        return ictal_diag_error(d, ICTAL_ERANGE, "%s: %d channels, at most %d", name,
                                m->n_channels, ICTAL_CORPUS_CHANNELS);
    size_t nc = (size_t)m->n_channels;
    *out = malloc((n_frames ? n_frames : 1) * nc * sizeof **out);
    if (*out == NULL)
        return ICTAL_ENOMEM;
    for (size_t f = 0; f < n_frames; f++)
        ictal_montage_apply(m, frames_uv + f * (size_t)n_inputs, *out + f * nc);
    return 0;
}

int ictal_corpus_add_raw(ictal_corpus *c, const char *set, const char *name,
                         const char *patient, const float *frames_uv, size_t n_frames,
                         int n_inputs, double rate_hz, const char *const *labels, int montage,
                         const ictal_interval *sz, size_t n_sz, ictal_diag *d)
{
    ictal_montage m;
    float *out = NULL;
    int rc = apply_montage(name, frames_uv, n_frames, n_inputs, labels, montage, &m, &out, d);
    if (rc) {
        free(out);
        return rc;
    }
    const char *lab[ICTAL_MONTAGE_MAX];
    for (int ch = 0; ch < m.n_channels; ch++)
        lab[ch] = m.labels[ch];
    ictal_signal sig = {out, n_frames, m.n_channels, rate_hz, lab, 0};
    rc = ictal_corpus_add(c, set, name, patient, &sig, sz, n_sz);
    free(out);
    return rc < 0 ? ictal_diag_error(d, rc, "%s: cannot add the recording", name) : rc;
}

/* The seizures of an annotation list as intervals (malloc'd). */
static int seizures_of(const ictal_annotations *a, ictal_interval **sz, size_t *n_sz)
{
    *sz = malloc((a->count ? a->count : 1) * sizeof **sz);
    *n_sz = 0;
    if (*sz == NULL)
        return ICTAL_ENOMEM;
    for (size_t i = 0; i < a->count; i++) {
        if (!ictal_event_is_seizure(&a->events[i]))
            continue;
        (*sz)[*n_sz].onset_s = a->events[i].onset_s;
        (*sz)[*n_sz].offset_s = a->events[i].onset_s + a->events[i].duration_s;
        (*n_sz)++;
    }
    return 0;
}

/* Base name without directory and extension: "data/chb01_03.edf" -> "chb01_03". */
static void base_name(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *dot = strrchr(b, '.');
    if (dot && dot != b)
        n = (size_t)(dot - b);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* An EDF file read and put into its montage, with its seizures. */
typedef struct loaded {
    float *frames;     /* montaged, n_frames x m.n_channels */
    size_t n_frames;
    double rate_hz;
    ictal_montage m;
    ictal_interval *sz;
    size_t n_sz;
} loaded;

static void loaded_free(loaded *l)
{
    free(l->frames);
    free(l->sz);
    memset(l, 0, sizeof *l);
}

static int load_edf(const char *path, int montage, const char *annot_path, const char *record,
                    int want_frames, loaded *out, ictal_diag *d)
{
    memset(out, 0, sizeof *out);
    ictal_edf *r = NULL;
    if (d) {
        d->source = path; /* a reused diag must not name the previous file */
        ictal_diag_clear(d);
    }
    int rc = ictal_edf_open(&r, path, NULL, d);
    if (rc)
        return rc;
    const ictal_edf_info *info = ictal_edf_get_info(r);
    /* the signals at the rate most data signals share (ECG at another rate, annotation
     * signals and the like are left out; the montage keeps only EEG electrodes) */
    int *sel = malloc((size_t)(info->n_signals ? info->n_signals : 1) * sizeof *sel);
    const char **labels = malloc((size_t)(info->n_signals ? info->n_signals : 1) * sizeof *labels);
    ictal_annotations ann;
    ictal_annotations_init(&ann);
    float *raw = NULL;
    if (sel == NULL || labels == NULL) {
        rc = ICTAL_ENOMEM;
        goto done;
    }
    int best = 0, spr = 0;
    for (int i = 0; i < info->n_signals; i++) {
        const ictal_edf_signal *s = &info->signals[i];
        if (s->is_annotation)
            continue;
        int same = 0;
        for (int j = 0; j < info->n_signals; j++)
            same += !info->signals[j].is_annotation &&
                    info->signals[j].samples_per_record == s->samples_per_record;
        if (same > best) {
            best = same;
            spr = s->samples_per_record;
            out->rate_hz = s->rate_hz;
        }
    }
    int n_sel = 0;
    for (int i = 0; i < info->n_signals; i++) {
        const ictal_edf_signal *s = &info->signals[i];
        if (s->is_annotation || s->samples_per_record != spr)
            continue;
        sel[n_sel] = i;
        labels[n_sel++] = s->label;
    }
    if (n_sel == 0 || !(out->rate_hz > 0)) {
        rc = ictal_diag_error(d, ICTAL_ENOENT, "%s: no signal to read", path);
        goto done;
    }
    out->n_frames = (size_t)info->n_records * (size_t)spr;
    if (want_frames) {
        raw = malloc((out->n_frames ? out->n_frames : 1) * (size_t)n_sel * sizeof *raw);
        if (raw == NULL) {
            rc = ICTAL_ENOMEM;
            goto done;
        }
        rc = ictal_edf_read_frames(r, 0, info->n_records, sel, n_sel, raw, d);
        if (rc)
            goto done;
        rc = apply_montage(path, raw, out->n_frames, n_sel, labels, montage, &out->m,
                           &out->frames, d);
    } else {
        rc = apply_montage(path, NULL, 0, n_sel, labels, montage, &out->m, &out->frames, d);
    }
    if (rc)
        goto done;
    if (annot_path) {
        rc = ictal_annot_read_any(annot_path, record, &ann, d);
    } else {
        /* the file's own EDF+ annotations (texts that name a seizure mark one) */
        rc = ictal_annot_from_edf(info, &ann, d);
    }
    if (rc == 0)
        rc = seizures_of(&ann, &out->sz, &out->n_sz);
done:
    ictal_edf_close(r);
    ictal_annotations_free(&ann);
    free(sel);
    free(labels);
    free(raw);
    if (rc)
        loaded_free(out);
    return rc;
}

static char *dup_or_null(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int ictal_corpus_add_edf(ictal_corpus *c, const char *set, const char *path,
                         const char *patient, int montage, const char *annot_path,
                         const char *record, ictal_diag *d)
{
    loaded l;
    int rc = load_edf(path, montage, annot_path, record, !c->lazy, &l, d);
    if (rc)
        return rc;
    char name[ICTAL_TRAIN_NAME_MAX];
    base_name(path, name, sizeof name);
    const char *lab[ICTAL_MONTAGE_MAX];
    for (int ch = 0; ch < l.m.n_channels; ch++)
        lab[ch] = l.m.labels[ch];
    ictal_signal sig = {l.frames, c->lazy ? 0 : l.n_frames, l.m.n_channels, l.rate_hz, lab, 0};
    rc = ictal_corpus_add(c, set, name, patient ? patient : name, &sig, l.sz, l.n_sz);
    if (rc >= 0) {
        ictal_corpus_item *it = &c->items[rc];
        it->duration_s = (double)l.n_frames / l.rate_hz;
        it->montage = montage;
        if (c->lazy) {
            free(it->frames_uv);
            it->frames_uv = NULL;
            it->n_frames = l.n_frames;
            it->path = dup_or_null(path);
            it->annot_path = dup_or_null(annot_path);
            it->record = dup_or_null(record);
            if (it->path == NULL || (annot_path && !it->annot_path) || (record && !it->record))
                rc = ICTAL_ENOMEM;
        }
    }
    loaded_free(&l);
    return rc < 0 ? ictal_diag_error(d, rc, "%s: cannot add the recording", path) : 0;
}

int ictal_corpus_acquire(const ictal_corpus_item *it, ictal_signal *sig, float **owned,
                         ictal_diag *d)
{
    *owned = NULL;
    sig->n_frames = it->n_frames;
    sig->n_channels = it->n_channels;
    sig->rate_hz = it->rate_hz;
    sig->labels = it->labels[0][0] ? it->label_ptrs : NULL;
    sig->artefact_scale = it->artefact_scale;
    sig->frames_uv = it->frames_uv;
    if (it->frames_uv != NULL || it->path == NULL)
        return it->frames_uv || it->n_frames == 0 ? 0
                                                  : ictal_diag_error(d, ICTAL_EINVAL, "%s: no samples",
                                                                     it->name);
    loaded l;
    int rc = load_edf(it->path, it->montage, it->annot_path, it->record, 1, &l, d);
    if (rc)
        return rc;
    if (l.m.n_channels != it->n_channels || l.n_frames != it->n_frames) {
        loaded_free(&l);
        return ictal_diag_error(d, ICTAL_EFORMAT, "%s: changed since it was listed", it->path);
    }
    free(l.sz);
    *owned = l.frames;
    sig->frames_uv = l.frames;
    return 0;
}

/* --- other formats through ictal/recording.h ------------------------------------------- */

/* A whole recording read through recording.h: frames (malloc'd) and labels (copied). */
typedef struct whole {
    float *frames;
    size_t n_frames;
    int n_channels;
    double rate_hz;
    char labels[ICTAL_MONTAGE_INPUTS_MAX][ICTAL_LABEL_MAX];
    const char *label_ptrs[ICTAL_MONTAGE_INPUTS_MAX];
} whole;

static int read_whole(const char *path, whole *w, ictal_diag *d)
{
    memset(w, 0, sizeof *w);
    if (d) {
        d->source = path;
        ictal_diag_clear(d);
    }
    ictal_recording *r = NULL;
    int rc = ictal_recording_open(&r, path, NULL, d);
    if (rc)
        return rc;
    const ictal_recording_info *info = ictal_recording_get_info(r);
    if (info->n_channels <= 0 || info->n_channels > ICTAL_MONTAGE_INPUTS_MAX) {
        ictal_recording_close(r);
        return ictal_diag_error(d, ICTAL_ERANGE, "%s: %d channels", path, info->n_channels);
    }
    w->n_channels = info->n_channels;
    w->rate_hz = info->sample_rate_hz;
    for (int ch = 0; ch < w->n_channels; ch++) {
        snprintf(w->labels[ch], ICTAL_LABEL_MAX, "%s", info->labels ? info->labels[ch] : "");
        w->label_ptrs[ch] = w->labels[ch];
    }
    size_t cap = info->n_frames > 0 ? (size_t)info->n_frames : 4096;
    size_t nc = (size_t)w->n_channels;
    w->frames = malloc(cap * nc * sizeof *w->frames);
    while (rc == 0 && w->frames) {
        if (w->n_frames == cap) {
            float *f = realloc(w->frames, 2 * cap * nc * sizeof *f);
            if (f == NULL)
                break;
            w->frames = f;
            cap *= 2;
        }
        int64_t got = ictal_recording_read(r, w->frames + w->n_frames * nc,
                                           (int64_t)(cap - w->n_frames), d);
        if (got < 0)
            rc = (int)got;
        else if (got == 0)
            break;
        else
            w->n_frames += (size_t)got;
    }
    ictal_recording_close(r);
    if (rc == 0 && w->frames == NULL)
        rc = ICTAL_ENOMEM;
    if (rc) {
        free(w->frames);
        w->frames = NULL;
    }
    return rc;
}

static int is_edf_name(const char *path)
{
    size_t n = strlen(path);
    if (n < 4)
        return 0;
    const char *e = path + n - 4;
    return e[0] == '.' && (tolower((unsigned char)e[1]) == 'e' || tolower((unsigned char)e[1]) == 'b') &&
           tolower((unsigned char)e[2]) == 'd' && tolower((unsigned char)e[3]) == 'f';
}

int ictal_corpus_add_file(ictal_corpus *c, const char *set, const char *path,
                          const char *patient, int montage, const char *annot_path,
                          const char *record, ictal_diag *d)
{
    if (is_edf_name(path))
        return ictal_corpus_add_edf(c, set, path, patient, montage, annot_path, record, d);
    whole *w = malloc(sizeof *w);
    if (w == NULL)
        return ICTAL_ENOMEM;
    int rc = read_whole(path, w, d);
    ictal_annotations ann;
    ictal_annotations_init(&ann);
    ictal_interval *sz = NULL;
    size_t n_sz = 0;
    if (rc == 0 && annot_path)
        rc = ictal_annot_read_any(annot_path, record, &ann, d);
    if (rc == 0)
        rc = seizures_of(&ann, &sz, &n_sz);
    if (rc == 0) {
        char name[ICTAL_TRAIN_NAME_MAX];
        base_name(path, name, sizeof name);
        rc = ictal_corpus_add_raw(c, set, name, patient ? patient : name, w->frames, w->n_frames,
                                  w->n_channels, w->rate_hz, w->label_ptrs, montage, sz, n_sz, d);
        if (rc > 0)
            rc = 0;
    }
    free(sz);
    ictal_annotations_free(&ann);
    free(w->frames);
    free(w);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* chbmit-windows/chbNN/{preictal_10s,ictal}: each seizure's pre-ictal window streamed
 * before its ictal window, as one 20 s item with the seizure from 10 s to the end. */
static int add_chbmit_windows(ictal_corpus *c, const char *dir, int montage, ictal_diag *d)
{
    static const char *const patients[] = {"chb01", "chb02", "chb03", "chb04", "chb05",
                                           "chb06", "chb07", "chb08", "chb09", "chb10"};
    int n_added = 0;
    for (size_t p = 0; p < sizeof patients / sizeof patients[0]; p++) {
        char idir[2048];
        if ((size_t)snprintf(idir, sizeof idir, "%s/chbmit-windows/%s/ictal", dir, patients[p]) >=
            sizeof idir)
            return ictal_diag_error(d, ICTAL_ERANGE, "%s: path too long", dir);
        DIR *dp = opendir(idir);
        if (dp == NULL)
            continue;
        char names[64][64];
        int n = 0;
        struct dirent *e;
        while ((e = readdir(dp)) != NULL && n < 64) {
            size_t len = strlen(e->d_name);
            if (len > 10 && len < 60 && strcmp(e->d_name + len - 10, "_ictal.npy") == 0) {
                memcpy(names[n], e->d_name, len - 10);
                names[n][len - 10] = '\0';
                n++;
            }
        }
        closedir(dp);
        qsort(names, (size_t)n, sizeof names[0], cmp_name);
        for (int i = 0; i < n; i++) {
            char pre[4096], ict[4096];
            snprintf(ict, sizeof ict, "%.2000s/%.60s_ictal.npy", idir, names[i]);
            snprintf(pre, sizeof pre, "%.2000s/chbmit-windows/%s/preictal_10s/%.60s_preictal10s.npy",
                     dir, patients[p], names[i]);
            whole *a = malloc(sizeof *a), *b = malloc(sizeof *b);
            if (a == NULL || b == NULL) {
                free(a);
                free(b);
                return ICTAL_ENOMEM;
            }
            int rc = read_whole(pre, a, d);
            if (rc == 0) {
                rc = read_whole(ict, b, d);
                if (rc == 0 && (b->n_channels != a->n_channels || b->rate_hz != a->rate_hz))
                    rc = ictal_diag_error(d, ICTAL_EFORMAT, "%s: not the layout of %s", ict, pre);
            }
            if (rc == 0) {
                size_t nc = (size_t)a->n_channels, nf = a->n_frames + b->n_frames;
                float *f = realloc(a->frames, nf * nc * sizeof *f);
                if (f == NULL) {
                    rc = ICTAL_ENOMEM;
                } else {
                    a->frames = f;
                    memcpy(f + a->n_frames * nc, b->frames, b->n_frames * nc * sizeof *f);
                    ictal_interval sz = {(double)a->n_frames / a->rate_hz,
                                         (double)nf / a->rate_hz};
                    rc = ictal_corpus_add_raw(c, "chbmit-windows", names[i], patients[p], f, nf,
                                              a->n_channels, a->rate_hz, a->label_ptrs, montage,
                                              &sz, 1, d);
                    if (rc >= 0) {
                        rc = 0;
                        n_added++;
                    }
                }
            }
            free(a->frames);
            free(b->frames);
            free(a);
            free(b);
            if (rc)
                return rc;
        }
    }
    return n_added ? 0 : ictal_diag_error(d, ICTAL_ENOENT, "%s/chbmit-windows: no window pair", dir);
}

/* bonn/{Z,O,N,F,S}/NNN.txt: single intracranial or scalp channels; S is ictal throughout. */
static int add_bonn(ictal_corpus *c, const char *dir, ictal_diag *d)
{
    static const char sets[] = "ZONFS";
    int n_added = 0;
    for (int s = 0; s < 5; s++) {
        for (int k = 1; k <= 100; k++) {
            char path[4096], name[32];
            /* the published archive spells set N's files N001.TXT */
            snprintf(path, sizeof path, "%.2000s/bonn/%c/%c%03d.txt", dir, sets[s], sets[s], k);
            FILE *f = fopen(path, "rb");
            if (f == NULL) {
                snprintf(path, sizeof path, "%.2000s/bonn/%c/%c%03d.TXT", dir, sets[s], sets[s], k);
                f = fopen(path, "rb");
            }
            if (f == NULL)
                continue;
            fclose(f);
            whole *w = malloc(sizeof *w);
            if (w == NULL)
                return ICTAL_ENOMEM;
            int rc = read_whole(path, w, d);
            if (rc == 0) {
                snprintf(name, sizeof name, "%c%03d", sets[s], k);
                ictal_interval sz = {0.0, (double)w->n_frames / w->rate_hz};
                /* one channel, taken as it is: no montage, and the artefact checks
                 * scaled for intracranial amplitudes (sets N, F, S; Z and O are
                 * scalp but share the recording system's scale) */
                ictal_signal sig = {w->frames, w->n_frames, 1, w->rate_hz, NULL, 10.0f};
                rc = ictal_corpus_add(c, "bonn", name, name, &sig, &sz, sets[s] == 'S');
                if (rc >= 0) {
                    rc = 0;
                    n_added++;
                }
            }
            free(w->frames);
            free(w);
            if (rc)
                return rc;
        }
    }
    return n_added ? 0 : ictal_diag_error(d, ICTAL_ENOENT, "%s/bonn: no segment", dir);
}

/* guinea-bissau-epilepsy/signal-N.csv.gz: Emotiv EPOC, wearable montage derived from its
 * referential F7, T7, P7, F8, T8, P8; no seizure annotated. */
static int add_guinea_bissau(ictal_corpus *c, const char *dir, ictal_diag *d)
{
    int n_added = 0;
    for (int k = 1; k <= 200; k++) {
        char path[4096], patient[32];
        snprintf(path, sizeof path, "%.2000s/guinea-bissau-epilepsy/signal-%d.csv.gz", dir, k);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        fclose(f);
        snprintf(patient, sizeof patient, "gb-%02d", k);
        int rc = ictal_corpus_add_file(c, "guinea-bissau", path, patient,
                                       ICTAL_TRAIN_MONTAGE_WEARABLE, NULL, NULL, d);
        if (rc)
            return rc;
        snprintf(c->items[c->n_items - 1].name, ICTAL_TRAIN_NAME_MAX, "signal-%d", k);
        n_added++;
    }
    return n_added ? 0
                   : ictal_diag_error(d, ICTAL_ENOENT, "%s/guinea-bissau-epilepsy: no recording",
                                      dir);
}

/* --- the layout of ../shared/data ---------------------------------------------------- */

static const struct {
    const char *name;
    unsigned bit;
} shared_sets[] = {
    {"chbmit-windows", ICTAL_SET_CHBMIT_WINDOWS}, {"chbmit-continuous", ICTAL_SET_CHBMIT_CONTINUOUS},
    {"eegmmidb", ICTAL_SET_EEGMMIDB},             {"eegmat", ICTAL_SET_EEGMAT},
    {"guinea-bissau", ICTAL_SET_GUINEA_BISSAU},   {"bonn", ICTAL_SET_BONN},
};

unsigned ictal_shared_sets_parse(const char *list)
{
    unsigned mask = 0;
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        unsigned bit = 0;
        if (n == 3 && strncmp(p, "all", 3) == 0)
            bit = ICTAL_SET_DEFAULT | ICTAL_SET_BONN;
        else if (n == 7 && strncmp(p, "default", 7) == 0)
            bit = ICTAL_SET_DEFAULT;
        for (size_t i = 0; i < sizeof shared_sets / sizeof shared_sets[0]; i++)
            if (strlen(shared_sets[i].name) == n && strncmp(p, shared_sets[i].name, n) == 0)
                bit = shared_sets[i].bit;
        if (bit == 0)
            return 0;
        mask |= bit;
        p = e ? e + 1 : NULL;
    }
    return mask;
}

static int add_edf_list(ictal_corpus *c, const char *set, const char *dir, const char *fmt,
                        int first, int last, const char *patient_fmt, int montage, ictal_diag *d)
{
    for (int i = first; i <= last; i++) {
        char path[4096], patient[64];
        snprintf(path, sizeof path, fmt, dir, i);
        if (patient_fmt)
            snprintf(patient, sizeof patient, patient_fmt, i);
        int rc = ictal_corpus_add_edf(c, set, path, patient_fmt ? patient : "S001", montage, NULL,
                                      NULL, d);
        if (rc)
            return rc;
    }
    return 0;
}

int ictal_corpus_add_shared(ictal_corpus *c, const char *dir, unsigned mask, int montage,
                            ictal_diag *d)
{
    int rc = 0;
    char path[4096];
    if (mask & ICTAL_SET_CHBMIT_WINDOWS) {
        rc = add_chbmit_windows(c, dir, montage, d);
        if (rc)
            return rc;
    }
    if (mask & ICTAL_SET_CHBMIT_CONTINUOUS) {
        snprintf(path, sizeof path, "%.2000s/chbmit-continuous/chb05_06_excerpt.edf", dir);
        rc = ictal_corpus_add_edf(c, "chbmit-continuous", path, "chb05", montage, NULL, NULL, d);
        if (rc)
            return rc;
    }
    if (mask & ICTAL_SET_EEGMMIDB) {
        rc = add_edf_list(c, "eegmmidb", dir, "%s/eegmmidb-S001/S001R%02d.edf", 3, 10, NULL,
                          montage, d);
        if (rc)
            return rc;
    }
    if (mask & ICTAL_SET_EEGMAT) {
        rc = add_edf_list(c, "eegmat", dir, "%s/eegmat-rest/Subject%02d_1.edf", 0, 11,
                          "Subject%02d", montage, d);
        if (rc)
            return rc;
    }
    if (mask & ICTAL_SET_GUINEA_BISSAU) {
        rc = add_guinea_bissau(c, dir, d);
        if (rc)
            return rc;
    }
    if (mask & ICTAL_SET_BONN)
        rc = add_bonn(c, dir, d);
    if (rc == 0 && d)
        d->source = NULL;
    return rc;
}
