/**
 * @file fuzz_batch.h
 * @brief What every ingest fuzz target checks of kg_events_parse()'s answer.
 */
#ifndef KG_FUZZ_BATCH_H
#define KG_FUZZ_BATCH_H

#include <stdlib.h>
#include <string.h>

#include "events.h"

/**
 * Aborts (a finding for libFuzzer) unless the parse answered a batch that
 * holds its invariants or a refusal with a message; then frees the batch.
 * @param rc kg_events_parse()'s result
 */
static inline void
fuzz_check_batch(int rc, struct kg_events_batch *batch, const char *error)
{
  if (0 == rc) {
    if (batch->n_events + batch->n_flushed + batch->n_rejected + batch->n_skipped
        != batch->n_records)
      abort();
    for (size_t i = 1; i < batch->n_rejected; i++)
      if (batch->rejected[i].index <= batch->rejected[i - 1].index)
        abort();
    /* Accepted records hold a lowercase GUID and a client name. */
    for (size_t i = 0; i < batch->n_events; i++)
      if (36 != strlen(batch->events[i].cmid) || NULL == batch->events[i].client)
        abort();
  } else if (NULL == error) {
    abort();
  }
  kg_events_batch_free(batch);
}

#endif
