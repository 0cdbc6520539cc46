/**
 * @file db_estate.h
 * @brief Loads one KMS host's estate (CMID summaries, pools, desktops and
 *        unexpired reserved plans) into the shape the pure model consumes.
 */
#ifndef KG_DB_ESTATE_H
#define KG_DB_ESTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "db_hosts.h"
#include "forecast.h"

/** A reserved plan of the estate with its identifiers. */
struct kg_reserved_plan {
  char id[40];
  int64_t expires_at;               /**< Unix seconds: it stops counting then */
};

/**
 * One host's estate. `model` points into the arrays below; ids and names
 * map the model's indices back to rows.
 */
struct kg_estate {
  struct kg_host_row host;
  struct fc_estate model;
  struct fc_cmid *cmids;
  char (*cmid_text)[37];            /**< per CMID index */
  bool *cmid_elsewhere;             /**< per CMID: another host of the family caches it */
  struct fc_pool *pools;
  long long *pool_ids;
  char **pool_names;
  bool *pool_here;                  /**< pinned to this host, or discovering it */
  int32_t *pool_weight;             /**< this host's weight among the pool's hosts (0: none) */
  int32_t *pool_total_weight;       /**< the sum over the pool's hosts (>= 1) */
  struct fc_desktop *desktops;      /**< sorted by hostname */
  long long *desktop_ids;
  char **desktop_hostnames;
  bool *desktop_here;               /**< registered on this host (the others are there because
                                         this host caches their CMIDs) */
  bool *desktop_cmid_away;          /**< its CMID is one this host does not cache */
  struct fc_plan *reserved;
  struct kg_reserved_plan *reserved_ids;
  int32_t *reserved_desktops;       /**< storage for every reserved plan's decommission list */
  struct fc_provision *reserved_provisions;
  int family_hosts;                 /**< hosts of this host's family, itself included */
  PGresult *results[5];             /**< kept so names are borrowed, not copied */
};

/**
 * A request's view of a host's estate: the arrays of the (shared, cached)
 * estate with this request's host row, time and unexpired reserved plans.
 * `view` is what handlers read and may adjust (e.g. the margin); it must
 * never be passed to kg_estate_free().
 */
struct kg_estate_use {
  struct kg_estate view;
  struct shared_estate *shared;     /**< the cache entry this view borrows from */
  struct prepared *prepared;        /**< the model prepared for this second */
};

/** The longest horizon a request may ask for (horizon_days 365). */
#define KG_MAX_HORIZON_SECONDS (365LL * 86400)

/**
 * Gets the estate of @a host for an evaluation at @a now: from this
 * process's cache when the host's estate_version (read by the caller in the
 * current transaction) is the one it was loaded at, else loaded now (in its
 * own REPEATABLE READ snapshot when no transaction is open) and cached.
 * @param db connection
 * @param host the host row, with its estate_version
 * @param now evaluation time, Unix seconds
 * @param horizon_seconds H
 * @param[out] use the view; release with kg_estate_release(), also after a failure
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_estate_acquire(struct kg_db *db, const struct kg_host_row *host, int64_t now,
                             int64_t horizon_seconds, struct kg_estate_use *use);

/**
 * The host row a cached estate was loaded with, for an evaluation that does
 * not read the host first. It may be stale: whatever the caller writes on
 * the strength of it must check in the same statement that the host's
 * estate_version is still host->estate_version (see
 * kg_db_decision_insert_if_current()).
 * @param name the host's name (lowercase)
 * @param now evaluation time, Unix seconds (entries older than a minute do not count)
 * @param[out] host the row, when found
 * @return true when this process holds a usable estate of the host
 */
bool kg_estate_cached_host(const char *name, int64_t now, struct kg_host_row *host);

/**
 * Evaluates a plan on a view: fc_evaluate() of view.model (its margin and
 * horizon included), from the model prepared for this second.
 * @param use the view
 * @param plan the plan, or NULL for the baseline
 * @param max_decommission_pool pool index, or -1 for the whole host
 * @param[out] out the result; release with fc_result_free(), also after an error
 * @return 0 on success, -1 on failure
 */
int kg_estate_evaluate(const struct kg_estate_use *use, const struct fc_plan *plan,
                       int32_t max_decommission_pool, struct fc_result *out);

/**
 * fc_pick_decommission() on a view, from the prepared model.
 * @param use the view
 * @param pool pool index, or -1 for the whole host
 * @param[out] out receives up to @a n desktop indices
 * @param n capacity of @a out
 * @return number of indices written
 */
size_t kg_estate_pick_decommission(const struct kg_estate_use *use, int32_t pool,
                                   int32_t *out, size_t n);

/**
 * Gives a view back.
 * @param use the view
 */
void kg_estate_release(struct kg_estate_use *use);

/**
 * Loads the estate of @a host as it is at @a now.
 * @param db connection
 * @param host the host row (from kg_db_host_row())
 * @param now evaluation time, Unix seconds
 * @param horizon_seconds H
 * @param[out] estate filled; free with kg_estate_free() also after a failure
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_estate_load(struct kg_db *db, const struct kg_host_row *host, int64_t now,
                          int64_t horizon_seconds, struct kg_estate *estate);

/**
 * Frees an estate.
 * @param estate the estate
 */
void kg_estate_free(struct kg_estate *estate);

/**
 * Finds a desktop by (lowercase) hostname.
 * @return its index, or -1
 */
int32_t kg_estate_desktop_index(const struct kg_estate *estate, const char *hostname);

/**
 * Finds a pool of this host (pinned to it or discovering it) by name; the
 * estate also holds pools of other hosts whose desktops' CMIDs it caches.
 * @return its index, or -1
 */
int32_t kg_estate_pool_index(const struct kg_estate *estate, const char *name);

/**
 * The reserved plan that decommissions desktop @a desktop, if any.
 * @return the plan's index in estate->reserved, or -1
 */
int32_t kg_estate_holding_plan(const struct kg_estate *estate, int32_t desktop);

#endif
