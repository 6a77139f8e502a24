/*
 * mockws.c - a small WebSocket server that plays Jetstream for brandmon's
 * integration tests.
 *
 * Integration tests start it as a child process:
 *
 *     mockws --frames FILE --port-file FILE [--log FILE] [--max-seconds N]
 *            [--pause-ms N] [--close-after N] [--at-end hang|close]
 *            [--pings answer|ignore] [--refuse N]
 *
 * Like mockstream, it listens on 127.0.0.1 only, on a port the kernel picks,
 * and writes that port as decimal and "\n" to --port-file (through a
 * temporary name and rename()). It serves until SIGTERM or SIGINT and then
 * exits 0; after --max-seconds (default 300) it stops by itself, and on
 * Linux it also stops when its parent dies.
 *
 * Each line of --frames (blank lines skipped, a trailing "\r" dropped) is
 * one text frame. A connection gets the frames from the first one whose
 * top-level "time_us" is at least the request's `cursor` parameter (all of
 * them without one), one every --pause-ms (default 0: all at once). Then:
 *
 *   --close-after N     after N frames on one connection, send a close
 *                       frame (1000), half-close the socket and drop it when
 *                       the client closes (or after a second);
 *   --at-end hang|close when the frames run out, stay open (default) or
 *                       close as above;
 *   --pings ignore      never read the client's frames: no pong, no answer
 *                       to a close (a server that has gone silent); the
 *                       default, answer, answers pings as a server must;
 *   --refuse N          the first N upgrade requests get HTTP 503.
 *
 * Every upgrade request appends one JSON line to --log as it arrives:
 * {"t_ms", "method", "path", "query", "n", "headers"}, where t_ms is
 * monotonic milliseconds since start, n the connection's index from 0,
 * query the raw query string or null, and header names are lower-cased
 * (repeats joined with ", ").
 *
 * What it does not do: TLS, compression, fragmented sends, filtering by
 * wantedCollections, or listening anywhere but the loopback address.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

/* sysexits(3), spelled out. */
#define EXIT_USAGE     64
#define EXIT_DATAERR   65
#define EXIT_NOINPUT   66
#define EXIT_OSERR     71
#define EXIT_CANTCREAT 73

#define DEFAULT_MAX_SECONDS 300
#define HEAD_MAX            16384
#define LINGER_MS           1000 /* after our close frame, at most */
#define WS_GUID             "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum at_end { AT_END_HANG, AT_END_CLOSE };

struct options {
    const char *frames;
    const char *port_file;
    const char *log;
    long long max_seconds;
    long long pause_ms;
    long long close_after; /* 0: never */
    long long refuse;      /* upgrade requests answered 503 */
    enum at_end at_end;
    bool answer_pings;
};

/* One line of --frames. */
struct frame {
    char *text; /* owned */
    size_t len;
    int64_t time_us; /* 0 when the line has none */
};

struct conn;

struct server {
    struct event_base *base;   /* owned */
    const struct options *opt; /* borrowed: main() */
    struct frame *frames;      /* owned: nframes entries */
    size_t nframes;
    int log_fd; /* owned; -1 without --log */
    uint64_t start_us;
    long long accepted; /* connections so far */
    struct conn *conns; /* owned: every open connection */
};

enum conn_phase {
    PHASE_HEAD,    /* reading the upgrade request */
    PHASE_OPEN,    /* sending frames */
    PHASE_CLOSING, /* our close frame (or an error answer) is on its way */
    PHASE_LINGER,  /* half-closed, waiting for the client to go */
};

struct conn {
    struct server *srv;          /* borrowed: main() */
    struct conn *next;           /* borrowed: the next in srv->conns */
    struct bufferevent *bev;     /* owned */
    wslay_event_context_ptr ctx; /* owned, after the upgrade */
    struct event *timer;         /* owned: next frame, or the linger */
    enum conn_phase phase;
    long long n;    /* index among connections */
    size_t pos;     /* next frame to send */
    long long sent; /* frames sent on this connection */
    int in_cb;      /* inside one of our callbacks */
    bool doomed;    /* free when the callback returns */
};

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                   */
/* ------------------------------------------------------------------------ */

static void frames_free(struct server *srv)
{
    for (size_t i = 0; i < srv->nframes; i++)
        free(srv->frames[i].text);
    free(srv->frames);
    srv->frames = NULL;
    srv->nframes = 0;
}

static int64_t line_time_us(const char *text, size_t len)
{
    json_t *doc = json_loadb(text, len, 0, NULL);
    json_t *t = json_object_get(doc, "time_us");
    int64_t v = json_is_integer(t) ? (int64_t)json_integer_value(t) : 0;

    json_decref(doc);
    return v;
}

static int load_frames(struct server *srv, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, have = 0;
    ssize_t got;
    int rc = 0;

    if (!f) {
        fprintf(stderr, "mockws: %s: %s\n", path, strerror(errno));
        return EXIT_NOINPUT;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)got;
        struct frame *fr;

        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (srv->nframes == have) {
            size_t ncap = have ? have * 2 : 64;
            struct frame *nf = realloc(srv->frames, ncap * sizeof(*nf));

            if (!nf) {
                rc = EXIT_OSERR;
                break;
            }
            srv->frames = nf;
            have = ncap;
        }
        fr = &srv->frames[srv->nframes];
        fr->text = malloc(len + 1);
        if (!fr->text) {
            rc = EXIT_OSERR;
            break;
        }
        memcpy(fr->text, line, len);
        fr->text[len] = '\0';
        fr->len = len;
        fr->time_us = line_time_us(fr->text, len);
        srv->nframes++;
    }
    free(line);
    fclose(f);
    if (rc)
        frames_free(srv);
    return rc;
}

/* The first frame to send for a request whose query is @query. */
static size_t first_frame(const struct server *srv, const char *query)
{
    const char *p = query;
    long long cursor = -1;

    while (p && *p) {
        if (strncmp(p, "cursor=", 7) == 0)
            cursor = strtoll(p + 7, NULL, 10);
        p = strchr(p, '&');
        if (p)
            p++;
    }
    if (cursor < 0)
        return 0;
    for (size_t i = 0; i < srv->nframes; i++)
        if (srv->frames[i].time_us >= cursor)
            return i;
    return srv->nframes;
}

/* ------------------------------------------------------------------------ */
/* The request log                                                          */
/* ------------------------------------------------------------------------ */

static void log_line(struct server *srv, json_t *line)
{
    char *text = json_dumps(line, JSON_COMPACT);
    size_t len, off = 0;

    if (!text)
        return;
    len = strlen(text);
    text[len] = '\n'; /* over the NUL: written by length */
    while (off < len + 1) {
        ssize_t w = write(srv->log_fd, text + off, len + 1 - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "mockws: cannot write the log: %s\n",
                    strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    free(text);
}

/* Lower-cases @name in place. */
static void lower(char *name)
{
    for (; *name; name++)
        *name = (char)tolower((unsigned char)*name);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

static void conn_free(struct conn *c)
{
    struct conn **pp;

    for (pp = &c->srv->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (c->ctx)
        wslay_event_context_free(c->ctx);
    if (c->timer)
        event_free(c->timer);
    if (c->bev)
        bufferevent_free(c->bev);
    free(c);
}

/* Ends @c when the callback running returns: it is only ever called from
 * inside one (between enter() and leave()), and leave() frees it. Never
 * freeing here keeps the pointer valid for leave(). */
static void conn_end(struct conn *c)
{
    c->doomed = true;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
}

static void enter(struct conn *c)
{
    c->in_cb++;
}

/* False when @c was freed. */
static bool leave(struct conn *c)
{
    if (--c->in_cb == 0 && c->doomed) {
        conn_free(c);
        return false;
    }
    return true;
}

static void arm_ms(struct conn *c, long long ms)
{
    struct timeval tv = { (time_t)(ms / 1000),
                          (suseconds_t)(ms % 1000) * 1000 };

    event_add(c->timer, &tv);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                       int flags, void *arg)
{
    struct conn *c = arg;
    int n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);

    (void)flags;
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *arg)
{
    struct conn *c = arg;

    (void)flags;
    if (bufferevent_write(c->bev, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static const struct wslay_event_callbacks server_callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
};

/* Our close frame went out: half-close, and wait for the client a while. */
static void linger(struct conn *c)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);

    c->phase = PHASE_LINGER;
    if (fd >= 0)
        shutdown(fd, SHUT_WR);
    event_del(c->timer);
    arm_ms(c, LINGER_MS);
}

/* Starts the closing handshake (or, before the upgrade, just closing). */
static void start_close(struct conn *c)
{
    c->phase = PHASE_CLOSING;
    event_del(c->timer);
    if (c->ctx) {
        (void)wslay_event_queue_close(c->ctx, WSLAY_CODE_NORMAL_CLOSURE,
                                      (const uint8_t *)"bye", 3);
        if (wslay_event_send(c->ctx) != 0) {
            conn_end(c);
            return;
        }
    }
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        linger(c);
    /* else: the write callback lingers once the output is out */
}

static void send_next(struct conn *c)
{
    const struct options *opt = c->srv->opt;
    struct frame *fr;

    while (c->phase == PHASE_OPEN) {
        if (opt->close_after && c->sent >= opt->close_after) {
            start_close(c);
            return;
        }
        if (c->pos >= c->srv->nframes) {
            if (opt->at_end == AT_END_CLOSE)
                start_close(c);
            return;
        }
        fr = &c->srv->frames[c->pos++];
        {
            struct wslay_event_msg msg = { WSLAY_TEXT_FRAME,
                                           (const uint8_t *)fr->text, fr->len };

            if (wslay_event_queue_msg(c->ctx, &msg) != 0 ||
                wslay_event_send(c->ctx) != 0) {
                conn_end(c);
                return;
            }
        }
        c->sent++;
        if (opt->pause_ms > 0) {
            arm_ms(c, opt->pause_ms);
            return;
        }
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    (void)what;
    enter(c);
    if (c->phase == PHASE_OPEN)
        send_next(c);
    else if (c->phase == PHASE_LINGER)
        conn_end(c);
    leave(c);
}

/* Answers the upgrade request in the input, once it is whole. */
static void read_head(struct conn *c)
{
    struct server *srv = c->srv;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer_ptr at = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    json_t *headers = NULL, *logline = NULL;
    char *head = NULL, *line, *save = NULL, *lsave = NULL, *method, *target;
    char *query;
    const char *key = NULL;
    char accept[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t n;

    if (at.pos < 0) {
        if (evbuffer_get_length(in) > HEAD_MAX)
            conn_end(c);
        return;
    }
    n = (size_t)at.pos + 4;
    head = malloc(n + 1);
    headers = json_object();
    if (!head || !headers)
        goto out_end;
    evbuffer_remove(in, head, n);
    head[n] = '\0';

    line = strtok_r(head, "\r\n", &save);
    method = line ? strtok_r(line, " ", &lsave) : NULL;
    target = method ? strtok_r(NULL, " ", &lsave) : NULL;
    if (!method || !target)
        goto out_end;
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *colon = strchr(line, ':'), *v;
        json_t *old;

        if (!colon)
            continue;
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        lower(line);
        old = json_object_get(headers, line);
        if (json_is_string(old)) {
            size_t jn = strlen(json_string_value(old)) + strlen(v) + 3;
            char *joined = malloc(jn);

            if (!joined)
                goto out_end;
            snprintf(joined, jn, "%s, %s", json_string_value(old), v);
            json_object_set_new(headers, line, json_string(joined));
            free(joined);
        } else {
            json_object_set_new(headers, line, json_string(v));
        }
    }
    query = strchr(target, '?');
    if (query)
        *query++ = '\0';

    logline = json_object();
    if (logline && srv->log_fd >= 0) {
        json_object_set_new(
            logline, "t_ms",
            json_integer((json_int_t)((now_us() - srv->start_us) / 1000u)));
        json_object_set_new(logline, "method", json_string(method));
        json_object_set_new(logline, "path", json_string(target));
        json_object_set_new(logline, "query",
                            query ? json_string(query) : json_null());
        json_object_set_new(logline, "n", json_integer(c->n));
        json_object_set(logline, "headers", headers);
        log_line(srv, logline);
    }

    key = json_string_value(json_object_get(headers, "sec-websocket-key"));
    if (c->n < srv->opt->refuse || strcmp(method, "GET") != 0 || !key) {
        evbuffer_add_printf(out,
                            "HTTP/1.1 %s\r\nContent-Length: 0\r\n"
                            "Connection: close\r\n\r\n",
                            key ? "503 Service Unavailable"
                                : "400 Bad Request");
        c->phase = PHASE_CLOSING;
        goto out_free;
    }
    {
        char buf[128];
        int len = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);

        if (len < 0 || (size_t)len >= sizeof(buf) ||
            !EVP_Digest(buf, (size_t)len, md, &mdlen, EVP_sha1(), NULL))
            goto out_end;
        EVP_EncodeBlock((unsigned char *)accept, md, (int)mdlen);
    }
    if (wslay_event_context_server_init(&c->ctx, &server_callbacks, c)) {
        c->ctx = NULL;
        goto out_end;
    }
    evbuffer_add_printf(out,
                        "HTTP/1.1 101 Switching Protocols\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: %s\r\n\r\n",
                        accept);
    c->phase = PHASE_OPEN;
    c->pos = first_frame(srv, query);
    send_next(c);
    goto out_free;

out_end:
    conn_end(c);
out_free:
    json_decref(logline);
    json_decref(headers);
    free(head);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    enter(c);
    if (c->phase == PHASE_HEAD) {
        read_head(c);
    } else if (!c->srv->opt->answer_pings || !c->ctx ||
               c->phase == PHASE_LINGER) {
        /* Silent: whatever the client says is read and forgotten. */
        evbuffer_drain(in, evbuffer_get_length(in));
    } else if (wslay_event_recv(c->ctx) != 0 || wslay_event_send(c->ctx) != 0) {
        conn_end(c);
    } else if (wslay_event_get_close_received(c->ctx) &&
               c->phase != PHASE_CLOSING) {
        /* The client closes: our answer is queued and sent. */
        c->phase = PHASE_CLOSING;
        event_del(c->timer);
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            linger(c);
    }
    leave(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    (void)bev;
    enter(c);
    if (c->phase == PHASE_CLOSING)
        linger(c);
    leave(c);
}

static void event_cb(struct bufferevent *bev, short events, void *arg)
{
    struct conn *c = arg;

    (void)bev;
    enter(c);
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_end(c);
    leave(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct server *srv = arg;
    struct conn *c = calloc(1, sizeof(*c));

    (void)l;
    (void)sa;
    (void)salen;
    if (!c) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->n = srv->accepted++;
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(srv->base, timer_cb, c);
    c->next = srv->conns;
    srv->conns = c;
    if (!c->bev || !c->timer) {
        if (!c->bev)
            close(fd);
        conn_free(c);
        return;
    }
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ------------------------------------------------------------------------ */
/* Process                                                                  */
/* ------------------------------------------------------------------------ */

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fprintf(stderr, "mockws: --max-seconds reached, stopping\n");
    event_base_loopbreak(arg);
}

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static int listen_loopback(unsigned *port)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
        int err = errno;

        close(fd);
        return -err;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Writes "PORT\n" to a temporary name, then renames it into place. */
static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096], text[16];
    int fd, len, rc = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof(tmp))
        return -ENAMETOOLONG;
    len = snprintf(text, sizeof(text), "%u\n", port);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (write(fd, text, (size_t)len) != len)
        rc = errno ? -errno : -EIO;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mockws --frames FILE --port-file FILE [--log FILE]\n"
               "              [--max-seconds N] [--pause-ms N] "
               "[--close-after N]\n"
               "              [--at-end hang|close] [--pings answer|ignore] "
               "[--refuse N]\n");
}

/* @value as a number in [lo, hi], or -1 after saying why. */
static long long number(const char *name, const char *value, long long lo,
                        long long hi)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(value, &end, 10);
    if (errno || *end || end == value || v < lo || v > hi) {
        fprintf(stderr, "mockws: %s: want %lld..%lld\n", name, lo, hi);
        return -1;
    }
    return v;
}

/* Returns 0, or an exit code after printing why. */
static int parse_args(int argc, char **argv, struct options *opt)
{
    static const char *const names[] = {
        "--frames",      "--port-file", "--log",
        "--max-seconds", "--pause-ms",  "--close-after",
        "--at-end",      "--pings",     "--refuse",
    };
    const size_t nnames = sizeof(names) / sizeof(names[0]);

    opt->max_seconds = DEFAULT_MAX_SECONDS;
    opt->answer_pings = true;
    opt->at_end = AT_END_HANG;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        size_t k;

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            exit(0);
        }
        for (k = 0; k < nnames; k++) {
            size_t len = strlen(names[k]);

            if (!strncmp(arg, names[k], len) &&
                (arg[len] == '\0' || arg[len] == '=')) {
                if (arg[len] == '=')
                    value = arg + len + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                break;
            }
        }
        if (k == nnames || !value) {
            fprintf(stderr, "mockws: %s: %s\n", arg,
                    k == nnames ? "unknown option" : "needs a value");
            usage(stderr);
            return EXIT_USAGE;
        }
        switch (k) {
        case 0:
            opt->frames = value;
            break;
        case 1:
            opt->port_file = value;
            break;
        case 2:
            opt->log = value;
            break;
        case 3:
            opt->max_seconds = number(arg, value, 1, 86400);
            if (opt->max_seconds < 0)
                return EXIT_USAGE;
            break;
        case 4:
            opt->pause_ms = number(arg, value, 0, 3600000);
            if (opt->pause_ms < 0)
                return EXIT_USAGE;
            break;
        case 5:
            opt->close_after = number(arg, value, 0, 1000000000);
            if (opt->close_after < 0)
                return EXIT_USAGE;
            break;
        case 6:
            if (strcmp(value, "hang") && strcmp(value, "close")) {
                fprintf(stderr, "mockws: --at-end: hang or close\n");
                return EXIT_USAGE;
            }
            opt->at_end = strcmp(value, "close") ? AT_END_HANG : AT_END_CLOSE;
            break;
        case 7:
            if (strcmp(value, "answer") && strcmp(value, "ignore")) {
                fprintf(stderr, "mockws: --pings: answer or ignore\n");
                return EXIT_USAGE;
            }
            opt->answer_pings = strcmp(value, "ignore") != 0;
            break;
        default:
            opt->refuse = number(arg, value, 0, 1000000000);
            if (opt->refuse < 0)
                return EXIT_USAGE;
            break;
        }
    }
    if (!opt->frames || !opt->port_file) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt = { 0 };
    struct server srv = { .log_fd = -1, .opt = &opt };
    struct evconnlistener *listener = NULL;
    struct event *sigterm = NULL, *sigint = NULL, *deadline = NULL;
    struct sigaction sa;
    struct timeval limit;
    unsigned port = 0;
    int rc, fd;

    rc = parse_args(argc, argv, &opt);
    if (rc)
        return rc;
#ifdef __linux__
    /* A test that crashes takes its server with it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    srv.start_us = now_us();

    rc = load_frames(&srv, opt.frames);
    if (rc)
        return rc;
    if (opt.log) {
        srv.log_fd =
            open(opt.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (srv.log_fd < 0) {
            fprintf(stderr, "mockws: %s: %s\n", opt.log, strerror(errno));
            rc = EXIT_CANTCREAT;
            goto out_free_frames;
        }
    }
    srv.base = event_base_new();
    if (!srv.base) {
        rc = EXIT_OSERR;
        goto out_close_log;
    }
    fd = listen_loopback(&port);
    if (fd < 0) {
        fprintf(stderr, "mockws: cannot listen on 127.0.0.1: %s\n",
                strerror(-fd));
        rc = EXIT_OSERR;
        goto out_free_base;
    }
    listener = evconnlistener_new(srv.base, accept_cb, &srv,
                                  LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (!listener) {
        close(fd);
        rc = EXIT_OSERR;
        goto out_free_base;
    }
    sigterm = evsignal_new(srv.base, SIGTERM, stop_cb, srv.base);
    sigint = evsignal_new(srv.base, SIGINT, stop_cb, srv.base);
    deadline = evtimer_new(srv.base, deadline_cb, srv.base);
    limit.tv_sec = (time_t)opt.max_seconds;
    limit.tv_usec = 0;
    if (!sigterm || !sigint || !deadline || evsignal_add(sigterm, NULL) < 0 ||
        evsignal_add(sigint, NULL) < 0 || evtimer_add(deadline, &limit) < 0) {
        rc = EXIT_OSERR;
        goto out_free_events;
    }
    rc = write_port_file(opt.port_file, port);
    if (rc < 0) {
        fprintf(stderr, "mockws: %s: %s\n", opt.port_file, strerror(-rc));
        rc = EXIT_CANTCREAT;
        goto out_free_events;
    }
    event_base_dispatch(srv.base);
    rc = 0;

out_free_events:
    if (deadline)
        event_free(deadline);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    while (srv.conns)
        conn_free(srv.conns);
    evconnlistener_free(listener);
out_free_base:
    event_base_free(srv.base);
    libevent_global_shutdown();
out_close_log:
    if (srv.log_fd >= 0)
        close(srv.log_fd);
out_free_frames:
    frames_free(&srv);
    return rc;
}
