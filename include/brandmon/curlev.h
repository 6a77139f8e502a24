/*
 * curlev.h - libcurl's multi_socket interface driven by libevent.
 *
 * The pattern of curl's hiperfifo example: one CURLM, one timer event, one
 * persistent event per socket curl asks us to watch. Socket and timer
 * events call curl_multi_socket_action(); finished transfers are collected
 * after each call and handed to their owner's done callback, outside any
 * libcurl callback, so the owner may remove, free or re-add its handle
 * there.
 *
 * Each transfer's owner keeps its CURL easy handle and its own error buffer
 * (CURLOPT_ERRORBUFFER); this module only adds, watches and removes.
 * Everything runs on the loop thread.
 */
#ifndef BRANDMON_CURLEV_H
#define BRANDMON_CURLEV_H

#include <curl/curl.h>
#include <event2/event.h>

struct bm_curlev;

/* A transfer ended (done, failed, or removed by curl); @result is curl's
 * code. The handle is already out of the multi. */
typedef void (*bm_curlev_done_fn)(CURL *easy, CURLcode result, void *arg);

/* NULL when out of memory or when curl cannot make a multi handle. */
struct bm_curlev *bm_curlev_new(struct event_base *base);
/* Frees the multi. Every transfer must have been removed (or ended)
 * before: the owners of the handles stop first. */
void bm_curlev_free(struct bm_curlev *cl);

/* Starts @easy; @done is called once when it ends. 0, -ENOMEM or -EIO.
 * Sets CURLOPT_PRIVATE: owners must not use it. */
int bm_curlev_add(struct bm_curlev *cl, CURL *easy, bm_curlev_done_fn done,
                  void *arg);
/* Stops @easy now without calling done. Safe for a handle not added.
 * Must not be called from inside a libcurl callback (write, header). */
void bm_curlev_remove(struct bm_curlev *cl, CURL *easy);

/* Transfers running. */
int bm_curlev_running(const struct bm_curlev *cl);

#endif
