/**
 * @file db_activation_ids.c
 * @brief Activation-ID statements. A mapping change re-counts the stored
 *        requests under KG_SQL_ROUTING_LOCK.
 */
#include "db_activation_ids.h"

#include <string.h>

/* clang-format off */
#define ID_COLUMNS                                                              \
  "activation_id, application, builtin, product_group, coalesce(n_policy, 0),"  \
  " description, " KG_SQL_EPOCH("updated_at")

static const struct kg_stmt stmt_list = {
  "activation_id_list",
  "SELECT " ID_COLUMNS " FROM activation_ids"
  " WHERE ($1::text IS NULL OR application = $1::text)"
  " AND ($2::uuid IS NULL OR activation_id > $2::uuid)"
  " ORDER BY activation_id LIMIT $3::bigint"
};

static const struct kg_stmt stmt_get = {
  "activation_id_get", "SELECT " ID_COLUMNS " FROM activation_ids WHERE activation_id = $1::uuid"
};

static const struct kg_stmt stmt_lock = {
  "activation_id_lock",
  "SELECT application, builtin FROM activation_ids WHERE activation_id = $1::uuid FOR UPDATE"
};

static const struct kg_stmt stmt_upsert = {
  "activation_id_upsert",
  "INSERT INTO activation_ids (activation_id, application, description)"
  " VALUES ($1::uuid, $2, $3) ON CONFLICT (activation_id) DO UPDATE SET"
  " application = EXCLUDED.application, description = EXCLUDED.description, updated_at = now()"
  " WHERE NOT activation_ids.builtin"
};

static const struct kg_stmt stmt_delete = {
  "activation_id_delete", "DELETE FROM activation_ids WHERE activation_id = $1::uuid AND NOT builtin"
};

/* Hosts whose count the ID feeds before or after the change. */
static const struct kg_stmt stmt_recount = {
  "activation_id_recount",
  "SELECT kg_rebuild_cmids(h.id) FROM kms_hosts h"
  " WHERE h.family IN ($2::text, $3::text)"
  " AND h.server IN (SELECT server FROM server_activation_ids WHERE activation_id = $1::uuid)"
  " ORDER BY h.id"
};
/* clang-format on */

struct id_cb {
  kg_activation_id_cb cb;
  void *cls;
};

static bool
each_id(void *cls, const PGresult *res, int i)
{
  struct id_cb *c = cls;
  /* clang-format off */
  struct kg_activation_id a = {
    .activation_id = PQgetvalue(res, i, 0), .application = PQgetvalue(res, i, 1),
    .builtin = kg_db_bool(res, i, 2), .product_group = PQgetvalue(res, i, 3),
    .n_policy = (int) kg_db_int(res, i, 4), .description = PQgetvalue(res, i, 5),
    .updated_at = kg_db_text(res, i, 6),
  };
  /* clang-format on */
  return c->cb(c->cls, &a);
}

enum kg_qs
kg_db_activation_id_list(struct kg_db *db, const char *application, const char *after,
                         long long limit, kg_activation_id_cb cb, void *cls)
{
  char lim[KG_DB_INT_BUFSZ];
  const char *params[] = { application, after, kg_db_param_int(lim, limit) };
  struct id_cb c = { cb, cls };
  int rows;

  return kg_db_each_row(db, &stmt_list, KG_NPARAMS(params), params, each_id, &c, &rows);
}

enum kg_qs
kg_db_activation_id_get(struct kg_db *db, const char *id, kg_activation_id_cb cb, void *cls,
                        bool *found)
{
  const char *params[] = { id };
  struct id_cb c = { cb, cls };
  int rows;
  enum kg_qs qs = kg_db_each_row(db, &stmt_get, KG_NPARAMS(params), params, each_id, &c, &rows);

  *found = rows > 0;
  return qs;
}

/** Re-counts the requests with @a id on the hosts of both applications. */
static enum kg_qs
recount(struct kg_db *db, const char *id, const char *before, const char *after)
{
  const char *params[] = { id, before, after };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_recount, KG_NPARAMS(params), params, &qs);

  PQclear(res);
  return NULL == res ? qs : KG_QS_OK;
}

enum kg_qs
kg_db_activation_id_set(struct kg_db *db, const char *id, const char *application,
                        const char *description, enum kg_mapping_outcome *outcome)
{
  const char *params[] = { id, application, description };
  const char *id_only[] = { id };
  char before[16] = "";
  enum kg_qs qs = kg_db_simple(db, "SELECT pg_advisory_xact_lock(" KG_SQL_ROUTING_LOCK ")");
  PGresult *res =
    KG_QS_OK == qs ? kg_db_exec(db, &stmt_lock, KG_NPARAMS(id_only), id_only, &qs) : NULL;

  if (NULL == res)
    return qs;
  bool exists = PQntuples(res) > 0, builtin = exists && kg_db_bool(res, 0, 1);
  if (exists)
    strncpy(before, PQgetvalue(res, 0, 0), sizeof(before) - 1);
  PQclear(res);
  if (builtin) {
    *outcome = KG_MAPPING_BUILTIN;
    return KG_QS_OK;
  }
  if (NULL == application && !exists) {
    *outcome = KG_MAPPING_NOT_FOUND;
    return KG_QS_OK;
  }
  *outcome = NULL == application ? KG_MAPPING_DELETED
             : exists            ? KG_MAPPING_UPDATED
                                 : KG_MAPPING_CREATED;
  qs = NULL == application ? kg_db_run(db, &stmt_delete, KG_NPARAMS(id_only), id_only)
                           : kg_db_run(db, &stmt_upsert, KG_NPARAMS(params), params);
  if (KG_QS_OK != qs)
    return qs;
  return recount(db, id, exists ? before : NULL, application);
}
