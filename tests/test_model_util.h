/*
 * The small logistic models the tests, benchmarks and fuzz targets build in memory to
 * exercise the detector's decisions (not seizure models: models/default.ictalmodel is
 * that). A model gives only what it changes; the rest is the detector's own layout
 * (feature set, internal rate, 0.5 s hop, default decisions).
 */
#ifndef ICTAL_TEST_MODEL_UTIL_H
#define ICTAL_TEST_MODEL_UTIL_H

#include <string.h>

#include "ictal/ictal.h"
#include "ictal/model.h"

typedef struct test_model {
    float weights[ICTAL_N_FEATURES], mean[ICTAL_N_FEATURES], scale[ICTAL_N_FEATURES];
    float window_s;
    ictal_aggregation aggregation;
    uint16_t top_k;         /* for ICTAL_AGG_TOPK_MEAN */
    float base_score;       /* the bias */
    const char *provenance; /* NULL: none */
} test_model;

/* Weights 0, mean 0, scale 1, a 4 s window, the maximum over channels, bias 0. */
static inline void test_model_init(test_model *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < ICTAL_N_FEATURES; i++)
        m->scale[i] = 1.0f;
    m->window_s = 4.0f;
    m->aggregation = ICTAL_AGG_MAX;
    m->top_k = 1;
}

/* Serialises m into buf; returns its size, or 0 on error. */
static inline size_t test_model_serialize(const test_model *m, unsigned char *buf, size_t cap)
{
    ictal_model_info in;
    memset(&in, 0, sizeof in);
    in.kind = ICTAL_MODEL_LOGISTIC;
    in.feature_set = ICTAL_FEATURE_SET;
    in.n_features = ICTAL_N_FEATURES;
    in.rate_hz = ICTAL_INTERNAL_RATE_HZ;
    in.window_s = m->window_s;
    in.hop_s = 0.5f;
    in.aggregation = m->aggregation;
    in.top_k = m->top_k;
    in.base_score = m->base_score;
    ictal_postproc_default(&in.post);
    in.weights = m->weights;
    in.mean = m->mean;
    in.scale = m->scale;
    in.provenance = m->provenance;
    in.provenance_len = m->provenance ? strlen(m->provenance) : 0;
    size_t len = 0;
    if (ictal_model_serialize(&in, buf, cap, &len, NULL) != 0)
        return 0;
    return len;
}

#endif
