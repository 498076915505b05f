/*
 * TUSZ annotation reader (ictal_annot_parse_tusz / ictal_annot_read_tusz) on hand-written
 * files in the corpus's own formats: v2.x .csv_bi (whole recording, TERM) and .csv (per
 * channel), v1.x .tse_bi; merging of overlapping channel events, CRLF, a missing header,
 * bad numbers (error with line), stop before start, unknown labels (warning), the
 * duration header; and the file entry point through the format guess that `ictal eval`
 * and `ictal train FILE:ANNOT` use.
 */
#include "ictal/annot.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag_util.h"

static int parse(const char *text, ictal_annotations *a, ictal_diag *d)
{
    ictal_annotations_init(a);
    return ictal_annot_parse_tusz(text, strlen(text), "x.csv_bi", a, d);
}

static const char csv_bi[] =
    "# version = csv_v1.0.0\n"
    "# bname = aaaaaaac_s001_t000\n"
    "# duration = 301.00 secs\n"
    "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt\n"
    "#\n"
    "channel,start_time,stop_time,label,confidence\n"
    "TERM,0.0000,36.8868,bckg,1.0000\n"
    "TERM,36.8868,183.3055,seiz,1.0000\n"
    "TERM,183.3055,301.0000,bckg,1.0000\n";

static void test_csv_bi(void)
{
    ictal_annotations a;
    ictal_diag d;
    diag(&d);
    CHECK_EQ_INT(parse(csv_bi, &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 1);
    CHECK_NEAR(a.events[0].onset_s, 36.8868, 1e-9);
    CHECK_NEAR(a.events[0].duration_s, 183.3055 - 36.8868, 1e-9);
    CHECK_STR(a.events[0].event_type, "sz");
    CHECK(ictal_event_is_seizure(&a.events[0]));
    CHECK_STR(a.events[0].channels, "");
    CHECK_NEAR(a.events[0].confidence, 1.0, 0);
    CHECK_NEAR(a.recording_duration_s, 301.0, 0);
    CHECK_EQ_INT(n_warn, 0);
    ictal_annotations_free(&a);

    /* a seizure-free recording: one bckg row, no event, the duration */
    diag(&d);
    CHECK_EQ_INT(parse("# version = csv_v1.0.0\n# duration = 1750.00 secs\n\n"
                       "channel,start_time,stop_time,label,confidence\n"
                       "TERM,0.0000,1750.0000,bckg,1.0000\n",
                       &a, &d),
                 0);
    CHECK_EQ_INT((int)a.count, 0);
    CHECK_NEAR(a.recording_duration_s, 1750.0, 0);
    ictal_annotations_free(&a);

    /* CRLF line ends (as written on Windows) read the same */
    char crlf[1024];
    size_t k = 0;
    for (const char *p = csv_bi; *p; p++) {
        if (*p == '\n')
            crlf[k++] = '\r';
        crlf[k++] = *p;
    }
    crlf[k] = '\0';
    diag(&d);
    CHECK_EQ_INT(parse(crlf, &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 1);
    CHECK_NEAR(a.events[0].onset_s, 36.8868, 1e-9);
    CHECK_NEAR(a.recording_duration_s, 301.0, 0);
    ictal_annotations_free(&a);
}

static void test_csv_channels(void)
{
    /* Per channel: the union of the seizure rows of all channels, merged. Two seizures:
     * 12.5-40.2 on FP1-F7, 20-45 on F7-T3, 44-50 on T3-T5 (one event 12.5-50), and
     * 100-120 on FP1-F7 alone; types agree in the first (cpsz), differ in none. */
    static const char text[] =
        "# version = csv_v1.0.0\n"
        "# bname = aaaaaaac_s001_t000\n"
        "# duration = 200.00 secs\n"
        "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt\n"
        "#\n"
        "channel,start_time,stop_time,label,confidence\n"
        "FP1-F7,0.0000,12.5000,bckg,1.0000\n"
        "FP1-F7,12.5000,40.2000,cpsz,1.0000\n"
        "FP1-F7,100.0000,120.0000,fnsz,0.8000\n"
        "F7-T3,20.0000,45.0000,cpsz,1.0000\n"
        "T3-T5,44.0000,50.0000,cpsz,0.9000\n"
        "T3-T5,50.0000,200.0000,bckg,1.0000\n";
    ictal_annotations a;
    ictal_diag d;
    diag(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_parse_tusz(text, strlen(text), "x.csv", &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 2);
    if (a.count == 2) {
        CHECK_NEAR(a.events[0].onset_s, 12.5, 1e-12);
        CHECK_NEAR(a.events[0].duration_s, 37.5, 1e-12);
        CHECK_STR(a.events[0].event_type, "sz_foc_ia");
        CHECK_STR(a.events[0].channels, "FP1-F7,F7-T3,T3-T5");
        CHECK_NEAR(a.events[0].confidence, 1.0, 0);
        CHECK_NEAR(a.events[1].onset_s, 100, 0);
        CHECK_NEAR(a.events[1].duration_s, 20, 1e-12);
        CHECK_STR(a.events[1].event_type, "sz_foc");
        CHECK_STR(a.events[1].channels, "FP1-F7");
        CHECK_NEAR(a.events[1].confidence, 0.8, 1e-12);
    }
    ictal_annotations_free(&a);

    /* channels that disagree on the type make a seizure of type "sz"; the same channel
     * twice is named once */
    static const char mixed[] = "channel,start_time,stop_time,label,confidence\n"
                                "C3-P3,10,20,fnsz,1\nC3-P3,15,30,gnsz,1\nCZ-PZ,29,31,tcsz,1\n";
    diag(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_parse_tusz(mixed, strlen(mixed), "m.csv", &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 1);
    if (a.count == 1) {
        CHECK_STR(a.events[0].event_type, "sz");
        CHECK_STR(a.events[0].channels, "C3-P3,CZ-PZ");
        CHECK_NEAR(a.events[0].duration_s, 21, 0);
    }
    CHECK(isnan(a.recording_duration_s)); /* no duration line */
    ictal_annotations_free(&a);
}

static void test_tse(void)
{
    static const char tse[] = "version = tse_v1.0.0\n\n"
                              "0.0000 36.8868 bckg 1.0000\n"
                              "36.8868 183.3055 seiz 1.0000\n"
                              "183.3055 301.0000 bckg 1.0000\n";
    ictal_annotations a;
    ictal_diag d;
    diag(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_parse_tusz(tse, strlen(tse), "x.tse_bi", &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 1);
    CHECK_NEAR(a.events[0].onset_s, 36.8868, 1e-9);
    CHECK_STR(a.events[0].event_type, "sz");
    CHECK(isnan(a.recording_duration_s));
    CHECK_EQ_INT(n_warn, 0);
    ictal_annotations_free(&a);

    /* "version=tse_v1.0.0" without blanks, as some v1.x files write it */
    static const char tse3[] = "version=tse_v1.0.0\n0.0 10.2775 bckg 1.0\n10.2775 35.7775 gnsz 1.0\n";
    diag(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_parse_tusz(tse3, strlen(tse3), "x.tse", &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 1);
    CHECK_EQ_INT(n_warn, 0);
    ictal_annotations_free(&a);

    /* v1.x .tse with seizure types and tabs; no version line: read, with a warning */
    static const char tse2[] = "12.0\t30.5\tgnsz\t1.0\n40 41 absz 1\n";
    diag(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_parse_tusz(tse2, strlen(tse2), "x.tse", &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 2);
    if (a.count == 2) {
        CHECK_STR(a.events[0].event_type, "sz_gen");
        CHECK_STR(a.events[1].event_type, "sz_gen_nm");
    }
    CHECK_EQ_INT(n_warn, 1);
    CHECK(strstr(last_warning, "version") != NULL);
    CHECK_EQ_INT((int)last_warning_line, 1);
    ictal_annotations_free(&a);
}

/* An error: its code, line and a word of its message. */
static void expect_error(const char *text, int code, int line, const char *word)
{
    ictal_annotations a;
    ictal_diag d;
    diag(&d);
    int rc = parse(text, &a, &d);
    CHECK_EQ_INT(rc, code);
    CHECK_EQ_INT((int)d.line, line);
    CHECK_MSG(strstr(d.message, word) != NULL, "message '%s' lacks '%s'", d.message, word);
    CHECK_EQ_INT((int)a.count, 0);
    CHECK_STR(d.source, "x.csv_bi");
    ictal_annotations_free(&a);
}

#define HDR "channel,start_time,stop_time,label,confidence\n"

static void test_errors(void)
{
    /* missing header row: a data row first */
    expect_error("# version = csv_v1.0.0\nTERM,0.0,10.0,seiz,1.0\n", ICTAL_EFORMAT, 2,
                 "channel,start_time,stop_time,label,confidence");
    /* bad numbers, each with its line */
    expect_error(HDR "TERM,0.0,10.0,bckg,1.0\nTERM,1O.0,20.0,seiz,1.0\n", ICTAL_EFORMAT, 3,
                 "start_time");
    expect_error(HDR "TERM,10.0,nan,seiz,1.0\n", ICTAL_EFORMAT, 2, "stop_time");
    expect_error(HDR "TERM,10.0,20.0,seiz,high\n", ICTAL_EFORMAT, 2, "confidence");
    expect_error("# duration = long secs\n" HDR "TERM,0,1,bckg,1\n", ICTAL_EFORMAT, 1,
                 "duration");
    expect_error("version = tse_v1.0.0\n0 10 bckg 1\n10 x seiz 1\n", ICTAL_EFORMAT, 3,
                 "stop_time");
    /* stop before start; negative start */
    expect_error(HDR "TERM,30.0,20.0,seiz,1.0\n", ICTAL_EFORMAT, 2, "before start_time");
    expect_error(HDR "TERM,-1.0,20.0,seiz,1.0\n", ICTAL_EFORMAT, 2, "negative");
    /* wrong field counts */
    expect_error(HDR "TERM,0.0,20.0,seiz\n", ICTAL_EFORMAT, 2, "4 fields");
    expect_error("version = tse_v1.0.0\n0 10 bckg 1 extra\n", ICTAL_EFORMAT, 2, "fields");
    /* no rows; nothing TUSZ at all; NUL */
    expect_error("# version = csv_v1.0.0\n" HDR, ICTAL_EFORMAT, -1, "no annotation rows");
    expect_error("# just a comment\n\n", ICTAL_EFORMAT, -1, "not a TUSZ");
    ictal_annotations a;
    ictal_diag d;
    diag(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_parse_tusz(HDR "TERM\0", sizeof(HDR) + 4, "x", &a, &d),
                 ICTAL_EFORMAT);
    ictal_annotations_free(&a);
}

static void test_warnings(void)
{
    ictal_annotations a;
    ictal_diag d;
    /* an unknown label: a warning naming it and its line; not a seizure */
    static const char text[] = "# duration = 60.00 secs\n" HDR "TERM,0,10,bckg,1\n"
                               "TERM,10,20,eyem,1\nTERM,20,30,seiz,1\n";
    diag(&d);
    CHECK_EQ_INT(parse(text, &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 1);
    CHECK_NEAR(a.events[0].onset_s, 20, 0);
    CHECK_EQ_INT(n_warn, 1);
    CHECK(strstr(last_warning, "eyem") != NULL);
    CHECK_EQ_INT((int)last_warning_line, 4);
    ictal_annotations_free(&a);
    /* under strict, the same is an error */
    diag(&d);
    d.strict = 1;
    CHECK_EQ_INT(parse(text, &a, &d), ICTAL_ESTRICT);
    CHECK_EQ_INT((int)d.line, 4);
    CHECK_EQ_INT((int)a.count, 0);
    ictal_annotations_free(&a);
    /* a seizure past the duration: clipped to it, with a warning */
    diag(&d);
    CHECK_EQ_INT(parse("# duration = 60.00 secs\n" HDR "TERM,50,75,seiz,1\n", &a, &d), 0);
    CHECK_EQ_INT((int)a.count, 1);
    CHECK_NEAR(a.events[0].duration_s, 10, 1e-12);
    CHECK_EQ_INT(n_warn, 1);
    CHECK(strstr(last_warning, "clipped") != NULL);
    ictal_annotations_free(&a);
    /* confidence outside 0..1; an unknown version */
    diag(&d);
    CHECK_EQ_INT(parse("# version = lbl_v1.0.0\n" HDR "TERM,5,6,seiz,2\n", &a, &d), 0);
    CHECK_EQ_INT(n_warn, 2);
    ictal_annotations_free(&a);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_files(void)
{
    char dir[] = "/tmp/ictal_tusz_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p_bi[128], p_csv[128], p_tse[128], p_rec[128];
    snprintf(p_bi, sizeof p_bi, "%s/aaaaaaac_s001_t000.csv_bi", dir);
    snprintf(p_csv, sizeof p_csv, "%s/aaaaaaac_s001_t000.csv", dir);
    snprintf(p_tse, sizeof p_tse, "%s/00000258_s002_t000.tse_bi", dir);
    snprintf(p_rec, sizeof p_rec, "%s/signal.csv", dir);
    write_file(p_bi, csv_bi);
    write_file(p_csv, "# version = csv_v1.0.0\n# duration = 301.00 secs\n" HDR
                      "FP1-F7,36.8868,183.3055,cpsz,1.0000\n");
    write_file(p_tse, "version = tse_v1.0.0\n0.0 36.8868 bckg 1.0\n36.8868 183.3055 seiz 1.0\n");
    write_file(p_rec, "AF3,F7,F3\n4100.2,4201.5,4000.0\n");
    char p_txt[128];
    snprintf(p_txt, sizeof p_txt, "%s/annotations.txt", dir);
    write_file(p_txt, "version=tse_v1.0.0\n0.0 10.0 seiz 1.0\n");
    CHECK_EQ_INT(ictal_annot_guess_format(p_txt), ICTAL_ANNOT_TUSZ);
    remove(p_txt);
    CHECK_EQ_INT(ictal_annot_guess_format(p_bi), ICTAL_ANNOT_TUSZ);
    CHECK_EQ_INT(ictal_annot_guess_format(p_csv), ICTAL_ANNOT_TUSZ);
    CHECK_EQ_INT(ictal_annot_guess_format(p_tse), ICTAL_ANNOT_TUSZ);
    CHECK_EQ_INT(ictal_annot_guess_format(p_rec), ICTAL_ANNOT_UNKNOWN); /* a recording */
    CHECK_EQ_INT(ictal_annot_format_from_name("tusz"), ICTAL_ANNOT_TUSZ);
    CHECK_STR(ictal_annot_format_name(ICTAL_ANNOT_TUSZ), "tusz");
    const char *paths[] = {p_bi, p_csv, p_tse};
    for (int i = 0; i < 3; i++) {
        ictal_annotations a;
        ictal_diag d;
        diag(&d);
        ictal_annotations_init(&a);
        CHECK_EQ_INT(ictal_annot_read_any(paths[i], NULL, &a, &d), 0);
        CHECK_EQ_INT((int)a.count, 1);
        if (a.count == 1) {
            CHECK_NEAR(a.events[0].onset_s, 36.8868, 1e-9);
            CHECK_NEAR(a.events[0].duration_s + a.events[0].onset_s, 183.3055, 1e-9);
        }
        CHECK(i == 2 ? isnan(a.recording_duration_s) : a.recording_duration_s == 301.0);
        ictal_annotations_free(&a);
    }
    /* a bad file names itself and the line */
    write_file(p_bi, HDR "TERM,0,x,seiz,1\n");
    ictal_annotations a;
    ictal_diag d;
    diag(&d);
    ictal_annotations_init(&a);
    CHECK_EQ_INT(ictal_annot_read_tusz(p_bi, &a, &d), ICTAL_EFORMAT);
    char msg[1024];
    ictal_diag_format(&d, msg, sizeof msg);
    CHECK_MSG(strstr(msg, "aaaaaaac_s001_t000.csv_bi") != NULL && strstr(msg, "2") != NULL,
              "%s", msg);
    ictal_annotations_free(&a);
    diag(&d);
    ictal_annotations_init(&a);
    snprintf(p_rec, sizeof p_rec, "%s/missing.csv_bi", dir);
    CHECK_EQ_INT(ictal_annot_read_tusz(p_rec, &a, &d), ICTAL_ENOENT);
    ictal_annotations_free(&a);
    remove(p_bi);
    remove(p_csv);
    remove(p_tse);
    snprintf(p_rec, sizeof p_rec, "%s/signal.csv", dir);
    remove(p_rec);
    rmdir(dir);
}

int main(void)
{
    test_csv_bi();
    test_csv_channels();
    test_tse();
    test_errors();
    test_warnings();
    test_files();
    return test_summary();
}
