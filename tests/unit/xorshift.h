/**
 * @file xorshift.h
 * @brief The small deterministic generator the model tests and the model
 *        micro-benchmark build their random estates with (xorshift64).
 */
#ifndef KG_TEST_XORSHIFT_H
#define KG_TEST_XORSHIFT_H

#include <stdint.h>

/**
 * The next value of the sequence.
 * @param s the state (never 0)
 * @return the next value
 */
static inline uint64_t
rnd(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/**
 * A value in [lo, hi].
 * @param s the state
 * @param lo smallest value
 * @param hi largest value
 * @return the value
 */
static inline int64_t
rnd_range(uint64_t *s, int64_t lo, int64_t hi)
{
  return lo + (int64_t) (rnd(s) % (uint64_t) (hi - lo + 1));
}

#endif
