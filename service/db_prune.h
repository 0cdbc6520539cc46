/**
 * @file db_prune.h
 * @brief Retention of raw activation requests: deletes in small batches,
 *        one replica at a time. The per-CMID summaries, the server totals
 *        and the desktop links that answers come from are never touched.
 */
#ifndef KG_DB_PRUNE_H
#define KG_DB_PRUNE_H

#include <stdbool.h>

#include "db.h"

/**
 * Takes the session-level prune lock if no other process holds it.
 * @param db connection (autocommit; the lock lives until released)
 * @param[out] taken whether this session now holds it
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_prune_lock(struct kg_db *db, bool *taken);

/**
 * Releases the prune lock taken by kg_db_prune_lock().
 * @param db the same connection
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_prune_unlock(struct kg_db *db);

/**
 * Deletes up to @a batch raw requests older than @a days, in one statement.
 * @param db connection (autocommit: each batch commits on its own)
 * @param days retention in days
 * @param batch rows at most
 * @param[out] deleted rows deleted
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_prune_batch(struct kg_db *db, unsigned int days, long long batch,
                             long long *deleted);

#endif
