/**
 * @file timeutil.c
 * @brief RFC 3339 parsing and formatting with proleptic Gregorian arithmetic.
 *
 * The civil <-> day-number conversions follow Howard Hinnant's public-domain
 * algorithms: they need no tables, no libc time functions and no TZ, so the
 * results cannot depend on the process environment.
 */
#include "timeutil.h"

/** Unix seconds of 0000-01-01T00:00:00Z: the lower bound kg_time_format() clamps to. */
#define KG_TIME_MIN_SECONDS (-62167219200LL)
/** Unix seconds of 9999-12-31T23:59:59Z: the upper bound kg_time_format() clamps to. */
#define KG_TIME_MAX_SECONDS (253402300799LL)

/**
 * Days since 1970-01-01 of a proleptic Gregorian date.
 * Eras of 400 years repeat exactly, and starting the year in March puts the
 * leap day last, so the day of the year is a linear function of the month.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
  int64_t era;
  int64_t yoe;
  int64_t doy;
  int64_t doe;

  if (m <= 2)
    y--;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of days_from_civil(). */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
  int64_t era;
  int64_t doe;
  int64_t yoe;
  int64_t doy;
  int64_t mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int) (doy - (153 * mp + 2) / 5 + 1);
  *m = (int) (mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

static bool
is_leap(int64_t y)
{
  return (0 == y % 4 && 0 != y % 100) || 0 == y % 400;
}

/** Days in month @a m (1..12) of year @a y. */
static int
days_in_month(int64_t y, int m)
{
  static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

  if (2 == m && is_leap(y))
    return 29;
  return dim[m - 1];
}

/**
 * Reads exactly @a n decimal digits at @a s[*pos] (bounded by @a len).
 * @return false if fewer than @a n digits are there
 */
static bool
digits(const char *s, size_t len, size_t *pos, unsigned int n, int *value)
{
  int v = 0;

  if (len - *pos < n)
    return false;
  for (unsigned int i = 0; i < n; i++) {
    char c = s[*pos + i];

    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *value = v;
  return true;
}

static bool
expect(const char *s, size_t len, size_t *pos, char c1, char c2)
{
  if (*pos >= len || (s[*pos] != c1 && s[*pos] != c2))
    return false;
  (*pos)++;
  return true;
}

bool
kg_time_parse_rfc3339(const char *s, size_t len, int64_t *unix_us)
{
  size_t pos = 0;
  /* Initialised only to quiet gcc -O3, which cannot see that every path sets them. */
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t frac_us = 0;
  int64_t offset_s = 0;
  int64_t days;

  if (NULL == s || NULL == unix_us)
    return false;
  if (!digits(s, len, &pos, 4, &year) || !expect(s, len, &pos, '-', '-')
      || !digits(s, len, &pos, 2, &month) || !expect(s, len, &pos, '-', '-')
      || !digits(s, len, &pos, 2, &day) || !expect(s, len, &pos, 'T', 't')
      || !digits(s, len, &pos, 2, &hour) || !expect(s, len, &pos, ':', ':')
      || !digits(s, len, &pos, 2, &minute) || !expect(s, len, &pos, ':', ':')
      || !digits(s, len, &pos, 2, &second))
    return false;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)
      || hour > 23 || minute > 59 || second > 59)
    return false;
  if (pos < len && '.' == s[pos]) {
    unsigned int ndigits = 0;

    pos++;
    /* Windows writes 7 digits (100 ns ticks); digits past the 6th are
       dropped, not rounded, so that an instant never moves forward. */
    while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
      if (ndigits < 6)
        frac_us = frac_us * 10 + (s[pos] - '0');
      ndigits++;
      pos++;
    }
    if (0 == ndigits)
      return false;
    for (; ndigits < 6; ndigits++)
      frac_us *= 10;
  }
  if (pos < len && ('Z' == s[pos] || 'z' == s[pos])) {
    pos++;
  } else if (pos < len && ('+' == s[pos] || '-' == s[pos])) {
    int sign = ('-' == s[pos]) ? -1 : 1;
    int oh, om;

    pos++;
    if (!digits(s, len, &pos, 2, &oh) || !expect(s, len, &pos, ':', ':')
        || !digits(s, len, &pos, 2, &om) || oh > 23 || om > 59)
      return false;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (pos != len)
    return false;
  days = days_from_civil(year, month, day);
  /* local = UTC + offset, so UTC = local - offset */
  *unix_us = ((days * 86400 + hour * 3600 + minute * 60 + second) - offset_s) * 1000000 + frac_us;
  return true;
}

/** Writes @a v as exactly @a n decimal digits (v must fit). */
static void
put_digits(char *out, int64_t v, unsigned int n)
{
  for (unsigned int i = n; i > 0; i--) {
    out[i - 1] = (char) ('0' + v % 10);
    v /= 10;
  }
}

void
kg_time_format(int64_t unix_seconds, char out[KG_TIME_BUFSZ])
{
  int64_t days;
  int64_t secs;
  int64_t y;
  int m, d;

  if (unix_seconds < KG_TIME_MIN_SECONDS)
    unix_seconds = KG_TIME_MIN_SECONDS;
  if (unix_seconds > KG_TIME_MAX_SECONDS)
    unix_seconds = KG_TIME_MAX_SECONDS;
  /* floor division: the clamped range includes negative instants */
  days = unix_seconds / 86400;
  secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    days--;
  }
  civil_from_days(days, &y, &m, &d);
  put_digits(out, y, 4);
  out[4] = '-';
  put_digits(out + 5, m, 2);
  out[7] = '-';
  put_digits(out + 8, d, 2);
  out[10] = 'T';
  put_digits(out + 11, secs / 3600, 2);
  out[13] = ':';
  put_digits(out + 14, (secs / 60) % 60, 2);
  out[16] = ':';
  put_digits(out + 17, secs % 60, 2);
  out[19] = 'Z';
  out[20] = '\0';
}
