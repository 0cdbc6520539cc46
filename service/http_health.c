/**
 * @file http_health.c
 * @brief Liveness, readiness, and the two documents served verbatim: the
 *        OpenAPI description and the dashboard page.
 */
#include "http_health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "responses.h"

static const struct kg_migration_set *expected_migrations;

/** A file served verbatim, read once at start-up. */
struct static_doc {
  const char *relative_path;
  char *text;
  size_t len;
};

static struct static_doc openapi_doc = { "openapi/kmsgate.yaml", NULL, 0 };
static struct static_doc dashboard_doc = { "service/dashboard.html", NULL, 0 };

static int
load_doc(const struct kg_config *cfg, struct static_doc *doc)
{
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, doc->relative_path);
  doc->text = kg_file_read(path, &doc->len);
  if (NULL == doc->text) {
    kg_log(KG_LOG_ERROR, NULL, "cannot read %s", path);
    return -1;
  }
  return 0;
}

int
kg_health_init(const struct kg_config *cfg, const struct kg_migration_set *expected)
{
  expected_migrations = expected;
  return (0 == load_doc(cfg, &openapi_doc) && 0 == load_doc(cfg, &dashboard_doc)) ? 0 : -1;
}

void
kg_health_shutdown(void)
{
  free(openapi_doc.text);
  free(dashboard_doc.text);
  openapi_doc.text = dashboard_doc.text = NULL;
}

static void
handle_healthz(struct kg_ctx *ctx)
{
  kg_reply_json(ctx, 200, json_pack("{s:s}", "status", "ok"));
}

static void
handle_readyz(struct kg_ctx *ctx)
{
  bool current = false;

  if (!kg_db_connected(ctx->db)
      || KG_QS_OK != kg_migrations_current(ctx->db, expected_migrations, &current)) {
    kg_reply_db_unavailable(ctx);
    return;
  }
  if (!current) {
    u_map_put(ctx->resp->map_header, "Retry-After", "5");
    kg_reply_problem(ctx, 503,
                     "the database schema is not at the expected migration; run kmsgate migrate");
    return;
  }
  kg_reply_json(ctx, 200, json_pack("{s:s,s:s}", "status", "ready", "database", "ok"));
}

static void
handle_openapi(struct kg_ctx *ctx)
{
  kg_reply_bytes(ctx, 200, "application/yaml", openapi_doc.text, openapi_doc.len);
}

/** The dashboard page; it asks for a read token and fetches the data with it. */
static void
handle_dashboard(struct kg_ctx *ctx)
{
  kg_reply_bytes(ctx, 200, "text/html; charset=utf-8", dashboard_doc.text, dashboard_doc.len);
}

/* clang-format off */
const struct kg_route kg_routes_health[] = {
  { "GET", "/healthz", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_healthz, NULL },
  { "GET", "/readyz", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_readyz, NULL },
  { "GET", "/openapi.yaml", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_openapi, NULL },
  { "GET", "/", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_dashboard, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
