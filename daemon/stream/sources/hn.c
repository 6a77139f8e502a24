/*
 * hn.c - Hacker News through the Algolia search API (polled).
 *
 * A response is a page; unwrap() hands out its `hits`, and the field map
 * takes one hit. A comment's text is `comment_text`; a story's is its title,
 * then a blank line and `story_text` (Ask HN), or a line break and its link.
 * HN writes HTML in those texts, so text_is_html is set; the title and the
 * link are plain text and are HTML-escaped when joined to them, so that the
 * tag stripper treats them as text. HN has no follower count and no
 * language. The post's URL is the item page, built and kept on the post.
 */
#include <string.h>

#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/json.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

static const json_t *hn_unwrap(const json_t *msg)
{
    return bm_source_array(msg, "hits");
}

/* True when the hit is a comment: it has a parent, comment_text, or the
 * "comment" tag. */
static bool is_comment(const json_t *hit)
{
    const json_t *tags = bm_source_array(hit, "_tags");
    const char *tag;
    size_t i;

    if (bm_source_member(hit, "parent_id") ||
        json_is_string(bm_source_member(hit, "comment_text")))
        return true;
    for (i = 0; i < json_array_size(tags); i++) {
        tag = json_string_value(json_array_get(tags, i));
        if (tag && strcmp(tag, "comment") == 0)
            return true;
    }
    return false;
}

static enum bm_map_result story_text(const json_t *hit, struct bm_post *post)
{
    struct bm_buf b = BM_BUF_INIT;
    const char *title = bm_source_nonempty(hit, "title");
    const char *body = bm_source_nonempty(hit, "story_text");
    const char *link = bm_source_nonempty(hit, "url");
    int rc = 0;

    if (!title && !body)
        return BM_MAP_NO_TEXT;
    if (!title) {
        bm_source_set_text(post, bm_source_member(hit, "story_text"));
        return BM_MAP_POST;
    }
    if (!body && !link && !strpbrk(title, "&<>")) {
        bm_source_set_text(post, bm_source_member(hit, "title"));
        return BM_MAP_POST;
    }
    rc = bm_source_put_html_escaped(&b, title);
    if (rc == 0 && body) {
        rc = bm_buf_puts(&b, "\n\n");
        if (rc == 0)
            rc = bm_buf_puts(&b, body);
    } else if (rc == 0 && link) {
        rc = bm_buf_putc(&b, '\n');
        if (rc == 0)
            rc = bm_source_put_html_escaped(&b, link);
    }
    if (rc == 0)
        rc = bm_source_set_text_buf(post, &b);
    if (rc < 0) {
        bm_buf_release(&b);
        return BM_MAP_INVALID; /* out of memory: the map cannot say more */
    }
    return BM_MAP_POST;
}

static enum bm_map_result hn_field_map(const json_t *msg,
                                       const struct bm_field_map *map,
                                       struct bm_post *post)
{
    enum bm_map_result rc;
    const json_t *text;
    const char *id;
    bool comment;

    (void)map;
    if (!json_is_object(msg))
        return BM_MAP_INVALID;
    post->raw = msg;
    id = bm_source_nonempty(msg, "objectID");
    if (!id)
        return BM_MAP_INVALID;
    post->id = id;
    comment = is_comment(msg);
    if (comment) {
        text = bm_source_member(msg, "comment_text");
        if (!json_is_string(text) || json_string_length(text) == 0)
            return BM_MAP_NO_TEXT;
        bm_source_set_text(post, text);
    } else {
        rc = story_text(msg, post);
        if (rc != BM_MAP_POST)
            return rc;
    }
    post->text_is_html = true;
    post->author = bm_source_nonempty(msg, "author");
    post->followers = -1;
    post->lang = NULL;
    bm_source_set_created(post, bm_source_nonempty(msg, "created_at"));
    post->url =
        bm_source_keepf(post, "https://news.ycombinator.com/item?id=%s", id);
    post->reply = comment;
    post->repost = false;
    return BM_MAP_POST;
}

const struct bm_source_ops bm_source_hn = {
    .name = "hn",
    .description = "Hacker News via the Algolia search API, polled",
    .field_map = hn_field_map,
    .unwrap = hn_unwrap,
};
