/*
 * ictal info FILE... [--json] [--strict] [--annotations N]
 *
 * What an EDF/EDF+/BDF/BDF+ file holds: format and variant, start, duration, records,
 * gaps, signals (with the normalised label the montage code will use), annotations and
 * every deviation from the standard the reader noticed. For people by default; with
 * --json one object {"files": [...]} for programs.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ictal/edf.h"
#include "ictal/montage.h"

int ictal_cmd_info(int argc, char **argv);
extern const char ictal_cmd_info_summary[];
const char ictal_cmd_info_summary[] = "describe EDF/BDF files: signals, times, annotations";

#define MAX_WARNINGS 64

typedef struct warnings {
    int n;
    char text[MAX_WARNINGS][512];
} warnings;

static void collect_warning(void *user, const ictal_diag *w)
{
    warnings *ws = user;
    if (ws->n < MAX_WARNINGS)
        ictal_diag_format(w, ws->text[ws->n++], sizeof(ws->text[0]));
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal info FILE... [--json] [--strict] [--annotations N]\n\n"
            "Describes EDF, EDF+C, EDF+D, BDF and BDF+ files.\n\n"
            "  --json            one JSON object {\"files\": [...]} on stdout\n"
            "  --strict          deviations from the standard are errors, not warnings\n"
            "  --annotations N   list at most N annotations per file (default 20; JSON: all)\n"
            "  -h, --help        this help\n\n"
            "exit status: 0 all files read, 1 a file is malformed (or deviates, with\n"
            "--strict), 2 usage, 3 a file could not be opened.\n");
}

static const char *variant_name(const ictal_edf_info *in)
{
    int bdf = in->format == ICTAL_EDF_FORMAT_BDF;
    switch (in->variant) {
    case ICTAL_EDF_VARIANT_PLUS_C: return bdf ? "BDF+C" : "EDF+C";
    case ICTAL_EDF_VARIANT_PLUS_D: return bdf ? "BDF+D" : "EDF+D";
    default: return bdf ? "BDF" : "EDF";
    }
}

static void normalised(const char *label, char *out, size_t size)
{
    if (ictal_label_normalize(label, out, size) != 0)
        snprintf(out, size, "%s", label);
}

static void hms(double s, char *out, size_t size)
{
    long t = (long)floor(s + 0.5);
    snprintf(out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void print_human(const char *path, const ictal_edf_info *in, const warnings *ws,
                        long max_ann)
{
    char buf[64];
    printf("%s\n", path);
    printf("  format       %s (%d-bit samples)\n", variant_name(in),
           in->format == ICTAL_EDF_FORMAT_BDF ? 24 : 16);
    printf("  start        %s\n", in->start_iso);
    hms(in->duration_s, buf, sizeof(buf));
    printf("  duration     %.6g s (%s)\n", in->duration_s, buf);
    printf("  records      %lld of %.6g s", (long long)in->n_records, in->record_duration_s);
    if (in->header_n_records != in->n_records)
        printf(" (header says %lld)", (long long)in->header_n_records);
    if (in->truncated_bytes)
        printf(", last record truncated (%lld bytes)", (long long)in->truncated_bytes);
    printf("\n");
    if (in->n_gaps == 0) {
        printf("  gaps         none\n");
    } else {
        printf("  gaps         %zu\n", in->n_gaps);
        for (size_t i = 0; i < in->n_gaps; i++)
            printf("               at %.6g s for %.6g s (before record %lld)\n",
                   in->gaps[i].start_s, in->gaps[i].duration_s,
                   (long long)in->gaps[i].before_record);
    }
    printf("  signals      %d data, %d annotation\n", in->n_data_signals,
           in->n_signals - in->n_data_signals);
    printf("    %3s  %-16s %-16s %9s  %-8s %s\n", "#", "label", "normalised", "rate_hz", "unit",
           "physical range");
    for (int s = 0; s < in->n_signals; s++) {
        const ictal_edf_signal *g = &in->signals[s];
        char norm[ICTAL_LABEL_MAX + 16];
        normalised(g->label, norm, sizeof(norm));
        if (g->is_annotation)
            printf("    %3d  %-16s %-16s %9s  %-8s (annotations)\n", s, g->label, norm, "-", "-");
        else
            printf("    %3d  %-16s %-16s %9.6g  %-8s %g .. %g\n", s, g->label, norm, g->rate_hz,
                   g->dimension[0] ? g->dimension : "-", g->physical_min, g->physical_max);
    }
    printf("  annotations  %zu\n", in->n_annotations);
    for (size_t i = 0; i < in->n_annotations && (long)i < max_ann; i++) {
        const ictal_edf_annotation *a = &in->annotations[i];
        if (a->duration_s >= 0)
            printf("    %12.4f s  %10.4f s  %s\n", a->onset_s, a->duration_s, a->text);
        else
            printf("    %12.4f s  %10s    %s\n", a->onset_s, "-", a->text);
    }
    if ((long)in->n_annotations > max_ann)
        printf("    ... %zu more (--annotations N, or --json for all)\n",
               in->n_annotations - (size_t)max_ann);
    if (ws->n == 0) {
        printf("  warnings     none\n");
    } else {
        printf("  warnings     %d\n", ws->n);
        for (int i = 0; i < ws->n; i++)
            printf("    %s\n", ws->text[i]);
    }
}

static json_t *json_info(const char *path, const ictal_edf_info *in, const warnings *ws)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", ictal_cli_json_string(path));
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "format", json_string(in->format == ICTAL_EDF_FORMAT_BDF ? "BDF" : "EDF"));
    json_object_set_new(o, "variant", json_string(variant_name(in)));
    json_object_set_new(o, "start", json_string(in->start_iso));
    json_object_set_new(o, "start_subsecond_s", json_real(in->start_subsecond_s));
    json_object_set_new(o, "duration_s", json_real(in->duration_s));
    json_object_set_new(o, "records", json_integer(in->n_records));
    json_object_set_new(o, "header_records", json_integer(in->header_n_records));
    json_object_set_new(o, "record_duration_s", json_real(in->record_duration_s));
    json_object_set_new(o, "truncated_bytes", json_integer(in->truncated_bytes));
    json_object_set_new(o, "patient", json_string(in->patient));
    json_object_set_new(o, "recording", json_string(in->recording));
    json_t *gaps = json_array();
    for (size_t i = 0; i < in->n_gaps; i++)
        json_array_append_new(gaps, json_pack("{s:f,s:f,s:I}", "start_s", in->gaps[i].start_s,
                                              "duration_s", in->gaps[i].duration_s,
                                              "before_record",
                                              (json_int_t)in->gaps[i].before_record));
    json_object_set_new(o, "gaps", gaps);
    json_t *sigs = json_array();
    for (int s = 0; s < in->n_signals; s++) {
        const ictal_edf_signal *g = &in->signals[s];
        char norm[ICTAL_LABEL_MAX + 16];
        normalised(g->label, norm, sizeof(norm));
        json_t *j = json_object();
        json_object_set_new(j, "index", json_integer(s));
        json_object_set_new(j, "label", json_string(g->label));
        json_object_set_new(j, "normalized", json_string(norm));
        json_object_set_new(j, "is_annotation", json_boolean(g->is_annotation));
        json_object_set_new(j, "rate_hz", json_real(g->rate_hz));
        json_object_set_new(j, "samples_per_record", json_integer(g->samples_per_record));
        json_object_set_new(j, "unit", json_string(g->dimension));
        json_object_set_new(j, "physical_min", json_real(g->physical_min));
        json_object_set_new(j, "physical_max", json_real(g->physical_max));
        json_object_set_new(j, "digital_min", json_integer(g->digital_min));
        json_object_set_new(j, "digital_max", json_integer(g->digital_max));
        json_object_set_new(j, "transducer", json_string(g->transducer));
        json_object_set_new(j, "prefilter", json_string(g->prefilter));
        json_array_append_new(sigs, j);
    }
    json_object_set_new(o, "signals", sigs);
    json_t *anns = json_array();
    for (size_t i = 0; i < in->n_annotations; i++) {
        const ictal_edf_annotation *a = &in->annotations[i];
        json_t *j = json_object();
        json_object_set_new(j, "onset_s", json_real(a->onset_s));
        json_object_set_new(j, "duration_s", a->duration_s >= 0 ? json_real(a->duration_s) : json_null());
        json_object_set_new(j, "text", json_string(a->text));
        json_array_append_new(anns, j);
    }
    json_object_set_new(o, "annotations", anns);
    json_t *w = json_array();
    for (int i = 0; i < ws->n; i++)
        json_array_append_new(w, ictal_cli_json_string(ws->text[i]));
    json_object_set_new(o, "warnings", w);
    return o;
}

static json_t *json_error(const char *path, const ictal_diag *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", ictal_cli_json_string(path));
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", ictal_cli_json_error(d));
    return o;
}

int ictal_cmd_info(int argc, char **argv)
{
    int as_json = 0, strict = 0, n_files = 0;
    long max_ann = 20;
    const char **files = calloc((size_t)argc, sizeof(char *));
    if (files == NULL)
        return ICTAL_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--strict") == 0) {
            strict = 1;
        } else if (strcmp(argv[i], "--annotations") == 0 && i + 1 < argc) {
            char *end;
            max_ann = strtol(argv[++i], &end, 10);
            if (*end != '\0' || max_ann < 0) {
                fprintf(stderr, "ictal info: --annotations needs a count >= 0\n");
                free(files);
                return ICTAL_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            free(files);
            return ICTAL_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "ictal info: unknown option '%s'\n", argv[i]);
            usage(stderr);
            free(files);
            return ICTAL_EXIT_USAGE;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (n_files == 0) {
        usage(stderr);
        free(files);
        return ICTAL_EXIT_USAGE;
    }
    int exit_code = ICTAL_EXIT_OK;
    json_t *all = as_json ? json_array() : NULL;
    warnings *ws = malloc(sizeof(*ws));
    if (ws == NULL) {
        free(files);
        return ICTAL_EXIT_FAIL;
    }
    for (int f = 0; f < n_files; f++) {
        ictal_diag d;
        ictal_diag_init(&d);
        d.strict = strict;
        d.on_warning = collect_warning;
        d.user = ws;
        ws->n = 0;
        ictal_edf *r = NULL;
        int rc = ictal_edf_open(&r, files[f], NULL, &d);
        if (rc != 0) {
            int code = ictal_cli_exit_code(rc);
            if (code > exit_code || exit_code == ICTAL_EXIT_OK)
                exit_code = code;
            if (as_json)
                json_array_append_new(all, json_error(files[f], &d));
            ictal_cli_print_diag("info", &d);
            continue;
        }
        const ictal_edf_info *in = ictal_edf_get_info(r);
        if (as_json) {
            json_array_append_new(all, json_info(files[f], in, ws));
        } else {
            if (f > 0)
                printf("\n");
            print_human(files[f], in, ws, max_ann);
        }
        ictal_edf_close(r);
    }
    if (as_json) {
        json_t *root = json_pack("{s:o}", "files", all);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (text != NULL) {
            puts(text);
            free(text);
        }
        json_decref(root);
    }
    free(ws);
    free(files);
    return exit_code;
}
