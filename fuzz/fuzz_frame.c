/* libFuzzer target: the device frame parser (ictal/wire.h) on arbitrary bytes. A frame
 * that parses must decode within its payload and re-encode to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "ictal/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ictal_wire_frame f;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal_wire_parse(data, size, &f, &d) != 0)
        return 0;
    float *uv = malloc((size_t)f.n_samples * (size_t)f.n_channels * sizeof *uv);
    if (uv == NULL)
        return 0;
    ictal_wire_decode_uv(&f, uv);
    free(uv);
    uint8_t *again = malloc(size);
    if (again == NULL)
        return 0;
    long n = ictal_wire_encode(again, size, &f);
    /* float32 frames carry scale 0, so the bytes round-trip exactly. */
    if (n != (long)size || memcmp(again, data, size) != 0)
        abort();
    free(again);
    return 0;
}
