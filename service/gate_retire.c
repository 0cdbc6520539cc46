/**
 * @file gate_retire.c
 * @brief "Can we retire kms02?" (docs/model.md §6.8, example 7). From
 *        the plan time the retired host answers nobody: each CMID renewing on
 *        it that belongs to a discovering pool's desktop moves at its first
 *        renewal after that time, split over the pool's remaining hosts by
 *        weight (rounded down per host); a CMID of no desktop moves nowhere.
 *        A moved CMID is a CMID, not a new one: where the receiving host
 *        already caches it, it adds nothing until that entry would have
 *        ended. A pool left with no host makes the answer no-go; otherwise go
 *        only if every host that receives moved CMIDs (and the request's
 *        host) stays at or above its floor.
 */
#include "gate_retire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_pools.h"
#include "forecast_json.h"
#include "gate_hosts.h"
#include "input.h"

#define MAX_RECEIVERS 16

/** A CMID that moves off the retired host, and when it first requests elsewhere. */
struct move {
  char cmid[37];
  int64_t at;
};

/** Of moves[first .. first + m), @a k land on the receiver (which ones is unknown). */
struct group {
  size_t first, m, k;
};

/** A host that receives moved CMIDs: the moves of each pool that sends it some. */
struct receiver {
  char name[254];
  struct move *moves;
  size_t n, cap;
  struct group *groups; /**< one per pool split over it */
  size_t n_groups;
};

/** Everything one retirement evaluation gathers. */
struct retire {
  const struct kg_retire_plan *p;
  struct receiver rx[MAX_RECEIVERS];
  size_t n_rx;
  bool too_many;    /**< CMIDs move to more hosts than rx holds */
  json_t *stranded; /**< pools left with no host */
  /* the remaining hosts of the pool being split */
  char host[MAX_RECEIVERS][254];
  int32_t weight[MAX_RECEIVERS];
  size_t n_hosts;
};

static struct receiver *
receiver(struct retire *rt, const char *name)
{
  for (size_t i = 0; i < rt->n_rx; i++)
    if (0 == strcmp(rt->rx[i].name, name))
      return &rt->rx[i];
  if (rt->n_rx == MAX_RECEIVERS) {
    rt->too_many = true;
    return NULL;
  }
  struct receiver *r = &rt->rx[rt->n_rx++];
  snprintf(r->name, sizeof(r->name), "%s", name);
  return r;
}

/** Records that @a k of the @a m moves of one pool land on @a r. */
static bool
add_group(struct receiver *r, const struct move *moves, size_t m, size_t k)
{
  struct group *groups = realloc(r->groups, (r->n_groups + 1) * sizeof(*groups));
  if (NULL == groups)
    return false;
  r->groups = groups;
  if (r->n + m > r->cap) {
    size_t cap = 2 * (r->n + m) + 16;
    struct move *grown = realloc(r->moves, cap * sizeof(*grown));
    if (NULL == grown)
      return false;
    r->moves = grown;
    r->cap = cap;
  }
  memcpy(r->moves + r->n, moves, m * sizeof(*moves));
  r->groups[r->n_groups++] = (struct group){ r->n, m, k };
  r->n += m;
  return true;
}

static bool
keep_host(void *cls, const char *host, int weight)
{
  struct retire *rt = cls;
  if (rt->n_hosts < MAX_RECEIVERS) {
    snprintf(rt->host[rt->n_hosts], sizeof(rt->host[0]), "%s", host);
    rt->weight[rt->n_hosts++] = weight;
  }
  return true;
}

/**
 * Each CMID renewing on the retired host of pool @a pool's active desktops,
 * with when it next requests after the plan time (each CMID once).
 * @return number of moves written to @a out
 */
static size_t
moving_cmids(const struct kg_estate *es, int32_t pool, int64_t t, bool *seen, struct move *out)
{
  size_t n = 0;

  for (size_t d = 0; d < es->model.n_desktops; d++) {
    const struct fc_desktop *dk = &es->desktops[d];
    if (dk->pool != pool || FC_ACTIVE != dk->state || dk->cmid < 0 || seen[dk->cmid])
      continue;
    seen[dk->cmid] = true;
    int64_t next = fc_cmid_next_renewal(&es->model, dk->cmid, t);
    if (next > 0) {
      snprintf(out[n].cmid, sizeof(out[n].cmid), "%s", es->cmid_text[dk->cmid]);
      out[n++].at = next;
    }
  }
  return n;
}

/** Splits one discovering pool's moving CMIDs over its remaining hosts. */
static enum kg_qs
split_pool(struct kg_db *db, struct retire *rt, const struct kg_estate *es, int32_t pool,
           const struct move *moves, size_t m)
{
  int64_t share[MAX_RECEIVERS];
  enum kg_qs qs;

  rt->n_hosts = 0;
  qs = kg_db_pool_hosts_but(db, es->pool_ids[pool], es->host.id, keep_host, rt);
  if (KG_QS_OK == qs && 0 == rt->n_hosts && !es->pool_here[pool]) {
    /* A pool pinned to another host whose desktops' CMIDs renew on the
       retired one: they move to its pinned host, which is evaluated (the
       open reading that errs low; moving them nowhere could hide a host
       that will not have the room). */
    char host[254];
    bool found;
    qs = kg_db_pool_host_name(db, es->pool_names[pool], host, &found);
    if (KG_QS_OK == qs && found)
      keep_host(rt, host, 1);
  }
  if (KG_QS_OK != qs)
    return qs;
  if (0 == rt->n_hosts)
    return 0 == json_array_append_new(rt->stranded, json_string(es->pool_names[pool]))
             ? KG_QS_OK
             : KG_QS_INTERNAL_ERROR;
  if (0 != fc_split_by_weight((int64_t) m, rt->weight, rt->n_hosts, share))
    return KG_QS_INTERNAL_ERROR;
  for (size_t h = 0; h < rt->n_hosts && KG_QS_OK == qs; h++) {
    if (share[h] <= 0)
      continue; /* it receives none of them: not touched by this pool */
    struct receiver *r = receiver(rt, rt->host[h]);
    /* no receiver: one host too many to evaluate, and the answer is no-go */
    if (NULL != r && !add_group(r, moves, m, (size_t) share[h]))
      qs = KG_QS_INTERNAL_ERROR;
  }
  return qs;
}

/** Walks the retired host's pools: stranded ones, and the moves of the others. */
static enum kg_qs
plan_moves(struct kg_db *db, struct retire *rt, const struct kg_estate *es, int64_t t)
{
  bool *seen = calloc(es->model.n_cmids + 1, sizeof(*seen));
  struct move *moves = calloc(es->model.n_desktops + 1, sizeof(*moves));
  enum kg_qs qs = (NULL == seen || NULL == moves) ? KG_QS_INTERNAL_ERROR : KG_QS_OK;

  for (size_t i = 0; i < es->model.n_pools && KG_QS_OK == qs; i++) {
    /* a pool that does not list the retired host keeps its hosts, and its
       desktops' CMIDs renewing here move to them (split_pool()) */
    if (es->pool_here[i] && es->pool_weight[i] >= es->pool_total_weight[i]) {
      /* the retired host is its only one */
      if (0 != json_array_append_new(rt->stranded, json_string(es->pool_names[i])))
        qs = KG_QS_INTERNAL_ERROR;
      continue;
    }
    size_t m = moving_cmids(es, (int32_t) i, t, seen, moves);
    if (m > 0)
      qs = split_pool(db, rt, es, (int32_t) i, moves, m);
  }
  free(seen);
  free(moves);
  return qs;
}

/** The folded answer of the receiving hosts. */
struct outcome {
  json_t *hosts;
  json_t *binding;
  int room;
  bool go;
  int32_t max_decommission;
};

/**
 * The arrivals a receiving host is forecast with. A moved CMID that the host
 * already caches, with an entry ending at e = its last request there + E,
 * covers [first request, e) there already; arriving at a it then covers
 * [min(first, a), end of window), so what it adds is [max(a, e), end): the
 * same as a new CMID arriving at max(a, e). A CMID the host does not cache
 * adds [a, end). Each adds a suffix of time, so of the m CMIDs of a pool of
 * which k land here, the k whose suffixes start latest add the least at
 * every instant at once: the host is credited with the k latest of
 * max(a, e) (docs/model.md §6.8: "the latest to add coverage there").
 * @return the number of arrivals written to @a out (room for r->n), or -1
 */
static int
receiver_arrivals(const struct kg_estate *es, const struct receiver *r, int64_t *out)
{
  int64_t *starts = malloc((r->n + 1) * sizeof(*starts));
  size_t n = 0;

  if (NULL == starts)
    return -1;
  for (size_t g = 0; g < r->n_groups; g++) {
    const struct group *gr = &r->groups[g];
    for (size_t i = 0; i < gr->m; i++) {
      const struct move *mv = &r->moves[gr->first + i];
      int32_t c = kg_estate_cmid_find(es, mv->cmid);
      int64_t ends = c >= 0 ? es->cmids[c].last_request + FC_EXPIRY_SECONDS : mv->at;
      starts[gr->first + i] = ends > mv->at ? ends : mv->at;
    }
    fc_latest_times(starts + gr->first, gr->m, gr->k, out + n);
    n += gr->k;
  }
  free(starts);
  return (int) n;
}

/** Evaluates one receiving host (or the request's) with its arrivals. */
static enum kg_qs
evaluate_receiver(struct kg_db *db, const struct kg_retire_plan *p, const struct receiver *r,
                  int64_t t, struct outcome *o)
{
  struct kg_host_row row;
  struct kg_estate_use use;
  struct fc_result res;
  bool found;
  enum kg_qs qs = kg_db_host_row(db, r->name, false, &row, &found);

  if (KG_QS_OK != qs || !found)
    return qs;
  qs = kg_estate_acquire(db, &row, p->fit, p->now, p->horizon_seconds, &use);
  int64_t *arrivals = KG_QS_OK == qs ? malloc((r->n + 1) * sizeof(*arrivals)) : NULL;
  int n = NULL != arrivals ? receiver_arrivals(&use.view, r, arrivals) : -1;
  if (KG_QS_OK == qs && n < 0)
    qs = KG_QS_INTERNAL_ERROR;
  if (KG_QS_OK == qs) {
    struct fc_plan plan = { .at = t, .n_arrivals = (size_t) n, .arrivals = arrivals };
    memset(&res, 0, sizeof(res));
    int32_t margin = kg_estate_margin(&use, p->has_margin, p->margin);
    if (0 != kg_estate_evaluate(&use, margin, &plan, -1, &res)) {
      qs = KG_QS_INTERNAL_ERROR;
    } else {
      int room = (int) res.projected_min - (int) res.floor;
      json_array_append_new(o->hosts, kg_gate_host_entry(&use.view, &res));
      o->go = o->go && res.go;
      if (NULL == o->binding || room < o->room) {
        json_decref(o->binding);
        o->binding = kg_gate_binding_fields(&use.view, &res);
        o->room = room;
        o->max_decommission = res.max_decommission;
      }
    }
    fc_result_free(&res);
  }
  free(arrivals);
  kg_estate_release(&use);
  return qs;
}

/** The retired host's own baseline, when no host receives anything. */
static enum kg_qs
retired_baseline(const struct kg_retire_plan *p, const struct kg_estate_use *use, struct outcome *o)
{
  struct fc_result res;

  memset(&res, 0, sizeof(res));
  if (0
      != kg_estate_evaluate(use, kg_estate_margin(use, p->has_margin, p->margin), NULL, -1, &res)) {
    fc_result_free(&res);
    return KG_QS_INTERNAL_ERROR;
  }
  o->binding = kg_gate_binding_fields(&use->view, &res);
  fc_result_free(&res);
  return NULL == o->binding ? KG_QS_INTERNAL_ERROR : KG_QS_OK;
}

static json_t *
reasons(const struct retire *rt, const struct outcome *o, const char *retired)
{
  json_t *list = json_array();
  size_t i;
  json_t *pool;
  char text[400];

  if (rt->too_many) {
    /* clang-format off */
    snprintf(text, sizeof(text), "retiring %s moves CMIDs to more than %d other KMS hosts of "
             "its product, more than the gate evaluates at once: retire it in steps (move "
             "pools first)", retired, MAX_RECEIVERS);
    /* clang-format on */
    json_array_append_new(list, json_string(text));
  }
  json_array_foreach(rt->stranded, i, pool)
  {
    /* clang-format off */
    snprintf(text, sizeof(text), "pool %s would have no KMS host left: its desktops could "
             "activate nowhere once %s is retired", json_string_value(pool), retired);
    /* clang-format on */
    json_array_append_new(list, json_string(text));
  }
  json_array_foreach(
    o->hosts, i,
    pool) if (0 == strcmp("no-go", json_string_value(json_object_get(pool, "decision"))))
  {
    snprintf(text, sizeof(text), "on KMS host %s the count falls to %d, below its floor %d",
             json_string_value(json_object_get(pool, "kms_host")),
             (int) json_integer_value(json_object_get(pool, "projected_min")),
             (int) json_integer_value(json_object_get(pool, "floor")));
    json_array_append_new(list, json_string(text));
  }
  return list;
}

enum kg_qs
kg_gate_retire(struct kg_db *db, const struct kg_retire_plan *p,
               const struct kg_estate_use *retired, json_t **doc, bool *go)
{
  struct retire rt = { .p = p, .stranded = json_array() };
  struct outcome o = { .hosts = json_array(), .go = true };
  int64_t t = p->at > p->now ? p->at : p->now;
  enum kg_qs qs = (NULL == rt.stranded || NULL == o.hosts) ? KG_QS_INTERNAL_ERROR
                                                           : plan_moves(db, &rt, &retired->view, t);

  /* the request's own host is evaluated too, unless the receivers are full
     (then the answer is no-go whatever it shows) */
  if (KG_QS_OK == qs && 0 != strcmp(p->own, retired->view.host.name))
    (void) receiver(&rt, p->own);
  for (size_t i = 0; i < rt.n_rx && KG_QS_OK == qs; i++)
    if (0 != strcmp(rt.rx[i].name, retired->view.host.name))
      qs = evaluate_receiver(db, p, &rt.rx[i], t, &o);
  if (KG_QS_OK == qs && NULL == o.binding)
    qs = retired_baseline(p, retired, &o);
  if (KG_QS_OK == qs) {
    *go = o.go && 0 == json_array_size(rt.stranded) && !rt.too_many;
    if (rt.too_many)
      o.max_decommission = 0;
    *doc = o.binding;
    o.binding = NULL;
    /* clang-format off */
    json_object_update_new(*doc, json_pack(
      "{s:s,s:i,s:[],s:o,s:O,s:{s:s,s:o},s:O,s:n}",
      "decision", *go ? "go" : "no-go", "max_decommission", (int) o.max_decommission,
      "decommission", "reasons", reasons(&rt, &o, retired->view.host.name), "hosts", o.hosts,
      "retire_kms_host", "name", retired->view.host.name, "at", kg_json_time(t),
      "stranded_pools", rt.stranded, "plan_id"));
    /* clang-format on */
  }
  for (size_t i = 0; i < rt.n_rx; i++) {
    free(rt.rx[i].moves);
    free(rt.rx[i].groups);
  }
  json_decref(rt.stranded);
  json_decref(o.hosts);
  json_decref(o.binding);
  return qs;
}
