/**
 * @file fuzz_winevent.c
 * @brief libFuzzer target: Windows event records in JSON and NDJSON bodies
 *        (ConvertTo-Json, Winlogbeat, NXLog, Fluent Bit) and Export-Csv
 *        -UseCulture. The first byte picks the body format.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const enum kg_events_format formats[] = { KG_EVENTS_JSON, KG_EVENTS_NDJSON,
                                                   KG_EVENTS_CSV };
  struct kg_events_batch batch;
  const char *error = NULL;
  int rc;

  if (0 == size)
    return 0;
  rc =
    kg_events_parse(formats[data[0] % 3], (const char *) data + 1, size - 1, 10000, &batch, &error);
  fuzz_check_batch(rc, &batch, error);
  return 0;
}
