/*
 * time.c - ISO 8601 / RFC 3339 timestamps to and from ms since the epoch.
 *
 * Sources write times as "2025-03-14T09:00:03.412Z" or with a numeric
 * offset; this file turns them into milliseconds with its own calendar
 * arithmetic (proleptic Gregorian, no timegm(), no time zone database, no
 * locale), and formats milliseconds back as UTC. It parses only the
 * calendar-date form with a time of day; week dates, ordinal dates and
 * local times with named zones are rejected.
 */
#include "brandmon/time.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define MS_PER_DAY 86400000LL

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31 };

    return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/*
 * Days from 1970-01-01 to y-m-d. The year is counted from March, so that
 * the leap day falls at the end of a year; a 400-year cycle ("era") has
 * 146097 days. Floor division keeps dates before 1970 right.
 */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    if (m <= 2)
        y -= 1;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;                                   /* 0..399 */
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    /* 719468 days lie between 0000-03-01 and 1970-01-01. */
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil(). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153; /* month counted from March, 0..11 */
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

/* Reads exactly @n digits at *@s into @out and advances *@s. */
static bool digits(const char **s, int n, unsigned *out)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < n; i++) {
        char c = (*s)[i];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *s += n;
    *out = v;
    return true;
}

int bm_time_parse_iso8601(const char *s, int64_t *out_ms)
{
    unsigned year, mon, day, hh, mm, ss, oh = 0, om = 0, ms = 0;
    int64_t days, total;
    int sign = 0, scale;

    if (!s || !out_ms)
        return -EINVAL;
    if (!digits(&s, 4, &year) || *s++ != '-' || !digits(&s, 2, &mon) ||
        *s++ != '-' || !digits(&s, 2, &day))
        return -EINVAL;
    if (*s != 'T' && *s != 't' && *s != ' ')
        return -EINVAL;
    s++;
    if (!digits(&s, 2, &hh) || *s++ != ':' || !digits(&s, 2, &mm) ||
        *s++ != ':' || !digits(&s, 2, &ss))
        return -EINVAL;
    if (*s == '.' || *s == ',') {
        s++;
        if (*s < '0' || *s > '9')
            return -EINVAL;
        /* Milliseconds from the first three digits; finer ones are cut. */
        for (scale = 100; *s >= '0' && *s <= '9'; s++) {
            ms += (unsigned)(*s - '0') * (unsigned)scale;
            scale /= 10;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s == '+' ? 1 : -1;
        s++;
        if (!digits(&s, 2, &oh))
            return -EINVAL;
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &om))
                return -EINVAL;
        } else if (*s != '\0' && !digits(&s, 2, &om)) {
            return -EINVAL;
        }
    }
    /* No zone at all is read as UTC: lenient for generic feeds. */
    if (*s != '\0')
        return -EINVAL;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
        hh > 23 || mm > 59 || ss > 60 || oh > 23 || om > 59)
        return -EINVAL;
    days = days_from_civil(year, mon, day);
    /* A leap second (:60) counts as the first second of the next minute. */
    total = ((days * 24 + hh) * 60 + mm) * 60 + ss;
    total = total * 1000 + ms;
    total -= (int64_t)sign * ((int64_t)oh * 60 + om) * 60000;
    *out_ms = total;
    return 0;
}

void bm_time_format_iso8601(int64_t ms, char out[32])
{
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY, year;
    unsigned mon, day, sec;

    if (rem < 0) {
        rem += MS_PER_DAY;
        days -= 1;
    }
    civil_from_days(days, &year, &mon, &day);
    sec = (unsigned)(rem / 1000);
    snprintf(out, 32, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)year,
             mon, day, sec / 3600, sec / 60 % 60, sec % 60,
             (unsigned)(rem % 1000));
}

int64_t bm_time_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
