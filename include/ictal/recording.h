/*
 * ictal/recording.h - one way to read EEG from any file ictal knows, as frames.
 *
 * A recording is a source of frames: n_channels values in microvolts (µV), one per
 * channel, sample_rate_hz frames per second, interleaved frame after frame
 * (frames[i * n_channels + c]) - the layout libictal's detector takes. Back-ends:
 *
 *   EDF family   EDF, EDF+C/D, BDF, BDF+ through ictal/edf.h. The channels are the data
 *                signals at the rate most EEG-labelled signals share (others, such as
 *                a slower SpO2, are left out); EDF+D gaps are closed up.
 *   NumPy .npy   v1/v2/v3 header, dtype <f8, <f4 or <i2 (also >f8, >f4, >i2, <i4, >i4,
 *                |i1), C or Fortran order, shape (channels, samples) - the layout of
 *                CHB-MIT's windows - or 1-D (one channel). Values are taken as µV.
 *                Labels come from the caller, or
 *                default to the CHB-MIT order and 256 Hz when there are 23 channels
 *                ("ch1"... and no rate otherwise: give it).
 *   text         one number per line, one channel (the Bonn segments; 173.61 Hz by
 *                default, the Bonn rate).
 *   CSV          plain or gzip'd (zlib), comma, semicolon or tab separated, with a
 *                header. Layouts recognised from the header:
 *                  - Emotiv EPOC as published on Zenodo (Guinea-Bissau / Nigeria sets):
 *                    a quoted header "","AF3",..., a row-index column, 14 EEG columns,
 *                    then COUNTER, INTERPOLATED, GYRO*, *CQ* columns (not EEG); 128 Hz.
 *                  - Emotiv Pro / EmotivPRO exports: columns "EEG.AF3" ..., often
 *                    after a first metadata line holding "sampling rate:eeg_128" (or
 *                    "sampling:128"); the rate from that line, else 128 Hz.
 *                  - OpenBCI GUI: "%"-comment lines ("%Sample Rate = 250 Hz"), then
 *                    "Sample Index, EXG Channel 0, ..."; the rate from the comment.
 *                  - BrainFlow (DataFilter.write_file): no header, tab separated,
 *                    a package-number column first. Which columns are EEG and the
 *                    rate depend on the board: the caller gives the rate, and either
 *                    labels (read from columns 1..n_labels) or columns.
 *                  - generic: a header row; columns whose name is an EEG electrode
 *                    (see ictal/montage.h) are the channels; others are left out.
 *                The rate is, in order: the caller's override, the file's own
 *                statement, the layout's default (Emotiv 128 Hz); when none applies
 *                the open fails with ICTAL_EINVAL and a message saying so (unless
 *                allow_unknown_rate, which gives sample_rate_hz 0).
 *
 * Errors name the file and where (line and column for text, byte offset for binary)
 * and what: ragged rows, non-numeric cells, a truncated .npy, an unsupported dtype.
 *
 * Part of ictal-io. Not thread-safe per recording; no global state.
 */
#ifndef ICTAL_RECORDING_H
#define ICTAL_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ictal_recording_format {
    ICTAL_RECORDING_AUTO = 0, /* from the file's content, then its name */
    ICTAL_RECORDING_EDF,
    ICTAL_RECORDING_NPY,
    ICTAL_RECORDING_TEXT,
    ICTAL_RECORDING_CSV
} ictal_recording_format;

typedef struct ictal_recording_options {
    ictal_recording_format format; /* ICTAL_RECORDING_AUTO by default */
    double sample_rate_hz;         /* > 0: overrides whatever the file says */
    const char *const *labels;     /* n_labels channel labels for files without any
                                      (npy, text, BrainFlow), or NULL */
    int n_labels;
    const char *columns;           /* CSV: comma-separated column names or 0-based column
                                      numbers to read as the channels, in that order,
                                      instead of the layout's choice; NULL */
    int allow_unknown_rate;        /* non-zero: open even when the rate cannot be known */
} ictal_recording_options;

/* Zeroes the options: AUTO format, no override, no labels. */
void ictal_recording_options_init(ictal_recording_options *o);

typedef struct ictal_recording_info {
    ictal_recording_format format;
    const char *layout;          /* for people: "npy <f8 (23, 2561)", "csv: OpenBCI GUI", ... */
    int n_channels;
    const char *const *labels;   /* [n_channels], as the file names them */
    double sample_rate_hz;       /* 0 only with allow_unknown_rate */
    const char *rate_source;     /* "option", "file", "default (Emotiv 128 Hz)", "unknown" */
    int64_t n_frames;            /* frames in the file, or -1 when unknown before the end */
} ictal_recording_info;

typedef struct ictal_recording ictal_recording;

/* Opens path. opt may be NULL (all defaults). On error *out is NULL and d says why. */
int ictal_recording_open(ictal_recording **out, const char *path,
                         const ictal_recording_options *opt, ictal_diag *d);

/* Valid until ictal_recording_close(). */
const ictal_recording_info *ictal_recording_get_info(const ictal_recording *r);

/*
 * Reads up to max_frames next frames into frames_uv (max_frames * n_channels floats,
 * interleaved). Returns the number of frames read, 0 at the end, or a negative
 * ICTAL_E* code (d says where; d->source then points to the recording's own copy of
 * the path, valid until ictal_recording_close). After an error the recording stays at
 * the error. When n_frames was -1, it is set once the end has been read.
 */
int64_t ictal_recording_read(ictal_recording *r, float *frames_uv, int64_t max_frames,
                             ictal_diag *d);

/* Goes back to the first frame. */
int ictal_recording_rewind(ictal_recording *r, ictal_diag *d);

/* Closes the file and frees r (r may be NULL). */
void ictal_recording_close(ictal_recording *r);

/* The 23 CHB-MIT channel labels in file order (FP1-F7 ... T8-P8), the default labels
 * of 23-channel .npy files. */
extern const char *const ictal_chbmit_labels[23];

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_RECORDING_H */
