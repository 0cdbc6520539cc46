/**
 * @file db_estate.c
 * @brief SQL that feeds the model. It reads the per-CMID summary table kept
 *        by ingest (one row per CMID), never raw activation requests, so a
 *        host with 100,000 CMIDs ships 100,000 short rows per evaluation.
 */
#include "db_estate_internal.h"
#include "db_estate_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Desktops of other hosts of the family whose CMID this host caches: their
   decommission touches this host too (docs/model.md §6.4). Scans only the
   desktops of the family's other hosts, none for a host alone in its family. */
/* clang-format off */
#define FOREIGN_DESKTOPS                                                       \
  " SELECT d.id FROM desktops d JOIN kms_hosts dh ON dh.id = d.kms_host_id"    \
  " JOIN kms_hosts h ON h.id = $1 AND h.family = dh.family AND h.id <> dh.id"   \
  " WHERE EXISTS (SELECT 1 FROM cmids c WHERE c.kms_host_id = $1 AND c.cmid = d.cmid)"
/* clang-format on */

/* Whether the pool is this host's (pinned to it, or discovering it): only such
   pools may be named in this host's plans; and this host's weight among the
   pool's hosts (a pinned pool: 1 of 1 here, 0 elsewhere). */
/* clang-format off */
static const struct kg_stmt stmt_pools = {
  "estate_pools",
  "SELECT p.id, p.name, coalesce(p.renewal_interval_minutes, h.renewal_interval_minutes),"
  " p.unique_cmids, p.kms_host_id = $1"
  "  OR EXISTS (SELECT 1 FROM pool_hosts x WHERE x.pool_id = p.id AND x.kms_host_id = $1),"
  " coalesce((SELECT weight FROM pool_hosts x WHERE x.pool_id = p.id AND x.kms_host_id = $1),"
  "  CASE WHEN p.kms_host_id = $1 AND NOT EXISTS (SELECT 1 FROM pool_hosts x"
  "   WHERE x.pool_id = p.id) THEN 1 ELSE 0 END),"
  " coalesce((SELECT sum(weight) FROM pool_hosts x WHERE x.pool_id = p.id), 1)"
  " FROM pools p JOIN kms_hosts h ON h.id = p.kms_host_id"
  " WHERE p.kms_host_id = $1"
  " OR p.id IN (SELECT pool_id FROM pool_hosts WHERE kms_host_id = $1)"
  " OR p.id IN (SELECT pool_id FROM desktops WHERE id IN (" FOREIGN_DESKTOPS "))"
  " ORDER BY p.id"
};
/* clang-format on */
/* The fourth column says whether the CMID's latest request came from the name
   of a desktop registered on a host of this family, matched as ingest matches names (the
   full name, or a short name against a desktop's first label; ambiguous short
   names count as registered, the stricter reading); ingest links desktops
   from this host's events only, and only this host's writes bump its
   estate_version. Rule (b) then treats the CMID as replaced. The three ways
   to match are three outer joins that each find one row at most (hostnames
   are unique): the full name; a short name among the first labels; the
   first label among desktops registered by short name. As one correlated
   EXISTS it was an index probe per CMID (490 of 580 ms at 100,000 CMIDs);
   as IN lists it was hashed only while the names fitted in work_mem, and
   scanned them per CMID beyond (over 15 s at 240,000). */
/* clang-format off */
#define CMID_COLUMNS                                                          \
  " SELECT c.cmid, " KG_SQL_EPOCH("c.last_request_at") ","                    \
  " least(c.request_count, 2147483647),"                                      \
  " (f.id IS NOT NULL OR s.short_name IS NOT NULL OR b.id IS NOT NULL),"      \
  RENEWS_ELSEWHERE ", coalesce(c.required_count, 0)"                         \
  " FROM cmids c" OTHER_HOSTS_JOIN                                                             \
  " LEFT JOIN desktops f ON f.hostname = c.last_client"                       \
  "  AND f.kms_host_id IN " FAMILY_HOST_IDS                                    \
  " LEFT JOIN (SELECT DISTINCT short_name FROM desktops"                       \
  "  WHERE kms_host_id IN " FAMILY_HOST_IDS ") s"                              \
  "  ON s.short_name = c.last_client AND strpos(c.last_client, '.') = 0"      \
  " LEFT JOIN desktops b ON b.hostname = split_part(c.last_client, '.', 1)"   \
  "  AND b.kms_host_id IN " FAMILY_HOST_IDS " AND strpos(b.hostname, '.') = 0"

static const struct kg_stmt stmt_cmids = {
  "estate_cmids",
  CMID_COLUMNS
  " WHERE c.kms_host_id = $1"
  " AND c.last_request_at > to_timestamp($2) - interval '" KG_RELEVANT_DAYS " days'"
  " UNION ALL"
  /* Old CMIDs of active desktops too, so those desktops read as lapsing, not unseen. */
  CMID_COLUMNS
  " WHERE c.kms_host_id = $1"
  " AND c.last_request_at <= to_timestamp($2) - interval '" KG_RELEVANT_DAYS " days'"
  " AND EXISTS (SELECT 1 FROM desktops d WHERE d.kms_host_id = c.kms_host_id"
  "             AND d.cmid = c.cmid AND d.state = 'active')"
};
static const struct kg_stmt stmt_desktops = {
  "estate_desktops",
  "SELECT " KG_ESTATE_DESKTOP_COLUMNS " FROM desktops d"
  " WHERE (d.kms_host_id = $1 OR d.id IN (" FOREIGN_DESKTOPS "))"
  " AND (d.state <> 'decommissioned'"
  "  OR d.decommissioned_at > to_timestamp($2) - interval '" KG_RELEVANT_DAYS " days')"
  /* Unordered: fill_desktops() sorts by hostname in strcmp order, which the
     model expects (ORDER BY ... COLLATE "C" spilled to disk at 91,000 rows). */
};
static const struct kg_stmt stmt_reserved = {
  "estate_reserved",
  "SELECT p.id, " KG_SQL_EPOCH("p.at") ", " KG_SQL_EPOCH("p.expires_at") ","
  " coalesce((SELECT string_agg(desktop_id::text, ',') FROM plan_decommissions"
  "           WHERE plan_id = p.id), ''),"
  " coalesce((SELECT string_agg(pool_id::text || ':' || count, ',') FROM plan_provisions"
  "           WHERE plan_id = p.id), '')"
  " FROM plans p WHERE (p.kms_host_id = $1"
  "  OR p.id IN (SELECT plan_id FROM plan_hosts WHERE kms_host_id = $1))"
  " AND p.state = 'reserved' AND p.expires_at > to_timestamp($2) ORDER BY p.created_at, p.id"
};

/* Hosts of this host's family: with one, no plan can touch another host. */
static const struct kg_stmt stmt_family = {
  "estate_family",
  "SELECT count(*) FROM kms_hosts o JOIN kms_hosts h ON h.id = $1 AND o.family = h.family"
};
/* clang-format on */

enum {
  RES_POOLS,
  RES_CMIDS,
  RES_DESKTOPS,
  RES_RESERVED,
  RES_FAMILY
};

/* ---- CMID text -> index: open addressing, at most half full ---- */

static uint64_t
hash_text(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; '\0' != *s; s++)
    h = (h ^ (unsigned char) *s) * 1099511628211ULL;
  return h;
}

int
kg_estate_cmid_map_build(struct kg_estate *es, size_t capacity)
{
  size_t size = 16;
  while (size < 2 * capacity)
    size *= 2;
  free(es->cmid_slots);
  es->cmid_slots = malloc(size * sizeof(int32_t));
  if (NULL == es->cmid_slots)
    return -1;
  memset(es->cmid_slots, 0xff, size * sizeof(int32_t)); /* -1 = empty */
  es->cmid_mask = size - 1;
  for (size_t i = 0; i < es->model.n_cmids; i++)
    kg_estate_cmid_map_add(es, (int32_t) i);
  return 0;
}

void
kg_estate_cmid_map_add(struct kg_estate *es, int32_t index)
{
  size_t s = hash_text(es->cmid_text[index]) & es->cmid_mask;
  while (es->cmid_slots[s] >= 0)
    s = (s + 1) & es->cmid_mask;
  es->cmid_slots[s] = index;
}

int32_t
kg_estate_cmid_find(const struct kg_estate *es, const char *key)
{
  for (size_t s = hash_text(key) & es->cmid_mask; es->cmid_slots[s] >= 0;
       s = (s + 1) & es->cmid_mask)
    if (0 == strcmp(es->cmid_text[es->cmid_slots[s]], key))
      return es->cmid_slots[s];
  return -1;
}

/* ---- the strings names point into ---- */

struct kg_estate_strings *
kg_estate_strings_new(struct kg_estate_strings *parent, size_t size)
{
  struct kg_estate_strings *node = calloc(1, sizeof(*node) + size);
  if (NULL == node)
    return NULL;
  atomic_init(&node->refs, 1);
  node->size = size;
  if (NULL != parent) {
    atomic_fetch_add(&parent->refs, 1);
    node->parent = parent;
    node->depth = parent->depth + 1;
  }
  return node;
}

char *
kg_estate_strings_add(struct kg_estate_strings *node, const char *s)
{
  size_t len = strlen(s) + 1;
  char *copy = node->data + node->used;
  memcpy(copy, s, len);
  node->used += len;
  return copy;
}

void
kg_estate_strings_unref(struct kg_estate_strings *node)
{
  /* iterative: a chain of refreshes can be long */
  while (NULL != node && 1 == atomic_fetch_sub(&node->refs, 1)) {
    struct kg_estate_strings *parent = node->parent;
    PQclear(node->pools);
    PQclear(node->desktops);
    free(node);
    node = parent;
  }
}

/* ---- loading ---- */

/** Runs an estate statement: $1 is the host id, $2 (when used) the evaluation time. */
static PGresult *
query(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const struct kg_host_row *host,
      int64_t now, enum kg_qs *qs)
{
  char id[KG_DB_INT_BUFSZ];
  char at[KG_DB_INT_BUFSZ];
  const char *params[] = { kg_db_param_int(id, host->id), kg_db_param_int(at, now) };
  return kg_db_exec(db, stmt, nparams, params, qs);
}

static int
fill_pools(struct kg_estate *es, const PGresult *res)
{
  size_t n = (size_t) PQntuples(res);
  es->pools = calloc(n + 1, sizeof(*es->pools));
  es->pool_ids = calloc(n + 1, sizeof(*es->pool_ids));
  es->pool_names = calloc(n + 1, sizeof(*es->pool_names));
  es->pool_here = calloc(n + 1, sizeof(*es->pool_here));
  es->pool_weight = calloc(n + 1, sizeof(*es->pool_weight));
  es->pool_total_weight = calloc(n + 1, sizeof(*es->pool_total_weight));
  if (NULL == es->pools || NULL == es->pool_ids || NULL == es->pool_names || NULL == es->pool_here
      || NULL == es->pool_weight || NULL == es->pool_total_weight)
    return -1;
  for (size_t i = 0; i < n; i++) {
    es->pool_ids[i] = kg_db_int(res, (int) i, 0);
    es->pool_names[i] = PQgetvalue(res, (int) i, 1);
    es->pools[i].renewal_seconds = 60 * kg_db_int(res, (int) i, 2);
    es->pools[i].unique_cmids = kg_db_bool(res, (int) i, 3);
    es->pool_here[i] = kg_db_bool(res, (int) i, 4);
    es->pool_weight[i] = (int32_t) kg_db_int(res, (int) i, 5);
    es->pool_total_weight[i] = (int32_t) kg_db_int(res, (int) i, 6);
  }
  es->model.n_pools = n;
  es->model.pools = es->pools;
  return 0;
}

void
kg_estate_cmid_from_row(struct kg_estate *es, size_t i, const PGresult *res, int row)
{
  snprintf(es->cmid_text[i], sizeof(es->cmid_text[i]), "%s", PQgetvalue(res, row, 0));
  es->cmids[i].last_request = kg_db_int(res, row, 1);
  es->cmids[i].request_count = (int32_t) kg_db_int(res, row, 2);
  es->cmids[i].last_client_registered = kg_db_bool(res, row, 3);
  es->cmids[i].renews_elsewhere = kg_db_bool(res, row, 4);
  es->cmid_elsewhere[i] = kg_db_bool(res, row, 5);
  es->cmid_required[i] = (int8_t) kg_db_int(res, row, 6);
}

static int
fill_cmids(struct kg_estate *es, const PGresult *res)
{
  size_t n = (size_t) PQntuples(res);
  es->cmids = calloc(n + 1, sizeof(*es->cmids));
  es->cmid_text = calloc(n + 1, sizeof(*es->cmid_text));
  es->cmid_elsewhere = calloc(n + 1, sizeof(*es->cmid_elsewhere));
  es->cmid_required = calloc(n + 1, sizeof(*es->cmid_required));
  if (NULL == es->cmids || NULL == es->cmid_text || NULL == es->cmid_elsewhere
      || NULL == es->cmid_required)
    return -1;
  for (size_t i = 0; i < n; i++)
    kg_estate_cmid_from_row(es, i, res, (int) i);
  es->model.n_cmids = n;
  es->model.cmids = es->cmids;
  return kg_estate_cmid_map_build(es, n);
}

int32_t
kg_estate_pool_by_id(const struct kg_estate *es, long long id)
{
  size_t lo = 0, hi = es->model.n_pools;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (es->pool_ids[mid] < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (lo < es->model.n_pools && es->pool_ids[lo] == id) ? (int32_t) lo : -1;
}

static enum fc_desktop_state
parse_state(const char *s)
{
  if (0 == strcmp(s, "active"))
    return FC_ACTIVE;
  return 0 == strcmp(s, "powered_off") ? FC_POWERED_OFF : FC_DECOMMISSIONED;
}

int
kg_estate_desktop_from_row(struct kg_estate *es, size_t i, const PGresult *res, int row)
{
  const char *cmid = kg_db_text(res, row, 3);
  es->desktop_ids[i] = kg_db_int(res, row, 0);
  es->desktops[i].hostname = es->desktop_hostnames[i];
  es->desktops[i].pool = kg_estate_pool_by_id(es, kg_db_int(res, row, 2));
  es->desktops[i].cmid = (NULL == cmid) ? -1 : kg_estate_cmid_find(es, cmid);
  es->desktops[i].state = parse_state(PQgetvalue(res, row, 4));
  es->desktop_here[i] = kg_db_bool(res, row, 5);
  es->desktops[i].powered_off = kg_db_bool(res, row, 6);
  /* a CMID this host does not cache: another host may */
  es->desktop_cmid_away[i] = NULL != cmid && es->desktops[i].cmid < 0;
  return es->desktops[i].pool >= 0 ? 0 : -1;
}

/** A desktop row's hostname with its row number, for sorting. */
struct named_row {
  char *hostname;
  int row;
};

static int
compare_named_rows(const void *a, const void *b)
{
  return strcmp(((const struct named_row *) a)->hostname, ((const struct named_row *) b)->hostname);
}

/** The rows of @a res in strcmp order of their hostname (column 1); NULL without memory. */
static struct named_row *
rows_by_hostname(const PGresult *res, size_t n)
{
  struct named_row *order = malloc((n + 1) * sizeof(*order));
  if (NULL == order)
    return NULL;
  for (size_t i = 0; i < n; i++)
    order[i] = (struct named_row){ PQgetvalue(res, (int) i, 1), (int) i };
  qsort(order, n, sizeof(*order), compare_named_rows);
  return order;
}

int
kg_estate_alloc_desktops(struct kg_estate *es, size_t n)
{
  es->desktops = calloc(n + 1, sizeof(*es->desktops));
  es->desktop_ids = calloc(n + 1, sizeof(*es->desktop_ids));
  es->desktop_hostnames = calloc(n + 1, sizeof(*es->desktop_hostnames));
  es->desktop_here = calloc(n + 1, sizeof(*es->desktop_here));
  es->desktop_cmid_away = calloc(n + 1, sizeof(*es->desktop_cmid_away));
  es->model.n_desktops = n;
  es->model.desktops = es->desktops;
  return (NULL == es->desktops || NULL == es->desktop_ids || NULL == es->desktop_hostnames
          || NULL == es->desktop_here || NULL == es->desktop_cmid_away)
           ? -1
           : 0;
}

static int
fill_desktops(struct kg_estate *es, const PGresult *res)
{
  size_t n = (size_t) PQntuples(res);
  struct named_row *order = rows_by_hostname(res, n);

  if (NULL == order || 0 != kg_estate_alloc_desktops(es, n)) {
    free(order);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    es->desktop_hostnames[i] = order[i].hostname;
    /* the pool is in the estate: the pools query includes every desktop's */
    (void) kg_estate_desktop_from_row(es, i, res, order[i].row);
  }
  free(order);
  return 0;
}

/** (desktop id, index) pairs sorted by id, to resolve plan entries in O(log n). */
struct id_index {
  long long id;
  int32_t index;
};

static int
compare_id_index(const void *a, const void *b)
{
  long long x = ((const struct id_index *) a)->id, y = ((const struct id_index *) b)->id;
  return (x > y) - (x < y);
}

static struct id_index *
desktop_id_table(const struct kg_estate *es)
{
  struct id_index *t = malloc((es->model.n_desktops + 1) * sizeof(*t));
  if (NULL == t)
    return NULL;
  for (size_t i = 0; i < es->model.n_desktops; i++)
    t[i] = (struct id_index){ es->desktop_ids[i], (int32_t) i };
  qsort(t, es->model.n_desktops, sizeof(*t), compare_id_index);
  return t;
}

static int32_t
desktop_index_by_id(const struct id_index *table, size_t n, long long id)
{
  struct id_index key = { id, 0 };
  const struct id_index *hit = bsearch(&key, table, n, sizeof(*table), compare_id_index);
  return NULL != hit ? hit->index : -1;
}

static size_t
count_items(const char *list)
{
  size_t n = ('\0' != *list);
  for (; '\0' != *list; list++)
    n += (',' == *list);
  return n;
}

/** Parses "12,34" into desktop indices and "5:10,6:2" into provisions. */
static void
fill_one_plan(struct kg_estate *es, const struct id_index *ids, struct fc_plan *plan,
              const char *desktops, const char *provisions, int32_t *dst_desktops,
              struct fc_provision *dst_prov)
{
  char *end;
  plan->decommission = dst_desktops;
  plan->provision = dst_prov;
  for (const char *p = desktops; '\0' != *p; p = ('\0' != *end) ? end + 1 : end) {
    int32_t idx = desktop_index_by_id(ids, es->model.n_desktops, strtoll(p, &end, 10));
    if (idx >= 0)
      dst_desktops[plan->n_decommission++] = idx;
  }
  for (const char *p = provisions; '\0' != *p; p = ('\0' != *end) ? end + 1 : end) {
    int32_t pool = kg_estate_pool_by_id(es, strtoll(p, &end, 10));
    long count = strtol(end + 1, &end, 10);
    /* this host's share of a discovering pool's provision (all of a pinned
       pool's on its host, none elsewhere): as the gate evaluated it */
    if (pool >= 0 && es->pool_weight[pool] > 0)
      count = (long) ((int64_t) count * es->pool_weight[pool] / es->pool_total_weight[pool]);
    else
      count = 0;
    if (pool >= 0 && count > 0)
      dst_prov[plan->n_provision++] = (struct fc_provision){ pool, (int32_t) count };
  }
}

static int
fill_reserved(struct kg_estate *es, const PGresult *res)
{
  size_t n = (size_t) PQntuples(res);
  size_t n_desk = 0, n_prov = 0;

  for (size_t i = 0; i < n; i++) {
    n_desk += count_items(PQgetvalue(res, (int) i, 3));
    n_prov += count_items(PQgetvalue(res, (int) i, 4));
  }
  es->reserved = calloc(n + 1, sizeof(*es->reserved));
  es->reserved_ids = calloc(n + 1, sizeof(*es->reserved_ids));
  es->reserved_desktops = calloc(n_desk + 1, sizeof(*es->reserved_desktops));
  es->reserved_provisions = calloc(n_prov + 1, sizeof(*es->reserved_provisions));
  struct id_index *ids = (n > 0) ? desktop_id_table(es) : NULL;
  if (NULL == es->reserved || NULL == es->reserved_ids || NULL == es->reserved_desktops
      || NULL == es->reserved_provisions || (n > 0 && NULL == ids)) {
    free(ids);
    return -1;
  }
  int32_t *desk = es->reserved_desktops;
  struct fc_provision *prov = es->reserved_provisions;
  for (size_t i = 0; i < n; i++) {
    struct fc_plan *plan = &es->reserved[i];
    snprintf(es->reserved_ids[i].id, sizeof(es->reserved_ids[i].id), "%s",
             PQgetvalue(res, (int) i, 0));
    plan->at = kg_db_int(res, (int) i, 1);
    es->reserved_ids[i].expires_at = kg_db_int(res, (int) i, 2);
    fill_one_plan(es, ids, plan, PQgetvalue(res, (int) i, 3), PQgetvalue(res, (int) i, 4), desk,
                  prov);
    desk += plan->n_decommission;
    prov += plan->n_provision;
  }
  free(ids);
  es->model.n_reserved = n;
  es->model.reserved = es->reserved;
  return 0;
}

void
kg_estate_begin(struct kg_estate *es, const struct kg_host_row *host, int64_t now,
                int64_t horizon_seconds)
{
  memset(es, 0, sizeof(*es));
  es->host = *host;
  es->model.now = now;
  es->model.capacity = host->capacity;
  es->model.threshold = host->threshold;
  es->model.margin = host->margin;
  es->model.host_renewal_seconds = 60LL * host->renewal_minutes;
  es->model.horizon_seconds = horizon_seconds;
}

enum kg_qs
kg_estate_load(struct kg_db *db, const struct kg_host_row *host, int64_t now,
               int64_t horizon_seconds, struct kg_estate *es)
{
  static const struct {
    const struct kg_stmt *stmt;
    int nparams;
  } stmts[] = {
    [RES_POOLS] = { &stmt_pools, 1 },       [RES_CMIDS] = { &stmt_cmids, 2 },
    [RES_DESKTOPS] = { &stmt_desktops, 2 }, [RES_RESERVED] = { &stmt_reserved, 2 },
    [RES_FAMILY] = { &stmt_family, 1 },
  };
  enum kg_qs qs = KG_QS_OK;

  kg_estate_begin(es, host, now, horizon_seconds);
  PGresult *res[sizeof(stmts) / sizeof(stmts[0])] = { NULL };
  for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]) && KG_QS_OK == qs; i++)
    res[i] = query(db, stmts[i].stmt, stmts[i].nparams, host, now, &qs);
  /* Names point into the pools' and desktops' results, kept by the node. */
  es->strings = kg_estate_strings_new(NULL, 0);
  if (NULL != es->strings) {
    es->strings->pools = res[RES_POOLS];
    es->strings->desktops = res[RES_DESKTOPS];
  } else {
    PQclear(res[RES_POOLS]);
    PQclear(res[RES_DESKTOPS]);
  }
  if (KG_QS_OK == qs
      && (NULL == es->strings || 0 != fill_pools(es, res[RES_POOLS])
          || 0 != fill_cmids(es, res[RES_CMIDS]) || 0 != fill_desktops(es, res[RES_DESKTOPS])
          || 0 != fill_reserved(es, res[RES_RESERVED])))
    qs = KG_QS_HARD_ERROR;
  if (KG_QS_OK == qs)
    es->family_hosts = (int) kg_db_int(res[RES_FAMILY], 0, 0);
  PQclear(res[RES_CMIDS]);
  PQclear(res[RES_RESERVED]);
  PQclear(res[RES_FAMILY]);
  return qs;
}

void
kg_estate_free(struct kg_estate *es)
{
  free(es->cmids);
  free(es->cmid_text);
  free(es->cmid_elsewhere);
  free(es->cmid_required);
  free(es->pools);
  free(es->pool_ids);
  free(es->pool_names);
  free(es->pool_here);
  free(es->pool_weight);
  free(es->pool_total_weight);
  free(es->desktops);
  free(es->desktop_here);
  free(es->desktop_cmid_away);
  free(es->desktop_ids);
  free(es->desktop_hostnames);
  free(es->reserved);
  free(es->reserved_ids);
  free(es->reserved_desktops);
  free(es->reserved_provisions);
  free(es->cmid_slots);
  kg_estate_strings_unref(es->strings);
  memset(es, 0, sizeof(*es));
}

int32_t
kg_estate_desktop_index(const struct kg_estate *es, const char *hostname)
{
  size_t lo = 0, hi = es->model.n_desktops;
  while (lo < hi) { /* desktops are in strcmp order of hostname */
    size_t mid = (lo + hi) / 2;
    int c = strcmp(es->desktop_hostnames[mid], hostname);
    if (0 == c)
      return (int32_t) mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

int32_t
kg_estate_pool_index(const struct kg_estate *es, const char *name)
{
  for (size_t i = 0; i < es->model.n_pools; i++)
    if (es->pool_here[i] && 0 == strcmp(es->pool_names[i], name))
      return (int32_t) i;
  return -1;
}

int32_t
kg_estate_holding_plan(const struct kg_estate *es, int32_t desktop)
{
  for (size_t p = 0; p < es->model.n_reserved; p++)
    for (size_t k = 0; k < es->reserved[p].n_decommission; k++)
      if (es->reserved[p].decommission[k] == desktop)
        return (int32_t) p;
  return -1;
}
