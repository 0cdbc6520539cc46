/**
 * @file gate_hosts.c
 * @brief What every gate answer over KMS hosts shares (docs/model.md
 *        §6.3, §6.5): a host's share of a provision, and a host's result as an entry
 *        of `hosts` or as the top-level fields of the binding host.
 */
#include "gate_hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast_json.h"
#include "gate_input.h"
#include "input.h"

int
kg_gate_provision_share(const struct kg_estate *es, int32_t pool, int count)
{
  if (es->pool_weight[pool] <= 0 || es->pool_total_weight[pool] <= 0)
    return 0;
  /* rounded down: the forecast never relies on a lucky draw */
  return (int) ((int64_t) count * es->pool_weight[pool] / es->pool_total_weight[pool]);
}

json_t *
kg_gate_host_entry(const struct kg_estate *es, const struct fc_result *r)
{
  /* clang-format off */
  return json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:o,s:o,s:o}", "kms_host", es->host.name,
                   "decision", r->go ? "go" : "no-go", "floor", (int) r->floor,
                   "current_count", (int) r->current_count, "baseline_min", (int) r->baseline_min,
                   "projected_min", (int) r->projected_min,
                   "projected_min_at", kg_json_time(r->projected_min_at),
                   "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null(),
                   "steps", kg_forecast_steps_json(r));
  /* clang-format on */
}

json_t *
kg_gate_binding_fields(const struct kg_estate *es, const struct fc_result *r)
{
  json_t *doc = kg_forecast_common_json(es, r);

  /* clang-format off */
  if (NULL != doc)
    json_object_update_new(doc, json_pack(
      "{s:i,s:o,s:i,s:o,s:o,s:o,s:o,s:o}",
      "baseline_min", (int) r->baseline_min, "baseline_min_at", kg_json_time(r->baseline_min_at),
      "projected_min", (int) r->projected_min, "projected_min_at", kg_json_time(r->projected_min_at),
      "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null(),
      "window_start", kg_json_time(r->window_start), "window_end", kg_json_time(r->window_end),
      "steps", kg_forecast_steps_json(r)));
  /* clang-format on */
  return doc;
}
