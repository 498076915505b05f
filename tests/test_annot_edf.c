/* ictal_annot_read_edf() and ictal_annot_from_edf(): EDF+ annotations as SzCORE-style
 * events. */
#include <unistd.h>

#include "edf_test_util.h"
#include "ictal/annot.h"

int main(void)
{
    ictal_annotations a;
    ictal_diag d;
    char src[1024];
    snprintf(src, sizeof(src), "%s/data/chb05_06_excerpt.edf",
             getenv("ICTAL_SOURCE_DIR") ? getenv("ICTAL_SOURCE_DIR") : "..");

    /* The bundled CHB-MIT excerpt: seizure at 37 s for 115 s (PROVENANCE.md). */
    ictal_annotations_init(&a);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_annot_read_edf(src, &a, &d), 0);
    CHECK_EQ_INT(a.count, 1);
    if (a.count == 1) {
        CHECK_STR(a.events[0].event_type, "sz");
        CHECK_NEAR(a.events[0].onset_s, 37.0, 1e-9);
        CHECK_NEAR(a.events[0].duration_s, 115.0, 1e-9);
        CHECK(ictal_event_is_seizure(&a.events[0]));
        CHECK(isnan(a.events[0].confidence));
    }
    CHECK_NEAR(a.recording_duration_s, 181.0, 1e-9);
    CHECK_STR(a.date_time, "2000-01-01T00:00:00");
    ictal_annotations_free(&a);

    /* UTF-8 texts are kept; nothing is a seizure. */
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_read_edf(test_fixture_path("edf/test_utf8_annotations.edf"), &a, &d), 0);
    CHECK_EQ_INT(a.count, 2);
    if (a.count == 2) {
        CHECK_STR(a.events[0].event_type, "RECORD START");
        CHECK_STR(a.events[1].event_type, "\xe4\xbb\xb0\xe5\x8d\xa7");
        CHECK_NEAR(a.events[1].onset_s, 2.0, 1e-9);
        CHECK_NEAR(a.events[1].duration_s, 0.5, 1e-9);
        CHECK(!ictal_event_is_seizure(&a.events[1]));
    }
    ictal_annotations_free(&a);

    /* The sleep hypnogram: 154 stages, the first "Sleep stage W" for 30630 s. */
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_read_edf(test_fixture_path("edf/SC4001EC-Hypnogram.edf"), &a, &d), 0);
    CHECK_EQ_INT(a.count, 154);
    if (a.count > 0) {
        CHECK_STR(a.events[0].event_type, "Sleep stage W");
        CHECK_NEAR(a.events[0].duration_s, 30630, 1e-9);
    }
    CHECK_STR(a.date_time, "1989-04-24T16:13:00");
    ictal_annotations_free(&a);

    /* Seizure texts in a written file: start/end markers pair up; "preictal" is not a
     * seizure; SzCORE types are kept. */
    char path[256];
    snprintf(path, sizeof(path), "/tmp/ictal_test_annot_edf_%d.edf", (int)getpid());
    ictal_edf_writer_signal sig = {"EEG Cz", 16, -100, 100, 0, 0, "uV", NULL, NULL};
    ictal_edf_writer *w = NULL;
    CHECK_EQ_INT(ictal_edf_writer_open(&w, path, &sig, 1, NULL, &d), 0);
    if (w) {
        CHECK_EQ_INT(ictal_edf_writer_annotate(w, 2, -1, "Seizure start", &d), 0);
        CHECK_EQ_INT(ictal_edf_writer_annotate(w, 9.5, -1, "Seizure end", &d), 0);
        CHECK_EQ_INT(ictal_edf_writer_annotate(w, 1, 1, "preictal", &d), 0);
        CHECK_EQ_INT(ictal_edf_writer_annotate(w, 12, 3, "sz_foc_ia", &d), 0);
        CHECK_EQ_INT(ictal_edf_writer_annotate(w, 14, 2, "Anfall", &d), 0);
        float x[16] = {0};
        const float *rec[1] = {x};
        for (int i = 0; i < 20; i++)
            CHECK_EQ_INT(ictal_edf_writer_write_record(w, -1, rec, &d), 0);
        CHECK_EQ_INT(ictal_edf_writer_close(w, &d), 0);
        ictal_annotations_init(&a);
        CHECK_EQ_INT(ictal_annot_read_edf(path, &a, &d), 0);
        CHECK_EQ_INT(a.count, 4);
        if (a.count == 4) {
            CHECK_STR(a.events[0].event_type, "preictal");
            CHECK_STR(a.events[1].event_type, "sz");
            CHECK_NEAR(a.events[1].onset_s, 2, 1e-9);
            CHECK_NEAR(a.events[1].duration_s, 7.5, 1e-9);
            CHECK_STR(a.events[2].event_type, "sz_foc_ia");
            CHECK_STR(a.events[3].event_type, "sz");
        }
        CHECK_NEAR(a.recording_duration_s, 20, 1e-9);
        /* from a reader that is already open: the same events */
        ictal_edf *r = NULL;
        CHECK_EQ_INT(ictal_edf_open(&r, path, NULL, &d), 0);
        if (r) {
            ictal_annotations b;
            ictal_annotations_init(&b);
            CHECK_EQ_INT(ictal_annot_from_edf(ictal_edf_get_info(r), &b, &d), 0);
            CHECK_EQ_INT(b.count, a.count);
            for (size_t i = 0; i < a.count && i < b.count; i++) {
                CHECK_STR(b.events[i].event_type, a.events[i].event_type);
                CHECK_NEAR(b.events[i].onset_s, a.events[i].onset_s, 0);
                CHECK_NEAR(b.events[i].duration_s, a.events[i].duration_s, 0);
            }
            CHECK_NEAR(b.recording_duration_s, 20, 1e-9);
            ictal_annotations_free(&b);
            ictal_edf_close(r);
        }
        ictal_annotations_free(&a);
        unlink(path);
    }

    /* Errors come through with their location. */
    ictal_annotations_init(&a);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_annot_read_edf("/nonexistent/x.edf", &a, &d), ICTAL_ENOENT);
    ictal_annotations_free(&a);
    return test_summary();
}
