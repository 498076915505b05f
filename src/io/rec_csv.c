/*
 * Text back-ends of ictal/recording.h: one value per line (Bonn), and CSV, plain or
 * gzip'd (zlib reads both), in the layouts the header says (see recording.h). Only the
 * cells of the EEG columns are parsed as numbers; other columns (timestamps, markers)
 * may hold anything, but every row must have as many cells as the header.
 */
#include "rec_internal.h"
#include "textio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/montage.h"

#define ZCHUNK 65536
#define LINE_MAX_BYTES (1u << 20)
#define MAX_COLUMNS 4096

/* ---- reading lines ---------------------------------------------------------------- */

/* Next line into r->line (without its end of line). 1, 0 at the end, or an error. */
static int next_line(ictal_recording *r, ictal_diag *d)
{
    r->line_len = 0;
    int any = 0;
    for (;;) {
        if (r->zbuf_pos == r->zbuf_len) {
            if (r->zeof)
                break;
            int got = gzread(r->gz, r->zbuf, ZCHUNK);
            if (got < 0) {
                int errnum;
                const char *msg = gzerror(r->gz, &errnum);
                if (d != NULL)
                    d->line = r->line_no + 1;
                return ictal_diag_error(d, ICTAL_EIO, "read failed: %s",
                                        errnum == Z_ERRNO ? strerror(errno) : msg);
            }
            if (got == 0) {
                r->zeof = 1;
                break;
            }
            r->zbuf_pos = 0;
            r->zbuf_len = (size_t)got;
        }
        any = 1;
        const unsigned char *p = r->zbuf + r->zbuf_pos;
        size_t avail = r->zbuf_len - r->zbuf_pos;
        const unsigned char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        if (r->line_len + take + 1 > r->line_cap) {
            if (r->line_len + take + 1 > LINE_MAX_BYTES) {
                if (d != NULL)
                    d->line = r->line_no + 1;
                return ictal_diag_error(d, ICTAL_ERANGE, "line longer than %u bytes",
                                        LINE_MAX_BYTES);
            }
            size_t cap = r->line_cap ? r->line_cap : 256;
            while (cap < r->line_len + take + 1)
                cap *= 2;
            char *g = realloc(r->line, cap);
            if (g == NULL)
                return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
            r->line = g;
            r->line_cap = cap;
        }
        memcpy(r->line + r->line_len, p, take);
        r->line_len += take;
        r->zbuf_pos += take;
        if (nl != NULL) {
            r->zbuf_pos++;
            break;
        }
    }
    if (!any && r->line_len == 0)
        return 0;
    r->line_no++;
    if (r->line == NULL) {
        r->line = malloc(256);
        if (r->line == NULL)
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        r->line_cap = 256;
    }
    if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
        r->line_len--;
    r->line[r->line_len] = '\0';
    if (memchr(r->line, '\0', r->line_len) != NULL) {
        if (d != NULL)
            d->line = r->line_no;
        return ictal_diag_error(d, ICTAL_EFORMAT, "NUL byte in a text line: not a text file");
    }
    return 1;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int is_blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!blank(s[i]))
            return 0;
    return 1;
}

/* Splits r->line at sep (quotes respected) into r->cells; returns the count. */
static int split(ictal_recording *r, char sep, ictal_diag *d)
{
    int n = 0;
    size_t i = 0, len = r->line_len;
    const char *s = r->line;
    for (;;) {
        if (n == r->cells_cap) {
            if (n >= MAX_COLUMNS) {
                if (d != NULL)
                    d->line = r->line_no;
                return ictal_diag_error(d, ICTAL_ERANGE, "more than %d columns", MAX_COLUMNS);
            }
            int cap = r->cells_cap ? r->cells_cap * 2 : 64;
            ictal__cell *g = realloc(r->cells, (size_t)cap * sizeof(*g));
            if (g == NULL)
                return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
            r->cells = g;
            r->cells_cap = cap;
        }
        size_t b = i;
        while (b < len && blank(s[b]) && s[b] != sep)
            b++;
        size_t e;
        if (b < len && s[b] == '"') {
            size_t q = b + 1;
            while (q < len && !(s[q] == '"' && (q + 1 >= len || s[q + 1] != '"')))
                q += (s[q] == '"') ? 2 : 1;
            r->cells[n].s = s + b + 1;
            r->cells[n].n = (q < len ? q : len) - (b + 1);
            e = q < len ? q + 1 : len;
            while (e < len && s[e] != sep)
                e++;
        } else {
            e = b;
            while (e < len && s[e] != sep)
                e++;
            size_t t = e;
            while (t > b && blank(s[t - 1]))
                t--;
            r->cells[n].s = s + b;
            r->cells[n].n = t - b;
        }
        n++;
        if (sep == 0 || e >= len)
            break;
        i = e + 1;
    }
    return n;
}

/* A number filling the whole cell; 0 or -1. */
static int parse_number(const char *s, size_t n, double *out)
{
    char buf[64];
    while (n > 0 && blank(*s)) {
        s++;
        n--;
    }
    while (n > 0 && blank(s[n - 1]))
        n--;
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* strtod also takes "nan", "inf" and hex; EEG exports use plain decimals. */
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int cell_is(const ictal__cell *c, const char *name)
{
    size_t k = strlen(name);
    if (c->n != k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        char a = c->s[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

static void cell_copy(const ictal__cell *c, char *buf, size_t size)
{
    size_t n = c->n < size - 1 ? c->n : size - 1;
    memcpy(buf, c->s, n);
    buf[n] = '\0';
}

/* ---- reading frames ----------------------------------------------------------------- */

static int64_t csv_read(ictal_recording *r, float *frames, int64_t max_frames, ictal_diag *d)
{
    int nc = r->info.n_channels;
    int64_t got = 0;
    while (got < max_frames) {
        int rc = next_line(r, d);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            r->at_end = 1;
            r->info.n_frames = r->frames_read;
            break;
        }
        if (is_blank_line(r->line, r->line_len) || r->line[0] == '%' || r->line[0] == '#')
            continue;
        int n = split(r, r->sep, d);
        if (n < 0)
            return n;
        if (d != NULL)
            d->line = r->line_no;
        /* A trailing separator (an empty last cell) is tolerated. */
        if (n == r->n_cols + 1 && r->cells[n - 1].n == 0)
            n--;
        if (n != r->n_cols)
            return ictal_diag_error(d, ICTAL_EFORMAT,
                                    r->sep ? "ragged row: %d cells, the header has %d"
                                           : "expected one number per line, found %d cells (%d)",
                                    n, r->n_cols);
        for (int c = 0; c < nc; c++) {
            const ictal__cell *cell = &r->cells[r->col[c]];
            double v;
            if (parse_number(cell->s, cell->n, &v) != 0 || fabs(v) > 3.4e38) {
                char text[48], name[48] = "";
                cell_copy(cell, text, sizeof(text));
                if (r->col_names != NULL)
                    snprintf(name, sizeof(name), " ('%s')", r->col_names[r->col[c]]);
                if (d != NULL)
                    d->signal = c;
                return ictal_diag_error(d, ICTAL_EFORMAT,
                                        "column %d%s: '%s' is not a number", r->col[c] + 1, name,
                                        text);
            }
            frames[got * nc + c] = (float)v;
        }
        got++;
        r->frames_read++;
    }
    if (d != NULL)
        d->line = -1;
    return got;
}

static int skip_header(ictal_recording *r, ictal_diag *d)
{
    while (r->line_no < r->header_lines) {
        int rc = next_line(r, d);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
    }
    return 0;
}

static int csv_rewind(ictal_recording *r, ictal_diag *d)
{
    if (gzrewind(r->gz) != 0)
        return ictal_diag_error(d, ICTAL_EIO, "cannot rewind");
    r->zbuf_pos = r->zbuf_len = 0;
    r->zeof = 0;
    r->line_no = 0;
    r->frames_read = 0;
    r->at_end = 0;
    return skip_header(r, d);
}

static void free_col_names(ictal_recording *r)
{
    if (r->col_names != NULL)
        for (int i = 0; i < r->n_cols; i++)
            free(r->col_names[i]);
    free(r->col_names);
    r->col_names = NULL;
}

static void csv_close(ictal_recording *r)
{
    if (r->gz != NULL)
        gzclose(r->gz);
    r->gz = NULL;
    free(r->zbuf);
    free(r->line);
    free(r->cells);
    free(r->col);
    free_col_names(r);
}

static const ictal__rec_ops csv_ops = {csv_read, csv_rewind, csv_close};

/* ---- the header --------------------------------------------------------------------- */

/* The number after key in s (case-insensitive), as in "%Sample Rate = 250 Hz",
 * "sampling rate:eeg_128;mot_64", "sampling:128"; 0 when absent. */
static double rate_after(const char *s, size_t n, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j;
        for (j = 0; j < k; j++) {
            char a = s[i + j], b = key[j];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (a != b)
                break;
        }
        if (j < k)
            continue;
        j = i + k;
        while (j < n && (blank(s[j]) || s[j] == '=' || s[j] == ':'))
            j++;
        if (j + 4 <= n && memcmp(s + j, "eeg_", 4) == 0)
            j += 4;
        char buf[32];
        size_t m = 0;
        while (j < n && m < sizeof(buf) - 1 && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.'))
            buf[m++] = s[j++];
        buf[m] = '\0';
        double v = m > 0 ? strtod(buf, NULL) : 0;
        if (v > 0 && v < 1e6)
            return v;
    }
    return 0;
}

static int set_columns(ictal_recording *r, const int *cols, int n, const char *const *names,
                       ictal_diag *d)
{
    free(r->col);
    r->col = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (r->col == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    memcpy(r->col, cols, (size_t)n * sizeof(int));
    return ictal__rec_set_labels(r, n, names, d);
}

/* The columns named in opt->columns (names or 0-based numbers). */
static int pick_columns(ictal_recording *r, const char *spec, int n_cells, int has_header,
                        int *cols, const char **names, char (*name_buf)[64], ictal_diag *d)
{
    int n = 0;
    const char *p = spec;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len > 0 && blank(*p)) {
            p++;
            len--;
        }
        while (len > 0 && blank(p[len - 1]))
            len--;
        if (len > 0) {
            if (n >= n_cells || n >= MAX_COLUMNS)
                return ictal_diag_error(d, ICTAL_EINVAL, "more columns asked for than the file has");
            char item[64];
            size_t k = len < sizeof(item) - 1 ? len : sizeof(item) - 1;
            memcpy(item, p, k);
            item[k] = '\0';
            int found = -1;
            if (has_header) {
                ictal__cell want = {item, k};
                for (int c = 0; c < n_cells && found < 0; c++)
                    if (r->cells[c].n == want.n && cell_is(&r->cells[c], item))
                        found = c;
            }
            if (found < 0) {
                char *end;
                long v = strtol(item, &end, 10);
                if (*end == '\0' && end != item && v >= 0 && v < n_cells)
                    found = (int)v;
            }
            if (found < 0)
                return ictal_diag_error(d, ICTAL_EINVAL,
                                        "column '%s' is not in the file (%d columns)", item,
                                        n_cells);
            cols[n] = found;
            if (has_header)
                cell_copy(&r->cells[found], name_buf[n], 64);
            else
                snprintf(name_buf[n], 64, "col%d", found);
            names[n] = name_buf[n];
            n++;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    if (n == 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "no column given in '%s'", spec);
    return n;
}

int ictal__rec_open_csv(ictal_recording *r, const ictal_recording_options *opt, int text_only,
                        ictal_diag *d)
{
    r->ops = &csv_ops;
    r->zbuf = malloc(ZCHUNK);
    if (r->zbuf == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    r->gz = gzopen(r->path, "rb");
    if (r->gz == NULL)
        return ictal__open_error(d, errno);
    gzbuffer(r->gz, 1 << 17);

    double file_rate = 0;
    int openbci = 0, emotiv_meta = 0, rc;
    int64_t header_line = -1;
    /* Comments and an Emotiv metadata line, then the header (or the first row). */
    for (;;) {
        rc = next_line(r, d);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (d != NULL)
                d->line = r->line_no > 0 ? r->line_no : -1;
            return ictal_diag_error(d, ICTAL_EFORMAT, "no data: the file holds no row");
        }
        const char *s = r->line;
        size_t n = r->line_len;
        if (is_blank_line(s, n))
            continue;
        if (s[0] == '%' || s[0] == '#') {
            if (n >= 8 && (strstr(s, "OpenBCI") != NULL))
                openbci = 1;
            double v = rate_after(s, n, "sample rate");
            if (v > 0)
                file_rate = v;
            continue;
        }
        if (!text_only && !emotiv_meta && (rate_after(s, n, "sampling rate") > 0 ||
                                           rate_after(s, n, "sampling:") > 0) &&
            strstr(s, "title:") != NULL) {
            double v = rate_after(s, n, "sampling rate");
            file_rate = v > 0 ? v : rate_after(s, n, "sampling:");
            emotiv_meta = 1;
            continue;
        }
        header_line = r->line_no;
        break;
    }

    char sep = 0;
    if (!text_only) {
        if (memchr(r->line, '\t', r->line_len))
            sep = '\t';
        else if (memchr(r->line, ',', r->line_len))
            sep = ',';
        else if (memchr(r->line, ';', r->line_len))
            sep = ';';
    }
    r->sep = sep;
    int n_cells = split(r, sep, d);
    if (n_cells < 0)
        return n_cells;
    r->n_cols = n_cells;
    int numeric = 1;
    for (int c = 0; c < n_cells && numeric; c++) {
        double v;
        /* Quoted numbers ("1") are names in a header only when every cell is quoted;
         * treat a row as data when every cell parses. */
        numeric = parse_number(r->cells[c].s, r->cells[c].n, &v) == 0;
    }
    if (d != NULL)
        d->line = header_line;

    int *cols = malloc((size_t)n_cells * sizeof(int));
    const char **names = malloc((size_t)n_cells * sizeof(char *));
    char(*name_buf)[64] = malloc((size_t)n_cells * 64);
    if (cols == NULL || names == NULL || name_buf == NULL) {
        free(cols);
        free(names);
        free(name_buf);
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    }
    int nch = 0;
    const char *rate_default_source = NULL;
    double rate_default = 0;
    rc = 0;

    if (numeric) {
        /* No header: this line is the first row. */
        r->header_lines = header_line - 1;
        if (n_cells == 1 && opt->columns == NULL) {
            r->info.format = ICTAL_RECORDING_TEXT;
            snprintf(r->layout, sizeof(r->layout), "text: one value per line");
            cols[0] = 0;
            names[0] = NULL;
            nch = 1;
            rate_default = 173.61;
            rate_default_source = "default (Bonn 173.61 Hz)";
        } else if (opt->columns != NULL) {
            nch = pick_columns(r, opt->columns, n_cells, 0, cols, names, name_buf, d);
            snprintf(r->layout, sizeof(r->layout), "csv: no header%s",
                     sep == '\t' ? " (BrainFlow)" : "");
        } else if (opt->labels != NULL && opt->n_labels > 0) {
            /* BrainFlow: a package number, then the EXG columns. */
            int skip = sep == '\t' ? 1 : 0;
            if (opt->n_labels + skip > n_cells)
                rc = ictal_diag_error(d, ICTAL_EINVAL, "%d labels given, but rows have %d cells",
                                      opt->n_labels, n_cells);
            for (int i = 0; rc == 0 && i < opt->n_labels; i++) {
                cols[i] = i + skip;
                names[i] = opt->labels[i];
            }
            nch = opt->n_labels;
            snprintf(r->layout, sizeof(r->layout), "csv: no header%s",
                     sep == '\t' ? " (BrainFlow: package number, then EXG columns)" : "");
        } else if (sep == '\t') {
            rc = ictal_diag_error(d, ICTAL_EINVAL,
                                  "a BrainFlow file (no header, tab separated): which columns "
                                  "are EEG depends on the board; give the labels or the columns");
        } else {
            for (int c = 0; c < n_cells; c++) {
                cols[c] = c;
                names[c] = NULL;
            }
            nch = n_cells;
            snprintf(r->layout, sizeof(r->layout), "csv: no header, %d columns", n_cells);
        }
    } else if (text_only || sep == 0) {
        if (d != NULL)
            d->signal = 0;
        char text[48];
        cell_copy(&r->cells[0], text, sizeof(text));
        rc = ictal_diag_error(d, ICTAL_EFORMAT,
                              "'%s' is not a number (one value per line expected)", text);
    } else {
        r->header_lines = header_line;
        r->col_names = calloc((size_t)n_cells, sizeof(char *));
        if (r->col_names == NULL)
            rc = ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        for (int c = 0; rc == 0 && c < n_cells; c++) {
            r->col_names[c] = malloc(r->cells[c].n + 1);
            if (r->col_names[c] == NULL) {
                rc = ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
                break;
            }
            memcpy(r->col_names[c], r->cells[c].s, r->cells[c].n);
            r->col_names[c][r->cells[c].n] = '\0';
        }
        int has_counter = 0, has_interp = 0, has_exg = 0, has_emotiv_pro = 0;
        for (int c = 0; rc == 0 && c < n_cells; c++) {
            const char *name = r->col_names[c];
            has_counter |= cell_is(&r->cells[c], "COUNTER") || cell_is(&r->cells[c], "EEG.Counter");
            has_interp |= cell_is(&r->cells[c], "INTERPOLATED");
            has_exg |= strncmp(name, "EXG Channel ", 12) == 0;
            has_emotiv_pro |= strncmp(name, "EEG.", 4) == 0;
        }
        if (rc == 0 && opt->columns != NULL) {
            nch = pick_columns(r, opt->columns, n_cells, 1, cols, names, name_buf, d);
            snprintf(r->layout, sizeof(r->layout), "csv: columns chosen by the caller");
        } else if (rc == 0) {
            for (int c = 0; c < n_cells; c++) {
                const char *name = r->col_names[c];
                int take;
                if (has_exg)
                    take = strncmp(name, "EXG Channel ", 12) == 0;
                else if (has_emotiv_pro)
                    take = strncmp(name, "EEG.", 4) == 0 && ictal_label_is_eeg(name + 4) &&
                           strchr(name + 4, '-') == NULL;
                else
                    take = ictal_label_is_eeg(name);
                if (!take)
                    continue;
                cols[nch] = c;
                names[nch] = has_emotiv_pro ? name + 4 : name;
                nch++;
            }
            if (has_exg) {
                snprintf(r->layout, sizeof(r->layout), "csv: OpenBCI GUI");
            } else if (has_emotiv_pro || emotiv_meta) {
                snprintf(r->layout, sizeof(r->layout), "csv: Emotiv (EEG.* columns)");
                rate_default = 128;
                rate_default_source = "default (Emotiv 128 Hz)";
            } else if (has_counter && has_interp && r->cells[0].n == 0) {
                snprintf(r->layout, sizeof(r->layout),
                         "csv: Emotiv EPOC, Zenodo export (row index, EEG, COUNTER, "
                         "INTERPOLATED, GYRO, CQ)");
                rate_default = 128;
                rate_default_source = "default (Emotiv 128 Hz)";
            } else if (has_counter) {
                snprintf(r->layout, sizeof(r->layout), "csv: Emotiv (COUNTER column)");
                rate_default = 128;
                rate_default_source = "default (Emotiv 128 Hz)";
            } else {
                snprintf(r->layout, sizeof(r->layout), "csv: EEG columns named by electrode");
            }
            (void)openbci;
            if (nch == 0) {
                char list[160] = "";
                size_t used = 0;
                for (int c = 0; c < n_cells && used + 20 < sizeof(list); c++)
                    used += (size_t)snprintf(list + used, sizeof(list) - used, "%s'%.16s'",
                                             c ? ", " : "", r->col_names[c]);
                rc = ictal_diag_error(d, ICTAL_EFORMAT,
                                      "no EEG column in the header (%s%s): give the columns",
                                      list, n_cells > 6 ? ", ..." : "");
            }
        }
    }
    if (nch < 0)
        rc = nch;
    if (rc == 0)
        rc = set_columns(r, cols, nch, names, d);
    free(cols);
    free(names);
    free(name_buf);
    if (rc != 0)
        return rc;
    rc = ictal__rec_apply_option_labels(r, opt, d);
    if (rc != 0)
        return rc;
    if (file_rate > 0) {
        r->info.sample_rate_hz = file_rate;
        r->info.rate_source = "file";
    } else if (rate_default > 0) {
        r->info.sample_rate_hz = rate_default;
        r->info.rate_source = rate_default_source;
    }
    if (d != NULL) {
        d->line = -1;
        d->signal = -1;
    }
    return csv_rewind(r, d);
}
