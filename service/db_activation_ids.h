/**
 * @file db_activation_ids.h
 * @brief The activation-ID table: every known KMS client activation ID
 *        (built in, read-only) and the mappings an admin adds, each naming
 *        the application whose count its requests feed.
 */
#ifndef KG_DB_ACTIVATION_IDS_H
#define KG_DB_ACTIVATION_IDS_H

#include <stdbool.h>

#include "db.h"

/** One row of activation_ids. */
struct kg_activation_id {
  const char *activation_id; /**< lowercase GUID */
  const char *application;   /**< "windows" | "office2010" | "office" */
  bool builtin;
  const char *product_group; /**< "" for admin mappings */
  int n_policy;              /**< 25, 5, or 0 when unknown */
  const char *description;
  const char *updated_at; /**< epoch seconds text */
};

/** Receives a row; false aborts (KG_QS_HARD_ERROR). */
typedef bool (*kg_activation_id_cb)(void *cls, const struct kg_activation_id *a);

/**
 * Lists rows by activation ID.
 * @param db connection
 * @param application only this application, or NULL
 * @param after list after this ID, or NULL from the start
 * @param limit rows at most
 * @param cb receives each row
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_activation_id_list(struct kg_db *db, const char *application, const char *after,
                                    long long limit, kg_activation_id_cb cb, void *cls);

/**
 * Reads one row.
 * @param db connection
 * @param id lowercase GUID
 * @param cb receives the row when found
 * @param cls closure for cb
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_activation_id_get(struct kg_db *db, const char *id, kg_activation_id_cb cb,
                                   void *cls, bool *found);

/** What a mapping change did. */
enum kg_mapping_outcome {
  KG_MAPPING_CREATED,
  KG_MAPPING_UPDATED,
  KG_MAPPING_DELETED,
  KG_MAPPING_NOT_FOUND,
  KG_MAPPING_BUILTIN /**< built-in rows are read-only */
};

/**
 * Creates or changes an admin mapping, or deletes it (@a application NULL),
 * then rebuilds the per-CMID summaries of every host whose server holds
 * requests with that ID and whose family was or becomes its application:
 * the stored requests count at once.
 * @param db connection (in a transaction)
 * @param id lowercase GUID
 * @param application new application, or NULL to delete
 * @param description for a create or change
 * @param[out] outcome what happened
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_activation_id_set(struct kg_db *db, const char *id, const char *application,
                                   const char *description, enum kg_mapping_outcome *outcome);

#endif
