/**
 * @file http_metrics.c
 * @brief GET /metrics: Prometheus text format. Request and gate counters are
 *        this replica's; the per-host gauges come from the model over the
 *        shared database, so every replica reports the same values for them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aged_cache.h"
#include "db_activations.h"
#include "estate_cache.h"
#include "db_servers.h"
#include "forecast.h"
#include "forecast_json.h"
#include "metrics.h"
#include "responses.h"

/* The model reads CMIDs of the last 61 days (db_estate.c); older requests
   are not in the estate, so the newest event is looked for in that window. */
#define KG_LAST_EVENT_WINDOW (61 * 86400LL)

/** What one host's gauges report. */
struct host_gauges {
  const struct fc_result *r;
  int64_t last_event; /**< Unix seconds; 0 when none in the window */
  bool observed;
  struct kg_observation obs;
};

/** Time of the newest stored event-12290 request in the estate, or 0. */
static int64_t
last_event_at(const struct fc_estate *model)
{
  int64_t newest = 0;
  for (size_t i = 0; i < model->n_cmids; i++)
    if (model->cmids[i].last_request > newest)
      newest = model->cmids[i].last_request;
  return newest > model->now - KG_LAST_EVENT_WINDOW ? newest : 0;
}

/** Appends formatted text; frees @a text and returns NULL without memory. */
static char *append(char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *
append(char *text, const char *fmt, ...)
{
  char *tail = NULL, *more = NULL;
  va_list ap;

  va_start(ap, fmt);
  int n = vasprintf(&tail, fmt, ap);
  va_end(ap);
  if (n >= 0 && asprintf(&more, "%s%s", text, tail) < 0)
    more = NULL;
  free(n >= 0 ? tail : NULL);
  free(text);
  return more;
}

/** Appends one host's gauges; returns the new text or NULL without memory. */
static char *
append_host(char *text, const char *name, const struct host_gauges *g)
{
  const struct fc_result *r = g->r;
  /* clang-format off */
  text = append(text,
                "kmsgate_kms_host_current_cmids{kms_host=\"%s\"} %d\n"
                "kmsgate_kms_host_floor{kms_host=\"%s\"} %d\n"
                "kmsgate_kms_host_forecast_min{kms_host=\"%s\"} %d\n"
                "kmsgate_kms_host_renewing_cmids{kms_host=\"%s\"} %d\n"
                "kmsgate_kms_host_last_event_timestamp_seconds{kms_host=\"%s\"} %lld\n",
                /* clang-format on */
                name, r->current_count, name, r->floor, name, r->baseline_min, name, r->renewing,
                name, (long long) g->last_event);
  if (NULL != text && r->has_breach)
    text = append(text, "kmsgate_kms_host_first_breach_timestamp_seconds{kms_host=\"%s\"} %lld\n",
                  name, (long long) r->first_breach_at);
  /* clang-format off */
  if (NULL != text && g->observed)
    text = append(text,
                  "kmsgate_kms_host_observed_cmids{kms_host=\"%s\"} %lld\n"
                  "kmsgate_kms_host_observed_modelled_cmids{kms_host=\"%s\"} %lld\n"
                  "kmsgate_kms_host_last_observation_timestamp_seconds{kms_host=\"%s\"} %lld\n",
                  /* clang-format on */
                  name, g->obs.count, name, g->obs.modelled, name, (long long) g->obs.at);
  return text;
}

/** Evaluates one host's baseline and appends its gauges. */
static char *
render_host(struct kg_db *db, char *text, const struct kg_host_row *host, int64_t now,
            enum kg_qs *qs)
{
  struct kg_estate_use use;
  struct fc_result r;
  struct host_gauges g = { .r = &r };

  memset(&r, 0, sizeof(r));
  *qs = kg_db_last_observation_row(db, host->id, &g.observed, &g.obs);
  if (KG_QS_OK != *qs)
    return text;
  *qs =
    kg_estate_acquire(db, host, KG_ESTATE_AT_LEAST, now, KG_DEFAULT_HORIZON_DAYS * 86400LL, &use);
  if (KG_QS_OK == *qs) {
    g.last_event = last_event_at(&use.view.model);
    if (0 == kg_estate_evaluate(&use, use.view.model.margin, NULL, -1, &r))
      text = append_host(text, host->name, &g);
    fc_result_free(&r);
  }
  kg_estate_release(&use);
  return text;
}

static char *
render_hosts(struct kg_db *db, char *text, enum kg_qs *qs)
{
  struct kg_host_row *hosts;
  size_t n;
  int64_t now = (int64_t) time(NULL);

  *qs = kg_db_host_rows(db, &hosts, &n);
  for (size_t i = 0; KG_QS_OK == *qs && NULL != text && i < n; i++)
    text = render_host(db, text, &hosts[i], now, qs);
  free(hosts);
  return text;
}

static bool
append_unmapped(void *cls, const char *server, long long requests)
{
  char **text = cls;
  *text =
    append(*text, "kmsgate_kms_server_unmapped_requests{server=\"%s\"} %lld\n", server, requests);
  return NULL != *text;
}

/** Per KMS server: stored requests whose activation ID counts nowhere. */
static char *
render_servers(struct kg_db *db, char *text, enum kg_qs *qs)
{
  *qs = kg_db_server_unmapped(db, append_unmapped, &text);
  return text;
}

/* The per-host gauges are rendered at most every KG_FIGURES_MAX_AGE seconds
   and shared by the scrapes in between: a scrape is unauthenticated, and
   without this every one would evaluate every host's forecast. */
static struct kg_aged_cache gauges = KG_AGED_CACHE_INIT(KG_FIGURES_MAX_AGE);

/** Renders the per-host and per-server gauges (a kg_aged_fill_fn; @a cls is the connection). */
static char *
render_gauges(void *cls, bool *ok)
{
  struct kg_db *db = cls;
  enum kg_qs qs = KG_QS_OK;
  char *text = strdup("");

  if (NULL != text)
    text = render_hosts(db, text, &qs);
  if (NULL != text && KG_QS_OK == qs)
    text = render_servers(db, text, &qs);
  *ok = KG_QS_OK == qs;
  return text;
}

/**
 * The per-host and per-server gauges, rendered again when the last
 * rendering is KG_FIGURES_MAX_AGE seconds old; one scrape renders while the
 * others wait for it.
 * @return a copy to free, or NULL when out of memory; *db_ok tells whether
 *         its queries succeeded
 */
static char *
host_gauges(struct kg_db *db, bool *db_ok)
{
  return kg_aged_get(&gauges, "gauges", 0, time(NULL), render_gauges, db, db_ok);
}

static void
handle_metrics(struct kg_ctx *ctx)
{
  /* clang-format off */
  static const char host_help[] =
    "# HELP kmsgate_kms_host_current_cmids Modelled current count of distinct CMIDs on the KMS host"
    " (the kmsgate_kms_* figures are at most 15 s old).\n"
    "# TYPE kmsgate_kms_host_current_cmids gauge\n"
    "# HELP kmsgate_kms_host_floor Threshold plus margin: the gate's floor.\n"
    "# TYPE kmsgate_kms_host_floor gauge\n"
    "# HELP kmsgate_kms_host_forecast_min Lowest forecast count over the next 45 days.\n"
    "# TYPE kmsgate_kms_host_forecast_min gauge\n"
    "# HELP kmsgate_kms_host_renewing_cmids CMIDs expected to keep renewing.\n"
    "# TYPE kmsgate_kms_host_renewing_cmids gauge\n"
    "# HELP kmsgate_kms_host_last_event_timestamp_seconds Time of the newest stored event-12290"
    " request of the host; 0 when it has none in the last 61 days.\n"
    "# TYPE kmsgate_kms_host_last_event_timestamp_seconds gauge\n"
    "# HELP kmsgate_kms_host_first_breach_timestamp_seconds First time the forecast count falls"
    " under the floor within 45 days; absent when it does not.\n"
    "# TYPE kmsgate_kms_host_first_breach_timestamp_seconds gauge\n"
    "# HELP kmsgate_kms_host_observed_cmids The host's own count at its latest observation.\n"
    "# TYPE kmsgate_kms_host_observed_cmids gauge\n"
    "# HELP kmsgate_kms_host_observed_modelled_cmids The modelled count at the time of that"
    " observation.\n"
    "# TYPE kmsgate_kms_host_observed_modelled_cmids gauge\n"
    "# HELP kmsgate_kms_host_last_observation_timestamp_seconds Time of that observation.\n"
    "# TYPE kmsgate_kms_host_last_observation_timestamp_seconds gauge\n"
    "# HELP kmsgate_kms_server_unmapped_requests Stored requests of the KMS server whose"
    " activation ID maps to no application, so they count on no host until an admin maps it.\n"
    "# TYPE kmsgate_kms_server_unmapped_requests gauge\n";
  /* clang-format on */
  char *text = kg_metrics_render();
  enum kg_qs qs = KG_QS_OK;

  if (NULL != text)
    text = append(text, "%s", host_help);
  bool db_up = kg_db_connected(ctx->db), rendered_ok = false;
  if (NULL != text && db_up) {
    char *gauges = host_gauges(ctx->db, &rendered_ok);
    text = NULL != gauges ? append(text, "%s", gauges) : (free(text), NULL);
    free(gauges);
    if (!rendered_ok)
      qs = KG_QS_HARD_ERROR;
  }
  /* clang-format off */
  if (NULL != text)
    text = append(text, "# HELP kmsgate_database_up Whether the last query succeeded.\n"
                        "# TYPE kmsgate_database_up gauge\nkmsgate_database_up %d\n",
                  /* clang-format on */
                  db_up && KG_QS_OK == qs);
  if (NULL == text) {
    kg_reply_problem(ctx, 500, "out of memory");
    return;
  }
  kg_reply_bytes(ctx, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
  free(text);
}

/* clang-format off */
const struct kg_route kg_routes_metrics[] = {
  { "GET", "/metrics", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_metrics, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
