/*
 * replay.h - offline replay: a file of messages, one JSON per line, decided
 * without network or Redis.
 *
 * Lines are read with a ceiling on their length, so a huge line costs at
 * most that much memory. Bad input is counted by reason, reported on stderr
 * at a limited rate with its line number, and skipped; the replay goes on.
 */
#ifndef BRANDMON_REPLAY_H
#define BRANDMON_REPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "brandmon/engine.h"
#include "brandmon/source.h"

#define BM_REPLAY_MAX_LINE_DEFAULT (1024u * 1024)

struct bm_replay_stats {
    uint64_t lines;   /* lines read */
    uint64_t bytes;   /* bytes read */
    uint64_t posts;   /* messages mapped to posts */
    uint64_t decided; /* posts decided */
    uint64_t matches; /* rule matches over all posts */
    uint64_t skipped[BM_SKIP_COUNT];
};

/* Called for each decision; the decision is valid during the call only.
 * A negative return stops the replay with that error. */
typedef int (*bm_replay_decision_fn)(const struct bm_decision *d, void *arg);

struct bm_replay_opts {
    const struct bm_source_ops *ops; /* the format's field map */
    const struct bm_field_map *map;  /* for the generic format, or NULL */
    const char *source;              /* name put on every post */
    size_t max_line;                 /* 0: BM_REPLAY_MAX_LINE_DEFAULT */
    /* The engine's rule set, whose escalations are evaluated in post time
     * (escalate.h), or NULL: decisions carry no escalations. */
    const struct bm_ruleset *rules;
};

/*
 * Reads @in to its end, deciding every post with @e and handing each
 * decision to @cb, with the escalations that fire on it when opts->rules
 * is set (one escalator for the whole replay). Fills @st. 0; -EIO on a
 * read error; -ENOMEM; or what @cb returned.
 */
int bm_replay_stream(FILE *in, const struct bm_replay_opts *opts,
                     struct bm_engine *e, bm_replay_decision_fn cb, void *arg,
                     struct bm_replay_stats *st);

/* Writes the summary line: "replay: N lines, N posts, N decided, N matches,
 * N skipped (reason: n, ...)". */
void bm_replay_summary(const struct bm_replay_stats *st, FILE *out);

#endif
