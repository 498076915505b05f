/*
 * ictal eval: SzCORE scoring of detections against reference annotations, for one
 * recording or a BIDS-like dataset, with detection latency (see include/ictal/score.h).
 */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ictal/annot.h"
#include "ictal/score.h"

const char ictal_cmd_eval_summary[] = "score detections against annotations (SzCORE), with latency";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal eval [OPTIONS] REF HYP.tsv\n"
            "       ictal eval --dataset [OPTIONS] REF_DIR HYP_DIR\n"
            "\n"
            "Scores seizure detections (HYP) against reference annotations (REF) with the\n"
            "SzCORE rules, exactly as timescoring 0.0.7 + szcore-evaluation, and reports the\n"
            "detection latency (an ictal extension). Files are SzCORE/BIDS *_events.tsv;\n"
            "one recording's reference may also be in a dataset's own format (--ref-format).\n"
            "With --dataset, every REF_DIR/sub-*/**/*_events.tsv is scored against the file\n"
            "at the same relative path under HYP_DIR (missing: no detections); metrics are\n"
            "computed per subject, then averaged ignoring NaN, and pooled over all files.\n"
            "\n"
            "options:\n"
            "  --dataset                 score two directory trees\n"
            "  --json                    machine-readable output on stdout\n"
            "  --tolerance-start S       window extension before onset (30)\n"
            "  --tolerance-end S         window extension after offset (60)\n"
            "  --min-overlap F           relative overlap needed for a detection (0)\n"
            "  --max-event-duration S    split longer events (300)\n"
            "  --min-gap S               merge events closer than this (90)\n"
            "  --duration-tolerance S    accepted length difference hyp vs ref (0)\n"
            "  --label-rate HZ           rate of the annotation masks (1)\n"
            "  --sample-rate HZ          rate of sample scoring (1)\n"
            "  --event-rate HZ           rate of event scoring (10)\n"
            "  --ref-format FMT          one recording's reference: auto (default: from the\n"
            "                            file's name and content), tsv, edf (EDF+\n"
            "                            annotations), chbmit-summary, seizures\n"
            "                            (PhysioNet), siena, tusz (.csv_bi, .csv, .tse_bi,\n"
            "                            .tse)\n"
            "  --record NAME             the record in a summary or Siena list (chb01_03.edf)\n"
            "  --recording-duration S    length of the recording when the reference format\n"
            "                            does not give it (default: the hypothesis's)\n"
            "  --strict                  warnings are errors\n"
            "  -h, --help                this help\n"
            "\n"
            "exit status: 0 scored, 1 bad input file, 2 usage, 3 file not found or unreadable\n");
}

/* ---- output helpers ---------------------------------------------------------------------- */

static json_t *jnum(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *json_metrics(const ictal_score_metrics *m, const ictal_score_metrics *std)
{
    json_t *o = json_object();
    json_object_set_new(o, "sensitivity", jnum(m->sensitivity));
    json_object_set_new(o, "precision", jnum(m->precision));
    json_object_set_new(o, "f1", jnum(m->f1));
    json_object_set_new(o, "fpRate", jnum(m->fp_rate));
    if (std != NULL) {
        json_object_set_new(o, "sensitivity_std", jnum(std->sensitivity));
        json_object_set_new(o, "precision_std", jnum(std->precision));
        json_object_set_new(o, "f1_std", jnum(std->f1));
        json_object_set_new(o, "fpRate_std", jnum(std->fp_rate));
    }
    return o;
}

static json_t *json_counts(const ictal_score_counts *c, int with_metrics)
{
    json_t *o = json_object();
    json_object_set_new(o, "refTrue", json_integer(c->ref_true));
    json_object_set_new(o, "tp", json_integer(c->tp));
    json_object_set_new(o, "fp", json_integer(c->fp));
    json_object_set_new(o, "numSamples", json_integer(c->num_samples));
    if (c->fs_hz == floor(c->fs_hz))
        json_object_set_new(o, "fs", json_integer((json_int_t)c->fs_hz));
    else
        json_object_set_new(o, "fs", json_real(c->fs_hz));
    if (with_metrics) {
        ictal_score_metrics m;
        ictal_score_metrics_compute(c, &m);
        json_object_update_new(o, json_metrics(&m, NULL));
    }
    return o;
}

static json_t *json_latency(const ictal_latency_stats *s, const double *values, size_t n)
{
    json_t *o = json_object();
    json_object_set_new(o, "count", json_integer((json_int_t)s->count));
    json_object_set_new(o, "median_s", jnum(s->median_s));
    json_object_set_new(o, "p90_s", jnum(s->p90_s));
    json_object_set_new(o, "max_s", jnum(s->max_s));
    if (values != NULL) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_real(values[i]));
        json_object_set_new(o, "values_s", a);
    }
    return o;
}

static json_t *json_params(const ictal_score_params *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "toleranceStart", json_real(p->tolerance_start_s));
    json_object_set_new(o, "toleranceEnd", json_real(p->tolerance_end_s));
    json_object_set_new(o, "minOverlap", json_real(p->min_overlap));
    json_object_set_new(o, "maxEventDuration", json_real(p->max_event_duration_s));
    json_object_set_new(o, "minDurationBetweenEvents",
                        json_real(p->min_duration_between_events_s));
    json_object_set_new(o, "durationTolerance", json_real(p->duration_tolerance_s));
    json_object_set_new(o, "labelRate", json_real(p->label_rate_hz));
    json_object_set_new(o, "sampleRate", json_real(p->sample_rate_hz));
    json_object_set_new(o, "eventRate", json_real(p->event_rate_hz));
    return o;
}

static int print_json(json_t *root)
{
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    fputc('\n', stdout);
    json_decref(root);
    return rc == 0 ? ICTAL_EXIT_OK : ICTAL_EXIT_IO;
}

static void fmt_num(char *buf, size_t size, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, size, "n/a");
    else
        snprintf(buf, size, fmt, v);
}

static void print_metric_cells(const ictal_score_metrics *m)
{
    char s[32], p[32], f[32], r[32];
    fmt_num(s, sizeof(s), m->sensitivity, "%.4f");
    fmt_num(p, sizeof(p), m->precision, "%.4f");
    fmt_num(f, sizeof(f), m->f1, "%.4f");
    fmt_num(r, sizeof(r), m->fp_rate, "%.2f");
    printf("  %11s  %9s  %6s  %10s", s, p, f, r);
}

static void print_latency_line(const char *label, const ictal_latency_stats *s)
{
    char med[32], p90[32], mx[32];
    fmt_num(med, sizeof(med), s->median_s, "%.1f s");
    fmt_num(p90, sizeof(p90), s->p90_s, "%.1f s");
    fmt_num(mx, sizeof(mx), s->max_s, "%.1f s");
    printf("%s: %zu detected seizure%s, median %s, p90 %s, max %s\n", label, s->count,
           s->count == 1 ? "" : "s", med, p90, mx);
}

/* ---- one recording ------------------------------------------------------------------------ */

typedef struct {
    ictal_annot_format format; /* ICTAL_ANNOT_UNKNOWN: from the file */
    const char *record;
    double recording_duration_s; /* for references that do not give it; NaN: the hyp's */
} ref_options;

static int eval_one(const char *ref_path, const char *hyp_path, const ref_options *ro,
                    const ictal_score_params *p, int json, ictal_diag *d)
{
    ictal_annotations ref, hyp;
    ictal_annotations_init(&ref);
    ictal_annotations_init(&hyp);
    ictal_score_result r;
    ictal_score_result_init(&r);
    int rc = ictal_annot_read_format(ref_path, ro->format, ro->record, &ref, d);
    if (rc == 0)
        rc = ictal_annot_read_tsv(hyp_path, &hyp, d);
    /* Some reference formats do not give the recording's length (.seizures files, a
     * summary without clock times): take it from the option, else the hypothesis,
     * whose TSV always has it. */
    if (rc == 0 && !isfinite(ref.recording_duration_s))
        ref.recording_duration_s = isfinite(ro->recording_duration_s) ? ro->recording_duration_s
                                                                       : hyp.recording_duration_s;
    if (rc == 0) {
        ictal_diag_clear(d);
        d->source = hyp_path;
        rc = ictal_score_recording(&ref, &hyp, p, &r, d);
    }
    if (rc != 0) {
        ictal_cli_print_diag("eval", d);
        if (json)
            ictal_cli_json_print_error(d);
        ictal_annotations_free(&ref);
        ictal_annotations_free(&hyp);
        ictal_score_result_free(&r);
        return ictal_cli_exit_code(rc);
    }
    double *sorted = malloc((r.n_latency ? r.n_latency : 1) * sizeof(double));
    ictal_latency_stats ls;
    if (sorted != NULL) {
        if (r.n_latency > 0)
            memcpy(sorted, r.latency_s, r.n_latency * sizeof(double));
        ictal_latency_stats_compute(sorted, r.n_latency, &ls);
        free(sorted);
    } else {
        ictal_latency_stats_compute(NULL, 0, &ls);
    }
    int exit_code = ICTAL_EXIT_OK;
    if (json) {
        json_t *root = json_object();
        json_object_set_new(root, "reference", ictal_cli_json_string(ref_path));
        json_object_set_new(root, "hypothesis", ictal_cli_json_string(hyp_path));
        json_object_set_new(root, "hypIgnored", json_boolean(r.hyp_ignored));
        json_object_set_new(root, "event", json_counts(&r.event, 1));
        json_object_set_new(root, "sample", json_counts(&r.sample, 1));
        json_object_set_new(root, "latency", json_latency(&ls, r.latency_s, r.n_latency));
        json_object_set_new(root, "parameters", json_params(p));
        exit_code = print_json(root);
    } else {
        ictal_score_metrics me, ms;
        ictal_score_metrics_compute(&r.event, &me);
        ictal_score_metrics_compute(&r.sample, &ms);
        printf("reference   %s\nhypothesis  %s%s\n\n", ref_path, hyp_path,
               r.hyp_ignored ? "  (ignored: length differs)" : "");
        printf("%-15s %8s %8s %8s  %11s  %9s  %6s  %10s\n", "method", "refTrue", "tp", "fp",
               "sensitivity", "precision", "f1", "FP/24h");
        printf("%-15s %8lld %8lld %8lld", "event (10 Hz)", (long long)r.event.ref_true,
               (long long)r.event.tp, (long long)r.event.fp);
        print_metric_cells(&me);
        printf("\n%-15s %8lld %8lld %8lld", "sample (1 Hz)", (long long)r.sample.ref_true,
               (long long)r.sample.tp, (long long)r.sample.fp);
        print_metric_cells(&ms);
        printf("\n\n");
        print_latency_line("latency", &ls);
    }
    ictal_annotations_free(&ref);
    ictal_annotations_free(&hyp);
    ictal_score_result_free(&r);
    return exit_code;
}

/* ---- a dataset ------------------------------------------------------------------------------ */

static int eval_dataset(const char *ref_dir, const char *hyp_dir, const ictal_score_params *p,
                        int json, ictal_diag *d)
{
    ictal_score_dataset ds;
    ictal_score_dataset_init(&ds);
    int rc = ictal_score_dataset_run(ref_dir, hyp_dir, p, &ds, d);
    if (rc == 0 && ds.n_files == 0) {
        ictal_diag_clear(d);
        d->source = ref_dir;
        /* The directory was read but is not a dataset tree: malformed input, exit 1. */
        rc = ictal_diag_error(d, ICTAL_EFORMAT, "no sub-*/**/*_events.tsv file");
    }
    if (rc != 0) {
        ictal_cli_print_diag("eval", d);
        if (json)
            ictal_cli_json_print_error(d);
        ictal_score_dataset_free(&ds);
        return ictal_cli_exit_code(rc);
    }
    int exit_code = ICTAL_EXIT_OK;
    if (json) {
        json_t *root = json_object();
        json_t *avg = json_object(), *cum = json_object();
        json_object_set_new(avg, "event_results", json_metrics(&ds.event.mean, &ds.event.std));
        json_object_set_new(avg, "sample_results",
                            json_metrics(&ds.sample.mean, &ds.sample.std));
        json_object_set_new(cum, "event_results", json_metrics(&ds.event.pooled, NULL));
        json_object_set_new(cum, "sample_results", json_metrics(&ds.sample.pooled, NULL));
        json_object_set_new(root, "avg_per_subject", avg);
        json_object_set_new(root, "cumulative", cum);
        json_t *subjects = json_object();
        for (size_t s = 0; s < ds.n_subjects; s++) {
            json_t *o = json_object();
            json_object_set_new(o, "event", json_counts(&ds.subjects[s].event, 1));
            json_object_set_new(o, "sample", json_counts(&ds.subjects[s].sample, 1));
            ictal_cli_json_set(subjects, ds.subjects[s].name, o);
        }
        json_object_set_new(root, "subjects", subjects);
        json_t *files = json_object();
        for (size_t i = 0; i < ds.n_files; i++) {
            ictal_score_file *f = &ds.files[i];
            json_t *o = json_object();
            json_object_set_new(o, "subject", ictal_cli_json_string(ds.subjects[f->subject].name));
            json_object_set_new(o, "hypMissing", json_boolean(f->hyp_missing));
            json_object_set_new(o, "hypIgnored", json_boolean(f->result.hyp_ignored));
            json_object_set_new(o, "event", json_counts(&f->result.event, 0));
            json_object_set_new(o, "sample", json_counts(&f->result.sample, 0));
            /* Stats sort a copy: values stay in time order. */
            double *tmp = malloc((f->result.n_latency ? f->result.n_latency : 1) *
                                 sizeof(double));
            ictal_latency_stats ls;
            if (tmp != NULL && f->result.n_latency > 0)
                memcpy(tmp, f->result.latency_s, f->result.n_latency * sizeof(double));
            ictal_latency_stats_compute(tmp, tmp ? f->result.n_latency : 0, &ls);
            free(tmp);
            json_object_set_new(o, "latency",
                                json_latency(&ls, f->result.latency_s, f->result.n_latency));
            ictal_cli_json_set(files, f->path, o);
        }
        json_object_set_new(root, "per_file", files);
        json_object_set_new(root, "latency", json_latency(&ds.latency, NULL, 0));
        json_object_set_new(root, "parameters", json_params(p));
        exit_code = print_json(root);
    } else {
        size_t missing = 0, ignored = 0;
        for (size_t i = 0; i < ds.n_files; i++) {
            missing += ds.files[i].hyp_missing;
            ignored += ds.files[i].result.hyp_ignored;
        }
        printf("reference   %s\nhypothesis  %s\n%zu recordings, %zu subjects; scored as no "
               "detection: %zu without hypothesis, %zu of another length\n\n",
               ref_dir, hyp_dir, ds.n_files, ds.n_subjects, missing, ignored);
        const char *methods[2] = {"event scoring (10 Hz)", "sample scoring (1 Hz)"};
        for (int k = 0; k < 2; k++) {
            printf("%s\n%-16s %8s %8s %8s  %11s  %9s  %6s  %10s\n", methods[k], "subject",
                   "refTrue", "tp", "fp", "sensitivity", "precision", "f1", "FP/24h");
            for (size_t s = 0; s < ds.n_subjects; s++) {
                const ictal_score_subject *sub = &ds.subjects[s];
                const ictal_score_counts *c = k == 0 ? &sub->event : &sub->sample;
                printf("%-16s %8lld %8lld %8lld", sub->name, (long long)c->ref_true,
                       (long long)c->tp, (long long)c->fp);
                print_metric_cells(k == 0 ? &sub->event_metrics : &sub->sample_metrics);
                printf("\n");
            }
            const ictal_score_summary *sm = k == 0 ? &ds.event : &ds.sample;
            printf("%-16s %26s", "subject mean", "");
            print_metric_cells(&sm->mean);
            printf("\n%-16s %26s", "subject std", "");
            print_metric_cells(&sm->std);
            printf("\n%-16s %26s", "pooled", "");
            print_metric_cells(&sm->pooled);
            printf("\n\n");
        }
        print_latency_line("latency (all recordings)", &ds.latency);
    }
    ictal_score_dataset_free(&ds);
    return exit_code;
}

/* ---- command line ------------------------------------------------------------------------- */

/* Called through the generated command table (cli_commands.h). */
int ictal_cmd_eval(int argc, char **argv);

int ictal_cmd_eval(int argc, char **argv)
{
    ictal_score_params p;
    ictal_score_params_default(&p);
    /* The numeric options, each with the parameter it sets. */
    const struct {
        const char *name;
        double *field;
    } number_options[] = {
        {"--tolerance-start", &p.tolerance_start_s},
        {"--tolerance-end", &p.tolerance_end_s},
        {"--min-overlap", &p.min_overlap},
        {"--max-event-duration", &p.max_event_duration_s},
        {"--min-gap", &p.min_duration_between_events_s},
        {"--duration-tolerance", &p.duration_tolerance_s},
        {"--label-rate", &p.label_rate_hz},
        {"--sample-rate", &p.sample_rate_hz},
        {"--event-rate", &p.event_rate_hz},
    };
    int dataset = 0, json = 0, strict = 0;
    ref_options ro = {ICTAL_ANNOT_UNKNOWN, NULL, NAN};
    int needs_record = 0, ref_format_given = 0;
    const char *pos[2];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return ICTAL_EXIT_OK;
        } else if (strcmp(a, "--dataset") == 0) {
            dataset = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--strict") == 0) {
            strict = 1;
        } else if (strcmp(a, "--ref-format") == 0 || strncmp(a, "--ref-format=", 13) == 0) {
            const char *v = a[12] == '=' ? a + 13 : (i + 1 < argc ? argv[++i] : "");
            ro.format = strcmp(v, "auto") == 0 ? ICTAL_ANNOT_UNKNOWN
                                               : ictal_annot_format_from_name(v);
            if (ro.format == ICTAL_ANNOT_UNKNOWN && strcmp(v, "auto") != 0) {
                fprintf(stderr, "ictal eval: unknown reference format '%s' (auto, tsv, edf, "
                                "chbmit-summary, seizures, siena, tusz)\n", v);
                return ICTAL_EXIT_USAGE;
            }
            needs_record = ictal_annot_format_needs_record(ro.format);
            ref_format_given = 1;
        } else if (strcmp(a, "--record") == 0 || strncmp(a, "--record=", 9) == 0) {
            ro.record = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
        } else if (strcmp(a, "--recording-duration") == 0 ||
                   strncmp(a, "--recording-duration=", 21) == 0) {
            const char *v = a[20] == '=' ? a + 21 : (i + 1 < argc ? argv[++i] : "");
            char *end = NULL;
            ro.recording_duration_s = strtod(v, &end);
            if (end == v || *end != '\0' || !(ro.recording_duration_s > 0) ||
                !isfinite(ro.recording_duration_s)) {
                fprintf(stderr, "ictal eval: --recording-duration needs a positive number of "
                                "seconds\n");
                return ICTAL_EXIT_USAGE;
            }
        } else if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            size_t k, n = sizeof(number_options) / sizeof(number_options[0]);
            const char *value = NULL;
            for (k = 0; k < n; k++) {
                size_t len = strlen(number_options[k].name);
                if (strncmp(a, number_options[k].name, len) == 0 &&
                    (a[len] == '\0' || a[len] == '=')) {
                    if (a[len] == '=')
                        value = a + len + 1;
                    else if (i + 1 < argc)
                        value = argv[++i];
                    break;
                }
            }
            if (k == n) {
                fprintf(stderr, "ictal eval: unknown option '%s' (see --help)\n", a);
                return ICTAL_EXIT_USAGE;
            }
            char *end = NULL;
            double v = value ? strtod(value, &end) : NAN;
            if (value == NULL || end == value || *end != '\0' || !isfinite(v)) {
                fprintf(stderr, "ictal eval: %s needs a number\n", number_options[k].name);
                return ICTAL_EXIT_USAGE;
            }
            *number_options[k].field = v;
        } else if (n_pos < 2) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "ictal eval: too many arguments (see --help)\n");
            return ICTAL_EXIT_USAGE;
        }
    }
    if (n_pos != 2) {
        usage(stderr);
        return ICTAL_EXIT_USAGE;
    }
    if (needs_record && (ro.record == NULL || ro.record[0] == '\0')) {
        fprintf(stderr, "ictal eval: this reference format lists several recordings: give "
                        "--record NAME\n");
        return ICTAL_EXIT_USAGE;
    }
    if (dataset && ref_format_given && ro.format != ICTAL_ANNOT_TSV &&
        ro.format != ICTAL_ANNOT_UNKNOWN) {
        fprintf(stderr, "ictal eval: --dataset reads *_events.tsv trees; --ref-format is for "
                        "one recording\n");
        return ICTAL_EXIT_USAGE;
    }
    ictal_diag d;
    ictal_diag_init(&d);
    if (ictal_score_params_check(&p, &d) != 0) {
        fprintf(stderr, "ictal eval: %s\n", d.message);
        return ICTAL_EXIT_USAGE;
    }
    d.on_warning = ictal_cli_warn_stderr;
    d.user = (void *)"eval";
    d.strict = strict;
    return dataset ? eval_dataset(pos[0], pos[1], &p, json, &d)
                   : eval_one(pos[0], pos[1], &ro, &p, json, &d);
}
