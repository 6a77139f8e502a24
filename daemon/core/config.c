/*
 * config.c - brandmond's YAML configuration, loaded through key tables.
 *
 * Every section of the file is a static table of keys {name, type, offset,
 * default, bounds, check, help}. One walker reads a mapping against its
 * table: it refuses unknown keys (with a did-you-mean), converts each value
 * by its type, runs the key's check, fills in the defaults (written as they
 * would be in the file and read by the same code) and then runs the
 * section's cross-key check. Sources take one shared table; each source type
 * lists which of its keys it accepts and which it needs. The reference
 * printed by bm_config_print_reference() walks the same tables, so a key
 * cannot be loaded without being documented.
 *
 * The first error stops the load; everything built so far is freed, so a
 * config is never half-loaded. Secrets are never read here: the file only
 * names where they are, and bm_config_secret() reads them when a source or
 * the sink starts. This module opens no connection, resolves no name and
 * does not look at the rule packs it lists.
 */
#include "brandmon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brandmon/diag.h"
#include "brandmon/source.h"
#include "brandmon/yaml.h"

#ifndef BM_VERSION
#define BM_VERSION "dev"
#endif

#define KIB    ((uint64_t)1024)
#define MIB    (1024 * KIB)
#define GIB    (1024 * MIB)
#define SECOND ((int64_t)1000)
#define MINUTE (60 * SECOND)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

/* Longest source or instance name. */
#define NAME_MAX_LEN 64
/* Most keys one section table may hold (the walker's name array). */
#define MAX_KEYS 32
/* The largest secret bm_config_secret() reads. */
#define SECRET_MAX (64 * 1024)
/* Rows that are checked but stored nowhere (metrics.allow_remote). */
#define NO_FIELD ((size_t)-1)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum key_type {
    K_STRING,   /* char * */
    K_STRINGS,  /* char ** with a size_t count at count_off */
    K_ENUM,     /* char *, one of `choices` */
    K_TYPE,     /* char *, a source type from `source_kinds` */
    K_FORMAT,   /* char *, a bm_source_ops name */
    K_BOOL,     /* bool */
    K_UINT,     /* uint64_t */
    K_DOUBLE,   /* double */
    K_DURATION, /* uint64_t, milliseconds */
    K_SIZE,     /* uint64_t, bytes */
    K_SECTION,  /* a mapping read with the table `sub`, same base struct */
    K_FIELDS,   /* struct bm_field_map: field name -> JSON pointer */
    K_HEADERS,  /* char *[BM_CONFIG_MAX_HEADERS], count at count_off */
    K_SOURCES,  /* the list of sources, read with the table `sub` */
};

#define F_REQUIRED 1u /* the section needs this key (when it is written) */
#define F_ZERO     2u /* 0 is accepted below `min`: "inherit", "the type's" */
#define F_ONE      4u /* K_STRINGS: a single string is a list of one */

struct loader {
    const struct bm_ydoc *doc; /* borrowed: bm_config_load() */
    struct bm_diag *diag;      /* borrowed: the caller's */
};

/* An extra check of one string value (after conversion, before it is
 * stored): 0, or -EINVAL with the diag set at @n. */
typedef int (*check_fn)(struct loader *ld, const struct bm_ynode *n,
                        const char *s);

struct section;

/* One key of one section. */
struct key {
    const char *name;
    enum key_type type;
    size_t off;       /* into the section's struct, or NO_FIELD */
    size_t count_off; /* K_STRINGS, K_HEADERS: where the count goes */
    /* The default as written in the file (read by the same code), or NULL
     * when the key has none or a computed one, described by def_doc. */
    const char *def;
    const char *def_doc;
    int64_t min; /* K_UINT K_DURATION K_SIZE K_DOUBLE */
    int64_t max;
    unsigned flags;
    const char *const *choices; /* K_ENUM: NULL-terminated */
    const struct section *sub;  /* K_SECTION, K_SOURCES */
    check_fn check;             /* K_STRING, K_STRINGS items; or NULL */
    const char *help;
};

struct section {
    const char *path; /* prefix in the reference: "", "redis.", ... */
    const char *what; /* in messages: "the config", "redis", ... */
    const struct key *keys;
    size_t nkeys;
    /* Cross-key checks once every key is read; @map is NULL when the
     * section is not in the file. */
    int (*check)(struct loader *ld, const struct bm_ynode *map, void *base);
};

/* A source type and the keys it takes. */
struct source_kind {
    const char *name;
    const char *const *keys;     /* NULL-terminated */
    const char *const *required; /* NULL-terminated */
    const char *help;
};

static int check_name(struct loader *ld, const struct bm_ynode *n,
                      const char *s);
static int check_url(struct loader *ld, const struct bm_ynode *n,
                     const char *s);
static int check_redis_url(struct loader *ld, const struct bm_ynode *n,
                           const char *s);
static int check_listen(struct loader *ld, const struct bm_ynode *n,
                        const char *s);
static int check_env(struct loader *ld, const struct bm_ynode *n,
                     const char *s);
static int check_printable(struct loader *ld, const struct bm_ynode *n,
                           const char *s);
static int check_word(struct loader *ld, const struct bm_ynode *n,
                      const char *s);
static int check_redis(struct loader *ld, const struct bm_ynode *map,
                       void *base);
static int check_metrics(struct loader *ld, const struct bm_ynode *map,
                         void *base);
static int check_top(struct loader *ld, const struct bm_ynode *map, void *base);
static int check_source(struct loader *ld, const struct bm_ynode *map,
                        void *base);

/* ---- the tables --------------------------------------------------------- */

static const char *const sink_names[] = { "redis", "stdout", NULL };
static const char *const level_names[] = {
    "error", "warning", "notice", "info", "debug", NULL,
};

#define CFG(field) offsetof(struct bm_config, field)
#define SRC(field) offsetof(struct bm_source_config, field)
#define SECTION(p, w, t, c)                                                    \
    {                                                                          \
        .path = p, .what = w, .keys = t, .nkeys = ARRAY_LEN(t), .check = c,    \
    }

static const struct key redis_keys[] = {
    { .name = "url",
      .type = K_STRING,
      .off = CFG(redis.url),
      .def = "redis://127.0.0.1:6379/0",
      .check = check_redis_url,
      .help = "redis://HOST[:PORT][/DB] or unix:///PATH; no password here" },
    { .name = "prefix",
      .type = K_STRING,
      .off = CFG(redis.prefix),
      .def = "brandmon:",
      .check = check_printable,
      .help = "prefix of every key brandmond writes" },
    { .name = "password_file",
      .type = K_STRING,
      .off = CFG(redis.password_file),
      .def_doc = "none",
      .help = "file holding the AUTH password (systemd LoadCredential=)" },
    { .name = "password_env",
      .type = K_STRING,
      .off = CFG(redis.password_env),
      .def_doc = "none",
      .check = check_env,
      .help = "environment variable holding the AUTH password" },
    { .name = "alerts_maxlen",
      .type = K_UINT,
      .off = CFG(redis.alerts_maxlen),
      .def = "100000",
      .min = 100,
      .max = 100000000,
      .help = "approximate length kept of the alerts stream (XADD MAXLEN ~)" },
    { .name = "spool",
      .type = K_STRING,
      .off = CFG(redis.spool),
      .def = "/var/lib/brandmond/spool",
      .help = "file alerts spill to while Redis is away" },
    { .name = "queue_max",
      .type = K_UINT,
      .off = CFG(redis.queue_max),
      .def = "10000",
      .min = 1,
      .max = 10000000,
      .help =
          "posts waiting for Redis in memory before they spill to the spool" },
    { .name = "connect_timeout",
      .type = K_DURATION,
      .off = CFG(redis.connect_timeout_ms),
      .def = "2s",
      .min = 10,
      .max = 5 * MINUTE,
      .help = "give up a connection attempt after this long" },
    { .name = "command_timeout",
      .type = K_DURATION,
      .off = CFG(redis.command_timeout_ms),
      .def = "5s",
      .min = 10,
      .max = 5 * MINUTE,
      .help = "a command unanswered this long drops the connection" },
};

static const struct key metrics_keys[] = {
    { .name = "listen",
      .type = K_STRING,
      .off = CFG(metrics_listen),
      .def_doc = "none: required in a metrics block",
      .flags = F_REQUIRED,
      .check = check_listen,
      .help = "HOST:PORT serving /metrics and /health, e.g. 127.0.0.1:9464" },
    { .name = "allow_remote",
      .type = K_BOOL,
      .off = NO_FIELD,
      .def = "false",
      .help = "let listen be a non-loopback address (the port has no auth)" },
};

static const struct key log_keys[] = {
    { .name = "level",
      .type = K_ENUM,
      .off = CFG(log_level),
      .def = "info",
      .choices = level_names,
      .help = "least severe messages logged" },
};

static const struct key limits_keys[] = {
    { .name = "max_frame",
      .type = K_SIZE,
      .off = CFG(max_frame),
      .def = "1MiB",
      .min = (int64_t)KIB,
      .max = (int64_t)(64 * MIB),
      .help = "largest message (line, event) a source may send" },
    { .name = "max_sources",
      .type = K_UINT,
      .off = CFG(max_sources),
      .def = "1024",
      .min = 1,
      .max = BM_CONFIG_MAX_SOURCES,
      .help = "most sources one config may list" },
};

static const struct key source_keys[] = {
    { .name = "name",
      .type = K_STRING,
      .off = SRC(name),
      .check = check_name,
      .help = "unique name: letters, digits, '.', '-', '_'" },
    { .name = "type",
      .type = K_TYPE,
      .off = SRC(type),
      .help = "what the source speaks (see the types below)" },
    { .name = "url",
      .type = K_STRING,
      .off = SRC(url),
      .check = check_url,
      .help = "http(s):// (ws(s):// for jetstream); no credentials here" },
    { .name = "file",
      .type = K_STRING,
      .off = SRC(file),
      .help = "file of messages, one JSON per line" },
    { .name = "format",
      .type = K_FORMAT,
      .off = SRC(format),
      .def_doc = "generic when fields is set, else the type's (replay: x)",
      .help = "field map that turns a message into a post" },
    { .name = "fields",
      .type = K_FIELDS,
      .off = SRC(fields),
      .def_doc = "none",
      .help = "format generic: post field -> JSON pointer (id, text needed)" },
    { .name = "html",
      .type = K_BOOL,
      .off = SRC(html),
      .def = "false",
      .help = "format generic: the text is HTML" },
    { .name = "token_file",
      .type = K_STRING,
      .off = SRC(token_file),
      .def_doc = "none",
      .help = "file holding the bearer token (systemd LoadCredential=)" },
    { .name = "token_env",
      .type = K_STRING,
      .off = SRC(token_env),
      .def_doc = "none",
      .check = check_env,
      .help = "environment variable holding the bearer token" },
    { .name = "user_agent",
      .type = K_STRING,
      .off = SRC(user_agent),
      .def = "brandmond/" BM_VERSION,
      .check = check_printable,
      .help = "User-Agent header sent" },
    { .name = "headers",
      .type = K_HEADERS,
      .off = SRC(headers),
      .count_off = SRC(nheaders),
      .def_doc = "none",
      .help = "extra request headers, Name: value (not Authorization)" },
    { .name = "events",
      .type = K_STRINGS,
      .off = SRC(events),
      .count_off = SRC(nevents),
      .def_doc = "all",
      .check = check_word,
      .help = "SSE event types to decide" },
    { .name = "collections",
      .type = K_STRINGS,
      .off = SRC(collections),
      .count_off = SRC(ncollections),
      .def_doc = "app.bsky.feed.post",
      .check = check_word,
      .help = "Jetstream wantedCollections (NSIDs, may end in .*)" },
    { .name = "interval",
      .type = K_DURATION,
      .off = SRC(interval_ms),
      .def = "60s",
      .min = SECOND,
      .max = DAY,
      .help = "time between two requests" },
    { .name = "stall",
      .type = K_DURATION,
      .off = SRC(stall_ms),
      .def = "0",
      .min = SECOND,
      .max = DAY,
      .flags = F_ZERO,
      .help = "no byte for this long: reconnect (0 = the type's own)" },
    { .name = "max_frame",
      .type = K_SIZE,
      .off = SRC(max_frame),
      .def = "0",
      .min = (int64_t)KIB,
      .max = (int64_t)(64 * MIB),
      .flags = F_ZERO,
      .help = "largest message from this source (0 = limits.max_frame)" },
    { .name = "dedup",
      .type = K_UINT,
      .off = SRC(dedup),
      .def = "10000",
      .min = 0,
      .max = 1000000,
      .help = "post ids remembered to drop repeats (0 = off)" },
    { .name = "rate",
      .type = K_DOUBLE,
      .off = SRC(rate),
      .def = "0",
      .min = 0,
      .max = 1000000,
      .help = "posts per second (0 = as fast as they are decided)" },
    { .name = "loop",
      .type = K_BOOL,
      .off = SRC(loop),
      .def = "false",
      .help = "start over at the end of the file" },
};

static const struct section redis_section =
    SECTION("redis.", "redis", redis_keys, check_redis);
static const struct section metrics_section =
    SECTION("metrics.", "metrics", metrics_keys, check_metrics);
static const struct section log_section =
    SECTION("log.", "log", log_keys, NULL);
static const struct section limits_section =
    SECTION("limits.", "limits", limits_keys, NULL);
static const struct section source_section =
    SECTION("sources[].", "source", source_keys, check_source);

/* limits comes before sources: the walker reads keys in table order. */
static const struct key top_keys[] = {
    { .name = "instance",
      .type = K_STRING,
      .off = CFG(instance),
      .def_doc = "the host name",
      .check = check_name,
      .help = "this daemon's name in logs, metrics and the heartbeat" },
    { .name = "rules",
      .type = K_STRINGS,
      .off = CFG(rules),
      .count_off = CFG(nrules),
      .flags = F_REQUIRED | F_ONE,
      .help = "rule pack files or folders of packs (a string or a list)" },
    { .name = "data_dir",
      .type = K_STRING,
      .off = CFG(data_dir),
      .def_doc = "$BRANDMON_DATA_DIR, else the installed data",
      .help = "folder of the sentiment lexicon and the shipped intents" },
    { .name = "sink",
      .type = K_ENUM,
      .off = CFG(sink),
      .def = "redis",
      .choices = sink_names,
      .help = "where decisions go (stdout: a dry run, nothing written)" },
    { .name = "redis",
      .type = K_SECTION,
      .off = NO_FIELD,
      .sub = &redis_section,
      .help = "the Redis sink" },
    { .name = "metrics",
      .type = K_SECTION,
      .off = NO_FIELD,
      .def_doc = "off",
      .sub = &metrics_section,
      .help = "the /metrics and /health endpoint" },
    { .name = "log",
      .type = K_SECTION,
      .off = NO_FIELD,
      .sub = &log_section,
      .help = "logging" },
    { .name = "limits",
      .type = K_SECTION,
      .off = NO_FIELD,
      .sub = &limits_section,
      .help = "ceilings on input" },
    { .name = "sources",
      .type = K_SOURCES,
      .off = NO_FIELD,
      .flags = F_REQUIRED,
      .sub = &source_section,
      .help = "the streams and feeds to watch (a non-empty list)" },
};

static const struct section top_section =
    SECTION("", "the config", top_keys, check_top);

_Static_assert(ARRAY_LEN(source_keys) <= MAX_KEYS, "raise MAX_KEYS");
_Static_assert(ARRAY_LEN(redis_keys) <= MAX_KEYS, "raise MAX_KEYS");
_Static_assert(ARRAY_LEN(top_keys) <= MAX_KEYS, "raise MAX_KEYS");

static const char *const x_keys[] = {
    "name",    "type",  "url",       "token_file", "token_env", "user_agent",
    "headers", "stall", "max_frame", "dedup",      NULL,
};
static const char *const mastodon_keys[] = {
    "name",    "type",  "url",       "token_file", "token_env", "user_agent",
    "headers", "stall", "max_frame", "dedup",      "events",    NULL,
};
static const char *const sse_keys[] = {
    "name",       "type",    "url",    "token_file", "token_env",
    "user_agent", "headers", "stall",  "max_frame",  "dedup",
    "events",     "format",  "fields", "html",       NULL,
};
static const char *const ndjson_keys[] = {
    "name",       "type",    "url",   "token_file", "token_env",
    "user_agent", "headers", "stall", "max_frame",  "dedup",
    "format",     "fields",  "html",  NULL,
};
static const char *const jetstream_keys[] = {
    "name",      "type",  "url",         "user_agent", "stall",
    "max_frame", "dedup", "collections", NULL,
};
static const char *const poll_keys[] = {
    "name",       "type",      "url",    "token_file", "token_env",
    "user_agent", "headers",   "format", "fields",     "html",
    "interval",   "max_frame", "dedup",  NULL,
};
static const char *const replay_keys[] = {
    "name", "type", "file", "format", "fields",
    "html", "rate", "loop", "dedup",  NULL,
};

static const char *const network_required[] = { "name", "type", "url", NULL };
static const char *const poll_required[] = {
    "name", "type", "url", "format", NULL,
};
static const char *const replay_required[] = { "name", "type", "file", NULL };

static const struct source_kind source_kinds[] = {
    { "x", x_keys, network_required, "X API v2 filtered stream (NDJSON)" },
    { "mastodon", mastodon_keys, network_required,
      "Mastodon streaming API (SSE)" },
    { "jetstream", jetstream_keys, network_required,
      "Bluesky Jetstream (WebSocket)" },
    { "sse", sse_keys, network_required,
      "any Server-Sent Events stream of JSON" },
    { "ndjson", ndjson_keys, network_required,
      "any stream of JSON, one per line" },
    { "poll", poll_keys, poll_required,
      "an HTTP JSON API requested every interval" },
    { "replay", replay_keys, replay_required,
      "a file of messages played back (tests, demos)" },
};

#define NKINDS ARRAY_LEN(source_kinds)

/* ---- small helpers ------------------------------------------------------ */

static bool in_list(const char *s, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static const struct source_kind *kind_find(const char *name)
{
    for (size_t i = 0; name && i < NKINDS; i++)
        if (strcmp(source_kinds[i].name, name) == 0)
            return &source_kinds[i];
    return NULL;
}

/* Fills @names (room for MAX_KEYS + 1) with the names of @sec's keys. */
static void key_names(const struct section *sec, const char **names)
{
    size_t i;

    for (i = 0; i < sec->nkeys; i++)
        names[i] = sec->keys[i].name;
    names[i] = NULL;
}

/* The names of every source type (room for NKINDS + 1). */
static void kind_names(const char **names)
{
    size_t i;

    for (i = 0; i < NKINDS; i++)
        names[i] = source_kinds[i].name;
    names[i] = NULL;
}

/* The names of every message format (ops with a field map), at most
 * @cap - 1 of them. */
static void format_names(const char **names, size_t cap)
{
    const struct bm_source_ops *const *ops = bm_source_ops_all();
    size_t n = 0;

    for (size_t i = 0; ops[i] && n + 1 < cap; i++)
        if (bm_source_format_find(ops[i]->name))
            names[n++] = ops[i]->name;
    names[n] = NULL;
}

/* "a, b or c" into @out. */
static void join_names(const char *const *names, char *out, size_t n)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; names[i] && len < n; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
        int w = snprintf(out + len, n - len, "%s%s", sep, names[i]);

        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* The key node of @name in @map, or NULL. */
static const struct bm_ynode *key_node(const struct bm_ynode *map,
                                       const char *name)
{
    for (size_t i = 0; map && map->type == BM_YNODE_MAP && i < map->n; i++)
        if (strcmp(map->pairs[i].key->str, name) == 0)
            return map->pairs[i].key;
    return NULL;
}

/* Whichever of two nodes comes later in the file. */
static const struct bm_ynode *later(const struct bm_ynode *a,
                                    const struct bm_ynode *b)
{
    if (a->line != b->line)
        return a->line > b->line ? a : b;
    return a->col > b->col ? a : b;
}

static void format_size(uint64_t v, char *out, size_t n)
{
    if (v != 0 && v % GIB == 0)
        snprintf(out, n, "%" PRIu64 "GiB", v / GIB);
    else if (v != 0 && v % MIB == 0)
        snprintf(out, n, "%" PRIu64 "MiB", v / MIB);
    else if (v != 0 && v % KIB == 0)
        snprintf(out, n, "%" PRIu64 "KiB", v / KIB);
    else
        snprintf(out, n, "%" PRIu64, v);
}

static void format_duration(uint64_t ms, char *out, size_t n)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {
        { "d", DAY },
        { "h", HOUR },
        { "m", MINUTE },
        { "s", SECOND },
    };

    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(out, n, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, n, "%" PRIu64 "ms", ms);
}

static bool is_zero(const struct bm_ynode *n)
{
    return n->type == BM_YNODE_SCALAR && strcmp(n->str, "0") == 0;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A scalar node for a default, so that defaults take the same road as
 * values from the file. */
static struct bm_ynode default_node(const char *text)
{
    struct bm_ynode n;

    memset(&n, 0, sizeof(n));
    n.type = BM_YNODE_SCALAR;
    n.str = text;
    n.len = strlen(text);
    return n;
}

/* ---- string checks ------------------------------------------------------ */

static bool is_name(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") == len;
}

static int check_name(struct loader *ld, const struct bm_ynode *n,
                      const char *s)
{
    if (is_name(s))
        return 0;
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "'%.*s' is not a valid name: up to %d letters, "
                          "digits, '.', '-' and '_'",
                          NAME_MAX_LEN, s, NAME_MAX_LEN);
}

static int check_printable(struct loader *ld, const struct bm_ynode *n,
                           const char *s)
{
    if (!has_control(s))
        return 0;
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "control characters are not allowed here");
}

/* Event names, NSIDs, query parameter names. */
static int check_word(struct loader *ld, const struct bm_ynode *n,
                      const char *s)
{
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789._-*~") == strlen(s))
        return 0;
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "'%s' may hold only letters, digits and . _ - * ~",
                          s);
}

static int check_env(struct loader *ld, const struct bm_ynode *n, const char *s)
{
    if ((s[0] < '0' || s[0] > '9') &&
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789_") == strlen(s))
        return 0;
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "'%s' is not an environment variable name "
                          "(letters, digits and '_', not first a digit)",
                          s);
}

/* True when @s[0..len) holds 1 to 5 digits making a port 1..65535. */
static bool is_port(const char *s, size_t len)
{
    unsigned long v = 0;

    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/*
 * Splits "HOST[:PORT]" (HOST may be "[v6]") at @s, @len bytes. Sets @host
 * and @hlen (without brackets) and @port / @plen (0 when absent). False
 * when it is not that shape.
 */
static bool split_host_port(const char *s, size_t len, const char **host,
                            size_t *hlen, const char **port, size_t *plen)
{
    const char *end = s + len, *p;

    *port = NULL;
    *plen = 0;
    if (len > 0 && s[0] == '[') {
        p = memchr(s, ']', len);
        if (!p || p == s + 1)
            return false;
        *host = s + 1;
        *hlen = (size_t)(p - s - 1);
        p++;
    } else {
        p = memchr(s, ':', len);
        if (!p)
            p = end;
        *host = s;
        *hlen = (size_t)(p - s);
        if (*hlen == 0)
            return false;
    }
    if (p == end)
        return true;
    if (*p != ':')
        return false;
    *port = p + 1;
    *plen = (size_t)(end - p - 1);
    return is_port(*port, *plen);
}

/* The authority of "scheme://authority/rest" at @s (after "://"). */
static size_t authority_len(const char *s)
{
    return strcspn(s, "/?#");
}

static int check_url(struct loader *ld, const struct bm_ynode *n, const char *s)
{
    static const char *const schemes[] = {
        "http://",
        "https://",
        "ws://",
        "wss://",
    };
    const char *rest = NULL, *host, *port;
    size_t alen, hlen, plen;

    for (size_t i = 0; i < ARRAY_LEN(schemes); i++)
        if (strncasecmp(s, schemes[i], strlen(schemes[i])) == 0)
            rest = s + strlen(schemes[i]);
    if (!rest || has_control(s) || strchr(s, ' '))
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "expected an http://, https://, ws:// or "
                              "wss:// url");
    alen = authority_len(rest);
    if (memchr(rest, '@', alen))
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "put the token in token_file or token_env, "
                              "not in the url");
    if (!split_host_port(rest, alen, &host, &hlen, &port, &plen))
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "the url has no valid host[:port]");
    return 0;
}

static int check_redis_url(struct loader *ld, const struct bm_ynode *n,
                           const char *s)
{
    const char *rest, *host, *port, *db;
    size_t alen, hlen, plen;

    if (strncmp(s, "unix://", 7) == 0) {
        if (s[7] != '/' || s[8] == '\0' || has_control(s))
            goto bad;
        return 0;
    }
    if (strncmp(s, "redis://", 8) != 0)
        goto bad;
    rest = s + 8;
    alen = authority_len(rest);
    if (memchr(rest, '@', alen))
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "put the password in password_file or "
                              "password_env, not in the url");
    if (!split_host_port(rest, alen, &host, &hlen, &port, &plen))
        goto bad;
    db = rest + alen;
    if (*db == '\0' || strcmp(db, "/") == 0)
        return 0;
    if (db[0] != '/' || strlen(db + 1) > 5 ||
        strspn(db + 1, "0123456789") != strlen(db + 1))
        goto bad;
    return 0;

bad:
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "expected redis://HOST[:PORT][/DB] or "
                          "unix:///PATH");
}

static int check_listen(struct loader *ld, const struct bm_ynode *n,
                        const char *s)
{
    const char *host, *port;
    size_t hlen, plen;

    if (!split_host_port(s, strlen(s), &host, &hlen, &port, &plen) || !port)
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "expected HOST:PORT, like 127.0.0.1:9464");
    return 0;
}

/* True for localhost, 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool is_loopback(const char *host, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a6;
    struct in_addr a4;

    if (len >= sizeof(buf))
        return false;
    memcpy(buf, host, len);
    buf[len] = '\0';
    if (strcasecmp(buf, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, buf, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, buf, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) ||
               (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

/* ---- value conversions -------------------------------------------------- */

static int parse_string(struct loader *ld, const struct key *k,
                        const struct bm_ynode *n, char **out)
{
    const char *s;

    if (bm_ynode_string(ld->doc, n, &s, ld->diag))
        return -EINVAL;
    if (s[0] == '\0')
        return bm_ynode_error(ld->doc, n, ld->diag, "'%s' must not be empty",
                              k->name);
    if (k->check && k->check(ld, n, s))
        return -EINVAL;
    *out = strdup(s);
    if (!*out)
        return bm_ynode_error(ld->doc, n, ld->diag, "out of memory");
    return 0;
}

/* A string that must be one of @names; @what names it in the message. */
static int parse_choice(struct loader *ld, const struct bm_ynode *n,
                        const char *what, const char *const *names, char **out)
{
    char all[256];
    const char *s, *near;

    if (bm_ynode_string(ld->doc, n, &s, ld->diag))
        return -EINVAL;
    if (in_list(s, names)) {
        *out = strdup(s);
        if (!*out)
            return bm_ynode_error(ld->doc, n, ld->diag, "out of memory");
        return 0;
    }
    near = bm_diag_suggest(s, names);
    if (near)
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "unknown %s '%.64s' (did you mean '%s'?)", what,
                              s, near);
    join_names(names, all, sizeof(all));
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "unknown %s '%.64s' (expected %s)", what, s, all);
}

static int parse_strings(struct loader *ld, const struct key *k,
                         const struct bm_ynode *n, char ***out, size_t *count)
{
    const struct bm_ynode *const *items;
    const struct bm_ynode *one = n;
    size_t nitems;
    char **v;

    if (n->type == BM_YNODE_SCALAR && (k->flags & F_ONE)) {
        items = &one;
        nitems = 1;
    } else if (n->type == BM_YNODE_SEQ) {
        items = (const struct bm_ynode *const *)n->items;
        nitems = n->n;
    } else {
        return bm_ynode_error(ld->doc, n, ld->diag, "'%s' must be %s", k->name,
                              (k->flags & F_ONE)
                                  ? "a string or a list of strings"
                                  : "a list of strings");
    }
    if (nitems == 0)
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "'%s' must not be an empty list", k->name);
    v = calloc(nitems, sizeof(*v));
    if (!v)
        return bm_ynode_error(ld->doc, n, ld->diag, "out of memory");
    /* Stored at once, so that bm_config_free() takes a half-read list. */
    *out = v;
    for (size_t i = 0; i < nitems; i++) {
        if (items[i]->type != BM_YNODE_SCALAR)
            return bm_ynode_error(ld->doc, items[i], ld->diag,
                                  "expected a string");
        if (parse_string(ld, k, items[i], &v[i]))
            return -EINVAL;
        *count = i + 1;
    }
    return 0;
}

static int parse_size(struct loader *ld, const struct key *k,
                      const struct bm_ynode *n, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {
        { "", 1 },      { "B", 1 },     { "KiB", KIB },    { "MiB", MIB },
        { "GiB", GIB }, { "kB", 1000 }, { "MB", 1000000 }, { "GB", 1000000000 },
    };
    char lo[32], hi[32];
    const char *s;
    uint64_t v = 0;
    size_t i;

    if (n->type != BM_YNODE_SCALAR || strlen(n->str) != n->len)
        goto bad;
    if ((k->flags & F_ZERO) && is_zero(n)) {
        *out = 0;
        return 0;
    }
    s = n->str;
    if (*s < '0' || *s > '9')
        goto bad;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            goto range;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (*s == ' ')
        s++;
    for (i = 0; i < ARRAY_LEN(units); i++)
        if (strcmp(s, units[i].unit) == 0)
            break;
    if (i == ARRAY_LEN(units))
        goto bad;
    if (v > UINT64_MAX / units[i].mult)
        goto range;
    v *= units[i].mult;
    if (v < (uint64_t)k->min || v > (uint64_t)k->max)
        goto range;
    *out = v;
    return 0;

range:
    format_size((uint64_t)k->min, lo, sizeof(lo));
    format_size((uint64_t)k->max, hi, sizeof(hi));
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "expected a size from %s to %s%s", lo, hi,
                          (k->flags & F_ZERO) ? ", or 0" : "");
bad:
    return bm_ynode_error(ld->doc, n, ld->diag,
                          "expected a size like 65536, 64KiB or 1MiB");
}

static int parse_duration(struct loader *ld, const struct key *k,
                          const struct bm_ynode *n, uint64_t *out)
{
    char lo[32], hi[32];
    uint64_t ms;

    if ((k->flags & F_ZERO) && is_zero(n)) {
        *out = 0;
        return 0;
    }
    if (bm_ynode_duration(ld->doc, n, &ms, ld->diag))
        return -EINVAL;
    if (ms < (uint64_t)k->min || ms > (uint64_t)k->max) {
        format_duration((uint64_t)k->min, lo, sizeof(lo));
        format_duration((uint64_t)k->max, hi, sizeof(hi));
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "expected a duration from %s to %s%s", lo, hi,
                              (k->flags & F_ZERO) ? ", or 0" : "");
    }
    *out = ms;
    return 0;
}

/* RFC 6901: "" or "/..." where '~' is only "~0" or "~1". */
static bool is_json_pointer(const char *s)
{
    if (s[0] != '\0' && s[0] != '/')
        return false;
    for (; *s; s++)
        if (*s == '~' && s[1] != '0' && s[1] != '1')
            return false;
    return true;
}

static int parse_fields(struct loader *ld, const struct bm_ynode *n,
                        struct bm_field_map *map)
{
    const char *names[BM_FIELD_COUNT + 1];
    const struct bm_ynode *v;
    const char *s;
    char *copy;

    for (size_t i = 0; i < BM_FIELD_COUNT; i++)
        names[i] = bm_field_names[i];
    names[BM_FIELD_COUNT] = NULL;
    if (bm_ynode_check_keys(ld->doc, n, "fields", names, ld->diag))
        return -EINVAL;
    for (size_t i = 0; i < BM_FIELD_COUNT; i++) {
        v = bm_ynode_get(n, names[i]);
        if (!v)
            continue;
        if (bm_ynode_string(ld->doc, v, &s, ld->diag))
            return -EINVAL;
        if (!is_json_pointer(s))
            return bm_ynode_error(ld->doc, v, ld->diag,
                                  "'%.64s' is not a JSON pointer (like "
                                  "/user/name, or \"\" for the whole "
                                  "message)",
                                  s);
        copy = strdup(s);
        if (!copy)
            return bm_ynode_error(ld->doc, v, ld->diag, "out of memory");
        map->ptr[i] = copy;
    }
    return 0;
}

/* RFC 9110 token characters. */
static bool is_header_name(const char *s)
{
    size_t len = strlen(s);

    return len > 0 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789!#$%&'*+-.^_`|~") == len;
}

static int parse_headers(struct loader *ld, const struct bm_ynode *n,
                         char **headers, size_t *count)
{
    const struct bm_ynode *k, *v;
    const char *value;
    size_t len;

    if (n->type != BM_YNODE_MAP)
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "'headers' must be a mapping of Name: value");
    if (n->n > BM_CONFIG_MAX_HEADERS)
        return bm_ynode_error(ld->doc, n->pairs[BM_CONFIG_MAX_HEADERS].key,
                              ld->diag, "more than %d headers",
                              BM_CONFIG_MAX_HEADERS);
    for (size_t i = 0; i < n->n; i++) {
        k = n->pairs[i].key;
        v = n->pairs[i].value;
        if (!is_header_name(k->str) || strlen(k->str) != k->len)
            return bm_ynode_error(ld->doc, k, ld->diag,
                                  "'%.64s' is not a header name", k->str);
        if (strcasecmp(k->str, "Authorization") == 0)
            return bm_ynode_error(ld->doc, k, ld->diag,
                                  "do not put Authorization in headers: use "
                                  "token_file or token_env");
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(n->pairs[j].key->str, k->str) == 0)
                return bm_ynode_error(ld->doc, k, ld->diag,
                                      "header '%.64s' is given twice", k->str);
        if (bm_ynode_string(ld->doc, v, &value, ld->diag))
            return -EINVAL;
        for (const char *c = value; *c; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return bm_ynode_error(ld->doc, v, ld->diag,
                                      "control characters are not allowed "
                                      "in a header value");
        len = k->len + 2 + strlen(value) + 1;
        headers[i] = malloc(len);
        if (!headers[i])
            return bm_ynode_error(ld->doc, v, ld->diag, "out of memory");
        snprintf(headers[i], len, "%s: %s", k->str, value);
        *count = i + 1;
    }
    return 0;
}

static int walk(struct loader *ld, const struct section *sec,
                const struct bm_ynode *map, void *base, const char *const *only,
                const char *const *required, const char *what);
static int parse_sources(struct loader *ld, const struct bm_ynode *n,
                         struct bm_config *cfg);

/* Reads @n into @k's field of @base. */
static int parse_value(struct loader *ld, const struct key *k,
                       const struct bm_ynode *n, void *base)
{
    union {
        bool b;
        uint64_t u;
        double d;
    } scratch;
    void *field = k->off == NO_FIELD ? (void *)&scratch : (char *)base + k->off;
    const char *kinds[NKINDS + 1], *formats[32];
    int64_t i64;

    switch (k->type) {
    case K_STRING:
        return parse_string(ld, k, n, field);
    case K_STRINGS:
        return parse_strings(ld, k, n, field,
                             (size_t *)((char *)base + k->count_off));
    case K_ENUM:
        return parse_choice(ld, n, k->name, k->choices, field);
    case K_TYPE:
        kind_names(kinds);
        return parse_choice(ld, n, "source type", kinds, field);
    case K_FORMAT:
        format_names(formats, ARRAY_LEN(formats));
        return parse_choice(ld, n, "format", formats, field);
    case K_BOOL:
        return bm_ynode_bool(ld->doc, n, field, ld->diag);
    case K_UINT:
        if (bm_ynode_int(ld->doc, n, k->min, k->max, &i64, ld->diag))
            return -EINVAL;
        *(uint64_t *)field = (uint64_t)i64;
        return 0;
    case K_DOUBLE:
        return bm_ynode_double(ld->doc, n, (double)k->min, (double)k->max,
                               field, ld->diag);
    case K_DURATION:
        return parse_duration(ld, k, n, field);
    case K_SIZE:
        return parse_size(ld, k, n, field);
    case K_SECTION:
        return walk(ld, k->sub, n, base, NULL, NULL, k->sub->what);
    case K_FIELDS:
        return parse_fields(ld, n, field);
    case K_HEADERS:
        return parse_headers(ld, n, field,
                             (size_t *)((char *)base + k->count_off));
    case K_SOURCES:
        return parse_sources(ld, n, base);
    }
    return bm_ynode_error(ld->doc, n, ld->diag, "internal: bad key type");
}

/* Sets @k's field of @base to its default, if it has one. */
static int apply_default(struct loader *ld, const struct key *k, void *base)
{
    struct bm_ynode n;

    if (k->type == K_SECTION)
        return walk(ld, k->sub, NULL, base, NULL, NULL, k->sub->what);
    if (!k->def)
        return 0;
    n = default_node(k->def);
    return parse_value(ld, k, &n, base);
}

/*
 * Reads the mapping @map (NULL: the section is not in the file, only
 * defaults) into @base with the table @sec. @only, when set, lists the keys
 * that apply (others get no default); @required, when set, overrides the
 * F_REQUIRED flags. @what names the section in messages.
 */
static int walk(struct loader *ld, const struct section *sec,
                const struct bm_ynode *map, void *base, const char *const *only,
                const char *const *required, const char *what)
{
    const char *names[MAX_KEYS + 1];
    const struct bm_ynode *n;
    const struct key *k;
    bool needed;
    int rc;

    key_names(sec, names);
    if (map && bm_ynode_check_keys(ld->doc, map, what, names, ld->diag))
        return -EINVAL;
    for (size_t i = 0; i < sec->nkeys; i++) {
        k = &sec->keys[i];
        if (only && !in_list(k->name, only))
            continue;
        n = bm_ynode_get(map, k->name);
        needed = required ? in_list(k->name, required)
                          : (k->flags & F_REQUIRED) != 0;
        if (n)
            rc = parse_value(ld, k, n, base);
        else if (map && needed)
            rc = bm_ynode_error(ld->doc, map, ld->diag, "%s has no '%s'", what,
                                k->name);
        else
            rc = apply_default(ld, k, base);
        if (rc)
            return rc;
    }
    return sec->check ? sec->check(ld, map, base) : 0;
}

/* ---- sources ------------------------------------------------------------ */

static int parse_source(struct loader *ld, const struct bm_ynode *n,
                        struct bm_source_config *sc)
{
    const char *names[MAX_KEYS + 1], *kinds[NKINDS + 1];
    const struct source_kind *kind;
    const struct bm_ynode *name, *type, *k;
    char what[NAME_MAX_LEN + 16], all[128];
    char *t;

    snprintf(what, sizeof(what), "source");
    name = bm_ynode_get(n, "name");
    if (name && name->type == BM_YNODE_SCALAR && is_name(name->str))
        snprintf(what, sizeof(what), "source '%s'", name->str);
    key_names(&source_section, names);
    if (bm_ynode_check_keys(ld->doc, n, what, names, ld->diag))
        return -EINVAL;
    type = bm_ynode_get(n, "type");
    if (!type) {
        kind_names(kinds);
        join_names(kinds, all, sizeof(all));
        return bm_ynode_error(ld->doc, n, ld->diag, "%s has no 'type' (%s)",
                              what, all);
    }
    /* The type decides which keys apply, so it is read first; the walk
     * reads it again into @sc. */
    kind_names(kinds);
    if (parse_choice(ld, type, "source type", kinds, &t))
        return -EINVAL;
    kind = kind_find(t);
    free(t);
    for (size_t i = 0; i < n->n; i++) {
        k = n->pairs[i].key;
        if (!in_list(k->str, kind->keys))
            return bm_ynode_error(ld->doc, k, ld->diag,
                                  "key '%s' is not used by sources of type "
                                  "'%s'",
                                  k->str, kind->name);
    }
    return walk(ld, &source_section, n, sc, kind->keys, kind->required, what);
}

static int parse_sources(struct loader *ld, const struct bm_ynode *n,
                         struct bm_config *cfg)
{
    const struct bm_ynode *name, *first;

    if (n->type != BM_YNODE_SEQ)
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "'sources' must be a list of sources");
    if (n->n == 0)
        return bm_ynode_error(ld->doc, n, ld->diag,
                              "'sources' is empty: list at least one source");
    if (n->n > cfg->max_sources)
        return bm_ynode_error(ld->doc, n->items[cfg->max_sources], ld->diag,
                              "more than %" PRIu64 " sources (see "
                              "limits.max_sources)",
                              cfg->max_sources);
    cfg->sources = calloc(n->n, sizeof(*cfg->sources));
    if (!cfg->sources)
        return bm_ynode_error(ld->doc, n, ld->diag, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        /* Counted first, so that bm_config_free() takes a half-read one. */
        cfg->nsources = i + 1;
        if (parse_source(ld, n->items[i], &cfg->sources[i]))
            return -EINVAL;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->sources[j].name, cfg->sources[i].name) != 0)
                continue;
            name = bm_ynode_get(n->items[i], "name");
            first = bm_ynode_get(n->items[j], "name");
            return bm_ynode_error(ld->doc, name, ld->diag,
                                  "source name '%s' is already used at line "
                                  "%u",
                                  cfg->sources[i].name, first->line);
        }
    }
    return 0;
}

static int check_source(struct loader *ld, const struct bm_ynode *map,
                        void *base)
{
    struct bm_source_config *sc = base;
    const struct source_kind *kind = kind_find(sc->type);
    const struct bm_source_ops *ops;
    const struct bm_ynode *fields, *at;
    const char *fmt;

    if (sc->token_file && sc->token_env)
        return bm_ynode_error(
            ld->doc,
            later(key_node(map, "token_file"), key_node(map, "token_env")),
            ld->diag,
            "use either 'token_file' or 'token_env', not "
            "both");
    if (sc->url && strcmp(kind->name, "jetstream") != 0 &&
        strncasecmp(sc->url, "ws", 2) == 0)
        return bm_ynode_error(ld->doc, bm_ynode_get(map, "url"), ld->diag,
                              "only jetstream sources use ws:// or wss:// "
                              "urls");
    if (!in_list("format", kind->keys))
        return 0;
    fields = bm_ynode_get(map, "fields");
    if (!sc->format) {
        /* `fields` alone means the generic map; else the type's default. */
        ops = bm_source_type_find(sc->type);
        fmt = fields ? "generic" : ops ? ops->format : NULL;
        if (!fmt || (!fields && strcmp(fmt, "generic") == 0))
            return bm_ynode_error(ld->doc, map, ld->diag,
                                  "source '%s' has no 'format' (or 'fields' "
                                  "for the generic format)",
                                  sc->name);
        sc->format = strdup(fmt);
        if (!sc->format)
            return bm_ynode_error(ld->doc, map, ld->diag, "out of memory");
    }
    fmt = sc->format;
    if (strcmp(fmt, "generic") == 0) {
        if (!sc->fields.ptr[BM_FIELD_ID] || !sc->fields.ptr[BM_FIELD_TEXT]) {
            at = fields ? fields : bm_ynode_get(map, "format");
            return bm_ynode_error(ld->doc, at, ld->diag,
                                  "format 'generic' needs fields.id and "
                                  "fields.text");
        }
    } else if (fields || bm_ynode_get(map, "html")) {
        at = key_node(map, fields ? "fields" : "html");
        return bm_ynode_error(ld->doc, at, ld->diag,
                              "'%s' is only used with format 'generic'",
                              at->str);
    }
    sc->fields.html = sc->html;
    return 0;
}

/* ---- section checks ----------------------------------------------------- */

static int check_redis(struct loader *ld, const struct bm_ynode *map,
                       void *base)
{
    struct bm_config *cfg = base;

    if (cfg->redis.password_file && cfg->redis.password_env)
        return bm_ynode_error(ld->doc,
                              later(key_node(map, "password_file"),
                                    key_node(map, "password_env")),
                              ld->diag,
                              "use either 'password_file' or 'password_env', "
                              "not both");
    return 0;
}

static int check_metrics(struct loader *ld, const struct bm_ynode *map,
                         void *base)
{
    struct bm_config *cfg = base;
    const struct bm_ynode *remote, *listen;
    const char *host, *port;
    size_t hlen, plen;
    bool allow = false;

    if (!map || !cfg->metrics_listen)
        return 0;
    remote = bm_ynode_get(map, "allow_remote");
    if (remote && bm_ynode_bool(ld->doc, remote, &allow, ld->diag))
        return -EINVAL;
    if (allow)
        return 0;
    listen = bm_ynode_get(map, "listen");
    split_host_port(cfg->metrics_listen, strlen(cfg->metrics_listen), &host,
                    &hlen, &port, &plen);
    if (is_loopback(host, hlen))
        return 0;
    return bm_ynode_error(ld->doc, listen, ld->diag,
                          "'%s' is not a loopback address: /metrics has no "
                          "authentication (set 'allow_remote: true' to "
                          "serve it anyway)",
                          cfg->metrics_listen);
}

static int check_top(struct loader *ld, const struct bm_ynode *map, void *base)
{
    struct bm_config *cfg = base;
    char host[256];

    if (cfg->instance)
        return 0;
    /* gethostname() need not terminate a truncated name. */
    host[sizeof(host) - 1] = '\0';
    if (gethostname(host, sizeof(host) - 1) != 0 || !is_name(host))
        snprintf(host, sizeof(host), "brandmond");
    cfg->instance = strdup(host);
    if (!cfg->instance)
        return bm_ynode_error(ld->doc, map, ld->diag, "out of memory");
    return 0;
}

/* ---- public ------------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void source_release(struct bm_source_config *sc)
{
    free(sc->name);
    free(sc->type);
    free(sc->url);
    free(sc->token_file);
    free(sc->token_env);
    free(sc->user_agent);
    for (size_t i = 0; i < sc->nheaders; i++)
        free(sc->headers[i]);
    free(sc->format);
    for (size_t i = 0; i < BM_FIELD_COUNT; i++)
        free((void *)sc->fields.ptr[i]);
    free_strv(sc->events, sc->nevents);
    free(sc->file);
    free_strv(sc->collections, sc->ncollections);
}

void bm_config_free(struct bm_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nsources; i++)
        source_release(&cfg->sources[i]);
    free(cfg->sources);
    free(cfg->file);
    free(cfg->instance);
    free_strv(cfg->rules, cfg->nrules);
    free(cfg->data_dir);
    free(cfg->sink);
    free(cfg->redis.url);
    free(cfg->redis.prefix);
    free(cfg->redis.password_file);
    free(cfg->redis.password_env);
    free(cfg->redis.spool);
    free(cfg->metrics_listen);
    free(cfg->log_level);
    free(cfg);
}

/*
 * A relative path in the config is relative to the config file's folder,
 * so that a config and the packs beside it work from any working
 * directory (systemd starts services in /).
 */
static int resolve_one(const char *dir, size_t dirlen, char **path)
{
    char *full;

    if (!*path || (*path)[0] == '/' || dirlen == 0)
        return 0;
    full = malloc(dirlen + 1 + strlen(*path) + 1);
    if (!full)
        return -ENOMEM;
    memcpy(full, dir, dirlen);
    full[dirlen] = '/';
    strcpy(full + dirlen + 1, *path);
    free(*path);
    *path = full;
    return 0;
}

static int resolve_paths(struct bm_config *cfg)
{
    const char *slash = strrchr(cfg->file, '/');
    size_t dirlen = slash ? (size_t)(slash - cfg->file) : 0;
    int err = 0;

    if (slash && dirlen == 0)
        dirlen = 1; /* a config in / */
    for (size_t i = 0; i < cfg->nrules && !err; i++)
        err = resolve_one(cfg->file, dirlen, &cfg->rules[i]);
    if (!err)
        err = resolve_one(cfg->file, dirlen, &cfg->data_dir);
    if (!err)
        err = resolve_one(cfg->file, dirlen, &cfg->redis.spool);
    if (!err)
        err = resolve_one(cfg->file, dirlen, &cfg->redis.password_file);
    for (size_t i = 0; i < cfg->nsources && !err; i++) {
        err = resolve_one(cfg->file, dirlen, &cfg->sources[i].token_file);
        if (!err)
            err = resolve_one(cfg->file, dirlen, &cfg->sources[i].file);
    }
    return err;
}

struct bm_config *bm_config_load(const char *path, struct bm_diag *diag)
{
    struct loader ld = { .diag = diag };
    struct bm_config *cfg;
    struct bm_ydoc *doc;

    doc = bm_ydoc_load(path, diag);
    if (!doc)
        return NULL;
    ld.doc = doc;
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        bm_diag_set(diag, doc->file, 0, 0, "out of memory");
        goto out_free_doc;
    }
    cfg->file = strdup(path);
    if (!cfg->file) {
        bm_diag_set(diag, doc->file, 0, 0, "out of memory");
        goto out_free_cfg;
    }
    if (!doc->root) {
        bm_diag_set(diag, doc->file, 0, 0, "the config is empty");
        goto out_free_cfg;
    }
    if (walk(&ld, &top_section, doc->root, cfg, NULL, NULL, top_section.what))
        goto out_free_cfg;
    if (resolve_paths(cfg)) {
        bm_diag_set(diag, doc->file, 0, 0, "out of memory");
        goto out_free_cfg;
    }
    bm_ydoc_free(doc);
    return cfg;

out_free_cfg:
    bm_config_free(cfg);
out_free_doc:
    bm_ydoc_free(doc);
    return NULL;
}

const char *const *bm_config_source_keys(const char *type)
{
    const struct source_kind *kind = kind_find(type);

    return kind ? kind->keys : NULL;
}

/* ---- secrets ------------------------------------------------------------ */

/* Fixed reasons: @err must never be built from the secret or a buffer. */
static const char *file_error(int err)
{
    static const struct {
        int err;
        const char *msg;
    } reasons[] = {
        { ENOENT, "cannot read token file: No such file or directory" },
        { EACCES, "cannot read token file: Permission denied" },
        { EPERM, "cannot read token file: Operation not permitted" },
        { ENOTDIR, "cannot read token file: Not a directory" },
        { EISDIR, "cannot read token file: Is a directory" },
        { ELOOP, "cannot read token file: Too many levels of symbolic links" },
        { ENAMETOOLONG, "cannot read token file: File name too long" },
        { EIO, "cannot read token file: Input/output error" },
        { EMFILE, "cannot read token file: Too many open files" },
        { ENFILE, "cannot read token file: Too many open files in system" },
        { ENOMEM, "cannot read token file: Cannot allocate memory" },
    };

    for (size_t i = 0; i < ARRAY_LEN(reasons); i++)
        if (reasons[i].err == err)
            return reasons[i].msg;
    return "cannot read token file";
}

/* A token goes into a header: no control characters (CR, LF, NUL). */
static bool secret_is_clean(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static char *read_secret_file(const char *file, const char **err)
{
    struct stat st;
    size_t len = 0;
    ssize_t got;
    char *buf;
    int fd;

    /* O_NONBLOCK: a FIFO must not stall the loop in open(). */
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *err = file_error(errno);
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        *err = file_error(errno);
        goto out_close_fd;
    }
    if (S_ISDIR(st.st_mode)) {
        *err = file_error(EISDIR);
        goto out_close_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = "cannot read token file: not a regular file";
        goto out_close_fd;
    }
    /* One byte more than the ceiling, to tell "full" from "too large". */
    buf = malloc(SECRET_MAX + 1);
    if (!buf) {
        *err = "out of memory";
        goto out_close_fd;
    }
    while (len < SECRET_MAX + 1) {
        got = read(fd, buf + len, SECRET_MAX + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *err = file_error(errno);
            goto out_wipe_buf;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (len > SECRET_MAX) {
        *err = "token file is larger than 64 KiB";
        goto out_wipe_buf;
    }
    if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n')
        len -= 2;
    else if (len >= 1 && buf[len - 1] == '\n')
        len -= 1;
    if (len == 0) {
        *err = "token is empty";
        goto out_wipe_buf;
    }
    if (!secret_is_clean(buf, len)) {
        *err = "token contains a control character";
        goto out_wipe_buf;
    }
    buf[len] = '\0';
    close(fd);
    return buf;

out_wipe_buf:
    explicit_bzero(buf, SECRET_MAX + 1);
    free(buf);
out_close_fd:
    close(fd);
    return NULL;
}

char *bm_config_secret(const char *file, const char *env, const char **err)
{
    const char *dummy, *v;
    char *copy;

    if (!err)
        err = &dummy;
    if (file && env) {
        *err = "set either a token file or an environment variable, not both";
        return NULL;
    }
    if (!file && !env) {
        *err = "no token file or environment variable given";
        return NULL;
    }
    if (file)
        return read_secret_file(file, err);
    v = getenv(env);
    if (!v) {
        *err = "environment variable not set";
        return NULL;
    }
    if (v[0] == '\0') {
        *err = "token is empty";
        return NULL;
    }
    if (!secret_is_clean(v, strlen(v))) {
        *err = "token contains a control character";
        return NULL;
    }
    copy = strdup(v);
    if (!copy)
        *err = "out of memory";
    return copy;
}

/* ---- reference ---------------------------------------------------------- */

static const char *type_label(const struct key *k)
{
    switch (k->type) {
    case K_STRING:
        return "string";
    case K_STRINGS:
        return (k->flags & F_ONE) ? "string or list of strings"
                                  : "list of strings";
    case K_ENUM:
    case K_TYPE:
    case K_FORMAT:
        return "one of";
    case K_BOOL:
        return "true or false";
    case K_UINT:
        return "integer";
    case K_DOUBLE:
        return "number";
    case K_DURATION:
        return "duration";
    case K_SIZE:
        return "size";
    case K_SECTION:
        return "mapping";
    case K_FIELDS:
        return "mapping of field: JSON pointer";
    case K_HEADERS:
        return "mapping of Name: value";
    case K_SOURCES:
        return "list of sources";
    }
    return "?";
}

static void print_key(FILE *out, const struct section *sec, const struct key *k)
{
    const char *list[32];
    char all[256], lo[32], hi[32];
    const char *const *req;
    bool first;

    fprintf(out, "%s%s: %s", sec->path, k->name, type_label(k));
    if (k->type == K_ENUM) {
        join_names(k->choices, all, sizeof(all));
        fprintf(out, " %s", all);
    } else if (k->type == K_TYPE) {
        kind_names(list);
        join_names(list, all, sizeof(all));
        fprintf(out, " %s", all);
    } else if (k->type == K_FORMAT) {
        format_names(list, ARRAY_LEN(list));
        join_names(list, all, sizeof(all));
        fprintf(out, " %s", all);
    }
    fputc('\n', out);
    fprintf(out, "    %s\n", k->help);
    if (k->def)
        fprintf(out, "    default: %s\n", k->def);
    else if (k->def_doc)
        fprintf(out, "    default: %s\n", k->def_doc);
    else if (k->flags & F_REQUIRED)
        fprintf(out, "    required\n");
    if (k->type == K_UINT || k->type == K_DOUBLE)
        fprintf(out, "    range: %" PRId64 " to %" PRId64 "\n", k->min, k->max);
    if (k->type == K_SIZE || k->type == K_DURATION) {
        if (k->type == K_SIZE) {
            format_size((uint64_t)k->min, lo, sizeof(lo));
            format_size((uint64_t)k->max, hi, sizeof(hi));
        } else {
            format_duration((uint64_t)k->min, lo, sizeof(lo));
            format_duration((uint64_t)k->max, hi, sizeof(hi));
        }
        fprintf(out, "    range: %s to %s%s\n", lo, hi,
                (k->flags & F_ZERO) ? ", or 0" : "");
    }
    if (sec != &source_section)
        return;
    fprintf(out, "    types:");
    for (size_t i = 0; i < NKINDS; i++)
        if (in_list(k->name, source_kinds[i].keys))
            fprintf(out, " %s", source_kinds[i].name);
    fputc('\n', out);
    first = true;
    for (size_t i = 0; i < NKINDS; i++) {
        req = source_kinds[i].required;
        if (!in_list(k->name, req))
            continue;
        fprintf(out, "%s %s", first ? "    required by:" : "",
                source_kinds[i].name);
        first = false;
    }
    if (!first)
        fputc('\n', out);
}

static void print_section(FILE *out, const struct section *sec)
{
    for (size_t i = 0; i < sec->nkeys; i++) {
        const struct key *k = &sec->keys[i];

        print_key(out, sec, k);
        if (k->sub)
            print_section(out, k->sub);
    }
}

void bm_config_print_reference(FILE *out)
{
    fprintf(out, "brandmond configuration keys (YAML; docs/config.md)\n"
                 "sizes: bytes, or with B KiB MiB GiB (x1024) or kB MB GB "
                 "(x1000)\n"
                 "durations: 500ms 30s 10m 6h 1d (a bare number is "
                 "seconds)\n\n");
    print_section(out, &top_section);
    fprintf(out, "\nsource types:\n");
    for (size_t i = 0; i < NKINDS; i++)
        fprintf(out, "  %-10s %s\n", source_kinds[i].name,
                source_kinds[i].help);
}

/* ---- comparison --------------------------------------------------------- */

static bool str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_equal(a[i], b[i]))
            return false;
    return true;
}

bool bm_source_config_equal(const struct bm_source_config *a,
                            const struct bm_source_config *b)
{
    if (!str_equal(a->name, b->name) || !str_equal(a->type, b->type) ||
        !str_equal(a->url, b->url) ||
        !str_equal(a->token_file, b->token_file) ||
        !str_equal(a->token_env, b->token_env) ||
        !str_equal(a->user_agent, b->user_agent) ||
        !strv_equal(a->headers, a->nheaders, b->headers, b->nheaders) ||
        a->stall_ms != b->stall_ms || a->max_frame != b->max_frame ||
        a->dedup != b->dedup || !str_equal(a->format, b->format) ||
        a->html != b->html || a->fields.html != b->fields.html ||
        !strv_equal(a->events, a->nevents, b->events, b->nevents) ||
        a->interval_ms != b->interval_ms || !str_equal(a->file, b->file) ||
        a->rate != b->rate || a->loop != b->loop ||
        !strv_equal(a->collections, a->ncollections, b->collections,
                    b->ncollections))
        return false;
    for (size_t i = 0; i < BM_FIELD_COUNT; i++)
        if (!str_equal(a->fields.ptr[i], b->fields.ptr[i]))
            return false;
    return true;
}
