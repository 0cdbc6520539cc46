/**
 * @file db_plan_hosts.c
 * @brief The statement that finds the other hosts a gate plan touches.
 */
#include "db_plan_hosts.h"

#include <stdio.h>
#include <stdlib.h>

/* clang-format off */
static const struct kg_stmt stmt_other_hosts = {
  "plan_other_hosts",
  "SELECT h.name FROM kms_hosts h JOIN kms_hosts own ON own.id = $1::bigint"
  " WHERE h.id <> own.id AND h.family = own.family"
  " AND (EXISTS (SELECT 1 FROM desktops d JOIN cmids c ON c.cmid = d.cmid"
  "              WHERE d.id = ANY ($2::bigint[]) AND c.kms_host_id = h.id"
  "              AND c.last_request_at > to_timestamp($4) - interval '30 days')"
  "  OR EXISTS (SELECT 1 FROM pool_hosts x WHERE x.pool_id = ANY ($3::bigint[])"
  "             AND x.kms_host_id = h.id))"
  " ORDER BY h.name LIMIT 17"  /* KG_MAX_OTHER_HOSTS + 1: whether there are more */
};
/* clang-format on */

/** "{1,2,3}": an array literal of ids; NULL when out of memory. */
static char *
id_array(const long long *ids, size_t n)
{
  size_t cap = 3 + n * (KG_DB_INT_BUFSZ + 1), len = 1;
  char *text = malloc(cap);

  if (NULL == text)
    return NULL;
  text[0] = '{';
  for (size_t i = 0; i < n; i++)
    len += (size_t) snprintf(text + len, cap - len, "%s%lld", 0 == i ? "" : ",", ids[i]);
  snprintf(text + len, cap - len, "}");
  return text;
}

static bool
keep_name(void *cls, const PGresult *res, int row)
{
  struct kg_host_names *out = cls;

  if (out->n < KG_MAX_OTHER_HOSTS)
    snprintf(out->name[out->n++], sizeof(out->name[0]), "%s", PQgetvalue(res, row, 0));
  else
    out->more = true;
  return true;
}

enum kg_qs
kg_db_plan_other_hosts(struct kg_db *db, long long host_id, const long long *desktop_ids,
                       size_t n_desktops, const long long *pool_ids, size_t n_pools, int64_t now,
                       struct kg_host_names *out)
{
  char host[KG_DB_INT_BUFSZ], at[KG_DB_INT_BUFSZ];
  char *desktops = id_array(desktop_ids, n_desktops), *pools = id_array(pool_ids, n_pools);
  enum kg_qs qs = KG_QS_INTERNAL_ERROR; /* out of memory, unless the statement runs */
  int rows;

  out->n = 0;
  out->more = false;
  if (NULL != desktops && NULL != pools) {
    /* clang-format off */
    const char *params[] = { kg_db_param_int(host, host_id), desktops, pools,
                             kg_db_param_int(at, now) };
    /* clang-format on */
    qs = kg_db_each_row(db, &stmt_other_hosts, KG_NPARAMS(params), params, keep_name, out, &rows);
  }
  free(desktops);
  free(pools);
  return qs;
}
