/* Fuzzes the --trust-proxy list and the X-Forwarded-For walk (src/server/netaddr.h). The
 * input's first line is the proxy list, the second the peer, the rest the header value. */
#include "server/netaddr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *peer = strchr(text, '\n');
    char *xff = peer ? strchr(peer + 1, '\n') : NULL;
    if (peer)
        *peer++ = 0;
    if (xff)
        *xff++ = 0;
    ictal__proxies p;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal__proxies_parse(&p, text, &d);
    if (rc != 0 && d.message[0] == 0)
        abort(); /* every error says what */
    if (rc != 0)
        ictal__proxies_parse(&p, "127.0.0.0/8,::1", &d);
    char out[ICTAL__ADDR_TEXT_MAX];
    ictal__client_addr(&p, peer ? peer : "127.0.0.1", xff, out);
    if (memchr(out, 0, sizeof out) == NULL)
        abort();
    /* The client is the peer or one of the header's entries, in canonical form. */
    char canon[ICTAL__ADDR_TEXT_MAX];
    if (ictal__addr_canonical(out, canon) == 0 && strcmp(canon, out) != 0)
        abort();
    free(text);
    return 0;
}
