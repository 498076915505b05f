/*
 * ictal serve [--listen HOST:PORT] [--data DIR] [...]
 * ictal serve [--data DIR] [--db URL] --add-user NAME [--role ROLE]   (password on stdin)
 *
 * Runs the monitoring server (ictal/server.h): devices stream over WebSocket, the
 * dashboard and the HTTP API are served on the same port. Stops cleanly on SIGINT or
 * SIGTERM (session logs flushed); after a crash it resumes every session from its log.
 * With --add-user it adds a user account to the data directory and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ictal/server.h"
#include "server/natsdev.h"

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
            "usage: ictal serve [--listen HOST:PORT] [--data DIR] [options]\n"
            "       ictal serve [--data DIR] [--db URL] --add-user NAME [--role ROLE] < password\n\n"
            "Monitors live EEG devices (docs/protocol.md), raises alarms, keeps recordings\n"
            "and serves the dashboard and the HTTP API (docs/server.md).\n\n"
            "  --listen HOST:PORT   where to listen (default 127.0.0.1:8080; port 0: any)\n"
            "  --data DIR           data directory (default ./ictal-data): ictal.db,\n"
            "                       sessions/, admin.token\n"
            "  --db URL             the database on PostgreSQL instead of DIR/ictal.db (SQLite):\n"
            "                       postgresql://[USER@]HOST[:PORT]/DBNAME[?...] (a libpq URI;\n"
            "                       several servers may share one database). Never logged\n"
            "  --db-password-file F its password (first line of F); else the URI's, or libpq's\n"
            "                       PGPASSWORD / PGPASSFILE (~/.pgpass)\n"
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
            "  --trust-proxy LIST   reverse proxies (ADDR[,ADDR]: IPv4/IPv6 addresses or\n"
            "                       CIDR ranges) whose X-Forwarded-For names the client; from\n"
            "                       any other peer the header is ignored\n"
            "  --mqtt HOST:PORT     also take devices over MQTT from this broker (topics\n"
            "                       ictal/v1/dev/ID/{hello,frames,ctl}: docs/protocol.md)\n"
            "  --mqtt-user U --mqtt-password-file F   broker credentials (first line of F)\n"
            "  --mqtt-ca FILE       TLS to the broker, trusting this CA (PEM)\n"
            "  --mqtt-client-id ID  the server's MQTT client id (default ictal-serve)\n"
            "  --nats URL --partitions LIST   also take devices from NATS JetStream, owning\n"
            "                       these partitions (as `ictal worker`; its --help), with\n"
            "                       --partition-count N, --nats-creds FILE, --nats-user U\n"
            "                       --nats-password-file F, --nats-ca FILE, --nats-ack-wait-s S\n"
            "  --port-file FILE     write the bound port there once listening\n"
            "  --quiet              no log lines\n"
            "  --add-user NAME      add a user account for the dashboard sign-in and exit;\n"
            "                       the password (10-1024 characters) is read from stdin\n"
            "  --role ROLE          its role: viewer (default), clinician or admin\n"
            "  -h, --help           this help\n\n"
            "People sign in on the dashboard with a user name and password (sessions last\n"
            "12 h); POST /api/users (admin) adds more. The admin API token is in\n"
            "DIR/admin.token; the dashboard also opens at http://HOST:PORT/#token=<token>.\n");
}

/* Reads one line (the password) from stdin, without echo on a terminal. */
static int read_password(const char *user, char *buf, size_t size)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "password for %s: ", user);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int ok = fgets(buf, (int)size, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static int add_user(const ictal_server_options *opt, const char *name, const char *role)
{
    char password[1100];
    if (read_password(name, password, sizeof password) != 0) {
        fprintf(stderr, "ictal serve: --add-user reads the password from stdin; got nothing\n");
        return ICTAL_EXIT_USAGE;
    }
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_server_add_user(opt, name, password, role, &d);
    memset(password, 0, sizeof password);
    if (rc != 0) {
        ictal_cli_print_diag("serve", &d);
        return rc == ICTAL_EINVAL || rc == ICTAL_ESTATE ? ICTAL_EXIT_FAIL : ictal_cli_exit_code(rc);
    }
    printf("ictal serve: user %s (%s) added to %s\n", name, role,
           opt->db_url ? "the PostgreSQL database" : opt->data_dir ? opt->data_dir : "ictal-data");
    return ICTAL_EXIT_OK;
}

int ictal_cmd_serve(int argc, char **argv)
{
    return ictal_cli_serve("serve", 0, argc, argv);
}

int ictal_cli_serve(const char *cmd, int worker, int argc, char **argv)
{
    ictal_server_options opt;
    ictal_server_options_init(&opt);
    char host[256] = "127.0.0.1";
    const char *port_file = NULL, *add_user_name = NULL, *add_user_role = NULL;
    const char *db_password_file = NULL;
    char db_password[1024];
    const char *mqtt_password_file = NULL;
    char mqtt_host[256], mqtt_password[256];
    const char *nats_password_file = NULL;
    char nats_password[256];
    if (worker)
        opt.port = 8090;
    opt.webhook_secret = getenv("ICTAL_WEBHOOK_SECRET");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) && !worker) {
            usage(stdout);
            return ICTAL_EXIT_OK;
        } else if (strcmp(a, "--closed") == 0) {
            opt.closed_enrolment = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            opt.quiet = 1;
        } else if (v == NULL) {
            fprintf(stderr, "ictal %s: %s: unknown option or missing value\n", cmd, a);
            if (!worker)
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
                    fprintf(stderr, "ictal %s: --listen wants HOST:PORT, got \"%s\"\n", cmd, v);
                    return ICTAL_EXIT_USAGE;
                }
                memcpy(host, v, (size_t)(colon - v));
                host[colon - v] = 0;
                opt.port = port == 0 ? -1 : (int)port;
            } else if (strcmp(a, "--data") == 0) {
                opt.data_dir = v;
            } else if (strcmp(a, "--db") == 0) {
                opt.db_url = v;
            } else if (strcmp(a, "--db-password-file") == 0) {
                db_password_file = v;
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
            } else if (strcmp(a, "--mqtt") == 0) {
                const char *colon = strrchr(v, ':');
                char *end = NULL;
                long port = colon ? strtol(colon + 1, &end, 10) : -1;
                if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof mqtt_host ||
                    *end != 0 || port < 1 || port > 65535) {
                    fprintf(stderr, "ictal %s: --mqtt wants HOST:PORT, got \"%s\"\n", cmd, v);
                    return ICTAL_EXIT_USAGE;
                }
                memcpy(mqtt_host, v, (size_t)(colon - v));
                mqtt_host[colon - v] = 0;
                opt.mqtt_host = mqtt_host;
                opt.mqtt_port = (int)port;
            } else if (strcmp(a, "--mqtt-user") == 0) {
                opt.mqtt_user = v;
            } else if (strcmp(a, "--mqtt-password-file") == 0) {
                mqtt_password_file = v;
            } else if (strcmp(a, "--mqtt-ca") == 0) {
                opt.mqtt_ca_file = v;
            } else if (strcmp(a, "--mqtt-client-id") == 0) {
                opt.mqtt_client_id = v;
            } else if (strcmp(a, "--nats") == 0) {
                opt.nats_url = v;
            } else if (strcmp(a, "--partitions") == 0) {
                opt.nats_partitions = v;
            } else if (strcmp(a, "--partition-count") == 0) {
                char *end = NULL;
                long n = strtol(v, &end, 10);
                if (*end != 0 || n < 1 || n > ICTAL__NATS_PARTITIONS_MAX) {
                    fprintf(stderr, "ictal %s: --partition-count wants 1..%d, got \"%s\"\n", cmd,
                            ICTAL__NATS_PARTITIONS_MAX, v);
                    return ICTAL_EXIT_USAGE;
                }
                opt.nats_partition_count = (int)n;
            } else if (strcmp(a, "--nats-creds") == 0) {
                opt.nats_creds_file = v;
            } else if (strcmp(a, "--nats-user") == 0) {
                opt.nats_user = v;
            } else if (strcmp(a, "--nats-password-file") == 0) {
                nats_password_file = v;
            } else if (strcmp(a, "--nats-ca") == 0) {
                opt.nats_ca_file = v;
            } else if (strcmp(a, "--nats-ack-wait-s") == 0) {
                double w = atof(v);
                if (!(w >= 1 && w <= 3600)) {
                    fprintf(stderr, "ictal %s: --nats-ack-wait-s wants 1..3600 seconds, got \"%s\"\n",
                            cmd, v);
                    return ICTAL_EXIT_USAGE;
                }
                opt.nats_ack_wait_ms = (int)(w * 1000);
            } else if (strcmp(a, "--port-file") == 0) {
                port_file = v;
            } else if (strcmp(a, "--trust-proxy") == 0) {
                opt.trusted_proxies = v;
            } else if (strcmp(a, "--add-user") == 0) {
                add_user_name = v;
            } else if (strcmp(a, "--role") == 0) {
                add_user_role = v;
            } else {
                fprintf(stderr, "ictal %s: unknown option %s\n", cmd, a);
                if (!worker)
                    usage(stderr);
                return ICTAL_EXIT_USAGE;
            }
        }
    }
    if ((opt.mqtt_user || mqtt_password_file || opt.mqtt_ca_file || opt.mqtt_client_id) &&
        opt.mqtt_host == NULL) {
        fprintf(stderr, "ictal %s: --mqtt-user, --mqtt-password-file, --mqtt-ca and"
                        " --mqtt-client-id go with --mqtt\n", cmd);
        return ICTAL_EXIT_USAGE;
    }
    if (mqtt_password_file) {
        if (ictal_cli_read_secret_file(mqtt_password_file, mqtt_password, sizeof mqtt_password)) {
            fprintf(stderr, "ictal %s: --mqtt-password-file %s: cannot read it\n", cmd,
                    mqtt_password_file);
            return ICTAL_EXIT_USAGE;
        }
        opt.mqtt_password = mqtt_password;
    }
    if (worker && (opt.nats_url == NULL || opt.nats_partitions == NULL)) {
        fprintf(stderr, "ictal worker: --nats URL and --partitions LIST are required\n");
        return ICTAL_EXIT_USAGE;
    }
    if ((opt.nats_partitions || opt.nats_partition_count || opt.nats_creds_file ||
         opt.nats_user || nats_password_file || opt.nats_ca_file || opt.nats_ack_wait_ms) &&
        opt.nats_url == NULL) {
        fprintf(stderr, "ictal %s: --partitions, --partition-count and the --nats-* options go"
                        " with --nats\n", cmd);
        return ICTAL_EXIT_USAGE;
    }
    if (opt.nats_url) {
        uint8_t owned[ICTAL__NATS_PARTITIONS_MAX];
        ictal_diag pd;
        ictal_diag_init(&pd);
        if (opt.nats_partitions == NULL) {
            fprintf(stderr, "ictal %s: --nats needs --partitions LIST (\"all\", or e.g. 0-7)\n",
                    cmd);
            return ICTAL_EXIT_USAGE;
        }
        int count = opt.nats_partition_count > 0 ? opt.nats_partition_count : 16;
        if (ictal__nats_partitions_parse(opt.nats_partitions, count, owned, &pd) < 0) {
            fprintf(stderr, "ictal %s: --partitions \"%s\" (of %d): %s\n", cmd,
                    opt.nats_partitions, count, pd.message);
            return ICTAL_EXIT_USAGE;
        }
    }
    if (nats_password_file) {
        if (opt.nats_user == NULL ||
            ictal_cli_read_secret_file(nats_password_file, nats_password, sizeof nats_password)) {
            fprintf(stderr, "ictal %s: --nats-password-file %s: cannot read it (and it goes with"
                            " --nats-user)\n", cmd, nats_password_file);
            return ICTAL_EXIT_USAGE;
        }
        opt.nats_password = nats_password;
    }
    if (worker && add_user_name) {
        fprintf(stderr, "ictal worker: --add-user is for `ictal serve`\n");
        return ICTAL_EXIT_USAGE;
    }
    opt.no_device_websocket = worker;
    if (add_user_role && !add_user_name) {
        fprintf(stderr, "ictal %s: --role goes with --add-user\n", cmd);
        return ICTAL_EXIT_USAGE;
    }
    if (opt.db_url && strncmp(opt.db_url, "postgresql://", 13) != 0 &&
        strncmp(opt.db_url, "postgres://", 11) != 0) {
        fprintf(stderr, "ictal %s: --db wants a postgresql:// or postgres:// URI\n", cmd);
        return ICTAL_EXIT_USAGE;
    }
    if (db_password_file) {
        if (opt.db_url == NULL) {
            fprintf(stderr, "ictal %s: --db-password-file goes with --db\n", cmd);
            return ICTAL_EXIT_USAGE;
        }
        if (ictal_cli_read_secret_file(db_password_file, db_password, sizeof db_password)) {
            fprintf(stderr, "ictal %s: --db-password-file %s: cannot read it\n", cmd,
                    db_password_file);
            return ICTAL_EXIT_USAGE;
        }
        opt.db_password = db_password;
    }
    if (add_user_name)
        return add_user(&opt, add_user_name, add_user_role ? add_user_role : "viewer");
    if (opt.webhook_url && (opt.webhook_secret == NULL || opt.webhook_secret[0] == 0)) {
        fprintf(stderr, "ictal %s: --webhook needs --webhook-secret or ICTAL_WEBHOOK_SECRET\n", cmd);
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
            ictal_cli_print_diag(cmd, &d);
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
        ictal_cli_print_diag(cmd, &d);
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
    printf("ictal %s: listening on %s:%d, data in %s%s\n", cmd, host, port,
           opt.data_dir ? opt.data_dir : "ictal-data", opt.db_url ? ", database on PostgreSQL" : "");
    printf("ictal %s: dashboard %s://%s:%d/#token=%s\n", cmd, opt.tls_cert ? "https" : "http",
           host, port, token);
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
