/**
 * @file aged_cache.h
 * @brief Figures computed from the database and shared by this process's
 *        requests for a bounded time: texts under a key and a version, used
 *        while younger than the cache's maximum age and made again after.
 *        The /metrics gauges and the figures of host lists use it.
 */
#ifndef KG_AGED_CACHE_H
#define KG_AGED_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/** Seconds the /metrics gauges and the figures of host lists may be old (README, OpenAPI). */
#define KG_FIGURES_MAX_AGE 15

/** Buckets of a cache's hash table. */
#define KG_AGED_BUCKETS 1024

struct aged_entry;

/** A cache; define it with KG_AGED_CACHE_INIT, one per kind of figure. */
struct kg_aged_cache {
  pthread_mutex_t lock;
  time_t max_age;  /**< seconds an entry is used for */
  time_t swept_at; /**< when entries too old were last dropped */
  struct aged_entry *buckets[KG_AGED_BUCKETS];
};

/** Initializer of a cache whose entries are used for @a max_age seconds. */
/* clang-format off */
#define KG_AGED_CACHE_INIT(max_age) { PTHREAD_MUTEX_INITIALIZER, (max_age), 0, { NULL } }
/* clang-format on */

/**
 * Makes an entry's text.
 * @param cls closure
 * @param[out] ok whether its queries succeeded (a failed text is not used
 *             again: the next caller makes it anew)
 * @return the text (malloc'd, taken over by the cache), or NULL when out of memory
 */
typedef char *(*kg_aged_fill_fn)(void *cls, bool *ok);

/**
 * The text under @a key and @a version, made again by @a fill when there is
 * none, when it is @a max_age seconds old or older, or when it failed. The
 * caller that makes it holds the cache's lock, so the others wait for its
 * text instead of making their own. When @a fill runs out of memory the old
 * text, if any, is answered.
 * @param c the cache
 * @param key what the text is about
 * @param version the version of its data the caller read; another one is a miss
 * @param now the time, Unix seconds
 * @param fill makes the text
 * @param cls closure for fill
 * @param[out] ok whether the text answered was made without a failure
 * @return a copy to free, or NULL when out of memory
 */
char *kg_aged_get(struct kg_aged_cache *c, const char *key, long long version, time_t now,
                  kg_aged_fill_fn fill, void *cls, bool *ok);

#endif
