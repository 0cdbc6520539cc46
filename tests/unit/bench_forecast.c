/**
 * @file bench_forecast.c
 * @brief Micro-benchmark of the forecast model on a 100k-CMID host (not a
 *        cmocka test): about 91k desktops in 20 pools, 95% renewing,
 *        capacity 50, a 3-desktop plan.
 *
 * gcc -std=c11 -O2 -D_GNU_SOURCE -Iservice service/forecast.c \
 *     tests/unit/bench_forecast.c -o /tmp/bench && /tmp/bench
 * Add -DBENCH_NO_PREPARED to time fc_evaluate() only (older forecast.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast.h"
#include "xorshift.h"

#define NOW ((int64_t) 1796083200)
#define DAY ((int64_t) 86400)
#define WEEK (7 * DAY)
#define NC 100000
#define ND 91000
#define NP 20

static double
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

struct host {
  struct fc_estate e;
  struct fc_cmid *cmids;
  struct fc_pool pools[NP];
  struct fc_desktop *desktops;
  char *names;
};

/**
 * Pools 0..18 give every desktop its own CMID, pool 19 clones share a CMID
 * by 10; 95% of CMIDs renewed within their R, the rest are lapsing; the
 * CMIDs on no desktop renew by rule (b).
 */
static void
build(struct host *h, int32_t capacity, int32_t threshold)
{
  static const int64_t rs[] = { WEEK, WEEK, WEEK, DAY, 30 * DAY };
  uint64_t s = 7;
  size_t nc = 0;

  memset(h, 0, sizeof *h);
  h->cmids = calloc(NC, sizeof *h->cmids);
  h->desktops = calloc(ND, sizeof *h->desktops);
  h->names = calloc(ND, 24);
  if (NULL == h->cmids || NULL == h->desktops || NULL == h->names)
    abort();
  for (size_t p = 0; p < NP; p++)
    h->pools[p] = (struct fc_pool){ rs[p % 5], 19 != p };
  for (size_t i = 0; i < ND; i++) {
    struct fc_desktop *d = &h->desktops[i];
    int64_t r;

    snprintf(h->names + 24 * i, 24, "vdi-%06zu.corp", i);
    d->hostname = h->names + 24 * i;
    d->pool = (int32_t) (i % NP);
    d->state = FC_ACTIVE;
    if (19 == d->pool && i % 200 != 19) {
      d->cmid = h->desktops[i - i % 200 + 19].cmid;
      continue;
    }
    r = h->pools[d->pool].renewal_seconds;
    h->cmids[nc].last_request =
      rnd(&s) % 100 < 95 ? NOW - rnd_range(&s, 0, r) : NOW - r - DAY - rnd_range(&s, 1, 25 * DAY);
    h->cmids[nc].request_count = (int32_t) rnd_range(&s, 1, 9);
    d->cmid = (int32_t) nc++;
  }
  while (nc < NC) {
    h->cmids[nc].last_request = rnd(&s) % 100 < 95 ? NOW - rnd_range(&s, 0, WEEK)
                                                   : NOW - 9 * DAY - rnd_range(&s, 1, 20 * DAY);
    h->cmids[nc].request_count = (int32_t) rnd_range(&s, 2, 9);
    nc++;
  }
  /* clang-format off */
  h->e = (struct fc_estate) {
    .now = NOW, .capacity = capacity, .threshold = threshold, .margin = 0,
    .host_renewal_seconds = WEEK, .horizon_seconds = 45 * DAY,
    .n_cmids = nc, .cmids = h->cmids, .n_pools = NP, .pools = h->pools,
    .n_desktops = ND, .desktops = h->desktops
  };
  /* clang-format on */
}

static void
check(int rc, const char *what)
{
  if (0 != rc) {
    fprintf(stderr, "%s failed\n", what);
    exit(1);
  }
}

static void
run(const char *title, int32_t capacity, int32_t threshold)
{
  struct host h;
  int32_t dec3[3] = { 100, 5000, 70001 };
  int32_t dec10[10];
  struct fc_plan p3 = { .at = NOW, .n_decommission = 3, .decommission = dec3 };
  /* clang-format off */
  struct fc_plan p10 = { .at = NOW, .n_decommission = 10,
                         .decommission = dec10 };
  /* clang-format on */
  struct fc_result r;
  int reps = 20;
  double t0;

  build(&h, capacity, threshold);
  for (size_t i = 0; i < 10; i++)
    dec10[i] = (int32_t) (3 + 20 * i * 7); /* pool 3 */
  printf("%s (capacity %d, threshold %d)\n", title, capacity, threshold);

  t0 = now_ms();
  for (int i = 0; i < reps; i++) {
    check(fc_evaluate(&h.e, &p3, -1, &r), "fc_evaluate");
    if (0 == i)
      printf("  3-desktop plan: go %d min %d max_decommission %d\n", r.go, r.projected_min,
             r.max_decommission);
    fc_result_free(&r);
  }
  printf("  fc_evaluate, 3 desktops, pool -1:      %8.3f ms\n", (now_ms() - t0) / reps);

#ifndef BENCH_NO_PREPARED
  {
    struct fc_prepared *pp;
    int n = 2000;

    t0 = now_ms();
    for (int i = 0; i < reps; i++) {
      check(fc_prepare(&h.e, 365 * DAY, &pp), "fc_prepare");
      fc_prepared_free(pp);
    }
    printf("  fc_prepare:                            %8.3f ms\n", (now_ms() - t0) / reps);
    check(fc_prepare(&h.e, 365 * DAY, &pp), "fc_prepare");

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
      dec3[0] = i * 37 % ND;
      check(fc_evaluate_prepared(pp, 0, 45 * DAY, &p3, -1, &r), "prepared");
      fc_result_free(&r);
    }
    printf("  prepared, 3 desktops, pool -1:         %8.3f ms\n", (now_ms() - t0) / n);

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
      check(fc_evaluate_prepared(pp, 0, 45 * DAY, &p10, 3, &r), "prepared");
      if (0 == i)
        printf("  10-desktop plan: go %d max_decommission(pool 3) %d\n", r.go, r.max_decommission);
      fc_result_free(&r);
    }
    printf("  prepared, 10 desktops, pool 3:         %8.3f ms\n", (now_ms() - t0) / n);

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
      check(fc_evaluate_prepared(pp, 0, 45 * DAY, NULL, -1, &r), "prepared");
      if (0 == i)
        printf("  headroom: min %d max_decommission %d\n", r.baseline_min, r.max_decommission);
      fc_result_free(&r);
    }
    printf("  prepared, no plan (headroom), pool -1: %8.3f ms\n", (now_ms() - t0) / n);

    p3.at = NOW + DAY;
    t0 = now_ms();
    for (int i = 0; i < reps; i++) {
      check(fc_evaluate_prepared(pp, 0, 45 * DAY, &p3, -1, &r), "prepared");
      fc_result_free(&r);
    }
    printf("  prepared, 3 desktops at now+1d, pool -1:%7.3f ms\n", (now_ms() - t0) / reps);
    fc_prepared_free(pp);
  }
#else
  {
    t0 = now_ms();
    for (int i = 0; i < reps; i++) {
      check(fc_evaluate(&h.e, &p10, 3, &r), "fc_evaluate");
      fc_result_free(&r);
    }
    printf("  fc_evaluate, 10 desktops, pool 3:      %8.3f ms\n", (now_ms() - t0) / reps);
    t0 = now_ms();
    for (int i = 0; i < reps; i++) {
      check(fc_evaluate(&h.e, NULL, -1, &r), "fc_evaluate");
      fc_result_free(&r);
    }
    printf("  fc_evaluate, no plan, pool -1:         %8.3f ms\n", (now_ms() - t0) / reps);
  }
#endif
  free(h.cmids);
  free(h.desktops);
  free(h.names);
}

int
main(void)
{
  run("service case", 50, 25);
  run("tight floor", 200000, 60000);
  return 0;
}
