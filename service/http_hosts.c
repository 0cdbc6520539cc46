/**
 * @file http_hosts.c
 * @brief /v1/kms-hosts: create, list, read, patch and delete KMS hosts, and
 *        the duplicate-CMID report of one host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_live.h"
#include "http.h"
#include "inventory.h"

/* Defaults of docs/model.md §2.1. */
#define WINDOWS_THRESHOLD 25
#define WINDOWS_CAPACITY 50
#define OFFICE_THRESHOLD 5
#define OFFICE_CAPACITY 10
#define DEFAULT_RENEWAL_MINUTES 10080

static const char *const families[] = { "windows", "office2010", "office", NULL };

/** State shared by a handler and its transaction callback. */
struct host_tx {
  struct kg_ctx *ctx;
  char name[KG_HOSTNAME_BUFSZ];   /**< lowercase host name from the path or body */
  char server[KG_HOSTNAME_BUFSZ]; /**< POST, PATCH: the KMS server, lowercase */
  struct kg_host_new values;      /**< POST */
  struct kg_host_patch patch;     /**< PATCH */
  struct kg_page page;            /**< GET list */
  struct kg_list list;            /**< GET list, duplicates */
  struct kg_host_row *rows;       /**< GET list: the row of each item */
  size_t n_rows;
  long long id;  /**< duplicates: the host's id */
  json_t *doc;   /**< the answer, once committed */
  json_t *pools; /**< DELETE: pools that still use the host */
};

/** Keeps the host row as the answer (replacing one of an earlier attempt). */
static bool
keep_host(void *cls, const struct kg_host_record *h)
{
  struct host_tx *t = cls;
  json_decref(t->doc);
  t->doc = kg_host_json(h);
  t->id = h->id;
  return NULL != t->doc;
}

/** Reads the path's host name; false (after a 404) when it cannot name a host. */
static bool
path_host(struct kg_ctx *ctx, struct host_tx *t)
{
  return kg_path_hostname(ctx, "name", t->name, "KMS host");
}

/** Answers 404 for the host of the path, which does not exist. */
static enum kg_qs
no_host(const struct host_tx *t)
{
  kg_reply_problem(t->ctx, 404, "no KMS host named '%s'", t->name);
  return KG_QS_REPLIED;
}

/** Reads an integer member into @a out, which keeps its default when absent. */
static void
optional_int(const json_t *body, const char *field, json_int_t min, json_int_t max,
             struct kg_errors *e, long long *out)
{
  json_int_t v;
  if (kg_input_int(body, field, false, min, max, e, &v))
    *out = v;
}

/* ---- POST /v1/kms-hosts ---- */

static void
parse_create(const json_t *body, struct kg_errors *e, struct host_tx *t)
{
  /* clang-format off */
  static const char *const fields[] = { "name", "server", "family", "threshold", "capacity",
                                        "margin", "renewal_interval_minutes", "description",
                                        NULL };
  /* clang-format on */
  const char *family = NULL;
  struct kg_host_new *v = &t->values;

  kg_input_only(body, fields, "", e);
  kg_input_hostname(body, "name", true, e, t->name);
  if (!kg_input_hostname(body, "server", false, e, t->server))
    snprintf(t->server, sizeof(t->server), "%s", t->name);
  kg_input_enum(body, "family", true, families, e, &family);
  /* Office (2010 and 2013+) activates from 5 and keeps 10 CMIDs. */
  bool office = NULL != family && 0 != strcmp(family, "windows");
  /* clang-format off */
  *v = (struct kg_host_new) {
    .name = t->name, .server = t->server, .family = family,
    .threshold = office ? OFFICE_THRESHOLD : WINDOWS_THRESHOLD,
    .capacity = office ? OFFICE_CAPACITY : WINDOWS_CAPACITY,
    .margin = 0, .renewal_minutes = DEFAULT_RENEWAL_MINUTES, .description = "",
  };
  /* clang-format on */
  optional_int(body, "threshold", 1, 10000, e, &v->threshold);
  optional_int(body, "capacity", 1, 100000, e, &v->capacity);
  optional_int(body, "margin", 0, 10000, e, &v->margin);
  optional_int(body, "renewal_interval_minutes", 15, 43200, e, &v->renewal_minutes);
  kg_input_description(body, "description", e, &v->description);
}

static enum kg_qs
tx_create(struct kg_db *db, void *cls)
{
  struct host_tx *t = cls;
  bool duplicate;
  enum kg_qs qs = kg_db_host_insert(db, &t->values, keep_host, t, &duplicate);

  if (KG_QS_OK != qs)
    return qs;
  if (duplicate) {
    kg_reply_problem(t->ctx, 409,
                     "a KMS host named '%s', or a %s host on server '%s', exists already", t->name,
                     t->values.family, t->server);
    return KG_QS_REPLIED;
  }
  return KG_QS_OK;
}

static void
handle_create(struct kg_ctx *ctx)
{
  struct host_tx t = { .ctx = ctx };
  struct kg_errors e;

  kg_errors_init(&e);
  parse_create(ctx->body, &e, &t);
  if (kg_errors_reply(ctx, &e))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "host_create", KG_READ_COMMITTED, tx_create, &t);
  if (KG_QS_OK == qs)
    kg_set_location(ctx, "/v1/kms-hosts/", t.name);
  kg_reply_tx_document(ctx, qs, 201, t.doc);
}

/* ---- GET /v1/kms-hosts ---- */

static bool
list_host(void *cls, const struct kg_host_record *h)
{
  struct host_tx *t = cls;
  size_t items = json_array_size(t->list.items);

  if (!kg_list_add(&t->list, kg_host_json(h), h->name))
    return false;
  if (json_array_size(t->list.items) == items)
    return true; /* the look-ahead row */
  struct kg_host_row *grown = realloc(t->rows, (t->n_rows + 1) * sizeof(*grown));
  if (NULL == grown)
    return false;
  t->rows = grown;
  kg_host_row_copy(&t->rows[t->n_rows++], h);
  return true;
}

static enum kg_qs
tx_list(struct kg_db *db, void *cls)
{
  struct host_tx *t = cls;

  t->n_rows = 0;
  if (!kg_list_start(&t->list, t->page.limit))
    return KG_QS_INTERNAL_ERROR;
  enum kg_qs qs = kg_db_host_list(db, kg_page_after(&t->page), t->page.limit + 1, list_host, t);
  /* A list's figures may be KG_FIGURES_MAX_AGE seconds old (README, OpenAPI). */
  for (size_t i = 0; KG_QS_OK == qs && i < t->n_rows; i++)
    qs = kg_host_live_add_cached(db, &t->rows[i], json_array_get(t->list.items, i));
  return qs;
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct host_tx t = { .ctx = ctx };
  struct kg_errors e;

  kg_errors_init(&e);
  if (kg_page_parse(ctx, &e, &t.page))
    kg_page_check_text(&t.page, KG_HOSTNAME_BUFSZ - 1, &e);
  if (kg_errors_reply(ctx, &e))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "host_list", KG_REPEATABLE_READ, tx_list, &t);
  free(t.rows);
  kg_reply_tx_list(ctx, qs, &t.list);
}

/* ---- GET /v1/kms-hosts/{name} ---- */

static enum kg_qs
tx_get(struct kg_db *db, void *cls)
{
  struct host_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_db_host_get(db, t->name, keep_host, t, &found);

  if (KG_QS_OK == qs && !found)
    return no_host(t);
  return (KG_QS_OK == qs) ? kg_host_live_add(db, t->name, t->doc) : qs;
}

/** Runs @a fn and answers the host it leaves in t->doc. */
static void
run_and_reply(struct kg_ctx *ctx, struct host_tx *t, const char *what, enum kg_isolation isolation,
              kg_tx_fn fn)
{
  enum kg_qs qs = kg_db_run_transaction(ctx->db, what, isolation, fn, t);
  kg_reply_tx_document(ctx, qs, 200, t->doc);
}

static void
handle_get(struct kg_ctx *ctx)
{
  struct host_tx t = { .ctx = ctx };

  if (path_host(ctx, &t))
    /* One snapshot: the row and the estate behind its live fields agree. */
    run_and_reply(ctx, &t, "host_get", KG_REPEATABLE_READ, tx_get);
}

/* ---- PATCH /v1/kms-hosts/{name} ---- */

static void
parse_patch(const json_t *body, struct kg_errors *e, struct kg_host_patch *p)
{
  /* clang-format off */
  static const char *const fields[] = { "threshold", "capacity", "margin",
                                        "renewal_interval_minutes", "description",
                                        "server", "name", "family", NULL };
  /* clang-format on */
  json_int_t v;

  kg_input_only(body, fields, "", e);
  if (NULL != json_object_get(body, "name"))
    kg_errors_add(e, false, "name", "cannot be changed; create a new KMS host instead");
  if (NULL != json_object_get(body, "family"))
    kg_errors_add(e, false, "family", "cannot be changed; create a new KMS host instead");
  if ((p->has_threshold = kg_input_int(body, "threshold", false, 1, 10000, e, &v)))
    p->threshold = v;
  if ((p->has_capacity = kg_input_int(body, "capacity", false, 1, 100000, e, &v)))
    p->capacity = v;
  if ((p->has_margin = kg_input_int(body, "margin", false, 0, 10000, e, &v)))
    p->margin = v;
  if ((p->has_renewal = kg_input_int(body, "renewal_interval_minutes", false, 15, 43200, e, &v)))
    p->renewal_minutes = v;
  p->has_description = kg_input_description(body, "description", e, &p->description);
}

static enum kg_qs
tx_patch(struct kg_db *db, void *cls)
{
  struct host_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_db_host_update(db, t->name, &t->patch, keep_host, t, &found);

  if (KG_QS_OK == qs && !found && NULL != t->patch.server) {
    qs = kg_db_host_get(db, t->name, keep_host, t, &found);
    if (KG_QS_OK == qs && found) {
      kg_reply_problem(t->ctx, 409, "server '%s' has a %s KMS host already", t->server,
                       json_string_value(json_object_get(t->doc, "family")));
      return KG_QS_REPLIED;
    }
  }
  if (KG_QS_OK == qs && !found)
    return no_host(t);
  return (KG_QS_OK == qs) ? kg_host_live_add(db, t->name, t->doc) : qs;
}

static void
handle_patch(struct kg_ctx *ctx)
{
  struct host_tx t = { .ctx = ctx };
  struct kg_errors e;

  if (!path_host(ctx, &t))
    return;
  kg_errors_init(&e);
  parse_patch(ctx->body, &e, &t.patch);
  if (kg_input_hostname(ctx->body, "server", false, &e, t.server))
    t.patch.server = t.server;
  if (kg_errors_reply(ctx, &e))
    return;
  run_and_reply(ctx, &t, "host_patch", KG_READ_COMMITTED, tx_patch);
}

/* ---- DELETE /v1/kms-hosts/{name} ---- */

static bool
collect_pool(void *cls, const char *pool)
{
  struct host_tx *t = cls;
  return 0 == json_array_append_new(t->pools, json_string(pool));
}

/** Answers 409 naming the pools of @a t->pools (stolen). */
static void
reply_in_use(struct host_tx *t, long long total)
{
  char names[512] = "";
  size_t i;
  json_t *pool;

  json_array_foreach(t->pools, i, pool)
  {
    size_t used = strlen(names);
    if (used + json_string_length(pool) + 8 >= sizeof(names)) {
      snprintf(names + used, sizeof(names) - used, ", ...");
      break;
    }
    snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", json_string_value(pool));
  }
  json_t *extra = json_pack("{s:o}", "pools", t->pools);
  t->pools = NULL;
  /* clang-format off */
  kg_reply_problem_with(t->ctx, 409, extra,
                        "KMS host '%s' is still used by %lld pool%s (%s); delete or move"
                        " them first", t->name, total, 1 == total ? "" : "s", names);
  /* clang-format on */
}

static enum kg_qs
tx_delete(struct kg_db *db, void *cls)
{
  struct host_tx *t = cls;
  long long id, total;
  enum kg_qs qs = kg_db_host_lock(db, t->name, true, &id);

  if (KG_QS_OK != qs)
    return qs;
  if (0 == id)
    return no_host(t);
  json_decref(t->pools);
  if (NULL == (t->pools = json_array()))
    return KG_QS_INTERNAL_ERROR;
  qs = kg_db_host_pools(db, id, collect_pool, t, &total);
  if (KG_QS_OK != qs)
    return qs;
  if (total > 0) {
    reply_in_use(t, total);
    return KG_QS_REPLIED;
  }
  return kg_db_host_delete(db, id);
}

static void
handle_delete(struct kg_ctx *ctx)
{
  struct host_tx t = { .ctx = ctx };

  if (!path_host(ctx, &t))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "host_delete", KG_READ_COMMITTED, tx_delete, &t);
  json_decref(t.pools);
  kg_reply_tx_no_content(ctx, qs);
}

/* ---- GET /v1/kms-hosts/{name}/duplicates ---- */

static bool
list_duplicate(void *cls, const struct kg_duplicate_record *d)
{
  struct host_tx *t = cls;
  json_t *desktops = json_loads(d->desktops_json, 0, NULL);
  json_t *pools = json_loads(d->pools_json, 0, NULL);

  if (NULL == desktops || NULL == pools) {
    json_decref(desktops);
    json_decref(pools);
    return false;
  }
  /* clang-format off */
  json_t *item = json_pack("{s:s,s:o,s:o,s:I}", "cmid", d->cmid, "desktops", desktops,
                           "pools", pools, "count", (json_int_t) d->count);
  /* clang-format on */
  return NULL != item && 0 == json_array_append_new(t->list.items, item);
}

static enum kg_qs
tx_duplicates(struct kg_db *db, void *cls)
{
  struct host_tx *t = cls;
  bool found;
  enum kg_qs qs = kg_db_host_get(db, t->name, keep_host, t, &found);

  if (KG_QS_OK != qs)
    return qs;
  if (!found)
    return no_host(t);
  if (!kg_list_start(&t->list, 0))
    return KG_QS_INTERNAL_ERROR;
  return kg_db_host_duplicates(db, t->id, list_duplicate, t);
}

static void
handle_duplicates(struct kg_ctx *ctx)
{
  struct host_tx t = { .ctx = ctx };

  if (!path_host(ctx, &t))
    return;
  /* Two reads that must agree: one snapshot. */
  enum kg_qs qs =
    kg_db_run_transaction(ctx->db, "host_duplicates", KG_REPEATABLE_READ, tx_duplicates, &t);
  json_decref(t.doc);
  kg_reply_tx_list(ctx, qs, &t.list);
}

/* clang-format off */
const struct kg_route kg_routes_hosts[] = {
  { "POST", "/v1/kms-hosts", KG_ROLE_ADMIN, KG_BODY_JSON, KG_MAX_BODY, handle_create, NULL },
  { "GET", "/v1/kms-hosts", KG_ROLE_READER, KG_BODY_NONE, 0, handle_list, "limit cursor" },
  { "GET", "/v1/kms-hosts/:name", KG_ROLE_READER, KG_BODY_NONE, 0, handle_get, NULL },
  { "PATCH", "/v1/kms-hosts/:name", KG_ROLE_ADMIN, KG_BODY_JSON, KG_MAX_BODY, handle_patch, NULL },
  { "DELETE", "/v1/kms-hosts/:name", KG_ROLE_ADMIN, KG_BODY_NONE, 0, handle_delete, NULL },
  { "GET", "/v1/kms-hosts/:name/duplicates", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_duplicates, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
