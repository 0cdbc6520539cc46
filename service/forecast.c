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
#include "forecast_internal.h"

#include <stdlib.h>
#include <string.h>

/**
 * R within 1 .. E (validated on every full evaluation; clamped for the
 * single-CMID helpers).
 */
static int32_t
renewal32(int64_t r)
{
  if (r < 1)
    return 1;
  return (int32_t) min64(r, FC_EXPIRY_SECONDS);
}

static void
facts_init(struct facts *f)
{
  f->min_active_r = INT32_MAX;
  f->max_active_r = 0;
  f->min_any_r = INT32_MAX;
  f->n_active = 0;
  f->n_any = 0;
}

/** Adds one desktop of the CMID; only a desktop that renews counts as active. */
static void
facts_add(struct facts *f, int64_t r, const struct fc_desktop *d)
{
  int32_t r32 = renewal32(r);

  f->n_any++;
  if (r32 < f->min_any_r)
    f->min_any_r = r32;
  if (!renews(d))
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
last_of(const struct fc_estate *e, const struct fc_cmid *c)
{
  return min64(c->last_request, e->now);
}

/**
 * R for a CMID's projected renewals: the largest of its active desktops'
 * (fewer renewals, so the forecast errs low), the host's for a CMID of no
 * desktop (rule (b)).
 */
static int64_t
facts_renewal(const struct fc_estate *e, const struct facts *f)
{
  if (f->n_active > 0)
    return f->max_active_r;
  return renewal32(e->host_renewal_seconds);
}

/**
 * Rule (a): an active desktop carries it and it is within the smallest R
 * of those desktops + grace (the strictest reading of a mixed CMID).
 * Rule (b): a CMID known to no desktop renews only if it has shown that it
 * renews (two requests) and its latest request did not come from a
 * registered desktop, which now carries another CMID: that one replaced it.
 */
static enum fc_status
facts_status(const struct fc_estate *e, const struct facts *f, const struct fc_cmid *c)
{
  int64_t age = e->now - last_of(e, c);

  if (c->renews_elsewhere)
    return FC_LAPSING;
  if (f->n_active > 0 && age <= f->min_active_r + FC_GRACE_SECONDS)
    return FC_RENEWING;
  if (0 == f->n_any && c->request_count >= 2 && !c->last_client_registered
      && age <= renewal32(e->host_renewal_seconds) + FC_GRACE_SECONDS)
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
first_renewal(int64_t last, int64_t r, int64_t now)
{
  return last + ((now - last) / r + 1) * r;
}

/** The latest renewal last + k*R at or before t (t >= last). */
static int64_t
renewal_by(int64_t last, int64_t r, int64_t t)
{
  return last + (t - last) / r * r;
}

/**
 * Collects facts of one CMID by a scan, for the single-CMID helpers; they
 * skip the O(n) validation of the estate, so they check what they use.
 */
static bool
scan_facts(const struct fc_estate *e, int32_t cmid, struct facts *f)
{
  if ((NULL == e) || (!arrays_ok(e)) || (!index_ok(cmid, e->n_cmids)) || (!time_ok(e->now))
      || (!time_ok(e->cmids[cmid].last_request)))
    return false;
  facts_init(f);
  for (size_t i = 0; i < e->n_desktops; i++) {
    const struct fc_desktop *d = &e->desktops[i];

    if (d->cmid == cmid && index_ok(d->pool, e->n_pools))
      facts_add(f, e->pools[d->pool].renewal_seconds, d);
  }
  return true;
}

/** Renewals due before now are never credited, so a stop at now leaves last + E. */
static int64_t
expiry_of(const struct fc_estate *e, const struct fc_cmid *c)
{
  return last_of(e, c) + FC_EXPIRY_SECONDS;
}

enum fc_status
fc_cmid_status(const struct fc_estate *e, int32_t cmid)
{
  struct facts f;

  if (!scan_facts(e, cmid, &f))
    return FC_UNSEEN;
  return facts_status(e, &f, &e->cmids[cmid]);
}

int64_t
fc_cmid_expiry(const struct fc_estate *e, int32_t cmid)
{
  struct facts f;

  if (!scan_facts(e, cmid, &f))
    return 0;
  return expiry_of(e, &e->cmids[cmid]);
}

int64_t
fc_cmid_next_renewal(const struct fc_estate *e, int32_t cmid, int64_t t)
{
  struct facts f;
  int64_t last;

  if ((!scan_facts(e, cmid, &f)) || (!time_ok(t))
      || (FC_RENEWING != facts_status(e, &f, &e->cmids[cmid])))
    return 0;
  last = last_of(e, &e->cmids[cmid]);
  return first_renewal(last, facts_renewal(e, &f), max64(t, e->now));
}

static size_t
reserved_entries(const struct fc_estate *e)
{
  size_t n = 0;

  for (size_t i = 0; i < e->n_reserved; i++)
    n += e->reserved[i].n_decommission;
  return n;
}

static void
gather_decommissions(const struct fc_estate *e, const struct fc_plan *plan, struct kv *out,
                     size_t *n)
{
  int64_t t = effective_at(e, plan);

  for (size_t i = 0; i < plan->n_decommission; i++) {
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
decommission_list(const struct fc_estate *e, const struct fc_plan *plan, struct kv **out,
                  size_t *n_out)
{
  size_t cap = reserved_entries(e) + (NULL == plan ? 0 : plan->n_decommission);
  struct kv *l = alloc_array(cap, sizeof *l);
  size_t n = 0;
  size_t w = 0;

  if (NULL == l)
    return -1;
  for (size_t i = 0; i < e->n_reserved; i++)
    gather_decommissions(e, &e->reserved[i], l, &n);
  if (NULL != plan)
    gather_decommissions(e, plan, l, &n);
  if (0 != radix_sort(l, n)) {
    free(l);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (w > 0 && l[w - 1].key == l[i].key)
      l[w - 1].val = min64(l[w - 1].val, l[i].val);
    else
      l[w++] = l[i];
  }
  *out = l;
  *n_out = w;
  return 0;
}

void
model_free(struct model *m)
{
  free(m->cs);
  free(m->pool_image);
  free(m->reserved);
  memset(m, 0, sizeof *m);
}

static int
model_alloc(struct model *m, const struct fc_estate *e)
{
  size_t nc = e->n_cmids;

  m->cs = alloc_array(nc, sizeof *m->cs);
  m->pool_image = alloc_array(e->n_pools, sizeof *m->pool_image);
  if ((NULL == m->cs) || (NULL == m->pool_image))
    return -1;
  return decommission_list(e, NULL, &m->reserved, &m->n_reserved);
}

/**
 * The image CMID of each pool: the most recently seen CMID of its desktops
 * (ties: the lowest index), which clones of a shared image request again.
 */
static void
model_images(struct model *m)
{
  const struct fc_estate *e = m->e;

  for (size_t q = 0; q < e->n_pools; q++)
    m->pool_image[q] = -1;
  for (size_t i = 0; i < e->n_desktops; i++) {
    const struct fc_desktop *d = &e->desktops[i];
    int32_t *img = &m->pool_image[d->pool];

    if ((d->cmid >= 0)
        && ((*img < 0) || (m->cs[d->cmid].last > m->cs[*img].last)
            || (m->cs[d->cmid].last == m->cs[*img].last && d->cmid < *img)))
      *img = d->cmid;
  }
}

static void
model_statuses(struct model *m)
{
  const struct fc_estate *e = m->e;

  for (size_t c = 0; c < e->n_cmids; c++)
    facts_init(&m->cs[c].f);
  for (size_t i = 0; i < e->n_desktops; i++) {
    const struct fc_desktop *d = &e->desktops[i];

    if (d->cmid >= 0)
      facts_add(&m->cs[d->cmid].f, e->pools[d->pool].renewal_seconds, d);
  }
  for (size_t c = 0; c < e->n_cmids; c++) {
    struct cmid_state *cs = &m->cs[c];

    cs->status = (uint8_t) facts_status(e, &cs->f, &e->cmids[c]);
    cs->last = last_of(e, &e->cmids[c]);
    cs->next = first_renewal(cs->last, facts_renewal(e, &cs->f), e->now);
    cs->res_stop = NEVER;
    cs->rereq = NEVER;
    cs->left = cs->f.n_active;
    cs->hit = 0;
    cs->tmax = INT64_MIN;
  }
  model_images(m);
}

/** Renewing desktops per CMID that no reserved plan takes. */
static void
model_left(struct model *m)
{
  for (size_t i = 0; i < m->n_reserved; i++) {
    const struct fc_desktop *d = &m->e->desktops[m->reserved[i].key];

    if (renews(d) && d->cmid >= 0)
      m->cs[d->cmid].left--;
  }
}

int
model_init(struct model *m, const struct fc_estate *e)
{
  memset(m, 0, sizeof *m);
  m->e = e;
  if (0 != model_alloc(m, e)) {
    model_free(m);
    return -1;
  }
  model_statuses(m);
  model_left(m);
  return 0;
}

/**
 * Where a renewing CMID, counted to NEVER when nothing stops it, stops
 * counting when its last active desktop goes at @a t (>= now): from its
 * latest credited renewal + E; with no renewal credited by t, from the end
 * of its last seen request's entry, or from its first renewal when that
 * would have come after a gap (R > E / 2).
 */
int64_t
stop_end(const struct model *m, int32_t c, int64_t t)
{
  const struct cmid_state *cs = &m->cs[c];

  if (t < cs->next)
    return max64(cs->next, cs->last + FC_EXPIRY_SECONDS);
  return renewal_by(cs->last, facts_renewal(m->e, &cs->f), t) + FC_EXPIRY_SECONDS;
}

/** Up to three intervals [from, to) of time; to may be NEVER. */
struct cover {
  int64_t from[3];
  int64_t to[3];
  size_t n;
};

static void
cover_add(struct cover *cv, int64_t from, int64_t to)
{
  size_t i = cv->n;

  if (from >= to)
    return;
  /* insertion keeps the intervals sorted by from */
  while (i > 0 && cv->from[i - 1] > from) {
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
size_t
coverage(const struct model *m, int32_t c, int64_t t, int64_t rereq, struct tev *ev)
{
  const struct cmid_state *cs = &m->cs[c];
  struct cover cv = { .n = 0 };
  size_t n = 0;
  size_t i = 0;

  cover_add(&cv, cs->last, cs->last + FC_EXPIRY_SECONDS);
  if (renewing(m, c) && t >= cs->next)
    cover_add(&cv, cs->next, NEVER == t ? NEVER : stop_end(m, c, t));
  if (NEVER != rereq)
    cover_add(&cv, rereq, NEVER);
  while (i < cv.n) {
    int64_t from = cv.from[i];
    int64_t to = cv.to[i];

    for (i++; i < cv.n && cv.from[i] <= to; i++)
      to = max64(to, cv.to[i]);
    ev[n++] = (struct tev){ from, 1 };
    if (NEVER != to)
      ev[n++] = (struct tev){ to, -1 };
  }
  return n;
}

int
fc_cmid_survey(const struct fc_estate *e, enum fc_status *status, int64_t *expiry)
{
  struct model m;

  if ((!estate_ok(e)) || (0 != model_init(&m, e)))
    return -1;
  for (size_t c = 0; c < e->n_cmids; c++) {
    enum fc_status s = (enum fc_status) m.cs[c].status;

    if (NULL != status)
      status[c] = s;
    if (NULL != expiry)
      expiry[c] = expiry_of(e, &e->cmids[c]);
  }
  model_free(&m);
  return 0;
}

/**
 * Renewing CMIDs all of whose active desktops are in @a list (sorted
 * {desktop, time}, each desktop once): they stop renewing with the latest
 * of those decommissions.  @a out has room for @a n entries.
 */
size_t
collect_stops(struct model *m, const struct kv *list, size_t n, struct stop *out)
{
  const struct fc_desktop *ds = m->e->desktops;
  size_t k = 0;

  for (size_t i = 0; i < n; i++) {
    const struct fc_desktop *d = &ds[list[i].key];

    if (!renews(d) || d->cmid < 0 || !renewing(m, d->cmid))
      continue;
    m->cs[d->cmid].hit++;
    m->cs[d->cmid].tmax = max64(m->cs[d->cmid].tmax, list[i].val);
  }
  for (size_t i = 0; i < n; i++) {
    int32_t c = ds[list[i].key].cmid;

    if (c < 0 || 0 == m->cs[c].hit)
      continue;
    if (m->cs[c].hit == m->cs[c].f.n_active) {
      out[k].cmid = c;
      out[k].at = m->cs[c].tmax;
      k++;
    }
    m->cs[c].hit = 0;
    m->cs[c].tmax = INT64_MIN;
  }
  return k;
}
