/* Fuzzes the TUSZ annotation parser (ictal_annot_parse_tusz), tolerant and strict: an
 * accepted file gives sorted, disjoint events with finite non-negative times inside the
 * duration it states; a refused one says why and leaves the list as it was. */
#include "ictal/annot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int strict = 0; strict < 2; strict++) {
        ictal_annotations a;
        ictal_diag d;
        ictal_annotations_init(&a);
        ictal_diag_init(&d);
        d.strict = strict;
        int rc = ictal_annot_parse_tusz((const char *)data, size, "fuzz", &a, &d);
        if (rc == 0) {
            double dur = a.recording_duration_s;
            for (size_t i = 0; i < a.count; i++) {
                const ictal_event *e = &a.events[i];
                if (!(e->onset_s >= 0) || !(e->duration_s >= 0) || !isfinite(e->onset_s) ||
                    !isfinite(e->duration_s) || !ictal_event_is_seizure(e))
                    abort();
                if (!isnan(dur) && e->onset_s + e->duration_s > dur + 1e-6)
                    abort();
                if (i > 0 && e->onset_s <= a.events[i - 1].onset_s + a.events[i - 1].duration_s)
                    abort();
            }
        } else if (d.message[0] == '\0' || a.count != 0) {
            abort();
        }
        ictal_annotations_free(&a);
    }
    return 0;
}
