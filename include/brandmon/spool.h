/*
 * spool.h - an append-only file of pending writes that did not fit in
 * memory or could not be written before a stop, replayed in order later.
 *
 * Format: a record is a 4-byte little-endian length, then the bytes, then
 * a 4-byte little-endian CRC-32 of the bytes. A record cut short by a crash
 * (or failing its CRC) ends the readable part: it and what follows are
 * dropped with a warning. Reading does not remove: the reader keeps an
 * offset, and bm_spool_truncate() empties the file once everything read was
 * written to Redis. Reopening after a restart reads from the start (writes
 * are idempotent, so records written twice change nothing).
 *
 * The spool's size is bounded (`max_bytes`): past it, appends fail with
 * -ENOSPC and the caller counts the loss. The file is fsync'ed at
 * bm_spool_sync() (called on stop and at most once a second while
 * spooling).
 */
#ifndef BRANDMON_SPOOL_H
#define BRANDMON_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BM_SPOOL_RECORD_MAX (64u * 1024 * 1024)

struct bm_spool {
    char *path;         /* owned */
    int fd;             /* -1 when closed */
    uint64_t size;      /* bytes in the file */
    uint64_t read_off;  /* next record to read */
    uint64_t records;   /* records appended and not yet truncated away */
    uint64_t unread;    /* records not read yet */
    uint64_t max_bytes; /* ceiling on the file's size */
    uint64_t dropped;   /* bytes of a torn or corrupt tail dropped */
};

/*
 * Opens (creating, mode 0600) the spool at @path. Existing records are
 * counted and will be read first. 0, or -errno (the directory must exist).
 */
int bm_spool_open(struct bm_spool *s, const char *path, uint64_t max_bytes);
void bm_spool_close(struct bm_spool *s);

/* Appends one record. 0, -ENOSPC past max_bytes or a record over
 * BM_SPOOL_RECORD_MAX, -errno on a write error (nothing half-written
 * stays: the file is cut back). */
int bm_spool_append(struct bm_spool *s, const void *data, size_t len);

/*
 * Reads the next unread record into a malloc'ed buffer the caller frees:
 * 1 with @data and @len set, 0 when nothing is left, -errno on error.
 */
int bm_spool_read(struct bm_spool *s, char **data, size_t *len);

/* Every record was read and written: empties the file. 0 or -errno. */
int bm_spool_truncate(struct bm_spool *s);

/* fsync. 0 or -errno. */
int bm_spool_sync(struct bm_spool *s);

bool bm_spool_is_empty(const struct bm_spool *s);

#endif
