/**
 * @file forecast_hosts.c
 * @brief Pure helpers of the model for estates with several KMS hosts per
 *        product (docs/model.md §6.3, §6.8): the rounded-down split by weight
 *        and the arrivals a receiving host is credited with.
 */
#include "forecast.h"

#include <stdlib.h>
#include <string.h>

int
fc_split_by_weight(int64_t n, const int32_t *weights, size_t k, int64_t *share)
{
  int64_t total = 0;

  if ((n < 0) || (n > INT32_MAX) || (0 == k) || (NULL == weights) || (NULL == share))
    return -1;
  for (size_t i = 0; i < k; i++) {
    if (weights[i] < 1)
      return -1;
    total += weights[i];
  }
  for (size_t i = 0; i < k; i++)
    share[i] = n * weights[i] / total; /* n, w < 2^31: no overflow */
  return 0;
}

static int
compare_time(const void *pa, const void *pb)
{
  int64_t a = *(const int64_t *) pa;
  int64_t b = *(const int64_t *) pb;

  return (a > b) - (a < b);
}

void
fc_latest_times(const int64_t *times, size_t n, size_t k, int64_t *out)
{
  int64_t *sorted;

  if ((0 == k) || (k > n))
    return;
  sorted = malloc(n * sizeof *sorted);
  if (NULL == sorted) {
    /* without memory, the latest is still a safe answer for every slot */
    int64_t latest = times[0];

    for (size_t i = 1; i < n; i++)
      if (times[i] > latest)
        latest = times[i];
    for (size_t i = 0; i < k; i++)
      out[i] = latest;
    return;
  }
  memcpy(sorted, times, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, &compare_time);
  memcpy(out, sorted + (n - k), k * sizeof *out);
  free(sorted);
}
