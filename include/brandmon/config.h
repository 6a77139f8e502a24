/*
 * config.h - brandmond's configuration file (YAML), loaded into structs.
 *
 * Loading is table-driven: every key of every section is one row of a
 * static table {name, type, offset, default, min, max, help}, and the same
 * tables give `--help-config` and docs/config.md. Unknown keys are errors
 * with a did-you-mean suggestion; every error is `file:line:col: what`;
 * nothing is half-loaded.
 *
 * Sources: the keys a source may have depend on its type. All source keys
 * live in one table (struct bm_source_config below); each type lists which
 * of them it takes (bm_config_source_keys()), so `interval` on an X stream
 * is an error.
 *
 * Secrets (tokens, passwords) are never in the file: `token_file` /
 * `password_file` name a file (systemd LoadCredential=) and `token_env` /
 * `password_env` an environment variable. They are read by
 * bm_config_secret() when a source starts, never logged, never printed.
 *
 * Everything here is plain data, owned by struct bm_config and freed by
 * bm_config_free().
 */
#ifndef BRANDMON_CONFIG_H
#define BRANDMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "brandmon/diag.h"
#include "brandmon/source.h"

#define BM_CONFIG_MAX_SOURCES 4096
#define BM_CONFIG_MAX_HEADERS 16

/* One configured source. Strings are owned (NULL when not set). */
struct bm_source_config {
    char *name;       /* unique; [A-Za-z0-9._-]+; required */
    char *type;       /* x mastodon jetstream sse ndjson poll replay */
    char *url;        /* required for network types; a poll's URL may hold
                         {since} / {since_iso}: the newest post seen less
                         two minutes (epoch seconds / ISO 8601) */
    char *token_file; /* bearer token from a file */
    char *token_env;  /* bearer token from an environment variable */
    char *user_agent; /* default "brandmond/VERSION" */
    char *headers[BM_CONFIG_MAX_HEADERS]; /* extra "Name: value" headers */
    size_t nheaders;
    uint64_t stall_ms;  /* no byte for this long: reconnect; 0 = type's */
    uint64_t max_frame; /* frame ceiling in bytes; 0 = limits.max_frame */
    uint64_t dedup;     /* ids remembered per source to drop repeats */
    char *format;       /* poll/replay/ndjson/sse: field map to use
                           (x mastodon jetstream reddit hn generic) */
    struct bm_field_map fields; /* generic map; pointers owned (char *) */
    bool html;                  /* generic: text is HTML */
    char **events;              /* sse: event types to decide (default all) */
    size_t nevents;
    uint64_t interval_ms; /* poll: time between requests */
    char *file;           /* replay: file of posts, one per line */
    double rate;          /* replay: posts per second (0 = as fast) */
    bool loop;            /* replay: start over at the end */
    char **collections;   /* jetstream: wantedCollections */
    size_t ncollections;
};

struct bm_redis_config {
    char *url;              /* redis://host:port/db or unix:///path */
    char *prefix;           /* key prefix, default "brandmon:" */
    char *password_file;    /* AUTH password from a file */
    char *password_env;     /* AUTH password from an environment variable */
    uint64_t alerts_maxlen; /* XADD MAXLEN ~, default 100000 */
    char *spool;            /* spool file path */
    uint64_t queue_max;     /* alerts held in memory while Redis is away */
    uint64_t connect_timeout_ms;
    uint64_t command_timeout_ms;
};

struct bm_config {
    char *file;     /* owned: the path it was loaded from */
    char *instance; /* name in logs, metrics, heartbeat; default host */
    char **rules;   /* owned: pack files or folders */
    size_t nrules;
    char *data_dir; /* lexicon and intents; NULL = default */
    char *sink;     /* "redis" or "stdout" */
    struct bm_redis_config redis;
    char *metrics_listen;             /* "127.0.0.1:9464"; NULL = off */
    char *log_level;                  /* error warning notice info debug */
    uint64_t max_frame;               /* limits.max_frame, default 1 MiB */
    uint64_t max_sources;             /* limits.max_sources */
    struct bm_source_config *sources; /* owned */
    size_t nsources;
};

/* Loads @path. NULL with @diag set on any error. Free with bm_config_free(). */
struct bm_config *bm_config_load(const char *path, struct bm_diag *diag);
void bm_config_free(struct bm_config *cfg);

/* The source keys @type accepts (NULL-terminated), or NULL for an unknown
 * type. */
const char *const *bm_config_source_keys(const char *type);

/*
 * Reads a secret from @file or @env (exactly one set), trimming one
 * trailing newline. Returns a malloc'ed string the caller wipes and frees,
 * or NULL with @err (a short reason that never contains the secret).
 */
char *bm_config_secret(const char *file, const char *env, const char **err);

/* Prints every key with its type, default and help (--help-config). */
void bm_config_print_reference(FILE *out);

/* True when two source configs are equal in every key (reload keeps the
 * stream connected). */
bool bm_source_config_equal(const struct bm_source_config *a,
                            const struct bm_source_config *b);

#endif
