/*
 * Corrupted real files: each corruption of a committed fixture (a real MNE / PhysioNet
 * file) gives the error or warning that docs/edf.md documents, with its code and
 * location (field, byte offset, signal, record); none crashes (run under ASan+UBSan).
 * Warnings are checked twice: tolerated by default (with what is read), and turned
 * into ICTAL_ESTRICT at the same location in strict mode.
 */
#include "edf_test_util.h"

#define ANY -2 /* location field not checked */

typedef struct corruption {
    const char *name;
    const char *file;      /* fixture under tests/fixtures/edf */
    int64_t offset;        /* where to write bytes; with area_record >= 0 relative to the
                              annotation area of that record */
    const char *bytes;
    size_t len;            /* 0: strlen(bytes) */
    int64_t area_record;   /* -1: offset is absolute */
    int64_t truncate_to;   /* -1: keep the size */
    /* Expected in strict mode (and by default when warning == 0). */
    int code;
    const char *field;
    int64_t at;            /* diag offset, or ANY */
    int signal;            /* or ANY */
    int64_t record;        /* or ANY */
    int warning;           /* 1: a warning (read by default), 0: an error either way */
    int64_t records_read;  /* records read by default when warning, or ANY */
} corruption;

#define SUB "edf/subsecond_starttime.edf"
#define BDF "edf/test_bdf_stim_channel.bdf"
#define MB "edf/MB0400FU.EDF"
#define HYP "edf/SC4001EC-Hypnogram.edf"

/* subsecond_starttime.edf: 4 signals, header 1280 bytes, 5 records of 3110 bytes; the
 * annotation signal (3) is the last 38 bytes of each record. */
static const corruption cases[] = {
    {"version digit", SUB, 0, "1", 0, -1, -1, ICTAL_EFORMAT, "version", 0, -1, -1, 0, ANY},
    {"version padding", SUB, 3, "x", 0, -1, -1, ICTAL_ESTRICT, "version", 1, -1, -1, 1, 5},
    {"BDF magic broken", BDF, 1, "BIOSEMX", 0, -1, -1, ICTAL_EFORMAT, "version", 0, -1, -1, 0, ANY},
    {"start date letters", SUB, 168, "2x", 0, -1, -1, ICTAL_EFORMAT, "start date", 168, -1, -1, 0, ANY},
    {"start date month 13", SUB, 171, "13", 0, -1, -1, ICTAL_ERANGE, "start date", 168, -1, -1, 0, ANY},
    {"start time hour 25", SUB, 176, "25", 0, -1, -1, ICTAL_ERANGE, "start time", 176, -1, -1, 0, ANY},
    {"date separator", SUB, 170, ":", 0, -1, -1, ICTAL_ESTRICT, "start date", 168, -1, -1, 1, 5},
    {"header bytes vs signals", SUB, 184, "1536    ", 0, -1, -1, ICTAL_EFORMAT, "number of bytes in header", 184, -1, -1, 0, ANY},
    {"header bytes not a number", SUB, 184, "12x0    ", 0, -1, -1, ICTAL_EFORMAT, "number of bytes in header", 184, -1, -1, 0, ANY},
    {"signal count 0", SUB, 252, "0   ", 0, -1, -1, ICTAL_ERANGE, "number of signals", 252, -1, -1, 0, ANY},
    {"signal count not a number", SUB, 252, "four", 0, -1, -1, ICTAL_EFORMAT, "number of signals", 252, -1, -1, 0, ANY},
    {"signal count vs header size", SUB, 252, "5   ", 0, -1, -1, ICTAL_EFORMAT, "number of bytes in header", 184, -1, -1, 0, ANY},
    {"absurd signal count", SUB, 252, "9999", 0, -1, -1, ICTAL_ERANGE, "number of signals", 252, -1, -1, 0, ANY},
    {"record count -1", SUB, 236, "-1      ", 0, -1, -1, ICTAL_ESTRICT, "number of data records", 236, -1, -1, 1, 5},
    {"record count -7", SUB, 236, "-7      ", 0, -1, -1, ICTAL_ERANGE, "number of data records", 236, -1, -1, 0, ANY},
    {"record count too high", SUB, 236, "9       ", 0, -1, -1, ICTAL_ESTRICT, "number of data records", 1280 + 5 * 3110, -1, 5, 1, 5},
    {"record count too low", SUB, 236, "3       ", 0, -1, -1, ICTAL_ESTRICT, "number of data records", 1280 + 3 * 3110, -1, 3, 1, 3},
    {"record count not a number", SUB, 236, "1e3     ", 0, -1, -1, ICTAL_EFORMAT, "number of data records", 236, -1, -1, 0, ANY},
    {"negative duration", SUB, 244, "-1      ", 0, -1, -1, ICTAL_ERANGE, "duration of a data record", 244, -1, -1, 0, ANY},
    {"duration not a number", SUB, 244, "one     ", 0, -1, -1, ICTAL_EFORMAT, "duration of a data record", 244, -1, -1, 0, ANY},
    {"duration decimal comma", SUB, 244, "1,0     ", 0, -1, -1, ICTAL_ESTRICT, "duration of a data record", 244, -1, -1, 1, 5},
    {"control byte in label", SUB, 256 + 16 + 2, "\x01", 0, -1, -1, ICTAL_ESTRICT, "label", 256 + 16 + 2, 1, -1, 1, 5},
    {"physical minimum not a number", SUB, 672 + 8, "abc     ", 0, -1, -1, ICTAL_EFORMAT, "physical minimum", 680, 1, -1, 0, ANY},
    {"physical max = min", SUB, 704 + 16, "8711    ", 0, -1, -1, ICTAL_EFORMAT, "physical maximum", 720, 2, -1, 0, ANY},
    {"digital minimum beyond 16 bits", SUB, 736, "-40000  ", 0, -1, -1, ICTAL_ERANGE, "digital minimum", 736, 0, -1, 0, ANY},
    {"digital max below min", SUB, 768 + 8, "-32768  ", 0, -1, -1, ICTAL_EFORMAT, "digital maximum", 776, 1, -1, 0, ANY},
    {"digital maximum beyond 24 bits", BDF, 256 + 4 * 128, "9000000 ", 0, -1, -1, ICTAL_ERANGE, "digital maximum", 256 + 4 * 128, 0, -1, 0, ANY},
    {"zero samples per record", SUB, 1120, "0       ", 0, -1, -1, ICTAL_ERANGE, "number of samples in each data record", 1120, 0, -1, 0, ANY},
    {"absurd samples per record", SUB, 1120 + 8, "99999999", 0, -1, -1, ICTAL_ERANGE, "number of samples in each data record", 1128, 1, -1, 0, ANY},
    {"samples per record vs file size", BDF, 256 + 4 * 216, "400     ", 0, -1, -1, ICTAL_ESTRICT, "number of data records", 1280 + 10 * 5700, -1, 10, 1, 10},
    {"truncated last record", SUB, 0, "", 0, -1, 1280 + 3 * 3110 + 1000, ICTAL_ESTRICT, "number of data records", 1280 + 3 * 3110, -1, 3, 1, 3},
    {"truncated header", SUB, 0, "", 0, -1, 600, ICTAL_ETRUNC, "number of signals", 252, -1, -1, 0, ANY},
    {"shorter than 256 bytes", SUB, 0, "", 0, -1, 100, ICTAL_ETRUNC, "version", 100, -1, -1, 0, ANY},
    {"empty file", SUB, 0, "", 0, -1, 0, ICTAL_ETRUNC, "version", 0, -1, -1, 0, ANY},
    {"unterminated TAL", SUB, 12, "xxxxxxxxxxxxxxxxxxxxxxxxxx", 0, 2, -1, ICTAL_EFORMAT, "TAL", ANY, 3, 2, 0, ANY},
    {"TAL without sign", SUB, 0, "x", 0, 1, -1, ICTAL_EFORMAT, "TAL", 0, 3, 1, 0, ANY},
    {"TAL text without 0x14", SUB, 21, "\0", 1, 0, -1, ICTAL_EFORMAT, "TAL", ANY, 3, 0, 0, ANY},
    {"EDF+C record time jump", SUB, 0, "+7.3945312", 0, 2, -1, ICTAL_ESTRICT, "TAL", 0, 3, 2, 1, 5},
    {"no timekeeping TAL (EDF+C)", SUB, 11, "x\x14", 0, 2, -1, ICTAL_ESTRICT, "TAL", 0, 3, 2, 1, 5},
    {"EDF+D record before the previous end", MB, 0, "+3.000000", 0, 5, -1, ICTAL_EFORMAT, "TAL", 0, 25, 5, 0, ANY},
    {"EDF+D record without timekeeping TAL", MB, 10, "y\x14", 0, 4, -1, ICTAL_EFORMAT, "TAL", 0, 25, 4, 0, ANY},
    {"annotation text not UTF-8", SUB, 24, "\xff", 0, 0, -1, ICTAL_ESTRICT, "TAL", ANY, 3, 0, 1, 5},
    {"EDF+ without annotation signal", SUB, 256 + 3 * 16, "EDF Annotationz", 0, -1, -1, ICTAL_ESTRICT, "reserved", 192, -1, -1, 1, 5},
    {"annotation signal in plain EDF", SUB, 192, "     ", 0, -1, -1, ICTAL_ESTRICT, "reserved", 192, -1, -1, 1, 5},
    {"first record late", SUB, 0, "+5.3945312", 0, 0, -1, ICTAL_ESTRICT, "TAL", ANY, 3, ANY, 1, 5},
    {"annotation signal digital range", SUB, 736 + 24, "-100    ", 0, -1, -1, ICTAL_ESTRICT, "digital minimum", 760, 3, -1, 1, 5},
    {"annotation signal transducer", SUB, 320 + 3 * 80, "AgCl", 0, -1, -1, ICTAL_ESTRICT, "transducer type", 560, 3, -1, 1, 5},
    {"hypnogram TAL duration broken", HYP, 7, "x", 0, 0, -1, ICTAL_EFORMAT, "TAL", ANY, 0, 0, 0, ANY},
};

static int64_t annot_area(const uint8_t *file, size_t size, int64_t rec)
{
    ictal_edf *r = NULL;
    int64_t off = -1;
    if (ictal_edf_open_memory(&r, file, size, NULL, NULL) == 0) {
        const ictal_edf_info *in = ictal_edf_get_info(r);
        for (int s = 0; s < in->n_signals; s++)
            if (in->signals[s].is_annotation) {
                off = in->header_bytes + rec * in->record_bytes + in->signals[s].byte_in_record;
                break;
            }
        ictal_edf_close(r);
    }
    return off;
}

static void run(const corruption *c)
{
    size_t size;
    uint8_t *orig = util_read_file(test_fixture_path(c->file), &size);
    CHECK_MSG(orig != NULL, "fixture %s missing", c->file);
    if (orig == NULL)
        return;
    int64_t off = c->offset, at = c->at;
    if (c->area_record >= 0) {
        int64_t area = annot_area(orig, size, c->area_record);
        off += area;
        if (at != ANY)
            at += area;
    }
    size_t len = c->len ? c->len : strlen(c->bytes);
    CHECK((size_t)off + len <= size);
    memcpy(orig + off, c->bytes, len);
    if (c->truncate_to >= 0)
        size = (size_t)c->truncate_to;
    /* An exact-size copy, so that ASan sees any read past the end. */
    uint8_t *data = malloc(size ? size : 1);
    memcpy(data, orig, size);
    free(orig);

    for (int strict = 1; strict >= 0; strict--) {
        ictal_diag d;
        ictal_diag_init(&d);
        d.strict = strict;
        ictal_edf *r = NULL;
        int rc = ictal_edf_open_memory(&r, data, size, NULL, &d);
        if (strict || !c->warning) {
            int want = c->code;
            CHECK_MSG(rc == want, "%s%s: rc %d (%s), want %d", c->name, strict ? " (strict)" : "",
                      rc, d.message, want);
            CHECK_MSG(d.field != NULL && c->field != NULL && strcmp(d.field, c->field) == 0,
                      "%s: field '%s', want '%s' (%s)", c->name, d.field ? d.field : "(null)",
                      c->field, d.message);
            if (at != ANY)
                CHECK_MSG(d.offset == at, "%s: offset %lld, want %lld", c->name,
                          (long long)d.offset, (long long)at);
            if (c->signal != ANY)
                CHECK_MSG(d.signal == c->signal, "%s: signal %d, want %d", c->name, d.signal,
                          c->signal);
            if (c->record != ANY)
                CHECK_MSG(d.record == c->record, "%s: record %lld, want %lld", c->name,
                          (long long)d.record, (long long)c->record);
            CHECK(d.message[0] != '\0');
            CHECK(r == NULL);
        } else {
            CHECK_MSG(rc == 0, "%s (tolerant): rc %d (%s)", c->name, rc, d.message);
            CHECK_MSG(d.n_warnings >= 1, "%s: no warning", c->name);
            if (r != NULL) {
                const ictal_edf_info *in = ictal_edf_get_info(r);
                if (c->records_read != ANY)
                    CHECK_MSG(in->n_records == c->records_read, "%s: %lld records read", c->name,
                              (long long)in->n_records);
                /* Everything that is there can be read. */
                CHECK_EQ_INT(util_read_all_float(r, &d), 0);
            }
        }
        ictal_edf_close(r);
    }
    free(data);
}

int main(void)
{
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++)
        run(&cases[i]);
    printf("%zu corruptions checked\n", n);
    return test_summary();
}
