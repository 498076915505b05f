/*
 * The Markdown report of a cross-validation: per data set, window-level figures (AUC,
 * sensitivity, specificity of hops), event-level figures of the streaming detector
 * (seizures alarmed, latency, false alarms per hour and per 24 h), the same events
 * scored by the SzCORE rules (ictal/score.h), and a line for every false alarm.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/annot.h"
#include "ictal/score.h"
#include "ictal/train.h"
#include "train_internal.h"

struct set_sel {
    const ictal_corpus *c;
    const char *set;
};

static int in_set(void *user, size_t i)
{
    struct set_sel *s = user;
    return strcmp(s->c->items[i].set, s->set) == 0;
}

static void fmt(char *buf, size_t n, const char *f, double v)
{
    if (isnan(v))
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, f, v);
}

/* SzCORE event scoring of one held-out item, added to *sum. */
static int score_item(const ictal_corpus_item *it, const ictal_detection *dt,
                      ictal_score_counts *sum, ictal_diag *d)
{
    ictal_annotations ref, hyp;
    ictal_annotations_init(&ref);
    ictal_annotations_init(&hyp);
    ref.recording_duration_s = hyp.recording_duration_s = ictal_corpus_duration_s(it);
    int rc = 0;
    ictal_event e;
    memset(&e, 0, sizeof e);
    e.confidence = NAN;
    for (size_t z = 0; z < it->n_sz && rc == 0; z++) {
        e.onset_s = it->sz[z].onset_s;
        e.duration_s = it->sz[z].offset_s - it->sz[z].onset_s;
        strcpy(e.event_type, "sz");
        rc = ictal_annotations_add(&ref, &e);
    }
    for (size_t a = 0; a < dt->n_alarms && rc == 0; a++) {
        e.onset_s = dt->alarms[a].onset_s > 0 ? dt->alarms[a].onset_s : 0;
        e.duration_s = dt->alarms[a].offset_s - e.onset_s;
        if (e.duration_s < 0)
            e.duration_s = 0;
        strcpy(e.event_type, "sz");
        rc = ictal_annotations_add(&hyp, &e);
    }
    if (rc == 0 && ref.count == 0) {
        e.onset_s = 0;
        e.duration_s = ref.recording_duration_s;
        strcpy(e.event_type, "bckg");
        rc = ictal_annotations_add(&ref, &e);
    }
    ictal_score_params p;
    ictal_score_params_default(&p);
    ictal_score_result r;
    ictal_score_result_init(&r);
    if (rc == 0)
        rc = ictal_score_recording(&ref, &hyp, &p, &r, d);
    if (rc == 0)
        ictal_score_counts_add(sum, &r.event);
    ictal_score_result_free(&r);
    ictal_annotations_free(&ref);
    ictal_annotations_free(&hyp);
    return rc;
}

/* Nested cross-validation: every candidate's inner score in every fold, and the choice. */
static void write_selection(FILE *f, const ictal_cv_result *r)
{
    fprintf(f, "## Model selection (nested cross-validation)\n\nEach fold chose its "
               "configuration by an inner cross-validation of its own training segments "
               "(inner accuracy of the mean rule; ties: lower Brier score, then the earlier "
               "candidate). The held-out segments took no part in the choice.\n\n| fold |");
    for (size_t j = 0; j < r->n_candidates; j++)
        fprintf(f, " %s |", r->candidate_names[j]);
    fprintf(f, " chosen |\n|---|");
    for (size_t j = 0; j <= r->n_candidates; j++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (int k = 0; k < r->n_folds; k++) {
        fprintf(f, "| %d |", k + 1);
        for (size_t j = 0; j < r->n_candidates; j++) {
            const ictal_select_score *sc = &r->scores[(size_t)k * r->n_candidates + j];
            fprintf(f, " %.4f (%.4f) |", sc->accuracy, sc->brier);
        }
        int ch = r->chosen ? r->chosen[k] : -1;
        fprintf(f, " %s |\n", ch >= 0 ? r->candidate_names[ch] : "-");
    }
    fprintf(f, "\nCells: inner accuracy (Brier score) over the fold's training segments.\n\n");
}

/* Data sets of labelled segments: each segment called by the mean of its judged hops. */
static void write_segments(FILE *f, const ictal_corpus *c, const ictal_cv_result *r)
{
    size_t n = 0, ok = 0, n_pos = 0, tp = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        double p = ictal_detection_mean_prob(&r->det[i], NULL);
        int y = ictal__item_has_seizure(&c->items[i]);
        n++;
        ok += (p >= 0.5) == y;
        n_pos += y;
        tp += y && p >= 0.5;
    }
    fprintf(f, "## Segments\n\nA segment's probability is the mean over the hops the "
               "detector judged; seizure at >= 0.5. **Accuracy %.4f (%zu of %zu)**, "
               "sensitivity %.4f (%zu of %zu), specificity %.4f (%zu of %zu).\n\n"
               "| misclassified segment | true | mean probability | judged hops | fold |\n"
               "|---|---|---|---|---|\n",
            n ? (double)ok / (double)n : NAN, ok, n,
            n_pos ? (double)tp / (double)n_pos : NAN, tp, n_pos,
            n > n_pos ? (double)(ok - tp) / (double)(n - n_pos) : NAN, ok - tp, n - n_pos);
    for (size_t i = 0; i < c->n_items; i++) {
        size_t used = 0;
        double p = ictal_detection_mean_prob(&r->det[i], &used);
        int y = ictal__item_has_seizure(&c->items[i]);
        if ((p >= 0.5) != y)
            fprintf(f, "| %s | %s | %.3f | %zu | %d |\n", c->items[i].name,
                    y ? "seizure" : "seizure-free", p, used, r->fold[i] + 1);
    }
    if (ok == n)
        fprintf(f, "| (none) | | | | |\n");
    fprintf(f, "\n");
}

int ictal_cv_write_report(const char *path, const char *title, const char *command,
                          const ictal_corpus *c, const ictal_cv_result *r, ictal_diag *d)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL)
        return ictal_diag_error(d, ICTAL_EIO, "%s: cannot write the report", path);
    fprintf(f, "# %s\n\n", title);
    if (command)
        fprintf(f, "Reproduce: `%s`\n\n", command);
    int one_patient = 1;
    for (size_t i = 1; i < c->n_items; i++)
        if (strcmp(c->items[i].patient, c->items[0].patient) != 0)
            one_patient = 0;
    size_t n_train_only = 0;
    for (size_t i = 0; i < r->n_items; i++)
        n_train_only += r->fold[i] < 0;
    if (n_train_only > 0) {
        /* a fixed split: name the sets trained on and those held out */
        fprintf(f, "A fixed split: one model was trained (and its threshold tuned, by an inner "
                   "split of its patients) on the %zu recordings of the training set",
                n_train_only);
        for (size_t i = 0; i < c->n_items; i++) {
            int first = r->fold[i] < 0;
            for (size_t j = 0; j < i && first; j++)
                first = !(r->fold[j] < 0 && strcmp(c->items[j].set, c->items[i].set) == 0);
            if (first)
                fprintf(f, " %s", c->items[i].set);
        }
        fprintf(f, " only, then scored each of the %zu held-out recordings below, none of whose "
                   "patients it saw. Training took %.1f s.\n\n",
                c->n_items - n_train_only, r->train_s);
    } else if (r->n_folds > 1 && one_patient)
        fprintf(f, "%zu recordings of one patient, %d folds; every recording is scored by a "
                   "model that was trained without it, with the thresholds of the initial model "
                   "(or the defaults): one patient's recordings cannot tune them. Training took "
                   "%.1f s in all.\n\n",
                c->n_items, r->n_folds, r->train_s);
    else if (r->n_folds > 1)
        fprintf(f, "%zu recordings, %d folds; every recording is scored by a model that was "
                   "trained (and its threshold tuned) without it. Training took %.1f s in all.\n\n",
                c->n_items, r->n_folds, r->train_s);
    else
        fprintf(f, "%zu recordings, all scored by the same model with its own thresholds "
                   "(in-sample for the recordings it was trained on).\n\n",
                c->n_items);
    fprintf(f, "| set | recordings | hours | hop AUC | hop sens | hop spec | seizures | "
               "alarmed | median latency s | false alarms | FA/h | FA/24h | SzCORE sens | "
               "SzCORE prec | SzCORE F1 | SzCORE FP/24h |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    int rc = 0;
    for (size_t i = 0; i < c->n_items && rc == 0; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->items[j].set, c->items[i].set) == 0)
                first = 0;
        if (!first)
            continue;
        struct set_sel sel = {c, c->items[i].set};
        ictal_cv_summary s;
        ictal_cv_summarize(c, r, in_set, &sel, &s);
        if (s.n_items == 0)
            continue; /* a training set that was never held out */
        ictal_score_counts ev;
        memset(&ev, 0, sizeof ev);
        ev.fs_hz = 10;
        for (size_t k = 0; k < c->n_items && rc == 0; k++)
            if (in_set(&sel, k) && r->fold[k] >= 0)
                rc = score_item(&c->items[k], &r->det[k], &ev, d);
        ictal_score_metrics m;
        ictal_score_metrics_compute(&ev, &m);
        char auc[16], se[16], sp[16], lat[16], sse[16], spr[16], sf1[16], sfp[16];
        fmt(auc, sizeof auc, "%.3f", s.auc);
        fmt(se, sizeof se, "%.3f", s.sensitivity);
        fmt(sp, sizeof sp, "%.4f", s.specificity);
        fmt(lat, sizeof lat, "%.1f", s.latency_median_s);
        fmt(sse, sizeof sse, "%.3f", m.sensitivity);
        fmt(spr, sizeof spr, "%.3f", m.precision);
        fmt(sf1, sizeof sf1, "%.3f", m.f1);
        fmt(sfp, sizeof sfp, "%.1f", m.fp_rate);
        fprintf(f, "| %s | %zu | %.2f | %s | %s | %s | %zu | %zu | %s | %zu | %.2f | %.1f | %s | %s "
                   "| %s | %s |\n",
                c->items[i].set, s.n_items, s.hours, auc, se, sp, s.n_seizures, s.n_detected, lat,
                s.n_false_alarms, s.fa_per_hour, s.fa_per_24h, sse, spr, sf1, sfp);
    }
    fprintf(f, "\n\"alarmed\": an alarm raised between the annotated onset and offset; latency "
               "is the alarm time minus the onset. A false alarm is an alarm raised more than "
               "30 s before or 60 s after every seizure of its recording. SzCORE columns score "
               "the same alarms with the SzCORE event rules (pooled over the set).\n\n");
    if (r->n_candidates > 0)
        write_selection(f, r);
    if (ictal_corpus_is_segments(c, NULL))
        write_segments(f, c, r);
    /* The peak of what the thresholds saw inside the seizure, beside the threshold, says
     * whether a miss was near the line or far from it. */
    fprintf(f, "## Seizures\n\n| recording | patient | onset s | offset s | first alarm s | "
               "latency s | alarms before onset | peak smoothed p in seizure | threshold |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < c->n_items; i++) {
        const ictal_corpus_item *it = &c->items[i];
        const ictal_detection *dt = &r->det[i];
        if (r->fold[i] < 0)
            continue; /* trained on, not scored */
        for (size_t z = 0; z < it->n_sz; z++) {
            double first = NAN;
            int before = 0;
            for (size_t a = 0; a < dt->n_alarms; a++) {
                double t = dt->alarms[a].alarm_s;
                if (t < it->sz[z].onset_s && (z == 0 || t > it->sz[z - 1].offset_s))
                    before++;
                if (isnan(first) && t >= it->sz[z].onset_s && t <= it->sz[z].offset_s)
                    first = t;
            }
            double peak = NAN;
            for (size_t h = 0; h < dt->n_hops; h++)
                if (dt->t_s[h] >= it->sz[z].onset_s && dt->t_s[h] <= it->sz[z].offset_s &&
                    !isnan(dt->prob_smooth[h]) && !(peak >= dt->prob_smooth[h]))
                    peak = dt->prob_smooth[h];
            char fa[16], la[16], pk[16];
            fmt(fa, sizeof fa, "%.1f", first);
            fmt(la, sizeof la, "%.1f", first - it->sz[z].onset_s);
            fmt(pk, sizeof pk, "%.3f", peak);
            fprintf(f, "| %s | %s | %.1f | %.1f | %s | %s | %d | %s | %.2f |\n", it->name,
                    it->patient, it->sz[z].onset_s, it->sz[z].offset_s, fa, la, before, pk,
                    r->post[i].threshold_on);
        }
    }
    fprintf(f, "\n## Every alarm in recordings with seizures\n\n| recording | alarm s | event s | "
               "peak probability |\n|---|---|---|---|\n");
    for (size_t i = 0; i < c->n_items; i++) {
        const ictal_detection *dt = &r->det[i];
        if (c->items[i].n_sz == 0)
            continue;
        for (size_t a = 0; a < dt->n_alarms; a++)
            fprintf(f, "| %s | %.1f | %.1f-%.1f | %.3f |\n", c->items[i].name, dt->alarms[a].alarm_s,
                    dt->alarms[a].onset_s, dt->alarms[a].offset_s, dt->alarms[a].peak_prob);
    }
    fprintf(f, "\n## False alarms\n\n| set | recording | alarm s | event s | peak probability "
               "| channels | threshold |\n|---|---|---|---|---|---|---|\n");
    size_t n_fa = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        const ictal_corpus_item *it = &c->items[i];
        const ictal_detection *dt = &r->det[i];
        for (size_t a = 0; a < dt->n_alarms; a++) {
            double t = dt->alarms[a].alarm_s;
            int near = 0;
            for (size_t z = 0; z < it->n_sz; z++)
                if (t >= it->sz[z].onset_s - 30 && t <= it->sz[z].offset_s + 60)
                    near = 1;
            if (near)
                continue;
            char chans[256] = "";
            for (int ch = 0; ch < it->n_channels; ch++)
                if (dt->alarms[a].channels & (1u << ch)) {
                    if (chans[0] && strlen(chans) + 2 < sizeof chans)
                        strcat(chans, " ");
                    if (strlen(chans) + strlen(it->labels[ch]) + 1 < sizeof chans)
                        strcat(chans, it->labels[ch]);
                }
            fprintf(f, "| %s | %s | %.1f | %.1f-%.1f | %.3f | %s | %.2f |\n", it->set, it->name, t,
                    dt->alarms[a].onset_s, dt->alarms[a].offset_s, dt->alarms[a].peak_prob, chans,
                    r->post[i].threshold_on);
            n_fa++;
        }
    }
    if (n_fa == 0)
        fprintf(f, "| (none) | | | | | | |\n");
    if (f != stdout && fclose(f) != 0 && rc == 0)
        rc = ictal_diag_error(d, ICTAL_EIO, "%s: write failed", path);
    return rc;
}
