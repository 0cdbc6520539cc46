/**
 * @file forecast_json.h
 * @brief Turns model results into the JSON documents and the plain-English
 *        reasons of the forecast, headroom and gate answers, and the live
 *        fields of a host document.
 */
#ifndef KG_FORECAST_JSON_H
#define KG_FORECAST_JSON_H

#include <jansson.h>

#include "db_activations.h"
#include "db_estate.h"
#include "forecast.h"

/** What the evaluated plan asked for, as callers said it (for the reasons). */
struct kg_plan_summary {
  size_t decommission_count;     /**< desktops the plan decommissions */
  const char *decommission_pool; /**< pool named by {"pool","count"}, or NULL */
  size_t provision_total;        /**< desktops the plan provisions */
  size_t n_shared_image_pools;   /**< provisions into pools with unique_cmids=false */
  const char *max_pool;          /**< pool max_decommission is about, or NULL for the host */
};

/**
 * The step list [{at, count}].
 * @param r model result
 * @return new JSON array
 */
json_t *kg_forecast_steps_json(const struct fc_result *r);

/**
 * Members shared by forecast, headroom and gate answers: kms_host,
 * evaluated_at, threshold, margin, floor, current_count, renewing, lapsing,
 * unseen, reserved_plans.
 * @param es the estate
 * @param r model result
 * @return new JSON object
 */
json_t *kg_forecast_common_json(const struct kg_estate *es, const struct fc_result *r);

/**
 * Plain-English reasons of a gate decision, naming counts and dates.
 * @param es the estate
 * @param r model result of the plan
 * @param plan what the plan asked for
 * @return new JSON array of strings
 */
json_t *kg_forecast_reasons(const struct kg_estate *es, const struct fc_result *r,
                            const struct kg_plan_summary *plan);

/** A pool with desktops whose CMIDs renew on a host, and how many. */
struct kg_pool_on {
  char *pool;
  long long desktops;
};

/** The live figures of a host document, gathered by the caller (host_live.c). */
struct kg_host_live {
  struct fc_result r; /**< the baseline over the default horizon */
  size_t n_reserved;  /**< reserved plans included */
  bool observed;      /**< whether obs holds the latest observation */
  struct kg_observation obs;
  struct kg_in_count in_count; /**< CMIDs in the count by required count */
  struct kg_pool_on *pools;    /**< pools whose desktops' CMIDs renew on it, by name */
  size_t n_pools;
  json_t *server; /**< its server's document (unmapped_activation_ids) */
};

/**
 * The live fields of a host document: from the model current_count, floor,
 * headroom (current count - floor), renewing, lapsing, unseen,
 * forecast_min(_at), first_breach_at and reserved_plans; pools;
 * last_observation {count, at, modelled, difference} or null; in_count;
 * unmapped_activation_ids.
 * @param live the figures
 * @return new JSON object, or NULL when out of memory
 */
json_t *kg_host_live_json(const struct kg_host_live *live);

/** Default horizon H: 45 days. */
#define KG_DEFAULT_HORIZON_DAYS 45

#endif
