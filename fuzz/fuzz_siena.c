/* Fuzzes the Siena seizure-list parser (ictal_annot_parse_siena): whole list, and the
 * record named on the input's first line. */
#include "ictal/annot.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char record[64] = "PN00-3.edf";
    fuzz_record_from_first_line(text, size, record, sizeof(record));
    const char *records[] = {NULL, record, "PN00-3.edf"};
    for (int r = 0; r < 3; r++) {
        ictal_annotations a;
        ictal_diag d;
        ictal_annotations_init(&a);
        ictal_diag_init(&d);
        d.strict = r == 2;
        int rc = ictal_annot_parse_siena(text, size, "fuzz", records[r], &a, &d);
        if (rc == 0) {
            for (size_t i = 0; i < a.count; i++)
                if (!(a.events[i].onset_s >= 0) || !(a.events[i].duration_s >= 0) ||
                    a.events[i].onset_s > 86400 || a.events[i].duration_s > 86400)
                    abort();
        } else if (d.message[0] == '\0' || a.count != 0) {
            abort();
        }
        ictal_annotations_free(&a);
    }
    return 0;
}
