/**
 * @file db_pool_sync.c
 * @brief The pool sync's statements (db_pool_sync.h). The desktop triggers of
 *        migrations 0010 and 0013 bump and log every host each statement
 *        touches, once per statement; a statement that writes no row bumps
 *        nothing, which keeps a repeated sync free.
 */
#include "db_pool_sync.h"

#include <stdlib.h>
#include <string.h>

/* The list: $n is its JSON text. */
/* clang-format off */
#define SYNC_LIST(n)                                                           \
  "json_to_recordset(" n "::json) AS x (n integer, h text, s text, i text)"
/* clang-format on */

/* clang-format off */
static const struct kg_stmt stmt_diff = {
  "pool_sync_diff",
  "WITH x AS (SELECT * FROM " SYNC_LIST("$2") "),"
  " a AS (SELECT count(*) AS active FROM desktops"
  "  WHERE pool_id = $1::bigint AND state = 'active')"
  " SELECT * FROM (SELECT x.n, x.h AS hostname,"
  "  CASE WHEN d.id IS NULL THEN 'add' WHEN d.pool_id <> $1::bigint THEN 'conflict'"
  "   WHEN d.state = 'decommissioned' THEN 'revive' ELSE 'keep' END AS action,"
  "  p.name AS other_pool, false AS was_active,"
  "  coalesce(x.s IN ('on', 'off') AND x.s <> d.power_state, false) AS power_changes,"
  "  (SELECT active FROM a) AS pool_active"
  " FROM x LEFT JOIN desktops d ON d.hostname = x.h LEFT JOIN pools p ON p.id = d.pool_id"
  " UNION ALL"
  " SELECT NULL, d.hostname, 'drop', NULL, d.state = 'active', false, (SELECT active FROM a)"
  " FROM desktops d WHERE d.pool_id = $1::bigint AND d.state <> 'decommissioned'"
  " AND NOT EXISTS (SELECT 1 FROM x WHERE x.h = d.hostname)) u"
  " ORDER BY hostname COLLATE \"C\""
};

static const struct kg_stmt stmt_insert = {
  "pool_sync_insert",
  "INSERT INTO desktops (hostname, pool_id, kms_host_id, power_state, platform_id)"
  " SELECT x.h, $1::bigint, $2::bigint, coalesce(x.s, 'unknown'), x.i FROM " SYNC_LIST("$3")
  " WHERE NOT EXISTS (SELECT 1 FROM desktops d WHERE d.hostname = x.h)"
  " ON CONFLICT (hostname) DO NOTHING"
};

static const struct kg_stmt stmt_update = {
  "pool_sync_update",
  "UPDATE desktops d SET"
  " state = CASE WHEN d.state = 'decommissioned' THEN 'active' ELSE d.state END,"
  " decommissioned_at = CASE WHEN d.state = 'decommissioned' THEN NULL"
  "  ELSE d.decommissioned_at END,"
  " cmid = CASE WHEN d.state = 'decommissioned' THEN NULL ELSE d.cmid END,"
  " cmid_seen_at = CASE WHEN d.state = 'decommissioned' THEN NULL ELSE d.cmid_seen_at END,"
  " power_state = CASE WHEN x.s IN ('on', 'off') THEN x.s"
  "  WHEN d.state = 'decommissioned' THEN 'unknown' ELSE d.power_state END,"
  " platform_id = coalesce(x.i, d.platform_id),"
  " updated_at = now()"
  " FROM " SYNC_LIST("$2")
  " WHERE d.hostname = x.h AND d.pool_id = $1::bigint"
  " AND (d.state = 'decommissioned' OR (x.s IN ('on', 'off') AND x.s <> d.power_state)"
  "  OR (x.i IS NOT NULL AND x.i IS DISTINCT FROM d.platform_id))"
};

static const struct kg_stmt stmt_decommission = {
  "pool_sync_decommission",
  "UPDATE desktops d SET state = 'decommissioned', decommissioned_at = now(),"
  " updated_at = now()"
  " WHERE d.pool_id = $1::bigint AND d.state <> 'decommissioned'"
  " AND NOT EXISTS (SELECT 1 FROM " SYNC_LIST("$2") " WHERE x.h = d.hostname)"
};
/* clang-format on */

struct diff_cb {
  kg_sync_row_cb cb;
  void *cls;
};

static enum kg_sync_action
parse_action(const char *s)
{
  static const char *const names[] = { "add", "revive", "keep", "conflict", "drop" };

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (0 == strcmp(s, names[i]))
      return (enum kg_sync_action) i;
  return KG_SYNC_CONFLICT; /* not reached: the statement names only these */
}

static bool
diff_row(void *cls, const PGresult *res, int row)
{
  struct diff_cb *c = cls;
  /* clang-format off */
  struct kg_sync_row r = {
    .index = PQgetisnull(res, row, PQfnumber(res, "n"))
               ? -1
               : (int) kg_db_int(res, row, PQfnumber(res, "n")),
    .hostname = PQgetvalue(res, row, PQfnumber(res, "hostname")),
    .action = parse_action(PQgetvalue(res, row, PQfnumber(res, "action"))),
    .other_pool = kg_db_text(res, row, PQfnumber(res, "other_pool")),
    .was_active = kg_db_bool(res, row, PQfnumber(res, "was_active")),
    .power_changes = kg_db_bool(res, row, PQfnumber(res, "power_changes")),
    .pool_active = kg_db_int(res, row, PQfnumber(res, "pool_active")),
  };
  /* clang-format on */
  return c->cb(c->cls, &r);
}

enum kg_qs
kg_db_sync_diff(struct kg_db *db, long long pool_id, const char *list, kg_sync_row_cb cb, void *cls)
{
  char pool[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(pool, pool_id), list };
  struct diff_cb c = { cb, cls };
  int rows;

  return kg_db_each_row(db, &stmt_diff, KG_NPARAMS(params), params, diff_row, &c, &rows);
}

enum kg_qs
kg_db_sync_insert(struct kg_db *db, long long pool_id, long long kms_host_id, const char *list,
                  long long *inserted)
{
  char pool[KG_DB_INT_BUFSZ], host[KG_DB_INT_BUFSZ];
  /* clang-format off */
  const char *params[] = { kg_db_param_int(pool, pool_id), kg_db_param_int(host, kms_host_id),
                           list };
  /* clang-format on */
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_insert, KG_NPARAMS(params), params, &qs);

  *inserted = 0;
  if (NULL == res)
    return qs;
  *inserted = strtoll(PQcmdTuples(res), NULL, 10);
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_sync_update(struct kg_db *db, long long pool_id, const char *list)
{
  char pool[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(pool, pool_id), list };

  return kg_db_run(db, &stmt_update, KG_NPARAMS(params), params);
}

enum kg_qs
kg_db_sync_decommission(struct kg_db *db, long long pool_id, const char *list)
{
  char pool[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(pool, pool_id), list };

  return kg_db_run(db, &stmt_decommission, KG_NPARAMS(params), params);
}
