/* `ictal detect` on an EDF+D file with a real gap: the chb05_06 excerpt written as two
 * stretches (0-100 s and 100-181 s of the excerpt, the second placed 60 s later). The
 * detector must start afresh after the gap: no event spans it, the hops of each stretch
 * are counted separately (settling again after the gap), and the result for the first
 * stretch equals a detection run on that stretch alone. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/edf.h"
#include "test.h"

static int write_edf(const char *path, const ictal_edf_info *in, const float *fr, int nsig,
                     int spr, int rec_from, int rec_to, double shift_from, double shift_s)
{
    ictal_edf_writer_signal sig[64];
    for (int s = 0; s < nsig; s++) {
        memset(&sig[s], 0, sizeof sig[s]);
        sig[s].label = in->signals[s].label;
        sig[s].rate_hz = in->signals[s].rate_hz;
        sig[s].physical_min = in->signals[s].physical_min;
        sig[s].physical_max = in->signals[s].physical_max;
        sig[s].digital_min = in->signals[s].digital_min;
        sig[s].digital_max = in->signals[s].digital_max;
    }
    ictal_diag d;
    ictal_diag_init(&d);
    ictal_edf_writer *w;
    if (ictal_edf_writer_open(&w, path, sig, nsig, NULL, &d) != 0)
        return -1;
    float *chan = malloc(sizeof(float) * (size_t)nsig * (size_t)spr);
    const float *rows[64];
    for (int rec = rec_from; rec < rec_to; rec++) {
        for (int s = 0; s < nsig; s++) {
            for (int i = 0; i < spr; i++)
                chan[s * spr + i] = fr[((size_t)rec * (size_t)spr + (size_t)i) * (size_t)nsig + (size_t)s];
            rows[s] = chan + s * spr;
        }
        double start = rec + (rec >= shift_from ? shift_s : 0.0) - rec_from;
        if (ictal_edf_writer_write_record(w, start, rows, &d) != 0)
            return -1;
    }
    free(chan);
    return ictal_edf_writer_close(w, &d);
}

static json_t *detect(const char *ictal, const char *edf, const char *dir)
{
    char cmd[8192], base[1024], js[4096];
    snprintf(cmd, sizeof cmd, "'%s' detect '%s' --format json --quiet --out '%s'", ictal, edf, dir);
    if (system(cmd) != 0)
        return NULL;
    const char *b = strrchr(edf, '/');
    snprintf(base, sizeof base, "%s", b ? b + 1 : edf);
    char *dot = strrchr(base, '.');
    if (dot)
        *dot = '\0';
    snprintf(js, sizeof js, "%s/%s_detections.json", dir, base);
    return json_load_file(js, 0, NULL);
}

int main(void)
{
    const char *src = getenv("ICTAL_SOURCE_DIR"), *ictal = getenv("ICTAL");
    if (src == NULL || ictal == NULL)
        TEST_SKIP("needs ICTAL and ICTAL_SOURCE_DIR (run through ctest)");
    char path[4096];
    snprintf(path, sizeof path, "%s/data/chb05_06_excerpt.edf", src);
    ictal_diag d;
    ictal_diag_init(&d);
    ictal_edf *r;
    CHECK_EQ_INT(ictal_edf_open(&r, path, NULL, &d), 0);
    const ictal_edf_info *in = ictal_edf_get_info(r);
    int nsig = in->n_data_signals, spr = in->signals[0].samples_per_record;
    float *fr = malloc(sizeof(float) * (size_t)nsig * (size_t)spr * (size_t)in->n_records);
    CHECK_EQ_INT(ictal_edf_read_frames(r, 0, in->n_records, NULL, nsig, fr, &d), 0);

    char dir[] = "/tmp/ictal-gaps-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char gapped[4200], first[4200];
    snprintf(gapped, sizeof gapped, "%s/gapped.edf", dir);
    snprintf(first, sizeof first, "%s/first.edf", dir);
    CHECK_EQ_INT(write_edf(gapped, in, fr, nsig, spr, 0, (int)in->n_records, 100, 60.0), 0);
    CHECK_EQ_INT(write_edf(first, in, fr, nsig, spr, 0, 100, 1e9, 0.0), 0);

    /* The reader sees the gap. */
    ictal_edf *g;
    CHECK_EQ_INT(ictal_edf_open(&g, gapped, NULL, &d), 0);
    const ictal_edf_info *gi = ictal_edf_get_info(g);
    CHECK_EQ_INT(gi->variant, ICTAL_EDF_VARIANT_PLUS_D);
    CHECK_EQ_INT(gi->n_gaps, 1);
    CHECK_NEAR(gi->gaps[0].start_s, 100.0, 1e-6);
    CHECK_NEAR(gi->gaps[0].duration_s, 60.0, 1e-6);
    ictal_edf_close(g);

    json_t *jg = detect(ictal, gapped, dir), *jf = detect(ictal, first, dir);
    CHECK(jg != NULL && jf != NULL);
    if (jg && jf) {
        CHECK_EQ_INT(json_integer_value(json_object_get(jg, "gaps")), 1);
        CHECK_NEAR(json_number_value(json_object_get(jg, "duration_s")), 241.0, 1e-6);
        /* Hops: each stretch on its own (100 s and 81 s of data). */
        json_int_t hg = json_integer_value(json_object_get(jg, "hops"));
        json_int_t hf = json_integer_value(json_object_get(jf, "hops"));
        CHECK_EQ_INT(hf, 199);
        CHECK_EQ_INT(hg, 199 + 161);
        /* No event crosses the gap [100, 160]; the events before it are the same as
         * with the first stretch alone, except that the lone stretch ends its open
         * event at its own end. */
        json_t *eg = json_object_get(jg, "events"), *ef = json_object_get(jf, "events");
        size_t i;
        json_t *e;
        int crossing = 0, before = 0;
        json_array_foreach(eg, i, e) {
            double on = json_number_value(json_object_get(e, "onset_s"));
            double off = on + json_number_value(json_object_get(e, "duration_s"));
            crossing += on < 160.0 && off > 100.0 + 1e-6;
            before += off <= 100.0 + 1e-6;
        }
        CHECK_EQ_INT(crossing, 0);
        CHECK_EQ_INT(before, (int)json_array_size(ef));
        json_array_foreach(ef, i, e) {
            json_t *x = json_array_get(eg, i);
            CHECK(x != NULL);
            if (x) {
                CHECK_NEAR(json_number_value(json_object_get(x, "onset_s")),
                           json_number_value(json_object_get(e, "onset_s")), 1e-9);
                CHECK_NEAR(json_number_value(json_object_get(x, "alarm_s")),
                           json_number_value(json_object_get(e, "alarm_s")), 1e-9);
            }
        }
        printf("gapped: %lld hops, %zu events; first stretch alone: %lld hops, %zu events\n",
               (long long)hg, json_array_size(eg), (long long)hf, json_array_size(ef));
    }
    json_decref(jg);
    json_decref(jf);
    CHECK(test_remove_dir(dir) == 0);
    ictal_edf_close(r);
    free(fr);
    return test_summary();
}
