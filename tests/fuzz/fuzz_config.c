/*
 * fuzz_config.c - libFuzzer target: the configuration loader (config.h) on
 * any file.
 *
 * bm_config_load() reads a path, so the input is written to a file in
 * /dev/shm first. A load either fails with a positioned message or gives a
 * config whose sources each have a name and a type that
 * bm_config_source_keys() knows, with no more headers than the table holds;
 * every source equals itself (the reload comparison). The loader reads no
 * secret and opens no other file, so nothing else is touched.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "brandmon/config.h"
#include "brandmon/diag.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmp_path("config");
    char line[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 64];
    struct bm_config *cfg;
    struct bm_diag d;

    FUZZ_CHECK(fuzz_write_file(path, data, size) == 0);
    memset(&d, 0, sizeof(d));
    cfg = bm_config_load(path, &d);
    if (!cfg) {
        FUZZ_CHECK(d.msg[0] != '\0');
        FUZZ_CHECK(memchr(d.msg, '\0', sizeof(d.msg)) != NULL);
        bm_diag_format(&d, line, sizeof(line));
        return 0;
    }
    FUZZ_CHECK(cfg->nsources <= BM_CONFIG_MAX_SOURCES);
    FUZZ_CHECK(cfg->nsources == 0 || cfg->sources != NULL);
    for (size_t i = 0; i < cfg->nsources; i++) {
        const struct bm_source_config *s = &cfg->sources[i];

        FUZZ_CHECK(s->name != NULL && s->type != NULL);
        FUZZ_CHECK(bm_config_source_keys(s->type) != NULL);
        FUZZ_CHECK(s->nheaders <= BM_CONFIG_MAX_HEADERS);
        FUZZ_CHECK(bm_source_config_equal(s, s));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(cfg->sources[j].name, s->name) != 0);
    }
    bm_config_free(cfg);
    return 0;
}
