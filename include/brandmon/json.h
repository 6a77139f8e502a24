/*
 * json.h - small JSON helpers around jansson: RFC 6901 pointers, and a
 * writer that appends JSON text to a bm_buf without building a json_t
 * (the decision encoder is on the hot path).
 */
#ifndef BRANDMON_JSON_H
#define BRANDMON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "brandmon/buf.h"

/* The value at RFC 6901 pointer @ptr ("" is the root; "~0" and "~1" are
 * unescaped; array indexes are decimal), or NULL. Borrowed from @root. */
const json_t *bm_json_pointer(const json_t *root, const char *ptr);
/* True when @ptr is a syntactically valid pointer ("" or starting with /). */
int bm_json_pointer_is_valid(const char *ptr);

/* Typed getters that return NULL / the default for a missing or mistyped
 * member. Strings are borrowed from @obj. */
const char *bm_json_str(const json_t *obj, const char *key);
int64_t bm_json_int(const json_t *obj, const char *key, int64_t dflt);

/* Appends @s (@len bytes of UTF-8) as a JSON string with quotes. Control
 * characters, '"' and '\\' are escaped; everything else is copied. 0 or
 * -ENOMEM. */
int bm_json_put_str(struct bm_buf *b, const char *s, size_t len);
/* Same, for a NUL-terminated string; NULL is written as null. */
int bm_json_put_cstr(struct bm_buf *b, const char *s);
/* A number with up to 4 decimals, without trailing zeros ("0.25", "-1"). */
int bm_json_put_num(struct bm_buf *b, double v);

#endif
