/*
 * Fuzzes the text back-ends of ictal/recording.h (CSV layouts, one value per line,
 * gzip): the input is written to a temporary file, opened with options picked by its
 * first byte (rate override, labels, columns, unknown rate allowed, forced text), and
 * read to the end in chunks, then again after a rewind.
 */
#include "ictal/recording.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_through(const char *path, const ictal_recording_options *o)
{
    ictal_recording *r;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal_recording_open(&r, path, o, &d) != 0) {
        if (d.message[0] == '\0')
            abort();
        return;
    }
    const ictal_recording_info *info = ictal_recording_get_info(r);
    if (info->n_channels < 1 || info->labels == NULL)
        abort();
    float *buf = malloc((size_t)info->n_channels * 37 * sizeof(float));
    for (int pass = 0; pass < 2; pass++) {
        int64_t total = 0, got;
        while ((got = ictal_recording_read(r, buf, 37, &d)) > 0)
            total += got;
        if (got < 0 && d.message[0] == '\0')
            abort();
        if (got == 0 && info->n_frames != total)
            abort();
        if (ictal_recording_rewind(r, &d) != 0)
            break;
    }
    free(buf);
    ictal_recording_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ictal-fuzz-csv-%ld.csv", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    static const char *const labels[] = {"F7", "T7", "P7"};
    ictal_recording_options o;
    ictal_recording_options_init(&o);
    unsigned mode = data[0];
    o.format = (mode & 1) ? ICTAL_RECORDING_TEXT : ICTAL_RECORDING_AUTO;
    if (mode & 2)
        o.sample_rate_hz = 256;
    if (mode & 4) {
        o.labels = labels;
        o.n_labels = 1 + (int)((mode >> 5) % 3);
    }
    if (mode & 8)
        o.columns = (mode & 16) ? "1,2" : "Fp1, EXG Channel 0";
    o.allow_unknown_rate = (mode & 16) != 0;
    read_through(path, &o);
    unlink(path);
    return 0;
}
