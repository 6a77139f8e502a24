/*
 * bench_replay.c - end-to-end throughput of `brandmond --replay`.
 *
 * Not a ctest test: a program that prints figures next to their targets.
 * It generates (gen_corpus.c) a corpus of X filtered-stream messages, a
 * 1,000-brand pack (10,000 brand terms, 200 rules) and a 10-brand pack
 * (100 brand terms, the same 200 rules re-pointed), then measures in one
 * run:
 *   1. pack load and compile: `brandmond --check` on the big pack as a
 *      child, wall time over several runs (best and median);
 *   2. the floor: reading the corpus line by line and parsing each line
 *      with jansson in this process, doing nothing else;
 *   3. `brandmond --replay` over the corpus with the big pack, stdout to
 *      /dev/null: wall time and peak RSS of the child (wait4);
 *   4. the same with the small pack, to show that matching cost does not
 *      grow with the number of terms.
 * Steps 2 to 4 run --runs times, interleaved so that all three see the
 * same machine, and the fastest run of each counts. The replay figures
 * include the child's start-up and pack load; the rate without the load is
 * printed beside them. With --dir, a later run reuses the generated files
 * when the stamp (seed, sizes) matches; delete the folder after changing
 * the generator.
 *
 * It does not check decisions (the unit and integration tests do) and does
 * not fail when a target is missed unless --strict is given.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gen_corpus.h"

#ifndef BM_BINARY
#define BM_BINARY "brandmond"
#endif
#ifndef BM_RULES_DIR
#define BM_RULES_DIR "rules"
#endif

#define STAMP_FORMAT                                                           \
    "brandmon-bench v1 seed=%llu posts=%zu brands=%zu rules=%zu\n"

/* Targets from the issue. */
#define TARGET_REPLAY_RATIO 0.60 /* replay rate / parse-only rate */
#define TARGET_TERMS_RATIO  0.85 /* 10k-term rate / 100-term rate */
#define TARGET_RSS_MB       64.0
#define TARGET_LOAD_MS      200.0

extern char **environ;

struct options {
    struct bm_gen_opts gen;
    const char *dir;    /* borrowed: argv; NULL for a fresh temp dir */
    const char *binary; /* borrowed: argv or BM_BINARY */
    const char *data;   /* borrowed: argv or BM_RULES_DIR */
    int reps;           /* --check runs */
    int runs;           /* parse-only and replay runs */
    bool keep;
    bool gen_only;
    bool strict;
};

struct paths {
    char dir[PATH_MAX];
    char corpus[PATH_MAX];
    char pack_large[PATH_MAX]; /* a folder holding bench.yaml */
    char pack_small[PATH_MAX];
    char stamp[PATH_MAX];
    char out[PATH_MAX]; /* a child's stdout, when kept */
    char err[PATH_MAX]; /* a child's stderr */
};

struct child_result {
    double secs;   /* wall */
    double cpu;    /* user + system */
    double rss_mb; /* peak resident set, MiB */
    int status;    /* exit code, or 128 + signal */
};

static double now_secs(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double best(const double *v, int n)
{
    double b = v[0];

    for (int i = 1; i < n; i++)
        if (v[i] < b)
            b = v[i];
    return b;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: bench_replay [--posts N] [--dir D] [--binary PATH] "
            "[--data DIR]\n"
            "                    [--seed S] [--reps N] [--runs N] [--keep] "
            "[--gen-only]\n"
            "                    [--strict]\n"
            "\n"
            "  --posts N      posts in the corpus (default %u)\n"
            "  --dir D        generate into D, or reuse what an earlier run "
            "left there\n"
            "                 (default: a fresh temporary folder, removed "
            "afterwards)\n"
            "  --binary PATH  brandmond to run (default %s)\n"
            "  --data DIR     lexicon and intents folder (default %s)\n"
            "  --seed S       generator seed (default 1)\n"
            "  --reps N       runs of --check for the load time (default 7)\n"
            "  --runs N       runs of parse-only and of each replay, "
            "interleaved; the\n"
            "                 fastest counts (default 3)\n"
            "  --keep         keep the temporary folder\n"
            "  --gen-only     generate and stop\n"
            "  --strict       exit 1 when a target is missed\n",
            BM_GEN_POSTS_DEFAULT, BM_BINARY, BM_RULES_DIR);
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(s, &end, 10);
    if (errno || *end || end == s || *out == 0 || *out > max)
        return -EINVAL;
    return 0;
}

/* 0 to go on, 1 for --help, or an exit code above 1. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        { "posts", required_argument, NULL, 'p' },
        { "dir", required_argument, NULL, 'd' },
        { "binary", required_argument, NULL, 'b' },
        { "data", required_argument, NULL, 'D' },
        { "seed", required_argument, NULL, 's' },
        { "reps", required_argument, NULL, 'r' },
        { "runs", required_argument, NULL, 'R' },
        { "keep", no_argument, NULL, 'k' },
        { "gen-only", no_argument, NULL, 'g' },
        { "strict", no_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long v;
    int c, idx = 0;

    while ((c = getopt_long(argc, argv, "h", longs, &idx)) != -1) {
        int err = 0;

        switch (c) {
        case 'p':
            err = parse_count(optarg, 100000000ul, &v);
            o->gen.posts = v;
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 'b':
            o->binary = optarg;
            break;
        case 'D':
            o->data = optarg;
            break;
        case 's':
            err = parse_count(optarg, ULONG_MAX, &v);
            o->gen.seed = v;
            break;
        case 'r':
            err = parse_count(optarg, 1000, &v);
            o->reps = (int)v;
            break;
        case 'R':
            err = parse_count(optarg, 100, &v);
            o->runs = (int)v;
            break;
        case 'k':
            o->keep = true;
            break;
        case 'g':
            o->gen_only = true;
            break;
        case 'S':
            o->strict = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
        if (err) {
            fprintf(stderr, "bench_replay: bad value for --%s: '%s'\n",
                    longs[idx].name, optarg);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

static int set_paths(struct paths *p, const char *dir)
{
    int n = 0;

    n |= snprintf(p->dir, sizeof(p->dir), "%s", dir) >= (int)sizeof(p->dir);
    n |= snprintf(p->corpus, sizeof(p->corpus), "%s/corpus.ndjson", dir) >=
         (int)sizeof(p->corpus);
    n |= snprintf(p->pack_large, sizeof(p->pack_large), "%s/pack-1000", dir) >=
         (int)sizeof(p->pack_large);
    n |= snprintf(p->pack_small, sizeof(p->pack_small), "%s/pack-10", dir) >=
         (int)sizeof(p->pack_small);
    n |= snprintf(p->stamp, sizeof(p->stamp), "%s/stamp", dir) >=
         (int)sizeof(p->stamp);
    n |= snprintf(p->out, sizeof(p->out), "%s/child.out", dir) >=
         (int)sizeof(p->out);
    n |= snprintf(p->err, sizeof(p->err), "%s/child.err", dir) >=
         (int)sizeof(p->err);
    return n ? -ENAMETOOLONG : 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    return -errno;
}

static bool stamp_matches(const struct paths *p, const struct options *o)
{
    char want[160], have[160] = "";
    struct stat st;
    FILE *f = fopen(p->stamp, "r");
    size_t n;

    if (!f)
        return false;
    n = fread(have, 1, sizeof(have) - 1, f);
    have[n] = '\0';
    fclose(f);
    snprintf(want, sizeof(want), STAMP_FORMAT, (unsigned long long)o->gen.seed,
             o->gen.posts, o->gen.brands, o->gen.rules);
    return strcmp(want, have) == 0 && stat(p->corpus, &st) == 0;
}

static int write_stamp(const struct paths *p, const struct options *o)
{
    FILE *f = fopen(p->stamp, "w");
    int err = 0;

    if (!f)
        return -errno;
    if (fprintf(f, STAMP_FORMAT, (unsigned long long)o->gen.seed, o->gen.posts,
                o->gen.brands, o->gen.rules) < 0)
        err = -EIO;
    if (fclose(f) != 0 && !err)
        err = -errno;
    return err;
}

static int pack_file(char *out, size_t cap, const char *packdir)
{
    return snprintf(out, cap, "%s/bench.yaml", packdir) >= (int)cap
               ? -ENAMETOOLONG
               : 0;
}

/* Generates whatever @p's folder does not already hold for @o. */
static int prepare(const struct paths *p, const struct options *o)
{
    char file[PATH_MAX];
    uint64_t bytes = 0;
    double t0;
    int err;

    if (stamp_matches(p, o)) {
        printf("corpus   reusing %s\n", p->dir);
        return 0;
    }
    unlink(p->stamp);
    t0 = now_secs();
    err = make_dir(p->pack_large);
    if (!err)
        err = make_dir(p->pack_small);
    if (!err)
        err = pack_file(file, sizeof(file), p->pack_large);
    if (!err)
        err = bm_gen_write_pack(file, &o->gen, o->gen.brands);
    if (!err)
        err = pack_file(file, sizeof(file), p->pack_small);
    if (!err)
        err = bm_gen_write_pack(file, &o->gen,
                                o->gen.brands < BM_GEN_SMALL_BRANDS
                                    ? o->gen.brands
                                    : BM_GEN_SMALL_BRANDS);
    if (!err)
        err = bm_gen_write_corpus(p->corpus, &o->gen, &bytes);
    if (!err)
        err = write_stamp(p, o);
    if (err) {
        fprintf(stderr, "bench_replay: generating into %s: %s\n", p->dir,
                strerror(-err));
        return err;
    }
    printf("corpus   generated in %.1f s (seed %llu)\n", now_secs() - t0,
           (unsigned long long)o->gen.seed);
    return 0;
}

static void remove_generated(const struct paths *p)
{
    char file[PATH_MAX];

    unlink(p->corpus);
    unlink(p->stamp);
    unlink(p->out);
    unlink(p->err);
    if (!pack_file(file, sizeof(file), p->pack_large))
        unlink(file);
    if (!pack_file(file, sizeof(file), p->pack_small))
        unlink(file);
    rmdir(p->pack_large);
    rmdir(p->pack_small);
    rmdir(p->dir);
}

/*
 * Runs @argv with stdout to @out (NULL: /dev/null) and stderr to @err;
 * waits, and fills @res with the wall time, the peak RSS and the exit
 * status. 0, or a negative errno when it could not be started.
 */
static int run_child(char *const argv[], const char *out, const char *err,
                     struct child_result *res)
{
    posix_spawn_file_actions_t fa;
    struct rusage ru;
    pid_t pid;
    double t0;
    int status, rc;

    rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
                                              O_WRONLY | O_CREAT | O_TRUNC,
                                              0644);
    if (!rc)
        rc = posix_spawn_file_actions_addopen(
            &fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (rc)
        goto out_destroy;
    t0 = now_secs();
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    if (rc)
        goto out_destroy;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            rc = errno;
            goto out_destroy;
        }
    }
    res->secs = now_secs() - t0;
    res->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    res->rss_mb = (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
    res->status =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out_destroy:
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

/* Prints @path's lines starting with @prefix (all lines when NULL), each
 * after @indent; at most @max lines. */
static void print_file(const char *path, const char *prefix, const char *indent,
                       int max)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;

    if (!f)
        return;
    while (n < max && fgets(line, sizeof(line), f)) {
        if (prefix && strncmp(line, prefix, strlen(prefix)) != 0)
            continue;
        printf("%s%s", indent, line);
        if (!strchr(line, '\n'))
            putchar('\n');
        n++;
    }
    fclose(f);
}

static void child_failed(const char *what, const struct paths *p,
                         const struct child_result *r)
{
    fflush(stdout);
    fprintf(stderr, "bench_replay: %s exited with status %d; its stderr:\n",
            what, r->status);
    print_file(p->err, NULL, "  ", 40);
}

/* --check on @pack, @reps times; fills @secs and prints the counts. */
static int measure_load(const struct options *o, const struct paths *p,
                        const char *pack, int reps, double *secs)
{
    char *argv[] = {
        (char *)o->binary, (char *)"--rules", (char *)pack, (char *)"--data",
        (char *)o->data,   (char *)"--check", NULL
    };
    struct child_result r;

    for (int i = 0; i < reps; i++) {
        int err = run_child(argv, i == 0 ? p->out : NULL, p->err, &r);

        if (err) {
            fprintf(stderr, "bench_replay: cannot run %s: %s\n", o->binary,
                    strerror(-err));
            return err;
        }
        if (r.status != 0) {
            child_failed("brandmond --check", p, &r);
            return -EINVAL;
        }
        secs[i] = r.secs;
    }
    print_file(p->out, NULL, "", 1);
    return 0;
}

struct parse_result {
    double secs; /* wall */
    double cpu;  /* this process's CPU time during the pass */
    uint64_t lines;
    uint64_t bytes;
    uint64_t bad;
};

static double process_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the corpus line by line and parses each line with jansson. */
static int parse_only(const char *path, struct parse_result *res)
{
    static char iobuf[64 * 1024];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    double t0, c0;
    FILE *f;
    int err = 0;

    memset(res, 0, sizeof(*res));
    t0 = now_secs();
    c0 = process_cpu();
    f = fopen(path, "rb");
    if (!f)
        return -errno;
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *j;

        res->bytes += (uint64_t)n;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        res->lines++;
        j = json_loadb(line, (size_t)n, 0, &jerr);
        if (!j) {
            if (res->bad++ == 0)
                fprintf(stderr, "bench_replay: line %llu: %s\n",
                        (unsigned long long)res->lines, jerr.text);
            continue;
        }
        json_decref(j);
    }
    if (ferror(f))
        err = -EIO;
    res->secs = now_secs() - t0;
    res->cpu = process_cpu() - c0;
    free(line);
    fclose(f);
    return err;
}

/* Reads the file once so that every pass starts from the page cache. */
static int warm_cache(const char *path, uint64_t *bytes)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        return -errno;
    *bytes = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        *bytes += n;
    fclose(f);
    return 0;
}

/* One replay of the corpus with @pack; keeps the fastest run in @best_run
 * (and the largest peak RSS of all runs). @first: no run kept yet. */
static int replay_once(const struct options *o, const struct paths *p,
                       const char *pack, bool first,
                       struct child_result *best_run)
{
    char *argv[] = { (char *)o->binary, (char *)"--rules",
                     (char *)pack,      (char *)"--data",
                     (char *)o->data,   (char *)"--replay",
                     (char *)p->corpus, (char *)"--format",
                     (char *)"x",       NULL };
    struct child_result r;
    int err = run_child(argv, NULL, p->err, &r);

    if (err) {
        fprintf(stderr, "bench_replay: cannot run %s: %s\n", o->binary,
                strerror(-err));
        return err;
    }
    if (r.status != 0) {
        child_failed("brandmond --replay", p, &r);
        return -EINVAL;
    }
    if (first || r.rss_mb > best_run->rss_mb)
        best_run->rss_mb = r.rss_mb;
    if (first || r.secs < best_run->secs) {
        double rss = best_run->rss_mb;

        *best_run = r;
        best_run->rss_mb = rss;
    }
    return 0;
}

static const char *verdict(bool ok, int *missed)
{
    if (!ok)
        (*missed)++;
    return ok ? "ok" : "MISSED";
}

static void print_replay(const char *summary, const struct child_result *r,
                         double lines, double mb, double load_secs)
{
    printf("           %s", summary);
    printf("           wall %.2f s (cpu %.2f s): %.0f posts/s, %.1f MB/s\n",
           r->secs, r->cpu, lines / r->secs, mb / r->secs);
    printf("           without the pack load: %.0f posts/s\n",
           lines / (r->secs - load_secs));
}

/* The last "replay:" line of the child's stderr, kept for printing. */
static void keep_summary(const struct paths *p, char *out, size_t cap)
{
    FILE *f = fopen(p->err, "r");
    char line[512];

    snprintf(out, cap, "(no summary)\n");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "replay:", 7) == 0)
            snprintf(out, cap, "%s", line);
    fclose(f);
}

static int run(const struct options *o, const struct paths *p)
{
    double load[1000], load_best, load_median, mb, lines;
    double parse_rate, big_rate, small_rate, ratio, tratio;
    struct parse_result pr = { 0 }, prun;
    struct child_result big = { 0 }, small = { 0 };
    char big_sum[512], small_sum[512];
    uint64_t bytes = 0;
    int err, missed = 0;

    err = prepare(p, o);
    if (err || o->gen_only)
        return err ? 2 : 0;
    err = warm_cache(p->corpus, &bytes);
    if (err) {
        fprintf(stderr, "bench_replay: %s: %s\n", p->corpus, strerror(-err));
        return 2;
    }
    mb = (double)bytes / 1e6;
    printf("corpus   %s: %zu posts, %.1f MB, %.0f bytes/post\n", p->corpus,
           o->gen.posts, mb, (double)bytes / (double)o->gen.posts);
    printf("binary   %s\ndata     %s\n", o->binary, o->data);
    printf("runs     %d of parse-only and of each replay, interleaved; the "
           "fastest counts\n",
           o->runs);
    printf("packs    10 brands:   ");
    fflush(stdout);
    if (measure_load(o, p, p->pack_small, 1, load))
        return 2;
    printf("\n");

    /* 1. Load and compile. */
    printf("1. load+compile, 1000-brand pack (brandmond --check, %d runs)\n"
           "           ",
           o->reps);
    fflush(stdout);
    if (measure_load(o, p, p->pack_large, o->reps, load))
        return 2;
    load_best = best(load, o->reps) * 1e3;
    load_median = median(load, o->reps) * 1e3;
    printf("           best %.1f ms, median %.1f ms\n"
           "           target: median < %.0f ms .................. %s\n",
           load_best, load_median, TARGET_LOAD_MS,
           verdict(load_median < TARGET_LOAD_MS, &missed));

    /* 2-4, interleaved so that all three see the same machine. */
    for (int i = 0; i < o->runs; i++) {
        err = parse_only(p->corpus, &prun);
        if (err) {
            fprintf(stderr, "bench_replay: %s: %s\n", p->corpus,
                    strerror(-err));
            return 2;
        }
        if (i == 0 || prun.secs < pr.secs)
            pr = prun;
        if (replay_once(o, p, p->pack_large, i == 0, &big))
            return 2;
        if (i == 0)
            keep_summary(p, big_sum, sizeof(big_sum));
        if (replay_once(o, p, p->pack_small, i == 0, &small))
            return 2;
        if (i == 0)
            keep_summary(p, small_sum, sizeof(small_sum));
    }
    lines = (double)pr.lines;
    parse_rate = lines / pr.secs;
    big_rate = lines / big.secs;
    small_rate = lines / small.secs;
    ratio = big_rate / parse_rate;
    tratio = big_rate / small_rate;

    printf("2. parse only (getline + json_loadb + json_decref, in process)\n"
           "           wall %.2f s (cpu %.2f s): %.0f posts/s, %.1f MB/s%s\n",
           pr.secs, pr.cpu, parse_rate, (double)pr.bytes / 1e6 / pr.secs,
           pr.bad ? " (some lines did not parse!)" : "");

    printf("3. replay, 1000-brand pack (brandmond --replay, stdout to "
           "/dev/null)\n");
    print_replay(big_sum, &big, lines, mb, load_best / 1e3);
    printf("           peak RSS %.1f MB\n", big.rss_mb);
    printf("           replay / parse-only = %.0f%%\n", ratio * 100);
    printf("           target: replay >= %.0f%% of parse-only ....... %s\n",
           TARGET_REPLAY_RATIO * 100,
           verdict(ratio >= TARGET_REPLAY_RATIO, &missed));
    printf("           target: peak RSS < %.0f MB .................. %s\n",
           TARGET_RSS_MB, verdict(big.rss_mb < TARGET_RSS_MB, &missed));

    printf("4. replay, 10-brand pack (100 brand terms, the same 200 rules)\n");
    print_replay(small_sum, &small, lines, mb, load_best / 1e3);
    printf("           peak RSS %.1f MB\n", small.rss_mb);
    printf("           10,000-term rate / 100-term rate = %.2f\n", tratio);
    printf("           target: within %.0f%% (ratio >= %.2f) ......... %s\n",
           (1 - TARGET_TERMS_RATIO) * 100, TARGET_TERMS_RATIO,
           verdict(tratio >= TARGET_TERMS_RATIO, &missed));

    printf("\n%d of 4 targets missed\n", missed);
    return o->strict && missed ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct options o = {
        .binary = BM_BINARY,
        .data = BM_RULES_DIR,
        .reps = 7,
        .runs = 3,
    };
    struct paths p;
    char tmpl[PATH_MAX];
    bool temp = false;
    int code;

    /* Progress lines show up as they happen, also through a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    bm_gen_opts_default(&o.gen);
    code = parse_args(argc, argv, &o);
    if (code)
        return code == 1 ? 0 : code;
    if (!o.dir) {
        const char *tmp = getenv("TMPDIR");

        snprintf(tmpl, sizeof(tmpl), "%s/bm-bench.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl)) {
            fprintf(stderr, "bench_replay: mkdtemp %s: %s\n", tmpl,
                    strerror(errno));
            return 2;
        }
        o.dir = tmpl;
        temp = !o.keep && !o.gen_only;
    } else if (make_dir(o.dir)) {
        fprintf(stderr, "bench_replay: %s: %s\n", o.dir, strerror(errno));
        return 2;
    }
    if (set_paths(&p, o.dir)) {
        fprintf(stderr, "bench_replay: %s: path too long\n", o.dir);
        return 2;
    }
    printf("brandmon replay benchmark\n");
    code = run(&o, &p);
    unlink(p.out);
    unlink(p.err);
    if (temp)
        remove_generated(&p);
    else
        printf("files    kept in %s\n", p.dir);
    return code;
}
