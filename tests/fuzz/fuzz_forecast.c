/**
 * @file fuzz_forecast.c
 * @brief libFuzzer target: random estates and plans through the model,
 *        checking its invariants: the count never exceeds capacity, the
 *        minimum is at most every step, go iff the minimum reaches the floor,
 *        steps are in time order within the window, and max_decommission
 *        desktops really give go (and one more does not, unless none is left).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forecast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW ((int64_t) 1796083200) /* 2026-12-01T00:00:00Z */
#define MAXN 48

/** Reads bytes from the input; zeros once it runs out. */
struct reader {
  const uint8_t *p;
  size_t n;
};

static unsigned
take(struct reader *r, unsigned mod)
{
  unsigned v = 0;
  if (r->n > 0) {
    v = *r->p++;
    r->n--;
  }
  return mod ? v % mod : v;
}

struct world {
  struct fc_cmid cmids[MAXN];
  struct fc_pool pools[4];
  struct fc_desktop desktops[MAXN];
  char names[MAXN][8];
  int32_t plan_desktops[MAXN];
  struct fc_provision provisions[2];
  int64_t arrivals[4];
  struct fc_plan plan;
  struct fc_estate e;
};

static void
build(struct reader *r, struct world *w)
{
  memset(w, 0, sizeof(*w));
  w->e.now = NOW;
  w->e.capacity = 1 + (int32_t) take(r, 60);
  w->e.threshold = 1 + (int32_t) take(r, 30);
  w->e.margin = (int32_t) take(r, 4);
  w->e.host_renewal_seconds = 900 + 3600 * (int64_t) take(r, 200);
  w->e.horizon_seconds = 86400 * (1 + (int64_t) take(r, 90));
  size_t n_pools = 1 + take(r, 4), n_cmids = take(r, MAXN), n_desktops = take(r, MAXN);
  for (size_t i = 0; i < n_pools; i++)
    w->pools[i] = (struct fc_pool){ 900 + 3600 * (int64_t) take(r, 200), 0 != take(r, 4) };
  /* clang-format off */
  for (size_t i = 0; i < n_cmids; i++)
    w->cmids[i] = (struct fc_cmid) { .last_request = NOW - 3600 * (int64_t) take(r, 0) * 4,
                                     .request_count = 1 + (int32_t) take(r, 3),
                                     .last_client_registered = 0 == take(r, 4),
                                     .renews_elsewhere = 0 == take(r, 8) };
  /* clang-format on */
  for (size_t i = 0; i < n_desktops; i++) {
    w->names[i][0] = (char) ('a' + take(r, 26));
    w->names[i][1] = (char) ('a' + i % 26);
    /* clang-format off */
    w->desktops[i] = (struct fc_desktop) { w->names[i], (int32_t) take(r, (unsigned) n_pools),
                                           n_cmids ? (int32_t) take(r, (unsigned) n_cmids + 1) - 1 : -1,
                                           (enum fc_desktop_state) take(r, 3),
                                           0 == take(r, 4) /* reported powered off */ };
    /* clang-format on */
  }
  w->e.n_pools = n_pools;
  w->e.pools = w->pools;
  w->e.n_cmids = n_cmids;
  w->e.cmids = w->cmids;
  w->e.n_desktops = n_desktops;
  w->e.desktops = w->desktops;
  size_t n_plan = n_desktops ? take(r, (unsigned) n_desktops) : 0;
  for (size_t i = 0; i < n_plan; i++)
    w->plan_desktops[i] = (int32_t) take(r, (unsigned) n_desktops);
  size_t n_prov = take(r, 3);
  for (size_t i = 0; i < n_prov; i++)
    w->provisions[i] =
      (struct fc_provision){ (int32_t) take(r, (unsigned) n_pools), (int32_t) take(r, 20) };
  size_t n_arrivals = take(r, 4);
  for (size_t i = 0; i < n_arrivals; i++)
    w->arrivals[i] = NOW + 3600 * ((int64_t) take(r, 0) - 64);
  /* clang-format off */
  w->plan = (struct fc_plan) { .at = NOW + 3600 * ((int64_t) take(r, 0) - 64),
                               .n_decommission = n_plan, .decommission = w->plan_desktops,
                               .n_provision = n_prov, .provision = w->provisions,
                               .n_arrivals = n_arrivals, .arrivals = w->arrivals };
  /* clang-format on */
}

static void
check(const struct fc_estate *e, const struct fc_plan *plan, int32_t pool)
{
  struct fc_result r;
  memset(&r, 0, sizeof(r));
  if (0 != fc_evaluate(e, plan, pool, &r)) {
    fc_result_free(&r);
    return; /* invalid input is refused, not crashed on */
  }
  if (r.go != (r.projected_min >= r.floor) || r.floor != e->threshold + e->margin)
    abort();
  if (r.current_count > e->capacity || r.n_steps == 0 || r.steps[0].at != r.window_start)
    abort();
  for (size_t i = 0; i < r.n_steps; i++) {
    if (r.steps[i].count > e->capacity || r.steps[i].count < r.projected_min
        || r.steps[i].count < 0)
      abort();
    if (i > 0 && (r.steps[i].at <= r.steps[i - 1].at || r.steps[i].at > r.window_end))
      abort();
  }
  if (r.has_breach != (r.projected_min < r.floor) || r.max_decommission < 0)
    abort();
  fc_result_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct reader r = { data, size };
  struct world *w = malloc(sizeof(*w));
  if (NULL == w)
    return 0;
  build(&r, w);
  check(&w->e, NULL, -1);
  check(&w->e, &w->plan, -1);
  if (w->e.n_pools > 0)
    check(&w->e, &w->plan, 0);
  /* The same plan reserved: the baseline now carries it. */
  w->e.n_reserved = 1;
  w->e.reserved = &w->plan;
  check(&w->e, NULL, -1);
  free(w);
  return 0;
}
