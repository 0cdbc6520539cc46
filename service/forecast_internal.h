/**
 * @file forecast_internal.h
 * @brief What the files of the count model share (forecast.h is the
 *        model's public face): the per-CMID tables, the prepared estate, one
 *        evaluation's state, and the helpers more than one stage uses.
 *
 * The stages: forecast_base.c (allocation, radix sort, input checks),
 * forecast.c (CMID status, the model tables, coverage and stops),
 * forecast_order.c (the decommission order), forecast_prepare.c (what
 * depends on the estate only), forecast_evaluate.c (one plan against a
 * prepared estate) and forecast_select.c (the largest safe decommission).
 */
#ifndef KG_FORECAST_INTERNAL_H
#define KG_FORECAST_INTERNAL_H

#include "forecast.h"

/**
 * Whether a desktop renews its CMID: active and not reported powered off
 * (docs/model.md §3.3, rule (a)). Every count of a CMID's active
 * desktops (facts, `left`, the stops of a plan) counts these only.
 */
static inline bool
renews(const struct fc_desktop *d)
{
  return FC_ACTIVE == d->state && !d->powered_off;
}

/** End of an interval that outlasts every window; never a valid input time. */
#define NEVER INT64_MAX

/**
 * Sort key with a payload (event: offset and delta; decommission: desktop
 * and time).
 */
struct kv {
  uint64_t key;
  int64_t val;
};

/** What the desktops linked to one CMID say about it; R fits 32 bits as R <= E. */
struct facts {
  int32_t min_active_r; /* INT32_MAX while no active desktop */
  int32_t max_active_r;
  int32_t min_any_r; /* INT32_MAX while no desktop */
  int32_t n_active;  /* desktops that renew it (renews()) */
  int32_t n_any;
};

/** Per-CMID state in one record (the scratch fields are used by fc_prepare() only). */
struct cmid_state {
  int64_t last;     /* latest request, at most now (clock skew) */
  int64_t next;     /* first renewal after now, if renewing */
  int64_t res_stop; /* when the reserved plans stop it, or NEVER */
  int64_t rereq;    /* earliest reserved shared-image provision, or NEVER */
  int64_t tmax;     /* scratch: INT64_MIN between uses */
  struct facts f;
  int32_t left;   /* renewing desktops (renews()) no reserved plan takes */
  int32_t hit;    /* scratch: 0 between uses */
  uint8_t status; /* enum fc_status */
};

/** Tables derived from the estate and its reserved plans; read-only once prepared. */
struct model {
  const struct fc_estate *e;
  struct cmid_state *cs; /* per CMID */
  int32_t *pool_image;   /* per pool: its most recently seen CMID, or -1 */
  struct kv *reserved;   /* reserved decommissions {desktop, time} */
  size_t n_reserved;
};

/** A renewing CMID whose last active desktop goes at `at`. */
struct stop {
  int32_t cmid;
  int64_t at;
};

/**
 * What a plan does to one CMID: its last active desktop goes at `stop`,
 * and clones of its image request it again from `rereq` (NEVER: not).
 */
struct change {
  int32_t cmid;
  int64_t stop;
  int64_t rereq;
};

/** Minimum, first breach and (optionally) steps of one count function. */
struct trace {
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
struct merge {
  const struct kv *a;
  size_t na;
  size_t i;
  const struct kv *b;
  size_t nb;
  size_t j;
};

/** A desktop whose hostname tied on its sort key, compared on the rest of it. */
struct named {
  const char *rest;
  int32_t desktop;
};

/** A change of the count by delta at a time. */
struct tev {
  int64_t at;
  int64_t delta;
};

/**
 * A renewing CMID that taking one candidate stops: the candidate is the
 * last remaining active desktop of the CMID in the candidate order.
 */
struct pstop {
  uint64_t end;  /* its expiry if stopped at now, as an offset from now */
  int64_t bound; /* latest reserved decommission of its desktops, or INT64_MIN */
  int32_t pos;   /* position of that candidate in the order */
  int32_t cmid;
};

struct fc_prepared {
  struct fc_estate e; /* a copy; the arrays stay the caller's */
  int64_t max_horizon;
  struct model m; /* m.e == &e */
  /* figures at now, without any plan */
  int32_t renewing;
  int32_t lapsing;
  int32_t unseen;
  int32_t current_count;
  /* reserved plans (what they do per CMID is in m.cs) */
  int64_t reserved_first; /* earliest effective time, NEVER if none */
  int64_t *first_shared;  /* per pool: earliest shared-CMID provision */
  size_t n_changed;       /* CMIDs they stop or request again */
  bool any_rereq;         /* some CMID has cs.rereq */
  /* baseline count (base + reserved plans) after now: events
     {offset from now, delta} at distinct times, ascending, and the raw
     count after each */
  struct kv *ev;
  int64_t *raw;
  size_t n_ev;
  int64_t raw_now; /* raw baseline count at now */
  /* decommission order: the whole host, then per pool (a stable filter) */
  int32_t *order;
  size_t n_order;
  int32_t *pool_order;
  size_t *pool_off; /* n_pools + 1 offsets into pool_order */
  /* CMIDs a prefix of the order stops, ascending by end */
  struct pstop *stops;
  size_t n_stops;
  struct pstop *pool_stops; /* positions within the pool's order */
  size_t *pool_stop_off;    /* n_pools + 1 offsets into pool_stops */
};

/** One evaluation against a prepared estate; one cleanup frees it all. */
struct call {
  const struct fc_prepared *p;
  const struct fc_plan *plan;
  int64_t floor;
  int64_t start; /* window */
  int64_t end;
  uint64_t start_key; /* the window as offsets from now */
  uint64_t end_key;
  struct kv *prov; /* the plan's provisions, relative to the baseline */
  size_t n_prov;
  struct stop *stops; /* CMIDs the reserved plans and the plan stop */
  size_t n_stops;
  struct change *images; /* image CMIDs the plan's provisions request */
  size_t n_images;
  struct kv *planned; /* planned count relative to the baseline */
  size_t n_planned;
  struct kv *minima;
  size_t n_minima;
};

/* ------------------------------------------------------- small helpers */

static inline int64_t
max64(int64_t a, int64_t b)
{
  return a > b ? a : b;
}

static inline int64_t
min64(int64_t a, int64_t b)
{
  return a < b ? a : b;
}

static inline int32_t
saturate32(int64_t v)
{
  if (v > INT32_MAX)
    return INT32_MAX;
  if (v < INT32_MIN)
    return INT32_MIN;
  return (int32_t) v;
}

static inline const char *
host_of(const struct fc_desktop *d)
{
  return NULL == d->hostname ? "" : d->hostname;
}

/** Plans never act before now: a plan in the past means "now". */
static inline int64_t
effective_at(const struct fc_estate *e, const struct fc_plan *p)
{
  return max64(p->at, e->now);
}

static inline bool
time_ok(int64_t t)
{
  return t >= -FC_TIME_LIMIT && t <= FC_TIME_LIMIT;
}

static inline bool
index_ok(int32_t i, size_t n)
{
  return i >= 0 && (size_t) i < n;
}

static inline bool
renewing(const struct model *m, int32_t c)
{
  return FC_RENEWING == m->cs[c].status;
}

/** Offset from now of a time in the window's terms: at or before now is 0. */
static inline uint64_t
offset_of(int64_t now, int64_t t)
{
  return t <= now ? 0 : (uint64_t) (t - now);
}

/* ---------------------------------------------- shared between stages */

/* forecast_base.c */

/**
 * malloc() of n elements that never asks for 0 bytes, so NULL always means
 * failure.
 */
void *alloc_array(size_t n, size_t size);

void *alloc_zeroed(size_t n, size_t size);

/**
 * Stable LSD radix sort by key.  Linear time keeps a 100k-CMID evaluation
 * far below the latency budget where qsort()'s callbacks would dominate;
 * keys are small offsets, so only the digits up to the highest set bit
 * are sorted (two passes for a 45-day window).
 */
int radix_sort(struct kv *a, size_t n);

bool plan_ok(const struct fc_estate *e, const struct fc_plan *p);

bool arrays_ok(const struct fc_estate *e);

bool estate_ok(const struct fc_estate *e);

/* forecast.c */

void model_free(struct model *m);

int model_init(struct model *m, const struct fc_estate *e);

/**
 * Where a renewing CMID, counted to NEVER when nothing stops it, stops
 * counting when its last active desktop goes at @a t (>= now): from its
 * latest credited renewal + E; with no renewal credited by t, from the end
 * of its last seen request's entry, or from its first renewal when that
 * would have come after a gap (R > E / 2).
 */
int64_t stop_end(const struct model *m, int32_t c, int64_t t);

/**
 * The times at which a CMID counts: its last seen request's entry; if it
 * renews, its renewals after now up to the stop @a t (NEVER: through
 * every window); if clones of its image request it from @a rereq, from
 * then on.  Appends the union as +1/-1 events (to NEVER: no -1) to @a ev.
 * @return number of events written (at most 5)
 */
size_t coverage(const struct model *m, int32_t c, int64_t t, int64_t rereq, struct tev *ev);

/**
 * Renewing CMIDs all of whose active desktops are in @a list (sorted
 * {desktop, time}, each desktop once): they stop renewing with the latest
 * of those decommissions.  @a out has room for @a n entries.
 */
size_t collect_stops(struct model *m, const struct kv *list, size_t n, struct stop *out);

/* forecast_order.c */

/** Desktops in decommission order; *out is malloc'ed. */
int order_candidates(const struct model *m, int32_t pool, int32_t **out, size_t *n_out);

/* forecast_prepare.c */

int64_t clamp_raw(int64_t capacity, int64_t raw);

/* forecast_evaluate.c */

/**
 * The count function of baseline + delta over the window: steps, minimum,
 * first breach.
 */
int walk(const struct call *x, const struct kv *delta, size_t nd, struct trace *tr);

/* forecast_select.c */

/** The plan's re-request time of an image CMID, or NEVER. */
int64_t plan_rereq(const struct call *x, int32_t c);

/**
 * Largest k that keeps go.  Taking one more desktop never raises
 * count(t).  A floor above the capacity is never reached, one at or below
 * 0 always is; otherwise the clamp does not change whether the raw count
 * reaches the floor.
 */
int largest_safe(const struct call *x, int32_t pool, int64_t at, int32_t *result);

#endif
