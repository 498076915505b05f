/*
 * Fuzzes the NumPy .npy back-end of ictal/recording.h: the header parser on the bytes
 * as they are, and the whole open-and-read path on a temporary file (with the magic
 * forced, so that every input reaches the parser).
 */
#include "ictal/recording.h"
#include "io/rec_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ictal__npy_header h;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal__npy_parse_header(data, size, &h, &d) == 0 &&
        (h.ndim < 1 || h.ndim > 2 || h.size < 1 || (size_t)h.data_offset > size))
        abort();

    char path[64];
    snprintf(path, sizeof(path), "/tmp/ictal-fuzz-npy-%ld.npy", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    if (size < 6 || memcmp(data, "\x93NUMPY", 6) != 0)
        fwrite("\x93NUMPY", 1, 6, f);
    fwrite(data, 1, size, f);
    fclose(f);
    ictal_recording_options o;
    ictal_recording_options_init(&o);
    o.sample_rate_hz = 256;
    ictal_recording *r;
    ictal_diag_init(&d);
    if (ictal_recording_open(&r, path, &o, &d) == 0) {
        const ictal_recording_info *info = ictal_recording_get_info(r);
        float *buf = malloc((size_t)info->n_channels * 100 * sizeof(float));
        int64_t total = 0, got;
        while ((got = ictal_recording_read(r, buf, 100, &d)) > 0)
            total += got;
        if (got == 0 && total != info->n_frames)
            abort();
        free(buf);
        ictal_recording_close(r);
    } else if (d.message[0] == '\0') {
        abort();
    }
    unlink(path);
    return 0;
}
