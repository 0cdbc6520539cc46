/**
 * @file input.h
 * @brief Validation of request input: JSON members, query parameters,
 *        names and list cursors. Every check records a field-named error in a
 *        struct kg_errors, so one request reports all its mistakes at once.
 */
#ifndef KG_INPUT_H
#define KG_INPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "responses.h"

/** Longest DNS name plus NUL. */
#define KG_HOSTNAME_BUFSZ 254

/**
 * Rejects members of @a obj that are not in @a allowed (422 "unknown field"),
 * so that a typo in a hook's body does not pass silently.
 * @param obj the JSON object
 * @param allowed NULL-terminated list of member names
 * @param prefix field prefix for messages ("" or e.g. "provision[0].")
 * @param e error collection
 */
void kg_input_only(const json_t *obj, const char *const *allowed, const char *prefix,
                   struct kg_errors *e);

/**
 * Reads a string member.
 * @param obj object
 * @param field member name
 * @param required whether absence is an error
 * @param max_len longest accepted length in bytes (min is 1)
 * @param e errors
 * @param[out] out the value (borrowed from obj) or unchanged when absent/invalid
 * @return true when present and valid
 */
bool kg_input_string(const json_t *obj, const char *field, bool required, size_t max_len,
                     struct kg_errors *e, const char **out);

/**
 * Reads an integer member within [min, max].
 * @return true when present and valid
 */
bool kg_input_int(const json_t *obj, const char *field, bool required, json_int_t min,
                  json_int_t max, struct kg_errors *e, json_int_t *out);

/**
 * Reads a boolean member.
 * @return true when present and valid
 */
bool kg_input_bool(const json_t *obj, const char *field, bool required,
                   struct kg_errors *e, bool *out);

/**
 * Reads an RFC 3339 time member into Unix microseconds.
 * @return true when present and valid
 */
bool kg_input_time(const json_t *obj, const char *field, bool required,
                   struct kg_errors *e, int64_t *out_us);

/**
 * Reads a string member that must be one of @a choices (NULL-terminated).
 * @return true when present and valid
 */
bool kg_input_enum(const json_t *obj, const char *field, bool required,
                   const char *const *choices, struct kg_errors *e, const char **out);

/**
 * Validates and lowercases a DNS hostname (1..253 chars of letters, digits,
 * '-', '_' and '.', labels of 1..63).
 * @param in the name
 * @param out receives the lowercase name
 * @return true when valid
 */
bool kg_hostname_normalize(const char *in, char out[KG_HOSTNAME_BUFSZ]);

/**
 * Reads an integer query parameter within [min, max], or @a dflt when absent.
 * @return true when absent or valid
 */
bool kg_query_int(const struct kg_ctx *ctx, const char *name, long long min, long long max,
                  long long dflt, struct kg_errors *e, long long *out);

/**
 * Reads an RFC 3339 query parameter into Unix microseconds.
 * @param ctx request
 * @param name parameter name
 * @param e errors
 * @param[out] out_us the time when present and valid
 * @return true when present and valid
 */
bool kg_query_time(const struct kg_ctx *ctx, const char *name, struct kg_errors *e, int64_t *out_us);

/** A page request: ?limit= and ?cursor=. */
struct kg_page {
  long long limit;      /**< 1..1000, default 100 */
  char after[512];      /**< decoded cursor: the sort key to continue after, "" = start */
};

/**
 * Reads ?limit= and ?cursor= (an opaque token made by kg_page_cursor()).
 * @return true when both are valid (errors recorded otherwise)
 */
bool kg_page_parse(const struct kg_ctx *ctx, struct kg_errors *e, struct kg_page *page);

/**
 * Makes the opaque cursor for the key of the last item of a page.
 * @param key the sort key
 * @return a JSON string (new reference), or JSON null when key is NULL
 */
json_t *kg_page_cursor(const char *key);

/**
 * Wraps a list answer: {"items": items, "next_cursor": cursor}.
 * @param items array (stolen)
 * @param next_cursor from kg_page_cursor() (stolen)
 * @return the document
 */
json_t *kg_page_document(json_t *items, json_t *next_cursor);

/**
 * Formats a Unix-seconds time as an RFC 3339 JSON string.
 * @param unix_seconds the time
 * @return new JSON string
 */
json_t *kg_json_time(int64_t unix_seconds);

/**
 * Converts a PostgreSQL timestamptz text column (selected as epoch seconds,
 * e.g. `extract(epoch FROM t)::bigint`) to an RFC 3339 JSON string, or null.
 * @param epoch_text the column text or NULL
 * @return new JSON value
 */
json_t *kg_json_epoch_text(const char *epoch_text);

#endif
