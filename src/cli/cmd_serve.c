/*
 * ictal serve [--listen HOST:PORT] [--data DIR] [...]
 *
 * Runs the monitoring server (ictal/server.h): devices stream over WebSocket, the
 * dashboard and the HTTP API are served on the same port. Stops cleanly on SIGINT or
 * SIGTERM (session logs flushed); after a crash it resumes every session from its log.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ictal/server.h"

int ictal_cmd_serve(int argc, char **argv);
extern const char ictal_cmd_serve_summary[];
const char ictal_cmd_serve_summary[] = "run the monitoring server (devices, alarms, dashboard, API)";

static ictal_server *g_server; /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    if (g_server)
        ictal_server_stop(g_server);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal serve [--listen HOST:PORT] [--data DIR] [options]\n\n"
            "Monitors live EEG devices (docs/protocol.md), raises alarms, keeps recordings\n"
            "and serves the dashboard and the HTTP API (docs/server.md).\n\n"
            "  --listen HOST:PORT   where to listen (default 127.0.0.1:8080; port 0: any)\n"
            "  --data DIR           data directory (default ./ictal-data): ictal.db,\n"
            "                       sessions/, admin.token\n"
            "  --web DIR            dashboard files (default: web/ of the source tree)\n"
            "  --model FILE         detector model (docs/model-format.md); default: the model\n"
            "                       of `ictal detect` (models/default.ictalmodel or the built-in\n"
            "                       copy); `none`: record and check signal quality, no alarms\n"
            "  --webhook URL        POST alarm events there (signed, retried from an outbox)\n"
            "  --webhook-secret S   HMAC-SHA256 key (or env ICTAL_WEBHOOK_SECRET)\n"
            "  --tls-cert FILE --tls-key FILE   serve https:// and wss:// (PEM files)\n"
            "  --closed             refuse devices that were not registered (POST /api/devices)\n"
            "  --max-speed X        per-stream sample rate limit, x real time (default 32)\n"
            "  --max-frames-per-s N per-stream frame rate limit (default 200)\n"
            "  --max-devices N      concurrent device connections (default 4096)\n"
            "  --port-file FILE     write the bound port there once listening\n"
            "  --quiet              no log lines\n\n"
            "The admin API token is in DIR/admin.token; the dashboard is at\n"
            "http://HOST:PORT/#token=<token>.\n");
}

int ictal_cmd_serve(int argc, char **argv)
{
    ictal_server_options opt;
    ictal_server_options_init(&opt);
    char host[256] = "127.0.0.1";
    const char *port_file = NULL;
    opt.webhook_secret = getenv("ICTAL_WEBHOOK_SECRET");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return ICTAL_EXIT_OK;
        } else if (strcmp(a, "--closed") == 0) {
            opt.closed_enrolment = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            opt.quiet = 1;
        } else if (v == NULL) {
            fprintf(stderr, "ictal serve: %s: unknown option or missing value\n", a);
            usage(stderr);
            return ICTAL_EXIT_USAGE;
        } else {
            i++;
            if (strcmp(a, "--listen") == 0) {
                const char *colon = strrchr(v, ':');
                char *end = NULL;
                long port = colon ? strtol(colon + 1, &end, 10) : -2;
                if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof host ||
                    *end != 0 || port < 0 || port > 65535) {
                    fprintf(stderr, "ictal serve: --listen wants HOST:PORT, got \"%s\"\n", v);
                    return ICTAL_EXIT_USAGE;
                }
                memcpy(host, v, (size_t)(colon - v));
                host[colon - v] = 0;
                opt.port = port == 0 ? -1 : (int)port;
            } else if (strcmp(a, "--data") == 0) {
                opt.data_dir = v;
            } else if (strcmp(a, "--tls-cert") == 0) {
                opt.tls_cert = v;
            } else if (strcmp(a, "--tls-key") == 0) {
                opt.tls_key = v;
            } else if (strcmp(a, "--model") == 0) {
                opt.model_path = v;
            } else if (strcmp(a, "--web") == 0) {
                opt.web_dir = v;
            } else if (strcmp(a, "--webhook") == 0) {
                opt.webhook_url = v;
            } else if (strcmp(a, "--webhook-secret") == 0) {
                opt.webhook_secret = v;
            } else if (strcmp(a, "--max-speed") == 0) {
                opt.max_speed = atof(v);
            } else if (strcmp(a, "--max-frames-per-s") == 0) {
                opt.max_frames_per_s = atof(v);
            } else if (strcmp(a, "--max-devices") == 0) {
                opt.max_devices = atoi(v);
            } else if (strcmp(a, "--port-file") == 0) {
                port_file = v;
            } else {
                fprintf(stderr, "ictal serve: unknown option %s\n", a);
                usage(stderr);
                return ICTAL_EXIT_USAGE;
            }
        }
    }
    if (opt.webhook_url && (opt.webhook_secret == NULL || opt.webhook_secret[0] == 0)) {
        fprintf(stderr, "ictal serve: --webhook needs --webhook-secret or ICTAL_WEBHOOK_SECRET\n");
        return ICTAL_EXIT_USAGE;
    }
    opt.host = host;
    ictal_diag d;
    ictal_diag_init(&d);
    /* The model: --model FILE, else the one `ictal detect` uses; --model none: no alarms. */
    ictal_cli_model model = {0};
    int rc;
    if (opt.model_path != NULL && strcmp(opt.model_path, "none") == 0) {
        opt.model_path = NULL;
    } else {
        rc = ictal_cli_model_load(&model, opt.model_path, &d);
        if (rc != 0) {
            ictal_cli_print_diag("serve", &d);
            return ictal_cli_exit_code(rc);
        }
        if (opt.model_path == NULL)
            opt.model_data = ictal_cli_model_bytes(&model, &opt.model_size);
    }
    ictal_server *srv = NULL;
    ictal_diag_init(&d);
    rc = ictal_server_create(&srv, &opt, &d);
    ictal_cli_model_free(&model); /* the server keeps its own copy */
    if (rc != 0) {
        ictal_cli_print_diag("serve", &d);
        return ictal_cli_exit_code(rc);
    }
    int port = ictal_server_port(srv);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
        }
    }
    char token[128] = "";
    FILE *tf = fopen(ictal_server_admin_token_path(srv), "r");
    if (tf) {
        if (fgets(token, sizeof token, tf))
            token[strcspn(token, "\r\n")] = 0;
        fclose(tf);
    }
    printf("ictal serve: listening on %s:%d, data in %s\n", host, port,
           opt.data_dir ? opt.data_dir : "ictal-data");
    printf("ictal serve: dashboard %s://%s:%d/#token=%s\n", opt.tls_cert ? "https" : "http", host,
           port, token);
    fflush(stdout);
    g_server = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = ictal_server_run(srv);
    g_server = NULL;
    ictal_server_destroy(srv);
    return rc == 0 ? ICTAL_EXIT_OK : ictal_cli_exit_code(rc);
}
