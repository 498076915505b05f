/*
 * libFuzzer target for the EDF reader: header parsing, record counting, the TAL scan
 * (EDF+C/D record times, annotations), every read path on whatever opens, and the TAL
 * codec on the raw bytes. Opened from memory, tolerant then strict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/edf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(ictal_edf *r)
{
    const ictal_edf_info *in = ictal_edf_get_info(r);
    ictal_diag d;
    ictal_diag_init(&d);
    if (in->n_records == 0)
        return;
    /* Bulk float path over every record, in chunks of 3 records. */
    float **out = calloc((size_t)in->n_signals + 1, sizeof(float *));
    int *sel = calloc((size_t)in->n_signals + 1, sizeof(int));
    int n_sel = 0;
    for (int s = 0; s < in->n_signals; s++) {
        if (in->signals[s].is_annotation)
            continue;
        sel[n_sel] = s;
        out[n_sel] = malloc((size_t)in->signals[s].samples_per_record * 3 * sizeof(float));
        n_sel++;
    }
    for (int64_t rec = 0; rec < in->n_records; rec += 3) {
        int64_t n = in->n_records - rec < 3 ? in->n_records - rec : 3;
        ictal_edf_read_float(r, rec, n, sel, n_sel, out, &d);
    }
    /* Frames need one rate: try the first signal alone and all (may be refused). */
    if (n_sel > 0 && in->n_records > 0) {
        size_t spr = (size_t)in->signals[sel[0]].samples_per_record;
        float *frames = malloc(spr * (size_t)n_sel * sizeof(float));
        ictal_edf_read_frames(r, 0, 1, sel, 1, frames, &d);
        ictal_edf_read_frames(r, 0, 1, NULL, n_sel, frames, &d);
        free(frames);
    }
    for (int i = 0; i < n_sel; i++)
        free(out[i]);
    free(out);
    /* Per-sample paths, across a record boundary. */
    double phys[64];
    int32_t dig[64];
    size_t got;
    for (int i = 0; i < n_sel; i++) {
        int64_t spr = in->signals[sel[i]].samples_per_record;
        ictal_edf_read_physical(r, sel[i], spr > 10 ? spr - 10 : 0, 64, phys, &got, &d);
        ictal_edf_read_digital(r, sel[i], 0, 64, dig, &got, &d);
    }
    free(sel);
    double t;
    int64_t rec;
    for (int64_t k = 0; k < in->n_records && k < 8; k++)
        ictal_edf_record_start(r, k, &t);
    ictal_edf_find_time(r, in->duration_s / 2, &rec);
    ictal_edf_find_time(r, -1, &rec);
    ictal_edf_find_signal(r, "EDF Annotations");
    for (size_t i = 0; i < in->n_annotations; i++)
        (void)strlen(in->annotations[i].text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int strict = 0; strict < 2; strict++) {
        ictal_diag d;
        ictal_diag_init(&d);
        d.strict = strict;
        ictal_edf *r = NULL;
        if (ictal_edf_open_memory(&r, data, size, NULL, &d) == 0) {
            exercise(r);
            ictal_edf_close(r);
        }
    }
    /* The TAL codec on the raw bytes, and a round trip of what it parses. */
    ictal_tal_iter it;
    ictal_tal t;
    ictal_tal_iter_init(&it, data, size);
    int n = 0;
    while (ictal_tal_next(&it, &t, NULL) == 1 && n++ < 1000) {
        char text[256], buf[512];
        size_t len = t.text_len < sizeof(text) - 1 ? t.text_len : sizeof(text) - 1;
        memcpy(text, t.text, len);
        text[len] = '\0';
        const char *texts[1] = {text};
        int m = ictal_tal_encode(buf, sizeof(buf), t.onset_s, t.duration_s, texts, 1);
        if (m > 0) {
            ictal_tal_iter it2;
            ictal_tal t2;
            ictal_tal_iter_init(&it2, buf, (size_t)m);
            if (ictal_tal_next(&it2, &t2, NULL) != 1)
                abort(); /* what ictal writes, ictal must read */
        }
    }
    return 0;
}
