/*
 * metrics.c - /metrics and /health over HTTP, and the Prometheus text format.
 *
 * An evhttp server on the daemon's event_base listens on one address and
 * answers GET (or HEAD) /metrics with whatever the collect callback writes,
 * and /health with the health callback's report and 200 or 503; any other
 * path is 404 and any other method 405. Each request builds its body afresh
 * in a bm_buf, so nothing is cached between scrapes. The module does not
 * decide what is reported, does not check that the address is loopback (the
 * config loader does), and speaks plain HTTP only. The helpers at the end
 * write the text format (version 0.0.4) and know nothing about HTTP.
 */
#include "brandmon/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* Requests are tiny; anything larger is not a scraper. */
#define HTTP_MAX_HEADERS 8192
#define HTTP_MAX_BODY    1024
/* Seconds a client may take to send its request or read the answer. */
#define HTTP_TIMEOUT_SEC 10
/* Longest host part of the listen address. */
#define HOST_MAX 256

#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_TEXT    "text/plain; charset=utf-8"

struct bm_metrics {
    struct evhttp *http; /* owned */
    /* borrowed: http, freed with it by evhttp_free() */
    struct evhttp_bound_socket *sock;
    bm_metrics_collect_fn collect;
    bm_health_fn health;
    /* borrowed: the caller's, passed to both callbacks */
    void *arg;
};

/*
 * Splits "HOST:PORT" or "[V6]:PORT" into @host (without brackets) and
 * @port. False when the shape is wrong, the host empty or too long, or the
 * port not a number in 0..65535.
 */
static bool parse_listen(const char *listen, char *host, size_t hostsz,
                         uint16_t *port)
{
    const char *h, *colon, *p;
    size_t hlen;
    unsigned long v = 0;

    if (!listen)
        return false;
    if (listen[0] == '[') {
        h = listen + 1;
        colon = strchr(h, ']');
        if (!colon || colon[1] != ':')
            return false;
        hlen = (size_t)(colon - h);
        colon++;
    } else {
        h = listen;
        colon = strchr(h, ':');
        /* A bare IPv6 address is ambiguous; it needs brackets. */
        if (!colon || strchr(colon + 1, ':'))
            return false;
        hlen = (size_t)(colon - h);
    }
    if (hlen == 0 || hlen >= hostsz)
        return false;
    p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)v;
    return true;
}

/* Sends @body (NULL for none) with @code; HEAD gets the headers only. */
static void reply(struct evhttp_request *req, int code, const char *reason,
                  const char *type, const struct bm_buf *body)
{
    struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    size_t len = body ? body->len : 0;
    char clen[32];

    evhttp_add_header(hdrs, "Content-Type", type);
    evhttp_add_header(hdrs, "Cache-Control", "no-store");
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* evhttp would send a body given to a HEAD request, and leaves
         * Content-Length to us. */
        snprintf(clen, sizeof(clen), "%zu", len);
        evhttp_add_header(hdrs, "Content-Length", clen);
    } else if (len > 0 && evbuffer_add(out, body->data, len) < 0) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    /* NULL: the body is already in the request's own output buffer. */
    evhttp_send_reply(req, code, reason, NULL);
}

static void reply_fixed(struct evhttp_request *req, int code,
                        const char *reason, const char *text)
{
    struct bm_buf b = BM_BUF_INIT;

    if (bm_buf_puts(&b, text) < 0) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    reply(req, code, reason, TYPE_TEXT, &b);
    bm_buf_release(&b);
}

static void serve_metrics(struct bm_metrics *m, struct evhttp_request *req)
{
    struct bm_buf b = BM_BUF_INIT;

    if (m->collect)
        m->collect(&b, m->arg);
    reply(req, HTTP_OK, "OK", TYPE_METRICS, &b);
    bm_buf_release(&b);
}

static void serve_health(struct bm_metrics *m, struct evhttp_request *req)
{
    struct bm_buf b = BM_BUF_INIT;
    bool ok = true;

    if (m->health)
        ok = m->health(&b, m->arg);
    if (ok)
        reply(req, HTTP_OK, "OK", TYPE_TEXT, &b);
    else
        reply(req, HTTP_SERVUNAVAIL, "Service Unavailable", TYPE_TEXT, &b);
    bm_buf_release(&b);
}

static void request_cb(struct evhttp_request *req, void *arg)
{
    struct bm_metrics *m = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        reply_fixed(req, HTTP_BADMETHOD, "Method Not Allowed",
                    "method not allowed\n");
        return;
    }
    if (path && strcmp(path, "/metrics") == 0)
        serve_metrics(m, req);
    else if (path && strcmp(path, "/health") == 0)
        serve_health(m, req);
    else
        reply_fixed(req, HTTP_NOTFOUND, "Not Found", "not found\n");
}

struct bm_metrics *bm_metrics_new(struct event_base *base, const char *listen,
                                  bm_metrics_collect_fn collect,
                                  bm_health_fn health, void *arg,
                                  const char **err)
{
    struct bm_metrics *m;
    const char *why;
    char host[HOST_MAX];
    uint16_t port;

    if (!parse_listen(listen, host, sizeof(host), &port)) {
        why = "metrics listen address must be HOST:PORT or [IPV6]:PORT";
        goto out_err;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        why = "out of memory";
        goto out_err;
    }
    m->collect = collect;
    m->health = health;
    m->arg = arg;
    m->http = evhttp_new(base);
    if (!m->http) {
        why = "cannot create the metrics HTTP server";
        goto out_free_m;
    }
    /* Methods evhttp does not allow never reach request_cb (it answers
     * 501); these do, and get a 405 with Allow. */
    evhttp_set_allowed_methods(
        m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(m->http, HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(m->http, HTTP_MAX_BODY);
    evhttp_set_timeout(m->http, HTTP_TIMEOUT_SEC);
    evhttp_set_gencb(m->http, request_cb, m);
    m->sock = evhttp_bind_socket_with_handle(m->http, host, port);
    if (!m->sock) {
        why = "cannot listen on the metrics address (in use, or not a "
              "local address)";
        goto out_free_http;
    }
    return m;

out_free_http:
    evhttp_free(m->http);
out_free_m:
    free(m);
out_err:
    if (err)
        *err = why;
    return NULL;
}

void bm_metrics_free(struct bm_metrics *m)
{
    if (!m)
        return;
    evhttp_free(m->http);
    free(m);
}

int bm_metrics_port(const struct bm_metrics *m)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(m->sock);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

/* Appends @s with backslash, newline and (when @quote) '"' escaped. */
static void put_escaped(struct bm_buf *out, const char *s, bool quote)
{
    const char *run = s;

    for (; *s; s++) {
        const char *esc = NULL;

        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (*s == '"' && quote)
            esc = "\\\"";
        if (!esc)
            continue;
        (void)bm_buf_append(out, run, (size_t)(s - run));
        (void)bm_buf_puts(out, esc);
        run = s + 1;
    }
    (void)bm_buf_append(out, run, (size_t)(s - run));
}

void bm_metrics_family(struct bm_buf *out, const char *name, const char *type,
                       const char *help)
{
    (void)bm_buf_printf(out, "# HELP %s ", name);
    put_escaped(out, help ? help : "", false);
    (void)bm_buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void bm_metrics_sample(struct bm_buf *out, const char *name, const char *labels,
                       double value)
{
    /* Below 2^53 every whole double is an exact integer; printed as one so
     * counters never read as 1e+06 or 3.0, whatever %g would choose. */
    const double exact = 9007199254740992.0;

    (void)bm_buf_puts(out, name);
    if (labels && *labels)
        (void)bm_buf_printf(out, "{%s}", labels);
    if (isnan(value))
        (void)bm_buf_puts(out, " NaN\n");
    else if (isinf(value))
        (void)bm_buf_puts(out, value > 0 ? " +Inf\n" : " -Inf\n");
    else if (value == 0)
        (void)bm_buf_puts(out, " 0\n"); /* -0 too */
    else if (fabs(value) < exact && value == trunc(value))
        (void)bm_buf_printf(out, " %lld\n", (long long)value);
    else
        (void)bm_buf_printf(out, " %.17g\n", value);
}

void bm_metrics_label_value(struct bm_buf *out, const char *s)
{
    put_escaped(out, s, true);
}
