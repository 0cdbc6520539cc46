/**
 * @file inventory.h
 * @brief Shared pieces of the inventory API (KMS hosts, pools, desktops,
 *        tokens): the JSON documents of each resource and the input checks
 *        that input.h does not have.
 *
 * Each resource document is built in exactly one function here, so that
 * every endpoint that shows a resource shows the same fields.
 */
#ifndef KG_INVENTORY_H
#define KG_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db_desktops.h"
#include "db_hosts.h"
#include "db_pools.h"
#include "db_tokens.h"
#include "http.h"
#include "input.h"
#include "paging.h"
#include "responses.h"

/** Longest pool or token name, in bytes (the schema allows 128 characters). */
#define KG_NAME_MAX 128
/** Longest host description, in characters (the schema's limit). */
#define KG_DESCRIPTION_MAX 1000
/** Longest platform_id of a desktop, in bytes (the schema allows 256 characters). */
#define KG_PLATFORM_ID_MAX 256

/**
 * The KMS host document: {name, family, threshold, capacity, margin, floor,
 * renewal_interval_minutes, description, created_at, updated_at}.
 * The one place that shapes a host; model fields (current_count, headroom,
 * renewing, lapsing, unseen, last_observation) belong here too.
 * @param h the host row
 * @return new document, or NULL when out of memory
 */
json_t *kg_host_json(const struct kg_host_record *h);

/**
 * The pool document: {name, kms_host, platform, renewal_interval_minutes
 * (null: the host's), effective_renewal_interval_minutes, unique_cmids,
 * desktops: {active, powered_off, decommissioned}, created_at, updated_at}.
 * @param p the pool row
 * @return new document, or NULL when out of memory
 */
json_t *kg_pool_json(const struct kg_pool_record *p);

/**
 * The desktop document: {hostname, pool, kms_host, cmid, state,
 * last_activation_at, decommissioned_at, created_at, updated_at, cmid_status,
 * last_request_at, request_count, expires_at, required_count}.
 * @param d the desktop row
 * @return new document, or NULL when out of memory
 */
json_t *kg_desktop_json(const struct kg_desktop_record *d);

/**
 * The token document without the secret: {id, name, role, created_at, revoked_at}.
 * @param t the token row
 * @return new document, or NULL when out of memory
 */
json_t *kg_token_json(const struct kg_token_record *t);

/**
 * Reads a name member: a string of 1..@a max_bytes bytes without control characters.
 * @param obj the body
 * @param field member name
 * @param required whether absence is an error
 * @param max_bytes longest accepted length
 * @param e errors
 * @param[out] out the value (borrowed from obj)
 * @return true when present and valid
 */
bool kg_input_name(const json_t *obj, const char *field, bool required, size_t max_bytes,
                   struct kg_errors *e, const char **out);

/**
 * Reads a hostname member and lowercases it.
 * @param obj the body
 * @param field member name
 * @param required whether absence is an error
 * @param e errors
 * @param[out] out the lowercase hostname
 * @return true when present and valid
 */
bool kg_input_hostname(const json_t *obj, const char *field, bool required, struct kg_errors *e,
                       char out[KG_HOSTNAME_BUFSZ]);

/**
 * Reads an optional description: a string of 0..1000 characters, or null
 * for "".
 * @param obj the body
 * @param field member name
 * @param e errors
 * @param[out] out the value (borrowed from obj, or "")
 * @return true when present and valid
 */
bool kg_input_description(const json_t *obj, const char *field, struct kg_errors *e,
                          const char **out);

/**
 * Reads the KMS host whose sub-resource a path names (activations,
 * observations, forecast, headroom), answering 404 when there is none.
 * @param ctx request
 * @param db connection
 * @param name lowercase host name
 * @param[out] host the row
 * @return KG_QS_OK, KG_QS_REPLIED after the 404, or the failure
 */
enum kg_qs kg_host_find(struct kg_ctx *ctx, struct kg_db *db, const char *name,
                        struct kg_host_row *host);

/**
 * Sets the Location header to @a prefix followed by @a name URL-encoded.
 * @param ctx request
 * @param prefix e.g. "/v1/pools/"
 * @param name the resource's name
 */
void kg_set_location(struct kg_ctx *ctx, const char *prefix, const char *name);

#endif
