/*
 * daemon.c - struct bm_daemon: start and stop order, signals, and the path
 * of a post from a source to the sink.
 *
 * The only mutable state of the process lives here (besides the logger's
 * level), passed explicitly to every module as the narrowest pointer it
 * needs. Signals are libevent events, so handlers run on the loop like
 * everything else.
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
#include "brandmon/log.h"
#include "brandmon/pack.h"
#include "brandmon/sink.h"
#include "brandmon/stream.h"

struct bm_daemon {
    struct event_base *base;    /* owned */
    struct bm_config *cfg;      /* owned */
    struct bm_ruleset *rules;   /* owned */
    struct bm_engine *engine;   /* owned */
    struct bm_sink *sink;       /* owned */
    struct bm_streams *streams; /* owned */
    struct event *sigterm;      /* owned */
    struct event *sigint;       /* owned */
    uint64_t decided;           /* posts decided */
    uint64_t failed;            /* posts the engine could not decide */
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
    bm_sink_put(d->sink, &dec);
}

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
    BM_INFO("daemon", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    bm_streams_stop(d->streams);
    bm_sink_drain(d->sink, drained_cb, d);
}

void bm_daemon_free(struct bm_daemon *d)
{
    if (!d)
        return;
    bm_streams_free(d->streams);
    bm_sink_free(d->sink);
    bm_engine_free(d->engine);
    bm_ruleset_free(d->rules);
    if (d->sigterm)
        event_free(d->sigterm);
    if (d->sigint)
        event_free(d->sigint);
    bm_config_free(d->cfg);
    if (d->base)
        event_base_free(d->base);
    free(d);
}

static struct bm_daemon *fail(struct bm_daemon *d, struct bm_diag *diag,
                              const char *what)
{
    if (what)
        bm_diag_set(diag, d->cfg ? d->cfg->file : "", 0, 0, "%s", what);
    bm_daemon_free(d);
    return NULL;
}

struct bm_daemon *bm_daemon_new(const char *config_path, struct bm_diag *diag)
{
    struct bm_daemon *d = calloc(1, sizeof(*d));
    enum bm_log_level level;
    const char *err;

    if (!d) {
        bm_diag_set(diag, config_path, 0, 0, "out of memory");
        return NULL;
    }
    d->cfg = bm_config_load(config_path, diag);
    if (!d->cfg)
        return fail(d, diag, NULL);
    if (d->cfg->log_level && bm_log_parse_level(d->cfg->log_level, &level) == 0)
        bm_log_set_level(level);
    d->rules = bm_ruleset_load((const char *const *)d->cfg->rules,
                               d->cfg->nrules, d->cfg->data_dir, diag);
    if (!d->rules)
        return fail(d, diag, NULL);
    d->base = event_base_new();
    d->engine = bm_engine_new(d->rules);
    if (!d->base || !d->engine)
        return fail(d, diag, "out of memory");
    d->sink = bm_sink_new(d->cfg->sink, d->cfg, d->base);
    if (!d->sink)
        return fail(d, diag, "the sink cannot be set up (see the log)");
    d->sink->rules = d->rules;
    d->streams = bm_streams_new(d->base, d->cfg, post_cb, d, &err);
    if (!d->streams)
        return fail(d, diag, err);
    d->sigterm = evsignal_new(d->base, SIGTERM, stop_cb, d);
    d->sigint = evsignal_new(d->base, SIGINT, stop_cb, d);
    if (!d->sigterm || !d->sigint || evsignal_add(d->sigterm, NULL) ||
        evsignal_add(d->sigint, NULL))
        return fail(d, diag, "cannot watch signals");
    return d;
}

void bm_daemon_describe(const struct bm_daemon *d, char *out, size_t n)
{
    snprintf(out, n,
             "config ok: instance %s, %zu sources, sink %s; rules: %zu "
             "packs, %zu brands, %zu rules, %zu terms (hash %s)",
             d->cfg->instance, d->cfg->nsources, d->cfg->sink,
             bm_ruleset_packs(d->rules), bm_ruleset_brands(d->rules),
             bm_ruleset_rules(d->rules), bm_ruleset_terms(d->rules),
             bm_ruleset_hash(d->rules));
}

int bm_daemon_run(struct bm_daemon *d)
{
    BM_INFO("daemon",
            "brandmond %s starting: instance %s, %zu sources, "
            "%zu rules",
            BM_VERSION, d->cfg->instance, d->cfg->nsources,
            bm_ruleset_rules(d->rules));
    /* A peer closing a socket must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    bm_streams_start(d->streams);
    if (event_base_dispatch(d->base) < 0)
        return -EIO;
    BM_INFO("daemon", "stopped: %llu posts decided",
            (unsigned long long)d->decided);
    return 0;
}
