/*
 * post.h - the canonical post every source's message is mapped to.
 *
 * A post is filled by a field map (source.h) from one decoded JSON message
 * and lives for the length of that message's trip through the pipeline.
 * String members are borrowed from the message (`raw`) or, when a map has to
 * build one (a URL, a title joined to a body), owned by the post's own list
 * of allocations; either way they stay valid until bm_post_release() and
 * while `raw` is alive. Decisions borrow from the post; the sink copies what
 * it keeps.
 */
#ifndef BRANDMON_POST_H
#define BRANDMON_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define BM_POST_MAX_OWNED 8

struct bm_post {
    const char *id;         /* source-unique id; never NULL in a mapped post */
    const char *text;       /* the text to match; never NULL */
    size_t text_len;        /* bytes in text */
    bool text_is_html;      /* text is HTML (Mastodon, HN): strip it */
    const char *author;     /* handle, or NULL */
    int64_t followers;      /* the author's followers, -1 when unknown */
    const char *lang;       /* BCP 47 tag, or NULL */
    const char *url;        /* a link a person can open, or NULL */
    const char *created_at; /* ISO 8601 UTC as the source gave it, or NULL */
    int64_t created_ms;     /* created_at in ms since the epoch, or 0 */
    bool reply;             /* a reply to another post */
    bool repost;            /* a repost / retweet / boost / crosspost */
    const char *source;     /* the configured source's name; borrowed */
    const json_t *raw;      /* borrowed: the message, for `field:` leaves */
    /* Strings the map built; owned, freed by bm_post_release(). */
    char *owned[BM_POST_MAX_OWNED];
    size_t nowned;
};

/* Clears every member (followers = -1). */
void bm_post_init(struct bm_post *p);
/* Frees what the post owns; the post is left as after bm_post_init(). */
void bm_post_release(struct bm_post *p);
/*
 * Hands @s (malloc'ed) to the post, which frees it on release; returns @s,
 * or NULL (and frees @s) when the post already owns BM_POST_MAX_OWNED
 * strings or @s is NULL.
 */
char *bm_post_keep(struct bm_post *p, char *s);

#endif
