/**
 * @file gate_input.c
 * @brief Validation of the POST /v1/gate body (gate_input.h).
 */
#include "gate_input.h"

#include <stdio.h>
#include <string.h>

#include "forecast_json.h"
#include "responses.h"

/* ---------------- request validation ---------------- */

/** decommission.desktops: 1 to KG_MAX_PLAN_DESKTOPS hostnames, normalized here once. */
static void
parse_desktop_names(const json_t *desktops, struct gate_input *in, struct kg_errors *e)
{
  size_t n = json_array_size(desktops), i;
  const json_t *item;

  if (0 == n || n > KG_MAX_PLAN_DESKTOPS) {
    kg_errors_add(e, false, "decommission.desktops", "must list 1 to %d hostnames",
                  KG_MAX_PLAN_DESKTOPS);
    return;
  }
  in->desktops = calloc(n, sizeof(*in->desktops));
  if (NULL == in->desktops) {
    kg_errors_add(e, false, "decommission.desktops", "too many hostnames for this service now");
    return;
  }
  in->n_desktops = n;
  json_array_foreach(desktops, i, item)
  {
    if (!json_is_string(item))
      kg_errors_add(e, true, "decommission.desktops", "item %zu must be a string", i);
    else if (!kg_hostname_normalize(json_string_value(item), in->desktops[i]))
      kg_errors_add(e, false, "decommission.desktops", "item %zu is not a hostname", i);
  }
}

static void
parse_decommission(const json_t *d, struct gate_input *in, struct kg_errors *e)
{
  static const char *const allowed[] = { "desktops", "pool", "count", NULL };
  json_int_t count = 0;

  if (!json_is_object(d)) {
    kg_errors_add(e, true, "decommission", "must be an object");
    return;
  }
  kg_input_only(d, allowed, "decommission.", e);
  const json_t *desktops = json_object_get(d, "desktops");
  bool has_pool = NULL != json_object_get(d, "pool") || NULL != json_object_get(d, "count");
  if ((NULL != desktops) == has_pool) {
    kg_errors_add(e, false, "decommission",
                  "give either {\"desktops\": [...]} or {\"pool\": ..., \"count\": ...}");
    return;
  }
  if (NULL != desktops) {
    if (!json_is_array(desktops)) {
      kg_errors_add(e, true, "decommission.desktops", "must be an array of hostnames");
      return;
    }
    parse_desktop_names(desktops, in, e);
    return;
  }
  kg_input_string(d, "pool", true, 128, e, &in->decommission_pool);
  if (kg_input_int(d, "count", true, 1, 100000, e, &count))
    in->decommission_count = (int) count;
}

static void
parse_provisions(const json_t *p, struct gate_input *in, struct kg_errors *e)
{
  static const char *const allowed[] = { "pool", "count", NULL };
  size_t i;
  const json_t *item;

  if (!json_is_array(p)) {
    kg_errors_add(e, true, "provision", "must be an array of {pool, count}");
    return;
  }
  if (json_array_size(p) > KG_MAX_PROVISIONS) {
    kg_errors_add(e, false, "provision", "at most %d entries", KG_MAX_PROVISIONS);
    return;
  }
  json_array_foreach(p, i, item)
  {
    char prefix[40];
    json_int_t count = 0;
    struct kg_errors sub;
    snprintf(prefix, sizeof(prefix), "provision[%zu].", i);
    if (!json_is_object(item)) {
      kg_errors_add(e, true, "provision", "item %zu must be an object {pool, count}", i);
      continue;
    }
    kg_errors_init(&sub);
    kg_input_only(item, allowed, prefix, &sub);
    kg_input_string(item, "pool", true, 128, &sub, &in->provisions[i].pool);
    if (kg_input_int(item, "count", true, 1, 100000, &sub, &count))
      in->provisions[i].count = (int) count;
    /* Re-home the sub-errors under their full field names. */
    size_t k;
    json_t *err;
    json_array_foreach(sub.list, k, err)
    {
      const char *f = json_string_value(json_object_get(err, "field"));
      char field[128];
      snprintf(field, sizeof(field), "%s%s", prefix, f);
      kg_errors_add(e, sub.wrong_type, field, "%s",
                    json_string_value(json_object_get(err, "message")));
    }
    json_decref(sub.list);
  }
  in->n_provisions = json_array_size(p);
}

/**
 * Reads ?enforce=: true|1 or false|0. Anything else is refused, so that a
 * typo in a pipeline never turns an enforced no-go into a silent 200.
 */
static bool
parse_enforce(struct kg_ctx *ctx, struct kg_errors *e, bool *enforce)
{
  const char *v = kg_param(ctx, "enforce");
  *enforce = false;
  if (NULL == v || 0 == strcmp(v, "false") || 0 == strcmp(v, "0"))
    return true;
  if (0 == strcmp(v, "true") || 0 == strcmp(v, "1")) {
    *enforce = true;
    return true;
  }
  kg_errors_add(e, false, "enforce", "must be true, false, 1 or 0");
  return false;
}

/**
 * A plan time past the window's end could never be evaluated inside it:
 * the caller must ask for a horizon that reaches it (docs/model.md §3.8).
 */
static void
check_plan_in_horizon(const struct gate_input *in, int64_t now, struct kg_errors *e)
{
  int64_t ahead = in->at - now;

  if (!in->has_at || ahead <= 86400LL * in->horizon_days)
    return;
  if (ahead > 86400LL * 365)
    kg_errors_add(e, false, "at", "is more than 365 days ahead, past the longest horizon");
  else
    kg_errors_add(e, false, "horizon_days", "must reach the plan time: at least %lld for this 'at'",
                  (long long) ((ahead + 86399) / 86400));
}

/* ---------------- dry run ---------------- */

/**
 * Reads "dry_run": evaluates as the gate does (what-if questions, the
 * dashboard) but records no decision and so can reserve nothing.
 */
static void
parse_dry_run(const json_t *body, struct gate_input *in, struct kg_errors *e)
{
  kg_input_bool(body, "dry_run", false, e, &in->dry_run);
  if (in->dry_run && in->reserve)
    kg_errors_add(e, false, "dry_run",
                  "cannot be combined with reserve: a dry run reserves nothing");
}

/**
 * Reads "retire_kms_host": {name, at?}, a plan of its own: it cannot be
 * combined with decommissions or provisions, nor reserved (yet).
 */
static void
parse_retire(const json_t *body, struct gate_input *in, struct kg_errors *e)
{
  static const char *const allowed[] = { "name", "at", NULL };
  const json_t *r = json_object_get(body, "retire_kms_host");
  const char *name = NULL;
  int64_t at_us = 0;

  if (NULL == r)
    return;
  if (!json_is_object(r)) {
    kg_errors_add(e, true, "retire_kms_host", "must be an object {name, at?}");
    return;
  }
  in->retire = true;
  kg_input_only(r, allowed, "retire_kms_host.", e);
  if (kg_input_string(r, "name", true, 253, e, &name)
      && !kg_hostname_normalize(name, in->retire_host))
    kg_errors_add(e, false, "retire_kms_host.name", "must be a DNS hostname");
  if ((in->has_retire_at = kg_input_time(r, "at", false, e, &at_us)))
    in->retire_at = at_us / 1000000;
  /* clang-format off */
  if (NULL != json_object_get(body, "decommission") || NULL != json_object_get(body, "provision"))
    kg_errors_add(e, false, "retire_kms_host", "is a plan of its own: evaluate decommissions and "
                  "provisions separately");
  /* clang-format on */
  if (in->reserve)
    kg_errors_add(e, false, "reserve", "cannot hold a retirement yet: evaluate it without reserve");
}

bool
kg_gate_parse_input(struct kg_ctx *ctx, struct gate_input *in, int64_t now)
{
  /* clang-format off */
  static const char *const allowed[] = { "kms_host", "at", "decommission", "provision",
                                         "horizon_days", "margin", "reserve", "ttl_minutes",
                                         "dry_run", "retire_kms_host", NULL };
  /* clang-format on */
  struct kg_errors e;
  const json_t *body = ctx->body;
  const char *host = NULL;
  int64_t at_us = 0;
  json_int_t n;

  memset(in, 0, sizeof(*in));
  in->horizon_days = KG_DEFAULT_HORIZON_DAYS;
  in->ttl_minutes = 60;
  kg_errors_init(&e);
  kg_input_only(body, allowed, "", &e);
  if (kg_input_string(body, "kms_host", false, 253, &e, &host)
      && !kg_hostname_normalize(host, in->kms_host))
    kg_errors_add(&e, false, "kms_host", "must be a DNS hostname");
  if ((in->has_at = kg_input_time(body, "at", false, &e, &at_us)))
    in->at = at_us / 1000000;
  if (NULL != json_object_get(body, "decommission"))
    parse_decommission(json_object_get(body, "decommission"), in, &e);
  if (NULL != json_object_get(body, "provision"))
    parse_provisions(json_object_get(body, "provision"), in, &e);
  if (kg_input_int(body, "horizon_days", false, 1, 365, &e, &n))
    in->horizon_days = (int) n;
  if ((in->has_margin = kg_input_int(body, "margin", false, 0, 10000, &e, &n)))
    in->margin = (int) n;
  kg_input_bool(body, "reserve", false, &e, &in->reserve);
  parse_dry_run(body, in, &e);
  parse_retire(body, in, &e);
  parse_enforce(ctx, &e, &in->enforce);
  if (kg_input_int(body, "ttl_minutes", false, 1, 1440, &e, &n))
    in->ttl_minutes = (int) n;
  check_plan_in_horizon(in, now, &e);
  /* Without kms_host, the plan's pool, first desktop or retired host names it. */
  /* clang-format off */
  if (NULL == host && NULL == in->desktops && NULL == in->decommission_pool
      && 0 == in->n_provisions && !in->retire)
    kg_errors_add(&e, false, "kms_host", "is required unless the plan names a pool, desktops "
                  "or a host to retire");
  /* clang-format on */
  return !kg_errors_reply(ctx, &e);
}

void
kg_gate_input_clear(struct gate_input *in)
{
  free(in->desktops);
  in->desktops = NULL;
  in->n_desktops = 0;
}
