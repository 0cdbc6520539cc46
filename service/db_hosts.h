/**
 * @file db_hosts.h
 * @brief SQL for KMS hosts and their duplicate-CMID report.
 *
 * Rows come back through callbacks with borrowed strings (valid only during
 * the call), so a list of any length costs one result set and no copies.
 * Times are the text of whole Unix seconds, for kg_json_epoch_text().
 */
#ifndef KG_DB_HOSTS_H
#define KG_DB_HOSTS_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

/** One row of kms_hosts. */
struct kg_host_record {
  long long id;
  const char *name;   /**< lowercase hostname */
  const char *family; /**< "windows" | "office2010" | "office" */
  int threshold;
  int capacity;
  int margin;
  int renewal_minutes;      /**< renewal_interval_minutes */
  const char *description;  /**< "" when none */
  const char *created_at;   /**< epoch seconds text */
  const char *updated_at;   /**< epoch seconds text */
  long long estate_version; /**< see struct kg_host_row */
  const char *server;       /**< the KMS machine's lowercase DNS name */
};

/**
 * The fields of a host that the model, the gate and the metrics work with,
 * copied out of the result. Two shapes of one row on purpose: a
 * kg_host_record is a borrowed view, valid only during its callback (so a
 * list of any length costs no copies), while this one outlives the query, as
 * an estate holds it across the reads that load the rest.
 */
struct kg_host_row {
  long long id;
  char name[254];   /**< lowercase hostname (at most 253 characters) */
  char family[11];  /**< "windows" | "office2010" | "office" */
  char server[254]; /**< the KMS machine whose events it counts */
  int threshold, capacity, margin;
  int renewal_minutes;
  long long estate_version; /**< bumped by every write the forecast reads (migration 0002) */
};

/**
 * Copies what a kg_host_row keeps of a record.
 * @param[out] row the copy
 * @param h the record
 */
void kg_host_row_copy(struct kg_host_row *row, const struct kg_host_record *h);

/**
 * Receives one host row.
 * @param cls closure
 * @param h the row (borrowed)
 * @return true to go on, false when out of memory (the query then fails)
 */
typedef bool (*kg_host_cb)(void *cls, const struct kg_host_record *h);

/** Values of a new host; every member is set (the handler applied defaults). */
struct kg_host_new {
  const char *name;
  const char *server;
  const char *family;
  long long threshold, capacity, margin, renewal_minutes;
  const char *description;
};

/** Changes of PATCH; a member is changed only when its has_* flag is set. */
struct kg_host_patch {
  bool has_threshold, has_capacity, has_margin, has_renewal, has_description;
  long long threshold, capacity, margin, renewal_minutes;
  const char *description;
  const char *server; /**< NULL keeps it */
};

/**
 * Inserts a host unless the name is taken.
 * @param db connection (in a transaction)
 * @param h the values
 * @param cb receives the new row (not called for a duplicate)
 * @param cls closure for cb
 * @param[out] duplicate true when the name was already taken, or the
 *             server already has a host of that family
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_insert(struct kg_db *db, const struct kg_host_new *h, kg_host_cb cb,
                             void *cls, bool *duplicate);

/**
 * Reads one host.
 * @param db connection
 * @param name lowercase host name
 * @param cb receives the row when found
 * @param cls closure for cb
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_get(struct kg_db *db, const char *name, kg_host_cb cb, void *cls,
                          bool *found);

/**
 * Reads one host into a row of its own, optionally locking it so that
 * evaluations that reserve on this host run one after another across every
 * replica.
 * @param db connection (inside a transaction when @a lock)
 * @param name lowercase host name
 * @param lock take FOR NO KEY UPDATE on the row
 * @param[out] host the row, when found
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_row(struct kg_db *db, const char *name, bool lock, struct kg_host_row *host,
                          bool *found);

/**
 * Every host, by name, as rows of their own (for the metrics).
 * @param db connection
 * @param[out] hosts malloc'd array the caller frees (NULL after a failure)
 * @param[out] n its length
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_rows(struct kg_db *db, struct kg_host_row **hosts, size_t *n);

/**
 * Lists hosts by name.
 * @param db connection
 * @param after only names sorting after this one (NULL: from the start)
 * @param limit most rows to return
 * @param cb receives each row in order
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_list(struct kg_db *db, const char *after, long long limit, kg_host_cb cb,
                           void *cls);

/**
 * Applies a PATCH and returns the changed row.
 * @param db connection (in a transaction)
 * @param name lowercase host name
 * @param p the changes
 * @param cb receives the row when found
 * @param cls closure for cb
 * @param[out] found whether the host exists and was changed (false too when
 *             the new server already has a host of its family)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_update(struct kg_db *db, const char *name, const struct kg_host_patch *p,
                             kg_host_cb cb, void *cls, bool *found);

/**
 * Finds a host's id, locking its row: FOR UPDATE when @a exclusive (delete),
 * else FOR KEY SHARE (so that it cannot vanish while a pool is added to it).
 * @param db connection (in a transaction)
 * @param name lowercase host name
 * @param exclusive which lock to take
 * @param[out] id the host's id, 0 when not found
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_lock(struct kg_db *db, const char *name, bool exclusive, long long *id);

/**
 * Names the pools that use a host, for the 409 of a refused delete.
 * @param db connection
 * @param host_id the host
 * @param cb receives each pool name (at most 100, sorted)
 * @param cls closure for cb
 * @param[out] total how many pools use it
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_pools(struct kg_db *db, long long host_id,
                            bool (*cb)(void *cls, const char *pool), void *cls, long long *total);

/**
 * Deletes a host (its CMID summaries, requests, observations and plans go with it).
 * @param db connection (in a transaction, host row locked)
 * @param host_id the host
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_delete(struct kg_db *db, long long host_id);

/** One CMID shared by several desktops of a host. */
struct kg_duplicate_record {
  const char *cmid;          /**< lowercase GUID */
  const char *desktops_json; /**< JSON array of hostnames, sorted */
  const char *pools_json;    /**< JSON array of pool names, sorted */
  long long count;           /**< number of desktops */
};

/**
 * Lists CMIDs shared by more than one desktop (not decommissioned) of a host,
 * by count descending, then CMID.
 * @param db connection
 * @param host_id the host
 * @param cb receives each row
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_duplicates(struct kg_db *db, long long host_id,
                                 bool (*cb)(void *cls, const struct kg_duplicate_record *d),
                                 void *cls);

/**
 * Takes the transaction's reservation lock of the host's family (nothing when
 * the host does not exist): reserving gates hold it before any host row.
 * @param db connection (in a transaction)
 * @param name lowercase host name
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_host_family_lock(struct kg_db *db, const char *name);

#endif
