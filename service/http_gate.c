/**
 * @file http_gate.c
 * @brief POST /v1/gate: evaluates a plan against the host's forecast and
 *        answers go / no-go; with reserve=true a go is kept as a reserved
 *        plan. Evaluation and reservation are one transaction that locks the
 *        host row first, so concurrent reservations on a host (from any
 *        number of replicas) are evaluated one after another and each sees
 *        the plans reserved before it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "db_desktops.h"
#include "estate_cache.h"
#include "db_plans.h"
#include "db_pools.h"
#include "forecast.h"
#include "forecast_json.h"
#include "gate_family.h"
#include "gate_hosts.h"
#include "gate_input.h"
#include "gate_retire.h"
#include "input.h"
#include "metrics.h"
#include "responses.h"

/* ---------------- the transaction ---------------- */

/** State of one gate evaluation; reset at the start of every attempt. */
struct gate_tx {
  struct kg_ctx *ctx;
  const struct gate_input *in;
  int64_t now;
  const char *idempotency_key;
  char request_hash[65];
  char kms_host[KG_HOSTNAME_BUFSZ]; /**< the request's, or the one its plan names */
  const struct kg_estate_use *use;  /**< this attempt's estate; tx->use->view is `es` */
  char *response_text;              /**< tx->response as sent and recorded, once evaluated */
  char *request_json;
  /* the answer */
  unsigned int status;
  json_t *response;
  bool evaluated;
  bool go;
  bool tried_cached; /**< an attempt already used the cached host row */
  bool using_cached; /**< this attempt evaluates on the cached host row */
};

/** The plan resolved against the estate. */
struct resolved_plan {
  int32_t *desktops;
  size_t n_desktops;
  struct fc_provision provisions[KG_MAX_PROVISIONS];
  size_t n_provisions;
  int32_t max_pool;
  struct kg_plan_summary summary;
};

static enum kg_estate_fit fit(const struct gate_tx *tx);

static enum kg_qs
reply_invalid(struct kg_ctx *ctx, const char *field, const char *fmt, const char *value)
{
  struct kg_errors e;
  kg_errors_init(&e);
  kg_errors_add(&e, false, field, fmt, value);
  kg_errors_reply(ctx, &e);
  return KG_QS_REPLIED;
}

static enum kg_qs
resolve_named_desktops(struct gate_tx *tx, const struct kg_estate *es, struct resolved_plan *plan)
{
  for (size_t i = 0; i < tx->in->n_desktops; i++) {
    char field[64];
    const char *name = tx->in->desktops[i]; /* normalized by kg_gate_parse_input() */
    snprintf(field, sizeof(field), "decommission.desktops[%zu]", i);
    int32_t d = kg_estate_desktop_index(es, name);
    if (d < 0 || !es->desktop_here[d] || FC_DECOMMISSIONED == es->desktops[d].state)
      return reply_invalid(tx->ctx, field,
                           "desktop %s is unknown, already decommissioned, or not on this KMS host",
                           name);
    for (size_t k = 0; k < plan->n_desktops; k++)
      if (plan->desktops[k] == d)
        return reply_invalid(tx->ctx, field, "desktop %s is listed twice", name);
    plan->desktops[plan->n_desktops++] = d;
  }
  plan->max_pool = -1;
  return KG_QS_OK;
}

static enum kg_qs
resolve_pool_decommission(struct gate_tx *tx, const struct kg_estate *es,
                          struct resolved_plan *plan)
{
  int32_t pool = kg_estate_pool_index(es, tx->in->decommission_pool);
  if (pool < 0)
    return reply_invalid(tx->ctx, "decommission.pool", "pool %s does not exist on this KMS host",
                         tx->in->decommission_pool);
  plan->n_desktops =
    kg_estate_pick_decommission(tx->use, pool, plan->desktops, (size_t) tx->in->decommission_count);
  if (plan->n_desktops < (size_t) tx->in->decommission_count) {
    char msg[160];
    snprintf(msg, sizeof(msg), "pool %%s has only %zu active desktops not held by a reserved plan",
             plan->n_desktops);
    return reply_invalid(tx->ctx, "decommission.count", msg, tx->in->decommission_pool);
  }
  plan->max_pool = pool;
  plan->summary.decommission_pool = es->pool_names[pool];
  return KG_QS_OK;
}

static enum kg_qs
resolve_provisions(struct gate_tx *tx, const struct kg_estate *es, struct resolved_plan *plan)
{
  struct fc_provision sums[KG_MAX_PROVISIONS];
  size_t n = 0;
  for (size_t i = 0; i < tx->in->n_provisions; i++) {
    char field[64];
    snprintf(field, sizeof(field), "provision[%zu].pool", i);
    int32_t pool = kg_estate_pool_index(es, tx->in->provisions[i].pool);
    if (pool < 0)
      return reply_invalid(tx->ctx, field, "pool %s does not exist on this KMS host",
                           tx->in->provisions[i].pool);
    /* a pool named twice is one provision of the summed count */
    size_t k = 0;
    while (k < n && sums[k].pool != pool)
      k++;
    if (k == n)
      sums[n++] = (struct fc_provision){ pool, 0 };
    sums[k].count += tx->in->provisions[i].count;
    plan->summary.provision_total += (size_t) tx->in->provisions[i].count;
    if (!es->pools[pool].unique_cmids)
      plan->summary.n_shared_image_pools++;
  }
  /* A discovering pool's new desktops activate on its hosts by weight: this
     host evaluates its own share of the sum, rounded down once (gate_hosts.c). */
  for (size_t k = 0; k < n; k++) {
    int share = kg_gate_provision_share(es, sums[k].pool, sums[k].count);
    if (share > 0)
      plan->provisions[plan->n_provisions++] = (struct fc_provision){ sums[k].pool, share };
  }
  /* A plan that only provisions into one pool asks about that pool's headroom. */
  if (NULL == tx->in->desktops && NULL == tx->in->decommission_pool && plan->n_provisions > 0) {
    plan->max_pool = plan->provisions[0].pool;
    for (size_t i = 1; i < plan->n_provisions; i++)
      if (plan->provisions[i].pool != plan->provisions[0].pool)
        plan->max_pool = -1;
  }
  return KG_QS_OK;
}

static enum kg_qs
resolve_plan(struct gate_tx *tx, const struct kg_estate *es, struct resolved_plan *plan)
{
  size_t cap = NULL != tx->in->desktops ? tx->in->n_desktops : (size_t) tx->in->decommission_count;
  enum kg_qs qs = KG_QS_OK;

  plan->desktops = calloc(cap + 1, sizeof(int32_t));
  if (NULL == plan->desktops)
    return KG_QS_INTERNAL_ERROR;
  plan->max_pool = -1;
  if (NULL != tx->in->desktops)
    qs = resolve_named_desktops(tx, es, plan);
  else if (NULL != tx->in->decommission_pool)
    qs = resolve_pool_decommission(tx, es, plan);
  if (KG_QS_OK == qs)
    qs = resolve_provisions(tx, es, plan);
  plan->summary.decommission_count = plan->n_desktops;
  plan->summary.max_pool = plan->max_pool >= 0 ? es->pool_names[plan->max_pool] : NULL;
  return qs;
}

/** 409 when a desktop of the plan is already held by another unexpired reserved plan. */
static enum kg_qs
check_not_held(struct gate_tx *tx, const struct kg_estate *es, const struct resolved_plan *plan)
{
  for (size_t i = 0; i < plan->n_desktops; i++) {
    int32_t holder = kg_estate_holding_plan(es, plan->desktops[i]);
    if (holder >= 0) {
      const char *plan_id = es->reserved_ids[holder].id;
      /* clang-format off */
      kg_reply_problem_with(tx->ctx, 409, json_pack("{s:s,s:s}", "plan_id", plan_id, "desktop",
                                                    es->desktop_hostnames[plan->desktops[i]]),
                            /* clang-format on */
                            "desktop %s is already in reserved plan %s",
                            es->desktop_hostnames[plan->desktops[i]], plan_id);
      return KG_QS_REPLIED;
    }
  }
  return KG_QS_OK;
}

static json_t *
decommission_list(const struct kg_estate *es, const struct resolved_plan *plan)
{
  json_t *list = json_array();
  for (size_t i = 0; NULL != list && i < plan->n_desktops; i++)
    json_array_append_new(list, json_string(es->desktop_hostnames[plan->desktops[i]]));
  return list;
}

static json_t *
gate_response(const struct kg_estate *es, const struct fc_result *r,
              const struct resolved_plan *plan)
{
  json_t *doc = kg_forecast_common_json(es, r);
  if (NULL == doc)
    return NULL;
  /* clang-format off */
  json_object_update_new(doc, json_pack(
    "{s:s,s:i,s:o,s:i,s:o,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o}",
    "decision", r->go ? "go" : "no-go",
    "baseline_min", (int) r->baseline_min, "baseline_min_at", kg_json_time(r->baseline_min_at),
    "projected_min", (int) r->projected_min, "projected_min_at", kg_json_time(r->projected_min_at),
    "first_breach_at", r->has_breach ? kg_json_time(r->first_breach_at) : json_null(),
    "max_decommission", (int) r->max_decommission,
    "window_start", kg_json_time(r->window_start), "window_end", kg_json_time(r->window_end),
    "decommission", decommission_list(es, plan),
    "steps", kg_forecast_steps_json(r),
    "reasons", kg_forecast_reasons(es, r, &plan->summary),
    "plan_id", json_null()));
  /* clang-format on */
  return doc;
}

/** What a reservation stores: the plan's desktops, provisions and other hosts. */
struct plan_rows {
  const long long *desktop_ids;
  size_t n_desktops;
  const long long *pool_ids;
  const int *counts;
  size_t n_pools;
  const long long *host_ids;
  size_t n_hosts;
};

static enum kg_qs
store_plan(struct gate_tx *tx, const struct kg_estate *es, const struct plan_rows *rows, int64_t at,
           char plan_id[37])
{
  if (0 != kg_uuid_v7(plan_id))
    return KG_QS_INTERNAL_ERROR;
  /* clang-format off */
  struct kg_new_plan row = {
    .id = plan_id, .kms_host_id = es->host.id, .at = at,
    .expires_at = tx->now + 60LL * tx->in->ttl_minutes, .request_json = tx->request_json,
    .caller = tx->ctx->who.name, .n_desktops = rows->n_desktops,
    .desktop_ids = rows->desktop_ids, .n_provisions = rows->n_pools, .pool_ids = rows->pool_ids,
    .counts = rows->counts, .n_other_hosts = rows->n_hosts, .other_host_ids = rows->host_ids,
  };
  /* clang-format on */
  return kg_db_plan_insert(tx->ctx->db, &row);
}

static enum kg_qs
reserve_plan(struct gate_tx *tx, const struct kg_estate *es, const struct resolved_plan *plan,
             int64_t at, char plan_id[37])
{
  long long *desktop_ids = calloc(plan->n_desktops + 1, sizeof(long long));
  long long pool_ids[KG_MAX_PROVISIONS];
  int counts[KG_MAX_PROVISIONS];
  size_t n_pools = 0;

  if (NULL == desktop_ids)
    return KG_QS_INTERNAL_ERROR;
  for (size_t i = 0; i < plan->n_desktops; i++)
    desktop_ids[i] = es->desktop_ids[plan->desktops[i]];
  /* The same pool named twice is one provision of the summed count. */
  for (size_t i = 0; i < plan->n_provisions; i++) {
    long long id = es->pool_ids[plan->provisions[i].pool];
    size_t k = 0;
    while (k < n_pools && pool_ids[k] != id)
      k++;
    if (k == n_pools) {
      pool_ids[n_pools] = id;
      counts[n_pools++] = 0;
    }
    counts[k] += plan->provisions[i].count;
  }
  /* clang-format off */
  struct plan_rows rows = { desktop_ids, plan->n_desktops, pool_ids, counts, n_pools,
                            NULL, 0 };
  /* clang-format on */
  enum kg_qs qs = store_plan(tx, es, &rows, at, plan_id);
  free(desktop_ids);
  return qs;
}

/** Neither reserving nor keyed: nothing to lock, nothing to replay. */
static bool
is_plain(const struct gate_tx *tx)
{
  return !tx->in->reserve && NULL == tx->idempotency_key;
}

static enum kg_qs
record_decision(struct gate_tx *tx, const struct kg_estate *es, const char *plan_id)
{
  char decision_id[37];
  if (0 != kg_uuid_v7(decision_id))
    return KG_QS_INTERNAL_ERROR;
  json_object_set_new(tx->response, "decision_id", json_string(decision_id));
  /* The text stored is the text answered: encoded once. */
  free(tx->response_text);
  char *response_json = tx->response_text = json_dumps(tx->response, JSON_COMPACT);
  if (NULL == response_json)
    return KG_QS_INTERNAL_ERROR;
  /* clang-format off */
  struct kg_new_decision d = {
    .id = decision_id, .kms_host = es->host.name,
    .decision = tx->go ? "go" : "no-go", .http_status = tx->status,
    .request_json = tx->request_json, .response_json = response_json,
    .caller = tx->ctx->who.name, .token_id = tx->ctx->who.token_id, .plan_id = plan_id,
    .idempotency_key = tx->idempotency_key,
    .request_hash = tx->idempotency_key ? tx->request_hash : NULL,
    /* Only the autocommit path (nothing reserved) may skip the flush: inside the
       reserving transaction the setting would cover the plan too. */
    .durable = tx->in->reserve,
  };
  /* clang-format on */
  if (!tx->using_cached)
    return kg_db_decision_insert(tx->ctx->db, &d);
  bool inserted;
  enum kg_qs qs = kg_db_decision_insert_if_current(tx->ctx->db, &d, es->host.id,
                                                   es->host.estate_version, &inserted);
  if (KG_QS_OK == qs && !inserted)
    return KG_QS_SOFT_ERROR; /* the estate changed meanwhile: evaluate again on the new one */
  return qs;
}

/** A dry run's answer: the evaluation as text, with no decision id; nothing stored. */
static enum kg_qs
answer_dry_run(struct gate_tx *tx)
{
  json_object_set_new(tx->response, "decision_id", json_null());
  free(tx->response_text);
  tx->response_text = json_dumps(tx->response, JSON_COMPACT);
  return NULL == tx->response_text ? KG_QS_INTERNAL_ERROR : KG_QS_OK;
}

/**
 * Concludes an evaluated gate (tx->go, tx->response): reserves a go when
 * asked (the resolved @a plan, or the stored @a rows of a family plan), then
 * records the decision.
 */
static enum kg_qs
conclude(struct gate_tx *tx, const struct kg_estate *es, const struct resolved_plan *plan,
         const struct plan_rows *rows, int64_t at)
{
  char plan_id[37];
  enum kg_qs qs = KG_QS_OK;

  tx->status = (!tx->go && tx->in->enforce) ? 409 : 200;
  bool reserving = tx->go && tx->in->reserve;
  if (reserving) {
    int64_t from = at < tx->now ? tx->now : at;
    qs = NULL != rows ? store_plan(tx, es, rows, from, plan_id)
                      : reserve_plan(tx, es, plan, from, plan_id);
    if (KG_QS_OK != qs)
      return qs;
    json_object_set_new(tx->response, "plan_id", json_string(plan_id));
    json_object_set_new(tx->response, "expires_at",
                        kg_json_time(tx->now + 60LL * tx->in->ttl_minutes));
    tx->status = 201;
  }
  tx->evaluated = true;
  if (tx->in->dry_run)
    return answer_dry_run(tx);
  return record_decision(tx, es, reserving ? plan_id : NULL);
}

/** Evaluates the resolved plan, reserves a go when asked, records the decision. */
static enum kg_qs
evaluate_and_record(struct gate_tx *tx, struct kg_estate *es, struct resolved_plan *plan)
{
  struct fc_result r;
  int64_t at = tx->in->has_at ? tx->in->at : tx->now;
  /* clang-format off */
  struct fc_plan model_plan = { .at = at, .n_decommission = plan->n_desktops,
                                .decommission = plan->desktops,
                                .n_provision = plan->n_provisions, .provision = plan->provisions };
  /* clang-format on */
  memset(&r, 0, sizeof(r));
  int32_t margin = kg_estate_margin(tx->use, tx->in->has_margin, tx->in->margin);
  if (0 != kg_estate_evaluate(tx->use, margin, &model_plan, plan->max_pool, &r)) {
    fc_result_free(&r);
    return KG_QS_INTERNAL_ERROR;
  }
  tx->go = r.go;
  tx->response = gate_response(es, &r, plan);
  /* one host in the family: the plan touches only it (several: family_and_record()) */
  enum kg_qs qs = NULL == tx->response ? KG_QS_INTERNAL_ERROR : KG_QS_OK;
  if (KG_QS_OK == qs
      && 0
           != json_object_set_new(tx->response, "hosts",
                                  json_pack("[o]", kg_gate_host_entry(es, &r))))
    qs = KG_QS_INTERNAL_ERROR;
  fc_result_free(&r);
  if (KG_QS_OK != qs)
    return qs;
  return conclude(tx, es, plan, NULL, at);
}

/**
 * A plan over a family of several hosts (gate_family.c): picks ranked over
 * the family, named desktops of any host their pool lists, only the hosts
 * the plan touches evaluated.
 */
static enum kg_qs
family_and_record(struct gate_tx *tx, struct kg_db *db, const struct kg_estate *es)
{
  struct kg_family *f = malloc(sizeof(*f));
  struct kg_family_answer a;
  int64_t at = tx->in->has_at ? tx->in->at : tx->now;
  /* clang-format off */
  struct kg_family_plan p = {
    .named_host = '\0' != tx->in->kms_host[0],
    .desktops = (const char(*)[KG_HOSTNAME_BUFSZ]) tx->in->desktops,
    .n_desktops = NULL != tx->in->desktops ? tx->in->n_desktops : 0,
    .pool = tx->in->decommission_pool, .count = (size_t) tx->in->decommission_count,
    .provisions = tx->in->provisions, .n_provisions = tx->in->n_provisions,
    .at = at, .has_margin = tx->in->has_margin, .margin = tx->in->margin,
    .reserve = tx->in->reserve,
  };
  /* clang-format on */

  memset(&a, 0, sizeof(a));
  if (NULL == f)
    return KG_QS_INTERNAL_ERROR;
  enum kg_qs qs = kg_family_open(f, db, es->host.name, tx->now, 86400LL * tx->in->horizon_days,
                                 tx->in->reserve, fit(tx));
  if (KG_QS_OK == qs)
    qs = kg_family_gate(f, &p, &a);
  if (KG_QS_OK == qs && 409 == a.status) {
    /* clang-format off */
    kg_reply_problem_with(tx->ctx, 409, json_pack("{s:s,s:s}", "plan_id", a.held_plan,
                                                  "desktop", a.held_desktop),
                          "%s", a.message);
    /* clang-format on */
    qs = KG_QS_REPLIED;
  } else if (KG_QS_OK == qs && 0 != a.status) {
    qs = reply_invalid(tx->ctx, a.field, "%s", a.message);
  } else if (KG_QS_OK == qs) {
    /* clang-format off */
    struct plan_rows rows = { a.desktop_ids, a.n_desktops, a.pool_ids, a.counts, a.n_pools,
                              a.host_ids, a.n_hosts };
    /* clang-format on */
    tx->go = a.go;
    tx->response = a.doc;
    a.doc = NULL;
    qs = conclude(tx, es, NULL, &rows, at);
  }
  kg_family_answer_free(&a);
  kg_family_close(f);
  free(f);
  return qs;
}

/**
 * The plan's own host when the request names none (docs/model.md §6.4,
 * api.md): the host to retire, the pool's own host, or the first desktop's.
 */
static enum kg_qs
infer_host(struct gate_tx *tx, struct kg_db *db)
{
  const char *field = "retire_kms_host.name";
  enum kg_qs qs = KG_QS_OK;
  bool found = true;

  if (tx->in->retire) {
    snprintf(tx->kms_host, sizeof(tx->kms_host), "%s", tx->in->retire_host);
  } else if (NULL != tx->in->decommission_pool || 0 < tx->in->n_provisions) {
    const char *pool =
      NULL != tx->in->decommission_pool ? tx->in->decommission_pool : tx->in->provisions[0].pool;
    field = NULL != tx->in->decommission_pool ? "decommission.pool" : "provision[0].pool";
    qs = kg_db_pool_host_name(db, pool, tx->kms_host, &found);
  } else {
    field = "decommission.desktops[0]";
    qs = kg_db_desktop_host_name(db, tx->in->desktops[0], tx->kms_host, &found);
  }
  if (KG_QS_OK == qs && !found)
    return reply_invalid(tx->ctx, field, "%s", "names no KMS host (give kms_host)");
  return qs;
}

/**
 * Which estates may answer the gate: a reserving gate holds the host rows'
 * locks and stores a plan on what it evaluated, so it needs exactly the
 * version of the rows it locked; any other gate may take a later one.
 */
static enum kg_estate_fit
fit(const struct gate_tx *tx)
{
  return tx->in->reserve ? KG_ESTATE_EXACT : KG_ESTATE_AT_LEAST;
}

/** Evaluates retiring the host the plan names, then records the decision. */
static enum kg_qs
retire_and_record(struct gate_tx *tx, struct kg_db *db, struct kg_estate *own)
{
  struct kg_host_row retired;
  struct kg_estate_use use;
  bool found;
  enum kg_qs qs = kg_db_host_row(db, tx->in->retire_host, false, &retired, &found);

  if (KG_QS_OK != qs)
    return qs;
  if (!found || 0 != strcmp(retired.family, own->host.family))
    return reply_invalid(tx->ctx, "retire_kms_host.name",
                         "no KMS host %s of the family of the request's host", tx->in->retire_host);
  qs = kg_estate_acquire(db, &retired, fit(tx), tx->now, 86400LL * tx->in->horizon_days, &use);
  if (KG_QS_OK == qs) {
    /* clang-format off */
    struct kg_retire_plan p = {
      .own = own->host.name, .now = tx->now, .horizon_seconds = 86400LL * tx->in->horizon_days,
      .at = tx->in->has_retire_at ? tx->in->retire_at : tx->in->has_at ? tx->in->at : tx->now,
      .has_margin = tx->in->has_margin, .margin = tx->in->margin, .fit = fit(tx),
    };
    /* clang-format on */
    qs = kg_gate_retire(db, &p, &use, &tx->response, &tx->go);
  }
  kg_estate_release(&use);
  if (KG_QS_OK != qs)
    return qs;
  tx->status = (!tx->go && tx->in->enforce) ? 409 : 200;
  tx->evaluated = true;
  if (tx->in->dry_run)
    return answer_dry_run(tx);
  return record_decision(tx, own, NULL);
}

/** A retry with the same Idempotency-Key replays the first answer. */
static enum kg_qs
replay_if_known(struct gate_tx *tx, bool *replayed)
{
  bool found;
  unsigned int status = 0;
  json_t *response = NULL;
  char hash[65];

  *replayed = false;
  if (NULL == tx->idempotency_key || '\0' == tx->ctx->who.token_id[0])
    return KG_QS_OK;
  enum kg_qs qs = kg_db_decision_find(tx->ctx->db, tx->ctx->who.token_id, tx->idempotency_key,
                                      &found, &status, &response, hash);
  if (KG_QS_OK != qs || !found)
    return qs;
  if (0 != strcmp(hash, tx->request_hash)) {
    json_decref(response);
    /* clang-format off */
    kg_reply_problem_with(tx->ctx, 422, json_pack("{s:[{s:s,s:s}]}", "errors", "field",
                                                  "Idempotency-Key", "message",
                                                  "was used before with another body"),
                          /* clang-format on */
                          "this Idempotency-Key was used with a different request body");
    return KG_QS_REPLIED;
  }
  tx->response = response;
  tx->status = status;
  tx->evaluated = false;
  *replayed = true;
  return KG_QS_OK;
}

static enum kg_qs
gate_transaction(struct kg_db *db, void *cls)
{
  struct gate_tx *tx = cls;
  struct kg_host_row host;
  struct kg_estate_use use;
  struct resolved_plan plan;
  bool found, replayed;
  enum kg_qs qs = KG_QS_OK;

  json_decref(tx->response);
  tx->response = NULL;
  tx->evaluated = false;
  if ('\0' == tx->in->kms_host[0] && KG_QS_OK != (qs = infer_host(tx, db)))
    return qs;
  /* A plain evaluation's first attempt trusts the host row cached with this
     process's estate, saving the read: its decision is stored only if that
     row is still current, else the next attempt reads it (record_decision).
     Only the first: while the estate keeps changing (uploads, desktop
     writes) an evaluation on a freshly read row is as good as any. */
  found = false;
  tx->using_cached = false;
  /* A dry run stores nothing, so nothing would check that row: it reads it. */
  if (is_plain(tx) && !tx->in->dry_run && !tx->tried_cached) {
    tx->tried_cached = true;
    found = tx->using_cached = kg_estate_cached_host(tx->kms_host, tx->now, &host);
  }
  /* Lock first: the idempotency lookup and the evaluation must both see
     everything committed by evaluations that ran before this one. */
  if (!found && tx->in->reserve)
    qs = kg_db_host_family_lock(db, tx->kms_host);
  if (!found && KG_QS_OK == qs)
    qs = kg_db_host_row(db, tx->kms_host, tx->in->reserve, &host, &found);
  if (KG_QS_OK != qs)
    return qs;
  if (!found)
    return reply_invalid(tx->ctx, "kms_host", "KMS host %s does not exist", tx->kms_host);
  qs = replay_if_known(tx, &replayed);
  if (KG_QS_OK != qs || replayed)
    return qs;
  memset(&plan, 0, sizeof(plan));
  qs = kg_estate_acquire(db, &host, fit(tx), tx->now, 86400LL * tx->in->horizon_days, &use);
  tx->use = &use;
  if (KG_QS_OK == qs && tx->in->retire) {
    qs = retire_and_record(tx, db, &use.view);
    kg_estate_release(&use);
    return qs;
  }
  if (KG_QS_OK == qs && use.view.family_hosts > 1) {
    qs = family_and_record(tx, db, &use.view);
    kg_estate_release(&use);
    return qs;
  }
  if (KG_QS_OK == qs)
    qs = resolve_plan(tx, &use.view, &plan);
  if (KG_QS_OK == qs && tx->in->reserve)
    qs = check_not_held(tx, &use.view, &plan);
  if (KG_QS_OK == qs)
    qs = evaluate_and_record(tx, &use.view, &plan);
  free(plan.desktops);
  kg_estate_release(&use);
  return qs;
}

/**
 * A reader may ask a dry run (the dashboard's what-if): it records and
 * reserves nothing. Anything else needs a hook token (403).
 */
static bool
role_may_ask(struct kg_ctx *ctx)
{
  if (ctx->who.role >= KG_ROLE_HOOK || json_true() == json_object_get(ctx->body, "dry_run"))
    return true;
  /* clang-format off */
  kg_reply_problem(ctx, 403,
                   "the token '%s' has role reader, which may ask only a dry run"
                   " (\"dry_run\": true); evaluating a plan for real needs hook",
                   /* clang-format on */
                   ctx->who.name);
  return false;
}

static void
handle_gate(struct kg_ctx *ctx)
{
  struct gate_input *in = malloc(sizeof(*in)); /* ~1.7 KiB: kept off the worker stack */
  struct gate_tx tx = { .ctx = ctx, .now = (int64_t) time(NULL) };

  if (!role_may_ask(ctx)) {
    free(in);
    return;
  }
  if (NULL == in) {
    kg_reply_problem(ctx, 500, "out of memory");
    return;
  }
  tx.in = in;
  tx.idempotency_key = kg_header(ctx, "Idempotency-Key");
  if (NULL != tx.idempotency_key
      && (0 == strlen(tx.idempotency_key) || strlen(tx.idempotency_key) > 255)) {
    struct kg_errors e;
    kg_errors_init(&e);
    kg_errors_add(&e, false, "Idempotency-Key", "must be 1 to 255 characters");
    kg_errors_reply(ctx, &e);
    free(in);
    return;
  }
  if (kg_gate_parse_input(ctx, in, tx.now)) {
    snprintf(tx.kms_host, sizeof(tx.kms_host), "%s", in->kms_host);
    tx.request_json = json_dumps(ctx->body, JSON_COMPACT | JSON_SORT_KEYS);
    /* The body's hash identifies a retry; only keyed requests need it. */
    if (NULL == tx.request_json
        || (NULL != tx.idempotency_key
            && 0 != kg_sha256_hex(tx.request_json, strlen(tx.request_json), tx.request_hash))) {
      kg_reply_problem(ctx, 500, "out of memory");
    } else {
      /* Reserving needs the host lock and one READ COMMITTED transaction, which
         after the lock sees every plan reserved before. A plain evaluation reads
         the host row, takes the estate (cached, or loaded in one snapshot) and
         writes one decision row: no multi-statement transaction needed. */
      enum kg_qs qs = in->reserve ? kg_db_run_transaction(ctx->db, "gate", KG_READ_COMMITTED,
                                                          gate_transaction, &tx)
                                  : kg_db_run_autocommit(ctx->db, "gate", gate_transaction, &tx);
      if (KG_QS_OK == qs && tx.evaluated && !in->dry_run)
        kg_metrics_gate(tx.go);
      if (KG_QS_OK == qs && tx.evaluated) {
        kg_reply_json_text(ctx, tx.status, tx.response_text);
      } else {
        /* A replayed answer, or the failure: fails closed (503), never go. */
        kg_reply_tx_document(ctx, qs, tx.status, tx.response);
        tx.response = NULL; /* taken by the reply */
      }
    }
  }
  json_decref(tx.response);
  free(tx.response_text);
  free(tx.request_json);
  kg_gate_input_clear(in);
  free(in);
}

/* clang-format off */
const struct kg_route kg_routes_gate[] = {
  { "POST", "/v1/gate", KG_ROLE_READER, KG_BODY_JSON, KG_MAX_BODY, handle_gate, "enforce" },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
