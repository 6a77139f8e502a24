/*
 * fuzz_framer_sse.c - libFuzzer target: the Server-Sent Events framer
 * (framer.h) on any bytes, cut into any pieces, under any ceiling, with or
 * without a restored last event ID. See fuzz_framer.h for the input layout
 * and the invariants checked.
 */
#include <stddef.h>
#include <stdint.h>

#include "brandmon/framer.h"

#include "fuzz_framer.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_framer(BM_FRAMER_SSE, data, size);
}
