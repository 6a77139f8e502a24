/*
 * daemon.h - brandmond as a daemon: the one context that holds the loop,
 * the configuration, the rules, the sources and the sink, and the order in
 * which they start and stop.
 *
 * Start: config, rule packs, engine, sink, sources; then the loop. Stop
 * (SIGTERM, SIGINT): sources close their connections (what they had
 * received was decided when it arrived), the sink writes out what it holds,
 * the loop ends, and the run returns 0.
 */
#ifndef BRANDMON_DAEMON_H
#define BRANDMON_DAEMON_H

#include "brandmon/diag.h"

struct bm_daemon;

/*
 * Loads @config_path and everything it names. NULL with @diag filled
 * (`file:line:col: what`) when the config or a pack does not load, or with
 * only diag.msg set for other failures.
 */
struct bm_daemon *bm_daemon_new(const char *config_path, struct bm_diag *diag);
void bm_daemon_free(struct bm_daemon *d);

/* Runs until a stop signal. 0 after a clean stop, -errno otherwise. */
int bm_daemon_run(struct bm_daemon *d);

/*
 * -c CONFIG --check: loads the config and every pack it names, like a
 * start, but opens nothing (no sink, spool, secret, socket or stream), so
 * it is safe beside a running daemon. 0 with a one-line summary in @out, or
 * -EINVAL with @diag filled.
 */
int bm_daemon_check(const char *config_path, char *out, size_t n,
                    struct bm_diag *diag);

#endif
