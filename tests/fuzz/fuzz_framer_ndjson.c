/*
 * fuzz_framer_ndjson.c - libFuzzer target: the NDJSON framer (framer.h) on
 * any bytes, cut into any pieces, under any ceiling. See fuzz_framer.h for
 * the input layout and the invariants checked.
 */
#include <stddef.h>
#include <stdint.h>

#include "brandmon/framer.h"

#include "fuzz_framer.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_framer(BM_FRAMER_NDJSON, data, size);
}
