/*
 * text.c - text normalisation and tokenisation for matching and sentiment.
 *
 * A post goes through two linear passes. The decoder copies the input into
 * `scratch`: tags stripped (BM_TEXT_HTML; block tags become '\n'), character
 * references decoded, and every ill-formed UTF-8 sequence replaced by U+FFFD,
 * so what follows can trust its input. The tokeniser then walks `scratch`
 * once and writes each token, folded, straight into `norm`. ASCII bytes are
 * classified by one 256-entry table and lowered by arithmetic; only a token
 * holding something beyond ASCII goes through utf8proc (NFKC + case fold +
 * removal of default-ignorable code points), and even then the work buffer
 * is the unused tail of `norm`, so a reused struct bm_text stops allocating
 * once it has seen its largest post.
 *
 * Choices the header leaves open: control characters count as white space;
 * U+2019 becomes ' wherever it stands; a format character inside a word is
 * dropped without splitting it ("ac<ZWSP>me" is "acme"); a combining mark
 * with nothing to mark is dropped; in HTML a line break in the source is only
 * white space, while the start or end tag of any common block element breaks
 * the line; a mention or hashtag may follow CJK text and keeps CJK
 * characters in it; CAPS is set on mentions and hashtags as on words.
 *
 * It does not detect languages, stem, drop stop words, recognise URLs or
 * split sentences; it does not segment words in scripts written without
 * spaces (it cuts them into characters so that terms match as sequences),
 * and it does not render HTML: it only knows which tags break lines.
 */
#include "brandmon/text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "brandmon/buf.h"

/* Classes of a byte, from ascii_cls[]. */
enum {
    A_SP = 1u << 0, /* white space */
    A_NL = 1u << 1, /* line break (always with A_SP) */
    A_WD = 1u << 2, /* word character: letter, digit, '_' */
    A_LT = 1u << 3, /* letter */
    /* Upper-case letter. It must stay 0x10: shifted left once it is the
     * 0x20 that lowers an ASCII letter. */
    A_UP = 1u << 4,
    A_EM = 1u << 5, /* may start an emoticon */
    A_CC = 1u << 6, /* other control character: taken as white space */
    A_DC = 1u << 7, /* the decoder looks closer: & < \n \r */
    A_HI = 1u << 8, /* not ASCII */
};

/*
 * Shorthands for the table: CC control, SP white space, NL line break, ND
 * line break that HTML turns into a space, PU punctuation, PE punctuation
 * that may start an emoticon, DC '&', LA '<', DG digit or '_', LO / LE lower
 * case, UP / UE upper case (xE: may start an emoticon), HI not ASCII.
 */
#define CC A_CC
#define SP A_SP
#define NL (A_SP | A_NL)
#define ND (A_SP | A_NL | A_DC)
#define PU 0
#define PE A_EM
#define DC A_DC
#define LA (A_DC | A_EM)
#define DG A_WD
#define LO (A_WD | A_LT)
#define LE (A_WD | A_LT | A_EM)
#define UP (A_WD | A_LT | A_UP)
#define UE (A_WD | A_LT | A_UP | A_EM)
#define HI A_HI

/* clang-format off */
static const uint16_t ascii_cls[256] = {
    /* 0x00 NUL .. SI: \t is white space; \n \v \f \r break lines */
    CC, CC, CC, CC, CC, CC, CC, CC, CC, SP, ND, NL, NL, ND, CC, CC,
    /* 0x10 DLE .. US */
    CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC,
    /* 0x20 ' ' ! " # $ % & ' ( ) * + , - . / */
    SP, PU, PU, PU, PU, PU, DC, PU, PU, PU, PU, PU, PU, PE, PU, PU,
    /* 0x30 0 .. 9 : ; < = > ? */
    DG, DG, DG, DG, DG, DG, DG, DG, DG, DG, PE, PE, LA, PE, PE, PU,
    /* 0x40 @ A .. O */
    PU, UP, UP, UP, UE, UP, UP, UP, UP, UP, UP, UP, UP, UP, UP, UE,
    /* 0x50 P .. Z [ \ ] ^ _ */
    UP, UP, UP, UP, UE, UP, UP, UP, UE, UP, UP, PU, PU, PU, PE, DG,
    /* 0x60 ` a .. o */
    PU, LO, LO, LO, LO, LO, LO, LO, LO, LO, LO, LO, LO, LO, LO, LE,
    /* 0x70 p .. z { | } ~ DEL */
    LO, LO, LO, LO, LO, LO, LO, LO, LE, LO, LO, PU, PU, PU, PU, CC,
    /* 0x80 .. 0xFF: not ASCII */
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
    HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI,
};
/* clang-format on */

#undef CC
#undef SP
#undef NL
#undef ND
#undef PU
#undef PE
#undef DC
#undef LA
#undef DG
#undef LO
#undef LE
#undef UP
#undef UE
#undef HI

/*
 * Emoticons, matched only where they stand between white space or the
 * text's ends, so "a:)" and "(see: D)" hold none. Each first byte must carry
 * A_EM in ascii_cls[] (: ; = < > ^ - x X D T o O); the unit test checks
 * every entry.
 *   happy      :) :-) :] =) :D :-D =D xD XD ^^ ^_^ :3 :')
 *   wink       ;) ;-) ;D ;P
 *   tongue     :P :-P :p :-p xP
 *   sad        :( :-( :[ =( :'( :'-( D: T_T ;_; >:(
 *   unsure     :/ :-/ :\ :| :-| -_- o_O O_o
 *   surprised  :O :-O :o
 *   kiss       :* :-*
 *   heart      <3 </3
 */
struct emoticon {
    char s[6];
    unsigned char len;
};

static const struct emoticon emoticons[] = {
    { ":)", 2 },  { ":-)", 3 }, { ":]", 2 },   { "=)", 2 },  { ":D", 2 },
    { ":-D", 3 }, { "=D", 2 },  { "xD", 2 },   { "XD", 2 },  { "^^", 2 },
    { "^_^", 3 }, { ":3", 2 },  { ":')", 3 },  { ";)", 2 },  { ";-)", 3 },
    { ";D", 2 },  { ";P", 2 },  { ":P", 2 },   { ":-P", 3 }, { ":p", 2 },
    { ":-p", 3 }, { "xP", 2 },  { ":(", 2 },   { ":-(", 3 }, { ":[", 2 },
    { "=(", 2 },  { ":'(", 3 }, { ":'-(", 4 }, { "D:", 2 },  { "T_T", 3 },
    { ";_;", 3 }, { ">:(", 3 }, { ":/", 2 },   { ":-/", 3 }, { ":\\", 2 },
    { ":|", 2 },  { ":-|", 3 }, { "-_-", 3 },  { "o_O", 3 }, { "O_o", 3 },
    { ":O", 2 },  { ":-O", 3 }, { ":o", 2 },   { ":*", 2 },  { ":-*", 3 },
    { "<3", 2 },  { "</3", 3 },
};

/*
 * Named character references. The first few are the ones X and Reddit
 * escape in every post, so the linear search finds them at once; then the
 * Latin-1 set and the punctuation people paste from word processors.
 */
struct entity {
    char name[9];
    unsigned char len;
    uint16_t cp;
};

static const struct entity entities[] = {
    { "amp", 3, 0x26 },      { "lt", 2, 0x3C },       { "gt", 2, 0x3E },
    { "quot", 4, 0x22 },     { "apos", 4, 0x27 },     { "nbsp", 4, 0xA0 },
    { "iexcl", 5, 0xA1 },    { "cent", 4, 0xA2 },     { "pound", 5, 0xA3 },
    { "curren", 6, 0xA4 },   { "yen", 3, 0xA5 },      { "brvbar", 6, 0xA6 },
    { "sect", 4, 0xA7 },     { "uml", 3, 0xA8 },      { "copy", 4, 0xA9 },
    { "ordf", 4, 0xAA },     { "laquo", 5, 0xAB },    { "not", 3, 0xAC },
    { "shy", 3, 0xAD },      { "reg", 3, 0xAE },      { "macr", 4, 0xAF },
    { "deg", 3, 0xB0 },      { "plusmn", 6, 0xB1 },   { "sup2", 4, 0xB2 },
    { "sup3", 4, 0xB3 },     { "acute", 5, 0xB4 },    { "micro", 5, 0xB5 },
    { "para", 4, 0xB6 },     { "middot", 6, 0xB7 },   { "cedil", 5, 0xB8 },
    { "sup1", 4, 0xB9 },     { "ordm", 4, 0xBA },     { "raquo", 5, 0xBB },
    { "frac14", 6, 0xBC },   { "frac12", 6, 0xBD },   { "frac34", 6, 0xBE },
    { "iquest", 6, 0xBF },   { "Agrave", 6, 0xC0 },   { "Aacute", 6, 0xC1 },
    { "Acirc", 5, 0xC2 },    { "Atilde", 6, 0xC3 },   { "Auml", 4, 0xC4 },
    { "Aring", 5, 0xC5 },    { "AElig", 5, 0xC6 },    { "Ccedil", 6, 0xC7 },
    { "Egrave", 6, 0xC8 },   { "Eacute", 6, 0xC9 },   { "Ecirc", 5, 0xCA },
    { "Euml", 4, 0xCB },     { "Igrave", 6, 0xCC },   { "Iacute", 6, 0xCD },
    { "Icirc", 5, 0xCE },    { "Iuml", 4, 0xCF },     { "ETH", 3, 0xD0 },
    { "Ntilde", 6, 0xD1 },   { "Ograve", 6, 0xD2 },   { "Oacute", 6, 0xD3 },
    { "Ocirc", 5, 0xD4 },    { "Otilde", 6, 0xD5 },   { "Ouml", 4, 0xD6 },
    { "times", 5, 0xD7 },    { "Oslash", 6, 0xD8 },   { "Ugrave", 6, 0xD9 },
    { "Uacute", 6, 0xDA },   { "Ucirc", 5, 0xDB },    { "Uuml", 4, 0xDC },
    { "Yacute", 6, 0xDD },   { "THORN", 5, 0xDE },    { "szlig", 5, 0xDF },
    { "agrave", 6, 0xE0 },   { "aacute", 6, 0xE1 },   { "acirc", 5, 0xE2 },
    { "atilde", 6, 0xE3 },   { "auml", 4, 0xE4 },     { "aring", 5, 0xE5 },
    { "aelig", 5, 0xE6 },    { "ccedil", 6, 0xE7 },   { "egrave", 6, 0xE8 },
    { "eacute", 6, 0xE9 },   { "ecirc", 5, 0xEA },    { "euml", 4, 0xEB },
    { "igrave", 6, 0xEC },   { "iacute", 6, 0xED },   { "icirc", 5, 0xEE },
    { "iuml", 4, 0xEF },     { "eth", 3, 0xF0 },      { "ntilde", 6, 0xF1 },
    { "ograve", 6, 0xF2 },   { "oacute", 6, 0xF3 },   { "ocirc", 5, 0xF4 },
    { "otilde", 6, 0xF5 },   { "ouml", 4, 0xF6 },     { "divide", 6, 0xF7 },
    { "oslash", 6, 0xF8 },   { "ugrave", 6, 0xF9 },   { "uacute", 6, 0xFA },
    { "ucirc", 5, 0xFB },    { "uuml", 4, 0xFC },     { "yacute", 6, 0xFD },
    { "thorn", 5, 0xFE },    { "yuml", 4, 0xFF },     { "OElig", 5, 0x152 },
    { "oelig", 5, 0x153 },   { "Scaron", 6, 0x160 },  { "scaron", 6, 0x161 },
    { "Yuml", 4, 0x178 },    { "fnof", 4, 0x192 },    { "circ", 4, 0x2C6 },
    { "tilde", 5, 0x2DC },   { "ensp", 4, 0x2002 },   { "emsp", 4, 0x2003 },
    { "thinsp", 6, 0x2009 }, { "zwnj", 4, 0x200C },   { "zwj", 3, 0x200D },
    { "lrm", 3, 0x200E },    { "rlm", 3, 0x200F },    { "ndash", 5, 0x2013 },
    { "mdash", 5, 0x2014 },  { "lsquo", 5, 0x2018 },  { "rsquo", 5, 0x2019 },
    { "sbquo", 5, 0x201A },  { "ldquo", 5, 0x201C },  { "rdquo", 5, 0x201D },
    { "bdquo", 5, 0x201E },  { "dagger", 6, 0x2020 }, { "Dagger", 6, 0x2021 },
    { "bull", 4, 0x2022 },   { "hellip", 6, 0x2026 }, { "permil", 6, 0x2030 },
    { "prime", 5, 0x2032 },  { "lsaquo", 6, 0x2039 }, { "rsaquo", 6, 0x203A },
    { "euro", 4, 0x20AC },   { "trade", 5, 0x2122 },  { "larr", 4, 0x2190 },
    { "uarr", 4, 0x2191 },   { "rarr", 4, 0x2192 },   { "darr", 4, 0x2193 },
    { "harr", 4, 0x2194 },   { "minus", 5, 0x2212 },  { "hearts", 6, 0x2665 },
};

#define ENTITY_NAME_MAX 8

/* &#128; .. &#159; mean what Windows-1252 puts there, as in HTML5; 0 keeps
 * the C1 control, which the tokeniser takes as white space. */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/* Tags whose start or end breaks the line. */
static const char block_tags[][11] = {
    "br", "p",  "div", "li", "ul", "ol", "blockquote", "hr",    "pre",
    "h1", "h2", "h3",  "h4", "h5", "h6", "tr",         "table",
};

#define TAG_NAME_MAX 10

#define FOLD_OPTS                                                              \
    ((utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPAT |                   \
                         UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |                \
                         UTF8PROC_IGNORE))

#define REPLACEMENT 0xFFFDu

/* ---- UTF-8 ------------------------------------------------------------ */

/*
 * Length of the well-formed sequence at @s (@n > 0 bytes there), or 0 when
 * it is ill-formed; then *@bad gets the length of its maximal subpart (at
 * least 1), which is what one U+FFFD replaces.
 */
static size_t utf8_check(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, k;

    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4) {
        *bad = 1;
        return 0;
    }
    if (c < 0xE0) {
        need = 2;
    } else if (c < 0xF0) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    }
    for (k = 1; k < need; k++) {
        if (k >= n || s[k] < lo || s[k] > hi) {
            *bad = k;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need;
}

/* Decodes the non-ASCII sequence at @s, known to be well-formed. */
static uint32_t utf8_get(const unsigned char *s, size_t *w)
{
    uint32_t c = s[0];

    if (c < 0xE0) {
        *w = 2;
        return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    }
    if (c < 0xF0) {
        *w = 3;
        return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    }
    *w = 4;
    return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) |
           ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}

static size_t utf8_put(unsigned char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char)(0xC0 | (cp >> 6));
        d[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xE0 | (cp >> 12));
        d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (unsigned char)(0xF0 | (cp >> 18));
    d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

bool bm_utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, w, bad;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        w = utf8_check(p + i, len - i, &bad);
        if (!w)
            return false;
        i += w;
    }
    return true;
}

/* ---- decoder: tags, character references, UTF-8 ------------------------ */

static unsigned char ascii_lower(unsigned char c)
{
    return (unsigned char)(c | ((ascii_cls[c] & A_UP) << 1));
}

/* Index of the first '>' at or after @p, skipping attribute values in
 * quotes; @len when the tag never ends. */
static size_t tag_end(const unsigned char *in, size_t len, size_t p)
{
    unsigned char last = 0;
    const unsigned char *q;

    while (p < len) {
        unsigned char c = in[p];

        if (c == '>')
            return p;
        if ((c == '"' || c == '\'') && last == '=') {
            q = memchr(in + p + 1, c, len - p - 1);
            if (!q)
                return len;
            p = (size_t)(q - in) + 1;
            last = c;
            continue;
        }
        if (!(ascii_cls[c] & A_SP))
            last = c;
        p++;
    }
    return len;
}

/* Index just past the end tag </@name> at or after @p; @len if none. */
static size_t skip_raw_text(const unsigned char *in, size_t len, size_t p,
                            const char *name, size_t nlen)
{
    const unsigned char *q;
    size_t k;

    while (p < len) {
        q = memchr(in + p, '<', len - p);
        if (!q)
            return len;
        p = (size_t)(q - in) + 1;
        if (p + 1 + nlen >= len)
            return len; /* no room left for the end tag */
        if (in[p] != '/')
            continue;
        for (k = 0; k < nlen; k++)
            if (ascii_lower(in[p + 1 + k]) != (unsigned char)name[k])
                break;
        if (k < nlen || (ascii_cls[in[p + 1 + nlen]] & A_WD))
            continue;
        p = tag_end(in, len, p + 1 + nlen);
        return p < len ? p + 1 : len;
    }
    return len;
}

static bool is_block_tag(const char *name, size_t nlen)
{
    size_t k;

    for (k = 0; k < sizeof(block_tags) / sizeof(block_tags[0]); k++)
        if (strlen(block_tags[k]) == nlen &&
            memcmp(block_tags[k], name, nlen) == 0)
            return true;
    return false;
}

/*
 * The '<' at in[@i] in HTML: drops the tag, comment or raw-text element
 * there and returns where decoding goes on. A '<' that starts none of those
 * is copied as text. Something left open at the end drops the rest.
 */
static size_t html_tag(const unsigned char *in, size_t len, size_t i,
                       unsigned char *out, size_t *o)
{
    const unsigned char *q;
    char name[TAG_NAME_MAX + 1];
    size_t p = i + 1, nlen = 0, e;
    bool end = false;

    if (p < len && in[p] == '!') {
        if (len - p >= 3 && in[p + 1] == '-' && in[p + 2] == '-') {
            for (e = p + 3; e + 2 < len; e++)
                if (in[e] == '-' && in[e + 1] == '-' && in[e + 2] == '>')
                    return e + 3;
            return len;
        }
        q = memchr(in + p, '>', len - p);
        return q ? (size_t)(q - in) + 1 : len;
    }
    if (p < len && in[p] == '/') {
        end = true;
        p++;
    }
    if (p >= len || !(ascii_cls[in[p]] & A_LT)) {
        out[(*o)++] = '<';
        return i + 1;
    }
    while (p < len && (ascii_cls[in[p]] & A_WD) && in[p] != '_') {
        if (nlen <= TAG_NAME_MAX)
            name[nlen++] = (char)ascii_lower(in[p]);
        p++;
    }
    e = tag_end(in, len, p);
    if (e >= len)
        return len;
    if (nlen > TAG_NAME_MAX)
        return e + 1;
    if (is_block_tag(name, nlen)) {
        out[(*o)++] = '\n';
    } else if (!end && ((nlen == 6 && memcmp(name, "script", 6) == 0) ||
                        (nlen == 5 && memcmp(name, "style", 5) == 0))) {
        return skip_raw_text(in, len, e + 1, name, nlen);
    }
    return e + 1;
}

static int digit_value(unsigned char c, bool hex)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/*
 * The character reference after the '&' at in[@p - 1]: its code point in
 * *@cp and the index after its ';', or 0 when there is none (unknown name,
 * no digits, no ';'), and then the '&' is text.
 */
static size_t entity_decode(const unsigned char *in, size_t len, size_t p,
                            uint32_t *cp)
{
    size_t q, k, nd = 0;
    uint32_t v = 0;
    bool hex = false;
    int d;

    if (p < len && in[p] == '#') {
        p++;
        if (p < len && (in[p] | 0x20) == 'x') {
            hex = true;
            p++;
        }
        for (; p < len && (d = digit_value(in[p], hex)) >= 0; p++, nd++)
            if (v <= 0x10FFFF)
                v = v * (hex ? 16 : 10) + (uint32_t)d;
        if (nd == 0 || p >= len || in[p] != ';')
            return 0;
        if (v >= 0x80 && v <= 0x9F && cp1252_c1[v - 0x80])
            v = cp1252_c1[v - 0x80];
        else if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            v = REPLACEMENT;
        *cp = v;
        return p + 1;
    }
    for (q = p;
         q < len && q - p <= ENTITY_NAME_MAX && (ascii_cls[in[q]] & A_WD); q++)
        ;
    if (q == p || q >= len || in[q] != ';')
        return 0;
    for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
        if (entities[k].len == q - p &&
            memcmp(entities[k].name, in + p, q - p) == 0) {
            *cp = entities[k].cp;
            return q + 1;
        }
    }
    return 0;
}

/* The '&' at in[@i]: a character reference decoded into @out, or the '&'
 * copied as text. Returns where decoding goes on. */
static size_t html_entity(const unsigned char *in, size_t len, size_t i,
                          unsigned char *out, size_t *o)
{
    uint32_t cp = 0;
    size_t next = entity_decode(in, len, i + 1, &cp);

    if (!next) {
        out[(*o)++] = '&';
        return i + 1;
    }
    *o += utf8_put(out + *o, cp);
    return next;
}

/*
 * Pass 1: @in into t->scratch. The output is never more than three times
 * the input (one bad byte becomes the three of U+FFFD; every tag and
 * reference shrinks), so it is reserved once and written without checks.
 */
static int decode(struct bm_text *t, const unsigned char *in, size_t len,
                  unsigned opts)
{
    bool html = opts & BM_TEXT_HTML;
    unsigned char *out;
    size_t i = 0, o = 0, w, bad;
    int rc;

    rc = bm_buf_reserve(&t->scratch, 3 * len + 1);
    if (rc < 0)
        return rc;
    out = (unsigned char *)t->scratch.data;
    while (i < len) {
        unsigned c = in[i];

        if (!(ascii_cls[c] & (A_DC | A_HI))) {
            out[o++] = (unsigned char)c;
            i++;
        } else if (c >= 0x80) {
            w = utf8_check(in + i, len - i, &bad);
            if (w) {
                memcpy(out + o, in + i, w);
                o += w;
                i += w;
            } else {
                o += utf8_put(out + o, REPLACEMENT);
                t->replaced++;
                i += bad;
            }
        } else if (c == '&') {
            i = html_entity(in, len, i, out, &o);
        } else if (html && c == '<') {
            i = html_tag(in, len, i, out, &o);
        } else if (html && (c == '\n' || c == '\r')) {
            /* In HTML a line break in the source is only white space. */
            out[o++] = ' ';
            i++;
        } else {
            out[o++] = (unsigned char)c;
            i++;
        }
    }
    out[o] = '\0';
    t->scratch.len = o;
    return 0;
}

/* ---- classification of code points ------------------------------------ */

enum uclass {
    U_SPACE,
    U_BREAK,   /* white space that breaks lines */
    U_DROP,    /* makes no token, and continues a word */
    U_MARK,    /* combining mark */
    U_WORD,    /* letter, digit, connector punctuation */
    U_NOSPACE, /* a word character of a script written without spaces */
    U_OTHER,   /* punctuation, symbol, emoji, unassigned */
};

static bool is_dropped(uint32_t cp)
{
    return (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x200D ||
           (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0100 && cp <= 0xE01EF);
}

/* Han, Hiragana, Katakana (with U+30FC and the halfwidth forms), Thai, Lao,
 * Khmer, Myanmar. Only asked about word characters. */
static bool is_nospace(uint32_t cp)
{
    if (cp < 0x0E00)
        return false;
    if (cp <= 0x0EFF)
        return true; /* Thai, Lao */
    if (cp < 0x2E80)
        return (cp >= 0x1000 && cp <= 0x109F) ||
               (cp >= 0x1780 && cp <= 0x17FF) || (cp >= 0x19E0 && cp <= 0x19FF);
    if (cp < 0xA000)
        return cp <= 0x2FDF || (cp >= 0x3005 && cp <= 0x3007) ||
               (cp >= 0x3021 && cp <= 0x3029) ||
               (cp >= 0x3031 && cp <= 0x303C) ||
               (cp >= 0x3040 && cp <= 0x30FF) ||
               (cp >= 0x31F0 && cp <= 0x31FF) ||
               (cp >= 0x3400 && cp <= 0x4DBF) || cp >= 0x4E00;
    return (cp >= 0xA9E0 && cp <= 0xA9FF) || (cp >= 0xAA60 && cp <= 0xAA7F) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF66 && cp <= 0xFF9F) ||
           (cp >= 0x1B000 && cp <= 0x1B16F) || (cp >= 0x20000 && cp <= 0x3134F);
}

static bool is_emoji(uint32_t cp)
{
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
           (cp >= 0x2B00 && cp <= 0x2BFF);
}

static enum uclass uclass_of(uint32_t cp, utf8proc_category_t *catp)
{
    utf8proc_category_t cat;

    if (cp == 0xA0)
        return U_SPACE;
    if (is_dropped(cp))
        return U_DROP;
    cat = utf8proc_category((utf8proc_int32_t)cp);
    if (catp)
        *catp = cat;
    switch (cat) {
    case UTF8PROC_CATEGORY_ZS:
        return U_SPACE;
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return U_BREAK;
    case UTF8PROC_CATEGORY_CC:
        /* Controls are taken as white space; U+0085 is NEL. */
        return cp == 0x85 ? U_BREAK : U_SPACE;
    case UTF8PROC_CATEGORY_CF:
        return U_DROP;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return U_MARK;
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_PC:
        return is_nospace(cp) ? U_NOSPACE : U_WORD;
    default:
        return U_OTHER;
    }
}

/* True when folding @cp alone changes nothing: no decomposition, no case
 * fold, not ignorable (composition needs two code points). */
static bool is_fold_stable(uint32_t cp)
{
    const utf8proc_property_t *pr = utf8proc_get_property((utf8proc_int32_t)cp);

    return pr->decomp_seqindex == UINT16_MAX &&
           pr->casefold_seqindex == UINT16_MAX && !pr->ignorable;
}

/* ---- tokeniser --------------------------------------------------------- */

struct tokeniser {
    struct bm_text *t; /* borrowed: the caller's, for this call */
    /* borrowed: t->scratch.data, which does not move while tokenising */
    const unsigned char *s;
    size_t n;      /* bytes at s */
    size_t i;      /* where the next token starts */
    size_t mark;   /* norm.len before the current token's space */
    uint32_t pend; /* SPACE_BEFORE / NEWLINE_BEFORE for the next token */
    bool edge;     /* at the start or after white space: emoticons start */
    bool wordy;    /* the last character was a word character */
};

/* utf8proc calls this on every code point before folding. */
static utf8proc_int32_t fold_map_cb(utf8proc_int32_t cp, void *data)
{
    (void)data;
    if (cp < 0x80)
        return cp;
    if (cp == 0x2019)
        return '\'';
    /* U+200B is default-ignorable, so UTF8PROC_IGNORE removes it. */
    if (uclass_of((uint32_t)cp, NULL) == U_DROP)
        return 0x200B;
    return cp;
}

/*
 * Appends NFKC + case fold of the @n bytes at @p to t->norm. The code points
 * are decomposed into the tail of norm past its end (aligned), composed and
 * re-encoded there by utf8proc, then moved down into place.
 */
static int fold(struct bm_text *t, const unsigned char *p, size_t n)
{
    size_t base = t->norm.len, off = (base + 3) & ~(size_t)3, a, b;
    utf8proc_ssize_t cap = (utf8proc_ssize_t)n + 8, r;
    utf8proc_int32_t *u;
    unsigned char *d;
    int rc;

    for (;;) {
        /* One more code point of room: utf8proc_reencode() NUL-terminates. */
        rc = bm_buf_reserve(&t->norm, off - base + ((size_t)cap + 1) * 4);
        if (rc < 0)
            return rc;
        u = (utf8proc_int32_t *)(void *)(t->norm.data + off);
        r = utf8proc_decompose_custom(p, (utf8proc_ssize_t)n, u, cap, FOLD_OPTS,
                                      fold_map_cb, NULL);
        if (r <= cap)
            break;
        cap = r;
    }
    if (r >= 0)
        r = utf8proc_reencode(u, r, FOLD_OPTS);
    d = (unsigned char *)u;
    if (r < 0) {
        /* Cannot happen on well-formed input; keep the bytes as they are. */
        memmove(t->norm.data + base, p, n);
        t->norm.len = base + n;
        return 0;
    }
    /* A few symbols fold to a space and a combining mark (U+00A8). */
    a = 0;
    b = (size_t)r;
    while (a < b && d[a] == ' ')
        a++;
    while (b > a && d[b - 1] == ' ')
        b--;
    memmove(t->norm.data + base, d + a, b - a);
    t->norm.len = base + (b - a);
    return 0;
}

/* Starts a token: room for the rest of the text as ASCII, and the space
 * that stands for white space before it. */
static int tok_begin(struct tokeniser *k, size_t *start)
{
    struct bm_text *t = k->t;
    size_t need = (k->n - k->i) + 8;
    int rc;

    if (t->norm.cap - t->norm.len < need + 1) {
        rc = bm_buf_reserve(&t->norm, need);
        if (rc < 0)
            return rc;
    }
    k->mark = t->norm.len;
    if ((k->pend & BM_TOK_SPACE_BEFORE) && t->ntok)
        t->norm.data[t->norm.len++] = ' ';
    *start = t->norm.len;
    return 0;
}

/* Ends a token whose text is norm[@start, norm.len). One that folded to
 * nothing is taken back with its space. */
static int tok_end(struct tokeniser *k, size_t start, uint32_t flags)
{
    struct bm_text *t = k->t;
    struct bm_token *tok;
    size_t cap;

    if (t->norm.len == start) {
        t->norm.len = k->mark;
        return 0;
    }
    if (t->ntok == t->tokcap) {
        cap = t->tokcap ? t->tokcap * 2 : 64;
        tok = realloc(t->tok, cap * sizeof(*tok));
        if (!tok)
            return -ENOMEM;
        t->tok = tok;
        t->tokcap = cap;
    }
    tok = &t->tok[t->ntok++];
    tok->off = (uint32_t)start;
    tok->len = (uint32_t)(t->norm.len - start);
    tok->flags = flags | k->pend;
    k->pend = 0;
    k->edge = false;
    return 0;
}

/* True when white space or the end is at @p. */
static bool is_bound(const struct tokeniser *k, size_t p)
{
    enum uclass uc;
    size_t w;

    if (p >= k->n)
        return true;
    if (k->s[p] < 0x80)
        return ascii_cls[k->s[p]] & (A_SP | A_CC);
    uc = uclass_of(utf8_get(k->s + p, &w), NULL);
    return uc == U_SPACE || uc == U_BREAK;
}

/* Class of the character at @p as a word sees it: 0 none, 1 letter,
 * 2 other word character. */
static int word_char_at(const struct tokeniser *k, size_t p, bool nospace)
{
    utf8proc_category_t cat = UTF8PROC_CATEGORY_CN;
    enum uclass uc;
    size_t w;

    if (p >= k->n)
        return 0;
    if (k->s[p] < 0x80) {
        uint16_t cls = ascii_cls[k->s[p]];

        return (cls & A_LT) ? 1 : (cls & A_WD) ? 2 : 0;
    }
    uc = uclass_of(utf8_get(k->s + p, &w), &cat);
    if (uc != U_WORD && !(nospace && uc == U_NOSPACE))
        return 0;
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO ? 1 : 2;
}

/*
 * A word (or, with @sigil '@' / '#', a mention or hashtag) whose first word
 * character is at @a. Takes letters, marks, digits, '_', ignorable format
 * characters (dropped when folded), and an apostrophe between two letters;
 * a trailing "'s" becomes a token of its own.
 */
static int word_token(struct tokeniser *k, size_t a, unsigned char sigil)
{
    struct bm_text *t = k->t;
    const unsigned char *s = k->s;
    size_t j = a, w, start, possessive = 0;
    unsigned cased = 0, upper = 0;
    bool ascii = true, letter = false;
    utf8proc_category_t cat;
    enum uclass uc;
    uint32_t cp, flags;
    char *d;
    int rc;

    while (j < k->n) {
        unsigned c = s[j];

        if (c < 0x80) {
            uint16_t cls = ascii_cls[c];

            if (cls & A_WD) {
                letter = cls & A_LT;
                cased += letter;
                upper += (cls & A_UP) != 0;
                j++;
                continue;
            }
            if (c != '\'')
                break;
            w = 1;
        } else {
            cp = utf8_get(s + j, &w);
            if (cp != 0x2019) {
                cat = UTF8PROC_CATEGORY_CN;
                uc = uclass_of(cp, &cat);
                if (uc == U_NOSPACE && !sigil)
                    break;
                if (uc == U_WORD || uc == U_NOSPACE) {
                    letter = cat >= UTF8PROC_CATEGORY_LU &&
                             cat <= UTF8PROC_CATEGORY_LO;
                    cased += cat >= UTF8PROC_CATEGORY_LU &&
                             cat <= UTF8PROC_CATEGORY_LT;
                    upper += cat == UTF8PROC_CATEGORY_LU;
                } else if (uc != U_MARK && uc != U_DROP) {
                    break;
                }
                ascii = false;
                j += w;
                continue;
            }
        }
        /* An apostrophe, w bytes at j: ' or U+2019. */
        if (j + w < k->n && (s[j + w] | 0x20) == 's' &&
            !word_char_at(k, j + w + 1, false)) {
            possessive = w + 1;
            break;
        }
        if (!letter || word_char_at(k, j + w, false) != 1)
            break;
        letter = false;
        j += w;
    }

    flags = sigil == '@' ? BM_TOK_MENTION
            : sigil      ? BM_TOK_HASHTAG
                         : BM_TOK_WORD;
    if (cased >= 2 && upper == cased)
        flags |= BM_TOK_CAPS;
    rc = tok_begin(k, &start);
    if (rc < 0)
        return rc;
    d = t->norm.data;
    if (sigil)
        d[t->norm.len++] = (char)sigil;
    if (ascii) {
        size_t o = t->norm.len, p;

        for (p = a; p < j; p++) {
            if (s[p] >= 0x80) {
                /* The only non-ASCII an ASCII word holds is U+2019. */
                d[o++] = '\'';
                p += 2;
            } else {
                d[o++] = (char)ascii_lower(s[p]);
            }
        }
        t->norm.len = o;
    } else {
        rc = fold(t, s + a, j - a);
        if (rc < 0)
            return rc;
    }
    rc = tok_end(k, start, flags);
    if (rc < 0)
        return rc;
    k->i = j;
    if (possessive) {
        rc = tok_begin(k, &start);
        if (rc < 0)
            return rc;
        t->norm.data[t->norm.len++] = '\'';
        t->norm.data[t->norm.len++] = 's';
        rc = tok_end(k, start, BM_TOK_WORD);
        if (rc < 0)
            return rc;
        k->i = j + possessive;
    }
    k->wordy = true;
    return 0;
}

/* One character of a script written without spaces, with the marks that
 * follow it (Thai vowels, halfwidth sound marks). */
static int nospace_token(struct tokeniser *k, uint32_t cp, size_t w)
{
    struct bm_text *t = k->t;
    size_t a = k->i, b = a + w, w2, start;
    bool single = true;
    uint32_t c2;
    int rc;

    while (b < k->n && k->s[b] >= 0x80) {
        c2 = utf8_get(k->s + b, &w2);
        if (c2 != 0xFF9E && c2 != 0xFF9F && uclass_of(c2, NULL) != U_MARK)
            break;
        single = false;
        b += w2;
    }
    rc = tok_begin(k, &start);
    if (rc < 0)
        return rc;
    if (single && is_fold_stable(cp)) {
        memcpy(t->norm.data + t->norm.len, k->s + a, w);
        t->norm.len += w;
    } else {
        rc = fold(t, k->s + a, b - a);
        if (rc < 0)
            return rc;
    }
    rc = tok_end(k, start, BM_TOK_WORD);
    k->i = b;
    k->wordy = false;
    return rc;
}

/* One non-ASCII punctuation, symbol or emoji code point, @w bytes. */
static int other_token(struct tokeniser *k, uint32_t cp, size_t w)
{
    struct bm_text *t = k->t;
    size_t start;
    int rc;

    rc = tok_begin(k, &start);
    if (rc < 0)
        return rc;
    if (cp == 0x2019) {
        t->norm.data[t->norm.len++] = '\'';
    } else if (is_fold_stable(cp)) {
        memcpy(t->norm.data + t->norm.len, k->s + k->i, w);
        t->norm.len += w;
    } else {
        rc = fold(t, k->s + k->i, w);
        if (rc < 0)
            return rc;
    }
    rc = tok_end(k, start, BM_TOK_PUNCT | (is_emoji(cp) ? BM_TOK_EMOJI : 0));
    k->i += w;
    k->wordy = false;
    return rc;
}

/* An emoticon at k->i, which is at an edge: 1 when one was taken. */
static int emoticon_token(struct tokeniser *k)
{
    struct bm_text *t = k->t;
    const struct emoticon *e;
    size_t j, start;
    int rc;

    for (j = 0; j < sizeof(emoticons) / sizeof(emoticons[0]); j++) {
        e = &emoticons[j];
        if (e->s[0] != (char)k->s[k->i] || e->len > k->n - k->i ||
            memcmp(e->s, k->s + k->i, e->len) != 0 ||
            !is_bound(k, k->i + e->len))
            continue;
        rc = tok_begin(k, &start);
        if (rc < 0)
            return rc;
        memcpy(t->norm.data + t->norm.len, e->s, e->len);
        t->norm.len += e->len;
        rc = tok_end(k, start, BM_TOK_EMOTICON);
        if (rc < 0)
            return rc;
        k->i += e->len;
        k->wordy = false;
        return 1;
    }
    return 0;
}

static void white_space(struct tokeniser *k, bool line_break, size_t w)
{
    k->pend |= BM_TOK_SPACE_BEFORE;
    if (line_break)
        k->pend |= BM_TOK_NEWLINE_BEFORE;
    k->edge = true;
    k->wordy = false;
    k->i += w;
}

/* The character at k->i is a sigil: is a mention or hashtag starting? */
static bool sigil_starts(const struct tokeniser *k, size_t w)
{
    return !k->wordy && word_char_at(k, k->i + w, true);
}

static int non_ascii(struct tokeniser *k)
{
    size_t w;
    uint32_t cp = utf8_get(k->s + k->i, &w);

    switch (uclass_of(cp, NULL)) {
    case U_SPACE:
        white_space(k, false, w);
        return 0;
    case U_BREAK:
        white_space(k, true, w);
        return 0;
    case U_DROP:
    case U_MARK:
        /* A mark that follows no word or character has nothing to mark. */
        k->i += w;
        return 0;
    case U_WORD:
        return word_token(k, k->i, 0);
    case U_NOSPACE:
        return nospace_token(k, cp, w);
    case U_OTHER:
        break;
    }
    /* Fullwidth ＠ and ＃ are sigils too; NFKC makes them ASCII. */
    if ((cp == 0xFF20 || cp == 0xFF03) && sigil_starts(k, w))
        return word_token(k, k->i + w, cp == 0xFF20 ? '@' : '#');
    return other_token(k, cp, w);
}

/* Pass 2: t->scratch into t->norm and t->tok. */
static int tokenise(struct bm_text *t)
{
    struct tokeniser k = { 0 };
    size_t start;
    int rc = 0;

    k.t = t;
    k.s = (const unsigned char *)t->scratch.data;
    k.n = t->scratch.len;
    k.edge = true;
    while (k.i < k.n && rc >= 0) {
        unsigned char c = k.s[k.i];
        uint16_t cls = ascii_cls[c];

        if (c >= 0x80) {
            rc = non_ascii(&k);
        } else if (cls & (A_SP | A_CC)) {
            white_space(&k, cls & A_NL, 1);
        } else if ((cls & A_EM) && k.edge && (rc = emoticon_token(&k)) != 0) {
            continue;
        } else if (cls & A_WD) {
            rc = word_token(&k, k.i, 0);
        } else if ((c == '@' || c == '#') && sigil_starts(&k, 1)) {
            rc = word_token(&k, k.i + 1, c);
        } else {
            rc = tok_begin(&k, &start);
            if (rc < 0)
                break;
            t->norm.data[t->norm.len++] = (char)c;
            rc = tok_end(&k, start, BM_TOK_PUNCT);
            k.i++;
            k.wordy = false;
        }
    }
    return rc < 0 ? rc : 0;
}

/* ---- API --------------------------------------------------------------- */

void bm_text_init(struct bm_text *t)
{
    bm_buf_init(&t->norm);
    bm_buf_init(&t->scratch);
    t->tok = NULL;
    t->ntok = 0;
    t->tokcap = 0;
    t->replaced = 0;
}

void bm_text_release(struct bm_text *t)
{
    bm_buf_release(&t->norm);
    bm_buf_release(&t->scratch);
    free(t->tok);
    bm_text_init(t);
}

int bm_text_normalise(struct bm_text *t, const char *in, size_t len,
                      unsigned opts)
{
    const unsigned char *p = (const unsigned char *)in;
    int rc;

    t->ntok = 0;
    t->replaced = 0;
    bm_buf_reset(&t->norm);
    bm_buf_reset(&t->scratch);
    if (len > BM_TEXT_MAX_INPUT) {
        /* Back up over continuation bytes so no character is split. */
        len = BM_TEXT_MAX_INPUT;
        while (len > BM_TEXT_MAX_INPUT - 3 && (p[len] & 0xC0) == 0x80)
            len--;
    }
    rc = decode(t, p, len, opts);
    if (rc < 0)
        goto out_empty;
    rc = bm_buf_reserve(&t->norm, t->scratch.len + 8);
    if (rc < 0)
        goto out_empty;
    rc = tokenise(t);
    if (rc < 0)
        goto out_empty;
    t->norm.data[t->norm.len] = '\0';
    return 0;

out_empty:
    t->ntok = 0;
    bm_buf_reset(&t->norm);
    bm_buf_reset(&t->scratch);
    return rc;
}
