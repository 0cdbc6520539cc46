/**
 * @file prune.c
 * @brief Retention of raw activation requests (db_prune.c has the SQL).
 */
#include "prune.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "db.h"
#include "db_prune.h"
#include "log.h"

/* Small batches keep each delete short next to a busy ingest. */
#define PRUNE_BATCH 5000

static pthread_t thread;
static bool running;
static bool stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

/** Deletes batch after batch until one comes back short or stop is asked. */
static enum kg_qs
prune_batches(struct kg_db *db, unsigned int days, long long *deleted)
{
  long long n = PRUNE_BATCH;
  enum kg_qs qs = KG_QS_OK;

  while (KG_QS_OK == qs && n == PRUNE_BATCH) {
    pthread_mutex_lock(&lock);
    bool stop = stopping;
    pthread_mutex_unlock(&lock);
    if (stop)
      break;
    qs = kg_db_prune_batch(db, days, PRUNE_BATCH, &n);
    if (KG_QS_OK == qs)
      *deleted += n;
  }
  return qs;
}

int
kg_prune_run(const struct kg_config *cfg, long long *deleted)
{
  struct kg_db *db = kg_db_thread();
  bool taken = false;
  enum kg_qs qs = kg_db_prune_lock(db, &taken);

  *deleted = 0;
  if (KG_QS_OK == qs && taken) {
    qs = prune_batches(db, cfg->retention_days, deleted);
    if (KG_QS_OK != kg_db_prune_unlock(db) && KG_QS_OK == qs)
      qs = KG_QS_HARD_ERROR;
  }
  if (KG_QS_OK != qs) {
    /* clang-format off */
    kg_log(KG_LOG_WARN, json_pack("{s:s,s:I}", "event", "prune_failed", "deleted",
                                  (json_int_t) *deleted), "pruning raw requests failed");
    /* clang-format on */
    return -1;
  }
  /* clang-format off */
  if (taken)
    kg_log(KG_LOG_INFO, json_pack("{s:s,s:I,s:i}", "event", "pruned", "deleted",
                                  (json_int_t) *deleted, "retention_days",
                                  (int) cfg->retention_days),
           /* clang-format on */
           "pruned %lld raw activation requests", *deleted);
  return 0;
}

/** Waits one interval; false when asked to stop. */
static bool
wait_interval(unsigned int seconds)
{
  struct timespec until;

  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += seconds;
  pthread_mutex_lock(&lock);
  while (!stopping && ETIMEDOUT != pthread_cond_timedwait(&wake, &lock, &until))
    ;
  bool go_on = !stopping;
  pthread_mutex_unlock(&lock);
  return go_on;
}

static void *
prune_loop(void *cls)
{
  const struct kg_config *cfg = cls;
  long long deleted;

  while (wait_interval(cfg->prune_seconds))
    (void) kg_prune_run(cfg, &deleted); /* a failure is logged and tried again next time */
  return NULL;
}

int
kg_prune_start(const struct kg_config *cfg)
{
  stopping = false;
  if (0 != pthread_create(&thread, NULL, prune_loop, (void *) cfg))
    return -1;
  running = true;
  return 0;
}

void
kg_prune_stop(void)
{
  if (!running)
    return;
  pthread_mutex_lock(&lock);
  stopping = true;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  running = false;
}
