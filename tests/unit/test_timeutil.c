/**
 * @file test_timeutil.c
 * @brief RFC 3339 parsing and formatting, against hand-computed instants.
 *
 * Reference: 2026-01-01 is day 20454 of the epoch (26 years, 7 leap days:
 * 2000..2024), so 2026-12-01 is day 20454 + 334 = 20788 = 1796083200 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "timeutil.h"

/** Parses a C string; fails the test if it does not parse. */
static int64_t
parse_ok(const char *s)
{
  int64_t us = -42;

  if (!kg_time_parse_rfc3339(s, strlen(s), &us))
    fail_msg("expected to parse: \"%s\"", s);
  return us;
}

static void
parse_bad(const char *s)
{
  int64_t us = -42;

  if (kg_time_parse_rfc3339(s, strlen(s), &us))
    fail_msg("expected to be rejected: \"%s\"", s);
  assert_int_equal(-42, us); /* untouched on failure */
}

static void
test_parse_utc(void **state)
{
  (void) state;
  assert_int_equal(0, parse_ok("1970-01-01T00:00:00Z"));
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01T00:00:00Z"));
  /* 2026-11-20 is day 20454 + 304 + 19 = 20777; 9:14:03 is 33243 s */
  assert_int_equal(1795166043LL * 1000000, parse_ok("2026-11-20T09:14:03Z"));
  assert_int_equal(253402300799LL * 1000000, parse_ok("9999-12-31T23:59:59Z"));
  /* 2000 is a leap year (divisible by 400): 2000-03-01 is day 11017 */
  assert_int_equal(951868800LL * 1000000, parse_ok("2000-03-01T00:00:00Z"));
}

static void
test_parse_lowercase(void **state)
{
  (void) state;
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01t00:00:00z"));
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01T00:00:00z"));
}

static void
test_parse_offsets(void **state)
{
  (void) state;
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01T01:00:00+01:00"));
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-11-30T19:00:00-05:00"));
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01T05:30:00+05:30"));
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01T00:00:00+00:00"));
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01T00:00:00-00:00"));
  assert_int_equal((1796083200LL - 86340) * 1000000, parse_ok("2026-12-01T00:00:00+23:59"));
  /* the year is checked as written; the instant may precede the epoch */
  assert_int_equal(-3600LL * 1000000, parse_ok("1970-01-01T00:00:00+01:00"));
}

static void
test_parse_fractions(void **state)
{
  (void) state;
  assert_int_equal(1796083200LL * 1000000 + 500000, parse_ok("2026-12-01T00:00:00.5Z"));
  assert_int_equal(1796083200LL * 1000000 + 120000, parse_ok("2026-12-01T00:00:00.12Z"));
  assert_int_equal(1796083200LL * 1000000 + 123456, parse_ok("2026-12-01T00:00:00.123456Z"));
  /* Windows' 7 digits: truncated, never rounded up */
  assert_int_equal(1796083200LL * 1000000 + 123456, parse_ok("2026-12-01T01:00:00.1234567+01:00"));
  assert_int_equal(1796083200LL * 1000000 + 999999,
                   parse_ok("2026-12-01T00:00:00.99999999999999999999Z"));
  assert_int_equal(1796083200LL * 1000000 + 1, parse_ok("2026-12-01T00:00:00.0000019Z"));
  assert_int_equal(1796083200LL * 1000000, parse_ok("2026-12-01T00:00:00.0Z"));
}

static void
test_parse_leap_days(void **state)
{
  (void) state;
  /* 2028-01-01 is day 20454 + 730 = 21184; Feb 29 is 59 days later */
  assert_int_equal(1835438400LL * 1000000, parse_ok("2028-02-29T12:00:00Z"));
  assert_int_equal(951782400LL * 1000000, parse_ok("2000-02-29T00:00:00Z"));
  parse_bad("2026-02-29T00:00:00Z");
  parse_bad("2100-02-29T00:00:00Z"); /* divisible by 100, not by 400 */
  parse_bad("2028-02-30T00:00:00Z");
  parse_ok("2026-02-28T23:59:59Z");
}

static void
test_parse_ranges(void **state)
{
  (void) state;
  parse_bad("1969-12-31T23:59:59Z");
  parse_bad("0000-01-01T00:00:00Z");
  parse_bad("2026-00-01T00:00:00Z");
  parse_bad("2026-13-01T00:00:00Z");
  parse_bad("2026-01-00T00:00:00Z");
  parse_bad("2026-01-32T00:00:00Z");
  parse_bad("2026-04-31T00:00:00Z");
  parse_bad("2026-06-31T00:00:00Z");
  parse_bad("2026-12-01T24:00:00Z");
  parse_bad("2026-12-01T00:60:00Z");
  parse_bad("2026-12-01T23:59:60Z"); /* leap seconds are not representable */
  parse_bad("2026-12-01T00:00:61Z");
  parse_bad("2026-12-01T00:00:00+24:00");
  parse_bad("2026-12-01T00:00:00+01:60");
  parse_ok("2026-04-30T23:59:59Z");
}

static void
test_parse_bad_forms(void **state)
{
  /* clang-format off */
  static const char *const bad[] = {
    "",
    "2026",
    "2026-12-01",
    "2026-12-01T00:00:00",      /* no offset */
    "2026-12-01 00:00:00Z",     /* space separator */
    "2026-12-01T00:00Z",        /* no seconds */
    "2026-12-01T00:00:00.Z",    /* empty fraction */
    "2026-12-01T00:00:00,5Z",   /* comma fraction */
    "2026-12-01T00:00:00+0100",
    "2026-12-01T00:00:00+01",
    "2026-12-01T00:00:00+1:00",
    "2026-12-01T00:00:00UTC",
    "2026-12-01T00:00:00Zx",
    "2026-12-01T00:00:00Z ",
    " 2026-12-01T00:00:00Z",
    "26-12-01T00:00:00Z",
    "2026-1-01T00:00:00Z",
    "2026-12-1T00:00:00Z",
    "2026-12-01T0:00:00Z",
    "+2026-12-01T00:00:00Z",
    "20261201T000000Z",
    "2026/12/01T00:00:00Z",
    "2026-12-01T00:00:00.5",
    "2026-12-01T00:00:00-",
    "2026-12-01T00:00:00+",
    "2O26-12-01T00:00:00Z",
    "11/20/2026 9:14:03 AM",
  };
  /* clang-format on */

  (void) state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    parse_bad(bad[i]);
}

/** Every proper prefix of a valid time must be rejected without reading past it. */
static void
test_parse_truncated(void **state)
{
  /* clang-format off */
  static const char *const good[] = {
    "2026-12-01T01:00:00.1234567+01:00",
    "2026-11-20T09:14:03.1234567Z",
  };
  /* clang-format on */

  (void) state;
  for (size_t g = 0; g < 2; g++) {
    size_t len = strlen(good[g]);

    for (size_t n = 0; n < len; n++) {
      /* heap copy of exactly n bytes: ASan flags any read beyond */
      char *copy = malloc(n > 0 ? n : 1);
      int64_t us;

      assert_non_null(copy);
      memcpy(copy, good[g], n);
      /* a prefix ending in a fraction digit is valid only with an offset */
      assert_false(kg_time_parse_rfc3339(copy, n, &us));
      free(copy);
    }
  }
}

static void
test_parse_embedded_nul(void **state)
{
  static const char base[] = "2026-12-01T00:00:00Z";
  int64_t us;

  (void) state;
  for (size_t i = 0; i < sizeof base - 1; i++) {
    char copy[sizeof base];

    memcpy(copy, base, sizeof base);
    copy[i] = '\0';
    assert_false(kg_time_parse_rfc3339(copy, sizeof base - 1, &us));
  }
  /* the trailing NUL counted in the length is a trailing byte */
  assert_false(kg_time_parse_rfc3339(base, sizeof base, &us));
  assert_true(kg_time_parse_rfc3339(base, sizeof base - 1, &us));
  assert_false(kg_time_parse_rfc3339(NULL, 0, &us));
}

static void
test_format(void **state)
{
  char buf[KG_TIME_BUFSZ];

  (void) state;
  kg_time_format(0, buf);
  assert_string_equal("1970-01-01T00:00:00Z", buf);
  kg_time_format(1796083200, buf);
  assert_string_equal("2026-12-01T00:00:00Z", buf);
  kg_time_format(1835438400, buf);
  assert_string_equal("2028-02-29T12:00:00Z", buf);
  kg_time_format(1795166043, buf);
  assert_string_equal("2026-11-20T09:14:03Z", buf);
  kg_time_format(-1, buf);
  assert_string_equal("1969-12-31T23:59:59Z", buf);
  kg_time_format(951868799, buf);
  assert_string_equal("2000-02-29T23:59:59Z", buf);
  kg_time_format(253402300799LL, buf);
  assert_string_equal("9999-12-31T23:59:59Z", buf);
  /* clamped, never longer than 20 characters */
  kg_time_format(INT64_MAX, buf);
  assert_string_equal("9999-12-31T23:59:59Z", buf);
  kg_time_format(INT64_MIN, buf);
  assert_string_equal("0000-01-01T00:00:00Z", buf);
  kg_time_format(-62167219201LL, buf);
  assert_string_equal("0000-01-01T00:00:00Z", buf);
  kg_time_format(-62135596800LL, buf);
  assert_string_equal("0001-01-01T00:00:00Z", buf);
}

/** format then parse is the identity over the whole supported range. */
static void
test_round_trip(void **state)
{
  (void) state;
  /* a step coprime with 86400 visits every time of day and many dates */
  for (int64_t s = 0; s <= 253402300799LL; s += 7919LL * 3607) {
    char buf[KG_TIME_BUFSZ];
    int64_t us;

    kg_time_format(s, buf);
    assert_int_equal(20, strlen(buf));
    assert_true(kg_time_parse_rfc3339(buf, 20, &us));
    assert_int_equal(s * 1000000, us);
  }
  /* and every day boundary of 2024..2029, leap day included */
  for (int64_t s = 1704067200LL; s < 1893456000LL; s += 86400) {
    char buf[KG_TIME_BUFSZ];
    int64_t us;

    kg_time_format(s - 1, buf);
    assert_true(kg_time_parse_rfc3339(buf, 20, &us));
    assert_int_equal((s - 1) * 1000000, us);
  }
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_utc),
    cmocka_unit_test(test_parse_lowercase),
    cmocka_unit_test(test_parse_offsets),
    cmocka_unit_test(test_parse_fractions),
    cmocka_unit_test(test_parse_leap_days),
    cmocka_unit_test(test_parse_ranges),
    cmocka_unit_test(test_parse_bad_forms),
    cmocka_unit_test(test_parse_truncated),
    cmocka_unit_test(test_parse_embedded_nul),
    cmocka_unit_test(test_format),
    cmocka_unit_test(test_round_trip),
  };
  /* clang-format on */

  return cmocka_run_group_tests(tests, NULL, NULL);
}
