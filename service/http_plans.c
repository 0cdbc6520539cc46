/**
 * @file http_plans.c
 * @brief Reserved plans: list, show, commit (the change was carried out) and
 *        release (abandoned). Expiry is derived from expires_at at read time,
 *        so no background job has to run for an expired plan to stop counting.
 */
#include <string.h>
#include <time.h>

#include "db_plans.h"
#include "input.h"
#include "paging.h"
#include "plan_json.h"
#include "responses.h"

static const char *const plan_states[] = { "reserved", "expired", "committed", "released", NULL };

/** Offers one plan to the page. */
static bool
list_plan(void *cls, const struct kg_plan_record *p)
{
  return kg_list_add(cls, kg_plan_json(p), p->sort_key);
}

/** Keeps the plan as the answer (replacing one of an earlier attempt). */
static bool
keep_plan(void *cls, const struct kg_plan_record *p)
{
  json_t **doc = cls;
  json_decref(*doc);
  *doc = kg_plan_json(p);
  return NULL != *doc;
}

/**
 * Reads one plan as its document.
 * @param db connection
 * @param id plan uuid (validated)
 * @param now for the derived "expired" state
 * @param[out] doc the plan, or NULL when it does not exist
 * @return KG_QS_OK or the failure
 */
static enum kg_qs
get_plan(struct kg_db *db, const char *id, int64_t now, json_t **doc)
{
  bool found;

  *doc = NULL;
  return kg_db_plan_get(db, id, now, keep_plan, doc, &found);
}

static enum kg_qs
list_plans(struct kg_db *db, const void *filter, const char *after_us, const char *after_id,
           long long limit, struct kg_list *list)
{
  return kg_db_plans_list(db, filter, after_us, after_id, limit, list_plan, list);
}

static void
handle_list(struct kg_ctx *ctx)
{
  struct kg_errors e;
  struct kg_page page;
  struct kg_plan_filter f = { .state = kg_param(ctx, "state"), .now = (int64_t) time(NULL) };
  char host[KG_HOSTNAME_BUFSZ];

  kg_errors_init(&e);
  kg_page_parse(ctx, &e, &page);
  f.kms_host = kg_query_hostname(ctx, "kms_host", "must be a DNS hostname", &e, host);
  if (NULL != f.state) {
    bool known = false;
    for (const char *const *s = plan_states; NULL != *s; s++)
      known |= (0 == strcmp(*s, f.state));
    if (!known)
      kg_errors_add(&e, false, "state", "must be reserved, expired, committed or released");
  }
  if (!kg_errors_reply(ctx, &e))
    kg_list_serve_by_time(ctx, "plan_list", &page, list_plans, &f);
}

static void
handle_get(struct kg_ctx *ctx)
{
  char id[37];
  json_t *doc = NULL;

  if (!kg_path_uuid(ctx, "id", id, "plan"))
    return;
  if (!kg_db_connected(ctx->db) || KG_QS_OK != get_plan(ctx->db, id, (int64_t) time(NULL), &doc)) {
    kg_reply_db_unavailable(ctx);
    return;
  }
  if (NULL == doc)
    kg_reply_problem(ctx, 404, "no such plan: %s", id);
  else
    kg_reply_json(ctx, 200, doc);
}

/** A commit or release: which, on which plan, and the plan afterwards. */
struct transition_tx {
  struct kg_ctx *ctx;
  const char *id;
  bool commit;
  int64_t now;
  json_t *plan;
};

static enum kg_qs
refuse(struct transition_tx *tx, const char *state)
{
  kg_reply_problem_with(tx->ctx, 409, json_pack("{s:s,s:s}", "plan_id", tx->id, "state", state),
                        "plan %s is %s and cannot be %s", tx->id, state,
                        tx->commit ? "committed" : "released");
  return KG_QS_REPLIED;
}

static enum kg_qs
transition_transaction(struct kg_db *db, void *cls)
{
  struct transition_tx *tx = cls;
  struct kg_plan_lock lock;

  json_decref(tx->plan);
  tx->plan = NULL;
  enum kg_qs qs = kg_db_plan_lock(db, tx->id, tx->now, &lock);
  if (KG_QS_OK != qs)
    return qs;
  if (!lock.found) {
    kg_reply_problem(tx->ctx, 404, "no such plan: %s", tx->id);
    return KG_QS_REPLIED;
  }
  const char *done = tx->commit ? "committed" : "released";
  const char *other = tx->commit ? "released" : "committed";
  if (0 == strcmp(lock.state, other) || (tx->commit && 0 == strcmp(lock.state, "expired")))
    return refuse(tx, lock.state);
  if (0 != strcmp(lock.state, done)) { /* doing it twice is harmless: only the first acts */
    qs =
      tx->commit ? kg_db_plan_commit(db, tx->id, tx->now) : kg_db_plan_release(db, tx->id, tx->now);
    if (KG_QS_OK != qs)
      return qs;
  }
  qs = get_plan(db, tx->id, tx->now, &tx->plan);
  return (KG_QS_OK == qs && NULL == tx->plan) ? KG_QS_INTERNAL_ERROR : qs;
}

static void
serve_transition(struct kg_ctx *ctx, bool commit)
{
  char id[37];
  struct transition_tx tx = { .ctx = ctx, .id = id, .commit = commit, .now = (int64_t) time(NULL) };

  if (!kg_path_uuid(ctx, "id", id, "plan"))
    return;
  enum kg_qs qs = kg_db_run_transaction(ctx->db, commit ? "plan_commit" : "plan_release",
                                        KG_READ_COMMITTED, transition_transaction, &tx);
  kg_reply_tx_document(ctx, qs, 200, tx.plan);
}

static void
handle_commit(struct kg_ctx *ctx)
{
  serve_transition(ctx, true);
}

static void
handle_release(struct kg_ctx *ctx)
{
  serve_transition(ctx, false);
}

/* clang-format off */
const struct kg_route kg_routes_plans[] = {
  { "GET", "/v1/plans", KG_ROLE_READER, KG_BODY_NONE, 0,
    handle_list, "kms_host state limit cursor" },
  { "GET", "/v1/plans/:id", KG_ROLE_READER, KG_BODY_NONE, 0, handle_get, NULL },
  /* No body is needed; whatever is sent is ignored (up to the usual limit). */
  { "POST", "/v1/plans/:id/commit", KG_ROLE_HOOK, KG_BODY_RAW, KG_MAX_BODY, handle_commit, NULL },
  { "POST", "/v1/plans/:id/release", KG_ROLE_HOOK, KG_BODY_RAW, KG_MAX_BODY, handle_release, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
