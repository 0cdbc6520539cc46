/**
 * @file events_json.c
 * @brief Event-12290 records in JSON: application/json (an array of records,
 *        or one Windows event object) and application/x-ndjson (one per line).
 *
 * Each record is either kmsgate's own (cmid, client, requested_at...) or a
 * Windows event as a tool wrote it (events_winevent.c), told apart one by one.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_internal.h"
#include "timeutil.h"

/** Longest part of an unknown field name quoted back in an error. */
#define KG_EVENTS_KEY_QUOTE_MAX 40

enum json_field {
  JF_CMID,
  JF_CLIENT,
  JF_REQUESTED_AT,
  JF_HRESULT,
  JF_REQUIRED_COUNT,
  JF_IS_VM,
  JF_LICENSE_STATUS,
  JF_MINUTES_TO_EXPIRY,
  JF_ACTIVATION_ID,
  JF_COUNT
};

/* clang-format off */
static const char *const json_field_names[JF_COUNT] = {
  "cmid", "client", "requested_at", "hresult", "required_count", "is_vm",
  "license_status", "minutes_to_expiry", "activation_id"
};
/* clang-format on */

/**
 * Writes "unknown field '<key>'" with the key made printable: the key may
 * hold NULs, quotes or any UTF-8, and the message ends up in logs and JSON.
 */
static const char *
unknown_field_error(const char *key, size_t key_len, char *buf, size_t buf_len)
{
  char quoted[KG_EVENTS_KEY_QUOTE_MAX + 4];
  size_t n = (key_len > KG_EVENTS_KEY_QUOTE_MAX) ? KG_EVENTS_KEY_QUOTE_MAX : key_len;

  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char) key[i];

    quoted[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
  }
  if (key_len > n) {
    memcpy(quoted + n, "...", 3);
    n += 3;
  }
  quoted[n] = '\0';
  snprintf(buf, buf_len, "unknown field '%s'", quoted);
  return buf;
}

/** Reads an hresult given as a "0x" hex string or an integer. @return NULL or the reason */
static const char *
hresult_from_json(json_t *v, uint32_t *out)
{
  json_int_t i;

  if (json_is_string(v)) {
    if (!kg_ev_parse_hresult(json_string_value(v), json_string_length(v), out))
      return "hresult: not 0x and 1 to 8 hex digits";
    return NULL;
  }
  if (!json_is_integer(v))
    return "hresult: not a 0x hex string or an integer";
  i = json_integer_value(v);
  if (i < 0 || i > 0xFFFFFFFFLL)
    return "hresult: out of range 0 to 0xFFFFFFFF";
  *out = (uint32_t) i;
  return NULL;
}

/**
 * Fills the optional members of @a ev from their JSON values.
 * @param slot the record's values by field, NULL when absent
 * @return NULL, or the reason naming the field
 */
static const char *
optional_fields(json_t *const slot[JF_COUNT], struct kg_event *ev)
{
  json_t *v;

  /* null means absent, as exporters often write it */
  v = slot[JF_HRESULT];
  if (NULL != v && !json_is_null(v)) {
    const char *err = hresult_from_json(v, &ev->hresult);

    if (NULL != err)
      return err;
    ev->has_hresult = true;
  }

  v = slot[JF_REQUIRED_COUNT];
  if (NULL != v && !json_is_null(v)) {
    if (!json_is_integer(v) || (25 != json_integer_value(v) && 5 != json_integer_value(v)))
      return "required_count: not 25 or 5";
    ev->required_count = (int32_t) json_integer_value(v);
    ev->has_required_count = true;
  }

  v = slot[JF_IS_VM];
  if (NULL != v && !json_is_null(v)) {
    if (json_is_boolean(v))
      ev->is_vm = json_is_true(v);
    else if (json_is_integer(v) && (0 == json_integer_value(v) || 1 == json_integer_value(v)))
      ev->is_vm = (1 == json_integer_value(v));
    else
      return "is_vm: not a boolean, 0 or 1";
    ev->has_is_vm = true;
  }

  v = slot[JF_LICENSE_STATUS];
  if (NULL != v && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 6)
      return "license_status: not an integer 0 to 6";
    ev->license_status = (int32_t) json_integer_value(v);
    ev->has_license_status = true;
  }

  v = slot[JF_MINUTES_TO_EXPIRY];
  if (NULL != v && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      return "minutes_to_expiry: not a non-negative integer";
    ev->minutes_to_expiry = (int64_t) json_integer_value(v);
    ev->has_minutes_to_expiry = true;
  }

  v = slot[JF_ACTIVATION_ID];
  if (NULL != v && !json_is_null(v)) {
    if (!json_is_string(v))
      return "activation_id: not a string";
    if (!kg_guid_normalize(json_string_value(v), json_string_length(v), ev->activation_id))
      return "activation_id: not a GUID";
    ev->has_activation_id = true;
  }
  return NULL;
}

/**
 * Fills @a ev from one JSON record.
 * @param errbuf room for a built message (unknown field names)
 * @return NULL on success (ev->client then allocated), else the reason
 *         (static, in @a errbuf, or #KG_EVENTS_ENOMEM)
 */
static const char *
event_from_json(json_t *rec, struct kg_event *ev, char *errbuf, size_t errbuf_len)
{
  json_t *slot[JF_COUNT] = { NULL };
  const char *key;
  size_t key_len;
  json_t *value;
  json_t *v;
  const char *err;

  memset(ev, 0, sizeof *ev);
  if (!json_is_object(rec))
    return "record: not a JSON object";
  json_object_keylen_foreach(rec, key, key_len, value)
  {
    size_t f;

    for (f = 0; f < JF_COUNT; f++)
      if (strlen(json_field_names[f]) == key_len && 0 == memcmp(json_field_names[f], key, key_len))
        break;
    if (JF_COUNT == f)
      return unknown_field_error(key, key_len, errbuf, errbuf_len);
    slot[f] = value;
  }

  v = slot[JF_CMID];
  if (NULL == v)
    return "cmid: missing";
  if (!json_is_string(v))
    return "cmid: not a string";
  if (!kg_guid_normalize(json_string_value(v), json_string_length(v), ev->cmid))
    return "cmid: not a GUID";

  v = slot[JF_CLIENT];
  if (NULL == v)
    return "client: missing";
  if (!json_is_string(v))
    return "client: not a string";
  switch (kg_ev_check_client(json_string_value(v), json_string_length(v))) {
    case KG_CLIENT_OK:
      break;
    case KG_CLIENT_EMPTY:
      return "client: empty";
    case KG_CLIENT_LONG:
      return "client: longer than 253 characters";
    case KG_CLIENT_CHAR:
    default:
      return "client: has a space, comma, control or non-ASCII character";
  }

  v = slot[JF_REQUESTED_AT];
  if (NULL == v)
    return "requested_at: missing";
  if (!json_is_string(v))
    return "requested_at: not a string";
  if (!kg_time_parse_rfc3339(json_string_value(v), json_string_length(v), &ev->requested_at_us))
    return "requested_at: not an RFC 3339 date-time";

  err = optional_fields(slot, ev);
  if (NULL != err)
    return err;

  /* last, so that no error above leaves an allocation behind */
  v = slot[JF_CLIENT];
  ev->client = kg_ev_dup(json_string_value(v), json_string_length(v));
  if (NULL == ev->client)
    return KG_EVENTS_ENOMEM;
  return NULL;
}

/* NUL bytes are allowed inside strings so that they reject one record
   ("client: has ... control character") rather than the whole body. */
#define KG_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/** Handles one decoded record (array element or NDJSON object). */
static enum kg_ev_step
json_record(struct kg_ev_builder *bd, size_t index, json_t *rec)
{
  struct kg_event ev;
  char errbuf[256];
  const char *err = kg_ev_is_winevent(rec)
                      ? kg_ev_winevent(rec, bd->zone, &ev, errbuf, sizeof errbuf)
                      : event_from_json(rec, &ev, errbuf, sizeof errbuf);

  return kg_ev_settle(bd, index, err, &ev);
}

/** The reason for a body jansson could not load. @return KG_STEP_NOMEM or KG_STEP_BAD_BODY */
static enum kg_ev_step
load_error(const json_error_t *jerr, const char **error)
{
  switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
      return KG_STEP_NOMEM;
    case json_error_duplicate_key:
      *error = "body is not valid JSON: an object has a duplicate key";
      break;
    case json_error_null_byte_in_key:
      *error = "body is not valid JSON: an object key holds a NUL";
      break;
    default:
      *error = "body is not valid JSON";
      break;
  }
  return KG_STEP_BAD_BODY;
}

static bool
is_json_space(char c)
{
  return ' ' == c || '\t' == c || '\r' == c || '\n' == c;
}

/**
 * Finds the end of the JSON value starting at @a p: past its closing bracket
 * for an object or array, else at the next ',', ']' or space outside
 * strings.  Only the extent is found here; jansson then parses the value
 * itself, so a malformed one is still refused.
 */
static const char *
value_end(const char *p, const char *end)
{
  size_t depth = 0;
  bool in_string = false;

  for (; p < end; p++) {
    char c = *p;

    if (in_string) {
      if ('\\' == c)
        p++;
      else if ('"' == c)
        in_string = false;
      if (0 == depth && !in_string)
        return p + 1;
    } else if ('"' == c)
      in_string = true;
    else if ('{' == c || '[' == c)
      depth++;
    else if ('}' == c || ']' == c) {
      if (0 == depth)
        return p;
      if (0 == --depth)
        return p + 1;
    } else if (0 == depth && (',' == c || is_json_space(c)))
      return p;
  }
  return end;
}

/** Parses one element of the top-level array (or the one bare object). */
static enum kg_ev_step
json_element(struct kg_ev_builder *bd, const char *s, size_t len, const char **error)
{
  json_error_t jerr;
  json_t *rec = json_loadb(s, len, KG_JSON_FLAGS | JSON_DECODE_ANY, &jerr);
  enum kg_ev_step st;
  size_t index;

  if (NULL == rec)
    return load_error(&jerr, error);
  st = kg_ev_next_record(bd, &index);
  if (KG_STEP_OK == st)
    st = json_record(bd, index, rec);
  json_decref(rec);
  return st;
}

/**
 * A JSON array of records, one element in memory at a time: a full export
 * as one array is hundreds of MiB, and its whole tree several times that.
 */
enum kg_ev_step
kg_ev_parse_json(struct kg_ev_builder *bd, const char *body, size_t len, const char **error)
{
  const char *end = body + len;
  const char *p = body;
  enum kg_ev_step st = KG_STEP_OK;
  bool first = true;

  while (p < end && is_json_space(*p))
    p++;
  while (end > p && is_json_space(end[-1]))
    end--;
  /* ConvertTo-Json writes one event as a bare object, not an array of one */
  if (p < end && '{' == *p) {
    json_error_t jerr;
    json_t *root = json_loadb(p, (size_t) (end - p), KG_JSON_FLAGS, &jerr);
    bool one = NULL != root && kg_ev_is_winevent(root);

    json_decref(root);
    if (NULL == root)
      return load_error(&jerr, error);
    if (one)
      return json_element(bd, p, (size_t) (end - p), error);
  }
  if (p == end || '[' != *p || ']' != end[-1]) {
    json_error_t jerr;
    json_t *root = json_loadb(p, (size_t) (end - p), KG_JSON_FLAGS | JSON_DECODE_ANY, &jerr);

    json_decref(root);
    if (NULL == root)
      return load_error(&jerr, error);
    *error = "body is not a JSON array";
    return KG_STEP_BAD_BODY;
  }
  end--; /* the closing ']' */
  for (p++; KG_STEP_OK == st; first = false) {
    const char *v;

    while (p < end && is_json_space(*p))
      p++;
    if (p == end)
      break;
    if (!first && ',' != *p++)
      return load_error(&(json_error_t){ .text = "" }, error);
    while (p < end && is_json_space(*p))
      p++;
    v = value_end(p, end);
    if (v == p)
      return load_error(&(json_error_t){ .text = "" }, error);
    st = json_element(bd, p, (size_t) (v - p), error);
    p = v;
  }
  return st;
}

/** A line holding only spaces, tabs and CRs is no record. */
static bool
is_blank_line(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (!kg_ev_is_blank(s[i]) && '\r' != s[i])
      return false;
  return true;
}

enum kg_ev_step
kg_ev_parse_ndjson(struct kg_ev_builder *bd, const char *body, size_t len)
{
  const char *end = body + len;
  const char *p;
  size_t lines = 0;
  enum kg_ev_step st = KG_STEP_OK;

  /* Count first, so that an oversized body fails before any decoding. */
  for (p = body; p < end;) {
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *stop = (NULL == nl) ? end : nl;

    if (!is_blank_line(p, (size_t) (stop - p)))
      lines++;
    p = (NULL == nl) ? end : nl + 1;
  }
  if (lines > bd->max_records)
    return KG_STEP_TOO_MANY;

  for (p = body; p < end && KG_STEP_OK == st;) {
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *stop = (NULL == nl) ? end : nl;
    size_t line_len = (size_t) (stop - p);
    const char *line = p;
    size_t index;
    json_error_t jerr;
    json_t *rec;

    p = (NULL == nl) ? end : nl + 1;
    if (is_blank_line(line, line_len))
      continue;
    st = kg_ev_next_record(bd, &index);
    if (KG_STEP_OK != st)
      break;
    rec = json_loadb(line, line_len, KG_JSON_FLAGS | JSON_DECODE_ANY, &jerr);
    if (NULL == rec) {
      char errbuf[64];

      if (json_error_out_of_memory == json_error_code(&jerr))
        return KG_STEP_NOMEM;
      if (json_error_duplicate_key == json_error_code(&jerr))
        snprintf(errbuf, sizeof errbuf, "record: duplicate key");
      else if (json_error_null_byte_in_key == json_error_code(&jerr))
        snprintf(errbuf, sizeof errbuf, "record: an object key holds a NUL");
      else
        snprintf(errbuf, sizeof errbuf, "record: not valid JSON (at byte %d of the line)",
                 jerr.position);
      st = kg_ev_reject(bd, index, errbuf);
      continue;
    }
    st = json_record(bd, index, rec);
    json_decref(rec);
  }
  return st;
}
