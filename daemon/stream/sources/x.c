/*
 * x.c - the X API v2 filtered stream: one JSON message per post.
 *
 * Maps a stream message to the canonical post: the post is `data`, its
 * author's handle and reach come from the expansion `includes.users`. A
 * message without `data` is a control or error object (for example the
 * operational-disconnect written just before the server closes) and is
 * ignored here; the stream code reads those itself. X writes &, < and > as
 * entities in plain text: the text is left as sent and the normaliser
 * decodes it (text_is_html stays false).
 *
 * Retweets: X cuts a retweet's `text` ("RT @user: ..." ending in U+2026).
 * When the text is cut and the original is in `includes.tweets`, the text
 * becomes "RT @user: " followed by the original's full text (its note_tweet
 * when it has one), so brand words in the cut-off tail still match. The
 * handle comes from the original's author in `includes.users`, else from
 * the "RT @user:" prefix. Otherwise the cut text is kept as sent.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "brandmon/backoff.h"
#include "brandmon/buf.h"
#include "brandmon/framer.h"
#include "brandmon/json.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

#define ELLIPSIS "\xE2\x80\xA6" /* U+2026, how X marks cut text */

/* The full text of a post object: note_tweet.text for long posts, else
 * text. NULL when neither is a string. */
static const json_t *tweet_text(const json_t *tweet)
{
    const json_t *note = bm_source_object(tweet, "note_tweet");
    const json_t *v = bm_source_member(note, "text");

    if (json_is_string(v))
        return v;
    v = bm_source_member(tweet, "text");
    return json_is_string(v) ? v : NULL;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * The handle to write after "RT @": the original's author from
 * includes.users, else the name in the retweet's "RT @name:" prefix. The
 * result is written into @out (NUL-terminated); false when neither is there.
 */
static bool retweeted_handle(const json_t *orig, const json_t *users,
                             const char *rt_text, char *out, size_t n)
{
    const json_t *user;
    const char *name, *colon;
    size_t len;

    user = bm_source_find_by_id(users, bm_json_str(orig, "author_id"));
    name = bm_source_nonempty(user, "username");
    if (name) {
        len = strlen(name);
    } else {
        if (strncmp(rt_text, "RT @", 4) != 0)
            return false;
        name = rt_text + 4;
        colon = strchr(name, ':');
        if (!colon || colon == name)
            return false;
        len = (size_t)(colon - name);
    }
    if (len >= n)
        return false;
    memcpy(out, name, len);
    out[len] = '\0';
    return true;
}

/* Replaces a cut retweet text with the full original; see the file comment.
 * Leaves the text as it was when the original is not available. */
static void retweet_full_text(const json_t *includes, const char *rt_id,
                              struct bm_post *post)
{
    struct bm_buf b = BM_BUF_INIT;
    const json_t *orig, *otext;
    char handle[128];

    if (!ends_with(post->text, post->text_len, ELLIPSIS))
        return;
    orig = bm_source_find_by_id(bm_source_array(includes, "tweets"), rt_id);
    otext = tweet_text(orig);
    if (!otext)
        return;
    if (!retweeted_handle(orig, bm_source_array(includes, "users"), post->text,
                          handle, sizeof(handle)))
        return;
    if (bm_buf_printf(&b, "RT @%s: ", handle) < 0 ||
        bm_buf_append(&b, json_string_value(otext), json_string_length(otext)) <
            0) {
        bm_buf_release(&b);
        return;
    }
    /* Out of memory keeps the cut text: still a usable post. */
    bm_source_set_text_buf(post, &b);
}

static enum bm_map_result x_field_map(const json_t *msg,
                                      const struct bm_field_map *map,
                                      struct bm_post *post)
{
    const json_t *data, *includes, *user, *refs, *ref, *metrics, *followers;
    const char *id, *username, *type, *rt_id = NULL;
    size_t i;

    (void)map;
    if (!json_is_object(msg))
        return BM_MAP_INVALID;
    post->raw = msg;
    data = bm_source_member(msg, "data");
    if (!data)
        return BM_MAP_IGNORE; /* in-stream error or control message */
    if (!json_is_object(data))
        return BM_MAP_INVALID;
    id = bm_source_nonempty(data, "id");
    if (!id)
        return BM_MAP_INVALID;
    post->id = id;
    if (!bm_source_set_text(post, tweet_text(data)))
        return BM_MAP_NO_TEXT;
    post->text_is_html = false;

    includes = bm_source_object(msg, "includes");
    user = bm_source_find_by_id(bm_source_array(includes, "users"),
                                bm_json_str(data, "author_id"));
    username = bm_source_nonempty(user, "username");
    post->author = username;
    metrics = bm_source_object(user, "public_metrics");
    followers = bm_source_member(metrics, "followers_count");
    if (json_is_integer(followers))
        post->followers = json_integer_value(followers);
    post->lang = bm_source_nonempty(data, "lang");
    bm_source_set_created(post, bm_source_nonempty(data, "created_at"));
    if (username)
        post->url =
            bm_source_keepf(post, "https://x.com/%s/status/%s", username, id);

    post->reply = bm_source_member(data, "in_reply_to_user_id") != NULL;
    refs = bm_source_array(data, "referenced_tweets");
    for (i = 0; i < json_array_size(refs); i++) {
        ref = json_array_get(refs, i);
        type = bm_json_str(ref, "type");
        if (!type)
            continue;
        if (strcmp(type, "replied_to") == 0) {
            post->reply = true;
        } else if (strcmp(type, "retweeted") == 0) {
            post->repost = true;
            rt_id = bm_json_str(ref, "id");
        }
    }
    if (rt_id)
        retweet_full_text(includes, rt_id, post);
    return BM_MAP_POST;
}

/*
 * X writes error objects into the stream ({"errors":[{"title":
 * "operational-disconnect", "disconnect_type": ..., "detail": ...}]}) and
 * then closes it: worth a log line, since they say why the stream ends.
 */
static bool x_describe(const json_t *msg, char *buf, size_t n)
{
    const json_t *err = json_array_get(bm_source_array(msg, "errors"), 0);
    const char *title = bm_source_nonempty(err, "title");
    const char *type = bm_source_nonempty(err, "disconnect_type");
    const char *detail = bm_source_nonempty(err, "detail");

    if (!title || bm_source_object(msg, "data"))
        return false;
    if (type && detail)
        snprintf(buf, n, "%s (%s): %s", title, type, detail);
    else if (detail)
        snprintf(buf, n, "%s: %s", title, detail);
    else
        snprintf(buf, n, "%s", title);
    return true;
}

const struct bm_source_ops bm_source_x = {
    .name = "x",
    .description = "X API v2 filtered stream (NDJSON)",
    .field_map = x_field_map,
    .unwrap = NULL,
    .transport = BM_TRANSPORT_STREAM,
    .framer = BM_FRAMER_NDJSON,
    .backoff = &bm_backoff_x,
    /* Keep-alives every 20 s; they come a little late (streams README). */
    .stall_ms = 30 * 1000,
    .accept = "application/json",
    .describe = x_describe,
};
