/* Fuzzes the CHB-MIT summary parser (ictal_annot_parse_chbmit_summary). The record
 * asked for is taken from the input's first line, so that the fuzzer can reach the
 * seizure lines of a block. */
#include "ictal/annot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char record[64] = "chb01_03.edf";
    fuzz_record_from_first_line(text, size, record, sizeof(record));
    const char *records[] = {record, "chb01_03.edf", "chb08_02", "x_01.edf"};
    for (int r = 0; r < 4; r++) {
        ictal_annotations a;
        ictal_diag d;
        ictal_annotations_init(&a);
        ictal_diag_init(&d);
        d.strict = r == 3;
        int rc = ictal_annot_parse_chbmit_summary(text, size, "fuzz", records[r], &a, &d);
        if (rc == 0) {
            for (size_t i = 0; i < a.count; i++)
                if (!(a.events[i].onset_s >= 0) || !(a.events[i].duration_s >= 0))
                    abort();
        } else if (d.message[0] == '\0') {
            abort(); /* every error says what */
        }
        ictal_annotations_free(&a);
    }
    return 0;
}
