/*
 * match.c - the multi-term matcher: all terms, one pass over the tokens.
 *
 * Terms are stored as token sequences in one string arena. Two open-address
 * hash tables map a key to the list of terms that start with it: `exact`
 * is keyed by a term's first token, `prefix` by the single token of a
 * one-token prefix term ("refund*" is keyed "refund"). Matching a text probes
 * `exact` with each token (and with the body of a mention or hashtag), and
 * `prefix` with each of the token's leading substrings whose length some
 * prefix term has; FNV-1a is computed incrementally so those probes share one
 * walk over the token's bytes. The cost per token is therefore bounded by
 * the number of distinct prefix lengths, not by the number of terms.
 *
 * This module knows tokens and terms only: which brand or rule a term belongs
 * to is the rule pack's business (pack.c).
 */
#include "brandmon/match.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/buf.h"
#include "brandmon/text.h"

struct mterm {
    uint32_t tok0;    /* index of the first token in matcher.toks */
    uint16_t ntok;    /* number of tokens */
    uint8_t prefix;   /* the last token is a prefix */
    uint32_t written; /* offset of the term as written in matcher.strs */
    uint32_t sig_off; /* its signature (see append_signature) in strs */
    uint32_t sig_len;
};

struct mtok {
    uint32_t off; /* into matcher.strs */
    uint32_t len;
};

struct slot {
    uint32_t hash;
    uint32_t key_off; /* into matcher.strs */
    uint32_t key_len;
    uint32_t list;  /* first term id in matcher.lists */
    uint32_t nlist; /* 0 marks an empty slot */
};

struct table {
    struct slot *slots; /* owned; cap slots, cap a power of two */
    uint32_t cap;
};

/* While terms are added: signature -> id, to give equal terms one id. */
struct sigmap {
    uint32_t *ids; /* owned; cap entries, UINT32_MAX = empty */
    uint32_t *hashes;
    uint32_t cap;
    uint32_t n;
};

struct bm_matcher {
    struct bm_buf strs; /* owned: token bytes, written forms, signatures */
    struct mtok *toks;  /* owned */
    size_t ntoks, tokcap;
    struct mterm *terms; /* owned */
    size_t nterms, termcap;
    struct sigmap sigs;
    struct table exact;
    struct table prefix;
    uint32_t *lists;      /* owned: term ids grouped by key */
    uint64_t prefix_lens; /* bit L set: some prefix term key has L bytes */
    uint32_t *long_prefix_lens; /* owned: lengths >= 64, ascending */
    size_t nlong;
    struct bm_text scratch; /* used while adding terms */
    bool built;
};

#define FNV_OFFSET 2166136261u
#define FNV_PRIME  16777619u

static inline uint32_t fnv_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = FNV_OFFSET;

    for (size_t i = 0; i < n; i++)
        h = fnv_step(h, (unsigned char)s[i]);
    return h;
}

struct bm_matcher *bm_matcher_new(void)
{
    struct bm_matcher *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    bm_buf_init(&m->strs);
    bm_text_init(&m->scratch);
    return m;
}

void bm_matcher_free(struct bm_matcher *m)
{
    if (!m)
        return;
    bm_buf_release(&m->strs);
    bm_text_release(&m->scratch);
    free(m->toks);
    free(m->terms);
    free(m->sigs.ids);
    free(m->sigs.hashes);
    free(m->exact.slots);
    free(m->prefix.slots);
    free(m->lists);
    free(m->long_prefix_lens);
    free(m);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *np;

    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    np = realloc(*p, ncap * size);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = ncap;
    return 0;
}

static const char *sig_of(const struct bm_matcher *m, uint32_t id,
                          uint32_t *len)
{
    *len = m->terms[id].sig_len;
    return m->strs.data + m->terms[id].sig_off;
}

/* Looks up @sig; returns its id or UINT32_MAX, and where it would go. */
static uint32_t sigmap_find(const struct bm_matcher *m, const char *sig,
                            uint32_t len, uint32_t h, uint32_t *pos)
{
    const struct sigmap *s = &m->sigs;
    uint32_t mask = s->cap - 1;

    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = s->ids[i], olen;
        const char *osig;

        if (id == UINT32_MAX) {
            *pos = i;
            return UINT32_MAX;
        }
        if (s->hashes[i] != h)
            continue;
        osig = sig_of(m, id, &olen);
        if (olen == len && memcmp(osig, sig, len) == 0)
            return id;
    }
}

static int sigmap_grow(struct bm_matcher *m)
{
    struct sigmap old = m->sigs, *s = &m->sigs;
    uint32_t ncap = old.cap ? old.cap * 2 : 1024;

    s->ids = malloc(ncap * sizeof(*s->ids));
    s->hashes = malloc(ncap * sizeof(*s->hashes));
    if (!s->ids || !s->hashes) {
        free(s->ids);
        free(s->hashes);
        *s = old;
        return -ENOMEM;
    }
    memset(s->ids, 0xff, ncap * sizeof(*s->ids));
    s->cap = ncap;
    for (uint32_t i = 0; i < old.cap; i++) {
        uint32_t pos = 0, id = old.ids[i], len;
        const char *sig;

        if (id == UINT32_MAX)
            continue;
        sig = sig_of(m, id, &len);
        sigmap_find(m, sig, len, old.hashes[i], &pos);
        s->ids[pos] = id;
        s->hashes[pos] = old.hashes[i];
    }
    free(old.ids);
    free(old.hashes);
    return 0;
}

/*
 * The signature of a normalised term: its tokens joined by 0x1f, then "*"
 * or "." for prefix or exact. Appended to strs; returns its offset.
 */
static int append_signature(struct bm_matcher *m, const struct bm_text *t,
                            bool prefix, uint32_t *off, uint32_t *len)
{
    size_t start = m->strs.len;
    int err = 0;

    for (size_t i = 0; i < t->ntok && !err; i++) {
        if (i > 0)
            err = bm_buf_putc(&m->strs, '\x1f');
        if (!err)
            err = bm_buf_append(&m->strs, t->norm.data + t->tok[i].off,
                                t->tok[i].len);
    }
    if (!err)
        err = bm_buf_putc(&m->strs, prefix ? '*' : '.');
    if (err) {
        m->strs.len = start;
        return err;
    }
    *off = (uint32_t)start;
    *len = (uint32_t)(m->strs.len - start);
    return 0;
}

int bm_matcher_add(struct bm_matcher *m, const char *term, size_t len)
{
    struct bm_text *t = &m->scratch;
    bool prefix = false;
    uint32_t sig_off, sig_len, h, pos = 0, id;
    size_t strs_mark, tok_mark;
    int err;

    if (m->built)
        return -EBUSY;
    if (len > 0 && term[len - 1] == '*') {
        prefix = true;
        len--;
    }
    err = bm_text_normalise(t, term, len, 0);
    if (err)
        return err;
    if (t->ntok == 0 || t->ntok > BM_MATCH_MAX_TERM_TOKENS)
        return -EINVAL;

    strs_mark = m->strs.len;
    err = append_signature(m, t, prefix, &sig_off, &sig_len);
    if (err)
        return err;
    if (m->sigs.n * 2 >= m->sigs.cap) {
        err = sigmap_grow(m);
        if (err)
            goto out_drop_strs;
    }
    h = fnv(m->strs.data + sig_off, sig_len);
    id = sigmap_find(m, m->strs.data + sig_off, sig_len, h, &pos);
    if (id != UINT32_MAX) {
        m->strs.len = strs_mark; /* an equal term is known: forget ours */
        return (int)id;
    }

    err =
        grow((void **)&m->terms, &m->termcap, m->nterms + 1, sizeof(*m->terms));
    if (!err)
        err = grow((void **)&m->toks, &m->tokcap, m->ntoks + t->ntok,
                   sizeof(*m->toks));
    if (err)
        goto out_drop_strs;
    tok_mark = m->ntoks;
    for (size_t i = 0; i < t->ntok; i++) {
        struct mtok *mt = &m->toks[m->ntoks++];

        mt->off = (uint32_t)m->strs.len;
        mt->len = t->tok[i].len;
        err = bm_buf_append(&m->strs, t->norm.data + t->tok[i].off,
                            t->tok[i].len);
        if (err) {
            m->ntoks = tok_mark;
            goto out_drop_strs;
        }
    }
    id = (uint32_t)m->nterms;
    m->terms[id].tok0 = (uint32_t)tok_mark;
    m->terms[id].ntok = (uint16_t)t->ntok;
    m->terms[id].prefix = prefix;
    m->terms[id].written = (uint32_t)m->strs.len;
    err = bm_buf_append(&m->strs, term, len + (prefix ? 1 : 0));
    if (!err)
        err = bm_buf_putc(&m->strs, '\0');
    if (err) {
        m->ntoks = tok_mark;
        goto out_drop_strs;
    }
    m->terms[id].sig_off = sig_off;
    m->terms[id].sig_len = sig_len;
    m->sigs.ids[pos] = id;
    m->sigs.hashes[pos] = h;
    m->sigs.n++;
    m->nterms++;
    return (int)id;

out_drop_strs:
    m->strs.len = strs_mark;
    return err;
}

static bool key_equals(const struct bm_matcher *m, const struct slot *s,
                       const char *key, uint32_t len, uint32_t h)
{
    return s->hash == h && s->key_len == len &&
           memcmp(m->strs.data + s->key_off, key, len) == 0;
}

/* The slot for @key: the one holding it, or the empty one where it goes. */
static struct slot *table_slot(const struct bm_matcher *m,
                               const struct table *tab, const char *key,
                               uint32_t len, uint32_t h)
{
    uint32_t mask = tab->cap - 1;

    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        struct slot *s = &tab->slots[i];

        if (s->nlist == 0 || key_equals(m, s, key, len, h))
            return s;
    }
}

/* The key a term is filed under, and in which table. */
static struct table *term_key(struct bm_matcher *m, const struct mterm *t,
                              const struct mtok **key)
{
    *key = &m->toks[t->tok0];
    return (t->prefix && t->ntok == 1) ? &m->prefix : &m->exact;
}

static int table_alloc(struct table *tab, size_t keys)
{
    uint32_t cap = 16;

    while (cap < keys * 2 + 1)
        cap *= 2;
    tab->slots = calloc(cap, sizeof(*tab->slots));
    if (!tab->slots)
        return -ENOMEM;
    tab->cap = cap;
    return 0;
}

static int note_prefix_len(struct bm_matcher *m, uint32_t len)
{
    uint32_t *nl;
    size_t i;

    if (len < 64) {
        m->prefix_lens |= (uint64_t)1 << len;
        return 0;
    }
    for (i = 0; i < m->nlong && m->long_prefix_lens[i] < len; i++)
        ;
    if (i < m->nlong && m->long_prefix_lens[i] == len)
        return 0;
    nl = realloc(m->long_prefix_lens, (m->nlong + 1) * sizeof(*nl));
    if (!nl)
        return -ENOMEM;
    memmove(nl + i + 1, nl + i, (m->nlong - i) * sizeof(*nl));
    nl[i] = len;
    m->long_prefix_lens = nl;
    m->nlong++;
    return 0;
}

/*
 * Two passes over the terms: the first counts the terms per key (nlist is
 * used as a counter), the second hands each key its run of m->lists and
 * fills it, so that a key's terms are contiguous and in id order.
 */
int bm_matcher_build(struct bm_matcher *m)
{
    size_t next = 0;
    int err;

    if (m->built)
        return 0;
    err = table_alloc(&m->exact, m->nterms);
    if (!err)
        err = table_alloc(&m->prefix, m->nterms);
    if (!err && m->nterms) {
        m->lists = malloc(m->nterms * sizeof(*m->lists));
        if (!m->lists)
            err = -ENOMEM;
    }
    if (err)
        return err;

    for (size_t i = 0; i < m->nterms; i++) {
        const struct mtok *k;
        struct table *tab = term_key(m, &m->terms[i], &k);
        const char *key = m->strs.data + k->off;
        uint32_t h = fnv(key, k->len);
        struct slot *s = table_slot(m, tab, key, k->len, h);

        if (s->nlist == 0) {
            s->hash = h;
            s->key_off = k->off;
            s->key_len = k->len;
            if (tab == &m->prefix) {
                err = note_prefix_len(m, k->len);
                if (err)
                    return err;
            }
        }
        s->nlist++;
    }
    for (struct table *tab = &m->exact; tab;
         tab = tab == &m->exact ? &m->prefix : NULL) {
        for (uint32_t i = 0; i < tab->cap; i++) {
            struct slot *s = &tab->slots[i];

            if (!s->nlist)
                continue;
            s->list = (uint32_t)next;
            next += s->nlist;
            s->nlist = 0; /* refilled below */
        }
    }
    for (size_t i = 0; i < m->nterms; i++) {
        const struct mtok *k;
        struct table *tab = term_key(m, &m->terms[i], &k);
        const char *key = m->strs.data + k->off;
        struct slot *s = table_slot(m, tab, key, k->len, fnv(key, k->len));

        m->lists[s->list + s->nlist++] = (uint32_t)i;
    }
    m->built = true;
    return 0;
}

size_t bm_matcher_count(const struct bm_matcher *m)
{
    return m->nterms;
}

const char *bm_matcher_term(const struct bm_matcher *m, uint32_t id)
{
    return id < m->nterms ? m->strs.data + m->terms[id].written : NULL;
}

static const struct slot *probe(const struct bm_matcher *m,
                                const struct table *tab, const char *key,
                                uint32_t len, uint32_t h)
{
    uint32_t mask = tab->cap - 1;

    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        const struct slot *s = &tab->slots[i];

        if (s->nlist == 0)
            return NULL;
        if (key_equals(m, s, key, len, h))
            return s;
    }
}

static int push_hit(struct bm_hits *out, uint32_t term, uint32_t tok,
                    uint32_t ntok)
{
    if (out->n == out->cap) {
        size_t ncap = out->cap ? out->cap * 2 : 64;
        struct bm_hit *nv = realloc(out->v, ncap * sizeof(*nv));

        if (!nv)
            return -ENOMEM;
        out->v = nv;
        out->cap = ncap;
    }
    out->v[out->n++] = (struct bm_hit){ term, tok, ntok };
    return 0;
}

/* True when the tokens after text token @at carry on term @t. The first
 * token matched already. */
static bool tail_matches(const struct bm_matcher *m, const struct mterm *t,
                         const struct bm_text *txt, size_t at)
{
    if (at + t->ntok > txt->ntok)
        return false;
    for (uint32_t k = 1; k < t->ntok; k++) {
        const struct mtok *want = &m->toks[t->tok0 + k];
        const struct bm_token *have = &txt->tok[at + k];
        bool last_prefix = t->prefix && k + 1u == t->ntok;

        if (last_prefix ? have->len < want->len : have->len != want->len)
            return false;
        if (memcmp(txt->norm.data + have->off, m->strs.data + want->off,
                   want->len) != 0)
            return false;
    }
    return true;
}

static int emit_list(const struct bm_matcher *m, const struct slot *s,
                     const struct bm_text *txt, size_t at, struct bm_hits *out)
{
    for (uint32_t i = 0; i < s->nlist; i++) {
        uint32_t id = m->lists[s->list + i];
        const struct mterm *t = &m->terms[id];
        int err;

        if (t->ntok > 1 && !tail_matches(m, t, txt, at))
            continue;
        err = push_hit(out, id, (uint32_t)at, t->ntok);
        if (err)
            return err;
    }
    return 0;
}

static int probe_prefixes(const struct bm_matcher *m, const char *key,
                          const uint32_t *plen, const uint32_t *phash,
                          uint32_t np, const struct bm_text *txt, size_t at,
                          struct bm_hits *out)
{
    for (uint32_t i = 0; i < np; i++) {
        const struct slot *s = probe(m, &m->prefix, key, plen[i], phash[i]);
        int err = s ? emit_list(m, s, txt, at, out) : 0;

        if (err)
            return err;
    }
    return 0;
}

/*
 * Probes both tables for one key: the whole of @key as an exact first token,
 * then each of its leading parts whose length a prefix term has. Exact hits
 * come first, so that where an exact and a prefix term cover the same tokens
 * the exact one is seen first (the sentiment scorer keeps the first).
 */
static int probe_key(const struct bm_matcher *m, const char *key, uint32_t len,
                     const struct bm_text *txt, size_t at, struct bm_hits *out)
{
    uint32_t plen[64], phash[64];
    uint64_t lens = m->prefix_lens;
    uint32_t h = FNV_OFFSET, np = 0;
    const struct slot *s;
    size_t li = 0;
    int err;

    for (uint32_t i = 0; i < len; i++) {
        h = fnv_step(h, (unsigned char)key[i]);
        if (i + 1 < 64) {
            if (!(lens & ((uint64_t)1 << (i + 1))))
                continue;
        } else {
            while (li < m->nlong && m->long_prefix_lens[li] < i + 1)
                li++;
            if (li == m->nlong || m->long_prefix_lens[li] != i + 1)
                continue;
        }
        plen[np] = i + 1;
        phash[np++] = h;
        if (np == 64) {
            /* Only with more than 63 distinct prefix lengths: probe the
             * ones gathered so far now, before the exact probe. */
            err = probe_prefixes(m, key, plen, phash, np, txt, at, out);
            if (err)
                return err;
            np = 0;
        }
    }
    s = probe(m, &m->exact, key, len, h);
    if (s) {
        err = emit_list(m, s, txt, at, out);
        if (err)
            return err;
    }
    return probe_prefixes(m, key, plen, phash, np, txt, at, out);
}

int bm_matcher_run(const struct bm_matcher *m, const struct bm_text *t,
                   struct bm_hits *out)
{
    out->n = 0;
    if (!m->built || m->nterms == 0)
        return 0;
    for (size_t i = 0; i < t->ntok; i++) {
        const struct bm_token *tok = &t->tok[i];
        const char *s = t->norm.data + tok->off;
        int err = probe_key(m, s, tok->len, t, i, out);

        /* A plain term also matches the body of "@acme" and "#acme". */
        if (!err && (tok->flags & (BM_TOK_MENTION | BM_TOK_HASHTAG)) &&
            tok->len > 1)
            err = probe_key(m, s + 1, tok->len - 1, t, i, out);
        if (err)
            return err;
    }
    return 0;
}

void bm_hits_release(struct bm_hits *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
