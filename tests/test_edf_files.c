/*
 * The EDF reader on every EDF/BDF file under ../shared/data: header fields, every
 * sample and every annotation agree with EDFlib wherever EDFlib reads the file. Files
 * EDFlib refuses are checked against the facts in PROVENANCE.md, and against EDFlib
 * on a copy with only the offending header field repaired.
 * Needs ../shared (skips otherwise).
 */
#include "edf_test_util.h"

static char last_warning[512];

static int n_warn;
static void on_warning(void *user, const ictal_diag *w)
{
    (void)user;
    n_warn++;
    ictal_diag_format(w, last_warning, sizeof(last_warning));
}

/* Copies src to a temp file with bytes [off, off+len) replaced; returns its path. */
static const char *patched_copy(const char *src, long off, const char *bytes, size_t len)
{
    static char path[256];
    size_t n;
    uint8_t *b = util_read_file(src, &n);
    if (b == NULL)
        return NULL;
    memcpy(b + off, bytes, len);
    snprintf(path, sizeof(path), "/tmp/ictal_test_edf_%d.edf", (int)getpid());
    int rc = util_write_file(path, b, n);
    free(b);
    return rc == 0 ? path : NULL;
}

/* eegmmidb S001 and test_edf_overlapping_annotations.edf: EDFlib refuses them only for
 * the prefiltering text of the annotation signal; ictal reads them with two warnings. */
static void check_bci2000(const char *path, int rate, int64_t records)
{
    ictal_diag d;
    ictal_diag_init(&d);
    d.on_warning = on_warning;
    n_warn = 0;
    ictal_edf *r = NULL;
    CHECK_EQ_INT(ictal_edf_open(&r, path, NULL, &d), 0);
    if (r == NULL)
        return;
    const ictal_edf_info *in = ictal_edf_get_info(r);
    CHECK_EQ_INT(in->variant, ICTAL_EDF_VARIANT_PLUS_C);
    CHECK_EQ_INT(in->n_data_signals, 64);
    CHECK_EQ_INT(in->n_records, records);
    for (int s = 0; s < 64; s++)
        CHECK_NEAR(in->signals[s].rate_hz, rate, 0);
    CHECK_STR(in->signals[0].label, "Fc5.");
    CHECK_STR(in->signals[63].label, "Iz..");
    /* Two deviations, both in the annotation signal's header: physical dimension "-"
     * and prefiltering "HP:0Hz LP:0Hz N:0Hz", where EDF+ wants spaces. */
    CHECK_EQ_INT(n_warn, 2);
    CHECK(strstr(last_warning, "prefiltering") != NULL);
    CHECK(strstr(last_warning, "byte 14216, signal 64") != NULL);
    ictal_edf_close(r);

    /* Strict: the first is an error that says where. */
    ictal_diag_init(&d);
    d.strict = 1;
    CHECK_EQ_INT(ictal_edf_open(&r, path, NULL, &d), ICTAL_ESTRICT);
    CHECK_STR(d.field, "physical dimension");
    CHECK_EQ_INT(d.signal, 64);
    CHECK_EQ_INT(d.offset, 256 + 65 * 96 + 64 * 8);

    /* EDFlib reads a copy whose annotation prefilter is blank: then all must agree. */
    char blank[80];
    memset(blank, ' ', sizeof(blank));
    const char *fixed = patched_copy(path, 256 + 65 * 136 + 64 * 80, blank, 80);
    CHECK(fixed != NULL);
    if (fixed) {
        CHECK_MSG(util_compare_with_edflib(path, fixed), "EDFlib refused the repaired %s", path);
        unlink(fixed);
    }
}

/* MB0400FU.EDF, EDF+D: 25 signals at 200 Hz, 29 one-second records starting at 0..28 s
 * (no gap), annotations at 0 and 1 s. EDFlib refuses EDF+D, but reads it declared EDF+C. */
static void check_mb0400fu(const char *path)
{
    ictal_diag d;
    ictal_diag_init(&d);
    d.strict = 1; /* it is a conforming file */
    ictal_edf *r = NULL;
    CHECK_EQ_INT(ictal_edf_open(&r, path, NULL, &d), 0);
    if (r == NULL)
        return;
    const ictal_edf_info *in = ictal_edf_get_info(r);
    CHECK_EQ_INT(in->variant, ICTAL_EDF_VARIANT_PLUS_D);
    CHECK_EQ_INT(in->n_signals, 26);
    CHECK_EQ_INT(in->n_data_signals, 25);
    CHECK_EQ_INT(in->n_records, 29);
    CHECK_EQ_INT(in->n_gaps, 0);
    CHECK_NEAR(in->duration_s, 29.0, 1e-9);
    CHECK_NEAR(in->signals[0].rate_hz, 200.0, 0);
    for (int64_t i = 0; i < in->n_records; i++) {
        double t = -1;
        CHECK_EQ_INT(ictal_edf_record_start(r, i, &t), 0);
        CHECK_NEAR(t, (double)i, 1e-9);
    }
    int64_t rec = -1;
    CHECK_EQ_INT(ictal_edf_find_time(r, 17.5, &rec), 0);
    CHECK_EQ_INT(rec, 17);
    CHECK_EQ_INT(ictal_edf_find_time(r, 29.0, &rec), ICTAL_ENOENT);
    CHECK_EQ_INT(in->n_annotations, 4);
    if (in->n_annotations == 4) {
        CHECK_STR(in->annotations[1].text, "Segment: REC START ALLE EEG");
        CHECK_NEAR(in->annotations[1].onset_s, 0.0, 1e-9);
        CHECK_STR(in->annotations[3].text, "A1+A2 OFF");
        CHECK_NEAR(in->annotations[3].onset_s, 1.0, 1e-9);
    }
    CHECK_STR(in->start_iso, "2019-04-03T16:00:16");
    ictal_edf_close(r);
    const char *asc = patched_copy(path, 192, "EDF+C", 5);
    CHECK(asc != NULL);
    if (asc) {
        CHECK_MSG(util_compare_with_edflib(path, asc), "EDFlib refused MB0400FU as EDF+C");
        unlink(asc);
    }
}

int main(void)
{
    const char *root = test_shared_path("data/PROVENANCE.md");
    if (root == NULL)
        TEST_SKIP("../shared/data is absent: the EDF files test needs it");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/data", getenv("ICTAL_SHARED"));
    char **files = NULL;
    int n = 0, compared = 0, read_ok = 0;
    util_find_edf(dir, &files, &n);
    CHECK(n >= 32);
    for (int i = 0; i < n; i++) {
        ictal_diag d;
        ictal_diag_init(&d);
        ictal_edf *r = NULL;
        int rc = ictal_edf_open(&r, files[i], NULL, &d);
        CHECK_MSG(rc == 0, "%s: %s", files[i], d.message);
        if (rc == 0) {
            read_ok++;
            const ictal_edf_info *in = ictal_edf_get_info(r);
            CHECK(in->n_records >= 1);
            /* The bulk reader reads every record of every data signal. */
            CHECK_EQ_INT(util_read_all_float(r, &d), 0);
            ictal_edf_close(r);
        }
        if (util_compare_with_edflib(files[i], files[i])) {
            compared++;
            /* What EDFlib accepts, ictal accepts even in strict mode. */
            ictal_diag_init(&d);
            d.strict = 1;
            rc = ictal_edf_open(&r, files[i], NULL, &d);
            CHECK_MSG(rc == 0, "strict %s: %s", files[i], d.message);
            ictal_edf_close(r);
        }
    }
    printf("%d files, %d read by ictal, %d compared with EDFlib\n", n, read_ok, compared);
    CHECK_EQ_INT(read_ok, n);
    CHECK(compared >= 22);

    for (int i = 0; i < n; i++) {
        if (strstr(files[i], "eegmmidb-S001/"))
            check_bci2000(files[i], 160, 125);
        else if (strstr(files[i], "test_edf_overlapping_annotations.edf"))
            check_bci2000(files[i], 128, 124);
        else if (strstr(files[i], "MB0400FU.EDF"))
            check_mb0400fu(files[i]);
        free(files[i]);
    }
    free(files);
    return test_summary();
}
