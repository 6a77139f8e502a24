/*
 * post.c - the canonical post's life cycle.
 *
 * A post mostly borrows its strings from the decoded message; the few a
 * field map has to build (a URL, a title joined to a body) are handed to the
 * post with bm_post_keep() and freed together on release. The post never
 * copies the message and knows nothing about where it came from.
 */
#include "brandmon/post.h"

#include <stdlib.h>
#include <string.h>

void bm_post_init(struct bm_post *p)
{
    memset(p, 0, sizeof(*p));
    p->text = "";
    p->followers = -1;
}

void bm_post_release(struct bm_post *p)
{
    size_t i;

    for (i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    bm_post_init(p);
}

char *bm_post_keep(struct bm_post *p, char *s)
{
    if (!s)
        return NULL;
    if (p->nowned >= BM_POST_MAX_OWNED) {
        free(s);
        return NULL;
    }
    p->owned[p->nowned++] = s;
    return s;
}
