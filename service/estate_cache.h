/**
 * @file estate_cache.h
 * This process's cache of host estates (estate_cache.c): a request borrows a
 * view of a host's estate, loaded once per estate_version and shared by
 * every request of the process, and gives it back when it has answered.
 */
#ifndef KG_ESTATE_CACHE_H
#define KG_ESTATE_CACHE_H

#include "db_estate.h"

/**
 * A request's view of a host's estate: the arrays of the (shared, cached)
 * estate with this request's host row, time and unexpired reserved plans.
 * `view` is what handlers read (a request's margin is an argument of
 * kg_estate_evaluate(), not written into it); it must never be passed to
 * kg_estate_free().
 */
struct kg_estate_use {
  struct kg_estate view;
  struct shared_estate *shared; /**< the cache entry this view borrows from */
  struct prepared *prepared;    /**< the model prepared for this second */
};

/** Which estate versions may answer a caller. */
enum kg_estate_fit {
  /** The version of the host row the caller read, or a later one (the view
      then carries the estate's own host row): documents, forecasts and
      gates that reserve nothing. Every write committed before the caller
      read the row is in it. */
  KG_ESTATE_AT_LEAST,
  /** Exactly the version of the row the caller read in its transaction: a
      reserving gate, which holds the host rows' locks and writes a plan on
      the strength of what it evaluated. */
  KG_ESTATE_EXACT
};

/** The longest horizon a request may ask for (horizon_days 365). */
#define KG_MAX_HORIZON_SECONDS (365LL * 86400)

/**
 * Says whether cached estates are refreshed by the rows written since their
 * version (the default) or read in full after every write. Called once,
 * before the workers start.
 * @param refresh true to refresh
 */
void kg_estate_cache_configure(bool refresh);

/**
 * Gets the estate of @a host for an evaluation at @a now: from this
 * process's cache when its version fits the host's estate_version (read by
 * the caller in the current transaction), else refreshed from the newest one
 * held or loaded (in its own REPEATABLE READ snapshot when no transaction is
 * open, else in the caller's) and cached.
 * @param db connection
 * @param host the host row, with its estate_version
 * @param fit which versions may answer
 * @param now evaluation time, Unix seconds
 * @param horizon_seconds H
 * @param[out] use the view; release with kg_estate_release(), also after a failure
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_estate_acquire(struct kg_db *db, const struct kg_host_row *host,
                             enum kg_estate_fit fit, int64_t now, int64_t horizon_seconds,
                             struct kg_estate_use *use);

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
 * Evaluates a plan on a view: fc_evaluate() of view.model (its horizon
 * included), from the model prepared for this second.
 * @param use the view
 * @param margin floor = threshold + margin: the request's, else the host's
 *        (view.model.margin); see kg_estate_margin()
 * @param plan the plan, or NULL for the baseline
 * @param max_decommission_pool pool index, or -1 for the whole host
 * @param[out] out the result; release with fc_result_free(), also after an error
 * @return 0 on success, -1 on failure
 */
int kg_estate_evaluate(const struct kg_estate_use *use, int32_t margin, const struct fc_plan *plan,
                       int32_t max_decommission_pool, struct fc_result *out);

/**
 * The margin an evaluation on @a use applies.
 * @param use the view
 * @param has_margin whether the request gave one
 * @param margin the request's margin
 * @return the request's margin when given, else the host's
 */
int32_t kg_estate_margin(const struct kg_estate_use *use, bool has_margin, int margin);

/**
 * fc_pick_decommission() on a view, from the prepared model.
 * @param use the view
 * @param pool pool index, or -1 for the whole host
 * @param[out] out receives up to @a n desktop indices
 * @param n capacity of @a out
 * @return number of indices written
 */
size_t kg_estate_pick_decommission(const struct kg_estate_use *use, int32_t pool, int32_t *out,
                                   size_t n);

/**
 * Gives a view back.
 * @param use the view
 */
void kg_estate_release(struct kg_estate_use *use);

#endif
