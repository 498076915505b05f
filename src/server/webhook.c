/* Webhook delivery from the outbox with libcurl multi (webhook.h). */
#include "server/webhook.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

typedef struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    ictal__outbox_item item;
    int used;
} transfer;

struct ictal__webhook {
    ictal__store *store;
    char *secret;
    CURLM *multi;
    transfer slots[ICTAL__WEBHOOK_MAX_INFLIGHT];
    int inflight;
    ictal__webhook_stats stats;
};

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
    (void)p;
    (void)u;
    return sz * n;
}

int ictal__webhook_create(ictal__webhook **out, ictal__store *store, const char *secret)
{
    ictal__webhook *w = calloc(1, sizeof *w);
    if (w == NULL)
        return ICTAL_ENOMEM;
    w->store = store;
    w->secret = strdup(secret ? secret : "");
    w->multi = curl_multi_init();
    if (w->multi == NULL || w->secret == NULL) {
        ictal__webhook_destroy(w);
        return ICTAL_ENOMEM;
    }
    *out = w;
    return 0;
}

static void slot_free(transfer *t)
{
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->item.url);
    free(t->item.body);
    memset(t, 0, sizeof *t);
}

static int is_inflight(const ictal__webhook *w, int64_t id)
{
    for (int i = 0; i < ICTAL__WEBHOOK_MAX_INFLIGHT; i++)
        if (w->slots[i].used && w->slots[i].item.id == id)
            return 1;
    return 0;
}

static void start(ictal__webhook *w, transfer *t)
{
    char ts[32], hdr[160], sig[65];
    snprintf(ts, sizeof ts, "%.0f", floor(ictal__now_s()));
    size_t blen = strlen(t->item.body), mlen = strlen(ts) + 1 + blen;
    char *msg = malloc(mlen + 1);
    if (msg == NULL)
        return;
    snprintf(msg, mlen + 1, "%s.%s", ts, t->item.body);
    ictal__hmac_sha256_hex(w->secret, msg, mlen, sig);
    free(msg);
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    snprintf(hdr, sizeof hdr, "X-Ictal-Event-Id: %s", t->item.event_id);
    t->headers = curl_slist_append(t->headers, hdr);
    snprintf(hdr, sizeof hdr, "X-Ictal-Timestamp: %s", ts);
    t->headers = curl_slist_append(t->headers, hdr);
    snprintf(hdr, sizeof hdr, "X-Ictal-Signature: sha256=%s", sig);
    t->headers = curl_slist_append(t->headers, hdr);
    t->easy = curl_easy_init();
    curl_easy_setopt(t->easy, CURLOPT_URL, t->item.url);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->item.body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)blen);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_multi_add_handle(w->multi, t->easy);
    t->used = 1;
    w->inflight++;
}

int ictal__webhook_tick(ictal__webhook *w)
{
    if (w->inflight < ICTAL__WEBHOOK_MAX_INFLIGHT) {
        ictal__outbox_item items[ICTAL__WEBHOOK_MAX_INFLIGHT * 2];
        /* SQLite returns the items in flight too; PostgreSQL claims what it returns */
        int want = ictal__store_is_postgres(w->store) ? ICTAL__WEBHOOK_MAX_INFLIGHT - w->inflight
                                                      : ICTAL__WEBHOOK_MAX_INFLIGHT * 2;
        int n = ictal__store_outbox_due(w->store, ictal__now_s(), items, want);
        for (int i = 0; i < n; i++) {
            transfer *slot = NULL;
            if (!is_inflight(w, items[i].id))
                for (int k = 0; k < ICTAL__WEBHOOK_MAX_INFLIGHT && slot == NULL; k++)
                    if (!w->slots[k].used)
                        slot = &w->slots[k];
            if (slot == NULL) {
                free(items[i].url);
                free(items[i].body);
                continue;
            }
            slot->item = items[i];
            start(w, slot);
        }
    }
    int running = 0;
    curl_multi_perform(w->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        transfer *t = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        double now = ictal__now_s();
        if (m->data.result == CURLE_OK && status >= 200 && status < 300) {
            ictal__store_outbox_done(w->store, t->item.id, now);
            w->stats.delivered++;
        } else {
            char err[128];
            if (m->data.result != CURLE_OK)
                snprintf(err, sizeof err, "%s", curl_easy_strerror(m->data.result));
            else
                snprintf(err, sizeof err, "HTTP %ld", status);
            double backoff = pow(2.0, t->item.attempts < 9 ? t->item.attempts : 9);
            if (backoff > 300)
                backoff = 300;
            ictal__store_outbox_retry(w->store, t->item.id, now + backoff, err);
            w->stats.failed_attempts++;
        }
        curl_multi_remove_handle(w->multi, t->easy);
        slot_free(t);
        w->inflight--;
    }
    return w->inflight;
}

void ictal__webhook_stats_get(const ictal__webhook *w, ictal__webhook_stats *st)
{
    *st = w->stats;
}

void ictal__webhook_destroy(ictal__webhook *w)
{
    if (w == NULL)
        return;
    for (int i = 0; i < ICTAL__WEBHOOK_MAX_INFLIGHT; i++)
        if (w->slots[i].used) {
            curl_multi_remove_handle(w->multi, w->slots[i].easy);
            slot_free(&w->slots[i]);
        }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    free(w->secret);
    free(w);
}
