/**
 * @file gate_retire.h
 * @brief Gate plans that retire a KMS host (docs/model.md §6.8,
 *        example 7): which hosts receive its CMIDs, and whether they hold.
 */
#ifndef KG_GATE_RETIRE_H
#define KG_GATE_RETIRE_H

#include <jansson.h>
#include <stdbool.h>

#include "estate_cache.h"

/** A retirement as the gate asked it. */
struct kg_retire_plan {
  const char *own; /**< the request's kms_host (lowercase) */
  int64_t at, now, horizon_seconds;
  bool has_margin;
  int margin;
  enum kg_estate_fit fit; /**< of the receiving hosts' estates */
};

/**
 * Evaluates retiring the host of @a retired at p->at: every host that
 * receives moved CMIDs and the request's own host (unless it is the retired
 * one) are evaluated with those arrivals.
 * @param db connection
 * @param p the plan
 * @param retired the retired host's estate
 * @param[out] doc the gate answer (without decision_id), new reference
 * @param[out] go the decision
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_gate_retire(struct kg_db *db, const struct kg_retire_plan *p,
                          const struct kg_estate_use *retired, json_t **doc, bool *go);

#endif
