/*
 * escalate.h - escalations evaluated in memory, in post time, for
 * `brandmond --replay` (the running daemon keeps the same counts in Redis).
 *
 * Semantics, as docs/redis-schema.md "Throttles and escalations" states
 * them:
 *   - time is the post's created_ms; a post without one takes the previous
 *     post's time, or the wall clock (the caller's @t_ms) for the first;
 *   - counts are per UTC minute (minutes since the epoch);
 *   - an escalation (brand B, kind K) counts POSTS with at least one match
 *     of kind K for brand B: a post firing two such rules counts once;
 *   - window = ceil(window / 1 min) minutes W, baseline span = ceil(baseline
 *     / 1 min) minutes S; at the post's minute `now`, count = sum of
 *     [now - W + 1, now] and baseline = sum of [now - W - S + 1, now - W]
 *     * W / S (the average count per window length; 0 without a baseline);
 *   - it fires on a counted post when count >= count_at_least and, with
 *     ratio_to_baseline, count >= ratio * baseline; then stays quiet for
 *     `cooldown` of post time (posts still count while it is quiet).
 * A post later than the newest minute seen is counted in its own minute
 * and judged at that minute; a post older than the ring (W + S minutes
 * before the newest) is too late to count and is ignored.
 *
 * Memory is bounded: per escalation a ring of W + S minute counters and the
 * ids of its last 5 counted posts. Everything runs on the caller's thread;
 * an escalator is not shared.
 */
#ifndef BRANDMON_ESCALATE_H
#define BRANDMON_ESCALATE_H

#include <stdint.h>

#include "brandmon/engine.h"

#define BM_ESCALATE_MAX_SAMPLES 5

struct bm_escalator;
struct bm_ruleset;

/*
 * An escalator for every escalation of @rs (which it borrows: @rs must
 * outlive it). A rule set without escalations gives a valid escalator that
 * never fires. NULL on allocation failure.
 */
struct bm_escalator *bm_escalator_new(const struct bm_ruleset *rs);
void bm_escalator_free(struct bm_escalator *e);

/*
 * Counts decision @d's post (d->post, its created_ms and id) for every
 * escalation its matches feed, and sets d->escalations / d->nescalations
 * to those that fire on it, in rule-set order, each with its count,
 * baseline and up to BM_ESCALATE_MAX_SAMPLES sample post ids (the most
 * recent counted posts in the window, newest first). They are borrowed
 * from the escalator until its next feed or free. @t_ms is the wall
 * clock, used only when no post so far had a time.
 * 0, or -ENOMEM: then nothing was counted and @d has no escalations.
 */
int bm_escalator_feed(struct bm_escalator *e, struct bm_decision *d,
                      int64_t t_ms);

#endif
