/*
 * The server's live EDF+ recorder (src/server/recorder.h) on real EEG (the bundled
 * data/chb05_06_excerpt.edf, 4 channels, 250 ms frames): frames split in two stay one
 * record; a short frame before a gap is padded and annotated; the gap makes the file
 * EDF+D with its note; int16 samples are kept exactly and float32 ones within half a
 * quantisation step; the header says -1 records until closed, and a download snapshot
 * of an open file has the right count.
 */
#include <edflib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ictal/edf.h"
#include "server/fleet.h"
#include "server/recorder.h"
#include "test.h"

static ictal__sim_source src;
static char dir[64];

/* Frame k of the source, parsed; time and length adjusted when n_samples > 0. */
static ictal_wire_frame frame(size_t k, int64_t time_us, uint32_t first, uint32_t n_samples)
{
    ictal_wire_frame f;
    CHECK_EQ_INT(ictal_wire_parse(src.frames[k], src.frame_bytes[k], &f, NULL), 0);
    f.device_time_us = time_us;
    f.payload += (size_t)first * (size_t)f.n_channels * 2;
    f.n_samples = n_samples;
    f.payload_bytes = (size_t)n_samples * (size_t)f.n_channels * 2;
    return f;
}

static int16_t sample(size_t k, uint32_t i, int c)
{
    const uint8_t *p = src.frames[k] + ICTAL_WIRE_HEADER_BYTES + ((size_t)i * (size_t)src.n_channels + (size_t)c) * 2;
    return (int16_t)(p[0] | (p[1] << 8));
}

static void push(ictal__recorder *r, const ictal_wire_frame *f)
{
    float uv[64 * 4];
    ictal_wire_decode_uv(f, uv);
    CHECK_EQ_INT(ictal__recorder_frame(r, f, uv, NULL), 0);
}

static void test_int16_layout(json_t *labels)
{
    char path[128];
    snprintf(path, sizeof path, "%s/int16.edf", dir);
    const int64_t t0 = 1732406400000000;
    ictal__recorder_session s = {7, "dev-7", labels, 256, t0};
    ictal_wire_frame f = frame(0, t0, 0, 64);
    ictal__recorder *r = NULL;
    CHECK_EQ_INT(ictal__recorder_open(&r, path, &s, &f, NULL), 0);
    if (r == NULL)
        return;
    for (size_t k = 0; k < 10; k++) {
        f = frame(k, t0 + (int64_t)k * 250000, 0, 64);
        push(r, &f);
    }
    /* Frame 10 in two halves: still one record. */
    f = frame(10, t0 + 2500000, 0, 32);
    push(r, &f);
    f = frame(10, t0 + 2625000, 32, 32);
    push(r, &f);
    /* Frame 11 cut to 48 samples, then nothing until 5 s: padded, then EDF+D. */
    f = frame(11, t0 + 2750000, 0, 48);
    push(r, &f);
    for (size_t k = 12; k < 16; k++) {
        f = frame(k, t0 + 5000000 + (int64_t)(k - 12) * 250000, 0, 64);
        push(r, &f);
    }
    CHECK_EQ_INT(ictal__recorder_annotate(r, 1.5, -1, "seizure alarm 1 raised at 2.00 s (p 0.91)", NULL), 0);

    /* Open: the header says -1; a snapshot says 16 and reads back. */
    CHECK(!ictal__recorder_is_closed(path));
    unsigned char *snap = NULL;
    size_t n = 0;
    CHECK_EQ_INT(ictal__recorder_snapshot(path, &snap, &n, NULL), 0);
    ictal_edf *edf = NULL;
    CHECK_EQ_INT(ictal_edf_open_memory(&edf, snap, n, NULL, NULL), 0);
    if (edf) {
        CHECK_EQ_INT(ictal_edf_get_info(edf)->header_n_records, 16);
        CHECK_EQ_INT(ictal_edf_get_info(edf)->n_records, 16);
        ictal_edf_close(edf);
    }
    free(snap);
    CHECK_EQ_INT(ictal__recorder_close(r, NULL), 0);
    CHECK(ictal__recorder_is_closed(path));

    CHECK_EQ_INT(ictal_edf_open(&edf, path, NULL, NULL), 0);
    if (edf == NULL)
        return;
    const ictal_edf_info *in = ictal_edf_get_info(edf);
    CHECK_EQ_INT(in->header_n_records, 16);
    CHECK_EQ_INT(in->variant, ICTAL_EDF_VARIANT_PLUS_D);
    CHECK_NEAR(in->record_duration_s, 0.25, 1e-12);
    CHECK_EQ_INT(in->n_gaps, 1);
    CHECK(in->n_gaps == 1 && fabs(in->gaps[0].start_s - 3.0) < 1e-9);
    CHECK(in->n_gaps == 1 && fabs(in->gaps[0].duration_s - 2.0) < 1e-9);
    CHECK_STR(in->start_iso, "2024-11-24T00:00:00");
    /* The alarm, the padding and the gap note, with their times. */
    CHECK_EQ_INT(in->n_annotations, 3);
    int pad = 0, gap = 0, alarm = 0;
    for (size_t i = 0; i < in->n_annotations; i++) {
        const ictal_edf_annotation *a = &in->annotations[i];
        if (strcmp(a->text, "padding (no data)") == 0)
            pad = fabs(a->onset_s - 2.9375) < 1e-6 && fabs(a->duration_s - 0.0625) < 1e-6;
        if (strcmp(a->text, "gap: no data for 2.062 s") == 0)
            gap = fabs(a->onset_s - 2.9375) < 1e-6 && fabs(a->duration_s - 2.0625) < 1e-6;
        if (strncmp(a->text, "seizure alarm 1 raised", 22) == 0)
            alarm = fabs(a->onset_s - 1.5) < 1e-6 && a->duration_s < 0;
    }
    CHECK(pad && gap && alarm);
    /* Every sample where it belongs, exactly; zeros in the padding. */
    int32_t dig[16 * 64];
    size_t nr = 0;
    int bad = 0;
    for (int c = 0; c < 4; c++) {
        CHECK_EQ_INT(ictal_edf_read_digital(edf, c, 0, 16 * 64, dig, &nr, NULL), 0);
        CHECK_EQ_INT(nr, 16 * 64);
        for (size_t rec = 0; rec < 16; rec++)
            for (uint32_t i = 0; i < 64; i++) {
                int32_t want = rec == 11 && i >= 48 ? 0 : sample(rec, i, c);
                bad += dig[rec * 64 + i] != want;
            }
    }
    CHECK_EQ_INT(bad, 0);
    ictal_edf_close(edf);
}

static void test_float32(json_t *labels)
{
    char path[128];
    snprintf(path, sizeof path, "%s/float.edf", dir);
    float payload[3][64 * 4];
    ictal_wire_frame f[3];
    for (int k = 0; k < 3; k++) {
        f[k] = frame((size_t)k, 0, 0, 64);
        ictal_wire_decode_uv(&f[k], payload[k]);
        f[k].format = ICTAL_WIRE_FLOAT32;
        f[k].scale_uv = 0;
        f[k].payload = (const uint8_t *)payload[k];
        f[k].payload_bytes = sizeof payload[k];
        f[k].device_time_us = (int64_t)k * 250000;
    }
    ictal__recorder_session s = {8, "dev-8", labels, 256, 0};
    ictal__recorder *r = NULL;
    CHECK_EQ_INT(ictal__recorder_open(&r, path, &s, &f[0], NULL), 0);
    if (r == NULL)
        return;
    for (int k = 0; k < 3; k++)
        CHECK_EQ_INT(ictal__recorder_frame(r, &f[k], payload[k], NULL), 0);
    CHECK_EQ_INT(ictal__recorder_close(r, NULL), 0);
    /* EDFlib reads it; physical values within half a step of 3276.8 / 32768 µV. */
    struct edf_hdr_struct h;
    CHECK_EQ_INT(edfopen_file_readonly(path, &h, EDFLIB_READ_ALL_ANNOTATIONS), 0);
    CHECK_EQ_INT(h.edfsignals, 4);
    CHECK_EQ_INT(h.datarecords_in_file, 3);
    double worst = 0;
    for (int c = 0; c < 4; c++) {
        double v[192];
        CHECK_EQ_INT(edfread_physical_samples(h.handle, c, 192, v), 192);
        for (int i = 0; i < 192; i++) {
            double e = fabs(v[i] - payload[i / 64][(i % 64) * 4 + c]);
            worst = e > worst ? e : worst;
        }
    }
    edfclose_file(h.handle);
    CHECK(worst <= 0.5 * 6553.6 / 65535 + 1e-4);
}

int main(void)
{
    const char *root = getenv("ICTAL_SOURCE_DIR");
    char edf[1024];
    snprintf(edf, sizeof edf, "%s/data/chb05_06_excerpt.edf", root ? root : "..");
    if (ictal__sim_source_from_file(&src, edf, "F7-T7,T7-P7,F8-T8,T8-P8", 250, NULL) != 0) {
        fprintf(stderr, "cannot read %s\n", edf);
        return 1;
    }
    CHECK_EQ_INT(src.samples_per_frame, 64);
    snprintf(dir, sizeof dir, "/tmp/ictal-recorder-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    json_t *labels = json_pack("[s,s,s,s]", "F7-T7", "T7-P7", "F8-T8", "T8-P8");
    test_int16_layout(labels);
    test_float32(labels);
    json_decref(labels);
    ictal__sim_source_free(&src);
    test_remove_dir(dir);
    return test_summary();
}
