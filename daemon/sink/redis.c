/*
 * redis.c - the Redis sink: every decided post written once, never lost.
 *
 * One hiredis async connection on the daemon's loop (the libevent
 * adapter). Each post becomes one EVALSHA of the per-post script
 * (redis_script.lua) whose argument redis_payload.c builds; scripts are
 * pipelined (up to PIPELINE_MAX in flight), replies come back in order and
 * acknowledge the queue's head.
 *
 * Nothing is lost while Redis is away: posts wait in a bounded queue
 * (queue.h), then in the spool file (spool.h), and go out in order when
 * Redis answers again; the spool first. A write that was sent but not
 * acknowledged is sent again after a reconnect: the script's marker key
 * makes that harmless. hiredis 0.14 has no timeouts, so connect and command
 * timeouts are our own libevent timers; a Redis that stops answering
 * (SIGSTOP, a full network) is dropped and reconnected with backoff.
 *
 * Ownership rules of hiredis: the async context is freed by hiredis after
 * the disconnect callback (and after a failed connect), so both callbacks
 * clear our pointer; we never free it from inside one of its callbacks.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "brandmon/buf.h"
#include "brandmon/log.h"
#include "brandmon/queue.h"
#include "brandmon/spool.h"
#include "brandmon/time.h"

#include "sink/redis_int.h"
#include "sink/sink_int.h"

#define TAG              "sink:redis"
#define PIPELINE_MAX     512 /* posts in flight */
#define BATCH_MAX        32  /* posts per EVALSHA, at most */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define TICK_MS          250 /* timeouts and refills */
#define HEARTBEAT_MS     10000
#define HEARTBEAT_TTL_S  60
#define SPOOL_MAX_BYTES  (8ull << 30) /* 8 GiB */
#define DRAIN_MS         5000
#define LATENCY_SAMPLES  8192

enum conn_state {
    CONN_DOWN,       /* waiting to reconnect */
    CONN_CONNECTING, /* TCP / AUTH / SELECT / SCRIPT LOAD under way */
    CONN_UP,         /* scripts flow */
};

struct rsink {
    struct bm_sink *sink;  /* borrowed: owner */
    redisAsyncContext *ac; /* borrowed from hiredis; NULL when down */
    enum conn_state state;
    char sha[41]; /* the script's SHA1, from SCRIPT LOAD */
    struct payload_ctx pctx;
    struct bm_queue q;
    uint16_t batches[PIPELINE_MAX]; /* posts per EVALSHA in flight */
    size_t bhead, bn;
    struct bm_spool spool;
    bool spool_open;
    bool spooling;         /* new posts go to the spool (order) */
    struct bm_buf payload; /* reused per post */
    char *password;        /* owned, wiped */
    char host[256];
    int port;
    char unix_path[256];
    int db;
    uint64_t seq;
    uint64_t backoff_ms;
    uint64_t state_since;   /* monotonic ms of the last state change */
    uint64_t last_progress; /* monotonic ms of the last reply, or of the
                               first write sent when none was waiting */
    struct event *tick;     /* owned: timeouts, reconnects, refills */
    char **hb;              /* owned: the last heartbeat, field/value pairs */
    size_t nhb;
    uint64_t next_connect; /* monotonic ms */
    /* stats */
    uint64_t written, duplicates, errors, spooled, lost, reconnects;
    uint32_t lat[LATENCY_SAMPLES]; /* ms from enqueue to reply */
    size_t nlat;
    struct bm_ratelimit rl;
    void (*drained)(void *arg); /* set while draining */
    bool ping_pending;          /* the drain's PING is unanswered */
    void *drained_arg;
    uint64_t drain_deadline;
};

static struct rsink *impl(struct bm_sink *sink)
{
    return sink->impl;
}

static void set_state(struct rsink *r, enum conn_state s)
{
    r->state = s;
    r->state_since = bm_now_ms();
}

/* ---- the URL ---- */

static int parse_url(struct rsink *r, const char *url)
{
    const char *p, *colon, *slash;
    size_t hostlen;

    r->port = 6379;
    r->db = 0;
    if (strncmp(url, "unix://", 7) == 0) {
        snprintf(r->unix_path, sizeof(r->unix_path), "%s", url + 7);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -EINVAL;
    p = url + 8;
    slash = strchr(p, '/');
    if (*p == '[') {
        const char *end = strchr(p, ']');

        if (!end)
            return -EINVAL;
        hostlen = (size_t)(end - p - 1);
        memcpy(r->host, p + 1, hostlen < sizeof(r->host) ? hostlen : 0);
        r->host[hostlen < sizeof(r->host) ? hostlen : 0] = '\0';
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strchr(p, ':');
        if (colon && slash && colon > slash)
            colon = NULL;
        hostlen = (size_t)((colon ? colon : slash ? slash : p + strlen(p)) - p);
        if (hostlen >= sizeof(r->host))
            return -EINVAL;
        memcpy(r->host, p, hostlen);
        r->host[hostlen] = '\0';
    }
    if (colon)
        r->port = atoi(colon + 1);
    if (slash && slash[1])
        r->db = atoi(slash + 1);
    if (!r->host[0])
        snprintf(r->host, sizeof(r->host), "127.0.0.1");
    return 0;
}

/* ---- sending ---- */

static void reply_cb(redisAsyncContext *ac, void *reply, void *arg);
static void drop_connection(struct rsink *r, const char *why);
static bool all_written(const struct rsink *r);
static void finish_drain(struct rsink *r);
static void send_heartbeat(struct rsink *r);

static void record_latency(struct rsink *r, uint64_t enq)
{
    uint64_t ms = bm_now_ms() - enq;

    r->lat[r->nlat++ % LATENCY_SAMPLES] =
        (uint32_t)(ms > UINT32_MAX ? UINT32_MAX : ms);
}

/* Moves spooled posts into the queue while it has room, in order. */
static void refill(struct rsink *r)
{
    while (r->spool_open && r->spool.unread > 0 && !bm_queue_is_full(&r->q)) {
        char *data;
        size_t len;
        int got = bm_spool_read(&r->spool, &data, &len);

        if (got <= 0) {
            if (got < 0)
                BM_ERR(TAG, "cannot read the spool: %s", strerror(-got));
            break;
        }
        if (bm_queue_push(&r->q, data, len, ++r->seq, bm_now_ms()))
            r->lost++;
        free(data);
    }
    if (r->spool_open && r->spool.unread == 0) {
        if (r->spooling)
            BM_INFO(TAG, "spool drained");
        r->spooling = false;
        if (bm_queue_is_empty(&r->q) && r->spool.records)
            bm_spool_truncate(&r->spool);
    }
}

/* Sizes of the batches in flight, oldest first: a reply acknowledges as
 * many queue entries as its command carried. */
static void batch_push(struct rsink *r, uint16_t k)
{
    r->batches[(r->bhead + r->bn++) % PIPELINE_MAX] = k;
}

static uint16_t batch_pop(struct rsink *r)
{
    uint16_t k = r->batches[r->bhead];

    r->bhead = (r->bhead + 1) % PIPELINE_MAX;
    r->bn--;
    return k;
}

/*
 * Sends what waits: up to BATCH_MAX posts per EVALSHA (one post when the
 * stream is calm, more under load, so that Redis adds up their counters),
 * up to PIPELINE_MAX posts in flight.
 */
static void pump(struct rsink *r)
{
    const char *argv[3 + BATCH_MAX];
    size_t lens[3 + BATCH_MAX];
    struct bm_queue_entry *e;

    if (r->state != CONN_UP || !r->ac)
        return;
    refill(r);
    argv[0] = "EVALSHA";
    argv[1] = r->sha;
    argv[2] = "0";
    lens[0] = 7;
    lens[1] = 40;
    lens[2] = 1;
    while (r->q.inflight < PIPELINE_MAX) {
        int k = 0;

        while (k < BATCH_MAX && r->q.inflight < PIPELINE_MAX &&
               (e = bm_queue_next_unsent(&r->q)) != NULL) {
            argv[3 + k] = e->data;
            lens[3 + k] = e->len;
            k++;
        }
        if (!k)
            break;
        /* The command timeout counts from the oldest unanswered write:
         * from here when nothing was waiting, else from the last reply. */
        if (r->q.inflight == (size_t)k)
            r->last_progress = bm_now_ms();
        if (redisAsyncCommandArgv(r->ac, reply_cb, r, 3 + k, argv, lens) !=
            REDIS_OK) {
            drop_connection(r, "cannot send");
            return;
        }
        batch_push(r, (uint16_t)k);
    }
}

static bool transient_error(const char *msg)
{
    static const char *const words[] = {
        "NOSCRIPT",   "OOM",      "BUSY",        "LOADING", "READONLY",
        "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", NULL
    };

    for (int i = 0; words[i]; i++)
        if (strncmp(msg, words[i], strlen(words[i])) == 0)
            return true;
    return false;
}

static void reply_cb(redisAsyncContext *ac, void *reply, void *arg)
{
    struct rsink *r = arg;
    redisReply *rep = reply;
    struct bm_queue_entry *head;
    uint16_t k;

    (void)ac;
    /* NULL: the connection went away; the disconnect callback requeues. */
    if (!rep || r->q.inflight == 0 || r->bn == 0)
        return;
    r->last_progress = bm_now_ms();
    if (rep->type == REDIS_REPLY_ERROR && transient_error(rep->str)) {
        BM_WARN_RATELIMIT(&r->rl, TAG, "Redis answered %s: will retry",
                          rep->str);
        drop_connection(r, "transient error");
        return;
    }
    k = batch_pop(r);
    if (rep->type == REDIS_REPLY_ERROR) {
        /* Writes Redis refuses for good (a bug, not an outage): counted
         * and logged, so that one bad post cannot block the rest. */
        r->errors += k;
        BM_WARN_RATELIMIT(&r->rl, TAG, "%u posts could not be written: %s",
                          (unsigned)k, rep->str);
    } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0 &&
               rep->integer <= k) {
        r->written += (uint64_t)rep->integer;
        r->duplicates += k - (uint64_t)rep->integer;
    } else {
        r->written += k;
    }
    for (uint16_t i = 0; i < k && r->q.inflight; i++) {
        head = bm_queue_at(&r->q, 0);
        record_latency(r, head->enqueued_ms);
        bm_queue_ack(&r->q);
    }
    pump(r);
    if (all_written(r)) {
        if (r->spool_open && r->spool.records)
            bm_spool_truncate(&r->spool);
        finish_drain(r);
    }
}

/* ---- connection ---- */

static void schedule_reconnect(struct rsink *r)
{
    r->bn = 0; /* in-flight batches are sent again, maybe cut otherwise */
    r->ping_pending = false;
    set_state(r, CONN_DOWN);
    bm_queue_unsend(&r->q);
    r->next_connect = bm_now_ms() + r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS
                                                         : r->backoff_ms * 2;
}

static void drop_connection(struct rsink *r, const char *why)
{
    redisAsyncContext *ac = r->ac;

    BM_WARN(TAG, "%s: dropping the connection (%llu posts waiting)", why,
            (unsigned long long)(r->q.n + r->spool.unread));
    r->ac = NULL;
    schedule_reconnect(r);
    if (ac) {
        ac->data = NULL;
        /* Its pending callbacks run with NULL replies; ours ignore them. */
        redisAsyncFree(ac);
    }
}

static void ready_cb(redisAsyncContext *ac, void *reply, void *arg)
{
    struct rsink *r = arg;
    redisReply *rep = reply;

    (void)ac;
    if (!rep || !r->ac)
        return;
    if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
        BM_ERR(TAG, "SCRIPT LOAD failed: %s",
               rep->type == REDIS_REPLY_ERROR ? rep->str : "odd reply");
        drop_connection(r, "the script did not load");
        return;
    }
    memcpy(r->sha, rep->str, 40);
    r->sha[40] = '\0';
    set_state(r, CONN_UP);
    r->backoff_ms = RECONNECT_MIN_MS;
    BM_INFO(TAG, "connected; %llu posts waiting",
            (unsigned long long)(r->q.n + r->spool.unread));
    bm_queue_unsend(&r->q);
    pump(r);
    send_heartbeat(r);
}

static void setup_cb(redisAsyncContext *ac, void *reply, void *arg)
{
    struct rsink *r = arg;
    redisReply *rep = reply;

    (void)ac;
    if (!rep || !r->ac)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        /* Never log the password; Redis's answer does not hold it. */
        BM_ERR(TAG, "Redis refused the connection setup: %s", rep->str);
        drop_connection(r, "setup refused");
    }
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
    struct rsink *r = ac->data;

    if (!r)
        return;
    if (status != REDIS_OK) {
        BM_WARN_RATELIMIT(&r->rl, TAG, "cannot connect: %s", ac->errstr);
        r->ac = NULL; /* hiredis frees it */
        schedule_reconnect(r);
        return;
    }
    r->last_progress = bm_now_ms();
    if (r->password)
        redisAsyncCommand(r->ac, setup_cb, r, "AUTH %s", r->password);
    if (r->db)
        redisAsyncCommand(r->ac, setup_cb, r, "SELECT %d", r->db);
    redisAsyncCommand(r->ac, ready_cb, r, "SCRIPT LOAD %s", bm_redis_script);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
    struct rsink *r = ac->data;

    if (!r)
        return;
    r->ac = NULL; /* hiredis frees it after this */
    if (status != REDIS_OK)
        BM_WARN_RATELIMIT(&r->rl, TAG, "connection lost: %s", ac->errstr);
    schedule_reconnect(r);
}

static void start_connect(struct rsink *r)
{
    redisAsyncContext *ac = r->unix_path[0]
                                ? redisAsyncConnectUnix(r->unix_path)
                                : redisAsyncConnect(r->host, r->port);

    if (!ac || ac->err) {
        BM_WARN_RATELIMIT(&r->rl, TAG, "cannot connect: %s",
                          ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    r->ac = ac;
    ac->data = r;
    r->reconnects++;
    set_state(r, CONN_CONNECTING);
    r->last_progress = bm_now_ms();
    redisLibeventAttach(ac, r->sink->base);
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
}

/* Timeouts and reconnects, a few times a second. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rsink *r = arg;
    uint64_t now = bm_now_ms();
    const struct bm_redis_config *rc = &r->sink->cfg->redis;

    (void)fd;
    (void)what;
    switch (r->state) {
    case CONN_DOWN:
        if (now >= r->next_connect)
            start_connect(r);
        break;
    case CONN_CONNECTING:
        if (now - r->state_since > rc->connect_timeout_ms)
            drop_connection(r, "Redis did not answer the connection in time");
        break;
    case CONN_UP:
        if (r->q.inflight && now - r->last_progress > rc->command_timeout_ms)
            drop_connection(r, "Redis stopped answering");
        else
            pump(r);
        break;
    }
    if (r->spool_open && r->spooling)
        bm_spool_sync(&r->spool);
    if (r->drained && (now >= r->drain_deadline || r->state == CONN_DOWN))
        finish_drain(r);
}

/* ---- heartbeat ---- */

/* Writes the last heartbeat the daemon gave (HSET + EXPIRE). */
static void send_heartbeat(struct rsink *r)
{
    const struct bm_config *cfg = r->sink->cfg;
    const char **argv;
    char key[512];
    size_t n = r->nhb + 2;

    if (r->state != CONN_UP || !r->ac || !r->nhb)
        return;
    argv = calloc(n, sizeof(*argv));
    if (!argv)
        return;
    snprintf(key, sizeof(key), "%sinstance:%s", cfg->redis.prefix,
             cfg->instance);
    argv[0] = "HSET";
    argv[1] = key;
    for (size_t i = 0; i < r->nhb; i++)
        argv[i + 2] = r->hb[i];
    redisAsyncCommandArgv(r->ac, NULL, NULL, (int)n, argv, NULL);
    redisAsyncCommand(r->ac, NULL, NULL, "EXPIRE %s %d", key, HEARTBEAT_TTL_S);
    free(argv);
}

static void redis_heartbeat(struct bm_sink *sink, const char *const *kv,
                            size_t n)
{
    struct rsink *r = impl(sink);

    for (size_t i = 0; i < r->nhb; i++)
        free(r->hb[i]);
    free(r->hb);
    r->nhb = 0;
    r->hb = calloc(n ? n : 1, sizeof(*r->hb));
    if (!r->hb)
        return;
    for (size_t i = 0; i < n; i++) {
        r->hb[i] = strdup(kv[i]);
        if (!r->hb[i])
            return;
        r->nhb++;
    }
    send_heartbeat(r);
}

/* ---- cursors ---- */

static void redis_cursor_save(struct bm_sink *sink, const char *source,
                              const char *const *kv, size_t n)
{
    struct rsink *r = impl(sink);
    const char **argv;
    char key[512];

    if (r->state != CONN_UP || !r->ac || !n)
        return;
    argv = calloc(n + 2, sizeof(*argv));
    if (!argv)
        return;
    snprintf(key, sizeof(key), "%scursor:%s", sink->cfg->redis.prefix, source);
    argv[0] = "HSET";
    argv[1] = key;
    memcpy(argv + 2, kv, n * sizeof(*kv));
    redisAsyncCommandArgv(r->ac, NULL, NULL, (int)n + 2, argv, NULL);
    free(argv);
}

/*
 * At start, before any source runs: a short synchronous connection (the
 * async one may not be up yet), bounded by the connect timeout.
 */
static int redis_cursor_load(struct bm_sink *sink, const char *source,
                             void (*field)(const char *k, const char *v,
                                           void *arg),
                             void *arg)
{
    struct rsink *r = impl(sink);
    uint64_t ms = sink->cfg->redis.connect_timeout_ms;
    struct timeval tv = { (time_t)(ms / 1000),
                          (suseconds_t)(ms % 1000) * 1000 };
    redisContext *c = r->unix_path[0]
                          ? redisConnectUnixWithTimeout(r->unix_path, tv)
                          : redisConnectWithTimeout(r->host, r->port, tv);
    redisReply *rep = NULL;
    int err = -EIO;

    if (!c || c->err)
        goto out;
    redisSetTimeout(c, tv);
    if (r->password) {
        rep = redisCommand(c, "AUTH %s", r->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            goto out;
        freeReplyObject(rep);
    }
    if (r->db) {
        rep = redisCommand(c, "SELECT %d", r->db);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            goto out;
        freeReplyObject(rep);
    }
    rep =
        redisCommand(c, "HGETALL %scursor:%s", sink->cfg->redis.prefix, source);
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        goto out;
    for (size_t i = 0; i + 1 < rep->elements; i += 2)
        if (rep->element[i]->type == REDIS_REPLY_STRING &&
            rep->element[i + 1]->type == REDIS_REPLY_STRING)
            field(rep->element[i]->str, rep->element[i + 1]->str, arg);
    err = 0;
out:
    if (rep)
        freeReplyObject(rep);
    if (c)
        redisFree(c);
    return err;
}

/* ---- the sink ---- */

static int redis_open(struct bm_sink *sink)
{
    const struct bm_redis_config *rc = &sink->cfg->redis;
    struct rsink *r = calloc(1, sizeof(*r));
    const char *why;
    int err;

    if (!r)
        return -ENOMEM;
    sink->impl = r;
    r->sink = sink;
    r->rl = (struct bm_ratelimit)BM_RATELIMIT_INIT(5000, 3);
    r->backoff_ms = RECONNECT_MIN_MS;
    r->pctx = (struct payload_ctx){ rc->prefix, sink->cfg->instance,
                                    rc->alerts_maxlen, NULL };
    if (parse_url(r, rc->url)) {
        BM_ERR(TAG, "cannot read the url %s", rc->url);
        return -EINVAL;
    }
    if (rc->password_file || rc->password_env) {
        r->password =
            bm_config_secret(rc->password_file, rc->password_env, &why);
        if (!r->password) {
            BM_ERR(TAG, "cannot read the Redis password: %s", why);
            return -EACCES;
        }
    }
    err = bm_queue_init(&r->q, rc->queue_max ? rc->queue_max : 10000);
    if (err)
        return err;
    if (rc->spool) {
        err = bm_spool_open(&r->spool, rc->spool, SPOOL_MAX_BYTES);
        if (err) {
            BM_ERR(TAG,
                   "cannot open the spool %s: %s (posts that do not fit "
                   "in memory while Redis is away will be lost)",
                   rc->spool, strerror(-err));
        } else {
            r->spool_open = true;
            r->spooling = r->spool.unread > 0;
            if (r->spooling)
                BM_INFO(TAG, "the spool holds %llu posts from an earlier run",
                        (unsigned long long)r->spool.unread);
        }
    }
    r->tick = event_new(sink->base, -1, EV_PERSIST, tick_cb, r);
    if (!r->tick)
        return -ENOMEM;
    event_add(r->tick, &(struct timeval){ 0, TICK_MS * 1000 });
    start_connect(r);
    return 0;
}

static int redis_put(struct bm_sink *sink, const struct bm_decision *d)
{
    struct rsink *r = impl(sink);
    int rc;

    r->pctx.rules = sink->rules;
    bm_buf_reset(&r->payload);
    rc = redis_payload(&r->pctx, d, bm_time_now_ms(), &r->payload);
    if (rc == 1)
        return 0; /* nothing to write for this post */
    if (rc)
        return rc;
    if (!r->spooling && !bm_queue_is_full(&r->q)) {
        rc = bm_queue_push(&r->q, r->payload.data, r->payload.len, ++r->seq,
                           bm_now_ms());
        if (!rc) {
            pump(r);
            return 0;
        }
    }
    if (!r->spool_open) {
        r->lost++;
        BM_WARN_RATELIMIT(&r->rl, TAG,
                          "queue full and no spool: a post is "
                          "lost");
        return -ENOSPC;
    }
    if (!r->spooling)
        BM_WARN(TAG, "queue full (%zu posts): spooling to %s", r->q.n,
                r->spool.path);
    r->spooling = true;
    rc = bm_spool_append(&r->spool, r->payload.data, r->payload.len);
    if (rc) {
        r->lost++;
        BM_WARN_RATELIMIT(&r->rl, TAG, "cannot spool a post: %s",
                          strerror(-rc));
        return rc;
    }
    r->spooled++;
    return 0;
}

/*
 * Writes what is still in memory to the spool for the next start, ahead of
 * what the spool holds unread, so the order survives: a new file gets the
 * queue, then the old file's unread records, and replaces the old one.
 */
static void spool_queue(struct rsink *r)
{
    struct bm_spool fresh;
    struct bm_queue_entry *e;
    char tmp[PATH_MAX];
    char *data;
    size_t len, n = 0;
    int err;

    if (!r->spool_open || bm_queue_is_empty(&r->q))
        return;
    snprintf(tmp, sizeof(tmp), "%s.new", r->spool.path);
    unlink(tmp);
    err = bm_spool_open(&fresh, tmp, SPOOL_MAX_BYTES);
    if (err) {
        BM_ERR(TAG, "cannot write the spool %s: %s; %zu posts are lost", tmp,
               strerror(-err), r->q.n);
        r->lost += r->q.n;
        return;
    }
    while (bm_queue_next_unsent(&r->q))
        ;
    while ((e = bm_queue_at(&r->q, 0)) != NULL) {
        if (bm_spool_append(&fresh, e->data, e->len))
            r->lost++;
        else
            n++;
        bm_queue_ack(&r->q);
    }
    while (bm_spool_read(&r->spool, &data, &len) > 0) {
        if (bm_spool_append(&fresh, data, len))
            r->lost++;
        free(data);
    }
    bm_spool_sync(&fresh);
    if (rename(tmp, r->spool.path) != 0)
        BM_ERR(TAG, "cannot replace the spool: %s", strerror(errno));
    bm_spool_close(&fresh);
    BM_LOG(BM_LOG_NOTICE, TAG,
           "%zu posts written to the spool for the next start", n);
}

static bool all_written(const struct rsink *r)
{
    return bm_queue_is_empty(&r->q) &&
           (!r->spool_open || r->spool.unread == 0) && !r->ping_pending;
}

/* Replies come in order: once the PING sent at drain is answered, every
 * fire-and-forget write before it (cursors, heartbeat) was done too. */
static void drain_ping_cb(redisAsyncContext *ac, void *reply, void *arg)
{
    struct rsink *r = arg;

    (void)ac;
    (void)reply;
    r->ping_pending = false;
    if (all_written(r))
        finish_drain(r);
}

/* Drain is over: what Redis did not take goes to the spool. */
static void finish_drain(struct rsink *r)
{
    void (*done)(void *arg) = r->drained;

    if (!done)
        return;
    r->drained = NULL;
    spool_queue(r);
    done(r->drained_arg);
}

static void redis_drain(struct bm_sink *sink, void (*done)(void *arg),
                        void *arg)
{
    struct rsink *r = impl(sink);

    r->drained = done;
    r->drained_arg = arg;
    r->drain_deadline = bm_now_ms() + DRAIN_MS;
    if (r->state == CONN_UP && r->ac &&
        redisAsyncCommand(r->ac, drain_ping_cb, r, "PING") == REDIS_OK)
        r->ping_pending = true;
    if (all_written(r) || r->state == CONN_DOWN)
        finish_drain(r);
}

static void redis_flush(struct bm_sink *sink)
{
    struct rsink *r = impl(sink);

    if (r)
        spool_queue(r);
}

static void redis_close(struct bm_sink *sink)
{
    struct rsink *r = impl(sink);

    if (!r)
        return;
    if (r->ac) {
        redisAsyncContext *ac = r->ac;

        r->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    if (r->tick)
        event_free(r->tick);
    for (size_t i = 0; i < r->nhb; i++)
        free(r->hb[i]);
    free(r->hb);
    bm_queue_release(&r->q);
    if (r->spool_open)
        bm_spool_close(&r->spool);
    bm_buf_release(&r->payload);
    if (r->password) {
        explicit_bzero(r->password, strlen(r->password));
        free(r->password);
    }
    free(r);
    sink->impl = NULL;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static void redis_stats(struct bm_sink *sink, struct bm_sink_stats *out)
{
    struct rsink *r = impl(sink);
    size_t n = r->nlat < LATENCY_SAMPLES ? r->nlat : LATENCY_SAMPLES;
    uint32_t *sorted;

    out->connected = r->state == CONN_UP;
    out->down_ms = out->connected ? 0 : bm_now_ms() - r->state_since;
    out->queue = r->q.n;
    out->spool = r->spool_open ? r->spool.unread : 0;
    out->written = r->written;
    out->duplicates = r->duplicates;
    out->errors = r->errors;
    out->lost = r->lost;
    out->reconnects = r->reconnects;
    if (!n)
        return;
    sorted = malloc(n * sizeof(*sorted));
    if (!sorted)
        return;
    memcpy(sorted, r->lat, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), u32_cmp);
    out->latency_p50_ms = sorted[n / 2];
    out->latency_p99_ms = sorted[(n * 99) / 100];
    free(sorted);
}

const struct bm_sink_ops bm_sink_redis = {
    .name = "redis",
    .open = redis_open,
    .put = redis_put,
    .flush = redis_flush,
    .drain = redis_drain,
    .close = redis_close,
    .stats = redis_stats,
    .heartbeat = redis_heartbeat,
    .cursor_save = redis_cursor_save,
    .cursor_load = redis_cursor_load,
};
