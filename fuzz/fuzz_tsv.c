/*
 * libFuzzer target: the SzCORE events TSV parser (ictal_annot_parse_tsv), and the
 * scorer on whatever it accepts (against itself, and against a fixed reference).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ictal/annot.h"
#include "ictal/score.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ictal_annotations a;
    ictal_annotations_init(&a);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_annot_parse_tsv((const char *)data, size, "fuzz", &a, &d);
    char buf[512];
    ictal_diag_format(&d, buf, sizeof(buf));
    /* Day-scale recordings keep each run short; longer ones take the same paths. */
    if (rc == 0 && a.recording_duration_s <= 7 * 86400) {
        ictal_score_params p;
        ictal_score_params_default(&p);
        ictal_score_result r;
        ictal_score_result_init(&r);
        if (ictal_score_recording(&a, &a, &p, &r, NULL) == 0 && r.event.fp != 0)
            __builtin_trap(); /* scored against itself, nothing is a false positive */
        ictal_annotations ref;
        ictal_annotations_init(&ref);
        ref.recording_duration_s = a.recording_duration_s;
        ictal_event e;
        memset(&e, 0, sizeof(e));
        strcpy(e.event_type, "sz");
        e.onset_s = a.recording_duration_s / 3;
        e.duration_s = a.recording_duration_s / 4;
        ictal_annotations_add(&ref, &e);
        p.duration_tolerance_s = 1;
        if (ictal_score_recording(&ref, &a, &p, &r, NULL) == 0 && r.event.tp > r.event.ref_true)
            __builtin_trap();
        ictal_annotations_free(&ref);
        ictal_score_result_free(&r);
    }
    ictal_annotations_free(&a);
    return 0;
}
