/**
 * @file http_forecast.c
 * @brief GET /v1/kms-hosts/{name}/forecast, .../headroom and .../forecast.svg:
 *        the baseline forecast (reserved plans included), the largest safe
 *        decommission, and the forecast drawn as a chart. Read-only: a
 *        snapshot is enough, no host lock.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chart.h"
#include "estate_cache.h"
#include "forecast.h"
#include "forecast_json.h"
#include "gate_family.h"
#include "inventory.h"

/** The three views of one baseline evaluation. */
enum forecast_view {
  VIEW_FORECAST,
  VIEW_HEADROOM,
  VIEW_CHART
};

/** What a forecast, headroom or chart request asks and what it answers. */
struct forecast_tx {
  struct kg_ctx *ctx;
  char host[KG_HOSTNAME_BUFSZ];
  const char *pool; /**< headroom: the pool, or NULL for the whole host */
  long long horizon_days;
  enum forecast_view view;
  json_t *response;                /**< forecast, headroom */
  const struct kg_estate_use *use; /**< this attempt's estate; its view is `es` */
  char *svg;                       /**< chart */
};

static json_t *
forecast_document(const struct kg_estate *es, const struct fc_result *r)
{
  json_t *doc = kg_forecast_common_json(es, r);
  /* clang-format off */
  if (NULL != doc)
    json_object_update_new(doc, json_pack(
      "{s:i,s:o,s:o,s:o,s:o,s:i,s:o}",
      "min", (int) r->baseline_min, "min_at", kg_json_time(r->baseline_min_at),
      "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null(),
      "window_start", kg_json_time(r->window_start), "window_end", kg_json_time(r->window_end),
      "max_decommission", (int) r->max_decommission, "steps", kg_forecast_steps_json(r)));
  /* clang-format on */
  return doc;
}

static json_t *
headroom_document(const struct kg_estate *es, const struct fc_result *r, const char *pool)
{
  json_t *doc = kg_forecast_common_json(es, r);
  /* clang-format off */
  if (NULL != doc)
    json_object_update_new(doc, json_pack(
      "{s:i,s:o,s:o,s:i,s:o,s:o}",
      "max_decommission", (int) r->max_decommission,
      "pool", pool ? json_string(pool) : json_null(),
      "at", kg_json_time(r->max_decommission_at),
      "min", (int) r->baseline_min, "min_at", kg_json_time(r->baseline_min_at),
      "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null()));
  /* clang-format on */
  return doc;
}

/**
 * The headroom over the family (docs/model.md §6.6): the candidates ranked
 * once over every host of the family, and the largest k that keeps this host
 * and every host the first k picks touch at go.
 */
static enum kg_qs
headroom_over_hosts(struct forecast_tx *tx, struct kg_db *db, const struct fc_result *r)
{
  struct kg_family *f = malloc(sizeof(*f));
  int32_t k = 0;
  enum kg_qs qs = KG_QS_INTERNAL_ERROR;

  if (NULL == f)
    return qs;
  qs = kg_family_open(f, db, tx->use->view.host.name, tx->use->view.model.now,
                      86400LL * tx->horizon_days, false, KG_ESTATE_AT_LEAST);
  if (KG_QS_OK == qs)
    qs = kg_family_headroom(f, tx->pool, r->max_decommission_at, r->max_decommission, &k);
  if (KG_QS_OK == qs)
    json_object_set_new(tx->response, "max_decommission", json_integer(k));
  kg_family_close(f);
  free(f);
  return qs;
}

static enum kg_qs
evaluate(struct forecast_tx *tx, struct kg_db *db, struct kg_estate *es)
{
  struct fc_result r;
  int32_t pool = -1;

  if (NULL != tx->pool && (pool = kg_estate_pool_index(es, tx->pool)) < 0) {
    struct kg_errors e;
    kg_errors_init(&e);
    kg_errors_add(&e, false, "pool", "pool %s does not exist on KMS host %s", tx->pool,
                  es->host.name);
    kg_errors_reply(tx->ctx, &e);
    return KG_QS_REPLIED;
  }
  memset(&r, 0, sizeof(r));
  if (0 != kg_estate_evaluate(tx->use, tx->use->view.model.margin, NULL, pool, &r)) {
    fc_result_free(&r);
    return KG_QS_INTERNAL_ERROR;
  }
  bool made;
  if (VIEW_CHART == tx->view) {
    /* clang-format off */
    struct kg_chart chart = { es->host.name, es->model.now, r.window_start, r.window_end, r.floor,
                              es->model.capacity, r.n_steps, r.steps,
                              r.has_breach ? r.first_breach_at : 0 };
    /* clang-format on */
    made = NULL != (tx->svg = kg_chart_svg(&chart));
  } else {
    tx->response =
      (VIEW_HEADROOM == tx->view) ? headroom_document(es, &r, tx->pool) : forecast_document(es, &r);
    made = NULL != tx->response;
  }
  enum kg_qs qs = made ? KG_QS_OK : KG_QS_INTERNAL_ERROR;
  if (KG_QS_OK == qs && VIEW_HEADROOM == tx->view && es->family_hosts > 1)
    qs = headroom_over_hosts(tx, db, &r);
  fc_result_free(&r);
  return qs;
}

static enum kg_qs
forecast_transaction(struct kg_db *db, void *cls)
{
  struct forecast_tx *tx = cls;
  struct kg_host_row host;
  struct kg_estate_use use;

  json_decref(tx->response);
  tx->response = NULL;
  free(tx->svg);
  tx->svg = NULL;
  enum kg_qs qs = kg_host_find(tx->ctx, db, tx->host, &host);
  if (KG_QS_OK != qs)
    return qs;
  qs = kg_estate_acquire(db, &host, KG_ESTATE_AT_LEAST, (int64_t) time(NULL),
                         86400LL * tx->horizon_days, &use);
  tx->use = &use;
  if (KG_QS_OK == qs)
    qs = evaluate(tx, db, &use.view);
  kg_estate_release(&use);
  return qs;
}

static void
serve_forecast(struct kg_ctx *ctx, enum forecast_view view)
{
  static const char *const names[] = { "forecast", "headroom", "forecast_chart" };
  /* clang-format off */
  struct forecast_tx tx = { .ctx = ctx, .view = view,
                            .pool = VIEW_CHART != view ? kg_param(ctx, "pool") : NULL };
  /* clang-format on */
  struct kg_errors e;

  if (!kg_path_hostname(ctx, "name", tx.host, "KMS host"))
    return;
  kg_errors_init(&e);
  kg_query_int(ctx, "horizon_days", 1, 365, KG_DEFAULT_HORIZON_DAYS, &e, &tx.horizon_days);
  if (NULL != tx.pool && '\0' == tx.pool[0])
    tx.pool = NULL;
  if (kg_errors_reply(ctx, &e))
    return;
  /* No transaction: the estate comes from the cache or is loaded in a
     snapshot of its own (one load per host at a time, shared by concurrent
     readers and gates), at the host's version read here or a later one. */
  enum kg_qs qs = kg_db_run_autocommit(ctx->db, names[view], forecast_transaction, &tx);
  if (VIEW_CHART != view) {
    kg_reply_tx_document(ctx, qs, 200, tx.response);
    return;
  }
  if (KG_QS_OK == qs)
    kg_reply_bytes(ctx, 200, "image/svg+xml; charset=utf-8", tx.svg, strlen(tx.svg));
  else
    kg_reply_tx_failure(ctx, qs);
  free(tx.svg);
}

static void
handle_forecast(struct kg_ctx *ctx)
{
  serve_forecast(ctx, VIEW_FORECAST);
}

static void
handle_headroom(struct kg_ctx *ctx)
{
  serve_forecast(ctx, VIEW_HEADROOM);
}

/** The forecast as an SVG chart, for the dashboard (and any wiki page that embeds it). */
static void
handle_chart(struct kg_ctx *ctx)
{
  serve_forecast(ctx, VIEW_CHART);
}

/* clang-format off */
const struct kg_route kg_routes_forecast[] = {
  { "GET", "/v1/kms-hosts/:name/forecast", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_forecast, "horizon_days pool" },
  { "GET", "/v1/kms-hosts/:name/headroom", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_headroom, "horizon_days pool" },
  { "GET", "/v1/kms-hosts/:name/forecast.svg", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_chart, "horizon_days" },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
