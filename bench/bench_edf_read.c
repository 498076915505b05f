/*
 * Reading speed of ictal's EDF reader against EDFlib, in one run, on the same files:
 *   - a 1 h, 18-channel, 256 Hz EDF+ made from the real CHB-MIT excerpt
 *     (data/chb05_06_excerpt.edf, its first 18 channels, records repeated),
 *   - the real files themselves (the excerpt; with ../shared, an eegmat recording and a
 *     BDF+ file).
 * Each reader opens the file, reads every sample of every data signal as physical
 * values, and closes it. ictal is timed on its bulk float µV path (read_float and
 * read_frames) and on its per-signal double path (read_physical, the same job as
 * EDFlib's edfread_physical_samples). Median of several runs, warm page cache.
 *
 * usage: bench_edf_read [RUNS]   (env ICTAL_SOURCE_DIR, ICTAL_SHARED)
 */
#include <edflib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ictal/edf.h"

#include "bench_util.h"

static volatile double sink; /* keeps the compiler from dropping the reads */

enum { ICTAL_FLOAT, ICTAL_FRAMES, ICTAL_BLOCKS, ICTAL_PHYSICAL, EDFLIB_PHYSICAL, N_METHODS };
static const char *const method_names[N_METHODS] = {
    "ictal read_float (uV)", "ictal read_frames (uV)", "ictal frames, 60-rec blocks",
    "ictal read_physical", "EDFlib physical"};

/* One full read; returns seconds, or -1 when the method cannot read the file. */
static double run_once(const char *path, int method, long long *samples)
{
    double t0 = now_s();
    long long n_samples = 0;
    double acc = 0;
    if (method == EDFLIB_PHYSICAL) {
        struct edf_hdr_struct h;
        if (edfopen_file_readonly(path, &h, EDFLIB_READ_ALL_ANNOTATIONS) != 0)
            return -1;
        for (int s = 0; s < h.edfsignals; s++) {
            long long n = h.signalparam[s].smp_in_file;
            double *buf = malloc((size_t)n * sizeof(double));
            if (edfread_physical_samples(h.handle, s, (int)n, buf) != n) {
                free(buf);
                edfclose_file(h.handle);
                return -1;
            }
            acc += buf[n / 2];
            n_samples += n;
            free(buf);
        }
        edfclose_file(h.handle);
    } else {
        ictal_edf *r = NULL;
        if (ictal_edf_open(&r, path, NULL, NULL) != 0)
            return -1;
        const ictal_edf_info *in = ictal_edf_get_info(r);
        int nd = in->n_data_signals;
        int *sel = malloc((size_t)nd * sizeof(int));
        int k = 0;
        for (int s = 0; s < in->n_signals; s++)
            if (!in->signals[s].is_annotation)
                sel[k++] = s;
        if (method == ICTAL_BLOCKS) {
            /* What a streaming consumer does: blocks of records into one reused buffer. */
            int32_t spr = in->signals[sel[0]].samples_per_record;
            for (int i = 1; i < nd; i++)
                if (in->signals[sel[i]].samples_per_record != spr) {
                    free(sel);
                    ictal_edf_close(r);
                    return -1;
                }
            enum { BLOCK = 60 };
            float *frames = malloc((size_t)BLOCK * (size_t)spr * (size_t)nd * sizeof(float));
            for (int64_t rec = 0; rec < in->n_records; rec += BLOCK) {
                int64_t m = in->n_records - rec < BLOCK ? in->n_records - rec : BLOCK;
                if (ictal_edf_read_frames(r, rec, m, sel, nd, frames, NULL) != 0)
                    break;
                acc += frames[0];
                n_samples += m * spr * nd;
            }
            free(frames);
        } else if (method == ICTAL_FRAMES) {
            for (int i = 1; i < nd; i++)
                if (in->signals[sel[i]].samples_per_record !=
                    in->signals[sel[0]].samples_per_record) {
                    free(sel);
                    ictal_edf_close(r);
                    return -1; /* mixed rates: no interleaved frames */
                }
            size_t n = (size_t)in->signals[sel[0]].samples_per_record * (size_t)in->n_records *
                       (size_t)nd;
            float *frames = malloc(n * sizeof(float));
            if (ictal_edf_read_frames(r, 0, in->n_records, sel, nd, frames, NULL) != 0)
                n = 0;
            acc += n ? frames[n / 2] : 0;
            n_samples += (long long)n;
            free(frames);
        } else if (method == ICTAL_FLOAT) {
            float **out = malloc((size_t)nd * sizeof(float *));
            for (int i = 0; i < nd; i++) {
                size_t n = (size_t)in->signals[sel[i]].samples_per_record * (size_t)in->n_records;
                out[i] = malloc(n * sizeof(float));
                n_samples += (long long)n;
            }
            if (ictal_edf_read_float(r, 0, in->n_records, sel, nd, out, NULL) != 0)
                n_samples = 0;
            for (int i = 0; i < nd; i++) {
                acc += out[i][0];
                free(out[i]);
            }
            free(out);
        } else {
            for (int i = 0; i < nd; i++) {
                size_t n = (size_t)in->signals[sel[i]].samples_per_record * (size_t)in->n_records;
                double *buf = malloc(n * sizeof(double));
                size_t got = 0;
                ictal_edf_read_physical(r, sel[i], 0, n, buf, &got, NULL);
                acc += got ? buf[got / 2] : 0;
                n_samples += (long long)got;
                free(buf);
            }
        }
        free(sel);
        ictal_edf_close(r);
    }
    sink = acc;
    *samples = n_samples;
    return now_s() - t0;
}

static void bench_file(const char *label, const char *path, int runs)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("%s: %s absent, skipped\n", label, path);
        return;
    }
    double mb = (double)st.st_size / 1e6;
    printf("\n%s: %s (%.1f MB)\n", label, path, mb);
    printf("  %-24s %10s %10s %14s\n", "reader", "median_s", "MB/s", "Msamples/s");
    double med[N_METHODS];
    for (int m = 0; m < N_METHODS; m++) {
        double t[32];
        long long samples = 0;
        int ok = 1;
        for (int i = 0; i < runs && ok; i++)
            ok = (t[i] = run_once(path, m, &samples)) >= 0;
        if (!ok) {
            med[m] = -1;
            printf("  %-24s %10s\n", method_names[m], "cannot read");
            continue;
        }
        med[m] = median(t, runs);
        printf("  %-24s %10.4f %10.1f %14.1f\n", method_names[m], med[m], mb / med[m],
               (double)samples / med[m] / 1e6);
    }
    if (med[EDFLIB_PHYSICAL] > 0 && med[ICTAL_FLOAT] > 0)
        printf("  ratio EDFlib / ictal read_float: %.1fx;  EDFlib / ictal read_physical: "
               "%.1fx\n",
               med[EDFLIB_PHYSICAL] / med[ICTAL_FLOAT],
               med[EDFLIB_PHYSICAL] / med[ICTAL_PHYSICAL]);
}

/* 1 h, 18 channels at 256 Hz: the excerpt's first 18 channels, records repeated. */
static int make_hour_file(const char *src, const char *dst)
{
    ictal_edf *r = NULL;
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal_edf_open(&r, src, NULL, &d) != 0) {
        fprintf(stderr, "bench: %s: %s\n", src, d.message);
        return -1;
    }
    const ictal_edf_info *in = ictal_edf_get_info(r);
    enum { NS = 18 };
    if (in->n_data_signals < NS || in->signals[0].samples_per_record != 256) {
        ictal_edf_close(r);
        return -1;
    }
    ictal_edf_writer_signal ws[NS];
    int sel[NS];
    for (int s = 0; s < NS; s++) {
        memset(&ws[s], 0, sizeof(ws[s]));
        ws[s].label = in->signals[s].label;
        ws[s].rate_hz = 256;
        ws[s].physical_min = in->signals[s].physical_min;
        ws[s].physical_max = in->signals[s].physical_max;
        ws[s].unit = "uV";
        sel[s] = s;
    }
    int64_t nrec = in->n_records;
    float *frames = malloc((size_t)(nrec * 256 * NS) * sizeof(float));
    int rc = ictal_edf_read_frames(r, 0, nrec, sel, NS, frames, &d);
    ictal_edf_writer *w = NULL;
    if (rc == 0)
        rc = ictal_edf_writer_open(&w, dst, ws, NS, NULL, &d);
    for (int64_t i = 0; i < 3600 && rc == 0; i++)
        rc = ictal_edf_writer_push_frames(w, frames + (size_t)(i % nrec) * 256 * NS, 256, &d);
    if (w)
        ictal_edf_writer_close(w, &d);
    free(frames);
    ictal_edf_close(r);
    return rc;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1 || runs > 32)
        runs = 7;
    const char *src_dir = getenv("ICTAL_SOURCE_DIR") ? getenv("ICTAL_SOURCE_DIR") : ".";
    const char *shared = getenv("ICTAL_SHARED") ? getenv("ICTAL_SHARED") : "../shared";
    char src[1024], hour[256], path[1024];
    snprintf(src, sizeof(src), "%s/data/chb05_06_excerpt.edf", src_dir);
    snprintf(hour, sizeof(hour), "/tmp/ictal_bench_1h_%d.edf", (int)getpid());
    printf("EDF read benchmark: median of %d runs, warm page cache; every sample of every "
           "data signal, file opened and closed each run\n", runs);
    if (make_hour_file(src, hour) == 0) {
        bench_file("1 h, 18 ch, 256 Hz EDF+C (from chb05_06 excerpt)", hour, runs);
        unlink(hour);
    } else {
        fprintf(stderr, "bench: could not make the 1 h file from %s\n", src);
    }
    bench_file("CHB-MIT chb05_06 excerpt, 23 ch, 181 s", src, runs);
    snprintf(path, sizeof(path), "%s/data/eegmat-rest/Subject00_1.edf", shared);
    bench_file("eegmat Subject00_1, 21 ch at 500 Hz, 182 s", path, runs);
    snprintf(path, sizeof(path), "%s/data/edf-reader-testdata/multiple_annotation_chans.bdf",
             shared);
    bench_file("BDF+C, 19 ch + 15 annotation signals, 247 s", path, runs);
    return 0;
}
