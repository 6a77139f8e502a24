/*
 * spool.c - the Redis sink's append-only file of pending writes.
 *
 * Each record is a 4-byte little-endian length, the bytes, and a 4-byte
 * little-endian CRC-32 (IEEE, reflected polynomial 0xEDB88320) of the bytes.
 * Opening scans the whole file once: it counts the good records and cuts
 * the file at the first torn or corrupt one (short header, short body, a
 * length over BM_SPOOL_RECORD_MAX or a bad CRC), so that later appends
 * follow good data. Appending is one writev(2) of the whole record to a file
 * opened O_APPEND; a failed or short write is cut back with ftruncate(2), so
 * a record is either whole or absent. Reading uses pread(2) from an offset
 * the spool keeps and removes nothing; bm_spool_truncate() empties the file.
 * The spool does not fsync on its own (bm_spool_sync() does, when the sink
 * asks), knows nothing of Redis, and is not thread safe.
 */
#include "brandmon/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "brandmon/log.h"

#define SPOOL_HDR        4u
#define SPOOL_TRAILER    4u
#define SPOOL_OVERHEAD   (SPOOL_HDR + SPOOL_TRAILER)
#define SPOOL_SCAN_CHUNK (64u * 1024)

/* CRC-32 (IEEE 802.3), reflected, one table entry per byte value. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u,
    0x706af48fu, 0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u,
    0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u,
    0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu,
    0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u,
    0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
    0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u,
    0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu, 0x51de003au,
    0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u,
    0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u,
    0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu,
    0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
    0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu, 0x6c0695edu,
    0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u,
    0xfbd44c65u, 0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u,
    0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u,
    0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau, 0xbe0b1010u,
    0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u,
    0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u,
    0x03b6e20cu, 0x74b1d29au, 0xead54739u, 0x9dd277afu, 0x04db2615u,
    0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u,
    0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au,
    0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
    0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u,
    0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu, 0xd80d2bdau, 0xaf0a1b4cu,
    0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu,
    0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u,
    0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu,
    0x026d930au, 0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
    0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u, 0x92d28e9bu,
    0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u,
    0x18b74777u, 0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu,
    0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u, 0xa00ae278u,
    0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u,
    0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u,
    0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u,
    0x5d681b02u, 0x2a6f2b94u, 0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu,
    0x2d02ef8du,
};

static uint32_t crc32_update(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t c = crc ^ 0xffffffffu;
    size_t i;

    for (i = 0; i < n; i++)
        c = crc_table[(c ^ b[i]) & 0xffu] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xffu);
    p[1] = (unsigned char)((v >> 8) & 0xffu);
    p[2] = (unsigned char)((v >> 16) & 0xffu);
    p[3] = (unsigned char)((v >> 24) & 0xffu);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Reads up to @n bytes at @off: the count (short only at the end of the
 * file) or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    size_t got = 0;
    ssize_t r;

    while (got < n) {
        r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/*
 * Reads the length of the record at @off into @len: 1 when the whole record
 * can be in the file, 0 when it cannot (@why says why), -errno.
 */
static int record_len(const struct bm_spool *s, uint64_t off, uint32_t *len,
                      const char **why)
{
    unsigned char hdr[SPOOL_HDR];
    ssize_t r;

    if (s->size - off < SPOOL_HDR) {
        *why = "short length";
        return 0;
    }
    r = pread_full(s->fd, hdr, sizeof(hdr), off);
    if (r < 0)
        return (int)r;
    if ((size_t)r < sizeof(hdr)) {
        *why = "short length";
        return 0;
    }
    *len = get_le32(hdr);
    if (*len > BM_SPOOL_RECORD_MAX) {
        *why = "length over the record limit";
        return 0;
    }
    if (s->size - off - SPOOL_HDR < (uint64_t)*len + SPOOL_TRAILER) {
        *why = "short body";
        return 0;
    }
    return 1;
}

/*
 * Reads the body of @len bytes of the record at @off through @buf of
 * @bufsz bytes (the whole body lands in @buf when it fits) and checks its
 * CRC: 1 when good, 0 when not (@why says why), -errno.
 */
static int record_body(const struct bm_spool *s, uint64_t off, uint32_t len,
                       char *buf, size_t bufsz, const char **why)
{
    unsigned char trailer[SPOOL_TRAILER];
    uint64_t pos = off + SPOOL_HDR;
    uint32_t crc = 0;
    size_t left = len, chunk;
    ssize_t r;

    while (left > 0) {
        chunk = left < bufsz ? left : bufsz;
        r = pread_full(s->fd, buf, chunk, pos);
        if (r < 0)
            return (int)r;
        if ((size_t)r < chunk) {
            *why = "short body";
            return 0;
        }
        crc = crc32_update(crc, buf, chunk);
        pos += chunk;
        left -= chunk;
    }
    r = pread_full(s->fd, trailer, sizeof(trailer), pos);
    if (r < 0)
        return (int)r;
    if ((size_t)r < sizeof(trailer)) {
        *why = "short body";
        return 0;
    }
    if (get_le32(trailer) != crc) {
        *why = "bad CRC";
        return 0;
    }
    return 1;
}

/* Drops everything from @off on: one warning, then the file is cut there. */
static int cut_tail(struct bm_spool *s, uint64_t off, const char *why)
{
    uint64_t lost = s->size - off;

    BM_WARN("sink:spool",
            "%s: dropping the last %llu bytes, from offset %llu (%s): "
            "a record cut short by a crash, or corrupt",
            s->path, (unsigned long long)lost, (unsigned long long)off, why);
    s->dropped += lost;
    if (ftruncate(s->fd, (off_t)off) < 0)
        return -errno;
    s->size = off;
    return 0;
}

/* Counts the good records from the start and cuts off a bad tail. */
static int scan(struct bm_spool *s)
{
    const char *why = NULL;
    uint64_t off = 0;
    uint32_t len = 0;
    char *scratch;
    int rc = 0;

    scratch = malloc(SPOOL_SCAN_CHUNK);
    if (!scratch)
        return -ENOMEM;
    while (off < s->size) {
        rc = record_len(s, off, &len, &why);
        if (rc <= 0)
            break;
        rc = record_body(s, off, len, scratch, SPOOL_SCAN_CHUNK, &why);
        if (rc <= 0)
            break;
        off += SPOOL_OVERHEAD + (uint64_t)len;
        s->records++;
        rc = 0;
    }
    if (rc == 0 && off < s->size)
        rc = cut_tail(s, off, why);
    free(scratch);
    return rc;
}

int bm_spool_open(struct bm_spool *s, const char *path, uint64_t max_bytes)
{
    struct stat st;
    int rc;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->max_bytes = max_bytes;
    s->path = strdup(path);
    if (!s->path)
        return -ENOMEM;
    s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        rc = -errno;
        goto out_free_path;
    }
    if (fstat(s->fd, &st) < 0) {
        rc = -errno;
        goto out_close_fd;
    }
    s->size = (uint64_t)st.st_size;
    rc = scan(s);
    if (rc < 0)
        goto out_close_fd;
    s->unread = s->records;
    return 0;

out_close_fd:
    close(s->fd);
    s->fd = -1;
out_free_path:
    free(s->path);
    s->path = NULL;
    return rc;
}

void bm_spool_close(struct bm_spool *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->path);
    s->path = NULL;
}

int bm_spool_append(struct bm_spool *s, const void *data, size_t len)
{
    unsigned char hdr[SPOOL_HDR], trailer[SPOOL_TRAILER];
    struct iovec iov[3];
    uint64_t total;
    ssize_t n;
    int rc;

    if (len > BM_SPOOL_RECORD_MAX)
        return -ENOSPC;
    total = SPOOL_OVERHEAD + (uint64_t)len;
    if (s->size + total > s->max_bytes)
        return -ENOSPC;
    put_le32(hdr, (uint32_t)len);
    put_le32(trailer, crc32_update(0, data, len));
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = (void *)data;
    iov[1].iov_len = len;
    iov[2].iov_base = trailer;
    iov[2].iov_len = sizeof(trailer);
    do {
        n = writev(s->fd, iov, 3);
    } while (n < 0 && errno == EINTR);
    if (n >= 0 && (uint64_t)n == total) {
        s->size += total;
        s->records++;
        s->unread++;
        return 0;
    }
    /* A short write sets no errno; it means the disk or a limit filled up
     * mid-record. */
    rc = n < 0 ? -errno : -EIO;
    if (ftruncate(s->fd, (off_t)s->size) < 0)
        BM_ERR("sink:spool", "%s: cannot cut a failed append back: %s", s->path,
               strerror(errno));
    return rc;
}

/* The record at the read offset is bad although opening checked it, so the
 * file changed under us: the same rule applies, it and the rest are dropped. */
static int drop_unread(struct bm_spool *s, const char *why)
{
    s->records -= s->unread;
    s->unread = 0;
    return cut_tail(s, s->read_off, why);
}

int bm_spool_read(struct bm_spool *s, char **data, size_t *len)
{
    const char *why = NULL;
    char *buf = NULL;
    uint32_t n = 0;
    int rc;

    if (s->read_off >= s->size)
        return 0;
    rc = record_len(s, s->read_off, &n, &why);
    if (rc > 0) {
        buf = malloc(n ? n : 1);
        if (!buf)
            return -ENOMEM;
        rc = record_body(s, s->read_off, n, buf, n, &why);
        if (rc <= 0)
            free(buf);
    }
    if (rc < 0)
        return rc;
    if (rc == 0) {
        rc = drop_unread(s, why);
        return rc < 0 ? rc : 0;
    }
    s->read_off += SPOOL_OVERHEAD + (uint64_t)n;
    if (s->unread > 0)
        s->unread--;
    *data = buf;
    *len = n;
    return 1;
}

int bm_spool_truncate(struct bm_spool *s)
{
    if (ftruncate(s->fd, 0) < 0)
        return -errno;
    s->size = 0;
    s->read_off = 0;
    s->records = 0;
    s->unread = 0;
    return 0;
}

int bm_spool_sync(struct bm_spool *s)
{
    if (fsync(s->fd) < 0)
        return -errno;
    return 0;
}

bool bm_spool_is_empty(const struct bm_spool *s)
{
    return s->records == 0;
}
