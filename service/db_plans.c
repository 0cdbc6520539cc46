/**
 * @file db_plans.c
 * @brief Plans and decisions: the statements and their parameter packing.
 */
#include "db_plans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* clang-format off */
static const struct kg_stmt stmt_plan_insert = {
  "plan_insert",
  /* One round trip: data-modifying CTEs all run, and the foreign keys of the
     child rows are checked at the end of the statement. */
  "WITH p AS (INSERT INTO plans (id, kms_host_id, state, at, expires_at, request, caller)"
  "  VALUES ($1::uuid, $2, 'reserved', to_timestamp($3), to_timestamp($4), $5::jsonb, $6)"
  "  RETURNING id),"
  " d AS (INSERT INTO plan_decommissions (plan_id, desktop_id)"
  "  SELECT $1::uuid, x FROM unnest($7::bigint[]) AS x),"
  " v AS (INSERT INTO plan_provisions (plan_id, pool_id, count)"
  "  SELECT $1::uuid, x.pool, x.count FROM unnest($8::bigint[], $9::int[]) AS x(pool, count)),"
  /* the other hosts it touches and holds */
  " h AS (INSERT INTO plan_hosts (plan_id, kms_host_id)"
  "  SELECT $1::uuid, x FROM unnest($10::bigint[]) AS x)"
  " SELECT id FROM p"
};

#define DECISION_INSERT \
  "INSERT INTO decisions (id, kms_host, decision, http_status, request, response," \
  " caller, token_id, plan_id, idempotency_key, request_hash)"
#define DECISION_VALUES \
  "$1::uuid, $2, $3::gate_decision, $4::int, $5, $6, $7, $8::uuid, $9::uuid, $10, $11"

static const struct kg_stmt stmt_decision_insert = {
  "decision_insert",
  DECISION_INSERT " VALUES (" DECISION_VALUES ")"
};
/* clang-format on */

/* The audit record of an evaluation that reserved nothing, in a statement of its
   own: committed without waiting for the WAL flush. set_config(..., true) is
   SET LOCAL of the statement's own transaction; RETURNING runs before that
   transaction commits, which is when the setting is read, and costs the
   insert nothing (a subquery to call it cost a join). A database crash can
   lose the last moments of such records, never a plan; the gate's hot path
   saves the flush. */
/* clang-format off */
static const struct kg_stmt stmt_decision_insert_async = {
  "decision_insert_async",
  DECISION_INSERT " VALUES (" DECISION_VALUES ")"
  " RETURNING set_config('synchronous_commit', 'off', true)"
};
/* clang-format on */

/* The same, written only while the host's estate is still the version the
   evaluation used, which may have come from this process's cache: the check
   and the write are one statement, so no decision is stored for an estate
   that had changed, and the gate needs no read of the host first. */
/* clang-format off */
static const struct kg_stmt stmt_decision_insert_if_current = {
  "decision_insert_if_current",
  DECISION_INSERT " SELECT " DECISION_VALUES
  " FROM kms_hosts WHERE id = $12::bigint AND estate_version = $13::bigint"
  " RETURNING set_config('synchronous_commit', 'off', true)"
};

static const struct kg_stmt stmt_decision_find = {
  "decision_find",
  "SELECT http_status, response::text, request_hash FROM decisions"
  " WHERE token_id = $1::uuid AND idempotency_key = $2"
};
/* clang-format on */

/** Writes "{1,2,3}" for a bigint[] or int[] parameter. */
static char *
array_literal(size_t n, const long long *big, const int *small)
{
  char *buf = malloc(2 + 21 * (n + 1));
  if (NULL == buf)
    return NULL;
  size_t o = 0;
  buf[o++] = '{';
  for (size_t i = 0; i < n; i++)
    o += (size_t) sprintf(buf + o, "%s%lld", i ? "," : "", big ? big[i] : (long long) small[i]);
  buf[o++] = '}';
  buf[o] = '\0';
  return buf;
}

enum kg_qs
kg_db_plan_insert(struct kg_db *db, const struct kg_new_plan *plan)
{
  char host[KG_DB_INT_BUFSZ], at[KG_DB_INT_BUFSZ], expires[KG_DB_INT_BUFSZ];
  char *desktops = array_literal(plan->n_desktops, plan->desktop_ids, NULL);
  char *pools = array_literal(plan->n_provisions, plan->pool_ids, NULL);
  char *counts = array_literal(plan->n_provisions, NULL, plan->counts);
  char *others = array_literal(plan->n_other_hosts, plan->other_host_ids, NULL);
  enum kg_qs qs = KG_QS_HARD_ERROR;

  if (NULL != desktops && NULL != pools && NULL != counts && NULL != others) {
    /* clang-format off */
    const char *params[] = {
      plan->id, kg_db_param_int(host, plan->kms_host_id), kg_db_param_int(at, plan->at),
      kg_db_param_int(expires, plan->expires_at), plan->request_json, plan->caller,
      desktops, pools, counts, others,
    };
    /* clang-format on */
    qs = kg_db_run(db, &stmt_plan_insert, KG_NPARAMS(params), params);
  }
  free(desktops);
  free(pools);
  free(counts);
  free(others);
  return qs;
}

#define DECISION_PARAMS 11

/** The parameters of DECISION_VALUES; @a status holds the formatted status. */
static void
decision_params(const struct kg_new_decision *d, char status[KG_DB_INT_BUFSZ],
                const char *params[DECISION_PARAMS])
{
  /* clang-format off */
  const char *values[DECISION_PARAMS] = {
    d->id, d->kms_host, d->decision, kg_db_param_int(status, d->http_status),
    d->request_json, d->response_json, d->caller, d->token_id, d->plan_id,
    d->idempotency_key, d->request_hash,
  };
  /* clang-format on */
  memcpy(params, values, sizeof(values));
}

enum kg_qs
kg_db_decision_insert(struct kg_db *db, const struct kg_new_decision *d)
{
  char status[KG_DB_INT_BUFSZ];
  const char *params[DECISION_PARAMS];

  decision_params(d, status, params);
  enum kg_qs qs = kg_db_run(db, d->durable ? &stmt_decision_insert : &stmt_decision_insert_async,
                            DECISION_PARAMS, params);
  if (KG_QS_HARD_ERROR == qs && 0 == strcmp(kg_db_last_sqlstate(db), "23505"))
    return KG_QS_SOFT_ERROR; /* a concurrent retry with the same key won: rerun and replay it */
  return qs;
}

enum kg_qs
kg_db_decision_insert_if_current(struct kg_db *db, const struct kg_new_decision *d,
                                 long long host_id, long long estate_version, bool *inserted)
{
  char status[KG_DB_INT_BUFSZ], host[KG_DB_INT_BUFSZ], version[KG_DB_INT_BUFSZ];
  const char *params[DECISION_PARAMS + 2];
  enum kg_qs qs;

  decision_params(d, status, params);
  params[DECISION_PARAMS] = kg_db_param_int(host, host_id);
  params[DECISION_PARAMS + 1] = kg_db_param_int(version, estate_version);
  PGresult *res =
    kg_db_exec(db, &stmt_decision_insert_if_current, DECISION_PARAMS + 2, params, &qs);
  *inserted = NULL != res && 1 == PQntuples(res);
  PQclear(res);
  return qs;
}

enum kg_qs
kg_db_decision_find(struct kg_db *db, const char *token_id, const char *key, bool *found,
                    unsigned int *http_status, json_t **response, char request_hash[65])
{
  const char *params[] = { token_id, key };
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_decision_find, KG_NPARAMS(params), params, &qs);

  *found = false;
  if (NULL == res)
    return qs;
  int rows = PQntuples(res);
  if (1 == rows) {
    *http_status = (unsigned int) kg_db_int(res, 0, 0);
    *response = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    snprintf(request_hash, 65, "%s", PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
    *found = (NULL != *response);
  }
  PQclear(res);
  return (*found || 0 == rows) ? KG_QS_OK : KG_QS_HARD_ERROR;
}

/* ---------------- listing, commit, release ---------------- */

/* clang-format off */
#define PLAN_COLUMNS \
  "SELECT p.id, h.name," \
  " CASE WHEN p.state = 'reserved' AND p.expires_at <= to_timestamp($1) THEN 'expired'" \
  "      ELSE p.state END," \
  " " KG_SQL_EPOCH("p.at") ", " KG_SQL_EPOCH("p.expires_at") "," \
  " " KG_SQL_EPOCH("p.created_at") ", " KG_SQL_EPOCH("p.committed_at") "," \
  " " KG_SQL_EPOCH("p.released_at") ", p.caller," \
  " coalesce((SELECT json_agg(d.hostname ORDER BY d.hostname) FROM plan_decommissions pd" \
  "           JOIN desktops d ON d.id = pd.desktop_id WHERE pd.plan_id = p.id), '[]')::text," \
  " coalesce((SELECT json_agg(json_build_object('pool', po.name, 'count', pp.count)" \
  "                    ORDER BY po.name) FROM plan_provisions pp" \
  "           JOIN pools po ON po.id = pp.pool_id WHERE pp.plan_id = p.id), '[]')::text," \
  " (extract(epoch FROM p.created_at) * 1000000)::bigint || ',' || p.id" \
  " FROM plans p JOIN kms_hosts h ON h.id = p.kms_host_id"

static const struct kg_stmt stmt_plan_get = {
  "plan_get", PLAN_COLUMNS " WHERE p.id = $2::uuid"
};

static const struct kg_stmt stmt_plans_list = {
  "plans_list", PLAN_COLUMNS
  " WHERE ($2::text IS NULL OR h.name = $2)"
  " AND ($3::text IS NULL OR $3 = CASE WHEN p.state = 'reserved'"
  "      AND p.expires_at <= to_timestamp($1) THEN 'expired' ELSE p.state END)"
  " AND ($4::bigint IS NULL OR (p.created_at, p.id) < (to_timestamp($4::double precision / 1000000), $5::uuid))"
  " ORDER BY p.created_at DESC, p.id DESC LIMIT $6"
};

static const struct kg_stmt stmt_plan_lock = {
  "plan_lock",
  "SELECT CASE WHEN p.state = 'reserved' AND p.expires_at <= to_timestamp($2) THEN 'expired'"
  " ELSE p.state END, p.kms_host_id,"
  " (SELECT 1 FROM kms_hosts h WHERE h.id = p.kms_host_id FOR NO KEY UPDATE)"
  " FROM plans p WHERE p.id = $1::uuid FOR UPDATE"
};

static const struct kg_stmt stmt_plan_commit = {
  "plan_commit",
  "WITH p AS (UPDATE plans SET state = 'committed', committed_at = to_timestamp($2)"
  "           WHERE id = $1::uuid RETURNING id)"
  " UPDATE desktops SET state = 'decommissioned', decommissioned_at = to_timestamp($2),"
  "  updated_at = to_timestamp($2)"
  " WHERE id IN (SELECT desktop_id FROM plan_decommissions WHERE plan_id = (SELECT id FROM p))"
  " AND state <> 'decommissioned'"
};

static const struct kg_stmt stmt_plan_release = {
  "plan_release",
  "UPDATE plans SET state = 'released', released_at = to_timestamp($2) WHERE id = $1::uuid"
};

static const struct kg_stmt stmt_decisions_list = {
  "decisions_list",
  "SELECT id, kms_host, " KG_SQL_EPOCH("evaluated_at") ", decision, http_status, caller,"
  " plan_id, request::text, response::text,"
  " (extract(epoch FROM evaluated_at) * 1000000)::bigint || ',' || id"
  " FROM decisions"
  " WHERE ($1::text IS NULL OR kms_host = $1)"
  " AND ($2::bigint IS NULL OR evaluated_at >= to_timestamp($2::double precision / 1000000))"
  " AND ($3::bigint IS NULL OR (evaluated_at, id) < (to_timestamp($3::double precision / 1000000), $4::uuid))"
  " ORDER BY evaluated_at DESC, id DESC LIMIT $5"
};
/* clang-format on */

/** A plan's row as a record; @a cls is the caller's callback and closure. */
struct plan_cb {
  kg_plan_cb cb;
  void *cls;
};

static bool
plan_row(void *cls, const PGresult *res, int row)
{
  const struct plan_cb *c = cls;
  /* clang-format off */
  const struct kg_plan_record p = {
    .id = PQgetvalue(res, row, 0), .kms_host = PQgetvalue(res, row, 1),
    .state = PQgetvalue(res, row, 2), .at = kg_db_text(res, row, 3),
    .expires_at = kg_db_text(res, row, 4), .created_at = kg_db_text(res, row, 5),
    .committed_at = kg_db_text(res, row, 6), .released_at = kg_db_text(res, row, 7),
    .caller = PQgetvalue(res, row, 8), .decommission_json = kg_db_text(res, row, 9),
    .provision_json = kg_db_text(res, row, 10), .sort_key = PQgetvalue(res, row, 11),
  };
  /* clang-format on */
  return c->cb(c->cls, &p);
}

enum kg_qs
kg_db_plans_list(struct kg_db *db, const struct kg_plan_filter *f, const char *after_us,
                 const char *after_id, long long limit, kg_plan_cb cb, void *cls)
{
  char now[KG_DB_INT_BUFSZ], lim[KG_DB_INT_BUFSZ];
  /* clang-format off */
  const char *params[] = { kg_db_param_int(now, f->now), f->kms_host, f->state, after_us,
                           after_id, kg_db_param_int(lim, limit) };
  /* clang-format on */
  struct plan_cb c = { cb, cls };
  int rows;

  return kg_db_each_row(db, &stmt_plans_list, KG_NPARAMS(params), params, plan_row, &c, &rows);
}

enum kg_qs
kg_db_plan_get(struct kg_db *db, const char *id, int64_t now, kg_plan_cb cb, void *cls, bool *found)
{
  char at[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(at, now), id };
  struct plan_cb c = { cb, cls };
  int rows;
  enum kg_qs qs =
    kg_db_each_row(db, &stmt_plan_get, KG_NPARAMS(params), params, plan_row, &c, &rows);

  *found = rows > 0;
  return qs;
}

enum kg_qs
kg_db_plan_lock(struct kg_db *db, const char *id, int64_t now, struct kg_plan_lock *lock)
{
  char at[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  const char *params[] = { id, kg_db_param_int(at, now) };
  PGresult *res = kg_db_exec(db, &stmt_plan_lock, KG_NPARAMS(params), params, &qs);
  memset(lock, 0, sizeof(*lock));
  if (NULL == res)
    return qs;
  if (1 == PQntuples(res)) {
    lock->found = true;
    snprintf(lock->state, sizeof(lock->state), "%s", PQgetvalue(res, 0, 0));
    lock->kms_host_id = kg_db_int(res, 0, 1);
  }
  PQclear(res);
  return KG_QS_OK;
}

static enum kg_qs
plan_transition(struct kg_db *db, const struct kg_stmt *stmt, const char *id, int64_t now)
{
  char at[KG_DB_INT_BUFSZ];
  const char *params[] = { id, kg_db_param_int(at, now) };
  return kg_db_run(db, stmt, KG_NPARAMS(params), params);
}

enum kg_qs
kg_db_plan_commit(struct kg_db *db, const char *id, int64_t now)
{
  return plan_transition(db, &stmt_plan_commit, id, now);
}

enum kg_qs
kg_db_plan_release(struct kg_db *db, const char *id, int64_t now)
{
  return plan_transition(db, &stmt_plan_release, id, now);
}

/** A decision's row as a record; @a cls is the caller's callback and closure. */
struct decision_cb {
  kg_decision_cb cb;
  void *cls;
};

static bool
decision_row(void *cls, const PGresult *res, int row)
{
  const struct decision_cb *c = cls;
  /* clang-format off */
  const struct kg_decision_record d = {
    .id = PQgetvalue(res, row, 0), .kms_host = PQgetvalue(res, row, 1),
    .evaluated_at = kg_db_text(res, row, 2), .decision = PQgetvalue(res, row, 3),
    .http_status = (int) kg_db_int(res, row, 4), .caller = PQgetvalue(res, row, 5),
    .plan_id = kg_db_text(res, row, 6), .request_json = kg_db_text(res, row, 7),
    .response_json = kg_db_text(res, row, 8), .sort_key = PQgetvalue(res, row, 9),
  };
  /* clang-format on */
  return c->cb(c->cls, &d);
}

enum kg_qs
kg_db_decisions_list(struct kg_db *db, const struct kg_decision_filter *f, const char *after_us,
                     const char *after_id, long long limit, kg_decision_cb cb, void *cls)
{
  char since[KG_DB_INT_BUFSZ], lim[KG_DB_INT_BUFSZ];
  /* clang-format off */
  const char *params[] = { f->kms_host, f->has_since ? kg_db_param_int(since, f->since_us) : NULL,
                           after_us, after_id, kg_db_param_int(lim, limit) };
  /* clang-format on */
  struct decision_cb c = { cb, cls };
  int rows;

  return kg_db_each_row(db, &stmt_decisions_list, KG_NPARAMS(params), params, decision_row, &c,
                        &rows);
}
