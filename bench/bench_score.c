/*
 * Scoring speed: a generated dataset of 1,000 recordings of 24 h each, with a few
 * seizures and detections (hits, early and late ones, false alarms, long detections)
 * per recording, scored with both methods (sample and event scoring, latency
 * included) and summarized per subject, as `ictal eval --dataset` does. Target: under
 * 1 s on one core. Also times the same dataset end to end from TSV files on disk
 * (reading, parsing, scoring).
 *
 * usage: bench_score [RECORDINGS [RUNS]]   (default 1000 recordings, 7 runs)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ictal/score.h"

#include "bench_util.h"

static uint64_t rng = 0x243F6A8885A308D3ull;

static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void add(ictal_annotations *a, double onset, double dur, const char *type)
{
    ictal_event e;
    memset(&e, 0, sizeof(e));
    e.onset_s = round((onset > 0 ? onset : 0) * 100) / 100;
    e.duration_s = round(dur * 100) / 100;
    if (e.onset_s + e.duration_s > a->recording_duration_s)
        e.duration_s = a->recording_duration_s - e.onset_s;
    strcpy(e.event_type, type);
    e.confidence = NAN;
    ictal_annotations_add(a, &e);
}

/* A day with 0-5 seizures; the detector finds most (with a latency of -20..+40 s),
 * sometimes with a long detection, and raises 2-12 false alarms. */
static void generate(ictal_annotations *ref, ictal_annotations *hyp)
{
    const double day = 86400;
    ictal_annotations_init(ref);
    ictal_annotations_init(hyp);
    ref->recording_duration_s = hyp->recording_duration_s = day;
    int n_sz = (int)(urand() * 6);
    for (int i = 0; i < n_sz; i++) {
        double on = (i + urand() * 0.8) * day / 6, dur = 20 + urand() * 180;
        add(ref, on, dur, "sz");
        if (urand() < 0.8)
            add(hyp, on - 20 + urand() * 60, urand() < 0.1 ? 400 + urand() * 600 : 10 + urand() * 60,
                "sz");
    }
    int n_fa = 2 + (int)(urand() * 11);
    for (int i = 0; i < n_fa; i++)
        add(hyp, urand() * (day - 100), 5 + urand() * 40, "sz");
    if (ref->count == 0)
        add(ref, 0, day, "bckg");
    ictal_annotations_sort(hyp);
}

#define SUBJECTS 20

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    if (n <= 0 || runs <= 0 || runs > 100) {
        fprintf(stderr, "usage: bench_score [RECORDINGS [RUNS]]\n");
        return 2;
    }
    ictal_annotations *ref = calloc((size_t)n, sizeof(*ref));
    ictal_annotations *hyp = calloc((size_t)n, sizeof(*hyp));
    ictal_score_result *res = calloc((size_t)n, sizeof(*res));
    double *times = calloc((size_t)runs, sizeof(double));
    if (!ref || !hyp || !res || !times)
        return 1;
    size_t n_ref = 0, n_hyp = 0;
    for (int i = 0; i < n; i++) {
        generate(&ref[i], &hyp[i]);
        n_ref += ref[i].count;
        n_hyp += hyp[i].count;
        ictal_score_result_init(&res[i]);
    }
    ictal_score_params p;
    ictal_score_params_default(&p);

    ictal_score_counts subj_s[SUBJECTS], subj_e[SUBJECTS];
    ictal_score_summary sum_s, sum_e;
    int64_t tp = 0, fp = 0;
    for (int r = 0; r < runs; r++) {
        memset(subj_s, 0, sizeof(subj_s));
        memset(subj_e, 0, sizeof(subj_e));
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            if (ictal_score_recording(&ref[i], &hyp[i], &p, &res[i], NULL) != 0)
                return 1;
            ictal_score_counts_add(&subj_s[i % SUBJECTS], &res[i].sample);
            ictal_score_counts_add(&subj_e[i % SUBJECTS], &res[i].event);
        }
        ictal_score_summarize(subj_s, SUBJECTS, &sum_s);
        ictal_score_summarize(subj_e, SUBJECTS, &sum_e);
        times[r] = now_s() - t0;
    }
    for (int i = 0; i < n; i++)
        tp += res[i].event.tp, fp += res[i].event.fp;
    double med = median(times, runs);
    double hours = n * 24.0;
    printf("in memory: %d recordings x 24 h (%zu reference, %zu hypothesis events), "
           "sample + event scoring + latency\n",
           n, n_ref, n_hyp);
    printf("  median of %d runs: %.4f s (min %.4f s), %.1f us per recording, %.3g x real "
           "time; target 1 s: %.0fx under\n",
           runs, med, times[0], med / n * 1e6, hours * 3600 / med, 1.0 / med);
    printf("  event scoring: %lld TP, %lld FP; subject mean sensitivity %.4f, pooled "
           "fpRate %.2f/24h\n",
           (long long)tp, (long long)fp, sum_e.mean.sensitivity, sum_e.pooled.fp_rate);

    /* End to end from disk: write the dataset as a BIDS-like tree, then score it. */
    char root[] = "/tmp/ictal_bench_score_XXXXXX";
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char path[512];
    for (int side = 0; side < 2; side++) {
        snprintf(path, sizeof(path), "%s/%s", root, side ? "hyp" : "ref");
        mkdir(path, 0755);
        for (int s = 0; s < SUBJECTS; s++) {
            snprintf(path, sizeof(path), "%s/%s/sub-%02d", root, side ? "hyp" : "ref", s);
            mkdir(path, 0755);
        }
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof(path), "%s/%s/sub-%02d/sub-%02d_run-%04d_events.tsv", root,
                     side ? "hyp" : "ref", i % SUBJECTS, i % SUBJECTS, i);
            if (ictal_annot_write_tsv(path, side ? &hyp[i] : &ref[i], NULL) != 0)
                return 1;
        }
    }
    char ref_dir[512], hyp_dir[512];
    snprintf(ref_dir, sizeof(ref_dir), "%s/ref", root);
    snprintf(hyp_dir, sizeof(hyp_dir), "%s/hyp", root);
    for (int r = 0; r < runs; r++) {
        ictal_score_dataset ds;
        ictal_score_dataset_init(&ds);
        double t0 = now_s();
        ictal_diag d;
        ictal_diag_init(&d);
        if (ictal_score_dataset_run(ref_dir, hyp_dir, &p, &ds, &d) != 0) {
            fprintf(stderr, "%s\n", d.message);
            return 1;
        }
        times[r] = now_s() - t0;
        if (r == 0 && ds.n_files != (size_t)n)
            return 1;
        ictal_score_dataset_free(&ds);
    }
    med = median(times, runs);
    printf("from TSV files (read, parse, score, summarize): median of %d runs %.4f s, %.1f us "
           "per recording\n",
           runs, med, med / n * 1e6);

    for (int side = 0; side < 2; side++) {
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof(path), "%s/%s/sub-%02d/sub-%02d_run-%04d_events.tsv", root,
                     side ? "hyp" : "ref", i % SUBJECTS, i % SUBJECTS, i);
            unlink(path);
        }
        for (int s = 0; s < SUBJECTS; s++) {
            snprintf(path, sizeof(path), "%s/%s/sub-%02d", root, side ? "hyp" : "ref", s);
            rmdir(path);
        }
        snprintf(path, sizeof(path), "%s/%s", root, side ? "hyp" : "ref");
        rmdir(path);
    }
    rmdir(root);
    for (int i = 0; i < n; i++) {
        ictal_annotations_free(&ref[i]);
        ictal_annotations_free(&hyp[i]);
        ictal_score_result_free(&res[i]);
    }
    free(ref);
    free(hyp);
    free(res);
    free(times);
    return 0;
}
