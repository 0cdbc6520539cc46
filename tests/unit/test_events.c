/**
 * @file test_events.c
 * @brief Event-12290 parsing: info strings, JSON, NDJSON and PowerShell CSV.
 *
 * Inputs are always copied into heap buffers of their exact length, so that
 * AddressSanitizer catches any read past the end (the parsers must never
 * rely on a NUL terminator).  Fixtures are found next to this file
 * (../fixtures/), whatever the working directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "events.h"

#define WIN_ACT "4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c"
#define SRV_ACT "9bd77860-9b31-4b7b-96ad-2564017315bf"
#define CMID_001 "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10"
#define PREAMBLE "An activation request has been processed.\r\nInfo:\r\n"

#include "events_testutil.h"

/** Parses a C string as an info string; returns the error or NULL. */
static const char *
info(const char *s, struct kg_event *ev)
{
  size_t len = strlen(s);
  char *copy = malloc(len > 0 ? len : 1);
  const char *err;

  assert_non_null(copy);
  memcpy(copy, s, len);
  memset(ev, 0, sizeof *ev);
  err = kg_events_parse_info(copy, len, ev);
  free(copy);
  if (NULL != err)
    assert_null(ev->client);
  return err;
}

/** The 6 records of kms-export-ps5.csv / -ps7.csv, newest first. */
static void
check_export_records(const struct kg_events_batch *b)
{
  const struct kg_event *e = b->events;

  assert_int_equal(6, b->n_records);
  assert_int_equal(6, b->n_events);
  assert_int_equal(0, b->n_rejected);

  assert_string_equal(CMID_001, e[0].cmid);
  assert_string_equal("vdi-p1-001.corp.example", e[0].client);
  assert_int_equal(T_0914 * 1000000 + 123456, e[0].requested_at_us);
  assert_true(e[0].has_hresult);
  assert_int_equal(0, e[0].hresult);
  assert_true(e[0].has_required_count);
  assert_int_equal(25, e[0].required_count);
  assert_true(e[0].has_is_vm);
  assert_true(e[0].is_vm);
  assert_true(e[0].has_license_status);
  assert_int_equal(1, e[0].license_status);
  assert_true(e[0].has_minutes_to_expiry);
  assert_int_equal(259200, e[0].minutes_to_expiry);
  assert_true(e[0].has_activation_id);
  assert_string_equal(WIN_ACT, e[0].activation_id);

  /* written without spaces after the commas */
  assert_string_equal("0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f", e[1].cmid);
  assert_string_equal("vdi-p1-002.corp.example", e[1].client);
  assert_int_equal(1795164700LL * 1000000 + 555000, e[1].requested_at_us);

  /* a server; its CMID was logged in uppercase */
  assert_string_equal("3f2504e0-4f89-11d3-9a0c-0305e82c3301", e[2].cmid);
  assert_int_equal(5, e[2].required_count);
  assert_false(e[2].is_vm);
  assert_string_equal(SRV_ACT, e[2].activation_id);
  assert_int_equal(1795159812LL * 1000000 + 0, e[2].requested_at_us);

  /* refused for a low count, in OOB grace; client clock one hour ahead */
  assert_int_equal(0xC004F038u, e[3].hresult);
  assert_int_equal(2, e[3].license_status);
  assert_int_equal(41760, e[3].minutes_to_expiry);
  assert_int_equal(1795129375LL * 1000000 + 700000, e[3].requested_at_us);
  assert_int_equal(1795122170LL * 1000000 + 100000, e[4].requested_at_us);

  assert_string_equal(CMID_001, e[5].cmid);
  assert_int_equal(1794561164LL * 1000000 + 987654, e[5].requested_at_us);
}

/* ------------------------------------------------------------------ */
/* GUIDs                                                               */
/* ------------------------------------------------------------------ */

static void
test_guid_normalize(void **state)
{
  char out[37];

  (void) state;
  assert_true(kg_guid_normalize(CMID_001, 36, out));
  assert_string_equal(CMID_001, out);
  assert_true(kg_guid_normalize("6A1F2C7E-0B4D-4F0E-9A55-2B7D3C1E9F10", 36, out));
  assert_string_equal(CMID_001, out);
  assert_true(kg_guid_normalize("{6A1F2C7E-0b4d-4F0E-9a55-2B7D3C1E9F10}", 38, out));
  assert_string_equal(CMID_001, out);

  memcpy(out, "untouched", 10);
  assert_false(kg_guid_normalize("6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f1", 35, out));
  assert_string_equal("untouched", out);
  assert_false(kg_guid_normalize("6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f100", 37, out));
  assert_false(kg_guid_normalize("6a1f2c7e0b4d-4f0e-9a55-2b7d3c1e9f10-", 36, out));
  assert_false(kg_guid_normalize("6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9g10", 36, out));
  assert_false(kg_guid_normalize("{6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10", 37, out));
  assert_false(kg_guid_normalize("(6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10)", 38, out));
  assert_false(kg_guid_normalize("{{6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10}}", 40, out));
  assert_false(kg_guid_normalize(" 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f1", 36, out));
  /* clang-format off */
  assert_false(kg_guid_normalize("6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f\0"
                                 "0",
                                 /* clang-format on */
                                 36, out));
  assert_false(kg_guid_normalize("6a1f2c7e+0b4d-4f0e-9a55-2b7d3c1e9f10", 36, out));
  assert_false(kg_guid_normalize("", 0, out));
  assert_false(kg_guid_normalize(NULL, 0, out));
  assert_string_equal("untouched", out);
}

/* ------------------------------------------------------------------ */
/* Info strings                                                        */
/* ------------------------------------------------------------------ */

static void
test_info_with_spaces(void **state)
{
  struct kg_event ev;

  (void) state;
  assert_null(info(INFO_001, &ev));
  assert_string_equal(CMID_001, ev.cmid);
  assert_string_equal("vdi-p1-001.corp.example", ev.client);
  assert_true(ev.has_hresult);
  assert_int_equal(0, ev.hresult);
  assert_true(ev.has_required_count);
  assert_int_equal(25, ev.required_count);
  assert_true(ev.has_is_vm);
  assert_true(ev.is_vm);
  assert_true(ev.has_license_status);
  assert_int_equal(1, ev.license_status);
  assert_true(ev.has_minutes_to_expiry);
  assert_int_equal(259200, ev.minutes_to_expiry);
  assert_true(ev.has_activation_id);
  assert_string_equal(WIN_ACT, ev.activation_id);
  kg_event_clear(&ev);
  assert_null(ev.client);
}

static void
test_info_without_spaces(void **state)
{
  struct kg_event ev;

  (void) state;
  /* clang-format off */
  assert_null(info("0x0,25,vdi-p1-001.corp.example,6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10,"
                   "2026/11/20 9:14,1,1,259200,4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c", &ev));
  /* clang-format on */
  assert_string_equal(CMID_001, ev.cmid);
  assert_string_equal("vdi-p1-001.corp.example", ev.client);
  assert_int_equal(25, ev.required_count);
  assert_int_equal(259200, ev.minutes_to_expiry);
  assert_string_equal(WIN_ACT, ev.activation_id);
  kg_event_clear(&ev);
}

static void
test_info_tabs_case_and_braces(void **state)
{
  struct kg_event ev;

  (void) state;
  /* clang-format off */
  assert_null(info("\t0XC004F038 ,\t5, SRV01.Corp.Example ,{6A1F2C7E-0B4D-4F0E-9A55-2B7D3C1E9F10},"
                   " 2026/1/5 09:05 , 0 , 6 , 0 , 4DE7CB65-CDF1-4DE9-8AE8-E3CCE27B9F2C\t", &ev));
  /* clang-format on */
  assert_int_equal(0xC004F038u, ev.hresult);
  assert_int_equal(5, ev.required_count);
  assert_string_equal("SRV01.Corp.Example", ev.client); /* as given */
  assert_string_equal(CMID_001, ev.cmid);
  assert_false(ev.is_vm);
  assert_int_equal(6, ev.license_status);
  assert_int_equal(0, ev.minutes_to_expiry);
  assert_string_equal(WIN_ACT, ev.activation_id);
  kg_event_clear(&ev);
}

static void
test_info_keeps_requested_at(void **state)
{
  struct kg_event ev;

  (void) state;
  memset(&ev, 0, sizeof ev);
  ev.requested_at_us = 1234567;
  assert_null(kg_events_parse_info(INFO_001, strlen(INFO_001), &ev));
  assert_int_equal(1234567, ev.requested_at_us);
  kg_event_clear(&ev);
  assert_int_equal(0, ev.requested_at_us);
  kg_event_clear(NULL);
}

static void
test_info_field_count(void **state)
{
  struct kg_event ev;

  (void) state;
  assert_string_equal(
    "info string: expected 9 fields, got 8",
    info("0x0, 25, vdi-p1-001.corp.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200", &ev));
  assert_string_equal("info string: expected 9 fields, got 10", info(INFO_001 ", extra", &ev));
  assert_string_equal("info string: expected 9 fields, got 10", info(INFO_001 ",", &ev));
  assert_string_equal("info string: expected 9 fields, got 1", info("", &ev));
  assert_string_equal("info string: expected 9 fields, got 1",
                      info("An activation request has been processed.", &ev));
  assert_string_equal("info string: expected 9 fields, got 16", info(",,,,,,,,,,,,,,,", &ev));
  assert_string_equal("info string: expected 9 fields, got more than 16",
                      info(",,,,,,,,,,,,,,,,", &ev));
  assert_string_equal("info string: expected 9 fields, got 1", kg_events_parse_info(NULL, 5, &ev));
}

static void
test_info_field_errors(void **state)
{
  static const struct {
    const char *in;
    const char *err;
  } cases[] = {
    { "0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: hresult is not 0x and 1 to 8 hex digits" },
    { "0x, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: hresult is not 0x and 1 to 8 hex digits" },
    { "0x1C004F038, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: hresult is not 0x and 1 to 8 hex digits" },
    { "0xC004F03G, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: hresult is not 0x and 1 to 8 hex digits" },
    { "0x0, 24, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: required count is not 25 or 5" },
    { "0x0, 025, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: required count is not 25 or 5" },
    { "0x0, , a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: required count is not 25 or 5" },
    { "0x0, 25, , " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client name is empty" },
    { "0x0, 25, a b.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client name has a space, control or non-ASCII character" },
    { "0x0, 25, caf\xc3\xa9.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client name has a space, control or non-ASCII character" },
    { "0x0, 25, a\x01.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client name has a space, control or non-ASCII character" },
    { "0x0, 25, a.example, 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f1, 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: cmid is not a GUID" },
    { "0x0, 25, a.example, 6a1f2c7e0b4d4f0e9a552b7d3c1e9f10, 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: cmid is not a GUID" },
    { "0x0, 25, a.example, " CMID_001 ", 2026-11-20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not yyyy/m/d h:mm" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:4, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not yyyy/m/d h:mm" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14:03, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not yyyy/m/d h:mm" },
    { "0x0, 25, a.example, " CMID_001 ", 26/11/20 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not yyyy/m/d h:mm" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not yyyy/m/d h:mm" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/209:14, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not yyyy/m/d h:mm" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14 PM, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not yyyy/m/d h:mm" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/2/29 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not a valid date and time" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/13/1 9:14, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not a valid date and time" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 24:00, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not a valid date and time" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:60, 1, 1, 259200, " WIN_ACT,
      "info string: client timestamp is not a valid date and time" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 2, 1, 259200, " WIN_ACT,
      "info string: VM flag is not 0 or 1" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, true, 1, 259200, " WIN_ACT,
      "info string: VM flag is not 0 or 1" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 7, 259200, " WIN_ACT,
      "info string: license status is not 0 to 6" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, -1, 259200, " WIN_ACT,
      "info string: license status is not 0 to 6" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, -5, " WIN_ACT,
      "info string: minutes until expiry is not a non-negative integer" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 2592 00, " WIN_ACT,
      "info string: minutes until expiry is not a non-negative integer" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 9223372036854775808, " WIN_ACT,
      "info string: minutes until expiry is not a non-negative integer" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, , " WIN_ACT,
      "info string: minutes until expiry is not a non-negative integer" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, Windows",
      "info string: activation ID is not a GUID" },
    { "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, ",
      "info string: activation ID is not a GUID" },
  };
  struct kg_event ev;

  (void) state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *err = info(cases[i].in, &ev);

    if (NULL == err || 0 != strcmp(err, cases[i].err))
      fail_msg("case %zu \"%s\": got \"%s\", want \"%s\"", i, cases[i].in, err ? err : "(accepted)",
               cases[i].err);
  }
}

static void
test_info_limits(void **state)
{
  struct kg_event ev;
  char name[300];
  char line[600];

  (void) state;
  memset(name, 'a', sizeof name);
  name[253] = '\0';
  snprintf(line, sizeof line, "0x0, 25, %s, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
           name);
  assert_null(info(line, &ev));
  assert_int_equal(253, strlen(ev.client));
  kg_event_clear(&ev);
  name[253] = 'a';
  name[254] = '\0';
  snprintf(line, sizeof line, "0x0, 25, %s, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, " WIN_ACT,
           name);
  assert_string_equal("info string: client name is longer than 253 characters", info(line, &ev));

  assert_null(info(
    "0xFFFFFFFF, 5, a, " CMID_001 ", 2028/2/29 23:59, 0, 0, 9223372036854775807, " WIN_ACT, &ev));
  assert_int_equal(0xFFFFFFFFu, ev.hresult);
  assert_int_equal(INT64_MAX, ev.minutes_to_expiry);
  kg_event_clear(&ev);
  assert_null(
    info("0x00000000, 5, a, " CMID_001 ", 2026/12/31 0:00, 0, 0, 000259200, " WIN_ACT, &ev));
  assert_int_equal(259200, ev.minutes_to_expiry);
  kg_event_clear(&ev);
}

static void
test_info_embedded_nul(void **state)
{
  static const char base[] = INFO_001;
  struct kg_event ev;

  (void) state;
  for (size_t i = 0; i < sizeof base - 1; i++) {
    char *copy = malloc(sizeof base - 1);
    const char *err;

    assert_non_null(copy);
    memcpy(copy, base, sizeof base - 1);
    copy[i] = '\0';
    memset(&ev, 0, sizeof ev);
    err = kg_events_parse_info(copy, sizeof base - 1, &ev);
    free(copy);
    /* a NUL is never trimmed, so it must break whichever field holds it */
    assert_non_null(err);
    assert_null(ev.client);
  }
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/** The 4 records of events.json / events.ndjson. */
static void
check_json_records(const struct kg_events_batch *b)
{
  const struct kg_event *e = b->events;

  assert_int_equal(4, b->n_records);
  assert_int_equal(4, b->n_events);
  assert_int_equal(0, b->n_rejected);

  assert_string_equal(CMID_001, e[0].cmid);
  assert_string_equal("vdi-p1-001.corp.example", e[0].client);
  assert_int_equal(T_0914 * 1000000 + 123456, e[0].requested_at_us);
  assert_true(e[0].has_hresult && 0 == e[0].hresult);
  assert_true(e[0].has_required_count && 25 == e[0].required_count);
  assert_true(e[0].has_is_vm && e[0].is_vm);
  assert_true(e[0].has_license_status && 1 == e[0].license_status);
  assert_true(e[0].has_minutes_to_expiry && 259200 == e[0].minutes_to_expiry);
  assert_true(e[0].has_activation_id);
  assert_string_equal(WIN_ACT, e[0].activation_id);

  /* uppercase CMID, integer hresult, is_vm 1, +01:00 offset */
  assert_string_equal("0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f", e[1].cmid);
  assert_int_equal(1795164700LL * 1000000 + 555000, e[1].requested_at_us);
  assert_true(e[1].has_hresult && 0 == e[1].hresult);
  assert_true(e[1].has_is_vm && e[1].is_vm);

  /* braced CMID; only required_count among the optional fields */
  assert_string_equal("3f2504e0-4f89-11d3-9a0c-0305e82c3301", e[2].cmid);
  assert_int_equal(1795159812LL * 1000000, e[2].requested_at_us);
  assert_true(e[2].has_required_count && 5 == e[2].required_count);
  assert_false(e[2].has_hresult);
  assert_false(e[2].has_is_vm);
  assert_false(e[2].has_license_status);
  assert_false(e[2].has_minutes_to_expiry);
  assert_false(e[2].has_activation_id);

  assert_int_equal(0xC004F038u, e[3].hresult);
  assert_int_equal(2, e[3].license_status);
  assert_int_equal(41760, e[3].minutes_to_expiry);
  assert_int_equal(1795129375LL * 1000000 + 700000, e[3].requested_at_us);
}

static void
test_json_fixture(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("events.json", &len);

  (void) state;
  assert_int_equal(0, parse_bytes(KG_EVENTS_JSON, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  check_json_records(&b);
  kg_events_batch_free(&b);
  assert_null(b.events);
  assert_int_equal(0, b.n_events);
  kg_events_batch_free(&b); /* twice is harmless */
  kg_events_batch_free(NULL);
  free(body);
}

/* clang-format off */
#define J_GOOD "{\"cmid\":\"" CMID_001 "\",\"client\":\"vdi-p1-001.corp.example\",\"requested_at\":\"2026-11-20T09:14:03Z\"}"
#define J_WITH(extra) "{\"cmid\":\"" CMID_001 "\",\"client\":\"vdi-p1-001.corp.example\",\"requested_at\":\"2026-11-20T09:14:03Z\"," extra "}"
/* clang-format on */

static void
test_json_optional_forms(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_JSON,
           "[" J_GOOD ","
           J_WITH("\"hresult\":\"0xc004f038\",\"is_vm\":false,\"license_status\":0,\"minutes_to_expiry\":0") ","
           J_WITH("\"hresult\":3221549112,\"is_vm\":0") ","
           J_WITH("\"hresult\":null,\"required_count\":null,\"is_vm\":null,\"license_status\":null,"
                  "\"minutes_to_expiry\":null,\"activation_id\":null") ","
    /* clang-format on */
    J_WITH(
      "\"hresult\":\"0XFFFFFFFF\",\"is_vm\":true,\"activation_id\":\"{4DE7CB65-CDF1-4DE9-8AE8-E3CCE27B9F2C}\"") "]",
    &b);
  assert_int_equal(5, b.n_events);
  assert_false(b.events[0].has_hresult);
  assert_false(b.events[0].has_required_count);
  assert_int_equal(T_0914 * 1000000, b.events[0].requested_at_us);
  assert_true(b.events[1].has_hresult);
  assert_int_equal(0xC004F038u, b.events[1].hresult);
  assert_true(b.events[1].has_is_vm);
  assert_false(b.events[1].is_vm);
  assert_true(b.events[1].has_license_status);
  assert_int_equal(0, b.events[1].license_status);
  assert_true(b.events[1].has_minutes_to_expiry);
  assert_int_equal(0xC004F038u, b.events[2].hresult);
  assert_true(b.events[2].has_is_vm);
  assert_false(b.events[2].is_vm);
  assert_false(b.events[3].has_hresult);
  assert_false(b.events[3].has_is_vm);
  assert_false(b.events[3].has_activation_id);
  assert_int_equal(0xFFFFFFFFu, b.events[4].hresult);
  assert_true(b.events[4].is_vm);
  assert_string_equal(WIN_ACT, b.events[4].activation_id);
  kg_events_batch_free(&b);
}

/**
 * Clock skew: with the service's clock at 2026-11-20T09:14:03Z, a record
 * 10 minutes ahead is kept, one 10 minutes and 1 second ahead is rejected
 * naming the skew, and the rejections stay ordered by index.
 */
static void
test_reject_future(void **state)
{
  /* clang-format off */
  const char *body =
    "{\"cmid\":\"" CMID_001 "\",\"client\":\"a\",\"requested_at\":\"2026-11-20T09:24:04Z\"}\n"
    "{\"cmid\":\"bad\",\"client\":\"b\",\"requested_at\":\"2026-11-20T09:14:03Z\"}\n"
    "{\"cmid\":\"" CMID_001 "\",\"client\":\"c\",\"requested_at\":\"2026-11-20T09:24:03Z\"}\n";
  /* clang-format on */
  struct kg_events_batch b;
  int64_t now_us = (int64_t) 1795166043 * 1000000; /* 2026-11-20T09:14:03Z */

  (void) state;
  parse_ok(KG_EVENTS_NDJSON, body, &b);
  assert_int_equal(2, b.n_events);
  assert_int_equal(0, kg_events_reject_future(&b, now_us));
  assert_int_equal(1, b.n_events);
  assert_string_equal("c", b.events[0].client);
  assert_int_equal(2, b.events[0].index);
  assert_int_equal(2, b.n_rejected);
  assert_int_equal(0, b.rejected[0].index);
  /* clang-format off */
  assert_string_equal("requested_at: 601 s ahead of the service's clock "
                      "(more than 600 s of clock skew: check the KMS host's time)",
                      /* clang-format on */
                      b.rejected[0].error);
  assert_int_equal(1, b.rejected[1].index);
  kg_events_batch_free(&b);
}

static void
test_json_record_errors(void **state)
{
  static const struct {
    const char *rec;
    const char *err;
  } cases[] = {
    /* clang-format off */
    { "{\"client\":\"a\",\"requested_at\":\"2026-11-20T09:14:03Z\"}", "cmid: missing" },
    { "{\"cmid\":5,\"client\":\"a\",\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "cmid: not a string" },
    { "{\"cmid\":null,\"client\":\"a\",\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "cmid: not a string" },
    { "{\"cmid\":\"6a1f2c7e\",\"client\":\"a\",\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "cmid: not a GUID" },
    { "{\"cmid\":\"" CMID_001 "\",\"requested_at\":\"2026-11-20T09:14:03Z\"}", "client: missing" },
    { "{\"cmid\":\"" CMID_001 "\",\"client\":[],\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "client: not a string" },
    { "{\"cmid\":\"" CMID_001 "\",\"client\":\"\",\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "client: empty" },
    { "{\"cmid\":\"" CMID_001 "\",\"client\":\"a,b\",\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "client: has a space, comma, control or non-ASCII character" },
    { "{\"cmid\":\"" CMID_001
      "\",\"client\":\"a\\u0000b\",\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "client: has a space, comma, control or non-ASCII character" },
    { "{\"cmid\":\"" CMID_001
      "\",\"client\":\"caf\\u00e9\",\"requested_at\":\"2026-11-20T09:14:03Z\"}",
      "client: has a space, comma, control or non-ASCII character" },
    { "{\"cmid\":\"" CMID_001 "\",\"client\":\"a\"}", "requested_at: missing" },
    { "{\"cmid\":\"" CMID_001 "\",\"client\":\"a\",\"requested_at\":1795166043}",
      "requested_at: not a string" },
    { "{\"cmid\":\"" CMID_001 "\",\"client\":\"a\",\"requested_at\":\"2026-11-20 09:14\"}",
      "requested_at: not an RFC 3339 date-time" },
    { J_WITH("\"hresult\":\"0x123456789\""), "hresult: not 0x and 1 to 8 hex digits" },
    { J_WITH("\"hresult\":\"C004F038\""), "hresult: not 0x and 1 to 8 hex digits" },
    { J_WITH("\"hresult\":-1073418184"), "hresult: out of range 0 to 0xFFFFFFFF" },
    { J_WITH("\"hresult\":4294967296"), "hresult: out of range 0 to 0xFFFFFFFF" },
    { J_WITH("\"hresult\":0.0"), "hresult: not a 0x hex string or an integer" },
    { J_WITH("\"required_count\":50"), "required_count: not 25 or 5" },
    { J_WITH("\"required_count\":\"25\""), "required_count: not 25 or 5" },
    { J_WITH("\"required_count\":25.0"), "required_count: not 25 or 5" },
    { J_WITH("\"is_vm\":2"), "is_vm: not a boolean, 0 or 1" },
    { J_WITH("\"is_vm\":\"true\""), "is_vm: not a boolean, 0 or 1" },
    { J_WITH("\"license_status\":7"), "license_status: not an integer 0 to 6" },
    { J_WITH("\"license_status\":-1"), "license_status: not an integer 0 to 6" },
    { J_WITH("\"minutes_to_expiry\":-1"), "minutes_to_expiry: not a non-negative integer" },
    { J_WITH("\"minutes_to_expiry\":\"10\""), "minutes_to_expiry: not a non-negative integer" },
    { J_WITH("\"activation_id\":\"Windows\""), "activation_id: not a GUID" },
    { J_WITH("\"activation_id\":7"), "activation_id: not a string" },
    { J_WITH("\"foo\":1"), "unknown field 'foo'" },
    { J_WITH("\"CMID\":\"x\""), "unknown field 'CMID'" },
    { J_WITH("\"a\\tb\\n\\u00e9'\":1"), "unknown field 'a?b?"
                                        "?"
                                        "?''" },
    /* clang-format on */
    { J_WITH("\"0123456789012345678901234567890123456789toolong\":1"),
      "unknown field '0123456789012345678901234567890123456789...'" },
    /* an unknown field is reported before a missing one */
    { "{\"host\":\"kms01\"}", "unknown field 'host'" },
    { "[]", "record: not a JSON object" },
    { "\"" CMID_001 "\"", "record: not a JSON object" },
    { "null", "record: not a JSON object" },
  };

  (void) state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char body[1024];
    struct kg_events_batch b;

    snprintf(body, sizeof body, "[%s]", cases[i].rec);
    parse_ok(KG_EVENTS_JSON, body, &b);
    assert_int_equal(1, b.n_records);
    if (1 != b.n_rejected || 0 != strcmp(cases[i].err, b.rejected[0].error))
      fail_msg("case %zu %s: got \"%s\", want \"%s\"", i, cases[i].rec,
               b.n_rejected ? b.rejected[0].error : "(accepted)", cases[i].err);
    assert_int_equal(0, b.rejected[0].index);
    kg_events_batch_free(&b);
  }
}

static void
test_json_mixed_indexes(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_JSON,
           "[" J_GOOD ", 42, " J_WITH("\"foo\":1") ","
           "{\"cmid\":\"6A1F2C7E-0B4D-4F0E-9A55-2B7D3C1E9F10\",\"client\":\"b.example\","
           "\"requested_at\":\"2026-12-01T01:00:00+01:00\"},"
    /* clang-format on */
    J_WITH("\"required_count\":24") ", [], " J_GOOD "]",
    &b);
  assert_int_equal(7, b.n_records);
  assert_int_equal(3, b.n_events);
  assert_int_equal(4, b.n_rejected);
  assert_rejected(&b, 0, 1, "record: not a JSON object");
  assert_rejected(&b, 1, 2, "unknown field 'foo'");
  assert_rejected(&b, 2, 4, "required_count: not 25 or 5");
  assert_rejected(&b, 3, 5, "record: not a JSON object");
  assert_string_equal(CMID_001, b.events[1].cmid); /* uppercase normalized */
  assert_string_equal("b.example", b.events[1].client);
  assert_int_equal(1796083200LL * 1000000, b.events[1].requested_at_us);
  kg_events_batch_free(&b);
}

static void
test_json_whole_body(void **state)
{
  struct kg_events_batch b;

  (void) state;
  assert_string_equal("body is not valid JSON", parse_refused(KG_EVENTS_JSON, ""));
  assert_string_equal("body is not valid JSON", parse_refused(KG_EVENTS_JSON, "["));
  assert_string_equal("body is not valid JSON", parse_refused(KG_EVENTS_JSON, "[1,]"));
  assert_string_equal("body is not valid JSON", parse_refused(KG_EVENTS_JSON, "[" J_GOOD));
  assert_string_equal("body is not valid JSON", parse_refused(KG_EVENTS_JSON, "[" J_GOOD "] x"));
  assert_string_equal("body is not a JSON array", parse_refused(KG_EVENTS_JSON, "\"x\""));
  assert_string_equal("body is not a JSON array", parse_refused(KG_EVENTS_JSON, " 42\n"));
  assert_string_equal("body is not a JSON array", parse_refused(KG_EVENTS_JSON, J_GOOD));
  assert_string_equal("body is not valid JSON: an object has a duplicate key",
                      parse_refused(KG_EVENTS_JSON, "[{\"cmid\":\"a\",\"cmid\":\"b\"}]"));
  /* jansson cannot hold a NUL in a key (it can in a string value) */
  assert_string_equal("body is not valid JSON: an object key holds a NUL",
                      parse_refused(KG_EVENTS_JSON, "[{\"a\\u0000b\":1}]"));
  parse_ok(KG_EVENTS_JSON, "[]", &b);
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  parse_ok(KG_EVENTS_JSON, "\xEF\xBB\xBF [ " J_GOOD " ]\r\n", &b);
  assert_int_equal(1, b.n_events);
  kg_events_batch_free(&b);
}

static void
test_json_embedded_nul(void **state)
{
  static const char body[] = "[" J_GOOD "]";
  struct kg_events_batch b;
  const char *err;

  (void) state;
  /* a raw NUL byte is not JSON anywhere in the body */
  for (size_t i = 0; i < sizeof body - 1; i++) {
    char copy[sizeof body];

    memcpy(copy, body, sizeof body);
    copy[i] = '\0';
    assert_int_equal(
      -1, parse_bytes(KG_EVENTS_JSON, copy, sizeof body - 1, KG_EVENTS_MAX_RECORDS, &b, &err));
  }
}

static void
test_max_records(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  const char *json3 = "[" J_GOOD "," J_GOOD ",1]";
  /* clang-format off */
  const char *nd3 = J_GOOD "\n\n" J_GOOD "\r\n"
                           "x\n";
  /* clang-format on */
  /* clang-format off */
  const char *csv3 = "TimeCreated,Message\n"
                     "2026-11-20T09:14:03Z,\"" INFO_001 "\"\n"
                     "2026-11-20T09:14:03Z,\"" INFO_001 "\"\n"
                     "bad,bad\n";
  /* clang-format on */

  (void) state;
  assert_int_equal(-1, parse_bytes(KG_EVENTS_JSON, json3, strlen(json3), 2, &b, &err));
  assert_string_equal("too many records", err);
  assert_int_equal(0, parse_bytes(KG_EVENTS_JSON, json3, strlen(json3), 3, &b, &err));
  assert_int_equal(3, b.n_records);
  kg_events_batch_free(&b);

  assert_int_equal(-1, parse_bytes(KG_EVENTS_NDJSON, nd3, strlen(nd3), 2, &b, &err));
  assert_string_equal("too many records", err);
  assert_int_equal(0, parse_bytes(KG_EVENTS_NDJSON, nd3, strlen(nd3), 3, &b, &err));
  assert_int_equal(3, b.n_records);
  assert_int_equal(2, b.n_events);
  kg_events_batch_free(&b);

  assert_int_equal(-1, parse_bytes(KG_EVENTS_CSV, csv3, strlen(csv3), 2, &b, &err));
  assert_string_equal("too many records", err);
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, csv3, strlen(csv3), 3, &b, &err));
  assert_int_equal(3, b.n_records);
  kg_events_batch_free(&b);

  assert_int_equal(-1, parse_bytes(KG_EVENTS_JSON, json3, strlen(json3), 0, &b, &err));
  assert_int_equal(0, parse_bytes(KG_EVENTS_JSON, "[]", 2, 0, &b, &err));
  kg_events_batch_free(&b);
}

/* ------------------------------------------------------------------ */
/* NDJSON                                                              */
/* ------------------------------------------------------------------ */

static void
test_ndjson_fixture(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("events.ndjson", &len);

  (void) state;
  assert_int_equal(0, parse_bytes(KG_EVENTS_NDJSON, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  check_json_records(&b);
  kg_events_batch_free(&b);
  free(body);
}

/** events-mixed.ndjson: CRLF, a blank line, a broken line and bad records. */
static void
test_ndjson_mixed_fixture(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("events-mixed.ndjson", &len);

  (void) state;
  assert_int_equal(0, parse_bytes(KG_EVENTS_NDJSON, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_int_equal(6, b.n_records);
  assert_int_equal(2, b.n_events);
  assert_int_equal(4, b.n_rejected);
  assert_string_equal(CMID_001, b.events[0].cmid);
  assert_string_equal("8b1e4f2a-3c5d-4e6f-8a9b-0c1d2e3f4a5b", b.events[1].cmid);
  /* the line is cut inside a string; its CR counts as a byte read */
  assert_rejected(&b, 0, 1, "record: not valid JSON (at byte 119 of the line)");
  assert_rejected(&b, 1, 2, "unknown field 'host'");
  assert_rejected(&b, 2, 3, "record: not a JSON object");
  assert_rejected(&b, 3, 5, "requested_at: missing");
  kg_events_batch_free(&b);
  free(body);
}

static void
test_ndjson_lines(void **state)
{
  struct kg_events_batch b;

  (void) state;
  parse_ok(KG_EVENTS_NDJSON, "", &b);
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  parse_ok(KG_EVENTS_NDJSON, "\r\n \t\r\n\n", &b);
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  /* no final newline; blank and CRLF lines take no index */
  parse_ok(KG_EVENTS_NDJSON, "\xEF\xBB\xBF\r\n" J_GOOD "\r\n  \r\n{\"cmid\":\n" J_GOOD, &b);
  assert_int_equal(3, b.n_records);
  assert_int_equal(2, b.n_events);
  assert_int_equal(1, b.n_rejected);
  assert_int_equal(1, b.rejected[0].index);
  assert_string_equal("record: not valid JSON (at byte 8 of the line)", b.rejected[0].error);
  kg_events_batch_free(&b);
  /* a JSON array on one line is one record, not many */
  parse_ok(KG_EVENTS_NDJSON, "[" J_GOOD "]\n{\"a\":1,\"a\":2}\n42\n", &b);
  assert_int_equal(3, b.n_records);
  assert_rejected(&b, 0, 0, "record: not a JSON object");
  assert_rejected(&b, 1, 1, "record: duplicate key");
  assert_rejected(&b, 2, 2, "record: not a JSON object");
  kg_events_batch_free(&b);
  /* two objects on one line are not one JSON value */
  parse_ok(KG_EVENTS_NDJSON, J_GOOD " " J_GOOD "\n", &b);
  assert_int_equal(1, b.n_rejected);
  kg_events_batch_free(&b);
}

static void
test_ndjson_embedded_nul(void **state)
{
  static const char body[] = J_GOOD "\n" J_GOOD "\n";
  struct kg_events_batch b;
  const char *err;

  (void) state;
  for (size_t i = 0; i < sizeof body - 1; i++) {
    char copy[sizeof body];

    memcpy(copy, body, sizeof body);
    copy[i] = '\0';
    assert_int_equal(
      0, parse_bytes(KG_EVENTS_NDJSON, copy, sizeof body - 1, KG_EVENTS_MAX_RECORDS, &b, &err));
    /* the NUL spoils exactly the line that holds it; in place of the
       first newline it joins both lines into one bad record */
    if (i == strlen(J_GOOD)) {
      assert_int_equal(1, b.n_records);
      assert_int_equal(0, b.n_events);
    } else {
      assert_int_equal(2, b.n_records);
      assert_int_equal(1, b.n_events);
      assert_int_equal((i < strlen(J_GOOD)) ? 0 : 1, b.rejected[0].index);
    }
    kg_events_batch_free(&b);
  }
}

/* ------------------------------------------------------------------ */
/* CSV                                                                 */
/* ------------------------------------------------------------------ */

static void
test_csv_ps5_fixture(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("kms-export-ps5.csv", &len);

  (void) state;
  /* as PowerShell 5 writes it: BOM, #TYPE line, CRLF everywhere */
  assert_int_equal(0, memcmp(body, "\xEF\xBB\xBF#TYPE ", 9));
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  check_export_records(&b);
  kg_events_batch_free(&b);
  free(body);
}

static void
test_csv_ps7_fixture(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("kms-export-ps7.csv", &len);

  (void) state;
  assert_int_equal(0, memcmp(body, "\"TimeCreated\",\"Message\"\r\n", 25));
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  check_export_records(&b);
  kg_events_batch_free(&b);
  free(body);
}

static void
test_csv_mixed_fixture(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("kms-export-mixed.csv", &len);

  (void) state;
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_int_equal(6, b.n_records);
  assert_int_equal(3, b.n_events);
  assert_int_equal(3, b.n_rejected);
  assert_rejected(&b, 0, 1, "info string: cmid is not a GUID");
  assert_rejected(&b, 1, 3, "info string: expected 9 fields, got 8");
  assert_rejected(
    &b, 2, 4,
    "TimeCreated: a culture's date (PowerShell's ToString()): say the culture with the query parameter culture (en-US or invariant) and the zone with time_zone or utc_offset");
  assert_string_equal(CMID_001, b.events[0].cmid);
  assert_string_equal("3f2504e0-4f89-11d3-9a0c-0305e82c3301", b.events[1].cmid);
  assert_string_equal(CMID_001, b.events[2].cmid);
  kg_events_batch_free(&b);
  free(body);
}

/** kms-export-generated.csv: scripts/gen-events.py --seed 1 --broken 3 (see fixtures/README.md). */
static void
test_csv_generated_fixture(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("kms-export-generated.csv", &len);

  (void) state;
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_int_equal(147, b.n_records);
  assert_int_equal(144, b.n_events);
  assert_int_equal(3, b.n_rejected);
  assert_rejected(
    &b, 0, 0,
    "TimeCreated: a culture's date (PowerShell's ToString()): say the culture with the query parameter culture (en-US or invariant) and the zone with time_zone or utc_offset");
  assert_rejected(&b, 1, 15, "info string: expected 9 fields, got 8");
  assert_rejected(&b, 2, 50, "info string: cmid is not a GUID");
  /* newest first, as Get-WinEvent lists them */
  for (size_t i = 1; i < b.n_events; i++)
    assert_true(b.events[i - 1].requested_at_us >= b.events[i].requested_at_us);
  kg_events_batch_free(&b);
  free(body);
}

static void
test_csv_lf_reordered_columns(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* LF line ends, other columns, any order and case, unquoted cells */
  /* clang-format off */
  parse_ok(KG_EVENTS_CSV,
           "Id,message,LevelDisplayName, TIMECREATED \n"
           "12290,\"An activation request has been processed.\nInfo:\n" INFO_001 "\n\",Information,"
           "2026-11-20T10:14:03.5+01:00\n"
           "12290," "0x0;25" ",Information,2026-11-20T09:14:03Z\n"
           "12290,\"" INFO_001 "\",Information,2026-11-20T09:14:03Z", &b);
  /* clang-format on */
  assert_int_equal(3, b.n_records);
  assert_int_equal(2, b.n_events);
  assert_int_equal(T_0914 * 1000000 + 500000, b.events[0].requested_at_us);
  assert_string_equal("vdi-p1-001.corp.example", b.events[0].client);
  assert_int_equal(T_0914 * 1000000, b.events[1].requested_at_us);
  assert_rejected(&b, 0, 1, "info string: expected 9 fields, got 1");
  kg_events_batch_free(&b);
}

static void
test_csv_quoting(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* "" escapes, commas and CR/LF/CRLF inside a quoted Message; the info
     string is the last non-empty line, with trailing blank lines */
  /* clang-format off */
  parse_ok(KG_EVENTS_CSV,
           "\"TimeCreated\",\"Message\"\r\n"
           "\"2026-11-20T09:14:03Z\",\"He said \"\"hi\"\", twice,\rthen\n" INFO_001 "  \r\n \r\n\"\r\n"
           "\"2026-11-20T09:14:03Z\",\"\"\"" "\r\n" INFO_001 "\"\r\n", &b);
  /* clang-format on */
  assert_int_equal(2, b.n_records);
  assert_int_equal(2, b.n_events);
  assert_string_equal(CMID_001, b.events[0].cmid);
  assert_string_equal(CMID_001, b.events[1].cmid);
  kg_events_batch_free(&b);
}

static void
test_csv_row_errors(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* clang-format off */
  parse_ok(KG_EVENTS_CSV,
           "\"TimeCreated\",\"Message\"\r\n"
           "\"2026-11-20T09:14:03Z\"\r\n"                                 /* 0: 1 column */
           "\"2026-11-20T09:14:03Z\",\"" INFO_001 "\",\"x\"\r\n"          /* 1: 3 columns */
           "\"2026-11-20 09:14\",\"" INFO_001 "\"\r\n"                    /* 2: bad time */
           "\"2026-11-20T09:14:03Z\",\"  \r\n\r\n\"\r\n"                  /* 3: empty message */
           "\"2026-11-20T09:14:03Z\",\"" INFO_001 "\"x\r\n"               /* 4: junk after quote */
           "\"2026-11-20T09:14:03Z\",\"" PREAMBLE "0x0, 25, a.example, " CMID_001 ", 2026/11/20 9:14, 1, 1, 259200, nope\"\r\n"
           "\"2026-11-20T09:14:03Z\",\"" INFO_001 "\"\r\n"                /* 6: good */
           "\"2026-11-20T09:14:03Z\",\"" PREAMBLE "0x0, 25", &b);         /* 7: unterminated */
  /* clang-format on */
  assert_int_equal(8, b.n_records);
  assert_int_equal(1, b.n_events);
  assert_int_equal(7, b.n_rejected);
  assert_rejected(&b, 0, 0, "row: 1 column, expected 2");
  assert_rejected(&b, 1, 1, "row: 3 columns, expected 2");
  assert_rejected(&b, 2, 2, "TimeCreated: not an RFC 3339 date-time");
  assert_rejected(&b, 3, 3, "Message: empty");
  assert_rejected(&b, 4, 4, "row: text after a closing quote");
  assert_rejected(&b, 5, 5, "info string: activation ID is not a GUID");
  assert_rejected(&b, 6, 7, "row: unterminated quoted field");
  kg_events_batch_free(&b);

  /* an unterminated quote swallows the rest: one last record, rejected */
  /* clang-format off */
  parse_ok(KG_EVENTS_CSV,
           "TimeCreated,Message\n"
           "2026-11-20T09:14:03Z,\"" INFO_001 "\"\n"
           "2026-11-20T09:14:03Z,\"" INFO_001 "\n"
           "2026-11-20T09:14:03Z,x\n", &b);
  /* clang-format on */
  assert_int_equal(2, b.n_records);
  assert_int_equal(1, b.n_events);
  assert_rejected(&b, 0, 1, "row: unterminated quoted field");
  kg_events_batch_free(&b);
}

static void
test_csv_header(void **state)
{
  struct kg_events_batch b;
  const char *missing = "CSV header must name the TimeCreated and Message columns";

  (void) state;
  assert_string_equal("CSV body has no header row", parse_refused(KG_EVENTS_CSV, ""));
  assert_string_equal("CSV body has no header row", parse_refused(KG_EVENTS_CSV, "\xEF\xBB\xBF"));
  assert_string_equal(
    "CSV body has no header row",
    parse_refused(KG_EVENTS_CSV, "#TYPE System.Management.Automation.PSCustomObject\r\n"));
  assert_string_equal("CSV body has no header row", parse_refused(KG_EVENTS_CSV, "\r\n\r\n"));
  assert_string_equal(missing, parse_refused(KG_EVENTS_CSV, "\"TimeCreated\"\r\n"));
  assert_string_equal(missing, parse_refused(KG_EVENTS_CSV, "\"TimeCreated\",\"Msg\"\r\n"));
  assert_string_equal(missing, parse_refused(KG_EVENTS_CSV, "Time Created,Message\r\n"));
  assert_string_equal(missing, parse_refused(KG_EVENTS_CSV, "[" J_GOOD "]"));
  /* without the #TYPE skip, the type line is taken for the header */
  assert_string_equal(
    missing,
    parse_refused(KG_EVENTS_CSV, "\xEF\xBB\xBF #TYPE x\r\n\"TimeCreated\",\"Message\"\r\n"));
  assert_string_equal("CSV header has an unterminated quoted field",
                      parse_refused(KG_EVENTS_CSV, "\"TimeCreated\",\"Message"));
  assert_string_equal("CSV header has text after a closing quote",
                      parse_refused(KG_EVENTS_CSV, "\"TimeCreated\",\"Message\"s\r\n"));
  /* a header alone is a valid, empty export */
  /* clang-format off */
  parse_ok(KG_EVENTS_CSV, "\xEF\xBB\xBF#TYPE Selected.System.Diagnostics.Eventing.Reader.EventLogRecord\r\n"
                          "\"TimeCreated\",\"Message\"\r\n", &b);
  /* clang-format on */
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  parse_ok(KG_EVENTS_CSV, "timecreated,MESSAGE", &b);
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
}

static void
test_csv_empty_lines_and_cr(void **state)
{
  struct kg_events_batch b;

  (void) state;
  /* empty lines anywhere take no index; a lone CR ends a line too */
  /* clang-format off */
  parse_ok(KG_EVENTS_CSV,
           "\r\n\"TimeCreated\",\"Message\"\r\n\r\n"
           "\"2026-11-20T09:14:03Z\",\"" INFO_001 "\"\r\n\n\r"
           "bad,\"" INFO_001 "\"\r"
           "\"2026-11-20T09:14:03Z\",\"" INFO_001 "\"\r\n\r\n", &b);
  /* clang-format on */
  assert_int_equal(3, b.n_records);
  assert_int_equal(2, b.n_events);
  assert_rejected(&b, 0, 1, "TimeCreated: not an RFC 3339 date-time");
  kg_events_batch_free(&b);
}

static void
test_csv_embedded_nul(void **state)
{
  struct kg_events_batch b;
  const char *err;
  /* clang-format off */
  static const char body[] = "\"TimeCreated\",\"Message\"\r\n"
                             "\"2026-11-20T09:14:03Z\",\"" PREAMBLE INFO_001 "\"\r\n";
  /* clang-format on */
  size_t header = strlen("\"TimeCreated\",\"Message\"\r\n");
  size_t time_at = header;          /* opening quote of TimeCreated */
  size_t info_at = header + 20 + 4; /* first byte of the Message */

  (void) state;
  for (size_t i = 0; i < sizeof body - 1; i++) {
    char copy[sizeof body];
    int rc;

    memcpy(copy, body, sizeof body);
    copy[i] = '\0';
    rc = parse_bytes(KG_EVENTS_CSV, copy, sizeof body - 1, KG_EVENTS_MAX_RECORDS, &b, &err);
    if (i < header) {
      /* a NUL in the header spoils a column name, or the line end */
      assert_true(-1 == rc || 0 == b.n_events);
    } else if (i > time_at && i < time_at + 20) {
      assert_int_equal(1, b.n_records);
      assert_rejected(&b, 0, 0, "TimeCreated: not an RFC 3339 date-time");
    } else if (i >= info_at && i < info_at + strlen(PREAMBLE) - 1) {
      /* NULs in the preamble are harmless, except in place of the LF
         that ends it: the NUL then starts the info string's line */
      assert_int_equal(1, b.n_events);
    } else if (i >= info_at + strlen(PREAMBLE) - 1 && i < info_at + strlen(PREAMBLE INFO_001)) {
      assert_int_equal(1, b.n_records);
      assert_int_equal(1, b.n_rejected);
      assert_int_equal(0, strncmp("info string: ", b.rejected[0].error, 13));
    }
    /* NULs in place of quotes, comma or line end: invariants only */
    if (0 == rc)
      kg_events_batch_free(&b);
  }
}

/* ------------------------------------------------------------------ */
/* Robustness: truncations and mutations (a poor man's fuzzer)         */
/* ------------------------------------------------------------------ */

static void
parse_any(const char *data, size_t len)
{
  /* clang-format off */
  static const enum kg_events_format fmts[] = {
    KG_EVENTS_JSON, KG_EVENTS_NDJSON, KG_EVENTS_CSV
  };
  /* clang-format on */

  for (size_t f = 0; f < 3; f++) {
    struct kg_events_batch b;
    const char *err = NULL;

    if (0 == parse_bytes(fmts[f], data, len, 50, &b, &err))
      kg_events_batch_free(&b);
    else
      assert_non_null(err);
  }
}

static void
test_truncated_inputs(void **state)
{
  /* clang-format off */
  static const char *const names[] = {
    "kms-export-ps5.csv", "kms-export-mixed.csv", "events.json", "events-mixed.ndjson"
  };
  /* clang-format on */

  (void) state;
  for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
    size_t len;
    char *body = read_fixture(names[n], &len);

    for (size_t cut = 0; cut <= len; cut++)
      parse_any(body, cut);
    free(body);
  }
}

/**
 * A truncated PS5 export: the records before the cut are accepted as in the
 * full file; only the last, cut one may be rejected.
 */
static void
test_truncated_csv_records(void **state)
{
  struct kg_events_batch full;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture("kms-export-ps5.csv", &len);

  (void) state;
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, body, len, 100, &full, &err));
  for (size_t cut = 0; cut <= len; cut++) {
    struct kg_events_batch b;
    int rc = parse_bytes(KG_EVENTS_CSV, body, cut, 100, &b, &err);

    if (0 != rc)
      continue; /* cut inside the #TYPE line or the header */
    assert_true(b.n_records <= 6);
    assert_true(b.n_rejected <= 1);
    if (1 == b.n_rejected)
      assert_int_equal(b.n_records - 1, b.rejected[0].index);
    for (size_t i = 0; i < b.n_events; i++) {
      assert_string_equal(full.events[i].cmid, b.events[i].cmid);
      assert_string_equal(full.events[i].client, b.events[i].client);
      assert_int_equal(full.events[i].requested_at_us, b.events[i].requested_at_us);
      assert_int_equal(full.events[i].minutes_to_expiry, b.events[i].minutes_to_expiry);
    }
    kg_events_batch_free(&b);
  }
  kg_events_batch_free(&full);
  free(body);
}

/** Deterministic LCG so that a failure can be replayed. */
static uint32_t
lcg(uint64_t *s)
{
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t) (*s >> 33);
}

static void
test_random_mutations(void **state)
{
  /* clang-format off */
  static const char *const names[] = {
    "kms-export-ps5.csv", "events.json", "events-mixed.ndjson"
  };
  /* clang-format on */
  static const char specials[] = "\"\",\r\n\0{}[]:\\-0x9 \t\xEF\xBB\xBF\xff";
  uint64_t seed = 12290;

  (void) state;
  for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
    size_t len;
    char *orig = read_fixture(names[n], &len);
    char *buf = malloc(len + 64);

    assert_non_null(buf);
    for (int iter = 0; iter < 1500; iter++) {
      size_t blen = len;
      int edits = 1 + (int) (lcg(&seed) % 6);

      memcpy(buf, orig, len);
      for (int e = 0; e < edits; e++) {
        size_t pos = (0 == blen) ? 0 : lcg(&seed) % blen;
        uint32_t op = lcg(&seed) % 4;

        if (0 == op && blen > 0)
          buf[pos] = (char) lcg(&seed);
        else if (1 == op && blen > 0)
          buf[pos] = specials[lcg(&seed) % (sizeof specials - 1)];
        else if (2 == op && blen > 0) {
          memmove(buf + pos, buf + pos + 1, blen - pos - 1);
          blen--;
        } else if (blen < len + 63) {
          memmove(buf + pos + 1, buf + pos, blen - pos);
          buf[pos] = specials[lcg(&seed) % (sizeof specials - 1)];
          blen++;
        }
      }
      parse_any(buf, blen);
    }
    free(buf);
    free(orig);
  }
}

/* ------------------------------------------------------------------ */
/* Size and speed                                                      */
/* ------------------------------------------------------------------ */

/** Builds a PS5-style export of @a n records. */
static char *
build_csv(size_t n, size_t *len)
{
  /* clang-format off */
  static const char head[] = "\xEF\xBB\xBF#TYPE System.Management.Automation.PSCustomObject\r\n"
                             "\"TimeCreated\",\"Message\"\r\n";
  /* clang-format on */
  size_t cap = sizeof head + n * 400;
  char *buf = malloc(cap);
  size_t used = sizeof head - 1;

  assert_non_null(buf);
  memcpy(buf, head, used);
  for (size_t i = 0; i < n; i++) {
    /* clang-format off */
    int w = snprintf(buf + used, cap - used,
                     "\"2026-11-%02zuT%02zu:%02zu:03.1234567Z\",\"" PREAMBLE
                     "0x0, 25, vdi-p1-%05zu.corp.example, 6a1f2c7e-0b4d-4f0e-9a55-%012zx, "
                     "2026/11/20 9:14, 1, 1, 259200, " WIN_ACT "\"\r\n",
                     /* clang-format on */
                     1 + i % 28, i % 24, i % 60, i, i);

    assert_true(w > 0 && (size_t) w < cap - used);
    used += (size_t) w;
  }
  *len = used;
  return buf;
}

static void
test_csv_10000_records(void **state)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = build_csv(KG_EVENTS_MAX_RECORDS, &len);
  clock_t t0;
  double ms;

  (void) state;
  t0 = clock();
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  ms = 1000.0 * (double) (clock() - t0) / CLOCKS_PER_SEC;
  print_message("10,000 CSV records (%zu bytes) in %.1f ms\n", len, ms);
  assert_int_equal(KG_EVENTS_MAX_RECORDS, b.n_records);
  assert_int_equal(KG_EVENTS_MAX_RECORDS, b.n_events);
  assert_string_equal("6a1f2c7e-0b4d-4f0e-9a55-00000000270f", b.events[9999].cmid);
  assert_string_equal("vdi-p1-09999.corp.example", b.events[9999].client);
  kg_events_batch_free(&b);
  free(body);
  /* generous bound: sanitizers slow this down tenfold */
  assert_true(ms < 2000.0);

  body = build_csv(KG_EVENTS_MAX_RECORDS + 1, &len);
  assert_int_equal(-1, parse_bytes(KG_EVENTS_CSV, body, len, KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_string_equal("more than 10000 records", err);
  free(body);
}

/** Inputs built to trigger quadratic behaviour must stay linear. */
static void
test_pathological_shapes(void **state)
{
  const size_t n = 1u << 20;
  char *buf = malloc(n);
  struct kg_events_batch b;
  const char *err = NULL;
  clock_t t0 = clock();
  double ms;

  (void) state;
  assert_non_null(buf);
  /* a header row of 1 M commas */
  memset(buf, ',', n);
  assert_int_equal(-1, parse_bytes(KG_EVENTS_CSV, buf, n, KG_EVENTS_MAX_RECORDS, &b, &err));
  /* one field of 512 K escaped quotes */
  memcpy(buf, "TimeCreated,Message\n\"", 21);
  memset(buf + 21, '"', n - 21);
  assert_int_equal(0, parse_bytes(KG_EVENTS_CSV, buf, n, KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_int_equal(1, b.n_records);
  kg_events_batch_free(&b);
  /* 1 M newlines: blank lines everywhere */
  memset(buf, '\n', n);
  assert_int_equal(0, parse_bytes(KG_EVENTS_NDJSON, buf, n, KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_int_equal(0, b.n_records);
  kg_events_batch_free(&b);
  /* 512 K one-byte NDJSON lines: refused by the count, before any decoding */
  for (size_t i = 0; i < n; i += 2) {
    buf[i] = '1';
    buf[i + 1] = '\n';
  }
  assert_int_equal(-1, parse_bytes(KG_EVENTS_NDJSON, buf, n, KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_string_equal("more than 10000 records", err);
  ms = 1000.0 * (double) (clock() - t0) / CLOCKS_PER_SEC;
  print_message("pathological shapes in %.1f ms\n", ms);
  assert_true(ms < 5000.0);
  free(buf);
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_guid_normalize),
    cmocka_unit_test(test_info_with_spaces),
    cmocka_unit_test(test_info_without_spaces),
    cmocka_unit_test(test_info_tabs_case_and_braces),
    cmocka_unit_test(test_info_keeps_requested_at),
    cmocka_unit_test(test_info_field_count),
    cmocka_unit_test(test_info_field_errors),
    cmocka_unit_test(test_info_limits),
    cmocka_unit_test(test_info_embedded_nul),
    cmocka_unit_test(test_json_fixture),
    cmocka_unit_test(test_json_optional_forms),
    cmocka_unit_test(test_json_record_errors),
    cmocka_unit_test(test_reject_future),
    cmocka_unit_test(test_json_mixed_indexes),
    cmocka_unit_test(test_json_whole_body),
    cmocka_unit_test(test_json_embedded_nul),
    cmocka_unit_test(test_max_records),
    cmocka_unit_test(test_ndjson_fixture),
    cmocka_unit_test(test_ndjson_mixed_fixture),
    cmocka_unit_test(test_ndjson_lines),
    cmocka_unit_test(test_ndjson_embedded_nul),
    cmocka_unit_test(test_csv_ps5_fixture),
    cmocka_unit_test(test_csv_ps7_fixture),
    cmocka_unit_test(test_csv_mixed_fixture),
    cmocka_unit_test(test_csv_generated_fixture),
    cmocka_unit_test(test_csv_lf_reordered_columns),
    cmocka_unit_test(test_csv_quoting),
    cmocka_unit_test(test_csv_row_errors),
    cmocka_unit_test(test_csv_header),
    cmocka_unit_test(test_csv_empty_lines_and_cr),
    cmocka_unit_test(test_csv_embedded_nul),
    cmocka_unit_test(test_truncated_inputs),
    cmocka_unit_test(test_truncated_csv_records),
    cmocka_unit_test(test_random_mutations),
    cmocka_unit_test(test_csv_10000_records),
    cmocka_unit_test(test_pathological_shapes),
  };
  /* clang-format on */

  return cmocka_run_group_tests(tests, NULL, NULL);
}
