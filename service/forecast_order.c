/**
 * @file forecast_order.c
 * @brief The decommission order: shared CMIDs first, then lapsing or
 *        unseen ones, each by hostname, then the rest by latest request.
 */
#include "forecast_internal.h"

#include <stdlib.h>
#include <string.h>

/**
 * 0: its CMID stays with another remaining desktop; 1: taking it changes
 * nothing either; 2: it stops its CMID.  `left` counts the renewing
 * desktops only, so one reported powered off is not among them.
 */
static int
cand_group(const struct model *m, const struct fc_desktop *d)
{
  if (d->cmid >= 0 && m->cs[d->cmid].left - (renews(d) ? 1 : 0) >= 1)
    return 0;
  if (d->cmid < 0 || !renewing(m, d->cmid) || !renews(d))
    return 1;
  return 2;
}

/**
 * Active desktops of @a pool (-1: all) that no reserved plan takes, in
 * index order.  The reserved list is sorted by desktop, so one merge pass
 * replaces a per-desktop table.
 * @return whether their hostnames are already ascending
 */
static bool
list_candidates(const struct model *m, int32_t pool, int32_t *out, size_t *n_out)
{
  const struct fc_estate *e = m->e;
  const char *prev = NULL;
  bool ascending = true;
  size_t r = 0;
  size_t n = 0;

  for (size_t d = 0; d < e->n_desktops; d++) {
    const struct fc_desktop *dk = &e->desktops[d];

    while (r < m->n_reserved && m->reserved[r].key < d)
      r++;
    if ((FC_ACTIVE != dk->state) || (-1 != pool && dk->pool != pool)
        || (r < m->n_reserved && m->reserved[r].key == d))
      continue;
    if (NULL != prev && ascending && strcmp(prev, host_of(dk)) > 0)
      ascending = false;
    prev = host_of(dk);
    out[n++] = (int32_t) d;
  }
  *n_out = n;
  return ascending;
}

/**
 * Candidates in hostname order need one stable radix sort on (group, age
 * relative to the latest request) to be in decommission order: no
 * comparison sort with strcmp(), which would dominate for 100k desktops.
 */
static int
sort_cands_linear(const struct model *m, int32_t *order, size_t n)
{
  const struct fc_estate *e = m->e;
  struct kv *k = alloc_array(n, sizeof *k);
  int64_t latest = INT64_MIN;

  if (NULL == k)
    return -1;
  for (size_t i = 0; i < n; i++) {
    const struct fc_desktop *d = &e->desktops[order[i]];

    k[i].val = order[i];
    k[i].key = (uint64_t) cand_group(m, d);
    if (2 == k[i].key)
      latest = max64(latest, m->cs[d->cmid].last);
  }
  for (size_t i = 0; i < n; i++)
    if (2 == k[i].key)
      k[i].key += (uint64_t) (latest - m->cs[e->desktops[k[i].val].cmid].last);
  if (0 != radix_sort(k, n)) {
    free(k);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    order[i] = (int32_t) k[i].val;
  free(k);
  return 0;
}

/**
 * Length of the prefix all candidates' hostnames share: sort keys start
 * after it.
 */
static size_t
common_prefix(const struct fc_estate *e, const int32_t *order, size_t n)
{
  const char *first = n > 0 ? host_of(&e->desktops[order[0]]) : "";
  size_t lcp = strlen(first);

  for (size_t i = 1; i < n && lcp > 0; i++) {
    const char *h = host_of(&e->desktops[order[i]]);
    size_t j = 0;

    while (j < lcp && h[j] == first[j])
      j++;
    lcp = j;
  }
  return lcp;
}

/**
 * Bytes [from, from + 8) as a big-endian number, NUL-padded: orders like
 * strcmp() on that slice.
 */
static uint64_t
slice_key(const char *host, size_t from)
{
  const unsigned char *s = (const unsigned char *) host + from;
  uint64_t k = 0;
  size_t i = 0;

  for (; i < 8 && 0 != s[i]; i++)
    k = (k << 8) | s[i];
  for (; i < 8; i++)
    k <<= 8;
  return k;
}

static int
compare_named(const void *pa, const void *pb)
{
  const struct named *a = pa;
  const struct named *b = pb;
  int s = strcmp(a->rest, b->rest);

  if (0 != s)
    return s;
  return (a->desktop > b->desktop) - (a->desktop < b->desktop);
}

/**
 * Orders a run of equal slice keys by the rest of the hostname.  A key
 * whose last byte is NUL means the names ended inside the slice: equal
 * names, already in index order.
 */
static void
sort_tied_run(const struct fc_estate *e, struct kv *k, size_t n, size_t from, struct named *tmp)
{
  if (n < 2 || 0 == (k[0].key & 0xff))
    return;
  for (size_t i = 0; i < n; i++) {
    tmp[i].rest = host_of(&e->desktops[k[i].val]) + from + 8;
    tmp[i].desktop = (int32_t) k[i].val;
  }
  qsort(tmp, n, sizeof *tmp, &compare_named);
  for (size_t i = 0; i < n; i++)
    k[i].val = tmp[i].desktop;
}

/**
 * Sorts candidates by hostname (strcmp order, ties by index) when the
 * caller did not pass them in that order.  Radix on the 8 bytes after the
 * common prefix settles nearly all pairs; strcmp() only orders ties.
 */
static int
sort_by_hostname(const struct fc_estate *e, int32_t *order, size_t n)
{
  size_t from = common_prefix(e, order, n);
  struct kv *k = alloc_array(n, sizeof *k);
  struct named *tmp = alloc_array(n, sizeof *tmp);
  int ret = -1;

  if ((NULL == k) || (NULL == tmp))
    goto done;
  for (size_t i = 0; i < n; i++) {
    k[i].key = slice_key(host_of(&e->desktops[order[i]]), from);
    k[i].val = order[i];
  }
  if (0 != radix_sort(k, n))
    goto done;
  for (size_t i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && k[j].key == k[i].key; j++)
      ;
    sort_tied_run(e, k + i, j - i, from, tmp);
  }
  for (size_t i = 0; i < n; i++)
    order[i] = (int32_t) k[i].val;
  ret = 0;
done:
  free(k);
  free(tmp);
  return ret;
}

/** Desktops in decommission order; *out is malloc'ed. */
int
order_candidates(const struct model *m, int32_t pool, int32_t **out, size_t *n_out)
{
  int32_t *order = alloc_array(m->e->n_desktops, sizeof *order);
  int ret;

  if (NULL == order)
    return -1;
  ret = list_candidates(m, pool, order, n_out) ? 0 : sort_by_hostname(m->e, order, *n_out);
  if (0 == ret)
    ret = sort_cands_linear(m, order, *n_out);
  if (0 != ret) {
    free(order);
    return -1;
  }
  *out = order;
  return 0;
}
