/*
 * daemon.c - struct bm_daemon: start, reload and stop order, signals,
 * systemd notifications, metrics and health, and the path of a post from a
 * source to the sink.
 *
 * The only mutable state of the process lives here (besides the logger's
 * level), passed explicitly to every module as the narrowest pointer it
 * needs. Signals are libevent events, so handlers run on the loop like
 * everything else: a reload or a stop never interrupts a decision.
 */
#include "brandmon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "brandmon/config.h"
#include "brandmon/engine.h"
#include "brandmon/json.h"
#include "brandmon/log.h"
#include "brandmon/metrics.h"
#include "brandmon/notify.h"
#include "brandmon/pack.h"
#include "brandmon/sink.h"
#include "brandmon/stream.h"
#include "brandmon/time.h"

#define STATUS_MS    5000
#define SINK_DOWN_MS 30000 /* health: the sink unreachable this long */

struct bm_daemon {
    struct event_base *base; /* owned */
    char *config_path;       /* owned */
    struct bm_config *cfg;   /* owned: the current config */
    /* owned: the config the sink and metrics were made with; the sink
     * borrows it, so it lives until the sink goes (reloads do not change
     * the sink: a restart does) */
    struct bm_config *first_cfg;
    struct bm_ruleset *rules;   /* owned */
    struct bm_engine *engine;   /* owned */
    struct bm_sink *sink;       /* owned */
    struct bm_streams *streams; /* owned */
    struct bm_metrics *metrics; /* owned, or NULL */
    struct event *sigterm;      /* owned */
    struct event *sigint;       /* owned */
    struct event *sighup;       /* owned */
    struct event *status;       /* owned: STATUS= and rates */
    struct event *watchdog;     /* owned, or NULL without a watchdog */
    uint64_t *rule_matches;     /* owned: per rule of `rules` */
    uint64_t decided;           /* posts decided */
    uint64_t failed;            /* posts the engine could not decide */
    uint64_t alerts;            /* matches handed to the sink */
    uint64_t reloads, reload_failures;
    uint64_t rules_loaded_ms;  /* wall time the rules were loaded */
    double rules_load_seconds; /* how long loading them took */
    uint64_t last_decided, last_alerts, last_tick;
    uint64_t started_ms; /* wall clock */
    double posts_per_s, alerts_per_s;
    bool stopping;
};

static void post_cb(struct bm_source *src, const struct bm_post *post,
                    void *arg)
{
    struct bm_daemon *d = arg;
    struct bm_decision dec;

    (void)src;
    if (bm_engine_decide(d->engine, post, &dec)) {
        d->failed++;
        BM_ERR("daemon", "out of memory deciding post %s", post->id);
        return;
    }
    d->decided++;
    d->alerts += dec.nmatches;
    for (size_t i = 0; i < dec.nmatches; i++)
        d->rule_matches[dec.matches[i].index]++;
    bm_sink_put(d->sink, &dec);
}

/* ---- cursors ---- */

static void cursor_field(const char *k, const char *v, void *arg)
{
    struct bm_cursor *c = arg;

    if (strcmp(k, "last_event_id") == 0)
        snprintf(c->last_event_id, sizeof(c->last_event_id), "%s", v);
    else if (strcmp(k, "time_us") == 0)
        c->time_us = strtoll(v, NULL, 10);
    else if (strcmp(k, "newest_ms") == 0)
        c->newest_ms = strtoll(v, NULL, 10);
}

/* Before the sources start: where each stopped last time. */
static void restore_cursors(struct bm_daemon *d)
{
    for (size_t i = 0; i < bm_streams_count(d->streams); i++) {
        struct bm_source *src = bm_streams_get(d->streams, i);
        struct bm_cursor c = { .time_us = 0 };

        if (bm_sink_cursor_load(d->sink, bm_source_name(src), cursor_field,
                                &c) == 0)
            bm_source_restore(src, &c);
    }
}

static void save_cursors(struct bm_daemon *d)
{
    char now[32], tus[24], nms[24];
    const char *kv[8];
    size_t kv_n;

    bm_time_format_iso8601(bm_time_now_ms(), now);
    for (size_t i = 0; i < bm_streams_count(d->streams); i++) {
        struct bm_source *src = bm_streams_get(d->streams, i);
        struct bm_cursor c;

        if (!bm_source_cursor(src, &c))
            continue;
        kv_n = 0;
        /* Only the fields this kind of source has. */
        if (c.last_event_id[0]) {
            kv[kv_n++] = "last_event_id";
            kv[kv_n++] = c.last_event_id;
        }
        if (c.time_us) {
            snprintf(tus, sizeof(tus), "%lld", (long long)c.time_us);
            kv[kv_n++] = "time_us";
            kv[kv_n++] = tus;
        }
        if (c.newest_ms) {
            snprintf(nms, sizeof(nms), "%lld", (long long)c.newest_ms);
            kv[kv_n++] = "newest_ms";
            kv[kv_n++] = nms;
        }
        kv[kv_n++] = "updated_at";
        kv[kv_n++] = now;
        bm_sink_cursor_save(d->sink, bm_source_name(src), kv, kv_n);
    }
}

/* ---- stop ---- */

static void drained_cb(void *arg)
{
    struct bm_daemon *d = arg;

    event_base_loopexit(d->base, NULL);
}

/* Sources stop first (what they received is decided already), then the
 * sink hands on what it holds, within a bounded time; then the loop ends. */
static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    struct bm_daemon *d = arg;

    (void)what;
    if (d->stopping)
        return;
    d->stopping = true;
    bm_notify_stopping();
    BM_INFO("daemon", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    bm_streams_stop(d->streams);
    save_cursors(d);
    bm_sink_drain(d->sink, drained_cb, d);
}

/* ---- rules ---- */

static int load_rules(struct bm_daemon *d, const struct bm_config *cfg,
                      struct bm_ruleset **rules, struct bm_engine **engine,
                      uint64_t **matches, struct bm_diag *diag)
{
    uint64_t t0 = bm_now_ms();

    *rules = bm_ruleset_load((const char *const *)cfg->rules, cfg->nrules,
                             cfg->data_dir, diag);
    if (!*rules)
        return -EINVAL;
    *engine = bm_engine_new(*rules);
    *matches = calloc(bm_ruleset_rules(*rules) + 1, sizeof(**matches));
    if (!*engine || !*matches) {
        bm_engine_free(*engine);
        free(*matches);
        bm_ruleset_free(*rules);
        bm_diag_set(diag, cfg->file, 0, 0, "out of memory");
        return -ENOMEM;
    }
    d->rules_load_seconds = (double)(bm_now_ms() - t0) / 1000.0;
    d->rules_loaded_ms = (uint64_t)bm_time_now_ms();
    return 0;
}

/* ---- reload ---- */

static bool sink_settings_differ(const struct bm_config *a,
                                 const struct bm_config *b)
{
    const struct bm_redis_config *x = &a->redis, *y = &b->redis;

#define DIFF(s, t) ((s) != (t) && (!(s) || !(t) || strcmp((s), (t)) != 0))
    return DIFF(a->sink, b->sink) || DIFF(x->url, y->url) ||
           DIFF(x->prefix, y->prefix) || DIFF(x->spool, y->spool) ||
           DIFF(x->password_file, y->password_file) ||
           DIFF(x->password_env, y->password_env) ||
           DIFF(a->metrics_listen, b->metrics_listen) ||
           DIFF(a->instance, b->instance) ||
           x->alerts_maxlen != y->alerts_maxlen || x->queue_max != y->queue_max;
#undef DIFF
}

/*
 * SIGHUP: the new config and packs load beside the running ones and replace
 * them only if everything loads; unchanged streams stay connected. A post
 * is decided by the old rules or the new ones, never by both.
 */
static void reload_cb(evutil_socket_t sig, short what, void *arg)
{
    struct bm_daemon *d = arg;
    char msg[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 32];
    struct bm_diag diag = { .line = 0 };
    struct bm_config *cfg;
    struct bm_ruleset *rules;
    struct bm_engine *engine;
    uint64_t *matches;
    enum bm_log_level level;

    (void)sig;
    (void)what;
    if (d->stopping)
        return;
    bm_notify_reloading();
    BM_INFO("daemon", "SIGHUP: reloading %s", d->config_path);
    cfg = bm_config_load(d->config_path, &diag);
    if (!cfg)
        goto out_failed;
    if (load_rules(d, cfg, &rules, &engine, &matches, &diag)) {
        bm_config_free(cfg);
        goto out_failed;
    }
    if (bm_streams_reload(d->streams, cfg)) {
        bm_engine_free(engine);
        free(matches);
        bm_ruleset_free(rules);
        bm_config_free(cfg);
        bm_diag_set(&diag, d->config_path, 0, 0, "out of memory");
        goto out_failed;
    }
    if (sink_settings_differ(d->first_cfg, cfg))
        BM_WARN("daemon", "sink, metrics or instance settings changed: they "
                          "apply at the next restart");
    if (cfg->log_level && bm_log_parse_level(cfg->log_level, &level) == 0)
        bm_log_set_level(level);
    bm_engine_free(d->engine);
    bm_ruleset_free(d->rules);
    free(d->rule_matches);
    d->engine = engine;
    d->rules = rules;
    d->rule_matches = matches;
    d->sink->rules = rules;
    if (d->cfg != d->first_cfg)
        bm_config_free(d->cfg);
    d->cfg = cfg;
    d->reloads++;
    BM_INFO("daemon", "reloaded: %zu packs, %zu rules, %zu sources (hash %s)",
            bm_ruleset_packs(rules), bm_ruleset_rules(rules), cfg->nsources,
            bm_ruleset_hash(rules));
    bm_notify_ready();
    return;

out_failed:
    d->reload_failures++;
    bm_diag_format(&diag, msg, sizeof(msg));
    BM_ERR("daemon", "reload failed, the running rules and sources stay: %s",
           msg);
    bm_notify_ready();
}

/* ---- status, watchdog, metrics, health ---- */

static size_t sources_up(struct bm_daemon *d)
{
    size_t up = 0;

    for (size_t i = 0; i < bm_streams_count(d->streams); i++)
        up += bm_source_state(bm_streams_get(d->streams, i)) ==
              BM_SOURCE_STREAMING;
    return up;
}

/* This instance's heartbeat for the sink (docs/redis-schema.md). */
static void heartbeat(struct bm_daemon *d, const struct bm_sink_stats *ss)
{
    char started[32], now[32], posts[24], decided[24], alerts[24], queue[24],
        spool[24];
    struct bm_buf src = BM_BUF_INIT;
    uint64_t in = 0;
    size_t n = bm_streams_count(d->streams);

    bm_buf_putc(&src, '[');
    for (size_t i = 0; i < n; i++) {
        struct bm_source *s = bm_streams_get(d->streams, i);
        const struct bm_source_stats *st = bm_source_stats(s);

        in += st->c[BM_SC_POSTS];
        bm_buf_puts(&src, i ? ",{\"name\":" : "{\"name\":");
        bm_json_put_cstr(&src, bm_source_name(s));
        bm_buf_puts(&src, ",\"type\":");
        bm_json_put_cstr(&src, bm_source_type(s));
        bm_buf_printf(&src,
                      ",\"state\":\"%s\",\"posts\":%llu,\"reconnects\":%llu}",
                      bm_source_state_name(bm_source_state(s)),
                      (unsigned long long)st->c[BM_SC_POSTS],
                      (unsigned long long)st->c[BM_SC_RECONNECTS]);
    }
    bm_buf_putc(&src, ']');
    bm_time_format_iso8601((int64_t)d->started_ms, started);
    bm_time_format_iso8601(bm_time_now_ms(), now);
    snprintf(posts, sizeof(posts), "%llu", (unsigned long long)in);
    snprintf(decided, sizeof(decided), "%llu", (unsigned long long)d->decided);
    snprintf(alerts, sizeof(alerts), "%llu", (unsigned long long)d->alerts);
    snprintf(queue, sizeof(queue), "%llu", (unsigned long long)ss->queue);
    snprintf(spool, sizeof(spool), "%llu", (unsigned long long)ss->spool);
    if (src.data) {
        const char *const kv[] = {
            "schema",     "1",          "version",
            BM_VERSION,   "rules_hash", bm_ruleset_hash(d->rules),
            "started_at", started,      "updated_at",
            now,          "posts",      posts,
            "decided",    decided,      "alerts",
            alerts,       "queue",      queue,
            "spool",      spool,        "sources",
            src.data,
        };

        bm_sink_heartbeat(d->sink, kv, sizeof(kv) / sizeof(kv[0]));
    }
    bm_buf_release(&src);
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bm_daemon *d = arg;
    uint64_t now = bm_now_ms();
    double secs = (double)(now - d->last_tick) / 1000.0;
    struct bm_sink_stats ss;

    (void)fd;
    (void)what;
    if (secs > 0) {
        d->posts_per_s = (double)(d->decided - d->last_decided) / secs;
        d->alerts_per_s = (double)(d->alerts - d->last_alerts) / secs;
    }
    d->last_tick = now;
    d->last_decided = d->decided;
    d->last_alerts = d->alerts;
    bm_sink_stats(d->sink, &ss);
    heartbeat(d, &ss);
    save_cursors(d);
    bm_notify_status("streams %zu/%zu up, %.0f posts/s, %.1f alerts/s, "
                     "queue %llu, spool %llu%s",
                     sources_up(d), bm_streams_count(d->streams),
                     d->posts_per_s, d->alerts_per_s,
                     (unsigned long long)ss.queue, (unsigned long long)ss.spool,
                     ss.connected ? "" : ", sink down");
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    bm_notify_watchdog();
}

static void source_labels(struct bm_buf *b, const struct bm_source *src,
                          const char *extra)
{
    bm_buf_reset(b);
    bm_buf_puts(b, "source=\"");
    bm_metrics_label_value(b, bm_source_name(src));
    bm_buf_puts(b, "\",type=\"");
    bm_metrics_label_value(b, bm_source_type(src));
    bm_buf_putc(b, '"');
    if (extra)
        bm_buf_printf(b, ",%s", extra);
}

static void collect_sources(struct bm_daemon *d, struct bm_buf *out,
                            struct bm_buf *lab)
{
    static const struct {
        enum bm_source_counter c;
        const char *name, *help;
    } counters[] = {
        { BM_SC_BYTES, "brandmon_source_bytes_total", "body bytes received" },
        { BM_SC_FRAMES, "brandmon_source_frames_total", "frames with data" },
        { BM_SC_KEEPALIVES, "brandmon_source_keepalives_total",
          "keep-alive lines and comments" },
        { BM_SC_POSTS, "brandmon_posts_in_total", "posts read from a source" },
        { BM_SC_DUPLICATES, "brandmon_source_duplicates_total",
          "posts dropped as already seen" },
        { BM_SC_IGNORED, "brandmon_source_ignored_total",
          "messages that are not posts (deletes, control)" },
        { BM_SC_CONNECTS, "brandmon_source_connects_total",
          "connection attempts" },
        { BM_SC_RECONNECTS, "brandmon_source_reconnects_total",
          "connection attempts after a failure or a drop" },
        { BM_SC_STALLS, "brandmon_source_stalls_total",
          "connections dropped for silence" },
        { BM_SC_HTTP_ERRORS, "brandmon_source_http_errors_total",
          "responses with an error status" },
        { BM_SC_RATE_LIMITED, "brandmon_source_rate_limited_total",
          "429 answers" },
    };
    size_t n = bm_streams_count(d->streams);

    for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
        bm_metrics_family(out, counters[k].name, "counter", counters[k].help);
        for (size_t i = 0; i < n; i++) {
            struct bm_source *src = bm_streams_get(d->streams, i);

            source_labels(lab, src, NULL);
            bm_metrics_sample(out, counters[k].name, lab->data,
                              (double)bm_source_stats(src)->c[counters[k].c]);
        }
    }
    bm_metrics_family(out, "brandmon_posts_skipped_total", "counter",
                      "bad input skipped, by source and reason");
    for (size_t i = 0; i < n; i++) {
        struct bm_source *src = bm_streams_get(d->streams, i);

        for (int r = 0; r < BM_SKIP_COUNT; r++) {
            char extra[64];

            snprintf(extra, sizeof(extra), "reason=\"%s\"",
                     bm_skip_reason_name((enum bm_skip_reason)r));
            source_labels(lab, src, extra);
            bm_metrics_sample(out, "brandmon_posts_skipped_total", lab->data,
                              (double)bm_source_stats(src)->skipped[r]);
        }
    }
    bm_metrics_family(out, "brandmon_source_state", "gauge",
                      "1 for the state each source is in");
    for (size_t i = 0; i < n; i++) {
        struct bm_source *src = bm_streams_get(d->streams, i);

        for (int st = BM_SOURCE_IDLE; st <= BM_SOURCE_STOPPED; st++) {
            char extra[64];

            snprintf(extra, sizeof(extra), "state=\"%s\"",
                     bm_source_state_name((enum bm_source_state)st));
            source_labels(lab, src, extra);
            bm_metrics_sample(out, "brandmon_source_state", lab->data,
                              (int)bm_source_state(src) == st ? 1 : 0);
        }
    }
}

static void collect_cb(struct bm_buf *out, void *arg)
{
    struct bm_daemon *d = arg;
    struct bm_buf lab = BM_BUF_INIT;
    struct bm_sink_stats ss;
    size_t nrules = bm_ruleset_rules(d->rules);

    collect_sources(d, out, &lab);
    bm_metrics_family(out, "brandmon_posts_decided_total", "counter",
                      "posts decided by the rules");
    bm_metrics_sample(out, "brandmon_posts_decided_total", NULL,
                      (double)d->decided);
    bm_metrics_family(out, "brandmon_rule_matches_total", "counter",
                      "matches per rule since the rules were loaded");
    for (size_t i = 0; i < nrules; i++) {
        bm_buf_reset(&lab);
        bm_buf_puts(&lab, "rule=\"");
        bm_metrics_label_value(&lab, bm_ruleset_rule_id(d->rules, i));
        bm_buf_putc(&lab, '"');
        bm_metrics_sample(out, "brandmon_rule_matches_total", lab.data,
                          (double)d->rule_matches[i]);
    }
    bm_sink_stats(d->sink, &ss);
    bm_metrics_family(out, "brandmon_alerts_written_total", "counter",
                      "posts written by the sink and acknowledged");
    bm_metrics_sample(out, "brandmon_alerts_written_total", NULL,
                      (double)ss.written);
    bm_metrics_family(out, "brandmon_sink_lost_total", "counter",
                      "posts the sink could not keep");
    bm_metrics_sample(out, "brandmon_sink_lost_total", NULL, (double)ss.lost);
    bm_metrics_family(out, "brandmon_sink_queue_depth", "gauge",
                      "posts waiting in memory");
    bm_metrics_sample(out, "brandmon_sink_queue_depth", NULL, (double)ss.queue);
    bm_metrics_family(out, "brandmon_sink_spool_depth", "gauge",
                      "posts waiting in the spool file");
    bm_metrics_sample(out, "brandmon_sink_spool_depth", NULL, (double)ss.spool);
    bm_metrics_family(out, "brandmon_sink_connected", "gauge",
                      "1 when the sink's destination (Redis) takes writes");
    bm_metrics_sample(out, "brandmon_sink_connected", NULL,
                      ss.connected ? 1 : 0);
    bm_metrics_family(out, "brandmon_sink_reconnects_total", "counter",
                      "connection attempts to Redis");
    bm_metrics_sample(out, "brandmon_sink_reconnects_total", NULL,
                      (double)ss.reconnects);
    bm_metrics_family(out, "brandmon_sink_latency_ms", "gauge",
                      "queue-to-acknowledgement latency of recent writes");
    bm_metrics_sample(out, "brandmon_sink_latency_ms", "quantile=\"0.5\"",
                      ss.latency_p50_ms);
    bm_metrics_sample(out, "brandmon_sink_latency_ms", "quantile=\"0.99\"",
                      ss.latency_p99_ms);
    bm_metrics_family(out, "brandmon_rules_info", "gauge",
                      "the loaded rule packs (hash) and their size");
    bm_buf_reset(&lab);
    bm_buf_printf(&lab, "hash=\"%s\"", bm_ruleset_hash(d->rules));
    bm_metrics_sample(out, "brandmon_rules_info", lab.data,
                      (double)bm_ruleset_rules(d->rules));
    bm_metrics_family(out, "brandmon_rules_load_seconds", "gauge",
                      "how long the last load of the packs took");
    bm_metrics_sample(out, "brandmon_rules_load_seconds", NULL,
                      d->rules_load_seconds);
    bm_metrics_family(out, "brandmon_rules_loaded_timestamp_seconds", "gauge",
                      "when the packs were loaded");
    bm_metrics_sample(out, "brandmon_rules_loaded_timestamp_seconds", NULL,
                      (double)d->rules_loaded_ms / 1000.0);
    bm_metrics_family(out, "brandmon_reloads_total", "counter",
                      "reloads, by result");
    bm_metrics_sample(out, "brandmon_reloads_total", "result=\"ok\"",
                      (double)d->reloads);
    bm_metrics_sample(out, "brandmon_reloads_total", "result=\"failed\"",
                      (double)d->reload_failures);
    bm_buf_release(&lab);
}

/* Unhealthy: the sink has been unreachable a while, or no source is up
 * while some could be. Each check is one line of the answer. */
static bool health_cb(struct bm_buf *out, void *arg)
{
    struct bm_daemon *d = arg;
    struct bm_sink_stats ss;
    size_t n = bm_streams_count(d->streams), up = sources_up(d), gave_up = 0;
    bool ok = true;

    bm_sink_stats(d->sink, &ss);
    if (!ss.connected && ss.down_ms > SINK_DOWN_MS) {
        ok = false;
        bm_buf_printf(
            out,
            "fail sink %s: down for %llu s (queue %llu, spool "
            "%llu)\n",
            d->first_cfg->sink, (unsigned long long)(ss.down_ms / 1000),
            (unsigned long long)ss.queue, (unsigned long long)ss.spool);
    } else {
        bm_buf_printf(out, "ok sink %s%s\n", d->first_cfg->sink,
                      ss.connected ? "" : " (reconnecting)");
    }
    for (size_t i = 0; i < n; i++) {
        struct bm_source *src = bm_streams_get(d->streams, i);
        enum bm_source_state st = bm_source_state(src);

        gave_up += st == BM_SOURCE_STOPPED;
        bm_buf_printf(out, "%s source %s: %s\n",
                      st == BM_SOURCE_STREAMING || st == BM_SOURCE_CONNECTING
                          ? "ok"
                          : "warn",
                      bm_source_name(src), bm_source_state_name(st));
    }
    if (n && up == 0 && gave_up < n) {
        ok = false;
        bm_buf_puts(out, "fail no source is streaming\n");
    }
    return ok;
}

/* ---- life cycle ---- */

void bm_daemon_free(struct bm_daemon *d)
{
    if (!d)
        return;
    bm_metrics_free(d->metrics);
    bm_streams_free(d->streams);
    bm_sink_free(d->sink);
    bm_engine_free(d->engine);
    bm_ruleset_free(d->rules);
    free(d->rule_matches);
    if (d->sigterm)
        event_free(d->sigterm);
    if (d->sigint)
        event_free(d->sigint);
    if (d->sighup)
        event_free(d->sighup);
    if (d->status)
        event_free(d->status);
    if (d->watchdog)
        event_free(d->watchdog);
    if (d->cfg != d->first_cfg)
        bm_config_free(d->cfg);
    bm_config_free(d->first_cfg);
    free(d->config_path);
    if (d->base)
        event_base_free(d->base);
    free(d);
}

static struct bm_daemon *fail(struct bm_daemon *d, struct bm_diag *diag,
                              const char *what)
{
    if (what)
        bm_diag_set(diag, d->config_path ? d->config_path : "", 0, 0, "%s",
                    what);
    bm_daemon_free(d);
    return NULL;
}

struct bm_daemon *bm_daemon_new(const char *config_path, struct bm_diag *diag)
{
    struct bm_daemon *d = calloc(1, sizeof(*d));
    enum bm_log_level level;
    const char *err;

    if (!d || !(d->config_path = strdup(config_path))) {
        free(d);
        bm_diag_set(diag, config_path, 0, 0, "out of memory");
        return NULL;
    }
    d->cfg = d->first_cfg = bm_config_load(config_path, diag);
    if (!d->cfg)
        return fail(d, diag, NULL);
    if (d->cfg->log_level && bm_log_parse_level(d->cfg->log_level, &level) == 0)
        bm_log_set_level(level);
    if (load_rules(d, d->cfg, &d->rules, &d->engine, &d->rule_matches, diag))
        return fail(d, diag, NULL);
    d->base = event_base_new();
    if (!d->base)
        return fail(d, diag, "out of memory");
    d->sink = bm_sink_new(d->cfg->sink, d->cfg, d->base);
    if (!d->sink)
        return fail(d, diag, "the sink cannot be set up (see the log)");
    d->sink->rules = d->rules;
    d->streams = bm_streams_new(d->base, d->cfg, post_cb, d, &err);
    if (!d->streams)
        return fail(d, diag, err);
    if (d->cfg->metrics_listen) {
        d->metrics = bm_metrics_new(d->base, d->cfg->metrics_listen, collect_cb,
                                    health_cb, d, &err);
        if (!d->metrics)
            return fail(d, diag, err);
    }
    d->sigterm = evsignal_new(d->base, SIGTERM, stop_cb, d);
    d->sigint = evsignal_new(d->base, SIGINT, stop_cb, d);
    d->sighup = evsignal_new(d->base, SIGHUP, reload_cb, d);
    d->status = event_new(d->base, -1, EV_PERSIST, status_cb, d);
    if (!d->sigterm || !d->sigint || !d->sighup || !d->status ||
        evsignal_add(d->sigterm, NULL) || evsignal_add(d->sigint, NULL) ||
        evsignal_add(d->sighup, NULL))
        return fail(d, diag, "cannot watch signals");
    return d;
}

int bm_daemon_check(const char *config_path, char *out, size_t n,
                    struct bm_diag *diag)
{
    struct bm_config *cfg = bm_config_load(config_path, diag);
    struct bm_ruleset *rs;

    if (!cfg)
        return -EINVAL;
    rs = bm_ruleset_load((const char *const *)cfg->rules, cfg->nrules,
                         cfg->data_dir, diag);
    if (!rs) {
        bm_config_free(cfg);
        return -EINVAL;
    }
    snprintf(out, n,
             "config ok: instance %s, %zu sources, sink %s; rules: %zu "
             "packs, %zu brands, %zu rules, %zu terms (hash %s)",
             cfg->instance, cfg->nsources, cfg->sink, bm_ruleset_packs(rs),
             bm_ruleset_brands(rs), bm_ruleset_rules(rs), bm_ruleset_terms(rs),
             bm_ruleset_hash(rs));
    bm_ruleset_free(rs);
    bm_config_free(cfg);
    return 0;
}

int bm_daemon_run(struct bm_daemon *d)
{
    uint64_t wd = bm_notify_watchdog_usec();

    BM_INFO("daemon",
            "brandmond %s starting: instance %s, %zu sources, %zu rules",
            BM_VERSION, d->cfg->instance, d->cfg->nsources,
            bm_ruleset_rules(d->rules));
    /* A peer closing a socket must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    d->started_ms = (uint64_t)bm_time_now_ms();
    restore_cursors(d);
    bm_streams_start(d->streams);
    d->last_tick = bm_now_ms();
    event_add(d->status, &(struct timeval){ STATUS_MS / 1000, 0 });
    if (wd) {
        /* Pinged from the loop at half the interval: a stuck loop stops
         * the pings and systemd restarts the service. */
        uint64_t half = wd / 2;

        d->watchdog = event_new(d->base, -1, EV_PERSIST, watchdog_cb, d);
        if (d->watchdog)
            event_add(d->watchdog,
                      &(struct timeval){ (time_t)(half / 1000000),
                                         (suseconds_t)(half % 1000000) });
        bm_notify_watchdog();
    }
    bm_notify_ready();
    status_cb(-1, 0, d);
    if (event_base_dispatch(d->base) < 0)
        return -EIO;
    BM_INFO("daemon", "stopped: %llu posts decided",
            (unsigned long long)d->decided);
    return 0;
}
