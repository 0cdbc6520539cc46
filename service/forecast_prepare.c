/**
 * @file forecast_prepare.c
 * @brief fc_prepare(): everything that depends on the estate only,
 *        built once and shared read-only by every evaluation.
 */
#include "forecast_internal.h"

#include <stdlib.h>
#include <string.h>

/** Appends events of the baseline, folding those at or before now. */
struct evbuf {
  struct kv *ev;
  size_t n;
  int64_t now;
  int64_t raw_now;
};

int64_t
clamp_raw(int64_t capacity, int64_t raw)
{
  if (raw < 0)
    return 0;
  return min64(raw, capacity);
}

/** Latest reserved decommission per CMID, into the tmax scratch. */
static void
load_reserved_latest(struct model *m)
{
  for (size_t i = 0; i < m->n_reserved; i++) {
    const struct fc_desktop *d = &m->e->desktops[m->reserved[i].key];

    if (renews(d) && d->cmid >= 0) {
      struct cmid_state *cs = &m->cs[d->cmid];

      cs->tmax = max64(cs->tmax, m->reserved[i].val);
    }
  }
}

static void
forget_reserved_latest(struct model *m)
{
  for (size_t i = 0; i < m->n_reserved; i++) {
    int32_t c = m->e->desktops[m->reserved[i].key].cmid;

    if (c >= 0)
      m->cs[c].tmax = INT64_MIN;
  }
}

/** Figures at now that explain the decision, independent of any plan. */
static void
prep_describe_now(struct fc_prepared *p)
{
  const struct fc_estate *e = &p->e;
  const struct model *m = &p->m;
  int64_t raw = 0;

  for (size_t c = 0; c < e->n_cmids; c++) {
    /* a renewing CMID whose entry expired before now comes back only at
       its first renewal after now, which is later */
    bool cached = m->cs[c].last + FC_EXPIRY_SECONDS > e->now;

    if (renewing(m, (int32_t) c))
      p->renewing++;
    else if (cached)
      p->lapsing++;
    if (cached)
      raw++;
  }
  for (size_t i = 0; i < e->n_desktops; i++)
    if (FC_ACTIVE == e->desktops[i].state && e->desktops[i].cmid < 0)
      p->unseen++;
  p->current_count = saturate32(clamp_raw(e->capacity, raw));
}

/**
 * What the reserved plans do on their own: the CMIDs they stop and when
 * (cs.res_stop), the earliest shared-CMID provision per pool, and the
 * image CMIDs those provisions request again (cs.rereq).
 */
static int
prep_reserved(struct fc_prepared *p)
{
  struct model *m = &p->m;
  const struct fc_estate *e = &p->e;
  struct stop *st = alloc_array(m->n_reserved, sizeof *st);
  size_t n;

  p->first_shared = alloc_array(e->n_pools, sizeof *p->first_shared);
  if ((NULL == st) || (NULL == p->first_shared)) {
    free(st);
    return -1;
  }
  n = collect_stops(m, m->reserved, m->n_reserved, st);
  for (size_t i = 0; i < n; i++)
    m->cs[st[i].cmid].res_stop = st[i].at;
  p->n_changed = n;
  free(st);
  p->reserved_first = NEVER;
  for (size_t q = 0; q < e->n_pools; q++)
    p->first_shared[q] = NEVER;
  for (size_t i = 0; i < e->n_reserved; i++) {
    const struct fc_plan *r = &e->reserved[i];
    int64_t t = effective_at(e, r);

    p->reserved_first = min64(p->reserved_first, t);
    for (size_t j = 0; j < r->n_provision; j++)
      if (0 != r->provision[j].count && !e->pools[r->provision[j].pool].unique_cmids)
        p->first_shared[r->provision[j].pool] = min64(p->first_shared[r->provision[j].pool], t);
  }
  for (size_t q = 0; q < e->n_pools; q++) {
    int32_t img = m->pool_image[q];

    if (img >= 0 && NEVER != p->first_shared[q]) {
      m->cs[img].rereq = min64(m->cs[img].rereq, p->first_shared[q]);
      p->n_changed++;
      p->any_rereq = true;
    }
  }
  return 0;
}

static void
evbuf_add(struct evbuf *b, int64_t t, int64_t delta)
{
  if (t <= b->now) {
    b->raw_now += delta;
    return;
  }
  b->ev[b->n].key = (uint64_t) (t - b->now);
  b->ev[b->n].val = delta;
  b->n++;
}

/**
 * The baseline count as events after now: every seen CMID's intervals
 * with the reserved plans' stops and shared-image provisions, and their
 * new CMIDs.
 */
static int
prep_baseline(struct fc_prepared *p)
{
  const struct fc_estate *e = &p->e;
  const struct model *m = &p->m;
  struct evbuf b = { NULL, 0, e->now, 0 };
  size_t cap = e->n_pools;
  size_t w = 0;

  for (size_t i = 0; i < e->n_reserved; i++) {
    if (e->reserved[i].n_provision > SIZE_MAX / 8 - cap
        || e->reserved[i].n_arrivals > SIZE_MAX / 8 - cap - e->reserved[i].n_provision)
      return -1;
    cap += e->reserved[i].n_provision + e->reserved[i].n_arrivals;
  }
  /* 3 events per CMID (two intervals, the second open), 2 more for one
     that the reserved plans change */
  if (e->n_cmids > (SIZE_MAX / 8 - cap) / 3 || p->n_changed > (SIZE_MAX / 8 - cap) / 2 - e->n_cmids)
    return -1;
  cap += 3 * e->n_cmids + 2 * p->n_changed;
  b.ev = alloc_array(cap, sizeof *b.ev);
  if (NULL == b.ev)
    return -1;
  for (size_t c = 0; c < e->n_cmids; c++) {
    struct tev ev[5];
    size_t n = coverage(m, (int32_t) c, m->cs[c].res_stop, m->cs[c].rereq, ev);

    for (size_t i = 0; i < n; i++)
      evbuf_add(&b, ev[i].at, ev[i].delta);
  }
  for (size_t i = 0; i < e->n_reserved; i++) {
    const struct fc_plan *r = &e->reserved[i];

    for (size_t j = 0; j < r->n_provision; j++)
      if (0 != r->provision[j].count && e->pools[r->provision[j].pool].unique_cmids)
        evbuf_add(&b, effective_at(e, r), r->provision[j].count);
    for (size_t j = 0; j < r->n_arrivals; j++)
      evbuf_add(&b, max64(r->arrivals[j], e->now), 1);
  }
  for (size_t q = 0; q < e->n_pools; q++)
    if (NEVER != p->first_shared[q] && m->pool_image[q] < 0)
      evbuf_add(&b, p->first_shared[q], 1);
  p->ev = b.ev;
  p->raw_now = b.raw_now;
  if (0 != radix_sort(b.ev, b.n))
    return -1;
  for (size_t i = 0; i < b.n; i++) {
    if (w > 0 && b.ev[w - 1].key == b.ev[i].key)
      b.ev[w - 1].val += b.ev[i].val;
    else
      b.ev[w++] = b.ev[i];
    if (0 == b.ev[w - 1].val)
      w--;
  }
  p->n_ev = w;
  p->raw = alloc_array(w, sizeof *p->raw);
  if (NULL == p->raw)
    return -1;
  for (size_t i = 0; i < w; i++)
    p->raw[i] = (0 == i ? p->raw_now : p->raw[i - 1]) + b.ev[i].val;
  return 0;
}

/** Splits the whole-host order by pool, keeping the order within each. */
static void
prep_pool_orders(struct fc_prepared *p, size_t *fill, int32_t *pool_pos)
{
  const struct fc_estate *e = &p->e;

  for (size_t i = 0; i < p->n_order; i++)
    p->pool_off[e->desktops[p->order[i]].pool + 1]++;
  for (size_t q = 0; q < e->n_pools; q++)
    p->pool_off[q + 1] += p->pool_off[q];
  memcpy(fill, p->pool_off, e->n_pools * sizeof *fill);
  for (size_t i = 0; i < p->n_order; i++) {
    int32_t q = e->desktops[p->order[i]].pool;

    pool_pos[i] = (int32_t) (fill[q] - p->pool_off[q]);
    p->pool_order[fill[q]++] = p->order[i];
  }
}

/**
 * The stops of the candidate orders at now, by end: a renewing CMID stops
 * at its last candidate; in a pool's order only if all its candidates are
 * in that pool.  The end is bounded by the CMID's reserved decommissions.
 */
static int
prep_stops(struct fc_prepared *p, int32_t *last, int32_t *pool_of, size_t *fill,
           const int32_t *pool_pos)
{
  struct model *m = &p->m;
  const struct fc_estate *e = &p->e;
  struct kv *k = alloc_array(e->n_cmids, sizeof *k);
  size_t ns = 0;

  if (NULL == k)
    return -1;
  for (size_t c = 0; c < e->n_cmids; c++) {
    last[c] = -1;
    pool_of[c] = -1;
  }
  for (size_t i = 0; i < p->n_order; i++) {
    const struct fc_desktop *d = &e->desktops[p->order[i]];

    /* a desktop reported powered off stops nothing: its CMID renews with others */
    if (d->cmid < 0 || !renewing(m, d->cmid) || !renews(d))
      continue;
    last[d->cmid] = (int32_t) i;
    if (-1 == pool_of[d->cmid] || d->pool == pool_of[d->cmid])
      pool_of[d->cmid] = d->pool;
    else
      pool_of[d->cmid] = -2;
  }
  for (size_t c = 0; c < e->n_cmids; c++) {
    if (last[c] < 0)
      continue;
    k[ns].key = (uint64_t) (stop_end(m, (int32_t) c, max64(e->now, m->cs[c].tmax)) - e->now);
    k[ns].val = (int64_t) c;
    ns++;
  }
  p->stops = alloc_array(ns, sizeof *p->stops);
  p->pool_stops = alloc_array(ns, sizeof *p->pool_stops);
  if ((NULL == p->stops) || (NULL == p->pool_stops) || (0 != radix_sort(k, ns))) {
    free(k);
    return -1;
  }
  for (size_t j = 0; j < ns; j++) {
    int32_t c = (int32_t) k[j].val;

    p->stops[j] = (struct pstop){ k[j].key, m->cs[c].tmax, last[c], c };
    if (pool_of[c] >= 0)
      p->pool_stop_off[pool_of[c] + 1]++;
  }
  p->n_stops = ns;
  free(k);
  for (size_t q = 0; q < e->n_pools; q++)
    p->pool_stop_off[q + 1] += p->pool_stop_off[q];
  memcpy(fill, p->pool_stop_off, e->n_pools * sizeof *fill);
  for (size_t j = 0; j < ns; j++) {
    int32_t c = p->stops[j].cmid;

    if (pool_of[c] < 0)
      continue;
    p->pool_stops[fill[pool_of[c]]] = p->stops[j];
    p->pool_stops[fill[pool_of[c]]++].pos = pool_pos[last[c]];
  }
  return 0;
}

static int
prep_candidates(struct fc_prepared *p)
{
  const struct fc_estate *e = &p->e;
  size_t *fill = alloc_array(e->n_pools, sizeof *fill);
  int32_t *pool_pos = NULL;
  int32_t *last = alloc_array(e->n_cmids, sizeof *last);
  int32_t *pool_of = alloc_array(e->n_cmids, sizeof *pool_of);
  int ret = -1;

  p->pool_off = alloc_zeroed(e->n_pools + 1, sizeof *p->pool_off);
  p->pool_stop_off = alloc_zeroed(e->n_pools + 1, sizeof *p->pool_stop_off);
  if ((NULL == fill) || (NULL == last) || (NULL == pool_of) || (NULL == p->pool_off)
      || (NULL == p->pool_stop_off) || (0 != order_candidates(&p->m, -1, &p->order, &p->n_order)))
    goto done;
  p->pool_order = alloc_array(p->n_order, sizeof *p->pool_order);
  pool_pos = alloc_array(p->n_order, sizeof *pool_pos);
  if ((NULL == p->pool_order) || (NULL == pool_pos))
    goto done;
  prep_pool_orders(p, fill, pool_pos);
  load_reserved_latest(&p->m);
  ret = prep_stops(p, last, pool_of, fill, pool_pos);
  forget_reserved_latest(&p->m);
done:
  free(fill);
  free(pool_pos);
  free(last);
  free(pool_of);
  return ret;
}

void
fc_prepared_free(struct fc_prepared *p)
{
  if (NULL == p)
    return;
  model_free(&p->m);
  free(p->first_shared);
  free(p->ev);
  free(p->raw);
  free(p->order);
  free(p->pool_order);
  free(p->pool_off);
  free(p->stops);
  free(p->pool_stops);
  free(p->pool_stop_off);
  free(p);
}

int
fc_prepare(const struct fc_estate *e, int64_t max_horizon_seconds, struct fc_prepared **out)
{
  struct fc_prepared *p;

  if (NULL == out)
    return -1;
  *out = NULL;
  if ((!estate_ok(e)) || (max_horizon_seconds < 0) || (max_horizon_seconds > FC_TIME_LIMIT))
    return -1;
  p = calloc(1, sizeof *p);
  if (NULL == p)
    return -1;
  p->e = *e;
  p->max_horizon = max_horizon_seconds;
  if (0 != model_init(&p->m, &p->e)) {
    free(p);
    return -1;
  }
  prep_describe_now(p);
  if ((0 != prep_reserved(p)) || (0 != prep_baseline(p)) || (0 != prep_candidates(p))) {
    fc_prepared_free(p);
    return -1;
  }
  *out = p;
  return 0;
}

size_t
fc_pick_decommission_prepared(const struct fc_prepared *p, int32_t pool, int32_t *out, size_t n)
{
  const int32_t *from;
  size_t n_from;

  if ((NULL == p) || (pool < -1) || (pool >= 0 && !index_ok(pool, p->e.n_pools))
      || (n > 0 && NULL == out))
    return 0;
  if (pool < 0) {
    from = p->order;
    n_from = p->n_order;
  } else {
    from = p->pool_order + p->pool_off[pool];
    n_from = p->pool_off[pool + 1] - p->pool_off[pool];
  }
  n = n < n_from ? n : n_from;
  if (n > 0)
    memcpy(out, from, n * sizeof *out);
  return n;
}

size_t
fc_pick_decommission(const struct fc_estate *e, int32_t pool, int32_t *out, size_t n)
{
  struct fc_prepared *p;

  if ((NULL == e) || (pool < -1) || (0 != fc_prepare(e, 0, &p)))
    return 0;
  n = fc_pick_decommission_prepared(p, pool, out, n);
  fc_prepared_free(p);
  return n;
}
