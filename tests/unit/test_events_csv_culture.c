/**
 * @file test_events_csv_culture.c
 * @brief Export-Csv -UseCulture: the separator read from the header line, an
 *        optional Id column whose non-12290 rows are skipped (and counted),
 *        UTF-16 bodies refused with a hint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events_testutil.h"

/** kms-export-useculture-de.csv: ';', "+01:00" local times, German text, one event 12293. */
static void
test_useculture_fixture(void **state)
{
  (void) state;
  check_source_fixture(KG_EVENTS_CSV, "kms-export-useculture-de.csv", 123456);
}

static void
test_separator_from_header(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* a comma inside the quoted message does not outvote the semicolons */
  parse_ok(KG_EVENTS_CSV, "Message;TimeCreated\n\"" INFO_001 "\";2026-11-20T09:14:03Z\n", &b);
  assert_int_equal(1, b.n_events);
  assert_int_equal(T_0914 * 1000000, b.events[0].requested_at_us);
  kg_events_batch_free(&b);
  /* commas stay the default, also with no separator in sight */
  parse_ok(KG_EVENTS_CSV,
           "\"TimeCreated\",\"Message\"\r\n\"2026-11-20T09:14:03Z\",\"" INFO_001 "\"\r\n", &b);
  assert_int_equal(1, b.n_events);
  kg_events_batch_free(&b);
  /* a ';' body with a ',' row reads as one column short */
  parse_ok(KG_EVENTS_CSV, "TimeCreated;Message\n2026-11-20T09:14:03Z,x\n", &b);
  assert_rejected(&b, 0, 0, "row: 1 column, expected 2");
  kg_events_batch_free(&b);
  /* commas inside quotes do not count: this header has three columns */
  parse_ok(KG_EVENTS_CSV, "TimeCreated;Message;\"a,b,c\"\n", &b);
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  assert_string_equal("CSV header must name the TimeCreated and Message columns",
                      parse_refused(KG_EVENTS_CSV, "TimeCreated,Message;Id;x\n"));
}

static void
test_id_column(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_CSV,
           "Id;TimeCreated;Message\n"
           "12290;2026-11-20T09:14:03Z;\"" INFO_001 "\"\n"
           " 12293 ;2026-11-20T09:14:03Z;no info string here\n"
           "abc;2026-11-20T09:14:03Z;\"" INFO_001 "\"\n"
           "70000;2026-11-20T09:14:03Z;\"" INFO_001 "\"\n"
           ";2026-11-20T09:14:03Z;\"" INFO_001 "\"\n"
           "12290;yesterday;\"" INFO_001 "\"\n", &b);
  /* clang-format on */
  assert_int_equal(6, b.n_records);
  assert_int_equal(1, b.n_events);
  assert_int_equal(1, b.n_skipped);
  assert_int_equal(4, b.n_rejected);
  assert_rejected(&b, 0, 2, "Id: not an event id (0 to 65535)");
  assert_rejected(&b, 1, 3, "Id: not an event id (0 to 65535)");
  assert_rejected(&b, 2, 4, "Id: not an event id (0 to 65535)");
  assert_rejected(&b, 3, 5, "TimeCreated: not an RFC 3339 date-time");
  kg_events_batch_free(&b);
}

static void
test_utf16_refused(void **state)
{
  static const char le[] = "\xFF\xFE[\0]\0";
  static const char be[] = "\xFE\xFF\0[\0]";
  struct kg_events_batch b;
  const char *err = NULL;

  (void) state;
  for (int f = KG_EVENTS_JSON; f <= KG_EVENTS_CSV; f++) {
    assert_int_equal(-1, parse_bytes((enum kg_events_format) f, le, sizeof le - 1,
                                     KG_EVENTS_MAX_RECORDS, &b, &err));
    assert_string_equal("body is UTF-16: send UTF-8 (PowerShell: -Encoding UTF8)", err);
    assert_int_equal(-1, parse_bytes((enum kg_events_format) f, be, sizeof be - 1,
                                     KG_EVENTS_MAX_RECORDS, &b, &err));
  }
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_useculture_fixture),
    cmocka_unit_test(test_separator_from_header),
    cmocka_unit_test(test_id_column),
    cmocka_unit_test(test_utf16_refused),
  };
  /* clang-format on */

  return cmocka_run_group_tests(tests, NULL, NULL);
}
