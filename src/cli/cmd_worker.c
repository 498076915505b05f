/*
 * ictal worker --nats URL --partitions LIST [--data DIR] [--model M] [...]
 *
 * The monitoring server (ictal/server.h) taking devices only from NATS JetStream: it
 * owns the listed partitions of the device stream (one durable pull consumer each),
 * stores sessions, raises alarms and webhooks as `ictal serve` does, and serves the
 * HTTP API, /metrics and the dashboard for what it stores. Same option parser and
 * server as `ictal serve` (cmd_serve.c); no device WebSocket.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int ictal_cmd_worker(int argc, char **argv);
extern const char ictal_cmd_worker_summary[];
const char ictal_cmd_worker_summary[] =
    "process device partitions from NATS JetStream (the server at scale)";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ictal worker --nats URL --partitions LIST [--data DIR] [options]\n\n"
            "Takes devices from NATS JetStream (docs/protocol.md, \"NATS JetStream transport\"):\n"
            "owns the listed partitions of the stream ICTAL (created when missing), one durable\n"
            "pull consumer each (ictal-p<K>), processes each device in order, stores sessions,\n"
            "raises alarms and webhooks like `ictal serve`, and serves the HTTP API, /metrics\n"
            "and the dashboard for its data (no device WebSocket). A message is acknowledged\n"
            "to JetStream only once its frame is on stable storage: a worker killed at any\n"
            "point loses nothing, and the next owner of its partitions stores nothing twice\n"
            "(docs/server.md, \"At scale\").\n\n"
            "  --nats URL           nats://HOST:PORT (tls://... or with --nats-ca for TLS;\n"
            "                       comma-separated for a cluster)\n"
            "  --partitions LIST    partitions owned: \"all\", or K and A-B comma-separated\n"
            "                       (e.g. 0-7 or 0,2,4-5), each in 0..N-1\n"
            "  --partition-count N  N of the NATS server's mapping partition(N,1) (default 16;\n"
            "                       docs/nats-server.conf)\n"
            "  --nats-creds FILE    NATS credentials file (JWT and NKey seed)\n"
            "  --nats-user U --nats-password-file F   NATS user and password (first line of F)\n"
            "  --nats-ca FILE       TLS to NATS, trusting this CA (PEM)\n"
            "  --nats-ack-wait-s S  how long the unacknowledged messages of a worker that died\n"
            "                       wait before they go to its successor (default 30)\n"
            "  --listen HOST:PORT   HTTP API, /metrics, dashboard (default 127.0.0.1:8090)\n"
            "  --data DIR           data directory (default ./ictal-data), as `ictal serve`\n"
            "  --db URL             the database on PostgreSQL (postgresql://...), shared by\n"
            "                       the workers; default: SQLite in --data (as `ictal serve`)\n"
            "  --db-password-file F its password (first line of F)\n"
            "  --model FILE         detector model; `none`: no alarms (as `ictal serve`)\n"
            "  --webhook URL --webhook-secret S   alarm webhooks (as `ictal serve`)\n"
            "  --closed             refuse devices that were not registered\n"
            "  --max-speed X --max-frames-per-s N --max-devices N   limits (as `ictal serve`)\n"
            "  --tls-cert FILE --tls-key FILE --web DIR --trust-proxy LIST --port-file FILE\n"
            "  --quiet              as `ictal serve` (its --help)\n\n"
            "One worker per partition at a time: a partition's consumer hands messages to\n"
            "whoever fetches, so two live owners would interleave a device's frames.\n");
}

int ictal_cmd_worker(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return ICTAL_EXIT_OK;
        }
    int rc = ictal_cli_serve("worker", 1, argc, argv);
    if (rc == ICTAL_EXIT_USAGE)
        fprintf(stderr, "(ictal worker --help for the options)\n");
    return rc;
}
