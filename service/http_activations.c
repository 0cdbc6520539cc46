/**
 * @file http_activations.c
 * @brief POST /v1/kms-hosts/{name}/activations (event-12290 ingest in JSON,
 *        NDJSON or the PowerShell CSV export) and .../observations (the
 *        host's own reported count).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db_activations.h"
#include "events.h"
#include "inventory.h"

static bool
content_type_format(const struct kg_ctx *ctx, enum kg_events_format *fmt)
{
  static const struct { const char *type; enum kg_events_format fmt; } types[] = {
    { "application/json", KG_EVENTS_JSON },
    { "application/x-ndjson", KG_EVENTS_NDJSON },
    { "text/csv", KG_EVENTS_CSV },
    { "application/xml", KG_EVENTS_XML },
    { "text/xml", KG_EVENTS_XML },
  };
  const char *ct = kg_header(ctx, "Content-Type");
  if (NULL == ct)
    return false;
  size_t n = strcspn(ct, "; \t");
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (strlen(types[i].type) == n && 0 == strncasecmp(ct, types[i].type, n)) {
      *fmt = types[i].fmt;
      return true;
    }
  return false;
}

struct ingest_tx {
  struct kg_ctx *ctx;
  const char *host;
  const struct kg_events_batch *batch;
  struct kg_ingest_result result;
};

static enum kg_qs
ingest_transaction(struct kg_db *db, void *cls)
{
  struct ingest_tx *tx = cls;
  struct kg_host_row host;
  enum kg_qs qs = kg_host_find(tx->ctx, db, tx->host, &host);

  if (KG_QS_OK != qs)
    return qs;
  return kg_db_ingest(db, host.id, tx->batch->events, tx->batch->n_events, &tx->result);
}

static json_t *
ingest_document(const struct kg_events_batch *batch, const struct kg_ingest_result *result)
{
  json_t *rejected = json_array();
  for (size_t i = 0; NULL != rejected && i < batch->n_rejected; i++)
    json_array_append_new(rejected, json_pack("{s:I,s:s}", "index", (json_int_t) batch->rejected[i].index,
                                              "error", batch->rejected[i].error));
  return json_pack("{s:I,s:I,s:o,s:I,s:I,s:I}",
                   "accepted", (json_int_t) result->inserted,
                   "duplicates", (json_int_t) ((long long) batch->n_events - result->inserted),
                   "rejected", rejected,
                   "skipped", (json_int_t) batch->n_skipped,
                   "records", (json_int_t) batch->n_records,
                   "desktops_linked", (json_int_t) result->desktops_linked);
}

static void
handle_activations(struct kg_ctx *ctx)
{
  char host[KG_HOSTNAME_BUFSZ];
  enum kg_events_format fmt;
  struct kg_events_batch batch;
  const char *error = NULL;

  if (!kg_path_hostname(ctx, "name", host, "KMS host"))
    return;
  if (!content_type_format(ctx, &fmt)) {
    kg_reply_problem(ctx, 415, "send application/json, application/x-ndjson or text/csv");
    return;
  }
  if (0 != kg_events_parse(fmt, ctx->req->binary_body, ctx->req->binary_body_length,
                           KG_EVENTS_MAX_RECORDS, &batch, &error)) {
    bool too_many = NULL != error && NULL != strstr(error, "more than");
    kg_reply_problem(ctx, too_many ? 413 : 400, "%s", error ? error : "unreadable body");
    return;
  }
  if (0 != kg_events_reject_future(&batch, (int64_t) time(NULL) * 1000000)) {
    kg_events_batch_free(&batch);
    kg_reply_problem(ctx, 500, "out of memory");
    return;
  }
  /* Client names are matched to desktop hostnames, which are stored lowercase. */
  for (size_t i = 0; i < batch.n_events; i++)
    for (char *p = batch.events[i].client; '\0' != *p; p++)
      *p = (char) tolower((unsigned char) *p);
  struct ingest_tx tx = { .ctx = ctx, .host = host, .batch = &batch };
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "ingest", KG_READ_COMMITTED, ingest_transaction, &tx);
  kg_reply_tx_document(ctx, qs, 200, KG_QS_OK == qs ? ingest_document(&batch, &tx.result) : NULL);
  kg_events_batch_free(&batch);
}

struct observation_tx {
  struct kg_ctx *ctx;
  const char *host;
  long long count;
  int64_t at;
  long long modelled;
};

static enum kg_qs
observation_transaction(struct kg_db *db, void *cls)
{
  struct observation_tx *tx = cls;
  struct kg_host_row host;
  enum kg_qs qs = kg_host_find(tx->ctx, db, tx->host, &host);

  if (KG_QS_OK != qs)
    return qs;
  return kg_db_observation_insert(db, host.id, tx->count, tx->at, &tx->modelled);
}

static json_t *
observation_document(const struct observation_tx *tx)
{
  return json_pack("{s:s,s:I,s:o,s:I,s:I}", "kms_host", tx->host,
                   "count", (json_int_t) tx->count, "at", kg_json_time(tx->at),
                   "modelled", (json_int_t) tx->modelled,
                   "difference", (json_int_t) (tx->count - tx->modelled));
}

static void
handle_observations(struct kg_ctx *ctx)
{
  static const char *const allowed[] = { "count", "at", NULL };
  char host[KG_HOSTNAME_BUFSZ];
  struct kg_errors e;
  json_int_t count = 0;
  int64_t at_us = 0;

  if (!kg_path_hostname(ctx, "name", host, "KMS host"))
    return;
  kg_errors_init(&e);
  kg_input_only(ctx->body, allowed, "", &e);
  kg_input_int(ctx->body, "count", true, 0, 100000, &e, &count);
  bool has_at = kg_input_time(ctx->body, "at", false, &e, &at_us);
  if (kg_errors_reply(ctx, &e))
    return;
  struct observation_tx tx = { .ctx = ctx, .host = host, .count = count,
                               .at = has_at ? at_us / 1000000 : (int64_t) time(NULL) };
  enum kg_qs qs = kg_db_run_transaction(ctx->db, "observation", KG_READ_COMMITTED,
                                        observation_transaction, &tx);
  kg_reply_tx_document(ctx, qs, 201, KG_QS_OK == qs ? observation_document(&tx) : NULL);
}

const struct kg_route kg_routes_activations[] = {
  { "POST", "/v1/kms-hosts/:name/activations", KG_ROLE_HOOK, KG_BODY_RAW, KG_MAX_INGEST_BODY,
    handle_activations },
  { "POST", "/v1/kms-hosts/:name/observations", KG_ROLE_HOOK, KG_BODY_JSON, KG_MAX_BODY,
    handle_observations },
  { NULL, NULL, 0, 0, 0, NULL },
};
