/**
 * @file db_desktops.h
 * @brief SQL for desktops and their CMID status.
 *
 * Rows come back through callbacks with borrowed strings, valid only during
 * the call. Times are the text of whole Unix seconds (NULL for SQL NULL).
 */
#ifndef KG_DB_DESKTOPS_H
#define KG_DB_DESKTOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"

/** One desktop with the facts its host's CMID summary holds for its CMID. */
struct kg_desktop_record {
  const char *hostname; /**< lowercase FQDN */
  const char *pool;
  const char *kms_host;
  const char *cmid;               /**< lowercase GUID or NULL */
  const char *state;              /**< active | powered_off | decommissioned */
  const char *last_activation_at; /**< epoch text or NULL */
  const char *decommissioned_at;  /**< epoch text or NULL */
  const char *created_at;
  const char *updated_at;
  const char *cmid_status;     /**< renewing | lapsing | unseen */
  const char *last_request_at; /**< epoch text or NULL (unseen) */
  bool has_request_count;
  long long request_count;
  const char *expires_at; /**< last_request_at + 30 days, or NULL */
  bool has_required_count;
  int required_count;      /**< 25 or 5 */
  bool name_ambiguous;     /**< another desktop of its host has its first label */
  const char *power_state; /**< on | off | unknown, as its platform reported it */
  const char *platform_id; /**< the platform's id of the machine, or NULL */
};

/**
 * Receives one desktop row.
 * @param cls closure
 * @param d the row (borrowed)
 * @return true to go on, false when out of memory (the query then fails)
 */
typedef bool (*kg_desktop_cb)(void *cls, const struct kg_desktop_record *d);

/** Values of PUT /v1/desktops/{hostname}; absent members keep the stored value. */
struct kg_desktop_put {
  const char *hostname; /**< lowercase */
  long long pool_id;
  long long kms_host_id;      /**< the pool's host */
  bool has_cmid;              /**< cmid given (NULL clears) */
  const char *cmid;           /**< lowercase GUID or NULL */
  const char *state;          /**< NULL: keep (active for a new desktop) */
  bool has_last_activation;   /**< last_activation_at given */
  bool last_activation_null;  /**< ... as null */
  int64_t last_activation_us; /**< ... else this, Unix microseconds */
  const char *power_state;    /**< on | off | unknown; NULL: keep (unknown for a new desktop) */
  bool has_platform_id;       /**< platform_id given (NULL clears) */
  const char *platform_id;    /**< ... as this */
};

/** Outcome of an upsert. */
enum kg_desktop_upsert {
  KG_DESKTOP_CREATED,
  KG_DESKTOP_UPDATED,
  KG_DESKTOP_OTHER_HOST /**< exists on another KMS host: nothing changed */
};

/**
 * Creates or updates a desktop in one statement (INSERT ... ON CONFLICT), so
 * concurrent PUTs of one new hostname never collide. updated_at changes
 * only when a value does.
 * @param db connection (in a transaction, pool row locked FOR KEY SHARE)
 * @param put the values
 * @param[out] outcome what happened
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_desktop_upsert(struct kg_db *db, const struct kg_desktop_put *put,
                                enum kg_desktop_upsert *outcome);

/**
 * The KMS host a desktop is on, for the message of a refused move.
 * @param db connection
 * @param hostname lowercase hostname
 * @param[out] kms_host receives the host's name ("" when the desktop is unknown)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_desktop_host(struct kg_db *db, const char *hostname, char kms_host[254]);

/**
 * Reads one desktop with its CMID status.
 * @param db connection
 * @param hostname lowercase hostname
 * @param cb receives the row when found
 * @param cls closure for cb
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_desktop_get(struct kg_db *db, const char *hostname, kg_desktop_cb cb, void *cls,
                             bool *found);

/** Filters of GET /v1/desktops; NULL members do not filter. */
struct kg_desktop_filter {
  const char *pool;
  const char *state;
  const char *cmid;     /**< lowercase GUID */
  const char *kms_host; /**< lowercase */
};

/**
 * Lists desktops by hostname with their CMID status.
 * @param db connection
 * @param f filters
 * @param after only hostnames sorting after this one, or NULL
 * @param limit most rows to return
 * @param cb receives each row in order
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_desktop_list(struct kg_db *db, const struct kg_desktop_filter *f,
                              const char *after, long long limit, kg_desktop_cb cb, void *cls);

/**
 * Decommissions a desktop now, keeping the first decommission time.
 * @param db connection (in a transaction)
 * @param hostname lowercase hostname
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_desktop_decommission(struct kg_db *db, const char *hostname, bool *found);

/**
 * The host a desktop is registered on.
 * @param db connection
 * @param hostname lowercase
 * @param[out] host its host's name
 * @param[out] found whether the desktop exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_desktop_host_name(struct kg_db *db, const char *hostname, char host[254],
                                   bool *found);

#endif
