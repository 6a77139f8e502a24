/*
 * fuzz_decision.c - libFuzzer target: the engine (engine.h) deciding a post
 * whose text is the input, with the shipped example packs
 * (rules/examples/) and base data (rules/), loaded once.
 *
 * The first byte's low bit says whether the text is HTML (the whole input
 * is still the text). The text is copied and NUL-terminated, as every post
 * the daemon decides has its text in a jansson string. The decision must hold
 * what it points to (brands, intents, matches with their terms), its JSON must
 * parse back with jansson as an object that carries the post id and as many
 * matches as the decision, and every alert template must render.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/diag.h"
#include "brandmon/engine.h"
#include "brandmon/pack.h"
#include "brandmon/post.h"

#include "fuzz_util.h"

#ifndef BM_RULES_DIR
#define BM_RULES_DIR "rules"
#endif

/* Loaded once for the whole run; freed by the process's exit. */
static struct bm_ruleset *rs;
static struct bm_engine *engine;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *paths[1] = { BM_RULES_DIR "/examples" };
    char msg[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 64];
    struct bm_diag d;

    (void)argc;
    (void)argv;
    memset(&d, 0, sizeof(d));
    rs = bm_ruleset_load(paths, 1, BM_RULES_DIR, &d);
    if (!rs) {
        bm_diag_format(&d, msg, sizeof(msg));
        fprintf(stderr, "fuzz_decision: %s\n", msg);
    }
    FUZZ_CHECK(rs != NULL);
    engine = bm_engine_new(rs);
    FUZZ_CHECK(engine != NULL);
    return 0;
}

static void check_decision(const struct bm_decision *d, const struct bm_post *p)
{
    FUZZ_CHECK(d->post == p);
    FUZZ_CHECK(d->text != NULL || d->text_len == 0);
    FUZZ_CHECK(d->sentiment >= -1.0 && d->sentiment <= 1.0);
    for (size_t i = 0; i < d->nbrands; i++) {
        FUZZ_CHECK(d->brands[i].id != NULL);
        FUZZ_CHECK(d->brands[i].sentiment >= -1.0 &&
                   d->brands[i].sentiment <= 1.0);
    }
    for (size_t i = 0; i < d->nintents; i++)
        FUZZ_CHECK(d->intents[i] != NULL);
    for (size_t i = 0; i < d->nmatches; i++) {
        const struct bm_decision_match *m = &d->matches[i];

        FUZZ_CHECK(m->rule != NULL);
        for (size_t t = 0; t < m->nterms; t++)
            FUZZ_CHECK(m->terms[t] != NULL);
    }
    FUZZ_CHECK(d->nescalations == 0);
}

static void check_json(const struct bm_decision *d, const struct bm_buf *out)
{
    const json_t *matches;
    json_error_t err;
    json_t *v;

    v = json_loadb(out->data, out->len, 0, &err);
    if (!v)
        fprintf(stderr, "decision JSON does not parse: %s at %d\n%s\n",
                err.text, err.position, out->data);
    FUZZ_CHECK(v != NULL);
    FUZZ_CHECK(json_is_object(v));
    FUZZ_CHECK(json_is_string(json_object_get(v, "post_id")));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(v, "post_id")),
                      "fuzz-1") == 0);
    matches = json_object_get(v, "matches");
    FUZZ_CHECK(json_is_array(matches));
    FUZZ_CHECK(json_array_size(matches) == d->nmatches);
    FUZZ_CHECK(json_array_size(json_object_get(v, "brands")) == d->nbrands);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bm_buf out = BM_BUF_INIT;
    struct bm_decision d;
    struct bm_post p;
    char *text;

    text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    bm_post_init(&p);
    p.id = "fuzz-1";
    p.source = "fuzz";
    p.author = "fuzzer";
    p.followers = 12345;
    p.text = text;
    p.text_len = size;
    p.text_is_html = size > 0 && (data[0] & 1);
    FUZZ_CHECK(bm_engine_decide(engine, &p, &d) == 0);
    check_decision(&d, &p);
    FUZZ_CHECK(bm_decision_write_json(&d, &out) == 0);
    check_json(&d, &out);
    for (size_t i = 0; i < d.nmatches; i++) {
        if (!d.matches[i].message)
            continue;
        bm_buf_reset(&out);
        FUZZ_CHECK(bm_decision_render(&d, &d.matches[i], d.matches[i].message,
                                      &out) == 0);
    }
    bm_buf_release(&out);
    bm_post_release(&p);
    free(text);
    return 0;
}
