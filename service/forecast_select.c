/**
 * @file forecast_select.c
 * @brief The largest safe decommission: suffix minima of the probe
 *        count and the stops of the candidate order.
 */
#include "forecast_internal.h"

#include <stdlib.h>
#include <string.h>

/** The plan's re-request time of an image CMID, or NEVER. */
int64_t
plan_rereq(const struct call *x, int32_t c)
{
  for (size_t i = 0; i < x->n_images; i++)
    if (x->images[i].cmid == c)
      return x->images[i].rereq;
  return NEVER;
}

/**
 * Where a stop at @a t counts within the window: 0 at or before start,
 * past the end after it.
 */
static uint64_t
stop_key(int64_t t, int64_t start, int64_t end)
{
  if (t <= start)
    return 0;
  if (t > end)
    return (uint64_t) (end - start) + 1;
  return (uint64_t) (t - start);
}

/** Position of the (r + 1)-th set bit; it must exist. */
static size_t
select_bit(const uint64_t *bits, const uint32_t *blocks, size_t r)
{
  size_t b = 0;
  size_t w;
  uint64_t word;

  while (blocks[b] <= r)
    r -= blocks[b++];
  w = 8 * b;
  while ((size_t) __builtin_popcountll(bits[w]) <= r)
    r -= (size_t) __builtin_popcountll(bits[w++]);
  word = bits[w];
  while (r-- > 0)
    word &= word - 1;
  return 64 * w + (size_t) __builtin_ctzll(word);
}

/**
 * Largest k in [0, n] such that for every suffix minimum (T, V), the
 * stops at positions < k with end <= T number at most V - floor.  For one
 * minimum that bound on k is the position of the (V - floor + 1)-th
 * smallest position among the stops ending by T, so the answer is the
 * least such position.  Stops are sorted by end: the stops ending by T
 * are a prefix, and positions go into a bitmap (with counts per 512 bits)
 * only when a budget is exceeded, which leaves a roomy estate at
 * O(#minima log #stops).
 */
static int
select_largest(const struct kv *minima, size_t n_minima, const struct pstop *s, size_t ns, size_t n,
               int64_t floor, size_t *result)
{
  uint64_t *bits = NULL;
  uint32_t *blocks = NULL;
  size_t best = n;
  size_t j = 0;
  size_t ins = 0;

  for (size_t i = 0; i < n_minima && best > 0; i++) {
    int64_t budget = minima[i].val - floor;
    size_t hi = ns;

    if (budget < 0) {
      best = 0;
      break;
    }
    while (j < hi) {
      size_t mid = j + (hi - j) / 2;

      if (s[mid].end <= minima[i].key)
        j = mid + 1;
      else
        hi = mid;
    }
    if ((uint64_t) j <= (uint64_t) budget)
      continue;
    if (NULL == bits) {
      size_t words = n / 64 + 1;

      bits = alloc_zeroed(words, sizeof *bits);
      blocks = alloc_zeroed(words / 8 + 1, sizeof *blocks);
      if ((NULL == bits) || (NULL == blocks)) {
        free(bits);
        free(blocks);
        return -1;
      }
    }
    for (; ins < j; ins++) {
      size_t pos = (size_t) s[ins].pos;

      bits[pos / 64] |= (uint64_t) 1 << (pos % 64);
      blocks[pos / 512]++;
    }
    best = min64((int64_t) best, (int64_t) select_bit(bits, blocks, (size_t) budget));
  }
  free(bits);
  free(blocks);
  *result = best;
  return 0;
}

/**
 * The stops of an order for decommissions at @a at other than now: ends
 * recomputed and sorted (only where they fall relative to the window
 * matters), then select_largest().
 */
static int
select_largest_at(const struct call *x, int64_t at, const struct pstop *s, size_t ns, size_t n,
                  size_t *result)
{
  struct kv *k = alloc_array(ns, sizeof *k);
  struct pstop *moved = alloc_array(ns, sizeof *moved);
  int ret = -1;

  if ((NULL == k) || (NULL == moved))
    goto done;
  for (size_t j = 0; j < ns; j++) {
    int64_t end = stop_end(&x->p->m, s[j].cmid, max64(at, s[j].bound));

    k[j].key = stop_key(end, x->start, x->end);
    k[j].val = (int64_t) j;
  }
  if (0 != radix_sort(k, ns))
    goto done;
  for (size_t j = 0; j < ns; j++) {
    moved[j] = s[k[j].val];
    moved[j].end = x->start_key + k[j].key;
  }
  ret = select_largest(x->minima, x->n_minima, moved, ns, n, x->floor, result);
done:
  free(k);
  free(moved);
  return ret;
}

/** The time from which the probe requests CMID c again, or NEVER. */
static int64_t
probe_rereq(const struct call *x, int32_t c)
{
  return min64(x->p->m.cs[c].rereq, plan_rereq(x, c));
}

/**
 * Whether a stop of the order is of a CMID that the probe requests again:
 * such a stop removes only [end, re-request), not a suffix of time, which
 * select_largest() relies on.
 */
static bool
stops_rerequested(const struct call *x, const struct pstop *s, size_t ns)
{
  if ((!x->p->any_rereq) && (0 == x->n_images))
    return false;
  for (size_t j = 0; j < ns; j++)
    if (NEVER != probe_rereq(x, s[j].cmid))
      return true;
  return false;
}

/**
 * Whether the probe with the stops of the first @a k candidates, taken at
 * @a at, stays at or above the floor over the window.
 */
static int
prefix_go(const struct call *x, const struct pstop *s, size_t ns, int64_t at, size_t k, bool *go)
{
  int64_t now = x->p->e.now;
  struct kv *d = alloc_array(x->n_prov + 2 * ns, sizeof *d);
  struct trace tr = { 0 };
  size_t n = x->n_prov;

  if (NULL == d)
    return -1;
  if (n > 0)
    memcpy(d, x->prov, n * sizeof *d);
  for (size_t j = 0; j < ns; j++) {
    int64_t end = stop_end(&x->p->m, s[j].cmid, max64(at, s[j].bound));
    int64_t rereq = probe_rereq(x, s[j].cmid);

    if ((size_t) s[j].pos >= k || rereq <= end)
      continue;
    d[n++] = (struct kv){ offset_of(now, end), -1 };
    if (NEVER != rereq)
      d[n++] = (struct kv){ offset_of(now, rereq), 1 };
  }
  if ((0 != radix_sort(d, n)) || (0 != walk(x, d, n, &tr))) {
    free(d);
    return -1;
  }
  free(d);
  *go = tr.min >= x->floor;
  return 0;
}

/**
 * Largest k in [0, n] that keeps go, by bisection over prefix_go(): go
 * only turns to no-go as k grows.  O(n log n); used only when a stop is
 * of a CMID that shared-image provisions request again.
 */
static int
bisect_largest(const struct call *x, const struct pstop *s, size_t ns, int64_t at, size_t n,
               size_t *result)
{
  size_t lo = 0;
  size_t hi = n;
  bool go;

  if (0 != prefix_go(x, s, ns, at, 0, &go))
    return -1;
  if (!go) {
    *result = 0;
    return 0;
  }
  while (lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;

    if (0 != prefix_go(x, s, ns, at, mid, &go))
      return -1;
    if (go)
      lo = mid;
    else
      hi = mid - 1;
  }
  *result = lo;
  return 0;
}

/**
 * Largest k that keeps go.  Taking one more desktop never raises
 * count(t).  A floor above the capacity is never reached, one at or below
 * 0 always is; otherwise the clamp does not change whether the raw count
 * reaches the floor.
 */
int
largest_safe(const struct call *x, int32_t pool, int64_t at, int32_t *result)
{
  const struct fc_prepared *p = x->p;
  const struct pstop *s = p->stops;
  size_t ns = p->n_stops;
  size_t n = p->n_order;
  size_t best;
  int ret;

  *result = 0;
  if (p->e.capacity < x->floor)
    return 0;
  if (pool >= 0) {
    n = p->pool_off[pool + 1] - p->pool_off[pool];
    s = p->pool_stops + p->pool_stop_off[pool];
    ns = p->pool_stop_off[pool + 1] - p->pool_stop_off[pool];
  }
  if (x->floor <= 0) {
    *result = (int32_t) n;
    return 0;
  }
  if (stops_rerequested(x, s, ns))
    ret = bisect_largest(x, s, ns, at, n, &best);
  else if (at == p->e.now)
    ret = select_largest(x->minima, x->n_minima, s, ns, n, x->floor, &best);
  else
    ret = select_largest_at(x, at, s, ns, n, &best);
  if (0 == ret)
    *result = (int32_t) best;
  return ret;
}
