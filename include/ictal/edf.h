/*
 * ictal/edf.h - the EDF family: EDF, EDF+C, EDF+D, BDF, BDF+ (read), EDF+ (write).
 *
 * The domain, briefly (https://www.edfplus.info/specs/):
 *   - A file is a 256-byte fixed header, then 256 bytes per signal, then data records.
 *     Every record has the same layout: for each signal in turn, samples_per_record
 *     little-endian two's complement samples (EDF: 16 bits, BDF: 24 bits). A record
 *     lasts record_duration_s, so a signal's rate is samples_per_record / duration;
 *     signals may differ in rate.
 *   - Physical value = gain * digital + offset, with gain and offset from the header's
 *     physical and digital min/max. The physical unit is the signal's dimension ("uV",
 *     "mV", ...); ictal's float readers convert voltages to microvolts (µV).
 *   - EDF+ / BDF+ add annotation signals ("EDF Annotations" / "BDF Annotations") that
 *     hold TALs (time-stamped annotation lists). The first TAL of each record in the
 *     first annotation signal is the timekeeping TAL: the record's start time. EDF+C
 *     records are contiguous; EDF+D records may leave gaps, which ictal reports.
 *
 * Time origin. Every time in this API (record starts, annotation onsets, gaps, seek)
 * is in seconds from the START OF THE FIRST RECORD. The header's date and time have a
 * resolution of one second; EDF+ files may start later than that by a fraction given
 * in the first timekeeping TAL ("+0.5"); ictal folds that into info.start_subsecond_s
 * and info.start_iso, so that record 0 always starts at time 0.
 *
 * Real files deviate from the standard (bad padding, non-ASCII bytes, a record count
 * of -1, reserved fields without "EDF+C", ...). The reader accepts what MNE-Python and
 * EDFbrowser accept and reports each deviation once through ictal_diag_warn(); with
 * diag->strict set every such warning fails the open with ICTAL_ESTRICT. Malformed
 * input gets ICTAL_EFORMAT (or ICTAL_ETRUNC, ICTAL_ERANGE) with the field, byte offset,
 * record and signal filled in. docs/edf.md lists every error and warning.
 *
 * Memory and I/O. The reader keeps the header, one record start time per record (EDF+D
 * only: contiguous records start at rec * record_duration_s) and the annotations; data records are read on demand with
 * positioned reads (never the whole file). A reader is not thread-safe: use one per
 * thread (there is no global state, unlike EDFlib's table of 64 files).
 *
 * Part of ictal-io.
 */
#ifndef ICTAL_EDF_H
#define ICTAL_EDF_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Header information
 * ------------------------------------------------------------------------------------- */

typedef enum ictal_edf_format {
    ICTAL_EDF_FORMAT_EDF = 0, /* 16-bit samples, version "0" */
    ICTAL_EDF_FORMAT_BDF = 1  /* 24-bit samples, version "\xffBIOSEMI" */
} ictal_edf_format;

typedef enum ictal_edf_variant {
    ICTAL_EDF_VARIANT_PLAIN = 0, /* EDF or BDF without annotations ("+" absent) */
    ICTAL_EDF_VARIANT_PLUS_C = 1, /* EDF+C / BDF+C: contiguous */
    ICTAL_EDF_VARIANT_PLUS_D = 2  /* EDF+D / BDF+D: discontinuous, may have gaps */
} ictal_edf_variant;

/* Field sizes, with the terminating NUL. Header strings are trimmed of trailing spaces. */
#define ICTAL_EDF_LABEL_MAX 17
#define ICTAL_EDF_TRANSDUCER_MAX 81
#define ICTAL_EDF_DIMENSION_MAX 9
#define ICTAL_EDF_PREFILTER_MAX 81
#define ICTAL_EDF_IDENT_MAX 81   /* patient / recording identification */
#define ICTAL_EDF_ISO_MAX 40

typedef struct ictal_edf_signal {
    char label[ICTAL_EDF_LABEL_MAX];          /* "EEG Fp1-REF", "EDF Annotations" */
    char transducer[ICTAL_EDF_TRANSDUCER_MAX];
    char dimension[ICTAL_EDF_DIMENSION_MAX];  /* physical unit: "uV", "mV", "" */
    char prefilter[ICTAL_EDF_PREFILTER_MAX];
    double physical_min, physical_max;
    int32_t digital_min, digital_max;
    int32_t samples_per_record;
    double rate_hz;           /* samples_per_record / record_duration_s (0 if duration 0) */
    int is_annotation;        /* an EDF+/BDF+ annotation signal (no samples to scale) */
    double gain;              /* physical units per digital step */
    double offset;            /* physical = gain * digital + offset */
    double uv_per_unit;       /* µV per physical unit: 1 uV, 1e3 mV, 1e6 V, 1e-3 nV;
                                 1 when the unit is not a voltage (values stay physical) */
    int64_t byte_in_record;   /* where this signal's samples start inside a record */
} ictal_edf_signal;

/* One annotation (one text of a TAL). */
typedef struct ictal_edf_annotation {
    double onset_s;     /* from the start of the first record */
    double duration_s;  /* -1 when the TAL gives no duration */
    char *text;         /* UTF-8, NUL-terminated, owned by the reader */
    int signal;         /* annotation signal it came from */
    int64_t record;     /* record it came from */
} ictal_edf_annotation;

/* A gap in an EDF+D file: no data from start_s for duration_s seconds. */
typedef struct ictal_edf_gap {
    double start_s;       /* end of record before_record-1 */
    double duration_s;    /* > 0 */
    int64_t before_record; /* first record after the gap */
} ictal_edf_gap;

typedef struct ictal_edf_info {
    ictal_edf_format format;
    ictal_edf_variant variant;
    char patient[ICTAL_EDF_IDENT_MAX];     /* local patient identification, raw */
    char recording[ICTAL_EDF_IDENT_MAX];   /* local recording identification, raw */
    /* Start: header date and time plus the first record's TAL offset. */
    int year, month, day, hour, minute, second; /* year 1985-2084 per the EDF rule */
    double start_subsecond_s;              /* 0 <= x < 1 */
    char start_iso[ICTAL_EDF_ISO_MAX];     /* "2009-08-12T16:15:00" or "...:00.500" */

    int64_t header_bytes;                  /* 256 * (n_signals + 1) */
    int64_t record_bytes;                  /* bytes per data record */
    int64_t n_records;                     /* complete records readable */
    int64_t header_n_records;              /* as written in the header (-1 allowed) */
    double record_duration_s;              /* may be 0 for annotation-only files */
    double duration_s;                     /* end of the last record (gaps included) */
    int64_t truncated_bytes;               /* bytes of an incomplete last record, or 0 */

    int n_signals;                         /* all signals, annotation signals included */
    int n_data_signals;                    /* signals that are not annotation signals */
    const ictal_edf_signal *signals;       /* [n_signals] */

    size_t n_annotations;                  /* every text of every TAL except timekeeping */
    const ictal_edf_annotation *annotations; /* sorted by onset (stable) */

    size_t n_gaps;                         /* EDF+D only; 0 otherwise */
    const ictal_edf_gap *gaps;
} ictal_edf_info;

/* ---------------------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------------------- */

typedef struct ictal_edf ictal_edf;

typedef struct ictal_edf_options {
    /* Non-zero: do not scan the annotation signals at open (faster on huge files).
     * Record start times are then assumed contiguous and no annotations are read;
     * EDF+D files still get scanned for their timekeeping TALs. */
    int skip_annotations;
} ictal_edf_options;

/*
 * Opens a file and reads its header, every record's timekeeping TAL (EDF+D) and every
 * annotation. opt may be NULL. d may be NULL; set d->strict to make warnings errors.
 * d->source is set to path when NULL. On error *out is NULL.
 */
int ictal_edf_open(ictal_edf **out, const char *path, const ictal_edf_options *opt,
                   ictal_diag *d);

/* The same from a buffer the caller keeps alive until close (fuzzing, tests). */
int ictal_edf_open_memory(ictal_edf **out, const void *data, size_t size,
                          const ictal_edf_options *opt, ictal_diag *d);

/* Frees the reader (r may be NULL). */
void ictal_edf_close(ictal_edf *r);

/* Valid until ictal_edf_close(). */
const ictal_edf_info *ictal_edf_get_info(const ictal_edf *r);

/* Start of record rec in seconds (from the timekeeping TAL for EDF+, else
 * rec * record_duration_s). ICTAL_ENOENT when rec is out of range. */
int ictal_edf_record_start(const ictal_edf *r, int64_t rec, double *start_s);

/*
 * The record that holds time t_s, or when t_s falls in a gap the first record after
 * it; ICTAL_ENOENT when t_s is after the end (or negative). O(log n_records).
 */
int ictal_edf_find_time(const ictal_edf *r, double t_s, int64_t *rec);

/* Reads the raw bytes of one record (info.record_bytes) into buf. ICTAL_ETRUNC with
 * the record in d when the file ends inside it. */
int ictal_edf_read_record_raw(ictal_edf *r, int64_t rec, void *buf, size_t size,
                              ictal_diag *d);

/*
 * Physical values (header units, as doubles, like EDFlib's edfread_physical_samples)
 * of one data signal, n samples starting at sample index first (counted over the
 * records, gaps ignored). *n_read gets how many were read (fewer at the end). Reads
 * only the records that hold them.
 */
int ictal_edf_read_physical(ictal_edf *r, int signal, int64_t first, size_t n, double *out,
                            size_t *n_read, ictal_diag *d);

/* The same as digital values (raw integers). */
int ictal_edf_read_digital(ictal_edf *r, int signal, int64_t first, size_t n, int32_t *out,
                           size_t *n_read, ictal_diag *d);

/*
 * THE FAST PATH. Decodes records [first_record, first_record + n_records) of the
 * signals signals[0..n_sel) into float µV (gain, offset and uv_per_unit applied),
 * using large sequential reads and a tight conversion loop.
 *
 *   ictal_edf_read_float: out[k] receives n_records * samples_per_record of signal
 *     signals[k], contiguous (one array per signal). Signals may differ in rate.
 *   ictal_edf_read_frames: all selected signals must share samples_per_record (else
 *     ICTAL_EINVAL); frames receives n_records * samples_per_record frames of n_sel
 *     interleaved values (frame-major: frames[i * n_sel + k]), the layout libictal
 *     takes.
 *
 * signals == NULL selects every data signal in file order (n_sel then must equal
 * info.n_data_signals). Reading past n_records gives ICTAL_ENOENT; a short read
 * ICTAL_ETRUNC naming the record. Annotation signals cannot be selected.
 *
 * Speed: read blocks of records (say 60) into one reused buffer. A 1 h, 18-channel,
 * 256 Hz file then reads and converts in about 0.015 s (bench/bench_edf_read.c); one
 * call into freshly allocated whole-file arrays is ~3x slower, from page faults alone.
 */
int ictal_edf_read_float(ictal_edf *r, int64_t first_record, int64_t n_records,
                         const int *signals, int n_sel, float *const *out, ictal_diag *d);
int ictal_edf_read_frames(ictal_edf *r, int64_t first_record, int64_t n_records,
                          const int *signals, int n_sel, float *frames, ictal_diag *d);

/* Index of the first signal whose label equals label (exact, after trimming), or -1. */
int ictal_edf_find_signal(const ictal_edf *r, const char *label);

/* ---------------------------------------------------------------------------------------
 * TAL codec (time-stamped annotation lists), shared by the reader and the writer.
 *
 * A TAL is  +onset[\x15duration]\x14text\x14[text\x14...]\0  ; onset is signed
 * ("+12.5", "-0.25"), duration unsigned, texts UTF-8. An annotation signal of a record
 * holds TALs one after the other, then NUL padding.
 * ------------------------------------------------------------------------------------- */

typedef struct ictal_tal {
    double onset_s;       /* as written (relative to the header's start time) */
    double duration_s;    /* -1 when absent */
    const char *text;     /* points into the buffer; NOT NUL-terminated */
    size_t text_len;      /* 0 for the timekeeping entry */
    int first_in_tal;     /* non-zero for the first text of a TAL */
} ictal_tal;

typedef struct ictal_tal_iter {
    const uint8_t *buf;
    size_t size;
    size_t pos;           /* next byte to parse */
    size_t tal_start;     /* start of the current TAL */
    int in_tal;           /* between texts of one TAL */
    double onset_s, duration_s;
    int64_t base_offset;  /* byte offset of buf[0] in its file, for diagnostics */
} ictal_tal_iter;

void ictal_tal_iter_init(ictal_tal_iter *it, const void *buf, size_t size);

/*
 * Next text of the area: 1 with *out filled; 0 at the end (NUL padding or end of
 * buffer); ICTAL_EFORMAT on a malformed TAL (bad onset or duration, missing \x14 or
 * terminating NUL), with d->offset set to the byte offset inside the area. A TAL with
 * no text (the timekeeping TAL "+0\x14\x14\0") yields one entry with text_len 0.
 */
int ictal_tal_next(ictal_tal_iter *it, ictal_tal *out, ictal_diag *d);

/*
 * Encodes one TAL with texts[0..n_texts) (n_texts may be 0: a timekeeping TAL) into
 * buf. duration_s < 0 omits the duration. Returns the bytes written (the terminating
 * NUL included), ICTAL_ENOMEM when buf is too small, ICTAL_EINVAL when a text holds
 * a byte 0x00, 0x14 or 0x15. Times are written with up to
 * 7 decimals, trailing zeros removed.
 */
int ictal_tal_encode(char *buf, size_t size, double onset_s, double duration_s,
                     const char *const *texts, int n_texts);

/* ---------------------------------------------------------------------------------------
 * Streaming EDF+ writer
 *
 * Writes EDF+C (switching to EDF+D on the first gap) with 16-bit samples and one
 * "EDF Annotations" signal. The header is written at open with the record count "-1"
 * (which ictal's reader accepts, computing the count from the file size) and patched
 * every patch_every_records records and on close, so a file cut short by a crash is
 * readable up to its last complete record.
 * ------------------------------------------------------------------------------------- */

typedef struct ictal_edf_writer ictal_edf_writer;

typedef struct ictal_edf_writer_signal {
    const char *label;        /* <= 16 bytes */
    double rate_hz;           /* rate_hz * record_duration_s must be a whole number */
    double physical_min, physical_max; /* in unit; samples outside are clipped */
    int32_t digital_min, digital_max;  /* 0, 0: -32768, 32767 */
    const char *unit;         /* NULL: "uV" */
    const char *transducer;   /* may be NULL */
    const char *prefilter;    /* may be NULL */
} ictal_edf_writer_signal;

typedef struct ictal_edf_writer_options {
    double record_duration_s;     /* 0: 1 s */
    int year, month, day, hour, minute, second; /* start; year 0: 1985-01-01 00:00:00 */
    double start_subsecond_s;     /* 0 <= x < 1, written in the timekeeping TAL */
    const char *patient;          /* EDF+ patient field; NULL: "X X X X" */
    const char *recording;        /* text after "Startdate dd-MMM-yyyy"; NULL: "X X X" */
    int annotation_bytes;         /* bytes of TAL space per record; 0: 120 */
    int patch_every_records;      /* rewrite the record count every N records; 0: never
                                     (the count stays -1 until close) */
} ictal_edf_writer_options;

/* Creates path (truncating it) and writes the header. opt may be NULL. */
int ictal_edf_writer_open(ictal_edf_writer **out, const char *path,
                          const ictal_edf_writer_signal *signals, int n_signals,
                          const ictal_edf_writer_options *opt, ictal_diag *d);

/*
 * Writes one record starting at start_s (seconds from the start; < 0 or NaN: right
 * after the previous record). samples[i] holds rate_hz * record_duration_s values of
 * signal i in its unit (µV for EEG), quantised to the digital range. A start later
 * than the previous record's end makes the file EDF+D; an earlier one is ICTAL_EINVAL.
 */
int ictal_edf_writer_write_record(ictal_edf_writer *w, double start_s,
                                  const float *const *samples, ictal_diag *d);

/*
 * Appends n_frames interleaved frames (n_signals values each) when every signal has
 * the same rate; whole records are written as they fill. A partial record is kept
 * until more frames come (or padded with zeros by close).
 */
int ictal_edf_writer_push_frames(ictal_edf_writer *w, const float *frames, size_t n_frames,
                                 ictal_diag *d);

/*
 * Queues an annotation (onset from the start of the file, duration_s < 0 for none,
 * UTF-8 text). It is written into the next record's annotation signal; annotations
 * still queued at close go into free TAL space of records already written.
 */
int ictal_edf_writer_annotate(ictal_edf_writer *w, double onset_s, double duration_s,
                              const char *text, ictal_diag *d);

/* Records written so far. */
int64_t ictal_edf_writer_records(const ictal_edf_writer *w);

/* Flushes a partial record (zero-padded), writes queued annotations, patches the
 * record count, closes the file and frees w, even on error (w may be NULL: 0). Returns
 * the first error met. */
int ictal_edf_writer_close(ictal_edf_writer *w, ictal_diag *d);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_EDF_H */
