/*
 * fuzz_fieldmap.c - libFuzzer target: every message format's field map
 * (source.h) on one JSON message.
 *
 * The input is decoded as the daemon decodes a frame (json_loadb, flags 0);
 * what does not decode is dropped, as the daemon counts it and moves on.
 * Every ops with a field map then maps the message (or, for the polled APIs,
 * each item of the page its unwrap finds), the generic map both with its
 * defaults and with a map of odd pointers. A mapped post must keep the
 * promises of post.h (an id and a text, readable for their lengths); the
 * `describe` hooks must leave a NUL-terminated line. Every string in the
 * message is also tried as a JSON pointer into it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "brandmon/json.h"
#include "brandmon/post.h"
#include "brandmon/source.h"
#include "brandmon/text.h"

#include "fuzz_util.h"

/* Items of one page mapped at most (a page of 4 KiB cannot hold many). */
#define MAX_ITEMS 256

static const struct bm_field_map odd_map = {
    .ptr = {
        [BM_FIELD_ID] = "/data/0/id",
        [BM_FIELD_TEXT] = "/a~1b/~0t/",
        [BM_FIELD_AUTHOR] = "",
        [BM_FIELD_FOLLOWERS] = "/user/followers_count",
        [BM_FIELD_LANG] = "/-",
        [BM_FIELD_URL] = "/01",
        [BM_FIELD_CREATED_AT] = "/created_at/x",
        [BM_FIELD_REPLY] = "/reply",
        [BM_FIELD_REPOST] = "/9999999999999999999999",
    },
    .html = 1,
};

/* Reads every byte of a string the post says is there. */
static size_t touch(const char *s, size_t n)
{
    size_t sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)s[i];
    return sum;
}

static void check_post(const struct bm_post *p, struct bm_text *t)
{
    size_t sum = 0;

    FUZZ_CHECK(p->id != NULL);
    FUZZ_CHECK(p->text != NULL);
    FUZZ_CHECK(p->nowned <= BM_POST_MAX_OWNED);
    sum += touch(p->id, strlen(p->id));
    sum += touch(p->text, p->text_len);
    if (p->author)
        sum += touch(p->author, strlen(p->author));
    if (p->lang)
        sum += touch(p->lang, strlen(p->lang));
    if (p->url)
        sum += touch(p->url, strlen(p->url));
    if (p->created_at)
        sum += touch(p->created_at, strlen(p->created_at));
    (void)sum;
    /* What the engine does next with the text. */
    FUZZ_CHECK(bm_text_normalise(t, p->text, p->text_len,
                                 p->text_is_html ? BM_TEXT_HTML : 0) == 0);
}

static void map_one(const struct bm_source_ops *ops, const json_t *msg,
                    const struct bm_field_map *map, struct bm_text *t)
{
    struct bm_post post;
    enum bm_map_result r;

    bm_post_init(&post);
    post.source = "fuzz";
    r = ops->field_map(msg, map, &post);
    FUZZ_CHECK(r == BM_MAP_POST || r == BM_MAP_IGNORE || r == BM_MAP_NO_TEXT ||
               r == BM_MAP_INVALID);
    if (r == BM_MAP_POST)
        check_post(&post, t);
    bm_post_release(&post);
    FUZZ_CHECK(post.nowned == 0);
}

static void map_all(const struct bm_source_ops *ops, const json_t *msg,
                    const struct bm_field_map *map, struct bm_text *t)
{
    const json_t *items = ops->unwrap ? ops->unwrap(msg) : NULL;
    char line[64];

    if (items) {
        FUZZ_CHECK(json_is_array(items));
        for (size_t i = 0; i < json_array_size(items) && i < MAX_ITEMS; i++)
            map_one(ops, json_array_get(items, i), map, t);
    } else {
        map_one(ops, msg, map, t);
    }
    if (ops->describe) {
        memset(line, 'x', sizeof(line));
        if (ops->describe(msg, line, sizeof(line)))
            FUZZ_CHECK(memchr(line, '\0', sizeof(line)) != NULL);
    }
}

/* Every string value in @v (two levels deep) as a pointer into @root. */
static void try_pointers(const json_t *root, const json_t *v, int depth)
{
    const char *key;
    const json_t *m;
    size_t i;

    if (json_is_string(v)) {
        (void)bm_json_pointer_is_valid(json_string_value(v));
        (void)bm_json_pointer(root, json_string_value(v));
        return;
    }
    if (depth == 0)
        return;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m)
        {
            (void)bm_json_pointer(root, key);
            try_pointers(root, m, depth - 1);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            try_pointers(root, m, depth - 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct bm_source_ops *const *all = bm_source_ops_all();
    struct bm_text t;
    json_error_t err;
    json_t *msg;

    msg = json_loadb((const char *)data, size, 0, &err);
    if (!msg)
        return 0;
    bm_text_init(&t);
    for (size_t i = 0; all[i]; i++) {
        if (!all[i]->field_map)
            continue;
        map_all(all[i], msg, NULL, &t);
        if (strcmp(all[i]->name, "generic") == 0)
            map_all(all[i], msg, &odd_map, &t);
    }
    try_pointers(msg, msg, 2);
    bm_text_release(&t);
    json_decref(msg);
    return 0;
}
