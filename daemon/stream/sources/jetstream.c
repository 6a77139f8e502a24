/*
 * jetstream.c - Bluesky Jetstream events, one JSON object per WebSocket
 * text frame.
 *
 * Only the creation or update of an `app.bsky.feed.post` record is a post;
 * deletes, identity and account events and other collections are ignored.
 * Brands hide outside the visible text, so the text is `record.text`
 * followed, each on a new line, by image alt texts, a link card's title and
 * description (from `record.embed`, and from `record.embed.media` when a
 * quote carries media), and the hidden tags as "#tag #tag". Jetstream gives
 * the author only as a DID: handle and reach would need a lookup this file
 * does not do, so `author` is the DID and `followers` stays -1. The id
 * (AT-URI) and the URL are built and kept on the post.
 */
#include <string.h>

#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/json.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

#define POST_COLLECTION "app.bsky.feed.post"

/* Appends @s on a line of its own (no break before the first line). */
static int put_line(struct bm_buf *b, const char *s)
{
    int rc = 0;

    if (b->len)
        rc = bm_buf_putc(b, '\n');
    return rc ? rc : bm_buf_puts(b, s);
}

/* Appends the alt texts and the link card of one embed object. */
static int put_embed(struct bm_buf *b, const json_t *embed)
{
    const json_t *images = bm_source_array(embed, "images");
    const json_t *external = bm_source_object(embed, "external");
    const char *s;
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < json_array_size(images); i++) {
        s = bm_source_nonempty(json_array_get(images, i), "alt");
        if (s)
            rc = put_line(b, s);
    }
    s = bm_source_nonempty(external, "title");
    if (rc == 0 && s)
        rc = put_line(b, s);
    s = bm_source_nonempty(external, "description");
    if (rc == 0 && s)
        rc = put_line(b, s);
    return rc;
}

/* Appends the record's hidden tags as one line "#a #b". */
static int put_tags(struct bm_buf *b, const json_t *tags)
{
    const char *tag;
    bool first = true;
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < json_array_size(tags); i++) {
        tag = json_string_value(json_array_get(tags, i));
        if (!tag || !*tag)
            continue;
        if (first && b->len)
            rc = bm_buf_putc(b, '\n');
        else if (!first)
            rc = bm_buf_putc(b, ' ');
        if (rc == 0)
            rc = bm_buf_printf(b, "#%s", tag);
        first = false;
    }
    return rc;
}

/*
 * Sets the text: record.text alone (borrowed) when nothing else is there,
 * else everything joined in a buffer kept on the post.
 */
static enum bm_map_result record_text(const json_t *record,
                                      struct bm_post *post)
{
    struct bm_buf b = BM_BUF_INIT;
    const json_t *text = bm_source_member(record, "text");
    const json_t *embed = bm_source_object(record, "embed");
    int rc = 0;

    if (json_is_string(text)) {
        bm_source_set_text(post, text);
        rc = bm_buf_append(&b, json_string_value(text),
                           json_string_length(text));
    }
    if (rc == 0)
        rc = put_embed(&b, embed);
    if (rc == 0)
        rc = put_embed(&b, bm_source_object(embed, "media"));
    if (rc == 0)
        rc = put_tags(&b, bm_source_array(record, "tags"));
    if (rc < 0)
        goto out_nomem;
    if (b.len == 0) {
        bm_buf_release(&b);
        /* An empty record.text with nothing around it is no text. */
        return BM_MAP_NO_TEXT;
    }
    if (json_is_string(text) && b.len == json_string_length(text)) {
        bm_buf_release(&b); /* nothing was added: borrow the text */
        return BM_MAP_POST;
    }
    if (bm_source_set_text_buf(post, &b) < 0)
        goto out_nomem;
    return BM_MAP_POST;

out_nomem:
    bm_buf_release(&b);
    return BM_MAP_INVALID; /* out of memory: the map cannot say more */
}

static enum bm_map_result jetstream_field_map(const json_t *msg,
                                              const struct bm_field_map *map,
                                              struct bm_post *post)
{
    const json_t *commit, *record, *langs;
    const char *kind, *did, *rkey, *op, *coll;
    enum bm_map_result rc;

    (void)map;
    if (!json_is_object(msg))
        return BM_MAP_INVALID;
    post->raw = msg;
    kind = bm_json_str(msg, "kind");
    if (!kind || strcmp(kind, "commit") != 0)
        return BM_MAP_IGNORE; /* identity, account, heartbeat ... */
    commit = bm_source_object(msg, "commit");
    if (!commit)
        return BM_MAP_INVALID;
    coll = bm_json_str(commit, "collection");
    op = bm_json_str(commit, "operation");
    if (!coll || strcmp(coll, POST_COLLECTION) != 0 || !op ||
        (strcmp(op, "create") != 0 && strcmp(op, "update") != 0))
        return BM_MAP_IGNORE;
    did = bm_source_nonempty(msg, "did");
    rkey = bm_source_nonempty(commit, "rkey");
    record = bm_source_object(commit, "record");
    if (!did || !rkey || !record)
        return BM_MAP_INVALID;
    post->id =
        bm_source_keepf(post, "at://%s/" POST_COLLECTION "/%s", did, rkey);
    if (!post->id)
        return BM_MAP_INVALID; /* out of memory */

    rc = record_text(record, post);
    if (rc != BM_MAP_POST)
        return rc;
    post->text_is_html = false;
    post->author = did;
    langs = bm_source_array(record, "langs");
    post->lang = json_string_value(json_array_get(langs, 0));
    if (post->lang && !*post->lang)
        post->lang = NULL;
    bm_source_set_created(post, bm_source_nonempty(record, "createdAt"));
    post->url =
        bm_source_keepf(post, "https://bsky.app/profile/%s/post/%s", did, rkey);
    post->reply = bm_source_member(record, "reply") != NULL;
    post->repost = false;
    return BM_MAP_POST;
}

const struct bm_source_ops bm_source_jetstream = {
    .name = "jetstream",
    .description = "Bluesky Jetstream (app.bsky.feed.post commits)",
    .field_map = jetstream_field_map,
    .unwrap = NULL,
};
