/**
 * @file db_estate_delta.c
 * @brief Refreshes a loaded estate by the rows written since its version
 *        (migration 0013's estate_changes log), so that the cost of the first
 *        gate after a write grows with the write, not with the estate.
 *
 * The refresh re-reads the CMIDs and desktops the log names (and the CMIDs
 * whose registered-name flag a written desktop can change) with the same
 * columns as the full load, and merges them into copies of the old arrays:
 * CMIDs keep their indices (new ones are appended), desktops stay in
 * hostname order. Anything the log does not describe (a pool, a plan, the
 * host row, a deletion) left a version without a log row, and then the
 * caller loads the estate in full.
 */
#include "db_estate_internal.h"
#include "db_estate_sql.h"

#include <stdlib.h>
#include <string.h>

/* A refresh larger than this reloads: one load is cheaper than merging it. */
#define MAX_CHANGED_ITEMS 50000

/* A node per refresh that adds desktops; past this depth the names are
   copied into one node, so that chains stay short. */
#define MAX_STRINGS_DEPTH 32

/* How many versions in (since, target] have a log row, and how many rows they
   name. $1 host, $2 since, $3 target. */
/* clang-format off */
static const struct kg_stmt stmt_check = {
  "estate_delta_check",
  "SELECT count(*), coalesce(sum(cardinality(cmids) + cardinality(desktops)), 0)"
  " FROM estate_changes WHERE kms_host_id = $1 AND version > $2 AND version <= $3"
};

/* $1 host, $2 now, $3 since, $4 target: the log entries of the refresh. */
#define DELTA_LOG                                                              \
  "WITH log AS (SELECT cmids, desktops FROM estate_changes"                    \
  " WHERE kms_host_id = $1 AND version > $3 AND version <= $4)"
/* clang-format on */

/* The CMIDs written, and the host's CMIDs whose last client has the first
   label of a desktop written (their registered-name flag may have changed),
   with the full load's columns. The flag is phrased as three correlated
   probes here (a few rows) and as three outer joins in the full load (every
   row): the same three ways a name matches. */
/* clang-format off */
static const struct kg_stmt stmt_cmids = {
  "estate_delta_cmids",
  DELTA_LOG ","
  " targets AS (SELECT unnest(cmids) AS cmid FROM log"
  "  UNION SELECT c.cmid FROM cmids c WHERE c.kms_host_id = $1"
  "  AND split_part(c.last_client, '.', 1) IN (SELECT d.short_name FROM desktops d"
  "   WHERE d.id IN (SELECT unnest(desktops) FROM log)))"
  " SELECT c.cmid, " KG_SQL_EPOCH("c.last_request_at") ","
  " least(c.request_count, 2147483647),"
  " (EXISTS (SELECT 1 FROM desktops f WHERE f.hostname = c.last_client"
  "   AND f.kms_host_id IN " FAMILY_HOST_IDS ")"
  "  OR (strpos(c.last_client, '.') = 0 AND EXISTS (SELECT 1 FROM desktops s"
  "   WHERE s.kms_host_id IN " FAMILY_HOST_IDS " AND s.short_name = c.last_client))"
  "  OR EXISTS (SELECT 1 FROM desktops b WHERE b.hostname = split_part(c.last_client, '.', 1)"
  "   AND b.kms_host_id IN " FAMILY_HOST_IDS " AND strpos(b.hostname, '.') = 0)),"
  RENEWS_ELSEWHERE ", coalesce(c.required_count, 0)"
  " FROM cmids c JOIN targets t ON t.cmid = c.cmid AND c.kms_host_id = $1"
  OTHER_HOSTS_JOIN
  " WHERE c.last_request_at > to_timestamp($2) - interval '" KG_RELEVANT_DAYS " days'"
  " OR EXISTS (SELECT 1 FROM desktops d WHERE d.kms_host_id = c.kms_host_id"
  "            AND d.cmid = c.cmid AND d.state = 'active')"
};
/* clang-format on */

/* The desktops written, and those carrying a CMID written (one may have
   become this host's to count, or its CMID known here), with the full load's
   columns and whether the full load would hold them now. */
/* clang-format off */
static const struct kg_stmt stmt_desktops = {
  "estate_delta_desktops",
  DELTA_LOG ","
  " ids AS (SELECT unnest(desktops) AS id FROM log"
  "  UNION SELECT d.id FROM desktops d WHERE d.cmid IN (SELECT unnest(cmids) FROM log))"
  " SELECT " KG_ESTATE_DESKTOP_COLUMNS ","
  " (d.kms_host_id = $1"
  "  OR (EXISTS (SELECT 1 FROM kms_hosts dh JOIN kms_hosts h ON h.id = $1"
  "       AND h.family = dh.family AND h.id <> dh.id WHERE dh.id = d.kms_host_id)"
  "      AND EXISTS (SELECT 1 FROM cmids c WHERE c.kms_host_id = $1 AND c.cmid = d.cmid)))"
  " AND (d.state <> 'decommissioned'"
  "  OR d.decommissioned_at > to_timestamp($2) - interval '" KG_RELEVANT_DAYS " days')"
  " FROM desktops d JOIN ids USING (id)"
};
/* clang-format on */

/** What a merge found: done, or the log's rows need a full load. */
enum merge_result {
  MERGED,
  NEEDS_LOAD,
  NO_MEMORY
};

/** @return a copy of @a n items of @a size with room for @a capacity (+1), or NULL */
static void *
copy_array(const void *src, size_t n, size_t capacity, size_t size)
{
  void *dst = calloc(capacity + 1, size);
  if (NULL != dst && n > 0)
    memcpy(dst, src, n * size);
  return dst;
}

static enum merge_result
copy_pools(struct kg_estate *es, const struct kg_estate *old)
{
  size_t n = old->model.n_pools;
  es->pools = copy_array(old->pools, n, n, sizeof(*es->pools));
  es->pool_ids = copy_array(old->pool_ids, n, n, sizeof(*es->pool_ids));
  es->pool_names = copy_array(old->pool_names, n, n, sizeof(*es->pool_names));
  es->pool_here = copy_array(old->pool_here, n, n, sizeof(*es->pool_here));
  es->pool_weight = copy_array(old->pool_weight, n, n, sizeof(*es->pool_weight));
  es->pool_total_weight = copy_array(old->pool_total_weight, n, n, sizeof(*es->pool_total_weight));
  if (NULL == es->pools || NULL == es->pool_ids || NULL == es->pool_names || NULL == es->pool_here
      || NULL == es->pool_weight || NULL == es->pool_total_weight)
    return NO_MEMORY;
  es->model.n_pools = n;
  es->model.pools = es->pools;
  return MERGED;
}

/** Old CMIDs keep their indices; CMIDs new to the estate are appended. */
static enum merge_result
merge_cmids(struct kg_estate *es, const struct kg_estate *old, const PGresult *res)
{
  size_t n = old->model.n_cmids, rows = (size_t) PQntuples(res), cap = n + rows;

  es->cmids = copy_array(old->cmids, n, cap, sizeof(*es->cmids));
  es->cmid_text = copy_array(old->cmid_text, n, cap, sizeof(*es->cmid_text));
  es->cmid_elsewhere = copy_array(old->cmid_elsewhere, n, cap, sizeof(*es->cmid_elsewhere));
  es->cmid_required = copy_array(old->cmid_required, n, cap, sizeof(*es->cmid_required));
  if (NULL == es->cmids || NULL == es->cmid_text || NULL == es->cmid_elsewhere
      || NULL == es->cmid_required)
    return NO_MEMORY;
  es->model.n_cmids = n;
  if (2 * cap <= old->cmid_mask + 1) {
    es->cmid_slots =
      copy_array(old->cmid_slots, old->cmid_mask + 1, old->cmid_mask + 1, sizeof(*es->cmid_slots));
    es->cmid_mask = old->cmid_mask;
    if (NULL == es->cmid_slots)
      return NO_MEMORY;
  } else if (0 != kg_estate_cmid_map_build(es, cap)) {
    return NO_MEMORY;
  }
  for (int r = 0; r < (int) rows; r++) {
    int32_t i = kg_estate_cmid_find(es, PQgetvalue(res, r, 0));
    if (i >= 0) {
      kg_estate_cmid_from_row(es, (size_t) i, res, r);
      continue;
    }
    kg_estate_cmid_from_row(es, n, res, r);
    kg_estate_cmid_map_add(es, (int32_t) n++);
  }
  es->model.n_cmids = n;
  es->model.cmids = es->cmids;
  return MERGED;
}

/** A desktop row of the refresh: an existing desktop's, or a new one's. */
struct desktop_row {
  int32_t old_index; /**< in the old estate; -1 for a new desktop */
  int row;           /**< in the result; -1: the desktop leaves the estate */
  const char *hostname;
};

static int
compare_old_index(const void *a, const void *b)
{
  int32_t x = ((const struct desktop_row *) a)->old_index;
  int32_t y = ((const struct desktop_row *) b)->old_index;
  return (x > y) - (x < y);
}

static int
compare_hostname(const void *a, const void *b)
{
  return strcmp(((const struct desktop_row *) a)->hostname,
                ((const struct desktop_row *) b)->hostname);
}

/** The desktops' rows split into changes of old desktops and new ones, each sorted. */
struct desktop_rows {
  struct desktop_row *changed, *added;
  size_t n_changed, n_added, n_leaving, added_bytes;
};

static int
split_desktop_rows(const struct kg_estate *old, const PGresult *res, struct desktop_rows *dr)
{
  size_t rows = (size_t) PQntuples(res);
  memset(dr, 0, sizeof(*dr));
  dr->changed = calloc(rows + 1, sizeof(*dr->changed));
  dr->added = calloc(rows + 1, sizeof(*dr->added));
  if (NULL == dr->changed || NULL == dr->added)
    return -1;
  for (int r = 0; r < (int) rows; r++) {
    const char *hostname = PQgetvalue(res, r, 1);
    int32_t at = kg_estate_desktop_index(old, hostname);
    bool member = kg_db_bool(res, r, 7);
    if (at >= 0) {
      dr->changed[dr->n_changed++] = (struct desktop_row){ at, member ? r : -1, hostname };
      dr->n_leaving += !member;
    } else if (member) {
      dr->added[dr->n_added++] = (struct desktop_row){ -1, r, hostname };
      dr->added_bytes += strlen(hostname) + 1;
    }
  }
  qsort(dr->changed, dr->n_changed, sizeof(*dr->changed), compare_old_index);
  qsort(dr->added, dr->n_added, sizeof(*dr->added), compare_hostname);
  return 0;
}

static void
copy_desktop(struct kg_estate *es, size_t to, const struct kg_estate *old, size_t from)
{
  es->desktops[to] = old->desktops[from];
  es->desktop_ids[to] = old->desktop_ids[from];
  es->desktop_hostnames[to] = old->desktop_hostnames[from];
  es->desktop_here[to] = old->desktop_here[from];
  es->desktop_cmid_away[to] = old->desktop_cmid_away[from];
}

/**
 * Merges the old desktops (in hostname order) with the added ones (sorted
 * the same way), applying the changed rows; @a remap receives each old
 * desktop's new index (-1: left the estate).
 */
static enum merge_result
merge_desktop_order(struct kg_estate *es, const struct kg_estate *old, const PGresult *res,
                    const struct desktop_rows *dr, int32_t *remap)
{
  size_t n_old = old->model.n_desktops, i = 0, j = 0, k = 0, out = 0;

  while (i < n_old || j < dr->n_added) {
    int row;
    if (j == dr->n_added
        || (i < n_old && strcmp(old->desktop_hostnames[i], dr->added[j].hostname) < 0)) {
      bool changed = k < dr->n_changed && dr->changed[k].old_index == (int32_t) i;
      row = changed ? dr->changed[k++].row : -2;
      remap[i] = (-1 == row) ? -1 : (int32_t) out;
      if (-1 == row) {
        i++;
        continue;
      }
      copy_desktop(es, out, old, i++);
    } else {
      row = dr->added[j].row;
      es->desktop_hostnames[out] = kg_estate_strings_add(es->strings, dr->added[j++].hostname);
    }
    /* a desktop whose pool the estate does not hold needs the pools query */
    if (row >= 0 && 0 != kg_estate_desktop_from_row(es, out, res, row))
      return NEEDS_LOAD;
    out++;
  }
  return MERGED;
}

static enum merge_result
merge_desktops(struct kg_estate *es, const struct kg_estate *old, const PGresult *res,
               int32_t **remap)
{
  struct desktop_rows dr = { 0 };
  enum merge_result mr = NO_MEMORY;

  *remap = calloc(old->model.n_desktops + 1, sizeof(**remap));
  if (NULL != *remap && 0 == split_desktop_rows(old, res, &dr)) {
    size_t n = old->model.n_desktops - dr.n_leaving + dr.n_added;
    if (0 == dr.added_bytes) {
      es->strings = old->strings;
      atomic_fetch_add(&es->strings->refs, 1);
    } else {
      es->strings = kg_estate_strings_new(old->strings, dr.added_bytes);
    }
    if (NULL != es->strings && 0 == kg_estate_alloc_desktops(es, n))
      mr = merge_desktop_order(es, old, res, &dr, *remap);
  }
  free(dr.changed);
  free(dr.added);
  return mr;
}

/** Copies the reserved plans, their desktops renumbered by @a remap. */
static enum merge_result
copy_reserved(struct kg_estate *es, const struct kg_estate *old, const int32_t *remap)
{
  size_t n = old->model.n_reserved, n_desk = 0, n_prov = 0;

  for (size_t p = 0; p < n; p++) {
    n_desk += old->reserved[p].n_decommission;
    n_prov += old->reserved[p].n_provision;
  }
  es->reserved = copy_array(old->reserved, n, n, sizeof(*es->reserved));
  es->reserved_ids = copy_array(old->reserved_ids, n, n, sizeof(*es->reserved_ids));
  es->reserved_desktops = calloc(n_desk + 1, sizeof(*es->reserved_desktops));
  es->reserved_provisions =
    copy_array(old->reserved_provisions, n_prov, n_prov, sizeof(*es->reserved_provisions));
  if (NULL == es->reserved || NULL == es->reserved_ids || NULL == es->reserved_desktops
      || NULL == es->reserved_provisions)
    return NO_MEMORY;
  for (size_t d = 0; d < n_desk; d++) {
    es->reserved_desktops[d] = remap[old->reserved_desktops[d]];
    if (es->reserved_desktops[d] < 0)
      return NEEDS_LOAD; /* a reserved desktop left the estate */
  }
  for (size_t p = 0; p < n; p++) {
    es->reserved[p].decommission =
      es->reserved_desktops + (old->reserved[p].decommission - old->reserved_desktops);
    es->reserved[p].provision =
      es->reserved_provisions + (old->reserved[p].provision - old->reserved_provisions);
  }
  es->model.n_reserved = n;
  es->model.reserved = es->reserved;
  return MERGED;
}

/** Copies every name into one node without parents, so chains stay short. */
static enum merge_result
compact_strings(struct kg_estate *es)
{
  size_t size = 0;
  for (size_t i = 0; i < es->model.n_desktops; i++)
    size += strlen(es->desktop_hostnames[i]) + 1;
  for (size_t i = 0; i < es->model.n_pools; i++)
    size += strlen(es->pool_names[i]) + 1;
  struct kg_estate_strings *node = kg_estate_strings_new(NULL, size);
  if (NULL == node)
    return NO_MEMORY;
  for (size_t i = 0; i < es->model.n_desktops; i++) {
    es->desktop_hostnames[i] = kg_estate_strings_add(node, es->desktop_hostnames[i]);
    es->desktops[i].hostname = es->desktop_hostnames[i];
  }
  for (size_t i = 0; i < es->model.n_pools; i++)
    es->pool_names[i] = kg_estate_strings_add(node, es->pool_names[i]);
  kg_estate_strings_unref(es->strings);
  es->strings = node;
  return MERGED;
}

static enum merge_result
merge(struct kg_estate *es, const struct kg_estate *old, const PGresult *cmids,
      const PGresult *desktops)
{
  int32_t *remap = NULL;
  enum merge_result mr = copy_pools(es, old);

  if (MERGED == mr)
    mr = merge_cmids(es, old, cmids);
  if (MERGED == mr)
    mr = merge_desktops(es, old, desktops, &remap);
  if (MERGED == mr)
    mr = copy_reserved(es, old, remap);
  if (MERGED == mr && es->strings->depth > MAX_STRINGS_DEPTH)
    mr = compact_strings(es);
  es->family_hosts = old->family_hosts;
  free(remap);
  return mr;
}

/** Runs a refresh statement: $1 host, $2 now, $3 since, $4 target. */
static PGresult *
query(struct kg_db *db, const struct kg_stmt *stmt, const struct kg_host_row *host, int64_t now,
      long long since, enum kg_qs *qs)
{
  char id[KG_DB_INT_BUFSZ], at[KG_DB_INT_BUFSZ], from[KG_DB_INT_BUFSZ], to[KG_DB_INT_BUFSZ];
  /* clang-format off */
  const char *params[] = { kg_db_param_int(id, host->id), kg_db_param_int(at, now),
                           kg_db_param_int(from, since),
                           kg_db_param_int(to, host->estate_version) };
  /* clang-format on */
  return kg_db_exec(db, stmt, KG_NPARAMS(params), params, qs);
}

/** Whether the log holds a row for every version in (since, target], and few enough items. */
static enum kg_qs
log_covers(struct kg_db *db, const struct kg_host_row *host, long long since, bool *covers)
{
  char id[KG_DB_INT_BUFSZ], from[KG_DB_INT_BUFSZ], to[KG_DB_INT_BUFSZ];
  /* clang-format off */
  const char *params[] = { kg_db_param_int(id, host->id), kg_db_param_int(from, since),
                           kg_db_param_int(to, host->estate_version) };
  /* clang-format on */
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_check, KG_NPARAMS(params), params, &qs);

  if (NULL == res)
    return qs;
  *covers = kg_db_int(res, 0, 0) == host->estate_version - since
            && kg_db_int(res, 0, 1) <= MAX_CHANGED_ITEMS;
  PQclear(res);
  return KG_QS_OK;
}

enum kg_qs
kg_estate_refresh(struct kg_db *db, const struct kg_estate *old, long long old_version,
                  const struct kg_host_row *host, int64_t now, struct kg_estate *es,
                  bool *refreshed)
{
  bool covers = false;
  enum kg_qs qs;

  *refreshed = false;
  kg_estate_begin(es, host, now, old->model.horizon_seconds);
  if (old_version > host->estate_version || old->host.id != host->id
      || old->host.renewal_minutes != host->renewal_minutes)
    return KG_QS_OK;
  if (KG_QS_OK != (qs = log_covers(db, host, old_version, &covers)) || !covers)
    return qs;
  PGresult *cmids = query(db, &stmt_cmids, host, now, old_version, &qs);
  PGresult *desktops =
    (NULL == cmids) ? NULL : query(db, &stmt_desktops, host, now, old_version, &qs);
  if (NULL != desktops) {
    enum merge_result mr = merge(es, old, cmids, desktops);
    if (NO_MEMORY == mr)
      qs = KG_QS_HARD_ERROR;
    *refreshed = (MERGED == mr);
  }
  PQclear(cmids);
  PQclear(desktops);
  return qs;
}
