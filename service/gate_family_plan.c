/**
 * @file gate_family_plan.c
 * @brief A gate plan over the hosts of a family (docs/model.md §6.4):
 *        resolves its desktops (named: any host their pool lists; by pool:
 *        ranked once over the family) and provisions, finds the hosts it
 *        touches, evaluates only those, and folds them into one answer whose
 *        top-level fields are the binding host's.
 */
#include "gate_family_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_desktops.h"
#include "db_pools.h"
#include "forecast_json.h"

/** The plan while it is resolved. */
struct plan_state {
  struct fam_desk *picks; /**< the desktops decommissioned */
  size_t n_picks;
  struct fam_desk *order; /**< the ranked candidates of a pool decommission, or NULL */
  size_t n_order;
  struct fam_prov prov[KG_MAX_PROVISIONS];
  const char **pools; /**< every pool the plan names (for a plan that touches no host) */
  size_t n_pools;
  struct kg_plan_summary summary;
  struct fam_eval ev;
};

/** A pool's hosts and weights. */
struct pool_hosts {
  char name[KG_FAMILY_HOSTS][254];
  int weight[KG_FAMILY_HOSTS];
  size_t n;
  int total;
  int reg; /**< the host the pool is registered on (index in the family) */
};

static enum kg_qs
refuse(struct kg_family_answer *a, unsigned int status, const char *field, const char *fmt, ...)
{
  va_list ap;

  a->status = status;
  snprintf(a->field, sizeof(a->field), "%s", field);
  va_start(ap, fmt);
  vsnprintf(a->message, sizeof(a->message), fmt, ap);
  va_end(ap);
  return KG_QS_OK;
}

static bool
keep_pool_host(void *cls, const char *host, int weight)
{
  struct pool_hosts *ph = cls;
  if (ph->n < KG_FAMILY_HOSTS) {
    snprintf(ph->name[ph->n], sizeof(ph->name[0]), "%s", host);
    ph->weight[ph->n++] = weight;
    ph->total += weight;
  }
  return true;
}

/** The hosts a pool lists: its kms_hosts, or the host it is pinned to. */
static enum kg_qs
pool_hosts(struct kg_family *f, const char *pool, struct pool_hosts *ph, bool *found)
{
  char host[254];
  int hi = -1;

  memset(ph, 0, sizeof(*ph));
  enum kg_qs qs = kg_db_pool_host_name(f->db, pool, host, found);
  if (KG_QS_OK == qs && *found)
    qs = fam_get(f, host, &hi);
  if (KG_QS_OK != qs || !*found)
    return qs;
  int32_t p = hi >= 0 ? kg_estate_pool_index(&f->h[hi].use.view, pool) : -1;
  if (p < 0) {
    *found = false; /* not a pool of this family */
    return KG_QS_OK;
  }
  qs = kg_db_pool_hosts_but(f->db, f->h[hi].use.view.pool_ids[p], 0, keep_pool_host, ph);
  if (KG_QS_OK == qs && 0 == ph->n)
    keep_pool_host(ph, host, 1);
  ph->reg = hi;
  return qs;
}

static enum kg_qs
touch(struct kg_family *f, const char *name)
{
  int i;
  enum kg_qs qs = fam_get(f, name, &i);
  if (i >= 0)
    f->h[i].touched = true;
  return qs;
}

/** Finds a named desktop: on the request's host, else on the host it is registered on. */
static enum kg_qs
find_desktop(struct kg_family *f, const char *name, int *hi, int32_t *d)
{
  const struct kg_estate *own = &f->h[0].use.view;
  char host[254];
  bool found;

  *hi = -1;
  *d = kg_estate_desktop_index(own, name);
  if (*d >= 0 && own->desktop_here[*d]) {
    *hi = 0;
    return KG_QS_OK;
  }
  enum kg_qs qs = kg_db_desktop_host_name(f->db, name, host, &found);
  if (KG_QS_OK == qs && found)
    qs = fam_get(f, host, hi);
  *d = *hi >= 0 ? kg_estate_desktop_index(&f->h[*hi].use.view, name) : -1;
  return qs;
}

/**
 * Named desktops (docs/model.md §6.7): with kms_host, each in a pool that
 * lists that host; without, any active desktop of the family.
 */
static enum kg_qs
resolve_named(struct kg_family *f, const struct kg_family_plan *p, struct plan_state *st,
              struct kg_family_answer *a)
{
  for (size_t i = 0; i < p->n_desktops; i++) {
    char field[64];
    const char *name = p->desktops[i];
    int hi;
    int32_t d;
    snprintf(field, sizeof(field), "decommission.desktops[%zu]", i);
    enum kg_qs qs = find_desktop(f, name, &hi, &d);
    if (KG_QS_OK != qs)
      return qs;
    const struct kg_estate *es = hi >= 0 ? &f->h[hi].use.view : NULL;
    /* clang-format off */
    if (d < 0 || FC_DECOMMISSIONED == es->desktops[d].state)
      return refuse(a, 422, field,
                    "desktop %s is unknown, already decommissioned, or not on a KMS host of "
                    "this product",
                    /* clang-format on */
                    name);
    const char *pool = es->pool_names[es->desktops[d].pool];
    if (p->named_host && kg_estate_pool_index(&f->h[0].use.view, pool) < 0)
      return refuse(a, 422, field, "desktop %s is in pool %s, which does not list KMS host %s",
                    name, pool, f->h[0].use.view.host.name);
    for (size_t k = 0; k < st->n_picks; k++)
      if (st->picks[k].id == es->desktop_ids[d])
        return refuse(a, 422, field, "desktop %s is listed twice", name);
    /* clang-format off */
    st->picks[st->n_picks++] = (struct fam_desk){ .id = es->desktop_ids[d],
                                                  .hostname = es->desktop_hostnames[d],
                                                  .reg = hi };
    /* clang-format on */
    st->pools[st->n_pools++] = pool;
  }
  return KG_QS_OK;
}

/** A decommission by pool and count: the first `count` of the family's order. */
static enum kg_qs
resolve_pool(struct kg_family *f, const struct kg_family_plan *p, struct plan_state *st,
             struct kg_family_answer *a)
{
  struct pool_hosts ph;
  bool found;

  if (p->named_host && kg_estate_pool_index(&f->h[0].use.view, p->pool) < 0)
    return refuse(a, 422, "decommission.pool", "pool %s does not exist on this KMS host", p->pool);
  enum kg_qs qs = pool_hosts(f, p->pool, &ph, &found);
  if (KG_QS_OK != qs)
    return qs;
  /* clang-format off */
  if (!found)
    return refuse(a, 422, "decommission.pool", "pool %s does not exist on a KMS host of this "
                  "product", p->pool);
  /* clang-format on */
  qs = fam_candidates(f, p->pool, NULL, &st->order, &st->n_order);
  if (KG_QS_OK != qs)
    return qs;
  if (st->n_order < p->count)
    return refuse(a, 422, "decommission.count",
                  "pool %s has only %zu active desktops not held by a reserved plan", p->pool,
                  st->n_order);
  free(st->picks);
  st->picks = st->order;
  st->n_picks = p->count;
  st->pools[st->n_pools++] = p->pool;
  st->summary.decommission_pool = p->pool;
  st->summary.max_pool = p->pool;
  return KG_QS_OK;
}

/** Adds a provision to what a reservation stores: one row per pool, the whole count. */
static void
store_provision(struct kg_family_answer *a, long long pool_id, int count)
{
  size_t k = 0;
  while (k < a->n_pools && a->pool_ids[k] != pool_id)
    k++;
  if (k == a->n_pools) {
    a->pool_ids[a->n_pools] = pool_id;
    a->counts[a->n_pools++] = 0;
  }
  a->counts[k] += count;
}

/** Each host of a provisioned pool with a share (rounded down) above 0 is touched. */
static enum kg_qs
touch_provisioned(struct kg_family *f, const struct plan_state *st)
{
  struct pool_hosts ph;
  bool found;
  for (size_t k = 0; k < st->ev.n_prov; k++) {
    enum kg_qs qs = pool_hosts(f, st->prov[k].pool, &ph, &found);
    for (size_t h = 0; h < ph.n && found && KG_QS_OK == qs; h++)
      if ((int64_t) st->prov[k].count * ph.weight[h] / ph.total > 0)
        qs = touch(f, ph.name[h]);
    if (KG_QS_OK != qs)
      return qs;
  }
  return KG_QS_OK;
}

/** Provisions, summed by pool (touch_provisioned() finds the hosts they touch). */
static enum kg_qs
resolve_provisions(struct kg_family *f, const struct kg_family_plan *p, struct plan_state *st,
                   struct kg_family_answer *a)
{
  size_t np = 0;
  for (size_t i = 0; i < p->n_provisions; i++) {
    char field[64];
    const char *name = p->provisions[i].pool;
    int count = p->provisions[i].count;
    struct pool_hosts ph;
    bool found;
    snprintf(field, sizeof(field), "provision[%zu].pool", i);
    if (p->named_host && kg_estate_pool_index(&f->h[0].use.view, name) < 0)
      return refuse(a, 422, field, "pool %s does not exist on this KMS host", name);
    enum kg_qs qs = pool_hosts(f, name, &ph, &found);
    if (KG_QS_OK != qs)
      return qs;
    if (!found)
      return refuse(a, 422, field, "pool %s does not exist on a KMS host of this product", name);
    int hi = ph.reg;
    int32_t pool = kg_estate_pool_index(&f->h[hi].use.view, name);
    store_provision(a, f->h[hi].use.view.pool_ids[pool], count);
    /* A pool named twice is one provision of the summed count: each host's
       share is rounded down once, on the sum (section 6), never per item. */
    size_t k = 0;
    while (k < np && 0 != strcmp(st->prov[k].pool, name))
      k++;
    if (k == np)
      st->prov[np++] = (struct fam_prov){ name, 0 };
    st->prov[k].count += count;
    st->pools[st->n_pools++] = name;
    st->summary.provision_total += (size_t) count;
    if (!f->h[hi].use.view.pools[pool].unique_cmids)
      st->summary.n_shared_image_pools++;
  }
  st->ev.prov = st->prov;
  st->ev.n_prov = np;
  return touch_provisioned(f, st);
}

/** The hosts the plan touches (section 6); none: every host of the pools it names. */
static enum kg_qs
find_touched(struct kg_family *f, const struct kg_family_plan *p, struct plan_state *st)
{
  bool any = false;
  struct pool_hosts ph;
  bool found;

  if (p->named_host)
    f->h[0].touched = true;
  enum kg_qs qs = fam_load_caching(f, st->picks, st->n_picks);
  for (size_t i = 0; i < f->n && KG_QS_OK == qs; i++) {
    for (size_t k = 0; k < st->n_picks && !f->h[i].touched; k++)
      f->h[i].touched = fam_cached(f, &f->h[i], st->picks[k].hostname) >= 0;
    any = any || f->h[i].touched;
  }
  for (size_t i = 0; i < st->n_pools && KG_QS_OK == qs && !any; i++) {
    qs = pool_hosts(f, st->pools[i], &ph, &found);
    for (size_t h = 0; KG_QS_OK == qs && found && h < ph.n; h++)
      qs = touch(f, ph.name[h]);
  }
  for (size_t i = 0; i < f->n && !any; i++)
    any = f->h[i].touched;
  if (!any)
    f->h[0].touched = true; /* nothing else to say: the request's host answers */
  return qs;
}

static int
compare_host_names(const void *pa, const void *pb, void *cls)
{
  const struct kg_family *f = cls;
  return strcmp(f->h[*(const int *) pa].use.view.host.name,
                f->h[*(const int *) pb].use.view.host.name);
}

/** The touched hosts in name order. */
static size_t
touched_by_name(const struct kg_family *f, int *out)
{
  size_t n = 0;
  for (size_t i = 0; i < f->n; i++)
    if (f->h[i].touched)
      out[n++] = (int) i;
  for (size_t i = 1; i < n; i++) /* a few hosts: insertion sort */
    for (size_t j = i; j > 0 && compare_host_names(&out[j - 1], &out[j], (void *) f) > 0; j--) {
      int t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return n;
}

/**
 * The one touched host when no other host caches the CMID of any active
 * desktop it holds (fam_alone()), else -1.
 */
static int
only_host(const struct kg_family *f)
{
  int t = -1;

  for (size_t i = 0; i < f->n; i++)
    if (f->h[i].touched) {
      if (t >= 0)
        return -1;
      t = (int) i;
    }
  return (t >= 0 && fam_alone(f, t)) ? t : -1;
}

/** The candidates max_decommission is about: the plan's pool, else the touched hosts'. */
static enum kg_qs
max_order(struct kg_family *f, const struct kg_family_plan *p, struct plan_state *st,
          struct fam_desk **c, size_t *n)
{
  bool hosts[KG_FAMILY_HOSTS];
  bool one_pool = 0 == p->n_desktops && p->n_provisions > 0;

  for (size_t i = 1; i < p->n_provisions && one_pool; i++)
    one_pool = 0 == strcmp(p->provisions[i].pool, p->provisions[0].pool);
  *c = NULL;
  *n = 0;
  if (NULL != st->order) {
    *c = st->order;
    *n = st->n_order;
    return KG_QS_OK;
  }
  if (one_pool) {
    st->summary.max_pool = p->provisions[0].pool;
    return fam_candidates(f, p->provisions[0].pool, NULL, c, n);
  }
  if (only_host(f) >= 0)
    return KG_QS_OK; /* answer() takes the host's own */
  for (size_t i = 0; i < KG_FAMILY_HOSTS; i++)
    hosts[i] = i < f->n && f->h[i].touched;
  return fam_candidates(f, NULL, hosts, c, n);
}

/**
 * The reasons: the binding host's, with the plan's effect summed over every
 * host, then each host under its floor by name (the binding one too when it
 * is not the request's).
 */
static json_t *
reasons(const struct kg_family *f, const struct plan_state *st, int binding, int32_t max)
{
  struct fc_result sum = f->h[binding].r; /* shallow: steps are only read */
  char text[400];

  sum.plan_lapsing_cmids = 0;
  sum.plan_new_cmids = 0;
  sum.plan_lapsing_first_expiry = 0;
  sum.max_decommission = max;
  for (size_t i = 0; i < f->n; i++) {
    const struct fc_result *r = &f->h[i].r;
    if (!f->h[i].evaluated)
      continue;
    /* a CMID renews on one host only: summed over the hosts each stop counts once */
    sum.plan_lapsing_cmids += r->plan_lapsing_cmids;
    sum.plan_new_cmids += r->plan_new_cmids;
    if (r->plan_lapsing_first_expiry > 0
        && (0 == sum.plan_lapsing_first_expiry
            || r->plan_lapsing_first_expiry < sum.plan_lapsing_first_expiry))
      sum.plan_lapsing_first_expiry = r->plan_lapsing_first_expiry;
  }
  json_t *list = kg_forecast_reasons(&f->h[binding].use.view, &sum, &st->summary);
  for (size_t i = 0; NULL != list && i < f->n; i++)
    if (f->h[i].evaluated && !f->h[i].r.go && ((int) i != binding || binding != 0)) {
      snprintf(text, sizeof(text), "on KMS host %s the count falls to %d, below its floor %d",
               f->h[i].use.view.host.name, (int) f->h[i].r.projected_min, (int) f->h[i].r.floor);
      json_array_append_new(list, json_string(text));
    }
  if (NULL != list && f->more) {
    /* clang-format off */
    snprintf(text, sizeof(text),
             "the plan touches more than %d other KMS hosts of its product; kmsgate evaluates "
             "at most %d, so it cannot say go",
             /* clang-format on */
             KG_MAX_OTHER_HOSTS, KG_MAX_OTHER_HOSTS);
    json_array_append_new(list, json_string(text));
  }
  return list;
}

/** Evaluates every touched host and folds them: the binding host, go, `hosts`. */
static enum kg_qs
evaluate_touched(struct kg_family *f, const struct plan_state *st, struct kg_family_answer *a,
                 json_t *hosts, int *binding)
{
  int order[KG_FAMILY_HOSTS];
  size_t n = touched_by_name(f, order);
  int room = 0;

  *binding = -1;
  a->go = !f->more;
  for (size_t k = 0; k < n; k++) {
    struct kg_family_host *h = &f->h[order[k]];
    if (0 != fam_evaluate(f, &st->ev, h, st->picks, st->n_picks, &h->r)) {
      fc_result_free(&h->r);
      return KG_QS_INTERNAL_ERROR;
    }
    h->evaluated = true;
    json_array_append_new(hosts, kg_gate_host_entry(&h->use.view, &h->r));
    a->go = a->go && h->r.go;
    /* lowest planned minimum above the floor; ties by name (the hosts come by name) */
    if (*binding < 0 || (int) h->r.projected_min - (int) h->r.floor < room) {
      *binding = order[k];
      room = (int) h->r.projected_min - (int) h->r.floor;
    }
  }
  return *binding < 0 ? KG_QS_INTERNAL_ERROR : KG_QS_OK;
}

static enum kg_qs
answer(struct kg_family *f, const struct kg_family_plan *p, struct plan_state *st,
       struct kg_family_answer *a)
{
  json_t *hosts = json_array(), *list = json_array();
  struct fam_desk *c = NULL;
  size_t n = 0;
  int32_t max = 0;
  int binding;
  enum kg_qs qs = (NULL == hosts || NULL == list) ? KG_QS_INTERNAL_ERROR
                                                  : evaluate_touched(f, st, a, hosts, &binding);

  if (KG_QS_OK == qs)
    qs = max_order(f, p, st, &c, &n);
  if (KG_QS_OK == qs && NULL == c && NULL == st->order && only_host(f) >= 0)
    max = f->h[only_host(f)].r.max_decommission;
  else if (KG_QS_OK == qs)
    qs = fam_largest(f, &st->ev, c, n, &max);
  for (size_t i = 0; KG_QS_OK == qs && i < st->n_picks; i++)
    json_array_append_new(list, json_string(st->picks[i].hostname));
  if (KG_QS_OK == qs
      && NULL != (a->doc = kg_gate_binding_fields(&f->h[binding].use.view, &f->h[binding].r))) {
    /* clang-format off */
    json_object_update_new(a->doc, json_pack(
      "{s:s,s:i,s:O,s:o,s:n,s:O}", "decision", a->go ? "go" : "no-go",
      "max_decommission", (int) max, "decommission", list,
      "reasons", reasons(f, st, binding, max), "plan_id", "hosts", hosts));
    /* clang-format on */
  } else if (KG_QS_OK == qs) {
    qs = KG_QS_INTERNAL_ERROR;
  }
  if (c != st->order)
    free(c);
  json_decref(hosts);
  json_decref(list);
  return qs;
}

/** What a reservation stores: the desktops, and every host read that it touches or registers. */
static enum kg_qs
store(const struct kg_family *f, const struct plan_state *st, struct kg_family_answer *a)
{
  a->desktop_ids = calloc(st->n_picks + 1, sizeof(*a->desktop_ids));
  if (NULL == a->desktop_ids)
    return KG_QS_INTERNAL_ERROR;
  for (size_t i = 0; i < st->n_picks; i++)
    a->desktop_ids[i] = st->picks[i].id;
  a->n_desktops = st->n_picks;
  for (size_t i = 1; i < f->n; i++) {
    bool keep = f->h[i].touched;
    for (size_t k = 0; k < st->n_picks && !keep; k++)
      keep = st->picks[k].reg == (int) i;
    if (keep && a->n_hosts < KG_MAX_OTHER_HOSTS)
      a->host_ids[a->n_hosts++] = f->h[i].use.view.host.id;
  }
  return KG_QS_OK;
}

/** A reserving plan may not take a desktop another reserved plan holds (409). */
static enum kg_qs
check_not_held(const struct kg_family *f, const struct plan_state *st, struct kg_family_answer *a)
{
  for (size_t k = 0; k < st->n_picks; k++)
    for (size_t i = 0; i < f->n; i++) {
      const struct kg_estate *es = &f->h[i].use.view;
      int32_t d = kg_estate_desktop_index(es, st->picks[k].hostname);
      int32_t plan = d >= 0 ? kg_estate_holding_plan(es, d) : -1;
      if (plan >= 0) {
        snprintf(a->held_plan, sizeof(a->held_plan), "%s", es->reserved_ids[plan].id);
        a->held_desktop = st->picks[k].hostname;
        return refuse(a, 409, "decommission", "desktop %s is already in reserved plan %s",
                      a->held_desktop, a->held_plan);
      }
    }
  return KG_QS_OK;
}

enum kg_qs
kg_family_gate(struct kg_family *f, const struct kg_family_plan *p, struct kg_family_answer *a)
{
  /* clang-format off */
  struct plan_state st = {
    .picks = calloc(p->n_desktops + 1, sizeof(struct fam_desk)),
    .pools = calloc(p->n_desktops + p->n_provisions + 2, sizeof(const char *)),
    .summary = { .decommission_count = NULL != p->pool ? p->count : p->n_desktops },
    .ev = { .at = p->at, .has_margin = p->has_margin, .margin = p->margin },
  };
  /* clang-format on */
  enum kg_qs qs = (NULL == st.picks || NULL == st.pools) ? KG_QS_INTERNAL_ERROR : KG_QS_OK;

  memset(a, 0, sizeof(*a));
  if (KG_QS_OK == qs)
    qs = NULL != p->pool ? resolve_pool(f, p, &st, a) : resolve_named(f, p, &st, a);
  if (KG_QS_OK == qs && 0 == a->status)
    qs = resolve_provisions(f, p, &st, a);
  if (KG_QS_OK == qs && 0 == a->status)
    qs = find_touched(f, p, &st);
  if (KG_QS_OK == qs && 0 == a->status && p->reserve)
    qs = check_not_held(f, &st, a);
  if (KG_QS_OK == qs && 0 == a->status)
    qs = answer(f, p, &st, a);
  if (KG_QS_OK == qs && 0 == a->status)
    qs = store(f, &st, a);
  if (st.order != st.picks)
    free(st.order);
  free(st.picks);
  free(st.pools);
  return qs;
}
