/*
 * ictal/montage.h - EEG channel labels and montages.
 *
 * Recordings name the same electrode in many ways ("EEG FP1-REF", "Fp1-LE", "FP1",
 * "Fp1.", and the old 10-20 names T3/T4/T5/T6 for T7/T8/P7/P8). The detector works on
 * bipolar derivations (for example "Fp1-F7"), which a recording may carry already
 * (CHB-MIT: "FP1-F7") or which are derived from referential channels (A - B).
 *
 * ictal_label_normalize() maps a label to its canonical spelling; ictal_montage_build()
 * maps a recording's labels to a target montage (the 18-pair double banana, the
 * 4-channel wearable temporal chains, or a list given by the user) and reports what it
 * found as-is, what it derived, and what is missing.
 *
 * Part of libictal: C11, no allocation, no mutable global state (the built-in montage
 * tables below are const), so every function is safe on any thread. A montage is a
 * plain struct that the caller owns (a few KB, nothing to free); building one uses
 * under 3 KB of stack. Build once at start-up; applying it per frame is a few
 * subtractions.
 */
#ifndef ICTAL_MONTAGE_H
#define ICTAL_MONTAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ICTAL_LABEL_MAX 24     /* bytes, with the terminating NUL */
#define ICTAL_MONTAGE_MAX 32   /* output channels of a montage */
#define ICTAL_MONTAGE_INPUTS_MAX 256 /* input signals a montage can index */

typedef enum ictal_montage_kind {
    ICTAL_MONTAGE_AUTO = 0,      /* double banana if it can be had, else wearable, else what is there */
    ICTAL_MONTAGE_DOUBLE_BANANA, /* the 18 longitudinal bipolar pairs */
    ICTAL_MONTAGE_WEARABLE,      /* F7-T7, T7-P7, F8-T8, T8-P8 */
    ICTAL_MONTAGE_CUSTOM         /* a comma-separated list of derivations, "F7-T7,T7-P7" */
} ictal_montage_kind;

/* How an output channel was obtained. */
typedef enum ictal_montage_source {
    ICTAL_MONTAGE_FOUND = 0, /* the recording carries this derivation as a signal */
    ICTAL_MONTAGE_DERIVED,   /* computed as input[pos] - input[neg] */
    ICTAL_MONTAGE_INVERTED   /* found reversed (B-A): computed as -input[pos] */
} ictal_montage_source;

typedef struct ictal_montage {
    int n_channels;                                  /* output channels */
    char labels[ICTAL_MONTAGE_MAX][ICTAL_LABEL_MAX]; /* canonical "Fp1-F7" */
    int16_t pos[ICTAL_MONTAGE_MAX];                  /* input index */
    int16_t neg[ICTAL_MONTAGE_MAX];                  /* input index, or -1 */
    uint8_t source[ICTAL_MONTAGE_MAX];               /* ictal_montage_source */

    int n_missing;                                   /* wanted but not available */
    char missing[ICTAL_MONTAGE_MAX][ICTAL_LABEL_MAX];

    int n_ignored;   /* input signals not used by any output channel */
    int n_dummy;     /* of which dummy channels ("-", CHB-MIT's "--0") */
    int n_duplicate; /* of which repeats of an earlier label (CHB-MIT's second "T8-P8") */
    int n_non_eeg;   /* of which not EEG ("ECG ECG", "EDF Annotations", "Status") */
    int n_found, n_derived, n_inverted; /* output channels by ictal_montage_source */
} ictal_montage;

/*
 * Canonical form of a label: strips "EEG " prefixes, reference suffixes (-REF, -LE,
 * -AR, -AVG, -A1...), trailing dots ("Fc5." and "Iz.." of the PhysioNet 10-10 files),
 * and spells electrodes as the ACNS 10-10 chart does ("FP1" -> "Fp1", "FZ" -> "Fz",
 * "Fc5" -> "FC5", "FCZ" -> "FCz"); maps the old names T3->T7, T4->T8, T5->P7, T6->P8.
 * Bipolar labels are normalised on both sides ("FP1-F7" -> "Fp1-F7"), and the numeric
 * suffix that tools add to a repeated label is dropped ("T8-P8-1" -> "T8-P8"). Dummy
 * channels ("-", "--0") become "-". Labels that are not EEG electrodes ("ECG ECG",
 * "EDF Annotations", "Status", "EEG EKG1-REF") are copied trimmed. An ear reference
 * recorded as a channel keeps both sides ("EEG A2-A1" -> "A2-A1"). Returns 0, or
 * ICTAL_ENOMEM when out is too small (out then holds "" if out_size > 0). out may be
 * the same buffer as in.
 */
int ictal_label_normalize(const char *in, char *out, size_t out_size);

/* Non-zero if the (normalised) label is a 10-20 / 10-10 scalp electrode or a bipolar
 * pair of two. */
int ictal_label_is_eeg(const char *label);

/*
 * Builds the mapping from a recording's n_inputs signal labels to a montage of the
 * given kind. custom is a comma-separated derivation list for ICTAL_MONTAGE_CUSTOM
 * (ignored otherwise); an item is a pair "F7-T7" or a single electrode "Cz".
 *
 * Each wanted derivation A-B is taken, in this order of preference, from a signal
 * labelled A-B (FOUND), from one labelled B-A (INVERTED), or from two referential
 * signals A and B (DERIVED, A - B); otherwise it is listed in m->missing. When a label
 * occurs twice, the first signal is used and the repeat is counted as a duplicate.
 *
 * ICTAL_MONTAGE_AUTO gives the double banana when all 18 pairs can be had, else the
 * wearable montage when its 4 pairs can, else the double-banana pairs that can be had
 * (the rest in m->missing), else every EEG signal as it is (FOUND).
 *
 * Returns 0 when at least one output channel was built, ICTAL_ENOENT when none could
 * be (m->missing then says what was wanted), ICTAL_EINVAL on bad arguments (n_inputs
 * out of 0..ICTAL_MONTAGE_INPUTS_MAX, a NULL label, a custom list that is empty, has
 * more than ICTAL_MONTAGE_MAX items or an item longer than ICTAL_LABEL_MAX - 1).
 */
int ictal_montage_build(ictal_montage *m, ictal_montage_kind kind, const char *const *labels,
                        int n_inputs, const char *custom);

/* Applies the montage to one frame: in holds the n_inputs values given to
 * ictal_montage_build (one per input label, in that order), out receives m->n_channels
 * values in the same unit (µV in, µV out). in and out must not overlap. */
void ictal_montage_apply(const ictal_montage *m, const float *in, float *out);

/* Canonical names of the built-in montages' derivations. */
extern const char *const ictal_montage_double_banana[18];
extern const char *const ictal_montage_wearable[4];

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_MONTAGE_H */
