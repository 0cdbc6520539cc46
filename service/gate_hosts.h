/**
 * @file gate_hosts.h
 * @brief What every gate answer over KMS hosts shares (docs/model.md
 *        §6.3, §6.5); the plan over several hosts is gate_family.h's.
 */
#ifndef KG_GATE_HOSTS_H
#define KG_GATE_HOSTS_H

#include <jansson.h>
#include <stdbool.h>

#include "db_plan_hosts.h"
#include "estate_cache.h"

/**
 * This host's share of @a count desktops provisioned into @a pool:
 * floor(count * weight / total weight), the whole count for a pinned pool.
 * @param es the estate
 * @param pool pool index
 * @param count desktops asked
 * @return the desktops that activate on this host
 */
int kg_gate_provision_share(const struct kg_estate *es, int32_t pool, int count);

/**
 * One host's result in a gate answer's `hosts`: {kms_host, decision, floor,
 * current_count, baseline_min, projected_min, projected_min_at,
 * first_breach_at, steps}.
 * @param es the host's estate
 * @param r its evaluation
 * @return new reference, NULL when out of memory
 */
json_t *kg_gate_host_entry(const struct kg_estate *es, const struct fc_result *r);

/**
 * The top-level fields of a gate answer that describe one host (the
 * binding one): the common forecast fields, minima, breach, window, steps.
 * @param es the host's estate
 * @param r its evaluation
 * @return new reference, NULL when out of memory
 */
json_t *kg_gate_binding_fields(const struct kg_estate *es, const struct fc_result *r);

#endif
