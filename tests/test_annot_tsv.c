/*
 * SzCORE / BIDS events TSV reader and writer (ictal_annot_read_tsv, _write_tsv,
 * _parse_tsv): every committed scoring fixture reads; variants real tools write
 * (CRLF, BOM, other column order, extra columns) read; each kind of bad input is
 * refused with a message naming the file and the line; write then read round-trips.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ictal/annot.h"
#include "test.h"

static char tmp_dir[256];

static const char *write_tmp(const char *name, const char *text, size_t len)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fwrite(text, 1, len, f);
    fclose(f);
    return path;
}

#define HEADER "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
#define ROW(on, dur, type, rec) on "\t" dur "\t" type "\tn/a\tn/a\t2020-01-01 00:00:00\t" rec "\n"

static void expect_error(const char *name, const char *text, size_t len, int line,
                         const char *words)
{
    const char *path = write_tmp(name, text, len);
    ictal_annotations a;
    ictal_annotations_init(&a);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_annot_read_tsv(path, &a, &d);
    char msg[1024];
    ictal_diag_format(&d, msg, sizeof(msg));
    CHECK_MSG(rc < 0, "%s: accepted", name);
    CHECK_MSG(strstr(msg, path) != NULL, "%s: message does not name the file: %s", name, msg);
    if (line > 0) {
        char want[32];
        snprintf(want, sizeof(want), "line %d", line);
        CHECK_MSG(strstr(msg, want) != NULL, "%s: message does not say %s: %s", name, want,
                  msg);
    }
    CHECK_MSG(strstr(msg, words) != NULL, "%s: message lacks \"%s\": %s", name, words, msg);
    ictal_annotations_free(&a);
}

#define EXPECT_ERROR(name, text, line, words) expect_error(name, text, sizeof(text) - 1, line, words)

static void test_bad_input(void)
{
    EXPECT_ERROR("missing_column.tsv",
                 "onset\tduration\teventType\tconfidence\tchannels\tdateTime\n"
                 "1\t2\tsz\tn/a\tn/a\tn/a\n",
                 1, "missing column 'recordingDuration'");
    EXPECT_ERROR("no_onset_column.tsv",
                 "start\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
                 "1\t2\tsz\tn/a\tn/a\tn/a\t10\n",
                 1, "missing column 'onset'");
    EXPECT_ERROR("non_numeric_onset.tsv", HEADER ROW("1.0", "2.0", "sz", "600")
                 ROW("ten", "2.0", "sz", "600"), 3, "field 'onset': expected a number");
    EXPECT_ERROR("nan_onset.tsv", HEADER ROW("nan", "2.0", "sz", "600"), 2, "expected a number");
    EXPECT_ERROR("hex_onset.tsv", HEADER ROW("0x10", "2.0", "sz", "600"), 2, "expected a number");
    EXPECT_ERROR("empty_onset.tsv", HEADER ROW("", "2.0", "sz", "600"), 2, "expected a number");
    EXPECT_ERROR("negative_onset.tsv", HEADER ROW("-1", "2.0", "sz", "600"), 2, "negative onset");
    EXPECT_ERROR("negative_duration.tsv", HEADER ROW("1", "2", "sz", "600")
                 ROW("5", "-2.5", "sz", "600"), 3, "negative duration");
    EXPECT_ERROR("past_end.tsv", HEADER ROW("590", "20", "sz", "600"), 2,
                 "ends after recordingDuration");
    EXPECT_ERROR("starts_past_end.tsv", HEADER ROW("700", "0", "sz", "600"), 2,
                 "ends after recordingDuration");
    EXPECT_ERROR("durations_disagree.tsv", HEADER ROW("1", "2", "sz", "600")
                 ROW("10", "2", "sz", "600") ROW("20", "2", "sz", "601"), 4, "disagrees");
    EXPECT_ERROR("rec_na.tsv", HEADER ROW("1", "2", "sz", "n/a"), 2, "recordingDuration is n/a");
    EXPECT_ERROR("rec_zero.tsv", HEADER ROW("0", "0", "bckg", "0"), 2, "not positive");
    EXPECT_ERROR("too_few_fields.tsv", HEADER "1\t2\tsz\tn/a\n", 2, "4 fields, the header has 7");
    EXPECT_ERROR("too_many_fields.tsv", HEADER "1\t2\tsz\tn/a\tn/a\tn/a\t600\textra\n", 2,
                 "8 fields");
    EXPECT_ERROR("no_rows.tsv", HEADER, 1, "no rows");
    EXPECT_ERROR("empty.tsv", "", -1, "empty file");
    EXPECT_ERROR("type_na.tsv", HEADER ROW("1", "2", "n/a", "600"), 2, "missing event type");
    EXPECT_ERROR("duplicate_column.tsv",
                 "onset\tonset\tduration\teventType\tconfidence\tchannels\tdateTime\t"
                 "recordingDuration\n",
                 1, "appears twice");
    EXPECT_ERROR("huge_time.tsv", HEADER ROW("1e300", "2", "sz", "1e301"), 2, "beyond any");
    EXPECT_ERROR("bad_confidence.tsv",
                 HEADER "1\t2\tsz\thigh\tn/a\t2020-01-01 00:00:00\t600\n", 2,
                 "field 'confidence'");
    EXPECT_ERROR("long_type.tsv",
                 HEADER ROW("1", "2", "sz_with_a_very_long_name_that_does_not_fit", "600"), 2,
                 "at most 31 fit");
    const char nul[] = HEADER "1\t2\tsz\0\tn/a\tn/a\tn/a\t600\n";
    expect_error("nul.tsv", nul, sizeof(nul) - 1, -1, "NUL byte");

    /* A file that does not exist. */
    ictal_annotations a;
    ictal_annotations_init(&a);
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK(ictal_annot_read_tsv("/nonexistent/x_events.tsv", &a, &d) == ICTAL_ENOENT);
}

static void test_variants(void)
{
    /* CRLF line ends, a byte order mark, columns in another order, an extra column,
     * blank lines, confidence and channels given. */
    const char text[] = "\xEF\xBB\xBF"
                        "eventType\tonset\tduration\tconfidence\tchannels\tdateTime\t"
                        "recordingDuration\tnote\r\n"
                        "sz_foc_ia\t100.40\t10.70\t0.85\tF7-T7,T7-P7\t2020-01-01 10:00:00\t"
                        "1000.50\tfirst\r\n"
                        "\r\n"
                        "bckg\t0\t1000.5\tn/a\tn/a\t2020-01-01 10:00:00\t1000.5\tx\r\n"
                        "\n";
    const char *path = write_tmp("variants.tsv", text, sizeof(text) - 1);
    ictal_annotations a;
    ictal_annotations_init(&a);
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_annot_read_tsv(path, &a, &d);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(d.n_warnings, 1); /* the unknown column */
    CHECK_EQ_INT(a.count, 2);
    if (a.count == 2) {
        CHECK_STR(a.events[0].event_type, "sz_foc_ia");
        CHECK_NEAR(a.events[0].onset_s, 100.4, 0);
        CHECK_NEAR(a.events[0].duration_s, 10.7, 0);
        CHECK_NEAR(a.events[0].confidence, 0.85, 0);
        CHECK_STR(a.events[0].channels, "F7-T7,T7-P7");
        CHECK(ictal_event_is_seizure(&a.events[0]));
        CHECK(!ictal_event_is_seizure(&a.events[1]));
        CHECK(isnan(a.events[1].confidence));
        CHECK_STR(a.events[1].channels, "");
    }
    CHECK_NEAR(a.recording_duration_s, 1000.5, 0);
    CHECK_STR(a.date_time, "2020-01-01 10:00:00");
    ictal_annotations_free(&a);

    /* Strict mode turns the unknown column into an error. */
    ictal_diag_init(&d);
    d.strict = 1;
    CHECK(ictal_annot_read_tsv(path, &a, &d) == ICTAL_ESTRICT);
    ictal_annotations_free(&a);
}

static void test_round_trip(void)
{
    ictal_annotations a, b;
    ictal_annotations_init(&a);
    a.recording_duration_s = 3600;
    strcpy(a.date_time, "2021-05-06 07:08:09");
    ictal_event e;
    memset(&e, 0, sizeof(e));
    e.onset_s = 12.25;
    e.duration_s = 30.5;
    strcpy(e.event_type, "sz");
    e.confidence = 0.75;
    strcpy(e.channels, "F8-T8");
    ictal_annotations_add(&a, &e);
    e.onset_s = 1800;
    e.duration_s = 1800;
    strcpy(e.event_type, "sz_gen");
    e.confidence = NAN;
    e.channels[0] = '\0';
    ictal_annotations_add(&a, &e);
    char path[512];
    snprintf(path, sizeof(path), "%s/roundtrip_events.tsv", tmp_dir);
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_annot_write_tsv(path, &a, &d), 0);
    ictal_annotations_init(&b);
    CHECK_EQ_INT(ictal_annot_read_tsv(path, &b, &d), 0);
    CHECK_EQ_INT(b.count, 2);
    for (size_t i = 0; i < a.count && i < b.count; i++) {
        CHECK_NEAR(b.events[i].onset_s, a.events[i].onset_s, 0.005);
        CHECK_NEAR(b.events[i].duration_s, a.events[i].duration_s, 0.005);
        CHECK_STR(b.events[i].event_type, a.events[i].event_type);
        CHECK_STR(b.events[i].channels, a.events[i].channels);
        CHECK((isnan(a.events[i].confidence) && isnan(b.events[i].confidence)) ||
              fabs(a.events[i].confidence - b.events[i].confidence) < 0.005);
    }
    CHECK_NEAR(b.recording_duration_s, 3600, 0);
    CHECK_STR(b.date_time, a.date_time);
    ictal_annotations_free(&b);

    /* No event: one bckg row over the whole recording. */
    a.count = 0;
    CHECK_EQ_INT(ictal_annot_write_tsv(path, &a, &d), 0);
    ictal_annotations_init(&b);
    CHECK_EQ_INT(ictal_annot_read_tsv(path, &b, &d), 0);
    CHECK_EQ_INT(b.count, 1);
    if (b.count == 1) {
        CHECK_STR(b.events[0].event_type, "bckg");
        CHECK_NEAR(b.events[0].duration_s, 3600, 0);
    }
    ictal_annotations_free(&b);

    /* What the format cannot hold is refused. */
    a.recording_duration_s = NAN;
    CHECK(ictal_annot_write_tsv(path, &a, &d) == ICTAL_EINVAL);
    a.recording_duration_s = 60;
    strcpy(e.channels, "F7\tT7");
    ictal_annotations_add(&a, &e);
    CHECK(ictal_annot_write_tsv(path, &a, &d) == ICTAL_EINVAL);
    CHECK(ictal_annot_write_tsv("/nonexistent/dir/x.tsv", &b, &d) != 0);
    ictal_annotations_free(&a);
}

/* Every events file of the committed scoring fixtures reads. */
static int read_tree(const char *dir)
{
    int n = 0;
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += read_tree(path);
        } else if (strstr(de->d_name, "_events.tsv") != NULL) {
            ictal_annotations a;
            ictal_annotations_init(&a);
            ictal_diag d;
            ictal_diag_init(&d);
            int rc = ictal_annot_read_tsv(path, &a, &d);
            char msg[512];
            CHECK_MSG(rc == 0, "%s", ictal_diag_format(&d, msg, sizeof(msg)));
            CHECK(a.count >= 1 && a.recording_duration_s > 0);
            ictal_annotations_free(&a);
            n++;
        }
    }
    closedir(dp);
    return n;
}

static void rm_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(dp);
    rmdir(dir);
}

int main(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ictal_test_tsv_XXXXXX");
    if (mkdtemp(tmp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_bad_input();
    test_variants();
    test_round_trip();
    int n = read_tree(test_fixture_path("scoring"));
    CHECK_MSG(n >= 99, "only %d fixture files read", n);
    printf("%d fixture events files read\n", n);
    rm_tree(tmp_dir);
    return test_summary();
}
