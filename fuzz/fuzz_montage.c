/*
 * Fuzzes label normalisation and montage building (ictal/montage.h) with random label
 * lists: the input's first byte picks the montage kind, the first line is the custom
 * list, and each following line is a signal label.
 */
#include "ictal/montage.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *labels[ICTAL_MONTAGE_INPUTS_MAX];
    int n = 0;
    char *custom = text;
    char *p = strchr(text, '\n');
    if (p != NULL) {
        *p++ = '\0';
        while (p != NULL && n < ICTAL_MONTAGE_INPUTS_MAX) {
            labels[n++] = p;
            p = strchr(p, '\n');
            if (p != NULL)
                *p++ = '\0';
        }
    }
    for (int i = 0; i < n; i++) {
        char out[ICTAL_LABEL_MAX];
        if (ictal_label_normalize(labels[i], out, sizeof(out)) == 0 && strlen(out) >= sizeof(out))
            abort();
        (void)ictal_label_is_eeg(labels[i]);
    }
    ictal_montage m;
    int rc = ictal_montage_build(&m, (ictal_montage_kind)(data[0] % 5), labels, n, custom);
    if (rc == 0) {
        if (m.n_channels < 1 || m.n_channels > ICTAL_MONTAGE_MAX)
            abort();
        float in[ICTAL_MONTAGE_INPUTS_MAX], out[ICTAL_MONTAGE_MAX];
        for (int i = 0; i < n; i++)
            in[i] = (float)i;
        for (int c = 0; c < m.n_channels; c++)
            if (m.pos[c] < 0 || m.pos[c] >= n || m.neg[c] >= n)
                abort();
        ictal_montage_apply(&m, in, out);
    }
    free(text);
    return 0;
}
