/**
 * @file http_health.c
 * @brief Liveness, readiness and the OpenAPI document.
 */
#include "http_health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "responses.h"

static const struct kg_migration_set *expected_migrations;
static char *openapi_text;
static size_t openapi_len;

int
kg_health_init(const struct kg_config *cfg, const struct kg_migration_set *expected)
{
  char path[4096];

  expected_migrations = expected;
  snprintf(path, sizeof(path), "%s/openapi/kmsgate.yaml", cfg->data_dir);
  FILE *f = fopen(path, "rb");
  if (NULL == f) {
    kg_log(KG_LOG_ERROR, NULL, "cannot read %s", path);
    return -1;
  }
  int rc = -1;
  if (0 == fseek(f, 0, SEEK_END)) {
    long n = ftell(f);
    if (n > 0 && 0 == fseek(f, 0, SEEK_SET) && NULL != (openapi_text = malloc((size_t) n))) {
      openapi_len = fread(openapi_text, 1, (size_t) n, f);
      rc = 0;
    }
  }
  fclose(f);
  return rc;
}

void
kg_health_shutdown(void)
{
  free(openapi_text);
  openapi_text = NULL;
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
    kg_reply_problem(ctx, 503, "the database schema is not at the expected migration; run kmsgate migrate");
    return;
  }
  kg_reply_json(ctx, 200, json_pack("{s:s,s:s}", "status", "ready", "database", "ok"));
}

static void
handle_openapi(struct kg_ctx *ctx)
{
  ulfius_set_binary_body_response(ctx->resp, 200, openapi_text, openapi_len);
  u_map_put(ctx->resp->map_header, "Content-Type", "application/yaml");
  ctx->status = 200;
}

const struct kg_route kg_routes_health[] = {
  { "GET", "/healthz", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_healthz },
  { "GET", "/readyz", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_readyz },
  { "GET", "/openapi.yaml", KG_ROLE_NONE, KG_BODY_NONE, 0, handle_openapi },
  { NULL, NULL, 0, 0, 0, NULL },
};
