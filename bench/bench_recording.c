/*
 * Reading speed of ictal/recording.h on the real files, each read to the end as
 * interleaved float µV frames (open and close included), median of several runs, warm
 * page cache:
 *   - a Guinea-Bissau Emotiv CSV (gzip, 36 columns, 14 EEG) - the slow path: text;
 *   - a Bonn segment (one value per line);
 *   - the chb05_06 excerpt as .npy (float32, channel-major) and as EDF+ (int16), which
 *     hold the same 181 s of 23 channels: the ratio says what text and layout cost.
 * Also montage building (ictal/montage.h) on the 65 eegmmidb labels.
 *
 * usage: bench_recording [RUNS]   (env ICTAL_SHARED; ../shared by default)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ictal/montage.h"
#include "ictal/recording.h"

#include "bench_util.h"

/* Seconds to read path to its end; frames and channels out. Negative on error. */
static double read_once(const char *path, int64_t *frames, int *channels)
{
    ictal_recording *r;
    ictal_diag d;
    ictal_diag_init(&d);
    double t0 = now_s();
    if (ictal_recording_open(&r, path, NULL, &d) != 0) {
        char buf[512];
        fprintf(stderr, "%s\n", ictal_diag_format(&d, buf, sizeof(buf)));
        return -1;
    }
    int nc = ictal_recording_get_info(r)->n_channels;
    float *buf = malloc((size_t)nc * 4096 * sizeof(float));
    int64_t n = 0, got;
    while ((got = ictal_recording_read(r, buf, 4096, &d)) > 0)
        n += got;
    ictal_recording_close(r);
    double t = now_s() - t0;
    free(buf);
    if (got < 0)
        return -1;
    *frames = n;
    *channels = nc;
    return t;
}

static double file_mb(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
}

static double bench_file(const char *shared, const char *rel, int runs, const char *what)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", shared, rel);
    double t[32];
    int64_t frames = 0;
    int nc = 0;
    for (int i = 0; i < runs; i++) {
        t[i] = read_once(path, &frames, &nc);
        if (t[i] < 0) {
            printf("%-28s unreadable (%s)\n", what, rel);
            return -1;
        }
    }
    double m = median(t, runs);
    printf("%-28s %7.2f ms  %8.0f frames  %3d ch  %10.3g samples/s  %7.1f MB/s (file)\n", what,
           m * 1e3, (double)frames, nc, (double)frames * nc / m, file_mb(path) / m);
    return m;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1 || runs > 32)
        runs = 5;
    const char *shared = getenv("ICTAL_SHARED");
    char def[1024];
    if (shared == NULL) {
        snprintf(def, sizeof(def), "../shared");
        shared = def;
    }
    char probe[1200];
    snprintf(probe, sizeof(probe), "%s/data/PROVENANCE.md", shared);
    FILE *f = fopen(probe, "r");
    if (f == NULL) {
        printf("SKIP: %s/data absent (set ICTAL_SHARED)\n", shared);
        return 77;
    }
    fclose(f);
    printf("median of %d runs\n", runs);
    bench_file(shared, "data/guinea-bissau-epilepsy/signal-1.csv.gz", runs,
               "CSV gzip (Guinea-Bissau)");
    bench_file(shared, "data/bonn/S/S001.txt", runs, "text (Bonn S001)");
    double npy = bench_file(shared, "data/chbmit-continuous/chb05_06_excerpt_uV_f32.npy", runs,
                            "npy <f4 (chb05_06)");
    double edf = bench_file(shared, "data/chbmit-continuous/chb05_06_excerpt.edf", runs,
                            "EDF+C int16 (chb05_06)");
    if (npy > 0 && edf > 0)
        printf("npy / EDF time for the same 181 s x 23 channels: %.2f\n", npy / edf);

    static const char *mm[] = {
        "Fc5.", "Fc3.", "Fc1.", "Fcz.", "Fc2.", "Fc4.", "Fc6.", "C5..", "C3..", "C1..", "Cz..",
        "C2..", "C4..", "C6..", "Cp5.", "Cp3.", "Cp1.", "Cpz.", "Cp2.", "Cp4.", "Cp6.", "Fp1.",
        "Fpz.", "Fp2.", "Af7.", "Af3.", "Afz.", "Af4.", "Af8.", "F7..", "F5..", "F3..", "F1..",
        "Fz..", "F2..", "F4..", "F6..", "F8..", "Ft7.", "Ft8.", "T7..", "T8..", "T9..", "T10.",
        "Tp7.", "Tp8.", "P7..", "P5..", "P3..", "P1..", "Pz..", "P2..", "P4..", "P6..", "P8..",
        "Po7.", "Po3.", "Poz.", "Po4.", "Po8.", "O1..", "Oz..", "O2..", "Iz..", "EDF Annotations"};
    double t[32];
    ictal_montage m;
    for (int i = 0; i < runs; i++) {
        double t0 = now_s();
        for (int k = 0; k < 200; k++)
            ictal_montage_build(&m, ICTAL_MONTAGE_AUTO, mm, 65, NULL);
        t[i] = (now_s() - t0) / 200;
    }
    printf("%-28s %7.1f us per build (65 eegmmidb labels, 18 derived)\n", "montage build",
           median(t, runs) * 1e6);
    return 0;
}
