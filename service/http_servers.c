/**
 * @file http_servers.c
 * @brief /v1/kms-servers: the KMS machines whose logs kmsgate stores, with
 *        their hosts, request totals by family and unmapped activation IDs.
 *        Their uploads are in http_activations.c.
 */
#include "db_servers.h"
#include "http.h"
#include "inventory.h"
#include "server_doc.h"

/** State shared by a handler and its transaction callback. */
struct server_tx {
  struct kg_ctx *ctx;
  struct kg_db *db;
  char name[KG_HOSTNAME_BUFSZ];
  struct kg_page page;
  struct kg_list list;
  json_t *doc;
  enum kg_qs item_qs; /**< failure of a list item's document */
};

static bool
list_server(void *cls, const char *server)
{
  struct server_tx *t = cls;
  json_t *doc;

  t->item_qs = kg_server_document(t->db, server, &doc);
  return KG_QS_OK == t->item_qs && kg_list_add(&t->list, doc, server);
}

static enum kg_qs
tx_list(struct kg_db *db, void *cls)
{
  struct server_tx *t = cls;
  enum kg_qs qs;

  kg_list_free(&t->list);
  if (!kg_list_start(&t->list, t->page.limit))
    return KG_QS_INTERNAL_ERROR;
  t->db = db;
  t->item_qs = KG_QS_OK;
  qs = kg_db_server_list(db, kg_page_after(&t->page), t->page.limit + 1, list_server, t);
  return KG_QS_OK != t->item_qs ? t->item_qs : qs;
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct server_tx t = { .ctx = ctx };
  struct kg_errors e;

  kg_errors_init(&e);
  if (kg_page_parse(ctx, &e, &t.page))
    kg_page_check_text(&t.page, 253, &e);
  if (kg_errors_reply(ctx, &e))
    return;
  /* One snapshot: every server's hosts and totals agree with each other. */
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "server_list", KG_REPEATABLE_READ, tx_list, &t);
  kg_reply_tx_list(ctx, qs, &t.list);
}

/** A server is known while a host names it or it holds requests. */
static bool
server_known(const json_t *doc)
{
  const char *family;
  json_t *n;

  if (json_array_size(json_object_get(doc, "hosts")) > 0
      || json_integer_value(json_object_get(doc, "unmapped_requests")) > 0)
    return true;
  json_object_foreach(json_object_get(doc, "requests_by_family"), family,
                      n) if (json_integer_value(n) > 0) return true;
  return false;
}

static enum kg_qs
tx_get(struct kg_db *db, void *cls)
{
  struct server_tx *t = cls;
  enum kg_qs qs;

  json_decref(t->doc);
  qs = kg_server_document(db, t->name, &t->doc);
  if (KG_QS_OK != qs)
    return qs;
  if (!server_known(t->doc)) {
    kg_reply_problem(t->ctx, 404, "no KMS server named '%s'", t->name);
    return KG_QS_REPLIED;
  }
  return KG_QS_OK;
}

static void
handle_get(struct kg_ctx *ctx)
{
  struct server_tx t = { .ctx = ctx };

  if (!kg_path_hostname(ctx, "server", t.name, "KMS server"))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "server_get", KG_REPEATABLE_READ, tx_get, &t);
  kg_reply_tx_document(ctx, qs, 200, t.doc);
}

/* clang-format off */
const struct kg_route kg_routes_servers[] = {
  { "GET", "/v1/kms-servers", KG_ROLE_READER, KG_BODY_NONE, 0, handle_list, "limit cursor" },
  { "GET", "/v1/kms-servers/:server", KG_ROLE_READER, KG_BODY_NONE, 0, handle_get, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
