/**
 * @file db_activations.c
 * @brief Ingest and observations. A batch goes to PostgreSQL as a handful of
 *        array parameters and is unnested server-side: one round trip per
 *        10,000 events instead of 10,000.
 */
#include "db_activations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

/* Restricts desktops alias A to the hosts of family F. */
#define FAMILY_OF(a, f) "JOIN kms_hosts " a "h ON " a "h.id = " a ".kms_host_id AND " a "h.family = " f

/* $1 server, $2..$10 the record arrays, $11 the family of an event with no
   activation ID (the upload host's, or windows through the server path). */
static const struct kg_stmt stmt_ingest = {
  "ingest",
  "WITH input AS ("
  "  SELECT * FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::bigint[], $6::smallint[],"
  "                       $7::boolean[], $8::smallint[], $9::bigint[], $10::uuid[])"
  "  AS t(cmid, at_us, client, hresult, required_count, is_vm, license_status,"
  "       minutes_to_expiry, activation_id)),"
  " routed AS ("
  "  SELECT i.*, CASE WHEN i.activation_id IS NULL THEN $11::text ELSE a.application END AS app"
  "  FROM input i LEFT JOIN activation_ids a ON a.activation_id = i.activation_id),"
  " ins AS ("
  "  INSERT INTO activation_requests (server, cmid, requested_at, client, hresult,"
  "   required_count, is_vm, license_status, minutes_to_expiry, activation_id, family_hint)"
  "  SELECT $1, cmid, timestamptz 'epoch' + at_us * interval '1 microsecond', client, hresult,"
  "   required_count, is_vm, license_status, minutes_to_expiry, activation_id,"
  "   CASE WHEN activation_id IS NULL THEN $11::text END FROM input"
  /* Key order: concurrent uploads of overlapping events wait on each other
     in one order instead of deadlocking. */
  "  ORDER BY cmid, at_us, client"
  "  ON CONFLICT DO NOTHING"
  "  RETURNING cmid, requested_at, client, required_count, activation_id),"
  /* Each new request counts on the server's host of its application, if any. */
  " counted AS ("
  "  SELECT h.id AS host_id, h.family, ins.* FROM ins"
  "  LEFT JOIN activation_ids a ON a.activation_id = ins.activation_id"
  "  JOIN kms_hosts h ON h.server = $1"
  "   AND h.family = CASE WHEN ins.activation_id IS NULL THEN $11::text ELSE a.application END),"
  " summary AS ("
  "  INSERT INTO cmids AS c (kms_host_id, cmid, first_request_at, last_request_at, request_count,"
  "   last_client, required_count)"
  "  SELECT host_id, cmid, min(requested_at), max(requested_at), count(*),"
  "   (array_agg(client ORDER BY requested_at DESC))[1],"
  "   (array_agg(required_count ORDER BY requested_at DESC))[1]"
  "  FROM counted GROUP BY host_id, cmid ORDER BY host_id, cmid"
  "  ON CONFLICT (kms_host_id, cmid) DO UPDATE SET"
  "   first_request_at = least(c.first_request_at, EXCLUDED.first_request_at),"
  "   last_request_at = greatest(c.last_request_at, EXCLUDED.last_request_at),"
  "   request_count = c.request_count + EXCLUDED.request_count,"
  "   last_client = CASE WHEN EXCLUDED.last_request_at >= c.last_request_at"
  "                 THEN EXCLUDED.last_client ELSE c.last_client END,"
  "   required_count = CASE WHEN EXCLUDED.last_request_at >= c.last_request_at"
  "                 THEN coalesce(EXCLUDED.required_count, c.required_count)"
  "                 ELSE c.required_count END"
  "  RETURNING 1),"
  " totals AS ("
  "  INSERT INTO server_activation_ids AS t (server, activation_id, family_hint, requests, last_at)"
  "  SELECT $1, activation_id, CASE WHEN activation_id IS NULL THEN $11::text END,"
  "   count(*), max(requested_at) FROM ins GROUP BY activation_id ORDER BY activation_id"
  "  ON CONFLICT (server, activation_id, family_hint) DO UPDATE SET"
  "   requests = t.requests + EXCLUDED.requests, last_at = greatest(t.last_at, EXCLUDED.last_at)"
  "  RETURNING 1),"
  /* A desktop carries the CMID of its client name's newest request: a rearm or
     rebuild replaces it, an older event arriving late never does (neither the
     time the link was made nor the current CMID's latest request may be newer).
     A renewal of the CMID it already has writes nothing. The desktops of every
     host of the family are matched, the newest request on any of them winning
     (kms-model.md section 6). Names match as section 5 says: exactly, or by
     first label when one side is a short (NetBIOS) name and exactly one desktop
     of the family has that label. */
  " latest AS ("
  "  SELECT DISTINCT ON (family, client) family, client, cmid, requested_at FROM counted"
  "  ORDER BY family, client, requested_at DESC),"
  " matched AS ("
  "  SELECT DISTINCT ON (d.id) d.id, l.cmid, l.requested_at, l.family FROM latest l"
  "  JOIN desktops d ON (d.hostname = l.client"
  "   OR (d.short_name = split_part(l.client, '.', 1)"
  "       AND (strpos(l.client, '.') = 0 OR strpos(d.hostname, '.') = 0)"
  "       AND NOT EXISTS (SELECT 1 FROM desktops o " FAMILY_OF("o", "l.family")
  "                       WHERE o.short_name = d.short_name AND o.id <> d.id)))"
  "  JOIN kms_hosts dh ON dh.id = d.kms_host_id AND dh.family = l.family"
  "  ORDER BY d.id, l.requested_at DESC),"
  " links AS ("
  "  UPDATE desktops d SET cmid = m.cmid, cmid_seen_at = m.requested_at, updated_at = now()"
  "  FROM matched m WHERE d.id = m.id"
  "  AND d.cmid IS DISTINCT FROM m.cmid"
  "  AND (d.cmid_seen_at IS NULL OR d.cmid_seen_at < m.requested_at)"
  "  AND NOT EXISTS (SELECT 1 FROM cmids o JOIN kms_hosts oh ON oh.id = o.kms_host_id"
  "                  WHERE oh.family = m.family AND o.cmid = d.cmid"
  "                  AND o.last_request_at >= m.requested_at)"
  "  RETURNING 1),"
  /* A short name that two or more desktops of the family share links nothing. */
  " ambiguous AS ("
  "  SELECT DISTINCT l.client FROM latest l"
  "  WHERE NOT EXISTS (SELECT 1 FROM desktops d " FAMILY_OF("d", "l.family")
  "                    WHERE d.hostname = l.client)"
  "  AND (SELECT count(*) FROM desktops d " FAMILY_OF("d", "l.family")
  "       WHERE d.short_name = split_part(l.client, '.', 1)"
  "       AND (strpos(l.client, '.') = 0 OR strpos(d.hostname, '.') = 0)) > 1"
  "  ORDER BY 1 LIMIT 100)"
  " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM links),"
  "  (SELECT coalesce(json_object_agg(app, n), '{}') FROM"
  "    (SELECT app, count(*) AS n FROM routed WHERE app IS NOT NULL GROUP BY app) f),"
  "  (SELECT count(*) FROM routed WHERE app IS NULL),"
  "  (SELECT coalesce(json_agg(client), '[]') FROM ambiguous)"
};

static const struct kg_stmt stmt_observation_insert = {
  "observation_insert",
  "WITH m AS ("
  "  SELECT least(h.capacity, (SELECT count(DISTINCT r.cmid) FROM activation_requests r"
  "    WHERE r.server = h.server AND kg_route(r.activation_id, r.family_hint) = h.family"
  "    AND r.requested_at <= to_timestamp($3)"
  "    AND r.requested_at > to_timestamp($3) - interval '30 days')) AS modelled"
  "  FROM kms_hosts h WHERE h.id = $1)"
  " INSERT INTO count_observations (kms_host_id, count, observed_at, modelled_count)"
  " SELECT $1, $2, to_timestamp($3), modelled FROM m RETURNING modelled_count"
};

static const struct kg_stmt stmt_last_observation = {
  "observation_last",
  "SELECT count, " KG_SQL_EPOCH("observed_at") ", modelled_count FROM count_observations"
  " WHERE kms_host_id = $1 ORDER BY observed_at DESC, id DESC LIMIT 1"
};

static const struct kg_stmt stmt_count_by_required = {
  "count_by_required",
  "SELECT coalesce(required_count, 0), count(*) FROM cmids WHERE kms_host_id = $1"
  " AND last_request_at <= to_timestamp($2) AND last_request_at > to_timestamp($2) - interval '30 days'"
  " GROUP BY 1"
};

/** A growing PostgreSQL array literal. */
struct array_text { char *buf; size_t len, cap; bool failed; };

static void
array_put(struct array_text *a, const char *text, bool quote)
{
  size_t need = 2 * strlen(text) + 4;
  if (a->failed)
    return;
  if (a->len + need + 2 > a->cap) {
    size_t cap = 2 * a->cap + need + 64;
    char *grown = realloc(a->buf, cap);
    if (NULL == grown) {
      a->failed = true;
      return;
    }
    a->buf = grown;
    a->cap = cap;
  }
  char separator = (0 == a->len) ? '{' : ',';
  a->buf[a->len++] = separator;
  if (quote)
    a->buf[a->len++] = '"';
  for (const char *p = text; '\0' != *p; p++) {
    if (quote && ('"' == *p || '\\' == *p))
      a->buf[a->len++] = '\\';
    a->buf[a->len++] = *p;
  }
  if (quote)
    a->buf[a->len++] = '"';
  a->buf[a->len] = '\0';
}

/** Ends the literal; array_put() always leaves room for the closing brace. */
static const char *
array_close(struct array_text *a)
{
  if (a->failed)
    return NULL;
  if (0 == a->len)
    return "{}";
  a->buf[a->len++] = '}';
  a->buf[a->len] = '\0';
  return a->buf;
}

#define N_ARRAYS 9

static void
put_optional_int(struct array_text *a, bool has, long long value)
{
  char num[KG_DB_INT_BUFSZ];
  array_put(a, has ? kg_db_param_int(num, value) : "NULL", false);
}

static void
put_event(struct array_text *arrays, const struct kg_event *ev)
{
  char num[KG_DB_INT_BUFSZ];
  array_put(&arrays[0], ev->cmid, false);
  array_put(&arrays[1], kg_db_param_int(num, ev->requested_at_us), false);
  array_put(&arrays[2], ev->client, true);
  put_optional_int(&arrays[3], ev->has_hresult, ev->hresult);
  put_optional_int(&arrays[4], ev->has_required_count, ev->required_count);
  array_put(&arrays[5], ev->has_is_vm ? (ev->is_vm ? "t" : "f") : "NULL", false);
  put_optional_int(&arrays[6], ev->has_license_status, ev->license_status);
  put_optional_int(&arrays[7], ev->has_minutes_to_expiry, ev->minutes_to_expiry);
  array_put(&arrays[8], ev->has_activation_id ? ev->activation_id : "NULL", false);
}

enum kg_qs
kg_db_ingest(struct kg_db *db, const char *server, const char *family_hint,
             const struct kg_event *events, size_t n, struct kg_ingest_result *out)
{
  struct array_text arrays[N_ARRAYS];
  const char *params[2 + N_ARRAYS];
  enum kg_qs qs = KG_QS_HARD_ERROR;

  memset(out, 0, sizeof(*out));
  memset(arrays, 0, sizeof(arrays));
  params[0] = server;
  params[1 + N_ARRAYS] = family_hint;
  for (size_t i = 0; i < n; i++)
    put_event(arrays, &events[i]);
  bool ok = true;
  for (size_t k = 0; k < N_ARRAYS; k++)
    ok &= (NULL != (params[1 + k] = array_close(&arrays[k])));
  if (ok)
    qs = kg_db_simple(db, "SELECT pg_advisory_xact_lock_shared(" KG_SQL_ROUTING_LOCK ")");
  if (ok && KG_QS_OK == qs) {
    PGresult *res = kg_db_exec(db, &stmt_ingest, 2 + N_ARRAYS, params, &qs);
    if (NULL != res) {
      out->inserted = kg_db_int(res, 0, 0);
      out->desktops_linked = kg_db_int(res, 0, 1);
      out->by_family = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
      out->unmapped = kg_db_int(res, 0, 3);
      out->ambiguous_clients = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
      PQclear(res);
      if (NULL == out->by_family || NULL == out->ambiguous_clients) {
        kg_ingest_result_clear(out);
        qs = KG_QS_HARD_ERROR;
      }
    }
  }
  for (size_t k = 0; k < N_ARRAYS; k++)
    free(arrays[k].buf);
  return qs;
}

void
kg_ingest_result_clear(struct kg_ingest_result *r)
{
  json_decref(r->by_family);
  json_decref(r->ambiguous_clients);
  r->by_family = NULL;
  r->ambiguous_clients = NULL;
}

enum kg_qs
kg_db_observation_insert(struct kg_db *db, long long host_id, long long count,
                         int64_t at_seconds, long long *modelled)
{
  char host[KG_DB_INT_BUFSZ], cnt[KG_DB_INT_BUFSZ], at[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  const char *params[] = { kg_db_param_int(host, host_id), kg_db_param_int(cnt, count),
                           kg_db_param_int(at, at_seconds) };
  PGresult *res = kg_db_exec(db, &stmt_observation_insert, 3, params, &qs);
  if (NULL == res)
    return qs;
  *modelled = kg_db_int(res, 0, 0);
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_last_observation_row(struct kg_db *db, long long host_id, bool *found,
                           struct kg_observation *obs)
{
  char host[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  const char *params[] = { kg_db_param_int(host, host_id) };
  PGresult *res = kg_db_exec(db, &stmt_last_observation, 1, params, &qs);
  if (NULL == res)
    return qs;
  *found = PQntuples(res) > 0;
  if (*found) {
    obs->count = kg_db_int(res, 0, 0);
    obs->at = kg_db_int(res, 0, 1);
    obs->modelled = kg_db_int(res, 0, 2);
  }
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_db_last_observation(struct kg_db *db, long long host_id, json_t **doc)
{
  bool found;
  struct kg_observation obs;
  enum kg_qs qs = kg_db_last_observation_row(db, host_id, &found, &obs);
  if (KG_QS_OK != qs)
    return qs;
  if (!found)
    *doc = json_null();
  else
    *doc = json_pack("{s:I,s:o,s:I,s:I}", "count", (json_int_t) obs.count,
                     "at", kg_json_time(obs.at), "modelled", (json_int_t) obs.modelled,
                     "difference", (json_int_t) (obs.count - obs.modelled));
  return KG_QS_OK;
}

enum kg_qs
kg_db_count_by_required(struct kg_db *db, long long host_id, int64_t now, json_t **doc)
{
  char host[KG_DB_INT_BUFSZ], at[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  const char *params[] = { kg_db_param_int(host, host_id), kg_db_param_int(at, now) };
  PGresult *res = kg_db_exec(db, &stmt_count_by_required, 2, params, &qs);
  if (NULL == res)
    return qs;
  long long clients = 0, servers = 0, unknown = 0;
  for (int i = 0; i < PQntuples(res); i++) {
    long long required = kg_db_int(res, i, 0), n = kg_db_int(res, i, 1);
    *(25 == required ? &clients : 5 == required ? &servers : &unknown) += n;
  }
  PQclear(res);
  *doc = json_pack("{s:I,s:I,s:I}", "clients", (json_int_t) clients, "servers",
                   (json_int_t) servers, "unknown", (json_int_t) unknown);
  return KG_QS_OK;
}
