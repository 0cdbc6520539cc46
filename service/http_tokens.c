/**
 * @file http_tokens.c
 * @brief /v1/tokens: create (the token is shown only in that answer), list
 *        (never the token or its hash) and revoke API tokens.
 */
#include <string.h>

#include "auth.h"
#include "http.h"
#include "inventory.h"

static const char *const roles[] = { "reader", "hook", "admin", NULL };

/** State shared by a handler and its transaction callback. */
struct token_tx {
  struct kg_ctx *ctx;
  const char *name;  /**< POST */
  enum kg_role role; /**< POST */
  char id[40];       /**< POST: new id; DELETE: canonical id */
  char token[KG_TOKEN_BUFSZ];
  struct kg_page page; /**< GET */
  char after_us[24];   /**< GET: cursor, created_at in microseconds ("" first page) */
  char after_id[37];   /**< GET: cursor, id */
  struct kg_list list; /**< GET */
  json_t *doc;         /**< the answer, once committed */
};

/** Keeps the token row as the answer (replacing one of an earlier attempt). */
static bool
keep_token(void *cls, const struct kg_token_record *r)
{
  struct token_tx *t = cls;
  json_decref(t->doc);
  t->doc = kg_token_json(r);
  return NULL != t->doc;
}

/* ---- POST /v1/tokens ---- */

static enum kg_qs
tx_create(struct kg_db *db, void *cls)
{
  struct token_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_auth_token_create(db, t->name, t->role, t->token, t->id);

  if (KG_QS_HARD_ERROR == qs && 0 == strcmp(kg_db_last_sqlstate(db), "23505")) {
    /* clang-format off */
    kg_reply_problem(t->ctx, 409, "a live token named '%s' exists already; revoke it or"
                     " choose another name", t->name);
    /* clang-format on */
    return KG_QS_REPLIED;
  }
  if (KG_QS_OK != qs)
    return qs;
  qs = kg_db_token_get(db, t->id, keep_token, t, &found);
  return (KG_QS_OK == qs && !found) ? KG_QS_INTERNAL_ERROR : qs;
}

static void
handle_create(struct kg_ctx *ctx)
{
  static const char *const fields[] = { "name", "role", NULL };
  struct token_tx t = { .ctx = ctx };
  struct kg_errors e;
  const char *role = NULL;

  kg_errors_init(&e);
  kg_input_only(ctx->body, fields, "", &e);
  kg_input_name(ctx->body, "name", true, KG_NAME_MAX, &e, &t.name);
  kg_input_enum(ctx->body, "role", true, roles, &e, &role);
  if (kg_errors_reply(ctx, &e))
    return;
  t.role = kg_auth_role_parse(role);
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "token_create", KG_READ_COMMITTED, tx_create, &t);
  /* {id, name, role, token, created_at}: a new token is never revoked. */
  if (KG_QS_OK == qs
      && (0 != json_object_del(t.doc, "revoked_at")
          || 0 != json_object_set_new(t.doc, "token", json_string(t.token))))
    qs = KG_QS_INTERNAL_ERROR;
  memset(t.token, 0, sizeof(t.token));
  kg_reply_tx_document(ctx, qs, 201, t.doc);
}

/* ---- GET /v1/tokens ---- */

static bool
list_token(void *cls, const struct kg_token_record *r)
{
  struct token_tx *t = cls;
  return kg_list_add(&t->list, kg_token_json(r), r->sort_key);
}

static enum kg_qs
tx_list(struct kg_db *db, void *cls)
{
  struct token_tx *t = cls;
  bool cursor = '\0' != t->after_us[0];

  if (!kg_list_start(&t->list, t->page.limit))
    return KG_QS_INTERNAL_ERROR;
  return kg_db_token_list(db, cursor ? t->after_us : NULL, cursor ? t->after_id : NULL,
                          t->page.limit + 1, list_token, t);
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct token_tx t = { .ctx = ctx };
  struct kg_errors e;

  kg_errors_init(&e);
  /* Unlike plans and decisions, a foreign cursor is reported with the other errors. */
  if (kg_page_parse(ctx, &e, &t.page) && NULL != kg_page_after(&t.page)
      && !kg_page_split_time_key(t.page.after, t.after_us, t.after_id))
    kg_errors_add(&e, false, "cursor", "is not a cursor from this API");
  if (kg_errors_reply(ctx, &e))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "token_list", KG_READ_COMMITTED, tx_list, &t);
  kg_reply_tx_list(ctx, qs, &t.list);
}

/* ---- DELETE /v1/tokens/{id} ---- */

static enum kg_qs
tx_revoke(struct kg_db *db, void *cls)
{
  struct token_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_db_token_revoke(db, t->id, &found);

  if (KG_QS_OK == qs && !found) {
    kg_reply_problem(t->ctx, 404, "no token with id '%s'", t->id);
    return KG_QS_REPLIED;
  }
  return qs;
}

static void
handle_revoke(struct kg_ctx *ctx)
{
  struct token_tx t = { .ctx = ctx };

  if (!kg_path_uuid(ctx, "id", t.id, "token"))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "token_revoke", KG_READ_COMMITTED, tx_revoke, &t);
  kg_reply_tx_no_content(ctx, qs);
}

/* clang-format off */
const struct kg_route kg_routes_tokens[] = {
  { "POST", "/v1/tokens", KG_ROLE_ADMIN, KG_BODY_JSON, KG_MAX_BODY, handle_create, NULL },
  /* api.md: token management is admin only, listing included. */
  { "GET", "/v1/tokens", KG_ROLE_ADMIN, KG_BODY_NONE, 0, handle_list, "limit cursor" },
  { "DELETE", "/v1/tokens/:id", KG_ROLE_ADMIN, KG_BODY_NONE, 0, handle_revoke, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
