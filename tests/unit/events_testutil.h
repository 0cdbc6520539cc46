/**
 * @file events_testutil.h
 * @brief What the ingest parser tests share: fixtures, exact-length copies
 *        (so that AddressSanitizer catches any read past the end) and the
 *        invariants every accepted body must hold.  Include after cmocka.h.
 */
#ifndef KG_EVENTS_TESTUTIL_H
#define KG_EVENTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

/** The info string of the fixtures' newest event. */
/* clang-format off */
#define INFO_001 \
  "0x0, 25, vdi-p1-001.corp.example, 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10, " \
  "2026/11/20 9:14, 1, 1, 259200, 4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c"
/* clang-format on */
/** 2026-11-20T09:14:03Z, the fixtures' newest event, in Unix seconds (day 20777 + 33243 s). */
#define T_0914 1795166043LL
/** Unix seconds to microseconds. */
/* clang-format off */
#define US(s) ((int64_t) (s) * 1000000)
/* clang-format on */

/** Reads tests/fixtures/NAME, located from this source file's path. */
static inline char *
read_fixture(const char *name, size_t *len)
{
  char path[4096];
  const char *slash = strrchr(__FILE__, '/');
  FILE *f;
  char *buf;
  long size;

  if (NULL == slash)
    snprintf(path, sizeof path, "../fixtures/%s", name);
  else
    snprintf(path, sizeof path, "%.*s/../fixtures/%s", (int) (slash - __FILE__), __FILE__, name);
  f = fopen(path, "rb");
  if (NULL == f)
    fail_msg("cannot open fixture %s", path);
  assert_int_equal(0, fseek(f, 0, SEEK_END));
  size = ftell(f);
  assert_true(size >= 0);
  assert_int_equal(0, fseek(f, 0, SEEK_SET));
  buf = malloc((size_t) size + 1);
  assert_non_null(buf);
  assert_int_equal((size_t) size, fread(buf, 1, (size_t) size, f));
  fclose(f);
  *len = (size_t) size;
  return buf;
}

/** Invariants every successful batch must hold, whatever the input. */
static inline void
check_batch(const struct kg_events_batch *b)
{
  assert_int_equal(b->n_records, b->n_events + b->n_rejected + b->n_skipped);
  for (size_t i = 0; i < b->n_events; i++) {
    const struct kg_event *ev = &b->events[i];

    assert_int_equal(36, strlen(ev->cmid));
    assert_non_null(ev->client);
    assert_true(strlen(ev->client) >= 1 && strlen(ev->client) <= 253);
    if (ev->has_activation_id)
      assert_int_equal(36, strlen(ev->activation_id));
  }
  for (size_t i = 0; i < b->n_rejected; i++) {
    const char *e = b->rejected[i].error;

    assert_true(b->rejected[i].index < b->n_records);
    if (i > 0)
      assert_true(b->rejected[i].index > b->rejected[i - 1].index);
    assert_non_null(e);
    assert_true(strlen(e) > 0);
    for (const char *p = e; '\0' != *p; p++)
      assert_true(*p >= 0x20 && *p < 0x7f);
  }
}

/** Parses an exact-length heap copy of @a data. */
static inline int
parse_bytes(enum kg_events_format fmt, const char *data, size_t len, size_t max,
            struct kg_events_batch *b, const char **err)
{
  char *copy = malloc(len > 0 ? len : 1);
  int rc;

  assert_non_null(copy);
  if (len > 0)
    memcpy(copy, data, len);
  rc = kg_events_parse(fmt, copy, len, max, b, err);
  free(copy);
  if (0 == rc)
    check_batch(b);
  else
    assert_int_equal(0, b->n_records + b->n_events + b->n_rejected + b->n_skipped);
  return rc;
}

/** Parses a C string that must be accepted as a body. */
static inline void
parse_ok(enum kg_events_format fmt, const char *s, struct kg_events_batch *b)
{
  const char *err = NULL;

  if (0 != parse_bytes(fmt, s, strlen(s), KG_EVENTS_MAX_RECORDS, b, &err))
    fail_msg("body refused: %s", err);
}

/** Parses a C string that must be refused as a whole; returns the message. */
static inline const char *
parse_refused(enum kg_events_format fmt, const char *s)
{
  struct kg_events_batch b;
  const char *err = NULL;

  assert_int_equal(-1, parse_bytes(fmt, s, strlen(s), KG_EVENTS_MAX_RECORDS, &b, &err));
  assert_non_null(err);
  kg_events_batch_free(&b);
  return err;
}

static inline void
assert_rejected(const struct kg_events_batch *b, size_t i, size_t index, const char *error)
{
  assert_true(i < b->n_rejected);
  assert_int_equal(index, b->rejected[i].index);
  assert_string_equal(error, b->rejected[i].error);
}

/**
 * Parses fixture @a name, which holds the 6 requests of kms-export-ps5.csv and
 * one event of another id at index 3 (tests/fixtures/README.md), and checks
 * what every source must agree on.
 * @param frac_us the fraction of 09:14:03.1234567 the tool keeps, in microseconds
 */
static inline void
check_source_fixture(enum kg_events_format fmt, const char *name, int64_t frac_us)
{
  struct kg_events_batch b;
  const char *err = NULL;
  size_t len;
  char *body = read_fixture(name, &len);

  if (0 != parse_bytes(fmt, body, len, KG_EVENTS_MAX_RECORDS, &b, &err))
    fail_msg("%s refused: %s", name, err);
  if (0 != b.n_rejected)
    fail_msg("%s: record %zu rejected: %s", name, b.rejected[0].index, b.rejected[0].error);
  assert_int_equal(7, b.n_records);
  assert_int_equal(6, b.n_events);
  assert_int_equal(1, b.n_skipped);
  assert_int_equal(US(T_0914) + frac_us, b.events[0].requested_at_us);
  assert_string_equal("vdi-p1-001.corp.example", b.events[0].client);
  assert_string_equal("6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10", b.events[0].cmid);
  /* the uppercase CMID is stored lowercase; the server asks for 5 */
  assert_string_equal("3f2504e0-4f89-11d3-9a0c-0305e82c3301", b.events[2].cmid);
  assert_int_equal(5, b.events[2].required_count);
  /* the skipped record keeps its index: the next one is 4 */
  assert_int_equal(2, b.events[2].index);
  assert_int_equal(4, b.events[3].index);
  assert_int_equal(0xC004F038u, b.events[3].hresult);
  assert_int_equal(0xC004F038u, b.events[4].hresult);
  assert_int_equal(6, b.events[5].index);
  assert_string_equal("6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10", b.events[5].cmid);
  /* Windows 10/11 Enterprise: a real activation ID, so that routing by ID counts them */
  assert_string_equal("73111121-5638-40f6-bc11-f1d7b0d64300", b.events[5].activation_id);
  kg_events_batch_free(&b);
  free(body);
}

#endif
