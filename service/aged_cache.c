/**
 * @file aged_cache.c
 * @brief Texts shared for a bounded time: a hash table of entries under a
 *        mutex; entries older than the maximum age are dropped once per age.
 */
#include "aged_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/** One cached text. */
struct aged_entry {
  struct aged_entry *next;
  char *key;
  long long version;
  time_t at; /**< when it was made */
  bool ok;   /**< made without a failure */
  char *text;
};

/** FNV-1a of @a key, as a bucket. */
static size_t
bucket_of(const char *key)
{
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *) key; '\0' != *p; p++)
    h = (h ^ *p) * 16777619u;
  return h % KG_AGED_BUCKETS;
}

static void
entry_free(struct aged_entry *e)
{
  free(e->key);
  free(e->text);
  free(e);
}

/** Drops the entries too old to be used, once per maximum age. */
static void
sweep(struct kg_aged_cache *c, time_t now)
{
  if (now - c->swept_at < c->max_age)
    return;
  c->swept_at = now;
  for (size_t b = 0; b < KG_AGED_BUCKETS; b++)
    for (struct aged_entry **p = &c->buckets[b]; NULL != *p;) {
      struct aged_entry *e = *p;
      if (now - e->at < c->max_age) {
        p = &e->next;
        continue;
      }
      *p = e->next;
      entry_free(e);
    }
}

/** The entry of @a key, made empty when there was none; NULL when out of memory. */
static struct aged_entry *
entry_of(struct kg_aged_cache *c, const char *key)
{
  size_t b = bucket_of(key);
  struct aged_entry *e;

  for (e = c->buckets[b]; NULL != e; e = e->next)
    if (0 == strcmp(e->key, key))
      return e;
  e = calloc(1, sizeof(*e));
  if (NULL == e || NULL == (e->key = strdup(key))) {
    free(e);
    return NULL;
  }
  e->next = c->buckets[b];
  c->buckets[b] = e;
  return e;
}

char *
kg_aged_get(struct kg_aged_cache *c, const char *key, long long version, time_t now,
            kg_aged_fill_fn fill, void *cls, bool *ok)
{
  char *copy = NULL;

  *ok = false;
  pthread_mutex_lock(&c->lock);
  sweep(c, now);
  struct aged_entry *e = entry_of(c, key);
  if (NULL != e
      && (NULL == e->text || version != e->version || now - e->at >= c->max_age || !e->ok)) {
    bool made_ok = false;
    char *text = fill(cls, &made_ok);
    if (NULL != text) {
      free(e->text);
      e->text = text;
      e->version = version;
      e->at = now;
      e->ok = made_ok;
    }
  }
  if (NULL != e && NULL != e->text) {
    copy = strdup(e->text);
    *ok = e->ok && version == e->version;
  }
  pthread_mutex_unlock(&c->lock);
  return copy;
}
