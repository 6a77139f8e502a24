/*
 * linereader.h - lines from a FILE with a ceiling on their length.
 *
 * A line longer than the ceiling is read to its end and dropped without
 * being held in memory: the reader reports it as too long and goes on.
 * "\n" ends a line and is not part of it; a last line without "\n" is
 * still a line.
 */
#ifndef BRANDMON_LINEREADER_H
#define BRANDMON_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bm_linereader {
    FILE *in;         /* borrowed */
    size_t max;       /* ceiling on a line's bytes */
    char *chunk;      /* owned: read buffer */
    size_t chunk_len; /* bytes in chunk */
    size_t chunk_pos; /* next unread byte */
    char *line;       /* owned: max + 1 bytes */
    uint64_t lines;   /* lines returned so far (too long ones included) */
    uint64_t bytes;   /* bytes read */
    bool eof;
};

/* 0 or -ENOMEM. */
int bm_linereader_init(struct bm_linereader *lr, FILE *in, size_t max);
void bm_linereader_release(struct bm_linereader *lr);

/*
 * The next line: 1 with @line and @len set (valid until the next call) and
 * @too_long false, or 1 with @too_long true and no data; 0 at the end;
 * -EIO on a read error.
 */
int bm_linereader_next(struct bm_linereader *lr, const char **line, size_t *len,
                       bool *too_long);

#endif
