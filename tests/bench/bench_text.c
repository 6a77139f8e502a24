/*
 * bench_text.c - throughput of bm_text_normalise() on a realistic post.
 *
 * Not a test: a standalone program that normalises one ~300-byte mixed post
 * (ASCII prose, a mention, a hashtag, entities, an accented word, curly
 * apostrophes, emoji with a skin tone, a little Japanese) a million times and
 * prints MB/s of input. Build with optimisation, e.g.
 *   cc -O2 -std=c11 -Iinclude daemon/core/text.c daemon/core/buf.c \
 *      tests/bench/bench_text.c -lutf8proc -o bench_text
 * An optional argument sets the number of iterations; a second one, "html",
 * runs a Mastodon-style HTML post instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "brandmon/text.h"

static const char plain_post[] =
    "Just got my new @AcmePrinters X200 &amp; it\xe2\x80\x99s already jammed "
    "twice \xf0\x9f\x98\xa1\xf0\x9f\x91\x8e\xf0\x9f\x8f\xbd WORST purchase "
    "this year!!! Support says \"try turning it off &amp; on\" :( "
    "Caf\xc3\xa9 down the street has the same one, no issues. "
    "\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xa7\xe3\x82\x82\xe4\xba\xba\xe6\xb0\x97 "
    "#AcmeFail https://t.co/Ab12Cd34Ef don't buy. Fix it, @AcmeSupport!";

static const char html_post[] =
    "<p>Just got my new <span class=\"h-card\"><a href=\"https://x.example/"
    "@acme\" class=\"u-url mention\">@<span>acme</span></a></span> X200 "
    "&amp; it&#39;s already jammed twice \xf0\x9f\x98\xa1 WORST purchase!</p>"
    "<p>Caf\xc3\xa9 owners: don\xe2\x80\x99t buy. <a href=\"https://x.example/"
    "tags/AcmeFail\" class=\"mention hashtag\" rel=\"tag\">#<span>AcmeFail"
    "</span></a></p>";

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 1000000;
    int html = argc > 2 && strcmp(argv[2], "html") == 0;
    const char *post = html ? html_post : plain_post;
    size_t len = strlen(post), ntok = 0;
    struct bm_text t;
    struct timespec a, b;
    double secs;
    long i;

    if (iters <= 0)
        iters = 1;
    bm_text_init(&t);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < iters; i++) {
        if (bm_text_normalise(&t, post, len, html ? BM_TEXT_HTML : 0) < 0) {
            fprintf(stderr, "bench_text: out of memory\n");
            bm_text_release(&t);
            return 1;
        }
        ntok += t.ntok;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    secs =
        (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("bench_text: %s post, %zu bytes, %zu tokens, %ld iterations\n",
           html ? "html" : "plain", len, ntok / (size_t)iters, iters);
    printf("bench_text: %.3f s, %.1f MB/s, %.0f posts/s, %.0f ns/post\n", secs,
           (double)len * (double)iters / secs / 1e6, (double)iters / secs,
           secs * 1e9 / (double)iters);
    printf("bench_text: norm = %s\n", t.norm.data);
    bm_text_release(&t);
    return 0;
}
