/*
 * test_fieldmap.c - every API's field map from a message to the canonical
 * post (brandmon/source.h, brandmon/post.h), on the fixtures in
 * tests/data/fieldmap/ (one message per line, or one page for the polled
 * APIs). Each mapped post is checked field by field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "brandmon/post.h"
#include "brandmon/source.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#define ELL "\xE2\x80\xA6" /* U+2026 */

struct want {
    const char *id;
    const char *text;
    bool html;
    const char *author;
    int64_t followers;
    const char *lang;
    const char *url;
    const char *created_at;
    int64_t created_ms;
    bool reply;
    bool repost;
};

/* Line @lineno (1-based) of fixture @name, decoded; caller decrefs. */
static json_t *fixture_line(const char *name, size_t lineno)
{
    char path[1024], line[16384];
    json_error_t err;
    json_t *v = NULL;
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/fieldmap/%s", BM_TEST_DATA, name);
    f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    while (fgets(line, sizeof(line), f)) {
        if (++n == lineno) {
            v = json_loads(line, 0, &err);
            if (!v)
                fail_msg("%s:%zu: %s", name, lineno, err.text);
            break;
        }
    }
    fclose(f);
    if (!v)
        fail_msg("%s has no line %zu", name, lineno);
    return v;
}

static json_t *fixture_doc(const char *name)
{
    return fixture_line(name, 1);
}

static json_t *inline_json(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);

    if (!v)
        fail_msg("bad test JSON: %s", err.text);
    return v;
}

static const struct bm_source_ops *ops(const char *name)
{
    const struct bm_source_ops *o = bm_source_ops_find(name);

    assert_non_null(o);
    return o;
}

static enum bm_map_result map_msg(const char *source, const json_t *msg,
                                  const struct bm_field_map *fm,
                                  struct bm_post *p)
{
    bm_post_init(p);
    return ops(source)->field_map(msg, fm, p);
}

static void assert_str_or_null(const char *got, const char *want,
                               const char *what)
{
    if (!want) {
        if (got)
            fail_msg("%s: want NULL, got \"%s\"", what, got);
        return;
    }
    if (!got)
        fail_msg("%s: want \"%s\", got NULL", what, want);
    if (strcmp(got, want) != 0)
        fail_msg("%s: want \"%s\", got \"%s\"", what, want, got);
}

static void check_post(const struct bm_post *p, const json_t *msg,
                       const struct want *w)
{
    assert_str_or_null(p->id, w->id, "id");
    assert_str_or_null(p->text, w->text, "text");
    assert_int_equal(p->text_len, strlen(w->text));
    assert_int_equal(p->text_is_html, w->html);
    assert_str_or_null(p->author, w->author, "author");
    assert_int_equal(p->followers, w->followers);
    assert_str_or_null(p->lang, w->lang, "lang");
    assert_str_or_null(p->url, w->url, "url");
    assert_str_or_null(p->created_at, w->created_at, "created_at");
    assert_int_equal(p->created_ms, w->created_ms);
    assert_int_equal(p->reply, w->reply);
    assert_int_equal(p->repost, w->repost);
    assert_ptr_equal(p->raw, msg);
    /* The map never sets the configured source's name. */
    assert_null(p->source);
}

/* Maps line @lineno of @file with @source and checks it against @w. */
static void expect_post(const char *source, const char *file, size_t lineno,
                        const struct bm_field_map *fm, const struct want *w)
{
    json_t *msg = fixture_line(file, lineno);
    struct bm_post p;

    if (map_msg(source, msg, fm, &p) != BM_MAP_POST)
        fail_msg("%s:%zu: not mapped to a post", file, lineno);
    check_post(&p, msg, w);
    bm_post_release(&p);
    json_decref(msg);
}

static void expect_result(const char *source, const char *file, size_t lineno,
                          const struct bm_field_map *fm,
                          enum bm_map_result want)
{
    json_t *msg = fixture_line(file, lineno);
    struct bm_post p;
    enum bm_map_result got = map_msg(source, msg, fm, &p);

    if (got != want)
        fail_msg("%s:%zu: want result %d, got %d", file, lineno, (int)want,
                 (int)got);
    bm_post_release(&p);
    json_decref(msg);
}

static void expect_inline(const char *source, const char *text,
                          enum bm_map_result want)
{
    json_t *msg = inline_json(text);
    struct bm_post p;
    enum bm_map_result got = map_msg(source, msg, NULL, &p);

    if (got != want)
        fail_msg("%s %s: want result %d, got %d", source, text, (int)want,
                 (int)got);
    bm_post_release(&p);
    json_decref(msg);
}

/* ---- the table ---------------------------------------------------- */

static void test_ops_table(void **state)
{
    /* The message formats come first; the transport-only types (sse,
     * ndjson, poll, replay) after them have no field map of their own. */
    static const char *const names[] = { "x",      "mastodon", "jetstream",
                                         "reddit", "hn",       "generic" };
    static const char *const types[] = { "sse", "ndjson", "poll", "replay" };
    const struct bm_source_ops *const *all = bm_source_ops_all();
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_non_null(all[i]);
        assert_string_equal(all[i]->name, names[i]);
        assert_non_null(all[i]->description);
        assert_true(strlen(all[i]->description) > 0);
        assert_non_null(all[i]->field_map);
        assert_ptr_equal(bm_source_format_find(names[i]), all[i]);
        assert_ptr_equal(bm_source_ops_find(names[i]), all[i]);
        /* Only the polled APIs answer with pages. */
        if (strcmp(names[i], "reddit") == 0 || strcmp(names[i], "hn") == 0)
            assert_non_null(all[i]->unwrap);
        else
            assert_null(all[i]->unwrap);
    }
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++, i++) {
        assert_non_null(all[i]);
        assert_string_equal(all[i]->name, types[t]);
        assert_null(all[i]->field_map);
        assert_null(bm_source_format_find(types[t]));
        assert_ptr_equal(bm_source_type_find(types[t]), all[i]);
    }
    assert_null(all[i]);
    assert_null(bm_source_type_find("reddit")); /* a format, no transport */
    assert_ptr_equal(bm_source_ops_all(), all);
    assert_null(bm_source_ops_find("twitter"));
    assert_null(bm_source_ops_find(""));
    assert_null(bm_source_ops_find(NULL));
}

static void test_field_names(void **state)
{
    (void)state;
    assert_string_equal(bm_field_names[BM_FIELD_ID], "id");
    assert_string_equal(bm_field_names[BM_FIELD_TEXT], "text");
    assert_string_equal(bm_field_names[BM_FIELD_AUTHOR], "author");
    assert_string_equal(bm_field_names[BM_FIELD_FOLLOWERS], "followers");
    assert_string_equal(bm_field_names[BM_FIELD_LANG], "lang");
    assert_string_equal(bm_field_names[BM_FIELD_URL], "url");
    assert_string_equal(bm_field_names[BM_FIELD_CREATED_AT], "created_at");
    assert_string_equal(bm_field_names[BM_FIELD_REPLY], "reply");
    assert_string_equal(bm_field_names[BM_FIELD_REPOST], "repost");
}

static void test_not_an_object(void **state)
{
    static const char *const bad[] = { "[1,2]", "\"str\"", "3", "null",
                                       "true" };
    const struct bm_source_ops *const *all = bm_source_ops_all();
    struct bm_post p;
    size_t i, j;
    json_t *msg;

    (void)state;
    for (i = 0; all[i]; i++) {
        if (!all[i]->field_map)
            continue;
        for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            msg = inline_json(bad[j]);
            bm_post_init(&p);
            if (all[i]->field_map(msg, NULL, &p) != BM_MAP_INVALID)
                fail_msg("%s accepted %s", all[i]->name, bad[j]);
            if (all[i]->unwrap)
                assert_null(all[i]->unwrap(msg));
            bm_post_release(&p);
            json_decref(msg);
        }
        /* An empty object is never a post either. */
        msg = inline_json("{}");
        bm_post_init(&p);
        assert_int_not_equal(all[i]->field_map(msg, NULL, &p), BM_MAP_POST);
        bm_post_release(&p);
        json_decref(msg);
    }
}

/* ---- the post ------------------------------------------------------ */

static void test_post_life_cycle(void **state)
{
    struct bm_post p;
    size_t i;

    (void)state;
    bm_post_init(&p);
    assert_null(p.id);
    assert_non_null(p.text);
    assert_int_equal(p.text_len, 0);
    assert_int_equal(p.followers, -1);
    assert_int_equal(p.created_ms, 0);
    assert_int_equal(p.nowned, 0);
    assert_null(bm_post_keep(&p, NULL));
    for (i = 0; i < BM_POST_MAX_OWNED; i++)
        assert_non_null(bm_post_keep(&p, strdup("kept")));
    /* One too many is freed (ASan would report a leak otherwise). */
    assert_null(bm_post_keep(&p, strdup("one too many")));
    assert_int_equal(p.nowned, BM_POST_MAX_OWNED);
    p.followers = 5;
    bm_post_release(&p);
    assert_int_equal(p.nowned, 0);
    assert_int_equal(p.followers, -1);
}

/* ---- X ---------------------------------------------------------------- */

static void test_x_note_tweet(void **state)
{
    const struct want w = {
        .id = "1900474356070293217",
        .text = "Acme Printers support has been great this week.\n\nThe X200 "
                "firmware fix landed and every office printer is back. "
                "Thanks @AcmeSupport #AcmePrinters",
        .author = "techreporter_ana",
        .followers = 252118,
        .lang = "en",
        .url = "https://x.com/techreporter_ana/status/1900474356070293217",
        .created_at = "2025-03-14T09:09:30.250Z",
        .created_ms = 1741943370250LL,
    };

    (void)state;
    expect_post("x", "x.ndjson", 1, NULL, &w);
}

static void test_x_retweet_full_text(void **state)
{
    const struct want w = {
        .id = "1900478298591631091",
        .text = "RT @dmitri_k: @AcmePrinters firmware 4.2.1 bricked my X200. "
                "Stuck on the boot logo, support says 5-7 days &amp; I "
                "bought it LAST WEEK.",
        .author = "quiet_owl_",
        .followers = 45,
        .lang = "en",
        .url = "https://x.com/quiet_owl_/status/1900478298591631091",
        .created_at = "2025-03-14T09:25:10.220Z",
        .created_ms = 1741944310220LL,
        .repost = true,
    };

    (void)state;
    expect_post("x", "x.ndjson", 2, NULL, &w);
}

static void test_x_reply_without_includes(void **state)
{
    const struct want w = {
        .id = "1900472000000000003",
        .text = "@AcmeSupport ink &amp; paper jam again &lt;3 not",
        .author = NULL,
        .followers = -1,
        .lang = "en",
        .url = NULL,
        .created_at = "2025-03-14T09:03:00.000Z",
        .created_ms = 1741942980000LL,
        .reply = true,
    };

    (void)state;
    expect_post("x", "x.ndjson", 3, NULL, &w);
}

static void test_x_not_posts(void **state)
{
    (void)state;
    expect_result("x", "x.ndjson", 4, NULL, BM_MAP_IGNORE);  /* error */
    expect_result("x", "x.ndjson", 5, NULL, BM_MAP_INVALID); /* id type */
    expect_result("x", "x.ndjson", 6, NULL, BM_MAP_NO_TEXT);
    expect_result("x", "x.ndjson", 10, NULL, BM_MAP_INVALID); /* data */
    expect_inline("x", "{\"data\":null}", BM_MAP_IGNORE);
    expect_inline("x", "{\"data\":{\"id\":\"\",\"text\":\"x\"}}",
                  BM_MAP_INVALID);
}

static void test_x_wrong_types(void **state)
{
    const struct want w = {
        .id = "1900472000000000007",
        .text = "hello acme",
        .followers = -1,
    };

    (void)state;
    expect_post("x", "x.ndjson", 7, NULL, &w);
}

static void test_x_retweet_fallbacks(void **state)
{
    const struct want cut = {
        .id = "1900472000000000008",
        .text = "RT @GlobexStatus: We are investigating elevated error "
                "rates" ELL,
        .author = "someone",
        .followers = 3,
        .url = "https://x.com/someone/status/1900472000000000008",
        .repost = true,
    };
    const struct want note = {
        .id = "1900472000000000009",
        .text = "RT @InitechInk: Neue Tinte von Initech Ink: doppelt so "
                "viele Seiten pro Patrone.",
        .followers = -1,
        .lang = "de",
        .repost = true,
    };

    (void)state;
    expect_post("x", "x.ndjson", 8, NULL, &cut);
    expect_post("x", "x.ndjson", 9, NULL, &note);
}

static void test_x_reply_by_reference(void **state)
{
    json_t *msg;
    struct bm_post p;

    (void)state;
    /* replied_to alone makes a reply; quoted makes neither flag. */
    msg = inline_json("{\"data\":{\"id\":\"11\",\"text\":\"t\","
                      "\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":"
                      "\"9\"},{\"type\":\"replied_to\",\"id\":\"8\"}]}}");
    assert_int_equal(map_msg("x", msg, NULL, &p), BM_MAP_POST);
    assert_true(p.reply);
    assert_false(p.repost);
    bm_post_release(&p);
    json_decref(msg);
    msg = inline_json("{\"data\":{\"id\":\"12\",\"text\":\"t\","
                      "\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":"
                      "\"9\"},7]}}");
    assert_int_equal(map_msg("x", msg, NULL, &p), BM_MAP_POST);
    assert_false(p.reply);
    assert_false(p.repost);
    bm_post_release(&p);
    json_decref(msg);
}

static void test_x_text_is_borrowed(void **state)
{
    json_t *msg = fixture_line("x.ndjson", 3);
    struct bm_post p;

    (void)state;
    assert_int_equal(map_msg("x", msg, NULL, &p), BM_MAP_POST);
    assert_ptr_equal(p.text, json_string_value(json_object_get(
                                 json_object_get(msg, "data"), "text")));
    assert_int_equal(p.nowned, 0);
    bm_post_release(&p);
    json_decref(msg);
}

/* ---- Mastodon ------------------------------------------------------------ */

static void test_mastodon_spoiler(void **state)
{
    const struct want w = {
        .id = "114159975137292764",
        .text = "rant SAV &lt;3 &amp; co\n\n<p>Trois jours sans r\xc3\xa9ponse "
                "du support Acme Printers pour un bourrage papier sur ma "
                "X100.</p>",
        .html = true,
        .author = "claire@social.example.fr",
        .followers = 212,
        .lang = "fr",
        .url = "https://social.example.fr/@claire/114159975137330150",
        .created_at = "2025-03-14T09:03:00.000Z",
        .created_ms = 1741942980000LL,
    };

    (void)state;
    expect_post("mastodon", "mastodon.jsonl", 1, NULL, &w);
}

static void test_mastodon_reply_uri(void **state)
{
    const struct want w = {
        .id = "114160011111111111",
        .text = "<p>Update: the Acme X200 works again &amp; prints fine.</p>",
        .html = true,
        .author = "bob",
        .followers = 3400,
        .lang = NULL,
        .url = "https://mastodon.example/users/bob/statuses/"
               "114160011111111111",
        .created_at = "2025-03-14T09:12:34.567Z",
        .created_ms = 1741943554567LL,
        .reply = true,
    };

    (void)state;
    expect_post("mastodon", "mastodon.jsonl", 2, NULL, &w);
}

static void test_mastodon_boost(void **state)
{
    const struct want w = {
        .id = "114160022222222222",
        .text = "<p>Globex Cloud is back in eu-west-2.</p>",
        .html = true,
        .author = "carol",
        .followers = 15,
        .lang = "en",
        .url = "https://globex.example/@news/1",
        .created_at = "2025-03-14T09:20:00.000Z",
        .created_ms = 1741944000000LL,
        .repost = true,
    };

    (void)state;
    expect_post("mastodon", "mastodon.jsonl", 3, NULL, &w);
}

static void test_mastodon_not_posts(void **state)
{
    (void)state;
    expect_result("mastodon", "mastodon.jsonl", 4, NULL, BM_MAP_NO_TEXT);
    expect_result("mastodon", "mastodon.jsonl", 5, NULL, BM_MAP_INVALID);
    expect_result("mastodon", "mastodon.jsonl", 7, NULL, BM_MAP_NO_TEXT);
}

static void test_mastodon_wrong_types(void **state)
{
    const struct want w = {
        .id = "114160044444444444",
        .text = "<p>acme ink</p>",
        .html = true,
        .followers = -1,
    };

    (void)state;
    expect_post("mastodon", "mastodon.jsonl", 6, NULL, &w);
}

/* ---- Jetstream ------------------------------------------------------------
 */

static void test_jetstream_alt_tags_reply(void **state)
{
    const struct want w = {
        .id = "at://did:plc:yrhoq5gnhc22etr3gk27273n/app.bsky.feed.post/"
              "3lkdapeaialko",
        .text = "first print with the new ink. I might cry\n"
                "Glossy photo print of a red tram, printed on an Acme X200\n"
                "Initech Chroma ink box\n"
                "#AcmePrinters #InitechInk",
        .author = "did:plc:yrhoq5gnhc22etr3gk27273n",
        .followers = -1,
        .lang = "en",
        .url = "https://bsky.app/profile/did:plc:yrhoq5gnhc22etr3gk27273n/"
               "post/3lkdapeaialko",
        .created_at = "2025-03-14T09:00:13.833Z",
        .created_ms = 1741942813833LL,
        .reply = true,
    };

    (void)state;
    expect_post("jetstream", "jetstream.jsonl", 1, NULL, &w);
}

static void test_jetstream_link_card(void **state)
{
    const struct want w = {
        .id = "at://did:plc:vuguipnpplb3d6qr3dvf32nc/app.bsky.feed.post/"
              "3lkdap6fwalky",
        .text = "Q4 results on March 20 \xf0\x9f\x91\x80\n"
                "Globex Cloud sets Q4 earnings date\n"
                "Ink subscriptions carry the quarter.",
        .author = "did:plc:vuguipnpplb3d6qr3dvf32nc",
        .followers = -1,
        .lang = NULL,
        .url = "https://bsky.app/profile/did:plc:vuguipnpplb3d6qr3dvf32nc/"
               "post/3lkdap6fwalky",
        .created_at = "2025-03-14T09:00:07.720Z",
        .created_ms = 1741942807720LL,
    };

    (void)state;
    expect_post("jetstream", "jetstream.jsonl", 2, NULL, &w);
}

static void test_jetstream_plain_and_update(void **state)
{
    struct want w = {
        .id = "at://did:plc:nvkb5aba4hcgnly73wg5vggd/app.bsky.feed.post/"
              "3lkdaoyylmkwb",
        .text = "Just set up the Acme Printers X200 & it printed my whole "
                "zine <3",
        .author = "did:plc:nvkb5aba4hcgnly73wg5vggd",
        .followers = -1,
        .lang = "en",
        .url = "https://bsky.app/profile/did:plc:nvkb5aba4hcgnly73wg5vggd/"
               "post/3lkdaoyylmkwb",
        .created_at = "2025-03-14T09:00:02.040Z",
        .created_ms = 1741942802040LL,
    };
    json_t *msg = fixture_line("jetstream.jsonl", 3);
    struct bm_post p;

    (void)state;
    expect_post("jetstream", "jetstream.jsonl", 3, NULL, &w);
    /* Nothing to add: the text is borrowed, not copied. */
    assert_int_equal(map_msg("jetstream", msg, NULL, &p), BM_MAP_POST);
    assert_ptr_equal(
        p.text, json_string_value(json_object_get(
                    json_object_get(json_object_get(msg, "commit"), "record"),
                    "text")));
    bm_post_release(&p);
    json_decref(msg);

    w.text = "Edited: the Acme Printers X200 is great";
    expect_post("jetstream", "jetstream.jsonl", 4, NULL, &w);
}

static void test_jetstream_not_posts(void **state)
{
    (void)state;
    expect_result("jetstream", "jetstream.jsonl", 5, NULL, BM_MAP_IGNORE);
    expect_result("jetstream", "jetstream.jsonl", 6, NULL, BM_MAP_IGNORE);
    expect_result("jetstream", "jetstream.jsonl", 7, NULL, BM_MAP_IGNORE);
    expect_result("jetstream", "jetstream.jsonl", 8, NULL, BM_MAP_IGNORE);
    expect_result("jetstream", "jetstream.jsonl", 10, NULL, BM_MAP_INVALID);
    expect_result("jetstream", "jetstream.jsonl", 11, NULL, BM_MAP_NO_TEXT);
    expect_inline("jetstream", "{\"kind\":\"commit\"}", BM_MAP_INVALID);
    expect_inline("jetstream",
                  "{\"kind\":\"commit\",\"commit\":{\"operation\":\"create\","
                  "\"collection\":\"app.bsky.feed.post\",\"rkey\":\"r\","
                  "\"record\":{\"text\":\"no did\"}}}",
                  BM_MAP_INVALID);
    expect_inline("jetstream", "{\"kind\":\"heartbeat\",\"payload\":\"x\"}",
                  BM_MAP_IGNORE);
}

static void test_jetstream_media_only(void **state)
{
    const struct want w = {
        .id = "at://did:plc:qqq/app.bsky.feed.post/3lkdaq111",
        .text = "Acme X200 jammed with paper",
        .author = "did:plc:qqq",
        .followers = -1,
        .lang = NULL,
        .url = "https://bsky.app/profile/did:plc:qqq/post/3lkdaq111",
        .created_at = "2025-03-14T09:00:19.000Z",
        .created_ms = 1741942819000LL,
    };

    (void)state;
    expect_post("jetstream", "jetstream.jsonl", 9, NULL, &w);
}

static void test_jetstream_wrong_types(void **state)
{
    const struct want w = {
        .id = "at://did:plc:ttt/app.bsky.feed.post/3lkdaq777",
        .text = "#GlobexDown",
        .author = "did:plc:ttt",
        .followers = -1,
        .url = "https://bsky.app/profile/did:plc:ttt/post/3lkdaq777",
    };

    (void)state;
    expect_post("jetstream", "jetstream.jsonl", 12, NULL, &w);
}

/* ---- Reddit ----------------------------------------------------------------
 */

static void test_reddit_listing(void **state)
{
    const struct want first = {
        .id = "t3_1jb058p",
        .text =
            "Acme X200 stuck on boot logo after firmware 4.2.1 \xe2\x80\x93 "
            "here's the fix\n\nUnplug it for 30 s, hold **Power + Wi-Fi** "
            "&amp; pick \"Restore previous firmware\".\n\nFixed &lt;3",
        .author = "fixit_fran",
        .followers = -1,
        .url = "https://www.reddit.com/r/printers/comments/1jb058p/"
               "acme_x200_stuck_on_boot_logo_after_firmware_421/",
        .created_at = "2025-03-14T09:38:10.500Z",
        .created_ms = 1741945090500LL,
    };
    const struct want deleted = {
        .id = "t3_1jb03yw",
        .text = "Acme support told me to just buy a new printer lol",
        .author = NULL,
        .followers = -1,
        .url = "https://www.reddit.com/r/printers/comments/1jb03yw/"
               "acme_support_told_me_to_just_buy_a_new_printer_lol/",
        .created_at = "2025-03-14T09:22:00.000Z",
        .created_ms = 1741944120000LL,
    };
    const struct bm_source_ops *o = ops("reddit");
    json_t *page = fixture_doc("reddit.json");
    const json_t *items;
    struct bm_post p;

    (void)state;
    items = o->unwrap(page);
    assert_non_null(items);
    assert_int_equal(json_array_size(items), 2);
    /* A page given to the map as if it were an item is refused. */
    assert_int_equal(map_msg("reddit", page, NULL, &p), BM_MAP_INVALID);
    bm_post_release(&p);
    /* A child is one item, not a page. */
    assert_null(o->unwrap(json_array_get(items, 0)));

    assert_int_equal(map_msg("reddit", json_array_get(items, 0), NULL, &p),
                     BM_MAP_POST);
    check_post(&p, json_array_get(items, 0), &first);
    bm_post_release(&p);

    assert_int_equal(map_msg("reddit", json_array_get(items, 1), NULL, &p),
                     BM_MAP_POST);
    check_post(&p, json_array_get(items, 1), &deleted);
    bm_post_release(&p);

    /* A bare data object maps the same way. */
    assert_int_equal(map_msg("reddit",
                             json_object_get(json_array_get(items, 0), "data"),
                             NULL, &p),
                     BM_MAP_POST);
    assert_string_equal(p.id, "t3_1jb058p");
    assert_string_equal(p.text, first.text);
    bm_post_release(&p);
    json_decref(page);
}

static void test_reddit_comment_and_crosspost(void **state)
{
    const struct want comment = {
        .id = "t1_kx1",
        .text = "Acme &amp; co fixed it",
        .author = "helper",
        .followers = -1,
        .url = "https://www.reddit.com/r/printers/comments/1/x/kx1/",
        .created_at = "2025-03-14T09:22:00.000Z",
        .created_ms = 1741944120000LL,
        .reply = true,
    };
    const struct want cross = {
        .id = "t3_cross",
        .text = "Saw this on r/mildlyinfuriating",
        .author = "curious_cat_88",
        .followers = -1,
        .repost = true,
    };
    json_t *msg;
    struct bm_post p;

    (void)state;
    msg = inline_json("{\"kind\":\"t1\",\"data\":{\"name\":\"t1_kx1\","
                      "\"body\":\"Acme &amp; co fixed it\",\"author\":"
                      "\"helper\",\"created_utc\":1741944120,\"permalink\":"
                      "\"/r/printers/comments/1/x/kx1/\"}}");
    assert_int_equal(map_msg("reddit", msg, NULL, &p), BM_MAP_POST);
    check_post(&p, msg, &comment);
    bm_post_release(&p);
    json_decref(msg);

    /* A bare comment is known by its fullname. */
    msg = inline_json("{\"name\":\"t1_kx1\",\"body\":\"Acme &amp; co fixed "
                      "it\",\"author\":\"helper\",\"created_utc\":"
                      "1741944120.0,\"permalink\":\"/r/printers/comments/1/"
                      "x/kx1/\"}");
    assert_int_equal(map_msg("reddit", msg, NULL, &p), BM_MAP_POST);
    check_post(&p, msg, &comment);
    bm_post_release(&p);
    json_decref(msg);

    msg = inline_json("{\"name\":\"t3_cross\",\"title\":\"Saw this on "
                      "r/mildlyinfuriating\",\"selftext\":\"\",\"author\":"
                      "\"curious_cat_88\",\"crosspost_parent\":\"t3_orig\","
                      "\"created_utc\":\"yesterday\",\"permalink\":7}");
    assert_int_equal(map_msg("reddit", msg, NULL, &p), BM_MAP_POST);
    check_post(&p, msg, &cross);
    bm_post_release(&p);
    json_decref(msg);
}

static void test_reddit_not_posts(void **state)
{
    (void)state;
    expect_inline("reddit", "{\"kind\":\"more\",\"data\":{\"count\":3}}",
                  BM_MAP_IGNORE);
    expect_inline("reddit",
                  "{\"kind\":\"t1\",\"data\":{\"name\":\"t1_x\",\"body\":"
                  "\"[deleted]\",\"author\":\"[deleted]\"}}",
                  BM_MAP_IGNORE);
    expect_inline("reddit", "{\"kind\":\"t3\",\"data\":\"x\"}", BM_MAP_INVALID);
    expect_inline("reddit", "{\"kind\":\"t3\",\"data\":{\"title\":\"no id\"}}",
                  BM_MAP_INVALID);
    expect_inline("reddit", "{\"name\":\"t3_n\",\"title\":5,\"selftext\":\"\"}",
                  BM_MAP_NO_TEXT);
    expect_inline("reddit",
                  "{\"name\":\"t3_n\",\"title\":\"\",\"selftext\":"
                  "\"[removed]\"}",
                  BM_MAP_NO_TEXT);
    expect_inline("reddit", "{\"name\":\"t1_n\",\"body\":null}",
                  BM_MAP_NO_TEXT);
}

/* ---- HN --------------------------------------------------------------------
 */

static void test_hn_page(void **state)
{
    const struct want story = {
        .id = "43365900",
        .text = "Ask HN: Acme X200 firmware &amp; support times?\n\nOur "
                "office has 12 Acme X200s.<p>Is anyone else seeing the 4.2.1 "
                "boot loop&#x2F;brick?",
        .html = true,
        .author = "printfan",
        .followers = -1,
        .url = "https://news.ycombinator.com/item?id=43365900",
        .created_at = "2025-03-14T08:40:00Z",
        .created_ms = 1741941600000LL,
    };
    const struct want comment = {
        .id = "43366392",
        .text = "Confirmed here, <i>4.2.2</i> fixed it. Acme support still "
                "hasn&#x27;t replied.",
        .html = true,
        .author = "dtrupp",
        .followers = -1,
        .url = "https://news.ycombinator.com/item?id=43366392",
        .created_at = "2025-03-14T08:59:00Z",
        .created_ms = 1741942740000LL,
        .reply = true,
    };
    const struct bm_source_ops *o = ops("hn");
    json_t *page = fixture_doc("hn.json");
    const json_t *hits;
    struct bm_post p;

    (void)state;
    hits = o->unwrap(page);
    assert_non_null(hits);
    assert_int_equal(json_array_size(hits), 2);
    assert_null(o->unwrap(json_array_get(hits, 0)));

    assert_int_equal(map_msg("hn", json_array_get(hits, 0), NULL, &p),
                     BM_MAP_POST);
    check_post(&p, json_array_get(hits, 0), &story);
    bm_post_release(&p);

    assert_int_equal(map_msg("hn", json_array_get(hits, 1), NULL, &p),
                     BM_MAP_POST);
    check_post(&p, json_array_get(hits, 1), &comment);
    /* The comment's text is borrowed from the hit. */
    assert_ptr_equal(p.text, json_string_value(json_object_get(
                                 json_array_get(hits, 1), "comment_text")));
    bm_post_release(&p);
    json_decref(page);
}

static void test_hn_story_shapes(void **state)
{
    const struct want link = {
        .id = "1",
        .text = "Acme &lt;b&gt; review\nhttps://a.example/?x=1&amp;y=2",
        .html = true,
        .author = NULL,
        .followers = -1,
        .url = "https://news.ycombinator.com/item?id=1",
    };
    const struct want title_only = {
        .id = "2",
        .text = "Coyote v. Acme",
        .html = true,
        .author = "wile",
        .followers = -1,
        .url = "https://news.ycombinator.com/item?id=2",
    };
    json_t *msg;
    struct bm_post p;

    (void)state;
    msg = inline_json("{\"objectID\":\"1\",\"title\":\"Acme <b> review\","
                      "\"url\":\"https://a.example/?x=1&y=2\",\"story_text\":"
                      "null,\"author\":3,\"_tags\":[\"story\"]}");
    assert_int_equal(map_msg("hn", msg, NULL, &p), BM_MAP_POST);
    check_post(&p, msg, &link);
    bm_post_release(&p);
    json_decref(msg);

    msg = inline_json("{\"objectID\":\"2\",\"title\":\"Coyote v. Acme\","
                      "\"author\":\"wile\",\"url\":null}");
    assert_int_equal(map_msg("hn", msg, NULL, &p), BM_MAP_POST);
    check_post(&p, msg, &title_only);
    assert_int_equal(p.nowned, 1); /* only the item URL was built */
    bm_post_release(&p);
    json_decref(msg);

    expect_inline("hn", "{\"objectID\":\"3\",\"parent_id\":1}", BM_MAP_NO_TEXT);
    expect_inline("hn", "{\"objectID\":\"4\",\"_tags\":[\"story\"]}",
                  BM_MAP_NO_TEXT);
    expect_inline("hn", "{\"objectID\":5,\"title\":\"numeric id\"}",
                  BM_MAP_INVALID);
    expect_inline("hn", "{\"title\":\"no id\"}", BM_MAP_INVALID);
}

/* ---- generic ------------------------------------------------------------- */

static const struct bm_field_map nested_map = {
    .ptr = {
        [BM_FIELD_ID] = "/post/id",
        [BM_FIELD_TEXT] = "/post/body",
        [BM_FIELD_AUTHOR] = "/post/user/handle",
        [BM_FIELD_FOLLOWERS] = "/post/user/followers",
        [BM_FIELD_LANG] = "/post/meta/lang",
        [BM_FIELD_URL] = "/post/links/0",
        [BM_FIELD_CREATED_AT] = "/post/ts",
        [BM_FIELD_REPLY] = "/post/meta/flags/reply",
        [BM_FIELD_REPOST] = "/post/meta/flags/repost",
    },
    .html = 1,
};

static void test_generic_nested(void **state)
{
    const struct want w = {
        .id = "4711",
        .text = "<p>Acme &amp; Globex</p>",
        .html = true,
        .author = "@partner_user",
        .followers = 1200,
        .lang = "en",
        .url = "https://partner.example/p/4711",
        .created_at = "2025-03-14T10:00:03+01:00",
        .created_ms = 1741942803000LL,
        .reply = true,
    };

    (void)state;
    expect_post("generic", "generic.jsonl", 1, &nested_map, &w);
}

static void test_generic_default_map(void **state)
{
    const struct want flat = {
        .id = "abc-1",
        .text = "Initech Ink is fine",
        .author = "ivan",
        .followers = 7,
        .lang = "de",
        .url = "https://feed.example/abc-1",
        .created_at = "2025-03-14T09:00:03.412Z",
        .created_ms = 1741942803412LL,
    };
    const struct want sparse = {
        .id = "-12",
        .text = "only text",
        .followers = -1,
    };

    (void)state;
    expect_post("generic", "generic.jsonl", 2, NULL, &flat);
    expect_post("generic", "generic.jsonl", 6, NULL, &sparse);
}

static void test_generic_escaped_pointer_and_types(void **state)
{
    struct bm_field_map fm = nested_map;
    const struct want w = {
        .id = "p-3",
        .text = "escaped pointer",
        .author = "u3",
        .followers = -1,
        .repost = true,
    };

    (void)state;
    fm.ptr[BM_FIELD_TEXT] = "/post/a~1b/m~0n";
    fm.html = 0;
    expect_post("generic", "generic.jsonl", 3, &fm, &w);
}

static void test_generic_not_posts(void **state)
{
    struct bm_field_map fm = nested_map;

    (void)state;
    expect_result("generic", "generic.jsonl", 4, &nested_map, BM_MAP_INVALID);
    expect_result("generic", "generic.jsonl", 5, &nested_map, BM_MAP_NO_TEXT);
    /* With the default map the nested messages have no /id. */
    expect_result("generic", "generic.jsonl", 1, NULL, BM_MAP_INVALID);
    fm.ptr[BM_FIELD_TEXT] = NULL;
    expect_result("generic", "generic.jsonl", 1, &fm, BM_MAP_NO_TEXT);
    fm.ptr[BM_FIELD_ID] = NULL;
    expect_result("generic", "generic.jsonl", 1, &fm, BM_MAP_INVALID);
    expect_inline("generic", "{\"id\":1.5,\"text\":\"real id\"}",
                  BM_MAP_INVALID);
    expect_inline("generic", "{\"id\":\"1\",\"text\":\"\"}", BM_MAP_NO_TEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_post_life_cycle),
        cmocka_unit_test(test_x_note_tweet),
        cmocka_unit_test(test_x_retweet_full_text),
        cmocka_unit_test(test_x_reply_without_includes),
        cmocka_unit_test(test_x_not_posts),
        cmocka_unit_test(test_x_wrong_types),
        cmocka_unit_test(test_x_retweet_fallbacks),
        cmocka_unit_test(test_x_reply_by_reference),
        cmocka_unit_test(test_x_text_is_borrowed),
        cmocka_unit_test(test_mastodon_spoiler),
        cmocka_unit_test(test_mastodon_reply_uri),
        cmocka_unit_test(test_mastodon_boost),
        cmocka_unit_test(test_mastodon_not_posts),
        cmocka_unit_test(test_mastodon_wrong_types),
        cmocka_unit_test(test_jetstream_alt_tags_reply),
        cmocka_unit_test(test_jetstream_link_card),
        cmocka_unit_test(test_jetstream_plain_and_update),
        cmocka_unit_test(test_jetstream_not_posts),
        cmocka_unit_test(test_jetstream_media_only),
        cmocka_unit_test(test_jetstream_wrong_types),
        cmocka_unit_test(test_reddit_listing),
        cmocka_unit_test(test_reddit_comment_and_crosspost),
        cmocka_unit_test(test_reddit_not_posts),
        cmocka_unit_test(test_hn_page),
        cmocka_unit_test(test_hn_story_shapes),
        cmocka_unit_test(test_generic_nested),
        cmocka_unit_test(test_generic_default_map),
        cmocka_unit_test(test_generic_escaped_pointer_and_types),
        cmocka_unit_test(test_generic_not_posts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
