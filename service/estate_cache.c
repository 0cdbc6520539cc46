/**
 * @file estate_cache.c
 * @brief This process's cache of loaded estates, one per KMS host.
 *
 * Loading a host's estate is most of a gate's cost (five queries, up to
 * 100,000 rows). An estate is reused only while the host's estate_version in
 * PostgreSQL is the one it was loaded at; triggers bump that version in the
 * same transaction as every write the forecast reads (migration 0002), so a
 * replica never answers from data another replica has changed. Entries are
 * also reloaded after a minute, which bounds how long CMIDs that aged out of
 * the relevant window stay in memory. Time-dependent parts (now, which
 * reserved plans are unexpired) are applied per request in the view.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "db_estate.h"
#include "db_hosts.h"

#define CACHE_SLOTS 64
#define MAX_AGE_SECONDS 60

/** A loaded estate shared by the requests that use it. */
struct shared_estate {
  struct kg_estate es;
  atomic_int refs;        /**< the cache's reference plus one per view */
  long long host_id;
  long long version;
  int renewal_minutes;    /**< pools without their own interval use the host's */
  int64_t loaded_at;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_estate *slots[CACHE_SLOTS];

static void
unref(struct shared_estate *se)
{
  if (NULL != se && 1 == atomic_fetch_sub(&se->refs, 1)) {
    kg_estate_free(&se->es);
    free(se);
  }
}

static bool
fresh(const struct shared_estate *se, const struct kg_host_row *host, int64_t now)
{
  return se->host_id == host->id && se->version == host->estate_version
         && se->renewal_minutes == host->renewal_minutes
         && now - se->loaded_at < MAX_AGE_SECONDS && now >= se->loaded_at;
}

static struct shared_estate *
lookup(const struct kg_host_row *host, int64_t now)
{
  struct shared_estate *hit = NULL;
  pthread_mutex_lock(&cache_lock);
  for (size_t i = 0; i < CACHE_SLOTS && NULL == hit; i++)
    if (NULL != slots[i] && fresh(slots[i], host, now)) {
      hit = slots[i];
      atomic_fetch_add(&hit->refs, 1);
    }
  pthread_mutex_unlock(&cache_lock);
  return hit;
}

/** Puts @a se in the host's slot (or the oldest slot), dropping what was there. */
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
  atomic_fetch_add(&se->refs, 1);
  slots[victim] = se;
  pthread_mutex_unlock(&cache_lock);
  unref(old);
}

/** What a load in its own snapshot needs. */
struct load_tx {
  const struct kg_host_row *host;
  int64_t now;
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
  return kg_estate_load(db, found ? &current : t->host, t->now, 0, &t->se->es);
}

static enum kg_qs
load(struct kg_db *db, const struct kg_host_row *host, int64_t now, struct shared_estate **out)
{
  struct shared_estate *se = calloc(1, sizeof(*se));
  enum kg_qs qs;

  if (NULL == se)
    return KG_QS_HARD_ERROR;
  atomic_init(&se->refs, 1);
  se->host_id = host->id;
  se->version = host->estate_version;
  se->renewal_minutes = host->renewal_minutes;
  se->loaded_at = now;
  if (PQTRANS_IDLE == PQtransactionStatus(kg_db_conn(db))) {
    struct load_tx t = { host, now, se };
    qs = kg_db_run_transaction(db, "estate_load", KG_REPEATABLE_READ, load_in_snapshot, &t);
  } else {
    /* Inside the caller's transaction, which read host->estate_version. */
    qs = kg_estate_load(db, host, now, 0, &se->es);
  }
  if (KG_QS_OK != qs) {
    unref(se);
    return qs;
  }
  store(se);
  *out = se;
  return KG_QS_OK;
}

/** Fills the view: shared arrays, this request's host, time and reserved plans. */
static int
make_view(struct kg_estate_use *use, const struct shared_estate *se,
          const struct kg_host_row *host, int64_t now, int64_t horizon_seconds)
{
  const struct kg_estate *es = &se->es;
  size_t n = es->model.n_reserved, kept = 0;

  use->reserved = calloc(n + 1, sizeof(*use->reserved));
  use->reserved_ids = calloc(n + 1, sizeof(*use->reserved_ids));
  if (NULL == use->reserved || NULL == use->reserved_ids)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (es->reserved_ids[i].expires_at > now) {
      use->reserved[kept] = es->reserved[i];
      use->reserved_ids[kept++] = es->reserved_ids[i];
    }
  use->view = *es;
  memset(use->view.results, 0, sizeof(use->view.results));
  use->view.host = *host;
  use->view.reserved = use->reserved;
  use->view.reserved_ids = use->reserved_ids;
  use->view.model.reserved = use->reserved;
  use->view.model.n_reserved = kept;
  use->view.model.now = now;
  use->view.model.capacity = host->capacity;
  use->view.model.threshold = host->threshold;
  use->view.model.margin = host->margin;
  use->view.model.host_renewal_seconds = 60LL * host->renewal_minutes;
  use->view.model.horizon_seconds = horizon_seconds;
  return 0;
}

enum kg_qs
kg_estate_acquire(struct kg_db *db, const struct kg_host_row *host, int64_t now,
                  int64_t horizon_seconds, struct kg_estate_use *use)
{
  memset(use, 0, sizeof(*use));
  struct shared_estate *se = lookup(host, now);
  if (NULL == se) {
    enum kg_qs qs = load(db, host, now, &se);
    if (KG_QS_OK != qs)
      return qs;
  }
  use->shared = se;
  return 0 == make_view(use, se, host, now, horizon_seconds) ? KG_QS_OK : KG_QS_HARD_ERROR;
}

void
kg_estate_release(struct kg_estate_use *use)
{
  free(use->reserved);
  free(use->reserved_ids);
  unref(use->shared);
  memset(use, 0, sizeof(*use));
}
