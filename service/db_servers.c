/**
 * @file db_servers.c
 * @brief KMS server statements. A server's totals come from
 *        server_activation_ids (kept by ingest), never from raw requests.
 */
#include "db_servers.h"

/* clang-format off */
static const struct kg_stmt stmt_exists = {
  "server_exists", "SELECT 1 FROM kms_hosts WHERE server = $1 LIMIT 1"
};

static const struct kg_stmt stmt_list = {
  "server_list",
  "SELECT server FROM (SELECT server FROM kms_hosts"
  "  UNION SELECT DISTINCT server FROM server_activation_ids) s"
  " WHERE ($1::text IS NULL OR server > $1::text) ORDER BY server LIMIT $2::bigint"
};

static const struct kg_stmt stmt_hosts = {
  "server_hosts", "SELECT name, family FROM kms_hosts WHERE server = $1 ORDER BY family"
};

static const struct kg_stmt stmt_totals = {
  "server_totals",
  "SELECT t.activation_id, kg_route(t.activation_id, t.family_hint), t.requests,"
  " " KG_SQL_EPOCH("t.last_at")
  " FROM server_activation_ids t WHERE t.server = $1"
  " ORDER BY t.requests DESC, t.activation_id NULLS FIRST LIMIT 1000"
};

static const struct kg_stmt stmt_unmapped = {
  "server_unmapped",
  "SELECT server, coalesce(sum(requests) FILTER"
  " (WHERE kg_route(activation_id, family_hint) IS NULL), 0)"
  " FROM server_activation_ids GROUP BY server ORDER BY server LIMIT 10000"
};
/* clang-format on */

enum kg_qs
kg_db_server_exists(struct kg_db *db, const char *server, bool *found)
{
  const char *params[] = { server };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_exists, KG_NPARAMS(params), params, &qs);

  *found = false;
  if (NULL == res)
    return qs;
  *found = PQntuples(res) > 0;
  PQclear(res);
  return KG_QS_OK;
}

struct server_cb {
  kg_server_cb cb;
  void *cls;
};

static bool
each_server(void *cls, const PGresult *res, int row)
{
  struct server_cb *c = cls;
  return c->cb(c->cls, PQgetvalue(res, row, 0));
}

enum kg_qs
kg_db_server_list(struct kg_db *db, const char *after, long long limit, kg_server_cb cb, void *cls)
{
  char lim[KG_DB_INT_BUFSZ];
  const char *params[] = { after, kg_db_param_int(lim, limit) };
  struct server_cb c = { cb, cls };
  int n;

  return kg_db_each_row(db, &stmt_list, KG_NPARAMS(params), params, each_server, &c, &n);
}

struct host_cb {
  kg_server_host_cb cb;
  void *cls;
};

static bool
each_host(void *cls, const PGresult *res, int row)
{
  struct host_cb *c = cls;
  return c->cb(c->cls, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1));
}

enum kg_qs
kg_db_server_hosts(struct kg_db *db, const char *server, kg_server_host_cb cb, void *cls, int *n)
{
  const char *params[] = { server };
  struct host_cb c = { cb, cls };

  return kg_db_each_row(db, &stmt_hosts, KG_NPARAMS(params), params, each_host, &c, n);
}

struct total_cb {
  kg_server_total_cb cb;
  void *cls;
};

static bool
each_total(void *cls, const PGresult *res, int row)
{
  struct total_cb *c = cls;
  /* clang-format off */
  struct kg_server_total t = {
    .activation_id = kg_db_text(res, row, 0), .application = kg_db_text(res, row, 1),
    .requests = kg_db_int(res, row, 2), .last_at = kg_db_text(res, row, 3),
  };
  /* clang-format on */
  return c->cb(c->cls, &t);
}

enum kg_qs
kg_db_server_totals(struct kg_db *db, const char *server, kg_server_total_cb cb, void *cls, int *n)
{
  const char *params[] = { server };
  struct total_cb c = { cb, cls };

  return kg_db_each_row(db, &stmt_totals, KG_NPARAMS(params), params, each_total, &c, n);
}

struct unmapped_cb {
  kg_server_unmapped_cb cb;
  void *cls;
};

static bool
each_unmapped(void *cls, const PGresult *res, int row)
{
  struct unmapped_cb *c = cls;
  return c->cb(c->cls, PQgetvalue(res, row, 0), kg_db_int(res, row, 1));
}

enum kg_qs
kg_db_server_unmapped(struct kg_db *db, kg_server_unmapped_cb cb, void *cls)
{
  struct unmapped_cb c = { cb, cls };
  int n;

  return kg_db_each_row(db, &stmt_unmapped, 0, NULL, each_unmapped, &c, &n);
}
