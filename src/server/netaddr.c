/* Client addresses behind trusted reverse proxies (netaddr.h). */
#include "server/netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* addr as 16 bytes (IPv4 mapped into IPv6); *v4 says which it was. 0 or ICTAL_EINVAL. */
static int addr_parse(const char *text, size_t len, unsigned char out[16], int *v4)
{
    char buf[ICTAL__ADDR_TEXT_MAX];
    if (len == 0 || len >= sizeof buf)
        return ICTAL_EINVAL;
    memcpy(buf, text, len);
    buf[len] = 0;
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(out, mapped, 12);
        memcpy(out + 12, &a4, 4);
        *v4 = 1;
        return 0;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, buf, &a6) != 1)
        return ICTAL_EINVAL;
    memcpy(out, &a6, 16);
    *v4 = IN6_IS_ADDR_V4MAPPED(&a6);
    return 0;
}

static void addr_text(const unsigned char a[16], char *out)
{
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a))
        inet_ntop(AF_INET, a + 12, out, ICTAL__ADDR_TEXT_MAX);
    else
        inet_ntop(AF_INET6, a, out, ICTAL__ADDR_TEXT_MAX);
}

static int in_range(const ictal__netrange *r, const unsigned char a[16])
{
    int full = r->prefix_bits / 8, rest = r->prefix_bits % 8;
    if (memcmp(r->addr, a, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (r->addr[full] & mask) == (a[full] & mask);
}

int ictal__proxies_parse(ictal__proxies *p, const char *list, ictal_diag *d)
{
    memset(p, 0, sizeof *p);
    const char *s = list ? list : "";
    while (*s) {
        size_t len = strcspn(s, ",");
        const char *slash = memchr(s, '/', len);
        size_t alen = slash ? (size_t)(slash - s) : len;
        ictal__netrange r;
        int v4 = 0;
        if (addr_parse(s, alen, r.addr, &v4) != 0)
            return ictal_diag_error(d, ICTAL_EINVAL,
                                    "--trust-proxy: \"%.*s\" is not an IPv4 or IPv6 address or"
                                    " CIDR range", (int)len, s);
        int max_bits = v4 ? 32 : 128, bits = max_bits;
        if (slash) {
            char *end = NULL;
            long b = strtol(slash + 1, &end, 10);
            if (end == slash + 1 || end != s + len || b < 0 || b > max_bits)
                return ictal_diag_error(d, ICTAL_EINVAL,
                                        "--trust-proxy: \"%.*s\": the prefix length is 0 to %d",
                                        (int)len, s, max_bits);
            bits = (int)b;
        }
        r.prefix_bits = (v4 ? 96 : 0) + bits;
        /* The network address: host bits cleared, so comparisons see only the prefix. */
        for (int i = 0; i < 16; i++) {
            int keep = r.prefix_bits - 8 * i;
            if (keep <= 0)
                r.addr[i] = 0;
            else if (keep < 8)
                r.addr[i] &= (unsigned char)(0xff << (8 - keep));
        }
        if (p->n == ICTAL__PROXIES_MAX)
            return ictal_diag_error(d, ICTAL_ERANGE, "--trust-proxy: more than %d entries",
                                    ICTAL__PROXIES_MAX);
        p->range[p->n++] = r;
        s += len;
        if (*s == ',')
            s++;
    }
    return 0;
}

static int trusted(const ictal__proxies *p, const unsigned char a[16])
{
    for (int i = 0; i < p->n; i++)
        if (in_range(&p->range[i], a))
            return 1;
    return 0;
}

int ictal__proxies_trust(const ictal__proxies *p, const char *addr)
{
    unsigned char a[16];
    int v4;
    return addr && addr_parse(addr, strlen(addr), a, &v4) == 0 && trusted(p, a);
}

int ictal__addr_canonical(const char *text, char *out)
{
    unsigned char a[16];
    int v4;
    if (text == NULL || addr_parse(text, strlen(text), a, &v4) != 0)
        return ICTAL_EINVAL;
    addr_text(a, out);
    return 0;
}

void ictal__client_addr(const ictal__proxies *p, const char *peer, const char *xff, char *out)
{
    unsigned char a[16];
    int v4;
    if (peer == NULL || addr_parse(peer, strlen(peer), a, &v4) != 0) {
        snprintf(out, ICTAL__ADDR_TEXT_MAX, "%s", peer ? peer : "");
        return;
    }
    addr_text(a, out);
    if (!trusted(p, a) || xff == NULL)
        return;
    /* Right to left: skip our proxies; the first other entry is the client. */
    size_t end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        size_t b = start, e = end;
        while (b < e && (xff[b] == ' ' || xff[b] == '\t'))
            b++;
        while (e > b && (xff[e - 1] == ' ' || xff[e - 1] == '\t'))
            e--;
        unsigned char x[16];
        if (addr_parse(xff + b, e - b, x, &v4) != 0) {
            addr_text(a, out); /* not an address: the peer it is */
            return;
        }
        addr_text(x, out);
        if (!trusted(p, x))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}
