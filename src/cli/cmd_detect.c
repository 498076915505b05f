/*
 * ictal detect FILE... [--model M] [--montage auto|double-banana|wearable|as-is|LABELS]
 *                      [--out DIR] [--format tsv|edf|json] [--threshold X]
 *                      [--notch 50|60] [--rate HZ] [--quiet]
 *
 * Runs libictal over EDF/EDF+/BDF files (and NumPy, text and CSV recordings through
 * ictal/recording.h), as a device would (causally, hop by hop), and
 * writes the detected seizures per file into DIR: SzCORE events TSV (BASE_events.tsv,
 * the default), EDF+ (BASE_detections.edf: the smoothed probability per hop as a signal
 * and the detections as annotations) or JSON (BASE_detections.json). EDF+D gaps reset
 * the detector: nothing is detected across a gap. A summary per file goes to stdout.
 *
 * The model: --model M, else models/default.ictalmodel of the source tree this binary
 * was built from, else the copy of that model compiled into the binary.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "ictal/annot.h"
#include "ictal/edf.h"
#include "ictal/ictal.h"
#include "ictal/montage.h"
#include "ictal/recording.h"

int ictal_cmd_detect(int argc, char **argv);
extern const char ictal_cmd_detect_summary[];
const char ictal_cmd_detect_summary[] = "detect seizures in EEG files (SzCORE TSV, EDF+, JSON)";


#define CHUNK_RECORDS_MAX 65536
#define CHUNK_FRAMES 2048 /* frames per read: with the 18 channels, ~150 KB that stay in L2 */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal detect FILE... [--model M]\n"
            "                    [--montage auto|double-banana|wearable|as-is|LABELS]\n"
            "                    [--out DIR] [--format tsv|edf|json] [--threshold X]\n"
            "                    [--notch 50|60] [--rate HZ] [--quiet]\n\n"
            "Detects seizures with libictal, causally, in EDF, EDF+C/D, BDF and BDF+ files\n"
            "(EDF+D gaps reset the detector) and in the recordings ictal/recording.h reads:\n"
            "NumPy (channels x samples), one-column text (Bonn), CSV (Emotiv, OpenBCI, ...).\n\n"
            "  --model M       model file (default: models/default.ictalmodel, else the copy\n"
            "                  built into this binary)\n"
            "  --montage K     auto (default: double banana if possible, else the wearable\n"
            "                  temporal chains, else what is there), double-banana, wearable,\n"
            "                  derivations \"F7-T7,T7-P7\", or as-is (every channel as\n"
            "                  recorded, e.g. a single intracranial contact)\n"
            "  --out DIR       where to write (default .): BASE_events.tsv (SzCORE),\n"
            "                  BASE_detections.edf or BASE_detections.json\n"
            "  --format F      tsv (default), edf or json\n"
            "  --threshold X   alarm threshold on the smoothed probability (model default)\n"
            "  --notch HZ      50 or 60 Hz notch filter\n"
            "  --rate HZ       sample rate of a recording that does not state it\n"
            "  --quiet         no summary\n"
            "  -h, --help      this help\n\n"
            "exit status: 0 all files processed, 1 a file has no usable EEG or is malformed,\n"
            "2 usage, 3 a file could not be read or written.\n");
}

typedef struct detection {
    double onset_s, offset_s, alarm_s;
    float peak;
    uint32_t channels;
} detection;

typedef struct run_state {
    detection *det;
    size_t n, cap;
    /* EDF output: the smoothed probability per hop, in records of 1 s. */
    ictal_edf_writer *w;
    float rec_buf[64];
    int rec_fill, per_rec;
    double rec_start_s;
    int write_error;
    ictal_diag *wd;
    uint64_t hops, artifact_hops;
} run_state;

static void on_alarm(void *user, const ictal_alarm *a)
{
    run_state *st = user;
    if (a->kind != ICTAL_ALARM_END)
        return;
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        detection *nd = realloc(st->det, st->cap * sizeof *nd);
        if (nd == NULL)
            return;
        st->det = nd;
    }
    st->det[st->n++] = (detection){a->onset_s, a->offset_s, a->alarm_s, a->peak_prob, a->channels};
}

static void flush_record(run_state *st)
{
    if (st->w == NULL || st->rec_fill == 0 || st->write_error)
        return;
    for (int i = st->rec_fill; i < st->per_rec; i++)
        st->rec_buf[i] = st->rec_buf[st->rec_fill - 1];
    const float *sig[1] = {st->rec_buf};
    if (ictal_edf_writer_write_record(st->w, st->rec_start_s, sig, st->wd) != 0)
        st->write_error = 1;
    st->rec_fill = 0;
}

static void on_hop(void *user, const ictal_hop *h)
{
    run_state *st = user;
    st->hops++;
    st->artifact_hops += h->state == ICTAL_STATE_ARTIFACT;
    if (st->w == NULL)
        return;
    double start = h->t_s - 1.0 / st->per_rec;
    if (st->rec_fill == 0)
        st->rec_start_s = start;
    st->rec_buf[st->rec_fill++] = isfinite(h->prob_smooth) ? h->prob_smooth : 0.0f;
    if (st->rec_fill == st->per_rec)
        flush_record(st);
}


static const char *base_name(const char *path, char *buf, size_t size)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, size, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
    return buf;
}

static void channel_list(const ictal_montage *m, uint32_t mask, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int c = 0; c < m->n_channels && c < 32; c++)
        if (mask & (1u << c)) {
            int k = snprintf(out + n, size - n, "%s%s", n ? "," : "", m->labels[c]);
            if (k < 0 || (size_t)k >= size - n)
                break;
            n += (size_t)k;
        }
}

typedef struct options {
    const ictal_model *model;
    ictal_montage_kind kind;
    const char *custom;
    const char *out_dir;
    const char *format;
    float threshold;
    int notch, quiet, progress;
    double rate_hz; /* --rate: for recordings that do not say (npy, text) */
    int as_is;      /* --montage as-is */
} options;

/* EDF and BDF files go through ictal/edf.h (so that EDF+D gaps reset the detector);
 * everything else (NumPy, text, CSV) through ictal/recording.h. */
static int is_edf_family(const char *path)
{
    unsigned char h[8] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 1; /* let the EDF reader say why it cannot be opened */
    size_t n = fread(h, 1, 8, f);
    fclose(f);
    return n == 8 && (!memcmp(h, "0       ", 8) || !memcmp(h, "\xff" "BIOSEMI", 8));
}

/* Runs one file. Returns an exit code. */
static int detect_file(const char *path, const options *o, json_t *summary_json)
{
    ictal_diag d;
    ictal_diag_init(&d);
    d.source = path;
    d.on_warning = NULL;
    ictal_edf *r = NULL;
    ictal_recording *rr = NULL;
    const ictal_edf_info *in = NULL;
    const ictal_recording_info *ri = NULL;
    int rc, is_edf = is_edf_family(path);
    if (is_edf) {
        ictal_edf_options eo = {1};
        rc = ictal_edf_open(&r, path, &eo, &d);
    } else {
        ictal_recording_options ro;
        ictal_recording_options_init(&ro);
        if (o->rate_hz > 0)
            ro.sample_rate_hz = o->rate_hz;
        rc = ictal_recording_open(&rr, path, &ro, &d);
    }
    if (rc) {
        ictal_cli_print_diag("detect", &d);
        return ictal_cli_exit_code(rc);
    }
    int n_inputs = 0;
    if (is_edf) {
        in = ictal_edf_get_info(r);
        n_inputs = in->n_signals;
    } else {
        ri = ictal_recording_get_info(rr);
        n_inputs = ri->n_channels;
    }
    int exit_code = ICTAL_EXIT_OK;
    float *raw = NULL, *frames = NULL;
    run_state st = {0};
    void *mem = NULL;

    /* Data signals and their labels. */
    int n_data = 0, *sig_of = malloc(sizeof(int) * (size_t)(n_inputs + 1));
    const char **labels = malloc(sizeof(char *) * (size_t)(n_inputs + 1));
    for (int s = 0; s < n_inputs; s++)
        if (ri || !in->signals[s].is_annotation) {
            sig_of[n_data] = s;
            labels[n_data++] = ri ? ri->labels[s] : in->signals[s].label;
        }
    ictal_montage m;
    if (o->as_is) {
        /* Every channel as recorded (one intracranial contact, a device's own
         * derivations): dummies and unnamed signals left out. */
        memset(&m, 0, sizeof m);
        for (int i = 0; i < n_data && m.n_channels < ICTAL_MONTAGE_MAX; i++) {
            if (strspn(labels[i], "- ") == strlen(labels[i]))
                continue;
            int c = m.n_channels++;
            snprintf(m.labels[c], sizeof m.labels[c], "%s", labels[i]);
            m.pos[c] = (int16_t)i;
            m.neg[c] = -1;
            m.source[c] = ICTAL_MONTAGE_FOUND;
        }
        rc = m.n_channels > 0 ? 0 : ICTAL_ENOENT;
    } else {
        rc = n_data > 0 ? ictal_montage_build(&m, o->kind, labels, n_data, o->custom)
                        : ICTAL_ENOENT;
    }
    if (rc != 0 || m.n_channels < 1) {
        char want[512] = "";
        if (rc == ICTAL_ENOENT && n_data > 0)
            for (int i = 0, k = 0; i < m.n_missing && k < (int)sizeof want - 24; i++)
                k += snprintf(want + k, sizeof want - (size_t)k, "%s%s", i ? "," : "",
                              m.missing[i]);
        fprintf(stderr, "ictal detect: %s: no usable EEG channel for the montage%s%s\n", path,
                want[0] ? "; missing " : "", want);
        exit_code = ICTAL_EXIT_FAIL;
        goto out;
    }
    /* The input signals the montage reads, which must share a rate. */
    int sel[2 * ICTAL_MONTAGE_MAX], n_sel = 0, map[ICTAL_MONTAGE_INPUTS_MAX];
    for (int i = 0; i < ICTAL_MONTAGE_INPUTS_MAX; i++)
        map[i] = -1;
    for (int c = 0; c < m.n_channels; c++) {
        int idx[2] = {m.pos[c], m.neg[c]};
        for (int k = 0; k < 2; k++) {
            if (idx[k] < 0 || idx[k] >= n_data || idx[k] >= ICTAL_MONTAGE_INPUTS_MAX)
                continue;
            if (map[idx[k]] < 0) {
                map[idx[k]] = n_sel;
                sel[n_sel++] = sig_of[idx[k]];
            }
        }
    }
    int spr = ri ? 256 : in->signals[sel[0]].samples_per_record; /* frames per read unit */
    for (int k = 1; k < n_sel && in; k++)
        if (in->signals[sel[k]].samples_per_record != spr) {
            fprintf(stderr, "ictal detect: %s: the montage's signals have different rates "
                            "(%s: %g Hz, %s: %g Hz)\n",
                    path, in->signals[sel[0]].label, in->signals[sel[0]].rate_hz,
                    in->signals[sel[k]].label, in->signals[sel[k]].rate_hz);
            exit_code = ICTAL_EXIT_FAIL;
            goto out;
        }
    ictal_montage ms = m; /* the montage over the selected signals (EDF) */
    for (int c = 0; c < m.n_channels && in; c++) {
        ms.pos[c] = (int16_t)map[m.pos[c]];
        ms.neg[c] = m.neg[c] >= 0 ? (int16_t)map[m.neg[c]] : -1;
    }
    if (ri)
        n_sel = n_inputs; /* a recording gives all its channels in every frame */
    int direct = in != NULL && n_sel == m.n_channels;
    for (int c = 0; c < m.n_channels && direct; c++)
        direct = m.source[c] == ICTAL_MONTAGE_FOUND && ms.pos[c] == c && ms.neg[c] < 0;
    double rate = ri ? ri->sample_rate_hz : in->signals[sel[0]].rate_hz;

    /* The detector. */
    const char *chan_labels[ICTAL_MONTAGE_MAX];
    for (int c = 0; c < m.n_channels; c++)
        chan_labels[c] = m.labels[c];
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = m.n_channels;
    cfg.rate_hz = rate;
    cfg.labels = chan_labels;
    cfg.model = o->model;
    cfg.notch_hz = o->notch;
    if (o->threshold >= 0.0f)
        cfg.post.threshold_on = o->threshold;
    cfg.on_alarm = on_alarm;
    cfg.on_hop = on_hop;
    cfg.user = &st;
    size_t size = ictal_detector_size(&cfg);
    if (size == 0) {
        ictal_config_check(&cfg, &d);
        ictal_cli_print_diag("detect", &d);
        exit_code = ICTAL_EXIT_FAIL;
        goto out;
    }
    mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, (size + 15) / 16 * 16);
    if (mem == NULL || ictal_detector_init(mem, size, &cfg) != 0) {
        fprintf(stderr, "ictal detect: %s: cannot set up the detector\n", path);
        exit_code = ICTAL_EXIT_FAIL;
        goto out;
    }
    ictal_detector *det = mem;

    char base[512], out_path[4096];
    base_name(path, base, sizeof base);
    int fmt_edf = !strcmp(o->format, "edf"), fmt_json = !strcmp(o->format, "json");
    ictal_diag wd;
    ictal_diag_init(&wd);
    if (fmt_edf) {
        snprintf(out_path, sizeof out_path, "%s/%s_detections.edf", o->out_dir, base);
        float hop = ictal_detector_hop_s(det);
        st.per_rec = (int)lrint(1.0 / hop);
        ictal_edf_writer_signal ws = {"Seizure prob", 1.0 / hop, 0.0, 1.0, 0, 1000, "",
                                      NULL, NULL};
        ictal_edf_writer_options wo = {0};
        wo.record_duration_s = 1.0;
        if (in) {
            wo.year = in->year;
            wo.month = in->month;
            wo.day = in->day;
            wo.hour = in->hour;
            wo.minute = in->minute;
            wo.second = in->second;
            wo.start_subsecond_s = in->start_subsecond_s;
        }
        wo.recording = "ictal detect";
        wd.source = out_path;
        if (ictal_edf_writer_open(&st.w, out_path, &ws, 1, &wo, &wd) != 0) {
            ictal_cli_print_diag("detect", &wd);
            exit_code = ICTAL_EXIT_IO;
            goto out;
        }
        st.wd = &wd;
    }

    /* Contiguous runs of records between EDF+D gaps: the detector starts afresh in each. */
    int64_t chunk_records = CHUNK_FRAMES / (spr > 0 ? spr : 1);
    if (chunk_records < 1)
        chunk_records = 1;
    raw = malloc(sizeof(float) * (size_t)n_sel * (size_t)spr * (size_t)chunk_records);
    frames = malloc(sizeof(float) * (size_t)m.n_channels * (size_t)spr * (size_t)chunk_records);
    if (raw == NULL || frames == NULL) {
        exit_code = ICTAL_EXIT_FAIL;
        goto out;
    }
    clock_t t_start = clock();
    size_t gi = 0;
    int64_t rec = 0;
    double duration_s = in ? in->duration_s : 0.0;
    int shown_pct = -1; /* the bar is redrawn when its percentage changes, not per read */
    if (ri) {
        /* One contiguous stretch. */
        int64_t total = 0, got;
        int64_t max = (int64_t)spr * chunk_records;
        ictal_detector_reset(det, 0.0);
        while ((got = ictal_recording_read(rr, raw, max, &d)) > 0) {
            for (int64_t f = 0; f < got; f++)
                ictal_montage_apply(&ms, raw + (size_t)f * (size_t)n_sel,
                                    frames + (size_t)f * (size_t)m.n_channels);
            ictal_detector_push(det, frames, (size_t)got);
            total += got;
            if (o->progress && ri->n_frames > 0 && (int)(100 * total / ri->n_frames) != shown_pct) {
                shown_pct = (int)(100 * total / ri->n_frames);
                ictal_cli_progress(base, (double)total, (double)ri->n_frames);
            }
        }
        if (got < 0) {
            ictal_cli_print_diag("detect", &d);
            exit_code = ictal_cli_exit_code((int)got);
            goto out;
        }
        duration_s = (double)total / rate;
    }
    while (in && rec < in->n_records) {
        int64_t end = in->n_records;
        while (gi < in->n_gaps && in->gaps[gi].before_record <= rec)
            gi++;
        if (gi < in->n_gaps)
            end = in->gaps[gi].before_record;
        double t0 = 0.0;
        ictal_edf_record_start(r, rec, &t0);
        flush_record(&st);
        ictal_detector_reset(det, t0);
        while (rec < end) {
            int64_t n = end - rec < chunk_records ? end - rec : chunk_records;
            /* When every channel is a signal of the file as it is, the selected signals
             * are the channels, in order: read them straight into the frames. */
            rc = ictal_edf_read_frames(r, rec, n, sel, n_sel, direct ? frames : raw, &d);
            if (rc) {
                ictal_cli_print_diag("detect", &d);
                exit_code = ictal_cli_exit_code(rc);
                goto out;
            }
            size_t nf = (size_t)n * (size_t)spr;
            for (size_t f = 0; f < nf && !direct; f++)
                ictal_montage_apply(&ms, raw + f * (size_t)n_sel, frames + f * (size_t)m.n_channels);
            ictal_detector_push(det, frames, nf);
            rec += n;
            if (o->progress && (int)(100 * rec / in->n_records) != shown_pct) {
                shown_pct = (int)(100 * rec / in->n_records);
                ictal_cli_progress(base, (double)rec, (double)in->n_records);
            }
        }
    }
    ictal_detector_reset(det, duration_s); /* ends an open event */
    flush_record(&st);
    double cpu_s = (double)(clock() - t_start) / CLOCKS_PER_SEC;
    if (o->progress)
        ictal_cli_progress_end();

    /* Outputs. */
    ictal_annotations ann;
    ictal_annotations_init(&ann);
    ann.recording_duration_s = duration_s;
    snprintf(ann.date_time, sizeof ann.date_time, "%s", in ? in->start_iso : "");
    json_t *jev = json_array();
    for (size_t i = 0; i < st.n; i++) {
        ictal_event e;
        memset(&e, 0, sizeof e);
        e.onset_s = st.det[i].onset_s < 0 ? 0 : st.det[i].onset_s;
        e.duration_s = st.det[i].offset_s - e.onset_s;
        if (e.duration_s < 0)
            e.duration_s = 0;
        snprintf(e.event_type, sizeof e.event_type, "sz");
        e.confidence = st.det[i].peak;
        channel_list(&m, st.det[i].channels, e.channels, sizeof e.channels);
        ictal_annotations_add(&ann, &e);
        json_array_append_new(jev, json_pack("{s:f, s:f, s:f, s:f, s:s}", "onset_s", e.onset_s,
                                             "duration_s", e.duration_s, "alarm_s",
                                             st.det[i].alarm_s, "peak_prob", e.confidence,
                                             "channels", e.channels));
        if (st.w)
            ictal_edf_writer_annotate(st.w, e.onset_s, e.duration_s, "seizure (ictal detect)",
                                      &wd);
    }
    json_t *jch = json_array();
    for (int c = 0; c < m.n_channels; c++)
        json_array_append_new(jch, json_string(m.labels[c]));
    json_t *jfile = json_pack("{s:s, s:f, s:f, s:i, s:o, s:o, s:I, s:I, s:f}", "file", path,
                              "duration_s", duration_s, "rate_hz", rate, "gaps",
                              in ? (int)in->n_gaps : 0, "channels", jch, "events", jev, "hops",
                              (json_int_t)st.hops, "artifact_hops",
                              (json_int_t)st.artifact_hops, "cpu_s", cpu_s);
    if (fmt_edf) {
        if (ictal_edf_writer_close(st.w, &wd) != 0 || st.write_error) {
            ictal_cli_print_diag("detect", &wd);
            exit_code = ICTAL_EXIT_IO;
        }
        st.w = NULL;
    } else if (fmt_json) {
        snprintf(out_path, sizeof out_path, "%s/%s_detections.json", o->out_dir, base);
        if (json_dump_file(jfile, out_path, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "ictal detect: cannot write %s\n", out_path);
            exit_code = ICTAL_EXIT_IO;
        }
    } else {
        snprintf(out_path, sizeof out_path, "%s/%s_events.tsv", o->out_dir, base);
        ictal_diag td;
        ictal_diag_init(&td);
        if (ictal_annot_write_tsv(out_path, &ann, &td) != 0) {
            ictal_cli_print_diag("detect", &td);
            exit_code = ICTAL_EXIT_IO;
        }
    }
    if (!o->quiet) {
        printf("%s: %.1f s, %d channel%s at %g Hz%s, %zu seizure%s detected, %.1f%% of hops "
               "without usable channel, %.3f s CPU (%.0fx real time) -> %s\n",
               path, duration_s, m.n_channels, m.n_channels == 1 ? "" : "s", rate,
               in && in->n_gaps ? " (EDF+D, reset at each gap)" : "", st.n, st.n == 1 ? "" : "s",
               st.hops ? 100.0 * (double)st.artifact_hops / (double)st.hops : 0.0, cpu_s,
               cpu_s > 0 ? duration_s / cpu_s : 0.0, out_path);
        for (size_t i = 0; i < st.n && i < 20; i++)
            printf("  seizure %zu: %.1f s to %.1f s, alarm at %.1f s, peak %.2f, %s\n", i + 1,
                   ann.events[i].onset_s, ann.events[i].onset_s + ann.events[i].duration_s,
                   st.det[i].alarm_s, st.det[i].peak, ann.events[i].channels);
    }
    if (summary_json)
        json_array_append(summary_json, jfile);
    json_decref(jfile);
    ictal_annotations_free(&ann);
out:
    if (st.w)
        ictal_edf_writer_close(st.w, NULL);
    free(st.det);
    free(mem);
    free(raw);
    free(frames);
    free(sig_of);
    free(labels);
    if (r)
        ictal_edf_close(r);
    if (rr)
        ictal_recording_close(rr);
    return exit_code;
}

int ictal_cmd_detect(int argc, char **argv)
{
    options o = {NULL, ICTAL_MONTAGE_AUTO, NULL, ".", "tsv", -1.0f, 0, 0, 0, 0.0, 0};
    const char *model_path = NULL;
    const char *files[4096];
    int n_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") && has) {
            model_path = argv[++i];
        } else if (!strcmp(a, "--montage") && has) {
            const char *k = argv[++i];
            if (!strcmp(k, "auto"))
                o.kind = ICTAL_MONTAGE_AUTO;
            else if (!strcmp(k, "double-banana"))
                o.kind = ICTAL_MONTAGE_DOUBLE_BANANA;
            else if (!strcmp(k, "wearable"))
                o.kind = ICTAL_MONTAGE_WEARABLE;
            else if (!strcmp(k, "as-is"))
                o.as_is = 1;
            else {
                o.kind = ICTAL_MONTAGE_CUSTOM;
                o.custom = k;
            }
        } else if (!strcmp(a, "--out") && has) {
            o.out_dir = argv[++i];
        } else if (!strcmp(a, "--format") && has) {
            o.format = argv[++i];
            if (strcmp(o.format, "tsv") && strcmp(o.format, "edf") && strcmp(o.format, "json")) {
                fprintf(stderr, "ictal detect: --format must be tsv, edf or json\n");
                return ICTAL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--threshold") && has) {
            char *e;
            o.threshold = strtof(argv[++i], &e);
            if (*e || !(o.threshold >= 0.0f && o.threshold <= 1.0f)) {
                fprintf(stderr, "ictal detect: --threshold must be between 0 and 1\n");
                return ICTAL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--notch") && has) {
            o.notch = atoi(argv[++i]);
            if (o.notch != 50 && o.notch != 60) {
                fprintf(stderr, "ictal detect: --notch must be 50 or 60\n");
                return ICTAL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--rate") && has) {
            char *e;
            o.rate_hz = strtod(argv[++i], &e);
            if (*e || !(o.rate_hz > 0)) {
                fprintf(stderr, "ictal detect: --rate must be a positive number of Hz\n");
                return ICTAL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "ictal detect: unknown option '%s'\n", a);
            usage(stderr);
            return ICTAL_EXIT_USAGE;
        } else if (n_files < 4096) {
            files[n_files++] = a;
        }
    }
    if (n_files == 0) {
        usage(stderr);
        return ICTAL_EXIT_USAGE;
    }

    /* The model: --model, else the source tree's default, else the built-in copy. */
    ictal_cli_model model;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_cli_model_load(&model, model_path, &d);
    if (rc) {
        ictal_cli_print_diag("detect", &d);
        return rc == ICTAL_EIO || rc == ICTAL_ENOENT ? ICTAL_EXIT_IO : ICTAL_EXIT_FAIL;
    }
    o.model = &model.model;
    o.progress = ictal_cli_stdout_is_tty() && !o.quiet;
    if (mkdir(o.out_dir, 0777) != 0) {
        struct stat sb;
        if (stat(o.out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "ictal detect: cannot create the output folder %s\n", o.out_dir);
            ictal_cli_model_free(&model);
            return ICTAL_EXIT_IO;
        }
    }

    int worst = ICTAL_EXIT_OK;
    for (int i = 0; i < n_files; i++) {
        int e = detect_file(files[i], &o, NULL);
        if (e > worst)
            worst = e;
    }
    ictal_cli_model_free(&model);
    return worst;
}
