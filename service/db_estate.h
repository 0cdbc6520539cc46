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

struct kg_estate_strings; /* db_estate_internal.h */

/** A reserved plan of the estate with its identifiers. */
struct kg_reserved_plan {
  char id[40];
  int64_t expires_at; /**< Unix seconds: it stops counting then */
};

/**
 * One host's estate. `model` points into the arrays below; ids and names
 * map the model's indices back to rows.
 */
struct kg_estate {
  struct kg_host_row host;
  struct fc_estate model;
  struct fc_cmid *cmids;
  char (*cmid_text)[37]; /**< per CMID index */
  bool *cmid_elsewhere;  /**< per CMID: another host of the family caches it */
  int8_t *cmid_required; /**< per CMID: its latest request's required count
                              (25 clients, 5 servers, 0 unknown) */
  struct fc_pool *pools;
  long long *pool_ids;
  char **pool_names;
  bool *pool_here;             /**< pinned to this host, or discovering it */
  int32_t *pool_weight;        /**< this host's weight among the pool's hosts (0: none) */
  int32_t *pool_total_weight;  /**< the sum over the pool's hosts (>= 1) */
  struct fc_desktop *desktops; /**< sorted by hostname */
  long long *desktop_ids;
  char **desktop_hostnames;
  bool *desktop_here;      /**< registered on this host (the others are there because
                                this host caches their CMIDs) */
  bool *desktop_cmid_away; /**< its CMID is one this host does not cache */
  struct fc_plan *reserved;
  struct kg_reserved_plan *reserved_ids;
  int32_t *reserved_desktops; /**< storage for every reserved plan's decommission list */
  struct fc_provision *reserved_provisions;
  int family_hosts;                  /**< hosts of this host's family, itself included */
  int32_t *cmid_slots;               /**< CMID text -> index, open addressing (-1: empty) */
  size_t cmid_mask;                  /**< slots - 1 (a power of two) */
  struct kg_estate_strings *strings; /**< where pool and desktop names point */
};

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
 * Refreshes an estate by the CMIDs and desktops written since it was
 * loaded (migration 0013 logs them), instead of loading all of it: @a es
 * becomes the estate at @a host's estate_version, read in the caller's
 * transaction, which must be the snapshot @a host was read in.
 * @param db connection
 * @param old the estate at version @a old_version (only read)
 * @param old_version its version, <= host->estate_version
 * @param host the host row, with its current estate_version
 * @param now evaluation time, Unix seconds
 * @param[out] es filled when refreshed; free with kg_estate_free() in any case
 * @param[out] refreshed false when the log cannot say what changed (an
 *        unlogged change, or too far behind): load the estate instead
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_estate_refresh(struct kg_db *db, const struct kg_estate *old, long long old_version,
                             const struct kg_host_row *host, int64_t now, struct kg_estate *es,
                             bool *refreshed);

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
 * Finds a CMID this host caches (or has seen) by its text.
 * @return its index, or -1
 */
int32_t kg_estate_cmid_find(const struct kg_estate *estate, const char *text);

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
