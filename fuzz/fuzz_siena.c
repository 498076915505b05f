/* Fuzzes the Siena seizure-list parser (ictal_annot_parse_siena): whole list, and the
 * record named on the input's first line. */
#include "ictal/annot.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char record[64] = "PN00-3.edf";
    const char *nl = memchr(text, '\n', size);
    size_t k = nl ? (size_t)(nl - text) : 0;
    if (k > 0 && k < sizeof(record) && memchr(text, '\0', k) == NULL) {
        memcpy(record, text, k);
        record[k] = '\0';
    }
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
