/**
 * @file events_winevent.c
 * @brief Windows event records as the tools admins already run write them in
 *        JSON: PowerShell's Get-WinEvent | ConvertTo-Json, Winlogbeat (Elastic
 *        ECS, and 5/6 before it), NXLog's to_json() and Fluent Bit's
 *        winevtlog (also as XML) and winlog inputs.
 *
 * They share a shape: an event id, the time the host logged the event and
 * the rendered message, whose last line is the info string; when a shipper
 * could not render the message, the event's data carries it (the info
 * string and its 9 fields: see events_data.c).  Each tool names these
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
  { NULL, "event_id", "event_id: not an event id" },             /* Winlogbeat 5/6 */
};

static const struct member time_members[] = {
  { NULL, "TimeCreated", "TimeCreated: not a date-time" },       /* ConvertTo-Json, Fluent Bit */
  { NULL, "EventTime", "EventTime: not a date-time" },           /* NXLog */
  { NULL, "@timestamp", "@timestamp: not a date-time" },         /* Winlogbeat */
  { NULL, "TimeGenerated", "TimeGenerated: not a date-time" },   /* Fluent Bit winlog */
};

static const struct member message_members[] = {
  { NULL, "Message", "Message: not a string" },
  { NULL, "message", "message: not a string" },
};

/** Members that only an event record has (kmsgate's own records have cmid). */
static const char *const event_keys[] = {
  "Message", "message", "Properties", "StringInserts", "EventID", "winlog",
  "EventTime", "@timestamp", "TimeCreated", "TimeGenerated", "event_id", "event_data", "System",
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
    return "Id: missing (nor EventID, event_id, winlog.event_id or event.code)";
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

/**
 * Reads the time the host logged the event; a time without an offset is
 * read in the stated zone, or else as UTC (NXLog CE's EventTime).
 * @return NULL or the reason
 */
static const char *
read_time(json_t *rec, const struct kg_events_time *zone, int64_t *at_us, char *errbuf,
          size_t errbuf_len)
{
  const struct member *m;
  json_t *v = find_member(rec, time_members, COUNT(time_members), &m);
  enum kg_ev_time r;

  if (NULL == v)
    return "TimeCreated: missing (nor EventTime, TimeGenerated or @timestamp)";
  /* Windows PowerShell 5.1 may write a DateTime as {"value": "/Date(...)/", "DateTime": ...} */
  if (json_is_object(v))
    v = json_object_get(v, "value");
  if (!json_is_string(v))
    return m->bad;
  r = kg_ev_parse_time(json_string_value(v), json_string_length(v), zone, true, at_us);
  return (KG_EV_TIME_OK == r) ? NULL : kg_ev_time_error(r, m->name, m->bad, errbuf, errbuf_len);
}

/** One data value as text: strings as they are, numbers and booleans written out. */
struct field_text {
  char buf[24];
};

/**
 * Gives the text of data value @a v.  An HRESULT logged as a number
 * (@a hex) is written as "0x..." hex, as the info string has it.
 * @return false when the value is no string, number or boolean
 */
static bool
field_text(json_t *v, bool hex, struct field_text *t, const char **s, size_t *len)
{
  if (json_is_string(v)) {
    *s = json_string_value(v);
    *len = json_string_length(v);
    return true;
  }
  if (json_is_integer(v))
    snprintf(t->buf, sizeof t->buf, hex ? "0x%llX" : "%lld", (long long) json_integer_value(v));
  else if (json_is_boolean(v))
    snprintf(t->buf, sizeof t->buf, "%d", json_is_true(v) ? 1 : 0);
  else
    return false;
  *s = t->buf;
  *len = strlen(t->buf);
  return true;
}

/** Where a record keeps the event's data, in the order they are looked for. */
/* clang-format off */
static const struct member data_members[] = {
  { NULL, "Properties", NULL },       /* ConvertTo-Json: [{"Value": ...}] */
  { NULL, "StringInserts", NULL },    /* Fluent Bit winevtlog and winlog */
  { "winlog", "event_data", NULL },   /* Winlogbeat 7+: param1..param10 */
  { NULL, "event_data", NULL },       /* Winlogbeat 5/6 */
};
/* clang-format on */

/**
 * Collects the event's data values: an array of values (or of {"Value"}
 * objects), or an object of param1, param2... (Winlogbeat names unnamed
 * data so).
 * @param[out] values the first KG_DATA_VALUES values
 * @param[out] name where they were found
 * @return the number of values, or 0 when the record has no event data
 */
static size_t
data_values(json_t *rec, json_t *values[KG_DATA_VALUES], const char **name)
{
  const struct member *m;
  json_t *v = find_member(rec, data_members, COUNT(data_members), &m);
  size_t n = 0;

  if (NULL == v)
    return 0;
  *name = (NULL == m->parent) ? m->name : "winlog.event_data";
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v) && i < KG_DATA_VALUES; i++) {
      json_t *e = json_array_get(v, i);

      values[i] = json_is_object(e) ? json_object_get(e, "Value") : e;
    }
    return json_array_size(v);
  }
  for (n = 0; json_is_object(v) && n <= KG_DATA_VALUES; n++) {
    char key[16];

    snprintf(key, sizeof key, "param%zu", n + 1);
    if (NULL == json_object_get(v, key))
      break;
    if (n < KG_DATA_VALUES)
      values[n] = json_object_get(v, key);
  }
  return n;
}

/** Fills @a ev from the event's data values. @return NULL or the reason */
static const char *
from_data(json_t *rec, struct kg_event *ev, char *errbuf, size_t errbuf_len)
{
  json_t *values[KG_DATA_VALUES] = { NULL };
  const char *field[KG_DATA_VALUES];
  size_t flen[KG_DATA_VALUES];
  struct field_text text[KG_DATA_VALUES];
  const char *name = "";
  size_t n = data_values(rec, values, &name);
  size_t hresult_at = (KG_DATA_VALUES == n) ? 1 : 0;

  if (0 == n)
    return "Message: missing, and no event data (Properties, StringInserts or event_data)";
  for (size_t i = 0; i < n && i < KG_DATA_VALUES; i++)
    if (!field_text(values[i], hresult_at == i, &text[i], &field[i], &flen[i])) {
      snprintf(errbuf, errbuf_len, "%s: value %zu is not a string or a number", name, i);
      return errbuf;
    }
  return kg_ev_info_values(field, flen, n, name, ev, errbuf, errbuf_len);
}

/**
 * Reads the request: from the message, or when it is missing or blank from
 * the event's data.  Fluent Bit's render_event_as_xml writes "System" (the
 * whole event as XML, @a xml: its id, its time, its EventData) next to
 * "Message" and "StringInserts": a message wins, then the insertion
 * strings, then the XML's own data.
 */
static const char *
request_from(json_t *rec, json_t *msg, const char *xml, size_t xml_len, struct kg_event *ev,
             char *errbuf, size_t errbuf_len)
{
  /* A shipper that could not render the message writes it empty or blank. */
  if (NULL != msg) {
    const char *err =
      kg_ev_info_from_message(json_string_value(msg), json_string_length(msg), blank_message, ev);

    if (blank_message != err)
      return err;
  }
  if (NULL == xml || NULL != json_object_get(rec, "StringInserts"))
    return from_data(rec, ev, errbuf, errbuf_len);
  return kg_ev_xml_event(xml, xml_len, true, ev, errbuf, errbuf_len);
}

const char *
kg_ev_winevent(json_t *rec, const struct kg_events_time *zone, struct kg_event *ev, char *errbuf,
               size_t errbuf_len)
{
  const struct member *m;
  json_t *msg;
  json_t *xml = json_object_get(rec, "System");
  const char *err;

  memset(ev, 0, sizeof *ev);
  msg = find_member(rec, message_members, COUNT(message_members), &m);
  if (NULL != msg && !json_is_string(msg))
    return m->bad;
  if (json_is_string(xml) && NULL == find_member(rec, id_members, COUNT(id_members), &m)) {
    const char *s = json_string_value(xml);
    size_t len = json_string_length(xml);

    err = kg_ev_xml_event(s, len, false, ev, errbuf, errbuf_len);
    return (NULL != err) ? err : request_from(rec, msg, s, len, ev, errbuf, errbuf_len);
  }
  err = check_id(rec);
  if (NULL == err)
    err = read_time(rec, zone, &ev->requested_at_us, errbuf, errbuf_len);
  return (NULL != err) ? err : request_from(rec, msg, NULL, 0, ev, errbuf, errbuf_len);
}
