/**
 * @file db_hosts.c
 * @brief KMS host statements and the rows they return.
 */
#include "db_hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define HOST_COLUMNS                                                              \
  "id, name, family, threshold, capacity, margin, renewal_interval_minutes,"      \
  " description, " KG_SQL_EPOCH("created_at") ", " KG_SQL_EPOCH("updated_at") ", estate_version," \
  " server"

/* No row: the name is taken, or the server has a host of that family. */
static const struct kg_stmt stmt_insert = {
  "host_insert",
  "INSERT INTO kms_hosts (name, family, threshold, capacity, margin,"
  " renewal_interval_minutes, description, server)"
  " SELECT $1, $2, $3::int, $4::int, $5::int, $6::int, $7, $8"
  " WHERE NOT EXISTS (SELECT 1 FROM kms_hosts WHERE server = $8 AND family = $2)"
  " ON CONFLICT (name) DO NOTHING RETURNING " HOST_COLUMNS
};

/* A host counts the requests its server already has: after it is created or
   moved to another server. */
static const struct kg_stmt stmt_rebuild = {
  "host_rebuild_cmids", "SELECT kg_rebuild_cmids($1::bigint)"
};
/* clang-format on */

/* Every read of one host by name, whatever lock it takes. */
#define HOST_BY_NAME "SELECT " HOST_COLUMNS " FROM kms_hosts WHERE name = $1"

/* clang-format off */
static const struct kg_stmt stmt_get = {
  "host_get", HOST_BY_NAME
};

static const struct kg_stmt stmt_get_id = {
  "host_get_id", "SELECT " HOST_COLUMNS " FROM kms_hosts WHERE id = $1::bigint"
};

/* Orders evaluations that reserve on one host; pools and desktops may still be added. */
static const struct kg_stmt stmt_get_lock = {
  "host_get_lock", HOST_BY_NAME " FOR NO KEY UPDATE"
};

/* A delete waits for, and then blocks, everything that uses the host. */
static const struct kg_stmt stmt_lock_update = {
  "host_lock_update", HOST_BY_NAME " FOR UPDATE"
};

/* Keeps the host from being deleted while a pool is added to it. */
static const struct kg_stmt stmt_lock_share = {
  "host_lock_share", HOST_BY_NAME " FOR KEY SHARE"
};
/* clang-format on */

/* Reservations of one family are evaluated one after another (across every
   replica): a plan may hold several hosts of its family, and taking this lock
   before any host row keeps two of them from waiting on each other. */
/* clang-format off */
static const struct kg_stmt stmt_family_lock = {
  "host_family_lock",
  "SELECT pg_advisory_xact_lock(1802924359, hashtext(family)) FROM kms_hosts WHERE name = $1"
};

static const struct kg_stmt stmt_list = {
  "host_list",
  "SELECT " HOST_COLUMNS " FROM kms_hosts"
  " WHERE ($1::text IS NULL OR name > $1::text) ORDER BY name LIMIT $2::bigint"
};

/* No row for an existing host: the new server has a host of its family. */
static const struct kg_stmt stmt_update = {
  "host_update",
  "UPDATE kms_hosts h SET threshold = coalesce($2::int, threshold),"
  " capacity = coalesce($3::int, capacity), margin = coalesce($4::int, margin),"
  " renewal_interval_minutes = coalesce($5::int, renewal_interval_minutes),"
  " description = coalesce($6::text, description), server = coalesce($7::text, server),"
  " updated_at = now()"
  " WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM kms_hosts o WHERE o.id <> h.id"
  "  AND o.family = h.family AND o.server = coalesce($7::text, h.server))"
  " RETURNING " HOST_COLUMNS
};

static const struct kg_stmt stmt_pools = {
  "host_pools",
  "SELECT name, count(*) OVER () FROM pools WHERE kms_host_id = $1::bigint"
  " ORDER BY name LIMIT 100"
};

static const struct kg_stmt stmt_delete = {
  "host_delete",
  "DELETE FROM kms_hosts WHERE id = $1::bigint"
};

static const struct kg_stmt stmt_duplicates = {
  "host_duplicates",
  "SELECT d.cmid, json_agg(d.hostname ORDER BY d.hostname)::text,"
  " json_agg(DISTINCT p.name ORDER BY p.name)::text, count(*)"
  " FROM desktops d JOIN pools p ON p.id = d.pool_id"
  " WHERE d.kms_host_id = $1::bigint AND d.cmid IS NOT NULL AND d.state <> 'decommissioned'"
  " GROUP BY d.cmid HAVING count(*) > 1 ORDER BY count(*) DESC, d.cmid"
};
/* clang-format on */

/** Fills a record from row @a row of a HOST_COLUMNS result. */
static void
read_host(const PGresult *res, int row, struct kg_host_record *h)
{
  h->id = kg_db_int(res, row, 0);
  h->name = PQgetvalue(res, row, 1);
  h->family = PQgetvalue(res, row, 2);
  h->threshold = (int) kg_db_int(res, row, 3);
  h->capacity = (int) kg_db_int(res, row, 4);
  h->margin = (int) kg_db_int(res, row, 5);
  h->renewal_minutes = (int) kg_db_int(res, row, 6);
  h->description = PQgetvalue(res, row, 7);
  h->created_at = kg_db_text(res, row, 8);
  h->updated_at = kg_db_text(res, row, 9);
  h->estate_version = kg_db_int(res, row, 10);
  h->server = PQgetvalue(res, row, 11);
}

struct host_cb {
  kg_host_cb cb;
  void *cls;
};

static bool
host_row(void *cls, const PGresult *res, int row)
{
  struct host_cb *c = cls;
  struct kg_host_record r;

  read_host(res, row, &r);
  return c->cb(c->cls, &r);
}

/** Runs a HOST_COLUMNS statement and hands every row to @a cb. */
static enum kg_qs
each_host(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params,
          kg_host_cb cb, void *cls, int *rows)
{
  struct host_cb c = { cb, cls };

  return kg_db_each_row(db, stmt, nparams, params, host_row, &c, rows);
}

/** Callback that keeps the id of the one row. */
static bool
keep_id(void *cls, const struct kg_host_record *h)
{
  *(long long *) cls = h->id;
  return true;
}

/** Counts the stored requests of the host's server (see KG_SQL_ROUTING_LOCK). */
static enum kg_qs
rebuild_cmids(struct kg_db *db, long long id)
{
  char num[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(num, id) };
  enum kg_qs qs = kg_db_simple(db, "SELECT pg_advisory_xact_lock(" KG_SQL_ROUTING_LOCK ")");

  if (KG_QS_OK != qs)
    return qs;
  PGresult *res = kg_db_exec(db, &stmt_rebuild, KG_NPARAMS(params), params, &qs);
  PQclear(res);
  return NULL == res ? qs : KG_QS_OK;
}

/** Hands the host with @a id (after the statements of this transaction) to @a cb. */
static enum kg_qs
kg_db_host_get_by_id(struct kg_db *db, long long id, kg_host_cb cb, void *cls)
{
  char num[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(num, id) };
  int rows;

  return each_host(db, &stmt_get_id, KG_NPARAMS(params), params, cb, cls, &rows);
}

enum kg_qs
kg_db_host_insert(struct kg_db *db, const struct kg_host_new *h, kg_host_cb cb, void *cls,
                  bool *duplicate)
{
  char threshold[KG_DB_INT_BUFSZ], capacity[KG_DB_INT_BUFSZ], margin[KG_DB_INT_BUFSZ];
  char renewal[KG_DB_INT_BUFSZ];
  int rows;
  /* clang-format off */
  const char *params[] = {
    h->name, h->family, kg_db_param_int(threshold, h->threshold),
    kg_db_param_int(capacity, h->capacity), kg_db_param_int(margin, h->margin),
    kg_db_param_int(renewal, h->renewal_minutes), h->description, h->server,
  };
  /* clang-format on */
  long long id = 0;
  enum kg_qs qs = each_host(db, &stmt_insert, KG_NPARAMS(params), params, keep_id, &id, &rows);
  *duplicate = (KG_QS_OK == qs && 0 == rows);
  if (KG_QS_OK != qs || *duplicate)
    return qs;
  qs = rebuild_cmids(db, id);
  return KG_QS_OK == qs ? kg_db_host_get_by_id(db, id, cb, cls) : qs;
}

enum kg_qs
kg_db_host_get(struct kg_db *db, const char *name, kg_host_cb cb, void *cls, bool *found)
{
  const char *params[] = { name };
  int rows;
  enum kg_qs qs = each_host(db, &stmt_get, KG_NPARAMS(params), params, cb, cls, &rows);

  *found = rows > 0;
  return qs;
}

void
kg_host_row_copy(struct kg_host_row *row, const struct kg_host_record *h)
{
  row->id = h->id;
  snprintf(row->name, sizeof(row->name), "%s", h->name);
  snprintf(row->family, sizeof(row->family), "%s", h->family);
  snprintf(row->server, sizeof(row->server), "%s", h->server);
  row->threshold = h->threshold;
  row->capacity = h->capacity;
  row->margin = h->margin;
  row->renewal_minutes = h->renewal_minutes;
  row->estate_version = h->estate_version;
}

static bool
keep_row(void *cls, const struct kg_host_record *h)
{
  kg_host_row_copy(cls, h);
  return true;
}

enum kg_qs
kg_db_host_row(struct kg_db *db, const char *name, bool lock, struct kg_host_row *host, bool *found)
{
  const char *params[] = { name };
  int rows;
  enum kg_qs qs = each_host(db, lock ? &stmt_get_lock : &stmt_get, KG_NPARAMS(params), params,
                            keep_row, host, &rows);

  *found = rows > 0;
  return qs;
}

enum kg_qs
kg_db_host_rows(struct kg_db *db, struct kg_host_row **hosts, size_t *n)
{
  const char *params[] = { NULL, NULL }; /* the list from its start, without LIMIT */
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_list, KG_NPARAMS(params), params, &qs);

  *hosts = NULL;
  *n = 0;
  if (NULL == res)
    return qs;
  size_t rows = (size_t) PQntuples(res);
  *hosts = calloc(rows + 1, sizeof(**hosts));
  if (NULL != *hosts) {
    for (size_t i = 0; i < rows; i++) {
      struct kg_host_record h;
      read_host(res, (int) i, &h);
      kg_host_row_copy(&(*hosts)[i], &h);
    }
    *n = rows;
  }
  PQclear(res);
  return NULL != *hosts ? KG_QS_OK : KG_QS_HARD_ERROR;
}

enum kg_qs
kg_db_host_list(struct kg_db *db, const char *after, long long limit, kg_host_cb cb, void *cls)
{
  char lim[KG_DB_INT_BUFSZ];
  int rows;
  const char *params[] = { after, kg_db_param_int(lim, limit) };
  return each_host(db, &stmt_list, KG_NPARAMS(params), params, cb, cls, &rows);
}

enum kg_qs
kg_db_host_update(struct kg_db *db, const char *name, const struct kg_host_patch *p, kg_host_cb cb,
                  void *cls, bool *found)
{
  char threshold[KG_DB_INT_BUFSZ], capacity[KG_DB_INT_BUFSZ], margin[KG_DB_INT_BUFSZ];
  char renewal[KG_DB_INT_BUFSZ];
  int rows;
  /* clang-format off */
  const char *params[] = {  /* NULL (SQL NULL) keeps the column */
    name,
    p->has_threshold ? kg_db_param_int(threshold, p->threshold) : NULL,
    p->has_capacity ? kg_db_param_int(capacity, p->capacity) : NULL,
    p->has_margin ? kg_db_param_int(margin, p->margin) : NULL,
    p->has_renewal ? kg_db_param_int(renewal, p->renewal_minutes) : NULL,
    p->has_description ? p->description : NULL,
    p->server,
  };
  /* clang-format on */
  long long id = 0;
  enum kg_qs qs = each_host(db, &stmt_update, KG_NPARAMS(params), params, keep_id, &id, &rows);

  *found = rows > 0;
  if (KG_QS_OK != qs || !*found)
    return qs;
  if (NULL != p->server)
    qs = rebuild_cmids(db, id);
  return KG_QS_OK == qs ? kg_db_host_get_by_id(db, id, cb, cls) : qs;
}

enum kg_qs
kg_db_host_lock(struct kg_db *db, const char *name, bool exclusive, long long *id)
{
  const char *params[] = { name };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, exclusive ? &stmt_lock_update : &stmt_lock_share, 1, params, &qs);

  *id = 0;
  if (NULL == res)
    return qs;
  if (1 == PQntuples(res))
    *id = kg_db_int(res, 0, 0);
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_host_pools(struct kg_db *db, long long host_id, bool (*cb)(void *cls, const char *pool),
                 void *cls, long long *total)
{
  char id[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  const char *params[] = { kg_db_param_int(id, host_id) };
  PGresult *res = kg_db_exec(db, &stmt_pools, KG_NPARAMS(params), params, &qs);
  *total = 0;
  if (NULL == res)
    return qs;
  int rows = PQntuples(res);
  if (rows > 0)
    *total = kg_db_int(res, 0, 1);
  for (int i = 0; i < rows && KG_QS_OK == qs; i++)
    if (!cb(cls, PQgetvalue(res, i, 0)))
      qs = KG_QS_HARD_ERROR;
  PQclear(res);
  return qs;
}

enum kg_qs
kg_db_host_delete(struct kg_db *db, long long host_id)
{
  char id[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(id, host_id) };
  return kg_db_run(db, &stmt_delete, KG_NPARAMS(params), params);
}

enum kg_qs
kg_db_host_duplicates(struct kg_db *db, long long host_id,
                      bool (*cb)(void *cls, const struct kg_duplicate_record *d), void *cls)
{
  char id[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  const char *params[] = { kg_db_param_int(id, host_id) };
  PGresult *res = kg_db_exec(db, &stmt_duplicates, KG_NPARAMS(params), params, &qs);
  if (NULL == res)
    return qs;
  for (int i = 0; i < PQntuples(res) && KG_QS_OK == qs; i++) {
    /* clang-format off */
    struct kg_duplicate_record d = {
      .cmid = PQgetvalue(res, i, 0), .desktops_json = PQgetvalue(res, i, 1),
      .pools_json = PQgetvalue(res, i, 2), .count = kg_db_int(res, i, 3),
    };
    /* clang-format on */
    if (!cb(cls, &d))
      qs = KG_QS_INTERNAL_ERROR;
  }
  PQclear(res);
  return qs;
}

enum kg_qs
kg_db_host_family_lock(struct kg_db *db, const char *name)
{
  const char *params[] = { name };
  return kg_db_run(db, &stmt_family_lock, KG_NPARAMS(params), params);
}
