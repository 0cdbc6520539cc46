/**
 * @file db_pools.c
 * @brief Pool statements and the rows they return.
 */
#include "db_pools.h"

#include <stdio.h>
#include <string.h>

/* One pool with its host and its desktops counted by state (index desktops_pool_state). */
/* clang-format off */
#define POOL_SELECT                                                                    \
  "SELECT p.id, p.name, h.name, p.platform, p.renewal_interval_minutes,"               \
  " coalesce(p.renewal_interval_minutes, h.renewal_interval_minutes), p.unique_cmids," \
  " c.active, c.powered_off, c.decommissioned,"                                        \
  " " KG_SQL_EPOCH("p.created_at") ", " KG_SQL_EPOCH("p.updated_at") ","                \
  /* discovery hosts with weights (none: pinned), and active desktops by the  */       \
  /* host of their CMID's newest request (docs/model.md §6.2)                 */       \
  " coalesce((SELECT json_agg(json_build_object('name', xh.name, 'weight', x.weight)"  \
  "   ORDER BY xh.name) FROM pool_hosts x JOIN kms_hosts xh ON xh.id = x.kms_host_id"  \
  "   WHERE x.pool_id = p.id), '[]')::text,"                                           \
  " coalesce((SELECT json_object_agg(n.host, n.desktops) FROM (SELECT dh.name AS host,"\
  "   count(*) AS desktops FROM desktops d CROSS JOIN LATERAL (SELECT c.kms_host_id"   \
  "    FROM cmids c WHERE c.cmid = d.cmid ORDER BY c.last_request_at DESC LIMIT 1) lc" \
  "   JOIN kms_hosts dh ON dh.id = lc.kms_host_id"                                     \
  "   WHERE d.pool_id = p.id AND d.state = 'active' GROUP BY dh.name) n), '{}')::text" \
  " FROM pools p JOIN kms_hosts h ON h.id = p.kms_host_id"                             \
  " CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE d.state = 'active'),"            \
  "   count(*) FILTER (WHERE d.state = 'powered_off'),"                                \
  "   count(*) FILTER (WHERE d.state = 'decommissioned')"                              \
  "   FROM desktops d WHERE d.pool_id = p.id) AS c (active, powered_off, decommissioned)"

static const struct kg_stmt stmt_insert = {
  "pool_insert",
  "INSERT INTO pools (name, kms_host_id, platform, renewal_interval_minutes, unique_cmids)"
  " VALUES ($1, $2::bigint, $3, $4::int, $5::boolean)"
  " ON CONFLICT (name) DO NOTHING RETURNING id"
};

/* A discovery host of the family of the pool's own host; no row: not such a host. */
static const struct kg_stmt stmt_add_host = {
  "pool_add_host",
  "INSERT INTO pool_hosts (pool_id, kms_host_id, weight)"
  " SELECT p.id, h.id, $3::int FROM pools p JOIN kms_hosts own ON own.id = p.kms_host_id"
  " JOIN kms_hosts h ON h.name = $2 AND h.family = own.family"
  " WHERE p.name = $1 ON CONFLICT DO NOTHING RETURNING 1"
};

static const struct kg_stmt stmt_hosts_but = {
  "pool_hosts_but",
  "SELECT h.name, x.weight FROM pool_hosts x JOIN kms_hosts h ON h.id = x.kms_host_id"
  " WHERE x.pool_id = $1::bigint AND h.id <> $2::bigint ORDER BY h.name"
};

static const struct kg_stmt stmt_host_name = {
  "pool_host_name",
  "SELECT h.name FROM pools p JOIN kms_hosts h ON h.id = p.kms_host_id WHERE p.name = $1"
};

static const struct kg_stmt stmt_clear_hosts = {
  "pool_clear_hosts", "DELETE FROM pool_hosts WHERE pool_id = $1::bigint"
};

static const struct kg_stmt stmt_get = {
  "pool_get",
  POOL_SELECT " WHERE p.name = $1"
};

static const struct kg_stmt stmt_list = {
  "pool_list",
  POOL_SELECT
  " WHERE ($1::text IS NULL OR h.name = $1::text) AND ($2::text IS NULL OR p.name > $2::text)"
  " ORDER BY p.name LIMIT $3::bigint"
};

static const struct kg_stmt stmt_ref_update = {
  "pool_ref_update",
  "SELECT p.id, p.kms_host_id, h.name FROM pools p JOIN kms_hosts h ON h.id = p.kms_host_id"
  " WHERE p.name = $1 FOR UPDATE OF p"
};

static const struct kg_stmt stmt_ref_share = {
  "pool_ref_share",
  "SELECT p.id, p.kms_host_id, h.name FROM pools p JOIN kms_hosts h ON h.id = p.kms_host_id"
  " WHERE p.name = $1 FOR KEY SHARE OF p"
};

static const struct kg_stmt stmt_usage = {
  "pool_usage",
  "SELECT (SELECT count(*) FROM desktops WHERE pool_id = $1::bigint),"
  " (SELECT count(*) FROM plan_provisions WHERE pool_id = $1::bigint),"
  " (SELECT count(*) FROM plan_provisions pp JOIN plans p ON p.id = pp.plan_id"
  "  WHERE pp.pool_id = $1::bigint AND p.state = 'reserved' AND p.expires_at > now())"
};

static const struct kg_stmt stmt_update = {
  "pool_update",
  "UPDATE pools SET platform = coalesce($2::text, platform),"
  " renewal_interval_minutes = CASE WHEN $3::boolean THEN $4::int"
  "   ELSE renewal_interval_minutes END,"
  " unique_cmids = coalesce($5::boolean, unique_cmids),"
  " kms_host_id = coalesce($6::bigint, kms_host_id), updated_at = now()"
  " WHERE id = $1::bigint"
};

static const struct kg_stmt stmt_delete = {
  "pool_delete",
  "DELETE FROM pools WHERE id = $1::bigint"
};
/* clang-format on */

static void
read_pool(const PGresult *res, int row, struct kg_pool_record *p)
{
  p->id = kg_db_int(res, row, 0);
  p->name = PQgetvalue(res, row, 1);
  p->kms_host = PQgetvalue(res, row, 2);
  p->platform = PQgetvalue(res, row, 3);
  p->has_renewal = !PQgetisnull(res, row, 4);
  p->renewal_minutes = (int) kg_db_int(res, row, 4);
  p->effective_renewal_minutes = (int) kg_db_int(res, row, 5);
  p->unique_cmids = kg_db_bool(res, row, 6);
  p->active = kg_db_int(res, row, 7);
  p->powered_off = kg_db_int(res, row, 8);
  p->decommissioned = kg_db_int(res, row, 9);
  p->created_at = kg_db_text(res, row, 10);
  p->updated_at = kg_db_text(res, row, 11);
  p->kms_hosts_json = PQgetvalue(res, row, 12);
  p->desktops_by_host_json = PQgetvalue(res, row, 13);
}

struct pool_cb {
  kg_pool_cb cb;
  void *cls;
};

static bool
pool_row(void *cls, const PGresult *res, int row)
{
  struct pool_cb *c = cls;
  struct kg_pool_record r;

  read_pool(res, row, &r);
  return c->cb(c->cls, &r);
}

/** Runs a POOL_SELECT statement and hands every row to @a cb. */
static enum kg_qs
each_pool(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params,
          kg_pool_cb cb, void *cls, int *rows)
{
  struct pool_cb c = { cb, cls };

  return kg_db_each_row(db, stmt, nparams, params, pool_row, &c, rows);
}

enum kg_qs
kg_db_pool_insert(struct kg_db *db, const struct kg_pool_new *p, bool *duplicate)
{
  char host[KG_DB_INT_BUFSZ], renewal[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  /* clang-format off */
  const char *params[] = {
    p->name, kg_db_param_int(host, p->kms_host_id), p->platform,
    p->has_renewal ? kg_db_param_int(renewal, p->renewal_minutes) : NULL,
    p->unique_cmids ? "true" : "false",
  };
  /* clang-format on */
  PGresult *res = kg_db_exec(db, &stmt_insert, KG_NPARAMS(params), params, &qs);
  *duplicate = false;
  if (NULL == res)
    return qs;
  *duplicate = (0 == PQntuples(res));
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_pool_get(struct kg_db *db, const char *name, kg_pool_cb cb, void *cls, bool *found)
{
  const char *params[] = { name };
  int rows;
  enum kg_qs qs = each_pool(db, &stmt_get, KG_NPARAMS(params), params, cb, cls, &rows);

  *found = rows > 0;
  return qs;
}

enum kg_qs
kg_db_pool_list(struct kg_db *db, const char *kms_host, const char *after, long long limit,
                kg_pool_cb cb, void *cls)
{
  char lim[KG_DB_INT_BUFSZ];
  int rows;
  const char *params[] = { kms_host, after, kg_db_param_int(lim, limit) };
  return each_pool(db, &stmt_list, KG_NPARAMS(params), params, cb, cls, &rows);
}

enum kg_qs
kg_db_pool_ref(struct kg_db *db, const char *name, bool exclusive, struct kg_pool_ref *ref,
               bool *found)
{
  const char *params[] = { name };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, exclusive ? &stmt_ref_update : &stmt_ref_share, 1, params, &qs);

  *found = false;
  if (NULL == res)
    return qs;
  if (1 == PQntuples(res)) {
    ref->id = kg_db_int(res, 0, 0);
    ref->kms_host_id = kg_db_int(res, 0, 1);
    snprintf(ref->kms_host, sizeof(ref->kms_host), "%s", PQgetvalue(res, 0, 2));
    *found = true;
  }
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_pool_usage(struct kg_db *db, long long pool_id, long long *desktops, long long *plans,
                 long long *reserved_plans)
{
  char id[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  const char *params[] = { kg_db_param_int(id, pool_id) };
  PGresult *res = kg_db_exec(db, &stmt_usage, KG_NPARAMS(params), params, &qs);
  if (NULL == res)
    return qs;
  *desktops = kg_db_int(res, 0, 0);
  *plans = kg_db_int(res, 0, 1);
  *reserved_plans = kg_db_int(res, 0, 2);
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_pool_update(struct kg_db *db, long long pool_id, const struct kg_pool_patch *p)
{
  char id[KG_DB_INT_BUFSZ], renewal[KG_DB_INT_BUFSZ], host[KG_DB_INT_BUFSZ];
  /* clang-format off */
  const char *params[] = {
    kg_db_param_int(id, pool_id), p->platform, p->set_renewal ? "true" : "false",
    (p->set_renewal && !p->renewal_null) ? kg_db_param_int(renewal, p->renewal_minutes) : NULL,
    p->has_unique_cmids ? (p->unique_cmids ? "true" : "false") : NULL,
    0 != p->kms_host_id ? kg_db_param_int(host, p->kms_host_id) : NULL,
  };
  /* clang-format on */
  return kg_db_run(db, &stmt_update, KG_NPARAMS(params), params);
}

enum kg_qs
kg_db_pool_delete(struct kg_db *db, long long pool_id)
{
  char id[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(id, pool_id) };
  return kg_db_run(db, &stmt_delete, KG_NPARAMS(params), params);
}

enum kg_qs
kg_db_pool_add_host(struct kg_db *db, const char *pool, const char *host, int weight, bool *added)
{
  char w[KG_DB_INT_BUFSZ];
  const char *params[] = { pool, host, kg_db_param_int(w, weight) };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_add_host, KG_NPARAMS(params), params, &qs);

  *added = false;
  if (NULL == res)
    return qs;
  *added = PQntuples(res) > 0;
  PQclear(res);
  return KG_QS_OK;
}

struct host_cb {
  kg_pool_host_cb cb;
  void *cls;
};

static bool
each_host(void *cls, const PGresult *res, int row)
{
  struct host_cb *c = cls;
  return c->cb(c->cls, PQgetvalue(res, row, 0), (int) kg_db_int(res, row, 1));
}

enum kg_qs
kg_db_pool_hosts_but(struct kg_db *db, long long pool_id, long long host_id, kg_pool_host_cb cb,
                     void *cls)
{
  char pool[KG_DB_INT_BUFSZ], host[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(pool, pool_id), kg_db_param_int(host, host_id) };
  struct host_cb c = { cb, cls };
  int rows;

  return kg_db_each_row(db, &stmt_hosts_but, KG_NPARAMS(params), params, each_host, &c, &rows);
}

static bool
copy_name(void *cls, const PGresult *res, int row)
{
  snprintf(cls, 254, "%s", PQgetvalue(res, row, 0));
  return true;
}

enum kg_qs
kg_db_pool_host_name(struct kg_db *db, const char *pool, char host[254], bool *found)
{
  const char *params[] = { pool };
  int rows;
  enum kg_qs qs =
    kg_db_each_row(db, &stmt_host_name, KG_NPARAMS(params), params, copy_name, host, &rows);

  *found = rows > 0;
  return qs;
}

enum kg_qs
kg_db_pool_clear_hosts(struct kg_db *db, long long pool_id)
{
  char id[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(id, pool_id) };
  return kg_db_run(db, &stmt_clear_hosts, KG_NPARAMS(params), params);
}
