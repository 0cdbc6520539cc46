/**
 * @file estate_cache.c
 * @brief This process's cache of loaded estates, one per KMS host.
 *
 * Loading a host's estate is most of a gate's cost (five queries, up to
 * 100,000 rows). An estate is reused only while the host's estate_version in
 * PostgreSQL is the one it was loaded at; triggers bump that version in the
 * same transaction as every write the forecast reads (migration 0002), so a
 * replica never answers from data another replica has changed. When the
 * version moved, the newest estate held is refreshed by the CMIDs and
 * desktops written since (migration 0013 logs them; db_estate_delta.c), and
 * read in full only when the log cannot say what changed. Entries are also
 * read in full after a minute, which bounds how long CMIDs that aged out of
 * the relevant window stay in memory. Time-dependent parts (now, which
 * reserved plans are unexpired) are applied per request in the view.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "estate_cache.h"
#include "db_hosts.h"
#include "metrics.h"

#define CACHE_SLOTS 64
#define MAX_AGE_SECONDS 60

/**
 * The model prepared for one second: statuses and the baseline depend on
 * now, the reserved plans unexpired then, capacity, threshold and the host's
 * renewal interval; requests in that second differ only in their plan.
 */
struct prepared {
  struct fc_prepared *model;
  atomic_int refs;
  int64_t now;
  int32_t capacity, threshold;
  int64_t host_renewal_seconds;
  struct fc_plan *reserved; /**< unexpired at now (the model borrows them) */
  struct kg_reserved_plan *reserved_ids;
  size_t n_reserved;
};

/** A loaded estate shared by the requests that use it. */
struct shared_estate {
  struct kg_estate es;
  atomic_int refs;           /**< the cache's reference plus one per view */
  pthread_mutex_t lock;      /**< guards `current` */
  pthread_mutex_t preparing; /**< held while one request prepares for the others */
  struct prepared *current;
  long long host_id;
  long long version;
  int renewal_minutes; /**< pools without their own interval use the host's */
  int64_t loaded_at;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static bool refresh_enabled = true; /* set before the workers start */
static struct shared_estate *slots[CACHE_SLOTS];

static void
unref_prepared(struct prepared *pr)
{
  if (NULL != pr && 1 == atomic_fetch_sub(&pr->refs, 1)) {
    fc_prepared_free(pr->model);
    free(pr->reserved);
    free(pr->reserved_ids);
    free(pr);
  }
}

static void
unref(struct shared_estate *se)
{
  if (NULL != se && 1 == atomic_fetch_sub(&se->refs, 1)) {
    unref_prepared(se->current);
    pthread_mutex_destroy(&se->lock);
    pthread_mutex_destroy(&se->preparing);
    kg_estate_free(&se->es);
    free(se);
  }
}

/** Loaded less than MAX_AGE_SECONDS before @a now (and not after it). */
static bool
young(const struct shared_estate *se, int64_t now)
{
  return now - se->loaded_at < MAX_AGE_SECONDS && now >= se->loaded_at;
}

/**
 * Whether @a se may answer for @a host: the same host at the version read,
 * or unless @a exact a later one (versions only grow, so a later estate
 * holds every write the caller's row does; the view then takes the estate's
 * own host row). A caller inside a transaction needs the version exactly:
 * its other reads come from that transaction, and every write to the estate
 * changes the version, so an estate of the same version holds the same rows.
 */
static bool
fresh(const struct shared_estate *se, const struct kg_host_row *host, int64_t now, bool exact)
{
  return se->host_id == host->id && young(se, now)
         && ((!exact && se->version > host->estate_version)
             || (se->version == host->estate_version
                 && se->renewal_minutes == host->renewal_minutes));
}

/** The cached estate that may answer for @a host, referenced; cache_lock held. */
static struct shared_estate *
lookup_locked(const struct kg_host_row *host, int64_t now, bool exact)
{
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (NULL != slots[i] && fresh(slots[i], host, now, exact)) {
      atomic_fetch_add(&slots[i]->refs, 1);
      return slots[i];
    }
  return NULL;
}

static struct shared_estate *
lookup(const struct kg_host_row *host, int64_t now, bool exact)
{
  pthread_mutex_lock(&cache_lock);
  struct shared_estate *hit = lookup_locked(host, now, exact);
  pthread_mutex_unlock(&cache_lock);
  return hit;
}

void
kg_estate_cache_configure(bool refresh)
{
  refresh_enabled = refresh;
}

bool
kg_estate_cached_host(const char *name, int64_t now, struct kg_host_row *host)
{
  bool hit = false;
  pthread_mutex_lock(&cache_lock);
  for (size_t i = 0; i < CACHE_SLOTS && !hit; i++) {
    const struct shared_estate *se = slots[i];
    if (NULL != se && se->version >= 0 && young(se, now) && 0 == strcmp(se->es.host.name, name)) {
      *host = se->es.host;
      host->estate_version = se->version;
      hit = true;
    }
  }
  pthread_mutex_unlock(&cache_lock);
  return hit;
}

/**
 * Puts @a se in the host's slot (or the oldest slot), dropping what was
 * there, unless the host's slot already holds a later version (a load inside
 * a caller's transaction may finish after a newer one).
 */
static void
store(struct shared_estate *se)
{
  size_t victim = 0;
  pthread_mutex_lock(&cache_lock);
  for (size_t i = 0; i < CACHE_SLOTS; i++) {
    if (NULL == slots[i] || slots[i]->host_id == se->host_id) {
      victim = i;
      break;
    }
    if (slots[i]->loaded_at < slots[victim]->loaded_at)
      victim = i;
  }
  struct shared_estate *old = slots[victim];
  if (NULL != old && old->host_id == se->host_id && old->version > se->version) {
    pthread_mutex_unlock(&cache_lock);
    return;
  }
  atomic_fetch_add(&se->refs, 1);
  slots[victim] = se;
  pthread_mutex_unlock(&cache_lock);
  unref(old);
}

/**
 * The newest estate of @a host_id this process holds, referenced, when it
 * is young enough to refresh from; NULL otherwise.
 */
static struct shared_estate *
refresh_base(long long host_id, int64_t now)
{
  struct shared_estate *base = NULL;
  if (!refresh_enabled)
    return NULL;
  pthread_mutex_lock(&cache_lock);
  for (size_t i = 0; i < CACHE_SLOTS && NULL == base; i++)
    if (NULL != slots[i] && slots[i]->host_id == host_id && slots[i]->version >= 0
        && young(slots[i], now)) {
      base = slots[i];
      atomic_fetch_add(&base->refs, 1);
    }
  pthread_mutex_unlock(&cache_lock);
  return base;
}

/**
 * Reads the estate of @a host (whose row the current transaction read) into
 * @a se: refreshed from @a base by the rows written since, when the log says
 * what they are, else loaded in full. A refreshed estate keeps its base's
 * load time, so an estate is still loaded in full at least once a minute.
 */
static enum kg_qs
refresh_or_load(struct kg_db *db, const struct shared_estate *base, const struct kg_host_row *host,
                int64_t now, struct shared_estate *se)
{
  enum kg_qs qs;
  if (NULL != base) {
    bool refreshed = false;
    qs = kg_estate_refresh(db, &base->es, base->version, host, now, &se->es, &refreshed);
    if (KG_QS_OK != qs || refreshed) {
      if (refreshed) {
        se->loaded_at = base->loaded_at;
        kg_metrics_estate(true);
      }
      return qs;
    }
    kg_estate_free(&se->es);
  }
  se->loaded_at = now;
  qs = kg_estate_load(db, host, now, 0, &se->es);
  if (KG_QS_OK == qs)
    kg_metrics_estate(false);
  return qs;
}

/** What a load in its own snapshot needs. */
struct load_tx {
  const struct kg_host_row *host;
  int64_t now;
  const struct shared_estate *base;
  struct shared_estate *se;
};

static enum kg_qs
load_in_snapshot(struct kg_db *db, void *cls)
{
  struct load_tx *t = cls;
  struct kg_host_row current;
  bool found;

  kg_estate_free(&t->se->es);
  /* Re-read the version inside the snapshot the rows come from. */
  enum kg_qs qs = kg_db_host_row(db, t->host->name, false, &current, &found);
  if (KG_QS_OK != qs)
    return qs;
  t->se->version = found ? current.estate_version : -1;
  if (!found)
    return kg_estate_load(db, t->host, t->now, 0, &t->se->es);
  t->se->renewal_minutes = current.renewal_minutes;
  return refresh_or_load(db, t->base, &current, t->now, t->se);
}

static enum kg_qs
load(struct kg_db *db, const struct kg_host_row *host, int64_t now, struct shared_estate **out)
{
  struct shared_estate *se = calloc(1, sizeof(*se));
  enum kg_qs qs;

  if (NULL == se)
    return KG_QS_HARD_ERROR;
  atomic_init(&se->refs, 1);
  pthread_mutex_init(&se->lock, NULL);
  pthread_mutex_init(&se->preparing, NULL);
  se->host_id = host->id;
  se->version = host->estate_version;
  se->renewal_minutes = host->renewal_minutes;
  se->loaded_at = now;
  struct shared_estate *base = refresh_base(host->id, now);
  if (PQTRANS_IDLE == PQtransactionStatus(kg_db_conn(db))) {
    struct load_tx t = { host, now, base, se };
    qs = kg_db_run_transaction(db, "estate_load", KG_REPEATABLE_READ, load_in_snapshot, &t);
  } else {
    /* Inside the caller's transaction, which read host->estate_version. */
    qs = refresh_or_load(db, base, host, now, se);
  }
  unref(base);
  if (KG_QS_OK != qs) {
    unref(se);
    return qs;
  }
  store(se);
  *out = se;
  return KG_QS_OK;
}

/* ---- single flight: one load per host at a time ----
   After a write every gate of the host misses the cache at once; without
   this each of them loaded the whole estate concurrently. A load started
   after the caller read its host row sees every write that row reflects, so
   whoever finds a load of the host under way waits for it and takes its
   result when its version fits (see fresh()), else loads itself. A loader
   inside a transaction loads in it (a reservation holds the host lock, so no
   estate write can commit meanwhile; a read-only snapshot is one state).
   Waiting never deadlocks: loads only read, and reads wait for no lock. */

/** A load in progress. Fields are guarded by cache_lock. */
struct flight {
  long long host_id;
  pthread_cond_t landed;
  bool done;
  struct shared_estate *result; /**< referenced by the flight; NULL when the load failed */
  int refs;                     /**< the loader and every waiter */
  struct flight *next;
};

static struct flight *flights;

/** Drops a reference; cache_lock held. */
static void
flight_release_locked(struct flight *f)
{
  if (0 != --f->refs)
    return;
  unref(f->result);
  pthread_cond_destroy(&f->landed);
  free(f);
}

static struct flight *
flight_find_locked(long long host_id)
{
  for (struct flight *f = flights; NULL != f; f = f->next)
    if (f->host_id == host_id)
      return f;
  return NULL;
}

/** Waits for @a f to land; cache_lock held. @return its estate, referenced, or NULL */
static struct shared_estate *
flight_await_locked(struct flight *f)
{
  f->refs++;
  while (!f->done)
    pthread_cond_wait(&f->landed, &cache_lock);
  struct shared_estate *se = f->result;
  if (NULL != se)
    atomic_fetch_add(&se->refs, 1);
  flight_release_locked(f);
  return se;
}

/** Starts a flight for @a host_id; cache_lock held. @return it, or NULL without memory */
static struct flight *
flight_start_locked(long long host_id)
{
  struct flight *f = calloc(1, sizeof(*f));
  if (NULL == f || 0 != pthread_cond_init(&f->landed, NULL)) {
    free(f);
    return NULL;
  }
  f->host_id = host_id;
  f->refs = 1;
  f->next = flights;
  flights = f;
  return f;
}

/** Publishes the loader's result (NULL: failed) and wakes the waiters. */
static void
flight_land(struct flight *f, struct shared_estate *se)
{
  if (NULL != se)
    atomic_fetch_add(&se->refs, 1);
  pthread_mutex_lock(&cache_lock);
  for (struct flight **p = &flights; NULL != *p; p = &(*p)->next)
    if (*p == f) {
      *p = f->next;
      break;
    }
  f->done = true;
  f->result = se;
  pthread_cond_broadcast(&f->landed);
  flight_release_locked(f);
  pthread_mutex_unlock(&cache_lock);
}

/** Rounds of waiting for other loads before loading regardless. */
#define MAX_FLIGHTS_JOINED 4

/**
 * The estate for @a host: cached, from a load under way, or loaded by this
 * caller while others wait for it. @a exact: see fresh().
 */
static enum kg_qs
load_single_flight(struct kg_db *db, const struct kg_host_row *host, int64_t now, bool exact,
                   struct shared_estate **out)
{
  struct flight *mine = NULL;
  pthread_mutex_lock(&cache_lock);
  for (int round = 0; NULL == mine; round++) {
    if (NULL != (*out = lookup_locked(host, now, exact))) {
      pthread_mutex_unlock(&cache_lock);
      return KG_QS_OK;
    }
    struct flight *f = flight_find_locked(host->id);
    if (NULL == f || round == MAX_FLIGHTS_JOINED) {
      mine = flight_start_locked(host->id);
      break;
    }
    struct shared_estate *se = flight_await_locked(f);
    if (NULL != se && fresh(se, host, now, exact)) {
      pthread_mutex_unlock(&cache_lock);
      *out = se;
      return KG_QS_OK;
    }
    pthread_mutex_unlock(&cache_lock);
    unref(se); /* older than the caller's row (it started before), or failed */
    pthread_mutex_lock(&cache_lock);
  }
  pthread_mutex_unlock(&cache_lock);
  enum kg_qs qs = load(db, host, now, out);
  if (NULL != mine)
    flight_land(mine, KG_QS_OK == qs ? *out : NULL);
  return qs;
}

/** The model inputs of the shared estate at @a now for @a host. */
static void
model_at(const struct shared_estate *se, const struct kg_host_row *host, int64_t now,
         const struct prepared *pr, struct fc_estate *m)
{
  *m = se->es.model;
  m->now = now;
  m->capacity = host->capacity;
  m->threshold = host->threshold;
  m->margin = host->margin;
  m->host_renewal_seconds = 60LL * host->renewal_minutes;
  m->horizon_seconds = KG_MAX_HORIZON_SECONDS;
  m->reserved = pr->reserved;
  m->n_reserved = pr->n_reserved;
}

static struct prepared *
prepare(const struct shared_estate *se, const struct kg_host_row *host, int64_t now)
{
  const struct kg_estate *es = &se->es;
  size_t n = es->model.n_reserved;
  struct prepared *pr = calloc(1, sizeof(*pr));

  if (NULL == pr)
    return NULL;
  atomic_init(&pr->refs, 1);
  pr->now = now;
  pr->capacity = host->capacity;
  pr->threshold = host->threshold;
  pr->host_renewal_seconds = 60LL * host->renewal_minutes;
  pr->reserved = calloc(n + 1, sizeof(*pr->reserved));
  pr->reserved_ids = calloc(n + 1, sizeof(*pr->reserved_ids));
  if (NULL == pr->reserved || NULL == pr->reserved_ids) {
    unref_prepared(pr);
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (es->reserved_ids[i].expires_at > now) {
      pr->reserved[pr->n_reserved] = es->reserved[i];
      pr->reserved_ids[pr->n_reserved++] = es->reserved_ids[i];
    }
  struct fc_estate m;
  model_at(se, host, now, pr, &m);
  if (0 != fc_prepare(&m, KG_MAX_HORIZON_SECONDS, &pr->model)) {
    unref_prepared(pr);
    return NULL;
  }
  return pr;
}

static bool
prepared_fits(const struct prepared *pr, const struct kg_host_row *host, int64_t now)
{
  return NULL != pr && pr->now == now && pr->capacity == host->capacity
         && pr->threshold == host->threshold
         && pr->host_renewal_seconds == 60LL * host->renewal_minutes;
}

/** The shared estate's current prepared model, referenced, when it fits; else NULL. */
static struct prepared *
current_if_fits(struct shared_estate *se, const struct kg_host_row *host, int64_t now)
{
  struct prepared *pr = NULL;
  pthread_mutex_lock(&se->lock);
  if (prepared_fits(se->current, host, now)) {
    pr = se->current;
    atomic_fetch_add(&pr->refs, 1);
  }
  pthread_mutex_unlock(&se->lock);
  return pr;
}

/** The shared estate's model prepared for this second, made when missing. */
static struct prepared *
prepared_for(struct shared_estate *se, const struct kg_host_row *host, int64_t now)
{
  struct prepared *pr = current_if_fits(se, host, now);
  if (NULL != pr)
    return pr;
  /* One prepares, the others wait and take it: after a write every request
     of the host needs the new estate prepared (tens of ms at 100,000 CMIDs),
     and preparing it once per request multiplied that by the workers. */
  pthread_mutex_lock(&se->preparing);
  if (NULL == (pr = current_if_fits(se, host, now)) && NULL != (pr = prepare(se, host, now))) {
    atomic_fetch_add(&pr->refs, 1);
    pthread_mutex_lock(&se->lock);
    struct prepared *old = se->current;
    se->current = pr;
    pthread_mutex_unlock(&se->lock);
    unref_prepared(old);
  }
  pthread_mutex_unlock(&se->preparing);
  return pr;
}

enum kg_qs
kg_estate_acquire(struct kg_db *db, const struct kg_host_row *host, enum kg_estate_fit fit,
                  int64_t now, int64_t horizon_seconds, struct kg_estate_use *use)
{
  memset(use, 0, sizeof(*use));
  bool exact = KG_ESTATE_EXACT == fit;
  struct shared_estate *se = lookup(host, now, exact);
  if (NULL == se) {
    enum kg_qs qs = load_single_flight(db, host, now, exact, &se);
    if (KG_QS_OK != qs)
      return qs;
  }
  /* A later estate than the row asked for answers with its own row. */
  if (se->version != host->estate_version)
    host = &se->es.host;
  use->shared = se;
  struct prepared *pr = prepared_for(se, host, now);
  if (NULL == pr)
    return KG_QS_HARD_ERROR;
  use->prepared = pr;
  use->view = se->es;
  use->view.host = *host;
  use->view.reserved = pr->reserved;
  use->view.reserved_ids = pr->reserved_ids;
  model_at(se, host, now, pr, &use->view.model);
  use->view.model.horizon_seconds = horizon_seconds;
  return KG_QS_OK;
}

int
kg_estate_evaluate(const struct kg_estate_use *use, int32_t margin, const struct fc_plan *plan,
                   int32_t max_decommission_pool, struct fc_result *out)
{
  const struct prepared *pr = use->prepared;
  return fc_evaluate_prepared(pr->model, margin, use->view.model.horizon_seconds, plan,
                              max_decommission_pool, out);
}

int32_t
kg_estate_margin(const struct kg_estate_use *use, bool has_margin, int margin)
{
  return has_margin ? (int32_t) margin : use->view.model.margin;
}

size_t
kg_estate_pick_decommission(const struct kg_estate_use *use, int32_t pool, int32_t *out, size_t n)
{
  const struct prepared *pr = use->prepared;
  return fc_pick_decommission_prepared(pr->model, pool, out, n);
}

void
kg_estate_release(struct kg_estate_use *use)
{
  unref_prepared(use->prepared);
  unref(use->shared);
  memset(use, 0, sizeof(*use));
}
