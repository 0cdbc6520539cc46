/**
 * @file input.h
 * @brief Validation of request input: JSON members, query parameters, text
 *        and names. Every check records a field-named error in a struct
 *        kg_errors, so one request reports all its mistakes at once; the path
 *        readers instead answer 404 themselves, since a malformed path names
 *        no resource. List cursors are in paging.h.
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
bool kg_input_bool(const json_t *obj, const char *field, bool required, struct kg_errors *e,
                   bool *out);

/**
 * Reads an RFC 3339 time member into Unix microseconds.
 * @return true when present and valid
 */
bool kg_input_time(const json_t *obj, const char *field, bool required, struct kg_errors *e,
                   int64_t *out_us);

/**
 * Reads a string member that must be one of @a choices (NULL-terminated).
 * @return true when present and valid
 */
bool kg_input_enum(const json_t *obj, const char *field, bool required, const char *const *choices,
                   struct kg_errors *e, const char **out);

/**
 * Validates and lowercases a DNS hostname (1..253 chars of letters, digits,
 * '-', '_' and '.', labels of 1..63).
 * @param in the name
 * @param out receives the lowercase name
 * @return true when valid
 */
bool kg_hostname_normalize(const char *in, char out[KG_HOSTNAME_BUFSZ]);

/**
 * Checks text that will reach SQL from a path, a query or a cursor: valid
 * UTF-8 of 1..@a max_bytes bytes without control characters.
 * @param s the text (NUL-terminated)
 * @param max_bytes longest accepted length
 * @return true when acceptable
 */
bool kg_text_ok(const char *s, size_t max_bytes);

/**
 * Counts the characters of UTF-8 text, refusing control characters (and an
 * embedded NUL) so that nothing invisible reaches the database or a log.
 * @param s the text
 * @param len its length in bytes (a shorter strlen() means an embedded NUL)
 * @param breaks whether tab, CR and LF are accepted (multi-line text)
 * @return the number of characters, or -1 when it is not acceptable text
 */
long kg_text_chars(const char *s, size_t len, bool breaks);

/**
 * Reads a DNS hostname from the path, lowercased. A name that is not a
 * hostname cannot name any resource: it is answered 404 "no such @a what".
 * @param ctx request
 * @param param path parameter name, e.g. "name"
 * @param[out] out the lowercase hostname
 * @param what the resource, for the 404, e.g. "KMS host"
 * @return true when valid; false after the 404 was sent
 */
bool kg_path_hostname(struct kg_ctx *ctx, const char *param, char out[KG_HOSTNAME_BUFSZ],
                      const char *what);

/**
 * Reads a name from the path: 1..@a max_bytes bytes of text (kg_text_ok()),
 * else answered 404 "no such @a what".
 * @param ctx request
 * @param param path parameter name
 * @param max_bytes longest name of the resource
 * @param[out] out the name (borrowed from the request)
 * @param what the resource, for the 404
 * @return true when valid; false after the 404 was sent
 */
bool kg_path_name(struct kg_ctx *ctx, const char *param, size_t max_bytes, const char **out,
                  const char *what);

/**
 * Reads a uuid from the path into its canonical form, so that anything else
 * is an unknown resource (404 "no such @a what") and never a SQL cast error.
 * @param ctx request
 * @param param path parameter name
 * @param[out] out the lowercase uuid
 * @param what the resource, for the 404
 * @return true when valid; false after the 404 was sent
 */
bool kg_path_uuid(struct kg_ctx *ctx, const char *param, char out[37], const char *what);

/**
 * Reads an integer query parameter within [min, max], or @a dflt when absent.
 * @return true when absent or valid
 */
bool kg_query_int(const struct kg_ctx *ctx, const char *name, long long min, long long max,
                  long long dflt, struct kg_errors *e, long long *out);

/**
 * Reads an optional hostname query parameter (a list filter), lowercased.
 * @param ctx request
 * @param name parameter name
 * @param message the error recorded when it is present but not a hostname
 * @param e errors
 * @param[out] out receives the lowercase hostname
 * @return @a out when the parameter is a hostname; NULL when absent or invalid
 */
const char *kg_query_hostname(const struct kg_ctx *ctx, const char *name, const char *message,
                              struct kg_errors *e, char out[KG_HOSTNAME_BUFSZ]);

/**
 * Reads an RFC 3339 query parameter into Unix microseconds.
 * @param ctx request
 * @param name parameter name
 * @param e errors
 * @param[out] out_us the time when present and valid
 * @return true when present and valid
 */
bool kg_query_time(const struct kg_ctx *ctx, const char *name, struct kg_errors *e,
                   int64_t *out_us);

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
