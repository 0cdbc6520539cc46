/**
 * @file http_metrics.c
 * @brief GET /metrics: Prometheus text format. Request and gate counters are
 *        this replica's; the per-host gauges come from the model over the
 *        shared database, so every replica reports the same values for them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_estate.h"
#include "forecast.h"
#include "forecast_json.h"
#include "metrics.h"
#include "responses.h"

/** Appends one host's gauges; returns the new text or NULL without memory. */
static char *
append_host(char *text, const struct kg_host_row *host, const struct fc_result *r)
{
  char *more = NULL;
  int n = asprintf(&more,
                   "%skmsgate_kms_host_count{kms_host=\"%s\"} %d\n"
                   "kmsgate_kms_host_floor{kms_host=\"%s\"} %d\n"
                   "kmsgate_kms_host_forecast_min{kms_host=\"%s\"} %d\n"
                   "kmsgate_kms_host_renewing_cmids{kms_host=\"%s\"} %d\n",
                   text, host->name, r->current_count, host->name, r->floor,
                   host->name, r->baseline_min, host->name, r->renewing);
  free(text);
  return n < 0 ? NULL : more;
}

static char *
render_hosts(struct kg_db *db, char *text, enum kg_qs *qs)
{
  struct kg_host_row *hosts;
  size_t n;
  int64_t now = (int64_t) time(NULL);

  *qs = kg_db_host_rows(db, &hosts, &n);
  for (size_t i = 0; KG_QS_OK == *qs && NULL != text && i < n; i++) {
    struct kg_estate_use use;
    struct fc_result r;
    memset(&r, 0, sizeof(r));
    *qs = kg_estate_acquire(db, &hosts[i], now, KG_DEFAULT_HORIZON_DAYS * 86400LL, &use);
    if (KG_QS_OK == *qs && 0 == kg_estate_evaluate(&use, NULL, -1, &r))
      text = append_host(text, &hosts[i], &r);
    fc_result_free(&r);
    kg_estate_release(&use);
  }
  free(hosts);
  return text;
}

static void
handle_metrics(struct kg_ctx *ctx)
{
  static const char host_help[] =
    "# HELP kmsgate_kms_host_count Modelled current count of distinct CMIDs on the KMS host.\n"
    "# TYPE kmsgate_kms_host_count gauge\n"
    "# HELP kmsgate_kms_host_floor Threshold plus margin: the gate's floor.\n"
    "# TYPE kmsgate_kms_host_floor gauge\n"
    "# HELP kmsgate_kms_host_forecast_min Lowest forecast count over the next 45 days.\n"
    "# TYPE kmsgate_kms_host_forecast_min gauge\n"
    "# HELP kmsgate_kms_host_renewing_cmids CMIDs expected to keep renewing.\n"
    "# TYPE kmsgate_kms_host_renewing_cmids gauge\n";
  char *text = kg_metrics_render();
  enum kg_qs qs = KG_QS_OK;
  char *with_help = NULL;

  if (NULL != text && asprintf(&with_help, "%s%s", text, host_help) >= 0) {
    free(text);
    text = with_help;
  }
  bool db_up = kg_db_connected(ctx->db);
  if (NULL != text && db_up)
    text = render_hosts(ctx->db, text, &qs);
  if (NULL != text) {
    char *final = NULL;
    if (asprintf(&final, "%s# HELP kmsgate_database_up Whether the last query succeeded.\n"
                         "# TYPE kmsgate_database_up gauge\nkmsgate_database_up %d\n",
                 text, db_up && KG_QS_OK == qs) >= 0) {
      free(text);
      text = final;
    }
  }
  if (NULL == text) {
    kg_reply_problem(ctx, 500, "out of memory");
    return;
  }
  kg_reply_bytes(ctx, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
  free(text);
}

const struct kg_route kg_routes_metrics[] = {
  { "GET", "/metrics", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_metrics },
  { NULL, NULL, 0, 0, 0, NULL },
};
