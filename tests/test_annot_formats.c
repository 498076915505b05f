/*
 * Annotation readers (ictal/annot.h) on every real annotation file of
 * ../shared/data/annotations, committed as fixtures in tests/fixtures/annotations:
 * CHB-MIT summaries (chb01, chb05, chb08), PhysioNet .seizures (chb01 x7, chb06_04) and
 * Siena seizure lists (PN00, PN16). Expected values are those of PROVENANCE.md and of
 * the files themselves; when ../shared is present, the third-party CHB-MIT tables there
 * are a second, independent oracle for every seizure and every file length.
 */
#include "ictal/annot.h"
#include "test.h"

#include <stdint.h>

#include "diag_util.h"

/* A committed fixture under tests/fixtures/annotations/. */
static const char *fx(const char *rel)
{
    static char bufs[4][512];
    static int slot;
    char *b = bufs[slot++ % 4];
    snprintf(b, sizeof(bufs[0]), "annotations/%s", rel);
    return test_fixture_path(b);
}

typedef struct seizure {
    const char *record;
    double onset, offset;
} seizure;

/* The CHB-MIT seizures of the three summaries, as the files list them (and as
 * PROVENANCE.md gives chb01's and chb05_06's). */
static const seizure chbmit_seizures[] = {
    {"chb01_03", 2996, 3036}, {"chb01_04", 1467, 1494}, {"chb01_15", 1732, 1772},
    {"chb01_16", 1015, 1066}, {"chb01_18", 1720, 1810}, {"chb01_21", 327, 420},
    {"chb01_26", 1862, 1963}, {"chb05_06", 417, 532},   {"chb05_13", 1086, 1196},
    {"chb05_16", 2317, 2413}, {"chb05_17", 2451, 2571}, {"chb05_22", 2348, 2465},
    {"chb08_02", 2670, 2841}, {"chb08_05", 2856, 3046}, {"chb08_11", 2988, 3122},
    {"chb08_13", 2417, 2577}, {"chb08_21", 2083, 2347}};
#define N_CHBMIT ((int)(sizeof(chbmit_seizures) / sizeof(chbmit_seizures[0])))

static const char *summary_of(const char *record)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "chbmit/%.5s/%.5s-summary.txt", record, record);
    return fx(buf);
}

/* Record names listed in a summary, by a plain scan of its "File Name:" lines. */
static int list_records(const char *path, char names[][32], int max)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL && n < max)
        if (sscanf(line, "File Name: %31s", names[n]) == 1)
            n++;
    fclose(f);
    return n;
}

static void test_chbmit_summary(void)
{
    ictal_annotations a;
    ictal_diag d;
    /* Every seizure. */
    for (int i = 0; i < N_CHBMIT; i++) {
        const seizure *s = &chbmit_seizures[i];
        char rec[32];
        snprintf(rec, sizeof(rec), "%s.edf", s->record);
        ictal_annotations_init(&a);
        diag(&d);
        int rc = ictal_annot_read_chbmit_summary(summary_of(s->record), rec, &a, &d);
        CHECK_MSG(rc == 0, "%s: %s", rec, d.message);
        CHECK_EQ_INT(a.count, 1);
        if (a.count == 1) {
            CHECK_NEAR(a.events[0].onset_s, s->onset, 0);
            CHECK_NEAR(a.events[0].duration_s, s->offset - s->onset, 0);
            CHECK_STR(a.events[0].event_type, "sz");
            CHECK(ictal_event_is_seizure(&a.events[0]));
            CHECK(isnan(a.events[0].confidence));
        }
        CHECK_EQ_INT(n_warn, 0);
        ictal_annotations_free(&a);
    }

    /* Every record of every summary: readable, seizure count as declared, and the
     * seizures listed above are all there is. */
    static const char *const summaries[] = {"chbmit/chb01/chb01-summary.txt",
                                            "chbmit/chb05/chb05-summary.txt",
                                            "chbmit/chb08/chb08-summary.txt"};
    static const int n_records[] = {42, 39, 20};
    int total = 0;
    for (int k = 0; k < 3; k++) {
        char names[64][32];
        int n = list_records(fx(summaries[k]), names, 64);
        CHECK_EQ_INT(n, n_records[k]);
        for (int r = 0; r < n; r++) {
            ictal_annotations_init(&a);
            diag(&d);
            int rc = ictal_annot_read_chbmit_summary(fx(summaries[k]), names[r], &a, &d);
            CHECK_MSG(rc == 0, "%s: %s", names[r], d.message);
            CHECK_EQ_INT(n_warn, 0);
            CHECK(a.recording_duration_s > 0);
            total += (int)a.count;
            ictal_annotations_free(&a);
        }
    }
    CHECK_EQ_INT(total, N_CHBMIT);

    /* Durations from clock times, across midnight in both spellings. */
    static const struct {
        const char *record;
        double duration_s;
    } durations[] = {
        {"chb01_26.edf", 2325}, /* 12:34:22 - 13:13:07 */
        {"chb01_15.edf", 3600}, /* 01:44:44 - 2:44:44 */
        {"chb05_01.edf", 3610}, /* 17:20:05 - 18:20:15 */
        {"chb05_07.edf", 3600}, /* 23:21:32 - 24:21:32 */
        {"chb08_14.edf", 3600}, /* 23:37:23 - 24:37:23 */
        {"chb08_15.edf", 3600}, /* 00:37:31 - 1:37:31 */
        {"chb08_29.edf", 3623}, /* 13:51:25 - 14:51:48 */
    };
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        ictal_annotations_init(&a);
        diag(&d);
        CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of(durations[i].record),
                                                     durations[i].record, &a, &d),
                     0);
        CHECK_NEAR(a.recording_duration_s, durations[i].duration_s, 0);
        ictal_annotations_free(&a);
    }

    /* Record spelled as a path, or without ".edf"; a record that is not listed. */
    ictal_annotations_init(&a);
    diag(&d);
    CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of("chb01"), "/data/chb01/chb01_21.edf",
                                                 &a, &d),
                 0);
    CHECK_EQ_INT(a.count, 1);
    CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of("chb01"), "chb01_04", &a, &d), 0);
    CHECK_EQ_INT(a.count, 2);
    CHECK_NEAR(a.events[0].onset_s, 327, 0); /* sorted */
    ictal_annotations_free(&a);
    CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of("chb01"), "chb01_02.edf", &a, &d), 0);
    CHECK_EQ_INT(a.count, 0);
    CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of("chb01"), "chb01_99.edf", &a, &d),
                 ICTAL_ENOENT);
    CHECK(strstr(d.message, "chb01_99.edf") != NULL);
    CHECK_EQ_INT(ictal_annot_read_chbmit_summary("/nonexistent/x-summary.txt", "chb01_01.edf", &a,
                                                 &d),
                 ICTAL_ENOENT);
    CHECK_STR(d.source, "/nonexistent/x-summary.txt");
    ictal_annotations_free(&a);
}

static int parse_summary(const char *text, const char *record, ictal_annotations *a,
                         ictal_diag *d)
{
    ictal_annotations_init(a);
    diag(d);
    return ictal_annot_parse_chbmit_summary(text, strlen(text), "mem-summary.txt", record, a, d);
}

static void test_chbmit_summary_variants(void)
{
    ictal_annotations a;
    ictal_diag d;
    /* Two seizures in one file, numbered; a file that passes midnight as 00:xx. */
    const char *two = "Data Sampling Rate: 256 Hz\n\nFile Name: chb99_01.edf\n"
                      "File Start Time: 23:30:00\nFile End Time: 00:30:10\n"
                      "Number of Seizures in File: 2\n"
                      "Seizure 1 Start Time: 100 seconds\nSeizure 1 End Time: 150 seconds\n"
                      "Seizure 2 Start Time:  3000 seconds\nSeizure 2 End Time: 3010.5 seconds\n"
                      "\nFile Name: chb99_02.edf\nFile Start Time: 00:31:00\n"
                      "File End Time: 01:31:00\nNumber of Seizures in File: 0\n";
    CHECK_EQ_INT(parse_summary(two, "chb99_01.edf", &a, &d), 0);
    CHECK_EQ_INT(a.count, 2);
    CHECK_NEAR(a.recording_duration_s, 3610, 0);
    CHECK_NEAR(a.events[1].onset_s, 3000, 0);
    CHECK_NEAR(a.events[1].duration_s, 10.5, 1e-12);
    ictal_annotations_free(&a);

    /* CRLF line ends, no clock times (as chb24's summary). */
    const char *crlf = "File Name: chb24_01.edf\r\nNumber of Seizures in File: 1\r\n"
                       "Seizure 1 Start Time: 480 seconds\r\nSeizure 1 End Time: 505 seconds\r\n";
    CHECK_EQ_INT(parse_summary(crlf, "chb24_01.edf", &a, &d), 0);
    CHECK_EQ_INT(a.count, 1);
    CHECK(isnan(a.recording_duration_s));
    ictal_annotations_free(&a);

    /* A declared count that disagrees: a warning; strict: an error. */
    const char *miscount = "File Name: x_01.edf\nNumber of Seizures in File: 2\n"
                           "Seizure Start Time: 1 seconds\nSeizure End Time: 2 seconds\n";
    CHECK_EQ_INT(parse_summary(miscount, "x_01.edf", &a, &d), 0);
    CHECK_EQ_INT(n_warn, 1);
    CHECK(strstr(last_warning, "says 2 seizures") != NULL);
    ictal_annotations_free(&a);
    ictal_annotations_init(&a);
    diag(&d);
    d.strict = 1;
    CHECK_EQ_INT(ictal_annot_parse_chbmit_summary(miscount, strlen(miscount), "m", "x_01.edf", &a,
                                                  &d),
                 ICTAL_ESTRICT);
    ictal_annotations_free(&a);

    /* A seizure past the end of the file: a warning. */
    const char *past = "File Name: x_01.edf\nFile Start Time: 10:00:00\nFile End Time: 10:10:00\n"
                       "Seizure Start Time: 590 seconds\nSeizure End Time: 700 seconds\n";
    CHECK_EQ_INT(parse_summary(past, "x_01.edf", &a, &d), 0);
    CHECK_EQ_INT(n_warn, 1);
    ictal_annotations_free(&a);

    /* Errors name the line. */
    const char *bad_num = "File Name: x_01.edf\n\nSeizure Start Time: soon seconds\n";
    CHECK_EQ_INT(parse_summary(bad_num, "x_01.edf", &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 3);
    CHECK(strstr(d.message, "soon") != NULL);
    CHECK_STR(d.source, "mem-summary.txt");
    char buf[512];
    printf("error as shown: %s\n", ictal_diag_format(&d, buf, sizeof(buf)));
    const char *backwards = "File Name: x_01.edf\nSeizure Start Time: 50 seconds\n"
                            "Seizure End Time: 40 seconds\n";
    CHECK_EQ_INT(parse_summary(backwards, "x_01.edf", &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 3);
    const char *unpaired = "File Name: x_01.edf\nSeizure Start Time: 50 seconds\n\n"
                           "File Name: x_02.edf\n";
    CHECK_EQ_INT(parse_summary(unpaired, "x_01.edf", &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 2);
    const char *end_only = "File Name: x_01.edf\nSeizure End Time: 50 seconds\n";
    CHECK_EQ_INT(parse_summary(end_only, "x_01.edf", &a, &d), ICTAL_EFORMAT);
    const char *bad_clock = "File Name: x_01.edf\nFile Start Time: 25:61:00\n";
    CHECK_EQ_INT(parse_summary(bad_clock, "x_01.edf", &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 2);
    const char nul[] = "File Name: x_01.edf\n\0Seizure";
    ictal_annotations_init(&a);
    diag(&d);
    CHECK_EQ_INT(ictal_annot_parse_chbmit_summary(nul, sizeof(nul) - 1, "m", "x_01.edf", &a, &d),
                 ICTAL_EFORMAT);
    CHECK_EQ_INT(d.offset, 20);
    ictal_annotations_free(&a);
}

static void test_seizures(void)
{
    ictal_annotations a;
    ictal_diag d;
    /* chb06_04 (PROVENANCE.md): [327, 347] and [6211, 6231]. */
    ictal_annotations_init(&a);
    diag(&d);
    CHECK_EQ_INT(ictal_annot_read_seizures(fx("chbmit/chb06/chb06_04.edf.seizures"), 256, &a, &d),
                 0);
    CHECK_EQ_INT(a.count, 2);
    if (a.count == 2) {
        CHECK_NEAR(a.events[0].onset_s, 327, 0);
        CHECK_NEAR(a.events[0].onset_s + a.events[0].duration_s, 347, 0);
        CHECK_NEAR(a.events[1].onset_s, 6211, 0);
        CHECK_NEAR(a.events[1].onset_s + a.events[1].duration_s, 6231, 0);
    }
    CHECK_EQ_INT(n_warn, 0);
    ictal_annotations_free(&a);

    /* chb01: every .seizures file agrees with chb01-summary.txt. */
    for (int i = 0; i < 7; i++) {
        const seizure *s = &chbmit_seizures[i];
        char path[128], rec[32];
        snprintf(path, sizeof(path), "chbmit/chb01/%s.edf.seizures", s->record);
        snprintf(rec, sizeof(rec), "%s.edf", s->record);
        ictal_annotations b;
        ictal_annotations_init(&a);
        ictal_annotations_init(&b);
        diag(&d);
        CHECK_EQ_INT(ictal_annot_read_seizures(fx(path), 256, &a, &d), 0);
        CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of(s->record), rec, &b, &d), 0);
        CHECK_EQ_INT(a.count, 1);
        CHECK_EQ_INT(a.count, b.count);
        if (a.count == 1 && b.count == 1) {
            CHECK_NEAR(a.events[0].onset_s, b.events[0].onset_s, 0);
            CHECK_NEAR(a.events[0].duration_s, b.events[0].duration_s, 0);
            CHECK_NEAR(a.events[0].onset_s, s->onset, 0);
        }
        /* The rate from the file's own "## time resolution: 256" note. */
        ictal_annotations_free(&a);
        CHECK_EQ_INT(ictal_annot_read_seizures(fx(path), 0, &a, &d), 0);
        CHECK(a.count == 1 && a.events[0].onset_s == s->onset);
        CHECK_EQ_INT(n_warn, 0);
        ictal_annotations_free(&a);
        ictal_annotations_free(&b);
    }

    /* A rate that disagrees with the file: the file's, with a warning. */
    ictal_annotations_init(&a);
    diag(&d);
    CHECK_EQ_INT(ictal_annot_read_seizures(fx("chbmit/chb06/chb06_04.edf.seizures"), 512, &a, &d),
                 0);
    CHECK_EQ_INT(n_warn, 1);
    CHECK(a.count == 2 && a.events[1].onset_s == 6211);
    ictal_annotations_free(&a);

    /* Every truncation of the real file: an error or a warning, never garbage. */
    FILE *f = fopen(fx("chbmit/chb06/chb06_04.edf.seizures"), "rb");
    CHECK(f != NULL);
    unsigned char buf[128];
    size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    CHECK_EQ_INT(len, 70);
    int errors = 0, short_ok = 0;
    for (size_t cut = 0; cut < len; cut++) {
        ictal_annotations_init(&a);
        diag(&d);
        int rc = ictal_annot_parse_seizures(buf, cut, "cut.seizures", 256, &a, &d);
        if (rc != 0) {
            errors++;
            CHECK(d.message[0] != '\0');
            CHECK_EQ_INT(a.count, 0);
        } else {
            short_ok++;
            CHECK(n_warn == 1 || cut == len - 2 || cut == 0);
            CHECK(a.count <= 2);
        }
        ictal_annotations_free(&a);
    }
    CHECK(errors > 20);
    printf("truncations of chb06_04.edf.seizures: %d errors, %d read with a warning\n", errors,
           short_ok);

    /* Specific errors. */
    unsigned char aux_past[] = {0x00, 0x58, 0x30, 0xfc, '#', '#'}; /* AUX of 48 bytes */
    ictal_annotations_init(&a);
    diag(&d);
    CHECK_EQ_INT(ictal_annot_parse_seizures(aux_past, sizeof(aux_past), "x", 256, &a, &d),
                 ICTAL_ETRUNC);
    CHECK_EQ_INT(d.offset, 2);
    unsigned char offset_first[] = {0x05, 0x84, 0x00, 0x00}; /* code 33 at step 5 */
    CHECK_EQ_INT(ictal_annot_parse_seizures(offset_first, 4, "x", 256, &a, &d), ICTAL_EFORMAT);
    CHECK(strstr(d.message, "without an onset") != NULL);
    unsigned char two_onsets[] = {0x05, 0x80, 0x05, 0x80, 0x00, 0x00};
    CHECK_EQ_INT(ictal_annot_parse_seizures(two_onsets, 6, "x", 256, &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.offset, 2);
    unsigned char negative[] = {0x00, 0xec, 0xff, 0xff, 0x00, 0xf0, 0x05, 0x80, 0x00, 0x00};
    CHECK_EQ_INT(ictal_annot_parse_seizures(negative, sizeof(negative), "x", 256, &a, &d),
                 ICTAL_EFORMAT);
    unsigned char no_rate[] = {0x05, 0x80, 0x05, 0x84, 0x00, 0x00};
    CHECK_EQ_INT(ictal_annot_parse_seizures(no_rate, 6, "x", 0, &a, &d), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_annot_parse_seizures(no_rate, 6, "x", 100, &a, &d), 0);
    CHECK(a.count == 1 && a.events[0].onset_s == 0.05 && a.events[0].duration_s == 0.05);
    ictal_annotations_free(&a);
}

typedef struct siena_expect {
    const char *list, *record;
    double onset, offset, duration;
} siena_expect;

/* Seconds from "Registration start time" to the seizure's start and end, computed by
 * hand from the clock times in the lists. */
static const siena_expect siena[] = {
    {"siena/PN00/Seizures-list-PN00.txt", "PN00-1.edf", 1143, 1213, 2605}, /* 19.39.33 */
    {"siena/PN00/Seizures-list-PN00.txt", "PN00-2.edf", 1220, 1274, 2282}, /* 02.18.17 */
    {"siena/PN00/Seizures-list-PN00.txt", "PN00-3.edf", 765, 825, 2489},   /* typo fixed */
    {"siena/PN00/Seizures-list-PN00.txt", "PN00-4.edf", 1006, 1080, 2082}, /* 20.51.43 */
    {"siena/PN00/Seizures-list-PN00.txt", "PN00-5.edf", 904, 971, 2123},   /* 22.22.04 */
    {"siena/PN16/Seizures-list-PN16.txt", "PN16-1.edf", 7184, 7307, 8270}, /* 20.45.21 */
    {"siena/PN16/Seizures-list-PN16.txt", "PN16-2.edf", 8574, 8681, 9297}, /* 00.53.55 */
};

static void test_siena(void)
{
    ictal_annotations a;
    ictal_diag d;
    for (size_t i = 0; i < sizeof(siena) / sizeof(siena[0]); i++) {
        const siena_expect *e = &siena[i];
        ictal_annotations_init(&a);
        diag(&d);
        int rc = ictal_annot_read_siena(fx(e->list), e->record, &a, &d);
        CHECK_MSG(rc == 0, "%s: %s", e->record, d.message);
        CHECK_EQ_INT(a.count, 1);
        if (a.count == 1) {
            CHECK_NEAR(a.events[0].onset_s, e->onset, 0);
            CHECK_NEAR(a.events[0].onset_s + a.events[0].duration_s, e->offset, 0);
            CHECK_STR(a.events[0].event_type, "sz");
        }
        CHECK_NEAR(a.recording_duration_s, e->duration, 0);
        int is_typo = strcmp(e->record, "PN00-3.edf") == 0;
        CHECK_EQ_INT(n_warn, is_typo ? 1 : 0);
        if (is_typo) {
            CHECK(strstr(last_warning, "19.29.29") != NULL);
            CHECK(strstr(last_warning, "18.29.29") != NULL);
            CHECK_EQ_INT(last_warning_line, 58); /* "Seizure end time: 19.29.29" */
            printf("PN00-3 warning: %s\n", last_warning);
        }
        ictal_annotations_free(&a);
    }
    /* Strict mode refuses the typo. */
    ictal_annotations_init(&a);
    diag(&d);
    d.strict = 1;
    CHECK_EQ_INT(ictal_annot_read_siena(fx("siena/PN00/Seizures-list-PN00.txt"), "PN00-3.edf", &a,
                                        &d),
                 ICTAL_ESTRICT);
    CHECK_EQ_INT(d.line, 58);
    CHECK_EQ_INT(a.count, 0);
    ictal_annotations_free(&a);

    /* Whole lists. */
    ictal_annotations_init(&a);
    diag(&d);
    CHECK_EQ_INT(ictal_annot_read_siena(fx("siena/PN00/Seizures-list-PN00.txt"), NULL, &a, &d), 0);
    CHECK_EQ_INT(a.count, 5);
    CHECK_EQ_INT(n_warn, 1);
    CHECK(isnan(a.recording_duration_s));
    double max_dur = 0;
    for (size_t i = 0; i < a.count; i++)
        max_dur = a.events[i].duration_s > max_dur ? a.events[i].duration_s : max_dur;
    CHECK_NEAR(max_dur, 74, 0); /* PN00-4; no 1-hour seizure */
    ictal_annotations_free(&a);
    CHECK_EQ_INT(ictal_annot_read_siena(fx("siena/PN16/Seizures-list-PN16.txt"), NULL, &a, &d), 0);
    CHECK_EQ_INT(a.count, 2);
    ictal_annotations_free(&a);

    /* Not listed. */
    CHECK_EQ_INT(ictal_annot_read_siena(fx("siena/PN00/Seizures-list-PN00.txt"), "PN00-6.edf", &a,
                                        &d),
                 ICTAL_ENOENT);
    ictal_annotations_free(&a);
}

static int parse_siena(const char *text, const char *record, ictal_annotations *a, ictal_diag *d)
{
    ictal_annotations_init(a);
    diag(d);
    return ictal_annot_parse_siena(text, strlen(text), "mem-list.txt", record, a, d);
}

static void test_siena_variants(void)
{
    ictal_annotations a;
    ictal_diag d;
    /* "Start time:" keys, colons, a second seizure of the same file without registration
     * times, CRLF. */
    const char *v = "PN01\r\n\r\nSeizure n 1\r\nFile name: PN01-1.edf\r\n"
                    "Registration start time: 19:00:44\r\nRegistration end time: 02:00:15\r\n"
                    "Start time: 21:51:02\r\nEnd time: 21:51:56\r\n\r\n"
                    "Seizure n 2\r\nFile name: PN01-1.edf\r\n"
                    "Start time: 07.28.29 \r\n"
                    "End time: 07.29.25\r\n";
    CHECK_EQ_INT(parse_siena(v, "PN01-1", &a, &d), ICTAL_ERANGE); /* 07.28 is after 02.00 */
    CHECK_EQ_INT(d.line, 12);
    ictal_annotations_free(&a);
    const char *v2 = "Seizure n 1\nFile name: PN01-1.edf\n"
                     "Registration start time: 19:00:44\nRegistration end time: 02:00:15\n"
                     "Start time: 21:51:02\nEnd time: 21:51:56\n\n"
                     "Seizure n 2\nFile name: PN01-1.edf\nStart time: 01.28.29\n"
                     "End time: 01.29.25\n";
    CHECK_EQ_INT(parse_siena(v2, "PN01-1", &a, &d), 0);
    CHECK_EQ_INT(a.count, 2);
    CHECK_NEAR(a.recording_duration_s, 25171, 0); /* 19:00:44 -> 02:00:15 */
    CHECK_NEAR(a.events[0].onset_s, 10218, 0);
    CHECK_NEAR(a.events[1].onset_s, 23265, 0);  /* past midnight */
    CHECK_NEAR(a.events[1].duration_s, 56, 0);
    ictal_annotations_free(&a);

    /* An end that fits no hour: clipped, with a warning. */
    const char *clip = "Seizure n 1\nFile name: X-1.edf\nRegistration start time: 10.00.00\n"
                       "Registration end time: 10.30.00\nSeizure start time: 10.29.00\n"
                       "Seizure end time: 12.45.00\n";
    CHECK_EQ_INT(parse_siena(clip, "X-1.edf", &a, &d), 0);
    CHECK_EQ_INT(n_warn, 1);
    CHECK_NEAR(a.events[0].duration_s, 60, 0);
    ictal_annotations_free(&a);

    /* Errors with lines. */
    const char *bad_time = "Seizure n 1\nFile name: X-1.edf\nRegistration start time: 10.0\n";
    CHECK_EQ_INT(parse_siena(bad_time, "X-1.edf", &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 3);
    CHECK_STR(d.source, "mem-list.txt");
    const char *no_file = "Seizure n 1\nRegistration start time: 10.00.00\n";
    CHECK_EQ_INT(parse_siena(no_file, NULL, &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 1);
    const char *no_end = "Seizure n 1\nFile name: X-1.edf\nRegistration start time: 10.00.00\n"
                         "Seizure start time: 10.01.00\n";
    CHECK_EQ_INT(parse_siena(no_end, "X-1.edf", &a, &d), ICTAL_EFORMAT);
    CHECK(strstr(d.message, "end") != NULL);
    const char *backwards = "Seizure n 1\nFile name: X-1.edf\nRegistration start time: 10.00.00\n"
                            "Registration end time: 11.00.00\nSeizure start time: 10.30.00\n"
                            "Seizure end time: 10.29.00\n";
    /* 10.29 is before 10.30, but 11.29 is past the registration and 09.29 before it:
     * an error, not a guess. */
    CHECK_EQ_INT(parse_siena(backwards, "X-1.edf", &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 6);
    const char *twice = "Seizure n 1\nFile name: X-1.edf\nSeizure start time: 10.01.00\n"
                        "Seizure start time: 10.02.00\n";
    CHECK_EQ_INT(parse_siena(twice, "X-1.edf", &a, &d), ICTAL_EFORMAT);
    CHECK_EQ_INT(d.line, 4);
    CHECK_EQ_INT(parse_siena("just text\n", NULL, &a, &d), ICTAL_EFORMAT);
    ictal_annotations_free(&a);
}

/* The third-party CHB-MIT tables in ../shared (not committed: no licence stated) agree
 * with what the readers give, for every seizure and every file length they share. */
static void test_against_derived_tables(void)
{
    const char *sz = test_shared_path("data/annotations/chbmit/derived-tables/"
                                      "chbmit_seizure_summary_raw_essential.csv");
    const char *ft = test_shared_path("data/annotations/chbmit/derived-tables/"
                                      "chbmit_filetime_summary_generated.csv");
    if (sz == NULL || ft == NULL) {
        printf("note: ../shared/data absent: derived-table cross-check skipped\n");
        return;
    }
    char line[512], name[64];
    int checked = 0;
    FILE *f = fopen(sz, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        double on, off;
        if (sscanf(line, "%63[^,],%lf,%lf", name, &on, &off) != 3)
            continue;
        if (strncmp(name, "chb01_", 6) != 0 && strncmp(name, "chb05_", 6) != 0 &&
            strncmp(name, "chb08_", 6) != 0)
            continue;
        ictal_annotations a;
        ictal_diag d;
        ictal_annotations_init(&a);
        diag(&d);
        CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of(name), name, &a, &d), 0);
        int hit = 0;
        for (size_t i = 0; i < a.count; i++)
            hit |= a.events[i].onset_s == on && a.events[i].onset_s + a.events[i].duration_s == off;
        CHECK_MSG(hit, "%s [%g, %g] not read", name, on, off);
        checked++;
        ictal_annotations_free(&a);
    }
    if (f)
        fclose(f);
    CHECK_EQ_INT(checked, N_CHBMIT);
    int lengths = 0;
    f = fopen(ft, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        double length;
        if (sscanf(line, "%63[^,],%*[^,],%*[^,],%lf", name, &length) != 2)
            continue;
        if (strncmp(name, "chb01_", 6) != 0 && strncmp(name, "chb05_", 6) != 0 &&
            strncmp(name, "chb08_", 6) != 0)
            continue;
        ictal_annotations a;
        ictal_diag d;
        ictal_annotations_init(&a);
        diag(&d);
        CHECK_EQ_INT(ictal_annot_read_chbmit_summary(summary_of(name), name, &a, &d), 0);
        CHECK_MSG(a.recording_duration_s == length, "%s: %g s, table %g s", name,
                  a.recording_duration_s, length);
        lengths++;
        ictal_annotations_free(&a);
    }
    if (f)
        fclose(f);
    CHECK_EQ_INT(lengths, 42 + 39 + 20);
    printf("derived tables: %d seizures and %d file lengths agree\n", checked, lengths);
}

int main(void)
{
    test_chbmit_summary();
    test_chbmit_summary_variants();
    test_seizures();
    test_siena();
    test_siena_variants();
    test_against_derived_tables();
    return test_summary();
}
