/*
 * libictal alone on in-memory data: one hour of real EEG (the CHB-MIT chb05_06 excerpt
 * tiled), 18 and 4 channels at 256 Hz, with the default model when it is there
 * (models/default.ictalmodel) or a line-length model. Reports the median of several
 * runs: x real time, ns per sample, µs per hop, and an operation count per hop for a
 * Cortex-M4-class core at 4 channels.
 *
 *   build/bench/bench_detector [runs]     (ICTAL_SHARED must point to ../shared;
 *       ICTAL_MODEL: another model file, e.g. of feature set 2)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/detect_util.h"
#include "ictal/ictal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static unsigned char model_buf[1 << 20];

static const ictal_model *load_model(ictal_model *m, const char **what)
{
    char path[1024];
    const char *src = getenv("ICTAL_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/models/default.ictalmodel", src ? src : ".");
    const char *env = getenv("ICTAL_MODEL"); /* another model, e.g. of feature set 2 */
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t n = fread(model_buf, 1, sizeof model_buf, f);
        fclose(f);
        if (ictal_model_parse(m, model_buf, n, NULL) == 0) {
            static char what_buf[1100];
            snprintf(what_buf, sizeof what_buf, "%s (feature set %u)",
                     env && *env ? env : "models/default.ictalmodel", (unsigned)m->info.feature_set);
            *what = what_buf;
            return m;
        }
    }
    size_t n = du_line_length_model(model_buf, sizeof model_buf, 3.8f, 4.0f);
    if (n == 0 || ictal_model_parse(m, model_buf, n, NULL) != 0)
        return NULL;
    *what = "line-length logistic model";
    return m;
}

static void count_hop(void *user, const ictal_hop *h)
{
    (void)h;
    (*(long *)user)++;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1)
        runs = 1;
    const char *shared = getenv("ICTAL_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/chbmit-continuous/chb05_06_excerpt_uV_f32.npy",
             shared ? shared : "../shared");
    int nch0, ns0;
    float *ex = du_load_npy_frames(path, &nch0, &ns0);
    if (ex == NULL) {
        fprintf(stderr, "bench_detector: cannot read %s (set ICTAL_SHARED)\n", path);
        return 1;
    }
    ictal_model m;
    const char *what = "";
    const ictal_model *model = load_model(&m, &what);
    printf("libictal alone, in memory, 1 h at 256 Hz, model: %s, median of %d runs\n", what,
           runs);
    const int chans[2] = {18, 4};
    for (int ci = 0; ci < 2; ci++) {
        int nch = chans[ci];
        size_t ns = 3600u * 256u;
        float *fr = malloc(sizeof(float) * (size_t)nch * ns);
        /* Tile the excerpt forwards and backwards so that the joins are continuous. */
        for (size_t s = 0; s < ns; s++) {
            size_t per = (size_t)ns0 * 2 - 2, k = s % per;
            size_t src = k < (size_t)ns0 ? k : per - k;
            for (int c = 0; c < nch; c++)
                fr[s * (size_t)nch + (size_t)c] = ex[src * (size_t)nch0 + (size_t)c];
        }
        ictal_config cfg;
        ictal_config_init(&cfg);
        cfg.n_channels = nch;
        cfg.rate_hz = 256.0;
        cfg.model = model;
        long hops = 0;
        cfg.on_hop = count_hop;
        cfg.user = &hops;
        size_t size = 0;
        double *t = malloc(sizeof(double) * (size_t)runs);
        double *tc = malloc(sizeof(double) * (size_t)runs);
        for (int r = 0; r < runs; r++) {
            ictal_detector *det = du_detector_new(&cfg, &size);
            if (det == NULL)
                return 1;
            hops = 0;
            double t0 = now_s(), c0 = cpu_s();
            for (size_t s = 0; s < ns; s += 4096) {
                size_t n = ns - s < 4096 ? ns - s : 4096;
                ictal_detector_push(det, fr + s * (size_t)nch, n);
            }
            t[r] = now_s() - t0;
            tc[r] = cpu_s() - c0;
            free(det);
        }
        qsort(t, (size_t)runs, sizeof(double), cmp_d);
        qsort(tc, (size_t)runs, sizeof(double), cmp_d);
        double med = t[runs / 2], medc = tc[runs / 2];
        printf("%2d ch: wall %.4f s per hour (min %.4f, max %.4f), CPU %.4f s: %.0fx real time "
               "(CPU), %.2f ns per sample, %.2f us per hop (%ld hops), state %zu bytes\n",
               nch, med, t[0], t[runs - 1], medc, 3600.0 / medc,
               medc * 1e9 / ((double)ns * nch), medc * 1e6 / (double)hops, hops, size);
        free(t);
        free(tc);
        free(fr);
    }
    /* Operations per hop at 4 channels, 256 Hz, hop 0.5 s, counted from the code: per
     * input sample and channel 12 (checks) + 4 x 9 (anti-aliasing biquads) + 20 (cubic
     * interpolation at 128 Hz, amortised 10); per internal sample and channel 9 (high-pass)
     * + 18 (slow component) + 24 (sums, differences, crossings) + 10 x 9 + 2 (bands);
     * per hop and channel about 400 (22 features, three logs, quality) + the model. */
    double per_in = 12 + 36 + 10, per_int = 9 + 18 + 24 + 92, per_hop_ch = 400;
    double ops = 4 * (128 * per_in + 64 * per_int + per_hop_ch);
    printf("Cortex-M4 estimate, 4 ch at 256 Hz: about %.0f single-precision operations per "
           "hop (0.5 s) + the model, %.2f M per second: about %.1f%% of a 64 MHz M4F at 1.5 "
           "cycles per operation\n",
           ops, ops * 2 / 1e6, ops * 2 * 1.5 / 64e6 * 100);
    free(ex);
    return 0;
}
