/**
 * @file gate_hosts.c
 * @brief A gate plan evaluated on every other KMS host of its product that
 *        it touches (kms-model.md section 6). Each host keeps its own count:
 *        the plan is mapped into each host's estate (its desktops by name,
 *        its provisions by the host's share of each pool), evaluated there,
 *        and go only if every host stays at or above its own floor.
 */
#include "gate_hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast_json.h"
#include "gate_input.h"
#include "input.h"

/** The plan on one other host. */
struct other {
  struct kg_estate_use use;
  struct fc_result r;
  int32_t *desktops; /**< the plan's desktops in this estate */
  size_t n_desktops;
  struct fc_provision prov[KG_MAX_PROVISIONS];
  size_t n_prov;
};

int
kg_gate_provision_share(const struct kg_estate *es, int32_t pool, int count)
{
  if (es->pool_weight[pool] <= 0 || es->pool_total_weight[pool] <= 0)
    return 0;
  /* rounded down: the forecast never relies on a lucky draw */
  return (int) ((int64_t) count * es->pool_weight[pool] / es->pool_total_weight[pool]);
}

json_t *
kg_gate_host_entry(const struct kg_estate *es, const struct fc_result *r)
{
  /* clang-format off */
  return json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:o,s:o,s:o}", "kms_host", es->host.name,
                   "decision", r->go ? "go" : "no-go", "floor", (int) r->floor,
                   "current_count", (int) r->current_count, "baseline_min", (int) r->baseline_min,
                   "projected_min", (int) r->projected_min,
                   "projected_min_at", kg_json_time(r->projected_min_at),
                   "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null(),
                   "steps", kg_forecast_steps_json(r));
  /* clang-format on */
}

json_t *
kg_gate_binding_fields(const struct kg_estate *es, const struct fc_result *r)
{
  json_t *doc = kg_forecast_common_json(es, r);

  /* clang-format off */
  if (NULL != doc)
    json_object_update_new(doc, json_pack(
      "{s:i,s:o,s:i,s:o,s:o,s:o,s:o,s:o}",
      "baseline_min", (int) r->baseline_min, "baseline_min_at", kg_json_time(r->baseline_min_at),
      "projected_min", (int) r->projected_min, "projected_min_at", kg_json_time(r->projected_min_at),
      "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null(),
      "window_start", kg_json_time(r->window_start), "window_end", kg_json_time(r->window_end),
      "steps", kg_forecast_steps_json(r)));
  /* clang-format on */
  return doc;
}

/** Maps the plan into the other host's estate; false when it touches nothing there. */
static bool
map_plan(const struct kg_gate_plan *p, struct other *o)
{
  const struct kg_estate *own = &p->own->view, *es = &o->use.view;

  for (size_t i = 0; i < p->n_desktops; i++) {
    int32_t d = kg_estate_desktop_index(es, own->desktop_hostnames[p->desktops[i]]);
    if (d >= 0)
      o->desktops[o->n_desktops++] = d;
  }
  for (size_t i = 0; i < p->n_provisions && o->n_prov < KG_MAX_PROVISIONS; i++) {
    int32_t pool = kg_estate_pool_index(es, p->pool_names[i]);
    int share = pool >= 0 ? kg_gate_provision_share(es, pool, p->counts[i]) : 0;
    if (share > 0)
      o->prov[o->n_prov++] = (struct fc_provision){ pool, share };
  }
  return o->n_desktops > 0 || o->n_prov > 0;
}

/** Evaluates @a n of the mapped desktops (and every provision) on the other host. */
static int
evaluate_on(const struct kg_gate_plan *p, struct other *o, const int32_t *desktops, size_t n,
            struct fc_result *r)
{
  /* clang-format off */
  struct fc_plan plan = { .at = p->at, .n_decommission = n, .decommission = desktops,
                          .n_provision = o->n_prov, .provision = o->prov };
  /* clang-format on */

  memset(r, 0, sizeof(*r));
  return kg_estate_evaluate(&o->use, kg_estate_margin(&o->use, p->has_margin, p->margin), &plan, -1,
                            r);
}

/** Whether taking the first @a k desktops of @a order keeps the other host at go. */
static int
prefix_go(const struct kg_gate_plan *p, struct other *o, const int32_t *mapped, size_t k,
          int32_t *buf, bool *go)
{
  struct fc_result r;
  size_t n = 0;

  for (size_t i = 0; i < k; i++)
    if (mapped[i] >= 0)
      buf[n++] = mapped[i];
  int rc = evaluate_on(p, o, buf, n, &r);
  *go = r.go;
  fc_result_free(&r);
  return rc;
}

/**
 * The largest k such that the first k desktops of the own host's
 * decommission order keep the other host at go (go only turns to no-go as
 * k grows: bisection).
 */
static int
largest_on(const struct kg_gate_plan *p, struct other *o, const int32_t *order, size_t n,
           int32_t *k_out)
{
  int32_t *mapped = malloc((n + 1) * sizeof(*mapped)), *buf = malloc((n + 1) * sizeof(*buf));
  size_t lo = 0, hi = n;
  bool go = false;
  int rc = -1;

  if (NULL == mapped || NULL == buf)
    goto done;
  for (size_t i = 0; i < n; i++)
    mapped[i] = kg_estate_desktop_index(&o->use.view, p->own->view.desktop_hostnames[order[i]]);
  if (0 != prefix_go(p, o, mapped, 0, buf, &go))
    goto done;
  while (go && lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;
    bool ok;
    if (0 != prefix_go(p, o, mapped, mid, buf, &ok))
      goto done;
    if (ok)
      lo = mid;
    else
      hi = mid - 1;
  }
  *k_out = go ? (int32_t) lo : 0;
  rc = 0;
done:
  free(mapped);
  free(buf);
  return rc;
}

/** The folded answer while hosts are added. */
struct fold {
  json_t *hosts;
  json_t *binding;  /**< top-level fields of the binding host, or NULL (own) */
  int binding_room; /**< its projected_min - floor */
  char binding_name[254];
  bool go;
  int32_t max_decommission;
  int32_t *order; /**< the own decommission order, once needed */
  size_t n_order;
  long long *ids; /**< the other hosts evaluated */
  size_t n_ids;
};

/** A no-go on another host, as a reason. */
static void
add_reason(json_t *doc, const struct kg_estate *es, const struct fc_result *r)
{
  char text[400];

  snprintf(text, sizeof(text), "on KMS host %s the count falls to %d, below its floor %d",
           es->host.name, (int) r->projected_min, (int) r->floor);
  json_array_append_new(json_object_get(doc, "reasons"), json_string(text));
}

/** Evaluates the plan on one other host and folds it in. */
static enum kg_qs
fold_host(struct kg_db *db, const struct kg_gate_plan *p, const char *name, json_t *doc,
          struct fold *f)
{
  struct kg_host_row row;
  struct other o;
  bool found;
  enum kg_qs qs = kg_db_host_row(db, name, p->lock, &row, &found);

  if (KG_QS_OK != qs || !found)
    return qs;
  memset(&o, 0, sizeof(o));
  o.desktops = calloc(p->n_desktops + 1, sizeof(*o.desktops));
  if (NULL == o.desktops)
    return KG_QS_INTERNAL_ERROR;
  qs = kg_estate_acquire(db, &row, p->lock ? KG_ESTATE_EXACT : KG_ESTATE_AT_LEAST, p->now,
                         p->horizon_seconds, &o.use);
  if (KG_QS_OK == qs && map_plan(p, &o)) {
    int32_t k = 0;
    if (0 != evaluate_on(p, &o, o.desktops, o.n_desktops, &o.r)
        || 0 != largest_on(p, &o, f->order, f->n_order, &k)) {
      qs = KG_QS_INTERNAL_ERROR;
    } else {
      int room = (int) o.r.projected_min - (int) o.r.floor;
      json_array_append_new(f->hosts, kg_gate_host_entry(&o.use.view, &o.r));
      f->ids[f->n_ids++] = row.id;
      f->go = f->go && o.r.go;
      if (!o.r.go)
        add_reason(doc, &o.use.view, &o.r);
      if (k < f->max_decommission)
        f->max_decommission = k;
      if (room < f->binding_room
          || (room == f->binding_room && strcmp(name, f->binding_name) < 0)) {
        json_decref(f->binding);
        f->binding = kg_gate_binding_fields(&o.use.view, &o.r);
        f->binding_room = room;
        snprintf(f->binding_name, sizeof(f->binding_name), "%s", name);
      }
    }
    fc_result_free(&o.r);
  }
  kg_estate_release(&o.use);
  free(o.desktops);
  return qs;
}

/**
 * Whether the plan can touch another host at all: a desktop whose CMID another
 * host of the family caches, or a provision into a pool with other hosts. Most
 * plans of most estates cannot, and then no query is needed.
 */
static bool
may_touch_others(const struct kg_gate_plan *p)
{
  const struct kg_estate *own = &p->own->view;

  if (own->family_hosts <= 1)
    return false;
  for (size_t i = 0; i < p->n_desktops; i++) {
    int32_t c = own->desktops[p->desktops[i]].cmid;
    if ((c >= 0 && own->cmid_elsewhere[c]) || own->desktop_cmid_away[p->desktops[i]])
      return true;
  }
  for (size_t i = 0; i < p->n_provisions; i++) {
    int32_t pool = kg_estate_pool_index(own, p->pool_names[i]);
    if (pool >= 0 && own->pool_weight[pool] < own->pool_total_weight[pool])
      return true;
  }
  return false;
}

/**
 * A plan that touches more hosts than the gate evaluates: the ones left out
 * could fall under their floors, so the answer is no-go and nothing may go.
 */
static void
refuse_unevaluated(json_t *doc, struct fold *f)
{
  char text[200];

  /* clang-format off */
  snprintf(text, sizeof(text),
           "the plan touches more than %d other KMS hosts of its product; kmsgate evaluates "
           "at most %d, so it cannot say go",
           /* clang-format on */
           KG_MAX_OTHER_HOSTS, KG_MAX_OTHER_HOSTS);
  json_array_append_new(json_object_get(doc, "reasons"), json_string(text));
  f->go = false;
  f->max_decommission = 0;
}

/** The ids the touched-hosts query needs; false when out of memory. */
static bool
plan_ids(const struct kg_gate_plan *p, long long **desktops, long long *pools, size_t *n_pools)
{
  const struct kg_estate *own = &p->own->view;

  *desktops = calloc(p->n_desktops + 1, sizeof(**desktops));
  if (NULL == *desktops)
    return false;
  for (size_t i = 0; i < p->n_desktops; i++)
    (*desktops)[i] = own->desktop_ids[p->desktops[i]];
  *n_pools = 0;
  for (size_t i = 0; i < p->n_provisions; i++) {
    int32_t pool = kg_estate_pool_index(own, p->pool_names[i]);
    if (pool >= 0)
      pools[(*n_pools)++] = own->pool_ids[pool];
  }
  return true;
}

static enum kg_qs
fold_all(struct kg_db *db, const struct kg_gate_plan *p, const struct kg_host_names *names,
         json_t *doc, struct fold *f)
{
  size_t cap = p->own->view.model.n_desktops + 1;
  enum kg_qs qs = KG_QS_OK;

  f->order = malloc(cap * sizeof(*f->order));
  if (NULL == f->order)
    return KG_QS_INTERNAL_ERROR;
  f->n_order = kg_estate_pick_decommission(p->own, p->max_pool, f->order, cap);
  for (size_t i = 0; i < names->n && KG_QS_OK == qs; i++)
    qs = fold_host(db, p, names->name[i], doc, f);
  free(f->order);
  return qs;
}

enum kg_qs
kg_gate_other_hosts(struct kg_db *db, const struct kg_gate_plan *p, json_t *doc, bool *go,
                    long long other_ids[KG_MAX_OTHER_HOSTS], size_t *n_other)
{
  const struct fc_result *own = p->own_result;
  struct kg_host_names names = { .n = 0 };
  long long *desktop_ids = NULL, pool_ids[KG_MAX_PROVISIONS];
  size_t n_pools = 0;
  /* clang-format off */
  struct fold f = { .go = own->go, .max_decommission = own->max_decommission,
                    .binding_room = (int) own->projected_min - (int) own->floor,
                    .ids = other_ids };
  /* clang-format on */
  enum kg_qs qs = KG_QS_INTERNAL_ERROR;

  *go = own->go;
  *n_other = 0;
  snprintf(f.binding_name, sizeof(f.binding_name), "%s", p->own->view.host.name);
  f.hosts = json_array();
  if (NULL == f.hosts
      || 0 != json_array_append_new(f.hosts, kg_gate_host_entry(&p->own->view, own)))
    goto done;
  qs = KG_QS_OK;
  if (may_touch_others(p))
    qs = !plan_ids(p, &desktop_ids, pool_ids, &n_pools)
           ? KG_QS_INTERNAL_ERROR
           : kg_db_plan_other_hosts(db, p->own->view.host.id, desktop_ids, p->n_desktops, pool_ids,
                                    n_pools, p->now, &names);
  if (KG_QS_OK == qs && names.n > 0)
    qs = fold_all(db, p, &names, doc, &f);
  if (KG_QS_OK != qs)
    goto done;
  if (names.more)
    refuse_unevaluated(doc, &f);
  *n_other = f.n_ids;
  *go = f.go;
  if (NULL != f.binding)
    json_object_update(doc, f.binding);
  json_object_set_new(doc, "decision", json_string(f.go ? "go" : "no-go"));
  json_object_set_new(doc, "max_decommission", json_integer(f.max_decommission));
  json_object_set(doc, "hosts", f.hosts);
done:
  json_decref(f.hosts);
  json_decref(f.binding);
  free(desktop_ids);
  return qs;
}
