/**
 * @file metrics.c
 * @brief Request counters by route and status, a latency histogram by route,
 *        and gate decisions by result.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KG_METRIC_SLOTS 256

static const double bucket_bounds[] = {
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
};
#define KG_BUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

struct route_status_count {
  const char *route;
  unsigned int status;
  unsigned long long n;
};
struct route_latency {
  const char *route;
  unsigned long long buckets[KG_BUCKETS];
  unsigned long long count;
  double sum_seconds;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_status_count counts[KG_METRIC_SLOTS];
static struct route_latency latencies[KG_METRIC_SLOTS];
static unsigned long long gate_go, gate_no_go;
static unsigned long long estate_loads, estate_refreshes;

/* Route strings are the static patterns of the route table, so pointer equality suffices. */
static struct route_status_count *
count_slot(const char *route, unsigned int status)
{
  for (size_t i = 0; i < KG_METRIC_SLOTS; i++) {
    if (NULL == counts[i].route) {
      counts[i].route = route;
      counts[i].status = status;
      return &counts[i];
    }
    if (counts[i].route == route && counts[i].status == status)
      return &counts[i];
  }
  return NULL;
}

static struct route_latency *
latency_slot(const char *route)
{
  for (size_t i = 0; i < KG_METRIC_SLOTS; i++) {
    if (NULL == latencies[i].route)
      latencies[i].route = route;
    if (latencies[i].route == route)
      return &latencies[i];
  }
  return NULL;
}

void
kg_metrics_observe(const char *route, unsigned int status, double ms)
{
  double seconds = ms / 1000.0;

  pthread_mutex_lock(&lock);
  struct route_status_count *c = count_slot(route, status);
  if (NULL != c)
    c->n++;
  struct route_latency *l = latency_slot(route);
  if (NULL != l) {
    for (size_t b = 0; b < KG_BUCKETS; b++)
      if (seconds <= bucket_bounds[b])
        l->buckets[b]++;
    l->count++;
    l->sum_seconds += seconds;
  }
  pthread_mutex_unlock(&lock);
}

void
kg_metrics_gate(bool go)
{
  pthread_mutex_lock(&lock);
  if (go)
    gate_go++;
  else
    gate_no_go++;
  pthread_mutex_unlock(&lock);
}

void
kg_metrics_estate(bool refreshed)
{
  pthread_mutex_lock(&lock);
  if (refreshed)
    estate_refreshes++;
  else
    estate_loads++;
  pthread_mutex_unlock(&lock);
}

/** A growing text buffer; on allocation failure it stops growing and reports NULL at the end. */
struct text {
  char *buf;
  size_t len, cap;
  bool failed;
};

static void append(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
append(struct text *t, const char *fmt, ...)
{
  if (t->failed)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = true;
      return;
    }
    if ((size_t) n < t->cap - t->len) {
      t->len += (size_t) n;
      return;
    }
    size_t cap = 2 * t->cap + (size_t) n;
    char *grown = realloc(t->buf, cap);
    if (NULL == grown) {
      t->failed = true;
      return;
    }
    t->buf = grown;
    t->cap = cap;
  }
}

static void
render_requests(struct text *t)
{
  /* clang-format off */
  append(t, "# HELP kmsgate_http_requests_total HTTP requests answered, by route and status.\n"
            "# TYPE kmsgate_http_requests_total counter\n");
  /* clang-format on */
  for (size_t i = 0; i < KG_METRIC_SLOTS && NULL != counts[i].route; i++)
    append(t, "kmsgate_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n", counts[i].route,
           counts[i].status, counts[i].n);
  /* clang-format off */
  append(t, "# HELP kmsgate_http_request_duration_seconds Time to answer a request, by route.\n"
            "# TYPE kmsgate_http_request_duration_seconds histogram\n");
  /* clang-format on */
  for (size_t i = 0; i < KG_METRIC_SLOTS && NULL != latencies[i].route; i++) {
    const struct route_latency *l = &latencies[i];
    for (size_t b = 0; b < KG_BUCKETS; b++)
      append(t, "kmsgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
             l->route, bucket_bounds[b], l->buckets[b]);
    /* clang-format off */
    append(t, "kmsgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
              "kmsgate_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
              "kmsgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
           /* clang-format on */
           l->route, l->count, l->route, l->sum_seconds, l->route, l->count);
  }
  /* clang-format off */
  append(t, "# HELP kmsgate_gate_decisions_total Gate evaluations, by decision.\n"
            "# TYPE kmsgate_gate_decisions_total counter\n"
            "kmsgate_gate_decisions_total{decision=\"go\"} %llu\n"
            "kmsgate_gate_decisions_total{decision=\"no-go\"} %llu\n", gate_go, gate_no_go);
  append(t, "# HELP kmsgate_estate_loads_total Host estates this process read from PostgreSQL:"
            " in full, or refreshed by the rows written since the version it held.\n"
            "# TYPE kmsgate_estate_loads_total counter\n"
            "kmsgate_estate_loads_total{kind=\"full\"} %llu\n"
            "kmsgate_estate_loads_total{kind=\"refresh\"} %llu\n", estate_loads, estate_refreshes);
  /* clang-format on */
}

char *
kg_metrics_render(void)
{
  struct text t = { .buf = malloc(4096), .cap = 4096 };

  if (NULL == t.buf)
    return NULL;
  t.buf[0] = '\0';
  pthread_mutex_lock(&lock);
  render_requests(&t);
  pthread_mutex_unlock(&lock);
  if (t.failed) {
    free(t.buf);
    return NULL;
  }
  return t.buf;
}
