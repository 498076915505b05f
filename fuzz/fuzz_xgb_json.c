/* Fuzzes the export of XGBoost JSON models (ictal_xgb_export_json): malformed JSON,
 * wrong types, children out of range or shared, cycles, features out of range. Every
 * error must say what; every model it accepts must serialize into a model file that
 * libictal's parser accepts and can evaluate. */
#include "ictal/ictal.h"
#include "ictal/model.h"
#include "ictal/train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ictal_model_info tmpl;
    ictal_train_template(&tmpl);
    ictal_trained t;
    ictal_trained_init(&t);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_xgb_export_json((const char *)data, size, &tmpl, &t, &d);
    if (rc != 0) {
        if (d.message[0] == '\0')
            abort(); /* every error says what */
        ictal_trained_free(&t);
        return 0;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    rc = ictal_trained_serialize(&t, &bytes, &len, &d);
    if (rc == 0) {
        ictal_model m;
        if (ictal_model_parse(&m, bytes, len, &d) != 0)
            abort(); /* an accepted export must give a valid model file */
        float x[ICTAL_N_FEATURES];
        for (int i = 0; i < ICTAL_N_FEATURES; i++)
            x[i] = (i % 3 == 0) ? NAN : (float)i * 0.25f;
        float p = ictal_model_predict(&m, x);
        if (!(p >= 0.0f && p <= 1.0f) && !isnan(p))
            abort();
    } else if (d.message[0] == '\0') {
        abort();
    }
    free(bytes);
    ictal_trained_free(&t);
    return 0;
}
