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
    snprintf(path, sizeof path, "%.*s/../fixtures/%s",
             (int) (slash - __FILE__), __FILE__, name);
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
  for (size_t i = 0; i < b->n_events; i++)
  {
    const struct kg_event *ev = &b->events[i];

    assert_int_equal(36, strlen(ev->cmid));
    assert_non_null(ev->client);
    assert_true(strlen(ev->client) >= 1 && strlen(ev->client) <= 253);
    if (ev->has_activation_id)
      assert_int_equal(36, strlen(ev->activation_id));
  }
  for (size_t i = 0; i < b->n_rejected; i++)
  {
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
parse_bytes(enum kg_events_format fmt, const char *data, size_t len,
            size_t max, struct kg_events_batch *b, const char **err)
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
assert_rejected(const struct kg_events_batch *b, size_t i, size_t index,
                const char *error)
{
  assert_true(i < b->n_rejected);
  assert_int_equal(index, b->rejected[i].index);
  assert_string_equal(error, b->rejected[i].error);
}

#endif
