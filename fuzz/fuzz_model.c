/* Fuzzes the model parser (ictal_model_parse) and, for files it accepts, evaluation on
 * feature vectors taken from the input (NaN and infinities included). The CRC would
 * stop almost every mutation at the door, so the target also fixes the CRC of each
 * input before a second parse: the structural checks behind it get fuzzed too. */
#include "ictal/ictal.h"
#include "ictal/model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const uint8_t *data, size_t size)
{
    ictal_model m;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_model_parse(&m, data, size, &d);
    if (rc != 0) {
        if (d.message[0] == '\0')
            abort(); /* every error says what */
        return;
    }
    float x[ICTAL_N_FEATURES + 64];
    size_t nf = m.info.n_features;
    if (nf > sizeof x / sizeof x[0])
        nf = sizeof x / sizeof x[0];
    for (size_t i = 0; i < nf; i++) {
        uint32_t u = 0;
        if (size >= 4)
            memcpy(&u, data + (i * 4) % (size - 3), 4);
        memcpy(&x[i], &u, 4);
    }
    if (m.info.n_features <= sizeof x / sizeof x[0]) {
        float p = ictal_model_predict(&m, x);
        if (!(p >= 0.0f && p <= 1.0f) && !isnan(p))
            abort();
    }
    ictal_tree_node n;
    for (uint32_t i = 0; i < m.info.n_nodes && i < 1000; i++)
        if (ictal_model_node(&m, i, &n) != 0)
            abort();
    /* A model the detector takes must run in it. */
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = 2;
    cfg.rate_hz = 256;
    cfg.model = &m;
    size_t sz = ictal_detector_size(&cfg);
    if (sz == 0 || sz > (1u << 20))
        return;
    void *mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, (sz + 15) / 16 * 16);
    if (mem == NULL || ictal_detector_init(mem, sz, &cfg) != 0)
        abort();
    float fr[2 * 1024];
    for (int i = 0; i < 2 * 1024; i++)
        fr[i] = (float)(50.0 * sin(i * 0.05));
    for (int k = 0; k < 6; k++)
        ictal_detector_push(mem, fr, 1024);
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    exercise(data, size);
    if (size >= ICTAL_MODEL_HEADER_SIZE && size < (1u << 20)) {
        uint8_t *b = malloc(size);
        if (b == NULL)
            return 0;
        memcpy(b, data, size);
        memset(b + 76, 0, 4);
        uint32_t c = ictal_crc32(0, b, size);
        b[76] = (uint8_t)c;
        b[77] = (uint8_t)(c >> 8);
        b[78] = (uint8_t)(c >> 16);
        b[79] = (uint8_t)(c >> 24);
        exercise(b, size);
        free(b);
    }
    return 0;
}
