/**
 * @file db_prune.c
 * @brief Retention statements.
 */
#include "db_prune.h"

#include <stdlib.h>

/* Any replica may prune; two at once would only contend for the same rows. */
#define KG_PRUNE_LOCK "7021794190251950431"

/* clang-format off */
static const struct kg_stmt stmt_lock = {
  "prune_lock", "SELECT pg_try_advisory_lock(" KG_PRUNE_LOCK ")"
};

static const struct kg_stmt stmt_unlock = {
  "prune_unlock", "SELECT pg_advisory_unlock(" KG_PRUNE_LOCK ")"
};
/* clang-format on */

/* The oldest rows first, a batch at a time: short transactions that never
   hold many row locks against ingest. The primary key leads with (server,
   requested_at) (migration 0014): each server's oldest rows start its part
   of the key, the servers are found by skipping along the key (one probe per
   server, not a scan), and a batch is the oldest of their oldest. */
/* clang-format off */
static const struct kg_stmt stmt_batch = {
  "prune_batch",
  "DELETE FROM activation_requests WHERE ctid = ANY (ARRAY("
  " WITH RECURSIVE servers AS ("
  "  SELECT min(server) AS server FROM activation_requests"
  "  UNION ALL"
  "  SELECT (SELECT min(r.server) FROM activation_requests r WHERE r.server > s.server)"
  "  FROM servers s WHERE s.server IS NOT NULL)"
  " SELECT o.ctid FROM servers s CROSS JOIN LATERAL ("
  "  SELECT r.ctid, r.requested_at FROM activation_requests r"
  "  WHERE r.server = s.server AND r.requested_at < now() - make_interval(days => $1::int)"
  "  ORDER BY r.requested_at LIMIT $2::bigint) o"
  " ORDER BY o.requested_at LIMIT $2::bigint))"
};
/* clang-format on */

enum kg_qs
kg_db_prune_lock(struct kg_db *db, bool *taken)
{
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_lock, 0, NULL, &qs);

  *taken = false;
  if (NULL == res)
    return qs;
  *taken = kg_db_bool(res, 0, 0);
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_prune_unlock(struct kg_db *db)
{
  return kg_db_run(db, &stmt_unlock, 0, NULL);
}

enum kg_qs
kg_db_prune_batch(struct kg_db *db, unsigned int days, long long batch, long long *deleted)
{
  char d[KG_DB_INT_BUFSZ], b[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(d, days), kg_db_param_int(b, batch) };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_batch, KG_NPARAMS(params), params, &qs);

  *deleted = 0;
  if (NULL == res)
    return qs;
  *deleted = atoll(PQcmdTuples(res));
  PQclear(res);
  return KG_QS_OK;
}
