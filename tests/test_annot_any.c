/* Choosing the annotation reader by name and content (ictal_annot_read_any): every
 * real annotation format gives the same seizures as its own reader. */
#include <stdint.h>
#include <unistd.h>

#include "ictal/annot.h"
#include "test.h"

/* Copies a fixture to a temporary file with a name that says nothing of its format. */
static const char *anonymous_copy(const char *src, char *tmpl)
{
    FILE *in = fopen(src, "rb");
    int fd = mkstemp(tmpl);
    if (in == NULL || fd < 0) {
        if (in)
            fclose(in);
        return NULL;
    }
    FILE *out = fdopen(fd, "wb");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    return tmpl;
}

static void check_seizure(const ictal_annotations *a, size_t i, double onset, double offset)
{
    CHECK_MSG(i < a->count, "event %zu of %zu", i, a->count);
    if (i >= a->count)
        return;
    CHECK_NEAR(a->events[i].onset_s, onset, 1e-6);
    CHECK_NEAR(a->events[i].onset_s + a->events[i].duration_s, offset, 1e-6);
    CHECK(ictal_event_is_seizure(&a->events[i]));
}

int main(void)
{
    ictal_diag d;
    ictal_annotations a;

    /* Names. */
    for (int f = ICTAL_ANNOT_TSV; f <= ICTAL_ANNOT_TUSZ; f++)
        CHECK_EQ_INT(ictal_annot_format_from_name(ictal_annot_format_name((ictal_annot_format)f)), f);
    CHECK_EQ_INT(ictal_annot_format_from_name("xml"), ICTAL_ANNOT_UNKNOWN);
    CHECK(ictal_annot_format_needs_record(ICTAL_ANNOT_SIENA));
    CHECK(!ictal_annot_format_needs_record(ICTAL_ANNOT_TSV));

    /* By file name. */
    const char *summary = test_fixture_path("annotations/chbmit/chb01/chb01-summary.txt");
    const char *seizures = test_fixture_path("annotations/chbmit/chb06/chb06_04.edf.seizures");
    const char *siena = test_fixture_path("annotations/siena/PN00/Seizures-list-PN00.txt");
    const char *tsv = test_fixture_path(
        "scoring/set2/hyp/sub-04/ses-01/eeg/sub-04_ses-01_task-szMonitoring_run-01_events.tsv");
    const char *edf = test_fixture_path("edf/test_utf8_annotations.edf");
    CHECK_EQ_INT(ictal_annot_guess_format(summary), ICTAL_ANNOT_CHBMIT_SUMMARY);
    CHECK_EQ_INT(ictal_annot_guess_format(seizures), ICTAL_ANNOT_SEIZURES);
    CHECK_EQ_INT(ictal_annot_guess_format(siena), ICTAL_ANNOT_SIENA);
    CHECK_EQ_INT(ictal_annot_guess_format(tsv), ICTAL_ANNOT_TSV);
    CHECK_EQ_INT(ictal_annot_guess_format(edf), ICTAL_ANNOT_EDF);

    /* By content, when the name says nothing. */
    struct {
        const char *src;
        ictal_annot_format want;
    } anon[] = {{summary, ICTAL_ANNOT_CHBMIT_SUMMARY},
                {siena, ICTAL_ANNOT_SIENA},
                {tsv, ICTAL_ANNOT_TSV},
                {edf, ICTAL_ANNOT_EDF}};
    for (size_t i = 0; i < sizeof(anon) / sizeof(anon[0]); i++) {
        char tmpl[] = "/tmp/ictal-annot-XXXXXX";
        const char *p = anonymous_copy(anon[i].src, tmpl);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK_EQ_INT(ictal_annot_guess_format(p), anon[i].want);
        unlink(p);
    }

    /* Reading: the seizures PROVENANCE.md lists. */
    ictal_diag_init(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_read_any(summary, "chb01_03.edf", &a, &d), 0);
    check_seizure(&a, 0, 2996, 3036);
    ictal_annotations_free(&a);

    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_read_any(seizures, NULL, &a, &d), 0);
    CHECK_EQ_INT(a.count, 2);
    check_seizure(&a, 0, 327, 347);
    check_seizure(&a, 1, 6211, 6231);
    ictal_annotations_free(&a);

    /* A multi-record format without a record: a clear error, nothing read. */
    ictal_diag_init(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_read_any(siena, NULL, &a, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "name one") != NULL);
    CHECK_EQ_INT(a.count, 0);
    ictal_annotations_free(&a);

    /* Unknown content. */
    char tmpl[] = "/tmp/ictal-annot-XXXXXX";
    int fd = mkstemp(tmpl);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, "hello\n", 6) == 6);
        close(fd);
        ictal_diag_init(&d);
        ictal_annotations_init(&a);
        CHECK_EQ_INT(ictal_annot_read_any(tmpl, NULL, &a, &d), ICTAL_ENOTSUP);
        CHECK_EQ_INT(ictal_annot_guess_format(tmpl), ICTAL_ANNOT_UNKNOWN);
        ictal_annotations_free(&a);
        unlink(tmpl);
    }
    CHECK_EQ_INT(ictal_annot_guess_format("/nonexistent/file"), ICTAL_ANNOT_UNKNOWN);
    /* A file that is not there is not found, whatever its name says. */
    ictal_diag_init(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_read_any("/nonexistent/file", NULL, &a, &d), ICTAL_ENOENT);
    CHECK_STR(d.source, "/nonexistent/file");
    CHECK(strstr(d.message, "cannot open") != NULL);
    ictal_annotations_free(&a);
    return test_summary();
}
