/*
 * test_config.c - the config loader: every key and default, every error
 * with its position, secrets, the reference and source comparison.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "brandmon/config.h"
#include "brandmon/diag.h"
#include "brandmon/source.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#ifndef BM_VERSION
#define BM_VERSION "dev"
#endif

#define KIB (1024u)
#define MIB (1024u * 1024u)

/* A scratch folder for the configs and secrets the tests write. */
static char tmpdir[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    char path[128];

    (void)state;
    snprintf(path, sizeof(path), "%s/c.yaml", tmpdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/secret", tmpdir);
    unlink(path);
    return rmdir(tmpdir);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Writes @text as tmpdir/c.yaml and loads it. */
static struct bm_config *load_text(const char *text, struct bm_diag *d,
                                   char *path, size_t n)
{
    snprintf(path, n, "%s/c.yaml", tmpdir);
    write_file(path, text, strlen(text));
    memset(d, 0, sizeof(*d));
    return bm_config_load(path, d);
}

/* @text must be refused with exactly `c.yaml:LINE:COL: MSG`. */
static void check_error(const char *text, unsigned line, unsigned col,
                        const char *msg)
{
    char path[128], got[1024], want[1024];
    struct bm_config *cfg;
    struct bm_diag d;

    cfg = load_text(text, &d, path, sizeof(path));
    if (cfg)
        bm_config_free(cfg);
    assert_null(cfg);
    bm_diag_format(&d, got, sizeof(got));
    if (line)
        snprintf(want, sizeof(want), "%s:%u:%u: %s", path, line, col, msg);
    else
        snprintf(want, sizeof(want), "%s: %s", path, msg);
    assert_string_equal(got, want);
}

/* @text must load; the caller frees. */
static struct bm_config *load_ok(const char *text)
{
    char path[128], got[1024];
    struct bm_config *cfg;
    struct bm_diag d;

    cfg = load_text(text, &d, path, sizeof(path));
    if (!cfg) {
        bm_diag_format(&d, got, sizeof(got));
        fail_msg("refused: %s", got);
    }
    return cfg;
}

/* A valid head for the error tests: the source list follows. */
#define HEAD "rules: [/etc/brandmon/rules]\nsources:\n"
#define X_SOURCE                                                               \
    "  - name: x-main\n"                                                       \
    "    type: x\n"                                                            \
    "    url: https://api.x.com/2/tweets/search/stream\n"

/* ---- a full config ------------------------------------------------------ */

static const struct bm_source_config *find_source(const struct bm_config *cfg,
                                                  const char *name)
{
    for (size_t i = 0; i < cfg->nsources; i++)
        if (strcmp(cfg->sources[i].name, name) == 0)
            return &cfg->sources[i];
    fail_msg("no source %s", name);
    return NULL;
}

static void assert_no_fields(const struct bm_source_config *s)
{
    for (size_t i = 0; i < BM_FIELD_COUNT; i++)
        assert_null(s->fields.ptr[i]);
}

static void test_full(void **state)
{
    const struct bm_source_config *s;
    struct bm_config *cfg;
    struct bm_diag d;

    (void)state;
    memset(&d, 0, sizeof(d));
    cfg = bm_config_load(BM_TEST_DATA "/config/full.yaml", &d);
    assert_non_null(cfg);
    assert_string_equal(cfg->file, BM_TEST_DATA "/config/full.yaml");
    assert_string_equal(cfg->instance, "test-1");
    assert_int_equal(cfg->nrules, 2);
    assert_string_equal(cfg->rules[0], "/etc/brandmon/rules");
    /* relative paths are taken from the config file's folder */
    assert_string_equal(cfg->rules[1], BM_TEST_DATA "/config/packs/acme.yaml");
    assert_string_equal(cfg->data_dir, "/usr/share/brandmon");
    assert_string_equal(cfg->sink, "stdout");
    assert_string_equal(cfg->redis.url, "redis://10.0.0.5:6380/2");
    assert_string_equal(cfg->redis.prefix, "acme:");
    assert_string_equal(cfg->redis.password_file,
                        "/run/credentials/brandmond.service/redis");
    assert_null(cfg->redis.password_env);
    assert_int_equal(cfg->redis.alerts_maxlen, 5000);
    assert_string_equal(cfg->redis.spool, "/tmp/brandmond-spool");
    assert_int_equal(cfg->redis.queue_max, 200);
    assert_int_equal(cfg->redis.connect_timeout_ms, 500);
    assert_int_equal(cfg->redis.command_timeout_ms, 60000);
    assert_string_equal(cfg->metrics_listen, "0.0.0.0:9464");
    assert_string_equal(cfg->log_level, "debug");
    assert_int_equal(cfg->max_frame, 2 * MIB);
    assert_int_equal(cfg->max_sources, 10);
    assert_int_equal(cfg->nsources, 7);

    s = &cfg->sources[0];
    assert_string_equal(s->name, "x-main");
    assert_string_equal(s->type, "x");
    assert_string_equal(s->url, "https://api.x.com/2/tweets/search/stream"
                                "?tweet.fields=created_at,lang");
    assert_string_equal(s->token_file,
                        "/run/credentials/brandmond.service/x_token");
    assert_null(s->token_env);
    assert_string_equal(s->user_agent, "acme-monitor/1.0");
    assert_int_equal(s->nheaders, 2);
    assert_string_equal(s->headers[0], "X-Trace: on");
    assert_string_equal(s->headers[1], "Accept: application/json");
    assert_int_equal(s->stall_ms, 30000);
    assert_int_equal(s->max_frame, 64 * KIB);
    assert_int_equal(s->dedup, 500);
    assert_null(s->format);
    assert_no_fields(s);
    assert_false(s->html);
    assert_null(s->events);
    assert_int_equal(s->nevents, 0);
    assert_int_equal(s->interval_ms, 0);
    assert_null(s->file);
    assert_null(s->collections);

    s = find_source(cfg, "fediverse");
    assert_string_equal(s->type, "mastodon");
    assert_string_equal(s->url,
                        "https://mastodon.social/api/v1/streaming/public");
    assert_null(s->token_file);
    assert_string_equal(s->token_env, "MASTODON_TOKEN");
    assert_int_equal(s->nevents, 2);
    assert_string_equal(s->events[0], "update");
    assert_string_equal(s->events[1], "status.update");
    assert_int_equal(s->nheaders, 0);
    assert_int_equal(s->stall_ms, 0);
    assert_int_equal(s->max_frame, 0);
    assert_int_equal(s->dedup, 10000);
    assert_string_equal(s->user_agent, "brandmond/" BM_VERSION);

    s = find_source(cfg, "bsky");
    assert_string_equal(s->type, "jetstream");
    assert_string_equal(s->url,
                        "wss://jetstream2.us-east.bsky.network/subscribe");
    assert_int_equal(s->ncollections, 2);
    assert_string_equal(s->collections[0], "app.bsky.feed.post");
    assert_string_equal(s->collections[1], "app.bsky.feed.repost");
    assert_null(s->token_file);
    assert_null(s->token_env);

    s = find_source(cfg, "partner.sse");
    assert_string_equal(s->type, "sse");
    assert_string_equal(s->format, "generic");
    assert_string_equal(s->fields.ptr[BM_FIELD_ID], "/id");
    assert_string_equal(s->fields.ptr[BM_FIELD_TEXT], "/body");
    assert_string_equal(s->fields.ptr[BM_FIELD_AUTHOR], "/user/handle");
    assert_string_equal(s->fields.ptr[BM_FIELD_FOLLOWERS], "/user/followers");
    assert_string_equal(s->fields.ptr[BM_FIELD_LANG], "/lang");
    assert_string_equal(s->fields.ptr[BM_FIELD_URL], "/link");
    assert_string_equal(s->fields.ptr[BM_FIELD_CREATED_AT], "/ts");
    assert_string_equal(s->fields.ptr[BM_FIELD_REPLY], "/in_reply_to");
    assert_string_equal(s->fields.ptr[BM_FIELD_REPOST], "/a~1b");
    assert_true(s->html);
    assert_int_equal(s->fields.html, 1);
    assert_int_equal(s->nevents, 1);
    assert_string_equal(s->events[0], "post");

    s = find_source(cfg, "partner_feed");
    assert_string_equal(s->type, "ndjson");
    assert_string_equal(s->format, "mastodon");
    assert_no_fields(s);
    assert_false(s->html);

    s = find_source(cfg, "reddit");
    assert_string_equal(s->type, "poll");
    assert_string_equal(s->format, "reddit");
    assert_int_equal(s->interval_ms, 120000);
    assert_int_equal(s->stall_ms, 0);

    s = find_source(cfg, "demo");
    assert_string_equal(s->type, "replay");
    assert_string_equal(s->file, "/tmp/brandmond-demo.ndjson");
    assert_string_equal(s->format, "x");
    assert_true(s->rate > 2.49 && s->rate < 2.51);
    assert_true(s->loop);
    assert_int_equal(s->dedup, 0);
    assert_null(s->url);
    assert_null(s->user_agent);
    bm_config_free(cfg);
}

static void test_defaults(void **state)
{
    const struct bm_source_config *s;
    struct bm_config *cfg;
    struct bm_diag d;
    char host[256];

    (void)state;
    memset(&d, 0, sizeof(d));
    cfg = bm_config_load(BM_TEST_DATA "/config/minimal.yaml", &d);
    assert_non_null(cfg);
    memset(host, 0, sizeof(host));
    assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
    assert_string_equal(cfg->instance, host);
    assert_int_equal(cfg->nrules, 1);
    assert_string_equal(cfg->rules[0], "/etc/brandmon/rules");
    assert_null(cfg->data_dir);
    assert_string_equal(cfg->sink, "redis");
    assert_string_equal(cfg->redis.url, "redis://127.0.0.1:6379/0");
    assert_string_equal(cfg->redis.prefix, "brandmon:");
    assert_null(cfg->redis.password_file);
    assert_null(cfg->redis.password_env);
    assert_int_equal(cfg->redis.alerts_maxlen, 100000);
    assert_string_equal(cfg->redis.spool, "/var/lib/brandmond/spool");
    assert_int_equal(cfg->redis.queue_max, 10000);
    assert_int_equal(cfg->redis.connect_timeout_ms, 2000);
    assert_int_equal(cfg->redis.command_timeout_ms, 5000);
    assert_null(cfg->metrics_listen);
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->max_frame, MIB);
    assert_int_equal(cfg->max_sources, 1024);
    assert_int_equal(cfg->nsources, 3);

    s = &cfg->sources[0];
    assert_string_equal(s->user_agent, "brandmond/" BM_VERSION);
    assert_int_equal(s->stall_ms, 0);
    assert_int_equal(s->max_frame, 0);
    assert_int_equal(s->dedup, 10000);
    assert_int_equal(s->nheaders, 0);
    assert_null(s->format);

    s = &cfg->sources[1];
    assert_string_equal(s->format, "hn");
    assert_int_equal(s->interval_ms, 60000);
    assert_false(s->html);

    /* fields without format: the generic map. */
    s = &cfg->sources[2];
    assert_string_equal(s->format, "generic");
    assert_string_equal(s->fields.ptr[BM_FIELD_ID], "/id");
    assert_string_equal(s->fields.ptr[BM_FIELD_TEXT], "/text");
    assert_null(s->fields.ptr[BM_FIELD_AUTHOR]);
    assert_string_equal(s->file, BM_TEST_DATA "/config/feed.jsonl");
    assert_true(s->rate == 0);
    assert_false(s->loop);
    assert_int_equal(s->dedup, 10000);
    assert_null(s->user_agent);
    assert_int_equal(s->interval_ms, 0);
    bm_config_free(cfg);
}

/* Values the loader must accept, in their several spellings. */
static void test_spellings(void **state)
{
    struct bm_config *cfg;

    (void)state;
    cfg = load_ok("rules: one.yaml\n"
                  "redis: {url: 'unix:///run/redis/redis.sock'}\n"
                  "limits: {max_frame: 1 MB}\n"
                  "metrics: {listen: '[::1]:9464'}\n"
                  "sources:\n"
                  "  - {name: a, type: x, url: 'https://h/', max_frame: 4096,"
                  " stall: 90}\n"
                  "  - {name: b, type: x, url: 'http://h:8080', max_frame: "
                  "64kB, stall: 0}\n");
    assert_string_equal(cfg->redis.url, "unix:///run/redis/redis.sock");
    assert_int_equal(cfg->max_frame, 1000000);
    assert_string_equal(cfg->metrics_listen, "[::1]:9464");
    assert_int_equal(cfg->sources[0].max_frame, 4096);
    assert_int_equal(cfg->sources[0].stall_ms, 90000);
    assert_int_equal(cfg->sources[1].max_frame, 64000);
    assert_int_equal(cfg->sources[1].stall_ms, 0);
    bm_config_free(cfg);

    cfg = load_ok("redis: {url: 'redis://[::1]:6379'}\n"
                  "metrics: {listen: 'localhost:1'}\n" HEAD X_SOURCE);
    assert_string_equal(cfg->redis.url, "redis://[::1]:6379");
    bm_config_free(cfg);
    cfg = load_ok("redis: {url: 'redis://cache'}\n"
                  "metrics: {listen: '127.3.4.5:80'}\n" HEAD X_SOURCE);
    assert_string_equal(cfg->metrics_listen, "127.3.4.5:80");
    bm_config_free(cfg);

    /* A replay without format or fields takes the type's default (x). */
    cfg = load_ok(HEAD "  - {name: r, type: replay, file: f.ndjson}\n");
    assert_string_equal(cfg->sources[0].format, "x");
    bm_config_free(cfg);
}

/* ---- errors ------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    check_error(HEAD X_SOURCE "sorces: []\n", 6, 1,
                "unknown key 'sorces' in the config (did you mean "
                "'sources'?)");
    check_error(HEAD X_SOURCE "redis:\n  prefx: a\n", 7, 3,
                "unknown key 'prefx' in redis (did you mean 'prefix'?)");
    check_error(HEAD X_SOURCE "    stal: 10s\n", 6, 5,
                "unknown key 'stal' in source 'x-main' (did you mean "
                "'stall'?)");
    check_error(HEAD X_SOURCE "    bogus_key: 1\n", 6, 5,
                "unknown key 'bogus_key' in source 'x-main'");
    check_error(HEAD "  - name: f\n    type: ndjson\n    url: http://h/\n"
                     "    fields: {id: /id, txt: /t}\n",
                6, 23, "unknown key 'txt' in fields (did you mean 'text'?)");
    check_error(HEAD X_SOURCE "log: {levl: info}\n", 6, 7,
                "unknown key 'levl' in log (did you mean 'level'?)");
}

static void test_type_errors(void **state)
{
    (void)state;
    check_error(HEAD "  - name: m\n    type: mastodn\n    url: http://h/\n", 4,
                11,
                "unknown source type 'mastodn' (did you mean "
                "'mastodon'?)");
    check_error(HEAD "  - name: m\n    url: http://h/\n", 3, 5,
                "source 'm' has no 'type' (x, mastodon, jetstream, sse, "
                "ndjson, poll or replay)");
}

static void test_key_not_for_type(void **state)
{
    char want[512];
    struct bm_config *cfg;
    struct bm_diag d;

    (void)state;
    memset(&d, 0, sizeof(d));
    cfg = bm_config_load(BM_TEST_DATA "/config/bad-type-key.yaml", &d);
    assert_null(cfg);
    bm_diag_format(&d, want, sizeof(want));
    assert_string_equal(want,
                        BM_TEST_DATA "/config/bad-type-key.yaml:6:5: "
                                     "key 'interval' is not used by sources of "
                                     "type 'x'");
    check_error(HEAD "  - name: j\n    type: jetstream\n    url: wss://h/\n"
                     "    token_env: T\n",
                6, 5,
                "key 'token_env' is not used by sources of type "
                "'jetstream'");
    check_error(HEAD "  - name: r\n    type: replay\n    file: f\n"
                     "    url: http://h/\n",
                6, 5, "key 'url' is not used by sources of type 'replay'");
    check_error(HEAD X_SOURCE "    fields: {id: /id}\n", 6, 5,
                "key 'fields' is not used by sources of type 'x'");
}

static void test_duplicate_name(void **state)
{
    (void)state;
    check_error(HEAD X_SOURCE "  - name: other\n    type: x\n"
                              "    url: http://h/\n" X_SOURCE,
                9, 11, "source name 'x-main' is already used at line 3");
}

static void test_missing_required(void **state)
{
    (void)state;
    check_error("sources:\n" X_SOURCE, 1, 1, "the config has no 'rules'");
    check_error("rules: a\n", 1, 1, "the config has no 'sources'");
    check_error(HEAD "  - name: x\n    type: x\n", 3, 5,
                "source 'x' has no 'url'");
    check_error(HEAD "  - type: x\n    url: http://h/\n", 3, 5,
                "source has no 'name'");
    check_error(HEAD "  - name: r\n    type: replay\n", 3, 5,
                "source 'r' has no 'file'");
    check_error(HEAD "  - name: p\n    type: poll\n    url: http://h/\n", 3, 5,
                "source 'p' has no 'format'");
    check_error(HEAD "  - name: n\n    type: ndjson\n    url: http://h/\n", 3,
                5,
                "source 'n' has no 'format' (or 'fields' for the generic "
                "format)");
    check_error(HEAD X_SOURCE "metrics: {allow_remote: true}\n", 6, 10,
                "metrics has no 'listen'");
    check_error("rules: a\nsources: []\n", 2, 10,
                "'sources' is empty: list at least one source");
    check_error("rules: []\nsources:\n" X_SOURCE, 1, 8,
                "'rules' must not be an empty list");
    check_error("# nothing\n", 0, 0, "the config is empty");
    check_error("- a\n- b\n", 1, 1, "the config must be a mapping");
}

static void test_generic_fields(void **state)
{
    (void)state;
    check_error(HEAD "  - name: n\n    type: ndjson\n    url: http://h/\n"
                     "    format: generic\n",
                6, 13, "format 'generic' needs fields.id and fields.text");
    check_error(HEAD "  - name: n\n    type: sse\n    url: http://h/\n"
                     "    fields: {id: /id, author: /a}\n",
                6, 13, "format 'generic' needs fields.id and fields.text");
    check_error(HEAD "  - name: n\n    type: ndjson\n    url: http://h/\n"
                     "    format: x\n    fields: {id: /id, text: /t}\n",
                7, 5, "'fields' is only used with format 'generic'");
    check_error(HEAD "  - name: n\n    type: ndjson\n    url: http://h/\n"
                     "    format: x\n    html: true\n",
                7, 5, "'html' is only used with format 'generic'");
    check_error(HEAD "  - name: n\n    type: poll\n    url: http://h/\n"
                     "    format: redit\n",
                6, 13, "unknown format 'redit' (did you mean 'reddit'?)");
    check_error(HEAD "  - name: n\n    type: ndjson\n    url: http://h/\n"
                     "    fields: {id: id, text: /t}\n",
                6, 18,
                "'id' is not a JSON pointer (like /user/name, or \"\" for "
                "the whole message)");
    check_error(HEAD "  - name: n\n    type: ndjson\n    url: http://h/\n"
                     "    fields: {id: /a~2, text: /t}\n",
                6, 18,
                "'/a~2' is not a JSON pointer (like /user/name, or \"\" for "
                "the whole message)");
}

static void test_secrets_in_config(void **state)
{
    char path[128];
    struct bm_config *cfg;
    struct bm_diag d;

    (void)state;
    check_error(HEAD X_SOURCE "redis:\n  url: redis://:hunter2@db:6379/0\n", 7,
                8,
                "put the password in password_file or password_env, not in "
                "the url");
    cfg = load_text(HEAD X_SOURCE "redis:\n  url: redis://hunter2@db/0\n", &d,
                    path, sizeof(path));
    assert_null(cfg);
    assert_null(strstr(d.msg, "hunter2"));
    check_error(HEAD "  - name: x\n    type: x\n"
                     "    url: https://me:hunter2@api.x.com/\n",
                5, 10,
                "put the token in token_file or token_env, not in the "
                "url");
    check_error(HEAD X_SOURCE "    headers:\n      authorization: Bearer t\n",
                7, 7,
                "do not put Authorization in headers: use token_file or "
                "token_env");
    check_error(HEAD X_SOURCE "    token_env: X_TOKEN\n    token_file: /t\n", 7,
                5, "use either 'token_file' or 'token_env', not both");
    check_error(HEAD X_SOURCE "redis:\n  password_env: P\n"
                              "  password_file: /p\n",
                8, 3, "use either 'password_file' or 'password_env', not both");
    check_error(HEAD X_SOURCE "    token_env: 9LIVES\n", 6, 16,
                "'9LIVES' is not an environment variable name (letters, "
                "digits and '_', not first a digit)");
}

static void test_value_errors(void **state)
{
    (void)state;
    check_error(HEAD X_SOURCE "    stall: 10 minutes\n", 6, 12,
                "expected a duration like 30s, 10m, 6h or 1d");
    check_error(HEAD "  - name: p\n    type: poll\n    url: http://h/\n"
                     "    format: hn\n    interval: 500ms\n",
                7, 15, "expected a duration from 1s to 1d");
    check_error(HEAD X_SOURCE "    stall: 2d\n", 6, 12,
                "expected a duration from 1s to 1d, or 0");
    check_error(HEAD X_SOURCE "limits: {max_frame: 100}\n", 6, 21,
                "expected a size from 1KiB to 64MiB");
    check_error(HEAD X_SOURCE "    max_frame: 65MiB\n", 6, 16,
                "expected a size from 1KiB to 64MiB, or 0");
    check_error(HEAD X_SOURCE "    max_frame: 1M\n", 6, 16,
                "expected a size like 65536, 64KiB or 1MiB");
    check_error(HEAD X_SOURCE "    dedup: 1000001\n", 6, 12,
                "expected an integer from 0 to 1000000");
    check_error(HEAD X_SOURCE "redis: {alerts_maxlen: 99}\n", 6, 24,
                "expected an integer from 100 to 100000000");
    check_error(HEAD X_SOURCE "sink: redsi\n", 6, 7,
                "unknown sink 'redsi' (did you mean 'redis'?)");
    check_error(HEAD X_SOURCE "log: {level: warn}\n", 6, 14,
                "unknown level 'warn' (expected error, warning, notice, info "
                "or debug)");
    check_error(HEAD X_SOURCE "redis: {url: 'http://db'}\n", 6, 14,
                "expected redis://HOST[:PORT][/DB] or unix:///PATH");
    check_error(HEAD X_SOURCE "redis: {url: 'redis://db:99999'}\n", 6, 14,
                "expected redis://HOST[:PORT][/DB] or unix:///PATH");
    check_error(HEAD "  - name: x\n    type: x\n    url: ftp://h/\n", 5, 10,
                "expected an http://, https://, ws:// or wss:// url");
    check_error(HEAD "  - name: x\n    type: x\n    url: wss://h/\n", 5, 10,
                "only jetstream sources use ws:// or wss:// urls");
    check_error(HEAD "  - name: a b\n    type: x\n    url: http://h/\n", 3, 11,
                "'a b' is not a valid name: up to 64 letters, digits, '.', "
                "'-' and '_'");
    check_error(HEAD X_SOURCE "    user_agent: ''\n", 6, 17,
                "'user_agent' must not be empty");
    check_error(HEAD X_SOURCE "    headers: {'X-A': \"a\\r\\nB: c\"}\n", 6, 22,
                "control characters are not allowed in a header value");
    check_error(HEAD X_SOURCE "    headers: {'X A': b}\n", 6, 15,
                "'X A' is not a header name");
    check_error(HEAD X_SOURCE "    headers: [a]\n", 6, 14,
                "'headers' must be a mapping of Name: value");
    check_error(HEAD "  - name: r\n    type: replay\n    file: f\n"
                     "    format: x\n    loop: yes\n",
                7, 11, "expected true or false");
    check_error(HEAD X_SOURCE "rules: 3\n", 6, 1,
                "duplicate key 'rules' (first at line 1)");
    check_error("rules: {a: b}\nsources:\n" X_SOURCE, 1, 8,
                "'rules' must be a string or a list of strings");
    check_error(HEAD X_SOURCE "redis: on\n", 6, 8, "redis must be a mapping");
    check_error("rules: a\nsources: {a: b}\n", 2, 10,
                "'sources' must be a list of sources");
    check_error(HEAD "  - x-main\n", 3, 5, "source must be a mapping");
}

static void test_metrics_loopback(void **state)
{
    struct bm_config *cfg;

    (void)state;
    check_error(HEAD X_SOURCE "metrics: {listen: '0.0.0.0:9464'}\n", 6, 19,
                "'0.0.0.0:9464' is not a loopback address: /metrics has no "
                "authentication (set 'allow_remote: true' to serve it "
                "anyway)");
    check_error(HEAD X_SOURCE "metrics:\n  listen: 'metrics.lan:9464'\n"
                              "  allow_remote: false\n",
                7, 11,
                "'metrics.lan:9464' is not a loopback address: /metrics has "
                "no authentication (set 'allow_remote: true' to serve it "
                "anyway)");
    check_error(HEAD X_SOURCE "metrics: {listen: '127.0.0.1'}\n", 6, 19,
                "expected HOST:PORT, like 127.0.0.1:9464");
    cfg = load_ok(HEAD X_SOURCE "metrics:\n  listen: '10.1.2.3:9464'\n"
                                "  allow_remote: true\n");
    assert_string_equal(cfg->metrics_listen, "10.1.2.3:9464");
    bm_config_free(cfg);
}

static void test_max_sources(void **state)
{
    (void)state;
    check_error("limits: {max_sources: 1}\n" HEAD X_SOURCE
                "  - name: two\n    type: x\n    url: http://h/\n",
                7, 5, "more than 1 sources (see limits.max_sources)");
    check_error(HEAD X_SOURCE "limits: {max_sources: 5000}\n", 6, 23,
                "expected an integer from 1 to 4096");
}

static void test_missing_file(void **state)
{
    struct bm_config *cfg;
    struct bm_diag d;

    (void)state;
    memset(&d, 0, sizeof(d));
    cfg = bm_config_load(BM_TEST_DATA "/config/no-such-file.yaml", &d);
    assert_null(cfg);
    assert_string_equal(d.file, BM_TEST_DATA "/config/no-such-file.yaml");
    assert_non_null(strstr(d.msg, "cannot open"));
}

/* ---- secrets ------------------------------------------------------------ */

static char *secret_from(const char *data, size_t len, const char **err)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/secret", tmpdir);
    write_file(path, data, len);
    *err = NULL;
    return bm_config_secret(path, NULL, err);
}

static void free_secret(char *s)
{
    explicit_bzero(s, strlen(s));
    free(s);
}

/* A refused secret: @want is the reason, and it never holds @secret. */
static void check_secret_refused(const char *data, const char *want,
                                 const char *secret)
{
    const char *err;
    char *s = secret_from(data, strlen(data), &err);

    assert_null(s);
    assert_non_null(err);
    assert_string_equal(err, want);
    if (secret)
        assert_null(strstr(err, secret));
}

static void test_secret_file(void **state)
{
    char path[128], *big, *s;
    const char *err;

    (void)state;
    s = secret_from("s3cr3t-token\n", 13, &err);
    assert_non_null(s);
    assert_string_equal(s, "s3cr3t-token");
    free_secret(s);
    s = secret_from("s3cr3t-token\r\n", 14, &err);
    assert_string_equal(s, "s3cr3t-token");
    free_secret(s);
    s = secret_from("no-newline", 10, &err);
    assert_string_equal(s, "no-newline");
    free_secret(s);

    check_secret_refused("", "token is empty", NULL);
    check_secret_refused("\n", "token is empty", NULL);
    check_secret_refused("s3cr3t\n\n", "token contains a control character",
                         "s3cr3t");
    check_secret_refused("s3cr3t\nX-Evil: 1",
                         "token contains a control "
                         "character",
                         "s3cr3t");

    big = malloc(64 * 1024 + 2);
    assert_non_null(big);
    memset(big, 'a', 64 * 1024 + 1);
    big[64 * 1024 + 1] = '\0';
    s = secret_from(big, 64 * 1024, &err);
    assert_non_null(s);
    assert_int_equal(strlen(s), 64 * 1024);
    free_secret(s);
    s = secret_from(big, 64 * 1024 + 1, &err);
    assert_null(s);
    assert_string_equal(err, "token file is larger than 64 KiB");
    free(big);

    snprintf(path, sizeof(path), "%s/no-such-secret", tmpdir);
    assert_null(bm_config_secret(path, NULL, &err));
    assert_string_equal(err, "cannot read token file: No such file or "
                             "directory");
    assert_null(bm_config_secret(tmpdir, NULL, &err));
    assert_string_equal(err, "cannot read token file: Is a directory");
}

static void test_secret_env(void **state)
{
    const char *err;
    char *s;

    (void)state;
    assert_int_equal(setenv("BM_TEST_TOKEN", "env-s3cr3t", 1), 0);
    s = bm_config_secret(NULL, "BM_TEST_TOKEN", &err);
    assert_non_null(s);
    assert_string_equal(s, "env-s3cr3t");
    free_secret(s);

    assert_int_equal(setenv("BM_TEST_TOKEN", "", 1), 0);
    assert_null(bm_config_secret(NULL, "BM_TEST_TOKEN", &err));
    assert_string_equal(err, "token is empty");

    assert_int_equal(setenv("BM_TEST_TOKEN", "env-s3cr3t\r\nX: y", 1), 0);
    assert_null(bm_config_secret(NULL, "BM_TEST_TOKEN", &err));
    assert_string_equal(err, "token contains a control character");
    assert_null(strstr(err, "s3cr3t"));

    assert_int_equal(unsetenv("BM_TEST_TOKEN"), 0);
    assert_null(bm_config_secret(NULL, "BM_TEST_TOKEN", &err));
    assert_string_equal(err, "environment variable not set");

    assert_null(bm_config_secret("/x", "BM_TEST_TOKEN", &err));
    assert_string_equal(err, "set either a token file or an environment "
                             "variable, not both");
    assert_null(bm_config_secret(NULL, NULL, &err));
    assert_string_equal(err, "no token file or environment variable given");
}

/* ---- reference and key lists ------------------------------------------- */

static void test_reference(void **state)
{
    static const char *const keys[] = {
        "instance:",
        "rules:",
        "data_dir:",
        "sink:",
        "redis:",
        "redis.url:",
        "redis.prefix:",
        "redis.password_file:",
        "redis.password_env:",
        "redis.alerts_maxlen:",
        "redis.spool:",
        "redis.queue_max:",
        "redis.connect_timeout:",
        "redis.command_timeout:",
        "metrics:",
        "metrics.listen:",
        "metrics.allow_remote:",
        "log:",
        "log.level:",
        "limits:",
        "limits.max_frame:",
        "limits.max_sources:",
        "sources:",
        "sources[].name:",
        "sources[].type:",
        "sources[].url:",
        "sources[].file:",
        "sources[].format:",
        "sources[].fields:",
        "sources[].html:",
        "sources[].token_file:",
        "sources[].token_env:",
        "sources[].user_agent:",
        "sources[].headers:",
        "sources[].events:",
        "sources[].collections:",
        "sources[].interval:",
        "sources[].stall:",
        "sources[].max_frame:",
        "sources[].dedup:",
        "sources[].rate:",
        "sources[].loop:",
    };
    char *text = NULL, line[64];
    size_t len = 0;
    FILE *f;

    (void)state;
    f = open_memstream(&text, &len);
    assert_non_null(f);
    bm_config_print_reference(f);
    assert_int_equal(fclose(f), 0);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        /* Each key starts a line. */
        snprintf(line, sizeof(line), "\n%s", keys[i]);
        if (!strstr(text, line))
            fail_msg("reference lacks %s", keys[i]);
    }
    assert_non_null(strstr(text, "    default: 1MiB\n"));
    assert_non_null(strstr(text, "    default: redis://127.0.0.1:6379/0\n"));
    assert_non_null(strstr(text, "    types: poll\n"));
    assert_non_null(strstr(text, "    required by: poll\n"));
    assert_non_null(strstr(text, "range: 1KiB to 64MiB, or 0\n"));
    free(text);
}

static void test_source_keys(void **state)
{
    const char *const *k;
    bool interval = false, name = false;

    (void)state;
    assert_null(bm_config_source_keys("bogus"));
    assert_null(bm_config_source_keys(NULL));
    for (k = bm_config_source_keys("poll"); *k; k++) {
        interval |= strcmp(*k, "interval") == 0;
        name |= strcmp(*k, "name") == 0;
    }
    assert_true(interval && name);
    for (k = bm_config_source_keys("x"); *k; k++)
        assert_string_not_equal(*k, "interval");
    for (k = bm_config_source_keys("replay"); *k; k++)
        assert_string_not_equal(*k, "url");

    /* Every type the config knows is a source type of the stream layer
     * (jetstream's WebSocket transport is not built yet). */
    static const char *const types[] = {
        "x", "mastodon", "jetstream", "sse", "ndjson", "poll", "replay",
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        assert_non_null(bm_config_source_keys(types[i]));
        if (strcmp(types[i], "jetstream") != 0)
            assert_non_null(bm_source_type_find(types[i]));
    }
}

/* ---- source comparison -------------------------------------------------- */

/* Swaps in a different string for *@slot, checks the configs differ, and
 * puts the old one back. */
static void check_str_differs(const struct bm_source_config *a,
                              const struct bm_source_config *b, char **slot)
{
    char *old = *slot;

    *slot = strdup("something else");
    assert_non_null(*slot);
    assert_false(bm_source_config_equal(a, b));
    free(*slot);
    *slot = old;
    assert_true(bm_source_config_equal(a, b));
}

#define CHECK_FIELD_DIFFERS(a, b, field, other)                                \
    do {                                                                       \
        __typeof__((b)->field) saved = (b)->field;                             \
        (b)->field = (other);                                                  \
        assert_false(bm_source_config_equal((a), (b)));                        \
        (b)->field = saved;                                                    \
        assert_true(bm_source_config_equal((a), (b)));                         \
    } while (0)

static void test_source_equal(void **state)
{
    struct bm_config *c1, *c2;
    struct bm_source_config *a, *b;
    struct bm_diag d;
    char other_env[] = "T", *old;

    (void)state;
    c1 = bm_config_load(BM_TEST_DATA "/config/full.yaml", &d);
    c2 = bm_config_load(BM_TEST_DATA "/config/full.yaml", &d);
    assert_non_null(c1);
    assert_non_null(c2);
    for (size_t i = 0; i < c1->nsources; i++)
        for (size_t j = 0; j < c2->nsources; j++)
            assert_int_equal(
                bm_source_config_equal(&c1->sources[i], &c2->sources[j]),
                i == j);

    a = &c1->sources[0]; /* x-main */
    b = &c2->sources[0];
    check_str_differs(a, b, &b->name);
    check_str_differs(a, b, &b->type);
    check_str_differs(a, b, &b->url);
    check_str_differs(a, b, &b->token_file);
    check_str_differs(a, b, &b->user_agent);
    check_str_differs(a, b, &b->headers[1]);
    CHECK_FIELD_DIFFERS(a, b, nheaders, 1);
    CHECK_FIELD_DIFFERS(a, b, stall_ms, 1);
    CHECK_FIELD_DIFFERS(a, b, max_frame, 1);
    CHECK_FIELD_DIFFERS(a, b, dedup, 1);
    /* NULL against a string. */
    old = b->token_env;
    b->token_env = other_env;
    assert_false(bm_source_config_equal(a, b));
    b->token_env = old;

    a = &c1->sources[3]; /* partner.sse */
    b = &c2->sources[3];
    check_str_differs(a, b, &b->format);
    check_str_differs(a, b, &b->events[0]);
    CHECK_FIELD_DIFFERS(a, b, nevents, 0);
    CHECK_FIELD_DIFFERS(a, b, html, false);
    CHECK_FIELD_DIFFERS(a, b, fields.html, 0);
    for (size_t i = 0; i < BM_FIELD_COUNT; i++)
        CHECK_FIELD_DIFFERS(a, b, fields.ptr[i], "/other");

    a = &c1->sources[2]; /* bsky */
    b = &c2->sources[2];
    check_str_differs(a, b, &b->collections[1]);
    CHECK_FIELD_DIFFERS(a, b, ncollections, 1);

    a = &c1->sources[5]; /* reddit */
    b = &c2->sources[5];
    CHECK_FIELD_DIFFERS(a, b, interval_ms, 1);

    a = &c1->sources[6]; /* demo */
    b = &c2->sources[6];
    check_str_differs(a, b, &b->file);
    CHECK_FIELD_DIFFERS(a, b, rate, 3.0);
    CHECK_FIELD_DIFFERS(a, b, loop, false);

    bm_config_free(c1);
    bm_config_free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_key_not_for_type),
        cmocka_unit_test(test_duplicate_name),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_generic_fields),
        cmocka_unit_test(test_secrets_in_config),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_metrics_loopback),
        cmocka_unit_test(test_max_sources),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_secret_env),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_source_keys),
        cmocka_unit_test(test_source_equal),
    };

    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
