/*
 * linereader.c - bounded line reading: one read buffer, one line buffer of
 * the ceiling's size, memchr to find line ends, each byte copied once.
 */
#include "brandmon/linereader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64u * 1024)

int bm_linereader_init(struct bm_linereader *lr, FILE *in, size_t max)
{
    *lr = (struct bm_linereader){ .in = in, .max = max };
    lr->chunk = malloc(CHUNK);
    lr->line = malloc(max + 1);
    if (!lr->chunk || !lr->line) {
        bm_linereader_release(lr);
        return -ENOMEM;
    }
    return 0;
}

void bm_linereader_release(struct bm_linereader *lr)
{
    free(lr->chunk);
    free(lr->line);
    lr->chunk = lr->line = NULL;
}

int bm_linereader_next(struct bm_linereader *lr, const char **line, size_t *len,
                       bool *too_long)
{
    size_t have = 0;
    bool over = false, any = false;

    for (;;) {
        char *start, *nl;
        size_t avail, take;

        if (lr->chunk_pos == lr->chunk_len) {
            if (lr->eof)
                break;
            lr->chunk_len = fread(lr->chunk, 1, CHUNK, lr->in);
            lr->chunk_pos = 0;
            lr->bytes += lr->chunk_len;
            if (lr->chunk_len == 0) {
                lr->eof = true;
                if (ferror(lr->in))
                    return -EIO;
                break;
            }
        }
        any = true;
        start = lr->chunk + lr->chunk_pos;
        avail = lr->chunk_len - lr->chunk_pos;
        nl = memchr(start, '\n', avail);
        take = nl ? (size_t)(nl - start) : avail;
        if (!over && have + take <= lr->max) {
            memcpy(lr->line + have, start, take);
            have += take;
        } else {
            over = true;
        }
        lr->chunk_pos += take + (nl ? 1 : 0);
        if (nl)
            goto out_line;
    }
    if (!any && have == 0 && !over)
        return 0;
out_line:
    lr->lines++;
    lr->line[have] = '\0';
    *line = lr->line;
    *len = over ? 0 : have;
    *too_long = over;
    return 1;
}
