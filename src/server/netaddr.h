/*
 * Client addresses behind reverse proxies. A request's source is its TCP peer; when
 * that peer is one of the configured trusted proxies, the client is instead the
 * right-most address of X-Forwarded-For that is not itself a trusted proxy (each proxy
 * appends the address it received the request from, so entries to the left of it may
 * be anything a client wrote). Anything unparsable there falls back to the peer: a
 * client never picks its own address (and with it its sign-in throttle bucket).
 *
 * Addresses are IPv4 or IPv6, compared as 16-byte IPv6 (IPv4 as ::ffff:a.b.c.d), and
 * given back in canonical text (inet_ntop; IPv4-mapped IPv6 as plain IPv4), so one
 * address has one spelling.
 */
#ifndef ICTAL_SERVER_NETADDR_H
#define ICTAL_SERVER_NETADDR_H

#include <stddef.h>

#include "ictal/error.h"

#define ICTAL__PROXIES_MAX 32
#define ICTAL__ADDR_TEXT_MAX 64 /* INET6_ADDRSTRLEN and then some */

typedef struct ictal__netrange {
    unsigned char addr[16]; /* network address, IPv6 (IPv4 mapped) */
    int prefix_bits;        /* 0-128 over the 16 bytes (IPv4 /n is 96 + n) */
} ictal__netrange;

typedef struct ictal__proxies {
    ictal__netrange range[ICTAL__PROXIES_MAX];
    int n;
} ictal__proxies;

/* Parses "ADDR[,ADDR...]", each an IPv4 or IPv6 address or CIDR range (a.b.c.d/n,
 * x::y/n); NULL or "" is no proxy. ICTAL_EINVAL with d naming the bad entry, or
 * ICTAL_ERANGE beyond ICTAL__PROXIES_MAX entries. */
int ictal__proxies_parse(ictal__proxies *p, const char *list, ictal_diag *d);

/* 1 when addr (text) is within one of the trusted ranges, else 0 (also when unparsable). */
int ictal__proxies_trust(const ictal__proxies *p, const char *addr);

/* Canonical text of an IPv4 or IPv6 address into out (ICTAL__ADDR_TEXT_MAX bytes);
 * ICTAL_EINVAL when text is not one. */
int ictal__addr_canonical(const char *text, char *out);

/*
 * The client's address into out (ICTAL__ADDR_TEXT_MAX bytes): peer, unless peer is a
 * trusted proxy and xff (the X-Forwarded-For value, may be NULL) names one; then the
 * right-most entry of xff that is not a trusted proxy (all trusted: the left-most).
 * An entry that is not an address (e.g. "unknown", a port) stops the walk at the peer.
 */
void ictal__client_addr(const ictal__proxies *p, const char *peer, const char *xff, char *out);

#endif
