/* Internals of ictal/recording.h shared by its back-ends (not a public API). */
#ifndef ICTAL_IO_REC_INTERNAL_H
#define ICTAL_IO_REC_INTERNAL_H

#include <stdio.h>
#include <zlib.h>

#include "ictal/recording.h"

struct ictal_edf;

typedef struct ictal__cell {
    const char *s;
    size_t n;
} ictal__cell;

typedef struct ictal__rec_ops {
    int64_t (*read)(ictal_recording *r, float *frames, int64_t max_frames, ictal_diag *d);
    int (*rewind)(ictal_recording *r, ictal_diag *d);
    void (*close)(ictal_recording *r);
} ictal__rec_ops;

struct ictal_recording {
    ictal_recording_info info;
    const ictal__rec_ops *ops;
    char *path;
    char layout[128];
    char **label_store;      /* [n_channels], owned */
    const char **label_ptrs; /* [n_channels] */

    /* npy */
    FILE *f;
    int64_t data_offset, n_samples, pos;
    int dtype_size, dtype_kind, big_endian, fortran; /* kind: 'f' or 'i' */
    unsigned char *tmp;
    size_t tmp_size;

    /* text and CSV */
    gzFile gz;
    char *line;              /* the current line, NUL-terminated */
    size_t line_cap, line_len;
    unsigned char *zbuf;     /* decompressed bytes not yet split into lines */
    size_t zbuf_pos, zbuf_len;
    int zeof;
    struct ictal__cell *cells;
    int cells_cap;
    int64_t line_no, header_lines;
    int *col;                /* [n_channels] column of each channel */
    int n_cols;              /* cells per row, or 1 for text */
    char sep;                /* 0 for one value per line */
    char **col_names;        /* [n_cols] for messages, or NULL */
    int64_t frames_read;
    int at_end;

    /* EDF */
    struct ictal_edf *edf;
    int *sig;
    int64_t rec_next, spr;
    float *rec_buf;
    int64_t buf_frames, buf_pos;
};

/* Sets the channel count and labels (copied); names NULL: "ch1", "ch2"... */
int ictal__rec_set_labels(ictal_recording *r, int n, const char *const *names, ictal_diag *d);
/* Applies opt->labels (must match the channel count) over the file's labels. */
int ictal__rec_apply_option_labels(ictal_recording *r, const ictal_recording_options *opt,
                                   ictal_diag *d);

int ictal__rec_open_npy(ictal_recording *r, const ictal_recording_options *opt, ictal_diag *d);
int ictal__rec_open_csv(ictal_recording *r, const ictal_recording_options *opt, int text_only,
                        ictal_diag *d);
int ictal__rec_open_edf(ictal_recording *r, const ictal_recording_options *opt, ictal_diag *d);

/* The .npy header of buf[0..len): dtype, order, shape and where the data start.
 * Exposed for tests and fuzzing. */
typedef struct ictal__npy_header {
    int major;
    char descr[8];
    int kind, size, big_endian, fortran;
    int ndim;
    int64_t shape[2];
    int64_t data_offset;
} ictal__npy_header;
int ictal__npy_parse_header(const unsigned char *buf, size_t len, ictal__npy_header *h,
                            ictal_diag *d);

#endif
