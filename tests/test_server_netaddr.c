/*
 * Client addresses behind trusted reverse proxies (src/server/netaddr.h): the
 * --trust-proxy list (addresses and CIDR ranges, IPv4 and IPv6, bad entries named), and
 * the client picked from X-Forwarded-For: only from a trusted peer, the right-most entry
 * that is not a trusted proxy, never an entry a client could choose by prepending, one
 * canonical spelling per address. The real server's use is in test_server_login.
 */
#include <string.h>

#include "server/netaddr.h"
#include "test.h"

static const char *client(const ictal__proxies *p, const char *peer, const char *xff)
{
    static char out[ICTAL__ADDR_TEXT_MAX];
    ictal__client_addr(p, peer, xff, out);
    return out;
}

static void test_parse(void)
{
    ictal__proxies p;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__proxies_parse(&p, NULL, &d), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK_EQ_INT(ictal__proxies_parse(&p, "", &d), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK_EQ_INT(ictal__proxies_parse(&p, "10.0.0.1,192.168.4.0/22,2001:db8::/32,::1", &d), 0);
    CHECK_EQ_INT(p.n, 4);
    CHECK(ictal__proxies_trust(&p, "10.0.0.1"));
    CHECK(!ictal__proxies_trust(&p, "10.0.0.2"));
    CHECK(ictal__proxies_trust(&p, "192.168.4.0"));
    CHECK(ictal__proxies_trust(&p, "192.168.7.255"));
    CHECK(!ictal__proxies_trust(&p, "192.168.8.0"));
    CHECK(!ictal__proxies_trust(&p, "192.168.3.255"));
    CHECK(ictal__proxies_trust(&p, "2001:db8:ffff::7"));
    CHECK(!ictal__proxies_trust(&p, "2001:db9::7"));
    CHECK(ictal__proxies_trust(&p, "::1"));
    CHECK(ictal__proxies_trust(&p, "::ffff:10.0.0.1")); /* IPv4-mapped is the IPv4 address */
    CHECK(!ictal__proxies_trust(&p, "not an address"));
    CHECK(!ictal__proxies_trust(&p, NULL));
    /* Host bits in a range are ignored: 10.1.2.3/8 is 10.0.0.0/8. */
    CHECK_EQ_INT(ictal__proxies_parse(&p, "10.1.2.3/8", &d), 0);
    CHECK(ictal__proxies_trust(&p, "10.200.0.1"));
    CHECK(!ictal__proxies_trust(&p, "11.0.0.1"));
    /* /0 trusts everything of its family. */
    CHECK_EQ_INT(ictal__proxies_parse(&p, "0.0.0.0/0", &d), 0);
    CHECK(ictal__proxies_trust(&p, "203.0.113.9"));
    CHECK(!ictal__proxies_trust(&p, "2001:db8::1"));

    const char *bad[] = {"10.0.0.256", "10.0.0.1/33", "::1/129", "10.0.0.1/", "10.0.0.1/8x",
                         "10.0.0.1,,10.0.0.2", "proxy.example", "10.0.0.1 ", "10.0.0.1/-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ictal_diag_init(&d);
        CHECK_EQ_INT(ictal__proxies_parse(&p, bad[i], &d), ICTAL_EINVAL);
        CHECK(strstr(d.message, "--trust-proxy") != NULL);
    }
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__proxies_parse(&p, "10.0.0.1/8x", &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "10.0.0.1/8x") != NULL && strstr(d.message, "0 to 32") != NULL);
    char many[2000] = "";
    for (int i = 0; i <= ICTAL__PROXIES_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.%d.1", i ? "," : "", i);
    CHECK_EQ_INT(ictal__proxies_parse(&p, many, &d), ICTAL_ERANGE);
}

static void test_client(void)
{
    ictal__proxies p, none;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal__proxies_parse(&none, NULL, &d), 0);
    CHECK_EQ_INT(ictal__proxies_parse(&p, "127.0.0.3,10.8.0.0/16,2001:db8::1", &d), 0);

    /* No trusted proxy, or an untrusted peer: the header is ignored. */
    CHECK_STR(client(&none, "127.0.0.3", "203.0.113.7"), "127.0.0.3");
    CHECK_STR(client(&p, "127.0.0.2", "203.0.113.7"), "127.0.0.2");
    CHECK_STR(client(&p, "198.51.100.4", "127.0.0.3"), "198.51.100.4");
    /* A trusted peer: the entry it appended. */
    CHECK_STR(client(&p, "127.0.0.3", "203.0.113.7"), "203.0.113.7");
    CHECK_STR(client(&p, "127.0.0.3", " 203.0.113.7 "), "203.0.113.7");
    CHECK_STR(client(&p, "127.0.0.3", NULL), "127.0.0.3");
    CHECK_STR(client(&p, "127.0.0.3", ""), "127.0.0.3");
    /* What a client prepends does not count: the right-most untrusted entry does. */
    CHECK_STR(client(&p, "127.0.0.3", "198.51.100.1, 203.0.113.7"), "203.0.113.7");
    CHECK_STR(client(&p, "127.0.0.3", "127.0.0.1,203.0.113.7"), "203.0.113.7");
    /* Our other proxies on the way are skipped. */
    CHECK_STR(client(&p, "127.0.0.3", "198.51.100.1, 203.0.113.7, 10.8.3.4"), "203.0.113.7");
    CHECK_STR(client(&p, "10.8.0.9", "203.0.113.7,127.0.0.3"), "203.0.113.7");
    /* All trusted: the left-most. */
    CHECK_STR(client(&p, "127.0.0.3", "10.8.1.1, 10.8.2.2"), "10.8.1.1");
    /* Not an address (a port, "unknown", garbage, an empty entry): the peer. */
    CHECK_STR(client(&p, "127.0.0.3", "203.0.113.7:4431"), "127.0.0.3");
    CHECK_STR(client(&p, "127.0.0.3", "unknown"), "127.0.0.3");
    CHECK_STR(client(&p, "127.0.0.3", "203.0.113.7, 10.8.1.1, ,"), "127.0.0.3");
    CHECK_STR(client(&p, "127.0.0.3", "203.0.113.7, junk, 10.8.1.1"), "127.0.0.3");
    /* One spelling per address: IPv6 compressed, IPv4-mapped as IPv4. */
    CHECK_STR(client(&p, "127.0.0.3", "2001:DB8:0:0::0:7"), "2001:db8::7");
    CHECK_STR(client(&p, "127.0.0.3", "::ffff:203.0.113.7"), "203.0.113.7");
    CHECK_STR(client(&p, "::ffff:127.0.0.3", "203.0.113.7"), "203.0.113.7");
    CHECK_STR(client(&p, "2001:db8::1", "2001:db8::9"), "2001:db8::9");
    CHECK_STR(client(&p, "2001:db8::2", "2001:db8::9"), "2001:db8::2");
    char out[ICTAL__ADDR_TEXT_MAX];
    CHECK_EQ_INT(ictal__addr_canonical("0:0:0:0:0:0:0:1", out), 0);
    CHECK_STR(out, "::1");
    CHECK_EQ_INT(ictal__addr_canonical("1.2.3", out), ICTAL_EINVAL);
    /* A long header of trusted entries ends; nothing reads past its start. */
    char longx[4096] = "";
    for (int i = 0; i < 200; i++)
        snprintf(longx + strlen(longx), sizeof longx - strlen(longx), "%s10.8.0.%d", i ? "," : "", i % 250);
    CHECK_STR(client(&p, "127.0.0.3", longx), "10.8.0.0");
}

int main(void)
{
    test_parse();
    test_client();
    return test_summary();
}
