/**
 * @file fuzz_events.c
 * @brief libFuzzer target: the ingest parsers (JSON, NDJSON, CSV) and the
 *        event-12290 info string. The first byte picks the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (0 == size)
    return 0;
  const char *body = (const char *) data + 1;
  size_t len = size - 1;
  if (3 == data[0] % 4) {
    struct kg_event ev;
    memset(&ev, 0, sizeof(ev));
    if (NULL == kg_events_parse_info(body, len, &ev)) {
      /* Accepted info strings hold a lowercase GUID and a client name. */
      if (36 != strlen(ev.cmid) || NULL == ev.client)
        abort();
      kg_event_clear(&ev);
    }
    return 0;
  }
  struct kg_events_batch batch;
  const char *error = NULL;
  int rc = kg_events_parse((enum kg_events_format)(data[0] % 3), body, len, 10000, &batch, &error);
  fuzz_check_batch(rc, &batch, error);
  return 0;
}
