/*
 * Streaming EDF+ writer and TAL codec: real EEG (the bundled CHB-MIT excerpt) written,
 * then read back with ictal's reader and with EDFlib: the same samples within one
 * quantisation step and the same annotations; EDF+D on a gap; a file cut short while
 * being written stays readable up to its last complete record.
 */
#include "edf_test_util.h"

static char tmp_path[256];

static const char *tmp(const char *name)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/ictal_test_write_%d_%s", (int)getpid(), name);
    return tmp_path;
}

static void test_tal_codec(void)
{
    char buf[128];
    const char *texts[2] = {"seizure", "Anfall \xc3\xbc"};
    int n = ictal_tal_encode(buf, sizeof(buf), 37.5, 115, texts, 2);
    CHECK_EQ_INT(n, (int)strlen("+37.5\x15" "115\x14seizure\x14" "Anfall \xc3\xbc\x14") + 1);
    CHECK(memcmp(buf, "+37.5\x15" "115\x14seizure\x14", 18) == 0);
    n = ictal_tal_encode(buf, sizeof(buf), 0, -1, NULL, 0);
    CHECK_EQ_INT(n, 5);
    CHECK(memcmp(buf, "+0\x14\x14\0", 5) == 0);
    n = ictal_tal_encode(buf, sizeof(buf), -0.25, -1, texts, 1);
    CHECK(memcmp(buf, "-0.25\x14seizure\x14\0", 15) == 0);
    CHECK_EQ_INT(ictal_tal_encode(buf, 6, 37.5, 115, texts, 1), ICTAL_ENOMEM);
    const char *bad[1] = {"a\x14" "b"};
    CHECK_EQ_INT(ictal_tal_encode(buf, sizeof(buf), 1, -1, bad, 1), ICTAL_EINVAL);

    /* Parse: timekeeping + a TAL with two texts, then padding. */
    const char area[] = "+3\x14\x14\0+3.25\x15" "1.5\x14" "a\x14" "bb\x14\0\0\0";
    ictal_tal_iter it;
    ictal_tal t;
    ictal_tal_iter_init(&it, area, sizeof(area));
    CHECK_EQ_INT(ictal_tal_next(&it, &t, NULL), 1);
    CHECK(t.first_in_tal && t.text_len == 0);
    CHECK_NEAR(t.onset_s, 3, 0);
    CHECK_EQ_INT(ictal_tal_next(&it, &t, NULL), 1);
    CHECK_NEAR(t.onset_s, 3.25, 1e-12);
    CHECK_NEAR(t.duration_s, 1.5, 1e-12);
    CHECK(t.text_len == 1 && t.text[0] == 'a' && t.first_in_tal);
    CHECK_EQ_INT(ictal_tal_next(&it, &t, NULL), 1);
    CHECK(t.text_len == 2 && !t.first_in_tal);
    CHECK_EQ_INT(ictal_tal_next(&it, &t, NULL), 0);

    /* Malformed: each names its byte. */
    struct {
        const char *s;
        size_t n;
        int64_t at;
    } cases[] = {
        {"3\x14\x14\0", 4, 0},           /* no sign */
        {"+x\x14\x14\0", 5, 1},          /* no digits */
        {"+1\x15\x14" "a\x14\0", 7, 3},  /* empty duration */
        {"+1 a\x14\0", 6, 2},            /* no 0x14 after the onset */
        {"+1\x14" "abc", 6, 3},          /* unterminated text */
        {"+1\x14" "ab\0", 6, 5},         /* NUL before 0x14 */
        {"+1\x14" "ab\x14", 6, 0},       /* no NUL after the TAL */
        {"+1.2.3\x14\x14\0", 9, 1},      /* two dots */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ictal_diag d;
        ictal_diag_init(&d);
        ictal_tal_iter_init(&it, cases[i].s, cases[i].n);
        it.base_offset = 1000;
        int rc;
        while ((rc = ictal_tal_next(&it, &t, &d)) == 1)
            ;
        CHECK_MSG(rc == ICTAL_EFORMAT, "case %zu: rc %d", i, rc);
        CHECK_MSG(d.offset >= 1000 && d.offset <= 1000 + cases[i].at + 3,
                  "case %zu: offset %lld", i, (long long)d.offset);
        CHECK_STR(d.field, "TAL");
    }
}

/* Signals of the source file as writer signals (same labels and ranges). */
static ictal_edf_writer_signal *writer_signals(const ictal_edf_info *in, int *n)
{
    ictal_edf_writer_signal *ws = calloc((size_t)in->n_signals, sizeof(*ws));
    int k = 0;
    for (int s = 0; s < in->n_signals; s++) {
        const ictal_edf_signal *g = &in->signals[s];
        if (g->is_annotation)
            continue;
        ws[k].label = g->label;
        ws[k].rate_hz = g->rate_hz;
        ws[k].physical_min = g->physical_min * g->uv_per_unit;
        ws[k].physical_max = g->physical_max * g->uv_per_unit;
        ws[k].unit = "uV";
        k++;
    }
    *n = k;
    return ws;
}

static void test_round_trip(const char *src)
{
    ictal_diag d;
    ictal_diag_init(&d);
    ictal_edf *r = NULL;
    CHECK_EQ_INT(ictal_edf_open(&r, src, NULL, &d), 0);
    if (r == NULL)
        return;
    const ictal_edf_info *in = ictal_edf_get_info(r);
    int ns = 0;
    ictal_edf_writer_signal *ws = writer_signals(in, &ns);
    int spr = in->signals[0].samples_per_record;
    int64_t nrec = in->n_records;
    float *frames = malloc((size_t)(nrec * spr * ns) * sizeof(float));
    CHECK_EQ_INT(ictal_edf_read_frames(r, 0, nrec, NULL, ns, frames, &d), 0);

    ictal_edf_writer_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.year = 2021;
    opt.month = 6;
    opt.day = 30;
    opt.hour = 23;
    opt.minute = 59;
    opt.second = 58;
    opt.start_subsecond_s = 0.25;
    const char *out = tmp("round.edf");
    ictal_edf_writer *w = NULL;
    CHECK_EQ_INT(ictal_edf_writer_open(&w, out, ws, ns, &opt, &d), 0);
    if (w == NULL)
        return;
    CHECK_EQ_INT(ictal_edf_writer_annotate(w, 37, 115, "seizure", &d), 0);
    CHECK_EQ_INT(ictal_edf_writer_annotate(w, 12.5, -1, "Anfall \xc3\xbc", &d), 0);
    /* Pushed in uneven chunks, as a device would. */
    size_t total = (size_t)(nrec * spr), pos = 0, chunk = 77;
    while (pos < total) {
        size_t m = total - pos < chunk ? total - pos : chunk;
        CHECK_EQ_INT(ictal_edf_writer_push_frames(w, frames + pos * (size_t)ns, m, &d), 0);
        pos += m;
        chunk = chunk == 77 ? 300 : 77;
    }
    /* An annotation after the last record: placed in free space at close. */
    CHECK_EQ_INT(ictal_edf_writer_annotate(w, 180.5, 0.5, "end marker", &d), 0);
    CHECK_EQ_INT(ictal_edf_writer_records(w), nrec);
    CHECK_EQ_INT(ictal_edf_writer_close(w, &d), 0);

    /* ictal reads it back. */
    ictal_edf *b = NULL;
    ictal_diag_init(&d);
    d.strict = 1;
    CHECK_EQ_INT(ictal_edf_open(&b, out, NULL, &d), 0);
    if (b != NULL) {
        const ictal_edf_info *bi = ictal_edf_get_info(b);
        CHECK_EQ_INT(bi->n_records, nrec);
        CHECK_EQ_INT(bi->n_data_signals, ns);
        CHECK_EQ_INT(bi->variant, ICTAL_EDF_VARIANT_PLUS_C);
        CHECK_NEAR(bi->start_subsecond_s, 0.25, 1e-9);
        CHECK_STR(bi->start_iso, "2021-06-30T23:59:58.25");
        float *back = malloc((size_t)(nrec * spr * ns) * sizeof(float));
        CHECK_EQ_INT(ictal_edf_read_frames(b, 0, nrec, NULL, ns, back, &d), 0);
        int bad = 0;
        for (int s = 0; s < ns; s++) {
            double step = (ws[s].physical_max - ws[s].physical_min) / 65535.0;
            for (size_t i = 0; i < total; i++)
                if (fabs(back[i * (size_t)ns + (size_t)s] - frames[i * (size_t)ns + (size_t)s]) >
                    step * 1.0001)
                    bad++;
        }
        CHECK_EQ_INT(bad, 0);
        free(back);
        CHECK_EQ_INT(bi->n_annotations, 3);
        if (bi->n_annotations == 3) {
            CHECK_STR(bi->annotations[0].text, "Anfall \xc3\xbc");
            CHECK_NEAR(bi->annotations[0].onset_s, 12.5, 1e-7);
            CHECK_NEAR(bi->annotations[0].duration_s, -1, 0);
            CHECK_STR(bi->annotations[1].text, "seizure");
            CHECK_NEAR(bi->annotations[1].onset_s, 37, 1e-7);
            CHECK_NEAR(bi->annotations[1].duration_s, 115, 1e-7);
            CHECK_STR(bi->annotations[2].text, "end marker");
            CHECK_NEAR(bi->annotations[2].onset_s, 180.5, 1e-7);
        }
        ictal_edf_close(b);
    }

    /* EDFlib reads it too, and agrees with ictal on every field and sample. */
    CHECK_MSG(util_compare_with_edflib(out, out), "EDFlib refused the written file");
    struct edf_hdr_struct h;
    if (edfopen_file_readonly(out, &h, EDFLIB_READ_ALL_ANNOTATIONS) == 0) {
        CHECK_EQ_INT(h.annotations_in_file, 3);
        CHECK_EQ_INT(h.starttime_subsecond, 2500000);
        /* Samples within one quantisation step of the source, via EDFlib. */
        double *buf = malloc((size_t)(nrec * spr) * sizeof(double));
        int bad = 0;
        for (int s = 0; s < ns; s++) {
            double step = (ws[s].physical_max - ws[s].physical_min) / 65535.0;
            CHECK_EQ_INT(edfread_physical_samples(h.handle, s, (int)(nrec * spr), buf),
                         nrec * spr);
            for (size_t i = 0; i < total; i++)
                if (fabs(buf[i] - frames[i * (size_t)ns + (size_t)s]) > step * 1.0001)
                    bad++;
        }
        CHECK_EQ_INT(bad, 0);
        free(buf);
        edfclose_file(h.handle);
    }
    unlink(out);
    free(frames);
    free(ws);
    ictal_edf_close(r);
}

static void test_gap_and_crash(void)
{
    ictal_edf_writer_signal sig[2] = {
        {"EEG Fp1", 256, -3276.8, 3276.7, 0, 0, "uV", NULL, NULL},
        {"ECG", 128, -5, 5, -2048, 2047, "mV", "AgCl", "HP:0.1Hz"},
    };
    ictal_diag d;
    ictal_diag_init(&d);
    const char *out = tmp("gap.edf");
    char path[256];
    snprintf(path, sizeof(path), "%s", out);
    ictal_edf_writer *w = NULL;
    CHECK_EQ_INT(ictal_edf_writer_open(&w, path, sig, 2, NULL, &d), 0);
    if (w == NULL)
        return;
    float a[256], b[128];
    for (int i = 0; i < 256; i++)
        a[i] = (float)(100 * sin(i * 0.1));
    for (int i = 0; i < 128; i++)
        b[i] = (float)(0.5 * cos(i * 0.2));
    const float *rec[2] = {a, b};
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(ictal_edf_writer_write_record(w, -1, rec, &d), 0);
    CHECK_EQ_INT(ictal_edf_writer_annotate(w, 15, -1, "after gap", &d), 0);
    for (int i = 15; i < 20; i++)
        CHECK_EQ_INT(ictal_edf_writer_write_record(w, i, rec, &d), 0);
    CHECK_EQ_INT(ictal_edf_writer_write_record(w, 3, rec, &d), ICTAL_EINVAL);

    /* "Crash" now: copy what is on disk, before close. */
    size_t n;
    uint8_t *snap = util_read_file(path, &n);
    CHECK(snap != NULL && n > 0);
    CHECK_EQ_INT(ictal_edf_writer_close(w, &d), 0);

    ictal_edf *r = NULL;
    ictal_diag_init(&d);
    d.strict = 1;
    CHECK_EQ_INT(ictal_edf_open(&r, path, NULL, &d), 0);
    if (r) {
        const ictal_edf_info *in = ictal_edf_get_info(r);
        CHECK_EQ_INT(in->variant, ICTAL_EDF_VARIANT_PLUS_D);
        CHECK_EQ_INT(in->n_records, 15);
        CHECK_EQ_INT(in->n_gaps, 1);
        if (in->n_gaps == 1) {
            CHECK_NEAR(in->gaps[0].start_s, 10, 1e-9);
            CHECK_NEAR(in->gaps[0].duration_s, 5, 1e-9);
            CHECK_EQ_INT(in->gaps[0].before_record, 10);
        }
        CHECK_NEAR(in->duration_s, 20, 1e-9);
        double t;
        CHECK_EQ_INT(ictal_edf_record_start(r, 12, &t), 0);
        CHECK_NEAR(t, 17, 1e-9);
        int64_t k;
        CHECK_EQ_INT(ictal_edf_find_time(r, 12.0, &k), 0); /* in the gap: next record */
        CHECK_EQ_INT(k, 10);
        CHECK_EQ_INT(ictal_edf_find_time(r, 16.5, &k), 0);
        CHECK_EQ_INT(k, 11);
        CHECK_STR(in->signals[1].dimension, "mV");
        CHECK_STR(in->signals[1].prefilter, "HP:0.1Hz");
        CHECK_NEAR(in->signals[1].uv_per_unit, 1000, 0);
        CHECK_EQ_INT(in->n_annotations, 1);
        double x[128];
        size_t got;
        CHECK_EQ_INT(ictal_edf_read_physical(r, 1, 128 * 12, 128, x, &got, &d), 0);
        CHECK_EQ_INT(got, 128);
        CHECK_NEAR(x[10], b[10], 10.0 / 4095 + 1e-9);
        ictal_edf_close(r);
    }
    /* EDFlib does not read EDF+D. */
    struct edf_hdr_struct h;
    CHECK(edfopen_file_readonly(path, &h, EDFLIB_READ_ALL_ANNOTATIONS) != 0);

    /* The crash snapshot: count "-1"; ictal reads all 15 records with a warning. */
    CHECK(memcmp(snap + 236, "-1      ", 8) == 0);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_edf_open_memory(&r, snap, n, NULL, &d), 0);
    if (r) {
        CHECK_EQ_INT(ictal_edf_get_info(r)->n_records, 15);
        CHECK_EQ_INT(d.n_warnings, 1);
        ictal_edf_close(r);
    }
    ictal_diag_init(&d);
    d.strict = 1;
    CHECK_EQ_INT(ictal_edf_open_memory(&r, snap, n, NULL, &d), ICTAL_ESTRICT);
    CHECK_STR(d.field, "number of data records");
    /* Cut inside record 13: records 0..12 are read, the truncation reported. */
    int64_t rb = 2 * (256 + 128) + 120;
    size_t cut = (size_t)(256 * 4 + 13 * rb + 100);
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_edf_open_memory(&r, snap, cut, NULL, &d), 0);
    if (r) {
        const ictal_edf_info *in = ictal_edf_get_info(r);
        CHECK_EQ_INT(in->n_records, 13);
        CHECK_EQ_INT(in->truncated_bytes, 100);
        CHECK_EQ_INT(d.n_warnings, 2);
        CHECK_EQ_INT(in->n_gaps, 1);
        float *o[2];
        float fa[13 * 256], fb[13 * 128];
        o[0] = fa;
        o[1] = fb;
        CHECK_EQ_INT(ictal_edf_read_float(r, 0, 13, NULL, 2, o, &d), 0);
        CHECK_NEAR(fa[256 * 12 + 5], a[5], 0.05);
        CHECK_NEAR(fb[128 * 12 + 5], b[5] * 1000, 10000.0 / 4095);
        CHECK_EQ_INT(ictal_edf_read_float(r, 0, 14, NULL, 2, o, &d), ICTAL_ENOENT);
        CHECK_EQ_INT(d.record, 13); /* the first record the file does not have */
        /* A range whose end overflows int64 is refused, not wrapped. */
        CHECK_EQ_INT(ictal_edf_read_float(r, 5, INT64_MAX, NULL, 2, o, &d), ICTAL_ENOENT);
        CHECK_EQ_INT(ictal_edf_read_float(r, INT64_MAX, 2, NULL, 2, o, &d), ICTAL_ENOENT);
        CHECK_EQ_INT(d.record, INT64_MAX);
        /* Interleaved frames need one rate; these signals have two. */
        CHECK_EQ_INT(ictal_edf_read_frames(r, 0, 1, NULL, 2, fa, &d), ICTAL_EINVAL);
        int ecg = 1;
        CHECK_EQ_INT(ictal_edf_read_frames(r, 12, 1, &ecg, 1, fa, &d), 0);
        CHECK_NEAR(fa[5], fb[128 * 12 + 5], 1e-3);
        int annot = 2;
        CHECK_EQ_INT(ictal_edf_read_float(r, 0, 1, &annot, 1, o, &d), ICTAL_EINVAL);
        CHECK_EQ_INT(ictal_edf_find_signal(r, "ECG"), 1);
        CHECK_EQ_INT(ictal_edf_find_signal(r, "EEG Fp2"), -1);
        ictal_edf_close(r);
    }
    free(snap);
    unlink(path);

    /* Periodic patching: after 7 records with patch_every 5 the header says 5. */
    ictal_diag_init(&d);
    ictal_edf_writer_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.patch_every_records = 5;
    CHECK_EQ_INT(ictal_edf_writer_open(&w, path, sig, 2, &opt, &d), 0);
    for (int i = 0; i < 7 && w; i++)
        CHECK_EQ_INT(ictal_edf_writer_write_record(w, -1, rec, &d), 0);
    snap = util_read_file(path, &n);
    CHECK(snap != NULL && memcmp(snap + 236, "5       ", 8) == 0);
    free(snap);
    CHECK_EQ_INT(ictal_edf_writer_close(w, &d), 0);
    snap = util_read_file(path, &n);
    CHECK(snap != NULL && memcmp(snap + 236, "7       ", 8) == 0);
    free(snap);
    unlink(path);

    /* Bad writer arguments. */
    ictal_edf_writer_signal odd = {"X", 100.5, -1, 1, 0, 0, NULL, NULL, NULL};
    CHECK_EQ_INT(ictal_edf_writer_open(&w, path, &odd, 1, NULL, &d), ICTAL_EINVAL);
    ictal_edf_writer_signal flat = {"X", 100, 1, 1, 0, 0, NULL, NULL, NULL};
    CHECK_EQ_INT(ictal_edf_writer_open(&w, path, &flat, 1, NULL, &d), ICTAL_EINVAL);
}

int main(void)
{
    test_tal_codec();
    char src[1024];
    snprintf(src, sizeof(src), "%s/data/chb05_06_excerpt.edf",
             getenv("ICTAL_SOURCE_DIR") ? getenv("ICTAL_SOURCE_DIR") : "..");
    test_round_trip(src);
    test_round_trip(test_fixture_path("edf/test_bdf_stim_channel.bdf"));
    test_gap_and_crash();
    return test_summary();
}
