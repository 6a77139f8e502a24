/*
 * websocket.c - the WebSocket transport (Bluesky Jetstream): one client
 * connection per source on a libevent bufferevent, framed by wslay.
 *
 * A connection goes through four phases. CONNECTING: the host is resolved
 * with the set's evdns resolver and a TCP connection opened, with TLS for
 * wss:// (SNI, the certificate checked against the system store and the
 * host name). HANDSHAKE: the HTTP/1.1 Upgrade request is written by hand
 * with a random key, and the answer must be a 101 with the right
 * Sec-WebSocket-Accept. OPEN: a wslay client context reads frames from the
 * bufferevent's input and writes (masked) frames to its output; each
 * complete text message is one Jetstream event for source_message(). The
 * source is CONNECTING until the 101 and STREAMING after it.
 *
 * Messages are gathered here rather than by wslay, so that one longer than
 * the frame ceiling is counted and skipped while the connection stays up:
 * had wslay refused it by closing the connection, the resume cursor would
 * bring the same event back on every reconnect. wslay still refuses single
 * frames over FRAME_HARD_MAX (no Jetstream event is near that) and text
 * that is not UTF-8, by closing the connection.
 *
 * Jetstream sends no heartbeat: we ping every PING_MS (sooner when the
 * stall interval is short) and any byte that arrives, a pong or a frame,
 * keeps the stall check quiet. On every reconnect the URL carries
 * `cursor` = the newest event time processed less REWIND_US, so a drop
 * loses nothing; the repeats it brings are dropped by the source's dedup
 * memory. Failures wait per the source's backoff (network ladder; a
 * refused upgrade takes the HTTP ladder, 429 the rate-limit ladder, and
 * 401/403 stop the source as for HTTP streams).
 *
 * What it does not do: compression (compress=true and permessage-deflate
 * are never asked for), proxies, redirects, or sending messages other
 * than pings and the closing handshake.
 *
 * Ownership: the bufferevent and the wslay context are freed when the
 * connection ends, but never inside one of their own callbacks: a
 * connection that ends there is parked in dead_bev/dead_ctx and freed when
 * the outermost bufferevent callback returns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#include "brandmon/buf.h"
#include "brandmon/log.h"
#include "brandmon/time.h"

#include "stream/stream_int.h"

#define WS_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX       16384                /* bytes of the 101 we accept */
#define PING_MS        20000                /* a ping this often */
#define PING_MIN_MS    200                  /* never more often */
#define OUT_MAX        65536                /* queued output: wslay waits */
#define REWIND_US      5000000LL            /* resume this far back */
#define FRAME_HARD_MAX ((uint64_t)64 << 20) /* wslay refuses longer frames */
#define MSG_KEEP_MAX   ((size_t)256 << 10)  /* buffer kept between msgs */

enum phase {
    WS_IDLE,       /* no connection */
    WS_CONNECTING, /* resolving, TCP, TLS */
    WS_HANDSHAKE,  /* upgrade request sent, waiting for the 101 */
    WS_OPEN,       /* frames flow */
};

/* Why the message being gathered will not be handed on. */
enum msg_skip {
    MSG_OK,
    MSG_TOO_LONG, /* over the frame ceiling */
    MSG_NOMEM,    /* out of memory while gathering */
};

struct ws {
    enum phase phase;
    /* owned: the connection, or NULL */
    struct bufferevent *bev;
    /* owned: from the 101 until the connection ends, or NULL */
    wslay_event_context_ptr ctx;
    /* owned: made on the first wss:// connection, kept for the next ones */
    SSL_CTX *ssl_ctx;
    struct event *ping; /* owned: the ping ticker while OPEN */
    uint64_t ping_ms;
    /* the URL of the current connection, split up */
    char *url;    /* owned: with wantedCollections and cursor */
    char *host;   /* owned: name or address, without brackets */
    char *target; /* owned: path and query for the request line */
    int port;
    bool tls;
    char key[32]; /* Sec-WebSocket-Key of this handshake (base64) */
    /* the data message being gathered */
    struct bm_buf msg;
    bool msg_open; /* started, not finished */
    bool msg_text; /* a text message (else binary) */
    enum msg_skip msg_skip;
    bool frame_ctrl;      /* the frame being read is a control frame */
    bool frame_fin;       /* ... and it ends its message */
    int64_t last_time_us; /* newest event time processed; 0: none yet */
    /* inside our bufferevent callbacks: frees are parked below */
    int in_cb;
    struct bufferevent *dead_bev;     /* owned: freed after the callback */
    wslay_event_context_ptr dead_ctx; /* owned: freed after the callback */
};

static struct ws *impl(struct bm_source *src)
{
    return src->impl;
}

/* ---- ending a connection ---- */

/* The connection's unsent output goes out now, if the socket takes it:
 * the closing handshake before a stop, when no loop turn follows. */
static void flush_now(struct ws *w)
{
    struct evbuffer *out = bufferevent_get_output(w->bev);
    size_t n = evbuffer_get_length(out);

    if (n == 0)
        return;
    if (w->tls) {
        SSL *ssl = bufferevent_openssl_get_ssl(w->bev);
        unsigned char *p = evbuffer_pullup(out, -1);

        if (ssl && p && n <= INT32_MAX && SSL_write(ssl, p, (int)n) > 0)
            SSL_shutdown(ssl);
    } else {
        evutil_socket_t fd = bufferevent_getfd(w->bev);

        if (fd >= 0)
            (void)evbuffer_write(out, fd);
    }
}

static void free_parked(struct ws *w)
{
    if (w->dead_ctx) {
        wslay_event_context_free(w->dead_ctx);
        w->dead_ctx = NULL;
    }
    if (w->dead_bev) {
        bufferevent_free(w->dead_bev);
        w->dead_bev = NULL;
    }
}

/*
 * Ends the connection, if any. With @goodbye an open WebSocket first says
 * so with a close frame (1000), as far as the socket takes it at once.
 * Safe inside our callbacks: what is in use there is freed after them.
 */
static void drop(struct bm_source *src, bool goodbye)
{
    struct ws *w = impl(src);

    if (w->ping)
        evtimer_del(w->ping);
    if (w->msg_open)
        source_skip(src, BM_SKIP_TRUNCATED, "the connection ended");
    w->msg_open = false;
    if (w->bev) {
        if (goodbye && w->ctx && w->phase == WS_OPEN) {
            (void)wslay_event_queue_close(w->ctx, WSLAY_CODE_NORMAL_CLOSURE,
                                          NULL, 0);
            (void)wslay_event_send(w->ctx);
            flush_now(w);
        }
        bufferevent_setcb(w->bev, NULL, NULL, NULL, NULL);
        bufferevent_disable(w->bev, EV_READ | EV_WRITE);
    }
    if (w->in_cb && !w->dead_bev && !w->dead_ctx) {
        w->dead_bev = w->bev;
        w->dead_ctx = w->ctx;
    } else {
        /* Outside a callback (the one parking slot is never needed twice
         * in one callback: nothing reconnects from inside one). */
        if (w->ctx)
            wslay_event_context_free(w->ctx);
        if (w->bev)
            bufferevent_free(w->bev);
    }
    w->bev = NULL;
    w->ctx = NULL;
    w->phase = WS_IDLE;
    if (w->msg.cap > MSG_KEEP_MAX)
        bm_buf_release(&w->msg);
    bm_buf_reset(&w->msg);
}

/* A failed connection: drop it and wait per the backoff. */
static void fail(struct bm_source *src, enum bm_backoff_kind kind,
                 uint64_t min_wait_ms, const char *why)
{
    drop(src, false);
    source_retry(src, kind, min_wait_ms, why);
}

static void enter(struct ws *w)
{
    w->in_cb++;
}

static void leave(struct ws *w)
{
    if (--w->in_cb == 0)
        free_parked(w);
}

/* ---- wslay callbacks ---- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                       int flags, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);
    int n;

    (void)flags;
    if (w->ctx != ctx || !w->bev) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    n = evbuffer_remove(bufferevent_get_input(w->bev), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    source_alive(src);
    src->stats.c[BM_SC_BYTES] += (uint64_t)n;
    return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);

    (void)flags;
    if (w->ctx != ctx || !w->bev) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    /* The output is a buffer, so this only waits when the peer has not
     * read for a long time; the write callback resumes. */
    if (evbuffer_get_length(bufferevent_get_output(w->bev)) >= OUT_MAX) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (bufferevent_write(w->bev, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

/* Mask keys only keep proxies from caching; they need not be secret. */
static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                      void *arg)
{
    struct bm_source *src = arg;

    (void)ctx;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t r = source_random(src);

        memcpy(buf + i, &r, len - i < 4 ? len - i : 4);
    }
    return 0;
}

static void frame_start_cb(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *a,
                           void *arg)
{
    struct ws *w = impl(arg);

    if (w->ctx != ctx)
        return;
    w->frame_ctrl = (a->opcode & 0x8u) != 0;
    if (w->frame_ctrl)
        return; /* pings, pongs, close: wslay gathers those itself */
    w->frame_fin = a->fin != 0;
    if (a->opcode != WSLAY_CONTINUATION_FRAME) {
        bm_buf_reset(&w->msg);
        w->msg_open = true;
        w->msg_text = a->opcode == WSLAY_TEXT_FRAME;
        w->msg_skip = MSG_OK;
    }
}

static void frame_chunk_cb(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *a,
                           void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);

    if (w->ctx != ctx || w->frame_ctrl || !w->msg_open ||
        w->msg_skip != MSG_OK || a->data_length == 0)
        return;
    if (w->msg.len + a->data_length > src->max_frame) {
        w->msg_skip = MSG_TOO_LONG;
    } else if (bm_buf_append(&w->msg, a->data, a->data_length)) {
        w->msg_skip = MSG_NOMEM;
    } else {
        return;
    }
    if (w->msg.cap > MSG_KEEP_MAX)
        bm_buf_release(&w->msg);
    bm_buf_reset(&w->msg);
}

/* A whole data message arrived: one Jetstream event. */
static void message_done(struct bm_source *src)
{
    struct ws *w = impl(src);
    int64_t t;

    w->msg_open = false;
    src->stats.c[BM_SC_FRAMES]++;
    if (w->msg_skip == MSG_TOO_LONG) {
        source_skip(src, BM_SKIP_TOO_LONG, "a WebSocket message");
    } else if (w->msg_skip == MSG_NOMEM) {
        source_skip(src, BM_SKIP_TOO_LONG, "out of memory");
    } else if (!w->msg_text) {
        source_skip(src, BM_SKIP_INVALID, "a binary WebSocket message");
    } else if (w->msg.len == 0) {
        src->stats.c[BM_SC_KEEPALIVES]++;
    } else {
        source_message(src, w->msg.data, w->msg.len);
        /* Counted after the event was decided: the resume point is the
         * newest event processed. */
        t = bm_jetstream_time_us(w->msg.data, w->msg.len);
        if (t > w->last_time_us)
            w->last_time_us = t;
    }
    if (w->msg.cap > MSG_KEEP_MAX)
        bm_buf_release(&w->msg);
    bm_buf_reset(&w->msg);
}

static void frame_end_cb(wslay_event_context_ptr ctx, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);

    if (w->ctx != ctx || w->frame_ctrl || !w->msg_open || !w->frame_fin)
        return;
    message_done(src);
}

static void msg_cb(wslay_event_context_ptr ctx,
                   const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);

    if (w->ctx != ctx)
        return;
    /* Data messages were handled frame by frame; wslay answers pings and
     * close frames itself, and any byte (a pong) already counted. */
    if (a->opcode == WSLAY_CONNECTION_CLOSE)
        SRC_LOG(BM_LOG_DEBUG, src, "close frame received (code %u)",
                (unsigned)a->status_code);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_frame_recv_start_callback = frame_start_cb,
    .on_frame_recv_chunk_callback = frame_chunk_cb,
    .on_frame_recv_end_callback = frame_end_cb,
    .on_msg_recv_callback = msg_cb,
};

/* ---- the open WebSocket ---- */

/* Hands wslay's queued frames to the bufferevent. False when the
 * connection failed (and was dropped). */
static bool pump(struct bm_source *src)
{
    struct ws *w = impl(src);

    if (!wslay_event_want_write(w->ctx) || wslay_event_send(w->ctx) == 0)
        return true;
    fail(src, BM_BACKOFF_NETWORK, 0, "cannot write to the WebSocket");
    return false;
}

/* Reads every frame in the input; ends the connection when either side
 * closed it. */
static void process(struct bm_source *src)
{
    struct ws *w = impl(src);
    wslay_event_context_ptr ctx = w->ctx;
    char why[160];
    int rc;

    rc = wslay_event_recv(ctx);
    if (w->ctx != ctx)
        return; /* ended while a message was handled */
    if (rc != 0) {
        fail(src, BM_BACKOFF_NETWORK, 0, "the WebSocket failed to read");
        return;
    }
    if (!pump(src))
        return;
    if (wslay_event_get_close_received(ctx)) {
        snprintf(why, sizeof(why), "the server closed the WebSocket (code %u)",
                 (unsigned)wslay_event_get_status_code_received(ctx));
        drop(src, true); /* sends our half of the closing handshake */
        source_retry(src, BM_BACKOFF_NETWORK, 0, why);
        return;
    }
    if (!wslay_event_get_read_enabled(ctx)) {
        unsigned code = wslay_event_get_status_code_sent(ctx);

        if (code == WSLAY_CODE_MESSAGE_TOO_BIG)
            source_skip(src, BM_SKIP_TOO_LONG, "a WebSocket frame");
        snprintf(why, sizeof(why),
                 "the server broke the WebSocket protocol (closed with "
                 "code %u)",
                 code);
        drop(src, true);
        source_retry(src, BM_BACKOFF_NETWORK, 0, why);
    }
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);
    struct wslay_event_msg ping = { WSLAY_PING, (const uint8_t *)"bm", 2 };

    (void)fd;
    (void)what;
    if (w->phase != WS_OPEN)
        return;
    /* WSLAY_ERR_NO_MORE_MSG: a close is queued; nothing more to say. */
    (void)wslay_event_queue_msg(w->ctx, &ping);
    pump(src);
}

/* ---- the opening handshake ---- */

static void base64(const unsigned char *in, int n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, n);
}

/* Sec-WebSocket-Accept for @key: base64(SHA-1(key + GUID)). */
static bool expected_accept(const char *key, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);

    if (n < 0 || (size_t)n >= sizeof(buf) ||
        !EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) ||
        mdlen != 20)
        return false;
    base64(md, 20, out);
    return true;
}

static void send_upgrade(struct bm_source *src)
{
    struct ws *w = impl(src);
    unsigned char raw[16];
    const char *ua = src->cfg->user_agent;
    char port[16] = "";
    bool v6 = strchr(w->host, ':') != NULL;
    int rc;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        genmask_cb(NULL, raw, sizeof(raw), src);
    base64(raw, sizeof(raw), w->key);
    if (w->port != (w->tls ? 443 : 80))
        snprintf(port, sizeof(port), ":%d", w->port);
    rc = evbuffer_add_printf(bufferevent_get_output(w->bev),
                             "GET %s HTTP/1.1\r\n"
                             "Host: %s%s%s%s\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "User-Agent: %s\r\n"
                             "\r\n",
                             w->target, v6 ? "[" : "", w->host, v6 ? "]" : "",
                             port, w->key, ua ? ua : "brandmond/" BM_VERSION);
    if (rc < 0) {
        fail(src, BM_BACKOFF_NETWORK, 1000, "out of memory");
        return;
    }
    w->phase = WS_HANDSHAKE;
}

/* Trims spaces and tabs on both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* True when the comma-separated list [s, e) holds @token (any case). */
static bool has_token(const char *s, const char *e, const char *token)
{
    size_t k = strlen(token);

    while (s < e) {
        const char *c = memchr(s, ',', (size_t)(e - s)), *te;

        te = c ? c : e;
        trim(&s, &te);
        if ((size_t)(te - s) == k && strncasecmp(s, token, k) == 0)
            return true;
        s = c ? c + 1 : e;
    }
    return false;
}

static void arm_ping(struct ws *w)
{
    struct timeval tv = { (time_t)(w->ping_ms / 1000),
                          (suseconds_t)(w->ping_ms % 1000) * 1000 };

    event_add(w->ping, &tv);
}

/* What the response head says, for the checks in judge_head(). */
struct head {
    int status;
    bool upgrade;    /* Upgrade: websocket */
    bool connection; /* Connection: ... upgrade ... */
    bool accept_ok;  /* Sec-WebSocket-Accept matched */
    bool extensions; /* Sec-WebSocket-Extensions (none was offered) */
    int64_t retry_after_ms;
};

static void parse_header(struct ws *w, const char *s, const char *e,
                         struct head *h)
{
    const char *colon = memchr(s, ':', (size_t)(e - s)), *v, *ve, *name_end;
    char want[32], value[64];
    size_t n;

    if (!colon)
        return;
    name_end = colon;
    trim(&s, &name_end);
    v = colon + 1;
    ve = e;
    trim(&v, &ve);
    n = (size_t)(name_end - s);
#define NAME_IS(lit) (n == sizeof(lit) - 1 && strncasecmp(s, lit, n) == 0)
    if (NAME_IS("upgrade")) {
        h->upgrade = has_token(v, ve, "websocket");
    } else if (NAME_IS("connection")) {
        h->connection = has_token(v, ve, "upgrade");
    } else if (NAME_IS("sec-websocket-accept")) {
        h->accept_ok = expected_accept(w->key, want) &&
                       (size_t)(ve - v) == strlen(want) &&
                       memcmp(v, want, strlen(want)) == 0;
    } else if (NAME_IS("sec-websocket-extensions")) {
        h->extensions = true;
    } else if (NAME_IS("retry-after") && (size_t)(ve - v) < sizeof(value)) {
        double secs;

        memcpy(value, v, (size_t)(ve - v));
        value[ve - v] = '\0';
        secs = strtod(value, NULL);
        /* Seconds from now, or (as some APIs send) epoch seconds. */
        if (secs > 1e9)
            secs -= (double)bm_time_now_ms() / 1000.0;
        if (secs > 0 && secs < 86400)
            h->retry_after_ms = (int64_t)(secs * 1000);
    }
#undef NAME_IS
}

static void parse_head(struct ws *w, const char *p, size_t n, struct head *h)
{
    const char *end = p + n, *line = p, *eol;

    memset(h, 0, sizeof(*h));
    if (n > 9 && strncmp(p, "HTTP/1.", 7) == 0 && p[8] == ' ')
        h->status = (int)strtol(p + 9, NULL, 10);
    while ((eol = memchr(line, '\n', (size_t)(end - line))) != NULL) {
        const char *le = eol > line && eol[-1] == '\r' ? eol - 1 : eol;

        if (line != p)
            parse_header(w, line, le, h);
        line = eol + 1;
    }
}

/* The answer to the upgrade: the WebSocket opens, or the source waits. */
static void judge_head(struct bm_source *src, const struct head *h)
{
    struct ws *w = impl(src);
    char why[160];

    if (h->status == 101) {
        const char *bad = !h->upgrade      ? "no Upgrade: websocket"
                          : !h->connection ? "no Connection: upgrade"
                          : !h->accept_ok  ? "a wrong Sec-WebSocket-Accept"
                          : h->extensions  ? "an extension we did not offer"
                                           : NULL;

        if (bad) {
            src->stats.c[BM_SC_HTTP_ERRORS]++;
            snprintf(why, sizeof(why), "the WebSocket upgrade came with %s",
                     bad);
            fail(src, BM_BACKOFF_HTTP, 0, why);
            return;
        }
        if (wslay_event_context_client_init(&w->ctx, &ws_callbacks, src)) {
            w->ctx = NULL;
            fail(src, BM_BACKOFF_NETWORK, 1000, "out of memory");
            return;
        }
        wslay_event_config_set_no_buffering(w->ctx, 1);
        wslay_event_config_set_max_recv_msg_length(
            w->ctx,
            src->max_frame > FRAME_HARD_MAX ? src->max_frame : FRAME_HARD_MAX);
        w->phase = WS_OPEN;
        src->connected_at = bm_now_ms();
        source_alive(src);
        source_set_state(src, BM_SOURCE_STREAMING);
        SRC_LOG(BM_LOG_INFO, src, "connected (HTTP 101) to %s", w->url);
        arm_ping(w);
        return;
    }
    if (h->status == 401 || h->status == 403) {
        src->stats.c[BM_SC_HTTP_ERRORS]++;
        snprintf(why, sizeof(why),
                 "HTTP %d to the WebSocket upgrade: access refused", h->status);
        drop(src, false);
        source_give_up(src, why);
        return;
    }
    if (h->status == 429) {
        src->stats.c[BM_SC_RATE_LIMITED]++;
        fail(src, BM_BACKOFF_RATE_LIMIT, (uint64_t)h->retry_after_ms,
             "HTTP 429 to the WebSocket upgrade: rate limited");
        return;
    }
    src->stats.c[BM_SC_HTTP_ERRORS]++;
    if (h->status)
        snprintf(why, sizeof(why), "HTTP %d to the WebSocket upgrade",
                 h->status);
    else
        snprintf(why, sizeof(why), "the WebSocket upgrade got no HTTP answer");
    fail(src, BM_BACKOFF_HTTP, 0, why);
}

static void read_head(struct bm_source *src)
{
    struct ws *w = impl(src);
    struct evbuffer *in = bufferevent_get_input(w->bev);
    struct evbuffer_ptr at = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    struct head h;
    char *text;
    size_t n;

    if (at.pos < 0) {
        if (evbuffer_get_length(in) > HEAD_MAX) {
            src->stats.c[BM_SC_HTTP_ERRORS]++;
            fail(src, BM_BACKOFF_HTTP, 0,
                 "the answer to the WebSocket upgrade is too long");
        }
        return;
    }
    n = (size_t)at.pos + 4;
    if (n > HEAD_MAX) {
        src->stats.c[BM_SC_HTTP_ERRORS]++;
        fail(src, BM_BACKOFF_HTTP, 0,
             "the answer to the WebSocket upgrade is too long");
        return;
    }
    text = malloc(n + 1);
    if (!text) {
        fail(src, BM_BACKOFF_NETWORK, 1000, "out of memory");
        return;
    }
    evbuffer_remove(in, text, n);
    text[n] = '\0';
    parse_head(w, text, n, &h);
    free(text);
    judge_head(src, &h);
    /* Frames may have come right behind the 101. */
    if (w->phase == WS_OPEN && evbuffer_get_length(in) > 0)
        process(src);
}

/* ---- bufferevent callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);

    (void)bev;
    enter(w);
    if (w->phase == WS_HANDSHAKE)
        read_head(src);
    else if (w->phase == WS_OPEN)
        process(src);
    leave(w);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);

    (void)bev;
    enter(w);
    if (w->phase == WS_OPEN)
        pump(src);
    leave(w);
}

/* Says in @out why the connection ended, as far as anyone knows. */
static void describe_error(struct bm_source *src, short events, char *out,
                           size_t n)
{
    struct ws *w = impl(src);
    const char *when = w->phase == WS_CONNECTING ? "cannot connect to"
                       : w->phase == WS_HANDSHAKE
                           ? "the WebSocket upgrade failed"
                             " at"
                           : "the connection dropped at";
    int dns = bufferevent_socket_get_dns_error(w->bev);
    int err = EVUTIL_SOCKET_ERROR();
    char detail[256] = "";

    if (dns) {
        snprintf(detail, sizeof(detail), "cannot resolve the host: %s",
                 evutil_gai_strerror(dns));
    } else if (w->tls && (events & BEV_EVENT_ERROR)) {
        SSL *ssl = bufferevent_openssl_get_ssl(w->bev);
        long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        unsigned long e, last = 0;

        while ((e = bufferevent_get_openssl_error(w->bev)) != 0)
            last = e;
        if (vr != X509_V_OK)
            snprintf(detail, sizeof(detail), "TLS certificate: %s",
                     X509_verify_cert_error_string(vr));
        else if (last)
            ERR_error_string_n(last, detail, sizeof(detail));
    }
    if (!detail[0] && (events & BEV_EVENT_EOF))
        snprintf(detail, sizeof(detail), "closed by the server");
    else if (!detail[0] && err)
        snprintf(detail, sizeof(detail), "%s",
                 evutil_socket_error_to_string(err));
    snprintf(out, n, "%s %s:%d: %s", when, w->host, w->port,
             detail[0] ? detail : "error");
}

static void event_cb(struct bufferevent *bev, short events, void *arg)
{
    struct bm_source *src = arg;
    struct ws *w = impl(src);
    char why[512];

    (void)bev;
    enter(w);
    if (events & BEV_EVENT_CONNECTED) {
        SRC_LOG(BM_LOG_DEBUG, src, "connected to %s:%d, upgrading", w->host,
                w->port);
        send_upgrade(src);
    } else if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        /* Whatever came before the end is read first. */
        if (w->phase == WS_OPEN &&
            evbuffer_get_length(bufferevent_get_input(w->bev)) > 0)
            process(src);
        if (w->bev) {
            describe_error(src, events, why, sizeof(why));
            fail(src, BM_BACKOFF_NETWORK, 0, why);
        }
    }
    leave(w);
}

/* ---- connecting ---- */

/* Splits a ws:// or wss:// URL into w->tls, host, port and target. */
static int parse_url(struct ws *w, const char *url)
{
    const char *p, *auth_end, *host, *host_end, *after, *frag;
    long port;

    free(w->host);
    free(w->target);
    w->host = w->target = NULL;
    if (strncasecmp(url, "ws://", 5) == 0) {
        w->tls = false;
        p = url + 5;
        port = 80;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        w->tls = true;
        p = url + 6;
        port = 443;
    } else {
        return -EINVAL;
    }
    auth_end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(auth_end - p)))
        return -EINVAL; /* credentials never go in a URL */
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(p, ']', (size_t)(auth_end - p));
        if (!host_end)
            return -EINVAL;
        after = host_end + 1;
    } else {
        host = p;
        host_end = memchr(p, ':', (size_t)(auth_end - p));
        if (!host_end)
            host_end = auth_end;
        after = host_end;
    }
    if (host_end == host)
        return -EINVAL;
    if (after < auth_end) {
        char *end;

        if (*after != ':')
            return -EINVAL;
        port = strtol(after + 1, &end, 10);
        if (end != auth_end || end == after + 1 || port < 1 || port > 65535)
            return -EINVAL;
    }
    w->port = (int)port;
    w->host = strndup(host, (size_t)(host_end - host));
    frag = auth_end + strcspn(auth_end, "#");
    w->target = malloc((size_t)(frag - auth_end) + 2);
    if (!w->host || !w->target)
        return -ENOMEM;
    snprintf(w->target, (size_t)(frag - auth_end) + 2, "%s%.*s",
             *auth_end == '/' ? "" : "/", (int)(frag - auth_end), auth_end);
    return 0;
}

static int make_ssl_ctx(struct ws *w)
{
    if (w->ssl_ctx)
        return 0;
    w->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!w->ssl_ctx)
        return -ENOMEM;
    SSL_CTX_set_min_proto_version(w->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(w->ssl_ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_default_verify_paths(w->ssl_ctx) != 1) {
        SSL_CTX_free(w->ssl_ctx);
        w->ssl_ctx = NULL;
        return -EIO;
    }
    return 0;
}

/* A TLS session that checks the certificate names w->host. */
static SSL *new_ssl(struct ws *w)
{
    SSL *ssl = SSL_new(w->ssl_ctx);
    unsigned char addr[16];
    int ok;

    if (!ssl)
        return NULL;
    if (inet_pton(AF_INET, w->host, addr) == 1 ||
        inet_pton(AF_INET6, w->host, addr) == 1) {
        /* No SNI for an address; the certificate must name it. */
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), w->host);
    } else {
        ok = SSL_set_tlsext_host_name(ssl, w->host) == 1 &&
             SSL_set1_host(ssl, w->host) == 1;
    }
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* Starts resolving and connecting; the event callback says how it went. */
static int open_connection(struct bm_source *src, const char **why)
{
    struct ws *w = impl(src);
    struct evdns_base *dns = source_dns(src);
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

    *why = "out of memory";
    if (!dns)
        return -ENOMEM;
    if (w->tls) {
        SSL *ssl;

        if (make_ssl_ctx(w)) {
            *why = "cannot set up TLS (no system certificate store?)";
            return -EIO;
        }
        ssl = new_ssl(w);
        if (!ssl)
            return -ENOMEM;
        /* With BEV_OPT_CLOSE_ON_FREE the bufferevent owns the SSL, also
         * when it cannot be made. */
        w->bev = bufferevent_openssl_socket_new(
            source_base(src), -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
        if (w->bev)
            bufferevent_openssl_set_allow_dirty_shutdown(w->bev, 1);
    } else {
        w->bev = bufferevent_socket_new(source_base(src), -1, opts);
    }
    if (!w->bev)
        return -ENOMEM;
    bufferevent_setcb(w->bev, read_cb, write_cb, event_cb, src);
    if (bufferevent_enable(w->bev, EV_READ | EV_WRITE) < 0)
        return -ENOMEM;
    w->phase = WS_CONNECTING;
    if (bufferevent_socket_connect_hostname(w->bev, dns, AF_UNSPEC, w->host,
                                            w->port) < 0) {
        *why = "cannot start connecting";
        return -EIO;
    }
    return 0;
}

/* ---- the transport ---- */

static int ws_init(struct bm_source *src)
{
    struct ws *w = calloc(1, sizeof(*w));

    if (!w)
        return -ENOMEM;
    src->impl = w;
    bm_buf_init(&w->msg);
    w->ping_ms = PING_MS;
    /* A short stall interval (tests, quiet filters) needs pongs sooner. */
    if (src->stall_ms && src->stall_ms * 2 / 3 < w->ping_ms)
        w->ping_ms = src->stall_ms * 2 / 3;
    if (w->ping_ms < PING_MIN_MS)
        w->ping_ms = PING_MIN_MS;
    w->ping = event_new(source_base(src), -1, EV_PERSIST, ping_cb, src);
    return w->ping ? 0 : -ENOMEM;
}

static void ws_start(struct bm_source *src)
{
    struct ws *w = impl(src);
    int64_t cursor = 0;
    const char *why;
    char msg[200];
    int err;

    drop(src, false);
    if (w->last_time_us > REWIND_US)
        cursor = w->last_time_us - REWIND_US;
    free(w->url);
    w->url = bm_jetstream_url(src->cfg->url, src->cfg->collections,
                              src->cfg->ncollections, cursor);
    if (!w->url) {
        source_retry(src, BM_BACKOFF_NETWORK, 1000, "out of memory");
        return;
    }
    err = parse_url(w, w->url);
    if (err == -EINVAL) {
        source_give_up(src, "the url is not a ws:// or wss:// URL");
        return;
    }
    if (err) {
        source_retry(src, BM_BACKOFF_NETWORK, 1000, "out of memory");
        return;
    }
    src->stats.c[BM_SC_CONNECTS]++;
    source_set_state(src, BM_SOURCE_CONNECTING);
    SRC_LOG(BM_LOG_DEBUG, src, "connecting to %s", w->url);
    if (open_connection(src, &why)) {
        snprintf(msg, sizeof(msg), "%s:%d: %s", w->host, w->port, why);
        fail(src, BM_BACKOFF_NETWORK, 1000, msg);
        return;
    }
    source_watch_stall(src);
}

static void ws_stop(struct bm_source *src)
{
    if (impl(src))
        drop(src, true);
}

static void ws_free(struct bm_source *src)
{
    struct ws *w = impl(src);

    if (!w)
        return;
    w->in_cb = 0;
    drop(src, false);
    free_parked(w);
    if (w->ping)
        event_free(w->ping);
    SSL_CTX_free(w->ssl_ctx);
    bm_buf_release(&w->msg);
    free(w->url);
    free(w->host);
    free(w->target);
    free(w);
    src->impl = NULL;
}

static bool ws_cursor(const struct bm_source *src, struct bm_cursor *out)
{
    const struct ws *w = src->impl;

    out->time_us = w->last_time_us;
    return w->last_time_us != 0;
}

static void ws_restore(struct bm_source *src, const struct bm_cursor *c)
{
    struct ws *w = impl(src);

    if (c->time_us > w->last_time_us) {
        w->last_time_us = c->time_us;
        SRC_LOG(BM_LOG_INFO, src, "resuming from time_us %lld",
                (long long)c->time_us);
    }
}

const struct transport_ops bm_transport_websocket = {
    .init = ws_init,
    .start = ws_start,
    .stop = ws_stop,
    .free = ws_free,
    .cursor = ws_cursor,
    .restore = ws_restore,
};
