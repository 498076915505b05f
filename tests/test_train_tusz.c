/*
 * `ictal train --protocol tusz DIR` on small trees in the layouts of the TUH EEG Seizure
 * Corpus, written here from real EEG with ictal's own EDF writer:
 *
 *   - seizure recordings: the real CHB-MIT chb05_06 excerpt (seizure 37-152 s), whose
 *     bipolar double banana is turned back into referential signals as TUSZ records them
 *     ("EEG FP1-REF", "EEG T3-REF", ...): each chain starts from its reference electrode
 *     set to 0 (Fp1 = 0, F7 = Fp1 - (Fp1-F7), T3 = F7 - (F7-T7), ...);
 *   - seizure-free recordings: real eegmat-rest EEG (healthy adults), relabelled in
 *     TUSZ's linked-ears style ("EEG FP1-LE");
 *   - .csv_bi files in TUSZ's own format beside every EDF.
 *
 * v2.x tree: three patients in train, one in dev (plus a recording without T3, which
 * must be skipped with a warning naming it and the channel), one in eval. v1.5 tree
 * (MONTAGE/GROUP/PATIENT/SESSION, .tse_bi) without eval: the missing split is reported.
 * Checks: the derived double banana equals the original within rounding; the report's
 * rows for tusz-dev and tusz-eval (none for tusz-train); the held-out seizures alarmed;
 * `ictal eval` scoring against a .csv_bi. Needs ../shared (skips).
 */
#include "ictal/annot.h"
#include "ictal/edf.h"
#include "ictal/montage.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RATE 256
#define N_EL 19

/* TUSZ's electrode names, and for each how to derive it from the CHB-MIT double banana:
 * electrode = from - bipolar[pair] (from = -1: the chain's reference, 0). */
static const char *const el_name[N_EL] = {"FP1", "F7", "T3", "T5", "O1", "F3", "C3",
                                          "P3",  "FP2", "F8", "T4", "T6", "O2", "F4",
                                          "C4",  "P4", "FZ", "CZ", "PZ"};
static const int el_from[N_EL] = {-1, 0, 1, 2, 3, 0, 5, 6, -1, 8, 9, 10, 11, 8, 13, 14, -1, 16, 17};
/* CHB-MIT signal index of the pair "from - electrode" */
static const int el_pair[N_EL] = {-1, 0, 1, 2, 3, 4, 5, 6, -1, 12, 13, 14, 15, 8, 9, 10, -1, 16, 17};

static float *excerpt;      /* n_frames x 18 bipolar, µV */
static size_t n_frames;
static char tmp[256];

static int read_edf_frames(const char *path, int n_sel, const int *sel, float **out, size_t *n,
                           double *rate)
{
    ictal_edf *r = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_edf_open(&r, path, NULL, &d);
    if (rc)
        return rc;
    const ictal_edf_info *info = ictal_edf_get_info(r);
    int spr = info->signals[sel ? sel[0] : 0].samples_per_record;
    *n = (size_t)info->n_records * (size_t)spr;
    *rate = spr / info->record_duration_s;
    *out = malloc(*n * (size_t)n_sel * sizeof **out);
    rc = ictal_edf_read_frames(r, 0, info->n_records, sel, n_sel, *out, &d);
    ictal_edf_close(r);
    return rc;
}

/* Referential signals of the excerpt (scaled by gain), n_frames x N_EL. */
static float *referential(float gain)
{
    float *ref = malloc(n_frames * N_EL * sizeof *ref);
    for (size_t f = 0; f < n_frames; f++) {
        const float *b = excerpt + f * 18;
        float *e = ref + f * N_EL;
        for (int k = 0; k < N_EL; k++)
            e[k] = el_from[k] < 0 ? 0.0f : e[el_from[k]] - gain * b[el_pair[k]];
    }
    return ref;
}

static void mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

/* Writes frames (n x n_sig) as an EDF with labels "EEG <name>-<ref>". skip: an electrode
 * left out (-1: none). */
static int write_edf(const char *path, const float *frames, size_t n, int n_sig, double rate,
                     const char *const *names, const char *ref, int skip)
{
    ictal_edf_writer_signal sig[N_EL];
    char labels[N_EL][17];
    int map[N_EL], m = 0;
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n * (size_t)n_sig; i++) {
        lo = frames[i] < lo ? frames[i] : lo;
        hi = frames[i] > hi ? frames[i] : hi;
    }
    for (int k = 0; k < n_sig; k++) {
        if (k == skip)
            continue;
        snprintf(labels[m], sizeof labels[m], "EEG %s-%s", names[k], ref);
        memset(&sig[m], 0, sizeof sig[m]);
        sig[m].label = labels[m];
        sig[m].rate_hz = rate;
        sig[m].physical_min = lo - 1;
        sig[m].physical_max = hi + 1;
        map[m++] = k;
    }
    ictal_edf_writer *w = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_edf_writer_open(&w, path, sig, m, NULL, &d);
    float *row = malloc((size_t)m * sizeof *row);
    for (size_t f = 0; f < n && rc == 0; f++) {
        for (int j = 0; j < m; j++)
            row[j] = frames[f * (size_t)n_sig + (size_t)map[j]];
        rc = ictal_edf_writer_push_frames(w, row, 1, &d);
    }
    free(row);
    int rc2 = ictal_edf_writer_close(w, &d);
    return rc ? rc : rc2;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* TUSZ's .csv_bi for a recording of duration_s with a seizure from on_s to off_s (< 0:
 * none). */
static void write_csv_bi(const char *edf, double duration_s, double on_s, double off_s)
{
    char path[1024], text[2048], bname[256];
    const char *base = strrchr(edf, '/') + 1;
    snprintf(bname, sizeof bname, "%.*s", (int)(strlen(base) - 4), base);
    snprintf(path, sizeof path, "%.*s.csv_bi", (int)(strlen(edf) - 4), edf);
    int k = snprintf(text, sizeof text,
                     "# version = csv_v1.0.0\n# bname = %s\n# duration = %.2f secs\n"
                     "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt\n#\n"
                     "channel,start_time,stop_time,label,confidence\n",
                     bname, duration_s);
    if (on_s < 0)
        snprintf(text + k, sizeof text - (size_t)k, "TERM,0.0000,%.4f,bckg,1.0000\n", duration_s);
    else
        snprintf(text + k, sizeof text - (size_t)k,
                 "TERM,0.0000,%.4f,bckg,1.0000\nTERM,%.4f,%.4f,seiz,1.0000\n"
                 "TERM,%.4f,%.4f,bckg,1.0000\n",
                 on_s, on_s, off_s, off_s, duration_s);
    write_text(path, text);
}

/* A seizure recording of patient in split (v2.x layout), scaled by gain. */
static void seizure_recording(const char *root, const char *split, const char *patient,
                              const char *montage_dir, float gain, int skip)
{
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/edf/%s/%s/s001_2010/%s", root, split, patient, montage_dir);
    mkdirs(dir);
    snprintf(path, sizeof path, "%s/%s_s001_t000.edf", dir, patient);
    float *ref = referential(gain);
    CHECK_EQ_INT(write_edf(path, ref, n_frames, N_EL, RATE, el_name, "REF", skip), 0);
    free(ref);
    write_csv_bi(path, (double)n_frames / RATE, 37, 152);
}

/* The real eegmat recording `subject` as a seizure-free TUSZ session (02_tcp_le). */
static void background_recording(const char *path_edf, const char *subject)
{
    static const char *const names[N_EL] = {"FP1", "FP2", "F3", "F4", "F7", "F8", "T3",
                                            "T4",  "C3",  "C4", "T5", "T6", "P3", "P4",
                                            "O1",  "O2",  "FZ", "CZ", "PZ"};
    char src[512];
    snprintf(src, sizeof src, "data/eegmat-rest/%s_1.edf", subject);
    const char *in = test_shared_path(src);
    int sel[N_EL];
    for (int k = 0; k < N_EL; k++)
        sel[k] = k;
    float *frames = NULL;
    size_t n = 0;
    double rate = 0;
    CHECK_EQ_INT(read_edf_frames(in, N_EL, sel, &frames, &n, &rate), 0);
    CHECK_EQ_INT(write_edf(path_edf, frames, n, N_EL, rate, names, "LE", -1), 0);
    write_csv_bi(path_edf, (double)n / rate, -1, -1);
    free(frames);
}

/* The double banana of the written EDF equals the excerpt's pairs within rounding. */
static void check_double_banana(const char *path)
{
    ictal_edf *r = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_edf_open(&r, path, NULL, &d), 0);
    if (r == NULL)
        return;
    const ictal_edf_info *info = ictal_edf_get_info(r);
    const char *labels[N_EL];
    double quantum = 0;
    for (int k = 0; k < N_EL && k < info->n_signals; k++) {
        labels[k] = info->signals[k].label;
        double q = (info->signals[k].physical_max - info->signals[k].physical_min) /
                   (info->signals[k].digital_max - info->signals[k].digital_min);
        quantum = q > quantum ? q : quantum;
    }
    CHECK_STR(labels[0], "EEG FP1-REF");
    ictal_montage m;
    CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_DOUBLE_BANANA, labels, N_EL, NULL), 0);
    CHECK_EQ_INT(m.n_channels, 18);
    CHECK_EQ_INT(m.n_missing, 0);
    CHECK_EQ_INT(m.n_derived, 18);
    float *frames = malloc(n_frames * N_EL * sizeof *frames);
    CHECK_EQ_INT(ictal_edf_read_frames(r, 0, info->n_records, NULL, N_EL, frames, &d), 0);
    ictal_edf_close(r);
    /* the excerpt's 18 pairs by canonical name */
    static const char *const chb[18] = {"FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3",
                                        "C3-P3",  "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
                                        "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ"};
    double worst = 0, worst_loop = 0;
    int matched = 0;
    for (int ch = 0; ch < m.n_channels; ch++) {
        int src = -1;
        for (int j = 0; j < 18; j++) {
            char canon[ICTAL_LABEL_MAX];
            ictal_label_normalize(chb[j], canon, sizeof canon);
            if (strcmp(canon, m.labels[ch]) == 0)
                src = j;
        }
        if (src < 0)
            continue;
        matched++;
        /* P3-O1 and P4-O2 close the loops Fp1-F7-T7-P7-O1 / Fp1-F3-C3-P3-O1 (and the
         * right side's): no set of electrodes gives both chains of a loop exactly when the
         * excerpt's pairs do not add up around it (they miss by a few µV). There the
         * derived pair must equal the sum along the chains, and the loop's own
         * residual is reported. */
        int loop = src == 7 || src == 11;
        for (size_t f = 0; f < n_frames; f++) {
            float out[ICTAL_MONTAGE_MAX];
            ictal_montage_apply(&m, frames + f * N_EL, out);
            const float *b = excerpt + f * 18;
            double want = b[src];
            if (src == 7)
                want = (double)b[0] + b[1] + b[2] + b[3] - b[4] - b[5] - b[6];
            if (src == 11)
                want = (double)b[12] + b[13] + b[14] + b[15] - b[8] - b[9] - b[10];
            double e = fabs((double)out[ch] - want);
            worst = e > worst ? e : worst;
            double res = fabs(want - (double)b[src]);
            if (loop && res > worst_loop)
                worst_loop = res;
        }
    }
    free(frames);
    CHECK_EQ_INT(matched, 18);
    /* two quantised electrodes per pair, and float sums along chains of up to 4 pairs */
    CHECK_MSG(worst <= 2 * quantum + 0.01, "double banana off by %g uV (quantum %g)", worst,
              quantum);
    printf("double banana from TUSZ-style referential: max error %.4f uV (EDF quantum %.4f); "
           "the excerpt's own loop residual (P3-O1, P4-O2 vs the chains) up to %.4f uV\n",
           worst, quantum, worst_loop);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ictal train --protocol tusz ROOT into tmp/TAG.{out,err,md}; the three texts are read
 * back (malloc'd) and stdout and stderr printed. Returns the command's status. */
static int run_protocol(const char *ictal, const char *root, const char *tag, char **out,
                        char **err, char **md)
{
    char cmd[4096], f_out[512], f_err[512], f_md[512];
    snprintf(f_out, sizeof f_out, "%s/%s.out", tmp, tag);
    snprintf(f_err, sizeof f_err, "%s/%s.err", tmp, tag);
    snprintf(f_md, sizeof f_md, "%s/%s.md", tmp, tag);
    snprintf(cmd, sizeof cmd, "'%s' train --protocol tusz '%s' --report '%s' -q > '%s' 2> '%s'",
             ictal, root, f_md, f_out, f_err);
    int rc = run(cmd);
    *out = slurp(f_out);
    *err = slurp(f_err);
    *md = slurp(f_md);
    printf("--- stdout\n%s--- stderr\n%s", *out, *err);
    return rc;
}

/* A row of the report's Seizures table for rec: alarmed when its "first alarm" cell is a
 * number. */
static int seizure_alarmed(const char *report, const char *rec)
{
    char key[256];
    snprintf(key, sizeof key, "| %s | %.8s | 37.0 | 152.0 | ", rec, rec);
    const char *p = strstr(report, key);
    if (p == NULL)
        return 0;
    p += strlen(key);
    return *p >= '0' && *p <= '9';
}

static void test_v2(const char *ictal)
{
    char root[512], path[2048], cmd[8192];
    snprintf(root, sizeof root, "%.200s/tusz_v2", tmp);
    seizure_recording(root, "train", "aaaaaaaa", "01_tcp_ar", 1.0f, -1);
    seizure_recording(root, "train", "aaaaaaab", "01_tcp_ar", 0.8f, -1);
    seizure_recording(root, "train", "aaaaaaac", "03_tcp_ar_a", 1.2f, -1);
    seizure_recording(root, "dev", "aaaaaaad", "01_tcp_ar", 0.9f, -1);
    seizure_recording(root, "eval", "aaaaaaae", "01_tcp_ar", 1.1f, -1);
    /* a recording without T3: skipped, with a warning naming it and the channel */
    seizure_recording(root, "dev", "aaaaaaaf", "01_tcp_ar", 1.0f, 2);
    const char *bg[][3] = {{"train", "aaaaaaaa", "Subject00"}, {"train", "aaaaaaab", "Subject01"},
                           {"train", "aaaaaaac", "Subject02"}, {"dev", "aaaaaaad", "Subject03"},
                           {"eval", "aaaaaaae", "Subject04"}};
    for (int i = 0; i < 5; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/edf/%s/%s/s002_2011/02_tcp_le", root, bg[i][0], bg[i][1]);
        mkdirs(dir);
        snprintf(path, sizeof path, "%s/%s_s002_t000.edf", dir, bg[i][1]);
        background_recording(path, bg[i][2]);
    }
    /* gain 1: the excerpt's own values */
    snprintf(path, sizeof path, "%s/edf/train/aaaaaaaa/s001_2010/01_tcp_ar/aaaaaaaa_s001_t000.edf",
             root);
    check_double_banana(path);

    char *out, *err, *md;
    CHECK_EQ_INT(run_protocol(ictal, root, "v2", &out, &err, &md), 0);
    const char *end = strstr(md, "## Seizures");
    printf("--- report (head)\n%.*s", end ? (int)(end - md) : 2000, md);
    CHECK(strstr(out, "tusz-train: 6 recordings of 6 EDF files; 0 skipped") != NULL);
    CHECK(strstr(out, "tusz-dev: 2 recordings of 3 EDF files, 1 skipped (see the warnings)") != NULL);
    CHECK(strstr(out, "tusz-eval: 2 recordings of 2 EDF files; 0 skipped") != NULL);
    CHECK(strstr(out, "tusz-train: trained on, not scored") != NULL);
    CHECK(strstr(out, "tusz-dev: 2 recordings") != NULL);
    /* the skipped recording: its file and the pairs T3 (T7) is in */
    CHECK(strstr(err, "aaaaaaaf_s001_t000.edf skipped") != NULL);
    CHECK(strstr(err, "F7-T7") != NULL && strstr(err, "T7-P7") != NULL);
    CHECK(strstr(md, "Patient-disjoint split") != NULL);
    CHECK(strstr(md, "training set tusz-train only") != NULL);
    CHECK(strstr(md, "| tusz-dev | 2 |") != NULL);
    CHECK(strstr(md, "| tusz-eval | 2 |") != NULL);
    CHECK(strstr(md, "| tusz-train |") == NULL);
    /* held-out seizures of patients the model never saw, alarmed */
    CHECK_MSG(seizure_alarmed(md, "aaaaaaad_s001_t000"), "dev seizure not alarmed");
    CHECK_MSG(seizure_alarmed(md, "aaaaaaae_s001_t000"), "eval seizure not alarmed");
    /* training recordings are not scored */
    CHECK(strstr(md, "| aaaaaaaa_s001_t000 |") == NULL);
    free(out);
    free(err);
    free(md);

    /* ictal train REC.edf:REC.csv_bi reads the seizure from the .csv_bi */
    snprintf(cmd, sizeof cmd,
             "'%s' train '%s/edf/dev/aaaaaaad/s001_2010/01_tcp_ar/aaaaaaad_s001_t000.edf:"
             "%s/edf/dev/aaaaaaad/s001_2010/01_tcp_ar/aaaaaaad_s001_t000.csv_bi' "
             "'%s/edf/dev/aaaaaaad/s002_2011/02_tcp_le/aaaaaaad_s002_t000.edf:"
             "%s/edf/dev/aaaaaaad/s002_2011/02_tcp_le/aaaaaaad_s002_t000.csv_bi' "
             "--out '%s/m.ictal' > '%s/files.out' 2>&1",
             ictal, root, root, root, root, tmp, tmp);
    CHECK_EQ_INT(run(cmd), 0);
    char f_out[512];
    snprintf(f_out, sizeof f_out, "%s/files.out", tmp);
    out = slurp(f_out);
    printf("--- ictal train FILE:ANNOT\n%s", out);
    /* the 115 s seizure on 18 channels at a 0.5 s hop: about 4,140 seizure rows */
    const char *rows = strstr(out, "rows (");
    long n_sz_rows = rows ? strtol(rows + 6, NULL, 10) : 0;
    CHECK_MSG(n_sz_rows > 3900 && n_sz_rows <= 4140, "%s", out);
    free(out);

    /* ictal eval reads the .csv_bi as a reference */
    char hyp[512], ref[2048];
    snprintf(hyp, sizeof hyp, "%s/hyp.tsv", tmp);
    write_text(hyp, "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
                    "40.00\t30.00\tsz\tn/a\tn/a\t2010-01-01 00:00:00\t181.00\n");
    snprintf(ref, sizeof ref, "%s/edf/eval/aaaaaaae/s001_2010/01_tcp_ar/aaaaaaae_s001_t000.csv_bi",
             root);
    snprintf(cmd, sizeof cmd, "'%s' eval --json '%s' '%s' > '%s/eval.json' 2>&1", ictal, ref, hyp,
             tmp);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(f_out, sizeof f_out, "%s/eval.json", tmp);
    out = slurp(f_out);
    CHECK_MSG(strstr(out, "\"refTrue\": 1") != NULL || strstr(out, "\"refTrue\":1") != NULL,
              "%s", out);
    free(out);
}

/* v1.5: edf/{train,dev}/MONTAGE/GROUP/PATIENT/SESSION/FILE.edf with .tse_bi; no eval. */
static void test_v15(const char *ictal)
{
    char root[512], dir[1024], path[2048], cmd[4096];
    snprintf(root, sizeof root, "%.200s/tusz_v15", tmp);
    const char *pats[][2] = {{"train", "00000001"}, {"train", "00000002"}, {"dev", "00000003"}};
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s/edf/%s/01_tcp_ar/000/%s/s001_2003_04_28", root, pats[i][0],
                 pats[i][1]);
        mkdirs(dir);
        snprintf(path, sizeof path, "%s/%s_s001_t000.edf", dir, pats[i][1]);
        float *ref = referential(1.0f - 0.1f * (float)i);
        CHECK_EQ_INT(write_edf(path, ref, n_frames, N_EL, RATE, el_name, "REF", -1), 0);
        free(ref);
        snprintf(path, sizeof path, "%s/%s_s001_t000.tse_bi", dir, pats[i][1]);
        write_text(path, "version = tse_v1.0.0\n\n0.0000 37.0000 bckg 1.0000\n"
                         "37.0000 152.0000 seiz 1.0000\n152.0000 181.0000 bckg 1.0000\n");
        snprintf(path, sizeof path, "%s/%s_s002_t000.edf", dir, pats[i][1]);
        background_recording(path, i == 0 ? "Subject05" : i == 1 ? "Subject06" : "Subject07");
    }
    char *out, *err, *md;
    CHECK_EQ_INT(run_protocol(ictal, root, "v15", &out, &err, &md), 0);
    CHECK(strstr(out, "tusz-eval: MISSING") != NULL);
    CHECK(strstr(err, "no eval split") != NULL);
    CHECK(strstr(out, "tusz-train: 4 recordings") != NULL);
    CHECK(strstr(md, "| tusz-dev | 2 |") != NULL);
    CHECK(strstr(md, "| tusz-eval |") == NULL);
    CHECK_MSG(seizure_alarmed(md, "00000003_s001_t000"), "v1.5 dev seizure not alarmed");
    free(out);
    free(err);
    free(md);

    /* no train split: an error that says so */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/edf/train' && '%s' train --protocol tusz '%s' -q "
                              "> /dev/null 2> '%s/none.err'",
             root, ictal, root, tmp);
    CHECK(run(cmd) != 0);
    char f_err[512];
    snprintf(f_err, sizeof f_err, "%s/none.err", tmp);
    err = slurp(f_err);
    CHECK(strstr(err, "no train split") != NULL && strstr(err, "no usable recording") != NULL);
    free(err);
}

int main(void)
{
    const char *ictal = getenv("ICTAL");
    const char *exc = test_shared_path("data/chbmit-continuous/chb05_06_excerpt.edf");
    if (exc == NULL || ictal == NULL || test_shared_path("data/eegmat-rest") == NULL)
        TEST_SKIP("../shared or $ICTAL absent");
    int sel[18];
    for (int k = 0; k < 18; k++)
        sel[k] = k;
    double rate = 0;
    CHECK_EQ_INT(read_edf_frames(exc, 18, sel, &excerpt, &n_frames, &rate), 0);
    CHECK_NEAR(rate, RATE, 0);
    snprintf(tmp, sizeof tmp, "/tmp/ictal_tusz_tree_XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return 1;
    test_v2(ictal);
    test_v15(ictal);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (test__failed == 0)
        run(cmd);
    else
        printf("left for inspection: %s\n", tmp);
    free(excerpt);
    return test_summary();
}
