/* webhooks.h — the webhook dispatcher: takes due deliveries from the store and
 * POSTs them, signed (Standard Webhooks), through a few worker threads. A
 * delivery keeps its webhook-id on every attempt; network errors, 5xx and 429
 * are retried with exponential backoff and jitter for WEBHOOK_RETRY_HOURS; any
 * other answer but 2xx ends it. Redirects are not followed. */
#ifndef FAXBOT_WEBHOOKS_H
#define FAXBOT_WEBHOOKS_H

#include "config/config.h"
#include "store/store.h"

#include <stdint.h>

typedef struct webhooks webhooks;

webhooks *webhooks_start(const config *cfg, store *st, const char *callback_secret, char *err, size_t errlen);
void webhooks_stop(webhooks *w);
void webhooks_counts(webhooks *w, uint64_t *delivered, uint64_t *failed, uint64_t *retried);

/* Delay before the attempt after `attempts` failed ones: base * 2^(attempts-1),
 * capped, then jittered into [delay/2, delay]. r in [0,1). Pure. */
int64_t webhook_retry_delay_ms(int base_s, int max_s, int attempts, double r);

#endif
