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

#include "aged_cache.h"
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

/** The CMIDs in the count (a request in the last 30 days) by required count. */
static void
count_in(const struct kg_estate *es, int64_t now, struct kg_in_count *in)
{
  memset(in, 0, sizeof(*in));
  for (size_t c = 0; c < es->model.n_cmids; c++) {
    int64_t last = es->cmids[c].last_request;
    if (last > now || last <= now - FC_EXPIRY_SECONDS)
      continue;
    if (25 == es->cmid_required[c])
      in->clients++;
    else if (5 == es->cmid_required[c])
      in->servers++;
    else
      in->unknown++;
  }
}

static int
compare_pools_on(const void *a, const void *b)
{
  return strcmp(((const struct kg_pool_on *) a)->pool, ((const struct kg_pool_on *) b)->pool);
}

/**
 * The pools whose active desktops' CMIDs renew on the host (requested here
 * in the last 30 days, and not as new or newer on another host of the
 * family: the model's reading), with how many desktops, by name.
 * @return 0, or -1 without memory
 */
static int
pools_on(const struct kg_estate *es, int64_t now, struct kg_host_live *live)
{
  size_t n = es->model.n_pools;
  long long *count = calloc(n + 1, sizeof(*count));
  live->pools = calloc(n + 1, sizeof(*live->pools));
  if (NULL == count || NULL == live->pools) {
    free(count);
    return -1;
  }
  for (size_t i = 0; i < es->model.n_desktops; i++) {
    const struct fc_desktop *d = &es->desktops[i];
    if (FC_ACTIVE == d->state && d->cmid >= 0 && !es->cmids[d->cmid].renews_elsewhere
        && es->cmids[d->cmid].last_request > now - FC_EXPIRY_SECONDS)
      count[d->pool]++;
  }
  for (size_t p = 0; p < n; p++)
    if (count[p] > 0)
      live->pools[live->n_pools++] = (struct kg_pool_on){ strdup(es->pool_names[p]), count[p] };
  free(count);
  for (size_t p = 0; p < live->n_pools; p++)
    if (NULL == live->pools[p].pool)
      return -1;
  qsort(live->pools, live->n_pools, sizeof(*live->pools), compare_pools_on);
  return 0;
}

/**
 * The figures that come from the estate: the baseline over the default
 * horizon (reserved plans included), the CMIDs in the count and the pools
 * that lean on the host. Computed from the cached estate rather than by
 * queries over every CMID of the host (which cost 60 ms at 1,000 CMIDs under
 * load and 500 ms at 100,000).
 */
static enum kg_qs
gather_model(struct kg_db *db, const struct kg_host_row *host, int64_t now,
             struct kg_host_live *live)
{
  struct kg_estate_use use;
  enum kg_qs qs =
    kg_estate_acquire(db, host, KG_ESTATE_AT_LEAST, now, KG_DEFAULT_HORIZON_DAYS * 86400LL, &use);

  if (KG_QS_OK == qs
      && (0 != kg_estate_evaluate(&use, use.view.model.margin, NULL, -1, &live->r)
          || 0 != pools_on(&use.view, now, live)))
    qs = KG_QS_INTERNAL_ERROR;
  if (KG_QS_OK == qs) {
    live->n_reserved = use.view.model.n_reserved;
    count_in(&use.view, now, &live->in_count);
  }
  kg_estate_release(&use);
  return qs;
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
    qs = kg_server_document(db, host->server, &live->server);
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
    return qs; /* not found: deleted meanwhile, the document stays as it was read */
  qs = live_fields(db, &host, &fields);
  if (KG_QS_OK == qs && 0 != json_object_update_new(doc, fields))
    qs = KG_QS_INTERNAL_ERROR;
  return qs;
}

/* Host lists show figures of at most this age, per host and estate_version. */
static struct kg_aged_cache host_figures = KG_AGED_CACHE_INIT(KG_FIGURES_MAX_AGE);

/** What fill_figures() works on. */
struct figures_fill {
  struct kg_db *db;
  const struct kg_host_row *host;
  enum kg_qs qs; /**< the gathering's result */
};

/** A host's live fields as JSON text (a kg_aged_fill_fn). */
static char *
fill_figures(void *cls, bool *ok)
{
  struct figures_fill *f = cls;
  json_t *fields;
  char *text = NULL;

  f->qs = live_fields(f->db, f->host, &fields);
  if (KG_QS_OK == f->qs && NULL == (text = json_dumps(fields, JSON_COMPACT)))
    f->qs = KG_QS_INTERNAL_ERROR;
  json_decref(fields);
  *ok = KG_QS_OK == f->qs;
  return KG_QS_OK == f->qs ? text : strdup("");
}

enum kg_qs
kg_host_live_add_cached(struct kg_db *db, const struct kg_host_row *host, json_t *doc)
{
  struct figures_fill f = { .db = db, .host = host, .qs = KG_QS_OK };
  char key[24];
  bool ok;

  snprintf(key, sizeof(key), "%lld", host->id);
  char *text =
    kg_aged_get(&host_figures, key, host->estate_version, time(NULL), fill_figures, &f, &ok);
  json_t *fields = (NULL != text && ok && KG_QS_OK == f.qs) ? json_loads(text, 0, NULL) : NULL;
  free(text);
  if (KG_QS_OK != f.qs)
    return f.qs;
  if (NULL == fields || 0 != json_object_update_new(doc, fields))
    return KG_QS_INTERNAL_ERROR;
  return KG_QS_OK;
}
