/*
 * time.h - timestamps as the sources write them.
 */
#ifndef BRANDMON_TIME_H
#define BRANDMON_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Parses ISO 8601 / RFC 3339 in UTC or with an offset
 * ("2025-03-14T09:00:03.412Z", "2025-03-14T09:00:03+01:00",
 * "2025-03-14T09:00:03Z") into ms since the epoch. 0 or -EINVAL. */
int bm_time_parse_iso8601(const char *s, int64_t *out_ms);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes with the NUL) into @out. */
void bm_time_format_iso8601(int64_t ms, char out[32]);
/* Wall clock, ms since the epoch. */
int64_t bm_time_now_ms(void);

#endif
