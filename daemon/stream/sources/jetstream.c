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
 *
 * The connection itself is the WebSocket transport's (websocket.c); this
 * file gives it the two pieces of Jetstream's resume protocol: the URL
 * (wantedCollections from the config, `cursor` in microseconds) and the
 * `time_us` of each event, found without building a JSON tree.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "brandmon/backoff.h"
#include "brandmon/buf.h"
#include "brandmon/json.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"
#include "stream/stream_int.h"

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

/* ---- the resume protocol, for websocket.c ---- */

/* True when the query parameter @p (@n bytes, "name=value") is @name. */
static bool param_is(const char *p, size_t n, const char *name)
{
    size_t k = strlen(name);

    return n >= k && memcmp(p, name, k) == 0 && (n == k || p[k] == '=');
}

static int put_sep(struct bm_buf *b, bool *first)
{
    int rc = bm_buf_putc(b, *first ? '?' : '&');

    *first = false;
    return rc;
}

/* Appends wantedCollections=@nsid, escaping all but NSID characters. */
static int put_collection(struct bm_buf *b, bool *first, const char *nsid)
{
    int rc = put_sep(b, first);

    if (rc == 0)
        rc = bm_buf_puts(b, "wantedCollections=");
    for (const unsigned char *c = (const unsigned char *)nsid; rc == 0 && *c;
         c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
            (*c >= '0' && *c <= '9') || strchr(".-_~*", *c))
            rc = bm_buf_putc(b, (char)*c);
        else
            rc = bm_buf_printf(b, "%%%02X", *c);
    }
    return rc;
}

char *bm_jetstream_url(const char *url, char *const *collections, size_t n,
                       int64_t cursor_us)
{
    static char *const fallback[] = { (char *)POST_COLLECTION };
    struct bm_buf b = BM_BUF_INIT;
    const char *end = url + strcspn(url, "#"); /* a fragment is dropped */
    const char *q = memchr(url, '?', (size_t)(end - url)), *p;
    bool first = true, wanted = false;
    int rc;

    rc = bm_buf_append(&b, url, (size_t)((q ? q : end) - url));
    for (p = q ? q + 1 : end; rc == 0 && p < end;) {
        size_t len = strcspn(p, "&#");

        if (len > (size_t)(end - p))
            len = (size_t)(end - p);
        if (param_is(p, len, "wantedCollections"))
            wanted = true;
        if (len && !(cursor_us > 0 && param_is(p, len, "cursor"))) {
            rc = put_sep(&b, &first);
            if (rc == 0)
                rc = bm_buf_append(&b, p, len);
        }
        p += len;
        if (p < end)
            p++; /* the '&' */
    }
    if (!wanted && n == 0) {
        collections = fallback;
        n = 1;
    }
    for (size_t i = 0; rc == 0 && !wanted && i < n; i++)
        rc = put_collection(&b, &first, collections[i]);
    if (rc == 0 && cursor_us > 0) {
        rc = put_sep(&b, &first);
        if (rc == 0)
            rc = bm_buf_printf(&b, "cursor=%" PRId64, cursor_us);
    }
    if (rc) {
        bm_buf_release(&b);
        return NULL;
    }
    return bm_buf_detach(&b);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int64_t bm_jetstream_time_us(const char *data, size_t len)
{
    static const char key[] = "\"time_us\"";
    const size_t klen = sizeof(key) - 1;
    int depth = 0;
    size_t i = 0;

    while (i < len) {
        size_t start = i;

        if (data[i] == '{' || data[i] == '[') {
            depth++;
        } else if (data[i] == '}' || data[i] == ']') {
            depth--;
        } else if (data[i] == '"') {
            /* A string: skip it whole, so that no text inside it counts. */
            for (i++; i < len && data[i] != '"'; i++)
                if (data[i] == '\\')
                    i++;
            if (i >= len)
                return 0;
            if (depth == 1 && i + 1 - start == klen &&
                memcmp(data + start, key, klen) == 0) {
                int64_t v = 0;
                size_t digits = 0;

                for (i++; i < len && is_space(data[i]); i++)
                    ;
                if (i < len && data[i] != ':')
                    continue; /* "time_us" as a value, not a key */
                for (i++; i < len && is_space(data[i]); i++)
                    ;
                for (; i < len && is_digit(data[i]); i++, digits++) {
                    if (digits == 18)
                        return 0; /* not a time in microseconds */
                    v = v * 10 + (data[i] - '0');
                }
                return v;
            }
        }
        i++;
    }
    return 0;
}

const struct bm_source_ops bm_source_jetstream = {
    .name = "jetstream",
    .description = "Bluesky Jetstream (app.bsky.feed.post commits)",
    .field_map = jetstream_field_map,
    .unwrap = NULL,
    .transport = BM_TRANSPORT_WEBSOCKET,
    .backoff = &bm_backoff_jetstream,
    /* The server sends no heartbeat; our pings (every 20 s) get pongs. */
    .stall_ms = 30 * 1000,
};
