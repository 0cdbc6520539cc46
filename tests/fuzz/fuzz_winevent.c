/**
 * @file fuzz_winevent.c
 * @brief libFuzzer target: Windows event records in JSON and NDJSON bodies
 *        (ConvertTo-Json, Winlogbeat 5/6 and 7+, NXLog, Fluent Bit winevtlog
 *        with and without render_event_as_xml, Fluent Bit winlog), Export-Csv
 *        -UseCulture or without Select-Object, and Windows event XML. The
 *        first byte picks the body format; the second the options: a stated
 *        zone (a TZif zone or a fixed offset) and culture, and storing in
 *        small batches (kg_events_opts.flush) with the clock-skew check.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_batch.h"
#include "tzif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** What the flush callback saw: every event it is handed must be whole. */
static int
check_flush(void *cls, struct kg_event *events, size_t n)
{
  size_t *flushed = cls;

  for (size_t i = 0; i < n; i++)
    if (36 != strlen(events[i].cmid) || NULL == events[i].client)
      abort();
  *flushed += n;
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* clang-format off */
  static const enum kg_events_format formats[] = { KG_EVENTS_JSON, KG_EVENTS_NDJSON, KG_EVENTS_CSV,
                                                   KG_EVENTS_XML };
  /* clang-format on */
  static struct kg_tz berlin;
  static bool loaded;
  struct kg_events_time zone = { 0 };
  struct kg_events_opts opts = { .zone = &zone };
  struct kg_events_batch batch;
  const char *error = NULL;
  size_t flushed = 0;
  int rc;

  if (size < 2)
    return 0;
  if (!loaded)
    loaded = NULL == kg_tz_load("Europe/Berlin", &berlin); /* kept for the whole run */
  zone.culture = (enum kg_events_culture)(data[1] % 3);
  zone.given = 0 != (data[1] & 4);
  zone.tz = (0 != (data[1] & 8) && loaded) ? &berlin : NULL;
  zone.offset_s = (data[1] & 16) ? 3600 : -19800;
  if (0 != (data[1] & 32)) {
    opts.flush = check_flush;
    opts.cls = &flushed;
    opts.batch_size = 1 + data[1] % 3;
    opts.now_us = INT64_C(1795166043) * 1000000;
  }
  rc = kg_events_parse_with(formats[data[0] % 4], (const char *) data + 2, size - 2, 10000, &opts,
                            &batch, &error);
  if (0 == rc && flushed != batch.n_flushed)
    abort();
  fuzz_check_batch(rc, &batch, error);
  return 0;
}
