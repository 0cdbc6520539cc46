/**
 * @file db_desktops.c
 * @brief Desktop statements. The CMID status of docs/model.md §3.3 is
 *        computed in the one SELECT that every desktop read uses, since the
 *        listing is a hot path for hooks and dashboards.
 */
#include "db_desktops.h"

#include <stdio.h>
#include <string.h>

/* A desktop with its CMID facts, by the rules of the model (forecast.c): its
   CMID is renewing when an active desktop of the host that its platform does not
   report powered off carries it and the CMID's
   last request is within the smallest renewal interval of those desktops' pools
   + 24 h grace; lapsing when seen but not renewing; unseen when the desktop has
   no CMID or the host never logged it. It expires E = 30 d = 720 h after its
   last request, a request dated after now counting as now (a renewal due
   before now is never credited). */
/* clang-format off */
#define DESKTOP_SELECT                                                                     \
  "SELECT d.hostname, p.name, h.name, d.cmid, d.state,"                                    \
  " " KG_SQL_EPOCH("d.last_activation_at") ", " KG_SQL_EPOCH("d.decommissioned_at") ","    \
  " " KG_SQL_EPOCH("d.created_at") ", " KG_SQL_EPOCH("d.updated_at") ","                   \
  " CASE WHEN c.cmid IS NULL THEN 'unseen'"                                                \
  "  WHEN now() - c.last_request_at <= interval '24 hours' + (SELECT min(make_interval("  \
  "     mins => coalesce(op.renewal_interval_minutes, h.renewal_interval_minutes)))"       \
  "   FROM desktops o JOIN pools op ON op.id = o.pool_id"                                  \
  "   WHERE o.kms_host_id = d.kms_host_id AND o.cmid = d.cmid AND o.state = 'active'"       \
  "   AND o.power_state <> 'off')"                                                         \
  "  THEN 'renewing' ELSE 'lapsing' END,"                                                  \
  " " KG_SQL_EPOCH("c.last_request_at") ", c.request_count,"                               \
  " " KG_SQL_EPOCH("CASE WHEN c.last_request_at > now() THEN now()"                         \
                   " ELSE c.last_request_at END + interval '720 hours'") ","               \
  " c.required_count,"                                                                     \
  /* a short client name (VDI-001) cannot say which of these desktops it is */             \
  " EXISTS (SELECT 1 FROM desktops o WHERE o.kms_host_id = d.kms_host_id"                  \
  "  AND o.short_name = d.short_name AND o.id <> d.id),"                                   \
  " d.power_state, d.platform_id"                                                          \
  " FROM desktops d JOIN pools p ON p.id = d.pool_id"                                      \
  " JOIN kms_hosts h ON h.id = d.kms_host_id"                                              \
  " LEFT JOIN cmids c ON c.kms_host_id = d.kms_host_id AND c.cmid = d.cmid"

static const struct kg_stmt stmt_host_name = {
  "desktop_host_name",
  "SELECT h.name FROM desktops d JOIN kms_hosts h ON h.id = d.kms_host_id WHERE d.hostname = $1"
};

static const struct kg_stmt stmt_get = {
  "desktop_get",
  DESKTOP_SELECT " WHERE d.hostname = $1"
};

static const struct kg_stmt stmt_list = {
  "desktop_list",
  DESKTOP_SELECT
  " WHERE ($1::text IS NULL OR p.name = $1::text) AND ($2::text IS NULL OR d.state = $2::text)"
  " AND ($3::uuid IS NULL OR d.cmid = $3::uuid) AND ($4::text IS NULL OR h.name = $4::text)"
  " AND ($5::text IS NULL OR d.hostname > $5::text)"
  " ORDER BY d.hostname LIMIT $6::bigint"
};
/* clang-format on */

/* $1 hostname, $2 pool id, $3 host id, $4 cmid given, $5 cmid, $6 state (NULL keep),
   $7 last_activation_at given, $8 its Unix microseconds, $9 power_state (NULL keep),
   $10 platform_id given, $11 platform_id. A row of another host is
   left alone (WHERE), which returns no row: its CMID lives in that host's cache. */
/* clang-format off */
static const struct kg_stmt stmt_upsert = {
  "desktop_upsert",
  "INSERT INTO desktops AS d (hostname, pool_id, kms_host_id, cmid, cmid_seen_at, state,"
  " last_activation_at, decommissioned_at, power_state, platform_id)"
  " VALUES ($1, $2::bigint, $3::bigint, $5::uuid,"
  "  CASE WHEN $5::uuid IS NOT NULL THEN now() END, coalesce($6::text, 'active'),"
  "  timestamptz 'epoch' + $8::bigint * interval '1 microsecond',"
  "  CASE WHEN $6::text = 'decommissioned' THEN now() END, coalesce($9::text, 'unknown'),"
  "  $11::text)"
  " ON CONFLICT (hostname) DO UPDATE SET"
  " pool_id = excluded.pool_id,"
  " power_state = coalesce($9::text, d.power_state),"
  " platform_id = CASE WHEN $10::boolean THEN $11::text ELSE d.platform_id END,"
  " cmid = CASE WHEN $4::boolean THEN excluded.cmid ELSE d.cmid END,"
  " cmid_seen_at = CASE WHEN NOT $4::boolean OR excluded.cmid IS NOT DISTINCT FROM d.cmid"
  "   THEN d.cmid_seen_at ELSE excluded.cmid_seen_at END,"
  " state = coalesce($6::text, d.state),"
  " last_activation_at = CASE WHEN $7::boolean THEN excluded.last_activation_at"
  "   ELSE d.last_activation_at END,"
  " decommissioned_at = CASE WHEN coalesce($6::text, d.state) = 'decommissioned'"
  "   THEN coalesce(d.decommissioned_at, now()) END,"
  " updated_at = CASE WHEN (d.pool_id, d.cmid, d.state, d.last_activation_at, d.power_state,"
  "   d.platform_id)"
  "   IS NOT DISTINCT FROM (excluded.pool_id,"
  "    CASE WHEN $4::boolean THEN excluded.cmid ELSE d.cmid END, coalesce($6::text, d.state),"
  "    CASE WHEN $7::boolean THEN excluded.last_activation_at ELSE d.last_activation_at END,"
  "    coalesce($9::text, d.power_state),"
  "    CASE WHEN $10::boolean THEN $11::text ELSE d.platform_id END)"
  "   THEN d.updated_at ELSE now() END"
  " WHERE d.kms_host_id = excluded.kms_host_id"
  " RETURNING (xmax = 0)"
};

static const struct kg_stmt stmt_host = {
  "desktop_host",
  "SELECT h.name FROM desktops d JOIN kms_hosts h ON h.id = d.kms_host_id"
  " WHERE d.hostname = $1"
};

static const struct kg_stmt stmt_decommission = {
  "desktop_decommission",
  "UPDATE desktops SET state = 'decommissioned',"
  " decommissioned_at = coalesce(decommissioned_at, now()),"
  " updated_at = CASE WHEN state = 'decommissioned' THEN updated_at ELSE now() END"
  " WHERE hostname = $1 RETURNING id"
};
/* clang-format on */

static void
read_desktop(const PGresult *res, int row, struct kg_desktop_record *d)
{
  d->hostname = PQgetvalue(res, row, 0);
  d->pool = PQgetvalue(res, row, 1);
  d->kms_host = PQgetvalue(res, row, 2);
  d->cmid = kg_db_text(res, row, 3);
  d->state = PQgetvalue(res, row, 4);
  d->last_activation_at = kg_db_text(res, row, 5);
  d->decommissioned_at = kg_db_text(res, row, 6);
  d->created_at = kg_db_text(res, row, 7);
  d->updated_at = kg_db_text(res, row, 8);
  d->cmid_status = PQgetvalue(res, row, 9);
  d->last_request_at = kg_db_text(res, row, 10);
  d->has_request_count = !PQgetisnull(res, row, 11);
  d->request_count = kg_db_int(res, row, 11);
  d->expires_at = kg_db_text(res, row, 12);
  d->has_required_count = !PQgetisnull(res, row, 13);
  d->required_count = (int) kg_db_int(res, row, 13);
  d->name_ambiguous = kg_db_bool(res, row, 14);
  d->power_state = PQgetvalue(res, row, 15);
  d->platform_id = kg_db_text(res, row, 16);
}

struct desktop_cb {
  kg_desktop_cb cb;
  void *cls;
};

static bool
desktop_row(void *cls, const PGresult *res, int row)
{
  struct desktop_cb *c = cls;
  struct kg_desktop_record r;

  read_desktop(res, row, &r);
  return c->cb(c->cls, &r);
}

/** Runs a DESKTOP_SELECT statement and hands every row to @a cb. */
static enum kg_qs
each_desktop(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params,
             kg_desktop_cb cb, void *cls, int *rows)
{
  struct desktop_cb c = { cb, cls };

  return kg_db_each_row(db, stmt, nparams, params, desktop_row, &c, rows);
}

enum kg_qs
kg_db_desktop_upsert(struct kg_db *db, const struct kg_desktop_put *put,
                     enum kg_desktop_upsert *outcome)
{
  char pool[KG_DB_INT_BUFSZ], host[KG_DB_INT_BUFSZ], lat[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  bool lat_value = put->has_last_activation && !put->last_activation_null;
  /* clang-format off */
  const char *params[] = {
    put->hostname, kg_db_param_int(pool, put->pool_id), kg_db_param_int(host, put->kms_host_id),
    put->has_cmid ? "true" : "false", put->has_cmid ? put->cmid : NULL, put->state,
    put->has_last_activation ? "true" : "false",
    lat_value ? kg_db_param_int(lat, put->last_activation_us) : NULL,
    put->power_state, put->has_platform_id ? "true" : "false", put->platform_id,
  };
  /* clang-format on */
  PGresult *res = kg_db_exec(db, &stmt_upsert, KG_NPARAMS(params), params, &qs);
  if (NULL == res)
    return qs;
  if (0 == PQntuples(res))
    *outcome = KG_DESKTOP_OTHER_HOST;
  else
    *outcome = kg_db_bool(res, 0, 0) ? KG_DESKTOP_CREATED : KG_DESKTOP_UPDATED;
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_desktop_host(struct kg_db *db, const char *hostname, char kms_host[254])
{
  const char *params[] = { hostname };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_host, KG_NPARAMS(params), params, &qs);

  kms_host[0] = '\0';
  if (NULL == res)
    return qs;
  if (1 == PQntuples(res))
    snprintf(kms_host, 254, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_desktop_get(struct kg_db *db, const char *hostname, kg_desktop_cb cb, void *cls, bool *found)
{
  const char *params[] = { hostname };
  int rows;
  enum kg_qs qs = each_desktop(db, &stmt_get, KG_NPARAMS(params), params, cb, cls, &rows);

  *found = rows > 0;
  return qs;
}

enum kg_qs
kg_db_desktop_list(struct kg_db *db, const struct kg_desktop_filter *f, const char *after,
                   long long limit, kg_desktop_cb cb, void *cls)
{
  char lim[KG_DB_INT_BUFSZ];
  int rows;
  /* clang-format off */
  const char *params[] = { f->pool, f->state, f->cmid, f->kms_host, after,
                           kg_db_param_int(lim, limit) };
  /* clang-format on */
  return each_desktop(db, &stmt_list, KG_NPARAMS(params), params, cb, cls, &rows);
}

enum kg_qs
kg_db_desktop_decommission(struct kg_db *db, const char *hostname, bool *found)
{
  const char *params[] = { hostname };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_decommission, KG_NPARAMS(params), params, &qs);

  *found = false;
  if (NULL == res)
    return qs;
  *found = PQntuples(res) > 0;
  PQclear(res);
  return KG_QS_OK;
}

static bool
copy_name(void *cls, const PGresult *res, int row)
{
  snprintf(cls, 254, "%s", PQgetvalue(res, row, 0));
  return true;
}

enum kg_qs
kg_db_desktop_host_name(struct kg_db *db, const char *hostname, char host[254], bool *found)
{
  const char *params[] = { hostname };
  int rows;
  enum kg_qs qs =
    kg_db_each_row(db, &stmt_host_name, KG_NPARAMS(params), params, copy_name, host, &rows);

  *found = rows > 0;
  return qs;
}
