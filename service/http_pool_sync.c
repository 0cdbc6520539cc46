/**
 * @file http_pool_sync.c
 * @brief PUT /v1/pools/{name}/desktops: the pool's complete machine list as
 *        its platform knows it (api.md "Pool sync"). New machines are
 *        registered, missing ones decommissioned, power states kept; one
 *        transaction under the pool's row lock, so two syncs of one pool run
 *        one after the other and the second sees the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_pool_sync.h"
#include "http.h"
#include "inventory.h"
#include "pool_sync.h"

/** Most machines in one list (a pool of several thousand fits many times). */
#define KG_SYNC_MAX_DESKTOPS 20000
/** Validation errors listed before the rest are left unsaid. */
#define KG_SYNC_MAX_ERRORS 20

static const char *const power_states[] = { "on", "off", "unknown", NULL };

/** A listed hostname with its position, for finding names listed twice. */
struct listed {
  const char *hostname;
  size_t index;
};

/** State shared by the handler and its transaction callback. */
struct sync_tx {
  struct kg_ctx *ctx;
  const char *pool;
  bool dry_run, force;
  size_t n_listed;
  char *list;             /**< the normalized list as JSON text (db_pool_sync.h) */
  long long n_new;        /**< machines no pool has: the rows the insert must write */
  bool has_platform_ids;  /**< some entry gives a platform_id */
  bool writes_listed;     /**< a revival, a power change or a platform id to store */
  long long active_drops; /**< active desktops the list leaves out */
  long long pool_active;
  long long unchanged;
  json_t *added, *decommissioned, *power_changed, *conflicts;
  size_t n_conflicts;
};

static bool
too_many_errors(const struct kg_errors *e)
{
  return json_array_size(e->list) >= KG_SYNC_MAX_ERRORS;
}

/** Records an error of one entry's member, named desktops[i].member. */
static void
entry_error(struct kg_errors *e, bool wrong_type, size_t i, const char *member, const char *message)
{
  char field[320];

  snprintf(field, sizeof(field), "desktops[%zu]%s%s", i, '\0' == member[0] ? "" : ".", member);
  kg_errors_add(e, wrong_type, field, "%s", message);
}

/** Reads one entry into @a out ({"n","h","s","i"}); errors name desktops[i]. */
static void
parse_entry(const json_t *item, size_t i, struct kg_errors *e, json_t *out)
{
  static const char *const allowed[] = { "hostname", "power_state", "platform_id", NULL };
  char host[KG_HOSTNAME_BUFSZ];
  const char *key;
  json_t *value;
  const json_t *h = json_object_get(item, "hostname");
  const json_t *s = json_object_get(item, "power_state");
  const json_t *p = json_object_get(item, "platform_id");

  json_object_foreach((json_t *) item, key, value)
  {
    bool known = false;
    for (const char *const *a = allowed; NULL != *a; a++)
      known |= 0 == strcmp(*a, key);
    /* clang-format off */
    if (!known)
      entry_error(e, false, i, key, "is not a member of a machine (hostname, power_state,"
                  " platform_id)");
    /* clang-format on */
  }
  if (!json_is_string(h))
    entry_error(e, NULL != h, i, "hostname", NULL == h ? "is required" : "must be a string");
  else if (!kg_hostname_normalize(json_string_value(h), host))
    entry_error(e, false, i, "hostname", "must be a DNS hostname");
  else
    json_object_set_new(out, "h", json_string(host));
  if (NULL != s && !json_is_null(s)) {
    const char *v = json_is_string(s) ? json_string_value(s) : NULL;
    bool known = false;
    for (const char *const *c = power_states; NULL != v && NULL != *c; c++)
      known |= 0 == strcmp(v, *c);
    if (known)
      json_object_set_new(out, "s", json_string(v));
    else
      entry_error(e, !json_is_string(s), i, "power_state", "must be one of: on, off, unknown");
  }
  if (NULL != p && !json_is_null(p)) {
    if (json_is_string(p) && json_string_length(p) <= KG_PLATFORM_ID_MAX
        && kg_text_ok(json_string_value(p), KG_PLATFORM_ID_MAX) && json_string_length(p) > 0)
      json_object_set(out, "i", (json_t *) p);
    else
      entry_error(e, !json_is_string(p), i, "platform_id",
                  "must be a string of 1 to 256 bytes without control characters, or null");
  }
}

static int
compare_listed(const void *a, const void *b)
{
  const struct listed *x = a, *y = b;
  int c = strcmp(x->hostname, y->hostname);
  return 0 != c ? c : (x->index < y->index ? -1 : 1);
}

/** A machine named twice (after normalization) is refused: which entry wins? */
static void
check_listed_once(const json_t *list, struct kg_errors *e)
{
  size_t n = json_array_size(list), i;
  struct listed *names = calloc(n + 1, sizeof(*names));
  const json_t *item;

  if (NULL == names) {
    kg_errors_add(e, false, "desktops", "too many machines for this service now");
    return;
  }
  json_array_foreach(list, i, item)
  {
    names[i].hostname = json_string_value(json_object_get(item, "h"));
    names[i].index = i;
    if (NULL == names[i].hostname) { /* no memory for it while parsing */
      kg_errors_add(e, false, "desktops", "too many machines for this service now");
      free(names);
      return;
    }
  }
  qsort(names, n, sizeof(*names), compare_listed);
  for (i = 1; i < n && !too_many_errors(e); i++)
    if (0 == strcmp(names[i].hostname, names[i - 1].hostname)) {
      char message[320];
      snprintf(message, sizeof(message), "names '%s' again: it is desktops[%zu] already",
               names[i].hostname, names[i - 1].index);
      entry_error(e, false, names[i].index, "hostname", message);
    }
  free(names);
}

/** Reads desktops[]: every entry checked and normalized into @a list. */
static void
parse_desktops(const json_t *desktops, struct kg_errors *e, json_t *list)
{
  size_t i;
  const json_t *item;

  if (!json_is_array(desktops)) {
    kg_errors_add(e, true, "desktops",
                  "must be an array of {hostname, power_state?, platform_id?}");
    return;
  }
  if (json_array_size(desktops) > KG_SYNC_MAX_DESKTOPS) {
    kg_errors_add(e, false, "desktops", "at most %d machines", KG_SYNC_MAX_DESKTOPS);
    return;
  }
  json_array_foreach(desktops, i, item)
  {
    if (too_many_errors(e))
      break;
    json_t *out = json_pack("{s:i}", "n", (json_int_t) i);
    if (!json_is_object(item))
      entry_error(e, true, i, "", "must be an object {hostname, power_state?, platform_id?}");
    else if (NULL != out)
      parse_entry(item, i, e, out);
    if (NULL == out || 0 != json_array_append_new(list, out))
      kg_errors_add(e, false, "desktops", "too many machines for this service now");
  }
  if (0 == json_array_size(e->list))
    check_listed_once(list, e);
}

static bool
parse_body(struct kg_ctx *ctx, struct sync_tx *t)
{
  static const char *const allowed[] = { "desktops", "dry_run", "force", NULL };
  struct kg_errors e;
  json_t *list = json_array();
  const json_t *desktops = json_object_get(ctx->body, "desktops");

  kg_errors_init(&e);
  kg_input_only(ctx->body, allowed, "", &e);
  kg_input_bool(ctx->body, "dry_run", false, &e, &t->dry_run);
  kg_input_bool(ctx->body, "force", false, &e, &t->force);
  if (NULL == desktops)
    kg_errors_add(&e, false, "desktops", "is required: the pool's complete machine list");
  else if (NULL != list)
    parse_desktops(desktops, &e, list);
  if (NULL == list)
    kg_errors_add(&e, false, "desktops", "too many machines for this service now");
  if (!kg_errors_reply(ctx, &e)) {
    size_t i;
    const json_t *item;
    t->n_listed = json_array_size(list);
    json_array_foreach(list, i, item) t->has_platform_ids |= NULL != json_object_get(item, "i");
    t->list = json_dumps(list, JSON_COMPACT);
    if (NULL == t->list)
      kg_reply_problem(ctx, 500, "out of memory");
  }
  json_decref(list);
  return NULL != t->list;
}

/** Empties the answer's lists (a retried transaction starts again). */
static bool
reset(struct sync_tx *t)
{
  json_t **lists[] = { &t->added, &t->decommissioned, &t->power_changed, &t->conflicts };

  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    json_decref(*lists[i]);
    if (NULL == (*lists[i] = json_array()))
      return false;
  }
  t->n_new = t->active_drops = t->pool_active = t->unchanged = 0;
  t->n_conflicts = 0;
  t->writes_listed = false;
  return true;
}

static bool
append(json_t *list, const char *hostname)
{
  return 0 == json_array_append_new(list, json_string(hostname));
}

/** Notes a listed machine of another pool (the first KG_SYNC_MAX_ERRORS, by name). */
static bool
add_conflict(struct sync_tx *t, const struct kg_sync_row *r)
{
  char field[48];

  if (t->n_conflicts++ >= KG_SYNC_MAX_ERRORS)
    return true;
  snprintf(field, sizeof(field), "desktops[%d].hostname", r->index);
  /* clang-format off */
  return 0 == json_array_append_new(t->conflicts, json_pack("{s:s,s:s+++}", "field", field,
                                    "message", r->hostname, " is registered in pool '",
                                    NULL != r->other_pool ? r->other_pool : "?", "'"));
  /* clang-format on */
}

static bool
take_row(void *cls, const struct kg_sync_row *r)
{
  struct sync_tx *t = cls;

  t->pool_active = r->pool_active;
  switch (r->action) {
    case KG_SYNC_ADD:
      t->n_new++;
      return append(t->added, r->hostname);
    case KG_SYNC_REVIVE:
      t->writes_listed = true;
      return append(t->added, r->hostname);
    case KG_SYNC_KEEP:
      t->unchanged++;
      t->writes_listed |= r->power_changes;
      return !r->power_changes || append(t->power_changed, r->hostname);
    case KG_SYNC_CONFLICT:
      return add_conflict(t, r);
    case KG_SYNC_DROP:
      t->active_drops += r->was_active;
      return append(t->decommissioned, r->hostname);
  }
  return false;
}

/** 409: machines of other pools cannot be synced into this one. */
static enum kg_qs
refuse_conflicts(struct sync_tx *t)
{
  /* clang-format off */
  kg_reply_problem_with(t->ctx, 409, json_pack("{s:O}", "errors", t->conflicts),
                        "%zu listed machine%s registered in another pool (%s): a machine is in one"
                        " pool; move it with PUT /v1/desktops/{hostname} or leave it out",
                        t->n_conflicts, 1 == t->n_conflicts ? " is" : "s are",
                        json_string_value(json_object_get(json_array_get(t->conflicts, 0),
                                                          "message")));
  /* clang-format on */
  return KG_QS_REPLIED;
}

/** 409: the list would decommission more than half of the pool's active desktops. */
static enum kg_qs
refuse_drop(struct sync_tx *t)
{
  /* clang-format off */
  kg_reply_problem(t->ctx, 409,
                   "this list would decommission %lld of pool '%s''s %lld active desktops, more"
                   " than half: an empty or cut-off list from a failing script must not wipe a"
                   " pool; send \"force\": true if the platform really removed them",
                   t->active_drops, t->pool, t->pool_active);
  /* clang-format on */
  return KG_QS_REPLIED;
}

static enum kg_qs
apply(struct kg_db *db, struct sync_tx *t, const struct kg_pool_ref *pool)
{
  enum kg_qs qs = KG_QS_OK;
  long long inserted = 0;

  if (t->n_new > 0)
    qs = kg_db_sync_insert(db, pool->id, pool->kms_host_id, t->list, &inserted);
  /* another request registered one of them meanwhile: look again */
  if (KG_QS_OK == qs && inserted != t->n_new)
    return KG_QS_SOFT_ERROR;
  if (KG_QS_OK == qs && t->writes_listed)
    qs = kg_db_sync_update(db, pool->id, t->list);
  if (KG_QS_OK == qs && json_array_size(t->decommissioned) > 0)
    qs = kg_db_sync_decommission(db, pool->id, t->list);
  return qs;
}

static enum kg_qs
tx_sync(struct kg_db *db, void *cls)
{
  struct sync_tx *t = cls;
  struct kg_pool_ref pool;
  bool found;
  enum kg_qs qs;

  if (!reset(t))
    return KG_QS_INTERNAL_ERROR;
  qs = kg_db_pool_ref(db, t->pool, true, &pool, &found);
  if (KG_QS_OK != qs)
    return qs;
  if (!found) {
    kg_reply_problem(t->ctx, 404, "no pool named '%s'", t->pool);
    return KG_QS_REPLIED;
  }
  qs = kg_db_sync_diff(db, pool.id, t->list, take_row, t);
  if (KG_QS_OK != qs)
    return qs;
  if (t->n_conflicts > 0)
    return refuse_conflicts(t);
  if (!t->force && 2 * t->active_drops > t->pool_active)
    return refuse_drop(t);
  /* a platform id given is stored where it differs (not reported in the answer) */
  t->writes_listed |= t->has_platform_ids;
  return t->dry_run ? KG_QS_OK : apply(db, t, &pool);
}

void
kg_handle_pool_sync(struct kg_ctx *ctx)
{
  struct sync_tx t = { .ctx = ctx };
  json_t *doc = NULL;

  if (!kg_path_name(ctx, "name", KG_NAME_MAX, &t.pool, "pool") || !parse_body(ctx, &t))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "pool_sync", KG_READ_COMMITTED, tx_sync, &t);
  if (KG_QS_OK == qs)
    /* clang-format off */
    doc = json_pack("{s:s,s:O,s:O,s:I,s:O,s:b}", "pool", t.pool, "added", t.added,
                    "decommissioned", t.decommissioned, "unchanged", (json_int_t) t.unchanged,
                    "power_changed", t.power_changed, "dry_run", t.dry_run);
  /* clang-format on */
  kg_reply_tx_document(ctx, qs, 200, doc);
  json_decref(t.added);
  json_decref(t.decommissioned);
  json_decref(t.power_changed);
  json_decref(t.conflicts);
  free(t.list);
}
