/**
 * @file db_pools.h
 * @brief SQL for pools (Horizon desktop pools, Citrix machine catalogs).
 *
 * Rows come back through callbacks with borrowed strings, valid only during
 * the call. Times are the text of whole Unix seconds.
 */
#ifndef KG_DB_POOLS_H
#define KG_DB_POOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

/** One pool with its host and desktop counts. */
struct kg_pool_record {
  long long id;
  const char *name;
  const char *kms_host;          /**< the host's name */
  const char *platform;          /**< "horizon" | "citrix" | "other" */
  bool has_renewal;              /**< false: the host's interval applies */
  int renewal_minutes;           /**< the pool's own interval when has_renewal */
  int effective_renewal_minutes; /**< the pool's, else the host's */
  bool unique_cmids;
  long long active, powered_off, decommissioned; /**< desktops by state */
  const char *created_at;                        /**< epoch seconds text */
  const char *updated_at;                        /**< epoch seconds text */
  const char *kms_hosts_json;        /**< [{name, weight}] of a discovering pool, [] pinned */
  const char *desktops_by_host_json; /**< {host: active desktops whose CMID renews there} */
};

/**
 * Receives one pool row.
 * @param cls closure
 * @param p the row (borrowed)
 * @return true to go on, false when out of memory (the query then fails)
 */
typedef bool (*kg_pool_cb)(void *cls, const struct kg_pool_record *p);

/** Values of a new pool. */
struct kg_pool_new {
  const char *name;
  long long kms_host_id;
  const char *platform;
  bool has_renewal; /**< false: NULL, the host's interval */
  long long renewal_minutes;
  bool unique_cmids;
};

/**
 * Inserts a pool unless the name is taken.
 * @param db connection (in a transaction, host row locked FOR KEY SHARE)
 * @param p the values
 * @param[out] duplicate true when the name was already taken
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_insert(struct kg_db *db, const struct kg_pool_new *p, bool *duplicate);

/**
 * Reads one pool with its desktop counts.
 * @param db connection
 * @param name the pool's name
 * @param cb receives the row when found
 * @param cls closure for cb
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_get(struct kg_db *db, const char *name, kg_pool_cb cb, void *cls,
                          bool *found);

/**
 * Lists pools by name.
 * @param db connection
 * @param kms_host only pools of this (lowercase) host, or NULL for all
 * @param after only names sorting after this one, or NULL
 * @param limit most rows to return
 * @param cb receives each row in order
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_list(struct kg_db *db, const char *kms_host, const char *after,
                           long long limit, kg_pool_cb cb, void *cls);

/** What other resources need to know of a pool. */
struct kg_pool_ref {
  long long id;
  long long kms_host_id;
  char kms_host[254]; /**< the host's name */
};

/**
 * Finds a pool and locks its row: FOR UPDATE when @a exclusive (patch,
 * delete), else FOR KEY SHARE (a desktop is being attached to it).
 * @param db connection (in a transaction)
 * @param name the pool's name
 * @param exclusive which lock to take
 * @param[out] ref filled when found
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_ref(struct kg_db *db, const char *name, bool exclusive,
                          struct kg_pool_ref *ref, bool *found);

/**
 * Counts what still references a pool.
 * @param db connection
 * @param pool_id the pool
 * @param[out] desktops its desktops in any state
 * @param[out] plans gate plans (any state) that provision into it
 * @param[out] reserved_plans those of them reserved and unexpired
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_usage(struct kg_db *db, long long pool_id, long long *desktops,
                            long long *plans, long long *reserved_plans);

/** Changes of PATCH; NULL / false members are kept. */
struct kg_pool_patch {
  const char *platform;      /**< NULL: keep */
  bool set_renewal;          /**< change renewal_interval_minutes */
  bool renewal_null;         /**< ... to NULL (the host's interval) */
  long long renewal_minutes; /**< ... else to this */
  bool has_unique_cmids;
  bool unique_cmids;
  long long kms_host_id; /**< 0: keep */
};

/**
 * Applies a PATCH.
 * @param db connection (in a transaction, pool row locked FOR UPDATE)
 * @param pool_id the pool
 * @param p the changes
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_update(struct kg_db *db, long long pool_id, const struct kg_pool_patch *p);

/**
 * Deletes a pool that nothing references any more.
 * @param db connection (in a transaction, pool row locked FOR UPDATE)
 * @param pool_id the pool
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_delete(struct kg_db *db, long long pool_id);

/**
 * Adds a discovery host to a pool (docs/model.md §6.3).
 * @param db connection (in the pool's transaction)
 * @param pool the pool's name
 * @param host a host name
 * @param weight 1..1000
 * @param[out] added false when the host does not exist, is of another family,
 *             or is listed already
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_add_host(struct kg_db *db, const char *pool, const char *host, int weight,
                               bool *added);

/** Receives a discovery host of a pool; false aborts. */
typedef bool (*kg_pool_host_cb)(void *cls, const char *host, int weight);

/**
 * A discovering pool's hosts other than @a host_id, by name.
 * @param db connection
 * @param pool_id the pool
 * @param host_id the host to leave out (a retired one)
 * @param cb receives each host and its weight
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_hosts_but(struct kg_db *db, long long pool_id, long long host_id,
                                kg_pool_host_cb cb, void *cls);

/**
 * The own host of a pool.
 * @param db connection
 * @param pool the pool's name
 * @param[out] host its host's name
 * @param[out] found whether the pool exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_host_name(struct kg_db *db, const char *pool, char host[254], bool *found);

/**
 * Removes a pool's discovery hosts (it is then pinned to its own host).
 * @param db connection (in the pool's transaction)
 * @param pool_id the pool
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_pool_clear_hosts(struct kg_db *db, long long pool_id);

#endif
