/*
 * ruletest.c - `brandmond --test`: the packs' own tests, run and reported.
 *
 * Every test is decided by one engine over the whole rule set (packs share a
 * namespace, so a post may fire another pack's rule: a test sees what the
 * daemon would). What differed is said in one line a PR analyst can act on.
 */
#include "brandmon/ruletest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/buf.h"
#include "brandmon/engine.h"
#include "brandmon/sentiment.h"

#include "rules/rules_int.h"

static bool fired(const struct bm_decision *d, const char *rule)
{
    for (size_t i = 0; i < d->nmatches; i++)
        if (strcmp(d->matches[i].rule, rule) == 0)
            return true;
    return false;
}

static bool expected(const struct ruletest *t, const char *rule)
{
    for (uint32_t i = 0; i < t->nexpect; i++)
        if (strcmp(t->expect[i], rule) == 0)
            return true;
    return false;
}

static void list_rules(struct bm_buf *why, const struct ruletest *t,
                       const struct bm_decision *d)
{
    bm_buf_puts(why, "expected [");
    for (uint32_t i = 0; i < t->nexpect; i++)
        bm_buf_printf(why, "%s%s", i ? ", " : "", t->expect[i]);
    bm_buf_puts(why, "] got [");
    for (size_t i = 0; i < d->nmatches; i++)
        bm_buf_printf(why, "%s%s", i ? ", " : "", d->matches[i].rule);
    bm_buf_puts(why, "]");
}

static void check_brands(struct bm_buf *why, const struct ruletest *t,
                         const struct bm_decision *d)
{
    for (uint32_t i = 0; i < t->nbrands; i++) {
        const struct bm_decision_brand *b = NULL;

        for (size_t k = 0; k < d->nbrands && !b; k++)
            if (strcmp(d->brands[k].id, t->brand_ids[i]) == 0)
                b = &d->brands[k];
        if (!b) {
            bm_buf_printf(why, "%sbrand %s not mentioned", why->len ? "; " : "",
                          t->brand_ids[i]);
        } else if ((int)bm_tone_of(b->sentiment) != t->brand_tones[i]) {
            bm_buf_printf(why, "%sbrand %s tone expected %s got %s (%.2f)",
                          why->len ? "; " : "", t->brand_ids[i],
                          bm_tone_name((enum bm_tone)t->brand_tones[i]),
                          bm_tone_name(bm_tone_of(b->sentiment)), b->sentiment);
        }
    }
}

static void check_intents(struct bm_buf *why, const struct bm_ruleset *rs,
                          const struct ruletest *t, const struct bm_decision *d)
{
    for (size_t i = 0; i < rs->nintents; i++) {
        bool shown = false;

        if (!(t->intents >> i & 1))
            continue;
        for (size_t k = 0; k < d->nintents && !shown; k++)
            shown = strcmp(d->intents[k], rs->intents[i].name) == 0;
        if (!shown)
            bm_buf_printf(why, "%sintent %s not shown", why->len ? "; " : "",
                          rs->intents[i].name);
    }
}

/* Fills @why with what differed; empty when the test passed. */
static void judge(const struct bm_ruleset *rs, const struct ruletest *t,
                  const struct bm_decision *d, struct bm_buf *why)
{
    bool rules_ok = true;

    if (t->has_expect) {
        for (uint32_t i = 0; i < t->nexpect && rules_ok; i++)
            rules_ok = fired(d, t->expect[i]);
        for (size_t i = 0; i < d->nmatches && rules_ok; i++)
            rules_ok = expected(t, d->matches[i].rule);
        if (!rules_ok)
            list_rules(why, t, d);
    }
    if (t->tone >= 0 && (int)bm_tone_of(d->sentiment) != t->tone)
        bm_buf_printf(why, "%stone expected %s got %s (%.2f)",
                      why->len ? "; " : "", bm_tone_name((enum bm_tone)t->tone),
                      bm_tone_name(bm_tone_of(d->sentiment)), d->sentiment);
    check_brands(why, t, d);
    check_intents(why, rs, t, d);
}

int bm_ruletest_run(const struct bm_ruleset *rs, FILE *out,
                    struct bm_ruletest_result *res)
{
    struct bm_engine *e = bm_engine_new(rs);
    struct bm_buf why = BM_BUF_INIT;

    memset(res, 0, sizeof(*res));
    if (!e)
        return -ENOMEM;
    for (size_t i = 0; i < rs->ntests; i++) {
        const struct ruletest *t = &rs->tests[i];
        struct bm_post post;
        struct bm_decision d;
        char id[32];

        bm_post_init(&post);
        snprintf(id, sizeof(id), "test-%zu", i + 1);
        post.id = id;
        post.text = t->text;
        post.text_len = strlen(t->text);
        post.text_is_html = t->html;
        post.author = t->author;
        post.followers = t->followers;
        post.lang = t->lang;
        post.source = t->source ? t->source : "test";
        post.reply = t->reply;
        post.repost = t->repost;
        post.raw = t->fields;
        bm_buf_reset(&why);
        if (bm_engine_decide(e, &post, &d)) {
            bm_post_release(&post);
            bm_buf_release(&why);
            bm_engine_free(e);
            return -ENOMEM;
        }
        judge(rs, t, &d, &why);
        if (why.len) {
            res->failed++;
            fprintf(out, "FAIL %s:%u %s: %s\n", t->file, t->line,
                    t->name ? t->name : t->text, why.data);
        } else {
            res->passed++;
            fprintf(out, "PASS %s:%u %s\n", t->file, t->line,
                    t->name ? t->name : t->text);
        }
        bm_post_release(&post);
    }
    bm_buf_release(&why);
    bm_engine_free(e);
    return 0;
}
