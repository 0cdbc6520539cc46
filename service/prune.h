/**
 * @file prune.h
 * @brief Retention: a full prune on demand (`kmsgate prune`) and a
 *        background thread in `kmsgate serve` that prunes every interval.
 */
#ifndef KG_PRUNE_H
#define KG_PRUNE_H

#include "config.h"

/**
 * Deletes every raw activation request older than the retention, in
 * batches, unless another process is pruning (then does nothing).
 * @param cfg the configuration (retention_days)
 * @param[out] deleted rows deleted
 * @return 0 on success (also when another process was pruning), -1 on a database failure
 */
int kg_prune_run(const struct kg_config *cfg, long long *deleted);

/**
 * Starts the background prune thread (first prune after one interval).
 * @param cfg the configuration; must outlive kg_prune_stop()
 * @return 0 on success, -1 when the thread could not start
 */
int kg_prune_start(const struct kg_config *cfg);

/** Stops the background thread, waiting for a batch in progress. */
void kg_prune_stop(void);

#endif
