/**
 * @file test_events_xml.c
 * @brief Windows event XML: wevtutil's root-less stream, Event Viewer's
 *        <Events> file, data fields, record errors, and hostile bodies (DTDs,
 *        external entities, deep nesting) that must be refused, not followed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events_testutil.h"

#define NS "http://schemas.microsoft.com/win/2004/08/events/event"
/** One event with the given EventID text, SystemTime and EventData content. */
/* clang-format off */
#define EV(id, time, data) \
  "<Event xmlns='" NS "'><System><EventID>" id "</EventID><TimeCreated SystemTime='" time \
  "'/></System><EventData>" data "</EventData></Event>"
/* clang-format on */

static void
test_fixtures(void **state)
{
  (void) state;
  check_source_fixture(KG_EVENTS_XML, "wevtutil.xml", 123456);
  check_source_fixture(KG_EVENTS_XML, "eventviewer.xml", 123456);
  check_source_fixture(KG_EVENTS_XML, "wevtutil-data10.xml", 123456);
}

static void
test_shapes(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* no namespace, blanks around, an Events root, CDATA, an empty body */
  /* clang-format off */
  parse_ok(KG_EVENTS_XML, "\r\n <Events><Event><System><EventID>12290</EventID>"
           "<TimeCreated SystemTime='2026-11-20T09:14:03Z'/></System><EventData><Data><![CDATA["
           /* clang-format on */
           INFO_001 "]]></Data></EventData></Event></Events>\n",
           &b);
  assert_int_equal(1, b.n_events);
  assert_int_equal(US(T_0914), b.events[0].requested_at_us);
  kg_events_batch_free(&b);
  parse_ok(KG_EVENTS_XML, "", &b);
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  parse_ok(KG_EVENTS_XML, "<?xml version='1.0' encoding='UTF-16'?><Events/>", &b);
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  /* RenderingInfo/Message wins over the data; a blank one falls back to it */
  /* clang-format off */
  parse_ok(KG_EVENTS_XML,
           "<Event xmlns='" NS "'><System><EventID>12290</EventID><TimeCreated SystemTime='2026-11-20T09:14:03Z'/>"
           "</System><EventData><Data>junk</Data></EventData><RenderingInfo><Message>Info:&#13;\n" INFO_001
           "</Message></RenderingInfo></Event>"
           "<Event xmlns='" NS "'><System><EventID>12290</EventID><TimeCreated SystemTime='2026-11-20T09:14:03Z'/>"
           "</System><EventData><Data>" INFO_001 "</Data></EventData><RenderingInfo><Message> </Message>"
           "</RenderingInfo></Event>", &b);
  /* clang-format on */
  assert_int_equal(2, b.n_events);
  kg_events_batch_free(&b);
}

static void
test_record_errors(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_XML,
           "<Event xmlns='" NS
           "'><System><TimeCreated SystemTime='2026-11-20T09:14:03Z'/></System></Event>" EV(
             "twelve", "2026-11-20T09:14:03Z",
             "") "<Event xmlns='" NS
                 "'><System><EventID>12290</EventID></System></Event>" EV("12290", "20.11.2026", "")
           /* clang-format on */
           EV("12290", "2026-11-20T09:14:03Z", "") EV("12290", "2026-11-20T09:14:03Z",
                                                      "<Data>a</Data><Data>b</Data>")
             EV("12290", "2026-11-20T09:14:03Z", "<Data>0x0, 25</Data>") EV("12293", "garbage", "")
               EV(" 12290 ", "2026-11-20T09:14:03.1234567Z", "<Data>" INFO_001 "</Data>"),
           &b);
  assert_int_equal(9, b.n_records);
  assert_int_equal(1, b.n_events);
  assert_int_equal(1, b.n_skipped);
  assert_rejected(&b, 0, 0, "System/EventID: missing");
  assert_rejected(&b, 1, 1, "System/EventID: not an event id");
  assert_rejected(&b, 2, 2, "System/TimeCreated/@SystemTime: missing");
  assert_rejected(&b, 3, 3, "System/TimeCreated/@SystemTime: not a date-time");
  assert_rejected(&b, 4, 4, "RenderingInfo/Message and EventData/Data: both missing");
  assert_rejected(&b, 5, 5,
                  "EventData: 2 values, expected the info string and its 9 fields (10), or either");
  assert_rejected(&b, 6, 6, "info string: expected 9 fields, got 2");
  kg_events_batch_free(&b);
}

static void
test_whole_body_refused(void **state)
{
  /* clang-format off */
  static const char *const bodies[] = {
    "<Event>",                                   /* truncated */
    "not xml at all",
    "<html><body>hello</body></html>",           /* no events */
    "<Event xmlns='urn:other'/>",                /* another namespace */
    "<?xml version='1.0'",                       /* declaration not closed */
    /* a DTD: external entities and entity expansion never get a chance */
    "<!DOCTYPE Event [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><Event>&x;</Event>",
    "<!DOCTYPE Events SYSTEM 'http://127.0.0.1:1/x.dtd'><Events/>",
    "<!DOCTYPE a [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><Events>&b;</Events>",
    "<Events>&undefined;</Events>",
    "<Event></Event></kmsgate-body><Event>",     /* closing the wrapper early */
  };
  /* clang-format on */
  struct kg_events_batch b;
  const char *err;

  (void) state;
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    err = NULL;
    if (0
        == parse_bytes(KG_EVENTS_XML, bodies[i], strlen(bodies[i]), KG_EVENTS_MAX_RECORDS, &b,
                       &err))
      fail_msg("body %zu accepted: %s", i, bodies[i]);
    assert_non_null(err);
  }
}

static void
test_limits(void **state)
{
  size_t depth = 300;
  char *deep = malloc(depth * 10 + 64);
  size_t n = 0;
  struct kg_events_batch b;
  const char *err = NULL;
  const char *two = EV("12290", "2026-11-20T09:14:03Z", "") EV("12290", "2026-11-20T09:14:03Z", "")
    EV("12290", "2026-11-20T09:14:03Z", "");

  (void) state;
  assert_non_null(deep);
  n += (size_t) sprintf(deep + n, "<Event>");
  for (size_t i = 0; i < depth; i++)
    n += (size_t) sprintf(deep + n, "<a>");
  for (size_t i = 0; i < depth; i++)
    n += (size_t) sprintf(deep + n, "</a>");
  n += (size_t) sprintf(deep + n, "</Event>");
  /* deeper than libxml2's limit (256, XML_PARSE_HUGE off): refused whole */
  assert_int_equal(-1, parse_bytes(KG_EVENTS_XML, deep, n, KG_EVENTS_MAX_RECORDS, &b, &err));
  free(deep);
  assert_int_equal(-1, parse_bytes(KG_EVENTS_XML, two, strlen(two), 2, &b, &err));
  assert_string_equal("too many records", err);
  assert_int_equal(0, parse_bytes(KG_EVENTS_XML, two, strlen(two), 3, &b, &err));
  kg_events_batch_free(&b);
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fixtures),
    cmocka_unit_test(test_shapes),
    cmocka_unit_test(test_record_errors),
    cmocka_unit_test(test_whole_body_refused),
    cmocka_unit_test(test_limits),
  };
  /* clang-format on */

  return cmocka_run_group_tests(tests, NULL, NULL);
}
