/**
 * @file http_decisions.c
 * @brief GET /v1/decisions: the audit trail of gate evaluations.
 */
#include "db_plans.h"
#include "input.h"
#include "responses.h"

static void
handle_list(struct kg_ctx *ctx)
{
  struct kg_errors e;
  struct kg_page page;
  struct kg_decision_filter f = { 0 };
  char host[KG_HOSTNAME_BUFSZ];
  json_t *doc = NULL;

  kg_errors_init(&e);
  kg_page_parse(ctx, &e, &page);
  if (NULL != kg_param(ctx, "kms_host")) {
    if (kg_hostname_normalize(kg_param(ctx, "kms_host"), host))
      f.kms_host = host;
    else
      kg_errors_add(&e, false, "kms_host", "must be a DNS hostname");
  }
  f.has_since = kg_query_time(ctx, "since", &e, &f.since_us);
  if (kg_errors_reply(ctx, &e))
    return;
  if (!kg_db_connected(ctx->db) || KG_QS_OK != kg_db_decisions_list(ctx->db, &f, &page, &doc)) {
    kg_reply_db_unavailable(ctx);
    return;
  }
  if (NULL == doc) {
    kg_errors_init(&e);
    kg_errors_add(&e, false, "cursor", "is not a cursor from this API");
    kg_errors_reply(ctx, &e);
    return;
  }
  kg_reply_json(ctx, 200, doc);
}

const struct kg_route kg_routes_decisions[] = {
  { "GET", "/v1/decisions", KG_ROLE_READER, KG_BODY_NONE, 0, handle_list },
  { NULL, NULL, 0, 0, 0, NULL },
};
