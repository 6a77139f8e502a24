/*
 * source.c - the table of every API's source ops, and the helpers their
 * field maps share.
 *
 * Adding an API is one file in sources/ plus one line in `all_ops` below;
 * nothing else in the pipeline changes. This file only lists and looks up
 * ops: it opens no connection and maps no message itself.
 */
#include "brandmon/source.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/post.h"
#include "brandmon/time.h"

#include "stream/sources/sources_int.h"

static const struct bm_source_ops *const all_ops[] = {
    &bm_source_x,
    &bm_source_mastodon,
    &bm_source_jetstream,
    &bm_source_reddit,
    &bm_source_hn,
    &bm_source_generic,
    &bm_source_sse,
    &bm_source_ndjson,
    &bm_source_poll,
    &bm_source_replay,
    NULL,
};

const char *const bm_field_names[BM_FIELD_COUNT] = {
    [BM_FIELD_ID] = "id",
    [BM_FIELD_TEXT] = "text",
    [BM_FIELD_AUTHOR] = "author",
    [BM_FIELD_FOLLOWERS] = "followers",
    [BM_FIELD_LANG] = "lang",
    [BM_FIELD_URL] = "url",
    [BM_FIELD_CREATED_AT] = "created_at",
    [BM_FIELD_REPLY] = "reply",
    [BM_FIELD_REPOST] = "repost",
};

static const char *const skip_names[BM_SKIP_COUNT] = {
    "empty",   "too_long", "invalid_utf8", "malformed_json", "not_a_post",
    "no_text", "invalid",  "truncated",    "not_a_stream",
};

const char *bm_skip_reason_name(enum bm_skip_reason r)
{
    return r < BM_SKIP_COUNT ? skip_names[r] : "?";
}

const struct bm_source_ops *bm_source_ops_find(const char *name)
{
    size_t i;

    if (!name)
        return NULL;
    for (i = 0; all_ops[i]; i++) {
        if (strcmp(all_ops[i]->name, name) == 0)
            return all_ops[i];
    }
    return NULL;
}

const struct bm_source_ops *bm_source_format_find(const char *name)
{
    const struct bm_source_ops *ops = bm_source_ops_find(name);

    return ops && ops->field_map ? ops : NULL;
}

const struct bm_source_ops *bm_source_type_find(const char *name)
{
    const struct bm_source_ops *ops = bm_source_ops_find(name);

    return ops && ops->transport != BM_TRANSPORT_NONE ? ops : NULL;
}

const struct bm_source_ops *const *bm_source_ops_all(void)
{
    return all_ops;
}

const json_t *bm_source_member(const json_t *obj, const char *key)
{
    const json_t *v;

    if (!json_is_object(obj))
        return NULL;
    v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

const json_t *bm_source_object(const json_t *obj, const char *key)
{
    const json_t *v = bm_source_member(obj, key);

    return json_is_object(v) ? v : NULL;
}

const json_t *bm_source_array(const json_t *obj, const char *key)
{
    const json_t *v = bm_source_member(obj, key);

    return json_is_array(v) ? v : NULL;
}

const char *bm_source_nonempty(const json_t *obj, const char *key)
{
    const json_t *v = bm_source_member(obj, key);

    if (!json_is_string(v) || json_string_length(v) == 0)
        return NULL;
    return json_string_value(v);
}

const json_t *bm_source_find_by_id(const json_t *arr, const char *id)
{
    const json_t *v;
    const char *vid;
    size_t i;

    if (!json_is_array(arr) || !id)
        return NULL;
    for (i = 0; i < json_array_size(arr); i++) {
        v = json_array_get(arr, i);
        vid = bm_source_nonempty(v, "id");
        if (vid && strcmp(vid, id) == 0)
            return v;
    }
    return NULL;
}

bool bm_source_set_text(struct bm_post *p, const json_t *v)
{
    if (!json_is_string(v))
        return false;
    p->text = json_string_value(v);
    p->text_len = json_string_length(v);
    return true;
}

int bm_source_set_text_buf(struct bm_post *p, struct bm_buf *b)
{
    size_t len = b->len;
    char *s = bm_buf_detach(b);

    if (!bm_post_keep(p, s))
        return -ENOMEM;
    p->text = s;
    p->text_len = len;
    return 0;
}

void bm_source_set_created(struct bm_post *p, const char *iso)
{
    int64_t ms;

    if (!iso)
        return;
    p->created_at = iso;
    p->created_ms = bm_time_parse_iso8601(iso, &ms) == 0 ? ms : 0;
}

char *bm_source_keepf(struct bm_post *p, const char *fmt, ...)
{
    struct bm_buf b = BM_BUF_INIT;
    va_list ap;
    int rc;

    if (p->nowned >= BM_POST_MAX_OWNED)
        return NULL;
    va_start(ap, fmt);
    rc = bm_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        bm_buf_release(&b);
        return NULL;
    }
    return bm_post_keep(p, bm_buf_detach(&b));
}

int bm_source_put_html_escaped(struct bm_buf *b, const char *s)
{
    const char *run = s;
    int rc = 0;

    for (; rc == 0 && *s; s++) {
        const char *ent;

        if (*s == '&')
            ent = "&amp;";
        else if (*s == '<')
            ent = "&lt;";
        else if (*s == '>')
            ent = "&gt;";
        else
            continue;
        rc = bm_buf_append(b, run, (size_t)(s - run));
        if (rc == 0)
            rc = bm_buf_puts(b, ent);
        run = s + 1;
    }
    if (rc == 0)
        rc = bm_buf_puts(b, run);
    return rc;
}
