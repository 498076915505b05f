/* Helpers for the detector tests and benchmarks: the real CHB-MIT excerpt as frames, an
 * aligned detector, and a small logistic model over line length used to exercise the
 * decisions (not a seizure model: models/default.ictalmodel is that). */
#ifndef ICTAL_TEST_DETECT_UTIL_H
#define ICTAL_TEST_DETECT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dsp.h"
#include "ictal/ictal.h"
#include "test_model_util.h"

/* Reads a NumPy v1 '<f4' C-order (channels, samples) array into frame-major floats
 * (frames[s * nch + c]). Returns NULL on any problem. */
static inline float *du_load_npy_frames(const char *path, int *nch, int *ns)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1) {
        fclose(f);
        return NULL;
    }
    size_t hl = (size_t)pre[8] | ((size_t)pre[9] << 8);
    char *h = calloc(hl + 1, 1);
    if (h == NULL || fread(h, 1, hl, f) != hl || strstr(h, "'<f4'") == NULL ||
        strstr(h, "'fortran_order': False") == NULL || strstr(h, "'shape': (") == NULL ||
        sscanf(strstr(h, "'shape': (") + 10, "%d, %d", nch, ns) != 2 || *nch <= 0 || *ns <= 0) {
        free(h);
        fclose(f);
        return NULL;
    }
    free(h);
    size_t n = (size_t)*nch * (size_t)*ns;
    float *a = malloc(n * sizeof(float)), *fr = malloc(n * sizeof(float));
    if (a == NULL || fr == NULL || fread(a, sizeof(float), n, f) != n) {
        free(a);
        free(fr);
        fclose(f);
        return NULL;
    }
    fclose(f);
    for (int s = 0; s < *ns; s++)
        for (int c = 0; c < *nch; c++)
            fr[(size_t)s * (size_t)*nch + (size_t)c] = a[(size_t)c * (size_t)*ns + (size_t)s];
    free(a);
    return fr;
}

/* A detector in aligned heap memory (the library itself never allocates). */
static inline ictal_detector *du_detector_new(const ictal_config *cfg, size_t *size)
{
    size_t sz = ictal_detector_size(cfg);
    if (sz == 0)
        return NULL;
    void *mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, (sz + 15) / 16 * 16);
    if (mem == NULL || ictal_detector_init(mem, sz, cfg) != 0) {
        free(mem);
        return NULL;
    }
    if (size)
        *size = sz;
    return mem;
}

/* Logistic model on log line length only: p = sigmoid(gain * (ll - center)). */
static inline size_t du_line_length_model(unsigned char *buf, size_t cap, float center,
                                          float gain)
{
    test_model m;
    test_model_init(&m);
    m.weights[ICTAL_F_LOG_LINE_LENGTH] = gain;
    m.mean[ICTAL_F_LOG_LINE_LENGTH] = center;
    m.provenance = "test: line length only";
    return test_model_serialize(&m, buf, cap);
}

/* FNV-1a over n bytes, continuing from h: a hash of everything a detector reported. */
static inline uint64_t du_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* A biquad in double precision, started at steady state for input u: the reference the
 * detector's float filters are checked against. */
typedef struct du_biquad {
    double b0, b1, b2, a1, a2, s1, s2;
} du_biquad;

static inline void du_biquad_set(du_biquad *q, const ictal__biquad *f, double u)
{
    q->b0 = f->b0;
    q->b1 = f->b1;
    q->b2 = f->b2;
    q->a1 = f->a1;
    q->a2 = f->a2;
    double y = u * (q->b0 + q->b1 + q->b2) / (1.0 + q->a1 + q->a2);
    q->s2 = q->b2 * u - q->a2 * y;
    q->s1 = q->b1 * u - q->a1 * y + q->s2;
}

static inline double du_biquad_run(du_biquad *q, double x)
{
    double y = q->b0 * x + q->s1;
    q->s1 = q->b1 * x - q->a1 * y + q->s2;
    q->s2 = q->b2 * x - q->a2 * y;
    return y;
}

#endif
