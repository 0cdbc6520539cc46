/**
 * @file fuzz_xml.c
 * @brief libFuzzer target: the Windows event XML ingest parser (libxml2
 *        underneath). Every body must come back as a batch that holds its
 *        invariants or as a refusal with a message: never a crash, a leak,
 *        a read past the body or a fetch.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kg_events_batch batch;
  const char *error = NULL;
  int rc = kg_events_parse(KG_EVENTS_XML, (const char *) data, size, 10000, &batch, &error);

  fuzz_check_batch(rc, &batch, error);
  return 0;
}
