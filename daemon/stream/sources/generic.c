/*
 * generic.c - any JSON feed, mapped by RFC 6901 pointers from the config.
 *
 * Used by the generic SSE / NDJSON sources and replay: each post field has
 * a pointer into the message (struct bm_field_map); a field the map leaves
 * unset (or no map at all) uses the default pointer /id /text /author
 * /followers /lang /url /created_at. The id
 * may be a string or an integer (formatted into a string kept on the post);
 * followers must be an integer, reply and repost booleans; a value of
 * another type counts as missing, and so does an empty id or text. Whether the
 * text is HTML is the map's `html` flag.
 */
#include <jansson.h>

#include "brandmon/json.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

static const struct bm_field_map default_map = {
    .ptr = {
        [BM_FIELD_ID] = "/id",
        [BM_FIELD_TEXT] = "/text",
        [BM_FIELD_AUTHOR] = "/author",
        [BM_FIELD_FOLLOWERS] = "/followers",
        [BM_FIELD_LANG] = "/lang",
        [BM_FIELD_URL] = "/url",
        [BM_FIELD_CREATED_AT] = "/created_at",
    },
    .html = 0,
};

/* The value at the map's pointer for @f, or NULL (also for JSON null). */
static const json_t *field(const json_t *msg, const struct bm_field_map *map,
                           enum bm_field f)
{
    const char *ptr = map->ptr[f] ? map->ptr[f] : default_map.ptr[f];
    const json_t *v;

    if (!ptr)
        return NULL;
    v = bm_json_pointer(msg, ptr);
    return json_is_null(v) ? NULL : v;
}

/* A non-empty string at the map's pointer for @f, or NULL. */
static const char *field_str(const json_t *msg, const struct bm_field_map *map,
                             enum bm_field f)
{
    const json_t *v = field(msg, map, f);

    if (!json_is_string(v) || json_string_length(v) == 0)
        return NULL;
    return json_string_value(v);
}

static enum bm_map_result generic_field_map(const json_t *msg,
                                            const struct bm_field_map *map,
                                            struct bm_post *post)
{
    const json_t *id, *text, *followers;

    if (!map)
        map = &default_map;
    if (!json_is_object(msg))
        return BM_MAP_INVALID;
    post->raw = msg;
    id = field(msg, map, BM_FIELD_ID);
    if (json_is_string(id) && json_string_length(id) > 0)
        post->id = json_string_value(id);
    else if (json_is_integer(id))
        post->id =
            bm_source_keepf(post, "%lld", (long long)json_integer_value(id));
    if (!post->id)
        return BM_MAP_INVALID;
    text = field(msg, map, BM_FIELD_TEXT);
    if (!json_is_string(text) || json_string_length(text) == 0)
        return BM_MAP_NO_TEXT;
    bm_source_set_text(post, text);
    post->text_is_html = map->html != 0;
    post->author = field_str(msg, map, BM_FIELD_AUTHOR);
    followers = field(msg, map, BM_FIELD_FOLLOWERS);
    if (json_is_integer(followers))
        post->followers = json_integer_value(followers);
    post->lang = field_str(msg, map, BM_FIELD_LANG);
    post->url = field_str(msg, map, BM_FIELD_URL);
    bm_source_set_created(post, field_str(msg, map, BM_FIELD_CREATED_AT));
    post->reply = json_is_true(field(msg, map, BM_FIELD_REPLY));
    post->repost = json_is_true(field(msg, map, BM_FIELD_REPOST));
    return BM_MAP_POST;
}

const struct bm_source_ops bm_source_generic = {
    .name = "generic",
    .description = "any JSON feed, fields mapped by JSON pointers",
    .field_map = generic_field_map,
    .unwrap = NULL,
};
