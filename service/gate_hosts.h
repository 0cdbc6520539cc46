/**
 * @file gate_hosts.h
 * @brief A gate plan on several KMS hosts of one product (kms-model.md
 *        section 6): the plan evaluated on every other host it touches, and
 *        the answers folded into one.
 */
#ifndef KG_GATE_HOSTS_H
#define KG_GATE_HOSTS_H

#include <jansson.h>
#include <stdbool.h>

#include "db_plan_hosts.h"
#include "estate_cache.h"

/** The plan as the gate resolved it on its own host. */
struct kg_gate_plan {
  const struct kg_estate_use *own;    /**< the own host's estate */
  const struct fc_result *own_result; /**< its evaluation */
  const int32_t *desktops;            /**< decommissions, own estate indices */
  size_t n_desktops;
  const char *const *pool_names; /**< provisions: pool names ... */
  const int *counts;             /**< ... and the counts asked */
  size_t n_provisions;
  int32_t max_pool; /**< own pool for the largest decommission, or -1 */
  int64_t at, now, horizon_seconds;
  bool has_margin;
  int margin;
  bool lock; /**< lock every host row (a reserving gate) */
};

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

/**
 * Evaluates the plan on the other hosts it touches and folds them into the
 * own host's answer @a doc: `hosts` lists every evaluated host; the
 * top-level fields become the binding host's (lowest planned minimum above
 * its floor, ties by name); `decision` is go only if every host is; and
 * `max_decommission` the least over the hosts.
 * @param db connection
 * @param p the plan
 * @param[in,out] doc the own host's answer
 * @param[out] go the decision
 * @param[out] other_ids the ids of the other hosts evaluated
 * @param[out] n_other how many
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_gate_other_hosts(struct kg_db *db, const struct kg_gate_plan *p, json_t *doc,
                               bool *go, long long other_ids[KG_MAX_OTHER_HOSTS], size_t *n_other);

#endif
