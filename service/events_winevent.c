/**
 * @file events_winevent.c
 * @brief Windows event records as the tools admins already run write them in
 *        JSON: PowerShell's Get-WinEvent | ConvertTo-Json, Winlogbeat (Elastic
 *        ECS), NXLog's to_json() and Fluent Bit's winevtlog input.
 *
 * They share a shape: an event id, the time the host logged the event and
 * the rendered message, whose last line is the info string; when a shipper
 * could not render the message, the event's data carries the info string
 * (one field, as KMS logs it) or its 9 fields.  Each tool names these
 * members its own way; the first one present, in the order of the tables
 * below, is used.  Other members are ignored: shippers add dozens.
 */
#include <stdio.h>
#include <string.h>

#include "events_internal.h"

/** A member of the record, one level deep (parent NULL) or two ("winlog.event_id"). */
struct member {
  const char *parent;
  const char *name;
  const char *bad; /**< the reason when its value has the wrong form */
};

/* clang-format off */
static const struct member id_members[] = {
  { NULL, "Id", "Id: not an event id" },                         /* ConvertTo-Json */
  { NULL, "EventID", "EventID: not an event id" },               /* NXLog, Fluent Bit */
  { "winlog", "event_id", "winlog.event_id: not an event id" },  /* Winlogbeat */
  { "event", "code", "event.code: not an event id" },            /* Elastic ECS */
};

static const struct member time_members[] = {
  { NULL, "TimeCreated", "TimeCreated: not a date-time" },       /* ConvertTo-Json, Fluent Bit */
  { NULL, "EventTime", "EventTime: not a date-time" },           /* NXLog */
  { NULL, "@timestamp", "@timestamp: not a date-time" },         /* Winlogbeat */
};

static const struct member message_members[] = {
  { NULL, "Message", "Message: not a string" },
  { NULL, "message", "message: not a string" },
};

/** Members that only an event record has (kmsgate's own records have cmid). */
static const char *const event_keys[] = {
  "Message", "message", "Properties", "StringInserts", "EventID", "winlog",
  "EventTime", "@timestamp", "TimeCreated",
};
/* clang-format on */

/** kg_ev_info_from_message()'s answer for a blank message; compared by pointer. */
static const char blank_message[] = "Message: blank";

/* clang-format off */
#define COUNT(a) (sizeof (a) / sizeof (a)[0])
/* clang-format on */

bool
kg_ev_is_winevent(json_t *rec)
{
  if (!json_is_object(rec) || NULL != json_object_get(rec, "cmid"))
    return false;
  for (size_t i = 0; i < COUNT(event_keys); i++)
    if (NULL != json_object_get(rec, event_keys[i]))
      return true;
  return false;
}

/**
 * Finds the first member of @a table present in @a rec (a JSON null counts
 * as absent, as exporters write it).
 * @return the value, or NULL; *which receives its table entry
 */
static json_t *
find_member(json_t *rec, const struct member *table, size_t n, const struct member **which)
{
  for (size_t i = 0; i < n; i++) {
    json_t *v = rec;

    if (NULL != table[i].parent)
      v = json_object_get(rec, table[i].parent);
    v = json_is_object(v) ? json_object_get(v, table[i].name) : NULL;
    if (NULL != v && !json_is_null(v)) {
      *which = &table[i];
      return v;
    }
  }
  return NULL;
}

/** @return NULL for event 12290, KG_EV_SKIP for another event, else the reason */
static const char *
check_id(json_t *rec)
{
  const struct member *m;
  json_t *v = find_member(rec, id_members, COUNT(id_members), &m);

  if (NULL == v)
    return "Id: missing (nor EventID, winlog.event_id or event.code)";
  if (json_is_integer(v)) {
    json_int_t id = json_integer_value(v);

    if (id < 0 || id > 65535)
      return m->bad;
    return (KG_EVENT_ID_ACTIVATION == id) ? NULL : KG_EV_SKIP;
  }
  if (json_is_string(v))
    return kg_ev_check_event_id(json_string_value(v), json_string_length(v), m->bad);
  return m->bad;
}

/** Reads the time the host logged the event. @return NULL or the reason */
static const char *
read_time(json_t *rec, int64_t *at_us)
{
  const struct member *m;
  json_t *v = find_member(rec, time_members, COUNT(time_members), &m);

  if (NULL == v)
    return "TimeCreated: missing (nor EventTime or @timestamp)";
  /* Windows PowerShell 5.1 may write a DateTime as {"value": "/Date(...)/", "DateTime": ...} */
  if (json_is_object(v))
    v = json_object_get(v, "value");
  if (!json_is_string(v) || !kg_ev_parse_time(json_string_value(v), json_string_length(v), at_us))
    return m->bad;
  return NULL;
}

/** One data field as text: strings as they are, numbers and booleans written out. */
struct field_text {
  char buf[24];
};

/**
 * Gives the text of data value @a v, the @a i-th field.  An HRESULT logged as
 * a number (field 0) is written as "0x..." hex, as the info string has it.
 * @return false when the value is no string, number or boolean
 */
static bool
field_text(json_t *v, size_t i, struct field_text *t, const char **s, size_t *len)
{
  if (json_is_string(v)) {
    *s = json_string_value(v);
    *len = json_string_length(v);
    return true;
  }
  if (json_is_integer(v))
    snprintf(t->buf, sizeof t->buf, (0 == i) ? "0x%llX" : "%lld",
             (long long) json_integer_value(v));
  else if (json_is_boolean(v))
    snprintf(t->buf, sizeof t->buf, "%d", json_is_true(v) ? 1 : 0);
  else
    return false;
  *s = t->buf;
  *len = strlen(t->buf);
  return true;
}

/**
 * Collects the event's data values: Properties[].Value (ConvertTo-Json),
 * StringInserts[] (Fluent Bit) or winlog.event_data.param1..9 (Winlogbeat,
 * which names unnamed data so).
 * @param[out] values up to KG_INFO_FIELDS values
 * @return the number of values (more than KG_INFO_FIELDS means too many),
 *         or 0 when the record has no event data
 */
static size_t
data_values(json_t *rec, json_t *values[KG_INFO_FIELDS], const char **field)
{
  json_t *v = json_object_get(rec, "Properties");
  size_t n = 0;

  *field = "Properties";
  if (!json_is_array(v)) {
    v = json_object_get(rec, "StringInserts");
    *field = "StringInserts";
  }
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v) && i < KG_INFO_FIELDS; i++) {
      json_t *e = json_array_get(v, i);

      values[i] = json_is_object(e) ? json_object_get(e, "Value") : e;
    }
    return json_array_size(v);
  }
  *field = "winlog.event_data";
  v = json_object_get(json_object_get(rec, "winlog"), "event_data");
  for (n = 0; json_is_object(v) && n <= KG_INFO_FIELDS; n++) {
    char key[16];

    snprintf(key, sizeof key, "param%zu", n + 1);
    if (NULL == json_object_get(v, key))
      break;
    if (n < KG_INFO_FIELDS)
      values[n] = json_object_get(v, key);
  }
  return n;
}

/** Fills @a ev from the event's data fields. @return NULL or the reason */
static const char *
from_data(json_t *rec, struct kg_event *ev, char *errbuf, size_t errbuf_len)
{
  json_t *values[KG_INFO_FIELDS] = { NULL };
  const char *field[KG_INFO_FIELDS];
  size_t flen[KG_INFO_FIELDS];
  struct field_text text[KG_INFO_FIELDS];
  const char *name;
  size_t n = data_values(rec, values, &name);

  if (0 == n)
    return "Message: missing, and no event data (Properties, StringInserts or winlog.event_data)";
  if (1 != n && KG_INFO_FIELDS != n) {
    snprintf(errbuf, errbuf_len, "%s: %zu values, expected the info string or its 9 fields", name,
             n);
    return errbuf;
  }
  for (size_t i = 0; i < n; i++)
    if (!field_text(values[i], i, &text[i], &field[i], &flen[i])) {
      snprintf(errbuf, errbuf_len, "%s: value %zu is not a string or a number", name, i + 1);
      return errbuf;
    }
  if (1 == n)
    return kg_events_parse_info(field[0], flen[0], ev);
  return kg_ev_info_fields(field, flen, ev);
}

const char *
kg_ev_winevent(json_t *rec, struct kg_event *ev, char *errbuf, size_t errbuf_len)
{
  const struct member *m;
  json_t *msg;
  const char *err;

  memset(ev, 0, sizeof *ev);
  err = check_id(rec);
  if (NULL != err)
    return err;
  err = read_time(rec, &ev->requested_at_us);
  if (NULL != err)
    return err;
  msg = find_member(rec, message_members, COUNT(message_members), &m);
  if (NULL != msg && !json_is_string(msg))
    return m->bad;
  /* A shipper that could not render the message writes it empty or blank. */
  if (NULL != msg) {
    err =
      kg_ev_info_from_message(json_string_value(msg), json_string_length(msg), blank_message, ev);
    if (blank_message != err)
      return err;
  }
  return from_data(rec, ev, errbuf, errbuf_len);
}
