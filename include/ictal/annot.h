/*
 * ictal/annot.h - seizure annotations and the file formats researchers use.
 *
 * One in-memory form, ictal_annotations, for every format:
 *   - SzCORE / BIDS *_events.tsv (read, write): the columns onset, duration,
 *     eventType, confidence, channels, dateTime, recordingDuration; "n/a" for missing;
 *     a file with no seizure has one "bckg" row.
 *   - EDF+ annotations (TALs) (read, write), through ictal/edf.h.
 *   - PhysioNet WFDB annotation files (CHB-MIT *.edf.seizures) (read).
 *   - CHB-MIT *-summary.txt (read; one record at a time).
 *   - Siena Seizures-list-*.txt (read; clock times converted to seconds from the start
 *     of the recording).
 *   - TUSZ (Temple University Hospital Seizure Corpus) *.csv_bi, *.csv (v2.x) and
 *     *.tse_bi, *.tse (v1.x) (read).
 * Times are seconds from the start of the recording.
 *
 * Part of ictal-io. An ictal_annotations is caller-owned: ictal_annotations_init()
 * before first use, ictal_annotations_free() after (which leaves it empty and ready for
 * reuse). Readers append to it (events grow as needed), so one list can gather several
 * files. Errors and warnings go through ictal_diag (file, line). No global state: lists
 * and readers on different threads do not interact.
 */
#ifndef ICTAL_ANNOT_H
#define ICTAL_ANNOT_H

#include <stddef.h>

#include "ictal/edf.h"
#include "ictal/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ICTAL_EVENT_TYPE_MAX 32
#define ICTAL_EVENT_CHANNELS_MAX 256
#define ICTAL_DATETIME_MAX 40

typedef struct ictal_event {
    double onset_s;                          /* from the start of the recording */
    double duration_s;                       /* >= 0 */
    char event_type[ICTAL_EVENT_TYPE_MAX];   /* "sz", "sz_foc_ia", "bckg", or free text */
    double confidence;                       /* detector's confidence, NaN when n/a */
    char channels[ICTAL_EVENT_CHANNELS_MAX]; /* comma-separated labels, "" when n/a */
} ictal_event;

typedef struct ictal_annotations {
    ictal_event *events;                     /* [count], owned by the list */
    size_t count;
    size_t capacity;                         /* allocated events */
    double recording_duration_s;             /* NaN when unknown */
    char date_time[ICTAL_DATETIME_MAX];      /* ISO 8601 start, "" when unknown */
} ictal_annotations;

void ictal_annotations_init(ictal_annotations *a);
void ictal_annotations_free(ictal_annotations *a);
/* Appends a copy of *e. Returns 0 or ICTAL_ENOMEM. */
int ictal_annotations_add(ictal_annotations *a, const ictal_event *e);
/* Sorts events by onset, then duration (stable for equal keys). */
void ictal_annotations_sort(ictal_annotations *a);
/* Non-zero when the event type marks a seizure (SzCORE: it starts with "sz"). */
int ictal_event_is_seizure(const ictal_event *e);

/*
 * SzCORE / BIDS events TSV. A header row naming the seven columns (any order; unknown
 * extra columns are ignored with a warning), then one row per event, tab-separated.
 * Errors (with file, line and column): a missing column, a row with the wrong number
 * of fields, a non-numeric or negative onset, a negative duration, an event that ends
 * after recordingDuration, rows that disagree on recordingDuration, no rows at all.
 * The writer prints times with two decimals (as the reference's saveTsv) and writes
 * one "bckg" row when the list has no event. ictal_annot_parse_tsv reads text held in
 * memory (len bytes, need not be NUL-terminated; name is the source in diagnostics);
 * on error *a keeps the rows read so far.
 */
int ictal_annot_parse_tsv(const char *text, size_t len, const char *name, ictal_annotations *a,
                          ictal_diag *d);
int ictal_annot_read_tsv(const char *path, ictal_annotations *a, ictal_diag *d);
int ictal_annot_write_tsv(const char *path, const ictal_annotations *a, ictal_diag *d);

/* CHB-MIT summary file: the seizures of one record ("chb01_03.edf"; a path or the name
 * without ".edf" also match). A record not listed gives ICTAL_ENOENT; a listed record
 * without seizures gives 0 and no event. recording_duration_s is set when the summary
 * gives the file's start and end clock times (an end before the start, or written as
 * 24:xx:xx, is on the next day). Both "Seizure Start Time" and "Seizure 2 Start Time"
 * spellings are read; a seizure count that disagrees with the seizures listed, or a
 * seizure past the end of the file, is a warning. */
int ictal_annot_read_chbmit_summary(const char *path, const char *record,
                                    ictal_annotations *a, ictal_diag *d);

/* PhysioNet WFDB annotation file (.seizures): codes 32/33 are seizure onset/offset;
 * sample_rate_hz converts sample indices to seconds (256 for CHB-MIT). With
 * sample_rate_hz <= 0 the file's own "## time resolution: N" note gives it (an error
 * when there is none); when both are given and differ, the file's wins, with a warning. */
int ictal_annot_read_seizures(const char *path, double sample_rate_hz, ictal_annotations *a,
                              ictal_diag *d);

/* Siena Seizures-list-*.txt: the seizures of one record ("PN00-1.edf"), or of every
 * record when record is NULL (onsets then relative to each record's own start). The
 * list gives clock times (hh.mm.ss or hh:mm:ss); onsets are seconds from the record's
 * "Registration start time", across midnight. Siena lists only records with seizures:
 * a record not listed gives ICTAL_ENOENT. An end time that falls after the end of the
 * registration but would fit one hour earlier (PN00-3's "19.29.29" for 18.29.29) is
 * read as that, with a warning; one that fits no hour is clipped to the end of the
 * registration, with a warning. recording_duration_s is set for a single record. */
int ictal_annot_read_siena(const char *path, const char *record, ictal_annotations *a,
                           ictal_diag *d);

/*
 * The same readers on text or bytes already in memory (what the file readers call, and
 * what the fuzz targets drive). source names the input in diagnostics (may be NULL).
 * text need not be NUL-terminated; embedded NUL bytes are errors.
 */
int ictal_annot_parse_chbmit_summary(const char *text, size_t len, const char *source,
                                     const char *record, ictal_annotations *a, ictal_diag *d);
int ictal_annot_parse_seizures(const unsigned char *data, size_t len, const char *source,
                               double sample_rate_hz, ictal_annotations *a, ictal_diag *d);
int ictal_annot_parse_siena(const char *text, size_t len, const char *source,
                            const char *record, ictal_annotations *a, ictal_diag *d);

/*
 * TUSZ annotations of one recording, any of its four files (told apart by content):
 *   v2.x *.csv_bi / *.csv: "# key = value" header lines (version = csv_v1.0.0, bname,
 *     duration = 301.00 secs, montage_file), the header row
 *     "channel,start_time,stop_time,label,confidence", then one row per event:
 *     "TERM,0.0000,301.0000,bckg,1.0000" (csv_bi: the whole recording) or
 *     "FP1-F7,12.5,40.2,cpsz,1.0" (csv: one channel).
 *   v1.x *.tse_bi / *.tse: "version = tse_v1.0.0", then "start stop label confidence".
 * Seizure labels (seiz and the types fnsz gnsz spsz cpsz absz tnsz cnsz tcsz atsz mysz)
 * become events; overlapping or touching seizure rows (of any channels) are merged into
 * one event of the recording, whose event_type is the SzCORE code of its type ("sz" for
 * seiz or when the merged rows disagree; "sz_foc" for fnsz, "sz_foc_ia" for cpsz, ...,
 * as epilepsy2bids maps them), confidence the largest and channels the channels that
 * showed it ("" for TERM). bckg is dropped. recording_duration_s comes from the
 * "# duration" line when there is one.
 * Errors (file, line, field): a data row before the csv header, a row with the wrong
 * number of fields, a time or confidence that is not a number, a negative start, a stop
 * before its start, a bad duration, no rows. Warnings: an unknown label (not a seizure),
 * a confidence outside 0..1, a seizure past the duration (clipped), an unknown version,
 * a .tse without its version line.
 */
int ictal_annot_read_tusz(const char *path, ictal_annotations *a, ictal_diag *d);
int ictal_annot_parse_tusz(const char *text, size_t len, const char *source,
                           ictal_annotations *a, ictal_diag *d);

/* The annotations of an EDF+/BDF+ file (every annotation signal). Events whose text
 * names a seizure get event_type "sz"; others keep their text. */
int ictal_annot_read_edf(const char *path, ictal_annotations *a, ictal_diag *d);
/* The same from a file already open (its header and annotations read once, so its
 * warnings are given once). */
int ictal_annot_from_edf(const ictal_edf_info *info, ictal_annotations *a, ictal_diag *d);

/* The annotation file formats ictal reads. */
typedef enum ictal_annot_format {
    ICTAL_ANNOT_UNKNOWN = 0,
    ICTAL_ANNOT_TSV,            /* SzCORE / BIDS *_events.tsv */
    ICTAL_ANNOT_EDF,            /* EDF+ / BDF+ annotation signals */
    ICTAL_ANNOT_CHBMIT_SUMMARY, /* CHB-MIT chbNN-summary.txt (needs a record) */
    ICTAL_ANNOT_SEIZURES,       /* PhysioNet WFDB .seizures */
    ICTAL_ANNOT_SIENA,          /* Siena Seizures-list-PNxx.txt (needs a record) */
    ICTAL_ANNOT_TUSZ            /* TUSZ .csv_bi, .csv, .tse_bi, .tse */
} ictal_annot_format;

/* "tsv", "edf", "chbmit-summary", "seizures", "siena", "tusz"; NULL for UNKNOWN. */
const char *ictal_annot_format_name(ictal_annot_format f);
/* The format of that name, or ICTAL_ANNOT_UNKNOWN. */
ictal_annot_format ictal_annot_format_from_name(const char *name);
/* Non-zero for the formats that list several recordings and so need a record name. */
int ictal_annot_format_needs_record(ictal_annot_format f);

/*
 * The format of a file, from its name (.tsv, .edf or .bdf, .seizures,
 * *-summary.txt, Seizures-list-*.txt, .csv_bi, .tse_bi, .tse) and, when the name says
 * nothing (a TUSZ .csv is told from a recording's CSV by its content), from its first
 * bytes. ICTAL_ANNOT_UNKNOWN when neither tells (or the file cannot be opened).
 */
ictal_annot_format ictal_annot_guess_format(const char *path);

/*
 * Reads an annotation file of the given format (ICTAL_ANNOT_UNKNOWN: guessed; a file
 * that cannot be opened then gives ICTAL_ENOENT or ICTAL_EIO, one of no known format
 * ICTAL_ENOTSUP). record names the recording for the formats that list several
 * (summary, Siena), else NULL. .seizures files take their sample rate from the file's
 * own "time resolution" note (as CHB-MIT's have; without one, call
 * ictal_annot_read_seizures with the rate).
 */
int ictal_annot_read_format(const char *path, ictal_annot_format format, const char *record,
                            ictal_annotations *a, ictal_diag *d);

/* ictal_annot_read_format(path, ICTAL_ANNOT_UNKNOWN, record, a, d). */
int ictal_annot_read_any(const char *path, const char *record, ictal_annotations *a,
                         ictal_diag *d);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_ANNOT_H */
