/*
 * curlev.c - libcurl multi on libevent, after curl's hiperfifo example.
 *
 * Three kinds of state, one struct each: the multi (struct bm_curlev), a
 * transfer (struct transfer, found through CURLOPT_PRIVATE) and a watched
 * socket (struct sock, attached with curl_multi_assign). The timer callback
 * of curl only arms or deletes our one timer: libcurl must not be called
 * from there. Unlike the example, nothing here exits or aborts: failures
 * are returned or logged.
 */
#include "brandmon/curlev.h"

#include <errno.h>
#include <stdlib.h>

#include "brandmon/log.h"

struct bm_curlev {
    struct event_base *base; /* borrowed: the daemon's loop */
    CURLM *multi;            /* owned */
    struct event *timer;     /* owned: curl's one timeout */
    int running;             /* transfers curl reports as running */
};

/* One transfer; freed when it ends or is removed. */
struct transfer {
    CURL *easy; /* borrowed: the owner's handle */
    bm_curlev_done_fn done;
    void *arg;
};

/* One socket curl asked us to watch. */
struct sock {
    struct bm_curlev *cl; /* borrowed: back pointer */
    curl_socket_t fd;
    struct event *ev; /* owned */
};

static void check_multi_info(struct bm_curlev *cl)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
        struct transfer *t = NULL;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(cl->multi, easy);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        if (t) {
            bm_curlev_done_fn done = t->done;
            void *arg = t->arg;

            free(t);
            done(easy, result, arg);
        }
    }
}

static void socket_action(struct bm_curlev *cl, curl_socket_t fd, int what)
{
    CURLMcode rc = curl_multi_socket_action(cl->multi, fd, what, &cl->running);

    if (rc != CURLM_OK)
        BM_ERR("curl", "curl_multi_socket_action: %s", curl_multi_strerror(rc));
    check_multi_info(cl);
}

static void event_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct bm_curlev *cl = arg;
    int what = (kind & EV_READ ? CURL_CSELECT_IN : 0) |
               (kind & EV_WRITE ? CURL_CSELECT_OUT : 0);

    socket_action(cl, fd, what);
    if (cl->running <= 0 && evtimer_pending(cl->timer, NULL))
        evtimer_del(cl->timer);
}

static void timer_cb(evutil_socket_t fd, short kind, void *arg)
{
    (void)fd;
    (void)kind;
    socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* curl's CURLMOPT_TIMERFUNCTION: arm (0 too) or delete (-1) the timer. */
static int multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    struct bm_curlev *cl = arg;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(cl->timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(cl->timer, &tv);
    return 0;
}

static void sock_free(struct sock *s)
{
    if (!s)
        return;
    event_free(s->ev);
    free(s);
}

/* curl's CURLMOPT_SOCKETFUNCTION: watch, change or forget a socket. */
static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
                   void *sockp)
{
    struct bm_curlev *cl = arg;
    struct sock *s = sockp;
    short kind;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        curl_multi_assign(cl->multi, fd, NULL);
        sock_free(s);
        return 0;
    }
    kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
                   (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        s->cl = cl;
        s->fd = fd;
        curl_multi_assign(cl->multi, fd, s);
    } else {
        event_free(s->ev);
    }
    s->ev = event_new(cl->base, fd, kind, event_cb, cl);
    if (!s->ev || event_add(s->ev, NULL) != 0) {
        BM_ERR("curl", "cannot watch socket %d", (int)fd);
        return -1;
    }
    return 0;
}

struct bm_curlev *bm_curlev_new(struct event_base *base)
{
    struct bm_curlev *cl = calloc(1, sizeof(*cl));

    if (!cl)
        return NULL;
    cl->base = base;
    cl->multi = curl_multi_init();
    cl->timer = evtimer_new(base, timer_cb, cl);
    if (!cl->multi || !cl->timer) {
        bm_curlev_free(cl);
        return NULL;
    }
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    return cl;
}

void bm_curlev_free(struct bm_curlev *cl)
{
    if (!cl)
        return;
    /* Owners remove their transfers first (the daemon stops its sources
     * before this), so no done callback is owed here. */
    if (cl->multi)
        curl_multi_cleanup(cl->multi);
    if (cl->timer)
        event_free(cl->timer);
    free(cl);
}

int bm_curlev_add(struct bm_curlev *cl, CURL *easy, bm_curlev_done_fn done,
                  void *arg)
{
    struct transfer *t = calloc(1, sizeof(*t));
    CURLMcode rc;

    if (!t)
        return -ENOMEM;
    t->easy = easy;
    t->done = done;
    t->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    rc = curl_multi_add_handle(cl->multi, easy);
    if (rc != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(t);
        BM_ERR("curl", "curl_multi_add_handle: %s", curl_multi_strerror(rc));
        return -EIO;
    }
    return 0;
}

void bm_curlev_remove(struct bm_curlev *cl, CURL *easy)
{
    struct transfer *t = NULL;

    if (!easy)
        return;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    if (!t)
        return;
    curl_multi_remove_handle(cl->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(t);
}

int bm_curlev_running(const struct bm_curlev *cl)
{
    return cl->running;
}
