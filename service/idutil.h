/**
 * @file idutil.h
 * @brief Hashes and identifiers shared by the HTTP layer, the SQL layer and
 *        the migrations.
 */
#ifndef KG_IDUTIL_H
#define KG_IDUTIL_H

#include <stddef.h>

/**
 * SHA-256 of @a data as 64 lowercase hex digits.
 * @param data the bytes
 * @param len how many
 * @param[out] out 64 digits and a NUL
 * @return 0, or -1 when the hash failed
 */
int kg_sha256_hex(const void *data, size_t len, char out[65]);

/**
 * A new UUID version 7 (RFC 9562): Unix milliseconds first, so new rows go
 * to the right end of their primary-key index.
 * @param[out] out the lowercase text form and a NUL
 * @return 0, or -1 when no randomness or clock was to be had
 */
int kg_uuid_v7(char out[37]);

#endif
