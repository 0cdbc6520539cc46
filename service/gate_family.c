/**
 * @file gate_family.c
 * @brief The hosts of one family an evaluation reads, and the desktops it
 *        picks over them (docs/model.md §6.6):
 *        every host keeps its own count, but a desktop's status and latest
 *        request come from its CMID's requests on every host of the family,
 *        so the order of a pick does not depend on which host asked.
 */
#include "gate_family_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_desktops.h"
#include "db_pools.h"

enum kg_qs
fam_get(struct kg_family *f, const char *name, int *out)
{
  struct kg_host_row row;
  bool found;

  *out = -1;
  for (size_t i = 0; i < f->n; i++)
    if (0 == strcmp(f->h[i].use.view.host.name, name)) {
      *out = (int) i;
      return KG_QS_OK;
    }
  if (KG_FAMILY_HOSTS == f->n) {
    f->more = true;
    return KG_QS_OK;
  }
  enum kg_qs qs = kg_db_host_row(f->db, name, f->lock, &row, &found);
  if (KG_QS_OK != qs || !found)
    return qs;
  if (f->n > 0 && 0 != strcmp(row.family, f->h[0].use.view.host.family))
    return KG_QS_OK; /* another product: not one of this family's hosts */
  struct kg_family_host *h = &f->h[f->n++];
  memset(h, 0, sizeof(*h));
  qs = kg_estate_acquire(f->db, &row, f->fit, f->now, f->horizon_seconds, &h->use);
  if (KG_QS_OK == qs)
    *out = (int) (f->n - 1);
  return qs;
}

enum kg_qs
kg_family_open(struct kg_family *f, struct kg_db *db, const char *host, int64_t now,
               int64_t horizon_seconds, bool lock, enum kg_estate_fit fit)
{
  int i;

  memset(f, 0, sizeof(*f));
  f->db = db;
  f->now = now;
  f->horizon_seconds = horizon_seconds;
  f->lock = lock;
  f->fit = fit;
  enum kg_qs qs = fam_get(f, host, &i);
  return (KG_QS_OK == qs && i < 0) ? KG_QS_INTERNAL_ERROR : qs;
}

void
kg_family_close(struct kg_family *f)
{
  for (size_t i = 0; i < f->n; i++) {
    kg_estate_release(&f->h[i].use);
    free(f->h[i].status);
    free(f->h[i].left);
    if (f->h[i].evaluated)
      fc_result_free(&f->h[i].r);
  }
  free(f->held);
  memset(f, 0, sizeof(*f));
}

static int
compare_ids(const void *a, const void *b)
{
  long long x = *(const long long *) a, y = *(const long long *) b;
  return (x > y) - (x < y);
}

/** The desktops the reserved plans of every host read so far hold. */
static int
held_build(struct kg_family *f)
{
  size_t n = 0;

  if (f->held_hosts == f->n && NULL != f->held)
    return 0;
  for (size_t i = 0; i < f->n; i++)
    for (size_t p = 0; p < f->h[i].use.view.model.n_reserved; p++)
      n += f->h[i].use.view.reserved[p].n_decommission;
  free(f->held);
  f->held = malloc((n + 1) * sizeof(*f->held));
  if (NULL == f->held)
    return -1;
  f->n_held = 0;
  for (size_t i = 0; i < f->n; i++) {
    const struct kg_estate *es = &f->h[i].use.view;
    for (size_t p = 0; p < es->model.n_reserved; p++)
      for (size_t k = 0; k < es->reserved[p].n_decommission; k++)
        f->held[f->n_held++] = es->desktop_ids[es->reserved[p].decommission[k]];
  }
  qsort(f->held, f->n_held, sizeof(*f->held), compare_ids);
  f->held_hosts = f->n;
  return 0;
}

bool
fam_held(const struct kg_family *f, long long id)
{
  return NULL != bsearch(&id, f->held, f->n_held, sizeof(*f->held), compare_ids);
}

/** Status of each CMID on the host, and the active unheld desktops carrying it. */
static int
survey(struct kg_family *f, struct kg_family_host *h)
{
  const struct kg_estate *es = &h->use.view;

  if (NULL != h->status && h->survey_hosts == f->n)
    return 0;
  free(h->status);
  free(h->left);
  h->status = calloc(es->model.n_cmids + 1, sizeof(*h->status));
  h->left = calloc(es->model.n_cmids + 1, sizeof(*h->left));
  if (NULL == h->status || NULL == h->left || 0 != fc_cmid_survey(&es->model, h->status, NULL))
    return -1;
  for (size_t d = 0; d < es->model.n_desktops; d++)
    if (FC_ACTIVE == es->desktops[d].state && es->desktops[d].cmid >= 0
        && !fam_held(f, es->desktop_ids[d]))
      h->left[es->desktops[d].cmid]++;
  h->survey_hosts = f->n;
  return 0;
}

int32_t
fam_cached(const struct kg_family *f, const struct kg_family_host *h, const char *hostname)
{
  const struct kg_estate *es = &h->use.view;
  int32_t d = kg_estate_desktop_index(es, hostname);
  int32_t c = d >= 0 ? es->desktops[d].cmid : -1;

  return (c >= 0 && es->cmids[c].last_request + FC_EXPIRY_SECONDS > f->now) ? c : -1;
}

/**
 * Whether another host may cache the CMID of desktop @a c: its host's
 * estate says so (cmid_elsewhere), or does not cache the desktop's CMID.
 */
static bool
may_be_elsewhere(const struct kg_family *f, const struct fam_desk *c)
{
  const struct kg_estate *es = &f->h[c->reg].use.view;
  int32_t d = kg_estate_desktop_index(es, c->hostname);

  if (d < 0 || es->desktop_cmid_away[d])
    return true;
  return es->desktops[d].cmid >= 0 && es->cmid_elsewhere[es->desktops[d].cmid];
}

enum kg_qs
fam_load_caching(struct kg_family *f, const struct fam_desk *c, size_t n)
{
  struct kg_host_names names = { .n = 0 };
  long long *ids = malloc((n + 1) * sizeof(*ids)), none = 0;
  size_t m = 0;
  int i;

  if (NULL == ids)
    return KG_QS_INTERNAL_ERROR;
  /* only desktops whose CMID may be cached on another host need the query */
  for (size_t k = 0; k < n; k++)
    if (may_be_elsewhere(f, &c[k]))
      ids[m++] = c[k].id;
  enum kg_qs qs = m > 0 ? kg_db_plan_other_hosts(f->db, f->h[0].use.view.host.id, ids, m, &none, 0,
                                                 f->now, &names)
                        : KG_QS_OK;
  free(ids);
  for (size_t k = 0; k < names.n && KG_QS_OK == qs; k++)
    qs = fam_get(f, names.name[k], &i);
  if (names.more)
    f->more = true;
  return qs;
}

/** Shared first, then lapsing or unseen, each by hostname; then latest request first. */
static int
compare_desks(const void *pa, const void *pb)
{
  const struct fam_desk *a = pa, *b = pb;

  if (a->group != b->group)
    return a->group - b->group;
  if (2 == a->group && a->latest != b->latest)
    return a->latest > b->latest ? -1 : 1;
  return strcmp(a->hostname, b->hostname);
}

/** Group and latest request of one candidate over every host read. */
static void
classify(const struct kg_family *f, struct fam_desk *d)
{
  bool shared = false, renewing = false;

  d->latest = INT64_MIN;
  for (size_t i = 0; i < f->n; i++) {
    const struct kg_family_host *h = &f->h[i];
    const struct kg_estate *es = &h->use.view;
    int32_t k = kg_estate_desktop_index(es, d->hostname);
    int32_t c = k >= 0 ? es->desktops[k].cmid : -1;
    if (c < 0)
      continue;
    shared = shared || h->left[c] >= 2;
    renewing = renewing || FC_RENEWING == h->status[c];
    if (es->cmids[c].last_request > d->latest)
      d->latest = es->cmids[c].last_request;
  }
  d->group = shared ? 0 : renewing ? 2 : 1;
}

enum kg_qs
fam_rank(struct kg_family *f, struct fam_desk *c, size_t n)
{
  enum kg_qs qs = fam_load_caching(f, c, n);

  if (KG_QS_OK != qs)
    return qs;
  if (0 != held_build(f))
    return KG_QS_INTERNAL_ERROR;
  for (size_t i = 0; i < f->n; i++)
    if (0 != survey(f, &f->h[i]))
      return KG_QS_INTERNAL_ERROR;
  for (size_t i = 0; i < n; i++)
    classify(f, &c[i]);
  qsort(c, n, sizeof(*c), compare_desks);
  return KG_QS_OK;
}

/** Adds the active unheld desktops of host @a hi (of @a pool, or all) to @a c. */
static int
add_candidates(struct kg_family *f, int hi, int32_t pool, struct fam_desk **c, size_t *n)
{
  const struct kg_estate *es = &f->h[hi].use.view;
  struct fam_desk *grown = realloc(*c, (*n + es->model.n_desktops + 1) * sizeof(**c));

  if (NULL == grown)
    return -1;
  *c = grown;
  /* clang-format off */
  for (size_t d = 0; d < es->model.n_desktops; d++)
    if (FC_ACTIVE == es->desktops[d].state && (pool < 0 || es->desktops[d].pool == pool)
        && !fam_held(f, es->desktop_ids[d]))
      (*c)[(*n)++] = (struct fam_desk){ .id = es->desktop_ids[d],
                                        .hostname = es->desktop_hostnames[d], .reg = hi };
  /* clang-format on */
  return 0;
}

static int
compare_desk_ids(const void *a, const void *b)
{
  return compare_ids(&((const struct fam_desk *) a)->id, &((const struct fam_desk *) b)->id);
}

/** Keeps each desktop once (several hosts hold the same desktop). */
static void
unique_desks(struct fam_desk *c, size_t *n)
{
  size_t k = 0;

  qsort(c, *n, sizeof(*c), compare_desk_ids);
  for (size_t i = 0; i < *n; i++)
    if (0 == k || c[k - 1].id != c[i].id)
      c[k++] = c[i];
  *n = k;
}

enum kg_qs
fam_candidates(struct kg_family *f, const char *pool, const bool *hosts, struct fam_desk **c,
               size_t *n)
{
  char host[254];
  bool found;
  int hi;

  *c = NULL;
  *n = 0;
  if (0 != held_build(f))
    return KG_QS_INTERNAL_ERROR;
  if (NULL != pool) {
    /* every desktop of a pool is registered on its own host */
    enum kg_qs qs = kg_db_pool_host_name(f->db, pool, host, &found);
    if (KG_QS_OK == qs && found)
      qs = fam_get(f, host, &hi);
    if (KG_QS_OK != qs || !found || hi < 0)
      return qs;
    if (0 != held_build(f))
      return KG_QS_INTERNAL_ERROR;
    int32_t p = kg_estate_pool_index(&f->h[hi].use.view, pool);
    if (p >= 0 && 0 != add_candidates(f, hi, p, c, n))
      return KG_QS_INTERNAL_ERROR;
    return fam_rank(f, *c, *n);
  }
  for (size_t i = 0, had = f->n; i < had; i++)
    if (hosts[i] && 0 != add_candidates(f, (int) i, -1, c, n))
      return KG_QS_INTERNAL_ERROR;
  unique_desks(*c, n);
  return fam_rank(f, *c, *n);
}

int
fam_evaluate(const struct kg_family *f, const struct fam_eval *ev, struct kg_family_host *h,
             const struct fam_desk *picks, size_t k, struct fc_result *r)
{
  const struct kg_estate *es = &h->use.view;
  struct fc_provision *prov = calloc(ev->n_prov + 1, sizeof(*prov));
  int32_t *d = malloc((k + 1) * sizeof(*d));
  size_t n = 0, np = 0;
  int rc = -1;

  memset(r, 0, sizeof(*r));
  if (NULL != d && NULL != prov) {
    for (size_t i = 0; i < k; i++) {
      int32_t x = kg_estate_desktop_index(es, picks[i].hostname);
      if (x >= 0)
        d[n++] = x;
    }
    for (size_t i = 0; i < ev->n_prov; i++) {
      int32_t pool = kg_estate_pool_index(es, ev->prov[i].pool);
      int share = pool >= 0 ? kg_gate_provision_share(es, pool, ev->prov[i].count) : 0;
      if (share > 0)
        prov[np++] = (struct fc_provision){ pool, share };
    }
    /* clang-format off */
    struct fc_plan plan = { .at = ev->at, .n_decommission = n, .decommission = d,
                            .n_provision = np, .provision = prov };
    /* clang-format on */
    rc = kg_estate_evaluate(&h->use, kg_estate_margin(&h->use, ev->has_margin, ev->margin), &plan,
                            -1, r);
  }
  (void) f;
  free(d);
  free(prov);
  return rc;
}

/** Largest k in [0, n] with the first k of @a order at go on @a h; -1 when even 0 is no-go. */
static int
largest_on(const struct kg_family *f, const struct fam_eval *ev, struct kg_family_host *h,
           const struct fam_desk *order, size_t n, long *out)
{
  struct fc_result r;
  size_t lo = 0, hi = n;
  bool go;

  if (0 != fam_evaluate(f, ev, h, order, 0, &r)) {
    fc_result_free(&r);
    return -1;
  }
  go = r.go;
  fc_result_free(&r);
  *out = -1;
  if (!go)
    return 0;
  while (lo < hi) { /* go only turns to no-go as k grows */
    size_t mid = lo + (hi - lo + 1) / 2;
    int rc = fam_evaluate(f, ev, h, order, mid, &r);
    go = r.go;
    fc_result_free(&r);
    if (0 != rc)
      return -1;
    if (go)
      lo = mid;
    else
      hi = mid - 1;
  }
  *out = (long) lo;
  return 0;
}

enum kg_qs
fam_largest(struct kg_family *f, const struct fam_eval *ev, const struct fam_desk *order, size_t n,
            int32_t *out)
{
  size_t best = n;

  *out = 0;
  if (f->more)
    return KG_QS_OK;
  for (size_t i = 0; i < f->n && best > 0; i++) {
    struct kg_family_host *h = &f->h[i];
    size_t j = 0; /* the first pick that touches h */
    long k;
    while (j < n && fam_cached(f, h, order[j].hostname) < 0)
      j++;
    if (!h->touched && j == n)
      continue;
    if (0 != largest_on(f, ev, h, order, n, &k))
      return KG_QS_INTERNAL_ERROR;
    /* a host the plan does not touch matters only from the first pick that does */
    size_t allowed = h->touched ? (k < 0 ? 0 : (size_t) k) : (k > (long) j ? (size_t) k : j);
    if (allowed < best)
      best = allowed;
  }
  *out = (int32_t) best;
  return KG_QS_OK;
}

bool
fam_alone(const struct kg_family *f, int hi)
{
  const struct kg_estate *es = &f->h[hi].use.view;

  if (f->more)
    return false;
  for (size_t d = 0; d < es->model.n_desktops; d++) {
    int32_t c = es->desktops[d].cmid;
    if (FC_ACTIVE == es->desktops[d].state
        && ((c >= 0 && es->cmid_elsewhere[c]) || es->desktop_cmid_away[d]))
      return false;
  }
  return true;
}

enum kg_qs
kg_family_headroom(struct kg_family *f, const char *pool, int64_t at, int32_t own, int32_t *k)
{
  bool hosts[KG_FAMILY_HOSTS] = { true };
  struct fam_eval ev = { .at = at };
  struct fam_desk *c;
  size_t n;

  f->h[0].touched = true;
  if (NULL == pool && fam_alone(f, 0)) {
    *k = own; /* the family's order of the host's desktops is its own */
    return KG_QS_OK;
  }
  enum kg_qs qs = fam_candidates(f, pool, hosts, &c, &n);
  if (KG_QS_OK == qs)
    qs = fam_largest(f, &ev, c, n, k);
  free(c);
  return qs;
}

void
kg_family_answer_free(struct kg_family_answer *a)
{
  json_decref(a->doc);
  free(a->desktop_ids);
  memset(a, 0, sizeof(*a));
}
