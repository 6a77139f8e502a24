/* test_spool.c - the sink's append-only spool file (include/brandmon/spool.h).
 *
 * Every test works in its own mkdtemp() folder, removed by its teardown. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "brandmon/log.h"
#include "brandmon/spool.h"

#define NO_LIMIT  UINT64_MAX
#define OVERHEAD  8u /* length + CRC around each record */
#define WARN_LINE "<4>[sink:spool]"

struct fixture {
    char dir[64];
    char path[128];
    char log[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/test_spool.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/spool", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/stderr.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    struct dirent *de;
    char p[512];
    DIR *d;
    int rc;

    d = opendir(f->dir);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rc = rmdir(f->dir);
    free(f);
    return rc;
}

/* A deterministic payload: record @idx of @len bytes. */
static char *payload(size_t idx, size_t len)
{
    char *p = malloc(len ? len : 1);
    size_t j;

    assert_non_null(p);
    for (j = 0; j < len; j++)
        p[j] = (char)((idx * 131 + j * 7 + (j >> 8)) & 0xff);
    return p;
}

static void append_payload(struct bm_spool *s, size_t idx, size_t len)
{
    char *p = payload(idx, len);

    assert_int_equal(bm_spool_append(s, p, len), 0);
    free(p);
}

static void read_payload(struct bm_spool *s, size_t idx, size_t len)
{
    char *want = payload(idx, len), *got = NULL;
    size_t got_len = 12345;

    assert_int_equal(bm_spool_read(s, &got, &got_len), 1);
    assert_non_null(got);
    assert_int_equal(got_len, len);
    if (len)
        assert_memory_equal(got, want, len);
    free(got);
    free(want);
}

static void read_end(struct bm_spool *s)
{
    char *got = NULL;
    size_t got_len = 0;

    assert_int_equal(bm_spool_read(s, &got, &got_len), 0);
    assert_null(got);
}

static uint64_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Sends stderr to @log until capture_end(), which counts the lines holding
 * @needle. */
static int capture_begin(const char *log)
{
    int saved, fd;

    fflush(stderr);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
    return saved;
}

/* The lines of @log holding @needle. */
static size_t log_count(const char *log, const char *needle)
{
    char line[1024];
    size_t n = 0;
    FILE *fp;

    fp = fopen(log, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, needle))
            n++;
    fclose(fp);
    return n;
}

static size_t capture_end(int saved, const char *log, const char *needle)
{
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    return log_count(log, needle);
}

static const size_t sizes[] = {
    0,     1,     2,     3, 7,   100,     4095, 4096,   4097,
    65535, 65536, 65537, 0, 200, 1 << 20, 0,    131073, 5,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static uint64_t sizes_total(size_t n)
{
    uint64_t t = 0;
    size_t i;

    for (i = 0; i < n; i++)
        t += OVERHEAD + sizes[i];
    return t;
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct bm_spool s;
    struct stat st;
    size_t i, round;

    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_true(s.fd >= 0);
    assert_true(bm_spool_is_empty(&s));
    assert_int_equal(s.records, 0);
    assert_int_equal(s.size, 0);
    read_end(&s);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    for (i = 0; i < NSIZES; i++)
        append_payload(&s, i, sizes[i]);
    /* Many small ones after the varied ones. */
    for (round = 0; round < 300; round++)
        append_payload(&s, 1000 + round, round % 37);
    assert_false(bm_spool_is_empty(&s));
    assert_int_equal(s.records, NSIZES + 300);
    assert_int_equal(s.unread, NSIZES + 300);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.size, file_size(f->path));

    for (i = 0; i < NSIZES; i++) {
        read_payload(&s, i, sizes[i]);
        assert_int_equal(s.unread, NSIZES + 300 - i - 1);
    }
    for (round = 0; round < 300; round++)
        read_payload(&s, 1000 + round, round % 37);
    read_end(&s);
    assert_int_equal(s.unread, 0);
    assert_int_equal(s.read_off, s.size);
    /* Reading removes nothing. */
    assert_int_equal(s.records, NSIZES + 300);
    assert_false(bm_spool_is_empty(&s));
    /* Appends after reading everything are read next. */
    append_payload(&s, 77, 33);
    read_payload(&s, 77, 33);
    read_end(&s);
    assert_int_equal(bm_spool_sync(&s), 0);
    bm_spool_close(&s);
    assert_int_equal(s.fd, -1);
    assert_null(s.path);
}

/* The bytes on disk: little-endian length, body, little-endian CRC-32 (the
 * standard check value of "123456789" is 0xCBF43926). */
static void test_format(void **state)
{
    static const unsigned char want[] = {
        0x09, 0x00, 0x00, 0x00, '1',  '2',  '3',  '4',  '5',
        '6',  '7',  '8',  '9',  0x26, 0x39, 0xf4, 0xcb, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    struct fixture *f = *state;
    unsigned char got[64];
    struct bm_spool s;
    ssize_t n;
    int fd;

    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_int_equal(bm_spool_append(&s, "123456789", 9), 0);
    /* An empty record is its length and the CRC of nothing (0). */
    assert_int_equal(bm_spool_append(&s, "", 0), 0);
    bm_spool_close(&s);

    fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, got, sizeof(got));
    close(fd);
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(got, want, sizeof(want));
}

/* CRC-32 one bit at a time: a reference independent of the spool's table. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return c ^ 0xffffffffu;
}

/* Every byte value, and larger records, get the CRC the reference gives. */
static void test_crc_all_bytes(void **state)
{
    struct fixture *f = *state;
    const size_t lens[] = { 256, 1000, 70000 };
    unsigned char *buf, tail[4];
    struct bm_spool s;
    uint64_t off = 0;
    uint32_t want;
    size_t i, j;
    int fd;

    buf = malloc(70000);
    assert_non_null(buf);
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    for (i = 0; i < 3; i++) {
        for (j = 0; j < lens[i]; j++)
            buf[j] = (unsigned char)((j * (i + 1) + (j >> 8)) & 0xff);
        assert_int_equal(bm_spool_append(&s, buf, lens[i]), 0);
    }
    bm_spool_close(&s);
    fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    for (i = 0; i < 3; i++) {
        for (j = 0; j < lens[i]; j++)
            buf[j] = (unsigned char)((j * (i + 1) + (j >> 8)) & 0xff);
        want = crc32_bitwise(buf, lens[i]);
        off += 4 + lens[i];
        assert_int_equal(pread(fd, tail, 4, (off_t)off), 4);
        assert_int_equal((uint32_t)tail[0] | (uint32_t)tail[1] << 8 |
                             (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24,
                         want);
        off += 4;
    }
    close(fd);
    free(buf);
}

/* The restart case: reopening reads every record again from the start. */
static void test_reopen(void **state)
{
    struct fixture *f = *state;
    struct bm_spool s;
    size_t i;

    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    for (i = 0; i < NSIZES; i++)
        append_payload(&s, i, sizes[i]);
    for (i = 0; i < 5; i++)
        read_payload(&s, i, sizes[i]);
    bm_spool_close(&s);

    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_int_equal(s.records, NSIZES);
    assert_int_equal(s.unread, NSIZES);
    assert_int_equal(s.size, sizes_total(NSIZES));
    assert_int_equal(s.read_off, 0);
    assert_int_equal(s.dropped, 0);
    assert_false(bm_spool_is_empty(&s));
    /* New appends go after the old records. */
    append_payload(&s, 500, 10);
    for (i = 0; i < NSIZES; i++)
        read_payload(&s, i, sizes[i]);
    read_payload(&s, 500, 10);
    read_end(&s);
    bm_spool_close(&s);

    /* And once more, with nothing read before the restart. */
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_int_equal(s.records, NSIZES + 1);
    read_payload(&s, 0, sizes[0]);
    read_payload(&s, 1, sizes[1]);
    bm_spool_close(&s);
}

/* Writes 5 records of 20 + i bytes and returns the file's size. */
static uint64_t write_five(const char *path)
{
    struct bm_spool s;
    size_t i;

    assert_int_equal(bm_spool_open(&s, path, NO_LIMIT), 0);
    for (i = 0; i < 5; i++)
        append_payload(&s, i, 20 + i);
    bm_spool_close(&s);
    return file_size(path);
}

/* A crash cut the last record short: in its CRC, its body, its length. */
static void test_torn_tail(void **state)
{
    struct fixture *f = *state;
    const uint64_t last = OVERHEAD + 24; /* the 5th record's size */
    const uint64_t cuts[] = { 1, 3, 4, 5, 10, last - 4, last - 2, last - 1 };
    struct bm_spool s;
    uint64_t full, good;
    size_t c, i;
    int saved;

    for (c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        assert_int_equal(unlink(f->path) == 0 || errno == ENOENT, 1);
        full = write_five(f->path);
        good = full - last;
        assert_int_equal(truncate(f->path, (off_t)(full - cuts[c])), 0);

        saved = capture_begin(f->log);
        assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
        assert_int_equal(capture_end(saved, f->log, WARN_LINE), 1);
        assert_int_equal(s.dropped, last - cuts[c]);
        assert_true(s.dropped > 0);
        assert_int_equal(s.records, 4);
        assert_int_equal(s.unread, 4);
        assert_int_equal(s.size, good);
        assert_int_equal(file_size(f->path), good);
        for (i = 0; i < 4; i++)
            read_payload(&s, i, 20 + i);
        read_end(&s);
        /* Appends follow the good records. */
        append_payload(&s, 9, 50);
        read_payload(&s, 9, 50);
        bm_spool_close(&s);

        saved = capture_begin(f->log);
        assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
        assert_int_equal(capture_end(saved, f->log, WARN_LINE), 0);
        assert_int_equal(s.dropped, 0);
        assert_int_equal(s.records, 5);
        for (i = 0; i < 4; i++)
            read_payload(&s, i, 20 + i);
        read_payload(&s, 9, 50);
        read_end(&s);
        bm_spool_close(&s);
    }
}

static void poke(const char *path, uint64_t off, unsigned char xor_mask)
{
    unsigned char b;
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= xor_mask;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* A flipped byte in the 3rd of 5 records: the 2 before it are read, it and
 * the rest are dropped. The byte is in the body, the CRC, or the length
 * (which then either runs past the end, or over the record limit, or points
 * at bytes whose CRC does not match). */
static void test_corrupt_middle(void **state)
{
    struct fixture *f = *state;
    const uint64_t start = (OVERHEAD + 20) + (OVERHEAD + 21);
    const struct {
        uint64_t off;
        unsigned char mask;
        const char *why;
    } flips[] = {
        { start + 4, 0x01, "bad CRC" },      /* first body byte */
        { start + 4 + 11, 0x80, "bad CRC" }, /* a middle body byte */
        { start + 4 + 22, 0x10, "bad CRC" }, /* the CRC */
        { start + 0, 0x01, "bad CRC" },      /* length 22 -> 23 */
        { start + 0, 0x04, "bad CRC" },      /* length 22 -> 18 */
        { start + 1, 0x01, "short body" },   /* 278: past the end */
        { start + 3, 0x80, "record limit" }, /* over BM_SPOOL_RECORD_MAX */
    };
    struct bm_spool s;
    uint64_t full;
    size_t c;
    int saved;

    for (c = 0; c < sizeof(flips) / sizeof(flips[0]); c++) {
        assert_int_equal(unlink(f->path) == 0 || errno == ENOENT, 1);
        full = write_five(f->path);
        poke(f->path, flips[c].off, flips[c].mask);

        saved = capture_begin(f->log);
        assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
        assert_int_equal(capture_end(saved, f->log, WARN_LINE), 1);
        assert_int_equal(log_count(f->log, flips[c].why), 1);
        assert_int_equal(s.records, 2);
        assert_int_equal(s.dropped, full - start);
        assert_int_equal(s.size, start);
        assert_int_equal(file_size(f->path), start);
        read_payload(&s, 0, 20);
        read_payload(&s, 1, 21);
        read_end(&s);
        bm_spool_close(&s);
    }
}

/* The file changes under an open spool (disk trouble): reading stops at the
 * bad record, which and the rest are dropped with a warning. */
static void test_corrupt_while_open(void **state)
{
    struct fixture *f = *state;
    const uint64_t start = (OVERHEAD + 20) + (OVERHEAD + 21);
    struct bm_spool s;
    uint64_t full;
    int saved;

    full = write_five(f->path);
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_int_equal(s.records, 5);
    read_payload(&s, 0, 20);
    poke(f->path, start + 9, 0x04);
    read_payload(&s, 1, 21);
    saved = capture_begin(f->log);
    read_end(&s);
    assert_int_equal(capture_end(saved, f->log, WARN_LINE), 1);
    assert_int_equal(s.dropped, full - start);
    assert_int_equal(s.records, 2);
    assert_int_equal(s.unread, 0);
    assert_int_equal(file_size(f->path), start);
    /* Still usable. */
    append_payload(&s, 8, 8);
    read_payload(&s, 8, 8);
    read_end(&s);
    bm_spool_close(&s);
}

static void test_max_bytes(void **state)
{
    struct fixture *f = *state;
    const uint64_t rec = OVERHEAD + 10;
    static char big[16];
    struct bm_spool s;
    size_t i;

    assert_int_equal(bm_spool_open(&s, f->path, 5 * rec + 7), 0);
    for (i = 0; i < 5; i++)
        append_payload(&s, i, 10);
    assert_int_equal(s.size, 5 * rec);
    /* 7 bytes left: neither a 10-byte nor an empty record fits. */
    {
        char *p = payload(5, 10);

        assert_int_equal(bm_spool_append(&s, p, 10), -ENOSPC);
        free(p);
    }
    assert_int_equal(bm_spool_append(&s, "", 0), -ENOSPC);
    assert_int_equal(s.size, 5 * rec);
    assert_int_equal(file_size(f->path), 5 * rec);
    assert_int_equal(s.records, 5);
    assert_int_equal(s.unread, 5);
    bm_spool_close(&s);

    /* Nothing partial: a reopen reads the 5 and drops nothing. */
    assert_int_equal(bm_spool_open(&s, f->path, 6 * rec), 0);
    assert_int_equal(s.records, 5);
    assert_int_equal(s.dropped, 0);
    /* A record that ends exactly at max_bytes fits. */
    append_payload(&s, 5, 10);
    assert_int_equal(s.size, 6 * rec);
    assert_int_equal(bm_spool_append(&s, "", 0), -ENOSPC);
    for (i = 0; i < 6; i++)
        read_payload(&s, i, 10);
    read_end(&s);
    bm_spool_close(&s);

    /* Over the record limit, whatever the room: refused before reading. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_int_equal(bm_spool_append(&s, big, (size_t)BM_SPOOL_RECORD_MAX + 1),
                     -ENOSPC);
    assert_int_equal(s.size, 0);
    assert_int_equal(file_size(f->path), 0);
    assert_true(bm_spool_is_empty(&s));
    bm_spool_close(&s);
}

static void test_truncate(void **state)
{
    struct fixture *f = *state;
    struct bm_spool s;
    size_t i;

    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    for (i = 0; i < 10; i++)
        append_payload(&s, i, 100 + i);
    for (i = 0; i < 10; i++)
        read_payload(&s, i, 100 + i);
    assert_int_equal(bm_spool_truncate(&s), 0);
    assert_true(bm_spool_is_empty(&s));
    assert_int_equal(s.size, 0);
    assert_int_equal(s.read_off, 0);
    assert_int_equal(s.records, 0);
    assert_int_equal(s.unread, 0);
    assert_int_equal(file_size(f->path), 0);
    read_end(&s);

    append_payload(&s, 20, 3);
    append_payload(&s, 21, 0);
    assert_false(bm_spool_is_empty(&s));
    assert_int_equal(file_size(f->path), 2 * OVERHEAD + 3);
    read_payload(&s, 20, 3);
    read_payload(&s, 21, 0);
    read_end(&s);
    assert_int_equal(bm_spool_sync(&s), 0);
    bm_spool_close(&s);

    /* After a restart only what followed the truncation is there. */
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_int_equal(s.records, 2);
    read_payload(&s, 20, 3);
    read_payload(&s, 21, 0);
    read_end(&s);
    assert_int_equal(bm_spool_truncate(&s), 0);
    bm_spool_close(&s);
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_true(bm_spool_is_empty(&s));
    read_end(&s);
    bm_spool_close(&s);
}

static void test_missing_dir(void **state)
{
    struct fixture *f = *state;
    struct bm_spool s;
    char p[256];

    snprintf(p, sizeof(p), "%s/missing/spool", f->dir);
    assert_int_equal(bm_spool_open(&s, p, NO_LIMIT), -ENOENT);
    assert_int_equal(s.fd, -1);
    assert_null(s.path);
    bm_spool_close(&s); /* safe on a spool that failed to open */
    assert_int_equal(access(p, F_OK), -1);
}

/* A write that fails or stops halfway (here a file size limit) leaves
 * nothing behind: the file is cut back and the error returned. */
static void test_failed_write_cut_back(void **state)
{
    struct fixture *f = *state;
    struct rlimit old, lim;
    struct bm_spool s;
    char *p = payload(3, 100);
    uint64_t before;
    int rc_short, rc_full;

    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    append_payload(&s, 0, 10);
    append_payload(&s, 1, 11);
    before = s.size;

    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    /* Room for part of the record: a short write. */
    lim.rlim_cur = (rlim_t)(before + 20);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rc_short = bm_spool_append(&s, p, 100);
    /* No room at all: the write fails outright. */
    lim.rlim_cur = (rlim_t)before;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rc_full = bm_spool_append(&s, p, 100);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);

    assert_int_equal(rc_short, -EIO);
    assert_int_equal(rc_full, -EFBIG);
    assert_int_equal(s.size, before);
    assert_int_equal(file_size(f->path), before);
    assert_int_equal(s.records, 2);
    assert_int_equal(s.unread, 2);

    /* The spool goes on as if the failed appends never happened. */
    assert_int_equal(bm_spool_append(&s, p, 100), 0);
    bm_spool_close(&s);
    assert_int_equal(bm_spool_open(&s, f->path, NO_LIMIT), 0);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.records, 3);
    read_payload(&s, 0, 10);
    read_payload(&s, 1, 11);
    read_payload(&s, 3, 100);
    read_end(&s);
    bm_spool_close(&s);
    free(p);
    signal(SIGXFSZ, SIG_DFL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crc_all_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_while_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_cut_back, setup,
                                        teardown),
    };

    bm_log_set_level(BM_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
