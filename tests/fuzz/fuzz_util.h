/*
 * fuzz_util.h - what the libFuzzer targets in tests/fuzz/ share: the entry
 * points' prototypes, an invariant check that crashes with a message, a
 * reader that takes parameters off the front of an input, and a file in
 * /dev/shm for the loaders that only read paths.
 *
 * Everything is static inline so that each target stays one .c file.
 */
#ifndef BRANDMON_FUZZ_UTIL_H
#define BRANDMON_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libFuzzer's entry points (declared here for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test does not hold: a crash libFuzzer
 * records, with the input that caused it. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The front of an input, read as parameters; the rest is the payload. */
struct fuzz_input {
    const uint8_t *p; /* borrowed: libFuzzer's input */
    size_t left;
};

static inline void fuzz_input_init(struct fuzz_input *in, const uint8_t *data,
                                   size_t size)
{
    in->p = data;
    in->left = size;
}

/* The next byte, or 0 once the input is used up. */
static inline uint8_t fuzz_input_byte(struct fuzz_input *in)
{
    uint8_t b;

    if (in->left == 0)
        return 0;
    b = *in->p;
    in->p++;
    in->left--;
    return b;
}

static inline uint16_t fuzz_input_u16(struct fuzz_input *in)
{
    uint16_t hi = fuzz_input_byte(in);

    return (uint16_t)(hi << 8 | fuzz_input_byte(in));
}

/*
 * Writes @size bytes to @path, replacing it. The loaders under test take a
 * path, and a file in /dev/shm (tmpfs) costs no disk I/O. 0 or -errno.
 */
static inline int fuzz_write_file(const char *path, const uint8_t *data,
                                  size_t size)
{
    size_t off = 0;
    ssize_t n;
    int fd, err = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (off < size) {
        n = write(fd, data + off, size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = -errno;
            break;
        }
        off += (size_t)n;
    }
    close(fd);
    return err;
}

/* The temporary file of this process (a crash leaves it behind, which is
 * harmless: the next run with the same pid overwrites it). */
static inline char *fuzz_tmp_buf(void)
{
    static char path[128];

    return path;
}

static inline void fuzz_tmp_remove(void)
{
    if (fuzz_tmp_buf()[0])
        unlink(fuzz_tmp_buf());
}

/* A path in /dev/shm unique to this process, "/dev/shm/brandmon-fuzz-<pid>-
 * @tag.yaml" (one per process: a process runs one target), removed at exit. */
static inline const char *fuzz_tmp_path(const char *tag)
{
    char *path = fuzz_tmp_buf();

    if (!path[0]) {
        snprintf(path, 128, "/dev/shm/brandmon-fuzz-%ld-%s.yaml",
                 (long)getpid(), tag);
        atexit(fuzz_tmp_remove);
    }
    return path;
}

#endif
