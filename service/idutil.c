/**
 * @file idutil.c
 * @brief Hashes and identifiers: SHA-256 in hex (tokens, request bodies,
 *        migration files) and time-ordered UUIDs (plans, decisions). Needs
 *        no HTTP or database header.
 */
#include "idutil.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

int
kg_sha256_hex(const void *data, size_t len, char out[65])
{
  unsigned char digest[32];

  if (0 != gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, digest))
    return -1;
  for (size_t i = 0; i < sizeof(digest); i++)
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
  return 0;
}

int
kg_uuid_v7(char out[37])
{
  unsigned char b[16];
  struct timespec now;
  if (sizeof(b) != getrandom(b, sizeof(b), 0) || 0 != clock_gettime(CLOCK_REALTIME, &now))
    return -1;
  /* RFC 9562 version 7: 48 bits of Unix milliseconds first, so new rows go to
     the right end of the primary-key index instead of a random page. */
  uint64_t ms = (uint64_t) now.tv_sec * 1000 + (uint64_t) now.tv_nsec / 1000000;
  for (int i = 0; i < 6; i++)
    b[i] = (unsigned char) (ms >> (8 * (5 - i)));
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x70);
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
  return 0;
}
