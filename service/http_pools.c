/**
 * @file http_pools.c
 * @brief /v1/pools: create, list, read, patch and delete pools.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "inventory.h"
#include "pool_sync.h"

static const char *const platforms[] = { "horizon", "citrix", "other", NULL };

/** State shared by a handler and its transaction callback. */
struct pool_tx {
  struct kg_ctx *ctx;
  const char *name;                 /**< the pool's name (path or body) */
  char kms_host[KG_HOSTNAME_BUFSZ]; /**< lowercase host name ("" none given) */
  const char *filter_host;          /**< GET list: kms_host, or NULL for every host */
  struct kg_pool_new values;        /**< POST */
  size_t n_hosts;                   /**< POST, PATCH: discovery hosts (0: pinned) */
  bool set_hosts;                   /**< PATCH: kms_hosts given (null or []: pinned) */
  struct {
    char name[KG_HOSTNAME_BUFSZ];
    int weight;
  } hosts[16];
  struct kg_pool_patch patch; /**< PATCH */
  struct kg_page page;        /**< GET list */
  struct kg_list list;        /**< GET list */
  json_t *doc;                /**< the answer, once committed */
};

/** Keeps the pool row as the answer (replacing one of an earlier attempt). */
static bool
keep_pool(void *cls, const struct kg_pool_record *p)
{
  struct pool_tx *t = cls;
  json_decref(t->doc);
  t->doc = kg_pool_json(p);
  return NULL != t->doc;
}

/** Reads the path's pool name; false (after a 404) when it cannot name a pool. */
static bool
path_pool(struct kg_ctx *ctx, struct pool_tx *t)
{
  return kg_path_name(ctx, "name", KG_NAME_MAX, &t->name, "pool");
}

/** Reads renewal_interval_minutes: an integer, or null for the host's interval. */
static bool
input_renewal(const json_t *body, struct kg_errors *e, bool *is_null, long long *minutes)
{
  const json_t *v = json_object_get(body, "renewal_interval_minutes");
  json_int_t n;

  *is_null = (NULL != v && json_is_null(v));
  if (*is_null)
    return true;
  if (!kg_input_int(body, "renewal_interval_minutes", false, 15, 43200, e, &n))
    return false;
  *minutes = n;
  return true;
}

/** Answers 404 for the pool t->name, which does not exist. */
static enum kg_qs
no_pool(const struct pool_tx *t)
{
  kg_reply_problem(t->ctx, 404, "no pool named '%s'", t->name);
  return KG_QS_REPLIED;
}

/** Reads the pool's full answer into t->doc; 404 when it is gone. */
static enum kg_qs
read_back(struct kg_db *db, struct pool_tx *t)
{
  bool found;
  enum kg_qs qs = kg_db_pool_get(db, t->name, keep_pool, t, &found);

  return (KG_QS_OK == qs && !found) ? no_pool(t) : qs;
}

/** Finds the pool t->name and locks it for a change; 404 when there is none. */
static enum kg_qs
lock_pool(struct kg_db *db, struct pool_tx *t, struct kg_pool_ref *ref)
{
  bool found;
  enum kg_qs qs = kg_db_pool_ref(db, t->name, true, ref, &found);

  return (KG_QS_OK == qs && !found) ? no_pool(t) : qs;
}

/** Finds a host for a pool, locked so that it cannot be deleted meanwhile. */
static enum kg_qs
lock_host(struct kg_db *db, struct pool_tx *t, long long *id)
{
  enum kg_qs qs = kg_db_host_lock(db, t->kms_host, false, id);

  if (KG_QS_OK == qs && 0 == *id) {
    /* clang-format off */
    json_t *errors = json_pack("{s:[{s:s,s:s}]}", "errors", "field", "kms_host",
                               "message", "no such KMS host");
    /* clang-format on */
    kg_reply_problem_with(t->ctx, 422, errors, "no KMS host named '%s'", t->kms_host);
    return KG_QS_REPLIED;
  }
  return qs;
}

/* ---- POST /v1/pools ---- */

/**
 * Reads kms_hosts: [{name, weight?}] (1 to 16 hosts, weights 1..1000,
 * default 1): a discovering pool, whose own host is the first listed.
 */
static void
parse_hosts(const json_t *list, struct kg_errors *e, struct pool_tx *t)
{
  static const char *const fields[] = { "name", "weight", NULL };
  size_t i;
  const json_t *item;

  if (!json_is_array(list) || 0 == json_array_size(list) || json_array_size(list) > 16) {
    kg_errors_add(e, !json_is_array(list), "kms_hosts", "must list 1 to 16 {name, weight}");
    return;
  }
  json_array_foreach(list, i, item)
  {
    char prefix[40];
    json_int_t w = 1;
    snprintf(prefix, sizeof(prefix), "kms_hosts[%zu].", i);
    if (!json_is_object(item)) {
      kg_errors_add(e, true, "kms_hosts", "item %zu must be an object {name, weight}", i);
      continue;
    }
    kg_input_only(item, fields, prefix, e);
    if (!kg_input_hostname(item, "name", true, e, t->hosts[i].name))
      continue;
    kg_input_int(item, "weight", false, 1, 1000, e, &w);
    t->hosts[i].weight = (int) w;
    for (size_t k = 0; k < i; k++)
      if (0 == strcmp(t->hosts[k].name, t->hosts[i].name))
        kg_errors_add(e, false, "kms_hosts", "%s is listed twice", t->hosts[i].name);
  }
  t->n_hosts = json_array_size(list);
}

static void
parse_create(const json_t *body, struct kg_errors *e, struct pool_tx *t)
{
  /* clang-format off */
  static const char *const fields[] = { "name", "kms_host", "kms_hosts", "platform",
                                        "renewal_interval_minutes", "unique_cmids", NULL };
  /* clang-format on */
  struct kg_pool_new *v = &t->values;
  bool renewal_null = true;

  kg_input_only(body, fields, "", e);
  /* A '/' could not be addressed: the server decodes %2F before it splits the path. */
  if (kg_input_name(body, "name", true, KG_NAME_MAX, e, &t->name) && NULL != strchr(t->name, '/'))
    kg_errors_add(e, false, "name", "must not contain '/'");
  const json_t *hosts = json_object_get(body, "kms_hosts");
  if ((NULL != json_object_get(body, "kms_host")) == (NULL != hosts))
    kg_errors_add(e, false, "kms_host", "give either kms_host (pinned) or kms_hosts (discovery)");
  else if (NULL != hosts)
    parse_hosts(hosts, e, t);
  else
    kg_input_hostname(body, "kms_host", true, e, t->kms_host);
  if (t->n_hosts > 0)
    snprintf(t->kms_host, sizeof(t->kms_host), "%s", t->hosts[0].name);
  kg_input_enum(body, "platform", true, platforms, e, &v->platform);
  v->has_renewal = input_renewal(body, e, &renewal_null, &v->renewal_minutes) && !renewal_null;
  v->unique_cmids = true;
  kg_input_bool(body, "unique_cmids", false, e, &v->unique_cmids);
}

static enum kg_qs
tx_create(struct kg_db *db, void *cls)
{
  struct pool_tx *t = cls;
  bool duplicate;
  enum kg_qs qs = lock_host(db, t, &t->values.kms_host_id);

  if (KG_QS_OK != qs)
    return qs;
  t->values.name = t->name;
  qs = kg_db_pool_insert(db, &t->values, &duplicate);
  if (KG_QS_OK != qs)
    return qs;
  if (duplicate) {
    kg_reply_problem(t->ctx, 409, "a pool named '%s' exists already", t->name);
    return KG_QS_REPLIED;
  }
  for (size_t i = 0; i < t->n_hosts && KG_QS_OK == qs; i++) {
    bool added;
    qs = kg_db_pool_add_host(db, t->name, t->hosts[i].name, t->hosts[i].weight, &added);
    if (KG_QS_OK == qs && !added) {
      char field[48];
      snprintf(field, sizeof(field), "kms_hosts[%zu].name", i);
      /* clang-format off */
      kg_reply_problem_with(t->ctx, 422, json_pack("{s:[{s:s,s:s}]}", "errors", "field", field,
                                                   "message", "no KMS host of the pool's family"),
                            /* clang-format on */
                            "no KMS host named '%s' of the family of '%s'", t->hosts[i].name,
                            t->kms_host);
      return KG_QS_REPLIED;
    }
  }
  return KG_QS_OK == qs ? read_back(db, t) : qs;
}

/** Runs @a fn and answers the pool it leaves in t->doc with @a status. */
static void
run_and_reply(struct kg_ctx *ctx, struct pool_tx *t, const char *what, kg_tx_fn fn,
              unsigned int status)
{
  enum kg_qs qs = kg_db_run_transaction(ctx->db, what, KG_READ_COMMITTED, fn, t);
  if (KG_QS_OK == qs && 201 == status)
    kg_set_location(ctx, "/v1/pools/", t->name);
  kg_reply_tx_document(ctx, qs, status, t->doc);
}

static void
handle_create(struct kg_ctx *ctx)
{
  struct pool_tx t = { .ctx = ctx };
  struct kg_errors e;

  kg_errors_init(&e);
  parse_create(ctx->body, &e, &t);
  if (kg_errors_reply(ctx, &e))
    return;
  run_and_reply(ctx, &t, "pool_create", tx_create, 201);
}

/* ---- GET /v1/pools ---- */

static bool
list_pool(void *cls, const struct kg_pool_record *p)
{
  struct pool_tx *t = cls;
  return kg_list_add(&t->list, kg_pool_json(p), p->name);
}

static enum kg_qs
tx_list(struct kg_db *db, void *cls)
{
  struct pool_tx *t = cls;
  if (!kg_list_start(&t->list, t->page.limit))
    return KG_QS_INTERNAL_ERROR;
  return kg_db_pool_list(db, t->filter_host, kg_page_after(&t->page), t->page.limit + 1, list_pool,
                         t);
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct pool_tx t = { .ctx = ctx };
  struct kg_errors e;

  kg_errors_init(&e);
  if (kg_page_parse(ctx, &e, &t.page))
    kg_page_check_text(&t.page, KG_NAME_MAX, &e);
  t.filter_host = kg_query_hostname(ctx, "kms_host", "must be a KMS host name", &e, t.kms_host);
  if (kg_errors_reply(ctx, &e))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "pool_list", KG_READ_COMMITTED, tx_list, &t);
  kg_reply_tx_list(ctx, qs, &t.list);
}

/* ---- GET /v1/pools/{name} ---- */

static enum kg_qs
tx_get(struct kg_db *db, void *cls)
{
  return read_back(db, cls);
}

static void
handle_get(struct kg_ctx *ctx)
{
  struct pool_tx t = { .ctx = ctx };

  if (path_pool(ctx, &t))
    run_and_reply(ctx, &t, "pool_get", tx_get, 200);
}

/* ---- PATCH /v1/pools/{name} ---- */

static void
parse_patch(const json_t *body, struct kg_errors *e, struct pool_tx *t)
{
  /* clang-format off */
  static const char *const fields[] = { "platform", "renewal_interval_minutes", "unique_cmids",
                                        "kms_host", "kms_hosts", "name", NULL };
  /* clang-format on */
  struct kg_pool_patch *p = &t->patch;

  kg_input_only(body, fields, "", e);
  if (NULL != json_object_get(body, "name"))
    kg_errors_add(e, false, "name", "cannot be changed; create a new pool instead");
  kg_input_enum(body, "platform", false, platforms, e, &p->platform);
  p->set_renewal = input_renewal(body, e, &p->renewal_null, &p->renewal_minutes);
  p->has_unique_cmids = kg_input_bool(body, "unique_cmids", false, e, &p->unique_cmids);
  kg_input_hostname(body, "kms_host", false, e, t->kms_host);
  const json_t *hosts = json_object_get(body, "kms_hosts");
  t->set_hosts = NULL != hosts;
  if (NULL != hosts && !json_is_null(hosts)
      && !(json_is_array(hosts) && 0 == json_array_size(hosts)))
    parse_hosts(hosts, e, t);
}

/**
 * Replaces a pool's discovery hosts (none: pinned to its own host), which
 * must include its own host; refused while a reserved plan names the pool,
 * whose provisions were split by the old weights.
 */
static enum kg_qs
set_hosts(struct kg_db *db, struct pool_tx *t, const struct kg_pool_ref *ref)
{
  long long desktops, plans, reserved;
  bool own = 0 == t->n_hosts, added;
  enum kg_qs qs = kg_db_pool_usage(db, ref->id, &desktops, &plans, &reserved);

  for (size_t i = 0; i < t->n_hosts; i++)
    own = own || 0 == strcmp(t->hosts[i].name, ref->kms_host);
  if (KG_QS_OK == qs && (reserved > 0 || !own)) {
    /* clang-format off */
    json_t *errors = json_pack("{s:[{s:s,s:s}]}", "errors", "field", "kms_hosts", "message",
                               reserved > 0 ? "a pool named in a reserved plan keeps its hosts"
                                            : "must include the pool's own host");
    /* clang-format on */
    kg_reply_problem_with(t->ctx, 422, errors, "pool '%s' cannot take these KMS hosts", t->name);
    return KG_QS_REPLIED;
  }
  if (KG_QS_OK == qs)
    qs = kg_db_pool_clear_hosts(db, ref->id);
  for (size_t i = 0; i < t->n_hosts && KG_QS_OK == qs; i++) {
    qs = kg_db_pool_add_host(db, t->name, t->hosts[i].name, t->hosts[i].weight, &added);
    if (KG_QS_OK == qs && !added) {
      kg_reply_problem(t->ctx, 422, "no KMS host named '%s' of the pool's family",
                       t->hosts[i].name);
      return KG_QS_REPLIED;
    }
  }
  return qs;
}

/** Checks a move to t->kms_host; sets patch.kms_host_id when it is one. */
static enum kg_qs
check_move(struct kg_db *db, struct pool_tx *t, const struct kg_pool_ref *ref)
{
  long long host_id, desktops, plans, reserved;
  enum kg_qs qs = lock_host(db, t, &host_id);

  if (KG_QS_OK != qs || host_id == ref->kms_host_id)
    return qs;
  qs = kg_db_pool_usage(db, ref->id, &desktops, &plans, &reserved);
  if (KG_QS_OK != qs)
    return qs;
  if (reserved > 0) {
    /* A reserved plan's provisions protect the old host's headroom; moving the
       pool would silently drop them from that host's evaluations. */
    /* clang-format off */
    json_t *errors = json_pack("{s:[{s:s,s:s}]}", "errors", "field", "kms_host", "message",
                               "a pool named in a reserved plan cannot move to another KMS host");
    kg_reply_problem_with(t->ctx, 422, errors,
                          "pool '%s' is named in %lld reserved plan%s on KMS host '%s'; commit or"
                          " release %s first", t->name, reserved, 1 == reserved ? "" : "s",
                          /* clang-format on */
                          ref->kms_host, 1 == reserved ? "it" : "them");
    return KG_QS_REPLIED;
  }
  if (desktops > 0) {
    /* clang-format off */
    json_t *errors = json_pack("{s:[{s:s,s:s}]}", "errors", "field", "kms_host", "message",
                               "a pool with desktops cannot move to another KMS host");
    kg_reply_problem_with(t->ctx, 422, errors,
                          "pool '%s' has %lld desktop%s whose CMIDs belong to the cache of"
                          " KMS host '%s'; it cannot move to '%s'", t->name, desktops,
                          /* clang-format on */
                          1 == desktops ? "" : "s", ref->kms_host, t->kms_host);
    return KG_QS_REPLIED;
  }
  t->patch.kms_host_id = host_id;
  return KG_QS_OK;
}

static enum kg_qs
tx_patch(struct kg_db *db, void *cls)
{
  struct pool_tx *t = cls;
  struct kg_pool_ref ref;
  enum kg_qs qs = lock_pool(db, t, &ref);

  if (KG_QS_OK != qs)
    return qs;
  t->patch.kms_host_id = 0;
  if ('\0' != t->kms_host[0] && KG_QS_OK != (qs = check_move(db, t, &ref)))
    return qs;
  if (t->set_hosts && KG_QS_OK != (qs = set_hosts(db, t, &ref)))
    return qs;
  qs = kg_db_pool_update(db, ref.id, &t->patch);
  return (KG_QS_OK == qs) ? read_back(db, t) : qs;
}

static void
handle_patch(struct kg_ctx *ctx)
{
  struct pool_tx t = { .ctx = ctx };
  struct kg_errors e;

  if (!path_pool(ctx, &t))
    return;
  kg_errors_init(&e);
  parse_patch(ctx->body, &e, &t);
  if (kg_errors_reply(ctx, &e))
    return;
  run_and_reply(ctx, &t, "pool_patch", tx_patch, 200);
}

/* ---- DELETE /v1/pools/{name} ---- */

static enum kg_qs
tx_delete(struct kg_db *db, void *cls)
{
  struct pool_tx *t = cls;
  struct kg_pool_ref ref;
  long long desktops, plans;
  enum kg_qs qs = lock_pool(db, t, &ref);

  if (KG_QS_OK != qs)
    return qs;
  long long reserved;
  if (KG_QS_OK != (qs = kg_db_pool_usage(db, ref.id, &desktops, &plans, &reserved)))
    return qs;
  if (desktops > 0 || plans > 0) {
    /* clang-format off */
    kg_reply_problem_with(t->ctx, 409, json_pack("{s:I,s:I}", "desktops", (json_int_t) desktops,
                                                 "plans", (json_int_t) plans),
                          "pool '%s' is still referenced by %lld desktop%s (in any state,"
                          " decommissioned ones included) and %lld gate plan%s",
      /* clang-format on */
      t->name, desktops, 1 == desktops ? "" : "s", plans, 1 == plans ? "" : "s");
    return KG_QS_REPLIED;
  }
  return kg_db_pool_delete(db, ref.id);
}

static void
handle_delete(struct kg_ctx *ctx)
{
  struct pool_tx t = { .ctx = ctx };

  if (!path_pool(ctx, &t))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "pool_delete", KG_READ_COMMITTED, tx_delete, &t);
  kg_reply_tx_no_content(ctx, qs);
}

/* clang-format off */
const struct kg_route kg_routes_pools[] = {
  { "POST", "/v1/pools", KG_ROLE_ADMIN, KG_BODY_JSON, KG_MAX_BODY, handle_create, NULL },
  { "GET", "/v1/pools", KG_ROLE_READER, KG_BODY_NONE, 0, handle_list, "kms_host limit cursor" },
  { "GET", "/v1/pools/:name", KG_ROLE_READER, KG_BODY_NONE, 0, handle_get, NULL },
  { "PATCH", "/v1/pools/:name", KG_ROLE_ADMIN, KG_BODY_JSON, KG_MAX_BODY, handle_patch, NULL },
  { "DELETE", "/v1/pools/:name", KG_ROLE_ADMIN, KG_BODY_NONE, 0, handle_delete, NULL },
  { "PUT", "/v1/pools/:name/desktops", KG_ROLE_HOOK, KG_BODY_JSON, KG_MAX_SYNC_BODY,
    kg_handle_pool_sync, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
