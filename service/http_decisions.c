/**
 * @file http_decisions.c
 * @brief GET /v1/decisions: the audit trail of gate evaluations.
 */
#include "db_plans.h"
#include "input.h"
#include "paging.h"
#include "plan_json.h"
#include "responses.h"

/** Offers one decision to the page. */
static bool
list_decision(void *cls, const struct kg_decision_record *d)
{
  return kg_list_add(cls, kg_decision_json(d), d->sort_key);
}

static enum kg_qs
list_decisions(struct kg_db *db, const void *filter, const char *after_us, const char *after_id,
               long long limit, struct kg_list *list)
{
  return kg_db_decisions_list(db, filter, after_us, after_id, limit, list_decision, list);
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct kg_errors e;
  struct kg_page page;
  struct kg_decision_filter f = { 0 };
  char host[KG_HOSTNAME_BUFSZ];

  kg_errors_init(&e);
  kg_page_parse(ctx, &e, &page);
  f.kms_host = kg_query_hostname(ctx, "kms_host", "must be a DNS hostname", &e, host);
  f.has_since = kg_query_time(ctx, "since", &e, &f.since_us);
  if (!kg_errors_reply(ctx, &e))
    kg_list_serve_by_time(ctx, "decision_list", &page, list_decisions, &f);
}

/* clang-format off */
const struct kg_route kg_routes_decisions[] = {
  { "GET", "/v1/decisions", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_list, "kms_host since limit cursor" },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
