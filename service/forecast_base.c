/**
 * @file forecast_base.c
 * @brief Allocation that never asks for 0 bytes, the radix sort of the
 *        model, and the checks of its input.
 */
#include "forecast_internal.h"

#include <stdlib.h>
#include <string.h>

/**
 * malloc() of n elements that never asks for 0 bytes, so NULL always means
 * failure.
 */
void *
alloc_array(size_t n, size_t size)
{
  if (0 == n)
    n = 1;
  if (n > SIZE_MAX / size)
    return NULL;
  return malloc(n * size);
}

void *
alloc_zeroed(size_t n, size_t size)
{
  return calloc(0 == n ? 1 : n, size);
}

static void
insertion_sort(struct kv *a, size_t n)
{
  for (size_t i = 1; i < n; i++) {
    struct kv x = a[i];
    size_t j = i;

    while (j > 0 && a[j - 1].key > x.key) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

#define RADIX_BITS 11

#define RADIX_SIZE (1u << RADIX_BITS)

/** One counting-sort pass on the digit at @a shift; false if all keys share it. */
static bool
radix_pass(const struct kv *src, struct kv *dst, size_t n, unsigned shift)
{
  size_t hist[RADIX_SIZE];
  size_t pos = 0;

  memset(hist, 0, sizeof hist);
  for (size_t i = 0; i < n; i++)
    hist[(src[i].key >> shift) & (RADIX_SIZE - 1)]++;
  if (hist[(src[0].key >> shift) & (RADIX_SIZE - 1)] == n)
    return false;
  for (unsigned d = 0; d < RADIX_SIZE; d++) {
    size_t c = hist[d];

    hist[d] = pos;
    pos += c;
  }
  for (size_t i = 0; i < n; i++)
    dst[hist[(src[i].key >> shift) & (RADIX_SIZE - 1)]++] = src[i];
  return true;
}

/**
 * Stable LSD radix sort by key.  Linear time keeps a 100k-CMID evaluation
 * far below the latency budget where qsort()'s callbacks would dominate;
 * keys are small offsets, so only the digits up to the highest set bit
 * are sorted (two passes for a 45-day window).
 */
int
radix_sort(struct kv *a, size_t n)
{
  struct kv *buf;
  struct kv *src = a;
  struct kv *dst;
  uint64_t bits = 0;

  if (n <= 16) {
    insertion_sort(a, n);
    return 0;
  }
  buf = alloc_array(n, sizeof *buf);
  if (NULL == buf)
    return -1;
  for (size_t i = 0; i < n; i++)
    bits |= a[i].key;
  dst = buf;
  for (unsigned shift = 0; shift < 64 && 0 != (bits >> shift); shift += RADIX_BITS) {
    if (radix_pass(src, dst, n, shift)) {
      struct kv *swap = src;

      src = dst;
      dst = swap;
    }
  }
  if (src != a)
    memcpy(a, src, n * sizeof *a);
  free(buf);
  return 0;
}

/** R > E would leave gaps between a CMID's entries, which the model excludes. */
static bool
renewal_ok(int64_t r)
{
  return r >= 1 && r <= FC_EXPIRY_SECONDS;
}

bool
plan_ok(const struct fc_estate *e, const struct fc_plan *p)
{
  if (!time_ok(p->at))
    return false;
  if ((p->n_decommission > 0 && NULL == p->decommission)
      || (p->n_provision > 0 && NULL == p->provision) || (p->n_arrivals > 0 && NULL == p->arrivals))
    return false;
  for (size_t i = 0; i < p->n_arrivals; i++)
    if (!time_ok(p->arrivals[i]))
      return false;
  for (size_t i = 0; i < p->n_decommission; i++)
    if (!index_ok(p->decommission[i], e->n_desktops))
      return false;
  for (size_t i = 0; i < p->n_provision; i++)
    if ((!index_ok(p->provision[i].pool, e->n_pools)) || (p->provision[i].count < 0))
      return false;
  return true;
}

bool
arrays_ok(const struct fc_estate *e)
{
  if ((e->n_cmids > 0 && NULL == e->cmids) || (e->n_pools > 0 && NULL == e->pools)
      || (e->n_desktops > 0 && NULL == e->desktops) || (e->n_reserved > 0 && NULL == e->reserved))
    return false;
  /* indices are int32_t, and so is max_decommission */
  return e->n_cmids <= INT32_MAX && e->n_pools <= INT32_MAX && e->n_desktops <= INT32_MAX;
}

static bool
desktop_ok(const struct fc_estate *e, const struct fc_desktop *d)
{
  if (!index_ok(d->pool, e->n_pools))
    return false;
  if ((-1 != d->cmid) && (!index_ok(d->cmid, e->n_cmids)))
    return false;
  return FC_ACTIVE == d->state || FC_POWERED_OFF == d->state || FC_DECOMMISSIONED == d->state;
}

bool
estate_ok(const struct fc_estate *e)
{
  if ((NULL == e) || (!arrays_ok(e)) || (!time_ok(e->now)) || (e->capacity < 0)
      || (!renewal_ok(e->host_renewal_seconds)) || (e->horizon_seconds < 0)
      || (e->horizon_seconds > FC_TIME_LIMIT))
    return false;
  for (size_t i = 0; i < e->n_cmids; i++)
    if (!time_ok(e->cmids[i].last_request))
      return false;
  for (size_t i = 0; i < e->n_pools; i++)
    if (!renewal_ok(e->pools[i].renewal_seconds))
      return false;
  for (size_t i = 0; i < e->n_desktops; i++)
    if (!desktop_ok(e, &e->desktops[i]))
      return false;
  for (size_t i = 0; i < e->n_reserved; i++)
    if (!plan_ok(e, &e->reserved[i]))
      return false;
  return true;
}
