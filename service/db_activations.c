/**
 * @file db_activations.c
 * @brief Ingest and observations. A batch goes to PostgreSQL by COPY into a
 *        session's temporary table, and one statement stores, summarises,
 *        routes and links it: a few round trips per 10,000 events.
 */
#include "db_activations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The batch travels by COPY into a temporary table of this session (no WAL,
   no array literals to build and parse), emptied at every commit. */
#define STAGING "kg_ingest_input"
/* clang-format off */
#define STAGING_COLUMNS                                                         \
  "cmid uuid, at_us bigint, client text, hresult bigint, required_count smallint," \
  " is_vm boolean, license_status smallint, minutes_to_expiry bigint, activation_id uuid"

static const struct kg_stmt stmt_copy_staging = {
  "ingest_copy",
  "COPY " STAGING " (cmid, at_us, client, hresult, required_count, is_vm, license_status,"
  " minutes_to_expiry, activation_id) FROM STDIN"
};
/* clang-format on */

/* Taken before the statement (see KG_SQL_ROUTING_LOCK). Custom plans: the
   batch size (1 to 10,000 rows) decides the joins, and a generic plan made
   for one size was 40 times slower for the other. */
/* clang-format off */
static const struct kg_stmt stmt_routing_lock = {
  "ingest_routing_lock",
  "SELECT pg_advisory_xact_lock_shared(" KG_SQL_ROUTING_LOCK "),"
  " set_config('plan_cache_mode', 'force_custom_plan', true)"
};

/* Restricts desktops alias A to the hosts of family F. */
#define FAMILY_OF(a, f) "JOIN kms_hosts " a "h ON " a "h.id = " a ".kms_host_id AND " a "h.family = " f

/* $1 server, $2 the family of an event with no activation ID (the upload
   host's, or windows through the server path); the records are in STAGING. */
static const struct kg_stmt stmt_ingest = {
  "ingest",
  "WITH input AS (SELECT * FROM " STAGING "),"
  /* What the batch's events route to, counted by activation ID first: a few
     IDs to look up instead of every event. */
  " routed AS ("
  "  SELECT CASE WHEN i.activation_id IS NULL THEN $2::text ELSE a.application END AS app,"
  "   i.n FROM (SELECT activation_id, count(*) AS n FROM input GROUP BY activation_id) i"
  "  LEFT JOIN activation_ids a ON a.activation_id = i.activation_id),"
  " ins AS ("
  "  INSERT INTO activation_requests (server, cmid, requested_at, client, hresult,"
  "   required_count, is_vm, license_status, minutes_to_expiry, activation_id, family_hint)"
  "  SELECT $1, cmid, timestamptz 'epoch' + at_us * interval '1 microsecond', client, hresult,"
  "   required_count, is_vm, license_status, minutes_to_expiry, activation_id,"
  "   CASE WHEN activation_id IS NULL THEN $2::text END FROM input"
  /* Key order (migration 0014): concurrent uploads of overlapping events wait
     on each other in one order instead of deadlocking, and neighbouring keys
     go into the same index page one after the other. */
  "  ORDER BY at_us, cmid, client"
  "  ON CONFLICT DO NOTHING"
  "  RETURNING cmid, requested_at, client, required_count, activation_id),"
  /* Each new request counts on the server's host of its application, if any. */
  " counted AS ("
  "  SELECT h.id AS host_id, h.family, ins.* FROM ins"
  "  LEFT JOIN activation_ids a ON a.activation_id = ins.activation_id"
  "  JOIN kms_hosts h ON h.server = $1"
  "   AND h.family = CASE WHEN ins.activation_id IS NULL THEN $2::text ELSE a.application END),"
  /* Each CMID's first and last request, count, and the client and required
     count of its newest request, in one sort (array_agg(... ORDER BY) sorted
     every CMID's rows again; ties on the time: one of those rows for both). */
  " summary AS ("
  "  INSERT INTO cmids AS c (kms_host_id, cmid, first_request_at, last_request_at, request_count,"
  "   last_client, required_count)"
  "  SELECT host_id, cmid, first_at, requested_at, n, client, required_count FROM ("
  "   SELECT DISTINCT ON (host_id, cmid) host_id, cmid, min(requested_at) OVER w AS first_at,"
  "    requested_at, count(*) OVER w AS n, client, required_count FROM counted"
  "   WINDOW w AS (PARTITION BY host_id, cmid ORDER BY requested_at DESC ROWS BETWEEN UNBOUNDED"
  "    PRECEDING AND UNBOUNDED FOLLOWING) ORDER BY host_id, cmid, requested_at DESC) a"
  "  ORDER BY host_id, cmid"  /* one lock order for concurrent uploads; no second sort */
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
  /* The server's totals are one row per activation ID that every upload of
     the server updates: stmt_totals adds these at the end of the transaction,
     so that the row lock is held for the commit only, not for this statement. */
  " totals AS ("
  "  SELECT activation_id, CASE WHEN activation_id IS NULL THEN $2::text END AS family_hint,"
  "   count(*) AS requests, max(requested_at) AS last_at FROM ins GROUP BY activation_id),"
  /* A desktop carries the CMID of its client name's newest request: a rearm or
     rebuild replaces it, an older event arriving late never does (neither the
     time the link was made nor the current CMID's latest request may be newer).
     A renewal of the CMID it already has writes nothing. The desktops of every
     host of the family are matched, the newest request on any of them winning
     (docs/model.md §2.5, §6.2). Names match as §5.3 says: exactly, or by
     first label when one side is a short (NetBIOS) name and exactly one desktop
     of the family has that label. The two ways are two joins: as one OR the
     planner could use neither index (a scan of every short name per client).
     Client names sort in "C" order, which groups them the same way and costs
     no locale comparisons. */
  " latest AS ("
  "  SELECT DISTINCT ON (family, (client COLLATE \"C\")) family, client, cmid, requested_at"
  "  FROM counted ORDER BY family, (client COLLATE \"C\"), requested_at DESC),"
  /* The desktop's own CMID and link time come along, so that a renewal of
     the linked CMID (most of a batch) is dropped before the update joins. */
  " exact AS ("
  "  SELECT d.id, d.cmid AS had, d.cmid_seen_at AS seen, l.* FROM latest l"
  "  JOIN desktops d ON d.hostname = l.client " FAMILY_OF("d", "l.family") "),"
  /* A client that names a desktop exactly matches nothing else by short name:
     that desktop has the same first label, so no other one is unique. */
  " loose AS ("
  "  SELECT l.* FROM latest l WHERE NOT EXISTS ("
  "   SELECT 1 FROM exact e WHERE e.family = l.family AND e.client = l.client)),"
  " named AS ("
  "  SELECT id, had, seen, cmid, requested_at, family FROM exact"
  "  UNION ALL"
  "  SELECT d.id, d.cmid, d.cmid_seen_at, l.cmid, l.requested_at, l.family FROM loose l"
  "  JOIN desktops d ON d.short_name = split_part(l.client, '.', 1)"
  "   AND (strpos(l.client, '.') = 0 OR strpos(d.hostname, '.') = 0)"
  "   AND NOT EXISTS (SELECT 1 FROM desktops o " FAMILY_OF("o", "l.family")
  "                   WHERE o.short_name = d.short_name AND o.id <> d.id)"
  "  " FAMILY_OF("d", "l.family") "),"
  " matched AS ("
  "  SELECT DISTINCT ON (id) * FROM named ORDER BY id, requested_at DESC),"
  /* had/seen are the rows the update reads (one snapshot); the conditions on
     d are repeated for a row another transaction changed meanwhile. */
  " links AS ("
  "  UPDATE desktops d SET cmid = m.cmid, cmid_seen_at = m.requested_at, updated_at = now()"
  "  FROM matched m WHERE m.had IS DISTINCT FROM m.cmid"
  "  AND (m.seen IS NULL OR m.seen < m.requested_at) AND d.id = m.id"
  "  AND d.cmid IS DISTINCT FROM m.cmid"
  "  AND (d.cmid_seen_at IS NULL OR d.cmid_seen_at < m.requested_at)"
  "  AND NOT EXISTS (SELECT 1 FROM cmids o JOIN kms_hosts oh ON oh.id = o.kms_host_id"
  "                  WHERE oh.family = m.family AND o.cmid = d.cmid"
  "                  AND o.last_request_at >= m.requested_at)"
  "  RETURNING 1),"
  /* A short name that two or more desktops of the family share links nothing. */
  " ambiguous AS ("
  "  SELECT DISTINCT l.client FROM loose l"
  "  WHERE (SELECT count(*) FROM desktops d " FAMILY_OF("d", "l.family")
  "         WHERE d.short_name = split_part(l.client, '.', 1)"
  "         AND (strpos(l.client, '.') = 0 OR strpos(d.hostname, '.') = 0)) > 1"
  "  ORDER BY 1 LIMIT 100)"
  " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM links),"
  "  (SELECT coalesce(json_object_agg(app, n), '{}') FROM"
  "    (SELECT app, sum(n)::bigint AS n FROM routed WHERE app IS NOT NULL GROUP BY app) f),"
  "  (SELECT coalesce(sum(n), 0)::bigint FROM routed WHERE app IS NULL),"
  "  (SELECT coalesce(json_agg(client), '[]') FROM ambiguous),"
  "  (SELECT coalesce(json_agg(totals), '[]') FROM totals)"
};

/* $1 server, $2 the batch's totals by activation ID (from stmt_ingest). */
static const struct kg_stmt stmt_totals = {
  "ingest_totals",
  "INSERT INTO server_activation_ids AS t (server, activation_id, family_hint, requests, last_at)"
  " SELECT $1, activation_id, family_hint, requests, last_at"
  " FROM json_to_recordset($2::json) AS x(activation_id uuid, family_hint text, requests bigint,"
  "                                       last_at timestamptz)"
  " ORDER BY activation_id"  /* one lock order for concurrent uploads */
  " ON CONFLICT (server, activation_id, family_hint) DO UPDATE SET"
  "  requests = t.requests + EXCLUDED.requests, last_at = greatest(t.last_at, EXCLUDED.last_at)"
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
/* clang-format on */

/** The batch as COPY text: one line per event, tab-separated, \N for NULL. */
struct copy_text {
  char *buf;
  size_t len, cap;
  bool failed;
};

static void
copy_reserve(struct copy_text *c, size_t more)
{
  if (c->failed || c->len + more + 1 <= c->cap)
    return;
  size_t cap = 2 * c->cap + more + 4096;
  char *grown = realloc(c->buf, cap);
  if (NULL == grown) {
    c->failed = true;
    return;
  }
  c->buf = grown;
  c->cap = cap;
}

/** SQL NULL in a field; the one text copy_field() does not escape. */
static const char copy_null[] = "\\N";

/** Appends a field and its separator (a tab, or the newline after the last). */
static void
copy_field(struct copy_text *c, const char *text, bool last)
{
  copy_reserve(c, 2 * strlen(text) + 1);
  if (c->failed)
    return;
  for (const char *p = text; '\0' != *p; p++) {
    /* Clients are printable ASCII: a backslash is all there is to escape. */
    if ('\\' == *p && text != copy_null)
      c->buf[c->len++] = '\\';
    c->buf[c->len++] = *p;
  }
  c->buf[c->len++] = last ? '\n' : '\t';
}

static void
copy_optional_int(struct copy_text *c, bool has, long long value)
{
  char num[KG_DB_INT_BUFSZ];
  copy_field(c, has ? kg_db_param_int(num, value) : copy_null, false);
}

static void
copy_event(struct copy_text *c, const struct kg_event *ev)
{
  char num[KG_DB_INT_BUFSZ];
  copy_field(c, ev->cmid, false);
  copy_field(c, kg_db_param_int(num, ev->requested_at_us), false);
  copy_field(c, ev->client, false);
  copy_optional_int(c, ev->has_hresult, ev->hresult);
  copy_optional_int(c, ev->has_required_count, ev->required_count);
  copy_field(c, ev->has_is_vm ? (ev->is_vm ? "t" : "f") : copy_null, false);
  copy_optional_int(c, ev->has_license_status, ev->license_status);
  copy_optional_int(c, ev->has_minutes_to_expiry, ev->minutes_to_expiry);
  copy_field(c, ev->has_activation_id ? ev->activation_id : copy_null, true);
}

static enum kg_qs
read_ingest_result(const PGresult *res, struct kg_ingest_result *out)
{
  out->inserted = kg_db_int(res, 0, 0);
  out->desktops_linked = kg_db_int(res, 0, 1);
  out->by_family = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
  out->unmapped = kg_db_int(res, 0, 3);
  out->ambiguous_clients = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
  if (NULL != out->by_family && NULL != out->ambiguous_clients)
    return KG_QS_OK;
  kg_ingest_result_clear(out);
  return KG_QS_HARD_ERROR;
}

enum kg_qs
kg_db_ingest(struct kg_db *db, const char *server, const char *family_hint,
             const struct kg_event *events, size_t n, struct kg_ingest_result *out)
{
  struct copy_text rows = { 0 };
  const char *params[] = { server, family_hint };

  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < n; i++)
    copy_event(&rows, &events[i]);
  if (rows.failed) {
    free(rows.buf);
    return KG_QS_HARD_ERROR;
  }
  enum kg_qs qs = kg_db_run(db, &stmt_routing_lock, 0, NULL);
  /* The staging table, once per session; a DO block, as CREATE ... IF NOT
     EXISTS would log a notice for every batch. */
  /* clang-format off */
  if (KG_QS_OK == qs)
    qs = kg_db_simple(db, "DO $$ BEGIN IF to_regclass('pg_temp." STAGING "') IS NULL THEN"
                          " CREATE TEMP TABLE " STAGING " (" STAGING_COLUMNS ")"
                          " ON COMMIT DELETE ROWS; END IF; END $$");
  /* clang-format on */
  if (KG_QS_OK == qs && n > 0)
    qs = kg_db_copy_in(db, &stmt_copy_staging, rows.buf, rows.len);
  free(rows.buf);
  if (KG_QS_OK != qs)
    return qs;
  PGresult *res = kg_db_exec(db, &stmt_ingest, 2, params, &qs);
  if (NULL == res)
    return qs;
  qs = read_ingest_result(res, out);
  const char *totals[] = { server, PQgetvalue(res, 0, 5) };
  if (KG_QS_OK == qs)
    qs = kg_db_run(db, &stmt_totals, 2, totals);
  PQclear(res);
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
kg_db_observation_insert(struct kg_db *db, long long host_id, long long count, int64_t at_seconds,
                         long long *modelled)
{
  char host[KG_DB_INT_BUFSZ], cnt[KG_DB_INT_BUFSZ], at[KG_DB_INT_BUFSZ];
  enum kg_qs qs;
  /* clang-format off */
  const char *params[] = { kg_db_param_int(host, host_id), kg_db_param_int(cnt, count),
                           kg_db_param_int(at, at_seconds) };
  /* clang-format on */
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
