/*
 * sources_int.h - what the per-API source files share with source.c.
 *
 * Not a public header: only daemon/stream/source.c and the files in
 * daemon/stream/sources/ include it. It declares each API's ops object (the
 * designated initializer at the end of that API's file) and the small
 * helpers the field maps have in common. Everything runs on the loop thread.
 */
#ifndef BRANDMON_SOURCES_INT_H
#define BRANDMON_SOURCES_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

extern const struct bm_source_ops bm_source_x;
extern const struct bm_source_ops bm_source_mastodon;
extern const struct bm_source_ops bm_source_jetstream;
extern const struct bm_source_ops bm_source_reddit;
extern const struct bm_source_ops bm_source_hn;
extern const struct bm_source_ops bm_source_generic;
extern const struct bm_source_ops bm_source_sse;
extern const struct bm_source_ops bm_source_ndjson;
extern const struct bm_source_ops bm_source_poll;
extern const struct bm_source_ops bm_source_replay;

/* The member @key of @obj when @obj is an object and the member is there
 * and not JSON null; else NULL. Borrowed from @obj. */
const json_t *bm_source_member(const json_t *obj, const char *key);

/* The member @key of @obj when it is an object / an array; else NULL. */
const json_t *bm_source_object(const json_t *obj, const char *key);
const json_t *bm_source_array(const json_t *obj, const char *key);

/* A non-empty string member, or NULL. Borrowed from @obj. */
const char *bm_source_nonempty(const json_t *obj, const char *key);

/* The first object in array @arr whose string member "id" equals @id, or
 * NULL. Borrowed from @arr. */
const json_t *bm_source_find_by_id(const json_t *arr, const char *id);

/* Sets the post's text to the JSON string @v (borrowed; its length is kept,
 * so embedded NULs survive). False, and nothing set, when @v is not a
 * string. */
bool bm_source_set_text(struct bm_post *p, const json_t *v);

/* Hands the contents of @b to @p as its text (kept on the post); @b is left
 * empty. 0, or -ENOMEM (then @b is released and the text is unchanged). */
int bm_source_set_text_buf(struct bm_post *p, struct bm_buf *b);

/* Sets created_at to @iso (borrowed) and created_ms to its value, or 0
 * when it does not parse. NULL leaves both unset. */
void bm_source_set_created(struct bm_post *p, const char *iso);

/* Formats a string kept on the post (freed by bm_post_release()), or NULL
 * when out of memory or the post keeps too many strings already. */
char *bm_source_keepf(struct bm_post *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends @s with '&', '<' and '>' written as entities, so that plain text
 * can be joined to HTML text. 0 or -ENOMEM. */
int bm_source_put_html_escaped(struct bm_buf *b, const char *s);

#endif
