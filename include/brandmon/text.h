/*
 * text.h - text normalisation and tokenisation for matching and sentiment.
 *
 * A post's text goes through, in one pass:
 *   1. (optional, BM_TEXT_HTML) tags removed: <br>, </p>, <p>, </li>,
 *      </blockquote>, </div> become line breaks, every other tag is dropped;
 *      the contents of <script> and <style> are dropped.
 *   2. HTML character references decoded everywhere (X and Reddit escape &amp;
 *      &lt; &gt; in plain text): named (at least amp lt gt quot apos nbsp
 *      and the common Latin-1 ones), decimal &#39; and hex &#x27;.
 *   3. Invalid UTF-8 replaced by U+FFFD.
 *   4. Tokenisation on the decoded text (see below), each token then put in
 *      Unicode NFKC and case folded (utf8proc); ASCII takes a fast path that
 *      never calls utf8proc.
 *
 * `norm` is the tokens joined in order, with one ASCII space where the source
 * had white space between two tokens and nothing where it had none. So
 * `Ａｃｍｅ   PRINTERS!` becomes `acme printers!` with tokens "acme",
 * "printers", "!". Regex rule leaves run on `norm`.
 *
 * Tokens:
 *   - a word: a run of letters, marks, digits, connector punctuation ("_"),
 *     and an apostrophe (' or U+2019, stored as ') between two letters, so
 *     "don't" is one token; but a possessive "'s" at a word's end is split
 *     off as its own token ("acme's" -> "acme", "'s") so brand terms match;
 *   - a mention "@name" or hashtag "#name": '@' or '#' directly followed by
 *     a word; one token including the sigil (flag MENTION / HASHTAG);
 *   - a character of a script written without spaces (Han, Hiragana,
 *     Katakana incl. U+30FC, Thai, Lao, Khmer, Myanmar): one token per
 *     character, flag WORD, so terms in these scripts match as sequences;
 *   - an emoticon from a fixed table (":)", ":-)", ":(", ":-(", ":D", ";)",
 *     ":P", ":/", ":'(", "<3", "</3", ":|", ":O", "xD", "XD", "^^" ...)
 *     standing between white space or the text's ends: one token, flag
 *     EMOTICON (the token text is the emoticon as written, not folded);
 *   - any other non-space character (punctuation, symbol, emoji): one token
 *     of one code point, flag PUNCT (plus EMOJI when it is in an emoji
 *     range). Variation selectors (U+FE00..FE0F), ZWJ (U+200D), other
 *     format characters (Cf) and skin-tone modifiers (U+1F3FB..1F3FF) are
 *     dropped and make no token.
 *
 * Flags describe the source: CAPS when a word had at least two letters and
 * all its letters were upper case; SPACE_BEFORE / NEWLINE_BEFORE when white
 * space / a line break (or a block-level tag) preceded the token.
 *
 * Ownership: a struct bm_text is reused across posts (its buffers grow to the
 * largest post seen and stay). Not thread safe.
 */
#ifndef BRANDMON_TEXT_H
#define BRANDMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "brandmon/buf.h"

enum bm_text_opts {
    BM_TEXT_HTML = 1u << 0, /* strip tags before decoding entities */
};

enum bm_tok_flags {
    BM_TOK_WORD = 1u << 0,
    BM_TOK_PUNCT = 1u << 1,
    BM_TOK_MENTION = 1u << 2,
    BM_TOK_HASHTAG = 1u << 3,
    BM_TOK_EMOTICON = 1u << 4,
    BM_TOK_EMOJI = 1u << 5,
    BM_TOK_CAPS = 1u << 6,
    BM_TOK_SPACE_BEFORE = 1u << 7,
    BM_TOK_NEWLINE_BEFORE = 1u << 8,
};

struct bm_token {
    uint32_t off;   /* byte offset of the token in norm.data */
    uint32_t len;   /* bytes */
    uint32_t flags; /* enum bm_tok_flags */
};

struct bm_text {
    struct bm_buf norm;   /* owned: the normalised text */
    struct bm_token *tok; /* owned: ntok tokens in text order */
    size_t ntok;
    size_t tokcap;
    /* owned: the decoded text of the last call (tags dropped, block tags as
     * line breaks, references decoded, bad UTF-8 replaced; case kept), for
     * showing the post to a person. Not NUL-terminated: use scratch.len. */
    struct bm_buf scratch;
    uint32_t replaced; /* invalid UTF-8 sequences replaced by U+FFFD */
};

void bm_text_init(struct bm_text *t);
void bm_text_release(struct bm_text *t);

/*
 * Normalises @len bytes at @in (need not be NUL-terminated) into @t,
 * replacing what @t held. 0, or -ENOMEM (then @t is empty but valid).
 * Input longer than BM_TEXT_MAX_INPUT bytes is cut there (at a character
 * edge).
 */
#define BM_TEXT_MAX_INPUT (256u * 1024)
int bm_text_normalise(struct bm_text *t, const char *in, size_t len,
                      unsigned opts);

/* True when @len bytes at @s are well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
bool bm_utf8_is_valid(const char *s, size_t len);

#endif
