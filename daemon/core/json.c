/*
 * json.c - RFC 6901 pointers over jansson values, typed getters, and a
 * minimal JSON writer.
 *
 * The pointer resolver walks a decoded message without copying it and
 * returns borrowed values. The writer appends strings and numbers to a
 * bm_buf so the decision encoder never builds a json_t tree; it escapes only
 * what JSON requires (control characters, '"' and '\\') and copies every
 * other byte, so UTF-8 passes through as is. It does not validate UTF-8:
 * text reaching it was normalised before.
 */
#include "brandmon/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "brandmon/buf.h"

/* Reference tokens up to this size are unescaped on the stack. */
#define PTR_TOKEN_STACK 256

/*
 * Unescapes the @n bytes of reference token @tok ("~0" -> '~', "~1" -> '/')
 * into @out (room for @n bytes) and returns the unescaped length, or -1 on a
 * '~' followed by anything else.
 */
static long token_unescape(const char *tok, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (tok[i] != '~') {
            out[o++] = tok[i];
            continue;
        }
        if (i + 1 >= n)
            return -1;
        if (tok[i + 1] == '0')
            out[o++] = '~';
        else if (tok[i + 1] == '1')
            out[o++] = '/';
        else
            return -1;
        i++;
    }
    return (long)o;
}

/* An array index token: "0" or digits without a leading zero. */
static int token_index(const char *tok, size_t n, size_t *out)
{
    size_t i, v = 0;

    if (n == 0 || (n > 1 && tok[0] == '0'))
        return -1;
    for (i = 0; i < n; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return -1;
        if (v > ((size_t)-1 - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(tok[i] - '0');
    }
    *out = v;
    return 0;
}

static const json_t *object_member(const json_t *obj, const char *tok, size_t n)
{
    char small[PTR_TOKEN_STACK];
    char *key = small;
    const json_t *v = NULL;
    long klen;

    if (n > sizeof(small)) {
        key = malloc(n);
        if (!key)
            return NULL;
    }
    klen = token_unescape(tok, n, key);
    if (klen >= 0)
        v = json_object_getn(obj, key, (size_t)klen);
    if (key != small)
        free(key);
    return v;
}

const json_t *bm_json_pointer(const json_t *root, const char *ptr)
{
    const json_t *cur = root;
    const char *p, *end;
    size_t n, idx;

    if (!root || !ptr)
        return NULL;
    if (*ptr == '\0')
        return root;
    if (*ptr != '/')
        return NULL;
    p = ptr;
    while (*p == '/') {
        p++;
        end = strchr(p, '/');
        n = end ? (size_t)(end - p) : strlen(p);
        if (json_is_object(cur)) {
            cur = object_member(cur, p, n);
        } else if (json_is_array(cur)) {
            if (token_index(p, n, &idx) < 0)
                return NULL; /* includes "-", the element after the last */
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
        if (!cur)
            return NULL;
        p += n;
    }
    return cur;
}

int bm_json_pointer_is_valid(const char *ptr)
{
    const char *p;

    if (!ptr)
        return 0;
    if (*ptr == '\0')
        return 1;
    if (*ptr != '/')
        return 0;
    for (p = ptr; *p; p++) {
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return 0;
    }
    return 1;
}

const char *bm_json_str(const json_t *obj, const char *key)
{
    const json_t *v;

    if (!json_is_object(obj) || !key)
        return NULL;
    v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t bm_json_int(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v;

    if (!json_is_object(obj) || !key)
        return dflt;
    v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

int bm_json_put_str(struct bm_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0, start = b->len;
    int rc;

    /* Worst case every byte becomes \u00XX. */
    if (len > ((size_t)-1 - 3) / 6)
        return -ENOMEM;
    rc = bm_buf_reserve(b, len + 2);
    if (rc < 0)
        return rc;
    rc = bm_buf_putc(b, '"');
    for (i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        /* Copy the clean run before this byte, then its escape. */
        rc = bm_buf_append(b, s + run, i - run);
        if (rc < 0)
            break;
        run = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            elen = 6;
            break;
        }
        rc = bm_buf_append(b, esc, elen);
    }
    if (rc == 0)
        rc = bm_buf_append(b, s + run, len - run);
    if (rc == 0)
        rc = bm_buf_putc(b, '"');
    if (rc < 0 && b->data) {
        /* Leave no half-written string behind. */
        b->len = start;
        b->data[start] = '\0';
    }
    return rc;
}

int bm_json_put_cstr(struct bm_buf *b, const char *s)
{
    if (!s)
        return bm_buf_append(b, "null", 4);
    return bm_json_put_str(b, s, strlen(s));
}

int bm_json_put_num(struct bm_buf *b, double v)
{
    /* DBL_MAX printed with %.4f is 309 digits, a point and 4 decimals. */
    char num[400];
    int n;

    /* JSON has no NaN or infinity; 0 keeps the document parseable. */
    if (!isfinite(v))
        v = 0;
    n = snprintf(num, sizeof(num), "%.4f", v);
    if (n < 0 || (size_t)n >= sizeof(num))
        return -EINVAL;
    while (n > 0 && num[n - 1] == '0')
        n--;
    if (n > 0 && num[n - 1] == '.')
        n--;
    num[n] = '\0';
    if (strcmp(num, "-0") == 0)
        return bm_buf_putc(b, '0');
    return bm_buf_append(b, num, (size_t)n);
}
