/*
 * Recordings (ictal/recording.h) on the real files of ../shared/data: the Bonn text
 * segments, the CHB-MIT .npy windows and continuous excerpt (checked against its EDF
 * twin), the Guinea-Bissau Emotiv CSV files (gzip); and small OpenBCI, BrainFlow and
 * Emotiv Pro files written here with the headers those tools write; and bad input.
 * The parts that need ../shared say so and are skipped when it is absent.
 */
#include "ictal/montage.h"
#include "ictal/recording.h"
#include "test.h"

#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static const char *tmp_write(const char *name, const char *text, size_t len)
{
    static char paths[8][512];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f != NULL) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
    return p;
}

static const char *tmp_text(const char *name, const char *text)
{
    return tmp_write(name, text, strlen(text));
}

/* Opens with the given options (NULL: defaults), reads everything into *out. */
static int64_t read_all(const char *path, const ictal_recording_options *opt, float **out,
                        ictal_recording **keep, ictal_diag *d)
{
    ictal_recording *r;
    ictal_diag_init(d);
    int rc = ictal_recording_open(&r, path, opt, d);
    if (rc != 0)
        return rc;
    int nc = ictal_recording_get_info(r)->n_channels;
    size_t cap = 1024, n = 0;
    float *buf = malloc(cap * (size_t)nc * sizeof(float));
    for (;;) {
        if (n + 500 > cap) {
            cap *= 2;
            buf = realloc(buf, cap * (size_t)nc * sizeof(float));
        }
        int64_t got = ictal_recording_read(r, buf + n * (size_t)nc, 500, d);
        if (got < 0) {
            free(buf);
            ictal_recording_close(r);
            return got;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *out = buf;
    if (keep != NULL)
        *keep = r;
    else
        ictal_recording_close(r);
    return (int64_t)n;
}

static void test_bonn(void)
{
    const char *sets = "ZONFS";
    int files = 0;
    for (int s = 0; s < 5; s++) {
        for (int k = 1; k <= 80; k++) {
            char rel[64];
            /* Set N is named N001.TXT ... in the source. */
            snprintf(rel, sizeof(rel), "data/bonn/%c/%c%03d.%s", sets[s], sets[s], k,
                     sets[s] == 'N' ? "TXT" : "txt");
            const char *path = test_shared_path(rel);
            if (path == NULL)
                continue;
            float *x;
            ictal_recording *r;
            ictal_diag d;
            int64_t n = read_all(path, NULL, &x, &r, &d);
            CHECK_MSG(n == 4097, "%s: %lld frames (%s)", rel, (long long)n, d.message);
            if (n < 0)
                continue;
            const ictal_recording_info *info = ictal_recording_get_info(r);
            CHECK_EQ_INT(info->format, ICTAL_RECORDING_TEXT);
            CHECK_EQ_INT(info->n_channels, 1);
            CHECK_NEAR(info->sample_rate_hz, 173.61, 0);
            CHECK_EQ_INT(info->n_frames, 4097);
            /* The same values as a plain scan of the file. */
            FILE *f = fopen(path, "r");
            double v, maxdiff = 0;
            int i = 0;
            while (f != NULL && fscanf(f, "%lf", &v) == 1 && i < 4097) {
                double diff = fabs(v - x[i++]);
                maxdiff = diff > maxdiff ? diff : maxdiff;
            }
            if (f)
                fclose(f);
            CHECK_EQ_INT(i, 4097);
            CHECK_NEAR(maxdiff, 0, 0);
            if (files == 0) {
                CHECK_STR(info->rate_source, "default (Bonn 173.61 Hz)");
                CHECK_STR(info->labels[0], "ch1");
            }
            files++;
            free(x);
            ictal_recording_close(r);
        }
    }
    if (files == 0)
        printf("note: ../shared/data/bonn absent: Bonn not checked\n");
    else
        CHECK_EQ_INT(files, 400);
    printf("bonn: %d files, 4097 samples each\n", files);
}

/* Reads element (c, s) of a C-order <f8 (23, 2561) window straight from the file. */
static double npy_raw(const char *path, int c, int s)
{
    FILE *f = fopen(path, "rb");
    unsigned char h[10];
    double v = NAN;
    if (f != NULL && fread(h, 1, 10, f) == 10) {
        long off = 10 + (h[8] | h[9] << 8) + ((long)c * 2561 + s) * 8;
        fseek(f, off, SEEK_SET);
        if (fread(&v, 8, 1, f) != 1)
            v = NAN;
    }
    if (f)
        fclose(f);
    return v;
}

static void test_npy_windows(void)
{
    static const char *const names[] = {
        "chb01/ictal/chb01_03_ictal.npy", "chb01/preictal_10s/chb01_03_preictal10s.npy",
        "chb01/ictal/chb01_26_ictal.npy", "chb02/ictal/chb02_19_ictal.npy"};
    int checked = 0;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "data/chbmit-windows/%s", names[k]);
        const char *p = test_shared_path(rel);
        if (p == NULL)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s", p);
        float *x;
        ictal_recording *r;
        ictal_diag d;
        int64_t n = read_all(path, NULL, &x, &r, &d);
        CHECK_MSG(n == 2561, "%s: %lld (%s)", rel, (long long)n, d.message);
        if (n < 0)
            continue;
        const ictal_recording_info *info = ictal_recording_get_info(r);
        CHECK_EQ_INT(info->format, ICTAL_RECORDING_NPY);
        CHECK_EQ_INT(info->n_channels, 23);
        CHECK_NEAR(info->sample_rate_hz, 256, 0);
        CHECK_STR(info->labels[0], "FP1-F7");
        CHECK_STR(info->labels[22], "T8-P8");
        CHECK_STR(info->layout, "npy <f8 (23, 2561)");
        /* Interleaved frames = the file's (channel, sample) elements. */
        static const int probe[][2] = {{0, 0}, {0, 2560}, {14, 1000}, {22, 1000}, {22, 2560}};
        for (int i = 0; i < 5; i++) {
            int c = probe[i][0], s = probe[i][1];
            CHECK_NEAR(x[s * 23 + c], npy_raw(path, c, s), 1e-3);
        }
        /* Channel 23 duplicates channel 15 (T8-P8), as in CHB-MIT. */
        double dup = 0;
        for (int s = 0; s < 2561; s++)
            dup = fmax(dup, fabs(x[s * 23 + 22] - x[s * 23 + 14]));
        CHECK_NEAR(dup, 0, 0);
        /* Every value a multiple of CHB-MIT's quantum 0.19536 µV (PROVENANCE.md). */
        double worst = 0;
        for (int64_t i = 0; i < n * 23; i++) {
            double q = x[i] / 0.1953602;
            worst = fmax(worst, fabs(q - round(q)));
        }
        CHECK_MSG(worst < 0.01, "%s: off the quantum by %g", rel, worst);
        /* Reading again after rewind, in odd chunk sizes, gives the same frames. */
        CHECK_EQ_INT(ictal_recording_rewind(r, &d), 0);
        float *y = malloc(2561 * 23 * sizeof(float));
        int64_t got = 0, step = 7;
        while (got < 2561) {
            int64_t k2 = ictal_recording_read(r, y + got * 23, step, &d);
            CHECK(k2 > 0);
            if (k2 <= 0)
                break;
            got += k2;
            step = step * 3 % 1000 + 1;
        }
        CHECK_EQ_INT(ictal_recording_read(r, y, 10, &d), 0);
        CHECK(memcmp(x, y, 2561 * 23 * sizeof(float)) == 0);
        /* The montage over the default labels: 18 pairs found. */
        ictal_montage m;
        CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, info->labels, 23, NULL), 0);
        CHECK_EQ_INT(m.n_found, 18);
        free(y);
        free(x);
        ictal_recording_close(r);
        checked++;
    }
    /* Every window opens. */
    int all = 0;
    static const char *const dirs[] = {"chb01/ictal", "chb01/preictal_10s", "chb02/ictal",
                                       "chb02/preictal_10s"};
    static const char *const ids[] = {"chb01_03", "chb01_04", "chb01_15", "chb01_16",
                                      "chb01_18", "chb01_21", "chb01_26", "chb02_16",
                                      "chb02_16+", "chb02_19"};
    for (int dd = 0; dd < 4; dd++)
        for (int i = 0; i < 10; i++) {
            char rel[160];
            snprintf(rel, sizeof(rel), "data/chbmit-windows/%s/%s_%s.npy", dirs[dd], ids[i],
                     dd % 2 ? "preictal10s" : "ictal");
            const char *path = test_shared_path(rel);
            if (path == NULL)
                continue;
            ictal_recording *r;
            ictal_diag d;
            ictal_diag_init(&d);
            CHECK_MSG(ictal_recording_open(&r, path, NULL, &d) == 0, "%s: %s", rel, d.message);
            CHECK_EQ_INT(ictal_recording_get_info(r)->n_frames, 2561);
            ictal_recording_close(r);
            all++;
        }
    printf("npy windows: %d checked in detail, %d opened\n", checked, all);
    if (all > 0)
        CHECK_EQ_INT(all, 20);
}

static void test_continuous(void)
{
    const char *npy = test_shared_path("data/chbmit-continuous/chb05_06_excerpt_uV_f32.npy");
    const char *edf = test_shared_path("data/chbmit-continuous/chb05_06_excerpt.edf");
    if (npy == NULL || edf == NULL) {
        printf("note: chbmit-continuous absent: not checked\n");
        return;
    }
    char npy_path[1024], edf_path[1024];
    snprintf(npy_path, sizeof(npy_path), "%s", npy);
    snprintf(edf_path, sizeof(edf_path), "%s", edf);
    float *a, *b;
    ictal_recording *ra, *rb;
    ictal_diag d;
    int64_t na = read_all(npy_path, NULL, &a, &ra, &d);
    CHECK_MSG(na == 46336, "npy: %lld %s", (long long)na, d.message);
    int64_t nb = read_all(edf_path, NULL, &b, &rb, &d);
    CHECK_MSG(nb == 46336, "edf: %lld %s", (long long)nb, d.message);
    if (na != 46336 || nb != 46336)
        return;
    const ictal_recording_info *ia = ictal_recording_get_info(ra), *ib = ictal_recording_get_info(rb);
    CHECK_STR(ia->layout, "npy <f4 (23, 46336)");
    CHECK_EQ_INT(ib->format, ICTAL_RECORDING_EDF);
    CHECK_EQ_INT(ib->n_channels, 23); /* the annotation signal left out */
    CHECK_NEAR(ib->sample_rate_hz, 256, 0);
    CHECK_EQ_INT(ib->n_frames, 181 * 256);
    for (int c = 0; c < 23; c++)
        CHECK_STR(ia->labels[c], ib->labels[c]);
    /* The EDF holds the same signal quantised to 16 bits per channel: the two agree
     * within a small fraction of each channel's range. */
    double worst = 0;
    for (int c = 0; c < 23; c++) {
        double lo = 1e30, hi = -1e30, diff = 0;
        for (int64_t s = 0; s < na; s++) {
            double v = a[s * 23 + c];
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            diff = fmax(diff, fabs(v - b[s * 23 + c]));
        }
        double step = (hi - lo) / 65535.0;
        worst = fmax(worst, diff / (step > 0 ? step : 1));
    }
    CHECK_MSG(worst <= 1.0, "npy and EDF differ by %g quantisation steps", worst);
    printf("chb05_06 excerpt: npy and EDF agree within %.3f quantisation steps\n", worst);
    free(a);
    free(b);
    ictal_recording_close(ra);
    ictal_recording_close(rb);

    /* eegmat through the EDF back-end: 21 signals at 500 Hz (EEG, A2-A1, ECG). */
    const char *eegmat = test_shared_path("data/eegmat-rest/Subject00_1.edf");
    if (eegmat != NULL) {
        ictal_recording *r;
        ictal_diag_init(&d);
        CHECK_EQ_INT(ictal_recording_open(&r, eegmat, NULL, &d), 0);
        const ictal_recording_info *info = ictal_recording_get_info(r);
        CHECK_EQ_INT(info->n_channels, 21);
        CHECK_NEAR(info->sample_rate_hz, 500, 0);
        CHECK_STR(info->labels[0], "EEG Fp1");
        ictal_montage m;
        CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, info->labels, 21, NULL), 0);
        CHECK_EQ_INT(m.n_derived, 18);
        ictal_recording_close(r);
    }
}

static void test_guinea_bissau(void)
{
    static const int ids[] = {1, 3, 4, 7, 8, 9, 10, 13, 14, 15, 17, 19, 20, 22, 23};
    static const int rows[] = {38528, 39552, 38272, 38656, 42496, 42368, 39808, 40832,
                               40832, 38400, 39040, 39296, 38784, 38912, 38912};
    int files = 0;
    for (int k = 0; k < 15; k++) {
        char rel[96];
        snprintf(rel, sizeof(rel), "data/guinea-bissau-epilepsy/signal-%d.csv.gz", ids[k]);
        const char *path = test_shared_path(rel);
        if (path == NULL)
            continue;
        float *x;
        ictal_recording *r;
        ictal_diag d;
        int64_t n = read_all(path, NULL, &x, &r, &d);
        CHECK_MSG(n == rows[k], "%s: %lld frames (%s)", rel, (long long)n, d.message);
        if (n < 0)
            continue;
        const ictal_recording_info *info = ictal_recording_get_info(r);
        CHECK_EQ_INT(info->n_channels, 14);
        CHECK_NEAR(info->sample_rate_hz, 128, 0);
        CHECK_STR(info->rate_source, "default (Emotiv 128 Hz)");
        CHECK_EQ_INT(info->n_frames, rows[k]);
        CHECK_STR(info->labels[0], "AF3");
        CHECK_STR(info->labels[13], "T8");
        CHECK(strstr(info->layout, "Zenodo") != NULL);
        /* DC level around 4000 µV (PROVENANCE.md). */
        double mean = 0;
        for (int64_t i = 0; i < n * 14; i++)
            mean += x[i];
        mean /= (double)(n * 14);
        CHECK_MSG(mean > 3000 && mean < 5000, "%s: mean %g", rel, mean);
        if (ids[k] == 1) {
            /* The first row of signal-1: "1",4426.15384615385,3994.8717948718,... and the
             * last "38528",4047.69230769231,3823.58974358975,... */
            CHECK_NEAR(x[0], 4426.15384615385, 1e-3);
            CHECK_NEAR(x[1], 3994.8717948718, 1e-3);
            CHECK_NEAR(x[13], 4076.41025641026, 1e-3);
            CHECK_NEAR(x[(n - 1) * 14 + 0], 4047.69230769231, 1e-3);
            CHECK_NEAR(x[(n - 1) * 14 + 1], 3823.58974358975, 1e-3);
            ictal_montage m;
            CHECK_EQ_INT(ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, info->labels, 14, NULL), 0);
            CHECK_EQ_INT(m.n_channels, 4); /* the wearable montage */
            printf("guinea-bissau signal-1: layout '%s'\n", info->layout);
        }
        files++;
        free(x);
        ictal_recording_close(r);
    }
    printf("guinea-bissau: %d files\n", files);
    if (files > 0)
        CHECK_EQ_INT(files, 15);
}

static void test_synthetic_layouts(void)
{
    ictal_diag d;
    float *x;
    ictal_recording *r;
    /* OpenBCI GUI v5 export. */
    const char *openbci =
        "%OpenBCI Raw EXG Data\n%Number of channels = 4\n%Sample Rate = 200 Hz\n"
        "%Board = OpenBCI_GUI$BoardGanglionBLE\n"
        "Sample Index, EXG Channel 0, EXG Channel 1, EXG Channel 2, EXG Channel 3, Accel "
        "Channel 0, Accel Channel 1, Accel Channel 2, Other, Timestamp, Timestamp (Formatted)\n"
        "0, 1.5, -2.25, 3.0, 4e1, 0.0, 0.0, 0.0, 0.0, 1622023481.123, 2021-05-26 10:04:41.123\n"
        "1, 2.5, -3.25, 4.0, 5e1, 0.0, 0.0, 0.0, 0.0, 1622023481.128, 2021-05-26 10:04:41.128\n";
    int64_t n = read_all(tmp_text("openbci.txt", openbci), NULL, &x, &r, &d);
    CHECK_MSG(n == 2, "openbci: %s", d.message);
    if (n == 2) {
        const ictal_recording_info *info = ictal_recording_get_info(r);
        CHECK_STR(info->layout, "csv: OpenBCI GUI");
        CHECK_EQ_INT(info->n_channels, 4);
        CHECK_NEAR(info->sample_rate_hz, 200, 0);
        CHECK_STR(info->rate_source, "file");
        CHECK_STR(info->labels[3], "EXG Channel 3");
        CHECK_NEAR(x[1], -2.25, 0);
        CHECK_NEAR(x[7], 50, 0);
        free(x);
        ictal_recording_close(r);
    }
    /* The same with electrode names given by the caller and a rate override. */
    static const char *const el[] = {"T7", "T8", "F7", "F8"};
    ictal_recording_options o;
    ictal_recording_options_init(&o);
    o.labels = el;
    o.n_labels = 4;
    o.sample_rate_hz = 250;
    n = read_all(tmp_text("openbci2.txt", openbci), &o, &x, &r, &d);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_STR(ictal_recording_get_info(r)->labels[2], "F7");
        CHECK_NEAR(ictal_recording_get_info(r)->sample_rate_hz, 250, 0);
        CHECK_STR(ictal_recording_get_info(r)->rate_source, "option");
        free(x);
        ictal_recording_close(r);
    }

    /* BrainFlow DataFilter.write_file: no header, tabs, package number first. */
    const char *brainflow = "0.000000\t10.5\t-20.25\t30.0\t0.1\t1622023481.1\t0.0\n"
                            "1.000000\t11.5\t-21.25\t31.0\t0.1\t1622023481.2\t0.0\n"
                            "2.000000\t12.5\t-22.25\t32.0\t0.1\t1622023481.3\t0.0\n";
    const char *bf = tmp_text("brainflow.csv", brainflow);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_recording_open(&r, bf, NULL, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "BrainFlow") != NULL);
    static const char *const bfl[] = {"F7", "T7", "P7"};
    ictal_recording_options_init(&o);
    o.labels = bfl;
    o.n_labels = 3;
    o.sample_rate_hz = 250;
    n = read_all(bf, &o, &x, &r, &d);
    CHECK_MSG(n == 3, "brainflow: %s", d.message);
    if (n == 3) {
        CHECK_NEAR(x[0], 10.5, 0);
        CHECK_NEAR(x[2], 30, 0);
        CHECK_NEAR(x[2 * 3 + 1], -22.25, 0);
        CHECK(strstr(ictal_recording_get_info(r)->layout, "BrainFlow") != NULL);
        free(x);
        ictal_recording_close(r);
    }
    ictal_recording_options_init(&o);
    o.columns = "1, 3";
    o.sample_rate_hz = 250;
    n = read_all(bf, &o, &x, &r, &d);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(ictal_recording_get_info(r)->n_channels, 2);
        CHECK_NEAR(x[1], 30, 0);
        free(x);
        ictal_recording_close(r);
    }

    /* Emotiv Pro: a metadata line, then EEG.* columns. */
    const char *emotiv =
        "title:rest, recorded:26.10.20 13.08.49, timestamp:1603717729.28, headset type:EPOCX, "
        "sampling rate:eeg_256;mot_64, labels:Timestamp EEG.Counter EEG.AF3 EEG.T7 EEG.T8\n"
        "Timestamp,EEG.Counter,EEG.Interpolated,EEG.AF3,EEG.T7,EEG.T8,EEG.RawCq,EEG.Battery\n"
        "1603717729.28,0,0,4100.5,4200.25,4300,0,100\n"
        "1603717729.29,1,0,4101.5,4201.25,4301,0,100\n";
    n = read_all(tmp_text("emotiv.csv", emotiv), NULL, &x, &r, &d);
    CHECK_MSG(n == 2, "emotiv: %s", d.message);
    if (n == 2) {
        const ictal_recording_info *info = ictal_recording_get_info(r);
        CHECK_EQ_INT(info->n_channels, 3);
        CHECK_STR(info->labels[1], "T7");
        CHECK_NEAR(info->sample_rate_hz, 256, 0);
        CHECK_STR(info->rate_source, "file");
        CHECK_NEAR(x[3 + 2], 4301, 0);
        free(x);
        ictal_recording_close(r);
    }
    /* Without the metadata line: the Emotiv default. */
    const char *emotiv2 = strchr(emotiv, '\n') + 1;
    n = read_all(tmp_text("emotiv2.csv", emotiv2), NULL, &x, &r, &d);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_NEAR(ictal_recording_get_info(r)->sample_rate_hz, 128, 0);
        CHECK_STR(ictal_recording_get_info(r)->rate_source, "default (Emotiv 128 Hz)");
        free(x);
        ictal_recording_close(r);
    }

    /* A generic CSV with electrode names, gzip'd, semicolons: no rate anywhere. */
    const char *generic = "time;Fp1;Fp2;marker\n0;1.0;2.0;x\n0.004;3.0;4.0;\n";
    char gzpath[600];
    snprintf(gzpath, sizeof(gzpath), "%s/generic.csv.gz", tmpdir);
    gzFile g = gzopen(gzpath, "wb");
    gzputs(g, generic);
    gzclose(g);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_recording_open(&r, gzpath, NULL, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "sample rate cannot be known") != NULL);
    printf("unknown rate: %s\n", d.message);
    ictal_recording_options_init(&o);
    o.allow_unknown_rate = 1;
    n = read_all(gzpath, &o, &x, &r, &d);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_NEAR(ictal_recording_get_info(r)->sample_rate_hz, 0, 0);
        CHECK_STR(ictal_recording_get_info(r)->rate_source, "unknown");
        CHECK_NEAR(x[3], 4, 0);
        free(x);
        ictal_recording_close(r);
    }
    o.allow_unknown_rate = 0;
    o.sample_rate_hz = 250;
    o.columns = "fp2";
    n = read_all(gzpath, &o, &x, &r, &d);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_STR(ictal_recording_get_info(r)->labels[0], "Fp2");
        CHECK_NEAR(x[1], 4, 0);
        free(x);
        ictal_recording_close(r);
    }
}

static void expect_error(const char *what, const char *path, const ictal_recording_options *o,
                         int code, int64_t line, const char *needle)
{
    ictal_recording *r = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    char msg[512];
    int rc = ictal_recording_open(&r, path, o, &d);
    if (rc == 0) {
        int nc = ictal_recording_get_info(r)->n_channels;
        float *buf = malloc(64 * (size_t)nc * sizeof(float));
        int64_t got;
        while ((got = ictal_recording_read(r, buf, 64, &d)) > 0)
            ;
        rc = (int)got;
        free(buf);
        /* d.source points into the recording: format before closing it. */
        ictal_diag_format(&d, msg, sizeof(msg));
        ictal_recording_close(r);
    } else {
        CHECK(r == NULL);
        ictal_diag_format(&d, msg, sizeof(msg));
    }
    CHECK_MSG(rc == code, "%s: rc %d (%s), want %d", what, rc, msg, code);
    if (line >= 0)
        CHECK_MSG(d.line == line, "%s: line %lld, want %lld", what, (long long)d.line,
                  (long long)line);
    CHECK_MSG(strstr(d.message, needle) != NULL, "%s: '%s' lacks '%s'", what, d.message, needle);
    CHECK_MSG(d.source != NULL && strstr(msg, path) != NULL, "%s: no file name in '%s'", what, msg);
    printf("%-26s %s\n", what, msg);
}

static void test_bad_input(void)
{
    expect_error("ragged row", tmp_text("ragged.csv", "Fp1,Fp2,Cz\n1,2,3\n4,5\n"), NULL,
                 ICTAL_EINVAL, -1, "sample rate"); /* rate first */
    ictal_recording_options o;
    ictal_recording_options_init(&o);
    o.sample_rate_hz = 256;
    expect_error("ragged row", tmp_text("ragged.csv", "Fp1,Fp2,Cz\n1,2,3\n4,5\n"), &o,
                 ICTAL_EFORMAT, 3, "ragged row: 2 cells, the header has 3");
    expect_error("non-numeric cell", tmp_text("nonnum.csv", "Fp1,Fp2\n1,2\n3,x4\n"), &o,
                 ICTAL_EFORMAT, 3, "column 2 ('Fp2'): 'x4' is not a number");
    expect_error("empty cell", tmp_text("empty.csv", "Fp1,Fp2\n1,\n"), &o, ICTAL_EFORMAT, 2,
                 "is not a number");
    expect_error("nan cell", tmp_text("nan.csv", "Fp1,Fp2\n1,nan\n"), &o, ICTAL_EFORMAT, 2,
                 "'nan' is not a number");
    expect_error("text: bad line", tmp_text("bonn-bad.txt", "1\n2\n3.5.1\n"), NULL,
                 ICTAL_EFORMAT, 3, "is not a number");
    expect_error("text: two values", tmp_text("bonn-two.txt", "1\n2 3\n"), NULL, ICTAL_EFORMAT,
                 2, "not a number");
    expect_error("no EEG column", tmp_text("noeeg.csv", "a,b,c\n1,2,3\n"), &o, ICTAL_EFORMAT, 1,
                 "no EEG column");
    expect_error("empty file", tmp_text("empty.txt", ""), NULL, ICTAL_EFORMAT, -1, "no data");
    expect_error("missing file", "/nonexistent/x.csv", NULL, ICTAL_ENOENT, -1, "cannot open");
    static const char *const two[] = {"a", "b"};
    ictal_recording_options ol;
    ictal_recording_options_init(&ol);
    ol.labels = two;
    ol.n_labels = 2;
    expect_error("label count", tmp_text("one.txt", "1\n2\n"), &ol, ICTAL_EINVAL, -1,
                 "2 labels given, but the file has 1 channels");
    ictal_recording_options_init(&ol);
    ol.columns = "Fp1,Oz";
    ol.sample_rate_hz = 100;
    expect_error("unknown column", tmp_text("cols.csv", "Fp1,Fp2\n1,2\n"), &ol, ICTAL_EINVAL, -1,
                 "column 'Oz' is not in the file");

    /* .npy: a header with a wrong dtype, 3 dimensions, a truncated file. */
    char npy[256];
    const char *hdr_c16 = "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3), }";
    size_t hl = strlen(hdr_c16);
    memcpy(npy, "\x93NUMPY\x01\x00", 8);
    npy[8] = (char)(hl + 1);
    npy[9] = 0;
    memcpy(npy + 10, hdr_c16, hl);
    npy[10 + hl] = '\n';
    expect_error("npy dtype", tmp_write("c16.npy", npy, 11 + hl), NULL, ICTAL_ENOTSUP, -1,
                 "dtype '<c16' is not supported");
    const char *hdr_3d = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }";
    hl = strlen(hdr_3d);
    npy[8] = (char)(hl + 1);
    memcpy(npy + 10, hdr_3d, hl);
    npy[10 + hl] = '\n';
    expect_error("npy 3-D", tmp_write("3d.npy", npy, 11 + hl), NULL, ICTAL_ENOTSUP, -1,
                 "more than 2 dimensions");
    const char *hdr_ok = "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }";
    hl = strlen(hdr_ok);
    npy[8] = (char)(hl + 1);
    memcpy(npy + 10, hdr_ok, hl);
    npy[10 + hl] = '\n';
    int16_t vals[6] = {1, 2, 3, -4, -5, -6};
    memcpy(npy + 11 + hl, vals, sizeof(vals));
    expect_error("npy truncated", tmp_write("short.npy", npy, 11 + hl + 10), &o, ICTAL_ETRUNC, -1,
                 "needs 12 bytes of data, the file holds 10");
    expect_error("npy header cut", tmp_write("cut.npy", npy, 30), &o, ICTAL_ETRUNC, -1,
                 "inside the .npy header");
    /* The good one: <i2 values, C order (2 channels x 3 samples). */
    float *x;
    ictal_recording *r;
    ictal_diag d;
    int64_t n = read_all(tmp_write("ok.npy", npy, 11 + hl + 12), &o, &x, &r, &d);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_NEAR(x[0], 1, 0);
        CHECK_NEAR(x[1], -4, 0);
        CHECK_NEAR(x[4], 3, 0);
        CHECK_NEAR(x[5], -6, 0);
        CHECK_STR(ictal_recording_get_info(r)->labels[1], "ch2");
        free(x);
        ictal_recording_close(r);
    }
    /* A NaN in <f4 data (channel 1, sample 2 of a (2, 3) array). */
    const char *hdr_f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    size_t hl4 = strlen(hdr_f4);
    char npy4[256];
    memcpy(npy4, "\x93NUMPY\x01\x00", 8);
    npy4[8] = (char)(hl4 + 1);
    npy4[9] = 0;
    memcpy(npy4 + 10, hdr_f4, hl4);
    npy4[10 + hl4] = '\n';
    float fv[6] = {1, 2, 3, 4, 5, NAN};
    memcpy(npy4 + 11 + hl4, fv, sizeof(fv));
    expect_error("npy NaN", tmp_write("nan.npy", npy4, 11 + hl4 + sizeof(fv)), &o, ICTAL_ERANGE,
                 -1, "channel 1, sample 2 is not a finite float");
    expect_error("npy no rate", tmp_write("ok2.npy", npy, 11 + hl + 12), NULL, ICTAL_EINVAL, -1,
                 "sample rate cannot be known");
    /* A real window cut short. */
    const char *win = test_shared_path("data/chbmit-windows/chb01/ictal/chb01_03_ictal.npy");
    if (win != NULL) {
        FILE *f = fopen(win, "rb");
        unsigned char *buf = malloc(471352);
        size_t len = f ? fread(buf, 1, 471352, f) : 0;
        if (f)
            fclose(f);
        CHECK_EQ_INT(len, 471352);
        expect_error("real npy cut", tmp_write("cut-real.npy", (char *)buf, len - 1000), NULL,
                     ICTAL_ETRUNC, -1, "truncated .npy");
        free(buf);
    }
}

/* Every EDF/BDF file under ../shared/data opens and reads to its announced end. */
static void test_all_edf(void)
{
    static const struct {
        const char *rel;
        int channels;
        double rate_hz;
    } files[] = {
        {"data/chbmit-continuous/chb05_06_excerpt.edf", 23, 256},
        {"data/edf-reader-testdata/MB0400FU.EDF", 25, 200},
        {"data/edf-reader-testdata/chtypes_edf.edf", 42, 200},
        {"data/edf-reader-testdata/multiple_annotation_chans.bdf", -1, -1},
        {"data/edf-reader-testdata/subsecond_starttime.edf", -1, -1},
        {"data/edf-reader-testdata/test_bdf_stim_channel.bdf", 4, 500},
        {"data/edf-reader-testdata/test_edf_overlapping_annotations.edf", 64, 128},
        {"data/edf-reader-testdata/test_reduced.edf", 126, -1}, /* 126 of 139 share a rate */
        {"data/edf-reader-testdata/test_utf8_annotations.edf", -1, -1},
        {"data/edf-synthetic-fixtures/PN00-5_sample.edf", -1, 512},
        {"data/edf-synthetic-fixtures/chb01_01_sample.edf", 23, 256},
        {"data/eegmmidb-S001/S001R03.edf", 64, 160},
        {"data/eegmat-rest/Subject05_1.edf", 21, 500},
    };
    int opened = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        const char *path = test_shared_path(files[i].rel);
        if (path == NULL)
            continue;
        float *x;
        ictal_recording *r;
        ictal_diag d;
        int64_t n = read_all(path, NULL, &x, &r, &d);
        CHECK_MSG(n > 0, "%s: %s", files[i].rel, d.message);
        if (n <= 0)
            continue;
        const ictal_recording_info *info = ictal_recording_get_info(r);
        CHECK_EQ_INT(n, info->n_frames);
        if (files[i].channels > 0)
            CHECK_MSG(info->n_channels == files[i].channels, "%s: %d channels", files[i].rel,
                      info->n_channels);
        if (files[i].rate_hz > 0)
            CHECK_NEAR(info->sample_rate_hz, files[i].rate_hz, 1e-9);
        printf("%-62s %3d ch %8.3f Hz %8lld frames  %s\n", files[i].rel, info->n_channels,
               info->sample_rate_hz, (long long)n, info->layout);
        opened++;
        free(x);
        ictal_recording_close(r);
    }
    /* An annotation-only file has no frames to give. */
    const char *hyp = test_shared_path("data/edf-reader-testdata/SC4001EC-Hypnogram.edf");
    if (hyp != NULL) {
        ictal_recording *r;
        ictal_diag d;
        ictal_diag_init(&d);
        CHECK_EQ_INT(ictal_recording_open(&r, hyp, NULL, &d), ICTAL_ENOENT);
        CHECK(strstr(d.message, "only annotations") != NULL);
    }
    printf("EDF back-end: %d files read\n", opened);
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/ictal-test-recording-XXXXXX", base);
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_synthetic_layouts();
    test_bad_input();
    if (getenv("ICTAL_SHARED") == NULL || test_shared_path("data/PROVENANCE.md") == NULL)
        printf("note: ../shared/data absent: real recordings not read\n");
    test_bonn();
    test_npy_windows();
    test_continuous();
    test_guinea_bissau();
    test_all_edf();
    test_remove_dir(tmpdir);
    return test_summary();
}
