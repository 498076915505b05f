/*
 * Montages and label normalisation (ictal/montage.h), on the label sets of real
 * recordings: the lists below are copied from the headers of the files under
 * ../shared/data, and when ../shared is present every EDF/BDF there is read (labels
 * only, by a tiny header reader here) and mapped too.
 */
#include "ictal/error.h"
#include "ictal/montage.h"
#include "test.h"

#include <stdint.h>

static const char *norm(const char *in)
{
    static char buf[4][64];
    static int slot;
    char *b = buf[slot++ % 4];
    int rc = ictal_label_normalize(in, b, 64);
    CHECK_EQ_INT(rc, 0);
    return b;
}

static void test_normalize(void)
{
    /* TUSZ / clinical referential spellings. */
    CHECK_STR(norm("EEG FP1-REF"), "Fp1");
    CHECK_STR(norm("EEG T3-LE"), "T7");
    CHECK_STR(norm("Fp1-LE"), "Fp1");
    CHECK_STR(norm("FP1"), "Fp1");
    CHECK_STR(norm("  fp2  "), "Fp2");
    CHECK_STR(norm("FZ"), "Fz");
    CHECK_STR(norm("EEG Fp1-Ref"), "Fp1");   /* Nihon Kohden */
    CHECK_STR(norm("EEG T4-Ref"), "T8");
    CHECK_STR(norm("EEG CZ-AVG"), "Cz");
    CHECK_STR(norm("C3-A2"), "C3");          /* ear-referenced */
    CHECK_STR(norm("C3-M1"), "C3");
    /* eegmmidb's dotted 10-10 names. */
    CHECK_STR(norm("Fp1."), "Fp1");
    CHECK_STR(norm("Fc5."), "FC5");
    CHECK_STR(norm("Fcz."), "FCz");
    CHECK_STR(norm("Iz.."), "Iz");
    CHECK_STR(norm("T10."), "T10");
    CHECK_STR(norm("Ft7."), "FT7");
    CHECK_STR(norm("Tp8."), "TP8");
    CHECK_STR(norm("Po7."), "PO7");
    CHECK_STR(norm("Afz."), "AFz");
    CHECK_STR(norm("Cpz."), "CPz");
    /* Old 10-20 names. */
    CHECK_STR(norm("EEG T3"), "T7");
    CHECK_STR(norm("EEG T4"), "T8");
    CHECK_STR(norm("EEG T5"), "P7");
    CHECK_STR(norm("EEG T6"), "P8");
    CHECK_STR(norm("EEG Fc1"), "FC1");        /* Siena */
    /* Bipolar, CHB-MIT. */
    CHECK_STR(norm("FP1-F7"), "Fp1-F7");
    CHECK_STR(norm("FZ-CZ"), "Fz-Cz");
    CHECK_STR(norm("FT9-FT10"), "FT9-FT10");
    CHECK_STR(norm("T8-P8-0"), "T8-P8");
    CHECK_STR(norm("T8-P8-1"), "T8-P8");
    CHECK_STR(norm("T3-T5"), "T7-P7");
    CHECK_STR(norm("-"), "-");
    CHECK_STR(norm("--0"), "-");
    CHECK_STR(norm("--1"), "-");
    /* Not EEG: copied trimmed. */
    CHECK_STR(norm("ECG ECG"), "ECG ECG");
    CHECK_STR(norm("EDF Annotations "), "EDF Annotations");
    CHECK_STR(norm("Status"), "Status");
    CHECK_STR(norm("EEG EKG1-REF"), "EEG EKG1-REF");
    CHECK_STR(norm("POL $A1"), "POL $A1");
    CHECK_STR(norm("sine 8.5 Hz"), "sine 8.5 Hz");
    CHECK_STR(norm("T11"), "T11");
    CHECK_STR(norm("Tz"), "Tz");
    CHECK_STR(norm("A3"), "A3");
    CHECK_STR(norm("F0"), "F0");
    CHECK_STR(norm(""), "");
    CHECK_STR(norm("EEG A2-A1"), "A2-A1");   /* eegmat: ear reference as a channel */

    CHECK(ictal_label_is_eeg("EEG FP1-REF"));
    CHECK(ictal_label_is_eeg("FP1-F7"));
    CHECK(ictal_label_is_eeg("Iz.."));
    CHECK(!ictal_label_is_eeg("ECG ECG"));
    CHECK(!ictal_label_is_eeg("EDF Annotations"));
    CHECK(!ictal_label_is_eeg("-"));
    CHECK(!ictal_label_is_eeg("Status"));

    /* In place, and too small a buffer. */
    char b[16] = "EEG FP1-REF";
    CHECK_EQ_INT(ictal_label_normalize(b, b, sizeof(b)), 0);
    CHECK_STR(b, "Fp1");
    char small[4];
    CHECK_EQ_INT(ictal_label_normalize("FT10-T8", small, sizeof(small)), ICTAL_ENOMEM);
    CHECK_STR(small, "");
    char longlabel[200];
    memset(longlabel, 'x', sizeof(longlabel) - 1);
    longlabel[sizeof(longlabel) - 1] = '\0';
    char out[256];
    CHECK_EQ_INT(ictal_label_normalize(longlabel, out, sizeof(out)), 0);
    CHECK_EQ_INT(strlen(out), 199);
}

/* Copied from the headers of chbmit-continuous/chb05_06_excerpt.edf and
 * edf-synthetic-fixtures/chb01_01_sample.edf (the CHB-MIT layout of chb01-chb10). */
static const char *const chbmit[] = {
    "FP1-F7", "F7-T7",  "T7-P7",    "P7-O1",   "FP1-F3", "F3-C3", "C3-P3",  "P3-O1",
    "FP2-F4", "F4-C4",  "C4-P4",    "P4-O2",   "FP2-F8", "F8-T8", "T8-P8",  "P8-O2",
    "FZ-CZ",  "CZ-PZ",  "P7-T7",    "T7-FT9",  "FT9-FT10", "FT10-T8", "T8-P8", "EDF Annotations"};

/* The later CHB-MIT layout with dummy "-" channels, as MNE-Python renames repeated
 * labels ("--0", "T8-P8-0"). */
static const char *const chbmit_dummies[] = {
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "--0",    "FP1-F3", "F3-C3",   "C3-P3",
    "P3-O1",  "--1",   "FP2-F4", "F4-C4", "C4-P4", "P4-O2",  "--2",     "FP2-F8",
    "F8-T8",  "T8-P8-0", "P8-O2", "--3",  "FZ-CZ", "CZ-PZ",  "--4",     "P7-T7",
    "T7-FT9", "FT9-FT10", "FT10-T8", "T8-P8-1"};

/* eegmat-rest/Subject00_1.edf. */
static const char *const eegmat[] = {
    "EEG Fp1", "EEG Fp2", "EEG F3", "EEG F4", "EEG F7", "EEG F8", "EEG T3", "EEG T4",
    "EEG C3",  "EEG C4",  "EEG T5", "EEG T6", "EEG P3", "EEG P4", "EEG O1", "EEG O2",
    "EEG Fz",  "EEG Cz",  "EEG Pz", "EEG A2-A1", "ECG ECG", "EDF Annotations"};

/* eegmmidb-S001/S001R03.edf. */
static const char *const eegmmidb[] = {
    "Fc5.", "Fc3.", "Fc1.", "Fcz.", "Fc2.", "Fc4.", "Fc6.", "C5..", "C3..", "C1..", "Cz..",
    "C2..", "C4..", "C6..", "Cp5.", "Cp3.", "Cp1.", "Cpz.", "Cp2.", "Cp4.", "Cp6.", "Fp1.",
    "Fpz.", "Fp2.", "Af7.", "Af3.", "Afz.", "Af4.", "Af8.", "F7..", "F5..", "F3..", "F1..",
    "Fz..", "F2..", "F4..", "F6..", "F8..", "Ft7.", "Ft8.", "T7..", "T8..", "T9..", "T10.",
    "Tp7.", "Tp8.", "P7..", "P5..", "P3..", "P1..", "Pz..", "P2..", "P4..", "P6..", "P8..",
    "Po7.", "Po3.", "Poz.", "Po4.", "Po8.", "O1..", "Oz..", "O2..", "Iz..", "EDF Annotations"};

/* edf-reader-testdata/MB0400FU.EDF (Nihon Kohden, old names). */
static const char *const nihon_kohden[] = {
    "EEG Fp2-Ref", "EEG Fp1-Ref", "EEG F4-Ref", "EEG F3-Ref", "EEG C4-Ref", "EEG C3-Ref",
    "EEG P4-Ref",  "EEG P3-Ref",  "EEG O2-Ref", "EEG O1-Ref", "EEG F8-Ref", "EEG F7-Ref",
    "EEG T4-Ref",  "EEG T3-Ref",  "EEG T6-Ref", "EEG T5-Ref", "EEG Fz-Ref", "EEG Cz-Ref",
    "EEG Pz-Ref",  "POL E",       "EEG A2-Ref", "EEG A1-Ref", "POL X1",     "POL $A2",
    "POL $A1",     "EDF Annotations"};

/* edf-synthetic-fixtures/PN00-5_sample.edf (the Siena layout). */
static const char *const siena[] = {
    "EEG Fp1", "EEG F3",  "EEG C3",  "EEG P3",  "EEG O1",  "EEG F7",  "EEG T3",  "EEG T5",
    "EEG Fc1", "EEG Fc5", "EEG Cp1", "EEG Cp5", "EEG F9",  "EEG Fz",  "EEG Cz",  "EEG Pz",
    "EEG Fp2", "EEG F4",  "EEG C4",  "EEG P4",  "EEG O2",  "EEG F8",  "EEG T4",  "EEG T6",
    "EEG Fc2", "EEG Fc6", "EEG Cp2", "EEG Cp6", "EEG F10", "EKG EKG", "SPO2",    "HR",
    "1",       "2",       "MK",      "EDF Annotations"};

/* guinea-bissau-epilepsy/signal-*.csv.gz: the Emotiv EPOC columns. */
static const char *const emotiv[] = {"AF3", "AF4", "F3", "F4", "F7", "F8", "FC5",
                                     "FC6", "O1",  "O2", "P7", "P8", "T7", "T8"};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int index_of(const char *const *labels, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (strcmp(labels[i], want) == 0)
            return i;
    return -1;
}

/* Every double-banana pair must map to the referential inputs named in the file. */
static void check_derived(const ictal_montage *m, const char *const *labels, int n,
                          const char *const names[][2])
{
    for (int c = 0; c < 18; c++) {
        CHECK_STR(m->labels[c], ictal_montage_double_banana[c]);
        CHECK_EQ_INT(m->source[c], ICTAL_MONTAGE_DERIVED);
        CHECK_EQ_INT(m->pos[c], index_of(labels, n, names[c][0]));
        CHECK_EQ_INT(m->neg[c], index_of(labels, n, names[c][1]));
    }
}

static void test_chbmit(void)
{
    ictal_montage m;
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_DOUBLE_BANANA, chbmit, N(chbmit), NULL), 0);
    CHECK_EQ_INT(m.n_channels, 18);
    CHECK_EQ_INT(m.n_missing, 0);
    CHECK_EQ_INT(m.n_found, 18);
    for (int c = 0; c < 18; c++) {
        CHECK_EQ_INT(m.pos[c], c); /* the first 18 CHB-MIT channels, in order */
        CHECK_EQ_INT(m.neg[c], -1);
        CHECK_EQ_INT(m.source[c], ICTAL_MONTAGE_FOUND);
    }
    CHECK_EQ_INT(m.n_ignored, 6); /* P7-T7 T7-FT9 FT9-FT10 FT10-T8, 2nd T8-P8, annotations */
    CHECK_EQ_INT(m.n_duplicate, 1);
    CHECK_EQ_INT(m.n_non_eeg, 1);
    CHECK_EQ_INT(m.n_dummy, 0);

    /* AUTO gives the same. */
    ictal_montage a;
    CHECK_EQ_INT(ictal_montage_build(&a, ICTAL_MONTAGE_AUTO, chbmit, N(chbmit), NULL), 0);
    CHECK_EQ_INT(a.n_channels, 18);
    CHECK(memcmp(a.pos, m.pos, sizeof(a.pos)) == 0);

    /* Wearable: the 4 temporal pairs are CHB-MIT channels 2, 3, 14, 15. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_WEARABLE, chbmit, N(chbmit), NULL), 0);
    CHECK_EQ_INT(m.n_channels, 4);
    CHECK_EQ_INT(m.pos[0], 1);
    CHECK_EQ_INT(m.pos[1], 2);
    CHECK_EQ_INT(m.pos[2], 13);
    CHECK_EQ_INT(m.pos[3], 14);

    /* Dummies and numbered duplicates. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_DOUBLE_BANANA, chbmit_dummies,
                                     N(chbmit_dummies), NULL),
                 0);
    CHECK_EQ_INT(m.n_channels, 18);
    CHECK_EQ_INT(m.n_found, 18);
    CHECK_EQ_INT(m.pos[14], index_of(chbmit_dummies, N(chbmit_dummies), "T8-P8-0"));
    CHECK_EQ_INT(m.pos[16], index_of(chbmit_dummies, N(chbmit_dummies), "FZ-CZ"));
    CHECK_EQ_INT(m.n_dummy, 5);
    CHECK_EQ_INT(m.n_duplicate, 1);
    CHECK_EQ_INT(m.n_ignored, 5 + 1 + 4);

    /* A custom list with a reversed pair: P7-T7 is carried, T7-P7 too; ask for
     * FT9-T7, which is there only as T7-FT9. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_CUSTOM, chbmit, N(chbmit),
                                     " FT9-T7 , p7-t7,T8-FT10,Fp1-O1"),
                 0);
    CHECK_EQ_INT(m.n_channels, 3);
    CHECK_STR(m.labels[0], "FT9-T7");
    CHECK_EQ_INT(m.source[0], ICTAL_MONTAGE_INVERTED);
    CHECK_EQ_INT(m.pos[0], 19);
    CHECK_STR(m.labels[1], "P7-T7");
    CHECK_EQ_INT(m.source[1], ICTAL_MONTAGE_FOUND);
    CHECK_EQ_INT(m.pos[1], 18);
    CHECK_EQ_INT(m.source[2], ICTAL_MONTAGE_INVERTED);
    CHECK_EQ_INT(m.pos[2], 21);
    CHECK_EQ_INT(m.n_inverted, 2);
    CHECK_EQ_INT(m.n_missing, 1);
    CHECK_STR(m.missing[0], "Fp1-O1"); /* not carried, and no referential signals */

    /* Apply: found, inverted. */
    float in[24], out[ICTAL_MONTAGE_MAX];
    for (int i = 0; i < 24; i++)
        in[i] = (float)(i * 10 + 1);
    ictal_montage_apply(&m, in, out);
    CHECK_NEAR(out[0], -191.0, 0);
    CHECK_NEAR(out[1], 181.0, 0);
    CHECK_NEAR(out[2], -211.0, 0);
}

static void test_referential(void)
{
    static const char *const names_new[18][2] = {
        {"EEG Fp1", "EEG F7"}, {"EEG F7", "EEG T3"}, {"EEG T3", "EEG T5"}, {"EEG T5", "EEG O1"},
        {"EEG Fp1", "EEG F3"}, {"EEG F3", "EEG C3"}, {"EEG C3", "EEG P3"}, {"EEG P3", "EEG O1"},
        {"EEG Fp2", "EEG F4"}, {"EEG F4", "EEG C4"}, {"EEG C4", "EEG P4"}, {"EEG P4", "EEG O2"},
        {"EEG Fp2", "EEG F8"}, {"EEG F8", "EEG T4"}, {"EEG T4", "EEG T6"}, {"EEG T6", "EEG O2"},
        {"EEG Fz", "EEG Cz"},  {"EEG Cz", "EEG Pz"}};
    ictal_montage m;
    /* eegmat: T3/T4/T5/T6. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, eegmat, N(eegmat), NULL), 0);
    CHECK_EQ_INT(m.n_channels, 18);
    CHECK_EQ_INT(m.n_derived, 18);
    check_derived(&m, eegmat, N(eegmat), names_new);
    CHECK_EQ_INT(m.n_ignored, 3); /* A2-A1, ECG, annotations */
    CHECK_EQ_INT(m.n_non_eeg, 2);

    /* Siena: the same names among 36 signals. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, siena, N(siena), NULL), 0);
    CHECK_EQ_INT(m.n_channels, 18);
    check_derived(&m, siena, N(siena), names_new);
    CHECK_EQ_INT(m.n_ignored, 36 - 19);
    CHECK_EQ_INT(m.n_non_eeg, 7); /* EKG, SPO2, HR, 1, 2, MK, annotations */

    /* Nihon Kohden: "EEG Fp1-Ref". */
    static const char *const names_nk[18][2] = {
        {"EEG Fp1-Ref", "EEG F7-Ref"}, {"EEG F7-Ref", "EEG T3-Ref"}, {"EEG T3-Ref", "EEG T5-Ref"},
        {"EEG T5-Ref", "EEG O1-Ref"},  {"EEG Fp1-Ref", "EEG F3-Ref"}, {"EEG F3-Ref", "EEG C3-Ref"},
        {"EEG C3-Ref", "EEG P3-Ref"},  {"EEG P3-Ref", "EEG O1-Ref"},  {"EEG Fp2-Ref", "EEG F4-Ref"},
        {"EEG F4-Ref", "EEG C4-Ref"},  {"EEG C4-Ref", "EEG P4-Ref"},  {"EEG P4-Ref", "EEG O2-Ref"},
        {"EEG Fp2-Ref", "EEG F8-Ref"}, {"EEG F8-Ref", "EEG T4-Ref"},  {"EEG T4-Ref", "EEG T6-Ref"},
        {"EEG T6-Ref", "EEG O2-Ref"},  {"EEG Fz-Ref", "EEG Cz-Ref"},  {"EEG Cz-Ref", "EEG Pz-Ref"}};
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, nihon_kohden, N(nihon_kohden), NULL),
                 0);
    CHECK_EQ_INT(m.n_channels, 18);
    check_derived(&m, nihon_kohden, N(nihon_kohden), names_nk);

    /* eegmmidb: dotted 10-10 names. */
    static const char *const names_mm[18][2] = {
        {"Fp1.", "F7.."}, {"F7..", "T7.."}, {"T7..", "P7.."}, {"P7..", "O1.."}, {"Fp1.", "F3.."},
        {"F3..", "C3.."}, {"C3..", "P3.."}, {"P3..", "O1.."}, {"Fp2.", "F4.."}, {"F4..", "C4.."},
        {"C4..", "P4.."}, {"P4..", "O2.."}, {"Fp2.", "F8.."}, {"F8..", "T8.."}, {"T8..", "P8.."},
        {"P8..", "O2.."}, {"Fz..", "Cz.."}, {"Cz..", "Pz.."}};
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, eegmmidb, N(eegmmidb), NULL), 0);
    CHECK_EQ_INT(m.n_channels, 18);
    check_derived(&m, eegmmidb, N(eegmmidb), names_mm);
    CHECK_EQ_INT(m.n_ignored, 65 - 19);
    CHECK_EQ_INT(m.n_non_eeg, 1);

    /* Emotiv: AUTO falls back to the wearable montage. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, emotiv, N(emotiv), NULL), 0);
    CHECK_EQ_INT(m.n_channels, 4);
    CHECK_STR(m.labels[0], "F7-T7");
    CHECK_EQ_INT(m.pos[0], 4);
    CHECK_EQ_INT(m.neg[0], 12);
    CHECK_STR(m.labels[3], "T8-P8");
    CHECK_EQ_INT(m.pos[3], 13);
    CHECK_EQ_INT(m.neg[3], 11);
    CHECK_EQ_INT(m.n_missing, 0);
    float in[14], out[4];
    for (int i = 0; i < 14; i++)
        in[i] = (float)(4000 + i);
    ictal_montage_apply(&m, in, out);
    CHECK_NEAR(out[0], 4004.0 - 4012.0, 0);
    CHECK_NEAR(out[1], 4012.0 - 4010.0, 0);
    CHECK_NEAR(out[2], 4005.0 - 4013.0, 0);
    CHECK_NEAR(out[3], 4013.0 - 4011.0, 0);
    /* The double banana, asked for explicitly, says what is missing. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_DOUBLE_BANANA, emotiv, N(emotiv), NULL), 0);
    CHECK_EQ_INT(m.n_channels, 6); /* F7-T7 T7-P7 P7-O1 F8-T8 T8-P8 P8-O2 */
    CHECK_EQ_INT(m.n_missing, 12);
    CHECK_STR(m.missing[0], "Fp1-F7");

    /* subsecond_starttime.edf: Fp1, F7, T3 only: a partial double banana. */
    static const char *const three[] = {"Fp1", "F7", "T3", "EDF Annotations"};
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, three, 4, NULL), 0);
    CHECK_EQ_INT(m.n_channels, 2);
    CHECK_STR(m.labels[1], "F7-T7");
    CHECK_EQ_INT(m.n_missing, 16);

    /* test_bdf_stim_channel.bdf: C3, C4, Cz, Status: no pair, the channels as they are. */
    static const char *const bdf[] = {"C3", "C4", "Cz", "Status"};
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, bdf, 4, NULL), 0);
    CHECK_EQ_INT(m.n_channels, 3);
    CHECK_STR(m.labels[2], "Cz");
    CHECK_EQ_INT(m.n_non_eeg, 1);

    /* Nothing usable. */
    static const char *const none[] = {"ECG", "Status", "-"};
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, none, 3, NULL), ICTAL_ENOENT);
    CHECK_EQ_INT(m.n_channels, 0);
    CHECK_EQ_INT(m.n_dummy, 1);
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_WEARABLE, none, 3, NULL), ICTAL_ENOENT);
    CHECK_EQ_INT(m.n_missing, 4);

    /* Bad arguments. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_CUSTOM, emotiv, 14, NULL), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_CUSTOM, emotiv, 14, " , "), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_CUSTOM, emotiv, 14,
                                     "F7-T7,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                 ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, emotiv, -1, NULL), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, NULL, 3, NULL), ICTAL_EINVAL);
    CHECK_EQ_INT(ictal_montage_build(&m, (ictal_montage_kind)42, emotiv, 14, NULL), ICTAL_EINVAL);
    /* A single electrode in a custom list. */
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_CUSTOM, eegmat, N(eegmat), "cz, T3"), 0);
    CHECK_EQ_INT(m.n_channels, 2);
    CHECK_EQ_INT(m.pos[0], 17);
    CHECK_STR(m.labels[1], "T7");
    CHECK_EQ_INT(m.pos[1], 6);
}

/* Labels of an EDF/BDF file, read from its header (enough for this test only). */
static int read_labels(const char *path, char labels[][17], int max)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char hdr[256];
    int ns = -1;
    if (fread(hdr, 1, 256, f) == 256) {
        char nsf[5];
        memcpy(nsf, hdr + 252, 4);
        nsf[4] = '\0';
        ns = atoi(nsf);
        if (ns < 0 || ns > max)
            ns = -1;
        for (int i = 0; i < ns; i++) {
            if (fread(labels[i], 1, 16, f) != 16) {
                ns = -1;
                break;
            }
            labels[i][16] = '\0';
        }
    }
    fclose(f);
    return ns;
}

static void map_file(const char *rel, int want_channels, int want_derived, int want_found)
{
    const char *path = test_shared_path(rel);
    if (path == NULL) {
        printf("note: %s absent, not checked\n", rel);
        return;
    }
    static char labels[256][17];
    const char *ptr[256];
    int n = read_labels(path, labels, 256);
    CHECK_MSG(n > 0, "%s: labels", rel);
    if (n <= 0)
        return;
    for (int i = 0; i < n; i++)
        ptr[i] = labels[i];
    ictal_montage m;
    int rc = ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, ptr, n, NULL);
    CHECK_MSG(rc == (want_channels > 0 ? 0 : ICTAL_ENOENT), "%s: rc %d", rel, rc);
    CHECK_MSG(m.n_channels == want_channels, "%s: %d channels, want %d", rel, m.n_channels,
              want_channels);
    CHECK_MSG(m.n_derived == want_derived, "%s: %d derived, want %d", rel, m.n_derived,
              want_derived);
    CHECK_MSG(m.n_found == want_found, "%s: %d found, want %d", rel, m.n_found, want_found);
    CHECK_EQ_INT(m.n_found + m.n_derived + m.n_inverted, m.n_channels);
    CHECK_EQ_INT(m.n_channels + m.n_ignored <= n + m.n_channels, 1);
}

static void test_real_files(void)
{
    if (getenv("ICTAL_SHARED") == NULL || test_shared_path("data/PROVENANCE.md") == NULL) {
        printf("note: ../shared/data absent: real headers not read (the label lists above "
               "are copied from them)\n");
        return;
    }
    map_file("data/chbmit-continuous/chb05_06_excerpt.edf", 18, 0, 18);
    map_file("data/edf-synthetic-fixtures/chb01_01_sample.edf", 18, 0, 18);
    map_file("data/edf-synthetic-fixtures/PN00-5_sample.edf", 18, 18, 0);
    map_file("data/edf-reader-testdata/MB0400FU.EDF", 18, 18, 0);
    map_file("data/edf-reader-testdata/chtypes_edf.edf", 18, 18, 0); /* T7/P7 names */
    map_file("data/edf-reader-testdata/test_edf_overlapping_annotations.edf", 18, 18, 0);
    map_file("data/edf-reader-testdata/subsecond_starttime.edf", 2, 2, 0);
    map_file("data/edf-reader-testdata/test_bdf_stim_channel.bdf", 3, 0, 3);
    map_file("data/edf-reader-testdata/SC4001EC-Hypnogram.edf", 0, 0, 0);
    /* multiple_annotation_chans.bdf: C3 C4 F3 Fz F4 P3 Pz P4 O1 O2: F3-C3, C3-P3,
     * P3-O1, F4-C4, C4-P4, P4-O2 (no Cz for the midline pairs). */
    map_file("data/edf-reader-testdata/multiple_annotation_chans.bdf", 6, 6, 0);
    /* test_reduced.edf: BioSemi ABC labels (A1..I8), some of which spell 10-20 names
     * (C3, F3, ...): a label cannot tell, so F3-C3 and F4-C4 are derived. */
    map_file("data/edf-reader-testdata/test_reduced.edf", 2, 2, 0);
    /* test_utf8_annotations.edf: test signals, no electrode. */
    map_file("data/edf-reader-testdata/test_utf8_annotations.edf", 0, 0, 0);
    char rel[128];
    for (int s = 0; s <= 11; s++) {
        snprintf(rel, sizeof(rel), "data/eegmat-rest/Subject%02d_1.edf", s);
        map_file(rel, 18, 18, 0);
    }
    for (int r = 3; r <= 10; r++) {
        snprintf(rel, sizeof(rel), "data/eegmmidb-S001/S001R%02d.edf", r);
        map_file(rel, 18, 18, 0);
    }
}

int main(void)
{
    test_normalize();
    test_chbmit();
    test_referential();
    test_real_files();
    return test_summary();
}
