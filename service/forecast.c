/**
 * @file forecast.c
 * @brief The KMS count model: one interval per CMID, step functions, and the
 *        largest safe decommission, split into a per-estate preparation and
 *        a per-plan evaluation.
 *
 * Because R <= E, the cache entries of a CMID's successive requests overlap:
 * from `now` on, each CMID counts on exactly one half-open interval
 * [last request, end).  count(t) is therefore a running sum of +1/-1 events.
 *
 * fc_prepare() does everything that depends on the estate only: statuses,
 * the baseline (no decommission at all, plus the reserved plans) as one
 * sorted list of events after now with the raw count after each (times as
 * offsets from now; O(n) radix sort), the decommission order of the whole
 * host and, as a stable filter of it, of each pool, and for each order the
 * renewing CMIDs that a prefix of it stops, with their ends for
 * decommissions at now, sorted by end.
 *
 * fc_evaluate_prepared() only looks at what the plan changes: its
 * provisions and the CMIDs whose end it moves form a small sorted delta
 * merged with the baseline while walking the window (binary search to the
 * window start, then O(events in the window)).  The largest decommission
 * reduces the probe count (baseline + the plan's provisions) to its suffix
 * minima (T, V); k desktops are safe iff for each minimum at most V - floor
 * stops at positions < k end by T, so the answer is the least, over the
 * minima, (V - floor + 1)-th smallest position among the stops ending by
 * T: a binary search in the end-sorted stops, and a bitmap select only
 * when the budget is exceeded.  Decommissions later than now recompute the
 * stop ends (O(n) and a radix sort).  Nothing in the prepared object is
 * written after fc_prepare(); per-call scratch is malloc'ed.
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

/** Per-CMID state in one record (the scratch fields are used by fc_prepare() only). */
struct cmid_state
{
  int64_t last;                   /* latest request, at most now (clock skew) */
  int64_t next;                   /* first renewal after now, if renewing */
  int64_t res_stop;               /* when the reserved plans stop it, or NEVER */
  int64_t rereq;                  /* earliest reserved shared-image provision, or NEVER */
  int64_t tmax;                   /* scratch: INT64_MIN between uses */
  struct facts f;
  int32_t left;                   /* active desktops no reserved plan takes */
  int32_t hit;                    /* scratch: 0 between uses */
  uint8_t status;                 /* enum fc_status */
};

/** Tables derived from the estate and its reserved plans; read-only once prepared. */
struct model
{
  const struct fc_estate *e;
  struct cmid_state *cs;          /* per CMID */
  int32_t *pool_image;            /* per pool: its most recently seen CMID, or -1 */
  struct kv *reserved;            /* reserved decommissions {desktop, time} */
  size_t n_reserved;
};

/** A renewing CMID whose last active desktop goes at `at`. */
struct stop
{
  int32_t cmid;
  int64_t at;
};

/**
 * What a plan does to one CMID: its last active desktop goes at `stop`,
 * and clones of its image request it again from `rereq` (NEVER: not).
 */
struct change
{
  int32_t cmid;
  int64_t stop;
  int64_t rereq;
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
       (p->n_provision > 0 && NULL == p->provision) ||
       (p->n_arrivals > 0 && NULL == p->arrivals) )
    return false;
  for (size_t i = 0; i < p->n_arrivals; i++)
    if (! time_ok (p->arrivals[i]))
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
 * A request timed after now (the KMS host's clock runs ahead) counts as
 * made at now.
 */
static int64_t
last_of (const struct fc_estate *e, const struct fc_cmid *c)
{
  return min64 (c->last_request, e->now);
}

/**
 * R for a CMID's projected renewals: the largest of its active desktops'
 * (fewer renewals, so the forecast errs low), the host's for a CMID of no
 * desktop (rule (b)).
 */
static int64_t
facts_renewal (const struct fc_estate *e, const struct facts *f)
{
  if (f->n_active > 0)
    return f->max_active_r;
  return renewal32 (e->host_renewal_seconds);
}

/**
 * Rule (a): an active desktop carries it and it is within the smallest R
 * of those desktops + grace (the strictest reading of a mixed CMID).
 * Rule (b): a CMID known to no desktop renews only if it has shown that it
 * renews (two requests) and its latest request did not come from a
 * registered desktop, which now carries another CMID: that one replaced it.
 */
static enum fc_status
facts_status (const struct fc_estate *e, const struct facts *f,
              const struct fc_cmid *c)
{
  int64_t age = e->now - last_of (e, c);

  if (c->renews_elsewhere)
    return FC_LAPSING;
  if (f->n_active > 0 && age <= f->min_active_r + FC_GRACE_SECONDS)
    return FC_RENEWING;
  if (0 == f->n_any && c->request_count >= 2 && ! c->last_client_registered &&
      age <= renewal32 (e->host_renewal_seconds) + FC_GRACE_SECONDS)
    return FC_RENEWING;
  return FC_LAPSING;
}

/**
 * The first renewal after now: last + k*R for the least k >= 1 with
 * last + k*R > now.  A renewal due at or before now that no event shows is
 * never credited: the event may not be uploaded yet, or the client gone.
 * @param last the latest request, at most now
 */
static int64_t
first_renewal (int64_t last, int64_t r, int64_t now)
{
  return last + ((now - last) / r + 1) * r;
}

/** The latest renewal last + k*R at or before t (t >= last). */
static int64_t
renewal_by (int64_t last, int64_t r, int64_t t)
{
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

/** Renewals due before now are never credited, so a stop at now leaves last + E. */
static int64_t
expiry_of (const struct fc_estate *e, const struct fc_cmid *c)
{
  return last_of (e, c) + FC_EXPIRY_SECONDS;
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
  return expiry_of (e, &e->cmids[cmid]);
}


int64_t
fc_cmid_next_renewal (const struct fc_estate *e,
                      int32_t cmid,
                      int64_t t)
{
  struct facts f;
  int64_t last;

  if ( (! scan_facts (e, cmid, &f)) || (! time_ok (t)) ||
       (FC_RENEWING != facts_status (e, &f, &e->cmids[cmid])) )
    return 0;
  last = last_of (e, &e->cmids[cmid]);
  return first_renewal (last, facts_renewal (e, &f), max64 (t, e->now));
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
  free (m->pool_image);
  free (m->reserved);
  memset (m, 0, sizeof *m);
}

static int
model_alloc (struct model *m, const struct fc_estate *e)
{
  size_t nc = e->n_cmids;

  m->cs = alloc_array (nc, sizeof *m->cs);
  m->pool_image = alloc_array (e->n_pools, sizeof *m->pool_image);
  if ( (NULL == m->cs) || (NULL == m->pool_image) )
    return -1;
  return decommission_list (e, NULL, &m->reserved, &m->n_reserved);
}

/**
 * The image CMID of each pool: the most recently seen CMID of its desktops
 * (ties: the lowest index), which clones of a shared image request again.
 */
static void
model_images (struct model *m)
{
  const struct fc_estate *e = m->e;

  for (size_t q = 0; q < e->n_pools; q++)
    m->pool_image[q] = -1;
  for (size_t i = 0; i < e->n_desktops; i++)
  {
    const struct fc_desktop *d = &e->desktops[i];
    int32_t *img = &m->pool_image[d->pool];

    if ( (d->cmid >= 0) &&
         ( (*img < 0) ||
           (m->cs[d->cmid].last > m->cs[*img].last) ||
           (m->cs[d->cmid].last == m->cs[*img].last && d->cmid < *img) ) )
      *img = d->cmid;
  }
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
    cs->last = last_of (e, &e->cmids[c]);
    cs->next = first_renewal (cs->last, facts_renewal (e, &cs->f), e->now);
    cs->res_stop = NEVER;
    cs->rereq = NEVER;
    cs->left = cs->f.n_active;
    cs->hit = 0;
    cs->tmax = INT64_MIN;
  }
  model_images (m);
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

/**
 * Where a renewing CMID, counted to NEVER when nothing stops it, stops
 * counting when its last active desktop goes at @a t (>= now): from its
 * latest credited renewal + E; with no renewal credited by t, from the end
 * of its last seen request's entry, or from its first renewal when that
 * would have come after a gap (R > E / 2).
 */
static int64_t
stop_end (const struct model *m, int32_t c, int64_t t)
{
  const struct cmid_state *cs = &m->cs[c];

  if (t < cs->next)
    return max64 (cs->next, cs->last + FC_EXPIRY_SECONDS);
  return renewal_by (cs->last, facts_renewal (m->e, &cs->f), t)
         + FC_EXPIRY_SECONDS;
}

/** A change of the count by delta at a time. */
struct tev
{
  int64_t at;
  int64_t delta;
};

/** Up to three intervals [from, to) of time; to may be NEVER. */
struct cover
{
  int64_t from[3];
  int64_t to[3];
  size_t n;
};

static void
cover_add (struct cover *cv, int64_t from, int64_t to)
{
  size_t i = cv->n;

  if (from >= to)
    return;
  /* insertion keeps the intervals sorted by from */
  while (i > 0 && cv->from[i - 1] > from)
  {
    cv->from[i] = cv->from[i - 1];
    cv->to[i] = cv->to[i - 1];
    i--;
  }
  cv->from[i] = from;
  cv->to[i] = to;
  cv->n++;
}

/**
 * The times at which a CMID counts: its last seen request's entry; if it
 * renews, its renewals after now up to the stop @a t (NEVER: through
 * every window); if clones of its image request it from @a rereq, from
 * then on.  Appends the union as +1/-1 events (to NEVER: no -1) to @a ev.
 * @return number of events written (at most 5)
 */
static size_t
coverage (const struct model *m, int32_t c, int64_t t, int64_t rereq,
          struct tev *ev)
{
  const struct cmid_state *cs = &m->cs[c];
  struct cover cv = { .n = 0 };
  size_t n = 0;
  size_t i = 0;

  cover_add (&cv, cs->last, cs->last + FC_EXPIRY_SECONDS);
  if (renewing (m, c) && t >= cs->next)
    cover_add (&cv, cs->next, NEVER == t ? NEVER : stop_end (m, c, t));
  if (NEVER != rereq)
    cover_add (&cv, rereq, NEVER);
  while (i < cv.n)
  {
    int64_t from = cv.from[i];
    int64_t to = cv.to[i];

    for (i++; i < cv.n && cv.from[i] <= to; i++)
      to = max64 (to, cv.to[i]);
    ev[n++] = (struct tev) { from, 1 };
    if (NEVER != to)
      ev[n++] = (struct tev) { to, -1 };
  }
  return n;
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
      expiry[c] = expiry_of (e, &e->cmids[c]);
  }
  model_free (&m);
  return 0;
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
      out[k].at = m->cs[c].tmax;
      k++;
    }
    m->cs[c].hit = 0;
    m->cs[c].tmax = INT64_MIN;
  }
  return k;
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
      latest = max64 (latest, m->cs[d->cmid].last);
  }
  for (size_t i = 0; i < n; i++)
    if (2 == k[i].key)
      k[i].key += (uint64_t) (latest
                              - m->cs[e->desktops[k[i].val].cmid].last);
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


/* ------------------------------------------------------------ prepared */

/**
 * A renewing CMID that taking one candidate stops: the candidate is the
 * last remaining active desktop of the CMID in the candidate order.
 */
struct pstop
{
  uint64_t end;          /* its expiry if stopped at now, as an offset from now */
  int64_t bound;         /* latest reserved decommission of its desktops, or INT64_MIN */
  int32_t pos;           /* position of that candidate in the order */
  int32_t cmid;
};

struct fc_prepared
{
  struct fc_estate e;             /* a copy; the arrays stay the caller's */
  int64_t max_horizon;
  struct model m;                 /* m.e == &e */
  /* figures at now, without any plan */
  int32_t renewing;
  int32_t lapsing;
  int32_t unseen;
  int32_t current_count;
  /* reserved plans (what they do per CMID is in m.cs) */
  int64_t reserved_first;         /* earliest effective time, NEVER if none */
  int64_t *first_shared;          /* per pool: earliest shared-CMID provision */
  size_t n_changed;               /* CMIDs they stop or request again */
  bool any_rereq;                 /* some CMID has cs.rereq */
  /* baseline count (base + reserved plans) after now: events
     {offset from now, delta} at distinct times, ascending, and the raw
     count after each */
  struct kv *ev;
  int64_t *raw;
  size_t n_ev;
  int64_t raw_now;                /* raw baseline count at now */
  /* decommission order: the whole host, then per pool (a stable filter) */
  int32_t *order;
  size_t n_order;
  int32_t *pool_order;
  size_t *pool_off;               /* n_pools + 1 offsets into pool_order */
  /* CMIDs a prefix of the order stops, ascending by end */
  struct pstop *stops;
  size_t n_stops;
  struct pstop *pool_stops;       /* positions within the pool's order */
  size_t *pool_stop_off;          /* n_pools + 1 offsets into pool_stops */
};

/** Appends events of the baseline, folding those at or before now. */
struct evbuf
{
  struct kv *ev;
  size_t n;
  int64_t now;
  int64_t raw_now;
};

static int64_t
clamp_raw (int64_t capacity, int64_t raw)
{
  if (raw < 0)
    return 0;
  return min64 (raw, capacity);
}

/** Latest reserved decommission per CMID, into the tmax scratch. */
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

/** Figures at now that explain the decision, independent of any plan. */
static void
prep_describe_now (struct fc_prepared *p)
{
  const struct fc_estate *e = &p->e;
  const struct model *m = &p->m;
  int64_t raw = 0;

  for (size_t c = 0; c < e->n_cmids; c++)
  {
    /* a renewing CMID whose entry expired before now comes back only at
       its first renewal after now, which is later */
    bool cached = m->cs[c].last + FC_EXPIRY_SECONDS > e->now;

    if (renewing (m, (int32_t) c))
      p->renewing++;
    else if (cached)
      p->lapsing++;
    if (cached)
      raw++;
  }
  for (size_t i = 0; i < e->n_desktops; i++)
    if (FC_ACTIVE == e->desktops[i].state && e->desktops[i].cmid < 0)
      p->unseen++;
  p->current_count = saturate32 (clamp_raw (e->capacity, raw));
}

/**
 * What the reserved plans do on their own: the CMIDs they stop and when
 * (cs.res_stop), the earliest shared-CMID provision per pool, and the
 * image CMIDs those provisions request again (cs.rereq).
 */
static int
prep_reserved (struct fc_prepared *p)
{
  struct model *m = &p->m;
  const struct fc_estate *e = &p->e;
  struct stop *st = alloc_array (m->n_reserved, sizeof *st);
  size_t n;

  p->first_shared = alloc_array (e->n_pools, sizeof *p->first_shared);
  if ( (NULL == st) || (NULL == p->first_shared) )
  {
    free (st);
    return -1;
  }
  n = collect_stops (m, m->reserved, m->n_reserved, st);
  for (size_t i = 0; i < n; i++)
    m->cs[st[i].cmid].res_stop = st[i].at;
  p->n_changed = n;
  free (st);
  p->reserved_first = NEVER;
  for (size_t q = 0; q < e->n_pools; q++)
    p->first_shared[q] = NEVER;
  for (size_t i = 0; i < e->n_reserved; i++)
  {
    const struct fc_plan *r = &e->reserved[i];
    int64_t t = effective_at (e, r);

    p->reserved_first = min64 (p->reserved_first, t);
    for (size_t j = 0; j < r->n_provision; j++)
      if (0 != r->provision[j].count &&
          ! e->pools[r->provision[j].pool].unique_cmids)
        p->first_shared[r->provision[j].pool] =
          min64 (p->first_shared[r->provision[j].pool], t);
  }
  for (size_t q = 0; q < e->n_pools; q++)
  {
    int32_t img = m->pool_image[q];

    if (img >= 0 && NEVER != p->first_shared[q])
    {
      m->cs[img].rereq = min64 (m->cs[img].rereq, p->first_shared[q]);
      p->n_changed++;
      p->any_rereq = true;
    }
  }
  return 0;
}

static void
evbuf_add (struct evbuf *b, int64_t t, int64_t delta)
{
  if (t <= b->now)
  {
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
prep_baseline (struct fc_prepared *p)
{
  const struct fc_estate *e = &p->e;
  const struct model *m = &p->m;
  struct evbuf b = { NULL, 0, e->now, 0 };
  size_t cap = e->n_pools;
  size_t w = 0;

  for (size_t i = 0; i < e->n_reserved; i++)
  {
    if (e->reserved[i].n_provision > SIZE_MAX / 8 - cap ||
        e->reserved[i].n_arrivals > SIZE_MAX / 8 - cap - e->reserved[i].n_provision)
      return -1;
    cap += e->reserved[i].n_provision + e->reserved[i].n_arrivals;
  }
  /* 3 events per CMID (two intervals, the second open), 2 more for one
     that the reserved plans change */
  if (e->n_cmids > (SIZE_MAX / 8 - cap) / 3 ||
      p->n_changed > (SIZE_MAX / 8 - cap) / 2 - e->n_cmids)
    return -1;
  cap += 3 * e->n_cmids + 2 * p->n_changed;
  b.ev = alloc_array (cap, sizeof *b.ev);
  if (NULL == b.ev)
    return -1;
  for (size_t c = 0; c < e->n_cmids; c++)
  {
    struct tev ev[5];
    size_t n = coverage (m, (int32_t) c, m->cs[c].res_stop, m->cs[c].rereq,
                         ev);

    for (size_t i = 0; i < n; i++)
      evbuf_add (&b, ev[i].at, ev[i].delta);
  }
  for (size_t i = 0; i < e->n_reserved; i++)
  {
    const struct fc_plan *r = &e->reserved[i];

    for (size_t j = 0; j < r->n_provision; j++)
      if (0 != r->provision[j].count &&
          e->pools[r->provision[j].pool].unique_cmids)
        evbuf_add (&b, effective_at (e, r), r->provision[j].count);
    for (size_t j = 0; j < r->n_arrivals; j++)
      evbuf_add (&b, max64 (r->arrivals[j], e->now), 1);
  }
  for (size_t q = 0; q < e->n_pools; q++)
    if (NEVER != p->first_shared[q] && m->pool_image[q] < 0)
      evbuf_add (&b, p->first_shared[q], 1);
  p->ev = b.ev;
  p->raw_now = b.raw_now;
  if (0 != radix_sort (b.ev, b.n))
    return -1;
  for (size_t i = 0; i < b.n; i++)
  {
    if (w > 0 && b.ev[w - 1].key == b.ev[i].key)
      b.ev[w - 1].val += b.ev[i].val;
    else
      b.ev[w++] = b.ev[i];
    if (0 == b.ev[w - 1].val)
      w--;
  }
  p->n_ev = w;
  p->raw = alloc_array (w, sizeof *p->raw);
  if (NULL == p->raw)
    return -1;
  for (size_t i = 0; i < w; i++)
    p->raw[i] = (0 == i ? p->raw_now : p->raw[i - 1]) + b.ev[i].val;
  return 0;
}

/** Splits the whole-host order by pool, keeping the order within each. */
static void
prep_pool_orders (struct fc_prepared *p, size_t *fill, int32_t *pool_pos)
{
  const struct fc_estate *e = &p->e;

  for (size_t i = 0; i < p->n_order; i++)
    p->pool_off[e->desktops[p->order[i]].pool + 1]++;
  for (size_t q = 0; q < e->n_pools; q++)
    p->pool_off[q + 1] += p->pool_off[q];
  memcpy (fill, p->pool_off, e->n_pools * sizeof *fill);
  for (size_t i = 0; i < p->n_order; i++)
  {
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
prep_stops (struct fc_prepared *p, int32_t *last, int32_t *pool_of,
            size_t *fill, const int32_t *pool_pos)
{
  struct model *m = &p->m;
  const struct fc_estate *e = &p->e;
  struct kv *k = alloc_array (e->n_cmids, sizeof *k);
  size_t ns = 0;

  if (NULL == k)
    return -1;
  for (size_t c = 0; c < e->n_cmids; c++)
  {
    last[c] = -1;
    pool_of[c] = -1;
  }
  for (size_t i = 0; i < p->n_order; i++)
  {
    const struct fc_desktop *d = &e->desktops[p->order[i]];

    if (d->cmid < 0 || ! renewing (m, d->cmid))
      continue;
    last[d->cmid] = (int32_t) i;
    if (-1 == pool_of[d->cmid] || d->pool == pool_of[d->cmid])
      pool_of[d->cmid] = d->pool;
    else
      pool_of[d->cmid] = -2;
  }
  for (size_t c = 0; c < e->n_cmids; c++)
  {
    if (last[c] < 0)
      continue;
    k[ns].key = (uint64_t) (stop_end (m, (int32_t) c,
                                      max64 (e->now, m->cs[c].tmax))
                            - e->now);
    k[ns].val = (int64_t) c;
    ns++;
  }
  p->stops = alloc_array (ns, sizeof *p->stops);
  p->pool_stops = alloc_array (ns, sizeof *p->pool_stops);
  if ( (NULL == p->stops) || (NULL == p->pool_stops) ||
       (0 != radix_sort (k, ns)) )
  {
    free (k);
    return -1;
  }
  for (size_t j = 0; j < ns; j++)
  {
    int32_t c = (int32_t) k[j].val;

    p->stops[j] = (struct pstop) { k[j].key, m->cs[c].tmax, last[c], c };
    if (pool_of[c] >= 0)
      p->pool_stop_off[pool_of[c] + 1]++;
  }
  p->n_stops = ns;
  free (k);
  for (size_t q = 0; q < e->n_pools; q++)
    p->pool_stop_off[q + 1] += p->pool_stop_off[q];
  memcpy (fill, p->pool_stop_off, e->n_pools * sizeof *fill);
  for (size_t j = 0; j < ns; j++)
  {
    int32_t c = p->stops[j].cmid;

    if (pool_of[c] < 0)
      continue;
    p->pool_stops[fill[pool_of[c]]] = p->stops[j];
    p->pool_stops[fill[pool_of[c]]++].pos = pool_pos[last[c]];
  }
  return 0;
}

static int
prep_candidates (struct fc_prepared *p)
{
  const struct fc_estate *e = &p->e;
  size_t *fill = alloc_array (e->n_pools, sizeof *fill);
  int32_t *pool_pos = NULL;
  int32_t *last = alloc_array (e->n_cmids, sizeof *last);
  int32_t *pool_of = alloc_array (e->n_cmids, sizeof *pool_of);
  int ret = -1;

  p->pool_off = alloc_zeroed (e->n_pools + 1, sizeof *p->pool_off);
  p->pool_stop_off = alloc_zeroed (e->n_pools + 1, sizeof *p->pool_stop_off);
  if ( (NULL == fill) || (NULL == last) || (NULL == pool_of) ||
       (NULL == p->pool_off) || (NULL == p->pool_stop_off) ||
       (0 != order_candidates (&p->m, -1, &p->order, &p->n_order)) )
    goto done;
  p->pool_order = alloc_array (p->n_order, sizeof *p->pool_order);
  pool_pos = alloc_array (p->n_order, sizeof *pool_pos);
  if ( (NULL == p->pool_order) || (NULL == pool_pos) )
    goto done;
  prep_pool_orders (p, fill, pool_pos);
  load_reserved_latest (&p->m);
  ret = prep_stops (p, last, pool_of, fill, pool_pos);
  forget_reserved_latest (&p->m);
done:
  free (fill);
  free (pool_pos);
  free (last);
  free (pool_of);
  return ret;
}

void
fc_prepared_free (struct fc_prepared *p)
{
  if (NULL == p)
    return;
  model_free (&p->m);
  free (p->first_shared);
  free (p->ev);
  free (p->raw);
  free (p->order);
  free (p->pool_order);
  free (p->pool_off);
  free (p->stops);
  free (p->pool_stops);
  free (p->pool_stop_off);
  free (p);
}

int
fc_prepare (const struct fc_estate *e,
            int64_t max_horizon_seconds,
            struct fc_prepared **out)
{
  struct fc_prepared *p;

  if (NULL == out)
    return -1;
  *out = NULL;
  if ( (! estate_ok (e)) || (max_horizon_seconds < 0) ||
       (max_horizon_seconds > FC_TIME_LIMIT) )
    return -1;
  p = calloc (1, sizeof *p);
  if (NULL == p)
    return -1;
  p->e = *e;
  p->max_horizon = max_horizon_seconds;
  if (0 != model_init (&p->m, &p->e))
  {
    free (p);
    return -1;
  }
  prep_describe_now (p);
  if ( (0 != prep_reserved (p)) || (0 != prep_baseline (p)) ||
       (0 != prep_candidates (p)) )
  {
    fc_prepared_free (p);
    return -1;
  }
  *out = p;
  return 0;
}

size_t
fc_pick_decommission_prepared (const struct fc_prepared *p,
                               int32_t pool,
                               int32_t *out,
                               size_t n)
{
  const int32_t *from;
  size_t n_from;

  if ( (NULL == p) || (pool < -1) ||
       (pool >= 0 && ! index_ok (pool, p->e.n_pools)) ||
       (n > 0 && NULL == out) )
    return 0;
  if (pool < 0)
  {
    from = p->order;
    n_from = p->n_order;
  }
  else
  {
    from = p->pool_order + p->pool_off[pool];
    n_from = p->pool_off[pool + 1] - p->pool_off[pool];
  }
  n = n < n_from ? n : n_from;
  if (n > 0)
    memcpy (out, from, n * sizeof *out);
  return n;
}

size_t
fc_pick_decommission (const struct fc_estate *e,
                      int32_t pool,
                      int32_t *out,
                      size_t n)
{
  struct fc_prepared *p;

  if ( (NULL == e) || (pool < -1) ||
       (0 != fc_prepare (e, 0, &p)) )
    return 0;
  n = fc_pick_decommission_prepared (p, pool, out, n);
  fc_prepared_free (p);
  return n;
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

/** One evaluation against a prepared estate; one cleanup frees it all. */
struct call
{
  const struct fc_prepared *p;
  const struct fc_plan *plan;
  int64_t floor;
  int64_t start;                  /* window */
  int64_t end;
  uint64_t start_key;             /* the window as offsets from now */
  uint64_t end_key;
  struct kv *prov;                /* the plan's provisions, relative to the baseline */
  size_t n_prov;
  struct stop *stops;             /* CMIDs the reserved plans and the plan stop */
  size_t n_stops;
  struct change *images;          /* image CMIDs the plan's provisions request */
  size_t n_images;
  struct kv *planned;             /* planned count relative to the baseline */
  size_t n_planned;
  struct kv *minima;
  size_t n_minima;
};

static void
call_free (struct call *x)
{
  free (x->prov);
  free (x->stops);
  free (x->images);
  free (x->planned);
  free (x->minima);
}

/**
 * Merges the baseline with @a delta (sorted by offset) from the window
 * start; *raw receives the raw count at the start.
 */
static void
view_init (const struct call *x, const struct kv *delta, size_t nd,
           struct merge *mg, int64_t *raw)
{
  const struct fc_prepared *p = x->p;
  size_t lo = 0;
  size_t hi = p->n_ev;
  size_t j = 0;

  while (lo < hi)
  {
    size_t mid = lo + (hi - lo) / 2;

    if (p->ev[mid].key <= x->start_key)
      lo = mid + 1;
    else
      hi = mid;
  }
  *raw = 0 == lo ? p->raw_now : p->raw[lo - 1];
  while (j < nd && delta[j].key <= x->start_key)
    *raw += delta[j++].val;
  *mg = (struct merge) { p->ev, p->n_ev, lo, delta, nd, j };
}

static int
trace_step (struct trace *tr, int64_t floor, int64_t at, int64_t count)
{
  if (count < tr->min)
  {
    tr->min = count;
    tr->min_at = at;
  }
  if (count < floor && ! tr->breach)
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
 * The count function of baseline + delta over the window: steps, minimum,
 * first breach.
 */
static int
walk (const struct call *x, const struct kv *delta, size_t nd,
      struct trace *tr)
{
  int64_t capacity = x->p->e.capacity;
  struct merge mg;
  int64_t raw;
  int64_t cur;
  uint64_t key;
  int64_t d;

  view_init (x, delta, nd, &mg, &raw);
  cur = clamp_raw (capacity, raw);
  tr->min = INT64_MAX;
  tr->breach = false;
  if (0 != trace_step (tr, x->floor, x->start, cur))
    return -1;
  while (merge_next (&mg, &key, &d) && key <= x->end_key)
  {
    int64_t next;

    raw += d;
    next = clamp_raw (capacity, raw);
    if (next == cur)
      continue;
    cur = next;
    if (0 != trace_step (tr, x->floor, x->p->e.now + (int64_t) key, cur))
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
suffix_minima (struct call *x, const struct kv *delta, size_t nd)
{
  struct merge mg;
  int64_t raw;
  int64_t later = INT64_MAX;
  struct kv *p;
  size_t n = 0;
  size_t w;
  uint64_t key;
  int64_t d;

  view_init (x, delta, nd, &mg, &raw);
  p = alloc_array ((mg.na - mg.i) + (mg.nb - mg.j) + 1, sizeof *p);
  if (NULL == p)
    return -1;
  while (merge_next (&mg, &key, &d) && key <= x->end_key)
  {
    p[n].key = key - 1;       /* > start_key: events at the start are folded */
    p[n++].val = raw;
    raw += d;
  }
  p[n].key = x->end_key;
  p[n++].val = raw;
  w = n;
  for (size_t i = n; i-- > 0;)
    if (p[i].val < later)
    {
      later = p[i].val;
      p[--w] = p[i];          /* --w >= i: never overwrites an unread point */
    }
  memmove (p, p + w, (n - w) * sizeof *p);
  x->minima = p;
  x->n_minima = n - w;
  return 0;
}


/* ------------------------------------------------ largest decommission */

/** Offset from now of a time in the window's terms: at or before now is 0. */
static uint64_t
offset_of (int64_t now, int64_t t)
{
  return t <= now ? 0 : (uint64_t) (t - now);
}

/** The plan's re-request time of an image CMID, or NEVER. */
static int64_t
plan_rereq (const struct call *x, int32_t c)
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
stop_key (int64_t t, int64_t start, int64_t end)
{
  if (t <= start)
    return 0;
  if (t > end)
    return (uint64_t) (end - start) + 1;
  return (uint64_t) (t - start);
}

/** Position of the (r + 1)-th set bit; it must exist. */
static size_t
select_bit (const uint64_t *bits, const uint32_t *blocks, size_t r)
{
  size_t b = 0;
  size_t w;
  uint64_t word;

  while (blocks[b] <= r)
    r -= blocks[b++];
  w = 8 * b;
  while ((size_t) __builtin_popcountll (bits[w]) <= r)
    r -= (size_t) __builtin_popcountll (bits[w++]);
  word = bits[w];
  while (r-- > 0)
    word &= word - 1;
  return 64 * w + (size_t) __builtin_ctzll (word);
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
select_largest (const struct kv *minima, size_t n_minima,
                const struct pstop *s, size_t ns, size_t n, int64_t floor,
                size_t *result)
{
  uint64_t *bits = NULL;
  uint32_t *blocks = NULL;
  size_t best = n;
  size_t j = 0;
  size_t ins = 0;

  for (size_t i = 0; i < n_minima && best > 0; i++)
  {
    int64_t budget = minima[i].val - floor;
    size_t hi = ns;

    if (budget < 0)
    {
      best = 0;
      break;
    }
    while (j < hi)
    {
      size_t mid = j + (hi - j) / 2;

      if (s[mid].end <= minima[i].key)
        j = mid + 1;
      else
        hi = mid;
    }
    if ((uint64_t) j <= (uint64_t) budget)
      continue;
    if (NULL == bits)
    {
      size_t words = n / 64 + 1;

      bits = alloc_zeroed (words, sizeof *bits);
      blocks = alloc_zeroed (words / 8 + 1, sizeof *blocks);
      if ( (NULL == bits) || (NULL == blocks) )
      {
        free (bits);
        free (blocks);
        return -1;
      }
    }
    for (; ins < j; ins++)
    {
      size_t pos = (size_t) s[ins].pos;

      bits[pos / 64] |= (uint64_t) 1 << (pos % 64);
      blocks[pos / 512]++;
    }
    best = min64 ((int64_t) best,
                  (int64_t) select_bit (bits, blocks, (size_t) budget));
  }
  free (bits);
  free (blocks);
  *result = best;
  return 0;
}

/**
 * The stops of an order for decommissions at @a at other than now: ends
 * recomputed and sorted (only where they fall relative to the window
 * matters), then select_largest().
 */
static int
select_largest_at (const struct call *x, int64_t at, const struct pstop *s,
                   size_t ns, size_t n, size_t *result)
{
  struct kv *k = alloc_array (ns, sizeof *k);
  struct pstop *moved = alloc_array (ns, sizeof *moved);
  int ret = -1;

  if ( (NULL == k) || (NULL == moved) )
    goto done;
  for (size_t j = 0; j < ns; j++)
  {
    int64_t end = stop_end (&x->p->m, s[j].cmid, max64 (at, s[j].bound));

    k[j].key = stop_key (end, x->start, x->end);
    k[j].val = (int64_t) j;
  }
  if (0 != radix_sort (k, ns))
    goto done;
  for (size_t j = 0; j < ns; j++)
  {
    moved[j] = s[k[j].val];
    moved[j].end = x->start_key + k[j].key;
  }
  ret = select_largest (x->minima, x->n_minima, moved, ns, n, x->floor,
                        result);
done:
  free (k);
  free (moved);
  return ret;
}

/** The time from which the probe requests CMID c again, or NEVER. */
static int64_t
probe_rereq (const struct call *x, int32_t c)
{
  return min64 (x->p->m.cs[c].rereq, plan_rereq (x, c));
}

/**
 * Whether a stop of the order is of a CMID that the probe requests again:
 * such a stop removes only [end, re-request), not a suffix of time, which
 * select_largest() relies on.
 */
static bool
stops_rerequested (const struct call *x, const struct pstop *s, size_t ns)
{
  if ( (! x->p->any_rereq) && (0 == x->n_images) )
    return false;
  for (size_t j = 0; j < ns; j++)
    if (NEVER != probe_rereq (x, s[j].cmid))
      return true;
  return false;
}

/**
 * Whether the probe with the stops of the first @a k candidates, taken at
 * @a at, stays at or above the floor over the window.
 */
static int
prefix_go (const struct call *x, const struct pstop *s, size_t ns, int64_t at,
           size_t k, bool *go)
{
  int64_t now = x->p->e.now;
  struct kv *d = alloc_array (x->n_prov + 2 * ns, sizeof *d);
  struct trace tr = { 0 };
  size_t n = x->n_prov;

  if (NULL == d)
    return -1;
  if (n > 0)
    memcpy (d, x->prov, n * sizeof *d);
  for (size_t j = 0; j < ns; j++)
  {
    int64_t end = stop_end (&x->p->m, s[j].cmid, max64 (at, s[j].bound));
    int64_t rereq = probe_rereq (x, s[j].cmid);

    if ((size_t) s[j].pos >= k || rereq <= end)
      continue;
    d[n++] = (struct kv) { offset_of (now, end), -1 };
    if (NEVER != rereq)
      d[n++] = (struct kv) { offset_of (now, rereq), 1 };
  }
  if ( (0 != radix_sort (d, n)) || (0 != walk (x, d, n, &tr)) )
  {
    free (d);
    return -1;
  }
  free (d);
  *go = tr.min >= x->floor;
  return 0;
}

/**
 * Largest k in [0, n] that keeps go, by bisection over prefix_go(): go
 * only turns to no-go as k grows.  O(n log n); used only when a stop is
 * of a CMID that shared-image provisions request again.
 */
static int
bisect_largest (const struct call *x, const struct pstop *s, size_t ns,
                int64_t at, size_t n, size_t *result)
{
  size_t lo = 0;
  size_t hi = n;
  bool go;

  if (0 != prefix_go (x, s, ns, at, 0, &go))
    return -1;
  if (! go)
  {
    *result = 0;
    return 0;
  }
  while (lo < hi)
  {
    size_t mid = lo + (hi - lo + 1) / 2;

    if (0 != prefix_go (x, s, ns, at, mid, &go))
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
static int
largest_safe (const struct call *x, int32_t pool, int64_t at,
              int32_t *result)
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
  if (pool >= 0)
  {
    n = p->pool_off[pool + 1] - p->pool_off[pool];
    s = p->pool_stops + p->pool_stop_off[pool];
    ns = p->pool_stop_off[pool + 1] - p->pool_stop_off[pool];
  }
  if (x->floor <= 0)
  {
    *result = (int32_t) n;
    return 0;
  }
  if (stops_rerequested (x, s, ns))
    ret = bisect_largest (x, s, ns, at, n, &best);
  else if (at == p->e.now)
    ret = select_largest (x->minima, x->n_minima, s, ns, n, x->floor, &best);
  else
    ret = select_largest_at (x, at, s, ns, n, &best);
  if (0 == ret)
    *result = (int32_t) best;
  return ret;
}


/* ----------------------------------------------------------- evaluate */

/**
 * Appends to @a out the change of a CMID's events from its baseline
 * (reserved plans only) to the given stop and re-request times.
 * @return number of events written (at most 10)
 */
static size_t
change_events (const struct fc_prepared *p, int32_t c, int64_t stop,
               int64_t rereq, struct kv *out)
{
  const struct cmid_state *cs = &p->m.cs[c];
  struct tev ev[5];
  size_t n = 0;
  size_t k;

  k = coverage (&p->m, c, cs->res_stop, cs->rereq, ev);
  for (size_t i = 0; i < k; i++)
    out[n++] = (struct kv) { offset_of (p->e.now, ev[i].at), -ev[i].delta };
  k = coverage (&p->m, c, stop, rereq, ev);
  for (size_t i = 0; i < k; i++)
    out[n++] = (struct kv) { offset_of (p->e.now, ev[i].at), ev[i].delta };
  return n;
}

/** Notes an image CMID the plan requests again; pools may share one. */
static void
add_image (struct call *x, int32_t img, int64_t t)
{
  for (size_t i = 0; i < x->n_images; i++)
    if (x->images[i].cmid == img)
      return;                     /* one plan time: the same request */
  x->images[x->n_images++] = (struct change) { img, NEVER, t };
}

/**
 * The plan's provisions as a change of the baseline: new CMIDs of unique
 * pools; for a shared-CMID pool, its image CMID requested again (noted in
 * x->images, applied with the stops), or with no known CMID one new CMID,
 * from the earliest provision of the pool over the plan and the reserved
 * plans.
 */
static int
call_provisions (struct call *x, struct fc_result *out)
{
  const struct fc_prepared *p = x->p;
  const struct fc_plan *plan = x->plan;
  int64_t t = effective_at (&p->e, plan);
  uint64_t key = offset_of (p->e.now, t);
  bool *seen;
  int64_t n_new = 0;
  size_t n = 0;

  if (plan->n_provision > SIZE_MAX / 32 || plan->n_arrivals > SIZE_MAX / 32)
    return -1;
  /* room for the image CMIDs' probe events, added by call_planned() */
  x->prov = alloc_array (12 * plan->n_provision + plan->n_arrivals, sizeof *x->prov);
  x->images = alloc_array (plan->n_provision, sizeof *x->images);
  seen = alloc_zeroed (p->e.n_pools, sizeof *seen);
  if ( (NULL == x->prov) || (NULL == x->images) || (NULL == seen) )
  {
    free (seen);
    return -1;
  }
  for (size_t i = 0; i < plan->n_provision; i++)
  {
    const struct fc_provision *pv = &plan->provision[i];
    int64_t fs = p->first_shared[pv->pool];
    int32_t img = p->m.pool_image[pv->pool];

    if (0 == pv->count)
      continue;
    if (p->e.pools[pv->pool].unique_cmids)
    {
      x->prov[n++] = (struct kv) { key, pv->count };
      n_new += pv->count;
      continue;
    }
    if (seen[pv->pool] || t >= fs)
      continue;
    seen[pv->pool] = true;
    if (img >= 0)
    {
      add_image (x, img, t);
      continue;
    }
    x->prov[n++] = (struct kv) { key, 1 };
    if (NEVER == fs)
      n_new++;
    else
      x->prov[n++] = (struct kv) { offset_of (p->e.now, fs), -1 };
  }
  free (seen);
  for (size_t i = 0; i < plan->n_arrivals; i++)
    x->prov[n++] = (struct kv) { offset_of (p->e.now, plan->arrivals[i]), 1 };
  n_new += (int64_t) plan->n_arrivals;
  x->n_prov = n;
  out->plan_new_cmids = saturate32 (n_new);
  return 0;
}

/**
 * CMIDs whose active desktops the reserved plans and the plan take all:
 * {desktop, time} of both, sorted, each desktop at its earliest time, then
 * {CMID, time} of the renewing ones, sorted and grouped.
 */
static int
call_stops (struct call *x)
{
  const struct fc_prepared *p = x->p;
  const struct fc_plan *plan = x->plan;
  int64_t t = effective_at (&p->e, plan);
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
  l = alloc_array (n, sizeof *l);
  if (NULL == l)
    return -1;
  if (n_res > 0)
    memcpy (l, p->m.reserved, n_res * sizeof *l);
  for (size_t i = 0; i < plan->n_decommission; i++)
    l[n_res + i] = (struct kv) { (uint64_t) plan->decommission[i], t };
  if (0 != radix_sort (l, n))
    goto done;
  for (size_t i = 0; i < n; i++)
  {
    if (w > 0 && l[w - 1].key == l[i].key)
      l[w - 1].val = min64 (l[w - 1].val, l[i].val);
    else
      l[w++] = l[i];
  }
  c = alloc_array (w, sizeof *c);
  x->stops = alloc_array (w, sizeof *x->stops);
  if ( (NULL == c) || (NULL == x->stops) )
    goto done;
  for (size_t i = 0; i < w; i++)
  {
    const struct fc_desktop *d = &p->e.desktops[l[i].key];

    if (FC_ACTIVE == d->state && d->cmid >= 0 && renewing (&p->m, d->cmid))
      c[nc++] = (struct kv) { (uint64_t) d->cmid, l[i].val };
  }
  if (0 != radix_sort (c, nc))
    goto done;
  for (size_t i = 0, j; i < nc; i = j)
  {
    int32_t cmid = (int32_t) c[i].key;
    int64_t tmax = c[i].val;

    for (j = i + 1; j < nc && c[j].key == c[i].key; j++)
      tmax = max64 (tmax, c[j].val);
    if ((int32_t) (j - i) == p->m.cs[cmid].f.n_active &&
        tmax != p->m.cs[cmid].res_stop)
      x->stops[x->n_stops++] = (struct stop) { cmid, tmax };
  }
  ret = 0;
done:
  free (l);
  free (c);
  return ret;
}

/** Notes a CMID that stops only because of the plan, for the reasons. */
static void
note_lapsing (const struct call *x, int32_t c, int64_t stop,
              struct fc_result *out)
{
  const struct cmid_state *cs = &x->p->m.cs[c];
  int64_t expiry = stop < cs->next ? cs->last + FC_EXPIRY_SECONDS
                   : stop_end (&x->p->m, c, stop);

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
call_planned (struct call *x, struct fc_result *out)
{
  const struct fc_prepared *p = x->p;
  size_t n;

  if (x->n_stops + x->n_images > SIZE_MAX / 32 - x->n_prov)
    return -1;
  x->planned = alloc_array (x->n_prov + 10 * (x->n_stops + x->n_images),
                            sizeof *x->planned);
  if (NULL == x->planned)
    return -1;
  if (x->n_prov > 0)
    memcpy (x->planned, x->prov, x->n_prov * sizeof *x->planned);
  n = x->n_prov;
  for (size_t i = 0; i < x->n_stops; i++)
  {
    const struct stop *s = &x->stops[i];
    int64_t rereq = min64 (p->m.cs[s->cmid].rereq, plan_rereq (x, s->cmid));

    if (NEVER == rereq)
      note_lapsing (x, s->cmid, s->at, out);
    n += change_events (p, s->cmid, s->at, rereq, x->planned + n);
  }
  for (size_t i = 0; i < x->n_images; i++)
  {
    const struct change *g = &x->images[i];
    const struct cmid_state *cs = &p->m.cs[g->cmid];
    int64_t rereq = min64 (cs->rereq, g->rereq);
    bool stopped = false;

    for (size_t j = 0; j < x->n_stops && ! stopped; j++)
      stopped = x->stops[j].cmid == g->cmid;
    x->n_prov += change_events (p, g->cmid, cs->res_stop, rereq,
                                x->prov + x->n_prov);
    if (! stopped)
      n += change_events (p, g->cmid, cs->res_stop, rereq, x->planned + n);
  }
  x->n_planned = n;
  if (0 != radix_sort (x->prov, x->n_prov))
    return -1;
  return radix_sort (x->planned, n);
}

static int
call_traces (struct call *x, struct fc_result *out)
{
  struct trace baseline = { 0 };
  struct trace planned = { .want_steps = true };

  if ( (0 != walk (x, NULL, 0, &baseline)) ||
       (0 != walk (x, x->planned, x->n_planned, &planned)) )
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
  out->go = planned.min >= x->floor;
  out->steps = planned.steps;
  out->n_steps = planned.n_steps;
  return 0;
}

static int
call_run (struct call *x, int64_t horizon, int32_t pool,
          struct fc_result *out)
{
  const struct fc_prepared *p = x->p;
  int64_t now = p->e.now;
  int64_t first = p->reserved_first;

  out->floor = saturate32 (x->floor);
  if (NULL != x->plan)
    first = min64 (first, effective_at (&p->e, x->plan));
  x->start = NEVER == first ? now : first;
  x->end = max64 (now + horizon, x->start);
  x->start_key = (uint64_t) (x->start - now);
  x->end_key = (uint64_t) (x->end - now);
  out->window_start = x->start;
  out->window_end = x->end;
  out->renewing = p->renewing;
  out->lapsing = p->lapsing;
  out->unseen = p->unseen;
  out->current_count = p->current_count;
  if ( (NULL != x->plan) &&
       ( (0 != call_provisions (x, out)) || (0 != call_stops (x)) ||
         (0 != call_planned (x, out)) ) )
    return -1;
  if ( (0 != call_traces (x, out)) ||
       (0 != suffix_minima (x, x->prov, x->n_prov)) )
    return -1;
  out->max_decommission_at = NULL == x->plan
                             ? x->start
                             : effective_at (&p->e, x->plan);
  return largest_safe (x, pool, out->max_decommission_at,
                       &out->max_decommission);
}

int
fc_evaluate_prepared (const struct fc_prepared *p,
                      int32_t margin,
                      int64_t horizon_seconds,
                      const struct fc_plan *plan,
                      int32_t max_decommission_pool,
                      struct fc_result *out)
{
  struct call x;
  int ret;

  if (NULL == out)
    return -1;
  memset (out, 0, sizeof *out);
  if ( (NULL == p) || (horizon_seconds < 0) ||
       (horizon_seconds > p->max_horizon) ||
       (NULL != plan && ! plan_ok (&p->e, plan)) ||
       (max_decommission_pool < -1) ||
       (max_decommission_pool >= 0 &&
        ! index_ok (max_decommission_pool, p->e.n_pools)) )
    return -1;
  memset (&x, 0, sizeof x);
  x.p = p;
  x.plan = plan;
  x.floor = (int64_t) p->e.threshold + margin;
  ret = call_run (&x, horizon_seconds, max_decommission_pool, out);
  call_free (&x);
  if (0 != ret)
    fc_result_free (out);
  return ret;
}

int
fc_evaluate (const struct fc_estate *e,
             const struct fc_plan *plan,
             int32_t max_decommission_pool,
             struct fc_result *out)
{
  struct fc_prepared *p;
  int ret;

  if (NULL == out)
    return -1;
  memset (out, 0, sizeof *out);
  if ( (NULL == e) || (max_decommission_pool < -1) ||
       (max_decommission_pool >= 0 &&
        ! index_ok (max_decommission_pool, e->n_pools)) ||
       (0 != fc_prepare (e, e->horizon_seconds, &p)) )
    return -1;
  ret = fc_evaluate_prepared (p, e->margin, e->horizon_seconds, plan,
                              max_decommission_pool, out);
  fc_prepared_free (p);
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
