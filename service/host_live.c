/**
 * @file host_live.c
 * @brief Gathers the live figures of a host (model, observation, in_count,
 *        pools, its server's unmapped activation IDs) for kg_host_live_json().
 */
#include "host_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estate_cache.h"
#include "forecast_json.h"
#include "server_doc.h"

/** Frees what gather() left in @a live. */
static void
live_clear(struct kg_host_live *live)
{
  fc_result_free(&live->r);
  for (size_t i = 0; i < live->n_pools; i++)
    free(live->pools[i].pool);
  free(live->pools);
  json_decref(live->server);
  memset(live, 0, sizeof(*live));
}

/** The baseline over the default horizon, reserved plans included. */
static enum kg_qs
gather_model(struct kg_db *db, const struct kg_host_row *host, int64_t now,
             struct kg_host_live *live)
{
  struct kg_estate_use use;
  enum kg_qs qs = kg_estate_acquire(db, host, now, KG_DEFAULT_HORIZON_DAYS * 86400LL, &use);

  if (KG_QS_OK == qs && 0 != kg_estate_evaluate(&use, use.view.model.margin, NULL, -1, &live->r))
    qs = KG_QS_INTERNAL_ERROR;
  if (KG_QS_OK == qs)
    live->n_reserved = use.view.model.n_reserved;
  kg_estate_release(&use);
  return qs;
}

static bool
keep_pool_on(void *cls, const char *pool, long long desktops)
{
  struct kg_host_live *live = cls;
  struct kg_pool_on *grown = realloc(live->pools, (live->n_pools + 1) * sizeof(*grown));

  if (NULL == grown)
    return false;
  live->pools = grown;
  if (NULL == (grown[live->n_pools].pool = strdup(pool)))
    return false;
  grown[live->n_pools++].desktops = desktops;
  return true;
}

/**
 * Reads every live figure of @a host at @a now.
 * @param db connection
 * @param host the host row
 * @param now Unix seconds
 * @param[out] live the figures; release with live_clear(), also after a failure
 * @return KG_QS_OK or the failure
 */
static enum kg_qs
gather(struct kg_db *db, const struct kg_host_row *host, int64_t now, struct kg_host_live *live)
{
  memset(live, 0, sizeof(*live));
  enum kg_qs qs = gather_model(db, host, now, live);
  if (KG_QS_OK == qs)
    qs = kg_db_last_observation_row(db, host->id, &live->observed, &live->obs);
  if (KG_QS_OK == qs)
    qs = kg_db_count_by_required(db, host->id, now, &live->in_count);
  if (KG_QS_OK == qs)
    qs = kg_server_document(db, host->server, &live->server);
  if (KG_QS_OK == qs)
    qs = kg_db_host_pools_on(db, host->id, keep_pool_on, live);
  return qs;
}

/** Gathers and renders the live fields of @a host into @a *fields (new reference). */
static enum kg_qs
live_fields(struct kg_db *db, const struct kg_host_row *host, json_t **fields)
{
  struct kg_host_live live;
  enum kg_qs qs = gather(db, host, (int64_t) time(NULL), &live);

  *fields = NULL;
  if (KG_QS_OK == qs && NULL == (*fields = kg_host_live_json(&live)))
    qs = KG_QS_INTERNAL_ERROR;
  live_clear(&live);
  return qs;
}

enum kg_qs
kg_host_live_add(struct kg_db *db, const char *name, json_t *doc)
{
  struct kg_host_row host;
  bool found;
  json_t *fields;
  enum kg_qs qs = kg_db_host_row(db, name, false, &host, &found);

  if (KG_QS_OK != qs || !found)
    return qs;  /* not found: deleted meanwhile, the document stays as it was read */
  qs = live_fields(db, &host, &fields);
  if (KG_QS_OK == qs && 0 != json_object_update_new(doc, fields))
    qs = KG_QS_INTERNAL_ERROR;
  return qs;
}
