/**
 * @file forecast.c
 * @brief The KMS count model: one interval per CMID, step functions, and the
 *        largest safe decommission.
 *
 * Because R <= E, the cache entries of a CMID's successive requests overlap:
 * from `now` on, each CMID counts on exactly one half-open interval
 * [last request, end).  count(t) is therefore a running sum of +1/-1 events.
 * The events of the estate with no decommission at all ("base") are sorted
 * once per evaluation; every variant (reserved plans only, plus the plan,
 * each max_decommission probe) only moves the end of some renewing CMIDs
 * from "never" to a finite time and adds new CMIDs, so it is the base
 * merged with a small sorted delta: O(n) per variant after one O(n) radix
 * sort.  Sort keys are small offsets (from the window start, from the
 * latest request, desktop indices), so the radix sort needs two or three
 * passes.  Memory traffic dominates at 100k CMIDs, hence compact per-CMID
 * tables and no per-desktop ones.
 */
#include "forecast.h"

#include <stdlib.h>
#include <string.h>

/** End of an interval that outlasts every window; never a valid input time. */
#define NEVER INT64_MAX

/**
 * Sort key with a payload (event: offset and delta; decommission: desktop
 * and time).
 */
struct kv
{
  uint64_t key;
  int64_t val;
};

/** What the desktops linked to one CMID say about it; R fits 32 bits as R <= E. */
struct facts
{
  int32_t min_active_r;   /* INT32_MAX while no active desktop */
  int32_t max_active_r;
  int32_t min_any_r;      /* INT32_MAX while no desktop */
  int32_t n_active;
  int32_t n_any;
};

/** Per-CMID state of one evaluation in one record: hot loops touch a CMID once. */
struct cmid_state
{
  int64_t tmax;                   /* scratch: INT64_MIN between uses */
  struct facts f;
  int32_t left;                   /* active desktops no reserved plan takes */
  int32_t hit;                    /* scratch: 0 between uses */
  uint8_t status;                 /* enum fc_status */
};

/** Per-evaluation tables derived from the estate and its reserved plans. */
struct model
{
  const struct fc_estate *e;
  int64_t floor;
  struct cmid_state *cs;          /* per CMID */
  bool *pool_renewing;            /* per pool: a desktop of it has a renewing CMID */
  struct kv *reserved;            /* reserved decommissions {desktop, time} */
  size_t n_reserved;
};

/** Events of one variant; those at or before start are folded into initial. */
struct events
{
  struct kv *ev;
  size_t n;
  size_t cap;
  int64_t initial;
  int64_t start;
  int64_t end;
};

/** A renewing CMID that stops renewing, and when its entry then expires. */
struct stop
{
  int32_t cmid;
  int64_t end;
};

/** Minimum, first breach and (optionally) steps of one count function. */
struct trace
{
  int64_t min;
  int64_t min_at;
  bool breach;
  int64_t breach_at;
  bool want_steps;
  struct fc_step *steps;
  size_t n_steps;
  size_t cap;
};

/** Merges two sorted event arrays, one time at a time. */
struct merge
{
  const struct kv *a;
  size_t na;
  size_t i;
  const struct kv *b;
  size_t nb;
  size_t j;
};

/** A desktop whose hostname tied on its sort key, compared on the rest of it. */
struct named
{
  const char *rest;
  int32_t desktop;
};


/* ---------------------------------------------------------------- utils */

static int64_t
max64 (int64_t a, int64_t b)
{
  return a > b ? a : b;
}

static int64_t
min64 (int64_t a, int64_t b)
{
  return a < b ? a : b;
}

/**
 * malloc() of n elements that never asks for 0 bytes, so NULL always means
 * failure.
 */
static void *
alloc_array (size_t n, size_t size)
{
  if (0 == n)
    n = 1;
  if (n > SIZE_MAX / size)
    return NULL;
  return malloc (n * size);
}

static void *
alloc_zeroed (size_t n, size_t size)
{
  return calloc (0 == n ? 1 : n, size);
}

static int32_t
saturate32 (int64_t v)
{
  if (v > INT32_MAX)
    return INT32_MAX;
  if (v < INT32_MIN)
    return INT32_MIN;
  return (int32_t) v;
}

static const char *
host_of (const struct fc_desktop *d)
{
  return NULL == d->hostname ? "" : d->hostname;
}

/** Plans never act before now: a plan in the past means "now". */
static int64_t
effective_at (const struct fc_estate *e, const struct fc_plan *p)
{
  return max64 (p->at, e->now);
}


/* ------------------------------------------------------------- sorting */

static void
insertion_sort (struct kv *a, size_t n)
{
  for (size_t i = 1; i < n; i++)
  {
    struct kv x = a[i];
    size_t j = i;

    while (j > 0 && a[j - 1].key > x.key)
    {
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
radix_pass (const struct kv *src, struct kv *dst, size_t n, unsigned shift)
{
  size_t hist[RADIX_SIZE];
  size_t pos = 0;

  memset (hist, 0, sizeof hist);
  for (size_t i = 0; i < n; i++)
    hist[(src[i].key >> shift) & (RADIX_SIZE - 1)]++;
  if (hist[(src[0].key >> shift) & (RADIX_SIZE - 1)] == n)
    return false;
  for (unsigned d = 0; d < RADIX_SIZE; d++)
  {
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
static int
radix_sort (struct kv *a, size_t n)
{
  struct kv *buf;
  struct kv *src = a;
  struct kv *dst;
  uint64_t bits = 0;

  if (n <= 16)
  {
    insertion_sort (a, n);
    return 0;
  }
  buf = alloc_array (n, sizeof *buf);
  if (NULL == buf)
    return -1;
  for (size_t i = 0; i < n; i++)
    bits |= a[i].key;
  dst = buf;
  for (unsigned shift = 0; shift < 64 && 0 != (bits >> shift);
       shift += RADIX_BITS)
  {
    if (radix_pass (src, dst, n, shift))
    {
      struct kv *swap = src;

      src = dst;
      dst = swap;
    }
  }
  if (src != a)
    memcpy (a, src, n * sizeof *a);
  free (buf);
  return 0;
}


/* ---------------------------------------------------------- validation */

static bool
time_ok (int64_t t)
{
  return t >= -FC_TIME_LIMIT && t <= FC_TIME_LIMIT;
}

/** R > E would leave gaps between a CMID's entries, which the model excludes. */
static bool
renewal_ok (int64_t r)
{
  return r >= 1 && r <= FC_EXPIRY_SECONDS;
}

static bool
index_ok (int32_t i, size_t n)
{
  return i >= 0 && (size_t) i < n;
}

static bool
plan_ok (const struct fc_estate *e, const struct fc_plan *p)
{
  if (! time_ok (p->at))
    return false;
  if ( (p->n_decommission > 0 && NULL == p->decommission) ||
       (p->n_provision > 0 && NULL == p->provision) )
    return false;
  for (size_t i = 0; i < p->n_decommission; i++)
    if (! index_ok (p->decommission[i], e->n_desktops))
      return false;
  for (size_t i = 0; i < p->n_provision; i++)
    if ( (! index_ok (p->provision[i].pool, e->n_pools)) ||
         (p->provision[i].count < 0) )
      return false;
  return true;
}

static bool
arrays_ok (const struct fc_estate *e)
{
  if ( (e->n_cmids > 0 && NULL == e->cmids) ||
       (e->n_pools > 0 && NULL == e->pools) ||
       (e->n_desktops > 0 && NULL == e->desktops) ||
       (e->n_reserved > 0 && NULL == e->reserved) )
    return false;
  /* indices are int32_t, and so is max_decommission */
  return e->n_cmids <= INT32_MAX && e->n_pools <= INT32_MAX &&
         e->n_desktops <= INT32_MAX;
}

static bool
desktop_ok (const struct fc_estate *e, const struct fc_desktop *d)
{
  if (! index_ok (d->pool, e->n_pools))
    return false;
  if ( (-1 != d->cmid) && (! index_ok (d->cmid, e->n_cmids)) )
    return false;
  return FC_ACTIVE == d->state || FC_POWERED_OFF == d->state ||
         FC_DECOMMISSIONED == d->state;
}

static bool
estate_ok (const struct fc_estate *e)
{
  if ( (NULL == e) || (! arrays_ok (e)) || (! time_ok (e->now)) ||
       (e->capacity < 0) || (! renewal_ok (e->host_renewal_seconds)) ||
       (e->horizon_seconds < 0) || (e->horizon_seconds > FC_TIME_LIMIT) )
    return false;
  for (size_t i = 0; i < e->n_cmids; i++)
    if (! time_ok (e->cmids[i].last_request))
      return false;
  for (size_t i = 0; i < e->n_pools; i++)
    if (! renewal_ok (e->pools[i].renewal_seconds))
      return false;
  for (size_t i = 0; i < e->n_desktops; i++)
    if (! desktop_ok (e, &e->desktops[i]))
      return false;
  for (size_t i = 0; i < e->n_reserved; i++)
    if (! plan_ok (e, &e->reserved[i]))
      return false;
  return true;
}


/* ------------------------------------------------------- CMID status */

/**
 * R within 1 .. E (validated on every full evaluation; clamped for the
 * single-CMID helpers).
 */
static int32_t
renewal32 (int64_t r)
{
  if (r < 1)
    return 1;
  return (int32_t) min64 (r, FC_EXPIRY_SECONDS);
}

static void
facts_init (struct facts *f)
{
  f->min_active_r = INT32_MAX;
  f->max_active_r = 0;
  f->min_any_r = INT32_MAX;
  f->n_active = 0;
  f->n_any = 0;
}

static void
facts_add (struct facts *f, int64_t r, enum fc_desktop_state state)
{
  int32_t r32 = renewal32 (r);

  f->n_any++;
  if (r32 < f->min_any_r)
    f->min_any_r = r32;
  if (FC_ACTIVE != state)
    return;
  f->n_active++;
  if (r32 < f->min_active_r)
    f->min_active_r = r32;
  if (r32 > f->max_active_r)
    f->max_active_r = r32;
}

/**
 * R of a CMID: the most frequent renewer among its active desktops sets the
 * pace.
 */
static int64_t
facts_renewal (const struct fc_estate *e, const struct facts *f)
{
  if (f->n_active > 0)
    return f->min_active_r;
  if (f->n_any > 0)
    return f->min_any_r;
  return renewal32 (e->host_renewal_seconds);
}

/**
 * Rule (a) holds if ANY active desktop is within its own pool's R + grace,
 * i.e. within the largest such R.  Rule (b): a CMID known to no desktop
 * renews only if it has shown that it renews (two requests).
 */
static enum fc_status
facts_status (const struct fc_estate *e, const struct facts *f,
              const struct fc_cmid *c)
{
  int64_t age = e->now - c->last_request;

  if (f->n_active > 0 && age <= f->max_active_r + FC_GRACE_SECONDS)
    return FC_RENEWING;
  if (0 == f->n_any && c->request_count >= 2 &&
      age <= renewal32 (e->host_renewal_seconds) + FC_GRACE_SECONDS)
    return FC_RENEWING;
  return FC_LAPSING;
}

/**
 * The last request of a CMID whose last desktop stops at t: the latest last
 * + k*R <= t.
 */
static int64_t
last_request_by (int64_t last, int64_t r, int64_t t)
{
  if (t <= last)
    return last;
  return last + (t - last) / r * r;
}

/**
 * Collects facts of one CMID by a scan, for the single-CMID helpers; they
 * skip the O(n) validation of the estate, so they check what they use.
 */
static bool
scan_facts (const struct fc_estate *e, int32_t cmid, struct facts *f)
{
  if ( (NULL == e) || (! arrays_ok (e)) || (! index_ok (cmid, e->n_cmids)) ||
       (! time_ok (e->now)) || (! time_ok (e->cmids[cmid].last_request)) )
    return false;
  facts_init (f);
  for (size_t i = 0; i < e->n_desktops; i++)
  {
    const struct fc_desktop *d = &e->desktops[i];

    if (d->cmid == cmid && index_ok (d->pool, e->n_pools))
      facts_add (f, e->pools[d->pool].renewal_seconds, d->state);
  }
  return true;
}

static int64_t
expiry_of (const struct fc_estate *e, const struct facts *f,
           const struct fc_cmid *c, enum fc_status status)
{
  if (FC_RENEWING != status)
    return c->last_request + FC_EXPIRY_SECONDS;
  return last_request_by (c->last_request, facts_renewal (e, f), e->now)
         + FC_EXPIRY_SECONDS;
}

enum fc_status
fc_cmid_status (const struct fc_estate *e,
                int32_t cmid)
{
  struct facts f;

  if (! scan_facts (e, cmid, &f))
    return FC_UNSEEN;
  return facts_status (e, &f, &e->cmids[cmid]);
}

int64_t
fc_cmid_expiry (const struct fc_estate *e,
                int32_t cmid)
{
  struct facts f;

  if (! scan_facts (e, cmid, &f))
    return 0;
  return expiry_of (e, &f, &e->cmids[cmid],
                    facts_status (e, &f, &e->cmids[cmid]));
}


/* -------------------------------------------------------------- model */

static size_t
reserved_entries (const struct fc_estate *e)
{
  size_t n = 0;

  for (size_t i = 0; i < e->n_reserved; i++)
    n += e->reserved[i].n_decommission;
  return n;
}

static void
gather_decommissions (const struct fc_estate *e, const struct fc_plan *plan,
                      struct kv *out, size_t *n)
{
  int64_t t = effective_at (e, plan);

  for (size_t i = 0; i < plan->n_decommission; i++)
  {
    out[*n].key = (uint64_t) plan->decommission[i];
    out[*n].val = t;
    (*n)++;
  }
}

/**
 * The decommissions of all reserved plans and of @a plan (may be NULL) as
 * {desktop, time}, sorted by desktop, each desktop once.  A desktop named
 * by several plans is taken at the earliest of their times: it is gone
 * from then on, whatever a later plan says.
 */
static int
decommission_list (const struct fc_estate *e, const struct fc_plan *plan,
                   struct kv **out, size_t *n_out)
{
  size_t cap = reserved_entries (e) + (NULL == plan ? 0 : plan->n_decommission);
  struct kv *l = alloc_array (cap, sizeof *l);
  size_t n = 0;
  size_t w = 0;

  if (NULL == l)
    return -1;
  for (size_t i = 0; i < e->n_reserved; i++)
    gather_decommissions (e, &e->reserved[i], l, &n);
  if (NULL != plan)
    gather_decommissions (e, plan, l, &n);
  if (0 != radix_sort (l, n))
  {
    free (l);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
  {
    if (w > 0 && l[w - 1].key == l[i].key)
      l[w - 1].val = min64 (l[w - 1].val, l[i].val);
    else
      l[w++] = l[i];
  }
  *out = l;
  *n_out = w;
  return 0;
}

static void
model_free (struct model *m)
{
  free (m->cs);
  free (m->pool_renewing);
  free (m->reserved);
  memset (m, 0, sizeof *m);
}

static int
model_alloc (struct model *m, const struct fc_estate *e)
{
  size_t nc = e->n_cmids;

  m->cs = alloc_array (nc, sizeof *m->cs);
  m->pool_renewing = alloc_zeroed (e->n_pools, sizeof *m->pool_renewing);
  if ( (NULL == m->cs) || (NULL == m->pool_renewing) )
    return -1;
  return decommission_list (e, NULL, &m->reserved, &m->n_reserved);
}

static void
model_statuses (struct model *m)
{
  const struct fc_estate *e = m->e;

  for (size_t c = 0; c < e->n_cmids; c++)
    facts_init (&m->cs[c].f);
  for (size_t i = 0; i < e->n_desktops; i++)
  {
    const struct fc_desktop *d = &e->desktops[i];

    if (d->cmid >= 0)
      facts_add (&m->cs[d->cmid].f, e->pools[d->pool].renewal_seconds,
                 d->state);
  }
  for (size_t c = 0; c < e->n_cmids; c++)
  {
    struct cmid_state *cs = &m->cs[c];

    cs->status = (uint8_t) facts_status (e, &cs->f, &e->cmids[c]);
    cs->left = cs->f.n_active;
    cs->hit = 0;
    cs->tmax = INT64_MIN;
  }
  for (size_t i = 0; i < e->n_desktops; i++)
  {
    const struct fc_desktop *d = &e->desktops[i];

    if (d->cmid >= 0 && FC_RENEWING == m->cs[d->cmid].status)
      m->pool_renewing[d->pool] = true;
  }
}

/** Active desktops per CMID that no reserved plan takes. */
static void
model_left (struct model *m)
{
  for (size_t i = 0; i < m->n_reserved; i++)
  {
    const struct fc_desktop *d = &m->e->desktops[m->reserved[i].key];

    if (FC_ACTIVE == d->state && d->cmid >= 0)
      m->cs[d->cmid].left--;
  }
}

static int
model_init (struct model *m, const struct fc_estate *e)
{
  memset (m, 0, sizeof *m);
  m->e = e;
  m->floor = (int64_t) e->threshold + e->margin;
  if (0 != model_alloc (m, e))
  {
    model_free (m);
    return -1;
  }
  model_statuses (m);
  model_left (m);
  return 0;
}

static bool
renewing (const struct model *m, int32_t c)
{
  return FC_RENEWING == m->cs[c].status;
}

/** Expiry of a renewing CMID whose active desktops are all gone, the last at t. */
static int64_t
stop_end (const struct model *m, int32_t c, int64_t t)
{
  return last_request_by (m->e->cmids[c].last_request,
                          facts_renewal (m->e, &m->cs[c].f), t)
         + FC_EXPIRY_SECONDS;
}

/** Entry end with no decommission: a renewing CMID keeps counting. */
static int64_t
natural_end (const struct model *m, size_t c)
{
  if (renewing (m, (int32_t) c))
    return NEVER;
  return m->e->cmids[c].last_request + FC_EXPIRY_SECONDS;
}

int
fc_cmid_survey (const struct fc_estate *e,
                enum fc_status *status,
                int64_t *expiry)
{
  struct model m;

  if ( (! estate_ok (e)) || (0 != model_init (&m, e)) )
    return -1;
  for (size_t c = 0; c < e->n_cmids; c++)
  {
    enum fc_status s = (enum fc_status) m.cs[c].status;

    if (NULL != status)
      status[c] = s;
    if (NULL != expiry)
      expiry[c] = expiry_of (e, &m.cs[c].f, &e->cmids[c], s);
  }
  model_free (&m);
  return 0;
}


/* ------------------------------------------------------------- events */

static void
events_init (struct events *l, int64_t start, int64_t end)
{
  memset (l, 0, sizeof *l);
  l->start = start;
  l->end = end;
}

static int
events_reserve (struct events *l, size_t extra)
{
  struct kv *ev;
  size_t cap;

  if (l->n + extra <= l->cap)
    return 0;
  cap = l->cap < 32 ? 64 : 2 * l->cap;
  if (cap < l->n + extra)
    cap = l->n + extra;
  if (cap > SIZE_MAX / sizeof *ev)
    return -1;
  ev = realloc (l->ev, cap * sizeof *ev);
  if (NULL == ev)
    return -1;
  l->ev = ev;
  l->cap = cap;
  return 0;
}

/**
 * Events at or before start only shape the count at start; after end they
 * don't matter.
 */
static int
events_add (struct events *l, int64_t at, int64_t delta)
{
  if (at <= l->start)
  {
    l->initial += delta;
    return 0;
  }
  if (at > l->end)
    return 0;
  if (0 != events_reserve (l, 1))
    return -1;
  l->ev[l->n].key = (uint64_t) (at - l->start);
  l->ev[l->n].val = delta;
  l->n++;
  return 0;
}

/** Sorts and folds events at equal times, so a walk sees each time once. */
static int
events_finish (struct events *l)
{
  size_t out = 0;

  if (0 != radix_sort (l->ev, l->n))
    return -1;
  for (size_t i = 0; i < l->n; i++)
  {
    if (out > 0 && l->ev[out - 1].key == l->ev[i].key)
      l->ev[out - 1].val += l->ev[i].val;
    else
      l->ev[out++] = l->ev[i];
    if (0 == l->ev[out - 1].val)
      out--;
  }
  l->n = out;
  return 0;
}

static void
events_free (struct events *l)
{
  free (l->ev);
  l->ev = NULL;
  l->n = l->cap = 0;
}

/** Every seen CMID's interval as if no desktop were ever decommissioned. */
static int
base_events (const struct model *m, struct events *l)
{
  const struct fc_estate *e = m->e;

  if (0 != events_reserve (l, 2 * e->n_cmids))
    return -1;
  for (size_t c = 0; c < e->n_cmids; c++)
  {
    int64_t end = natural_end (m, c);

    if ( (0 != events_add (l, e->cmids[c].last_request, 1)) ||
         ( (NEVER != end) && (0 != events_add (l, end, -1)) ) )
      return -1;
  }
  return events_finish (l);
}

static int
stop_events (const struct stop *stops, size_t n, struct events *l)
{
  for (size_t i = 0; i < n; i++)
    if (0 != events_add (l, stops[i].end, -1))
      return -1;
  return 0;
}

/**
 * New CMIDs of one plan's provisions.  Shared-CMID pools are only noted in
 * @a first_shared: all their provisions together add at most one CMID.
 */
static int
plan_provisions (const struct model *m, const struct fc_plan *plan,
                 int64_t *first_shared, struct events *l, int64_t *n_new)
{
  int64_t t = effective_at (m->e, plan);

  for (size_t i = 0; i < plan->n_provision; i++)
  {
    const struct fc_provision *p = &plan->provision[i];

    if (0 == p->count)
      continue;
    if (! m->e->pools[p->pool].unique_cmids)
    {
      first_shared[p->pool] = min64 (first_shared[p->pool], t);
      continue;
    }
    if (0 != events_add (l, t, p->count))
      return -1;
    *n_new += p->count;
  }
  return 0;
}

/**
 * Provisions of the reserved plans and of @a plan (may be NULL).  A
 * shared-CMID pool whose image CMID already renews adds nothing: the
 * clones reuse a CMID that is counted already.
 */
static int
add_provisions (const struct model *m, const struct fc_plan *plan,
                struct events *l, int64_t *n_new)
{
  const struct fc_estate *e = m->e;
  int64_t *first_shared = alloc_array (e->n_pools, sizeof *first_shared);
  int ret = -1;

  *n_new = 0;
  if (NULL == first_shared)
    return -1;
  for (size_t p = 0; p < e->n_pools; p++)
    first_shared[p] = NEVER;
  for (size_t i = 0; i < e->n_reserved; i++)
    if (0 != plan_provisions (m, &e->reserved[i], first_shared, l, n_new))
      goto done;
  if ( (NULL != plan) &&
       (0 != plan_provisions (m, plan, first_shared, l, n_new)) )
    goto done;
  for (size_t p = 0; p < e->n_pools; p++)
  {
    if (NEVER == first_shared[p] || m->pool_renewing[p])
      continue;
    if (0 != events_add (l, first_shared[p], 1))
      goto done;
    (*n_new)++;
  }
  ret = 0;
done:
  free (first_shared);
  return ret;
}


/* -------------------------------------------------------------- stops */

/**
 * Renewing CMIDs all of whose active desktops are in @a list (sorted
 * {desktop, time}, each desktop once): they stop renewing with the latest
 * of those decommissions.  @a out has room for @a n entries.
 */
static size_t
collect_stops (struct model *m, const struct kv *list, size_t n,
               struct stop *out)
{
  const struct fc_desktop *ds = m->e->desktops;
  size_t k = 0;

  for (size_t i = 0; i < n; i++)
  {
    const struct fc_desktop *d = &ds[list[i].key];

    if (FC_ACTIVE != d->state || d->cmid < 0 || ! renewing (m, d->cmid))
      continue;
    m->cs[d->cmid].hit++;
    m->cs[d->cmid].tmax = max64 (m->cs[d->cmid].tmax, list[i].val);
  }
  for (size_t i = 0; i < n; i++)
  {
    int32_t c = ds[list[i].key].cmid;

    if (c < 0 || 0 == m->cs[c].hit)
      continue;
    if (m->cs[c].hit == m->cs[c].f.n_active)
    {
      out[k].cmid = c;
      out[k].end = stop_end (m, c, m->cs[c].tmax);
      k++;
    }
    m->cs[c].hit = 0;
    m->cs[c].tmax = INT64_MIN;
  }
  return k;
}


/* --------------------------------------------------------------- walk */

static bool
merge_next (struct merge *mg, uint64_t *key, int64_t *delta)
{
  uint64_t k;
  int64_t d = 0;

  if (mg->i == mg->na && mg->j == mg->nb)
    return false;
  if (mg->j == mg->nb ||
      (mg->i < mg->na && mg->a[mg->i].key <= mg->b[mg->j].key))
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

static int64_t
clamp_count (const struct model *m, int64_t raw)
{
  if (raw < 0)
    return 0;
  return min64 (raw, m->e->capacity);
}

static int
trace_step (const struct model *m, struct trace *tr, int64_t at, int64_t count)
{
  if (count < tr->min)
  {
    tr->min = count;
    tr->min_at = at;
  }
  if (count < m->floor && ! tr->breach)
  {
    tr->breach = true;
    tr->breach_at = at;
  }
  if (! tr->want_steps)
    return 0;
  if (tr->n_steps == tr->cap)
  {
    size_t cap = 0 == tr->cap ? 16 : 2 * tr->cap;
    struct fc_step *s;

    if (cap > SIZE_MAX / sizeof *s)
      return -1;
    s = realloc (tr->steps, cap * sizeof *s);
    if (NULL == s)
      return -1;
    tr->steps = s;
    tr->cap = cap;
  }
  tr->steps[tr->n_steps].at = at;
  tr->steps[tr->n_steps].count = saturate32 (count);
  tr->n_steps++;
  return 0;
}

/**
 * The count function of base + delta over [start, end]: steps, minimum,
 * first breach.
 */
static int
walk (const struct model *m, const struct events *base,
      const struct events *delta, struct trace *tr)
{
  struct merge mg = { base->ev, base->n, 0, delta->ev, delta->n, 0 };
  uint64_t end_key = (uint64_t) (base->end - base->start);
  int64_t raw = base->initial + delta->initial;
  int64_t cur = clamp_count (m, raw);
  uint64_t key;
  int64_t d;

  tr->min = INT64_MAX;
  tr->breach = false;
  if (0 != trace_step (m, tr, base->start, cur))
    return -1;
  while (merge_next (&mg, &key, &d) && key <= end_key)
  {
    int64_t next;

    raw += d;
    next = clamp_count (m, raw);
    if (next == cur)
      continue;
    cur = next;
    if (0 != trace_step (m, tr, base->start + (int64_t) key, cur))
      return -1;
  }
  return 0;
}

/**
 * The raw count of base + delta as one point per step, at the step's last
 * second (kv {offset, raw count}), reduced to the points below every later
 * point, in time order.  Stops only ever subtract from a suffix of time,
 * so within a step the count is lowest at its last second, and a point
 * with a later point at or below it can never hold the minimum: a probe
 * needs to look at these points only.
 */
static int
suffix_minima (const struct events *base, const struct events *delta,
               struct kv **out, size_t *n_out)
{
  struct merge mg = { base->ev, base->n, 0, delta->ev, delta->n, 0 };
  uint64_t end_key = (uint64_t) (base->end - base->start);
  int64_t raw = base->initial + delta->initial;
  int64_t later = INT64_MAX;
  struct kv *p = alloc_array (base->n + delta->n + 1, sizeof *p);
  size_t n = 0;
  size_t w;
  uint64_t key;
  int64_t d;

  if (NULL == p)
    return -1;
  while (merge_next (&mg, &key, &d) && key <= end_key)
  {
    p[n].key = key - 1;       /* > 0: offset 0 is folded into initial */
    p[n++].val = raw;
    raw += d;
  }
  p[n].key = end_key;
  p[n++].val = raw;
  w = n;
  for (size_t i = n; i-- > 0;)
    if (p[i].val < later)
    {
      later = p[i].val;
      p[--w] = p[i];          /* --w >= i: never overwrites an unread point */
    }
  memmove (p, p + w, (n - w) * sizeof *p);
  *out = p;
  *n_out = n - w;
  return 0;
}


/* --------------------------------------------------------- candidates */

/**
 * 0: its CMID stays with another remaining desktop; 1: taking it changes
 * nothing either; 2: it stops its CMID.
 */
static int
cand_group (const struct model *m, const struct fc_desktop *d)
{
  if (d->cmid >= 0 && m->cs[d->cmid].left >= 2)
    return 0;
  if (d->cmid < 0 || ! renewing (m, d->cmid))
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
list_candidates (const struct model *m, int32_t pool, int32_t *out,
                 size_t *n_out)
{
  const struct fc_estate *e = m->e;
  const char *prev = NULL;
  bool ascending = true;
  size_t r = 0;
  size_t n = 0;

  for (size_t d = 0; d < e->n_desktops; d++)
  {
    const struct fc_desktop *dk = &e->desktops[d];

    while (r < m->n_reserved && m->reserved[r].key < d)
      r++;
    if ( (FC_ACTIVE != dk->state) || (-1 != pool && dk->pool != pool) ||
         (r < m->n_reserved && m->reserved[r].key == d) )
      continue;
    if (NULL != prev && ascending && strcmp (prev, host_of (dk)) > 0)
      ascending = false;
    prev = host_of (dk);
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
sort_cands_linear (const struct model *m, int32_t *order, size_t n)
{
  const struct fc_estate *e = m->e;
  struct kv *k = alloc_array (n, sizeof *k);
  int64_t latest = INT64_MIN;

  if (NULL == k)
    return -1;
  for (size_t i = 0; i < n; i++)
  {
    const struct fc_desktop *d = &e->desktops[order[i]];

    k[i].val = order[i];
    k[i].key = (uint64_t) cand_group (m, d);
    if (2 == k[i].key)
      latest = max64 (latest, e->cmids[d->cmid].last_request);
  }
  for (size_t i = 0; i < n; i++)
    if (2 == k[i].key)
      k[i].key += (uint64_t) (latest
                              - e->cmids[e->desktops[k[i].val].cmid]
                              .last_request);
  if (0 != radix_sort (k, n))
  {
    free (k);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    order[i] = (int32_t) k[i].val;
  free (k);
  return 0;
}

/**
 * Length of the prefix all candidates' hostnames share: sort keys start
 * after it.
 */
static size_t
common_prefix (const struct fc_estate *e, const int32_t *order, size_t n)
{
  const char *first = n > 0 ? host_of (&e->desktops[order[0]]) : "";
  size_t lcp = strlen (first);

  for (size_t i = 1; i < n && lcp > 0; i++)
  {
    const char *h = host_of (&e->desktops[order[i]]);
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
slice_key (const char *host, size_t from)
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
compare_named (const void *pa, const void *pb)
{
  const struct named *a = pa;
  const struct named *b = pb;
  int s = strcmp (a->rest, b->rest);

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
sort_tied_run (const struct fc_estate *e, struct kv *k, size_t n, size_t from,
               struct named *tmp)
{
  if (n < 2 || 0 == (k[0].key & 0xff))
    return;
  for (size_t i = 0; i < n; i++)
  {
    tmp[i].rest = host_of (&e->desktops[k[i].val]) + from + 8;
    tmp[i].desktop = (int32_t) k[i].val;
  }
  qsort (tmp, n, sizeof *tmp, &compare_named);
  for (size_t i = 0; i < n; i++)
    k[i].val = tmp[i].desktop;
}

/**
 * Sorts candidates by hostname (strcmp order, ties by index) when the
 * caller did not pass them in that order.  Radix on the 8 bytes after the
 * common prefix settles nearly all pairs; strcmp() only orders ties.
 */
static int
sort_by_hostname (const struct fc_estate *e, int32_t *order, size_t n)
{
  size_t from = common_prefix (e, order, n);
  struct kv *k = alloc_array (n, sizeof *k);
  struct named *tmp = alloc_array (n, sizeof *tmp);
  int ret = -1;

  if ( (NULL == k) || (NULL == tmp) )
    goto done;
  for (size_t i = 0; i < n; i++)
  {
    k[i].key = slice_key (host_of (&e->desktops[order[i]]), from);
    k[i].val = order[i];
  }
  if (0 != radix_sort (k, n))
    goto done;
  for (size_t i = 0, j; i < n; i = j)
  {
    for (j = i + 1; j < n && k[j].key == k[i].key; j++)
      ;
    sort_tied_run (e, k + i, j - i, from, tmp);
  }
  for (size_t i = 0; i < n; i++)
    order[i] = (int32_t) k[i].val;
  ret = 0;
done:
  free (k);
  free (tmp);
  return ret;
}

/** Desktops in decommission order; *out is malloc'ed. */
static int
order_candidates (const struct model *m, int32_t pool, int32_t **out,
                  size_t *n_out)
{
  int32_t *order = alloc_array (m->e->n_desktops, sizeof *order);
  int ret;

  if (NULL == order)
    return -1;
  ret = list_candidates (m, pool, order, n_out)
        ? 0 : sort_by_hostname (m->e, order, *n_out);
  if (0 == ret)
    ret = sort_cands_linear (m, order, *n_out);
  if (0 != ret)
  {
    free (order);
    return -1;
  }
  *out = order;
  return 0;
}

size_t
fc_pick_decommission (const struct fc_estate *e,
                      int32_t pool,
                      int32_t *out,
                      size_t n)
{
  struct model m;
  int32_t *order;
  size_t n_order;

  if ( (! estate_ok (e)) || (pool < -1) ||
       (pool >= 0 && ! index_ok (pool, e->n_pools)) ||
       (n > 0 && NULL == out) )
    return 0;
  if (0 != model_init (&m, e))
    return 0;
  if (0 != order_candidates (&m, pool, &order, &n_order))
  {
    model_free (&m);
    return 0;
  }
  n = n < n_order ? n : n_order;
  if (n > 0)
    memcpy (out, order, n * sizeof *out);
  free (order);
  model_free (&m);
  return n;
}


/* ------------------------------------------------ largest decommission */

/**
 * Where the stop window of a probe puts @a t: 0 at or before start, past
 * end_key after end.
 */
static uint64_t
stop_key (int64_t t, int64_t start, int64_t end)
{
  if (t <= start)
    return 0;
  if (t > end)
    return (uint64_t) (end - start) + 1;
  return (uint64_t) (t - start);
}

/**
 * Latest reserved decommission per CMID, into the tmax scratch (reset with
 * forget_reserved_latest()).
 */
static void
load_reserved_latest (struct model *m)
{
  for (size_t i = 0; i < m->n_reserved; i++)
  {
    const struct fc_desktop *d = &m->e->desktops[m->reserved[i].key];

    if (FC_ACTIVE == d->state && d->cmid >= 0)
    {
      struct cmid_state *cs = &m->cs[d->cmid];

      cs->tmax = max64 (cs->tmax, m->reserved[i].val);
    }
  }
}

static void
forget_reserved_latest (struct model *m)
{
  for (size_t i = 0; i < m->n_reserved; i++)
  {
    int32_t c = m->e->desktops[m->reserved[i].key].cmid;

    if (c >= 0)
      m->cs[c].tmax = INT64_MIN;
  }
}

/**
 * For each prefix position: the CMID it stops, if taking it leaves that
 * CMID without an active desktop (kv {offset of the new end, position}).
 * The last request is bounded by the latest of the candidates' time and
 * the reserved decommissions of the same CMID.  The end does not depend
 * on k, so the list is sorted once and each probe filters it by position.
 */
static int
prefix_stops (struct model *m, const int32_t *order, size_t n, int64_t at,
              int64_t start, int64_t end, struct kv *out, size_t *n_out)
{
  size_t k = 0;

  load_reserved_latest (m);
  for (size_t i = 0; i < n; i++)
  {
    int32_t c = m->e->desktops[order[i]].cmid;

    if (c < 0 || ! renewing (m, c) || ++m->cs[c].hit != m->cs[c].left)
      continue;
    out[k].key = stop_key (stop_end (m, c, max64 (at, m->cs[c].tmax)),
                           start, end);
    out[k].val = (int64_t) i;
    k++;
  }
  for (size_t i = 0; i < n; i++)
  {
    int32_t c = m->e->desktops[order[i]].cmid;

    if (c >= 0)
      m->cs[c].hit = 0;
  }
  forget_reserved_latest (m);
  *n_out = k;
  return radix_sort (out, k);
}

/**
 * go with the first k candidates taken: every suffix minimum, less the
 * stops before it, holds the floor.
 */
static bool
probe (const struct model *m, const struct kv *minima, size_t n_minima,
       const struct kv *stops, size_t n_stops, size_t k)
{
  size_t j = 0;
  int64_t taken = 0;

  for (size_t i = 0; i < n_minima; i++)
  {
    for (; j < n_stops && stops[j].key <= minima[i].key; j++)
      if ((size_t) stops[j].val < k)
        taken++;
    if (minima[i].val - taken < m->floor)
      return false;
  }
  return true;
}

/**
 * Largest k in [0, n] with probe() true, given probe (0) is; probes are
 * monotone in k.
 */
static size_t
search_largest (const struct model *m, const struct kv *minima, size_t n_minima,
                const struct kv *stops, size_t n_stops, size_t n)
{
  size_t lo = 0;
  size_t hi = n + 1;

  while (hi - lo > 1)
  {
    size_t mid = lo + (hi - lo) / 2;

    if (probe (m, minima, n_minima, stops, n_stops, mid))
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/**
 * Largest k that keeps go.  Binary search works because taking one more
 * desktop never raises count(t).  A floor above the capacity is never
 * reached, one at or below 0 always is; otherwise the clamp does not
 * change whether the raw count reaches the floor.
 */
static int
largest_safe (struct model *m, int32_t pool, int64_t at,
              const struct kv *minima, size_t n_minima,
              int64_t start, int64_t end, int32_t *result)
{
  int32_t *order = NULL;
  struct kv *stops = NULL;
  size_t n_order;
  size_t n_stops;

  *result = 0;
  if (m->e->capacity < m->floor)
    return 0;
  if (0 != order_candidates (m, pool, &order, &n_order))
    return -1;
  if (m->floor <= 0)
    *result = (int32_t) n_order;
  else
  {
    stops = alloc_array (n_order, sizeof *stops);
    if ( (NULL == stops) ||
         (0 != prefix_stops (m, order, n_order, at, start, end, stops,
                             &n_stops)) )
    {
      free (order);
      free (stops);
      return -1;
    }
    if (probe (m, minima, n_minima, stops, n_stops, 0))
      *result = (int32_t) search_largest (m, minima, n_minima, stops,
                                          n_stops, n_order);
  }
  free (order);
  free (stops);
  return 0;
}


/* ----------------------------------------------------------- evaluate */

/** Everything one evaluation holds, so that one cleanup frees it all. */
struct eval
{
  struct model m;
  const struct fc_plan *plan;
  struct stop *reserved_stops;
  size_t n_reserved_stops;
  struct kv *plan_list;           /* reserved + plan decommissions */
  size_t n_plan_list;
  struct stop *plan_stops;
  size_t n_plan_stops;
  struct events base;
  struct events reserved_delta;
  struct events plan_delta;
  struct events probe_delta;
  struct kv *minima;
  size_t n_minima;
  int64_t reserved_new;
  int64_t plan_new;
};

static void
eval_free (struct eval *x)
{
  model_free (&x->m);
  free (x->reserved_stops);
  free (x->plan_list);
  free (x->plan_stops);
  events_free (&x->base);
  events_free (&x->reserved_delta);
  events_free (&x->plan_delta);
  events_free (&x->probe_delta);
  free (x->minima);
}

static void
window (const struct fc_estate *e, const struct fc_plan *plan,
        int64_t *start, int64_t *end)
{
  int64_t first = NEVER;

  if (NULL != plan)
    first = effective_at (e, plan);
  for (size_t i = 0; i < e->n_reserved; i++)
    first = min64 (first, effective_at (e, &e->reserved[i]));
  *start = NEVER == first ? e->now : first;
  *end = max64 (e->now + e->horizon_seconds, *start);
}

/** Figures at now that explain the decision, independent of any plan. */
static void
describe_now (const struct model *m, struct fc_result *out)
{
  const struct fc_estate *e = m->e;
  int64_t raw = 0;

  for (size_t c = 0; c < e->n_cmids; c++)
  {
    int64_t last = e->cmids[c].last_request;

    if (renewing (m, (int32_t) c))
      out->renewing++;
    else if (last + FC_EXPIRY_SECONDS > e->now)
      out->lapsing++;
    if (last <= e->now && e->now < natural_end (m, c))
      raw++;
  }
  for (size_t i = 0; i < e->n_desktops; i++)
    if (FC_ACTIVE == e->desktops[i].state && e->desktops[i].cmid < 0)
      out->unseen++;
  out->current_count = saturate32 (clamp_count (m, raw));
}

/** Reserved plans alone: their stops, their provisions. */
static int
eval_reserved (struct eval *x)
{
  struct model *m = &x->m;

  x->reserved_stops = alloc_array (m->n_reserved, sizeof *x->reserved_stops);
  if (NULL == x->reserved_stops)
    return -1;
  x->n_reserved_stops = collect_stops (m, m->reserved, m->n_reserved,
                                       x->reserved_stops);
  events_init (&x->reserved_delta, x->base.start, x->base.end);
  if ( (0 != stop_events (x->reserved_stops, x->n_reserved_stops,
                          &x->reserved_delta)) ||
       (0 != add_provisions (m, NULL, &x->reserved_delta, &x->reserved_new)) )
    return -1;
  return events_finish (&x->reserved_delta);
}

/** Reserved plans plus the evaluated plan's decommissions and provisions. */
static int
eval_plan (struct eval *x)
{
  struct model *m = &x->m;

  if (0 != decommission_list (m->e, x->plan, &x->plan_list, &x->n_plan_list))
    return -1;
  x->plan_stops = alloc_array (x->n_plan_list, sizeof *x->plan_stops);
  if (NULL == x->plan_stops)
    return -1;
  x->n_plan_stops = collect_stops (m, x->plan_list, x->n_plan_list,
                                   x->plan_stops);
  events_init (&x->plan_delta, x->base.start, x->base.end);
  if ( (0 != stop_events (x->plan_stops, x->n_plan_stops, &x->plan_delta)) ||
       (0 != add_provisions (m, x->plan, &x->plan_delta, &x->plan_new)) )
    return -1;
  return events_finish (&x->plan_delta);
}

/** CMIDs that stop only because of the plan, and when the first of them expires. */
static void
describe_plan (struct eval *x, struct fc_result *out)
{
  struct cmid_state *cs = x->m.cs;

  /* hit marks the CMIDs the reserved plans stop already */
  for (size_t i = 0; i < x->n_reserved_stops; i++)
    cs[x->reserved_stops[i].cmid].hit = 1;
  for (size_t i = 0; i < x->n_plan_stops; i++)
  {
    const struct stop *s = &x->plan_stops[i];

    if (0 != cs[s->cmid].hit)
      continue;
    if (0 == out->plan_lapsing_cmids ||
        s->end < out->plan_lapsing_first_expiry)
      out->plan_lapsing_first_expiry = s->end;
    out->plan_lapsing_cmids++;
  }
  for (size_t i = 0; i < x->n_reserved_stops; i++)
    cs[x->reserved_stops[i].cmid].hit = 0;
  out->plan_new_cmids = saturate32 (x->plan_new - x->reserved_new);
}

static int
eval_traces (struct eval *x, struct fc_result *out)
{
  struct trace baseline = { 0 };
  struct trace planned = { .want_steps = true };
  const struct events *delta = NULL == x->plan ? &x->reserved_delta
                               : &x->plan_delta;

  if ( (0 != walk (&x->m, &x->base, &x->reserved_delta, &baseline)) ||
       (0 != walk (&x->m, &x->base, delta, &planned)) )
  {
    free (planned.steps);
    return -1;
  }
  out->baseline_min = saturate32 (baseline.min);
  out->baseline_min_at = baseline.min_at;
  out->projected_min = saturate32 (planned.min);
  out->projected_min_at = planned.min_at;
  out->has_breach = planned.breach;
  out->first_breach_at = planned.breach ? planned.breach_at : 0;
  out->go = planned.min >= x->m.floor;
  out->steps = planned.steps;
  out->n_steps = planned.n_steps;
  return 0;
}

/**
 * The plan's provisions and the reserved plans stay; its decommissions are
 * replaced.
 */
static int
eval_max_decommission (struct eval *x, int32_t pool, struct fc_result *out)
{
  int64_t unused;

  events_init (&x->probe_delta, x->base.start, x->base.end);
  if ( (0 != stop_events (x->reserved_stops, x->n_reserved_stops,
                          &x->probe_delta)) ||
       (0 != add_provisions (&x->m, x->plan, &x->probe_delta, &unused)) ||
       (0 != events_finish (&x->probe_delta)) ||
       (0 != suffix_minima (&x->base, &x->probe_delta, &x->minima,
                            &x->n_minima)) )
    return -1;
  out->max_decommission_at = NULL == x->plan
                             ? x->base.start
                             : effective_at (x->m.e, x->plan);
  return largest_safe (&x->m, pool, out->max_decommission_at, x->minima,
                       x->n_minima, x->base.start, x->base.end,
                       &out->max_decommission);
}

static int
eval_run (struct eval *x, int32_t pool, struct fc_result *out)
{
  const struct fc_estate *e = x->m.e;

  out->floor = saturate32 (x->m.floor);
  window (e, x->plan, &out->window_start, &out->window_end);
  describe_now (&x->m, out);
  events_init (&x->base, out->window_start, out->window_end);
  if ( (0 != base_events (&x->m, &x->base)) || (0 != eval_reserved (x)) )
    return -1;
  if (NULL != x->plan)
  {
    if (0 != eval_plan (x))
      return -1;
    describe_plan (x, out);
  }
  if (0 != eval_traces (x, out))
    return -1;
  return eval_max_decommission (x, pool, out);
}

int
fc_evaluate (const struct fc_estate *e,
             const struct fc_plan *plan,
             int32_t max_decommission_pool,
             struct fc_result *out)
{
  struct eval x;
  int ret;

  if (NULL == out)
    return -1;
  memset (out, 0, sizeof *out);
  if ( (! estate_ok (e)) || (NULL != plan && ! plan_ok (e, plan)) ||
       (max_decommission_pool < -1) ||
       (max_decommission_pool >= 0 &&
        ! index_ok (max_decommission_pool, e->n_pools)) )
    return -1;
  memset (&x, 0, sizeof x);
  x.plan = plan;
  if (0 != model_init (&x.m, e))
    return -1;
  ret = eval_run (&x, max_decommission_pool, out);
  eval_free (&x);
  if (0 != ret)
    fc_result_free (out);
  return ret;
}

void
fc_result_free (struct fc_result *r)
{
  if (NULL == r)
    return;
  free (r->steps);
  r->steps = NULL;
  r->n_steps = 0;
}
