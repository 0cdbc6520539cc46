/**
 * @file inventory.h
 * @brief Shared pieces of the inventory API (KMS hosts, pools, desktops,
 *        tokens): the JSON documents of each resource, list pages, and the
 *        input checks that input.h does not have.
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
#include "responses.h"

/** Longest pool or token name, in bytes (the schema allows 128 characters). */
#define KG_NAME_MAX 128
/** Longest host description, in characters (the schema's limit). */
#define KG_DESCRIPTION_MAX 1000

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
 * Collects one page of a list. List statements are asked for limit + 1 rows:
 * the extra row only tells that there is a next page.
 */
struct kg_list {
  json_t *items;      /**< the page's items */
  long long limit;    /**< items per page */
  long long rows;     /**< rows offered so far */
  char last_key[512]; /**< sort key of the last item kept */
};

/**
 * Starts (or, in a re-run transaction, restarts) a page.
 * @param l the page
 * @param limit items per page
 * @return true, or false when out of memory
 */
bool kg_list_start(struct kg_list *l, long long limit);

/**
 * Offers one row to the page.
 * @param l the page
 * @param item the row's document (stolen; NULL means out of memory)
 * @param key the row's sort key (the cursor continues after it)
 * @return true, or false when out of memory
 */
bool kg_list_add(struct kg_list *l, json_t *item, const char *key);

/**
 * Makes the list document {"items", "next_cursor"} and empties the page.
 * @param l the page
 * @return new document, or NULL when out of memory
 */
json_t *kg_list_document(struct kg_list *l);

/**
 * Frees what a page still holds.
 * @param l the page
 */
void kg_list_free(struct kg_list *l);

/**
 * Checks text that will reach SQL from a path, a query or a cursor: valid
 * UTF-8 of 1..@a max_bytes bytes without control characters.
 * @param s the text (NUL-terminated)
 * @param max_bytes longest accepted length
 * @return true when acceptable
 */
bool kg_text_ok(const char *s, size_t max_bytes);

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
bool kg_input_hostname(const json_t *obj, const char *field, bool required,
                       struct kg_errors *e, char out[KG_HOSTNAME_BUFSZ]);

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
 * Records a list cursor that cannot be one of ours when it is not plain text
 * (cursors are decoded from hex, so any byte can come back).
 * @param page the parsed page
 * @param max_bytes longest key of the list
 * @param e errors
 */
void kg_page_check_text(const struct kg_page *page, size_t max_bytes, struct kg_errors *e);

/**
 * Sets the Location header to @a prefix followed by @a name URL-encoded.
 * @param ctx request
 * @param prefix e.g. "/v1/pools/"
 * @param name the resource's name
 */
void kg_set_location(struct kg_ctx *ctx, const char *prefix, const char *name);

#endif
