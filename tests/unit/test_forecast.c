/**
 * @file test_forecast.c
 * @brief The count model: worked examples of docs/model.md §4, each
 *        rule of section 3 alone, a randomized comparison against a naive
 *        reference model, and invariants of a 100k-CMID estate.
 *
 * All times are relative to NOW = 2026-12-01T00:00:00Z (1796083200).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "forecast.h"
#include "xorshift.h"

#define NOW ((int64_t) 1796083200) /* 2026-12-01T00:00:00Z */
#define HOUR ((int64_t) 3600)
#define DAY ((int64_t) 86400)
#define WEEK (7 * DAY)
#define E FC_EXPIRY_SECONDS
#define DEC29 ((int64_t) 1798502400) /* 2026-12-29T00:00:00Z */
#define DEC10 ((int64_t) 1796860800) /* 2026-12-10T00:00:00Z */
#define NOV10 ((int64_t) 1794268800) /* 2026-11-10T00:00:00Z */
#define MAXN 512
/* Estates per randomized test; KG_MODEL_ITERATIONS sets it (the test
   command's long form runs 10,000). */
static int random_iterations = 400;
#define MAXPLANS 4

/** A small estate under construction; e's arrays point into it. */
struct fx {
  struct fc_estate e;
  struct fc_cmid cmids[MAXN];
  struct fc_pool pools[8];
  struct fc_desktop desktops[MAXN];
  char names[MAXN][32];
  struct fc_plan reserved[MAXPLANS];
  int32_t res_dec[MAXPLANS][MAXN];
  struct fc_provision res_prov[MAXPLANS][8];
};

static struct fx *
fx_new(int32_t capacity, int32_t threshold)
{
  struct fx *f = calloc(1, sizeof *f);

  assert_non_null(f);
  f->e.now = NOW;
  f->e.capacity = capacity;
  f->e.threshold = threshold;
  f->e.margin = 0;
  f->e.host_renewal_seconds = WEEK;
  f->e.horizon_seconds = 45 * DAY;
  f->e.cmids = f->cmids;
  f->e.pools = f->pools;
  f->e.desktops = f->desktops;
  f->e.reserved = f->reserved;
  return f;
}

static int32_t
fx_pool(struct fx *f, int64_t r, bool unique)
{
  size_t i = f->e.n_pools++;

  f->pools[i].renewal_seconds = r;
  f->pools[i].unique_cmids = unique;
  return (int32_t) i;
}

static int32_t
fx_cmid(struct fx *f, int64_t last, int32_t count)
{
  size_t i = f->e.n_cmids++;

  assert_true(i < MAXN);
  f->cmids[i].last_request = last;
  f->cmids[i].request_count = count;
  return (int32_t) i;
}

static int32_t
fx_desktop(struct fx *f, int32_t pool, int32_t cmid, enum fc_desktop_state state)
{
  size_t i = f->e.n_desktops++;

  assert_true(i < MAXN);
  snprintf(f->names[i], sizeof f->names[i], "vdi-%04zu.corp.example", i);
  f->desktops[i].hostname = f->names[i];
  f->desktops[i].pool = pool;
  f->desktops[i].cmid = cmid;
  f->desktops[i].state = state;
  return (int32_t) i;
}

/** An active desktop with its own CMID seen last at @a last. */
static int32_t
fx_unique(struct fx *f, int32_t pool, int64_t last)
{
  return fx_desktop(f, pool, fx_cmid(f, last, 10), FC_ACTIVE);
}

static struct fc_plan *
fx_reserve(struct fx *f, int64_t at)
{
  size_t i = f->e.n_reserved++;
  struct fc_plan *p = &f->reserved[i];

  assert_true(i < MAXPLANS);
  memset(p, 0, sizeof *p);
  p->at = at;
  p->decommission = f->res_dec[i];
  p->provision = f->res_prov[i];
  return p;
}

static void
reserve_decommission(struct fx *f, struct fc_plan *p, int32_t d)
{
  f->res_dec[p - f->reserved][p->n_decommission++] = d;
}

static void
reserve_provision(struct fx *f, struct fc_plan *p, int32_t pool, int32_t n)
{
  struct fc_provision *v = &f->res_prov[p - f->reserved][p->n_provision++];

  v->pool = pool;
  v->count = n;
}

static struct fc_plan
plan_of(int64_t at, size_t n_dec, const int32_t *dec, size_t n_prov,
        const struct fc_provision *prov)
{
  /* clang-format off */
  struct fc_plan p = { .at = at, .n_decommission = n_dec, .decommission = dec,
                       .n_provision = n_prov, .provision = prov };
  /* clang-format on */

  return p;
}

static void
evaluate(const struct fx *f, const struct fc_plan *p, int32_t pool, struct fc_result *r)
{
  assert_int_equal(0, fc_evaluate(&f->e, p, pool, r));
}

static void
assert_steps(const struct fc_result *r, size_t n, const int64_t *at, const int32_t *count)
{
  assert_int_equal(n, r->n_steps);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(at[i], r->steps[i].at);
    assert_int_equal(count[i], r->steps[i].count);
  }
}

/* clang-format off */
static const int32_t first_desktops[] = {
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
  20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37
};
/* clang-format on */

/* ------------------------------------------------- worked examples */

/**
 * Example 1.  30 unique CMIDs last seen NOW - 2 d, R = 7 d: the latest
 * last + k*7d <= NOW is k = 0, so a decommissioned one expires at
 * NOW - 2 d + 30 d = NOW + 28 d = 2026-12-29T00:00:00Z.
 */
static struct fx *
steady_pool(void)
{
  struct fx *f = fx_new(50, 25);
  int32_t p = fx_pool(f, WEEK, true);

  for (int i = 0; i < 30; i++)
    fx_unique(f, p, NOW - 2 * DAY);
  return f;
}

static void
test_example1_decommission5_go(void **state)
{
  struct fx *f = steady_pool();
  struct fc_plan plan = plan_of(NOW, 5, first_desktops, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW, DEC29 };
  const int32_t count[] = { 30, 25 };

  (void) state;
  assert_int_equal(DEC29, NOW + 28 * DAY);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(25, r.floor);
  assert_int_equal(30, r.current_count);
  assert_int_equal(NOW, r.window_start);
  assert_int_equal(NOW + 45 * DAY, r.window_end);
  assert_int_equal(30, r.baseline_min);
  assert_int_equal(NOW, r.baseline_min_at);
  assert_int_equal(25, r.projected_min);
  assert_int_equal(DEC29, r.projected_min_at);
  assert_false(r.has_breach);
  assert_true(r.go);
  assert_int_equal(5, r.max_decommission);
  assert_steps(&r, 2, at, count);
  assert_int_equal(30, r.renewing);
  assert_int_equal(0, r.lapsing);
  assert_int_equal(5, r.plan_lapsing_cmids);
  assert_int_equal(DEC29, r.plan_lapsing_first_expiry);
  assert_int_equal(0, r.plan_new_cmids);
  fc_result_free(&r);
  free(f);
}

static void
test_example1_decommission6_nogo(void **state)
{
  struct fx *f = steady_pool();
  struct fc_plan plan = plan_of(NOW, 6, first_desktops, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW, DEC29 };
  const int32_t count[] = { 30, 24 };

  (void) state;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(30, r.current_count);
  assert_int_equal(30, r.baseline_min);
  assert_int_equal(24, r.projected_min);
  assert_int_equal(DEC29, r.projected_min_at);
  assert_true(r.has_breach);
  assert_int_equal(DEC29, r.first_breach_at);
  assert_false(r.go);
  assert_int_equal(5, r.max_decommission);
  assert_int_equal(NOW, r.max_decommission_at);
  assert_steps(&r, 2, at, count);
  assert_int_equal(6, r.plan_lapsing_cmids);
  fc_result_free(&r);
  free(f);
}

/**
 * Example 2.  10 renewing + 15 CMIDs known to no desktop, each seen once
 * on 2026-11-10 (rule (b) needs 2 requests: lapsing).  They expire at
 * 11-10 + 30 d = 2026-12-10; count 25 -> 10.
 */
static void
test_example2_rearm_cliff(void **state)
{
  struct fx *f = fx_new(50, 25);
  int32_t p = fx_pool(f, WEEK, true);
  struct fc_plan empty = plan_of(NOW, 0, NULL, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW, DEC10 };
  const int32_t count[] = { 25, 10 };

  (void) state;
  for (int i = 0; i < 10; i++)
    fx_unique(f, p, NOW - 2 * DAY);
  for (int i = 0; i < 15; i++)
    fx_cmid(f, NOV10, 1);
  assert_int_equal(DEC10, NOV10 + E);
  evaluate(f, NULL, -1, &r);
  assert_int_equal(25, r.current_count);
  assert_int_equal(10, r.baseline_min);
  assert_int_equal(DEC10, r.baseline_min_at);
  assert_int_equal(10, r.projected_min);
  assert_true(r.has_breach);
  assert_int_equal(DEC10, r.first_breach_at);
  assert_false(r.go);
  assert_int_equal(0, r.max_decommission);
  assert_steps(&r, 2, at, count);
  assert_int_equal(10, r.renewing);
  assert_int_equal(15, r.lapsing);
  fc_result_free(&r);
  evaluate(f, &empty, -1, &r);
  assert_false(r.go);
  assert_int_equal(10, r.projected_min);
  fc_result_free(&r);
  free(f);
}

/**
 * Example 3.  12 renewing CMIDs; a shared-CMID pool with no renewing CMID
 * provisions 40 desktops now: one new CMID requesting at NOW: 13 < 25.
 */
static void
test_example3_shared_image(void **state)
{
  struct fx *f = fx_new(50, 25);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t shared = fx_pool(f, WEEK, false);
  struct fc_provision prov = { shared, 40 };
  struct fc_plan plan = plan_of(NOW, 0, NULL, 1, &prov);
  struct fc_result r;
  const int64_t at[] = { NOW };
  const int32_t count[] = { 13 };

  (void) state;
  for (int i = 0; i < 12; i++)
    fx_unique(f, p, NOW - 2 * DAY);
  evaluate(f, &plan, shared, &r);
  assert_int_equal(12, r.current_count);
  assert_int_equal(12, r.baseline_min);
  assert_int_equal(13, r.projected_min);
  assert_int_equal(NOW, r.projected_min_at);
  assert_true(r.has_breach);
  assert_int_equal(NOW, r.first_breach_at);
  assert_false(r.go);
  assert_int_equal(0, r.max_decommission);
  assert_int_equal(1, r.plan_new_cmids);
  assert_steps(&r, 1, at, count);
  fc_result_free(&r);
  free(f);
}

/**
 * Example 4.  80 renewing CMIDs, capacity 50: count 50.  Decommission 30:
 * 50 remain, min(50, 50) = 50.  Taking 55 leaves 25 after 12-29 (go), 56
 * leaves 24: max_decommission 55.
 */
static void
test_example4_capacity(void **state)
{
  struct fx *f = fx_new(50, 25);
  int32_t p = fx_pool(f, WEEK, true);
  struct fc_plan plan = plan_of(NOW, 30, first_desktops, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW };
  const int32_t count[] = { 50 };

  (void) state;
  for (int i = 0; i < 80; i++)
    fx_unique(f, p, NOW - 2 * DAY);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(50, r.current_count);
  assert_int_equal(50, r.baseline_min);
  assert_int_equal(50, r.projected_min);
  assert_true(r.go);
  assert_false(r.has_breach);
  assert_int_equal(55, r.max_decommission);
  assert_steps(&r, 1, at, count);
  fc_result_free(&r);
  free(f);
}

/* ----------------------------------- several hosts (docs/model.md §6) */

/** n PCs (no desktop) renewing: two requests, the last at @a last. */
static void
fx_pcs(struct fx *f, int n, int64_t last)
{
  for (int i = 0; i < n; i++)
    fx_cmid(f, last, 2);
}

/**
 * Example 6, per host.  kms-a: 20 renewing PCs and the 10 desktops of pool
 * p, which renew there: 30.  kms-b: 20 PCs; p has no CMID there.
 * Decommissioning 5 of p touches only kms-a: planned minimum 25, go.
 * Provisioning 10 into p (discovery, weights 1 and 1) gives each host
 * floor(10 * 1 / 2) = 5 new CMIDs: kms-b 25, kms-a 35.  A CMID of p's
 * desktops that renews on kms-b but is still cached on kms-a lapses on
 * kms-a (last there + 30 d).
 */
static void
test_example6_two_hosts(void **state)
{
  struct fx *a = fx_new(50, 25);
  struct fx *b = fx_new(50, 25);
  int32_t pa = fx_pool(a, WEEK, true);
  int32_t pb = fx_pool(b, WEEK, true);
  struct fc_provision five_a = { pa, 5 };
  struct fc_provision five_b = { pb, 5 };
  struct fc_plan dec5 = plan_of(NOW, 5, first_desktops, 0, NULL);
  struct fc_plan prov_a = plan_of(NOW, 0, NULL, 1, &five_a);
  struct fc_plan prov_b = plan_of(NOW, 0, NULL, 1, &five_b);
  struct fc_result r;
  int64_t share[2];
  const int32_t weights[] = { 1, 1 };

  (void) state;
  for (int i = 0; i < 10; i++)
    fx_unique(a, pa, NOW - 2 * DAY);
  fx_pcs(a, 20, NOW - DAY);
  fx_pcs(b, 20, NOW - DAY);
  evaluate(a, &dec5, pa, &r);
  assert_int_equal(30, r.current_count);
  assert_int_equal(25, r.projected_min);
  assert_true(r.go);
  fc_result_free(&r);
  evaluate(b, NULL, -1, &r);
  assert_int_equal(20, r.current_count);
  fc_result_free(&r);
  assert_int_equal(0, fc_split_by_weight(10, weights, 2, share));
  assert_int_equal(5, share[0]);
  assert_int_equal(5, share[1]);
  evaluate(a, &prov_a, -1, &r);
  assert_int_equal(35, r.projected_min);
  fc_result_free(&r);
  evaluate(b, &prov_b, -1, &r);
  assert_int_equal(25, r.projected_min);
  assert_true(r.go);
  fc_result_free(&r);
  /* desktop 0's CMID renews on kms-b now: on kms-a it lapses */
  a->cmids[a->desktops[0].cmid].renews_elsewhere = true;
  assert_int_equal(FC_LAPSING, fc_cmid_status(&a->e, a->desktops[0].cmid));
  evaluate(a, NULL, -1, &r);
  assert_int_equal(29, r.baseline_min);
  assert_int_equal(NOW - 2 * DAY + E, r.baseline_min_at);
  fc_result_free(&r);
  free(a);
  free(b);
}

/** The first renewal last + k*R after t, restated for the tests. */
static int64_t
first_renewal_after(int64_t last, int64_t r, int64_t t)
{
  return last + ((t - last) / r + 1) * r;
}

/**
 * Example 7, the receiving host.  kms-a has 26 renewing PCs; retiring kms-b
 * now moves the 10 CMIDs of p's desktops (last seen NOW - 2 d .. NOW - 1 d
 * on kms-b, R 7 d) to kms-a at their first renewals after now, NOW + 5 d ..
 * NOW + 6 d: kms-a rises from 26 to 36, minimum 26, go.  Split over two
 * remaining hosts with weights 1 and 2, 10 moved CMIDs give 3 and 6 (one
 * counted nowhere), each host taking the latest arrivals (errs low).
 */
static void
test_example7_retire(void **state)
{
  struct fx *a = fx_new(50, 25);
  int64_t moved[10];
  int64_t latest[10];
  struct fc_plan retire = plan_of(NOW, 0, NULL, 0, NULL);
  struct fc_result r;
  int64_t share[2];
  const int32_t weights[] = { 1, 2 };

  (void) state;
  fx_pcs(a, 26, NOW - DAY);
  for (int i = 0; i < 10; i++)
    moved[i] = first_renewal_after(NOW - 2 * DAY + i * HOUR, WEEK, NOW);
  assert_int_equal(NOW + 5 * DAY, moved[0]);
  retire.n_arrivals = 10;
  retire.arrivals = moved;
  evaluate(a, &retire, -1, &r);
  assert_int_equal(26, r.current_count);
  assert_int_equal(26, r.projected_min);
  assert_true(r.go);
  assert_int_equal(11, r.n_steps);
  assert_int_equal(36, r.steps[10].count);
  assert_int_equal(NOW + 5 * DAY + 9 * HOUR, r.steps[10].at);
  fc_result_free(&r);
  assert_int_equal(0, fc_split_by_weight(10, weights, 2, share));
  assert_int_equal(3, share[0]);
  assert_int_equal(6, share[1]);
  fc_latest_times(moved, 10, 3, latest);
  assert_int_equal(moved[7], latest[0]);
  assert_int_equal(moved[9], latest[2]);
  free(a);
}

/* ------------------------------------------------------- single rules */

/**
 * A lapsing CMID last seen NOW - 10 d expires at NOW + 20 d exactly.
 * A plan at r+E-1 starts the window there: count 1, then 0 at r+E.
 * A plan at r+E: count 0 already (half-open [r, r+E)).
 */
static void
test_expiry_half_open(void **state)
{
  struct fx *f = fx_new(50, 1);
  int64_t r0 = NOW - 10 * DAY;
  struct fc_plan before = plan_of(r0 + E - 1, 0, NULL, 0, NULL);
  struct fc_plan exact = plan_of(r0 + E, 0, NULL, 0, NULL);
  struct fc_result r;
  const int64_t at1[] = { r0 + E - 1, r0 + E };
  const int32_t count1[] = { 1, 0 };
  const int64_t at2[] = { r0 + E };
  const int32_t count2[] = { 0 };

  (void) state;
  fx_cmid(f, r0, 1);
  evaluate(f, &before, -1, &r);
  assert_steps(&r, 2, at1, count1);
  assert_int_equal(r0 + E, r.first_breach_at);
  fc_result_free(&r);
  evaluate(f, &exact, -1, &r);
  assert_steps(&r, 1, at2, count2);
  fc_result_free(&r);
  free(f);
}

/**
 * Pool R = 7 d, grace 1 d: now - last = 8 d is still renewing; if stopped
 * now it expires at last + 30 d = NOW + 22 d (the renewal due at NOW - 1 d
 * was never seen, so it is not credited); 8 d + 1 s is lapsing and
 * expires at last + 30 d = NOW + 22 d - 1 s.
 */
static void
test_grace_boundary(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int64_t edge = NOW - (WEEK + DAY);
  struct fc_result r;
  const int64_t at[] = { NOW, edge - 1 + E };
  const int32_t count[] = { 2, 1 };
  enum fc_status st[2];
  int64_t ex[2];

  (void) state;
  fx_unique(f, p, edge);
  fx_unique(f, p, edge - 1);
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, 0));
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, 1));
  assert_int_equal(NOW + 22 * DAY, fc_cmid_expiry(&f->e, 0));
  assert_int_equal(NOW + 22 * DAY - 1, fc_cmid_expiry(&f->e, 1));
  assert_int_equal(0, fc_cmid_survey(&f->e, st, ex));
  assert_int_equal(FC_RENEWING, st[0]);
  assert_int_equal(FC_LAPSING, st[1]);
  assert_int_equal(NOW + 22 * DAY, ex[0]);
  assert_int_equal(NOW + 22 * DAY - 1, ex[1]);
  evaluate(f, NULL, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_int_equal(1, r.renewing);
  assert_int_equal(1, r.lapsing);
  fc_result_free(&r);
  free(f);
}

/**
 * Corner 1, overdue renewals: R 7 d, last seen NOW - 7.5 d (renewing,
 * within grace), its only desktop decommissioned now.  The renewal due at
 * NOW - 0.5 d was never seen and is not credited: the CMID counts until
 * last + 30 d = NOW + 22.5 d, not NOW + 29.5 d.  Decommissioned at
 * NOW + 10 d instead, the renewal due at NOW + 6.5 d is credited (it is
 * after now and by the decommission): until NOW + 36.5 d.
 */
static void
test_overdue_renewal_not_credited(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t d = fx_unique(f, p, NOW - 7 * DAY - 12 * HOUR);
  struct fc_plan plan = plan_of(NOW, 1, &d, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 22 * DAY + 12 * HOUR };
  const int32_t count[] = { 1, 0 };

  (void) state;
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, 0));
  evaluate(f, &plan, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_int_equal(NOW + 22 * DAY + 12 * HOUR, r.plan_lapsing_first_expiry);
  assert_false(r.go);
  fc_result_free(&r);
  plan.at = NOW + 10 * DAY;
  f->e.horizon_seconds = 60 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(2, r.n_steps);
  assert_int_equal(NOW + 36 * DAY + 12 * HOUR, r.steps[1].at);
  fc_result_free(&r);
  free(f);
}

/**
 * R 20 d (> E / 2), last seen NOW - 20.5 d: renewing, but the renewal due
 * at NOW - 0.5 d is not credited, so the entry of the last request ends at
 * NOW + 9.5 d and the CMID counts again only from its next renewal at
 * NOW + 19.5 d: a gap in the baseline.  Decommissioned now, it never
 * comes back; decommissioned at NOW + 25 d, it counts from NOW + 19.5 d
 * to NOW + 49.5 d.
 */
static void
test_uncredited_renewal_gap(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, 20 * DAY, true);
  int32_t d = fx_unique(f, p, NOW - 20 * DAY - 12 * HOUR);
  struct fc_plan plan = plan_of(NOW, 1, &d, 0, NULL);
  struct fc_result r;
  /* clang-format off */
  const int64_t base_at[] = { NOW, NOW + 9 * DAY + 12 * HOUR,
                              NOW + 19 * DAY + 12 * HOUR };
  /* clang-format on */
  const int32_t base_count[] = { 1, 0, 1 };
  /* clang-format off */
  const int64_t late_at[] = { NOW, NOW + 9 * DAY + 12 * HOUR,
                              NOW + 19 * DAY + 12 * HOUR,
                              NOW + 49 * DAY + 12 * HOUR };
  /* clang-format on */
  const int32_t late_count[] = { 1, 0, 1, 0 };

  (void) state;
  f->e.horizon_seconds = 60 * DAY;
  evaluate(f, NULL, -1, &r);
  assert_steps(&r, 3, base_at, base_count);
  assert_int_equal(1, r.renewing);
  fc_result_free(&r);
  evaluate(f, &plan, -1, &r);
  assert_steps(&r, 2, base_at, base_count);
  fc_result_free(&r);
  plan.at = NOW + 25 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + 25 * DAY, r.window_start);
  fc_result_free(&r);
  plan.at = NOW;
  f->e.n_reserved = 0;
  {
    struct fc_plan *res = fx_reserve(f, NOW + 25 * DAY);

    reserve_decommission(f, res, d);
    evaluate(f, NULL, -1, &r);
    /* the window starts at the reserved plan's time: NOW + 25 d */
    assert_int_equal(NOW + 25 * DAY, r.window_start);
    assert_int_equal(2, r.n_steps);
    assert_int_equal(late_at[3], r.steps[1].at);
    assert_int_equal(late_count[3], r.steps[1].count);
    fc_result_free(&r);
  }
  free(f);
}

/**
 * Corner 2, mixed renewal intervals: one CMID on two active desktops of
 * pools with R 15 min and R 7 d, seen NOW - 2 d, both decommissioned now,
 * horizon 28 d.  The status follows the smallest R: 2 d > 15 min + 24 h,
 * so it is lapsing and expires at NOW + 28 d, inside the window: no-go at
 * floor 1 (the largest R for the status, and the smallest for the
 * projection, would have said renewing until NOW + 30 d: go).
 */
static void
test_mixed_intervals_err_low(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t fast = fx_pool(f, 15 * 60, true);
  int32_t slow = fx_pool(f, WEEK, true);
  int32_t c = fx_cmid(f, NOW - 2 * DAY, 5);
  int32_t both[2];
  struct fc_plan plan;
  struct fc_result r;

  (void) state;
  both[0] = fx_desktop(f, fast, c, FC_ACTIVE);
  both[1] = fx_desktop(f, slow, c, FC_ACTIVE);
  f->e.horizon_seconds = 28 * DAY;
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, c));
  plan = plan_of(NOW, 2, both, 0, NULL);
  evaluate(f, &plan, -1, &r);
  assert_false(r.go);
  assert_int_equal(NOW + 28 * DAY, r.first_breach_at);
  fc_result_free(&r);
  /* renewing by the 15 min pool (seen 1 h ago), projected with 7 d:
     decommissioned at NOW + 10 d, the last credited renewal is
     last + 7 d = NOW + 7 d - 1 h, so it expires at NOW + 37 d - 1 h */
  f->cmids[c].last_request = NOW - HOUR;
  plan.at = NOW + 10 * DAY;
  f->e.horizon_seconds = 60 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(2, r.n_steps);
  assert_int_equal(NOW + 37 * DAY - HOUR, r.steps[1].at);
  fc_result_free(&r);
  free(f);
}

/**
 * Corner 3, shared-image provisioning: the pool's image CMID was seen
 * NOW - 10 d (R 7 d, its desktops powered off: lapsing until NOW + 20 d).
 * Provisioning 5 clones now makes that CMID request again and renew: the
 * count stays 1 (no new CMID) and never drops.  Seen NOW - 40 d, it has
 * expired: the clones bring it back, +1 from the plan time.
 */
static void
test_shared_image_requests_again(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, false);
  int32_t c = fx_cmid(f, NOW - 10 * DAY, 3);
  struct fc_provision prov = { p, 5 };
  struct fc_plan plan = plan_of(NOW + DAY, 0, NULL, 1, &prov);
  struct fc_result r;

  (void) state;
  fx_desktop(f, p, c, FC_POWERED_OFF);
  fx_desktop(f, p, c, FC_POWERED_OFF);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(0, r.baseline_min); /* lapses at NOW + 20 d */
  assert_int_equal(NOW + 20 * DAY, r.baseline_min_at);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(1, r.steps[0].count);
  assert_int_equal(1, r.projected_min);
  assert_int_equal(0, r.plan_new_cmids);
  fc_result_free(&r);
  f->cmids[c].last_request = NOW - 40 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(0, r.current_count);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(NOW + DAY, r.steps[0].at);
  assert_int_equal(1, r.steps[0].count);
  fc_result_free(&r);
  free(f);
}

/**
 * Corner 5, clock skew: a request 5 minutes after now counts as made at
 * now: in the current count, renewing (age 0), and a decommission now
 * lets it expire at exactly NOW + 30 d.
 */
static void
test_future_request_counts_as_now(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t d = fx_unique(f, p, NOW + 300);
  struct fc_plan plan = plan_of(NOW, 1, &d, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + E };
  const int32_t count[] = { 1, 0 };

  (void) state;
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, 0));
  assert_int_equal(NOW + E, fc_cmid_expiry(&f->e, 0));
  evaluate(f, &plan, -1, &r);
  assert_int_equal(1, r.current_count);
  assert_int_equal(1, r.renewing);
  assert_steps(&r, 2, at, count);
  fc_result_free(&r);
  free(f);
}

/**
 * Corner 7, replaced CMIDs: CMID X seen twice, last NOW - 2 d, carried by
 * no desktop.  While its last client is nobody we know, rule (b) keeps it
 * renewing; once its last request came from a registered desktop (which
 * now carries another CMID after a rebuild or a rearm), X was replaced:
 * it lapses at last + 30 d = NOW + 28 d.
 */
static void
test_replaced_cmid_lapses(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t x = fx_cmid(f, NOW - 2 * DAY, 2);
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 28 * DAY };
  const int32_t count[] = { 1, 0 };

  (void) state;
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, x));
  f->cmids[x].last_client_registered = true;
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, x));
  evaluate(f, NULL, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_int_equal(0, r.renewing);
  assert_int_equal(1, r.lapsing);
  fc_result_free(&r);
  free(f);
}

/**
 * Rule (b): a CMID on no desktop, seen NOW - 2 d: 1 request -> lapsing
 * (expires NOW + 28 d), 2 requests -> renewing.  With host R 7 d the age
 * limit is 8 d: 8 d + 1 s with 2 requests -> lapsing.
 */
static void
test_rule_b_request_count(void **state)
{
  struct fx *f = fx_new(50, 1);
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 22 * DAY - 1, NOW + 28 * DAY };
  const int32_t count[] = { 3, 2, 1 };

  (void) state;
  fx_cmid(f, NOW - 2 * DAY, 1);
  fx_cmid(f, NOW - 2 * DAY, 2);
  fx_cmid(f, NOW - WEEK - DAY - 1, 2);
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, 0));
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, 1));
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, 2));
  f->cmids[2].last_request = NOW - WEEK - DAY;
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, 2));
  f->cmids[2].last_request = NOW - WEEK - DAY - 1;
  /* lapsing #2 expires at NOW - 8 d - 1 s + 30 d = NOW + 22 d - 1 s,
     #0 at NOW + 28 d: steps 3 -> 2 -> 1 */
  evaluate(f, NULL, -1, &r);
  assert_steps(&r, 3, at, count);
  assert_int_equal(1, r.renewing);
  assert_int_equal(2, r.lapsing);
  fc_result_free(&r);
  free(f);
}

/**
 * Rule (b) needs "no desktop": 2 requests but linked to a powered-off
 * desktop -> rule (a) applies and finds no active desktop -> lapsing.
 */
static void
test_rule_b_needs_no_desktop(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t c = fx_cmid(f, NOW - 2 * DAY, 2);

  (void) state;
  fx_desktop(f, p, c, FC_POWERED_OFF);
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, c));
  free(f);
}

/**
 * Capacity 10, 12 renewing + 3 lapsing (last NOW - 10 d, expire NOW + 20 d):
 * raw 15 -> 12, clamped 10 throughout: one step.  With 5 lapsing of 12 in
 * total: raw 12 -> 7, clamped 10 -> 7.
 */
static void
test_capacity_clamp(void **state)
{
  struct fx *f = fx_new(10, 5);
  int32_t p = fx_pool(f, WEEK, true);
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 20 * DAY };
  const int32_t count[] = { 10, 7 };

  (void) state;
  for (int i = 0; i < 12; i++)
    fx_unique(f, p, NOW - DAY);
  for (int i = 0; i < 3; i++)
    fx_cmid(f, NOW - 10 * DAY, 1);
  evaluate(f, NULL, -1, &r);
  assert_int_equal(10, r.current_count);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(10, r.steps[0].count);
  assert_int_equal(10, r.baseline_min);
  fc_result_free(&r);
  /* drop the 3 extra CMIDs and make 5 of the 12 lapse at NOW + 20 d */
  f->e.n_cmids = 12;
  f->e.n_desktops = 12;
  for (int i = 0; i < 5; i++) {
    f->desktops[i].state = FC_POWERED_OFF;
    f->cmids[i].last_request = NOW - 10 * DAY;
  }
  evaluate(f, NULL, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_int_equal(7, r.baseline_min);
  assert_int_equal(NOW + 20 * DAY, r.baseline_min_at);
  fc_result_free(&r);
  free(f);
}

/**
 * Decommission in 10 d of a desktop last seen NOW - 2 d, R 7 d: it keeps
 * renewing: requests at NOW + 5 d (<= NOW + 10 d), next NOW + 12 d is
 * too late: expiry NOW + 5 d + 30 d = NOW + 35 d.  The window starts at
 * the plan time NOW + 10 d.  At exactly NOW + 12 d (= last + 2R) the
 * request at that second still happens: expiry NOW + 42 d.
 */
static void
test_future_decommission(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t d = fx_unique(f, p, NOW - 2 * DAY);
  struct fc_plan plan = plan_of(NOW + 10 * DAY, 1, &d, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW + 10 * DAY, NOW + 35 * DAY };
  const int32_t count[] = { 1, 0 };
  const int64_t at2[] = { NOW + 12 * DAY, NOW + 42 * DAY };

  (void) state;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + 10 * DAY, r.window_start);
  assert_steps(&r, 2, at, count);
  assert_int_equal(NOW + 35 * DAY, r.first_breach_at);
  assert_int_equal(1, r.baseline_min);
  fc_result_free(&r);
  plan.at = NOW + 12 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_steps(&r, 2, at2, count);
  fc_result_free(&r);
  free(f);
}

/**
 * Two active desktops share a renewing CMID (last NOW - 2 d): taking one
 * changes nothing; taking both stops it: expiry NOW + 28 d.
 */
static void
test_shared_cmid_one_vs_both(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t c = fx_cmid(f, NOW - 2 * DAY, 9);
  int32_t both[2];
  struct fc_plan one;
  struct fc_plan two;
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 28 * DAY };
  const int32_t count[] = { 1, 0 };

  (void) state;
  both[0] = fx_desktop(f, p, c, FC_ACTIVE);
  both[1] = fx_desktop(f, p, c, FC_ACTIVE);
  one = plan_of(NOW, 1, both, 0, NULL);
  two = plan_of(NOW, 2, both, 0, NULL);
  evaluate(f, &one, -1, &r);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(1, r.projected_min);
  assert_int_equal(0, r.plan_lapsing_cmids);
  fc_result_free(&r);
  evaluate(f, &two, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_int_equal(1, r.plan_lapsing_cmids);
  assert_int_equal(NOW + 28 * DAY, r.plan_lapsing_first_expiry);
  fc_result_free(&r);
  free(f);
}

/**
 * Shared CMID, one desktop in a reserved plan at NOW + 3 d, the other in
 * the evaluated plan now: T = NOW + 3 d; last NOW - 2 d + 7 d = NOW + 5 d
 * is after T, so the last request stays NOW - 2 d: expiry NOW + 28 d.
 * The reserved plan alone stops nothing, so the evaluated plan stops it.
 */
static void
test_shared_cmid_across_plans(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t c = fx_cmid(f, NOW - 2 * DAY, 9);
  int32_t a = fx_desktop(f, p, c, FC_ACTIVE);
  int32_t b = fx_desktop(f, p, c, FC_ACTIVE);
  struct fc_plan *res = fx_reserve(f, NOW + 3 * DAY);
  struct fc_plan plan = plan_of(NOW, 1, &b, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 28 * DAY };
  const int32_t count[] = { 1, 0 };

  (void) state;
  reserve_decommission(f, res, a);
  evaluate(f, &plan, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_int_equal(1, r.baseline_min);
  assert_int_equal(1, r.plan_lapsing_cmids);
  fc_result_free(&r);
  /* reserved in 6 d instead: T = NOW + 6 d >= NOW + 5 d: expiry NOW + 35 d */
  res->at = NOW + 6 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + 35 * DAY, r.plan_lapsing_first_expiry);
  fc_result_free(&r);
  free(f);
}

/**
 * The same desktop in a reserved plan (NOW + 20 d) and the evaluated plan
 * (NOW + 1 d): the earliest time wins.  last NOW - 2 d, R 7 d: latest
 * request <= NOW + 1 d is NOW - 2 d: expiry NOW + 28 d (not NOW + 47 d).
 */
static void
test_duplicate_desktop_earliest_wins(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t d = fx_unique(f, p, NOW - 2 * DAY);
  struct fc_plan *res = fx_reserve(f, NOW + 20 * DAY);
  struct fc_plan plan = plan_of(NOW + DAY, 1, &d, 0, NULL);
  struct fc_result r;

  (void) state;
  reserve_decommission(f, res, d);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + DAY, r.window_start);
  assert_int_equal(2, r.n_steps);
  assert_int_equal(NOW + 28 * DAY, r.steps[1].at);
  /* baseline (reserved only): 20 d -> requests NOW+5, +12, +19 d: expiry NOW + 49 d
     is beyond the window end NOW + 45 d */
  assert_int_equal(1, r.baseline_min);
  fc_result_free(&r);
  free(f);
}

/**
 * A powered-off desktop does not make its CMID renew: lapsing, expires at
 * last + 30 d = NOW + 28 d; decommissioning it changes nothing.
 */
static void
test_powered_off_lapses(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t d = fx_desktop(f, p, fx_cmid(f, NOW - 2 * DAY, 5), FC_POWERED_OFF);
  struct fc_plan plan = plan_of(NOW, 1, &d, 0, NULL);
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 28 * DAY };
  const int32_t count[] = { 1, 0 };

  (void) state;
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, 0));
  evaluate(f, &plan, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_int_equal(0, r.renewing);
  assert_int_equal(1, r.lapsing);
  assert_int_equal(0, r.plan_lapsing_cmids);
  assert_int_equal(0, r.max_decommission); /* no-go even at k = 0 */
  fc_result_free(&r);
  free(f);
}

/**
 * Desktops their platform reports powered off (the pool sync) renew
 * nothing: in the steady pool of example 1, 6 of the 30 reported off lapse
 * at last + E = NOW + 28 d, so the baseline falls to 24 and is no-go.  They
 * stay active desktops of the pool, first in the decommission order
 * (taking them stops nothing); reported on again, the pool is go.
 */
static void
test_reported_powered_off_renews_nothing(void **state)
{
  struct fx *f = steady_pool();
  int32_t pick[30];
  struct fc_result r;
  const int64_t at[] = { NOW, NOW + 28 * DAY };
  const int32_t count[] = { 30, 24 };
  const int32_t off[] = { 3, 7, 11, 19, 23, 29 };

  (void) state;
  for (size_t i = 0; i < 6; i++)
    f->desktops[off[i]].powered_off = true;
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, f->desktops[3].cmid));
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, f->desktops[4].cmid));
  evaluate(f, NULL, -1, &r);
  assert_steps(&r, 2, at, count);
  assert_false(r.go);
  assert_int_equal(24, r.renewing);
  assert_int_equal(6, r.lapsing);
  assert_true(r.has_breach);
  assert_int_equal(NOW + 28 * DAY, r.first_breach_at);
  fc_result_free(&r);
  assert_int_equal(30, fc_pick_decommission(&f->e, 0, pick, 30));
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(off[i], pick[i]); /* group 1, by hostname */
  /* decommissioning the 6 changes nothing */
  struct fc_plan plan = plan_of(NOW, 6, off, 0, NULL);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(0, r.plan_lapsing_cmids);
  assert_int_equal(24, r.projected_min);
  fc_result_free(&r);
  for (size_t i = 0; i < 6; i++)
    f->desktops[off[i]].powered_off = false;
  evaluate(f, NULL, -1, &r);
  assert_true(r.go);
  assert_int_equal(30, r.projected_min);
  assert_int_equal(5, r.max_decommission);
  fc_result_free(&r);
  free(f);
}

/**
 * A CMID shared by a desktop reported on and one reported off renews with
 * the first alone: decommissioning it stops the CMID, decommissioning the
 * one powered off stops nothing.
 */
static void
test_shared_cmid_powered_off_partner(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t c = fx_cmid(f, NOW - 2 * DAY, 5);
  int32_t on = fx_desktop(f, p, c, FC_ACTIVE);
  int32_t off = fx_desktop(f, p, c, FC_ACTIVE);
  int32_t pick[2];
  struct fc_plan plan;
  struct fc_result r;

  (void) state;
  f->desktops[off].powered_off = true;
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, c));
  plan = plan_of(NOW, 1, &on, 0, NULL);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(1, r.plan_lapsing_cmids);
  assert_true(r.has_breach);
  fc_result_free(&r);
  plan = plan_of(NOW, 1, &off, 0, NULL);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(0, r.plan_lapsing_cmids);
  assert_false(r.has_breach);
  /* the one powered off first (its CMID stays with the other); then the last */
  assert_int_equal(1, r.max_decommission);
  fc_result_free(&r);
  assert_int_equal(2, fc_pick_decommission(&f->e, p, pick, 2));
  assert_int_equal(off, pick[0]);
  assert_int_equal(on, pick[1]);
  free(f);
}

/** An active desktop with no seen CMID counts nothing and is "unseen". */
static void
test_unseen_desktop(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t u;
  struct fc_plan plan;
  struct fc_result r;

  (void) state;
  fx_unique(f, p, NOW - DAY);
  u = fx_desktop(f, p, -1, FC_ACTIVE);
  fx_desktop(f, p, -1, FC_POWERED_OFF); /* not active: not unseen */
  plan = plan_of(NOW, 1, &u, 0, NULL);
  assert_int_equal(FC_UNSEEN, fc_cmid_status(&f->e, -1));
  assert_int_equal(0, fc_cmid_expiry(&f->e, -1));
  evaluate(f, &plan, -1, &r);
  assert_int_equal(1, r.unseen);
  assert_int_equal(1, r.current_count);
  assert_int_equal(1, r.projected_min);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(0, r.plan_lapsing_cmids);
  fc_result_free(&r);
  free(f);
}

/**
 * Provision of 5 in a unique pool at NOW + 3 d: +5 from then.  The window
 * starts at the plan time: steps (NOW+3d, 7).  An empty window start step
 * merges the provision: the count at start already includes it.
 */
static void
test_provision_unique(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  struct fc_provision prov = { p, 5 };
  struct fc_plan plan = plan_of(NOW + 3 * DAY, 0, NULL, 1, &prov);
  struct fc_result r;

  (void) state;
  fx_unique(f, p, NOW - DAY);
  fx_unique(f, p, NOW - DAY);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + 3 * DAY, r.window_start);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(7, r.steps[0].count);
  assert_int_equal(2, r.baseline_min);
  assert_int_equal(5, r.plan_new_cmids);
  fc_result_free(&r);
  /* with a reserved plan at NOW that starts the window, +5 is a step */
  fx_reserve(f, NOW);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW, r.window_start);
  assert_int_equal(2, r.n_steps);
  assert_int_equal(NOW + 3 * DAY, r.steps[1].at);
  assert_int_equal(7, r.steps[1].count);
  fc_result_free(&r);
  free(f);
}

/**
 * Shared-image pool: with a renewing CMID on one of its desktops, a
 * provision adds nothing; without one, exactly one CMID however many
 * desktops and provisions (the earliest: reserved NOW + 5 d, plan
 * NOW + 2 d -> one CMID from NOW + 2 d; the plan adds no CMID that the
 * reserved plan did not already add).
 */
static void
test_provision_shared(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t renewing = fx_pool(f, WEEK, false);
  int32_t fresh = fx_pool(f, WEEK, false);
  struct fc_provision prov[2] = { { renewing, 30 }, { fresh, 30 } };
  struct fc_plan plan = plan_of(NOW + 2 * DAY, 0, NULL, 2, prov);
  struct fc_plan *res;
  struct fc_result r;
  int32_t c = fx_cmid(f, NOW - DAY, 50);

  (void) state;
  fx_desktop(f, renewing, c, FC_ACTIVE);
  fx_desktop(f, renewing, c, FC_ACTIVE);
  res = fx_reserve(f, NOW + 5 * DAY);
  reserve_provision(f, res, fresh, 10);
  reserve_provision(f, res, fresh, 10);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + 2 * DAY, r.window_start);
  /* baseline: 1, +1 at NOW + 5 d; planned: 2 from NOW + 2 d */
  assert_int_equal(1, r.baseline_min);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(2, r.steps[0].count);
  assert_int_equal(0, r.plan_new_cmids);
  fc_result_free(&r);
  /* without the reserved plan the plan adds the one CMID */
  f->e.n_reserved = 0;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(1, r.plan_new_cmids);
  assert_int_equal(2, r.projected_min);
  fc_result_free(&r);
  free(f);
}

/**
 * A reserved plan decommissioning 2 of 30 steady desktops is in the
 * baseline: 28 from 12-29.  The plan may only take 3 more (floor 25),
 * and reserved desktops are not candidates (28 left).
 */
static void
test_reserved_in_baseline(void **state)
{
  struct fx *f = steady_pool();
  struct fc_plan *res = fx_reserve(f, NOW);
  struct fc_plan plan = plan_of(NOW, 4, first_desktops + 2, 0, NULL);
  struct fc_result r;
  int32_t pick[64];

  (void) state;
  reserve_decommission(f, res, 0);
  reserve_decommission(f, res, 1);
  evaluate(f, NULL, -1, &r);
  assert_int_equal(30, r.current_count);
  assert_int_equal(28, r.baseline_min);
  assert_int_equal(DEC29, r.baseline_min_at);
  assert_int_equal(28, r.projected_min);
  assert_int_equal(3, r.max_decommission);
  fc_result_free(&r);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(24, r.projected_min);
  assert_false(r.go);
  assert_int_equal(4, r.plan_lapsing_cmids);
  assert_int_equal(3, r.max_decommission);
  fc_result_free(&r);
  assert_int_equal(28, fc_pick_decommission(&f->e, -1, pick, 64));
  for (int i = 0; i < 28; i++)
    assert_true(pick[i] >= 2);
  free(f);
}

/**
 * Window: a lapsing CMID ending NOW + 5 d lies before a plan at NOW + 10 d
 * and is not in the window; a reserved plan at NOW + 20 d does not move
 * the start; a plan in the past acts now.
 */
static void
test_window_start(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  struct fc_plan plan = plan_of(NOW + 10 * DAY, 0, NULL, 0, NULL);
  struct fc_result r;

  (void) state;
  fx_unique(f, p, NOW - DAY);
  fx_cmid(f, NOW - 25 * DAY, 1);
  fx_reserve(f, NOW + 20 * DAY);
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + 10 * DAY, r.window_start);
  assert_int_equal(NOW + 45 * DAY, r.window_end);
  assert_int_equal(2, r.current_count);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(1, r.steps[0].count);
  assert_int_equal(1, r.baseline_min);
  assert_int_equal(NOW + 10 * DAY, r.baseline_min_at);
  fc_result_free(&r);
  plan.at = NOW - 3 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW, r.window_start);
  assert_int_equal(2, r.n_steps);
  assert_int_equal(NOW + 5 * DAY, r.steps[1].at);
  fc_result_free(&r);
  /* baseline with only the reserved plan: start at NOW + 20 d */
  evaluate(f, NULL, -1, &r);
  assert_int_equal(NOW + 20 * DAY, r.window_start);
  assert_int_equal(NOW + 20 * DAY, r.max_decommission_at);
  fc_result_free(&r);
  /* a plan beyond the horizon (and no earlier reserved plan): the window
     is the single instant at the plan time */
  f->e.n_reserved = 0;
  plan.at = NOW + 50 * DAY;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(NOW + 50 * DAY, r.window_start);
  assert_int_equal(NOW + 50 * DAY, r.window_end);
  assert_int_equal(1, r.n_steps);
  fc_result_free(&r);
  free(f);
}

/**
 * H = 20 d: a CMID seen at NOW - 10 d expires exactly at the window end
 * NOW + 20 d (in the window); one seen a second later expires after it.
 */
static void
test_window_end_inclusive(void **state)
{
  struct fx *f = fx_new(50, 1);
  struct fc_result r;

  (void) state;
  f->e.horizon_seconds = 20 * DAY;
  fx_cmid(f, NOW - 10 * DAY, 1);
  fx_cmid(f, NOW - 10 * DAY + 1, 1);
  evaluate(f, NULL, -1, &r);
  assert_int_equal(NOW + 20 * DAY, r.window_end);
  assert_int_equal(2, r.n_steps);
  assert_int_equal(NOW + 20 * DAY, r.steps[1].at);
  assert_int_equal(1, r.steps[1].count);
  assert_int_equal(1, r.baseline_min);
  assert_int_equal(NOW + 20 * DAY, r.baseline_min_at);
  fc_result_free(&r);
  free(f);
}

/** margin raises the floor: threshold 25 + margin 5 = 30. */
static void
test_margin_floor(void **state)
{
  struct fx *f = steady_pool();
  struct fc_plan plan = plan_of(NOW, 1, first_desktops, 0, NULL);
  struct fc_result r;

  (void) state;
  f->e.margin = 5;
  evaluate(f, &plan, -1, &r);
  assert_int_equal(30, r.floor);
  assert_false(r.go);
  assert_int_equal(DEC29, r.first_breach_at);
  assert_int_equal(0, r.max_decommission);
  fc_result_free(&r);
  free(f);
}

/**
 * Ordering: a1/a2 share a renewing CMID (group 1), c is lapsing and u is
 * unseen (group 2, by hostname), then renewing ones by latest request:
 * e0 and e1 (NOW - 1 d, tie -> hostname), then e2 (NOW - 3 d).
 * The desktops are listed out of hostname order, and again in order
 * (the linear path): same result.
 */
static void
build_ordering(struct fx *f, bool sorted)
{
  static const char *names[] = { "e2", "c", "a2", "e1", "u", "a1", "e0" };
  static const char *sorted_names[] = { "a1", "a2", "c", "e0", "e1", "e2", "u" };
  int32_t p = fx_pool(f, WEEK, true);
  int32_t x = fx_cmid(f, NOW - 2 * DAY, 5);
  const char **list = sorted ? sorted_names : names;

  for (int i = 0; i < 7; i++) {
    const char *n = list[i];
    int32_t d;

    if ('a' == n[0])
      d = fx_desktop(f, p, x, FC_ACTIVE);
    else if ('c' == n[0])
      d = fx_unique(f, p, NOW - 20 * DAY);
    else if ('u' == n[0])
      d = fx_desktop(f, p, -1, FC_ACTIVE);
    else
      d = fx_unique(f, p, '2' == n[1] ? NOW - 3 * DAY : NOW - DAY);
    snprintf(f->names[d], sizeof f->names[d], "%s", n);
  }
}

static void
assert_order(const struct fx *f, const int32_t *pick, size_t n)
{
  static const char *expect[] = { "a1", "a2", "c", "u", "e0", "e1", "e2" };

  assert_int_equal(7, n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(expect[i], f->desktops[pick[i]].hostname);
}

static void
test_pick_order(void **state)
{
  struct fx *f = fx_new(50, 3);
  struct fx *g = fx_new(50, 3);
  int32_t pick[16];
  struct fc_result r;

  (void) state;
  build_ordering(f, false);
  build_ordering(g, true);
  assert_order(f, pick, fc_pick_decommission(&f->e, -1, pick, 16));
  assert_order(g, pick, fc_pick_decommission(&g->e, 0, pick, 16));
  assert_int_equal(3, fc_pick_decommission(&g->e, 0, pick, 3));
  assert_string_equal("c", g->desktops[pick[2]].hostname);
  /*
   * Floor 3.  At the window end: X + e0 + e1 + e2 = 4 (c lapses at
   * NOW + 10 d).  k = 1 (a1): nothing; k = 2 stops X: 3 (go); k = 3, 4
   * (c, u): no change; k = 5 (e0): 2 -> max 4.
   */
  evaluate(f, NULL, -1, &r);
  assert_int_equal(5, r.current_count);
  assert_int_equal(4, r.baseline_min);
  assert_int_equal(4, r.max_decommission);
  fc_result_free(&r);
  evaluate(g, NULL, 0, &r);
  assert_int_equal(4, r.max_decommission);
  fc_result_free(&r);
  free(f);
  free(g);
}

/**
 * Hostname order when the desktops are not passed in it: names tied on
 * their first 8 bytes are ordered by the rest, equal names by index.
 * All are lapsing (group 2 of the order), so only names matter.
 */
static void
test_pick_hostname_ties(void **state)
{
  /* clang-format off */
  static const char *names[] = {
    "xx-aaaaaaaa-3", "same", "yy", "xx-aaaaaaaa-1", "same", "xx-aaaaaaaa-2"
  };
  /* clang-format on */
  struct fx *f = fx_new(50, 1);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t pick[8];

  (void) state;
  for (int i = 0; i < 6; i++) {
    int32_t d = fx_unique(f, p, NOW - 20 * DAY);

    snprintf(f->names[d], sizeof f->names[d], "%s", names[i]);
  }
  assert_int_equal(6, fc_pick_decommission(&f->e, -1, pick, 8));
  assert_int_equal(1, pick[0]);
  assert_int_equal(4, pick[1]);
  assert_int_equal(3, pick[2]);
  assert_int_equal(5, pick[3]);
  assert_int_equal(0, pick[4]);
  assert_int_equal(2, pick[5]);
  free(f);
}

/**
 * Candidates of a pool only; a CMID shared with another pool's desktop is
 * free to take.
 */
static void
test_pick_pool_filter(void **state)
{
  struct fx *f = fx_new(50, 2);
  int32_t p = fx_pool(f, WEEK, true);
  int32_t q = fx_pool(f, WEEK, true);
  int32_t x = fx_cmid(f, NOW - DAY, 4);
  int32_t pick[8];
  struct fc_result r;

  (void) state;
  fx_desktop(f, p, x, FC_ACTIVE);          /* 0: shares X with 2 */
  fx_unique(f, p, NOW - DAY);              /* 1 */
  fx_desktop(f, q, x, FC_ACTIVE);          /* 2 */
  fx_unique(f, q, NOW - DAY);              /* 3 */
  fx_desktop(f, p, -1, FC_DECOMMISSIONED); /* 4: not active */
  assert_int_equal(2, fc_pick_decommission(&f->e, p, pick, 8));
  assert_int_equal(0, pick[0]);
  assert_int_equal(1, pick[1]);
  /* 3 CMIDs, floor 2: pool p can lose desktop 0 (X stays via 2) and 1 */
  evaluate(f, NULL, p, &r);
  assert_int_equal(3, r.current_count);
  assert_int_equal(2, r.max_decommission);
  fc_result_free(&r);
  /* whole host: 0 and 2 first (X stops: 2 left), then 1 -> 1 */
  evaluate(f, NULL, -1, &r);
  assert_int_equal(2, r.max_decommission);
  fc_result_free(&r);
  free(f);
}

/**
 * A CMID on desktops of a 1 d and a 7 d pool, both active.  Projected
 * renewals use the largest R (errs low): stopped at NOW + 10 d after last
 * NOW - 2 d, the last credited renewal is NOW + 5 d: expiry NOW + 35 d
 * (with 1 d it would be NOW + 40 d).  The status uses the smallest R:
 * last NOW - 5 d is lapsing (5 d > 1 d + grace), and renewing once the
 * 1 d desktop is powered off (5 d <= 7 d + grace).
 */
static void
test_renewal_interval_mix(void **state)
{
  struct fx *f = fx_new(50, 1);
  int32_t daily = fx_pool(f, DAY, true);
  int32_t weekly = fx_pool(f, WEEK, true);
  int32_t c = fx_cmid(f, NOW - 2 * DAY, 5);
  int32_t both[2];
  struct fc_plan plan;
  struct fc_result r;

  (void) state;
  both[0] = fx_desktop(f, daily, c, FC_ACTIVE);
  both[1] = fx_desktop(f, weekly, c, FC_ACTIVE);
  plan = plan_of(NOW + 10 * DAY, 2, both, 0, NULL);
  evaluate(f, &plan, -1, &r);
  /* projected with the largest R, 7 d: last credited renewal NOW + 5 d */
  assert_int_equal(2, r.n_steps);
  assert_int_equal(NOW + 35 * DAY, r.steps[1].at);
  fc_result_free(&r);
  /* status with the smallest R, 1 d: 5 d > 1 d + grace */
  f->cmids[c].last_request = NOW - 5 * DAY;
  assert_int_equal(FC_LAPSING, fc_cmid_status(&f->e, c));
  f->desktops[both[0]].state = FC_POWERED_OFF;
  assert_int_equal(FC_RENEWING, fc_cmid_status(&f->e, c));
  free(f);
}

/**
 * Invalid indices and out-of-range values are refused, and the result stays
 * freeable.
 */
static void
test_invalid_input(void **state)
{
  struct fx *f = steady_pool();
  int32_t bad = 30;
  struct fc_provision prov = { 7, 1 };
  struct fc_plan p1 = plan_of(NOW, 1, &bad, 0, NULL);
  struct fc_plan p2 = plan_of(NOW, 0, NULL, 1, &prov);
  struct fc_result r;
  int32_t pick[4];

  (void) state;
  assert_int_equal(-1, fc_evaluate(&f->e, &p1, -1, &r));
  fc_result_free(&r);
  assert_int_equal(-1, fc_evaluate(&f->e, &p2, -1, &r));
  assert_int_equal(-1, fc_evaluate(&f->e, NULL, 5, &r));
  assert_int_equal(-1, fc_evaluate(NULL, NULL, -1, &r));
  f->desktops[3].cmid = 99;
  assert_int_equal(-1, fc_evaluate(&f->e, NULL, -1, &r));
  assert_int_equal(0, fc_pick_decommission(&f->e, -1, pick, 4));
  f->desktops[3].cmid = 3;
  f->pools[0].renewal_seconds = 0;
  assert_int_equal(-1, fc_evaluate(&f->e, NULL, -1, &r));
  f->pools[0].renewal_seconds = E + 1;
  assert_int_equal(-1, fc_evaluate(&f->e, NULL, -1, &r));
  f->pools[0].renewal_seconds = E;
  assert_int_equal(0, fc_evaluate(&f->e, NULL, -1, &r));
  fc_result_free(&r);
  fc_result_free(&r);
  assert_int_equal(FC_UNSEEN, fc_cmid_status(&f->e, 30));
  free(f);
}

/** An empty host: count 0, one step, no candidates. */
static void
test_empty_estate(void **state)
{
  struct fx *f = fx_new(50, 25);
  struct fc_result r;

  (void) state;
  evaluate(f, NULL, -1, &r);
  assert_int_equal(0, r.current_count);
  assert_int_equal(1, r.n_steps);
  assert_int_equal(0, r.steps[0].count);
  assert_false(r.go);
  assert_int_equal(0, r.max_decommission);
  fc_result_free(&r);
  free(f);
}

/* ------------------------------------------ naive reference model */

/*
 * A deliberately simple re-statement of section 3, independent of the
 * library's data structures: per CMID, its latest request at or before t
 * by looping over desktops and plans; count(t) by looping over all CMIDs
 * at each candidate time.
 */

struct world {
  const struct fc_estate *e;
  const struct fc_plan *extra; /* evaluated plan, or NULL */
};

/** Plan i of the world: the reserved plans, then the evaluated one (or NULL). */
static const struct fc_plan *
ref_plan(const struct world *w, size_t i)
{
  return i < w->e->n_reserved ? &w->e->reserved[i] : w->extra;
}

static int64_t
ref_at(const struct fc_estate *e, const struct fc_plan *p)
{
  return p->at > e->now ? p->at : e->now;
}

static int64_t
ref_decommission_time(const struct world *w, int32_t d)
{
  int64_t t = INT64_MAX;

  for (size_t i = 0; i <= w->e->n_reserved; i++) {
    const struct fc_plan *p = ref_plan(w, i);

    for (size_t j = 0; NULL != p && j < p->n_decommission; j++)
      if (p->decommission[j] == d && ref_at(w->e, p) < t)
        t = ref_at(w->e, p);
  }
  return t;
}

/** A request after now counts as made at now. */
static int64_t
ref_last(const struct fc_estate *e, int32_t c)
{
  int64_t last = e->cmids[c].last_request;

  return last > e->now ? e->now : last;
}

/** Rule (a) counts an active desktop only while it is not reported powered off. */
static bool
ref_renews(const struct fc_estate *e, int32_t d)
{
  return FC_ACTIVE == e->desktops[d].state && !e->desktops[d].powered_off;
}

static bool
ref_renewing(const struct fc_estate *e, int32_t c)
{
  int64_t age = e->now - ref_last(e, c);
  int64_t min_r = INT64_MAX;
  bool any = false;

  for (size_t d = 0; d < e->n_desktops; d++) {
    if (e->desktops[d].cmid != c)
      continue;
    any = true;
    if (ref_renews(e, (int32_t) d) && e->pools[e->desktops[d].pool].renewal_seconds < min_r)
      min_r = e->pools[e->desktops[d].pool].renewal_seconds;
  }
  if (INT64_MAX != min_r)
    return age <= min_r + DAY;
  return !any && !e->cmids[c].last_client_registered && e->cmids[c].request_count >= 2
         && age <= e->host_renewal_seconds + DAY;
}

/** R of projected renewals: the largest of the active desktops', else the host's. */
static int64_t
ref_projection_r(const struct fc_estate *e, int32_t c)
{
  int64_t r = 0;

  for (size_t d = 0; d < e->n_desktops; d++)
    if (e->desktops[d].cmid == c && ref_renews(e, (int32_t) d)
        && e->pools[e->desktops[d].pool].renewal_seconds > r)
      r = e->pools[e->desktops[d].pool].renewal_seconds;
  return 0 == r ? e->host_renewal_seconds : r;
}

/** When the last active desktop of c goes, or INT64_MAX (none goes, or none). */
static int64_t
ref_stop(const struct world *w, int32_t c)
{
  const struct fc_estate *e = w->e;
  int64_t t = INT64_MIN;

  for (size_t d = 0; d < e->n_desktops; d++) {
    int64_t td;

    if (e->desktops[d].cmid != c || !ref_renews(e, (int32_t) d))
      continue;
    td = ref_decommission_time(w, (int32_t) d);
    if (td > t)
      t = td;
  }
  return INT64_MIN == t ? INT64_MAX : t;
}

/** The most recently seen CMID of a pool's desktops (ties: lowest index), or -1. */
static int32_t
ref_image(const struct fc_estate *e, int32_t pool)
{
  int32_t img = -1;

  for (size_t d = 0; d < e->n_desktops; d++) {
    int32_t c = e->desktops[d].cmid;

    if (e->desktops[d].pool != pool || c < 0)
      continue;
    if (img < 0 || ref_last(e, c) > ref_last(e, img)
        || (ref_last(e, c) == ref_last(e, img) && c < img))
      img = c;
  }
  return img;
}

/** Earliest provision (count > 0) into a pool over the world's plans, or INT64_MAX. */
static int64_t
ref_first_provision(const struct world *w, int32_t pool)
{
  int64_t first = INT64_MAX;

  for (size_t i = 0; i <= w->e->n_reserved; i++) {
    const struct fc_plan *p = ref_plan(w, i);

    for (size_t j = 0; NULL != p && j < p->n_provision; j++)
      if (p->provision[j].pool == pool && p->provision[j].count > 0 && ref_at(w->e, p) < first)
        first = ref_at(w->e, p);
  }
  return first;
}

/** When clones of a shared image start requesting c again, or INT64_MAX. */
static int64_t
ref_rereq(const struct world *w, int32_t c)
{
  int64_t t = INT64_MAX;

  for (size_t q = 0; q < w->e->n_pools; q++) {
    int64_t fp;

    if (w->e->pools[q].unique_cmids || ref_image(w->e, (int32_t) q) != c)
      continue;
    fp = ref_first_provision(w, (int32_t) q);
    if (fp < t)
      t = fp;
  }
  return t;
}

/**
 * The latest request of c at or before t, or INT64_MIN: its last seen
 * one; renewals last + k*R with now < last + k*R <= min(t, stop) if it
 * renews; requests of clones every R from the re-request time.
 */
static int64_t
ref_latest(const struct world *w, int32_t c, int64_t t)
{
  const struct fc_estate *e = w->e;
  int64_t last = ref_last(e, c);
  int64_t best = last <= t ? last : INT64_MIN;
  int64_t r = ref_projection_r(e, c);
  int64_t tr = ref_rereq(w, c);

  if (ref_renewing(e, c)) {
    int64_t stop = ref_stop(w, c);
    int64_t lim = t < stop ? t : stop;

    if (lim > e->now) {
      int64_t k = last + (lim - last) / r * r;

      if (k > e->now && k > best)
        best = k;
    }
  }
  if (tr <= t) {
    int64_t k = tr + (t - tr) / r * r;

    if (k > best)
      best = k;
  }
  return best;
}

/** New CMIDs at t: unique provisions, and one per shared pool with no known CMID. */
static int64_t
ref_new_cmids(const struct world *w, int64_t t)
{
  const struct fc_estate *e = w->e;
  int64_t n = 0;

  for (size_t i = 0; i <= e->n_reserved; i++) {
    const struct fc_plan *p = ref_plan(w, i);

    for (size_t j = 0; NULL != p && j < p->n_provision; j++)
      if (e->pools[p->provision[j].pool].unique_cmids && ref_at(e, p) <= t)
        n += p->provision[j].count;
  }
  for (size_t q = 0; q < e->n_pools; q++)
    if (!e->pools[q].unique_cmids && ref_image(e, (int32_t) q) < 0
        && ref_first_provision(w, (int32_t) q) <= t)
      n++;
  return n;
}

static int32_t
ref_count(const struct world *w, int64_t t)
{
  const struct fc_estate *e = w->e;
  int64_t n = ref_new_cmids(w, t);

  for (size_t c = 0; c < e->n_cmids; c++) {
    int64_t r = ref_latest(w, (int32_t) c, t);

    if (INT64_MIN != r && t < r + E)
      n++;
  }
  return n > e->capacity ? e->capacity : (int32_t) n;
}

static void
add_time(int64_t *times, size_t *n, int64_t t, int64_t lo, int64_t hi)
{
  if (t > lo && t <= hi)
    times[(*n)++] = t;
}

static int
cmp_time(const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a;
  int64_t y = *(const int64_t *) b;

  return (x > y) - (x < y);
}

/**
 * Steps of the world over [lo, hi]; returns the count of steps written.
 * Candidate times: everything at which a CMID can start or stop counting.
 */
static size_t
ref_steps(const struct world *w, int64_t lo, int64_t hi, struct fc_step *steps)
{
  const struct fc_estate *e = w->e;
  int64_t times[8 * MAXN];
  size_t nt = 0;
  size_t ns = 0;

  for (size_t c = 0; c < e->n_cmids; c++) {
    int64_t last = ref_last(e, (int32_t) c);
    int64_t r = ref_projection_r(e, (int32_t) c);
    int64_t stop = ref_stop(w, (int32_t) c);
    int64_t tr = ref_rereq(w, (int32_t) c);

    add_time(times, &nt, last + E, lo, hi);
    add_time(times, &nt, last + ((e->now - last) / r + 1) * r, lo, hi);
    if (INT64_MAX != stop && stop > last)
      add_time(times, &nt, last + (stop - last) / r * r + E, lo, hi);
    if (INT64_MAX != tr)
      add_time(times, &nt, tr, lo, hi);
  }
  for (size_t i = 0; i <= e->n_reserved; i++) {
    const struct fc_plan *p = ref_plan(w, i);

    if (NULL != p)
      add_time(times, &nt, ref_at(e, p), lo, hi);
  }
  qsort(times, nt, sizeof *times, &cmp_time);
  steps[ns].at = lo;
  steps[ns++].count = ref_count(w, lo);
  for (size_t i = 0; i < nt; i++) {
    int32_t c = ref_count(w, times[i]);

    if (c != steps[ns - 1].count) {
      steps[ns].at = times[i];
      steps[ns++].count = c;
    }
  }
  return ns;
}

static int32_t
steps_min(const struct fc_step *s, size_t n, int64_t *at)
{
  int32_t m = s[0].count;

  *at = s[0].at;
  for (size_t i = 1; i < n; i++)
    if (s[i].count < m) {
      m = s[i].count;
      *at = s[i].at;
    }
  return m;
}

struct ref_cand {
  int group;
  int64_t last;
  const char *host;
  int32_t desktop;
};

static int
cmp_ref_cand(const void *pa, const void *pb)
{
  const struct ref_cand *a = pa;
  const struct ref_cand *b = pb;
  int s;

  if (a->group != b->group)
    return a->group - b->group;
  if (a->last != b->last)
    return a->last > b->last ? -1 : 1; /* latest request first */
  s = strcmp(a->host, b->host);
  return 0 != s ? s : a->desktop - b->desktop;
}

static bool
ref_in_reserved(const struct fc_estate *e, int32_t d)
{
  struct world w = { e, NULL };

  return INT64_MAX != ref_decommission_time(&w, d);
}

static bool
ref_remaining(const struct fc_estate *e, int32_t d)
{
  return FC_ACTIVE == e->desktops[d].state && !ref_in_reserved(e, d);
}

/** The decommission order, restated: shared, lapsing/unseen, latest request. */
static size_t
ref_order(const struct fc_estate *e, int32_t pool, int32_t *out)
{
  struct ref_cand c[MAXN];
  size_t n = 0;

  for (size_t d = 0; d < e->n_desktops; d++) {
    int32_t cm = e->desktops[d].cmid;
    bool shared = false;

    if (!ref_remaining(e, (int32_t) d) || (-1 != pool && e->desktops[d].pool != pool))
      continue;
    for (size_t o = 0; o < e->n_desktops && cm >= 0; o++)
      if (o != d && e->desktops[o].cmid == cm && ref_remaining(e, (int32_t) o)
          && ref_renews(e, (int32_t) o))
        shared = true;
    c[n].desktop = (int32_t) d;
    c[n].host = e->desktops[d].hostname;
    c[n].last = 0;
    if (shared)
      c[n].group = 0;
    else if (cm < 0 || !ref_renewing(e, cm) || !ref_renews(e, (int32_t) d))
      c[n].group = 1;
    else {
      c[n].group = 2;
      c[n].last = ref_last(e, cm);
    }
    n++;
  }
  qsort(c, n, sizeof *c, &cmp_ref_cand);
  for (size_t i = 0; i < n; i++)
    out[i] = c[i].desktop;
  return n;
}

/** Brute force max_decommission over the restated pick order. */
static int32_t
ref_max_decommission(const struct fc_estate *e, const struct fc_plan *plan, int32_t pool,
                     int64_t at, int64_t lo, int64_t hi)
{
  int32_t order[MAXN];
  int32_t lib[MAXN];
  size_t n = ref_order(e, pool, order);
  struct fc_step steps[4 * MAXN];
  int64_t min_at;
  int32_t best = 0;

  assert_int_equal(n, fc_pick_decommission(e, pool, lib, MAXN));
  for (size_t i = 0; i < n; i++)
    assert_int_equal(order[i], lib[i]);
  for (size_t k = 0; k <= n; k++) {
    struct fc_plan p = plan_of(at, k, order, 0, NULL);
    struct world w = { e, &p };
    size_t ns;

    if (NULL != plan) {
      p.n_provision = plan->n_provision;
      p.provision = plan->provision;
    }
    ns = ref_steps(&w, lo, hi, steps);
    if (steps_min(steps, ns, &min_at) < e->threshold + e->margin)
      break;
    best = (int32_t) k;
  }
  return best;
}

/* --------------------------------------------- randomized comparison */

/* 20 d and 30 d: R > E / 2, where a renewal not credited leaves a gap */
static const int64_t intervals[] = { 15 * 60, HOUR, DAY, WEEK, 20 * DAY, 30 * DAY };
#define N_INTERVALS (sizeof intervals / sizeof intervals[0])

/**
 * A last request time: uniform over 40 days, or at a rule's edge (R,
 * R + grace, E, H, each +/- 1 s), or up to 10 minutes ahead of now.
 */
static int64_t
random_last(uint64_t *s, const struct fx *f)
{
  int64_t r = intervals[rnd(s) % N_INTERVALS];
  const int64_t edges[] = { r, r + DAY, E, f->e.horizon_seconds };

  switch (rnd(s) % 4) {
    case 0:
      return NOW - edges[rnd(s) % 4] + rnd_range(s, -1, 1);
    case 1:
      return NOW + rnd_range(s, 0, 600);
    default:
      return NOW - rnd_range(s, 0, 40 * DAY);
  }
}

static void
random_plan(uint64_t *s, struct fx *f, int64_t *at, int32_t *dec, size_t *n_dec,
            struct fc_provision *prov, size_t *n_prov)
{
  *at = NOW + rnd_range(s, -2, 20) * DAY + rnd_range(s, 0, 3) * HOUR;
  *n_dec = f->e.n_desktops > 0 ? (size_t) rnd_range(s, 0, 5) : 0;
  for (size_t i = 0; i < *n_dec; i++)
    dec[i] = (int32_t) rnd_range(s, 0, (int64_t) f->e.n_desktops - 1);
  *n_prov = (size_t) rnd_range(s, 0, 2);
  for (size_t i = 0; i < *n_prov; i++) {
    prov[i].pool = (int32_t) rnd_range(s, 0, (int64_t) f->e.n_pools - 1);
    prov[i].count = (int32_t) rnd_range(s, 0, 4);
  }
}

static void
random_estate(uint64_t *s, struct fx *f)
{
  size_t np = (size_t) rnd_range(s, 1, 3);
  size_t nc = (size_t) rnd_range(s, 0, 25);
  size_t nd = (size_t) rnd_range(s, 0, 25);

  f->e.host_renewal_seconds = intervals[rnd(s) % N_INTERVALS];
  f->e.horizon_seconds = rnd_range(s, 1, 60) * DAY;
  for (size_t i = 0; i < np; i++)
    fx_pool(f, intervals[rnd(s) % N_INTERVALS], 0 != rnd(s) % 3);
  for (size_t i = 0; i < nc; i++) {
    int32_t c = fx_cmid(f, random_last(s, f), (int32_t) rnd_range(s, 1, 3));

    f->cmids[c].last_client_registered = 0 == rnd(s) % 4;
  }
  for (size_t i = 0; i < nd; i++) {
    int32_t c = 0 == nc || 0 == rnd(s) % 6 ? -1 : (int32_t) rnd_range(s, 0, (int64_t) nc - 1);
    int64_t st = rnd_range(s, 0, 9);

    int32_t d = fx_desktop(f, (int32_t) rnd_range(s, 0, (int64_t) np - 1), c,
                           st < 7   ? FC_ACTIVE
                           : st < 9 ? FC_POWERED_OFF
                                    : FC_DECOMMISSIONED);

    /* a sync reports some desktops powered off (of any state) */
    f->desktops[d].powered_off = 0 == rnd(s) % 4;

    /* out of index order half of the time, often tied on the 8 bytes
       after the common prefix: exercises sorting by name */
    if (0 == rnd(s) % 2)
      snprintf(f->names[d], sizeof f->names[d], "p%d-desktop-%03d", (int) rnd_range(s, 0, 2),
               (int) rnd_range(s, 0, 999));
  }
  for (size_t i = 0, n = (size_t) rnd_range(s, 0, 2); i < n; i++) {
    struct fc_plan *p = fx_reserve(f, 0);
    size_t n_dec;
    size_t n_prov;

    random_plan(s, f, &p->at, f->res_dec[i], &n_dec, f->res_prov[i], &n_prov);
    p->n_decommission = n_dec;
    p->n_provision = n_prov;
  }
}

/** Prints an estate whose steps differ from the reference, to debug it. */
static void
print_world(const struct fx *f, const struct fc_plan *plan, const struct fc_step *steps, size_t ns,
            const struct fc_result *r)
{
  fprintf(stderr, "host R %lld, capacity %d, window +%lld..+%lld\n",
          (long long) f->e.host_renewal_seconds, f->e.capacity, (long long) (r->window_start - NOW),
          (long long) (r->window_end - NOW));
  for (size_t c = 0; c < f->e.n_cmids; c++)
    fprintf(stderr, " cmid %zu: age %lld, %d requests, registered %d\n", c,
            (long long) (NOW - f->cmids[c].last_request), f->cmids[c].request_count,
            f->cmids[c].last_client_registered);
  for (size_t q = 0; q < f->e.n_pools; q++)
    fprintf(stderr, " pool %zu: R %lld, unique %d\n", q, (long long) f->pools[q].renewal_seconds,
            f->pools[q].unique_cmids);
  for (size_t d = 0; d < f->e.n_desktops; d++)
    fprintf(stderr, " desktop %zu: pool %d, cmid %d, state %d\n", d, f->desktops[d].pool,
            f->desktops[d].cmid, f->desktops[d].state);
  for (size_t i = 0; i <= f->e.n_reserved; i++) {
    const struct fc_plan *p = i < f->e.n_reserved ? &f->e.reserved[i] : plan;

    if (NULL == p)
      continue;
    fprintf(stderr, " %s plan at +%lld, decommission",
            i < f->e.n_reserved ? "reserved" : "evaluated", (long long) (p->at - NOW));
    for (size_t j = 0; j < p->n_decommission; j++)
      fprintf(stderr, " %d", p->decommission[j]);
    fprintf(stderr, ", provision");
    for (size_t j = 0; j < p->n_provision; j++)
      fprintf(stderr, " %d:%d", p->provision[j].pool, p->provision[j].count);
    fprintf(stderr, "\n");
  }
  fprintf(stderr, " reference:");
  for (size_t i = 0; i < ns; i++)
    fprintf(stderr, " +%lld=%d", (long long) (steps[i].at - NOW), steps[i].count);
  fprintf(stderr, "\n library:  ");
  for (size_t i = 0; i < r->n_steps; i++)
    fprintf(stderr, " +%lld=%d", (long long) (r->steps[i].at - NOW), r->steps[i].count);
  fprintf(stderr, "\n");
}

static void
compare_one(struct fx *f, const struct fc_plan *plan, int32_t pool)
{
  struct fc_result r;
  struct fc_step steps[4 * MAXN];
  struct world base = { &f->e, NULL };
  struct world planned = { &f->e, plan };
  size_t ns;
  int64_t min_at;
  int32_t min;

  evaluate(f, plan, pool, &r);
  ns = ref_steps(&planned, r.window_start, r.window_end, steps);
  if (ns != r.n_steps)
    print_world(f, plan, steps, ns, &r);
  assert_int_equal(ns, r.n_steps);
  for (size_t i = 0; i < ns; i++) {
    assert_int_equal(steps[i].at, r.steps[i].at);
    assert_int_equal(steps[i].count, r.steps[i].count);
  }
  min = steps_min(steps, ns, &min_at);
  assert_int_equal(min, r.projected_min);
  assert_int_equal(min_at, r.projected_min_at);
  assert_int_equal(min >= r.floor, r.go);
  ns = ref_steps(&base, r.window_start, r.window_end, steps);
  min = steps_min(steps, ns, &min_at);
  assert_int_equal(min, r.baseline_min);
  assert_int_equal(min_at, r.baseline_min_at);
  assert_int_equal(
    ref_max_decommission(&f->e, plan, pool, r.max_decommission_at, r.window_start, r.window_end),
    r.max_decommission);
  fc_result_free(&r);
}

static void
test_random_against_reference(void **state)
{
  uint64_t s = 0x9E3779B97F4A7C15ULL;

  (void) state;
  for (int iter = 0; iter < random_iterations; iter++) {
    struct fx *f = fx_new((int32_t) rnd_range(&s, 3, 30), (int32_t) rnd_range(&s, 1, 15));
    int32_t dec[8];
    struct fc_provision prov[4];
    struct fc_plan plan = { 0 };
    int32_t pool;

    random_estate(&s, f);
    random_plan(&s, f, &plan.at, dec, &plan.n_decommission, prov, &plan.n_provision);
    plan.decommission = dec;
    plan.provision = prov;
    pool = 0 == rnd(&s) % 2 ? -1 : (int32_t) rnd_range(&s, 0, (int64_t) f->e.n_pools - 1);
    compare_one(f, NULL, pool);
    compare_one(f, &plan, pool);
    free(f);
  }
}

/* ------------------------------------------------- prepared estates */

static void
assert_same_result(const struct fc_result *a, const struct fc_result *b)
{
  assert_int_equal(a->floor, b->floor);
  assert_int_equal(a->current_count, b->current_count);
  assert_int_equal(a->window_start, b->window_start);
  assert_int_equal(a->window_end, b->window_end);
  assert_int_equal(a->baseline_min, b->baseline_min);
  assert_int_equal(a->baseline_min_at, b->baseline_min_at);
  assert_int_equal(a->projected_min, b->projected_min);
  assert_int_equal(a->projected_min_at, b->projected_min_at);
  assert_int_equal(a->has_breach, b->has_breach);
  assert_int_equal(a->first_breach_at, b->first_breach_at);
  assert_int_equal(a->go, b->go);
  assert_int_equal(a->max_decommission, b->max_decommission);
  assert_int_equal(a->max_decommission_at, b->max_decommission_at);
  assert_int_equal(a->renewing, b->renewing);
  assert_int_equal(a->lapsing, b->lapsing);
  assert_int_equal(a->unseen, b->unseen);
  assert_int_equal(a->plan_lapsing_cmids, b->plan_lapsing_cmids);
  assert_int_equal(a->plan_lapsing_first_expiry, b->plan_lapsing_first_expiry);
  assert_int_equal(a->plan_new_cmids, b->plan_new_cmids);
  assert_int_equal(a->n_steps, b->n_steps);
  for (size_t i = 0; i < a->n_steps; i++) {
    assert_int_equal(a->steps[i].at, b->steps[i].at);
    assert_int_equal(a->steps[i].count, b->steps[i].count);
  }
}

/**
 * fc_evaluate_prepared (p, margin, horizon, ...) against fc_evaluate() of
 * the estate with that margin and horizon, and (the estate being small)
 * against the naive reference.
 */
static void
compare_prepared(struct fx *f, const struct fc_prepared *p, int32_t margin, int64_t horizon,
                 const struct fc_plan *plan, int32_t pool)
{
  struct fc_estate saved = f->e;
  struct fc_result a;
  struct fc_result b;

  f->e.margin = margin;
  f->e.horizon_seconds = horizon;
  assert_int_equal(0, fc_evaluate(&f->e, plan, pool, &a));
  assert_int_equal(0, fc_evaluate_prepared(p, margin, horizon, plan, pool, &b));
  assert_same_result(&a, &b);
  fc_result_free(&a);
  fc_result_free(&b);
  compare_one(f, plan, pool);
  f->e = saved;
}

static void
test_prepared_matches_evaluate(void **state)
{
  uint64_t s = 0xD1B54A32D192ED03ULL;

  (void) state;
  for (int iter = 0; iter < random_iterations; iter++) {
    struct fx *f = fx_new((int32_t) rnd_range(&s, 3, 30), (int32_t) rnd_range(&s, 1, 15));
    struct fc_prepared *p;
    int64_t max_h;
    int32_t pick_a[MAXN];
    int32_t pick_b[MAXN];

    random_estate(&s, f);
    max_h = rnd_range(&s, 0, 60) * DAY + rnd_range(&s, 0, 1) * HOUR;
    assert_int_equal(0, fc_prepare(&f->e, max_h, &p));
    for (int32_t pool = -1; pool < (int32_t) f->e.n_pools; pool++) {
      size_t na = fc_pick_decommission(&f->e, pool, pick_a, MAXN);
      size_t nb = fc_pick_decommission_prepared(p, pool, pick_b, MAXN);

      assert_int_equal(na, nb);
      for (size_t i = 0; i < na; i++)
        assert_int_equal(pick_a[i], pick_b[i]);
    }
    for (int k = 0; k < 8; k++) {
      int32_t dec[8];
      struct fc_provision prov[4];
      struct fc_plan plan = { 0 };
      int32_t margin = (int32_t) rnd_range(&s, -5, 5);
      int64_t horizon = 0 == rnd(&s) % 4 ? max_h : rnd_range(&s, 0, max_h);
      int32_t pool = 0 == rnd(&s) % 2 ? -1 : (int32_t) rnd_range(&s, 0, (int64_t) f->e.n_pools - 1);

      random_plan(&s, f, &plan.at, dec, &plan.n_decommission, prov, &plan.n_provision);
      if (0 == rnd(&s) % 3)
        plan.at = NOW - rnd_range(&s, 0, 1) * HOUR;
      plan.decommission = dec;
      plan.provision = prov;
      compare_prepared(f, p, margin, horizon, 0 == k ? NULL : &plan, pool);
    }
    fc_prepared_free(p);
    free(f);
  }
}

/** Bad arguments to the prepared API fail cleanly. */
static void
test_prepared_invalid(void **state)
{
  struct fx *f = steady_pool();
  struct fc_prepared *p = (struct fc_prepared *) &p;
  int32_t bad = 30;
  struct fc_plan p1 = plan_of(NOW, 1, &bad, 0, NULL);
  struct fc_result r;
  int32_t pick[4];

  (void) state;
  assert_int_equal(-1, fc_prepare(NULL, DAY, &p));
  assert_null(p);
  assert_int_equal(-1, fc_prepare(&f->e, -1, &p));
  assert_int_equal(-1, fc_prepare(&f->e, DAY, NULL));
  assert_int_equal(0, fc_prepare(&f->e, 10 * DAY, &p));
  assert_int_equal(-1, fc_evaluate_prepared(p, 0, 10 * DAY + 1, NULL, -1, &r));
  assert_int_equal(-1, fc_evaluate_prepared(p, 0, -1, NULL, -1, &r));
  assert_int_equal(-1, fc_evaluate_prepared(p, 0, DAY, &p1, -1, &r));
  assert_int_equal(-1, fc_evaluate_prepared(p, 0, DAY, NULL, 5, &r));
  assert_int_equal(-1, fc_evaluate_prepared(NULL, 0, DAY, NULL, -1, &r));
  assert_int_equal(-1, fc_evaluate_prepared(p, 0, DAY, NULL, -1, NULL));
  assert_int_equal(0, fc_pick_decommission_prepared(p, 5, pick, 4));
  assert_int_equal(0, fc_pick_decommission_prepared(NULL, -1, pick, 4));
  assert_int_equal(4, fc_pick_decommission_prepared(p, -1, pick, 4));
  assert_int_equal(0, fc_evaluate_prepared(p, 0, 10 * DAY, NULL, -1, &r));
  fc_result_free(&r);
  fc_prepared_free(p);
  fc_prepared_free(NULL);
  f->desktops[3].cmid = 99;
  assert_int_equal(-1, fc_prepare(&f->e, DAY, &p));
  assert_null(p);
  free(f);
}

/* ------------------------------------------------------ 100k estate */

#define BIG 100000

struct big {
  struct fc_estate e;
  struct fc_cmid *cmids;
  struct fc_pool pools[4];
  struct fc_desktop *desktops;
  char *names;
};

/**
 * 100k desktops in 4 pools (one shared-image pool with CMIDs shared by 10
 * clones), some powered off or unseen, plus 5k CMIDs on no desktop, with
 * requests spread over the last 40 days.  Capacity below the raw count so
 * that the clamp matters.
 */
static void
big_build(struct big *b)
{
  uint64_t s = 42;
  size_t nc = 0;

  memset(b, 0, sizeof *b);
  b->cmids = calloc(BIG + 5000, sizeof *b->cmids);
  b->desktops = calloc(BIG, sizeof *b->desktops);
  b->names = calloc(BIG, 24);
  assert_non_null(b->cmids);
  assert_non_null(b->desktops);
  assert_non_null(b->names);
  b->pools[0] = (struct fc_pool){ WEEK, true };
  b->pools[1] = (struct fc_pool){ DAY, true };
  b->pools[2] = (struct fc_pool){ WEEK, false };
  b->pools[3] = (struct fc_pool){ 30 * DAY, true };
  for (size_t i = 0; i < BIG; i++) {
    struct fc_desktop *d = &b->desktops[i];
    int64_t roll = rnd_range(&s, 0, 99);

    snprintf(b->names + 24 * i, 24, "vdi-%06zu.corp", i);
    d->hostname = b->names + 24 * i;
    d->pool = (int32_t) (i % 4);
    d->state = roll < 90 ? FC_ACTIVE : roll < 97 ? FC_POWERED_OFF : FC_DECOMMISSIONED;
    if (2 == d->pool && i % 40 != 2)
      d->cmid = b->desktops[i - i % 40 + 2].cmid; /* 10 clones share */
    else if (0 == rnd(&s) % 50)
      d->cmid = -1;
    else {
      b->cmids[nc].last_request = NOW - rnd_range(&s, 0, 40 * DAY);
      b->cmids[nc].request_count = (int32_t) rnd_range(&s, 1, 9);
      d->cmid = (int32_t) nc++;
    }
  }
  for (size_t i = 0; i < 5000; i++, nc++) {
    b->cmids[nc].last_request = NOW - rnd_range(&s, 0, 40 * DAY);
    b->cmids[nc].request_count = (int32_t) rnd_range(&s, 1, 3);
  }
  /* clang-format off */
  b->e = (struct fc_estate) {
    .now = NOW, .capacity = 60000, .threshold = 20000, .margin = 0,
    .host_renewal_seconds = WEEK, .horizon_seconds = 45 * DAY,
    .n_cmids = nc, .cmids = b->cmids, .n_pools = 4, .pools = b->pools,
    .n_desktops = BIG, .desktops = b->desktops
  };
  /* clang-format on */
}

static void
big_free(struct big *b)
{
  free(b->cmids);
  free(b->desktops);
  free(b->names);
}

static void
assert_invariants(const struct fc_estate *e, const struct fc_result *r)
{
  assert_true(r->n_steps >= 1);
  assert_int_equal(r->window_start, r->steps[0].at);
  for (size_t i = 0; i < r->n_steps; i++) {
    assert_true(r->steps[i].count <= e->capacity);
    assert_true(r->steps[i].count >= 0);
    assert_true(r->projected_min <= r->steps[i].count);
    assert_true(r->steps[i].at <= r->window_end);
    if (i > 0) {
      assert_true(r->steps[i].at > r->steps[i - 1].at);
      assert_true(r->steps[i].count != r->steps[i - 1].count);
    }
  }
  assert_int_equal(r->go, r->projected_min >= r->floor);
  assert_int_equal(r->has_breach, r->projected_min < r->floor);
  assert_true(r->current_count <= e->capacity);
}

/** A plan of the first k picks at @a at, with @a prov: go? */
static bool
big_go(const struct big *b, const int32_t *order, size_t k, int64_t at,
       const struct fc_provision *prov, size_t n_prov)
{
  struct fc_plan p = plan_of(at, k, order, n_prov, prov);
  struct fc_result r;
  bool go;

  assert_int_equal(0, fc_evaluate(&b->e, &p, -1, &r));
  assert_invariants(&b->e, &r);
  go = r.go;
  fc_result_free(&r);
  return go;
}

static void
test_big_estate_invariants(void **state)
{
  struct big b;
  int32_t *order = malloc(BIG * sizeof *order);
  struct fc_provision prov = { 0, 100 };
  struct fc_plan plan;
  struct fc_result r;
  size_t n;

  (void) state;
  assert_non_null(order);
  big_build(&b);
  n = fc_pick_decommission(&b.e, -1, order, BIG);
  assert_true(n > 80000 && n <= BIG);
  plan = plan_of(NOW + DAY, 2000, order + 5000, 1, &prov);
  assert_int_equal(0, fc_evaluate(&b.e, &plan, -1, &r));
  assert_invariants(&b.e, &r);
  assert_true(r.baseline_min <= r.current_count || r.window_start > NOW);
  assert_true(r.max_decommission >= 0 && (size_t) r.max_decommission <= n);
  assert_int_equal(NOW + DAY, r.max_decommission_at);
  /* max_decommission is exact: k goes, k + 1 does not (the baseline
     minimum is about 24k against a floor of 20k, so k is far from 0) */
  assert_true(r.max_decommission > 1000);
  assert_true(big_go(&b, order, (size_t) r.max_decommission, NOW + DAY, &prov, 1));
  if ((size_t) r.max_decommission < n)
    assert_false(big_go(&b, order, (size_t) r.max_decommission + 1, NOW + DAY, &prov, 1));
  fc_result_free(&r);
  assert_int_equal(0, fc_evaluate(&b.e, NULL, 2, &r));
  assert_invariants(&b.e, &r);
  assert_int_equal(r.baseline_min, r.projected_min);
  fc_result_free(&r);
  big_free(&b);
  free(order);
}

/**
 * One prepared 100k estate against fc_evaluate() for plans at now and
 * later, several margins, horizons and pools.
 */
static void
test_big_prepared(void **state)
{
  struct big b;
  int32_t *order = malloc(BIG * sizeof *order);
  struct fc_provision prov[2] = { { 0, 100 }, { 2, 3 } };
  struct fc_prepared *p;
  size_t n;

  (void) state;
  assert_non_null(order);
  big_build(&b);
  n = fc_pick_decommission(&b.e, -1, order, BIG);
  assert_int_equal(0, fc_prepare(&b.e, 60 * DAY, &p));
  for (int k = 0; k < 6; k++) {
    struct fc_plan plan = plan_of(0 == k % 2 ? NOW : NOW + k * DAY, (size_t) (1 + 700 * k),
                                  order + 3000 * k, (size_t) (k % 3), prov);
    int32_t margin = 1500 * k - 3000;
    int64_t horizon = (45 + 3 * k) * DAY;
    int32_t pool = k % 3 - 1;
    struct fc_result a;
    struct fc_result r;

    assert_true((size_t) (3000 * k + 1 + 700 * k) <= n);
    b.e.margin = margin;
    b.e.horizon_seconds = horizon;
    assert_int_equal(0, fc_evaluate(&b.e, 0 == k ? NULL : &plan, pool, &a));
    assert_int_equal(0, fc_evaluate_prepared(p, margin, horizon, 0 == k ? NULL : &plan, pool, &r));
    assert_invariants(&b.e, &r);
    assert_same_result(&a, &r);
    fc_result_free(&a);
    fc_result_free(&r);
  }
  fc_prepared_free(p);
  big_free(&b);
  free(order);
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_example1_decommission5_go),
    cmocka_unit_test (test_example1_decommission6_nogo),
    cmocka_unit_test (test_example2_rearm_cliff),
    cmocka_unit_test (test_example3_shared_image),
    cmocka_unit_test (test_example4_capacity),
    cmocka_unit_test (test_example6_two_hosts),
    cmocka_unit_test (test_example7_retire),
    cmocka_unit_test (test_expiry_half_open),
    cmocka_unit_test (test_grace_boundary),
    cmocka_unit_test (test_overdue_renewal_not_credited),
    cmocka_unit_test (test_uncredited_renewal_gap),
    cmocka_unit_test (test_mixed_intervals_err_low),
    cmocka_unit_test (test_shared_image_requests_again),
    cmocka_unit_test (test_future_request_counts_as_now),
    cmocka_unit_test (test_replaced_cmid_lapses),
    cmocka_unit_test (test_rule_b_request_count),
    cmocka_unit_test (test_rule_b_needs_no_desktop),
    cmocka_unit_test (test_capacity_clamp),
    cmocka_unit_test (test_future_decommission),
    cmocka_unit_test (test_shared_cmid_one_vs_both),
    cmocka_unit_test (test_shared_cmid_across_plans),
    cmocka_unit_test (test_duplicate_desktop_earliest_wins),
    cmocka_unit_test (test_powered_off_lapses),
    cmocka_unit_test (test_reported_powered_off_renews_nothing),
    cmocka_unit_test (test_shared_cmid_powered_off_partner),
    cmocka_unit_test (test_unseen_desktop),
    cmocka_unit_test (test_provision_unique),
    cmocka_unit_test (test_provision_shared),
    cmocka_unit_test (test_reserved_in_baseline),
    cmocka_unit_test (test_window_start),
    cmocka_unit_test (test_window_end_inclusive),
    cmocka_unit_test (test_margin_floor),
    cmocka_unit_test (test_pick_order),
    cmocka_unit_test (test_pick_hostname_ties),
    cmocka_unit_test (test_pick_pool_filter),
    cmocka_unit_test (test_renewal_interval_mix),
    cmocka_unit_test (test_invalid_input),
    cmocka_unit_test (test_empty_estate),
    cmocka_unit_test (test_random_against_reference),
    cmocka_unit_test (test_big_estate_invariants),
    cmocka_unit_test (test_prepared_matches_evaluate),
    cmocka_unit_test (test_prepared_invalid),
    cmocka_unit_test (test_big_prepared),
  };
  /* clang-format on */
  const char *n = getenv("KG_MODEL_ITERATIONS");

  if (NULL != n && atoi(n) > 0)
    random_iterations = atoi(n);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
