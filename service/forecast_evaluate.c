/**
 * @file forecast_evaluate.c
 * @brief fc_evaluate_prepared(): one plan against a prepared estate,
 *        as a small sorted delta merged with the baseline count.
 */
#include "forecast_internal.h"

#include <stdlib.h>
#include <string.h>

static bool
merge_next(struct merge *mg, uint64_t *key, int64_t *delta)
{
  uint64_t k;
  int64_t d = 0;

  if (mg->i == mg->na && mg->j == mg->nb)
    return false;
  if (mg->j == mg->nb || (mg->i < mg->na && mg->a[mg->i].key <= mg->b[mg->j].key))
    k = mg->a[mg->i].key;
  else
    k = mg->b[mg->j].key;
  while (mg->i < mg->na && mg->a[mg->i].key == k)
    d += mg->a[mg->i++].val;
  while (mg->j < mg->nb && mg->b[mg->j].key == k)
    d += mg->b[mg->j++].val;
  *key = k;
  *delta = d;
  return true;
}

static void
call_free(struct call *x)
{
  free(x->prov);
  free(x->stops);
  free(x->images);
  free(x->planned);
  free(x->minima);
}

/**
 * Merges the baseline with @a delta (sorted by offset) from the window
 * start; *raw receives the raw count at the start.
 */
static void
view_init(const struct call *x, const struct kv *delta, size_t nd, struct merge *mg, int64_t *raw)
{
  const struct fc_prepared *p = x->p;
  size_t lo = 0;
  size_t hi = p->n_ev;
  size_t j = 0;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (p->ev[mid].key <= x->start_key)
      lo = mid + 1;
    else
      hi = mid;
  }
  *raw = 0 == lo ? p->raw_now : p->raw[lo - 1];
  while (j < nd && delta[j].key <= x->start_key)
    *raw += delta[j++].val;
  *mg = (struct merge){ p->ev, p->n_ev, lo, delta, nd, j };
}

static int
trace_step(struct trace *tr, int64_t floor, int64_t at, int64_t count)
{
  if (count < tr->min) {
    tr->min = count;
    tr->min_at = at;
  }
  if (count < floor && !tr->breach) {
    tr->breach = true;
    tr->breach_at = at;
  }
  if (!tr->want_steps)
    return 0;
  if (tr->n_steps == tr->cap) {
    size_t cap = 0 == tr->cap ? 16 : 2 * tr->cap;
    struct fc_step *s;

    if (cap > SIZE_MAX / sizeof *s)
      return -1;
    s = realloc(tr->steps, cap * sizeof *s);
    if (NULL == s)
      return -1;
    tr->steps = s;
    tr->cap = cap;
  }
  tr->steps[tr->n_steps].at = at;
  tr->steps[tr->n_steps].count = saturate32(count);
  tr->n_steps++;
  return 0;
}

/**
 * The count function of baseline + delta over the window: steps, minimum,
 * first breach.
 */
int
walk(const struct call *x, const struct kv *delta, size_t nd, struct trace *tr)
{
  int64_t capacity = x->p->e.capacity;
  struct merge mg;
  int64_t raw;
  int64_t cur;
  uint64_t key;
  int64_t d;

  view_init(x, delta, nd, &mg, &raw);
  cur = clamp_raw(capacity, raw);
  tr->min = INT64_MAX;
  tr->breach = false;
  if (0 != trace_step(tr, x->floor, x->start, cur))
    return -1;
  while (merge_next(&mg, &key, &d) && key <= x->end_key) {
    int64_t next;

    raw += d;
    next = clamp_raw(capacity, raw);
    if (next == cur)
      continue;
    cur = next;
    if (0 != trace_step(tr, x->floor, x->p->e.now + (int64_t) key, cur))
      return -1;
  }
  return 0;
}

/**
 * The raw count of baseline + delta as one point per step, at the step's
 * last second (kv {offset from now, raw count}), reduced to the points
 * below every later point, in time order.  Stops only ever subtract from
 * a suffix of time, so within a step the count is lowest at its last
 * second, and a point with a later point at or below it can never hold
 * the minimum: the largest decommission needs to look at these only.
 */
static int
suffix_minima(struct call *x, const struct kv *delta, size_t nd)
{
  struct merge mg;
  int64_t raw;
  int64_t later = INT64_MAX;
  struct kv *p;
  size_t n = 0;
  size_t w;
  uint64_t key;
  int64_t d;

  view_init(x, delta, nd, &mg, &raw);
  p = alloc_array((mg.na - mg.i) + (mg.nb - mg.j) + 1, sizeof *p);
  if (NULL == p)
    return -1;
  while (merge_next(&mg, &key, &d) && key <= x->end_key) {
    p[n].key = key - 1; /* > start_key: events at the start are folded */
    p[n++].val = raw;
    raw += d;
  }
  p[n].key = x->end_key;
  p[n++].val = raw;
  w = n;
  for (size_t i = n; i-- > 0;)
    if (p[i].val < later) {
      later = p[i].val;
      p[--w] = p[i]; /* --w >= i: never overwrites an unread point */
    }
  memmove(p, p + w, (n - w) * sizeof *p);
  x->minima = p;
  x->n_minima = n - w;
  return 0;
}

/**
 * Appends to @a out the change of a CMID's events from its baseline
 * (reserved plans only) to the given stop and re-request times.
 * @return number of events written (at most 10)
 */
static size_t
change_events(const struct fc_prepared *p, int32_t c, int64_t stop, int64_t rereq, struct kv *out)
{
  const struct cmid_state *cs = &p->m.cs[c];
  struct tev ev[5];
  size_t n = 0;
  size_t k;

  k = coverage(&p->m, c, cs->res_stop, cs->rereq, ev);
  for (size_t i = 0; i < k; i++)
    out[n++] = (struct kv){ offset_of(p->e.now, ev[i].at), -ev[i].delta };
  k = coverage(&p->m, c, stop, rereq, ev);
  for (size_t i = 0; i < k; i++)
    out[n++] = (struct kv){ offset_of(p->e.now, ev[i].at), ev[i].delta };
  return n;
}

/** Notes an image CMID the plan requests again; pools may share one. */
static void
add_image(struct call *x, int32_t img, int64_t t)
{
  for (size_t i = 0; i < x->n_images; i++)
    if (x->images[i].cmid == img)
      return; /* one plan time: the same request */
  x->images[x->n_images++] = (struct change){ img, NEVER, t };
}

/**
 * The plan's provisions as a change of the baseline: new CMIDs of unique
 * pools; for a shared-CMID pool, its image CMID requested again (noted in
 * x->images, applied with the stops), or with no known CMID one new CMID,
 * from the earliest provision of the pool over the plan and the reserved
 * plans.
 */
static int
call_provisions(struct call *x, struct fc_result *out)
{
  const struct fc_prepared *p = x->p;
  const struct fc_plan *plan = x->plan;
  int64_t t = effective_at(&p->e, plan);
  uint64_t key = offset_of(p->e.now, t);
  bool *seen;
  int64_t n_new = 0;
  size_t n = 0;

  if (plan->n_provision > SIZE_MAX / 32 || plan->n_arrivals > SIZE_MAX / 32)
    return -1;
  /* room for the image CMIDs' probe events, added by call_planned() */
  x->prov = alloc_array(12 * plan->n_provision + plan->n_arrivals, sizeof *x->prov);
  x->images = alloc_array(plan->n_provision, sizeof *x->images);
  seen = alloc_zeroed(p->e.n_pools, sizeof *seen);
  if ((NULL == x->prov) || (NULL == x->images) || (NULL == seen)) {
    free(seen);
    return -1;
  }
  for (size_t i = 0; i < plan->n_provision; i++) {
    const struct fc_provision *pv = &plan->provision[i];
    int64_t fs = p->first_shared[pv->pool];
    int32_t img = p->m.pool_image[pv->pool];

    if (0 == pv->count)
      continue;
    if (p->e.pools[pv->pool].unique_cmids) {
      x->prov[n++] = (struct kv){ key, pv->count };
      n_new += pv->count;
      continue;
    }
    if (seen[pv->pool] || t >= fs)
      continue;
    seen[pv->pool] = true;
    if (img >= 0) {
      add_image(x, img, t);
      continue;
    }
    x->prov[n++] = (struct kv){ key, 1 };
    if (NEVER == fs)
      n_new++;
    else
      x->prov[n++] = (struct kv){ offset_of(p->e.now, fs), -1 };
  }
  free(seen);
  for (size_t i = 0; i < plan->n_arrivals; i++)
    x->prov[n++] = (struct kv){ offset_of(p->e.now, plan->arrivals[i]), 1 };
  n_new += (int64_t) plan->n_arrivals;
  x->n_prov = n;
  out->plan_new_cmids = saturate32(n_new);
  return 0;
}

/**
 * CMIDs whose active desktops the reserved plans and the plan take all:
 * {desktop, time} of both, sorted, each desktop at its earliest time, then
 * {CMID, time} of the renewing ones, sorted and grouped.
 */
static int
call_stops(struct call *x)
{
  const struct fc_prepared *p = x->p;
  const struct fc_plan *plan = x->plan;
  int64_t t = effective_at(&p->e, plan);
  size_t n_res = p->m.n_reserved;
  size_t n;
  size_t w = 0;
  size_t nc = 0;
  struct kv *l;
  struct kv *c = NULL;
  int ret = -1;

  if (plan->n_decommission > SIZE_MAX / 4 - n_res)
    return -1;
  n = n_res + plan->n_decommission;
  l = alloc_array(n, sizeof *l);
  if (NULL == l)
    return -1;
  if (n_res > 0)
    memcpy(l, p->m.reserved, n_res * sizeof *l);
  for (size_t i = 0; i < plan->n_decommission; i++)
    l[n_res + i] = (struct kv){ (uint64_t) plan->decommission[i], t };
  if (0 != radix_sort(l, n))
    goto done;
  for (size_t i = 0; i < n; i++) {
    if (w > 0 && l[w - 1].key == l[i].key)
      l[w - 1].val = min64(l[w - 1].val, l[i].val);
    else
      l[w++] = l[i];
  }
  c = alloc_array(w, sizeof *c);
  x->stops = alloc_array(w, sizeof *x->stops);
  if ((NULL == c) || (NULL == x->stops))
    goto done;
  for (size_t i = 0; i < w; i++) {
    const struct fc_desktop *d = &p->e.desktops[l[i].key];

    if (renews(d) && d->cmid >= 0 && renewing(&p->m, d->cmid))
      c[nc++] = (struct kv){ (uint64_t) d->cmid, l[i].val };
  }
  if (0 != radix_sort(c, nc))
    goto done;
  for (size_t i = 0, j; i < nc; i = j) {
    int32_t cmid = (int32_t) c[i].key;
    int64_t tmax = c[i].val;

    for (j = i + 1; j < nc && c[j].key == c[i].key; j++)
      tmax = max64(tmax, c[j].val);
    if ((int32_t) (j - i) == p->m.cs[cmid].f.n_active && tmax != p->m.cs[cmid].res_stop)
      x->stops[x->n_stops++] = (struct stop){ cmid, tmax };
  }
  ret = 0;
done:
  free(l);
  free(c);
  return ret;
}

/** Notes a CMID that stops only because of the plan, for the reasons. */
static void
note_lapsing(const struct call *x, int32_t c, int64_t stop, struct fc_result *out)
{
  const struct cmid_state *cs = &x->p->m.cs[c];
  int64_t expiry = stop < cs->next ? cs->last + FC_EXPIRY_SECONDS : stop_end(&x->p->m, c, stop);

  if (NEVER != cs->res_stop || NEVER != cs->rereq)
    return;
  if (0 == out->plan_lapsing_cmids || expiry < out->plan_lapsing_first_expiry)
    out->plan_lapsing_first_expiry = expiry;
  out->plan_lapsing_cmids++;
}

/**
 * The planned count relative to the baseline: the plan's new CMIDs, and
 * the events of each CMID that the plan stops or requests again.  The
 * probe for the largest decommission (x->prov) gets the image CMIDs'
 * re-requests without the plan's stops.
 */
static int
call_planned(struct call *x, struct fc_result *out)
{
  const struct fc_prepared *p = x->p;
  size_t n;

  if (x->n_stops + x->n_images > SIZE_MAX / 32 - x->n_prov)
    return -1;
  x->planned = alloc_array(x->n_prov + 10 * (x->n_stops + x->n_images), sizeof *x->planned);
  if (NULL == x->planned)
    return -1;
  if (x->n_prov > 0)
    memcpy(x->planned, x->prov, x->n_prov * sizeof *x->planned);
  n = x->n_prov;
  for (size_t i = 0; i < x->n_stops; i++) {
    const struct stop *s = &x->stops[i];
    int64_t rereq = min64(p->m.cs[s->cmid].rereq, plan_rereq(x, s->cmid));

    if (NEVER == rereq)
      note_lapsing(x, s->cmid, s->at, out);
    n += change_events(p, s->cmid, s->at, rereq, x->planned + n);
  }
  for (size_t i = 0; i < x->n_images; i++) {
    const struct change *g = &x->images[i];
    const struct cmid_state *cs = &p->m.cs[g->cmid];
    int64_t rereq = min64(cs->rereq, g->rereq);
    bool stopped = false;

    for (size_t j = 0; j < x->n_stops && !stopped; j++)
      stopped = x->stops[j].cmid == g->cmid;
    x->n_prov += change_events(p, g->cmid, cs->res_stop, rereq, x->prov + x->n_prov);
    if (!stopped)
      n += change_events(p, g->cmid, cs->res_stop, rereq, x->planned + n);
  }
  x->n_planned = n;
  if (0 != radix_sort(x->prov, x->n_prov))
    return -1;
  return radix_sort(x->planned, n);
}

static int
call_traces(struct call *x, struct fc_result *out)
{
  struct trace baseline = { 0 };
  struct trace planned = { .want_steps = true };

  if ((0 != walk(x, NULL, 0, &baseline)) || (0 != walk(x, x->planned, x->n_planned, &planned))) {
    free(planned.steps);
    return -1;
  }
  out->baseline_min = saturate32(baseline.min);
  out->baseline_min_at = baseline.min_at;
  out->projected_min = saturate32(planned.min);
  out->projected_min_at = planned.min_at;
  out->has_breach = planned.breach;
  out->first_breach_at = planned.breach ? planned.breach_at : 0;
  out->go = planned.min >= x->floor;
  out->steps = planned.steps;
  out->n_steps = planned.n_steps;
  return 0;
}

static int
call_run(struct call *x, int64_t horizon, int32_t pool, struct fc_result *out)
{
  const struct fc_prepared *p = x->p;
  int64_t now = p->e.now;
  int64_t first = p->reserved_first;

  out->floor = saturate32(x->floor);
  if (NULL != x->plan)
    first = min64(first, effective_at(&p->e, x->plan));
  x->start = NEVER == first ? now : first;
  x->end = max64(now + horizon, x->start);
  x->start_key = (uint64_t) (x->start - now);
  x->end_key = (uint64_t) (x->end - now);
  out->window_start = x->start;
  out->window_end = x->end;
  out->renewing = p->renewing;
  out->lapsing = p->lapsing;
  out->unseen = p->unseen;
  out->current_count = p->current_count;
  if ((NULL != x->plan)
      && ((0 != call_provisions(x, out)) || (0 != call_stops(x)) || (0 != call_planned(x, out))))
    return -1;
  if ((0 != call_traces(x, out)) || (0 != suffix_minima(x, x->prov, x->n_prov)))
    return -1;
  out->max_decommission_at = NULL == x->plan ? x->start : effective_at(&p->e, x->plan);
  return largest_safe(x, pool, out->max_decommission_at, &out->max_decommission);
}

int
fc_evaluate_prepared(const struct fc_prepared *p, int32_t margin, int64_t horizon_seconds,
                     const struct fc_plan *plan, int32_t max_decommission_pool,
                     struct fc_result *out)
{
  struct call x;
  int ret;

  if (NULL == out)
    return -1;
  memset(out, 0, sizeof *out);
  if ((NULL == p) || (horizon_seconds < 0) || (horizon_seconds > p->max_horizon)
      || (NULL != plan && !plan_ok(&p->e, plan)) || (max_decommission_pool < -1)
      || (max_decommission_pool >= 0 && !index_ok(max_decommission_pool, p->e.n_pools)))
    return -1;
  memset(&x, 0, sizeof x);
  x.p = p;
  x.plan = plan;
  x.floor = (int64_t) p->e.threshold + margin;
  ret = call_run(&x, horizon_seconds, max_decommission_pool, out);
  call_free(&x);
  if (0 != ret)
    fc_result_free(out);
  return ret;
}

int
fc_evaluate(const struct fc_estate *e, const struct fc_plan *plan, int32_t max_decommission_pool,
            struct fc_result *out)
{
  struct fc_prepared *p;
  int ret;

  if (NULL == out)
    return -1;
  memset(out, 0, sizeof *out);
  if ((NULL == e) || (max_decommission_pool < -1)
      || (max_decommission_pool >= 0 && !index_ok(max_decommission_pool, e->n_pools))
      || (0 != fc_prepare(e, e->horizon_seconds, &p)))
    return -1;
  ret = fc_evaluate_prepared(p, e->margin, e->horizon_seconds, plan, max_decommission_pool, out);
  fc_prepared_free(p);
  return ret;
}

void
fc_result_free(struct fc_result *r)
{
  if (NULL == r)
    return;
  free(r->steps);
  r->steps = NULL;
  r->n_steps = 0;
}
