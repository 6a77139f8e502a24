/*
 * reddit.c - Reddit listings (polled): posts (t3) and comments (t1).
 *
 * A response is a Listing; unwrap() hands out its `data.children`, and the
 * field map takes one child ({"kind":"t3","data":{...}}) or a bare data
 * object. A post's text is its title, a blank line and its self text (left
 * out when empty or a "[deleted]"/"[removed]" placeholder); a comment's text
 * is its body, and a comment whose body is such a placeholder is ignored.
 * Reddit escapes &, < and > as entities unless raw_json=1 was sent: the
 * text is kept as sent and the normaliser decodes it. Reddit has no
 * language and no follower count on a post; "[deleted]" authors become
 * NULL; the id is the fullname (`t3_...`), and the time (`created_utc`,
 * float seconds) is formatted into an ISO string kept on the post.
 */
#include <string.h>

#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/json.h"
#include "brandmon/post.h"
#include "brandmon/source.h"
#include "brandmon/time.h"

#include "stream/sources/sources_int.h"

static bool is_placeholder(const char *s)
{
    return strcmp(s, "[deleted]") == 0 || strcmp(s, "[removed]") == 0;
}

static const json_t *reddit_unwrap(const json_t *msg)
{
    const char *kind = bm_json_str(msg, "kind");

    if (!kind || strcmp(kind, "Listing") != 0)
        return NULL;
    return bm_source_array(bm_source_object(msg, "data"), "children");
}

/* A link post's text: title + "\n\n" + selftext, or whichever is there. */
static enum bm_map_result link_text(const json_t *data, struct bm_post *post)
{
    struct bm_buf b = BM_BUF_INIT;
    const json_t *title = bm_source_member(data, "title");
    const char *self = bm_source_nonempty(data, "selftext");

    if (self && is_placeholder(self))
        self = NULL;
    if (!json_is_string(title) || json_string_length(title) == 0) {
        if (!self)
            return BM_MAP_NO_TEXT;
        bm_source_set_text(post, bm_source_member(data, "selftext"));
        return BM_MAP_POST;
    }
    if (!self) {
        bm_source_set_text(post, title);
        return BM_MAP_POST;
    }
    if (bm_buf_append(&b, json_string_value(title), json_string_length(title)) <
            0 ||
        bm_buf_puts(&b, "\n\n") < 0 || bm_buf_puts(&b, self) < 0 ||
        bm_source_set_text_buf(post, &b) < 0) {
        bm_buf_release(&b);
        return BM_MAP_INVALID; /* out of memory: the map cannot say more */
    }
    return BM_MAP_POST;
}

static enum bm_map_result reddit_field_map(const json_t *msg,
                                           const struct bm_field_map *map,
                                           struct bm_post *post)
{
    const json_t *data = msg, *body, *created;
    const char *kind, *name, *author, *permalink;
    enum bm_map_result rc;
    bool comment;
    char iso[32];
    double secs;

    (void)map;
    if (!json_is_object(msg))
        return BM_MAP_INVALID;
    post->raw = msg;
    kind = bm_json_str(msg, "kind");
    if (kind) {
        if (strcmp(kind, "Listing") == 0)
            return BM_MAP_INVALID; /* a page: unwrap it first */
        if (strcmp(kind, "t3") != 0 && strcmp(kind, "t1") != 0)
            return BM_MAP_IGNORE; /* "more", accounts, subreddits ... */
        data = bm_source_object(msg, "data");
        if (!data)
            return BM_MAP_INVALID;
    }
    name = bm_source_nonempty(data, "name");
    if (!name)
        return BM_MAP_INVALID;
    post->id = name;
    comment = kind ? strcmp(kind, "t1") == 0 : strncmp(name, "t1_", 3) == 0;

    if (comment) {
        body = bm_source_member(data, "body");
        if (!json_is_string(body) || json_string_length(body) == 0)
            return BM_MAP_NO_TEXT;
        if (is_placeholder(json_string_value(body)))
            return BM_MAP_IGNORE; /* a deleted or removed comment */
        bm_source_set_text(post, body);
    } else {
        rc = link_text(data, post);
        if (rc != BM_MAP_POST)
            return rc;
    }
    post->text_is_html = false;

    author = bm_source_nonempty(data, "author");
    post->author = author && strcmp(author, "[deleted]") != 0 ? author : NULL;
    post->followers = -1;
    post->lang = NULL;
    created = bm_source_member(data, "created_utc");
    if (json_is_number(created)) {
        secs = json_number_value(created) * 1000.0;
        /* Beyond +-3e15 ms a time means nothing (and NaN fails here). */
        if (secs > -3e15 && secs < 3e15) {
            post->created_ms = (int64_t)(secs >= 0 ? secs + 0.5 : secs - 0.5);
            bm_time_format_iso8601(post->created_ms, iso);
            post->created_at = bm_source_keepf(post, "%s", iso);
        }
    }
    permalink = bm_source_nonempty(data, "permalink");
    if (permalink && permalink[0] == '/')
        post->url =
            bm_source_keepf(post, "https://www.reddit.com%s", permalink);
    else if (permalink)
        post->url = permalink;
    post->reply = comment;
    post->repost = bm_source_member(data, "crosspost_parent") != NULL;
    return BM_MAP_POST;
}

const struct bm_source_ops bm_source_reddit = {
    .name = "reddit",
    .description = "Reddit listings (t3 posts, t1 comments), polled",
    .field_map = reddit_field_map,
    .unwrap = reddit_unwrap,
};
