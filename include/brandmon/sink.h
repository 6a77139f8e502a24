/*
 * sink.h - where decisions go: sinks as structs of callbacks.
 *
 * The daemon hands every decision to one sink. `stdout` prints each as one
 * JSON line (the operator's dry run and shadow mode: nothing is written
 * anywhere else); `redis` writes alerts and counters. A sink copies what it
 * keeps: the decision is borrowed for the call. Everything runs on the loop
 * thread.
 */
#ifndef BRANDMON_SINK_H
#define BRANDMON_SINK_H

#include <event2/event.h>

#include "brandmon/config.h"
#include "brandmon/engine.h"
#include "brandmon/pack.h"

struct bm_sink;

/* What a sink reports for metrics and health. */
struct bm_sink_stats {
    bool connected;      /* its destination takes writes (stdout: always) */
    uint64_t down_ms;    /* how long it has not been connected */
    uint64_t queue;      /* writes waiting in memory */
    uint64_t spool;      /* writes waiting on disk */
    uint64_t written;    /* writes acknowledged */
    uint64_t duplicates; /* writes that found their post already written */
    uint64_t errors;     /* writes refused for good */
    uint64_t lost;       /* writes that could not be kept */
    uint64_t reconnects; /* connection attempts */
    double latency_p50_ms, latency_p99_ms; /* queue to acknowledgement */
};

struct bm_sink_ops {
    const char *name; /* the config's `sink:` */
    /* Sets up the sink's private state (sink->impl). 0 or -errno. */
    int (*open)(struct bm_sink *sink);
    /* One decision; borrowed for the call. 0, or -errno when it could not
     * be taken (it is then counted as lost). */
    int (*put)(struct bm_sink *sink, const struct bm_decision *d);
    /* Writes out what is buffered, synchronously and without waiting for
     * a peer (the redis sink spools what Redis has not taken). */
    void (*flush)(struct bm_sink *sink);
    /* Stop: hands what is pending to its destination within a bounded
     * time, then calls @done (once, possibly at once). */
    void (*drain)(struct bm_sink *sink, void (*done)(void *arg), void *arg);
    /* Frees the private state. */
    void (*close)(struct bm_sink *sink);
    /* Optional: fills @out (put and lost are filled by sink.c). */
    void (*stats)(struct bm_sink *sink, struct bm_sink_stats *out);
    /* Optional: this instance's heartbeat as field/value pairs (@n
     * strings); the sink keeps the last one and writes it again when it
     * reconnects. */
    void (*heartbeat)(struct bm_sink *sink, const char *const *kv, size_t n);
    /* Optional: a source's resume position as field/value pairs, kept
     * where a restart finds it (fire and forget). */
    void (*cursor_save)(struct bm_sink *sink, const char *source,
                        const char *const *kv, size_t n);
    /* Optional: reads a saved position back (blocking, bounded: at start
     * only), calling @field per pair. 0, or -errno when unavailable. */
    int (*cursor_load)(struct bm_sink *sink, const char *source,
                       void (*field)(const char *k, const char *v, void *arg),
                       void *arg);
};

struct bm_sink {
    const struct bm_sink_ops *ops;
    const struct bm_config *cfg; /* borrowed: the daemon's */
    struct event_base *base;     /* borrowed: the daemon's loop */
    /* borrowed: the rule set decisions come from (escalations); the
     * daemon sets it and changes it on reload */
    const struct bm_ruleset *rules;
    void *impl;    /* owned by the ops */
    uint64_t put;  /* decisions taken */
    uint64_t lost; /* decisions that could not be taken */
};

/* A sink of type @name (NULL: unknown, or out of memory). */
struct bm_sink *bm_sink_new(const char *name, const struct bm_config *cfg,
                            struct event_base *base);
void bm_sink_free(struct bm_sink *sink);
int bm_sink_put(struct bm_sink *sink, const struct bm_decision *d);
void bm_sink_flush(struct bm_sink *sink);
void bm_sink_stats(struct bm_sink *sink, struct bm_sink_stats *out);
void bm_sink_heartbeat(struct bm_sink *sink, const char *const *kv, size_t n);
void bm_sink_cursor_save(struct bm_sink *sink, const char *source,
                         const char *const *kv, size_t n);
int bm_sink_cursor_load(struct bm_sink *sink, const char *source,
                        void (*field)(const char *k, const char *v, void *arg),
                        void *arg);
void bm_sink_drain(struct bm_sink *sink, void (*done)(void *arg), void *arg);

#endif
