/**
 * @file forecast_json.c
 * @brief JSON and reasons for model results.
 */
#include "forecast_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "input.h"

json_t *
kg_forecast_steps_json(const struct fc_result *r)
{
  json_t *steps = json_array();
  /* clang-format off */
  for (size_t i = 0; NULL != steps && i < r->n_steps; i++)
    json_array_append_new(steps, json_pack("{s:o,s:i}", "at", kg_json_time(r->steps[i].at),
                                           "count", (int) r->steps[i].count));
  /* clang-format on */
  return steps;
}

json_t *
kg_forecast_common_json(const struct kg_estate *es, const struct fc_result *r)
{
  /* clang-format off */
  return json_pack("{s:s,s:o,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}",
                   "kms_host", es->host.name,
                   "evaluated_at", kg_json_time(es->model.now),
                   "threshold", (int) es->model.threshold,
                   "margin", (int) (r->floor - es->model.threshold),
                   "floor", (int) r->floor,
                   "current_count", (int) r->current_count,
                   "renewing", (int) r->renewing,
                   "lapsing", (int) r->lapsing,
                   "unseen", (int) r->unseen,
                   "reserved_plans", (int) es->model.n_reserved);
  /* clang-format on */
}

/** "2026-12-29", or "2026-12-29 14:00 UTC" when the time is not midnight. */
static void
format_day(int64_t t, char *buf, size_t len)
{
  time_t tt = (time_t) t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  if (0 == tm.tm_hour && 0 == tm.tm_min && 0 == tm.tm_sec)
    strftime(buf, len, "%Y-%m-%d", &tm);
  else
    strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

static void add_reason(json_t *reasons, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add_reason(json_t *reasons, const char *fmt, ...)
{
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  json_array_append_new(reasons, json_string(text));
}

static void
reason_plan_effect(json_t *reasons, const struct fc_result *r, const struct kg_plan_summary *plan)
{
  char day[40], min_day[40];
  format_day(r->plan_lapsing_first_expiry, day, sizeof(day));
  format_day(r->projected_min_at, min_day, sizeof(min_day));

  if (plan->decommission_count > 0) {
    /* clang-format off */
    if (r->plan_lapsing_cmids > 0)
      add_reason(reasons, "decommissioning %zu desktop%s removes %d renewing CMID%s; %s on %s"
                 " and the count falls to %d%s the floor %d",
                 /* clang-format on */
                 plan->decommission_count, 1 == plan->decommission_count ? "" : "s",
                 r->plan_lapsing_cmids, 1 == r->plan_lapsing_cmids ? "" : "s",
                 1 == r->plan_lapsing_cmids ? "it expires" : "they expire", day, r->projected_min,
                 r->go ? ", still at or above" : ", below", r->floor);
    /* clang-format off */
    else
      add_reason(reasons, "decommissioning %zu desktop%s removes no renewing CMID (their CMIDs"
                 " are shared, lapsing or never seen), so the count does not change",
                 /* clang-format on */
                 plan->decommission_count, 1 == plan->decommission_count ? "" : "s");
  }
  if (plan->provision_total > 0) {
    add_reason(reasons, "provisioning %zu desktop%s adds %d new CMID%s%s", plan->provision_total,
               1 == plan->provision_total ? "" : "s", r->plan_new_cmids,
               1 == r->plan_new_cmids ? "" : "s",
               plan->n_shared_image_pools > 0
                 ? " (a pool with unique_cmids=false shares one image CMID: its clones count once)"
                 : "");
  }
  if (!r->go && 0 == plan->decommission_count)
    add_reason(reasons, "the planned count reaches %d on %s, below the floor %d", r->projected_min,
               min_day, r->floor);
}

/** Active desktops of this host that their platform reports powered off. */
static size_t
powered_off_here(const struct kg_estate *es)
{
  size_t n = 0;

  for (size_t i = 0; i < es->model.n_desktops; i++)
    n += es->desktop_here[i] && FC_ACTIVE == es->desktops[i].state && es->desktops[i].powered_off;
  return n;
}

json_t *
kg_forecast_reasons(const struct kg_estate *es, const struct fc_result *r,
                    const struct kg_plan_summary *plan)
{
  size_t off = powered_off_here(es);
  json_t *reasons = json_array();
  char day[40], end[40];

  if (NULL == reasons)
    return NULL;
  format_day(r->baseline_min_at, day, sizeof(day));
  format_day(r->window_end, end, sizeof(end));
  /* clang-format off */
  if (r->baseline_min < r->floor)
    add_reason(reasons, "even without this plan the count falls to %d on %s, below the floor %d"
               " (%d renewing CMIDs, %d lapsing)", r->baseline_min, day, r->floor,
               /* clang-format on */
               r->renewing, r->lapsing);
  /* clang-format off */
  if (off > 0)
    add_reason(reasons, "%zu active desktop%s of this host %s reported powered off by %s"
               " platform: no renewal of %s is credited until a sync reports %s on", off,
               1 == off ? "" : "s", 1 == off ? "is" : "are", 1 == off ? "its" : "their",
               1 == off ? "it" : "them", 1 == off ? "it" : "them");
  /* clang-format on */
  reason_plan_effect(reasons, r, plan);
  /* clang-format off */
  if (r->go)
    add_reason(reasons, "the planned count stays at or above the floor %d through %s"
               " (minimum %d)", r->floor, end, r->projected_min);
  /* clang-format on */
  if (es->model.n_reserved > 0)
    add_reason(reasons, "%zu reserved plan%s on this host %s included", es->model.n_reserved,
               1 == es->model.n_reserved ? "" : "s", 1 == es->model.n_reserved ? "is" : "are");
  add_reason(reasons, "at most %d desktop%s can be decommissioned %s%s", r->max_decommission,
             1 == r->max_decommission ? "" : "s", plan->max_pool ? "from pool " : "from the host",
             plan->max_pool ? plan->max_pool : "");
  return reasons;
}

/** {count, at, modelled, difference} of the latest observation, or null. */
static json_t *
observation_json(const struct kg_host_live *live)
{
  const struct kg_observation *obs = &live->obs;

  if (!live->observed)
    return json_null();
  /* clang-format off */
  return json_pack("{s:I,s:o,s:I,s:I}", "count", (json_int_t) obs->count,
                   "at", kg_json_time(obs->at), "modelled", (json_int_t) obs->modelled,
                   "difference", (json_int_t) (obs->count - obs->modelled));
  /* clang-format on */
}

/** `pools`: which pools have desktops whose CMID renews on this host (section 6). */
static json_t *
pools_on_json(const struct kg_host_live *live)
{
  json_t *list = json_array();

  /* clang-format off */
  for (size_t i = 0; NULL != list && i < live->n_pools; i++)
    if (0 != json_array_append_new(list, json_pack("{s:s,s:I}", "pool", live->pools[i].pool,
                                                   "desktops",
                                                   (json_int_t) live->pools[i].desktops))) {
      /* clang-format on */
      json_decref(list);
      list = NULL;
    }
  return list;
}

json_t *
kg_host_live_json(const struct kg_host_live *live)
{
  const struct fc_result *r = &live->r;
  const struct kg_in_count *in = &live->in_count;
  json_t *unmapped = json_object_get(live->server, "unmapped_activation_ids");

  /* clang-format off */
  return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:o,s:o,s:i,s:o,s:o,s:{s:I,s:I,s:I},s:O?}",
                   "current_count", (int) r->current_count, "floor", (int) r->floor,
                   "headroom", (int) (r->current_count - r->floor), "renewing", (int) r->renewing,
                   "lapsing", (int) r->lapsing, "unseen", (int) r->unseen,
                   "forecast_min", (int) r->baseline_min,
                   "forecast_min_at", kg_json_time(r->baseline_min_at),
                   "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null(),
                   "reserved_plans", (int) live->n_reserved,
                   "pools", pools_on_json(live),
                   "last_observation", observation_json(live),
                   "in_count", "clients", (json_int_t) in->clients, "servers",
                   (json_int_t) in->servers, "unknown", (json_int_t) in->unknown,
                   /* requests of its server that count on no host until an admin maps them */
                   "unmapped_activation_ids", unmapped);
  /* clang-format on */
}
