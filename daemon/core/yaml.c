/*
 * yaml.c - YAML text to a small tree of positioned nodes, on libyaml's event
 * parser.
 *
 * libyaml's events are folded into scalars, sequences and mappings, each
 * with the 1-based line and column where it starts (libyaml's marks count
 * from 0; columns count characters, not bytes). Every node, string and array
 * lives in one bump arena owned by the document, so bm_ydoc_free() is a walk
 * over a few chunks. Children are gathered in per-depth scratch vectors that
 * are reused, and copied into the arena when their collection ends.
 *
 * It does not resolve tags (they are ignored, and every scalar stays text
 * until a bm_ynode_* conversion reads it), expand aliases (anchors and
 * aliases are refused, which also refuses "billion laughs"), merge `<<` keys,
 * or emit YAML. It keeps no global state. A document whose only content is an
 * empty plain scalar (a lone `---`) counts as empty: its root is NULL.
 */
#include "brandmon/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <yaml.h>

#include "brandmon/diag.h"

#define ARENA_CHUNK (64u * 1024)
/* Mappings with more keys than this find duplicates through a hash table. */
#define HASH_FROM 16
/* The most bytes of a key quoted in a message. */
#define KEY_SHOWN_MAX 64
#define MIB           (1024u * 1024)

static const char no_anchors[] = "YAML anchors and aliases are not supported";

/* ---- arena ------------------------------------------------------------- */

struct arena_chunk {
    struct arena_chunk *next; /* owned */
    size_t used;
    size_t cap;
    max_align_t data[];
};

struct arena {
    /* owned: the chunk being filled first, then older or dedicated ones */
    struct arena_chunk *head;
};

static void arena_free(struct arena *a)
{
    struct arena_chunk *c, *next;

    if (!a)
        return;
    for (c = a->head; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

static void *arena_alloc(struct arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    struct arena_chunk *c = a->head, *fresh;
    size_t cap;

    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - align - sizeof(*fresh))
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    if (c && c->cap - c->used >= size) {
        void *p = (char *)c->data + c->used;

        c->used += size;
        return p;
    }
    cap = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;
    fresh = malloc(sizeof(*fresh) + cap);
    if (!fresh)
        return NULL;
    fresh->cap = cap;
    fresh->used = size;
    if (cap == size && c) {
        /* A big block gets a chunk of its own; keep filling the current one. */
        fresh->next = c->next;
        c->next = fresh;
    } else {
        fresh->next = c;
        a->head = fresh;
    }
    return fresh->data;
}

static char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p;

    if (len == SIZE_MAX)
        return NULL;
    p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- helpers ------------------------------------------------------------ */

/* Writes @len bytes of @s into @out for quoting in a message: control bytes
 * become '?', and a long key is cut at a character boundary, with "...". */
static const char *shown(const char *s, size_t len, char *out, size_t outsz)
{
    size_t n = len, i;
    bool cut = false;

    if (n > KEY_SHOWN_MAX) {
        n = KEY_SHOWN_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    if (n + 4 > outsz)
        n = outsz > 4 ? outsz - 4 : 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    if (cut && i + 3 < outsz) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static bool key_is(const struct bm_ynode *k, const char *s, size_t len)
{
    return k->len == len && memcmp(k->str, s, len) == 0;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

/* Turns a byte offset of @data into a 1-based line and a 1-based column
 * counted in characters, as libyaml counts them. */
static void offset_position(const char *data, size_t len, size_t offset,
                            unsigned *line, unsigned *col)
{
    size_t i;
    unsigned l = 1, c = 1;

    if (offset > len)
        offset = len;
    for (i = 0; i < offset; i++) {
        unsigned char b = (unsigned char)data[i];

        if (b == '\n' || (b == '\r' && (i + 1 >= len || data[i + 1] != '\n'))) {
            l++;
            c = 1;
        } else if (b != '\r' && (b & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* ---- the tree builder --------------------------------------------------- */

struct frame {
    struct bm_ynode *node; /* borrowed: the document */
    /* owned: scratch, reused by every collection at this depth: the items,
     * or each key followed by its value */
    struct bm_ynode **kids;
    size_t n;
    size_t cap;
    /* owned: for mappings with many keys, key indexes plus one by hash;
     * NULL until the mapping has HASH_FROM keys */
    uint32_t *slots;
    size_t nslots;
};

struct builder {
    struct bm_ydoc *doc;  /* borrowed: the document being built */
    struct arena *arena;  /* borrowed: doc->arena */
    struct bm_diag *diag; /* borrowed: the caller's */
    const char *data;     /* borrowed: the input, for reader errors */
    size_t len;
    struct frame frames[BM_YAML_MAX_DEPTH];
    unsigned depth; /* collections open */
    size_t nodes;   /* nodes made so far */
    unsigned ndocs;
};

static void builder_release(struct builder *b)
{
    unsigned i;

    for (i = 0; i < BM_YAML_MAX_DEPTH; i++) {
        free(b->frames[i].kids);
        free(b->frames[i].slots);
    }
}

__attribute__((format(printf, 3, 4))) static int
fail_at(struct builder *b, yaml_mark_t mark, const char *fmt, ...)
{
    char msg[BM_DIAG_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bm_diag_set(b->diag, b->doc->file, (unsigned)mark.line + 1,
                       (unsigned)mark.column + 1, "%s", msg);
}

static int fail_nomem(struct builder *b)
{
    bm_diag_set(b->diag, b->doc->file, 0, 0, "out of memory");
    return -ENOMEM;
}

/* Turns the error libyaml stopped on into a diag. */
static int fail_parser(struct builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "syntax error";
    const char *sep = p->context ? " " : "";
    const char *context = p->context ? p->context : "";
    unsigned line, col;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return fail_nomem(b);
    case YAML_READER_ERROR:
        /* The reader reports a byte offset, not a mark. */
        offset_position(b->data, b->len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            return bm_diag_set(b->diag, b->doc->file, line, col, "%s (0x%02X)",
                               problem, p->problem_value);
        return bm_diag_set(b->diag, b->doc->file, line, col, "%s", problem);
    default:
        return bm_diag_set(b->diag, b->doc->file,
                           (unsigned)p->problem_mark.line + 1,
                           (unsigned)p->problem_mark.column + 1, "%s%s%s",
                           problem, sep, context);
    }
}

static struct bm_ynode *new_node(struct builder *b, enum bm_ynode_type type,
                                 yaml_mark_t mark, int *err)
{
    struct bm_ynode *n;

    if (b->nodes >= BM_YAML_MAX_NODES) {
        *err = fail_at(b, mark, "more than %u nodes", BM_YAML_MAX_NODES);
        return NULL;
    }
    n = arena_alloc(b->arena, sizeof(*n));
    if (!n) {
        *err = fail_nomem(b);
        return NULL;
    }
    b->nodes++;
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->line = (unsigned)mark.line + 1;
    n->col = (unsigned)mark.column + 1;
    return n;
}

static void slots_insert(struct frame *f, size_t keyidx)
{
    const struct bm_ynode *k = f->kids[2 * keyidx];
    size_t mask = f->nslots - 1;
    size_t i = (size_t)hash_bytes(k->str, k->len) & mask;

    while (f->slots[i])
        i = (i + 1) & mask;
    f->slots[i] = (uint32_t)keyidx + 1;
}

/* Makes room in @f's key table for one more key, rebuilding it when it is
 * missing or half full. */
static int slots_reserve(struct frame *f, size_t nkeys)
{
    size_t want = 64, i;
    uint32_t *slots;

    if (f->slots && (nkeys + 1) * 2 <= f->nslots)
        return 0;
    while (want < (nkeys + 1) * 4)
        want *= 2;
    slots = calloc(want, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    free(f->slots);
    f->slots = slots;
    f->nslots = want;
    for (i = 0; i < nkeys; i++)
        slots_insert(f, i);
    return 0;
}

/* Sets @dup to the earlier key of @f equal to @key, or NULL (and then records
 * @key in the hash table, if @f has one). 0 or -ENOMEM. */
static int find_dup(struct frame *f, const struct bm_ynode *key,
                    const struct bm_ynode **dup)
{
    size_t nkeys = f->n / 2, i, mask;

    *dup = NULL;
    if (nkeys < HASH_FROM) {
        for (i = 0; i < nkeys; i++) {
            if (key_is(f->kids[2 * i], key->str, key->len)) {
                *dup = f->kids[2 * i];
                return 0;
            }
        }
        return 0;
    }
    if (slots_reserve(f, nkeys) < 0)
        return -ENOMEM;
    mask = f->nslots - 1;
    for (i = (size_t)hash_bytes(key->str, key->len) & mask; f->slots[i];
         i = (i + 1) & mask) {
        const struct bm_ynode *k = f->kids[2 * (f->slots[i] - 1)];

        if (key_is(k, key->str, key->len)) {
            *dup = k;
            return 0;
        }
    }
    /* The key goes in at index nkeys, once attach() has pushed it. */
    f->slots[i] = (uint32_t)nkeys + 1;
    return 0;
}

/* Hangs @node under the open collection (or makes it the root). */
static int attach(struct builder *b, struct bm_ynode *node, yaml_mark_t mark)
{
    struct frame *f;
    const struct bm_ynode *dup;
    char key[KEY_SHOWN_MAX + 4];

    if (b->depth == 0) {
        b->doc->root = node;
        return 0;
    }
    f = &b->frames[b->depth - 1];
    if (f->node->type == BM_YNODE_MAP && f->n % 2 == 0) {
        if (node->type != BM_YNODE_SCALAR)
            return fail_at(b, mark, "mapping keys must be scalars");
        if (find_dup(f, node, &dup) < 0)
            return fail_nomem(b);
        if (dup)
            return fail_at(b, mark, "duplicate key '%s' (first at line %u)",
                           shown(node->str, node->len, key, sizeof(key)),
                           dup->line);
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct bm_ynode **kids = realloc(f->kids, cap * sizeof(*kids));

        if (!kids)
            return fail_nomem(b);
        f->kids = kids;
        f->cap = cap;
    }
    f->kids[f->n++] = node;
    return 0;
}

static int add_scalar(struct builder *b, const yaml_event_t *ev)
{
    struct bm_ynode *n;
    int err = 0;

    n = new_node(b, BM_YNODE_SCALAR, ev->start_mark, &err);
    if (!n)
        return err;
    n->len = ev->data.scalar.length;
    n->str =
        arena_strndup(b->arena, (const char *)ev->data.scalar.value, n->len);
    if (!n->str)
        return fail_nomem(b);
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return attach(b, n, ev->start_mark);
}

static int open_collection(struct builder *b, enum bm_ynode_type type,
                           yaml_mark_t mark)
{
    struct bm_ynode *n;
    struct frame *f;
    int err = 0;

    if (b->depth >= BM_YAML_MAX_DEPTH)
        return fail_at(b, mark, "nesting deeper than %d levels",
                       BM_YAML_MAX_DEPTH);
    n = new_node(b, type, mark, &err);
    if (!n)
        return err;
    err = attach(b, n, mark);
    if (err < 0)
        return err;
    f = &b->frames[b->depth++];
    f->node = n;
    f->n = 0;
    return 0;
}

static int close_collection(struct builder *b)
{
    struct frame *f = &b->frames[--b->depth];
    struct bm_ynode *n = f->node;
    size_t i;

    if (n->type == BM_YNODE_SEQ) {
        n->n = f->n;
        if (f->n) {
            n->items = arena_alloc(b->arena, f->n * sizeof(*n->items));
            if (!n->items)
                return fail_nomem(b);
            memcpy(n->items, f->kids, f->n * sizeof(*n->items));
        }
    } else {
        n->n = f->n / 2;
        if (n->n) {
            n->pairs = arena_alloc(b->arena, n->n * sizeof(*n->pairs));
            if (!n->pairs)
                return fail_nomem(b);
            for (i = 0; i < n->n; i++) {
                n->pairs[i].key = f->kids[2 * i];
                n->pairs[i].value = f->kids[2 * i + 1];
            }
        }
    }
    free(f->slots);
    f->slots = NULL;
    f->nslots = 0;
    f->n = 0;
    return 0;
}

static int handle_event(struct builder *b, const yaml_event_t *ev, bool *done)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (b->ndocs++ > 0)
            return fail_at(b, ev->start_mark,
                           "only one YAML document is allowed in a file");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_at(b, ev->start_mark, "%s", no_anchors);
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor)
            return fail_at(b, ev->start_mark, "%s", no_anchors);
        return add_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        if (ev->data.sequence_start.anchor)
            return fail_at(b, ev->start_mark, "%s", no_anchors);
        return open_collection(b, BM_YNODE_SEQ, ev->start_mark);
    case YAML_MAPPING_START_EVENT:
        if (ev->data.mapping_start.anchor)
            return fail_at(b, ev->start_mark, "%s", no_anchors);
        return open_collection(b, BM_YNODE_MAP, ev->start_mark);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return close_collection(b);
    default:
        return 0;
    }
}

/* ---- documents ---------------------------------------------------------- */

static void diag_too_big(struct bm_diag *diag, const char *name, uintmax_t size)
{
    if (size)
        bm_diag_set(diag, name, 0, 0,
                    "file is %ju bytes, larger than the %u MiB limit", size,
                    BM_YAML_MAX_BYTES / MIB);
    else
        bm_diag_set(diag, name, 0, 0, "file is larger than the %u MiB limit",
                    BM_YAML_MAX_BYTES / MIB);
}

struct bm_ydoc *bm_ydoc_parse(const char *name, const char *data, size_t len,
                              struct bm_diag *diag)
{
    struct bm_ydoc *doc, *ret = NULL;
    struct builder b;
    yaml_parser_t parser;
    bool done = false;

    if (!name)
        name = "<memory>";
    if (!data)
        data = "";
    if (len > BM_YAML_MAX_BYTES) {
        diag_too_big(diag, name, len);
        return NULL;
    }
    doc = calloc(1, sizeof(*doc));
    if (!doc) {
        bm_diag_set(diag, name, 0, 0, "out of memory");
        return NULL;
    }
    doc->file = strdup(name);
    doc->arena = calloc(1, sizeof(struct arena));
    if (!doc->file || !doc->arena || !yaml_parser_initialize(&parser)) {
        bm_diag_set(diag, name, 0, 0, "out of memory");
        goto out_free_doc;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

    memset(&b, 0, sizeof(b));
    b.doc = doc;
    b.arena = doc->arena;
    b.diag = diag;
    b.data = data;
    b.len = len;
    while (!done) {
        yaml_event_t ev;
        int err;

        if (!yaml_parser_parse(&parser, &ev)) {
            fail_parser(&b, &parser);
            goto out_release_parser;
        }
        err = handle_event(&b, &ev, &done);
        yaml_event_delete(&ev);
        if (err < 0)
            goto out_release_parser;
    }
    if (doc->root && doc->root->type == BM_YNODE_SCALAR && !doc->root->quoted &&
        doc->root->len == 0)
        doc->root = NULL;
    ret = doc;
    doc = NULL;

out_release_parser:
    builder_release(&b);
    yaml_parser_delete(&parser);
out_free_doc:
    bm_ydoc_free(doc);
    return ret;
}

struct bm_ydoc *bm_ydoc_load(const char *path, struct bm_diag *diag)
{
    struct bm_ydoc *doc = NULL;
    struct stat st;
    char *buf = NULL, *grown;
    size_t len = 0, cap;
    ssize_t got;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bm_diag_set(diag, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        bm_diag_set(diag, path, 0, 0, "cannot read: %s", strerror(errno));
        goto out_close_fd;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > BM_YAML_MAX_BYTES) {
        diag_too_big(diag, path, (uintmax_t)st.st_size);
        goto out_close_fd;
    }
    /* One byte more than the size, so that EOF is seen without a realloc. */
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 64 * 1024;
    buf = malloc(cap);
    if (!buf) {
        bm_diag_set(diag, path, 0, 0, "out of memory");
        goto out_close_fd;
    }
    for (;;) {
        if (len == cap) {
            /* Only a file that grows or is not a regular one gets here. */
            if (len > BM_YAML_MAX_BYTES) {
                diag_too_big(diag, path, 0);
                goto out_free_buf;
            }
            cap = cap * 2 > BM_YAML_MAX_BYTES + 1 ? BM_YAML_MAX_BYTES + 1
                                                  : cap * 2;
            grown = realloc(buf, cap);
            if (!grown) {
                bm_diag_set(diag, path, 0, 0, "out of memory");
                goto out_free_buf;
            }
            buf = grown;
        }
        got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            bm_diag_set(diag, path, 0, 0, "cannot read: %s", strerror(errno));
            goto out_free_buf;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (len > BM_YAML_MAX_BYTES) {
        diag_too_big(diag, path, len);
        goto out_free_buf;
    }
    doc = bm_ydoc_parse(path, buf, len, diag);

out_free_buf:
    free(buf);
out_close_fd:
    close(fd);
    return doc;
}

void bm_ydoc_free(struct bm_ydoc *doc)
{
    if (!doc)
        return;
    arena_free(doc->arena);
    free(doc->file);
    free(doc);
}

/* ---- lookups and conversions -------------------------------------------- */

const struct bm_ynode *bm_ynode_get(const struct bm_ynode *map, const char *key)
{
    size_t i, len;

    if (!map || map->type != BM_YNODE_MAP || !key)
        return NULL;
    len = strlen(key);
    for (i = 0; i < map->n; i++)
        if (key_is(map->pairs[i].key, key, len))
            return map->pairs[i].value;
    return NULL;
}

int bm_ynode_error(const struct bm_ydoc *doc, const struct bm_ynode *n,
                   struct bm_diag *diag, const char *fmt, ...)
{
    char msg[BM_DIAG_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bm_diag_set(diag, doc ? doc->file : "", n ? n->line : 0,
                       n ? n->col : 0, "%s", msg);
}

int bm_ynode_check_keys(const struct bm_ydoc *doc, const struct bm_ynode *map,
                        const char *what, const char *const *allowed,
                        struct bm_diag *diag)
{
    char key[KEY_SHOWN_MAX + 4];
    const struct bm_ynode *k;
    const char *const *a;
    const char *hint;
    size_t i;

    if (!map || map->type != BM_YNODE_MAP)
        return bm_ynode_error(doc, map, diag, "%s must be a mapping", what);
    for (i = 0; i < map->n; i++) {
        k = map->pairs[i].key;
        for (a = allowed; a && *a; a++)
            if (key_is(k, *a, strlen(*a)))
                break;
        if (a && *a)
            continue;
        shown(k->str, k->len, key, sizeof(key));
        hint = bm_diag_suggest(k->str, allowed);
        if (hint)
            return bm_ynode_error(doc, k, diag,
                                  "unknown key '%s' in %s (did you mean "
                                  "'%s'?)",
                                  key, what, hint);
        return bm_ynode_error(doc, k, diag, "unknown key '%s' in %s", key,
                              what);
    }
    return 0;
}

static bool is_text(const struct bm_ynode *n)
{
    return n && n->type == BM_YNODE_SCALAR && strlen(n->str) == n->len;
}

int bm_ynode_string(const struct bm_ydoc *doc, const struct bm_ynode *n,
                    const char **out, struct bm_diag *diag)
{
    if (!n || n->type != BM_YNODE_SCALAR)
        return bm_ynode_error(doc, n, diag, "expected a string");
    if (strlen(n->str) != n->len)
        return bm_ynode_error(doc, n, diag,
                              "expected a string without NUL characters");
    *out = n->str;
    return 0;
}

int bm_ynode_bool(const struct bm_ydoc *doc, const struct bm_ynode *n,
                  bool *out, struct bm_diag *diag)
{
    if (is_text(n) && strcasecmp(n->str, "true") == 0) {
        *out = true;
        return 0;
    }
    if (is_text(n) && strcasecmp(n->str, "false") == 0) {
        *out = false;
        return 0;
    }
    return bm_ynode_error(doc, n, diag, "expected true or false");
}

int bm_ynode_int(const struct bm_ydoc *doc, const struct bm_ynode *n,
                 int64_t min, int64_t max, int64_t *out, struct bm_diag *diag)
{
    const uint64_t limit = (uint64_t)INT64_MAX + 1;
    uint64_t v = 0;
    int64_t val;
    bool neg = false;
    size_t i = 0;

    if (!is_text(n))
        goto bad;
    if (n->str[0] == '+' || n->str[0] == '-') {
        neg = n->str[0] == '-';
        i = 1;
    }
    if (i == n->len)
        goto bad;
    for (; i < n->len; i++) {
        unsigned d = (unsigned char)n->str[i] - '0';

        if (d > 9 || v > (limit - d) / 10)
            goto bad;
        v = v * 10 + d;
    }
    if (neg)
        val = v == limit ? INT64_MIN : -(int64_t)v;
    else if (v == limit)
        goto bad;
    else
        val = (int64_t)v;
    if (val < min || val > max)
        goto bad;
    *out = val;
    return 0;

bad:
    return bm_ynode_error(doc, n, diag,
                          "expected an integer from %" PRId64 " to %" PRId64,
                          min, max);
}

int bm_ynode_double(const struct bm_ydoc *doc, const struct bm_ynode *n,
                    double min, double max, double *out, struct bm_diag *diag)
{
    char *end;
    double v;

    /* Only plain decimal notation: strtod alone would also take "nan",
     * "inf", hex floats and leading white space. */
    if (!is_text(n) || n->len == 0 ||
        strspn(n->str, "0123456789+-.eE") != n->len)
        goto bad;
    v = strtod(n->str, &end);
    if (end != n->str + n->len || isnan(v) || v < min || v > max)
        goto bad;
    *out = v;
    return 0;

bad:
    return bm_ynode_error(doc, n, diag, "expected a number from %g to %g", min,
                          max);
}

int bm_ynode_duration(const struct bm_ydoc *doc, const struct bm_ynode *n,
                      uint64_t *out_ms, struct bm_diag *diag)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {
        { "ms", 1 },          { "s", 1000 },         { "m", 60 * 1000 },
        { "h", 3600 * 1000 }, { "d", 86400 * 1000 },
    };
    uint64_t whole = 0, frac = 0, scale = 1, unit = 1000, ms;
    const char *s;
    size_t i;

    if (!is_text(n))
        goto bad;
    s = n->str;
    if (*s < '0' || *s > '9')
        goto bad;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (whole > (UINT64_MAX - 9) / 10)
            goto too_long;
        whole = whole * 10 + (uint64_t)(*s - '0');
    }
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            goto bad;
        /* Digits past the ninth are below a nanosecond of a day: dropped. */
        for (; *s >= '0' && *s <= '9'; s++) {
            if (scale < 1000000000u) {
                frac = frac * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
        }
    }
    if (*s) {
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strcmp(s, units[i].name) == 0)
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            goto bad;
        unit = units[i].ms;
    }
    if (whole > UINT64_MAX / unit)
        goto too_long;
    ms = whole * unit;
    if (ms > UINT64_MAX - frac * unit / scale)
        goto too_long;
    ms += frac * unit / scale;
    if (ms < 1)
        return bm_ynode_error(doc, n, diag, "a duration must be at least 1ms");
    *out_ms = ms;
    return 0;

too_long:
    return bm_ynode_error(doc, n, diag, "duration is too long");
bad:
    return bm_ynode_error(doc, n, diag,
                          "expected a duration like 30s, 10m, 6h or 1d");
}
