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

#include "test_model_util.h"

/* Serialises the test model into buf; returns its size, or 0 on error. */
static inline size_t server_test_model(unsigned char *buf, size_t cap)
{
    test_model m;
    test_model_init(&m);
    m.weights[ICTAL_F_LINE_LENGTH_VS_BG] = 8;
    m.aggregation = ICTAL_AGG_TOPK_MEAN;
    m.top_k = 2;
    m.base_score = -4;
    m.provenance = "ictal server test model: sigmoid(-4 + 8 * line_length_vs_bg); "
                   "not a clinical model";
    return test_model_serialize(&m, buf, cap);
}

#endif
