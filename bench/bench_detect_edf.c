/*
 * `ictal detect` end to end on one hour of 18-channel 256 Hz EEG in an EDF file, reading
 * included: builds the file from the real CHB-MIT excerpt (data/chb05_06_excerpt.edf,
 * all 23 signals with their CHB-MIT labels, tiled forwards and backwards so the joins
 * are continuous), then times the ictal binary on it (wall clock, median of N runs)
 * and, for the share of reading, ictal_edf_read_frames alone. Also reports the alarm
 * latency on the excerpt (seizure onset at 37 s) with the default model.
 *
 *   build/bench/bench_detect_edf [runs [KEEP.edf]]   (ICTAL = the ictal binary, default
 *       build/ictal; ICTAL_SOURCE_DIR = the source tree; KEEP.edf: also keep the hour;
 *       ICTAL_MODEL = another model file than models/default.ictalmodel, given to
 *       `ictal detect --model`, e.g. a feature-set-2 model)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ictal/edf.h"
#include "ictal/ictal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time (user + system) of the children waited for so far. */
static double children_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(double), cmp_d);
    return t[n / 2];
}

static double g_first_alarm = -1.0;

static void on_alarm(void *user, const ictal_alarm *a)
{
    (void)user;
    if (a->kind == ICTAL_ALARM_RAISED && g_first_alarm < 0)
        g_first_alarm = a->alarm_s;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1)
        runs = 1;
    const char *src = getenv("ICTAL_SOURCE_DIR");
    const char *ictal = getenv("ICTAL");
    char excerpt[4096], model_path[4096], file[4096], outdir[4096], cmd[16384];
    snprintf(excerpt, sizeof excerpt, "%s/data/chb05_06_excerpt.edf", src ? src : ".");
    snprintf(model_path, sizeof model_path, "%s/models/default.ictalmodel", src ? src : ".");
    const char *model_env = getenv("ICTAL_MODEL");
    if (model_env && *model_env)
        snprintf(model_path, sizeof model_path, "%s", model_env);
    if (ictal == NULL)
        ictal = "build/ictal";

    ictal_diag d;
    ictal_diag_init(&d);
    ictal_edf *r;
    if (ictal_edf_open(&r, excerpt, NULL, &d) != 0) {
        fprintf(stderr, "bench_detect_edf: %s: %s\n", excerpt, d.message);
        return 1;
    }
    const ictal_edf_info *in = ictal_edf_get_info(r);
    int nsig = in->n_data_signals, spr = in->signals[0].samples_per_record;
    int64_t nrec = in->n_records;
    float *ex = malloc(sizeof(float) * (size_t)nsig * (size_t)spr * (size_t)nrec);
    if (ex == NULL || ictal_edf_read_frames(r, 0, nrec, NULL, nsig, ex, &d) != 0) {
        fprintf(stderr, "bench_detect_edf: cannot read the excerpt: %s\n", d.message);
        return 1;
    }
    ictal_edf_writer_signal sig[64];
    for (int s = 0; s < nsig; s++) {
        memset(&sig[s], 0, sizeof sig[s]);
        sig[s].label = in->signals[s].label;
        sig[s].rate_hz = in->signals[s].rate_hz;
        sig[s].physical_min = in->signals[s].physical_min;
        sig[s].physical_max = in->signals[s].physical_max;
        sig[s].digital_min = in->signals[s].digital_min;
        sig[s].digital_max = in->signals[s].digital_max;
    }
    char tmpl[] = "/tmp/ictal-bench-XXXXXX";
    const char *dir = mkdtemp(tmpl);
    if (dir == NULL)
        return 1;
    snprintf(file, sizeof file, "%s/hour.edf", dir);
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", outdir);
    if (system(cmd) != 0)
        return 1;
    ictal_edf_writer *w;
    if (ictal_edf_writer_open(&w, file, sig, nsig, NULL, &d) != 0) {
        fprintf(stderr, "bench_detect_edf: %s\n", d.message);
        return 1;
    }
    size_t n_ex = (size_t)spr * (size_t)nrec, per = 2 * n_ex - 2;
    size_t total = 3600u * (size_t)spr;
    float *buf = malloc(sizeof(float) * (size_t)nsig * 4096);
    for (size_t s0 = 0; s0 < total; s0 += 4096) {
        size_t n = total - s0 < 4096 ? total - s0 : 4096;
        for (size_t i = 0; i < n; i++) {
            size_t k = (s0 + i) % per, srcf = k < n_ex ? k : per - k;
            memcpy(buf + i * (size_t)nsig, ex + srcf * (size_t)nsig, sizeof(float) * (size_t)nsig);
        }
        if (ictal_edf_writer_push_frames(w, buf, n, &d) != 0) {
            fprintf(stderr, "bench_detect_edf: %s\n", d.message);
            return 1;
        }
    }
    if (ictal_edf_writer_close(w, &d) != 0)
        return 1;
    ictal_edf_close(r);
    printf("1 h EDF: %d signals (CHB-MIT labels, 18 double-banana channels used) at %d Hz, "
           "median of %d runs\n", nsig, spr, runs);

    /* Reading alone. */
    double *t = malloc(sizeof(double) * (size_t)runs);
    float *all = malloc(sizeof(float) * (size_t)nsig * (size_t)spr * 60);
    for (int k = 0; k < runs; k++) {
        double t0 = now_s();
        ictal_edf *h;
        if (ictal_edf_open(&h, file, NULL, &d) != 0)
            return 1;
        for (int64_t rec = 0; rec < 3600; rec += 60)
            ictal_edf_read_frames(h, rec, 60, NULL, nsig, all, &d);
        ictal_edf_close(h);
        t[k] = now_s() - t0;
    }
    double t_read = median(t, runs);
    printf("  reading alone (ictal_edf_read_frames, all 23 signals): %.4f s\n", t_read);

    /* ictal detect, end to end (process start, model, reading, montage, detection, TSV). */
    snprintf(cmd, sizeof cmd, "exec '%s' detect '%s' --quiet --out '%s' --model '%s'", ictal,
             file, outdir, model_path);
    double *tc = malloc(sizeof(double) * (size_t)runs);
    for (int k = 0; k < runs; k++) {
        double t0 = now_s(), c0 = children_cpu_s();
        if (system(cmd) != 0) {
            fprintf(stderr, "bench_detect_edf: '%s' failed\n", cmd);
            return 1;
        }
        t[k] = now_s() - t0;
        tc[k] = children_cpu_s() - c0;
    }
    double t_det = median(t, runs), c_det = median(tc, runs);
    printf("  ictal detect end to end: wall %.4f s per hour (min %.4f, max %.4f), CPU %.4f s "
           "(min %.4f): %.0fx real time by wall clock, %.0fx by CPU time (target 20000x: "
           "0.18 s)\n", t_det, t[0], t[runs - 1], c_det, tc[0], 3600.0 / t_det, 3600.0 / c_det);
    free(tc);

    /* Latency on the excerpt with the model (the default one unless ICTAL_MODEL). */
    FILE *mf = fopen(model_path, "rb");
    static unsigned char mb[1 << 20];
    size_t ml = mf ? fread(mb, 1, sizeof mb, mf) : 0;
    if (mf)
        fclose(mf);
    ictal_model m;
    if (ml > 0 && ictal_model_parse(&m, mb, ml, NULL) == 0) {
        ictal_config cfg;
        ictal_config_init(&cfg);
        cfg.n_channels = nsig;
        cfg.rate_hz = spr;
        cfg.model = &m;
        cfg.on_alarm = on_alarm;
        size_t sz = ictal_detector_size(&cfg);
        void *mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, (sz + 15) / 16 * 16);
        if (mem && ictal_detector_init(mem, sz, &cfg) == 0) {
            ictal_detector_push(mem, ex, n_ex);
            if (g_first_alarm >= 0)
                printf("  latency on chb05_06_excerpt.edf (onset 37 s), all 23 signals, %s "
                       "(feature set %u): first alarm at %.1f s, %+.1f s from the onset%s\n",
                       model_env && *model_env ? model_env : "default model",
                       (unsigned)m.info.feature_set, g_first_alarm, g_first_alarm - 37.0,
                       g_first_alarm < 37.0 ? " (before it: a false alarm)" : "");
            else
                printf("  latency on chb05_06_excerpt.edf: no alarm with %s\n",
                       model_env && *model_env ? model_env : "the default model");
        }
        free(mem);
    }
    if (argc > 2) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", file, argv[2]);
        if (system(cmd) != 0)
            return 1;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    free(ex);
    free(buf);
    free(all);
    free(t);
    return 0;
}
