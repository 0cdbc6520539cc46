/**
 * @file responses.c
 * @brief Reply helpers: every answer of the service goes through here, so
 *        content types, problem shapes and status logging stay consistent.
 */
#include "responses.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const struct {
  unsigned int status;
  const char *slug;
  const char *title;
} problems[] = {
  { 400, "bad-request", "Bad Request" },
  { 401, "unauthorized", "Unauthorized" },
  { 403, "forbidden", "Forbidden" },
  { 404, "not-found", "Not Found" },
  { 405, "method-not-allowed", "Method Not Allowed" },
  { 409, "conflict", "Conflict" },
  { 413, "payload-too-large", "Payload Too Large" },
  { 415, "unsupported-media-type", "Unsupported Media Type" },
  { 422, "invalid-values", "Unprocessable Content" },
  { 431, "headers-too-large", "Request Header Fields Too Large" },
  { 500, "internal-error", "Internal Server Error" },
  { 503, "database-unavailable", "Service Unavailable" },
};

/**
 * Sets a JSON body followed by a newline, so that curl's output ends its line
 * instead of running into the shell prompt.
 * @return true when the body was set
 */
static bool
set_json_body(struct kg_ctx *ctx, unsigned int status, const char *text, const char *content_type)
{
  size_t len = strlen(text);
  char *line = malloc(len + 1);

  if (NULL == line)
    return false;
  memcpy(line, text, len);
  line[len] = '\n';
  int rc = ulfius_set_binary_body_response(ctx->resp, status, line, len + 1);
  free(line);
  if (U_OK != rc)
    return false;
  u_map_put(ctx->resp->map_header, "Content-Type", content_type);
  ctx->status = status;
  return true;
}

static void
send_document(struct kg_ctx *ctx, unsigned int status, json_t *doc, const char *content_type)
{
  char *text = (NULL != doc) ? json_dumps(doc, JSON_COMPACT) : NULL;

  json_decref(doc);
  bool sent = NULL != text && set_json_body(ctx, status, text, content_type);
  free(text);
  if (!sent) {
    /* Out of memory or a non-UTF-8 string slipped in: say so without JSON tools. */
    /* clang-format off */
    static const char fallback[] =
      "{\"type\":\"urn:kmsgate:problem:internal-error\",\"title\":\"Internal Server Error\","
      "\"status\":500,\"detail\":\"the response could not be encoded\"}\n";
    /* clang-format on */
    ulfius_set_binary_body_response(ctx->resp, 500, fallback, sizeof(fallback) - 1);
    u_map_put(ctx->resp->map_header, "Content-Type", "application/problem+json");
    ctx->status = 500;
  }
}

void
kg_reply_json(struct kg_ctx *ctx, unsigned int status, json_t *body)
{
  send_document(ctx, status, body, "application/json");
}

void
kg_reply_json_text(struct kg_ctx *ctx, unsigned int status, const char *text)
{
  if (!set_json_body(ctx, status, text, "application/json"))
    kg_reply_problem(ctx, 500, "out of memory");
}

void
kg_reply_bytes(struct kg_ctx *ctx, unsigned int status, const char *content_type, const char *data,
               size_t len)
{
  ulfius_set_binary_body_response(ctx->resp, status, data, len);
  u_map_put(ctx->resp->map_header, "Content-Type", content_type);
  ctx->status = status;
}

void
kg_reply_no_content(struct kg_ctx *ctx)
{
  ulfius_set_empty_body_response(ctx->resp, 204);
  ctx->status = 204;
}

static json_t *
problem_document(unsigned int status, const char *detail)
{
  const char *slug = "error";
  const char *title = "Error";
  char type[96];

  for (size_t i = 0; i < sizeof(problems) / sizeof(problems[0]); i++)
    if (problems[i].status == status) {
      slug = problems[i].slug;
      title = problems[i].title;
    }
  snprintf(type, sizeof(type), "urn:kmsgate:problem:%s", slug);
  json_t *d = json_string(detail);
  /* clang-format off */
  return json_pack("{s:s,s:s,s:i,s:o}", "type", type, "title", title, "status", (int) status,
                   "detail", d ? d : json_string("(detail not UTF-8)"));
  /* clang-format on */
}

static void
reply_problem_va(struct kg_ctx *ctx, unsigned int status, json_t *extra, const char *fmt,
                 va_list ap)
{
  char detail[1024];

  vsnprintf(detail, sizeof(detail), fmt, ap);
  json_t *doc = problem_document(status, detail);
  if (NULL != doc && NULL != extra)
    json_object_update(doc, extra);
  json_decref(extra);
  send_document(ctx, status, doc, "application/problem+json");
}

void
kg_reply_problem(struct kg_ctx *ctx, unsigned int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  reply_problem_va(ctx, status, NULL, fmt, ap);
  va_end(ap);
}

void
kg_reply_problem_with(struct kg_ctx *ctx, unsigned int status, json_t *extra, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  reply_problem_va(ctx, status, extra, fmt, ap);
  va_end(ap);
}

void
kg_reply_db_unavailable(struct kg_ctx *ctx)
{
  u_map_put(ctx->resp->map_header, "Retry-After", KG_RETRY_AFTER);
  kg_reply_problem(ctx, 503, "the database is unavailable; retry shortly");
}

void
kg_reply_tx_failure(struct kg_ctx *ctx, enum kg_qs qs)
{
  if (KG_QS_REPLIED == qs)
    return;
  if (KG_QS_INTERNAL_ERROR == qs) {
    /* Not the database: retrying will not help, and the log says what it was. */
    /* clang-format off */
    kg_log(KG_LOG_ERROR, json_pack("{s:s,s:s}", "event", "internal_error", "request_id",
                                   ctx->request_id), "internal error answering %s",
           /* clang-format on */
           ctx->request_id);
    kg_reply_problem(ctx, 500, "internal error (request %s is logged)", ctx->request_id);
    return;
  }
  kg_reply_db_unavailable(ctx);
}

void
kg_reply_tx_document(struct kg_ctx *ctx, enum kg_qs qs, unsigned int status, json_t *doc)
{
  if (KG_QS_OK != qs) {
    json_decref(doc); /* possibly built by an attempt whose commit failed */
    kg_reply_tx_failure(ctx, qs);
    return;
  }
  kg_reply_json(ctx, status, doc);
}

void
kg_reply_tx_no_content(struct kg_ctx *ctx, enum kg_qs qs)
{
  if (KG_QS_OK != qs)
    kg_reply_tx_failure(ctx, qs);
  else
    kg_reply_no_content(ctx);
}

void
kg_errors_init(struct kg_errors *e)
{
  e->list = json_array();
  e->wrong_type = false;
}

void
kg_errors_add(struct kg_errors *e, bool wrong_type, const char *field, const char *fmt, ...)
{
  char message[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(message, sizeof(message), fmt, ap);
  va_end(ap);
  e->wrong_type |= wrong_type;
  json_t *f = json_string(field);
  json_t *m = json_string(message);
  /* clang-format off */
  json_array_append_new(e->list, json_pack("{s:o,s:o}", "field", f ? f : json_string("?"),
                                           "message", m ? m : json_string("invalid")));
  /* clang-format on */
}

bool
kg_errors_reply(struct kg_ctx *ctx, struct kg_errors *e)
{
  size_t n = json_array_size(e->list);

  if (0 == n) {
    json_decref(e->list);
    e->list = NULL;
    return false;
  }
  unsigned int status = e->wrong_type ? 400 : 422;
  const char *first = json_string_value(json_object_get(json_array_get(e->list, 0), "field"));
  json_t *extra = json_pack("{s:o}", "errors", e->list);
  e->list = NULL;
  kg_reply_problem_with(ctx, status, extra, "%s: %zu field%s invalid (first: %s)",
                        400 == status ? "wrong type" : "invalid value", n, 1 == n ? "" : "s",
                        first ? first : "?");
  return true;
}
