/**
 * @file db_plan_hosts.h
 * @brief Which other KMS hosts of its family a gate plan touches
 *        (docs/model.md §6.4): where its desktops' CMIDs are cached,
 *        and the other hosts of the discovering pools it provisions.
 */
#ifndef KG_DB_PLAN_HOSTS_H
#define KG_DB_PLAN_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/** The most hosts one plan may touch besides its own. */
#define KG_MAX_OTHER_HOSTS 16

/** Host names, each at most 253 characters. */
struct kg_host_names {
  size_t n;
  bool more; /**< the plan touches more than KG_MAX_OTHER_HOSTS (the gate answers no-go) */
  char name[KG_MAX_OTHER_HOSTS][254];
};

/**
 * The hosts of @a host_id's family other than it where one of @a desktop_ids'
 * CMIDs requested in the 30 days before @a now, or that one of @a pool_ids
 * discovers; by name, the first KG_MAX_OTHER_HOSTS, and whether there are more.
 * @param db connection
 * @param host_id the plan's own host
 * @param desktop_ids the desktops it decommissions
 * @param n_desktops how many
 * @param pool_ids the pools it provisions into
 * @param n_pools how many
 * @param now Unix seconds
 * @param[out] out the names
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_plan_other_hosts(struct kg_db *db, long long host_id, const long long *desktop_ids,
                                  size_t n_desktops, const long long *pool_ids, size_t n_pools,
                                  int64_t now, struct kg_host_names *out);

#endif
