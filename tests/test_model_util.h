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
    int feature_set;        /* 1 or 2 (its n_features: ictal_feature_count) */
    float weights[ICTAL_MAX_FEATURES], mean[ICTAL_MAX_FEATURES], scale[ICTAL_MAX_FEATURES];
    float window_s;
    ictal_aggregation aggregation;
    uint16_t top_k;         /* for ICTAL_AGG_TOPK_MEAN */
    float base_score;       /* the bias */
    const char *provenance; /* NULL: none */
} test_model;

/* Feature set 1, weights 0, mean 0, scale 1, a 4 s window, the maximum over channels,
 * bias 0. */
static inline void test_model_init(test_model *m)
{
    memset(m, 0, sizeof *m);
    m->feature_set = ICTAL_FEATURE_SET;
    for (int i = 0; i < ICTAL_MAX_FEATURES; i++)
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
    in.feature_set = (uint16_t)m->feature_set;
    in.n_features = (uint16_t)ictal_feature_count(m->feature_set);
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
