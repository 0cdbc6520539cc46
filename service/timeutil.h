/**
 * @file timeutil.h
 * @brief RFC 3339 parsing and formatting in pure arithmetic (no timegm, TZ or locale).
 */
#ifndef KG_TIMEUTIL_H
#define KG_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Size of the buffer kg_time_format() writes, including the NUL. */
#define KG_TIME_BUFSZ 32

/**
 * Parses an RFC 3339 date-time into microseconds since the Unix epoch (UTC).
 *
 * Accepted: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", with 't' and 'z'
 * also in lowercase; the fraction has one or more digits and is truncated
 * (not rounded) to microseconds.  Years 1970..9999, months 1..12, days
 * 1..28/29/30/31 by month and leap year, hours 0..23, minutes 0..59,
 * seconds 0..59, offsets -23:59..+23:59.  A leap second (:60) is rejected:
 * Unix time cannot represent it and no KMS host logs one.  A space instead of
 * 'T', a missing offset and any trailing byte are rejected too.  The year
 * range applies to the written year: an offset may move the instant a few
 * hours before the epoch, and the result is then negative.
 * @param s the text, not NUL-terminated; may contain any bytes
 * @param len number of bytes in @a s
 * @param[out] unix_us receives the instant; untouched on failure
 * @return true on success, false if @a s is not such a date-time
 */
bool kg_time_parse_rfc3339(const char *s, size_t len, int64_t *unix_us);

/**
 * Formats Unix seconds as "2026-12-01T00:00:00Z" (UTC, second precision).
 * Values outside 0000-01-01T00:00:00Z..9999-12-31T23:59:59Z are clamped to
 * those bounds so that the output is always 20 characters.
 * @param unix_seconds the instant
 * @param[out] out receives the NUL-terminated text
 */
void kg_time_format(int64_t unix_seconds, char out[KG_TIME_BUFSZ]);

#endif
