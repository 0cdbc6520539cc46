/**
 * @file responses.h
 * @brief The only way handlers answer: JSON, problem+json, validation errors.
 */
#ifndef KG_RESPONSES_H
#define KG_RESPONSES_H

#include <jansson.h>
#include <stdbool.h>

#include "http.h"

/**
 * Sends a JSON body.
 * @param ctx request
 * @param status HTTP status
 * @param body the document (stolen)
 */
void kg_reply_json(struct kg_ctx *ctx, unsigned int status, json_t *body);

/**
 * Sends JSON already encoded (e.g. the text also stored with a decision).
 * @param ctx request
 * @param status HTTP status
 * @param text the JSON text (copied; a newline is added)
 */
void kg_reply_json_text(struct kg_ctx *ctx, unsigned int status, const char *text);

/**
 * Sends a body that is not JSON (YAML, SVG, HTML, Prometheus text).
 * @param ctx request
 * @param status HTTP status
 * @param content_type its media type
 * @param data the bytes (copied)
 * @param len their number
 */
void kg_reply_bytes(struct kg_ctx *ctx, unsigned int status, const char *content_type,
                    const char *data, size_t len);

/**
 * Sends 204 No Content.
 * @param ctx request
 */
void kg_reply_no_content(struct kg_ctx *ctx);

/**
 * Sends an RFC 9457 problem: {"type","title","status","detail"}.
 * @param ctx request
 * @param status HTTP status (4xx/5xx)
 * @param fmt printf-style detail
 */
void kg_reply_problem(struct kg_ctx *ctx, unsigned int status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/**
 * Sends a problem with extra members (e.g. "errors", "plan_id").
 * @param ctx request
 * @param status HTTP status
 * @param extra members merged into the problem (stolen, may be NULL)
 * @param fmt printf-style detail
 */
void kg_reply_problem_with(struct kg_ctx *ctx, unsigned int status, json_t *extra, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

/** Seconds a client should wait before retrying after a 503. */
#define KG_RETRY_AFTER "2"

/**
 * Sends 503 "database unavailable" with Retry-After; also what the
 * transaction runner sends for hard failures.
 * @param ctx request
 */
void kg_reply_db_unavailable(struct kg_ctx *ctx);

/**
 * Answers a failed transaction: nothing for KG_QS_REPLIED (already sent),
 * 503 otherwise.
 * @param ctx request
 * @param qs the runner's result
 */
void kg_reply_tx_failure(struct kg_ctx *ctx, enum kg_qs qs);

/**
 * Answers a transaction that produces a document: the document when it
 * committed, the failure otherwise (kg_reply_tx_failure()).
 * @param ctx request
 * @param qs the runner's result
 * @param status HTTP status of a success
 * @param doc the document (stolen either way; NULL after KG_QS_OK means out
 *            of memory and answers 500)
 */
void kg_reply_tx_document(struct kg_ctx *ctx, enum kg_qs qs, unsigned int status, json_t *doc);

/**
 * Answers a transaction without a document: 204 when it committed, the
 * failure otherwise.
 * @param ctx request
 * @param qs the runner's result
 */
void kg_reply_tx_no_content(struct kg_ctx *ctx, enum kg_qs qs);

/** Collected validation errors of one request body. */
struct kg_errors {
  json_t *list;    /**< [{"field","message"}] */
  bool wrong_type; /**< any error is a wrong JSON type: 400 instead of 422 */
};

/**
 * Starts an error collection.
 * @param e the collection
 */
void kg_errors_init(struct kg_errors *e);

/**
 * Records one error.
 * @param e collection
 * @param wrong_type true for a JSON type mismatch (400), false for a bad value (422)
 * @param field the field's name (JSON pointer-ish, e.g. "provision[0].count")
 * @param fmt printf-style message
 */
void kg_errors_add(struct kg_errors *e, bool wrong_type, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

/**
 * When errors were collected, replies 400/422 with them and returns true.
 * Frees the collection either way.
 * @param ctx request
 * @param e collection
 * @return true when a reply was sent
 */
bool kg_errors_reply(struct kg_ctx *ctx, struct kg_errors *e);

#endif
