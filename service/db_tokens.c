/**
 * @file db_tokens.c
 * @brief Token listing and revocation statements.
 */
#include "db_tokens.h"

#include <stdio.h>

/* clang-format off */
#define TOKEN_COLUMNS                                                          \
  "id, name, role, " KG_SQL_EPOCH("created_at") ", " KG_SQL_EPOCH("revoked_at") ","          \
  " (extract(epoch FROM created_at) * 1000000)::bigint || ',' || id"

static const struct kg_stmt stmt_lookup = {
  "token_lookup",
  "SELECT id, name, role FROM api_tokens WHERE token_hash = $1::bytea AND revoked_at IS NULL"
};

static const struct kg_stmt stmt_insert = {
  "token_insert",
  "INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2, $3::bytea) RETURNING id"
};

static const struct kg_stmt stmt_get = {
  "token_get",
  "SELECT " TOKEN_COLUMNS " FROM api_tokens WHERE id = $1::uuid"
};

static const struct kg_stmt stmt_list = {
  "token_list",
  "SELECT " TOKEN_COLUMNS " FROM api_tokens"
  " WHERE $1::bigint IS NULL"
  "  OR (created_at, id) > (timestamptz 'epoch' + $1::bigint * interval '1 microsecond',"
  "                         $2::uuid)"
  " ORDER BY created_at, id LIMIT $3::bigint"
};

static const struct kg_stmt stmt_revoke = {
  "token_revoke",
  "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
  " WHERE id = $1::uuid RETURNING id"
};
/* clang-format on */

struct token_cb {
  kg_token_cb cb;
  void *cls;
};

static bool
token_row(void *cls, const PGresult *res, int row)
{
  struct token_cb *c = cls;
  /* clang-format off */
  struct kg_token_record r = {
    .id = PQgetvalue(res, row, 0), .name = PQgetvalue(res, row, 1),
    .role = PQgetvalue(res, row, 2), .created_at = kg_db_text(res, row, 3),
    .revoked_at = kg_db_text(res, row, 4), .sort_key = PQgetvalue(res, row, 5),
  };
  /* clang-format on */
  return c->cb(c->cls, &r);
}

/** Runs a TOKEN_COLUMNS statement and hands every row to @a cb. */
static enum kg_qs
each_token(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params,
           kg_token_cb cb, void *cls, int *rows)
{
  struct token_cb c = { cb, cls };

  return kg_db_each_row(db, stmt, nparams, params, token_row, &c, rows);
}

enum kg_qs
kg_db_token_get(struct kg_db *db, const char *id, kg_token_cb cb, void *cls, bool *found)
{
  const char *params[] = { id };
  int rows;
  enum kg_qs qs = each_token(db, &stmt_get, KG_NPARAMS(params), params, cb, cls, &rows);

  *found = rows > 0;
  return qs;
}

enum kg_qs
kg_db_token_list(struct kg_db *db, const char *after_us, const char *after_id, long long limit,
                 kg_token_cb cb, void *cls)
{
  char lim[KG_DB_INT_BUFSZ];
  int rows;
  const char *params[] = { after_us, after_id, kg_db_param_int(lim, limit) };
  return each_token(db, &stmt_list, KG_NPARAMS(params), params, cb, cls, &rows);
}

enum kg_qs
kg_db_token_revoke(struct kg_db *db, const char *id, bool *found)
{
  const char *params[] = { id };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_revoke, KG_NPARAMS(params), params, &qs);

  *found = false;
  if (NULL == res)
    return qs;
  *found = PQntuples(res) > 0;
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_token_lookup(struct kg_db *db, const char *hash, struct kg_token_match *out, bool *found)
{
  const char *params[] = { hash };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_lookup, KG_NPARAMS(params), params, &qs);

  *found = false;
  if (NULL == res)
    return qs;
  if (1 == PQntuples(res)) {
    snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(out->name, sizeof(out->name), "%s", PQgetvalue(res, 0, 1));
    snprintf(out->role, sizeof(out->role), "%s", PQgetvalue(res, 0, 2));
    *found = true;
  }
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_token_insert(struct kg_db *db, const char *name, const char *role, const char *hash,
                   char id[40])
{
  const char *params[] = { name, role, hash };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_insert, KG_NPARAMS(params), params, &qs);

  if (NULL == res)
    return qs;
  snprintf(id, 40, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  return KG_QS_OK;
}
