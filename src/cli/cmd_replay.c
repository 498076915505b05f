/*
 * ictal replay FILE... --url ws://HOST:PORT | --mqtt HOST:PORT | --nats URL [--speed X] [--devices N] [faults]
 *
 * A device simulator: streams real EEG recordings to `ictal serve` exactly as devices
 * do (docs/protocol.md), resuming from the server's acknowledgements after a dropped
 * connection, with faults on demand to exercise that path.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/fleet.h"

int ictal_cmd_replay(int argc, char **argv);
extern const char ictal_cmd_replay_summary[];
const char ictal_cmd_replay_summary[] = "stream EEG files to ictal serve as simulated devices";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal replay FILE... --url ws://HOST:PORT [--speed X] [--devices N] [options]\n"
            "       ictal replay FILE... --mqtt HOST:PORT [...]   (through an MQTT broker)\n"
            "       ictal replay FILE... --nats URL [...]   (through NATS JetStream)\n\n"
            "Streams each FILE (EDF, EDF+, BDF, .npy, text, CSV: see ictal/recording.h) as simulated devices: N devices per file,\n"
            "device ids \"<prefix>-<i>\", frames of --frame-ms of int16 samples.\n\n"
            "  --url ws://HOST:PORT  the server (or --mqtt); wss://HOST:PORT for TLS\n"
            "  --ca FILE             wss: the CA or self-signed certificate to trust (PEM);\n"
            "                        with --mqtt: TLS to the broker, trusting it\n"
            "  --mqtt HOST:PORT      instead of --url: publish to this MQTT broker, which\n"
            "                        `ictal serve --mqtt` reads (docs/protocol.md)\n"
            "  --mqtt-user U --mqtt-password-file F   broker credentials\n"
            "  --nats URL            instead of --url: publish to NATS JetStream\n"
            "                        (nats://HOST:PORT), which `ictal worker` reads; device\n"
            "                        ids must not contain '.'; --ca: TLS, trusting it\n"
            "  --nats-creds FILE     NATS credentials file; --nats-user U\n"
            "                        --nats-password-file F: user and password\n"
            "  --speed X             x real time (default 1; 0: as fast as acks allow)\n"
            "  --devices N           devices per file (default 1)\n"
            "  --channels A,B,...    signal labels to stream (default: every data signal at\n"
            "                        the first signal's rate, at most 32)\n"
            "  --frame-ms MS         samples per frame in ms (default 250)\n"
            "  --device-prefix P     device id prefix (default: the file name's stem)\n"
            "  --token T             device token (default: sim-token-<device id>)\n"
            "  --stream ID           stream id (same id = resume the same session)\n"
            "  --timeout S           give up after S seconds\n"
            "faults:\n"
            "  --drop-every S        close the connection every S seconds, then resume\n"
            "  --reconnect-delay S   wait before reconnecting (default 0.2)\n"
            "  --stall-every S --stall-ms MS   stop sending for MS every S seconds\n"
            "  --reorder P           swap a frame with the next one with probability P\n"
            "                        (WebSocket only)\n"
            "  (with --mqtt or --nats, --drop-every stops sending for --reconnect-delay and\n"
            "   says hello again)\n"
            "  --quiet               nothing on stderr (the result line stays)\n"
            "  -h, --help            this help\n\n"
            "exit status: 0 every frame acknowledged, 1 rejected or timed out, 2 usage,\n"
            "3 a file could not be read.\n");
}

int ictal_cmd_replay(int argc, char **argv)
{
    ictal__fleet_options opt;
    memset(&opt, 0, sizeof opt);
    opt.speed = 1;
    opt.n_devices = 1;
    const char *files[64];
    int n_files = 0;
    const char *url = NULL, *mqtt = NULL, *nats = NULL, *channels = NULL, *prefix = NULL;
    const char *mqtt_password_file = NULL;
    char mqtt_password[256];
    double frame_ms = 250, stall_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return ICTAL_EXIT_OK;
        } else if (strcmp(a, "--quiet") == 0) {
            opt.quiet = 1;
        } else if (a[0] != '-') {
            if (n_files == 64) {
                fprintf(stderr, "ictal replay: at most 64 files\n");
                return ICTAL_EXIT_USAGE;
            }
            files[n_files++] = a;
        } else if (v == NULL) {
            fprintf(stderr, "ictal replay: %s: unknown option or missing value\n", a);
            return ICTAL_EXIT_USAGE;
        } else {
            i++;
            if (strcmp(a, "--url") == 0) url = v;
            else if (strcmp(a, "--mqtt") == 0) mqtt = v;
            else if (strcmp(a, "--mqtt-user") == 0) opt.mqtt_user = v;
            else if (strcmp(a, "--nats") == 0) nats = v;
            else if (strcmp(a, "--nats-creds") == 0) opt.nats_creds_file = v;
            else if (strcmp(a, "--nats-user") == 0) opt.mqtt_user = v;
            else if (strcmp(a, "--nats-password-file") == 0) mqtt_password_file = v;
            else if (strcmp(a, "--mqtt-password-file") == 0) mqtt_password_file = v;
            else if (strcmp(a, "--speed") == 0) opt.speed = atof(v);
            else if (strcmp(a, "--devices") == 0) opt.n_devices = atoi(v);
            else if (strcmp(a, "--channels") == 0) channels = v;
            else if (strcmp(a, "--frame-ms") == 0) frame_ms = atof(v);
            else if (strcmp(a, "--device-prefix") == 0) prefix = v;
            else if (strcmp(a, "--token") == 0) opt.token = v;
            else if (strcmp(a, "--stream") == 0) opt.stream_id = v;
            else if (strcmp(a, "--timeout") == 0) opt.timeout_s = atof(v);
            else if (strcmp(a, "--ca") == 0) opt.ca_file = v;
            else if (strcmp(a, "--drop-every") == 0) opt.drop_every_s = atof(v);
            else if (strcmp(a, "--reconnect-delay") == 0) opt.reconnect_delay_s = atof(v);
            else if (strcmp(a, "--stall-every") == 0) opt.stall_every_s = atof(v);
            else if (strcmp(a, "--stall-ms") == 0) stall_ms = atof(v);
            else if (strcmp(a, "--reorder") == 0) opt.reorder_prob = atof(v);
            else {
                fprintf(stderr, "ictal replay: unknown option %s\n", a);
                return ICTAL_EXIT_USAGE;
            }
        }
    }
    opt.stall_s = stall_ms / 1000.0;
    char host[256];
    int port = 0;
    opt.tls = url && strncmp(url, "wss://", 6) == 0;
    opt.mqtt = mqtt != NULL;
    if (opt.mqtt && opt.ca_file)
        opt.tls = 1; /* MQTT over TLS, trusting --ca */
    if (nats) {
        /* NATS: a URL of its own; the rest as for MQTT. */
        if (url || mqtt || n_files == 0 || strchr(nats, ':') == NULL) {
            fprintf(stderr, "ictal replay: need FILE... and one of --url, --mqtt and --nats URL"
                            " (nats://HOST:PORT)\n");
            return ICTAL_EXIT_USAGE;
        }
        url = NULL;
        opt.nats_url = nats;
        snprintf(host, sizeof host, "-");
        port = 1;
    } else if ((url == NULL) == (mqtt == NULL) || n_files == 0 ||
        (url && sscanf(url, opt.tls ? "wss://%255[^:/]:%d" : "ws://%255[^:/]:%d", host,
                       &port) != 2) ||
        (mqtt && sscanf(mqtt, "%255[^:/]:%d", host, &port) != 2) || port <= 0 || port > 65535) {
        fprintf(stderr, "ictal replay: need FILE... and one of --url ws://HOST:PORT (or wss://)"
                        " and --mqtt HOST:PORT\n");
        usage(stderr);
        return ICTAL_EXIT_USAGE;
    }
    if (opt.nats_creds_file && !nats) {
        fprintf(stderr, "ictal replay: --nats-creds goes with --nats\n");
        return ICTAL_EXIT_USAGE;
    }
    if ((mqtt || nats) && opt.reorder_prob > 0) {
        /* a broker delivers a client's QoS 1 messages in order: no reordering to inject */
        fprintf(stderr, "ictal replay: --reorder is for --url (WebSocket) only\n");
        return ICTAL_EXIT_USAGE;
    }
    if (mqtt_password_file) {
        if (ictal_cli_read_secret_file(mqtt_password_file, mqtt_password, sizeof mqtt_password)) {
            fprintf(stderr, "ictal replay: --mqtt-password-file %s: cannot read it\n",
                    mqtt_password_file);
            return ICTAL_EXIT_USAGE;
        }
        opt.mqtt_password = mqtt_password;
    }
    if (opt.n_devices < 1 || opt.n_devices > 10000 || frame_ms <= 0 || opt.reorder_prob < 0 ||
        opt.reorder_prob > 1) {
        fprintf(stderr, "ictal replay: --devices must be 1..10000, --frame-ms > 0, --reorder 0..1\n");
        return ICTAL_EXIT_USAGE;
    }
    opt.host = host;
    opt.port = port;
    signal(SIGPIPE, SIG_IGN);
    /* Files are streamed one after the other, each by its own fleet of devices. */
    int status = ICTAL_EXIT_OK;
    for (int f = 0; f < n_files; f++) {
        ictal__sim_source src;
        ictal_diag d;
        ictal_diag_init(&d);
        int rc = ictal__sim_source_from_file(&src, files[f], channels, frame_ms, &d);
        if (rc != 0) {
            ictal_cli_print_diag("replay", &d);
            return ictal_cli_exit_code(rc);
        }
        char stem[128];
        const char *base = strrchr(files[f], '/');
        snprintf(stem, sizeof stem, "%s", base ? base + 1 : files[f]);
        char *dot = strrchr(stem, '.');
        if (dot)
            *dot = 0;
        opt.device_prefix = prefix ? prefix : stem;
        if (!opt.quiet)
            fprintf(stderr, "ictal replay: %s: %d channels at %g Hz, %zu frames, %d device(s), %gx\n",
                    files[f], src.n_channels, src.rate_hz, src.n_frames,
                    opt.n_devices, opt.speed);
        ictal__fleet_result res;
        rc = ictal__fleet_run(&src, &opt, &res);
        printf("%s: %d device(s) done, %llu frames sent (%llu resent), %llu reconnects, %.1f s\n",
               files[f], res.devices_done, (unsigned long long)res.frames_sent,
               (unsigned long long)res.frames_resent, (unsigned long long)res.reconnects,
               res.elapsed_s);
        if (rc != 0) {
            fprintf(stderr, "ictal replay: %s: %s%s%s\n", files[f],
                    rc == ICTAL_ETRUNC   ? "timed out"
                    : rc == ICTAL_EFORMAT ? "rejected by the server"
                                          : ictal_strerror(rc),
                    res.last_error[0] ? ": " : "", res.last_error);
            status = ICTAL_EXIT_FAIL;
        }
        ictal__sim_source_free(&src);
    }
    return status;
}
