/* Choosing an annotation reader by format name, file name or content (annot.h). */
#include "ictal/annot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "textio.h"

static const struct {
    ictal_annot_format format;
    const char *name;
    int needs_record;
} formats[] = {
    {ICTAL_ANNOT_TSV, "tsv", 0},
    {ICTAL_ANNOT_EDF, "edf", 0},
    {ICTAL_ANNOT_CHBMIT_SUMMARY, "chbmit-summary", 1},
    {ICTAL_ANNOT_SEIZURES, "seizures", 0},
    {ICTAL_ANNOT_SIENA, "siena", 1},
    {ICTAL_ANNOT_TUSZ, "tusz", 0},
};

#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

const char *ictal_annot_format_name(ictal_annot_format f)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].format == f)
            return formats[i].name;
    return NULL;
}

ictal_annot_format ictal_annot_format_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_FORMATS; i++)
        if (strcmp(formats[i].name, name) == 0)
            return formats[i].format;
    return ICTAL_ANNOT_UNKNOWN;
}

int ictal_annot_format_needs_record(ictal_annot_format f)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].format == f)
            return formats[i].needs_record;
    return 0;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static ictal_annot_format format_from_file_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (ends_with_ci(base, ".tsv"))
        return ICTAL_ANNOT_TSV;
    if (ends_with_ci(base, ".edf") || ends_with_ci(base, ".bdf") || ends_with_ci(base, ".rec"))
        return ICTAL_ANNOT_EDF;
    if (ends_with_ci(base, ".seizures"))
        return ICTAL_ANNOT_SEIZURES;
    if (ends_with_ci(base, "-summary.txt"))
        return ICTAL_ANNOT_CHBMIT_SUMMARY;
    if (strncasecmp(base, "Seizures-list", 13) == 0)
        return ICTAL_ANNOT_SIENA;
    if (ends_with_ci(base, ".csv_bi") || ends_with_ci(base, ".tse_bi") ||
        ends_with_ci(base, ".tse"))
        return ICTAL_ANNOT_TUSZ;
    return ICTAL_ANNOT_UNKNOWN;
}

static ictal_annot_format format_from_content(const char *path)
{
    char head[8192]; /* both text formats list their channels before any seizure */
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ICTAL_ANNOT_UNKNOWN;
    size_t n = fread(head, 1, sizeof(head) - 1, f);
    fclose(f);
    head[n] = '\0';
    /* EDF starts with "0" and seven spaces; BDF with 0xFF "BIOSEMI". */
    if (n >= 8 && (memcmp(head, "0       ", 8) == 0 || memcmp(head, "\xff" "BIOSEMI", 8) == 0))
        return ICTAL_ANNOT_EDF;
    if (strncmp(head, "onset\t", 6) == 0)
        return ICTAL_ANNOT_TSV;
    /* TUSZ: "# version = csv_v1.0.0" (a .csv per channel) or "version = tse_v1.0.0"
     * (also written "version=tse_v1.0.0") */
    if (strstr(head, "version = csv_v") != NULL || strstr(head, "version = tse_v") != NULL ||
        strstr(head, "version=tse_v") != NULL ||
        strstr(head, "channel,start_time,stop_time,label") != NULL)
        return ICTAL_ANNOT_TUSZ;
    /* Siena lists name each seizure's file "File name:" with a "Registration start
     * time"; CHB-MIT summaries write "File Name:" and "Channels in EDF Files". */
    if (strstr(head, "Registration start time") != NULL)
        return ICTAL_ANNOT_SIENA;
    if (strstr(head, "File Name:") != NULL || strstr(head, "Channels in EDF Files") != NULL)
        return ICTAL_ANNOT_CHBMIT_SUMMARY;
    return ICTAL_ANNOT_UNKNOWN;
}

ictal_annot_format ictal_annot_guess_format(const char *path)
{
    ictal_annot_format f = format_from_file_name(path);
    return f != ICTAL_ANNOT_UNKNOWN ? f : format_from_content(path);
}

int ictal_annot_read_format(const char *path, ictal_annot_format format, const char *record,
                            ictal_annotations *a, ictal_diag *d)
{
    if (path == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no path or annotation list");
    if (d != NULL)
        d->source = path;
    if (format == ICTAL_ANNOT_UNKNOWN) {
        format = ictal_annot_guess_format(path);
        if (format == ICTAL_ANNOT_UNKNOWN) {
            /* A file that cannot be opened is not of an unknown format. */
            FILE *f = fopen(path, "rb");
            if (f == NULL)
                return ictal__open_error(d, errno);
            fclose(f);
        }
    }
    switch (format) {
    case ICTAL_ANNOT_TSV: return ictal_annot_read_tsv(path, a, d);
    case ICTAL_ANNOT_EDF: return ictal_annot_read_edf(path, a, d);
    /* 0: the sample rate comes from the file's own "time resolution" note. */
    case ICTAL_ANNOT_SEIZURES: return ictal_annot_read_seizures(path, 0, a, d);
    case ICTAL_ANNOT_TUSZ: return ictal_annot_read_tusz(path, a, d);
    case ICTAL_ANNOT_CHBMIT_SUMMARY:
    case ICTAL_ANNOT_SIENA:
        if (record == NULL)
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "a %s file lists several recordings: name one (e.g. %s)",
                                    ictal_annot_format_name(format),
                                    format == ICTAL_ANNOT_SIENA ? "PN00-1.edf" : "chb01_03.edf");
        return format == ICTAL_ANNOT_SIENA ? ictal_annot_read_siena(path, record, a, d)
                                           : ictal_annot_read_chbmit_summary(path, record, a, d);
    case ICTAL_ANNOT_UNKNOWN: break;
    }
    return ictal_diag_error(d, ICTAL_ENOTSUP,
                            "unknown annotation format (expected an events .tsv, an EDF+/BDF+ "
                            "file, a .seizures file, a CHB-MIT summary, a Siena list or a "
                            "TUSZ .csv_bi/.csv/.tse_bi/.tse)");
}

int ictal_annot_read_any(const char *path, const char *record, ictal_annotations *a,
                         ictal_diag *d)
{
    return ictal_annot_read_format(path, ICTAL_ANNOT_UNKNOWN, record, a, d);
}
