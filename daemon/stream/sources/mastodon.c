/*
 * mastodon.c - Mastodon statuses, as the streaming API's `update` and
 * `status.update` events carry them.
 *
 * Maps one Status object (the event's payload, already decoded) to the
 * canonical post. The SSE framing, the event names and `delete` events
 * (whose payload is a bare id) are the stream code's business, not this
 * file's. `content` is sanitised HTML, so text_is_html is set and the
 * normaliser strips it.
 *
 * A content warning (`spoiler_text`, plain text) comes first: the text is
 * the warning, HTML-escaped so that the tag stripper cannot eat a "<3" in
 * it, then a blank line, then `content`. A boost (`reblog` non-null) is
 * mapped with the boosted status's text and language, and repost = true;
 * its id, author, reach and time stay the boost's own, and its URL is the
 * boost's `url`, else the boosted status's, else the boost's `uri`.
 * Without `content`, or with an empty one and no warning (media only), the
 * result is BM_MAP_NO_TEXT.
 */
#include <jansson.h>

#include "brandmon/backoff.h"
#include "brandmon/buf.h"
#include "brandmon/framer.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

/* Sets the text from @status's spoiler_text and content. */
static enum bm_map_result status_text(const json_t *status,
                                      struct bm_post *post)
{
    struct bm_buf b = BM_BUF_INIT;
    const json_t *content = bm_source_member(status, "content");
    const char *spoiler = bm_source_nonempty(status, "spoiler_text");

    if (!json_is_string(content))
        return BM_MAP_NO_TEXT;
    post->text_is_html = true;
    if (!spoiler) {
        if (json_string_length(content) == 0)
            return BM_MAP_NO_TEXT;
        bm_source_set_text(post, content);
        return BM_MAP_POST;
    }
    if (bm_source_put_html_escaped(&b, spoiler) < 0 ||
        bm_buf_puts(&b, "\n\n") < 0 ||
        bm_buf_append(&b, json_string_value(content),
                      json_string_length(content)) < 0 ||
        bm_source_set_text_buf(post, &b) < 0) {
        bm_buf_release(&b);
        return BM_MAP_INVALID; /* out of memory: the map cannot say more */
    }
    return BM_MAP_POST;
}

static enum bm_map_result mastodon_field_map(const json_t *msg,
                                             const struct bm_field_map *map,
                                             struct bm_post *post)
{
    const json_t *account, *reblog, *followers, *textsrc;
    enum bm_map_result rc;
    const char *id;

    (void)map;
    if (!json_is_object(msg))
        return BM_MAP_INVALID;
    post->raw = msg;
    id = bm_source_nonempty(msg, "id");
    if (!id)
        return BM_MAP_INVALID;
    post->id = id;

    reblog = bm_source_object(msg, "reblog");
    textsrc = reblog ? reblog : msg;
    rc = status_text(textsrc, post);
    if (rc != BM_MAP_POST)
        return rc;
    post->repost = reblog != NULL;

    account = bm_source_object(msg, "account");
    post->author = bm_source_nonempty(account, "acct");
    followers = bm_source_member(account, "followers_count");
    if (json_is_integer(followers))
        post->followers = json_integer_value(followers);
    post->lang = bm_source_nonempty(msg, "language");
    if (!post->lang && reblog)
        post->lang = bm_source_nonempty(reblog, "language");
    post->url = bm_source_nonempty(msg, "url");
    if (!post->url && reblog)
        post->url = bm_source_nonempty(reblog, "url");
    if (!post->url)
        post->url = bm_source_nonempty(msg, "uri");
    bm_source_set_created(post, bm_source_nonempty(msg, "created_at"));
    post->reply = bm_source_member(msg, "in_reply_to_id") != NULL;
    return BM_MAP_POST;
}

/* The events that carry a Status; `delete` carries a bare id. */
static const char *const mastodon_events[] = { "update", "status.update",
                                               NULL };

const struct bm_source_ops bm_source_mastodon = {
    .name = "mastodon",
    .description = "Mastodon streaming API (SSE update / status.update)",
    .field_map = mastodon_field_map,
    .unwrap = NULL,
    .transport = BM_TRANSPORT_STREAM,
    .framer = BM_FRAMER_SSE,
    .backoff = &bm_backoff_mastodon,
    /* ":thump" every 15 s: four missed heartbeats is a stall (ours). */
    .stall_ms = 60 * 1000,
    .accept = "text/event-stream",
    .events = mastodon_events,
};
