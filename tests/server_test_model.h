/*
 * The detector model the server tests use (tests/fixtures/server/linelength.model): a
 * one-feature logistic model that is not meant to be accurate, only to make the
 * alarm path testable on real EEG. It raises the probability when a channel's line
 * length rises above its own background (feature line_length_vs_bg, a log10 ratio):
 * p = sigmoid(-4 + 8 * x), so p > 0.5 when the line length is 3.2x its background,
 * as in the seizure of data/chb05_06_excerpt.edf. test_server checks that the
 * committed file is exactly what this description serialises to.
 */
#ifndef ICTAL_SERVER_TEST_MODEL_H
#define ICTAL_SERVER_TEST_MODEL_H

#include <stdio.h>
#include <string.h>

#include "ictal/ictal.h"
#include "ictal/model.h"

/* Serialises the test model into buf; returns its size, or 0 on error. */
static inline size_t server_test_model(unsigned char *buf, size_t cap)
{
    float w[ICTAL_N_FEATURES], mean[ICTAL_N_FEATURES], scale[ICTAL_N_FEATURES];
    for (int i = 0; i < ICTAL_N_FEATURES; i++) {
        w[i] = 0;
        mean[i] = 0;
        scale[i] = 1;
    }
    w[ICTAL_F_LINE_LENGTH_VS_BG] = 8;
    ictal_model_info info;
    memset(&info, 0, sizeof info);
    info.kind = ICTAL_MODEL_LOGISTIC;
    info.feature_set = ICTAL_FEATURE_SET;
    info.n_features = ICTAL_N_FEATURES;
    info.rate_hz = ICTAL_INTERNAL_RATE_HZ;
    info.window_s = 4;
    info.hop_s = 0.5f;
    info.aggregation = ICTAL_AGG_TOPK_MEAN;
    info.top_k = 2;
    info.base_score = -4;
    ictal_postproc_default(&info.post);
    info.weights = w;
    info.mean = mean;
    info.scale = scale;
    static const char prov[] = "ictal server test model: sigmoid(-4 + 8 * line_length_vs_bg); "
                               "not a clinical model";
    info.provenance = prov;
    info.provenance_len = sizeof prov - 1;
    size_t len = 0;
    if (ictal_model_serialize(&info, buf, cap, &len, NULL) != 0)
        return 0;
    return len;
}

#endif
