/**
 * @file plan_json.h
 * @brief The documents of reserved plans and recorded gate decisions, from
 *        the records of db_plans.h.
 */
#ifndef KG_PLAN_JSON_H
#define KG_PLAN_JSON_H

#include <jansson.h>

#include "db_plans.h"

/**
 * The plan document: {id, kms_host, state, at, expires_at, created_at,
 * committed_at, released_at, caller, decommission, provision}.
 * @param p the plan row
 * @return new document, or NULL when out of memory
 */
json_t *kg_plan_json(const struct kg_plan_record *p);

/**
 * The decision document: {id, kms_host, evaluated_at, decision, http_status,
 * caller, plan_id, request, response}.
 * @param d the decision row
 * @return new document, or NULL when out of memory
 */
json_t *kg_decision_json(const struct kg_decision_record *d);

#endif
