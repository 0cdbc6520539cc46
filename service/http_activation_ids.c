/**
 * @file http_activation_ids.c
 * @brief /v1/activation-ids: the built-in table of KMS client activation IDs
 *        (read-only) and the admin's own mappings, which re-count the stored
 *        requests at once (docs/model.md §5.2).
 */
#include <string.h>

#include "db_activation_ids.h"
#include "events.h"
#include "http.h"
#include "inventory.h"

static const char *const applications[] = { "windows", "office2010", "office", NULL };

/** State shared by a handler and its transaction callback. */
struct mapping_tx {
  struct kg_ctx *ctx;
  char id[37];
  const char *application;         /**< list filter; PUT: the new one */
  const char *description;         /**< PUT */
  enum kg_mapping_outcome outcome; /**< PUT, DELETE */
  struct kg_page page;
  struct kg_list list;
  json_t *doc;
};

static json_t *
mapping_json(const struct kg_activation_id *a)
{
  /* clang-format off */
  return json_pack("{s:s,s:s,s:b,s:s,s:o,s:s,s:o}", "activation_id", a->activation_id,
                   "application", a->application, "builtin", a->builtin,
                   "product_group", a->product_group,
                   "n_policy", 0 == a->n_policy ? json_null() : json_integer(a->n_policy),
                   "description", a->description,
                   "updated_at", kg_json_epoch_text(a->updated_at));
  /* clang-format on */
}

static bool
keep_mapping(void *cls, const struct kg_activation_id *a)
{
  struct mapping_tx *t = cls;
  json_decref(t->doc);
  t->doc = mapping_json(a);
  return NULL != t->doc;
}

static bool
list_mapping(void *cls, const struct kg_activation_id *a)
{
  struct mapping_tx *t = cls;
  return kg_list_add(&t->list, mapping_json(a), a->activation_id);
}

static enum kg_qs
tx_list(struct kg_db *db, void *cls)
{
  struct mapping_tx *t = cls;

  kg_list_free(&t->list);
  if (!kg_list_start(&t->list, t->page.limit))
    return KG_QS_INTERNAL_ERROR;
  return kg_db_activation_id_list(db, t->application, kg_page_after(&t->page), t->page.limit + 1,
                                  list_mapping, t);
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct mapping_tx t = { .ctx = ctx };
  struct kg_errors e;
  char cursor_id[37];
  const char *app = kg_param(ctx, "application");

  kg_errors_init(&e);
  if (kg_page_parse(ctx, &e, &t.page) && NULL != kg_page_after(&t.page)
      && !kg_guid_normalize(t.page.after, strlen(t.page.after), cursor_id))
    kg_errors_add(&e, false, "cursor", "is not a cursor from this API");
  for (size_t i = 0; NULL != app && NULL != applications[i]; i++)
    if (0 == strcmp(app, applications[i]))
      t.application = applications[i];
  if (NULL != app && NULL == t.application)
    kg_errors_add(&e, false, "application", "must be one of: windows, office2010, office");
  if (kg_errors_reply(ctx, &e))
    return;
  enum kg_qs qs =
    kg_db_run_transaction(ctx->db, "activation_id_list", KG_READ_COMMITTED, tx_list, &t);
  kg_reply_tx_list(ctx, qs, &t.list);
}

static enum kg_qs
tx_get(struct kg_db *db, void *cls)
{
  struct mapping_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_db_activation_id_get(db, t->id, keep_mapping, t, &found);

  if (KG_QS_OK == qs && !found) {
    kg_reply_problem(t->ctx, 404, "no activation ID '%s' is known", t->id);
    return KG_QS_REPLIED;
  }
  return qs;
}

static void
handle_get(struct kg_ctx *ctx)
{
  struct mapping_tx t = { .ctx = ctx };

  if (!kg_path_uuid(ctx, "id", t.id, "activation ID"))
    return;
  enum kg_qs qs =
    kg_db_run_transaction(ctx->db, "activation_id_get", KG_READ_COMMITTED, tx_get, &t);
  kg_reply_tx_document(ctx, qs, 200, t.doc);
}

/** PUT (application set) or DELETE (application NULL), then the row as it is now. */
static enum kg_qs
tx_set(struct kg_db *db, void *cls)
{
  struct mapping_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_db_activation_id_set(db, t->id, t->application, t->description, &t->outcome);

  if (KG_QS_OK != qs)
    return qs;
  if (KG_MAPPING_BUILTIN == t->outcome) {
    kg_reply_problem(t->ctx, 409, "activation ID '%s' is built in and read-only", t->id);
    return KG_QS_REPLIED;
  }
  if (KG_MAPPING_NOT_FOUND == t->outcome) {
    kg_reply_problem(t->ctx, 404, "no admin mapping for activation ID '%s'", t->id);
    return KG_QS_REPLIED;
  }
  if (NULL == t->application)
    return KG_QS_OK;
  qs = kg_db_activation_id_get(db, t->id, keep_mapping, t, &found);
  return (KG_QS_OK == qs && !found) ? KG_QS_INTERNAL_ERROR : qs;
}

static void
handle_put(struct kg_ctx *ctx)
{
  static const char *const fields[] = { "application", "description", NULL };
  struct mapping_tx t = { .ctx = ctx };
  struct kg_errors e;

  if (!kg_path_uuid(ctx, "id", t.id, "activation ID"))
    return;
  kg_errors_init(&e);
  kg_input_only(ctx->body, fields, "", &e);
  kg_input_enum(ctx->body, "application", true, applications, &e, &t.application);
  t.description = "";
  kg_input_description(ctx->body, "description", &e, &t.description);
  if (kg_errors_reply(ctx, &e))
    return;
  enum kg_qs qs =
    kg_db_run_transaction(ctx->db, "activation_id_put", KG_READ_COMMITTED, tx_set, &t);
  if (KG_QS_OK == qs && KG_MAPPING_CREATED == t.outcome)
    kg_set_location(ctx, "/v1/activation-ids/", t.id);
  kg_reply_tx_document(ctx, qs, KG_MAPPING_CREATED == t.outcome ? 201 : 200, t.doc);
}

static void
handle_delete(struct kg_ctx *ctx)
{
  struct mapping_tx t = { .ctx = ctx };

  if (!kg_path_uuid(ctx, "id", t.id, "activation ID"))
    return;
  enum kg_qs qs =
    kg_db_run_transaction(ctx->db, "activation_id_delete", KG_READ_COMMITTED, tx_set, &t);
  kg_reply_tx_no_content(ctx, qs);
}

/* clang-format off */
const struct kg_route kg_routes_activation_ids[] = {
  { "GET", "/v1/activation-ids", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_list, "application limit cursor" },
  { "GET", "/v1/activation-ids/:id", KG_ROLE_READER, KG_BODY_NONE, 0, handle_get, NULL },
  { "PUT", "/v1/activation-ids/:id", KG_ROLE_ADMIN, KG_BODY_JSON, KG_MAX_BODY, handle_put, NULL },
  { "DELETE", "/v1/activation-ids/:id", KG_ROLE_ADMIN, KG_BODY_NONE, 0, handle_delete, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
