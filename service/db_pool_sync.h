/**
 * @file db_pool_sync.h
 * @brief SQL of the pool sync (PUT /v1/pools/{name}/desktops): the difference
 *        between a pool and its platform's machine list, and the writes that
 *        apply it, each one set-based statement over the whole list.
 *
 * The list travels as one JSON text parameter, an array of
 * {"n": index, "h": hostname (normalized), "s": power state or null,
 * "i": platform id or null}, read with json_to_recordset(): thousands of
 * machines cost a few statements, not one each.
 */
#ifndef KG_DB_POOL_SYNC_H
#define KG_DB_POOL_SYNC_H

#include <stdbool.h>

#include "db.h"

/** What the sync does to one machine. */
enum kg_sync_action {
  KG_SYNC_ADD,      /**< listed, not registered: registered active */
  KG_SYNC_REVIVE,   /**< listed, decommissioned in this pool: active again */
  KG_SYNC_KEEP,     /**< listed, registered in this pool */
  KG_SYNC_CONFLICT, /**< listed, registered in another pool */
  KG_SYNC_DROP,     /**< in the pool (not decommissioned), not listed: decommissioned */
};

/** One row of the difference (strings borrowed for the call). */
struct kg_sync_row {
  int index;            /**< position in the list; -1 for a machine not listed */
  const char *hostname; /**< lowercase */
  enum kg_sync_action action;
  const char *other_pool; /**< KG_SYNC_CONFLICT: the pool it is in */
  bool was_active;        /**< KG_SYNC_DROP: it was `active` (the guard counts these) */
  bool power_changes;     /**< KG_SYNC_KEEP: its reported power state changes */
  long long pool_active;  /**< the pool's active desktops before the sync */
};

/**
 * Receives one row of the difference, in hostname order.
 * @return true to go on, false when out of memory
 */
typedef bool (*kg_sync_row_cb)(void *cls, const struct kg_sync_row *row);

/**
 * The difference between the pool and the list.
 * @param db connection (in a transaction, pool row locked FOR UPDATE)
 * @param pool_id the pool
 * @param list the list as JSON text (see the file comment)
 * @param cb receives each row
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_sync_diff(struct kg_db *db, long long pool_id, const char *list, kg_sync_row_cb cb,
                           void *cls);

/**
 * Registers the listed machines that no pool has, active, with their power
 * state and platform id.
 * @param db connection (same transaction)
 * @param pool_id the pool
 * @param kms_host_id its KMS host
 * @param list the list as JSON text
 * @param[out] inserted rows inserted (fewer than expected: another request
 *             registered one meanwhile)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_sync_insert(struct kg_db *db, long long pool_id, long long kms_host_id,
                             const char *list, long long *inserted);

/**
 * Makes the listed machines of the pool current: a decommissioned one is
 * active again as a new machine (its CMID forgotten: a re-created machine has
 * a new one, which its next request links), and a reported power state ("on"
 * or "off") or platform id replaces the stored one. Rows that would not
 * change are not written, so that their hosts' estates stay current.
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_sync_update(struct kg_db *db, long long pool_id, const char *list);

/**
 * Decommissions now the pool's desktops that are not listed (as DELETE
 * /v1/desktops/{hostname} does).
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_sync_decommission(struct kg_db *db, long long pool_id, const char *list);

#endif
