/**
 * @file test_localtime.c
 * @brief Times without an offset read in a stated zone (tzif.c, events_time.c):
 *        the TZif reader, local-to-UTC conversion across DST changes, and the
 *        culture forms of PowerShell's ToString() in CSV and NDJSON bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "events_testutil.h"
#include "tzif.h"

/* 2026-11-20T09:14:03Z as Europe/Berlin (CET, +01:00) writes it: 10:14:03 */
#define INFO_LINE "An activation request has been processed.\r\nInfo:\r\n" INFO_001

static void
test_zone_offsets(void **state)
{
  struct kg_tz tz;
  int32_t off = 0;

  (void) state;
  assert_null(kg_tz_load("Europe/Berlin", &tz));
  /* 2026-11-20 10:14:03 local (CET) */
  assert_int_equal(KG_TZ_OK, kg_tz_local_to_utc(&tz, T_0914 + 3600, &off));
  assert_int_equal(3600, off);
  /* 2026-07-01 12:00:00 local (CEST) */
  assert_int_equal(KG_TZ_OK, kg_tz_local_to_utc(&tz, INT64_C(1782907200), &off));
  assert_int_equal(7200, off);
  /* 2026-03-29 02:30 does not exist: the clocks go from 02:00 to 03:00 */
  assert_int_equal(KG_TZ_GAP, kg_tz_local_to_utc(&tz, INT64_C(1774751400), &off));
  /* 2026-10-25 02:30 happens twice: the earlier instant (still CEST) */
  assert_int_equal(KG_TZ_OK, kg_tz_local_to_utc(&tz, INT64_C(1792895400), &off));
  assert_int_equal(7200, off);
  kg_tz_free(&tz);
  assert_null(kg_tz_load("UTC", &tz));
  assert_int_equal(KG_TZ_OK, kg_tz_local_to_utc(&tz, T_0914, &off));
  assert_int_equal(0, off);
  kg_tz_free(&tz);
}

static void
test_zone_names_and_files(void **state)
{
  /* a version 2 header that counts 1 transition and 1 type, and no data */
  unsigned char truncated[44] = "TZif2";
  struct kg_tz tz;

  truncated[35] = 1;
  truncated[39] = 1;

  (void) state;
  assert_string_equal("not a time zone name (Area/City, as Europe/Berlin)",
                      kg_tz_load("../../etc/passwd", &tz));
  assert_string_equal("not a time zone name (Area/City, as Europe/Berlin)",
                      kg_tz_load("/etc/passwd", &tz));
  assert_string_equal("not a time zone name (Area/City, as Europe/Berlin)",
                      kg_tz_load("Europe/Berlin ", &tz));
  assert_string_equal("no such time zone in the system's tz database",
                      kg_tz_load("Mars/Olympus_Mons", &tz));
  assert_string_equal("time zone file: not TZif", kg_tz_load("zone1970.tab", &tz));
  assert_string_equal("time zone file: not TZif", kg_tz_parse((const unsigned char *) "x", 1, &tz));
  assert_string_equal("time zone file: truncated", kg_tz_parse(truncated, sizeof truncated, &tz));
  assert_null(tz.at);
}

static void
test_csv_culture_times(void **state)
{
  struct kg_tz berlin;
  struct kg_events_time us = { .given = true, .tz = &berlin, .culture = KG_CULTURE_EN_US };
  struct kg_events_time inv = { .given = true, .offset_s = 3600, .culture = KG_CULTURE_INVARIANT };
  struct kg_events_time no_zone = { .culture = KG_CULTURE_INVARIANT };
  struct kg_events_batch b;
  const char *err = NULL;
  /* clang-format off */
  static const char en_us[] =
    "\"TimeCreated\",\"Message\"\r\n"
    "\"11/20/2026 10:14:03 AM\",\"" INFO_LINE "\"\r\n"
    "\"11/20/2026 10:14:03 PM\",\"" INFO_LINE "\"\r\n"
    "\"11/20/2026 12:14:03 AM\",\"" INFO_LINE "\"\r\n"
    "\"3/29/2026 2:30:00 AM\",\"" INFO_LINE "\"\r\n"
    "\"13/20/2026 10:14:03 AM\",\"" INFO_LINE "\"\r\n"
    "\"11/20/2026 10:14:03\",\"" INFO_LINE "\"\r\n"
    "\"2026-11-20 10:14:03\",\"" INFO_LINE "\"\r\n";
  static const char invariant[] =
    "\"TimeCreated\",\"Message\"\r\n"
    "\"11/20/2026 10:14:03\",\"" INFO_LINE "\"\r\n"
    "\"11/20/2026 10:14:03 AM\",\"" INFO_LINE "\"\r\n";
  /* clang-format on */

  (void) state;
  assert_null(kg_tz_load("Europe/Berlin", &berlin));
  assert_int_equal(0, kg_events_parse_with(KG_EVENTS_CSV, en_us, strlen(en_us), 100,
                                           &(struct kg_events_opts){ .zone = &us }, &b, &err));
  assert_int_equal(4, b.n_events);
  assert_int_equal(US(T_0914), b.events[0].requested_at_us);
  assert_int_equal(US(T_0914 + 12 * 3600), b.events[1].requested_at_us);
  assert_int_equal(US(T_0914 - 10 * 3600), b.events[2].requested_at_us);
  assert_int_equal(6, b.events[3].index); /* 2026-11-20 10:14:03 Berlin */
  assert_int_equal(US(T_0914), b.events[3].requested_at_us);
  assert_rejected(
    &b, 0, 3, "TimeCreated: this local time does not exist in time_zone (the clocks skipped it)");
  assert_rejected(&b, 1, 4, "TimeCreated: not an RFC 3339 date-time");
  assert_rejected(&b, 2, 5, "TimeCreated: not an RFC 3339 date-time");
  kg_events_batch_free(&b);

  assert_int_equal(0, kg_events_parse_with(KG_EVENTS_CSV, invariant, strlen(invariant), 100,
                                           &(struct kg_events_opts){ .zone = &inv }, &b, &err));
  assert_int_equal(1, b.n_events);
  assert_int_equal(US(T_0914), b.events[0].requested_at_us);
  assert_rejected(&b, 0, 1, "TimeCreated: not an RFC 3339 date-time");
  kg_events_batch_free(&b);

  assert_int_equal(0, kg_events_parse_with(KG_EVENTS_CSV, invariant, strlen(invariant), 100,
                                           &(struct kg_events_opts){ .zone = &no_zone }, &b, &err));
  assert_int_equal(0, b.n_events);
  /* clang-format off */
  assert_rejected(&b, 0, 0,
                  "TimeCreated: a local time without an offset: say its zone with the query"
                  " parameter time_zone (e.g. Europe/Berlin) or utc_offset (e.g. +01:00)");
  /* clang-format on */
  kg_events_batch_free(&b);
  kg_tz_free(&berlin);
}

/* NXLog CE's EventTime has no zone: read as UTC, or in the stated zone. */
static void
test_ndjson_local_times(void **state)
{
  struct kg_tz berlin;
  struct kg_events_time zone = { .given = true, .tz = &berlin };
  struct kg_events_batch b;
  const char *err = NULL;
  /* clang-format off */
  static const char body[] =
    "{\"EventID\":12290,\"EventTime\":\"2026-11-20 10:14:03\",\"Message\":\"" INFO_001 "\"}\n"
    "{\"EventID\":12290,\"EventTime\":\"2026-11-20 10:14:03 +0100\",\"Message\":\"" INFO_001 "\"}\n"
    "{\"EventID\":12290,\"EventTime\":\"11/20/2026 10:14:03 AM\",\"Message\":\"" INFO_001 "\"}\n";
  /* clang-format on */

  (void) state;
  assert_null(kg_tz_load("Europe/Berlin", &berlin));
  assert_int_equal(0, kg_events_parse_with(KG_EVENTS_NDJSON, body, strlen(body), 100,
                                           &(struct kg_events_opts){ .zone = &zone }, &b, &err));
  assert_int_equal(2, b.n_events);
  assert_int_equal(US(T_0914), b.events[0].requested_at_us);
  assert_int_equal(US(T_0914), b.events[1].requested_at_us);
  /* clang-format off */
  assert_rejected(&b, 0, 2,
                  "EventTime: a culture's date (PowerShell's ToString()): say the culture with the"
                  " query parameter culture (en-US or invariant) and the zone with time_zone or"
                  " utc_offset");
  /* clang-format on */
  kg_events_batch_free(&b);
  /* without a zone, as before: UTC */
  assert_int_equal(0, kg_events_parse(KG_EVENTS_NDJSON, body, strlen(body), 100, &b, &err));
  assert_int_equal(US(T_0914 + 3600), b.events[0].requested_at_us);
  kg_events_batch_free(&b);
  kg_tz_free(&berlin);
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_zone_offsets),
    cmocka_unit_test(test_zone_names_and_files),
    cmocka_unit_test(test_csv_culture_times),
    cmocka_unit_test(test_ndjson_local_times),
  };
  /* clang-format on */

  return cmocka_run_group_tests(tests, NULL, NULL);
}
