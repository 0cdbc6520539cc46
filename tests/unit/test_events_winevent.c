/**
 * @file test_events_winevent.c
 * @brief Windows event records in JSON bodies: Get-WinEvent | ConvertTo-Json
 *        (PowerShell 5.1 and 7), Winlogbeat, NXLog to_json() and Fluent Bit
 *        winevtlog; the times each writes; skipped events; record errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events_testutil.h"

static void
test_fixtures(void **state)
{
  (void) state;
  check_source_fixture(KG_EVENTS_JSON, "winevent-ps5.json", 123000);       /* /Date(ms)/ */
  check_source_fixture(KG_EVENTS_JSON, "winevent-ps7.json", 123456);       /* +01:00, 7 digits */
  check_source_fixture(KG_EVENTS_NDJSON, "winlogbeat.ndjson", 123000);     /* RFC 3339 ms */
  check_source_fixture(KG_EVENTS_NDJSON, "nxlog.ndjson", 0);               /* seconds, no zone */
  check_source_fixture(KG_EVENTS_NDJSON, "fluentbit-winevtlog.ndjson", 0); /* " +0100" */
  /* the 10 data values, no message (tests/fixtures/make-shipper-fixtures.py) */
  check_source_fixture(KG_EVENTS_JSON, "winevent-ps5-nomessage.json", 123000);
  check_source_fixture(KG_EVENTS_NDJSON, "winlogbeat-nomessage.ndjson", 123000);
  check_source_fixture(KG_EVENTS_NDJSON, "winlogbeat6.ndjson", 123000);
  check_source_fixture(KG_EVENTS_NDJSON, "fluentbit-winevtlog-nomessage.ndjson", 0);
  check_source_fixture(KG_EVENTS_NDJSON, "fluentbit-winevtlog-xml.ndjson", 123456);
  check_source_fixture(KG_EVENTS_NDJSON, "fluentbit-winlog.ndjson", 0);
}

static void
test_single_object_and_mixed_records(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* ConvertTo-Json of one event writes the object, not an array */
  /* clang-format off */
  parse_ok(KG_EVENTS_JSON, "{\"Id\": 12290, \"TimeCreated\": \"\\/Date(1795166043000)\\/\","
           " \"Message\": \"An activation request has been processed.\\r\\nInfo:\\r\\n" INFO_001 "\"}", &b);
  /* clang-format on */
  assert_int_equal(1, b.n_events);
  assert_int_equal(US(T_0914), b.events[0].requested_at_us);
  kg_events_batch_free(&b);
  /* kmsgate's own records and event records side by side */
  /* clang-format off */
  parse_ok(KG_EVENTS_JSON, "[{\"cmid\": \"6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10\", \"client\": \"a.corp.example\","
           " \"requested_at\": \"2026-11-20T09:14:03Z\"},"
           " {\"Id\": 12290, \"TimeCreated\": \"2026-11-20T09:14:03Z\", \"Properties\": [{\"Value\": \"" INFO_001 "\"}]},"
           " {\"Id\": 12293, \"TimeCreated\": \"2026-11-20T09:14:03Z\"}]", &b);
  /* clang-format on */
  assert_int_equal(2, b.n_events);
  assert_int_equal(1, b.n_skipped);
  assert_string_equal("vdi-p1-001.corp.example", b.events[1].client);
  kg_events_batch_free(&b);
  /* a lone object that is no event record is refused as before */
  assert_string_equal("body is not a JSON array",
                      parse_refused(KG_EVENTS_JSON, "{\"not\": \"an array\"}"));
}

static void
test_nine_data_fields(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_NDJSON,
           "{\"EventID\": \"12290\", \"EventTime\": \"2026-11-20T09:14:03.5Z\", \"StringInserts\":"
           " [0, 25, \"vdi-p1-001.corp.example\", \"6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10\","
           " \"2026/11/20 9:14\", true, 1, 259200, \"4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c\"]}\n"
           "{\"winlog\": {\"event_id\": 12290, \"event_data\": {\"param1\": \"0x0\", \"param2\": \"25\","
           " \"param3\": \"b.corp.example\", \"param4\": \"6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10\","
           " \"param5\": \"2026/11/20 9:14\", \"param6\": \"1\", \"param7\": \"1\", \"param8\": \"259200\","
           " \"param9\": \"4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c\"}}, \"@timestamp\": \"2026-11-20T09:14:03Z\"}\n",
    /* clang-format on */
    &b);
  assert_int_equal(2, b.n_events);
  assert_int_equal(US(T_0914) + 500000, b.events[0].requested_at_us);
  assert_true(b.events[0].is_vm);
  assert_int_equal(0, b.events[0].hresult);
  assert_string_equal("b.corp.example", b.events[1].client);
  kg_events_batch_free(&b);
}

/* The 9 fields of INFO_001 as JSON strings, after a first value. */
/* clang-format off */
#define FIELDS_001                                                                        \
  "\"0x0\",\"25\",\"vdi-p1-001.corp.example\",\"6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10\"," \
  "\"2026/11/20 9:14\",\"1\",\"1\",\"259200\",\"4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c\""
/* clang-format on */
#define T_JSON "\"TimeCreated\":\"2026-11-20T09:14:03Z\""

/* Event 12290's 10 values: the info string and its 9 fields, which must agree. */
static void
test_ten_data_values(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_NDJSON,
           "{\"Id\":12290," T_JSON ",\"StringInserts\":[\"0x0, 25, vdi-p1-001.corp.example,"
           " 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10, 2026/11/20 9:14, 1, 1, 259200,"
           " 4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c\"," FIELDS_001 "]}\n"
           "{\"Id\":12290," T_JSON ",\"StringInserts\":[\"\"," FIELDS_001 "]}\n"
           "{\"Id\":12290," T_JSON ",\"StringInserts\":[\"0x0, 25, vdi-p1-002.corp.example,"
           " 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10, 2026/11/20 9:14, 1, 1, 259200,"
           " 4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c\"," FIELDS_001 "]}\n"
           "{\"Id\":12290," T_JSON ",\"StringInserts\":[\"0x0, 25, a.corp.example,"
           " 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10, 2026/11/20 9:14, 1, 1, 259200,"
           " 4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\"]}\n"
           "{\"Id\":12290," T_JSON ",\"Properties\":[{\"Value\":\"x\"}," FIELDS_001 ",{\"Value\":1}]}\n"
           "{\"event_id\":12290,\"@timestamp\":\"2026-11-20T09:14:03Z\",\"event_data\":{"
           "\"param1\":\"\",\"param2\":0,\"param3\":\"25\",\"param4\":\"c.corp.example\","
           "\"param5\":\"6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10\",\"param6\":\"2026/11/20 9:14\","
           "\"param7\":\"0\",\"param8\":\"1\",\"param9\":\"259200\","
           "\"param10\":\"4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c\"}}\n",
           &b);
  /* clang-format on */
  assert_int_equal(6, b.n_records);
  assert_int_equal(4, b.n_events);
  assert_string_equal("vdi-p1-001.corp.example", b.events[0].client);
  assert_string_equal("vdi-p1-001.corp.example", b.events[1].client);
  assert_string_equal("a.corp.example", b.events[2].client);
  assert_int_equal(3, b.events[2].index);
  /* a number as the HRESULT (value 1 of 10) is written as hex */
  assert_string_equal("c.corp.example", b.events[3].client);
  assert_int_equal(0, b.events[3].hresult);
  assert_false(b.events[3].is_vm);
  assert_int_equal(2, b.n_rejected);
  assert_rejected(&b, 0, 2, "StringInserts: value 0 (the info string) and values 1-9 disagree");
  assert_rejected(
    &b, 1, 4, "Properties: 11 values, expected the info string and its 9 fields (10), or either");
  kg_events_batch_free(&b);
}

/* Fluent Bit's render_event_as_xml: the event is an XML string in "System". */
static void
test_system_xml_records(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_NDJSON,
           "{\"System\":\"<Event><System><EventID>12290</EventID><TimeCreated SystemTime='2026-11-20T09:14:03Z'/>"
           "</System><EventData><Data>0x0, 25, d.corp.example, 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10,"
           " 2026/11/20 9:14, 1, 1, 259200, 4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c</Data></EventData></Event>\","
           "\"Message\":\"\"}\n"
           "{\"System\":\"<Event><System><EventID>12293</EventID></System></Event>\",\"Message\":\"x\"}\n"
           "{\"System\":\"not XML\",\"Message\":\"\"}\n"
           "{\"System\":\"<Event><System><EventID>12290</EventID></System></Event>\"}\n"
           "{\"System\":\"<!DOCTYPE Event [<!ENTITY x 'y'>]><Event>&x;</Event>\"}\n"
           "{\"System\":\"<Other/>\",\"Message\":\"\"}\n",
           &b);
  /* clang-format on */
  assert_int_equal(6, b.n_records);
  assert_int_equal(1, b.n_events);
  assert_string_equal("d.corp.example", b.events[0].client);
  assert_int_equal(US(T_0914), b.events[0].requested_at_us);
  assert_int_equal(1, b.n_skipped);
  assert_int_equal(4, b.n_rejected);
  assert_rejected(&b, 0, 2, "System: not one <Event> in well-formed XML");
  assert_rejected(&b, 1, 3, "System/TimeCreated/@SystemTime: missing");
  assert_rejected(&b, 2, 4, "System: not one <Event> in well-formed XML");
  assert_rejected(&b, 3, 5, "System: not one <Event> in well-formed XML");
  kg_events_batch_free(&b);
}

static void
test_times(void **state)
{
  static const struct {
    const char *t;
    int64_t us;
  } ok[] = {
    { "/Date(1795166043123)/", US(T_0914) + 123000 },
    { "/Date(1795166043123+0100)/", US(T_0914) + 123000 },
    { "/Date(253402300799999)/", US(INT64_C(253402300799)) + 999000 },
    { "2026-11-20 09:14:03", US(T_0914) },
    { "2026-11-20 10:14:03 +0100", US(T_0914) },
    { "2026-11-20 08:14:03.25 -01:00", US(T_0914) + 250000 },
    { "2026-11-20 09:14:03Z", US(T_0914) },
    { "2026-11-20T09:14:03.123456789Z", US(T_0914) + 123456 },
  };
  /* clang-format off */
  static const char *const bad[] = {
    "/Date()/", "/Date(12a)/", "/Date(1+01)/", "/Date(1234567890123456)/", "/Date(-1)/",
    "/Date(253402300800000)/", "/Date(1+2400)/", "2026-11-20",
    "2026-11-20 09:14", "2026-11-20 25:14:03", "2026-11-20 09:14:03 CET", "20.11.2026 09:14:03",
    "/Date(1795166043123", "yesterday",
  };
  /* clang-format on */
  char body[256];
  struct kg_events_batch b;

  (void) state;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    snprintf(body, sizeof body,
             "{\"Id\":12290,\"TimeCreated\":\"%s\",\"Message\":\"" INFO_001 "\"}", ok[i].t);
    parse_ok(KG_EVENTS_JSON, body, &b);
    if (1 != b.n_events || ok[i].us != b.events[0].requested_at_us)
      fail_msg("time %s not read as %lld", ok[i].t, (long long) ok[i].us);
    kg_events_batch_free(&b);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(body, sizeof body,
             "{\"Id\":12290,\"TimeCreated\":\"%s\",\"Message\":\"" INFO_001 "\"}", bad[i]);
    parse_ok(KG_EVENTS_JSON, body, &b);
    assert_rejected(&b, 0, 0, "TimeCreated: not a date-time");
    kg_events_batch_free(&b);
  }
  /* Windows PowerShell 5.1's DateTime object */
  /* clang-format off */
  parse_ok(KG_EVENTS_JSON, "{\"Id\":12290,\"TimeCreated\":{\"value\":\"\\/Date(1795166043000)\\/\","
           "\"DisplayHint\":2,\"DateTime\":\"Friday, November 20, 2026 9:14:03 AM\"},\"Message\":\"" INFO_001 "\"}", &b);
  /* clang-format on */
  assert_int_equal(US(T_0914), b.events[0].requested_at_us);
  kg_events_batch_free(&b);
}

static void
test_record_errors(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_NDJSON,
           "{\"TimeCreated\":\"2026-11-20T09:14:03Z\",\"Message\":\"" INFO_001 "\"}\n"
           "{\"Id\":\"x\",\"TimeCreated\":\"2026-11-20T09:14:03Z\"}\n"
           "{\"Id\":70000,\"TimeCreated\":\"2026-11-20T09:14:03Z\"}\n"
           "{\"event\":{\"code\":[1]},\"message\":\"m\"}\n"
           "{\"Id\":12290,\"Message\":\"" INFO_001 "\"}\n"
           "{\"Id\":12290,\"EventTime\":5,\"Message\":\"" INFO_001 "\"}\n"
           "{\"Id\":12290,\"TimeCreated\":\"2026-11-20T09:14:03Z\",\"Message\":7}\n"
           "{\"Id\":12290,\"TimeCreated\":\"2026-11-20T09:14:03Z\",\"Message\":null}\n"
           "{\"Id\":12290,\"TimeCreated\":\"2026-11-20T09:14:03Z\",\"Message\":\" \\r\\n\",\"Properties\":[{\"Value\":\"a\"},{\"Value\":\"b\"}]}\n"
           "{\"Id\":12290,\"TimeCreated\":\"2026-11-20T09:14:03Z\",\"Properties\":[{\"Name\":\"a\"}]}\n"
           "{\"Id\":12290,\"TimeCreated\":\"2026-11-20T09:14:03Z\",\"Message\":\"Info:\\r\\n0x0, 25\"}\n"
           "{\"Id\":12290,\"@timestamp\":\"2026-11-20T09:14:03Z\",\"winlog\":{\"event_data\":{\"param1\":\"0x0, 25, x, y\"}}}\n",
    /* clang-format on */
    &b);
  assert_int_equal(12, b.n_rejected);
  assert_rejected(&b, 0, 0, "Id: missing (nor EventID, event_id, winlog.event_id or event.code)");
  assert_rejected(&b, 1, 1, "Id: not an event id");
  assert_rejected(&b, 2, 2, "Id: not an event id");
  assert_rejected(&b, 3, 3, "event.code: not an event id");
  assert_rejected(&b, 4, 4, "TimeCreated: missing (nor EventTime, TimeGenerated or @timestamp)");
  assert_rejected(&b, 5, 5, "EventTime: not a date-time");
  assert_rejected(&b, 6, 6, "Message: not a string");
  assert_rejected(&b, 7, 7,
                  "Message: missing, and no event data (Properties, StringInserts or event_data)");
  assert_rejected(
    &b, 8, 8, "Properties: 2 values, expected the info string and its 9 fields (10), or either");
  assert_rejected(&b, 9, 9, "Properties: value 0 is not a string or a number");
  assert_rejected(&b, 10, 10, "info string: expected 9 fields, got 2");
  assert_rejected(&b, 11, 11, "info string: expected 9 fields, got 4");
  kg_events_batch_free(&b);
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fixtures),
    cmocka_unit_test(test_single_object_and_mixed_records),
    cmocka_unit_test(test_nine_data_fields),
    cmocka_unit_test(test_ten_data_values),
    cmocka_unit_test(test_system_xml_records),
    cmocka_unit_test(test_times),
    cmocka_unit_test(test_record_errors),
  };
  /* clang-format on */

  return cmocka_run_group_tests(tests, NULL, NULL);
}
