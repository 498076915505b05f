/*
 * ictal model info [FILE] [--json]
 * ictal model c-array [FILE] [--name NAME]        (also: ictal model --c-array FILE)
 *
 * info: what a model file records (kind, features, window, aggregation, decisions,
 * provenance). c-array: the file as a C array for firmware, which ictal_model_parse()
 * reads in place. Without FILE: the default model `ictal detect` uses. Models are made
 * by `ictal train`.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ictal/ictal.h"
#include "ictal/model.h"

int ictal_cmd_model(int argc, char **argv);
extern const char ictal_cmd_model_summary[];
const char ictal_cmd_model_summary[] = "inspect a model, export it as a C array for firmware";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal model info [FILE] [--json]\n"
            "       ictal model c-array [FILE] [--name NAME]   (also: ictal model --c-array)\n\n"
            "  info          kind, features, window and hop, aggregation, default decisions,\n"
            "                provenance\n"
            "  c-array       prints `const unsigned char NAME[]` and NAME_len for firmware\n"
            "                (default NAME ictal_model); ictal_model_parse reads it in place\n"
            "  -h, --help    this help\n\n"
            "Without FILE: the default model of `ictal detect`. Models are made by `ictal train`.\n"
            "exit status: 0 ok, 1 invalid model, 2 usage, 3 file not readable.\n");
}

/* Loads FILE (or the default model) and reports a failure as the exit status (and,
 * with json, as the --json error object on stdout). */
static int load_model(const char *path, ictal_cli_model *m, int json)
{
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_cli_model_load(m, path, &d);
    if (rc == 0)
        return 0;
    ictal_cli_print_diag("model", &d);
    if (json)
        ictal_cli_json_print_error(&d);
    return rc == ICTAL_EIO || rc == ICTAL_ENOENT ? ICTAL_EXIT_IO : ICTAL_EXIT_FAIL;
}

static int cmd_info(const char *path, int json)
{
    ictal_cli_model cm;
    int rc = load_model(path, &cm, json);
    if (rc)
        return rc;
    const ictal_model *m = &cm.model;
    const ictal_model_info *in = &m->info;
    path = cm.source;
    const char *kind = in->kind == ICTAL_MODEL_TREES ? "trees" : "logistic";
    const char *agg = in->aggregation == ICTAL_AGG_MAX ? "max" : "topk-mean";
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:f, s:f, s:f, s:s, s:i, s:f, s:i, s:i, "
                              "s:{s:f, s:f, s:f, s:f, s:f, s:f}, s:s%}",
                              "file", path, "kind", kind, "feature_set", in->feature_set,
                              "n_features", in->n_features, "rate_hz", in->rate_hz,
                              "window_s", in->window_s, "hop_s", in->hop_s, "aggregation",
                              agg, "top_k", in->top_k, "base_score", in->base_score, "n_trees",
                              (int)in->n_trees, "n_nodes", (int)in->n_nodes, "post",
                              "threshold_on", in->post.threshold_on, "threshold_off",
                              in->post.threshold_off, "smooth_s", in->post.smooth_s,
                              "min_duration_s", in->post.min_duration_s, "merge_gap_s",
                              in->post.merge_gap_s, "refractory_s", in->post.refractory_s,
                              "provenance", m->provenance_at, in->provenance_len);
        if (o) {
            json_dumpf(o, stdout, JSON_INDENT(2));
            putchar('\n');
            json_decref(o);
        }
    } else {
        printf("%s: %s model, feature set %u (%u features), %g Hz, window %g s, hop %g s\n",
               path, kind, (unsigned)in->feature_set, (unsigned)in->n_features,
               (double)in->rate_hz, (double)in->window_s, (double)in->hop_s);
        if (in->kind == ICTAL_MODEL_TREES)
            printf("  %u trees, %u nodes, base_score %g (logit)\n", (unsigned)in->n_trees,
                   (unsigned)in->n_nodes, (double)in->base_score);
        else
            printf("  bias %g\n", (double)in->base_score);
        printf("  aggregation %s (k %u); decisions: on %g, off %g, smooth %g s, min duration "
               "%g s, merge gap %g s, refractory %g s\n",
               agg, (unsigned)in->top_k, (double)in->post.threshold_on,
               (double)in->post.threshold_off, (double)in->post.smooth_s,
               (double)in->post.min_duration_s, (double)in->post.merge_gap_s,
               (double)in->post.refractory_s);
        printf("  provenance:\n%.*s\n", (int)in->provenance_len, m->provenance_at);
    }
    ictal_cli_model_free(&cm);
    return 0;
}

static int cmd_c_array(const char *path, const char *name)
{
    ictal_cli_model cm;
    int rc = load_model(path, &cm, 0);
    if (rc)
        return rc;
    size_t len;
    const unsigned char *bytes = ictal_cli_model_bytes(&cm, &len);
    printf("/* Generated by `ictal model c-array` from %s: an ictal model (format version %d,\n"
           " * see docs/model-format.md) for ictal_model_parse(). Do not edit. */\n",
           cm.source, ICTAL_MODEL_VERSION);
    printf("extern const unsigned int %s_len;\nextern const unsigned char %s[%zu];\n", name,
           name, len);
    printf("const unsigned int %s_len = %zu;\n", name, len);
    printf("const unsigned char %s[%zu] = {\n", name, len);
    for (size_t i = 0; i < len; i++)
        printf("%s0x%02x,%s", i % 12 == 0 ? "    " : "", bytes[i],
               (i % 12 == 11 || i + 1 == len) ? "\n" : " ");
    printf("};\n");
    ictal_cli_model_free(&cm);
    return 0;
}

int ictal_cmd_model(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ICTAL_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    int info = !strcmp(sub, "info");
    int c_array = !strcmp(sub, "c-array") || !strcmp(sub, "--c-array");
    if (!info && !c_array) {
        usage(stderr);
        return ICTAL_EXIT_USAGE;
    }
    const char *path = NULL, *name = "ictal_model";
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (info && !strcmp(argv[i], "--json")) {
            json = 1;
        } else if (c_array && !strcmp(argv[i], "--name") && i + 1 < argc) {
            name = argv[++i];
        } else if (argv[i][0] != '-' && path == NULL) {
            path = argv[i];
        } else {
            usage(stderr);
            return ICTAL_EXIT_USAGE;
        }
    }
    if (info)
        return cmd_info(path, json);
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              (p > name && *p >= '0' && *p <= '9'))) {
            fprintf(stderr, "ictal model: '%s' is not a C identifier\n", name);
            return ICTAL_EXIT_USAGE;
        }
    return cmd_c_array(path, name);
}
