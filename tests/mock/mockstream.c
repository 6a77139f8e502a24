/*
 * mockstream.c - a scripted HTTP stream server for brandmon's integration
 * tests.
 *
 * Integration tests start it as a child process:
 *
 *     mockstream --script FILE --port-file FILE [--log FILE]
 *                [--max-seconds N]
 *
 * It listens on 127.0.0.1 only, on a port the kernel picks, and writes that
 * port as decimal and "\n" to --port-file (through a temporary name and
 * rename(), so a reader never sees half a number). It serves until SIGTERM
 * or SIGINT and then exits 0; after --max-seconds (default 300) it stops by
 * itself, and on Linux it also stops when its parent dies, so a crashed test
 * never leaves it running. A bad command line exits 64, a bad script 65
 * (with the file, route and scenario named on stderr), an unreadable one 66,
 * a socket failure 71 and a log or port file it cannot write 73.
 *
 * The script is JSON: {"routes": {"/path": [SCENARIO, ...], ...}}. The Nth
 * request to a path (query strings are ignored for routing) gets the Nth
 * scenario, the last one repeating; a path with no route gets a 404. A
 * scenario says what status and headers to send, which body, in what pieces
 * and at what pace, and what to do after the body: end the chunked reply,
 * drop the connection without the final chunk, stall, or send keep-alives
 * forever. The fields are described above parse_scenario(). Keys starting
 * with "_" are comments; any other unknown key is an error, so a misspelt
 * field fails loudly instead of being ignored.
 *
 * Every request appends one JSON line to --log as it arrives: {"t_ms",
 * "method", "path", "query", "n", "headers"}, where t_ms is monotonic
 * milliseconds since start, n is the request's index for its route (-1 without
 * a route) and the header names are lower-cased (repeated headers are joined
 * with ", "). GET /_mock/stats answers {"active_streams", "requests"} unless
 * the script routes that path itself; it is not logged.
 *
 * What it does not do: TLS, HTTP/2, websockets, reading request bodies for
 * any purpose, or listening anywhere but the loopback address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

/* sysexits(3), spelled out. */
#define EXIT_USAGE     64
#define EXIT_DATAERR   65
#define EXIT_NOINPUT   66
#define EXIT_OSERR     71
#define EXIT_CANTCREAT 73

#define DEFAULT_MAX_SECONDS 300
#define MAX_BODY_BYTES      ((size_t)64 << 20)
#define MAX_PIECE           ((size_t)1 << 20)
#define MAX_MS              86400000LL
#define MAX_REPEAT          1000000LL
#define DEFAULT_CHUNK_MIN   1
#define DEFAULT_CHUNK_MAX   700
#define DEFAULT_SEED        0x6d6f636bULL
/* How often a connection about to be dropped is checked for unsent output. */
#define DRAIN_POLL_MS 1
/* Keep-alives are not queued past this when the client stops reading. */
#define MAX_QUEUED_KEEPALIVE 65536
#define STATS_PATH           "/_mock/stats"

enum body_type { BODY_JSON, BODY_NDJSON, BODY_SSE, BODY_RAW };

enum then_kind { THEN_CLOSE, THEN_RESET, THEN_HANG, THEN_KEEPALIVE };

/* Where a stream is; the timer callback acts on it. */
enum phase {
    PHASE_ACCEPT,      /* accept_only: never answer */
    PHASE_BODY,        /* sending the body, piece by piece */
    PHASE_DRAIN_RESET, /* waiting for output to leave, then dropping */
    PHASE_HANG,        /* body sent, nothing more */
    PHASE_KEEPALIVE,   /* body sent, a keep-alive every keepalive_ms */
};

/* One scripted answer, fully checked when the script is loaded. */
struct scenario {
    int status;
    /* owned reference: {name: string or integer}, never NULL */
    json_t *headers;
    char *content_type; /* owned */
    enum body_type type;
    unsigned char *body; /* owned; NULL when the body is empty */
    size_t body_len;
    /* owned: ascending offsets where keep-alive lines start */
    size_t *pauses;
    size_t n_pauses;
    size_t chunk_min;
    size_t chunk_max;
    uint64_t seed;
    long long delay_ms;
    long long keepalive_pause_ms;
    enum then_kind then;
    long long keepalive_ms;
    size_t close_after; /* SIZE_MAX: never */
    long long drip_bps; /* 0: off */
    bool accept_only;
    long long repeat;
};

struct route {
    char *path;                 /* owned */
    struct scenario *scenarios; /* owned: n_scenarios entries */
    size_t n_scenarios;
    size_t hits;
};

struct server {
    struct event_base *base; /* owned */
    struct evhttp *http;     /* owned */
    struct route *routes;    /* owned: n_routes entries */
    size_t n_routes;
    int log_fd; /* owned; -1 without --log */
    uint64_t start_us;
    size_t active_streams;
    size_t requests;
};

/* One request being answered from a scenario. */
struct stream {
    struct server *srv;        /* borrowed: main(), outlives every stream */
    const struct scenario *sc; /* borrowed: srv->routes, live until exit */
    /*
     * borrowed: libevent. Freed by evhttp_send_reply_end() when the stream
     * ends well, or by libevent with its connection; close_cb() frees it
     * when libevent has detached it from a failed connection.
     */
    struct evhttp_request *req;
    /* borrowed: libevent; while it lives its close callback points here */
    struct evhttp_connection *evcon;
    struct event *timer; /* owned */
    struct event *watch; /* owned: notices the client closing */
    enum phase phase;
    bool needs_body;
    bool peer_gone; /* the client closed (or half-closed) its side */
    uint64_t rng;
    long long pass;    /* complete bodies sent */
    size_t pos;        /* offset in the body */
    size_t next_pause; /* index into sc->pauses */
    bool paused;       /* already paused at sc->pauses[next_pause] */
    size_t sent;       /* body bytes sent, all passes */
    uint64_t drip_t0_us;
    size_t drip_sent;
};

struct options {
    const char *script;
    const char *port_file;
    const char *log;
    long long max_seconds;
};

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* splitmix64: small, seeded, and the same on every platform. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------ */
/* Script loading                                                           */
/* ------------------------------------------------------------------------ */

/* Names the scenario being checked in error messages. */
struct where {
    const char *file;
    const char *path;
    size_t index;
};

__attribute__((format(printf, 2, 3))) static void bad(const struct where *w,
                                                      const char *fmt, ...)
{
    va_list ap;

    if (w->path)
        fprintf(stderr, "mockstream: %s: route \"%s\" scenario %zu: ", w->file,
                w->path, w->index);
    else
        fprintf(stderr, "mockstream: %s: ", w->file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Reads @path whole; caller frees *out. Returns 0 or a negative errno. */
static int read_file(const char *path, unsigned char **out, size_t *len)
{
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    int rc = 0;
    FILE *f;

    f = fopen(path, "rb");
    if (!f)
        return -errno;
    for (;;) {
        size_t got;

        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            unsigned char *nbuf;

            if (cap >= MAX_BODY_BYTES) {
                rc = -EFBIG;
                goto out_free_buf;
            }
            nbuf = realloc(buf, ncap);
            if (!nbuf) {
                rc = -ENOMEM;
                goto out_free_buf;
            }
            buf = nbuf;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = -EIO;
                goto out_free_buf;
            }
            break;
        }
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;

out_free_buf:
    free(buf);
    fclose(f);
    return rc;
}

/* Reads an optional integer field into *out, or leaves the default. */
static int get_int(const struct where *w, json_t *obj, const char *key,
                   long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(obj, key);
    long long x;

    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        bad(w, "\"%s\" must be an integer", key);
        return -EINVAL;
    }
    x = json_integer_value(v);
    if (x < lo || x > hi) {
        bad(w, "\"%s\" must be between %lld and %lld", key, lo, hi);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

/*
 * Checks a "$now" header value: "$now", "$now+N" or "$now-N". On success
 * *offset is N (signed). Returns false for anything else starting "$now".
 */
static bool parse_now(const char *s, long long *offset)
{
    char *end;
    long long n;

    if (strncmp(s, "$now", 4) != 0)
        return false;
    s += 4;
    if (*s == '\0') {
        *offset = 0;
        return true;
    }
    if ((*s != '+' && *s != '-') || s[1] < '0' || s[1] > '9')
        return false;
    errno = 0;
    n = strtoll(s + 1, &end, 10);
    if (errno || *end != '\0' || n > 100LL * 365 * 86400)
        return false;
    *offset = *s == '-' ? -n : n;
    return true;
}

static bool is_token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static int check_headers(const struct where *w, json_t *headers)
{
    const char *name;
    json_t *v;

    if (!json_is_object(headers)) {
        bad(w, "\"headers\" must be an object");
        return -EINVAL;
    }
    json_object_foreach(headers, name, v)
    {
        long long off;

        if (!*name) {
            bad(w, "empty header name");
            return -EINVAL;
        }
        for (const char *p = name; *p; p++) {
            if (!is_token_char((unsigned char)*p)) {
                bad(w, "bad header name \"%s\"", name);
                return -EINVAL;
            }
        }
        if (json_is_integer(v))
            continue;
        if (!json_is_string(v)) {
            bad(w, "header \"%s\" must be a string or an integer", name);
            return -EINVAL;
        }
        if (strpbrk(json_string_value(v), "\r\n") ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            bad(w, "header \"%s\" has a line break or NUL", name);
            return -EINVAL;
        }
        if (!strncmp(json_string_value(v), "$now", 4) &&
            !parse_now(json_string_value(v), &off)) {
            bad(w, "header \"%s\": use \"$now\", \"$now+N\" or \"$now-N\"",
                name);
            return -EINVAL;
        }
    }
    return 0;
}

static bool is_pause_line(const struct scenario *sc, size_t i)
{
    const unsigned char *b = sc->body;

    if (sc->type == BODY_NDJSON)
        return b[i] == '\n' ||
               (b[i] == '\r' && i + 1 < sc->body_len && b[i + 1] == '\n');
    if (sc->type == BODY_SSE)
        return b[i] == ':';
    return false;
}

/* Finds where keep-alive lines start: empty lines in ndjson, comments in
 * sse. */
static int find_pauses(struct scenario *sc)
{
    size_t count = 0, k = 0;

    if (sc->type != BODY_NDJSON && sc->type != BODY_SSE)
        return 0;
    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < sc->body_len; i++) {
            if (i > 0 && sc->body[i - 1] != '\n')
                continue;
            if (!is_pause_line(sc, i))
                continue;
            if (fill)
                sc->pauses[k++] = i;
            else
                count++;
        }
        if (!fill) {
            if (count == 0)
                return 0;
            sc->pauses = calloc(count, sizeof(*sc->pauses));
            if (!sc->pauses)
                return -ENOMEM;
            sc->n_pauses = count;
        }
    }
    return 0;
}

static int parse_type(const struct where *w, json_t *obj, struct scenario *sc)
{
    static const struct {
        const char *name;
        enum body_type type;
        const char *content_type;
    } types[] = {
        { "json", BODY_JSON, "application/json; charset=utf-8" },
        { "ndjson", BODY_NDJSON, "application/json; charset=utf-8" },
        { "sse", BODY_SSE, "text/event-stream; charset=utf-8" },
        { "raw", BODY_RAW, "application/octet-stream" },
    };
    json_t *v = json_object_get(obj, "type");
    json_t *ct = json_object_get(obj, "content_type");
    const char *name = "json";
    size_t i;

    if (v) {
        if (!json_is_string(v)) {
            bad(w, "\"type\" must be a string");
            return -EINVAL;
        }
        name = json_string_value(v);
    }
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!strcmp(types[i].name, name))
            break;
    }
    if (i == sizeof(types) / sizeof(types[0])) {
        bad(w, "\"type\" must be ndjson, sse, json or raw, not \"%s\"", name);
        return -EINVAL;
    }
    sc->type = types[i].type;
    if (ct && (!json_is_string(ct) || strpbrk(json_string_value(ct), "\r\n"))) {
        bad(w, "\"content_type\" must be a one-line string");
        return -EINVAL;
    }
    sc->content_type =
        strdup(ct ? json_string_value(ct) : types[i].content_type);
    return sc->content_type ? 0 : -ENOMEM;
}

static int parse_then(const struct where *w, json_t *obj, struct scenario *sc)
{
    json_t *v = json_object_get(obj, "then");
    const char *s;

    sc->then = THEN_CLOSE;
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        bad(w, "\"then\" must be a string");
        return -EINVAL;
    }
    s = json_string_value(v);
    if (!strcmp(s, "close")) {
        sc->then = THEN_CLOSE;
    } else if (!strcmp(s, "reset")) {
        sc->then = THEN_RESET;
    } else if (!strcmp(s, "hang")) {
        sc->then = THEN_HANG;
    } else if (!strncmp(s, "keepalive:", 10) && s[10] >= '0' && s[10] <= '9') {
        char *end;

        errno = 0;
        sc->keepalive_ms = strtoll(s + 10, &end, 10);
        if (errno || *end || sc->keepalive_ms < 1 ||
            sc->keepalive_ms > MAX_MS) {
            bad(w, "\"then\": keepalive:MS needs 1 <= MS <= %lld", MAX_MS);
            return -EINVAL;
        }
        sc->then = THEN_KEEPALIVE;
    } else {
        bad(w,
            "\"then\" must be close, reset, hang or keepalive:MS, not "
            "\"%s\"",
            s);
        return -EINVAL;
    }
    return 0;
}

static int parse_chunk(const struct where *w, json_t *obj, struct scenario *sc)
{
    json_t *v = json_object_get(obj, "chunk");
    json_t *lo, *hi;

    sc->chunk_min = DEFAULT_CHUNK_MIN;
    sc->chunk_max = DEFAULT_CHUNK_MAX;
    if (!v)
        return 0;
    lo = json_array_get(v, 0);
    hi = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(lo) ||
        !json_is_integer(hi) || json_integer_value(lo) < 1 ||
        json_integer_value(lo) > json_integer_value(hi) ||
        json_integer_value(hi) > (json_int_t)MAX_PIECE) {
        bad(w, "\"chunk\" must be [min, max] with 1 <= min <= max <= %zu",
            MAX_PIECE);
        return -EINVAL;
    }
    sc->chunk_min = (size_t)json_integer_value(lo);
    sc->chunk_max = (size_t)json_integer_value(hi);
    return 0;
}

static int parse_body(const struct where *w, const char *script_dir,
                      json_t *obj, struct scenario *sc)
{
    json_t *file = json_object_get(obj, "body_file");
    json_t *text = json_object_get(obj, "body");
    char *path;
    int rc;

    if (file && text) {
        bad(w, "give \"body\" or \"body_file\", not both");
        return -EINVAL;
    }
    if (text) {
        if (!json_is_string(text)) {
            bad(w, "\"body\" must be a string");
            return -EINVAL;
        }
        sc->body_len = json_string_length(text);
        if (sc->body_len == 0)
            return 0;
        sc->body = malloc(sc->body_len);
        if (!sc->body)
            return -ENOMEM;
        memcpy(sc->body, json_string_value(text), sc->body_len);
        return 0;
    }
    if (!file)
        return 0;
    if (!json_is_string(file) || !*json_string_value(file)) {
        bad(w, "\"body_file\" must be a path");
        return -EINVAL;
    }
    /* Relative paths are relative to the script's folder. */
    if (json_string_value(file)[0] == '/') {
        path = strdup(json_string_value(file));
    } else {
        size_t n = strlen(script_dir) + json_string_length(file) + 2;

        path = malloc(n);
        if (path)
            snprintf(path, n, "%s/%s", script_dir, json_string_value(file));
    }
    if (!path)
        return -ENOMEM;
    rc = read_file(path, &sc->body, &sc->body_len);
    if (rc < 0)
        bad(w, "cannot read body_file %s: %s", path, strerror(-rc));
    free(path);
    return rc;
}

static void scenario_release(struct scenario *sc)
{
    json_decref(sc->headers);
    free(sc->content_type);
    free(sc->body);
    free(sc->pauses);
    memset(sc, 0, sizeof(*sc));
}

/*
 * Scenario fields, all optional:
 *   status              HTTP status, default 200
 *   headers             {name: value}; "$now", "$now+N", "$now-N" become
 *                       epoch seconds when the reply is sent
 *   type                ndjson | sse | json (default) | raw
 *   content_type        default by type
 *   body | body_file    the body (body_file relative to the script's folder)
 *   chunk [min, max]    random piece sizes, default [1, 700]
 *   seed                seed of those sizes; same seed, same pieces
 *   delay_ms            pause between pieces, default 0
 *   keepalive_pause_ms  pause before each keep-alive line of the body (an
 *                       empty line in ndjson, a comment line in sse)
 *   then                close: end the chunked reply (default)
 *                       reset: close the TCP connection without the final
 *                         chunk, once every byte queued has been written
 *                       hang: send nothing more, keep the connection open
 *                       keepalive:MS: send "\r\n" (":\n" for sse) every MS
 *   close_after_bytes   like reset, after N body bytes, even mid-frame
 *   drip_bps            send N bytes a second (replaces chunk and delay_ms)
 *   accept_only         read the request and never answer
 *   repeat              send the body N times, default 1
 */
static int parse_scenario(const struct where *w, const char *script_dir,
                          json_t *obj, struct scenario *sc)
{
    static const char *const known[] = {
        "status",
        "headers",
        "content_type",
        "type",
        "body_file",
        "body",
        "chunk",
        "seed",
        "delay_ms",
        "then",
        "keepalive_pause_ms",
        "close_after_bytes",
        "drip_bps",
        "repeat",
        "accept_only",
    };
    const char *key;
    json_t *v;
    long long x;
    int rc;

    memset(sc, 0, sizeof(*sc));
    if (!json_is_object(obj)) {
        bad(w, "a scenario must be an object");
        return -EINVAL;
    }
    json_object_foreach(obj, key, v)
    {
        size_t i;

        if (key[0] == '_')
            continue;
        for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            if (!strcmp(known[i], key))
                break;
        }
        if (i == sizeof(known) / sizeof(known[0])) {
            bad(w, "unknown field \"%s\"", key);
            return -EINVAL;
        }
    }

    x = 200;
    rc = get_int(w, obj, "status", 100, 999, &x);
    if (rc < 0)
        return rc;
    sc->status = (int)x;

    v = json_object_get(obj, "headers");
    if (v) {
        rc = check_headers(w, v);
        if (rc < 0)
            return rc;
        sc->headers = json_incref(v);
    } else {
        sc->headers = json_object();
        if (!sc->headers)
            return -ENOMEM;
    }

    rc = parse_type(w, obj, sc);
    if (rc < 0)
        return rc;
    rc = parse_body(w, script_dir, obj, sc);
    if (rc < 0)
        return rc;
    rc = find_pauses(sc);
    if (rc < 0)
        return rc;
    rc = parse_chunk(w, obj, sc);
    if (rc < 0)
        return rc;
    rc = parse_then(w, obj, sc);
    if (rc < 0)
        return rc;

    x = (long long)DEFAULT_SEED;
    rc = get_int(w, obj, "seed", 0, INT64_MAX, &x);
    if (rc < 0)
        return rc;
    sc->seed = (uint64_t)x;
    rc = get_int(w, obj, "delay_ms", 0, MAX_MS, &sc->delay_ms);
    if (rc < 0)
        return rc;
    rc = get_int(w, obj, "keepalive_pause_ms", 0, MAX_MS,
                 &sc->keepalive_pause_ms);
    if (rc < 0)
        return rc;
    x = -1;
    rc = get_int(w, obj, "close_after_bytes", 0, INT64_MAX, &x);
    if (rc < 0)
        return rc;
    sc->close_after = x < 0 ? SIZE_MAX : (size_t)x;
    rc = get_int(w, obj, "drip_bps", 1, 1000000000LL, &sc->drip_bps);
    if (rc < 0)
        return rc;
    sc->repeat = 1;
    rc = get_int(w, obj, "repeat", 0, MAX_REPEAT, &sc->repeat);
    if (rc < 0)
        return rc;
    v = json_object_get(obj, "accept_only");
    if (v && !json_is_boolean(v)) {
        bad(w, "\"accept_only\" must be true or false");
        return -EINVAL;
    }
    sc->accept_only = json_is_true(v);
    return 0;
}

static void routes_free(struct server *srv)
{
    for (size_t i = 0; i < srv->n_routes; i++) {
        struct route *r = &srv->routes[i];

        for (size_t j = 0; j < r->n_scenarios; j++)
            scenario_release(&r->scenarios[j]);
        free(r->scenarios);
        free(r->path);
    }
    free(srv->routes);
    srv->routes = NULL;
    srv->n_routes = 0;
}

static int load_route(const char *file, const char *script_dir,
                      const char *path, json_t *list, struct route *r)
{
    struct where w = { file, path, 0 };
    size_t n;
    int rc;

    if (path[0] != '/') {
        bad(&w, "a route must start with \"/\"");
        return -EINVAL;
    }
    /* A single object is a list of one. */
    n = json_is_array(list) ? json_array_size(list) : 1;
    if (n == 0) {
        bad(&w, "the list of scenarios is empty");
        return -EINVAL;
    }
    r->path = strdup(path);
    r->scenarios = calloc(n, sizeof(*r->scenarios));
    if (!r->path || !r->scenarios)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *obj = json_is_array(list) ? json_array_get(list, i) : list;

        w.index = i;
        rc = parse_scenario(&w, script_dir, obj, &r->scenarios[i]);
        r->n_scenarios = i + 1;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Loads and checks the whole script. Returns 0 or an exit code. */
static int load_script(struct server *srv, const char *file)
{
    struct where top = { file, NULL, 0 };
    json_error_t err;
    json_t *root, *routes, *v;
    const char *key, *slash;
    char *dir;
    int rc = 0;

    root = json_load_file(file, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (err.line > 0)
            fprintf(stderr, "mockstream: %s:%d:%d: %s\n", file, err.line,
                    err.column, err.text);
        else
            fprintf(stderr, "mockstream: %s\n", err.text);
        return access(file, R_OK) == 0 ? EXIT_DATAERR : EXIT_NOINPUT;
    }
    slash = strrchr(file, '/');
    dir = slash ? strndup(file, (size_t)(slash - file) + (slash == file))
                : strdup(".");
    if (!dir) {
        rc = EXIT_OSERR;
        goto out_decref;
    }
    routes = json_object_get(root, "routes");
    if (!json_is_object(root) || !json_is_object(routes)) {
        bad(&top, "want {\"routes\": {\"/path\": [scenario, ...]}}");
        rc = EXIT_DATAERR;
        goto out_free_dir;
    }
    json_object_foreach(root, key, v)
    {
        if (key[0] != '_' && strcmp(key, "routes") != 0) {
            bad(&top, "unknown top-level field \"%s\"", key);
            rc = EXIT_DATAERR;
            goto out_free_dir;
        }
    }
    srv->routes = calloc(json_object_size(routes) + 1, sizeof(*srv->routes));
    if (!srv->routes) {
        rc = EXIT_OSERR;
        goto out_free_dir;
    }
    json_object_foreach(routes, key, v)
    {
        int r = load_route(file, dir, key, v, &srv->routes[srv->n_routes]);

        srv->n_routes++;
        if (r < 0) {
            if (r == -ENOMEM)
                fprintf(stderr, "mockstream: out of memory\n");
            rc = r == -ENOMEM ? EXIT_OSERR : EXIT_DATAERR;
            routes_free(srv);
            goto out_free_dir;
        }
    }

out_free_dir:
    free(dir);
out_decref:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Request log                                                              */
/* ------------------------------------------------------------------------ */

/* A JSON string of @s; bytes that are not valid UTF-8 become '?'. */
static json_t *text_value(const char *s)
{
    json_t *v = json_string(s);
    char *copy;

    if (v)
        return v;
    copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    v = json_string(copy);
    free(copy);
    return v;
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
}

static json_t *headers_value(struct evhttp_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    json_t *obj = json_object();

    if (!obj)
        return NULL;
    for (struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next) {
        char *name = strdup(h->key);
        json_t *old, *v;

        if (!name)
            continue;
        for (char *p = name; *p; p++) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        }
        old = json_object_get(obj, name);
        if (json_is_string(old)) {
            size_t n = json_string_length(old) + strlen(h->value) + 3;
            char *joined = malloc(n);

            if (joined) {
                snprintf(joined, n, "%s, %s", json_string_value(old), h->value);
                v = text_value(joined);
                free(joined);
            } else {
                v = NULL;
            }
        } else {
            v = text_value(h->value);
        }
        if (v)
            json_object_set_new(obj, name, v);
        free(name);
    }
    return obj;
}

/* Appends one line to the log; a failed write is reported, not fatal. */
static void log_request(struct server *srv, struct evhttp_request *req,
                        const char *path, const char *query, long long n)
{
    json_t *line;
    char *text, *buf;
    size_t len, off = 0;

    if (srv->log_fd < 0)
        return;
    line = json_object();
    if (!line)
        return;
    json_object_set_new(
        line, "t_ms",
        json_integer((json_int_t)((now_us() - srv->start_us) / 1000u)));
    json_object_set_new(
        line, "method",
        json_string(method_name(evhttp_request_get_command(req))));
    json_object_set_new(line, "path", text_value(path));
    json_object_set_new(line, "query", query ? text_value(query) : json_null());
    json_object_set_new(line, "n", json_integer(n));
    json_object_set_new(line, "headers", headers_value(req));
    text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return;
    len = strlen(text);
    buf = realloc(text, len + 2);
    if (!buf) {
        free(text);
        return;
    }
    buf[len++] = '\n';
    buf[len] = '\0';
    while (off < len) {
        ssize_t w = write(srv->log_fd, buf + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "mockstream: cannot write the log: %s\n",
                    strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* Streams                                                                  */
/* ------------------------------------------------------------------------ */

static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void watch_cb(evutil_socket_t fd, short what, void *arg);
static void close_cb(struct evhttp_connection *evcon, void *arg);
static void drained_cb(struct evhttp_connection *evcon, void *arg);

static void stream_free(struct stream *s)
{
    if (!s)
        return;
    event_free(s->timer);
    event_free(s->watch);
    s->srv->active_streams--;
    free(s);
}

static void arm_us(struct stream *s, uint64_t us)
{
    struct timeval tv = { (time_t)(us / 1000000u),
                          (suseconds_t)(us % 1000000u) };

    evtimer_add(s->timer, &tv);
}

/* Ends the reply properly (final chunk) and forgets the stream. */
static void stream_finish(struct stream *s)
{
    struct evhttp_request *req = s->req;

    evhttp_connection_set_closecb(s->evcon, NULL, NULL);
    stream_free(s);
    evhttp_send_reply_end(req);
}

/*
 * Drops the connection without ending the reply: the client sees the body
 * stop short of the final chunk. Not called from libevent's own callbacks.
 */
static void stream_abort(struct stream *s)
{
    struct evhttp_connection *evcon = s->evcon;

    evhttp_connection_set_closecb(evcon, NULL, NULL);
    stream_free(s);
    evhttp_connection_free(evcon);
}

static size_t output_pending(const struct stream *s)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);

    return evbuffer_get_length(bufferevent_get_output(bev));
}

/* Drops the connection once everything queued has reached the kernel. */
static void reset_when_drained(struct stream *s)
{
    if (output_pending(s) > 0) {
        arm_us(s, DRAIN_POLL_MS * 1000u);
        return;
    }
    stream_abort(s);
}

static void body_done(struct stream *s)
{
    switch (s->sc->then) {
    case THEN_CLOSE:
        stream_finish(s);
        break;
    case THEN_RESET:
        s->phase = PHASE_DRAIN_RESET;
        reset_when_drained(s);
        break;
    case THEN_HANG:
        s->phase = PHASE_HANG;
        if (s->peer_gone)
            stream_abort(s);
        break;
    case THEN_KEEPALIVE:
        s->phase = PHASE_KEEPALIVE;
        arm_us(s, (uint64_t)s->sc->keepalive_ms * 1000u);
        break;
    }
}

/*
 * libevent 2.1 keeps reading a connection while it answers a GET, and turns
 * reading back on with every write: the client closing, or only
 * half-closing, would fail the connection, and bytes sent before the reply
 * starts would hit libevent's "illegal connection state" abort. So reading
 * stays off while a stream lives, and watch_cb() notices clients leaving.
 */
static void stop_reading(struct stream *s)
{
    bufferevent_disable(evhttp_connection_get_bufferevent(s->evcon), EV_READ);
}

static void send_bytes(struct stream *s, const void *p, size_t len,
                       bool want_drained)
{
    struct evbuffer *buf = evbuffer_new();

    if (!buf || evbuffer_add(buf, p, len) < 0) {
        fprintf(stderr, "mockstream: out of memory, dropping a stream\n");
        if (buf)
            evbuffer_free(buf);
        s->phase = PHASE_DRAIN_RESET;
        arm_us(s, 0);
        return;
    }
    if (want_drained)
        evhttp_send_reply_chunk_with_cb(s->req, buf, drained_cb, s);
    else
        evhttp_send_reply_chunk(s->req, buf);
    evbuffer_free(buf);
    stop_reading(s);
}

/* How many bytes drip_bps allows now; at least one. */
static size_t drip_due(const struct stream *s)
{
    uint64_t elapsed = now_us() - s->drip_t0_us;
    uint64_t due = elapsed * (uint64_t)s->sc->drip_bps / 1000000u + 1u;

    return due > s->drip_sent ? (size_t)(due - s->drip_sent) : 1;
}

/* How long to wait before the next piece. */
static uint64_t next_wait_us(const struct stream *s)
{
    uint64_t at, now;

    if (s->sc->drip_bps == 0)
        return (uint64_t)s->sc->delay_ms * 1000u;
    /* When the byte after those sent falls due. */
    at = s->drip_t0_us +
         (uint64_t)s->drip_sent * 1000000u / (uint64_t)s->sc->drip_bps;
    now = now_us();
    return at > now ? at - now : 0;
}

static void send_piece(struct stream *s)
{
    const struct scenario *sc = s->sc;
    size_t len;

    if (s->pos == sc->body_len) {
        s->pass++;
        s->pos = 0;
        s->next_pause = 0;
        s->paused = false;
    }
    if (!s->needs_body || sc->body_len == 0 || s->pass >= sc->repeat) {
        body_done(s);
        return;
    }
    if (s->sent >= sc->close_after) {
        s->phase = PHASE_DRAIN_RESET;
        reset_when_drained(s);
        return;
    }
    if (sc->keepalive_pause_ms > 0 && s->next_pause < sc->n_pauses &&
        sc->pauses[s->next_pause] == s->pos) {
        if (!s->paused) {
            uint64_t us = (uint64_t)sc->keepalive_pause_ms * 1000u;

            s->paused = true;
            s->drip_t0_us += us;
            arm_us(s, us);
            return;
        }
        s->paused = false;
        s->next_pause++;
    }

    len = sc->body_len - s->pos;
    if (sc->keepalive_pause_ms > 0 && s->next_pause < sc->n_pauses)
        len = min_size(len, sc->pauses[s->next_pause] - s->pos);
    if (sc->drip_bps > 0) {
        len = min_size(len, drip_due(s));
    } else {
        size_t span = sc->chunk_max - sc->chunk_min + 1;

        len = min_size(len,
                       sc->chunk_min + (size_t)(next_random(&s->rng) % span));
    }
    len = min_size(len, sc->close_after - s->sent);

    send_bytes(s, sc->body + s->pos, len, true);
    s->pos += len;
    s->sent += len;
    s->drip_sent += len;
    if (s->sent >= sc->close_after)
        s->phase = PHASE_DRAIN_RESET;
}

static void send_keepalive(struct stream *s)
{
    const char *ka = s->sc->type == BODY_SSE ? ":\n" : "\r\n";

    if (!s->needs_body && s->peer_gone) {
        /* No write will ever fail to tell us the client left. */
        stream_abort(s);
        return;
    }
    if (s->needs_body && output_pending(s) < MAX_QUEUED_KEEPALIVE)
        send_bytes(s, ka, strlen(ka), false);
    arm_us(s, (uint64_t)s->sc->keepalive_ms * 1000u);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct stream *s = arg;

    (void)fd;
    (void)what;
    switch (s->phase) {
    case PHASE_BODY:
        send_piece(s);
        break;
    case PHASE_DRAIN_RESET:
        reset_when_drained(s);
        break;
    case PHASE_KEEPALIVE:
        send_keepalive(s);
        break;
    case PHASE_ACCEPT:
    case PHASE_HANG:
        break;
    }
}

/*
 * Called by libevent once a piece has left the output buffer. It runs
 * inside libevent's write callback, so it only arms the timer.
 */
static void drained_cb(struct evhttp_connection *evcon, void *arg)
{
    struct stream *s = arg;

    (void)evcon;
    if (s->phase == PHASE_BODY)
        arm_us(s, next_wait_us(s));
    else if (s->phase == PHASE_DRAIN_RESET)
        arm_us(s, 0);
}

/*
 * libevent stops reading a connection while it is answering, so a client
 * that goes away is otherwise noticed only at the next write, or never
 * when nothing more is written (accept_only, hang). Peek instead. End of
 * input may also be a client that only shut down its sending side, so a
 * stream that still writes lets the writes find out; one that never will
 * is dropped.
 */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
    struct stream *s = arg;
    char c;
    ssize_t n;

    (void)what;
    n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    /* Either way the event would fire again at once: stop watching. */
    event_del(s->watch);
    if (n > 0)
        return; /* the client sent more (a pipelined request?) */
    s->peer_gone = true;
    if (n < 0 || s->phase == PHASE_ACCEPT || s->phase == PHASE_HANG)
        stream_abort(s);
}

/*
 * libevent is freeing the connection: the client went away, or the server
 * is shutting down. If libevent detached the request from the connection
 * (a failed write), the request is ours to free.
 */
static void close_cb(struct evhttp_connection *evcon, void *arg)
{
    struct stream *s = arg;
    struct evhttp_request *req = s->req;
    bool detached = evhttp_request_get_connection(req) == NULL;

    (void)evcon;
    stream_free(s);
    if (detached)
        evhttp_send_reply_end(req);
}

static bool status_has_body(int status, enum evhttp_cmd_type cmd)
{
    if (cmd == EVHTTP_REQ_HEAD)
        return false;
    return status >= 200 && status != 204 && status != 304;
}

/* Formats a header value, expanding "$now+N". @buf holds the result when
 * needed. */
static const char *header_text(json_t *v, char *buf, size_t size)
{
    long long off;

    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (parse_now(json_string_value(v), &off)) {
        snprintf(buf, size, "%lld", (long long)time(NULL) + off);
        return buf;
    }
    return json_string_value(v);
}

/* Phrases libevent's table lacks; NULL lets libevent choose. */
static const char *reason_phrase(int status)
{
    switch (status) {
    case 420:
        return "Enhance Your Calm";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 451:
        return "Unavailable For Legal Reasons";
    }
    return NULL;
}

static void send_head(struct stream *s)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(s->req);
    const char *name;
    json_t *v;

    json_object_foreach(s->sc->headers, name, v)
    {
        char buf[32];

        if (evhttp_add_header(out, name, header_text(v, buf, sizeof(buf))) < 0)
            fprintf(stderr, "mockstream: cannot add header %s\n", name);
    }
    if (!evhttp_find_header(out, "Content-Type"))
        evhttp_add_header(out, "Content-Type", s->sc->content_type);
    evhttp_send_reply_start(s->req, s->sc->status,
                            reason_phrase(s->sc->status));
    stop_reading(s);
}

/* Starts answering @req from @sc. Returns 0 or a negative errno. */
static int stream_start(struct server *srv, const struct scenario *sc,
                        struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev;
    struct stream *s;
    evutil_socket_t fd;

    if (!evcon)
        return -EINVAL;
    bev = evhttp_connection_get_bufferevent(evcon);
    fd = bufferevent_getfd(bev);
    /* See stop_reading(). */
    bufferevent_disable(bev, EV_READ);
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->srv = srv;
    s->sc = sc;
    s->req = req;
    s->evcon = evcon;
    s->rng = sc->seed;
    s->needs_body =
        status_has_body(sc->status, evhttp_request_get_command(req));
    s->drip_t0_us = now_us();
    s->timer = evtimer_new(srv->base, timer_cb, s);
    if (!s->timer)
        goto out_free_stream;
    s->watch = event_new(srv->base, fd, EV_READ | EV_PERSIST, watch_cb, s);
    if (!s->watch)
        goto out_free_timer;
    if (event_add(s->watch, NULL) < 0)
        goto out_free_watch;
    srv->active_streams++;
    evhttp_connection_set_closecb(evcon, close_cb, s);
    if (sc->accept_only) {
        s->phase = PHASE_ACCEPT;
        return 0;
    }
    send_head(s);
    s->phase = PHASE_BODY;
    arm_us(s, 0);
    return 0;

out_free_watch:
    event_free(s->watch);
out_free_timer:
    event_free(s->timer);
out_free_stream:
    free(s);
    return -ENOMEM;
}

static void send_stats(struct server *srv, struct evhttp_request *req)
{
    struct evbuffer *buf = evbuffer_new();

    if (!buf) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evbuffer_add_printf(buf, "{\"active_streams\":%zu,\"requests\":%zu}\n",
                        srv->active_streams, srv->requests);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evhttp_send_reply(req, HTTP_OK, NULL, buf);
    evbuffer_free(buf);
}

static void request_cb(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    const struct scenario *sc;
    struct route *route = NULL;
    long long n = -1;

    if (!path || !*path)
        path = "/";
    for (size_t i = 0; i < srv->n_routes; i++) {
        if (!strcmp(srv->routes[i].path, path)) {
            route = &srv->routes[i];
            break;
        }
    }
    if (!route && !strcmp(path, STATS_PATH)) {
        send_stats(srv, req);
        return;
    }
    srv->requests++;
    if (route)
        n = (long long)route->hits++;
    log_request(srv, req, path, query, n);
    if (!route) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    /* After the last scenario, the last one repeats. */
    sc = &route->scenarios[min_size((size_t)n, route->n_scenarios - 1)];
    if (stream_start(srv, sc, req) < 0)
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
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
    fprintf(stderr, "mockstream: --max-seconds reached, stopping\n");
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
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 128) < 0 ||
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
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    char text[16];
    int fd, len, rc = 0;

    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    len = snprintf(text, sizeof(text), "%u\n", port);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out_free_tmp;
    }
    if (write(fd, text, (size_t)len) != len) {
        rc = errno ? -errno : -EIO;
        close(fd);
        goto out_unlink;
    }
    if (close(fd) < 0) {
        rc = -errno;
        goto out_unlink;
    }
    if (rename(tmp, path) < 0) {
        rc = -errno;
        goto out_unlink;
    }
    free(tmp);
    return 0;

out_unlink:
    unlink(tmp);
out_free_tmp:
    free(tmp);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mockstream --script FILE --port-file FILE [--log FILE]"
               " [--max-seconds N]\n");
}

/* Returns 0, or an exit code after printing why. */
static int parse_args(int argc, char **argv, struct options *opt)
{
    opt->max_seconds = DEFAULT_MAX_SECONDS;
    for (int i = 1; i < argc; i++) {
        static const char *const names[] = { "--script", "--port-file", "--log",
                                             "--max-seconds" };
        const char *arg = argv[i], *value = NULL;
        size_t k;

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            exit(0);
        }
        for (k = 0; k < 4; k++) {
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
        if (k == 4 || !value) {
            fprintf(stderr, "mockstream: %s: %s\n", arg,
                    k == 4 ? "unknown option" : "needs a value");
            usage(stderr);
            return EXIT_USAGE;
        }
        if (k == 0) {
            opt->script = value;
        } else if (k == 1) {
            opt->port_file = value;
        } else if (k == 2) {
            opt->log = value;
        } else {
            char *end;

            errno = 0;
            opt->max_seconds = strtoll(value, &end, 10);
            if (errno || *end || end == value || opt->max_seconds < 1 ||
                opt->max_seconds > 86400) {
                fprintf(stderr, "mockstream: --max-seconds: want 1..86400\n");
                return EXIT_USAGE;
            }
        }
    }
    if (!opt->script || !opt->port_file) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct server srv = { .log_fd = -1 };
    struct options opt = { 0 };
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

    rc = load_script(&srv, opt.script);
    if (rc)
        return rc;
    if (opt.log) {
        srv.log_fd =
            open(opt.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (srv.log_fd < 0) {
            fprintf(stderr, "mockstream: %s: %s\n", opt.log, strerror(errno));
            rc = EXIT_CANTCREAT;
            goto out_free_routes;
        }
    }
    srv.base = event_base_new();
    if (!srv.base) {
        rc = EXIT_OSERR;
        goto out_close_log;
    }
    srv.http = evhttp_new(srv.base);
    if (!srv.http) {
        rc = EXIT_OSERR;
        goto out_free_base;
    }
    fd = listen_loopback(&port);
    if (fd < 0) {
        fprintf(stderr, "mockstream: cannot listen on 127.0.0.1: %s\n",
                strerror(-fd));
        rc = EXIT_OSERR;
        goto out_free_http;
    }
    /* From here the listener owns fd. */
    if (!evhttp_accept_socket_with_handle(srv.http, fd)) {
        close(fd);
        rc = EXIT_OSERR;
        goto out_free_http;
    }
    evhttp_set_gencb(srv.http, request_cb, &srv);
    evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                             EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                             EVHTTP_REQ_DELETE);

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
        fprintf(stderr, "mockstream: %s: %s\n", opt.port_file, strerror(-rc));
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
out_free_http:
    /* Frees every connection; close_cb() frees their streams. */
    evhttp_free(srv.http);
out_free_base:
    event_base_free(srv.base);
    libevent_global_shutdown();
out_close_log:
    if (srv.log_fd >= 0)
        close(srv.log_fd);
out_free_routes:
    routes_free(&srv);
    return rc;
}
