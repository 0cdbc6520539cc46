/**
 * @file events_time.c
 * @brief The times Windows tools write: RFC 3339, .NET's "/Date(ms)/",
 *        "YYYY-MM-DD hh:mm:ss[ zone]" (NXLog, Fluent Bit), and PowerShell's
 *        culture-dependent DateTime.ToString() under a stated culture.
 *
 * A time written without an offset is a wall-clock time of some zone, which
 * only the uploader knows: the ingest's time_zone or utc_offset parameter
 * says it (struct kg_events_time), and is used for those times only.
 */
#include <stdio.h>
#include <string.h>

#include "events_internal.h"
#include "timeutil.h"
#include "tzif.h"

/** The last millisecond of 9999-12-31, the end of RFC 3339's range (and kg_time_parse_rfc3339()'s). */
#define MAX_DOTNET_MS INT64_C(253402300799999)

/**
 * .NET's "/Date(ms)/", optionally "/Date(ms+hhmm)/"; the ms are UTC either
 * way.  Negative ms (before 1970) and ms past year 9999 are refused, as the
 * RFC 3339 parser refuses those years: the database could not store them.
 */
static bool
parse_dotnet_date(const char *s, size_t len, int64_t *unix_us)
{
  size_t pos = 6;
  int64_t ms;

  if (len < 9 || 0 != memcmp(s, "/Date(", 6) || 0 != memcmp(s + len - 2, ")/", 2))
    return false;
  len -= 2;
  while (pos < len && s[pos] >= '0' && s[pos] <= '9')
    pos++;
  if (!kg_ev_parse_decimal(s + 6, pos - 6, MAX_DOTNET_MS, &ms))
    return false;
  if (pos < len) {
    int64_t offset;

    if (('+' != s[pos] && '-' != s[pos]) || 5 != len - pos
        || !kg_ev_parse_decimal(s + pos + 1, 4, 2359, &offset))
      return false;
  }
  *unix_us = ms * 1000;
  return true;
}

/**
 * Reads a wall-clock time, written as RFC 3339 without its offset in
 * @a buf (n bytes, room for 6 more), in the stated zone.
 */
static enum kg_ev_time
local_time(char *buf, size_t n, const struct kg_events_time *zone, int64_t *unix_us)
{
  int64_t local_us;
  int32_t offset = zone->offset_s;

  buf[n++] = 'Z';
  if (!kg_time_parse_rfc3339(buf, n, &local_us))
    return KG_EV_TIME_BAD;
  if (NULL != zone->tz) {
    /* floor division: the fraction stays with the local second */
    int64_t s = (local_us >= 0) ? local_us / 1000000 : -((-local_us + 999999) / 1000000);

    switch (kg_tz_local_to_utc(zone->tz, s, &offset)) {
      case KG_TZ_OK:
        break;
      case KG_TZ_GAP:
        return KG_EV_TIME_GAP;
      default:
        return KG_EV_TIME_BEYOND;
    }
  }
  *unix_us = local_us - (int64_t) offset * 1000000;
  return KG_EV_TIME_OK;
}

/** "YYYY-MM-DD hh:mm:ss[.f][ ][zone]", rewritten as RFC 3339. */
static enum kg_ev_time
parse_spaced(const char *s, size_t len, const struct kg_events_time *zone, bool naive_utc,
             int64_t *unix_us)
{
  char buf[64];
  size_t n;
  size_t pos = 19;

  if (len < 19 || len > 48 || ' ' != s[10])
    return KG_EV_TIME_BAD;
  memcpy(buf, s, 19);
  buf[10] = 'T';
  n = 19;
  while (pos < len && ('.' == s[pos] || (s[pos] >= '0' && s[pos] <= '9')))
    buf[n++] = s[pos++];
  if (pos < len && ' ' == s[pos])
    pos++;
  if (pos == len) {
    if (NULL != zone && zone->given)
      return local_time(buf, n, zone, unix_us);
    if (!naive_utc)
      return KG_EV_TIME_NO_ZONE;
    buf[n++] = 'Z';
  } else if (5 == len - pos && ('+' == s[pos] || '-' == s[pos])) {
    memcpy(buf + n, s + pos, 3);
    buf[n + 3] = ':';
    memcpy(buf + n + 4, s + pos + 3, 2);
    n += 6;
  } else {
    memcpy(buf + n, s + pos, len - pos);
    n += len - pos;
  }
  return kg_time_parse_rfc3339(buf, n, unix_us) ? KG_EV_TIME_OK : KG_EV_TIME_BAD;
}

/** Reads 1 or 2 (@a min 1) or exactly @a min digits up to @a stop. @return the value or -1 */
static int
digits(const char *s, size_t len, size_t *pos, size_t min, size_t max)
{
  size_t start = *pos;
  int v = 0;

  while (*pos < len && *pos - start < max && s[*pos] >= '0' && s[*pos] <= '9')
    v = v * 10 + (s[(*pos)++] - '0');
  return (*pos - start >= min) ? v : -1;
}

/** @return true when s[*pos] is @a c (and moves past it) */
static bool
expect_char(const char *s, size_t len, size_t *pos, char c)
{
  if (*pos >= len || s[*pos] != c)
    return false;
  (*pos)++;
  return true;
}

/**
 * PowerShell's DateTime.ToString() (Export-Csv without Select-Object): en-US
 * "M/d/yyyy h:mm:ss AM" or the invariant culture's "MM/dd/yyyy HH:mm:ss",
 * written into @a buf as RFC 3339 without an offset.
 * @return the bytes written, or 0 when @a s is not that culture's form
 */
static size_t
parse_culture(const char *s, size_t len, enum kg_events_culture culture, char buf[32])
{
  bool us = KG_CULTURE_EN_US == culture;
  size_t pos = 0;
  int mo = digits(s, len, &pos, us ? 1 : 2, 2);
  int d = (expect_char(s, len, &pos, '/')) ? digits(s, len, &pos, us ? 1 : 2, 2) : -1;
  int y = (d >= 0 && expect_char(s, len, &pos, '/')) ? digits(s, len, &pos, 4, 4) : -1;
  int h = (y >= 0 && expect_char(s, len, &pos, ' ')) ? digits(s, len, &pos, us ? 1 : 2, 2) : -1;
  int mi = (h >= 0 && expect_char(s, len, &pos, ':')) ? digits(s, len, &pos, 2, 2) : -1;
  int sec = (mi >= 0 && expect_char(s, len, &pos, ':')) ? digits(s, len, &pos, 2, 2) : -1;

  if (sec < 0)
    return 0;
  if (us) {
    bool pm;

    if (len - pos != 3 || ' ' != s[pos] || 'M' != s[pos + 2] || h < 1 || h > 12)
      return 0;
    if ('A' != s[pos + 1] && 'P' != s[pos + 1])
      return 0;
    pm = 'P' == s[pos + 1];
    h = (12 == h) ? (pm ? 12 : 0) : (pm ? h + 12 : h);
  } else if (pos != len)
    return 0;
  return (size_t) snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, sec);
}

/** @return true when @a s looks like a culture's date ("12/1/2026 10:14:03 AM") */
static bool
looks_like_culture(const char *s, size_t len)
{
  return len >= 10 && NULL != memchr(s, '/', len) && NULL != memchr(s, ':', len) && '/' != s[0];
}

enum kg_ev_time
kg_ev_parse_time(const char *s, size_t len, const struct kg_events_time *zone, bool naive_utc,
                 int64_t *unix_us)
{
  char buf[40];
  size_t n;
  enum kg_events_culture culture = (NULL == zone) ? KG_CULTURE_NONE : zone->culture;

  kg_ev_trim(&s, &len);
  if (kg_time_parse_rfc3339(s, len, unix_us) || parse_dotnet_date(s, len, unix_us))
    return KG_EV_TIME_OK;
  if (len >= 19 && '-' == s[4] && ' ' == s[10])
    return parse_spaced(s, len, zone, naive_utc, unix_us);
  if (!looks_like_culture(s, len))
    return KG_EV_TIME_BAD;
  if (KG_CULTURE_NONE == culture)
    return KG_EV_TIME_CULTURE;
  n = parse_culture(s, len, culture, buf);
  if (0 == n || n > 19)
    return KG_EV_TIME_BAD;
  if (!zone->given)
    return KG_EV_TIME_NO_ZONE;
  return local_time(buf, n, zone, unix_us);
}

const char *
kg_ev_time_error(enum kg_ev_time r, const char *field, const char *bad, char *errbuf,
                 size_t errbuf_len)
{
  /* clang-format off */
  static const char *const why[] = {
    [KG_EV_TIME_NO_ZONE] = "a local time without an offset: say its zone with the query parameter"
                           " time_zone (e.g. Europe/Berlin) or utc_offset (e.g. +01:00)",
    [KG_EV_TIME_CULTURE] = "a culture's date (PowerShell's ToString()): say the culture with the"
                           " query parameter culture (en-US or invariant) and the zone with"
                           " time_zone or utc_offset",
    [KG_EV_TIME_GAP] = "this local time does not exist in time_zone (the clocks skipped it)",
    [KG_EV_TIME_BEYOND] = "time_zone: the zone file has no transitions this late (a slim TZif:"
                          " use utc_offset)",
  };
  /* clang-format on */

  if (KG_EV_TIME_BAD == r || KG_EV_TIME_OK == r || (size_t) r >= sizeof why / sizeof why[0])
    return bad;
  snprintf(errbuf, errbuf_len, "%s: %s", field, why[r]);
  return errbuf;
}
