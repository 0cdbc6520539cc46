/**
 * @file tzif.h
 * @brief Time zones from the system's tz database (TZif files, RFC 8536),
 *        read without the C library's process-wide TZ state.
 *
 * localtime_r() and mktime() read the zone from the environment (TZ), which
 * one thread cannot change for itself: a request's zone is read from its
 * TZif file instead, into a value the request owns.
 */
#ifndef KG_TZIF_H
#define KG_TZIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A zone's offsets: before the first transition, and after each. */
struct kg_tz {
  size_t n;         /**< transitions */
  int64_t *at;      /**< transition instants, Unix seconds, increasing */
  int32_t *offset;  /**< UTC offset in seconds from at[i] on */
  int32_t offset0;  /**< UTC offset before at[0] (or always, when n is 0) */
  bool rules_after; /**< the footer has DST rules for times after at[n-1] */
};

/**
 * Parses a TZif file (version 1, 2, 3 or 4).
 * @param data, len the file's bytes
 * @param[out] tz receives the zone (release with kg_tz_free()); zeroed on failure
 * @return NULL on success, else a static reason
 */
const char *kg_tz_parse(const unsigned char *data, size_t len, struct kg_tz *tz);

/**
 * Loads a zone by its IANA name ("Europe/Berlin") from $TZDIR or
 * /usr/share/zoneinfo.  Names are letters, digits, '_', '-', '+' and '/'
 * between parts (no "..", no leading '/'), at most 64 bytes.
 * @return NULL on success, else a static reason
 */
const char *kg_tz_load(const char *name, struct kg_tz *tz);

/** Releases what kg_tz_parse() or kg_tz_load() allocated; zeroes @a tz. */
void kg_tz_free(struct kg_tz *tz);

/** Outcome of kg_tz_local_to_utc(). */
enum kg_tz_result {
  KG_TZ_OK,
  KG_TZ_GAP,   /**< the local time does not exist (the clocks skipped it) */
  KG_TZ_BEYOND /**< after the file's last transition, where rules would apply */
};

/**
 * Converts a local wall-clock time to UTC.  A time that occurs twice (the
 * hour the clocks go back) is taken as the earlier instant: an older
 * request leaves the count window sooner, so the count errs low.
 * @param local_s the wall-clock time written as if it were UTC, seconds
 * @param[out] offset_s the UTC offset in force (UTC = local - offset)
 */
enum kg_tz_result kg_tz_local_to_utc(const struct kg_tz *tz, int64_t local_s, int32_t *offset_s);

#endif
