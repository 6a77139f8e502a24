/*
 * metrics.h - /metrics (Prometheus text format) and /health on a loopback
 * HTTP port, served by libevent's evhttp on the daemon's loop.
 *
 * The module owns the listener and the HTTP plumbing and offers helpers to
 * write the text format; what to report comes from the daemon through two
 * callbacks, so this module knows neither sources nor sinks.
 */
#ifndef BRANDMON_METRICS_H
#define BRANDMON_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "brandmon/buf.h"

struct bm_metrics;

/* Appends every metric in the Prometheus text format (version 0.0.4). */
typedef void (*bm_metrics_collect_fn)(struct bm_buf *out, void *arg);
/* Appends a health report (one line per check, "ok ..." or "fail ...") and
 * returns true when healthy (HTTP 200), false otherwise (HTTP 503). */
typedef bool (*bm_health_fn)(struct bm_buf *out, void *arg);

/*
 * Listens on @listen ("HOST:PORT"; HOST a loopback address unless the
 * config allowed otherwise). NULL with @err set (a fixed string) when the
 * address does not parse or cannot be bound.
 */
struct bm_metrics *bm_metrics_new(struct event_base *base, const char *listen,
                                  bm_metrics_collect_fn collect,
                                  bm_health_fn health, void *arg,
                                  const char **err);
void bm_metrics_free(struct bm_metrics *m);
/* The port actually bound (useful with port 0 in tests). */
int bm_metrics_port(const struct bm_metrics *m);

/*
 * Text-format helpers. @labels is NULL or a preformatted label list without
 * braces, e.g. "source=\"x-main\",reason=\"malformed_json\"" (values must
 * be escaped with bm_metrics_label_value()). HELP and TYPE lines are
 * written by bm_metrics_family() once per metric name.
 */
void bm_metrics_family(struct bm_buf *out, const char *name, const char *type,
                       const char *help);
void bm_metrics_sample(struct bm_buf *out, const char *name, const char *labels,
                       double value);
/* Appends @s escaped for use inside a label value's quotes. */
void bm_metrics_label_value(struct bm_buf *out, const char *s);

#endif
