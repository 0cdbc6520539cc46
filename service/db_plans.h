/**
 * @file db_plans.h
 * @brief SQL for reserved plans and gate decisions.
 */
#ifndef KG_DB_PLANS_H
#define KG_DB_PLANS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "idutil.h"

/** A new reserved plan. */
struct kg_new_plan {
  const char *id; /**< uuid made by the caller */
  long long kms_host_id;
  int64_t at;               /**< Unix seconds */
  int64_t expires_at;       /**< Unix seconds */
  const char *request_json; /**< the gate request */
  const char *caller;       /**< token name */
  size_t n_desktops;
  const long long *desktop_ids;
  size_t n_provisions;
  const long long *pool_ids;
  const int *counts;
  size_t n_other_hosts; /**< other hosts it touches (docs/model.md §6.4) */
  const long long *other_host_ids;
};

/**
 * Stores a reserved plan with its decommissions and provisions.
 * @param db connection (in a transaction)
 * @param plan the plan
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_plan_insert(struct kg_db *db, const struct kg_new_plan *plan);

/** A gate evaluation to record. */
struct kg_new_decision {
  const char *id; /**< uuid made by the caller */
  const char *kms_host;
  const char *decision; /**< "go" or "no-go" */
  unsigned int http_status;
  const char *request_json;
  const char *response_json;
  const char *caller;
  const char *token_id;        /**< or NULL */
  const char *plan_id;         /**< or NULL */
  const char *idempotency_key; /**< or NULL */
  const char *request_hash;    /**< or NULL */
  bool durable;                /**< false: a plain evaluation's record, inserted outside any
                                    transaction, committed without waiting for the flush */
};

/**
 * Records a decision. A unique violation on (token, Idempotency-Key) comes
 * back as KG_QS_SOFT_ERROR so that the runner retries and finds the winner.
 * @param db connection (in a transaction)
 * @param d the decision
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_decision_insert(struct kg_db *db, const struct kg_new_decision *d);

/**
 * Records the decision of a plain evaluation (no plan, no Idempotency-Key)
 * only if the host's estate_version is still @a estate_version; the commit
 * does not wait for the WAL flush, whatever d->durable says.
 * @param db connection (not in a transaction)
 * @param d the decision
 * @param host_id the host evaluated
 * @param estate_version the version of the estate and host row evaluated
 * @param[out] inserted false when the estate had changed (nothing stored)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_decision_insert_if_current(struct kg_db *db, const struct kg_new_decision *d,
                                            long long host_id, long long estate_version,
                                            bool *inserted);

/**
 * Finds an earlier decision made with the same token and Idempotency-Key.
 * @param db connection
 * @param token_id the caller's token
 * @param key the Idempotency-Key
 * @param[out] found whether one exists
 * @param[out] http_status its status
 * @param[out] response its response (new reference)
 * @param[out] request_hash hash of its request body (65 bytes)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_decision_find(struct kg_db *db, const char *token_id, const char *key, bool *found,
                               unsigned int *http_status, json_t **response, char request_hash[65]);

/** Filters of GET /v1/plans. */
struct kg_plan_filter {
  const char *kms_host; /**< lowercase name or NULL */
  const char *state;    /**< reserved|expired|committed|released or NULL */
  int64_t now;
};

/** One plan as stored; times are the text of whole Unix seconds (NULL for none). */
struct kg_plan_record {
  const char *id; /**< uuid */
  const char *kms_host;
  const char *state; /**< reserved|expired|committed|released */
  const char *at;
  const char *expires_at;
  const char *created_at;
  const char *committed_at; /**< or NULL */
  const char *released_at;  /**< or NULL */
  const char *caller;
  const char *decommission_json; /**< JSON array of its desktops' hostnames, sorted */
  const char *provision_json;    /**< JSON array of {pool, count}, by pool */
  const char *sort_key;          /**< "<created_at µs>,<id>": the list cursor key */
};

/**
 * Receives one plan row.
 * @param cls closure
 * @param p the row (borrowed)
 * @return true to go on, false when out of memory (the query then fails)
 */
typedef bool (*kg_plan_cb)(void *cls, const struct kg_plan_record *p);

/**
 * Plans, newest first, for one page.
 * @param db connection
 * @param f filters
 * @param after_us created_at of the cursor's key in microseconds, or NULL
 * @param after_id id of the cursor's key (a uuid), or NULL
 * @param limit most rows to read
 * @param cb receives each plan in order
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_plans_list(struct kg_db *db, const struct kg_plan_filter *f, const char *after_us,
                            const char *after_id, long long limit, kg_plan_cb cb, void *cls);

/**
 * Reads one plan.
 * @param db connection
 * @param id plan uuid (validated)
 * @param now for the derived "expired" state
 * @param cb receives the row when found
 * @param cls closure for cb
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_plan_get(struct kg_db *db, const char *id, int64_t now, kg_plan_cb cb, void *cls,
                          bool *found);

/** A plan's state for commit/release, read under a row lock. */
struct kg_plan_lock {
  bool found;
  char state[16]; /**< reserved|expired|committed|released */
  long long kms_host_id;
};

/**
 * Locks a plan (and its host, to order against reserving evaluations).
 * @param db connection (in a transaction)
 * @param id plan uuid
 * @param now for "expired"
 * @param[out] lock what was found
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_plan_lock(struct kg_db *db, const char *id, int64_t now,
                           struct kg_plan_lock *lock);

/**
 * Marks a reserved plan committed and decommissions its desktops at @a now.
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_plan_commit(struct kg_db *db, const char *id, int64_t now);

/**
 * Marks a reserved plan released.
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_plan_release(struct kg_db *db, const char *id, int64_t now);

/** Filters of GET /v1/decisions. */
struct kg_decision_filter {
  const char *kms_host; /**< lowercase name or NULL */
  bool has_since;
  int64_t since_us;
};

/** One recorded evaluation; request and response are the stored JSON text. */
struct kg_decision_record {
  const char *id; /**< uuid */
  const char *kms_host;
  const char *evaluated_at; /**< text of whole Unix seconds */
  const char *decision;     /**< "go" or "no-go" */
  int http_status;
  const char *caller;
  const char *plan_id;       /**< or NULL */
  const char *request_json;  /**< or NULL */
  const char *response_json; /**< or NULL */
  const char *sort_key;      /**< "<evaluated_at µs>,<id>": the list cursor key */
};

/**
 * Receives one decision row.
 * @param cls closure
 * @param d the row (borrowed)
 * @return true to go on, false when out of memory (the query then fails)
 */
typedef bool (*kg_decision_cb)(void *cls, const struct kg_decision_record *d);

/**
 * Decisions, newest first, for one page.
 * @param db connection
 * @param f filters
 * @param after_us evaluated_at of the cursor's key in microseconds, or NULL
 * @param after_id id of the cursor's key (a uuid), or NULL
 * @param limit most rows to read
 * @param cb receives each decision in order
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_decisions_list(struct kg_db *db, const struct kg_decision_filter *f,
                                const char *after_us, const char *after_id, long long limit,
                                kg_decision_cb cb, void *cls);
#endif
