/**
 * @file http_activations.c
 * @brief POST /v1/kms-hosts/{name}/activations (event-12290 ingest in JSON,
 *        NDJSON or the PowerShell CSV export) and .../observations (the
 *        host's own reported count).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db_activations.h"
#include "db_servers.h"
#include "events.h"
#include "inventory.h"
#include "tzif.h"

/** Records stored per transaction: what the ingest statement was tuned for (db_activations.c). */
#define KG_INGEST_BATCH 10000

static bool
content_type_format(const struct kg_ctx *ctx, enum kg_events_format *fmt)
{
  static const struct {
    const char *type;
    enum kg_events_format fmt;
  } types[] = {
    { "application/json", KG_EVENTS_JSON }, { "application/x-ndjson", KG_EVENTS_NDJSON },
    { "text/csv", KG_EVENTS_CSV },          { "application/xml", KG_EVENTS_XML },
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

/** The zone and culture an upload states for its times without an offset. */
struct ingest_zone {
  struct kg_tz tz;
  struct kg_events_time time;
};

/** "+01:00", "-05:30", "+0100" ('+' may arrive as a space: form decoding). @return success */
static bool
parse_utc_offset(const char *s, int32_t *offset_s)
{
  int sign = ('-' == s[0]) ? -1 : 1;
  int h, m;
  size_t len = strlen(s);

  if ('+' != s[0] && '-' != s[0] && ' ' != s[0])
    return false;
  if (6 == len && ':' == s[3] && isdigit((unsigned char) s[4]))
    m = (s[4] - '0') * 10 + (s[5] - '0');
  else if (5 == len && isdigit((unsigned char) s[3]))
    m = (s[3] - '0') * 10 + (s[4] - '0');
  else
    return false;
  if (!isdigit((unsigned char) s[1]) || !isdigit((unsigned char) s[2])
      || !isdigit((unsigned char) s[len - 1]) || !isdigit((unsigned char) s[len - 2]))
    return false;
  h = (s[1] - '0') * 10 + (s[2] - '0');
  if (h > 14 || m > 59)
    return false;
  *offset_s = sign * (h * 3600 + m * 60);
  return true;
}

/**
 * Reads the query parameters time_zone (an IANA name), utc_offset and
 * culture (en-US or invariant); replies 400 for a bad one.
 * @return false when it replied
 */
static bool
read_zone(struct kg_ctx *ctx, struct ingest_zone *z)
{
  const char *name = kg_param(ctx, "time_zone");
  const char *offset = kg_param(ctx, "utc_offset");
  const char *culture = kg_param(ctx, "culture");
  const char *err;

  memset(z, 0, sizeof *z);
  if (NULL != name && NULL != offset) {
    kg_reply_problem(ctx, 400, "give time_zone or utc_offset, not both");
    return false;
  }
  if (NULL != name && NULL != (err = kg_tz_load(name, &z->tz))) {
    kg_reply_problem(ctx, 400, "time_zone: %s", err);
    return false;
  }
  if (NULL != offset && !parse_utc_offset(offset, &z->time.offset_s)) {
    kg_reply_problem(ctx, 400, "utc_offset: not +hh:mm or -hh:mm (at most 14 hours)");
    return false;
  }
  z->time.given = NULL != name || NULL != offset;
  z->time.tz = (NULL != name) ? &z->tz : NULL;
  if (NULL != culture && 0 == strcasecmp(culture, "en-US"))
    z->time.culture = KG_CULTURE_EN_US;
  else if (NULL != culture && 0 == strcasecmp(culture, "invariant"))
    z->time.culture = KG_CULTURE_INVARIANT;
  else if (NULL != culture) {
    kg_tz_free(&z->tz);
    kg_reply_problem(ctx, 400, "culture: en-US or invariant");
    return false;
  }
  return true;
}

/** What the batches of an upload stored, summed. */
struct ingest_sum {
  size_t batches;
  long long events;   /**< accepted records handed to the database */
  long long inserted; /**< of which new */
  long long linked;
  long long unmapped;
  json_t *by_family; /**< {family: records} */
  json_t *ambiguous; /**< short client names, at most 100 */
  size_t records;    /**< records read up to the last stored batch's last event */
};

/** An upload for a KMS host (its server's log, by its family) or for a server. */
struct ingest_tx {
  struct kg_ctx *ctx;
  bool by_host; /**< name is a host, not a server */
  char name[KG_HOSTNAME_BUFSZ];
  struct kg_event *events; /**< the batch being stored */
  size_t n;
  struct kg_ingest_result result; /**< the batch's */
  struct ingest_sum sum;
  enum kg_qs failed; /**< why the upload stopped, when a batch failed */
};

/**
 * Where the batch is stored and how events without an activation ID count:
 * for a host, its server and family; for a server (which some host must
 * name), the server and windows (docs/model.md §5.2).
 */
static enum kg_qs
ingest_target(struct ingest_tx *tx, struct kg_db *db, char *server, const char **hint)
{
  static const char *const families[] = { "windows", "office2010", "office" };
  struct kg_host_row host;
  bool found;
  enum kg_qs qs;

  if (!tx->by_host) {
    qs = kg_db_server_exists(db, tx->name, &found);
    if (KG_QS_OK == qs && !found) {
      kg_reply_problem(tx->ctx, 404, "no KMS host names server '%s'", tx->name);
      return KG_QS_REPLIED;
    }
    snprintf(server, KG_HOSTNAME_BUFSZ, "%s", tx->name);
    *hint = families[0];
    return qs;
  }
  qs = kg_host_find(tx->ctx, db, tx->name, &host);
  if (KG_QS_OK != qs)
    return qs;
  snprintf(server, KG_HOSTNAME_BUFSZ, "%s", host.server);
  *hint = families[0];
  for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
    if (0 == strcmp(host.family, families[i]))
      *hint = families[i];
  return KG_QS_OK;
}

static enum kg_qs
ingest_transaction(struct kg_db *db, void *cls)
{
  struct ingest_tx *tx = cls;
  char server[KG_HOSTNAME_BUFSZ];
  const char *hint;
  enum kg_qs qs = ingest_target(tx, db, server, &hint);

  if (KG_QS_OK != qs)
    return qs;
  kg_ingest_result_clear(&tx->result);
  return kg_db_ingest(db, server, hint, tx->events, tx->n, &tx->result);
}

/** Adds one batch's result to the upload's. @return false when out of memory */
static bool
add_result(struct ingest_sum *sum, const struct kg_ingest_result *r)
{
  const char *family;
  json_t *v;
  size_t i;

  sum->inserted += r->inserted;
  sum->linked += r->desktops_linked;
  sum->unmapped += r->unmapped;
  json_object_foreach(r->by_family, family, v)
  {
    json_int_t had = json_integer_value(json_object_get(sum->by_family, family));

    if (0 != json_object_set_new(sum->by_family, family, json_integer(had + json_integer_value(v))))
      return false;
  }
  json_array_foreach(r->ambiguous_clients, i, v)
  {
    bool known = false;

    for (size_t j = 0; j < json_array_size(sum->ambiguous) && !known; j++)
      known = json_equal(v, json_array_get(sum->ambiguous, j));
    if (!known && json_array_size(sum->ambiguous) < 100
        && 0 != json_array_append(sum->ambiguous, v))
      return false;
  }
  return true;
}

/**
 * Stores one batch in its own transaction (kg_events_opts.flush): a large
 * upload holds locks and memory for one batch at a time, and a failure
 * leaves the batches before it stored, which a re-send finds as duplicates.
 */
static int
store_batch(void *cls, struct kg_event *events, size_t n)
{
  struct ingest_tx *tx = cls;
  enum kg_qs qs;

  /* Client names are matched to desktop hostnames, which are stored lowercase. */
  for (size_t i = 0; i < n; i++)
    for (char *p = events[i].client; '\0' != *p; p++)
      *p = (char) tolower((unsigned char) *p);
  tx->events = events;
  tx->n = n;
  qs = kg_db_run_transaction(tx->ctx->db, "ingest", KG_READ_COMMITTED, ingest_transaction, tx);
  if (KG_QS_OK == qs && !add_result(&tx->sum, &tx->result))
    qs = KG_QS_INTERNAL_ERROR;
  kg_ingest_result_clear(&tx->result);
  if (KG_QS_OK != qs) {
    tx->failed = qs;
    return -1;
  }
  tx->sum.batches++;
  tx->sum.events += (long long) n;
  if (n > 0)
    tx->sum.records = events[n - 1].index + 1;
  return 0;
}

static json_t *
ingest_document(const struct kg_events_batch *batch, const struct ingest_sum *sum)
{
  json_t *rejected = json_array();
  /* clang-format off */
  for (size_t i = 0; NULL != rejected && i < batch->n_rejected; i++)
    json_array_append_new(rejected, json_pack("{s:I,s:s}", "index", (json_int_t) batch->rejected[i].index,
                                              "error", batch->rejected[i].error));
  return json_pack("{s:I,s:I,s:o,s:I,s:I,s:I,s:O,s:I,s:O}",
                   "accepted", (json_int_t) sum->inserted,
                   "duplicates", (json_int_t) (sum->events - sum->inserted),
                   "rejected", rejected,
                   "skipped", (json_int_t) batch->n_skipped,
                   "records", (json_int_t) batch->n_records,
                   "desktops_linked", (json_int_t) sum->linked,
                   "by_family", sum->by_family,
                   "unmapped", (json_int_t) sum->unmapped,
                   "ambiguous_clients", sum->ambiguous);
  /* clang-format on */
}

/**
 * Answers an upload that stopped: the body was unusable (@a error), or a
 * batch could not be stored (tx->failed).  When batches were stored before,
 * the answer says how many: a re-send stores the rest, those as duplicates.
 */
static void
reply_stopped(struct ingest_tx *tx, const char *error)
{
  char stored[200] = "";
  unsigned int status = 400;

  if (KG_QS_REPLIED == tx->failed)
    return;
  /* clang-format off */
  if (tx->sum.batches > 0)
    snprintf(stored, sizeof stored,
             "; %lld new records of the first %zu were stored before this: re-send the upload"
             " (stored records count as duplicates)",
             /* clang-format on */
             tx->sum.inserted, tx->sum.records);
  if (KG_EVENTS_EFLUSH == error && KG_QS_INTERNAL_ERROR == tx->failed)
    status = 500;
  else if (KG_EVENTS_EFLUSH == error)
    status = 503;
  else if (NULL != error && NULL != strstr(error, "more than"))
    status = 413;
  if (503 == status)
    u_map_put(tx->ctx->resp->map_header, "Retry-After", KG_RETRY_AFTER);
  if (KG_EVENTS_EFLUSH == error)
    kg_reply_problem(tx->ctx, status, "storing the records failed (%s)%s",
                     503 == status ? "the database is unavailable" : "internal error", stored);
  else
    kg_reply_problem(tx->ctx, status, "%s%s", NULL != error ? error : "unreadable body", stored);
}

/** Parses and stores the body batch by batch, then answers. */
static void
ingest_body(struct ingest_tx *tx, enum kg_events_format fmt, const struct kg_events_time *zone)
{
  struct kg_ctx *ctx = tx->ctx;
  /* clang-format off */
  struct kg_events_opts opts = { .zone = zone, .now_us = (int64_t) time(NULL) * 1000000,
                                 .flush = store_batch, .cls = tx,
                                 .batch_size = KG_INGEST_BATCH };
  /* clang-format on */
  struct kg_events_batch batch;
  const char *error = NULL;

  tx->sum.by_family = json_object();
  tx->sum.ambiguous = json_array();
  if (NULL == tx->sum.by_family || NULL == tx->sum.ambiguous)
    kg_reply_problem(ctx, 500, "out of memory");
  else if (0
           != kg_events_parse_with(fmt, ctx->req->binary_body, ctx->req->binary_body_length,
                                   KG_EVENTS_MAX_UPLOAD_RECORDS, &opts, &batch, &error))
    reply_stopped(tx, error);
  else {
    /* No record to store still finds the host (404) or server as an upload would. */
    if (0 == tx->sum.batches && 0 != store_batch(tx, NULL, 0))
      kg_reply_tx_failure(ctx, tx->failed);
    else
      kg_reply_json(ctx, 200, ingest_document(&batch, &tx->sum));
    kg_events_batch_free(&batch);
  }
  json_decref(tx->sum.by_family);
  json_decref(tx->sum.ambiguous);
}

/**
 * POST /v1/kms-hosts/{name}/activations and /v1/kms-servers/{server}/activations.
 * @param ctx the request
 * @param by_host whether the path names a host
 */
static void
ingest(struct kg_ctx *ctx, bool by_host)
{
  struct ingest_tx tx = { .ctx = ctx, .by_host = by_host };
  enum kg_events_format fmt;
  struct ingest_zone zone;

  if (!kg_path_hostname(ctx, by_host ? "name" : "server", tx.name,
                        by_host ? "KMS host" : "KMS server"))
    return;
  if (!content_type_format(ctx, &fmt)) {
    kg_reply_problem(ctx, 415,
                     "send application/json, application/x-ndjson, text/csv or application/xml");
    return;
  }
  if (!read_zone(ctx, &zone))
    return;
  ingest_body(&tx, fmt, &zone.time);
  kg_tz_free(&zone.tz);
}

static void
handle_host_activations(struct kg_ctx *ctx)
{
  ingest(ctx, true);
}

static void
handle_server_activations(struct kg_ctx *ctx)
{
  ingest(ctx, false);
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
  /* clang-format off */
  return json_pack("{s:s,s:I,s:o,s:I,s:I}", "kms_host", tx->host,
                   "count", (json_int_t) tx->count, "at", kg_json_time(tx->at),
                   "modelled", (json_int_t) tx->modelled,
                   "difference", (json_int_t) (tx->count - tx->modelled));
  /* clang-format on */
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
  /* clang-format off */
  struct observation_tx tx = { .ctx = ctx, .host = host, .count = count,
                               .at = has_at ? at_us / 1000000 : (int64_t) time(NULL) };
  /* clang-format on */
  enum kg_qs qs =
    kg_db_run_transaction(ctx->db, "observation", KG_READ_COMMITTED, observation_transaction, &tx);
  kg_reply_tx_document(ctx, qs, 201, KG_QS_OK == qs ? observation_document(&tx) : NULL);
}

/* clang-format off */
const struct kg_route kg_routes_activations[] = {
  { "POST", "/v1/kms-hosts/:name/activations", KG_ROLE_HOOK, KG_BODY_RAW, KG_MAX_INGEST_BODY,
    handle_host_activations, "time_zone utc_offset culture" },
  { "POST", "/v1/kms-servers/:server/activations", KG_ROLE_HOOK, KG_BODY_RAW, KG_MAX_INGEST_BODY,
    handle_server_activations, "time_zone utc_offset culture" },
  { "POST", "/v1/kms-hosts/:name/observations", KG_ROLE_HOOK, KG_BODY_JSON, KG_MAX_BODY,
    handle_observations, NULL },
  { NULL, NULL, 0, 0, 0, NULL, NULL },
};
/* clang-format on */
