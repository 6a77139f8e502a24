/*
 * test_metrics.c - the /metrics and /health server and the Prometheus text
 * helpers (include/brandmon/metrics.h).
 *
 * The server runs on an event_base owned by the test; requests are made
 * with evhttp's own client on the same base, and the loop runs until the
 * answer arrives (or a timer gives up).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "brandmon/buf.h"
#include "brandmon/metrics.h"

/* What the callbacks report, and how often they were asked. */
struct fake {
    bool healthy;
    int collects;
    int healths;
};

struct fixture {
    struct event_base *base;
    struct bm_metrics *m;
    struct fake fake;
    int port;
};

/* One answer as the client saw it. */
struct response {
    bool done;
    bool timed_out;
    int code;    /* -1: no response */
    char *type;  /* owned; Content-Type, or NULL */
    char *allow; /* owned; Allow, or NULL */
    char *clen;  /* owned; Content-Length, or NULL */
    struct bm_buf body;
    struct event_base *base; /* borrowed: the fixture's */
};

#define EXPECTED_METRICS                                                       \
    "# HELP bm_posts_total Posts seen.\n"                                      \
    "# TYPE bm_posts_total counter\n"                                          \
    "bm_posts_total{source=\"x-main\"} 42\n"                                   \
    "bm_up 1\n"

static void collect_cb(struct bm_buf *out, void *arg)
{
    struct fake *f = arg;

    f->collects++;
    bm_metrics_family(out, "bm_posts_total", "counter", "Posts seen.");
    bm_metrics_sample(out, "bm_posts_total", "source=\"x-main\"", 42);
    bm_metrics_sample(out, "bm_up", NULL, 1);
}

static bool health_cb(struct bm_buf *out, void *arg)
{
    struct fake *f = arg;

    f->healths++;
    if (f->healthy) {
        bm_buf_puts(out, "ok redis\n");
        return true;
    }
    bm_buf_puts(out, "ok redis\nfail source x-main: down 120s\n");
    return false;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *err = NULL;

    if (!fx)
        return -1;
    fx->fake.healthy = true;
    fx->base = event_base_new();
    if (!fx->base)
        goto out_free;
    fx->m = bm_metrics_new(fx->base, "127.0.0.1:0", collect_cb, health_cb,
                           &fx->fake, &err);
    if (!fx->m)
        goto out_base;
    fx->port = bm_metrics_port(fx->m);
    *state = fx;
    return 0;

out_base:
    event_base_free(fx->base);
out_free:
    free(fx);
    return -1;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    bm_metrics_free(fx->m);
    event_base_free(fx->base);
    free(fx);
    return 0;
}

static char *dup_header(struct evhttp_request *req, const char *key)
{
    const char *v =
        evhttp_find_header(evhttp_request_get_input_headers(req), key);

    return v ? strdup(v) : NULL;
}

static void response_cb(struct evhttp_request *req, void *arg)
{
    struct response *r = arg;
    struct evbuffer *in;
    size_t n;

    r->done = true;
    event_base_loopbreak(r->base);
    if (!req) {
        r->code = -1;
        return;
    }
    r->code = evhttp_request_get_response_code(req);
    r->type = dup_header(req, "Content-Type");
    r->allow = dup_header(req, "Allow");
    r->clen = dup_header(req, "Content-Length");
    in = evhttp_request_get_input_buffer(req);
    n = evbuffer_get_length(in);
    if (bm_buf_reserve(&r->body, n) == 0) {
        evbuffer_remove(in, r->body.data, n);
        r->body.len = n;
        r->body.data[n] = '\0';
    }
}

static void give_up_cb(evutil_socket_t fd, short what, void *arg)
{
    struct response *r = arg;

    (void)fd;
    (void)what;
    r->timed_out = true;
    event_base_loopbreak(r->base);
}

/* Makes one request to @host:@port and runs the loop until it is answered;
 * fails the test if no answer comes within 10 s. */
static void fetch_from(struct event_base *base, const char *host, int port,
                       enum evhttp_cmd_type cmd, const char *path,
                       struct response *r)
{
    struct timeval limit = { 10, 0 };
    struct evhttp_connection *conn;
    struct evhttp_request *req;
    struct event *timer;

    memset(r, 0, sizeof(*r));
    bm_buf_init(&r->body);
    r->base = base;
    r->code = -2;
    conn = evhttp_connection_base_new(base, NULL, host, (uint16_t)port);
    assert_non_null(conn);
    evhttp_connection_set_timeout(conn, 5);
    req = evhttp_request_new(response_cb, r);
    assert_non_null(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
    if (cmd == EVHTTP_REQ_POST)
        evbuffer_add(evhttp_request_get_output_buffer(req), "x=1", 3);
    timer = evtimer_new(base, give_up_cb, r);
    assert_non_null(timer);
    evtimer_add(timer, &limit);
    assert_int_equal(evhttp_make_request(conn, req, cmd, path), 0);
    while (!r->done && !r->timed_out)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(timer);
    evhttp_connection_free(conn);
    assert_false(r->timed_out);
    assert_true(r->done);
}

static void fetch(struct fixture *fx, enum evhttp_cmd_type cmd,
                  const char *path, struct response *r)
{
    fetch_from(fx->base, "127.0.0.1", fx->port, cmd, path, r);
}

static void response_release(struct response *r)
{
    free(r->type);
    free(r->allow);
    free(r->clen);
    bm_buf_release(&r->body);
}

static void test_port(void **state)
{
    struct fixture *fx = *state;

    assert_true(fx->port > 0);
    assert_true(fx->port <= 65535);
}

static void test_get_metrics(void **state)
{
    struct fixture *fx = *state;
    struct response r;

    fetch(fx, EVHTTP_REQ_GET, "/metrics", &r);
    assert_int_equal(r.code, 200);
    assert_non_null(r.type);
    assert_true(strncmp(r.type, "text/plain; version=0.0.4", 25) == 0);
    assert_string_equal(r.body.data, EXPECTED_METRICS);
    assert_int_equal(fx->fake.collects, 1);
    assert_int_equal(fx->fake.healths, 0);
    response_release(&r);

    /* A query string does not change the path; each scrape collects anew. */
    fetch(fx, EVHTTP_REQ_GET, "/metrics?name%5B%5D=bm_up", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, EXPECTED_METRICS);
    assert_int_equal(fx->fake.collects, 2);
    response_release(&r);
}

static void test_head_metrics(void **state)
{
    struct fixture *fx = *state;
    struct response r;
    char want[32];

    fetch(fx, EVHTTP_REQ_HEAD, "/metrics", &r);
    assert_int_equal(r.code, 200);
    assert_non_null(r.type);
    assert_true(strncmp(r.type, "text/plain; version=0.0.4", 25) == 0);
    /* Headers only, but Content-Length says what GET would send. */
    assert_int_equal(r.body.len, 0);
    snprintf(want, sizeof(want), "%zu", strlen(EXPECTED_METRICS));
    assert_non_null(r.clen);
    assert_string_equal(r.clen, want);
    response_release(&r);
}

static void test_health(void **state)
{
    struct fixture *fx = *state;
    struct response r;

    fetch(fx, EVHTTP_REQ_GET, "/health", &r);
    assert_int_equal(r.code, 200);
    assert_non_null(r.type);
    assert_true(strncmp(r.type, "text/plain", 10) == 0);
    assert_null(strstr(r.type, "version="));
    assert_string_equal(r.body.data, "ok redis\n");
    assert_int_equal(fx->fake.healths, 1);
    assert_int_equal(fx->fake.collects, 0);
    response_release(&r);

    fx->fake.healthy = false;
    fetch(fx, EVHTTP_REQ_GET, "/health", &r);
    assert_int_equal(r.code, 503);
    assert_non_null(r.type);
    assert_true(strncmp(r.type, "text/plain", 10) == 0);
    assert_string_equal(r.body.data,
                        "ok redis\nfail source x-main: down 120s\n");
    assert_int_equal(fx->fake.healths, 2);
    response_release(&r);

    /* Healthy again: back to 200. */
    fx->fake.healthy = true;
    fetch(fx, EVHTTP_REQ_GET, "/health", &r);
    assert_int_equal(r.code, 200);
    response_release(&r);
}

static void test_not_found(void **state)
{
    static const char *const paths[] = { "/nope",     "/",         "/metrics/",
                                         "/metricsx", "/health/x", "/METRICS" };
    struct fixture *fx = *state;
    struct response r;
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        fetch(fx, EVHTTP_REQ_GET, paths[i], &r);
        assert_int_equal(r.code, 404);
        assert_non_null(r.type);
        assert_true(strncmp(r.type, "text/plain", 10) == 0);
        assert_string_equal(r.body.data, "not found\n");
        response_release(&r);
    }
    assert_int_equal(fx->fake.collects, 0);
    assert_int_equal(fx->fake.healths, 0);
}

static void test_wrong_method(void **state)
{
    struct fixture *fx = *state;
    struct response r;

    fetch(fx, EVHTTP_REQ_POST, "/metrics", &r);
    assert_int_equal(r.code, 405);
    assert_non_null(r.allow);
    assert_string_equal(r.allow, "GET, HEAD");
    response_release(&r);

    fetch(fx, EVHTTP_REQ_DELETE, "/health", &r);
    assert_int_equal(r.code, 405);
    response_release(&r);

    /* Neither callback ran for a refused method. */
    assert_int_equal(fx->fake.collects, 0);
    assert_int_equal(fx->fake.healths, 0);
}

static void test_bad_address(void **state)
{
    static const char *const bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        ":9464",
        "127.0.0.1:65536",
        "127.0.0.1:99999999",
        "127.0.0.1:94x4",
        "127.0.0.1:-1",
        "127.0.0.1: 9464",
        "::1:9464",
        "[::1]9464",
        "[::1]",
        "[::1",
        "[]:9464",
        "host:1:2",
    };
    struct event_base *base = event_base_new();
    size_t i;

    (void)state;
    assert_non_null(base);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;
        struct bm_metrics *m;

        m = bm_metrics_new(base, bad[i], collect_cb, health_cb, NULL, &err);
        if (m)
            fail_msg("accepted listen address '%s'", bad[i]);
        assert_non_null(err);
        assert_true(strlen(err) > 0);
    }
    event_base_free(base);
}

static void test_cannot_bind(void **state)
{
    struct fixture *fx = *state;
    struct bm_metrics *m;
    const char *err = NULL;
    char addr[64];

    /* The fixture's port is taken. */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", fx->port);
    m = bm_metrics_new(fx->base, addr, collect_cb, health_cb, &fx->fake, &err);
    assert_null(m);
    assert_non_null(err);

    /* An address no interface here has (TEST-NET-1, RFC 5737). */
    err = NULL;
    m = bm_metrics_new(fx->base, "192.0.2.1:0", collect_cb, health_cb,
                       &fx->fake, &err);
    assert_null(m);
    assert_non_null(err);

    /* The fixture's server still answers. */
    {
        struct response r;

        fetch(fx, EVHTTP_REQ_GET, "/health", &r);
        assert_int_equal(r.code, 200);
        response_release(&r);
    }
}

static void test_other_hosts(void **state)
{
    struct event_base *base = event_base_new();
    struct fake f = { .healthy = true };
    const char *err = NULL;
    struct bm_metrics *m;
    struct response r;

    (void)state;
    assert_non_null(base);
    m = bm_metrics_new(base, "localhost:0", collect_cb, health_cb, &f, &err);
    assert_non_null(m);
    assert_true(bm_metrics_port(m) > 0);
    bm_metrics_free(m);

    /* IPv6 loopback, where the host has it. */
    m = bm_metrics_new(base, "[::1]:0", collect_cb, health_cb, &f, &err);
    if (m) {
        assert_true(bm_metrics_port(m) > 0);
        fetch_from(base, "::1", bm_metrics_port(m), EVHTTP_REQ_GET, "/metrics",
                   &r);
        assert_int_equal(r.code, 200);
        assert_string_equal(r.body.data, EXPECTED_METRICS);
        response_release(&r);
        bm_metrics_free(m);
    }
    bm_metrics_free(NULL); /* a no-op */
    event_base_free(base);
}

static void test_family(void **state)
{
    struct bm_buf b = BM_BUF_INIT;

    (void)state;
    bm_metrics_family(&b, "bm_alerts_total", "counter", "Alerts written.");
    assert_string_equal(b.data, "# HELP bm_alerts_total Alerts written.\n"
                                "# TYPE bm_alerts_total counter\n");
    bm_buf_reset(&b);

    /* HELP escapes backslash and newline, and leaves quotes alone. */
    bm_metrics_family(&b, "bm_queue_depth", "gauge",
                      "Alerts \"queued\"\nin C:\\queue");
    assert_string_equal(b.data, "# HELP bm_queue_depth Alerts \"queued\"\\nin "
                                "C:\\\\queue\n"
                                "# TYPE bm_queue_depth gauge\n");
    bm_buf_release(&b);
}

static void expect_sample(const char *labels, double v, const char *want)
{
    struct bm_buf b = BM_BUF_INIT;

    bm_metrics_sample(&b, "m", labels, v);
    assert_non_null(b.data);
    assert_string_equal(b.data, want);
    bm_buf_release(&b);
}

static void test_sample_labels(void **state)
{
    (void)state;
    expect_sample(NULL, 3, "m 3\n");
    expect_sample("", 3, "m 3\n");
    expect_sample("source=\"x-main\"", 3, "m{source=\"x-main\"} 3\n");
    expect_sample("source=\"x\",reason=\"malformed_json\"", 0,
                  "m{source=\"x\",reason=\"malformed_json\"} 0\n");
}

static void test_sample_numbers(void **state)
{
    (void)state;
    /* Whole numbers below 2^53: plain integers. */
    expect_sample(NULL, 0, "m 0\n");
    expect_sample(NULL, -0.0, "m 0\n");
    expect_sample(NULL, 42, "m 42\n");
    expect_sample(NULL, -7, "m -7\n");
    expect_sample(NULL, 1e15, "m 1000000000000000\n");
    expect_sample(NULL, 9007199254740991.0, "m 9007199254740991\n");
    expect_sample(NULL, -9007199254740991.0, "m -9007199254740991\n");
    /* From 2^53 on, and for fractions: %.17g. */
    expect_sample(NULL, 9007199254740992.0, "m 9007199254740992\n");
    expect_sample(NULL, 1e20, "m 1e+20\n");
    expect_sample(NULL, -2.5, "m -2.5\n");
    expect_sample(NULL, 0.1, "m 0.10000000000000001\n");
    expect_sample(NULL, 1.5e-7, "m 1.4999999999999999e-07\n");
    expect_sample(NULL, 123456789.125, "m 123456789.125\n");
    /* The spellings Prometheus parses. */
    expect_sample(NULL, INFINITY, "m +Inf\n");
    expect_sample(NULL, -INFINITY, "m -Inf\n");
    expect_sample(NULL, NAN, "m NaN\n");
    expect_sample("le=\"+Inf\"", 17, "m{le=\"+Inf\"} 17\n");
}

static void test_label_value(void **state)
{
    struct bm_buf b = BM_BUF_INIT;

    (void)state;
    bm_metrics_label_value(&b, "plain-name_1");
    assert_string_equal(b.data, "plain-name_1");
    bm_buf_reset(&b);

    bm_metrics_label_value(&b, "a\\b \"c\"\nd");
    assert_string_equal(b.data, "a\\\\b \\\"c\\\"\\nd");
    bm_buf_reset(&b);

    bm_metrics_label_value(&b, "\"\\\n");
    assert_string_equal(b.data, "\\\"\\\\\\n");
    bm_buf_reset(&b);

    /* Nothing appended for an empty value; UTF-8 passes through. */
    bm_metrics_label_value(&b, "");
    assert_int_equal(b.len, 0);
    bm_metrics_label_value(&b, "caf\xc3\xa9");
    assert_string_equal(b.data, "caf\xc3\xa9");
    bm_buf_reset(&b);

    /* Built into a label list, as the daemon does. */
    bm_buf_puts(&b, "source=\"");
    bm_metrics_label_value(&b, "my \"feed\"");
    bm_buf_puts(&b, "\"");
    {
        struct bm_buf out = BM_BUF_INIT;

        bm_metrics_sample(&out, "bm_posts_total", b.data, 5);
        assert_string_equal(out.data,
                            "bm_posts_total{source=\"my \\\"feed\\\"\"} 5\n");
        bm_buf_release(&out);
    }
    bm_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_method, setup, teardown),
        cmocka_unit_test(test_bad_address),
        cmocka_unit_test_setup_teardown(test_cannot_bind, setup, teardown),
        cmocka_unit_test(test_other_hosts),
        cmocka_unit_test(test_family),
        cmocka_unit_test(test_sample_labels),
        cmocka_unit_test(test_sample_numbers),
        cmocka_unit_test(test_label_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
