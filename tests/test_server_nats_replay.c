/*
 * `ictal replay --nats` (the fleet) when JetStream refuses its publishes: against a real
 * nats-server whose JetStream has no stream for the device subjects (no worker ever
 * created it), every publish gets an error PubAck. The run must fail saying so (the
 * stream's answer and how many publishes it refused), not time out in silence. A TLS CA
 * file that cannot be loaded is named as the cause. Skips
 * (77) when nats-server or the shared data are absent.
 */
#define _GNU_SOURCE /* strcasestr in the webhook receiver (server_test_util.h) */
#include "nats_test_util.h"

int main(void)
{
    ictal__sim_source src;
    char dir[64];
    tn_server t;
    if (tn_begin("natsrp", 4, &src, dir, &t) != 0)
        return 1;

    /* No stream: every PubAck is an error ("no responders"). */
    ictal__fleet_options o;
    ictal__fleet_result r;
    memset(&o, 0, sizeof o);
    o.nats_url = t.url;
    o.device_prefix = "nopub";
    o.stream_id = "s1";
    o.quiet = 1;
    o.timeout_s = 4;
    int rc = ictal__fleet_run(&src, &o, &r);
    CHECK(rc != 0);
    CHECK_EQ_INT(r.devices_done, 0);
    CHECK(r.publish_errors >= 1);
    printf("last_error: %s\n", r.last_error);
    CHECK(strstr(r.last_error, "publish") != NULL);
    CHECK(strcasestr(r.last_error, "no responders") != NULL);

    /* A CA file that cannot be loaded is named, not taken for a server without TLS. */
    o.ca_file = "/nonexistent/ca.pem";
    rc = ictal__fleet_run(&src, &o, &r);
    CHECK(rc != 0);
    printf("last_error: %s\n", r.last_error);
    CHECK(strstr(r.last_error, "/nonexistent/ca.pem") != NULL);
    o.ca_file = NULL;

    tn_kill(&t);
    ictal__sim_source_free(&src);
    test_remove_dir(dir);
    return test_summary();
}
