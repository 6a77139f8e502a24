/*
 * main.c - brandmond's command line: parse the flags, pick the mode, run it.
 *
 * Modes, by flag:
 *   --rules PATH... --check              validate rule packs
 *   --rules PATH... --test               run the packs' embedded tests
 *   --rules PATH... --replay FILE|-      decide a file of posts offline
 *   --top [--redis URL] [--once]         watch the counters and alerts live
 * Only main() calls exit(); exit codes follow sysexits(3).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <curl/curl.h>

#include "brandmon/buf.h"
#include "brandmon/config.h"
#include "brandmon/daemon.h"
#include "brandmon/diag.h"
#include "brandmon/engine.h"
#include "brandmon/log.h"
#include "brandmon/pack.h"
#include "brandmon/replay.h"
#include "brandmon/ruletest.h"
#include "brandmon/source.h"
#include "brandmon/top.h"

enum mode {
    MODE_NONE,
    MODE_CHECK,
    MODE_TEST,
    MODE_REPLAY,
    MODE_DAEMON,
    MODE_TOP,
};

struct options {
    enum mode mode;
    const char *config; /* -c: the daemon's configuration */
    const char **rules; /* owned array; strings borrowed from argv */
    size_t nrules;
    const char *replay;
    const char *format;
    const char *source;
    const char *data_dir;
    size_t max_line;
    struct bm_field_map map;
    struct bm_top_opts top; /* --top; strings borrowed from argv */
    bool top_flags;         /* a --top option was given */
};

enum {
    OPT_RULES = 256,
    OPT_REPLAY,
    OPT_FORMAT,
    OPT_FIELD,
    OPT_HTML,
    OPT_SOURCE,
    OPT_TEST,
    OPT_CHECK,
    OPT_DATA,
    OPT_MAX_LINE,
    OPT_LOG_LEVEL,
    OPT_HELP_CONFIG,
    OPT_TOP,
    OPT_REDIS,
    OPT_PREFIX,
    OPT_BRANDS,
    OPT_INTERVAL,
    OPT_ONCE,
};

static const struct option long_opts[] = {
    { "rules", required_argument, NULL, OPT_RULES },
    { "replay", required_argument, NULL, OPT_REPLAY },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "field", required_argument, NULL, OPT_FIELD },
    { "html", no_argument, NULL, OPT_HTML },
    { "source", required_argument, NULL, OPT_SOURCE },
    { "test", no_argument, NULL, OPT_TEST },
    { "check", no_argument, NULL, OPT_CHECK },
    { "data", required_argument, NULL, OPT_DATA },
    { "max-line", required_argument, NULL, OPT_MAX_LINE },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "config", required_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },
    { "help-config", no_argument, NULL, OPT_HELP_CONFIG },
    { "top", no_argument, NULL, OPT_TOP },
    { "redis", required_argument, NULL, OPT_REDIS },
    { "prefix", required_argument, NULL, OPT_PREFIX },
    { "brands", required_argument, NULL, OPT_BRANDS },
    { "interval", required_argument, NULL, OPT_INTERVAL },
    { "once", no_argument, NULL, OPT_ONCE },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
    const struct bm_source_ops *const *ops = bm_source_ops_all();

    fprintf(out,
            "Usage: brandmond -c CONFIG [--check]\n"
            "       brandmond --rules PATH... --check\n"
            "       brandmond --rules PATH... --test\n"
            "       brandmond --rules PATH... --replay FILE|- [--format F]\n"
            "       brandmond --top [--redis URL] [--prefix P] [--brands "
            "A,B]\n"
            "                       [--interval S] [--once]\n"
            "\n"
            "brandmond listens to social-media streams for brand mentions "
            "and decides,\nfor every post, which brands it names, how the "
            "author feels about each,\nwhich intents it shows and which "
            "rules fire.\n"
            "\n"
            "Modes:\n"
            "  -c, --config FILE  run the daemon on FILE (foreground, for "
            "systemd);\n"
            "                     with --check: validate FILE and its rule "
            "packs and exit\n"
            "  --check            validate the rule packs and exit\n"
            "  --test             run the tests embedded in the packs; exit "
            "1 on failure\n"
            "  --replay FILE|-    decide every post in FILE (one JSON "
            "message per line,\n"
            "                     '-' for stdin) and print one JSON "
            "decision per post\n"
            "  --top              watch mentions, sentiment and alerts "
            "live from Redis;\n"
            "                     q or Ctrl-C quits\n"
            "\n"
            "Options:\n"
            "  --rules PATH...    rule pack files or folders of packs "
            "(*.yaml, *.yml);\n"
            "                     repeat the flag or list several paths\n"
            "  --format F         message format for --replay (default "
            "x):\n");
    for (; *ops; ops++)
        if ((*ops)->field_map)
            fprintf(out, "                       %-10s %s\n", (*ops)->name,
                    (*ops)->description);
    fprintf(out,
            "  --field NAME=PTR   generic format: JSON pointer for a post "
            "field\n"
            "                     (id text author followers lang url "
            "created_at reply repost)\n"
            "  --html             generic format: the text is HTML\n"
            "  --source NAME      source name put on replayed posts "
            "(default: the format)\n"
            "  --max-line BYTES   longest line --replay accepts (default "
            "%u)\n"
            "  --data DIR         folder of the sentiment lexicon and "
            "intents\n"
            "                     (default %s)\n"
            "  --redis URL        --top: redis://HOST[:PORT][/DB] or "
            "unix:///PATH\n"
            "                     (default redis://127.0.0.1:6379/0)\n"
            "  --prefix P         --top: the key prefix (default "
            "brandmon:)\n"
            "  --brands A,B       --top: only these brands (default: every "
            "brand counted)\n"
            "  --interval S       --top: seconds between refreshes "
            "(default 2)\n"
            "  --once             --top: print one plain frame and exit\n"
            "  --log-level L      error, warning, notice, info, debug\n"
            "  -h, --help         this text\n"
            "  --help-config      every configuration key, its default "
            "and meaning\n"
            "  -V, --version      the version\n"
            "\n"
            "Decisions, rule language and operations: docs/ and "
            "brandmond-rules(5).\n",
            BM_REPLAY_MAX_LINE_DEFAULT, bm_ruleset_default_data_dir());
}

static int set_mode(struct options *o, enum mode m)
{
    if (o->mode != MODE_NONE && o->mode != m) {
        fprintf(stderr, "brandmond: choose one of --check, --test, "
                        "--replay, --top\n");
        return -EINVAL;
    }
    o->mode = m;
    return 0;
}

static int add_field(struct options *o, const char *arg)
{
    const char *eq = strchr(arg, '=');

    for (int i = 0; eq && i < BM_FIELD_COUNT; i++) {
        size_t n = strlen(bm_field_names[i]);

        if ((size_t)(eq - arg) == n &&
            strncmp(arg, bm_field_names[i], n) == 0) {
            o->map.ptr[i] = eq + 1;
            return 0;
        }
    }
    fprintf(stderr, "brandmond: --field takes NAME=/json/pointer with NAME "
                    "one of id, text, author, followers, lang, url, "
                    "created_at, reply, repost\n");
    return -EINVAL;
}

static int add_rules(struct options *o, const char *path)
{
    const char **nr = realloc(o->rules, (o->nrules + 1) * sizeof(*nr));

    if (!nr)
        return -ENOMEM;
    o->rules = nr;
    o->rules[o->nrules++] = path;
    return 0;
}

/* --interval SECONDS: 0.1 to 3600, fractions allowed. */
static int parse_interval(struct options *o, const char *arg)
{
    char *end;
    double s;

    errno = 0;
    s = strtod(arg, &end);
    if (errno || end == arg || *end || !(s >= 0.1 && s <= 3600)) {
        fprintf(stderr, "brandmond: --interval takes seconds, from 0.1 to "
                        "3600\n");
        return -EINVAL;
    }
    o->top.interval_ms = (unsigned)(s * 1000 + 0.5);
    o->top_flags = true;
    return 0;
}

/* 0 to go on, or an exit code (with -1 meaning exit 0: --help). */
static int parse_args(int argc, char **argv, struct options *o)
{
    enum bm_log_level level;
    char *end;
    int c;

    while ((c = getopt_long(argc, argv, "c:hV", long_opts, NULL)) != -1) {
        int err = 0;

        switch (c) {
        case OPT_RULES:
            err = add_rules(o, optarg);
            break;
        case OPT_REPLAY:
            o->replay = optarg;
            err = set_mode(o, MODE_REPLAY);
            break;
        case OPT_FORMAT:
            o->format = optarg;
            break;
        case OPT_FIELD:
            err = add_field(o, optarg);
            break;
        case OPT_HTML:
            o->map.html = 1;
            break;
        case OPT_SOURCE:
            o->source = optarg;
            break;
        case OPT_TEST:
            err = set_mode(o, MODE_TEST);
            break;
        case OPT_CHECK:
            err = set_mode(o, MODE_CHECK);
            break;
        case OPT_DATA:
            o->data_dir = optarg;
            break;
        case OPT_MAX_LINE:
            errno = 0;
            o->max_line = strtoul(optarg, &end, 10);
            if (errno || *end || o->max_line < 64) {
                fprintf(stderr, "brandmond: --max-line takes a number of "
                                "bytes, at least 64\n");
                err = -EINVAL;
            }
            break;
        case OPT_LOG_LEVEL:
            err = bm_log_parse_level(optarg, &level);
            if (err)
                fprintf(stderr, "brandmond: unknown log level '%s'\n", optarg);
            else
                bm_log_set_level(level);
            break;
        case OPT_TOP:
            err = set_mode(o, MODE_TOP);
            break;
        case OPT_REDIS:
            o->top.redis_url = optarg;
            o->top_flags = true;
            break;
        case OPT_PREFIX:
            o->top.prefix = optarg;
            o->top_flags = true;
            break;
        case OPT_BRANDS:
            o->top.brands = optarg;
            o->top_flags = true;
            break;
        case OPT_INTERVAL:
            err = parse_interval(o, optarg);
            break;
        case OPT_ONCE:
            o->top.once = true;
            o->top_flags = true;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case OPT_HELP_CONFIG:
            bm_config_print_reference(stdout);
            return -1;
        case 'V':
            printf("brandmond %s\n", BM_VERSION);
            return -1;
        default:
            fprintf(stderr, "Try 'brandmond --help'.\n");
            return EX_USAGE;
        }
        if (err)
            return EX_USAGE;
    }
    /* Paths after the flags belong to --rules: "--rules a.yaml b.yaml". */
    for (; optind < argc; optind++)
        if (add_rules(o, argv[optind]))
            return EX_OSERR;
    if (o->top_flags && o->mode != MODE_TOP) {
        fprintf(stderr, "brandmond: --redis, --prefix, --brands, --interval "
                        "and --once go with --top\n");
        return EX_USAGE;
    }
    if (o->config) {
        if (o->nrules || (o->mode != MODE_NONE && o->mode != MODE_CHECK)) {
            fprintf(stderr, "brandmond: -c runs the daemon (or checks it "
                            "with --check); the config names the rules\n");
            return EX_USAGE;
        }
        if (o->mode == MODE_NONE)
            o->mode = MODE_DAEMON;
        return 0;
    }
    if (o->mode == MODE_TOP) {
        if (o->nrules) {
            fprintf(stderr, "brandmond: --top reads Redis and takes no "
                            "rule packs\n");
            return EX_USAGE;
        }
        return 0;
    }
    if (o->mode == MODE_NONE) {
        fprintf(stderr, "brandmond: say what to do: -c CONFIG, --check, "
                        "--test, --replay or --top (see --help)\n");
        return EX_USAGE;
    }
    if (o->nrules == 0) {
        fprintf(stderr, "brandmond: --rules PATH is needed\n");
        return EX_USAGE;
    }
    return 0;
}

struct printer {
    struct bm_buf line;
    FILE *out;
};

static int print_decision_cb(const struct bm_decision *d, void *arg)
{
    struct printer *p = arg;

    bm_buf_reset(&p->line);
    if (bm_decision_write_json(d, &p->line) || bm_buf_putc(&p->line, '\n'))
        return -ENOMEM;
    if (fwrite(p->line.data, 1, p->line.len, p->out) != p->line.len)
        return -EIO;
    return 0;
}

static int run_replay(const struct options *o, const struct bm_ruleset *rs)
{
    const char *format = o->format ? o->format : "x";
    struct bm_replay_opts ro = {
        .ops = bm_source_format_find(format),
        .map = &o->map,
        .source = o->source ? o->source : format,
        .max_line = o->max_line,
        .rules = rs,
    };
    struct printer pr = { BM_BUF_INIT, stdout };
    struct bm_replay_stats st;
    struct bm_engine *e;
    FILE *in;
    int err, code = EX_OK;

    if (!ro.ops) {
        fprintf(stderr, "brandmond: unknown --format '%s' (see --help)\n",
                format);
        return EX_USAGE;
    }
    in = strcmp(o->replay, "-") == 0 ? stdin : fopen(o->replay, "rb");
    if (!in) {
        fprintf(stderr, "brandmond: %s: %s\n", o->replay, strerror(errno));
        return EX_NOINPUT;
    }
    e = bm_engine_new(rs);
    if (!e) {
        code = EX_OSERR;
        goto out_close;
    }
    err = bm_replay_stream(in, &ro, e, print_decision_cb, &pr, &st);
    if (fflush(stdout) != 0 && !err)
        err = -EIO;
    bm_replay_summary(&st, stderr);
    if (err) {
        fprintf(stderr, "brandmond: replay stopped: %s\n", strerror(-err));
        code = err == -EIO ? EX_IOERR : EX_OSERR;
    }
    bm_engine_free(e);
    bm_buf_release(&pr.line);
out_close:
    if (in != stdin)
        fclose(in);
    return code;
}

static int run_tests(const struct bm_ruleset *rs)
{
    struct bm_ruletest_result res;

    if (bm_ruletest_run(rs, stdout, &res))
        return EX_OSERR;
    printf("%u passed, %u failed\n", res.passed, res.failed);
    return res.failed ? 1 : EX_OK;
}

/* The daemon, or with --check its validation (like nginx -t). */
static int run_daemon(const struct options *o)
{
    char msg[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 32];
    struct bm_diag diag = { .line = 0 };
    struct bm_daemon *d;
    int code = EX_OK;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "brandmond: cannot initialise libcurl\n");
        return EX_SOFTWARE;
    }
    if (o->mode == MODE_CHECK) {
        if (bm_daemon_check(o->config, msg, sizeof(msg), &diag) == 0) {
            printf("%s\n", msg);
        } else {
            bm_diag_format(&diag, msg, sizeof(msg));
            fprintf(stderr, "%s\n", msg);
            code = EX_CONFIG;
        }
        curl_global_cleanup();
        return code;
    }
    d = bm_daemon_new(o->config, &diag);
    if (!d) {
        bm_diag_format(&diag, msg, sizeof(msg));
        fprintf(stderr, "%s\n", msg);
        code = EX_CONFIG;
    } else if (bm_daemon_run(d) != 0) {
        code = EX_SOFTWARE;
    }
    bm_daemon_free(d);
    curl_global_cleanup();
    return code;
}

int main(int argc, char **argv)
{
    struct options o = { .mode = MODE_NONE };
    struct bm_diag diag = { .line = 0 };
    struct bm_ruleset *rs;
    char msg[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 32];
    int code = parse_args(argc, argv, &o);

    if (code) {
        free(o.rules);
        return code < 0 ? EX_OK : code;
    }
    if (o.config) {
        free(o.rules);
        return run_daemon(&o);
    }
    if (o.mode == MODE_TOP) {
        free(o.rules);
        return bm_top_run(&o.top);
    }
    rs = bm_ruleset_load(o.rules, o.nrules, o.data_dir, &diag);
    if (!rs) {
        bm_diag_format(&diag, msg, sizeof(msg));
        fprintf(stderr, "%s\n", msg);
        free(o.rules);
        return EX_CONFIG;
    }
    switch (o.mode) {
    case MODE_CHECK:
        printf("rules ok: %zu packs, %zu brands, %zu rules, %zu terms, %zu "
               "tests (hash %s)\n",
               bm_ruleset_packs(rs), bm_ruleset_brands(rs),
               bm_ruleset_rules(rs), bm_ruleset_terms(rs), bm_ruleset_tests(rs),
               bm_ruleset_hash(rs));
        break;
    case MODE_TEST:
        code = run_tests(rs);
        break;
    case MODE_REPLAY:
        code = run_replay(&o, rs);
        break;
    case MODE_NONE:
    case MODE_DAEMON:
    case MODE_TOP:
        break;
    }
    bm_ruleset_free(rs);
    free(o.rules);
    return code;
}
