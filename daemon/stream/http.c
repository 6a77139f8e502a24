/*
 * http.c - the HTTP transports: long-lived streams (NDJSON, SSE) and polls.
 *
 * One CURL easy handle per source, reused across connections, driven by
 * the shared multi (curlev.c). Response headers give the status, the
 * content type and the rate-limit signals; the body goes to the framer
 * (streams) or into a bounded buffer (polls). When a transfer ends, the
 * status and curl's result say what kind of failure it was, and the
 * source's backoff says how long to wait:
 *
 *   2xx, stream ended by the server   network ladder (first retry at once)
 *   curl error (refused, reset, TLS)  network ladder
 *   401, 403                          stopped: the credentials are wrong
 *   204 on SSE                        stopped: the server says "no more"
 *   429 (420)                         rate-limit ladder, or the reset time
 *   other 4xx, 5xx                    HTTP ladder
 *   200 with an HTML body             HTTP ladder (a proxy's error page)
 *
 * The bearer token is read from the configured file or variable when the
 * source first starts, sent only in the Authorization header, and never
 * logged.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "brandmon/buf.h"
#include "brandmon/time.h"

#include "stream/stream_int.h"

#define ERRBODY_MAX     300           /* bytes of an error body we log */
#define POLL_BODY_MULT  8             /* a page may be 8 frames long */
#define CONNECT_MS      10000L        /* TCP + TLS connect timeout */
#define POLL_TIMEOUT_MS 60000L        /* a whole poll */
#define SINCE_OVERLAP   (120 * 1000)  /* search indexes lag (streams README) */
#define SINCE_FIRST     (3600 * 1000) /* the first poll looks an hour back */

struct http {
    CURL *easy;                 /* owned; reused for every connection */
    struct curl_slist *headers; /* owned: rebuilt per connection */
    char errbuf[CURL_ERROR_SIZE];
    struct bm_framer *framer; /* owned (streams) */
    bool busy;                /* a transfer is in the multi */
    long status;              /* of the response being received */
    bool headers_done;
    bool not_a_stream; /* the body is HTML: we aborted */
    char content_type[96];
    int64_t rl_until_ms;   /* wall ms a rate limit lifts, 0: unknown */
    long rl_remaining;     /* -1: unknown */
    struct bm_buf errbody; /* the start of an error response */
    struct bm_buf body;    /* polls: the page */
    bool body_too_big;
    struct event *poll_timer; /* owned (polls): the next poll */
    int64_t newest_ms;        /* polls: newest post time seen */
    char *url;                /* owned (polls): the URL with {since} */
};

static struct http *impl(struct bm_source *src)
{
    return src->impl;
}

static bool is_sse(const struct bm_source *src)
{
    return src->ops->transport == BM_TRANSPORT_STREAM &&
           src->ops->framer == BM_FRAMER_SSE;
}

/* ---- frames ---- */

static bool event_wanted(const struct bm_source *src, const char *event)
{
    const char *const *list = src->ops->events;

    if (src->cfg->nevents) {
        for (size_t i = 0; i < src->cfg->nevents; i++)
            if (strcmp(src->cfg->events[i], event) == 0)
                return true;
        return false;
    }
    if (!list)
        return true;
    for (; *list; list++)
        if (strcmp(*list, event) == 0)
            return true;
    return false;
}

static int frame_cb(const struct bm_frame *f, void *arg)
{
    struct bm_source *src = arg;

    switch (f->kind) {
    case BM_FRAME_KEEPALIVE:
        src->stats.c[BM_SC_KEEPALIVES]++;
        break;
    case BM_FRAME_TOO_BIG:
        source_skip(src, BM_SKIP_TOO_LONG, NULL);
        break;
    case BM_FRAME_DATA:
        src->stats.c[BM_SC_FRAMES]++;
        if (f->event && !event_wanted(src, f->event)) {
            src->stats.c[BM_SC_IGNORED]++;
            break;
        }
        source_message(src, f->data, f->len);
        break;
    }
    return 0;
}

/* ---- curl callbacks (no curl calls from in here) ---- */

/* A header's value when @line is "NAME: value", else NULL. */
static const char *header_value(const char *line, size_t n, const char *name,
                                char *out, size_t outn)
{
    size_t k = strlen(name), v, e;

    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return NULL;
    for (v = k + 1; v < n && (line[v] == ' ' || line[v] == '\t'); v++)
        ;
    for (e = n; e > v && isspace((unsigned char)line[e - 1]); e--)
        ;
    if (e - v >= outn)
        e = v + outn - 1;
    memcpy(out, line + v, e - v);
    out[e - v] = '\0';
    return out;
}

/*
 * A rate-limit reset: APIs send either epoch seconds (X, Bluesky) or
 * seconds from now (Reddit, Retry-After); a value past 10^9 is epoch.
 */
static void note_reset(struct http *h, const char *value)
{
    double v = strtod(value, NULL);
    int64_t now = bm_time_now_ms(), until;

    if (v <= 0)
        return;
    until = v > 1e9 ? (int64_t)(v * 1000) : now + (int64_t)(v * 1000);
    if (until > h->rl_until_ms)
        h->rl_until_ms = until;
}

static size_t header_cb(char *buf, size_t size, size_t n, void *arg)
{
    struct bm_source *src = arg;
    struct http *h = impl(src);
    size_t len = size * n;
    char v[96];

    source_alive(src);
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* A new response (the first, or after a redirect). */
        const char *sp = memchr(buf, ' ', len);

        h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        h->headers_done = false;
        h->content_type[0] = '\0';
        h->rl_remaining = -1;
        return len;
    }
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        h->headers_done = true;
        if (h->status >= 200 && h->status < 300 &&
            src->ops->transport == BM_TRANSPORT_STREAM &&
            src->state == BM_SOURCE_CONNECTING) {
            src->connected_at = bm_now_ms();
            source_set_state(src, BM_SOURCE_STREAMING);
            SRC_LOG(BM_LOG_INFO, src, "connected (HTTP %ld)", h->status);
        }
        return len;
    }
    if (header_value(buf, len, "content-type", v, sizeof(v)))
        snprintf(h->content_type, sizeof(h->content_type), "%s", v);
    else if (header_value(buf, len, "x-rate-limit-remaining", v, sizeof(v)) ||
             header_value(buf, len, "x-ratelimit-remaining", v, sizeof(v)) ||
             header_value(buf, len, "ratelimit-remaining", v, sizeof(v)))
        h->rl_remaining = (long)strtod(v, NULL);
    else if (header_value(buf, len, "x-rate-limit-reset", v, sizeof(v)) ||
             header_value(buf, len, "x-ratelimit-reset", v, sizeof(v)) ||
             header_value(buf, len, "ratelimit-reset", v, sizeof(v)) ||
             header_value(buf, len, "retry-after", v, sizeof(v)))
        note_reset(h, v);
    return len;
}

static bool html_body(const struct http *h)
{
    return strncasecmp(h->content_type, "text/html", 9) == 0;
}

static size_t write_cb(char *ptr, size_t size, size_t n, void *arg)
{
    struct bm_source *src = arg;
    struct http *h = impl(src);
    size_t len = size * n;

    source_alive(src);
    src->stats.c[BM_SC_BYTES] += len;
    if (h->status < 200 || h->status >= 300) {
        if (h->errbody.len < ERRBODY_MAX)
            bm_buf_append(&h->errbody, ptr,
                          len < ERRBODY_MAX - h->errbody.len
                              ? len
                              : ERRBODY_MAX - h->errbody.len);
        return len;
    }
    if (html_body(h)) {
        /* A captive portal or a proxy's error page, not the API. */
        h->not_a_stream = true;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (h->framer) {
        if (bm_framer_feed(h->framer, ptr, len) < 0)
            return 0;
        return len;
    }
    if (h->body.len + len > src->max_frame * POLL_BODY_MULT) {
        h->body_too_big = true;
        return len;
    }
    if (bm_buf_append(&h->body, ptr, len))
        return 0;
    return len;
}

/* ---- requests ---- */

/* Appends "NAME: value" (@value NULL: @name is the whole line). */
static int add_header(struct http *h, const char *name, const char *value)
{
    char line[1024];
    struct curl_slist *l;

    if (value)
        snprintf(line, sizeof(line), "%s: %s", name, value);
    else
        snprintf(line, sizeof(line), "%s", name);
    l = curl_slist_append(h->headers, line);
    explicit_bzero(line, sizeof(line));
    if (!l)
        return -ENOMEM;
    h->headers = l;
    return 0;
}

static int add_bearer(struct http *h, const char *token)
{
    char value[1000];
    int err;

    snprintf(value, sizeof(value), "Bearer %s", token);
    err = add_header(h, "Authorization", value);
    explicit_bzero(value, sizeof(value));
    return err;
}

static int build_headers(struct bm_source *src)
{
    struct http *h = impl(src);
    const struct bm_source_config *cfg = src->cfg;
    int err = 0;

    curl_slist_free_all(h->headers);
    h->headers = NULL;
    if (src->token)
        err = add_bearer(h, src->token);
    if (!err && src->ops->accept)
        err = add_header(h, "Accept", src->ops->accept);
    if (!err && is_sse(src)) {
        const char *id = bm_framer_last_event_id(h->framer);

        err = add_header(h, "Cache-Control", "no-cache");
        if (!err && id && *id)
            err = add_header(h, "Last-Event-ID", id);
    }
    for (size_t i = 0; !err && i < cfg->nheaders; i++)
        err = add_header(h, cfg->headers[i], NULL);
    return err;
}

static int read_token(struct bm_source *src)
{
    const char *why;

    if (src->token || (!src->cfg->token_file && !src->cfg->token_env))
        return 0;
    src->token =
        bm_config_secret(src->cfg->token_file, src->cfg->token_env, &why);
    if (!src->token) {
        char msg[160];

        snprintf(msg, sizeof(msg), "cannot read the token: %s", why);
        source_give_up(src, msg);
        return -EACCES;
    }
    return 0;
}

static void done_cb(CURL *easy, CURLcode result, void *arg);

static void set_options(struct bm_source *src, const char *url)
{
    struct http *h = impl(src);
    CURL *e = h->easy;
    char ua[128];

    snprintf(ua, sizeof(ua), "brandmond/%s", BM_VERSION);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT,
                     src->cfg->user_agent ? src->cfg->user_agent : ua);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, src);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, src);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* gzip is welcome: what it inflates to still meets the frame ceiling. */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    /* A stream has no end; a poll that takes a minute has failed. */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     src->ops->transport == BM_TRANSPORT_POLL ? POLL_TIMEOUT_MS
                                                              : 0L);
}

static void begin(struct bm_source *src, const char *url)
{
    struct http *h = impl(src);

    h->status = 0;
    h->headers_done = false;
    h->not_a_stream = false;
    h->content_type[0] = '\0';
    h->errbuf[0] = '\0';
    h->rl_remaining = -1;
    bm_buf_reset(&h->errbody);
    bm_buf_reset(&h->body);
    h->body_too_big = false;
    if (h->framer)
        bm_framer_reset(h->framer);
    if (build_headers(src)) {
        source_retry(src, BM_BACKOFF_NETWORK, 1000, "out of memory");
        return;
    }
    set_options(src, url);
    src->stats.c[BM_SC_CONNECTS]++;
    source_set_state(src, BM_SOURCE_CONNECTING);
    if (bm_curlev_add(source_curlev(src), h->easy, done_cb, src)) {
        source_retry(src, BM_BACKOFF_NETWORK, 1000, "cannot start a transfer");
        return;
    }
    h->busy = true;
    source_watch_stall(src);
}

static void http_stop(struct bm_source *src)
{
    struct http *h = impl(src);

    if (h->busy) {
        bm_curlev_remove(source_curlev(src), h->easy);
        h->busy = false;
    }
    if (h->poll_timer)
        evtimer_del(h->poll_timer);
}

/* ---- when a transfer ends ---- */

/* One line about an error body, safe to log: printable ASCII only. */
static void describe_body(const struct http *h, char *out, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < h->errbody.len && o + 1 < n; i++) {
        unsigned char c = (unsigned char)h->errbody.data[i];

        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    out[o] = '\0';
}

static void poll_next(struct bm_source *src, uint64_t wait_ms);

/* Sorts a failed or finished transfer into the retry policy. */
static void judge(struct bm_source *src, CURLcode result)
{
    struct http *h = impl(src);
    char why[CURL_ERROR_SIZE + 512], body[ERRBODY_MAX + 1];
    int64_t now = bm_time_now_ms();
    uint64_t min_wait = 0;

    describe_body(h, body, sizeof(body));
    if (h->not_a_stream) {
        source_skip(src, BM_SKIP_NOT_A_STREAM, h->content_type);
        source_retry(src, BM_BACKOFF_HTTP, 0,
                     "an HTML page came instead of the API's answer");
        return;
    }
    if (h->status == 401 || h->status == 403) {
        src->stats.c[BM_SC_HTTP_ERRORS]++;
        snprintf(why, sizeof(why),
                 "HTTP %ld: the credentials were refused (check the token "
                 "and its permissions) %s",
                 h->status, body);
        source_give_up(src, why);
        return;
    }
    if (h->status == 204 && is_sse(src)) {
        source_give_up(src, "HTTP 204: the server asks us not to reconnect");
        return;
    }
    if (h->status == 429 || h->status == 420) {
        src->stats.c[BM_SC_RATE_LIMITED]++;
        if (h->rl_until_ms > now)
            min_wait = (uint64_t)(h->rl_until_ms - now);
        snprintf(why, sizeof(why), "HTTP %ld: rate limited %s", h->status,
                 body);
        source_retry(src, BM_BACKOFF_RATE_LIMIT, min_wait, why);
        return;
    }
    if (h->status >= 300) {
        src->stats.c[BM_SC_HTTP_ERRORS]++;
        snprintf(why, sizeof(why), "HTTP %ld %s", h->status, body);
        source_retry(src, BM_BACKOFF_HTTP, 0, why);
        return;
    }
    if (result != CURLE_OK)
        snprintf(why, sizeof(why), "connection failed: %s",
                 h->errbuf[0] ? h->errbuf : curl_easy_strerror(result));
    else if (src->ops->transport == BM_TRANSPORT_POLL) {
        poll_next(src, 0);
        return;
    } else
        snprintf(why, sizeof(why), "the server ended the stream");
    /* An SSE server's `retry:` replaces the first wait (WHATWG); repeated
     * failures still back off from there. */
    if (is_sse(src) && bm_framer_retry_ms(h->framer) >= 0)
        source_retry_from(src, (uint64_t)bm_framer_retry_ms(h->framer), why);
    else
        source_retry(src, BM_BACKOFF_NETWORK, 0, why);
}

static void done_cb(CURL *easy, CURLcode result, void *arg)
{
    struct bm_source *src = arg;
    struct http *h = impl(src);

    (void)easy;
    h->busy = false;
    if (h->framer) {
        /* A frame cut short by a dropped connection is not decided. */
        if (result != CURLE_OK && bm_framer_pending(h->framer))
            source_skip(src, BM_SKIP_TRUNCATED, NULL);
        if (result == CURLE_OK)
            bm_framer_finish(h->framer);
        bm_framer_reset(h->framer);
    }
    if (src->stopping)
        return;
    if (src->ops->transport == BM_TRANSPORT_POLL && result == CURLE_OK &&
        h->status >= 200 && h->status < 300 && !h->not_a_stream) {
        if (h->body_too_big)
            source_skip(src, BM_SKIP_TOO_LONG, "the page");
        else
            source_message(src, h->body.data ? h->body.data : "", h->body.len);
        bm_backoff_reset(&src->backoff);
    }
    judge(src, result);
}

/* ---- the stream transport ---- */

static int http_init(struct bm_source *src)
{
    struct http *h = calloc(1, sizeof(*h));

    if (!h)
        return -ENOMEM;
    src->impl = h;
    h->rl_remaining = -1;
    h->easy = curl_easy_init();
    if (!h->easy)
        return -ENOMEM;
    if (src->ops->transport == BM_TRANSPORT_STREAM) {
        h->framer = bm_framer_new((enum bm_framer_type)src->ops->framer,
                                  src->max_frame, frame_cb, src);
        if (!h->framer)
            return -ENOMEM;
    }
    return 0;
}

static void http_free(struct bm_source *src)
{
    struct http *h = impl(src);

    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->headers);
    bm_framer_free(h->framer);
    bm_buf_release(&h->errbody);
    bm_buf_release(&h->body);
    if (h->poll_timer)
        event_free(h->poll_timer);
    free(h->url);
    free(h);
    src->impl = NULL;
}

static void stream_start(struct bm_source *src)
{
    if (read_token(src))
        return;
    begin(src, src->cfg->url);
}

static bool stream_cursor(const struct bm_source *src, struct bm_cursor *out)
{
    const struct http *h = src->impl;
    const char *id;

    if (!is_sse(src))
        return false;
    id = bm_framer_last_event_id(h->framer);
    if (!id || !*id)
        return false;
    snprintf(out->last_event_id, sizeof(out->last_event_id), "%s", id);
    return true;
}

static void stream_restore(struct bm_source *src, const struct bm_cursor *c)
{
    struct http *h = impl(src);

    if (is_sse(src) && c->last_event_id[0] &&
        bm_framer_set_last_event_id(h->framer, c->last_event_id) == 0)
        SRC_LOG(BM_LOG_INFO, src, "resuming after event id %s",
                c->last_event_id);
}

const struct transport_ops bm_transport_http_stream = {
    .init = http_init,
    .start = stream_start,
    .stop = http_stop,
    .free = http_free,
    .cursor = stream_cursor,
    .restore = stream_restore,
};

/* ---- the poll transport ---- */

/* The URL with {since} (epoch seconds) and {since_iso} filled in. */
static char *expand_url(struct bm_source *src)
{
    struct http *h = impl(src);
    int64_t since = h->newest_ms ? h->newest_ms - SINCE_OVERLAP
                                 : bm_time_now_ms() - SINCE_FIRST;
    struct bm_buf out = BM_BUF_INIT;
    char iso[32];
    int err = 0;

    bm_time_format_iso8601(since, iso);
    for (const char *p = src->cfg->url; *p && !err; p++) {
        if (strncmp(p, "{since}", 7) == 0) {
            err = bm_buf_printf(&out, "%lld", (long long)(since / 1000));
            p += 6;
        } else if (strncmp(p, "{since_iso}", 11) == 0) {
            err = bm_buf_puts(&out, iso);
            p += 10;
        } else {
            err = bm_buf_putc(&out, *p);
        }
    }
    if (err) {
        bm_buf_release(&out);
        return NULL;
    }
    return bm_buf_detach(&out);
}

static void poll_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bm_source *src = arg;
    struct http *h = impl(src);

    (void)fd;
    (void)what;
    free(h->url);
    h->url = expand_url(src);
    if (!h->url) {
        source_retry(src, BM_BACKOFF_NETWORK, 1000, "out of memory");
        return;
    }
    begin(src, h->url);
}

/* Schedules the next poll: the interval, or later when the API says its
 * rate limit is spent. */
static void poll_next(struct bm_source *src, uint64_t wait_ms)
{
    struct http *h = impl(src);
    int64_t now = bm_time_now_ms();
    struct timeval tv;

    evtimer_del(src->stall_timer);
    if (!wait_ms)
        wait_ms = src->cfg->interval_ms;
    if (h->rl_remaining == 0 && h->rl_until_ms > now &&
        (uint64_t)(h->rl_until_ms - now) > wait_ms)
        wait_ms = (uint64_t)(h->rl_until_ms - now);
    source_set_state(src, BM_SOURCE_STREAMING);
    tv.tv_sec = (time_t)(wait_ms / 1000);
    tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
    evtimer_add(h->poll_timer, &tv);
}

static int poll_init(struct bm_source *src)
{
    int err = http_init(src);

    if (err)
        return err;
    impl(src)->poll_timer = evtimer_new(source_base(src), poll_timer_cb, src);
    return impl(src)->poll_timer ? 0 : -ENOMEM;
}

static void poll_start(struct bm_source *src)
{
    if (read_token(src))
        return;
    poll_timer_cb(-1, 0, src);
}

static bool poll_cursor(const struct bm_source *src, struct bm_cursor *out)
{
    const struct http *h = src->impl;

    out->newest_ms = h->newest_ms;
    return h->newest_ms != 0;
}

static void poll_restore(struct bm_source *src, const struct bm_cursor *c)
{
    if (c->newest_ms > 0)
        impl(src)->newest_ms = c->newest_ms;
}

const struct transport_ops bm_transport_http_poll = {
    .init = poll_init,
    .start = poll_start,
    .stop = http_stop,
    .free = http_free,
    .cursor = poll_cursor,
    .restore = poll_restore,
};

void http_note_post(struct bm_source *src, const struct bm_post *post)
{
    struct http *h = impl(src);

    if (src->ops->transport == BM_TRANSPORT_POLL && post->created_ms &&
        post->created_ms > h->newest_ms)
        h->newest_ms = post->created_ms;
}
