/* Fuzzes the PhysioNet WFDB annotation parser (ictal_annot_parse_seizures). */
#include "ictal/annot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double rates[] = {256, 0, 512};
    for (int r = 0; r < 3; r++) {
        ictal_annotations a;
        ictal_diag d;
        ictal_annotations_init(&a);
        ictal_diag_init(&d);
        int rc = ictal_annot_parse_seizures(data, size, "fuzz", rates[r], &a, &d);
        if (rc == 0) {
            for (size_t i = 0; i < a.count; i++)
                if (!(a.events[i].onset_s >= 0) || !(a.events[i].duration_s >= 0))
                    abort();
        } else if (d.message[0] == '\0' || a.count != 0) {
            abort(); /* every error says what, and leaves no half list */
        }
        ictal_annotations_free(&a);
    }
    return 0;
}
