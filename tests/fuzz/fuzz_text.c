/*
 * fuzz_text.c - libFuzzer target: text normalisation and tokenisation
 * (text.h) on any bytes, as plain text and as HTML.
 *
 * Both runs share one struct bm_text, as the engine reuses its own across
 * posts. After each, the promises of text.h must hold: norm is
 * NUL-terminated and valid UTF-8 (bad input was replaced); every token has a
 * length, lies inside norm and after the one before; norm is exactly the
 * tokens joined with one space where SPACE_BEFORE says the source had white
 * space; a line break implies white space; the decoded text (scratch) is
 * valid UTF-8 and at most three times the input (U+FFFD for a bad byte).
 * Normalising the same bytes again gives the same result.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/buf.h"
#include "brandmon/text.h"

#include "fuzz_util.h"

static void check_text(const struct bm_text *t, size_t in_len)
{
    size_t end = 0, joined = 0;

    FUZZ_CHECK(t->norm.data != NULL);
    FUZZ_CHECK(t->norm.data[t->norm.len] == '\0');
    FUZZ_CHECK(bm_utf8_is_valid(t->norm.data, t->norm.len));
    FUZZ_CHECK(t->ntok <= t->tokcap);
    for (size_t i = 0; i < t->ntok; i++) {
        const struct bm_token *k = &t->tok[i];

        FUZZ_CHECK(k->len > 0);
        FUZZ_CHECK(k->off >= end);
        FUZZ_CHECK((size_t)k->off + k->len <= t->norm.len);
        if (i > 0 && (k->flags & BM_TOK_SPACE_BEFORE)) {
            FUZZ_CHECK(k->off == end + 1);
            FUZZ_CHECK(t->norm.data[end] == ' ');
            joined++;
        } else {
            FUZZ_CHECK(k->off == end);
        }
        if (k->flags & BM_TOK_NEWLINE_BEFORE)
            FUZZ_CHECK(k->flags & BM_TOK_SPACE_BEFORE);
        FUZZ_CHECK(bm_utf8_is_valid(t->norm.data + k->off, k->len));
        joined += k->len;
        end = k->off + k->len;
    }
    FUZZ_CHECK(joined == t->norm.len);
    if (in_len > BM_TEXT_MAX_INPUT)
        in_len = BM_TEXT_MAX_INPUT;
    FUZZ_CHECK(t->scratch.len <= 3 * in_len);
    FUZZ_CHECK(t->scratch.len == 0 ||
               bm_utf8_is_valid(t->scratch.data, t->scratch.len));
}

/* A copy of what @t holds, to compare with a second run. */
struct snapshot {
    char *norm; /* owned */
    size_t len;
    struct bm_token *tok; /* owned */
    size_t ntok;
};

static void snapshot_take(struct snapshot *s, const struct bm_text *t)
{
    s->len = t->norm.len;
    s->norm = malloc(s->len + 1);
    s->ntok = t->ntok;
    s->tok = malloc((s->ntok + 1) * sizeof(*s->tok));
    FUZZ_CHECK(s->norm != NULL && s->tok != NULL);
    memcpy(s->norm, t->norm.data, s->len + 1);
    if (s->ntok)
        memcpy(s->tok, t->tok, s->ntok * sizeof(*s->tok));
}

static bool snapshot_equal(const struct snapshot *s, const struct bm_text *t)
{
    if (s->len != t->norm.len || s->ntok != t->ntok)
        return false;
    if (memcmp(s->norm, t->norm.data, s->len) != 0)
        return false;
    return s->ntok == 0 ||
           memcmp(s->tok, t->tok, s->ntok * sizeof(*s->tok)) == 0;
}

static void snapshot_release(struct snapshot *s)
{
    free(s->norm);
    free(s->tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned opts[2] = { 0, BM_TEXT_HTML };
    const char *in = (const char *)data;
    struct snapshot snap;
    struct bm_text t;

    bm_text_init(&t);
    for (size_t i = 0; i < 2; i++) {
        FUZZ_CHECK(bm_text_normalise(&t, in, size, opts[i]) == 0);
        check_text(&t, size);
        snapshot_take(&snap, &t);
        FUZZ_CHECK(bm_text_normalise(&t, in, size, opts[i]) == 0);
        FUZZ_CHECK(snapshot_equal(&snap, &t));
        snapshot_release(&snap);
    }
    bm_text_release(&t);
    return 0;
}
