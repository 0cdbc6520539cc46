/**
 * @file http_desktops.c
 * @brief /v1/desktops: the hooks' idempotent upsert, reads with the CMID
 *        status, and decommissioning (the row stays: its CMID stays in the
 *        host's cache for 30 days).
 */
#include <stdio.h>
#include <string.h>

#include "events.h"
#include "http.h"
#include "inventory.h"

static const char *const states[] = { "active", "powered_off", "decommissioned", NULL };
static const char *const power_states[] = { "on", "off", "unknown", NULL };

/** State shared by a handler and its transaction callback. */
struct desktop_tx {
  struct kg_ctx *ctx;
  char hostname[KG_HOSTNAME_BUFSZ]; /**< lowercase, from the path */
  const char *pool;                 /**< PUT: the pool's name */
  char cmid[37];                    /**< PUT / list filter: lowercase GUID */
  struct kg_desktop_put put;        /**< PUT */
  enum kg_desktop_upsert outcome;   /**< PUT */
  struct kg_desktop_filter filter;  /**< GET list */
  char filter_host[KG_HOSTNAME_BUFSZ];
  struct kg_page page; /**< GET list */
  struct kg_list list; /**< GET list */
  json_t *doc;         /**< the answer, once committed */
};

/** Keeps the desktop row as the answer (replacing one of an earlier attempt). */
static bool
keep_desktop(void *cls, const struct kg_desktop_record *d)
{
  struct desktop_tx *t = cls;
  json_decref(t->doc);
  t->doc = kg_desktop_json(d);
  return NULL != t->doc;
}

/** Answers 404 for the desktop of the path, which does not exist. */
static enum kg_qs
no_desktop(const struct desktop_tx *t)
{
  kg_reply_problem(t->ctx, 404, "no desktop named '%s'", t->hostname);
  return KG_QS_REPLIED;
}

/** Reads the desktop into t->doc; 404 when there is none. */
static enum kg_qs
read_back(struct kg_db *db, struct desktop_tx *t)
{
  bool found;
  enum kg_qs qs = kg_db_desktop_get(db, t->hostname, keep_desktop, t, &found);

  return (KG_QS_OK == qs && !found) ? no_desktop(t) : qs;
}

/** Answers 422 naming the pool. */
static void
reply_bad_pool(struct desktop_tx *t, const char *message, const char *detail)
{
  json_t *errors = json_pack("{s:[{s:s,s:s}]}", "errors", "field", "pool", "message", message);
  kg_reply_problem_with(t->ctx, 422, errors, "%s", detail);
}

/* ---- PUT /v1/desktops/{hostname} ---- */

/** Reads cmid: a GUID in any case (or in braces), or null to clear. */
static void
input_cmid(const json_t *body, struct kg_errors *e, struct desktop_tx *t)
{
  const json_t *v = json_object_get(body, "cmid");

  t->put.has_cmid = (NULL != v);
  t->put.cmid = NULL;
  if (NULL == v || json_is_null(v))
    return;
  if (!json_is_string(v))
    kg_errors_add(e, true, "cmid", "must be a GUID string or null");
  else if (!kg_guid_normalize(json_string_value(v), json_string_length(v), t->cmid))
    kg_errors_add(e, false, "cmid", "must be a GUID such as 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10");
  else
    t->put.cmid = t->cmid;
}

/** Reads last_activation_at: an RFC 3339 time, or null to clear. */
static void
input_last_activation(const json_t *body, struct kg_errors *e, struct kg_desktop_put *put)
{
  const json_t *v = json_object_get(body, "last_activation_at");

  put->has_last_activation = (NULL != v);
  put->last_activation_null = (NULL != v && json_is_null(v));
  if (NULL != v && !json_is_null(v))
    kg_input_time(body, "last_activation_at", false, e, &put->last_activation_us);
}

/** Reads platform_id: the platform's id of the machine (1 to 256 bytes), or null to clear. */
static void
input_platform_id(const json_t *body, struct kg_errors *e, struct kg_desktop_put *put)
{
  const json_t *v = json_object_get(body, "platform_id");

  put->has_platform_id = (NULL != v);
  put->platform_id = NULL;
  if (NULL != v && !json_is_null(v))
    kg_input_name(body, "platform_id", false, KG_PLATFORM_ID_MAX, e, &put->platform_id);
}

static void
parse_put(const json_t *body, struct kg_errors *e, struct desktop_tx *t)
{
  /* clang-format off */
  static const char *const fields[] = { "pool", "cmid", "state", "last_activation_at",
                                        "power_state", "platform_id", NULL };
  /* clang-format on */

  kg_input_only(body, fields, "", e);
  kg_input_name(body, "pool", true, KG_NAME_MAX, e, &t->pool);
  input_cmid(body, e, t);
  kg_input_enum(body, "state", false, states, e, &t->put.state);
  input_last_activation(body, e, &t->put);
  kg_input_enum(body, "power_state", false, power_states, e, &t->put.power_state);
  input_platform_id(body, e, &t->put);
}

/** Answers the 422 of a desktop that would change KMS host. */
static enum kg_qs
refuse_move(struct kg_db *db, struct desktop_tx *t, const struct kg_pool_ref *pool)
{
  char old_host[KG_HOSTNAME_BUFSZ];
  char detail[1024];
  enum kg_qs qs = kg_db_desktop_host(db, t->hostname, old_host);

  if (KG_QS_OK != qs)
    return qs;
  if ('\0' == old_host[0])
    return KG_QS_SOFT_ERROR; /* deleted meanwhile (not by this API): run again */
                             /* clang-format off */
  snprintf(detail, sizeof(detail),
           "desktop '%s' is on KMS host '%s', whose cache holds its CMID for 30 days after"
           " its last request; pool '%s' is on KMS host '%s'. A desktop cannot change KMS"
           " host: decommission it and register the new one under a new hostname",
                             /* clang-format on */
           t->hostname, old_host, t->pool, pool->kms_host);
  /* clang-format off */
  reply_bad_pool(t, "the desktop's CMID belongs to the cache of its KMS host; the pool is on"
                 " another KMS host", detail);
  /* clang-format on */
  return KG_QS_REPLIED;
}

static enum kg_qs
tx_put(struct kg_db *db, void *cls)
{
  struct desktop_tx *t = cls;
  struct kg_pool_ref pool;
  char detail[256];
  bool found;
  enum kg_qs qs = kg_db_pool_ref(db, t->pool, false, &pool, &found);

  if (KG_QS_OK != qs)
    return qs;
  if (!found) {
    snprintf(detail, sizeof(detail), "no pool named '%s'", t->pool);
    reply_bad_pool(t, "no such pool", detail);
    return KG_QS_REPLIED;
  }
  t->put.pool_id = pool.id;
  t->put.kms_host_id = pool.kms_host_id;
  qs = kg_db_desktop_upsert(db, &t->put, &t->outcome);
  if (KG_QS_OK != qs)
    return qs;
  if (KG_DESKTOP_OTHER_HOST == t->outcome)
    return refuse_move(db, t, &pool);
  return read_back(db, t);
}

static void
handle_put(struct kg_ctx *ctx)
{
  struct desktop_tx t = { .ctx = ctx };
  struct kg_errors e;
  const char *raw = kg_param(ctx, "hostname");

  kg_errors_init(&e);
  if (NULL == raw || !kg_hostname_normalize(raw, t.hostname))
    kg_errors_add(&e, false, "hostname", "the path must end in the desktop's DNS hostname");
  parse_put(ctx->body, &e, &t);
  if (kg_errors_reply(ctx, &e))
    return;
  t.put.hostname = t.hostname;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "desktop_put", KG_READ_COMMITTED, tx_put, &t);
  bool created = KG_QS_OK == qs && KG_DESKTOP_CREATED == t.outcome;
  if (created)
    kg_set_location(ctx, "/v1/desktops/", t.hostname);
  kg_reply_tx_document(ctx, qs, created ? 201 : 200, t.doc);
}

/* ---- GET /v1/desktops ---- */

static bool
list_desktop(void *cls, const struct kg_desktop_record *d)
{
  struct desktop_tx *t = cls;
  return kg_list_add(&t->list, kg_desktop_json(d), d->hostname);
}

static enum kg_qs
tx_list(struct kg_db *db, void *cls)
{
  struct desktop_tx *t = cls;
  if (!kg_list_start(&t->list, t->page.limit))
    return KG_QS_INTERNAL_ERROR;
  return kg_db_desktop_list(db, &t->filter, kg_page_after(&t->page), t->page.limit + 1,
                            list_desktop, t);
}

/** Reads ?pool=, ?state=, ?cmid= and ?kms_host=. */
static void
parse_filter(struct kg_ctx *ctx, struct kg_errors *e, struct desktop_tx *t)
{
  const char *pool = kg_param(ctx, "pool");
  const char *state = kg_param(ctx, "state");
  const char *cmid = kg_param(ctx, "cmid");

  if (NULL != pool && !kg_text_ok(pool, KG_NAME_MAX))
    kg_errors_add(e, false, "pool", "must be a pool name");
  t->filter.pool = pool;
  if (NULL != state) {
    t->filter.state = NULL;
    for (const char *const *s = states; NULL != *s; s++)
      if (0 == strcmp(*s, state))
        t->filter.state = *s;
    if (NULL == t->filter.state)
      kg_errors_add(e, false, "state", "must be one of: active, powered_off, decommissioned");
  }
  if (NULL != cmid && !kg_guid_normalize(cmid, strlen(cmid), t->cmid))
    kg_errors_add(e, false, "cmid", "must be a GUID");
  t->filter.cmid = (NULL != cmid) ? t->cmid : NULL;
  t->filter.kms_host =
    kg_query_hostname(ctx, "kms_host", "must be a KMS host name", e, t->filter_host);
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct desktop_tx t = { .ctx = ctx };
  struct kg_errors e;

  kg_errors_init(&e);
  if (kg_page_parse(ctx, &e, &t.page))
    kg_page_check_text(&t.page, KG_HOSTNAME_BUFSZ - 1, &e);
  parse_filter(ctx, &e, &t);
  if (kg_errors_reply(ctx, &e))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "desktop_list", KG_READ_COMMITTED, tx_list, &t);
  kg_reply_tx_list(ctx, qs, &t.list);
}

/* ---- GET and DELETE /v1/desktops/{hostname} ---- */

/** Runs @a fn and answers the desktop it leaves in t->doc. */
static void
run_and_reply(struct kg_ctx *ctx, struct desktop_tx *t, const char *what, kg_tx_fn fn)
{
  enum kg_qs qs = kg_db_run_transaction(ctx->db, what, KG_READ_COMMITTED, fn, t);
  kg_reply_tx_document(ctx, qs, 200, t->doc);
}

static enum kg_qs
tx_get(struct kg_db *db, void *cls)
{
  return read_back(db, cls);
}

static void
handle_get(struct kg_ctx *ctx)
{
  struct desktop_tx t = { .ctx = ctx };

  if (kg_path_hostname(ctx, "hostname", t.hostname, "desktop"))
    run_and_reply(ctx, &t, "desktop_get", tx_get);
}

static enum kg_qs
tx_delete(struct kg_db *db, void *cls)
{
  struct desktop_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_db_desktop_decommission(db, t->hostname, &found);

  if (KG_QS_OK != qs)
    return qs;
  return found ? read_back(db, t) : no_desktop(t);
}

static void
handle_delete(struct kg_ctx *ctx)
{
  struct desktop_tx t = { .ctx = ctx };

  if (kg_path_hostname(ctx, "hostname", t.hostname, "desktop"))
    run_and_reply(ctx, &t, "desktop_delete", tx_delete);
}

/* clang-format off */
const struct kg_route kg_routes_desktops[] = {
  { "PUT", "/v1/desktops/:hostname", KG_ROLE_HOOK, KG_BODY_JSON, KG_MAX_BODY, handle_put, NULL },
  { "GET", "/v1/desktops", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_list, "pool state cmid kms_host limit cursor" },
  { "GET", "/v1/desktops/:hostname", KG_ROLE_READER, KG_BODY_NONE, 0, handle_get, NULL },
  { "DELETE", "/v1/desktops/:hostname", KG_ROLE_HOOK, KG_BODY_NONE, 0, handle_delete, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
