/**
 * @file events.c
 * @brief Event-12290 records from JSON, NDJSON and PowerShell Export-Csv bodies.
 *
 * Everything here is bounded by explicit lengths: bodies come straight from
 * HTTP and may hold NULs, invalid UTF-8 or truncated quoting.  Error texts
 * handed back are either static or built from sanitized bytes, so that they
 * are always printable ASCII and safe to put in a JSON response.
 */
#include "events.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

const char KG_EVENTS_ENOMEM[] = "out of memory";

/** Longest part of an unknown field name quoted back in an error. */
#define KG_EVENTS_KEY_QUOTE_MAX 40

/* ------------------------------------------------------------------ */
/* Small lexical helpers                                               */
/* ------------------------------------------------------------------ */

static bool
is_blank(char c)
{
  return ' ' == c || '\t' == c;
}

/** Trims spaces and tabs on both ends of [*s, *s + *len). */
static void
trim_blanks(const char **s, size_t *len)
{
  while (*len > 0 && is_blank((*s)[0]))
  {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && is_blank((*s)[*len - 1]))
    (*len)--;
}

/**
 * Lowercase hex digit of each byte, or 0 for a non-hex byte.  A table:
 * GUIDs make up a third of every record, and this is their hot loop.
 */
static const char hex_lower[256] = {
  ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
  ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
  ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',
  ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
};

static int
hex_value(char c)
{
  char h = hex_lower[(unsigned char) c];

  if (0 == h)
    return -1;
  return (h <= '9') ? h - '0' : h - 'a' + 10;
}

/** "0x" or "0X" followed by 1..8 hex digits, nothing else. */
static bool
parse_hresult_text(const char *s, size_t len, uint32_t *out)
{
  uint32_t v = 0;

  if (len < 3 || len > 10 || '0' != s[0] || ('x' != s[1] && 'X' != s[1]))
    return false;
  for (size_t i = 2; i < len; i++)
  {
    int h = hex_value(s[i]);

    if (h < 0)
      return false;
    v = (v << 4) | (uint32_t) h;
  }
  *out = v;
  return true;
}

/** One or more decimal digits whose value is at most @a max; no sign, no blanks. */
static bool
parse_decimal(const char *s, size_t len, int64_t max, int64_t *out)
{
  int64_t v = 0;

  if (0 == len)
    return false;
  for (size_t i = 0; i < len; i++)
  {
    int d;

    if (s[i] < '0' || s[i] > '9')
      return false;
    d = s[i] - '0';
    if (v > (max - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/**
 * Reads 1..@a max_digits decimal digits at s[*pos].
 * @return false if there is no digit there
 */
static bool
read_number(const char *s, size_t len, size_t *pos, unsigned int max_digits,
            int *out)
{
  int v = 0;
  unsigned int n = 0;

  while (*pos < len && n < max_digits && s[*pos] >= '0' && s[*pos] <= '9')
  {
    v = v * 10 + (s[*pos] - '0');
    (*pos)++;
    n++;
  }
  if (0 == n)
    return false;
  *out = v;
  return true;
}

static bool
is_leap(int y)
{
  return (0 == y % 4 && 0 != y % 100) || 0 == y % 400;
}

static int
days_in_month(int y, int m)
{
  static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

  if (2 == m && is_leap(y))
    return 29;
  return dim[m - 1];
}

/** Outcome of checking the client timestamp "yyyy/m/d h:mm". */
enum stamp_check { STAMP_OK, STAMP_FORMAT, STAMP_RANGE };

/**
 * Checks the client's own timestamp.  The KMS host writes it with the
 * invariant pattern "yyyy/M/d H:mm" (no leading zeros on month, day and
 * hour); leading zeros are tolerated since they are unambiguous.
 */
static enum stamp_check
check_client_stamp(const char *s, size_t len)
{
  size_t pos = 0;
  size_t before;
  int year, month, day, hour, minute;

  before = pos;
  if (! read_number(s, len, &pos, 4, &year) || 4 != pos - before)
    return STAMP_FORMAT;
  if (pos >= len || '/' != s[pos++])
    return STAMP_FORMAT;
  if (! read_number(s, len, &pos, 2, &month))
    return STAMP_FORMAT;
  if (pos >= len || '/' != s[pos++])
    return STAMP_FORMAT;
  if (! read_number(s, len, &pos, 2, &day))
    return STAMP_FORMAT;
  if (pos >= len || ! is_blank(s[pos]))
    return STAMP_FORMAT;
  while (pos < len && is_blank(s[pos]))
    pos++;
  if (! read_number(s, len, &pos, 2, &hour))
    return STAMP_FORMAT;
  if (pos >= len || ':' != s[pos++])
    return STAMP_FORMAT;
  before = pos;
  if (! read_number(s, len, &pos, 2, &minute) || 2 != pos - before)
    return STAMP_FORMAT;
  if (pos != len)
    return STAMP_FORMAT;
  if (0 == year || month < 1 || month > 12 || day < 1
      || day > days_in_month(year, month) || hour > 23 || minute > 59)
    return STAMP_RANGE;
  return STAMP_OK;
}

/** Outcome of checking a client DNS name. */
enum client_check { CLIENT_OK, CLIENT_EMPTY, CLIENT_LONG, CLIENT_CHAR };

/**
 * DNS names are ASCII on the wire (IDNs travel as punycode), so anything but
 * printable ASCII is a corrupted record; commas would also break the info
 * string the name came from.  Refusing non-ASCII keeps every stored name
 * valid UTF-8 for the JSON answers.
 */
static enum client_check
check_client(const char *s, size_t len)
{
  if (0 == len)
    return CLIENT_EMPTY;
  if (len > KG_EVENTS_CLIENT_MAX)
    return CLIENT_LONG;
  for (size_t i = 0; i < len; i++)
  {
    unsigned char c = (unsigned char) s[i];

    if (c <= 0x20 || c >= 0x7f || ',' == c)
      return CLIENT_CHAR;
  }
  return CLIENT_OK;
}

static char *
dup_bytes(const char *s, size_t len)
{
  char *d = malloc(len + 1);

  if (NULL == d)
    return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

/* ------------------------------------------------------------------ */
/* GUIDs and info strings                                              */
/* ------------------------------------------------------------------ */

bool
kg_guid_normalize(const char *s, size_t len, char out[37])
{
  char tmp[37];

  if (NULL == s)
    return false;
  if (38 == len && '{' == s[0] && '}' == s[37])
  {
    s++;
    len = 36;
  }
  if (36 != len)
    return false;
  if ('-' != s[8] || '-' != s[13] || '-' != s[18] || '-' != s[23])
    return false;
  for (size_t i = 0; i < 36; i++)
  {
    char h = hex_lower[(unsigned char) s[i]];

    if (0 == h)
    {
      if (8 == i || 13 == i || 18 == i || 23 == i)
        h = '-';
      else
        return false;
    }
    tmp[i] = h;
  }
  tmp[36] = '\0';
  memcpy(out, tmp, sizeof tmp);
  return true;
}

void
kg_event_clear(struct kg_event *ev)
{
  if (NULL == ev)
    return;
  free(ev->client);
  memset(ev, 0, sizeof *ev);
}

/** Static texts for a wrong field count: the message must be static and say N. */
static const char *const info_count_errors[] = {
  "info string: expected 9 fields, got 0",
  "info string: expected 9 fields, got 1",
  "info string: expected 9 fields, got 2",
  "info string: expected 9 fields, got 3",
  "info string: expected 9 fields, got 4",
  "info string: expected 9 fields, got 5",
  "info string: expected 9 fields, got 6",
  "info string: expected 9 fields, got 7",
  "info string: expected 9 fields, got 8",
  "info string: expected 9 fields, got 9",
  "info string: expected 9 fields, got 10",
  "info string: expected 9 fields, got 11",
  "info string: expected 9 fields, got 12",
  "info string: expected 9 fields, got 13",
  "info string: expected 9 fields, got 14",
  "info string: expected 9 fields, got 15",
  "info string: expected 9 fields, got 16",
};

#define INFO_FIELDS 9

const char *
kg_events_parse_info(const char *s, size_t len, struct kg_event *ev)
{
  const char *field[INFO_FIELDS];
  size_t flen[INFO_FIELDS];
  size_t nfields = 1;
  int64_t requested_at_us;
  int64_t v;

  if (NULL == ev)
    return "info string: no event to fill";
  requested_at_us = ev->requested_at_us;
  if (NULL == s)
  {
    s = "";
    len = 0;
  }
  memset(ev, 0, sizeof *ev);
  ev->requested_at_us = requested_at_us;
  for (const char *p = s, *end = s + len;
       NULL != (p = memchr(p, ',', (size_t) (end - p)));
       p++)
    nfields++;
  if (INFO_FIELDS != nfields)
  {
    if (nfields < sizeof info_count_errors / sizeof info_count_errors[0])
      return info_count_errors[nfields];
    return "info string: expected 9 fields, got more than 16";
  }
  {
    const char *p = s;
    const char *end = s + len;

    for (size_t i = 0; i < INFO_FIELDS; i++)
    {
      const char *comma = memchr(p, ',', (size_t) (end - p));
      const char *stop = (NULL == comma) ? end : comma;

      field[i] = p;
      flen[i] = (size_t) (stop - p);
      trim_blanks(&field[i], &flen[i]);
      p = (NULL == comma) ? end : comma + 1;
    }
  }

  if (! parse_hresult_text(field[0], flen[0], &ev->hresult))
    return "info string: hresult is not 0x and 1 to 8 hex digits";
  ev->has_hresult = true;

  if (2 == flen[1] && 0 == memcmp(field[1], "25", 2))
    ev->required_count = 25;
  else if (1 == flen[1] && '5' == field[1][0])
    ev->required_count = 5;
  else
    return "info string: required count is not 25 or 5";
  ev->has_required_count = true;

  switch (check_client(field[2], flen[2]))
  {
  case CLIENT_OK:
    break;
  case CLIENT_EMPTY:
    return "info string: client name is empty";
  case CLIENT_LONG:
    return "info string: client name is longer than 253 characters";
  case CLIENT_CHAR:
  default:
    return "info string: client name has a space, control or non-ASCII character";
  }

  if (! kg_guid_normalize(field[3], flen[3], ev->cmid))
    return "info string: cmid is not a GUID";

  switch (check_client_stamp(field[4], flen[4]))
  {
  case STAMP_OK:
    break;
  case STAMP_RANGE:
    return "info string: client timestamp is not a valid date and time";
  case STAMP_FORMAT:
  default:
    return "info string: client timestamp is not yyyy/m/d h:mm";
  }

  if (1 != flen[5] || ('0' != field[5][0] && '1' != field[5][0]))
    return "info string: VM flag is not 0 or 1";
  ev->is_vm = ('1' == field[5][0]);
  ev->has_is_vm = true;

  if (1 != flen[6] || field[6][0] < '0' || field[6][0] > '6')
    return "info string: license status is not 0 to 6";
  ev->license_status = field[6][0] - '0';
  ev->has_license_status = true;

  if (! parse_decimal(field[7], flen[7], INT64_MAX, &v))
    return "info string: minutes until expiry is not a non-negative integer";
  ev->minutes_to_expiry = v;
  ev->has_minutes_to_expiry = true;

  if (! kg_guid_normalize(field[8], flen[8], ev->activation_id))
    return "info string: activation ID is not a GUID";
  ev->has_activation_id = true;

  /* allocated last so that every error above leaves nothing to free */
  ev->client = dup_bytes(field[2], flen[2]);
  if (NULL == ev->client)
  {
    memset(ev, 0, sizeof *ev);
    ev->requested_at_us = requested_at_us;
    return KG_EVENTS_ENOMEM;
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Batch building                                                      */
/* ------------------------------------------------------------------ */

/** A batch under construction, with the spare capacity of its arrays. */
struct builder {
  struct kg_events_batch b;
  size_t cap_events;
  size_t cap_rejected;
  size_t max_records;
};

/** Internal outcomes; mapped to kg_events_parse()'s -1 and message at the end. */
enum step {
  STEP_OK = 0,
  STEP_NOMEM,     /**< out of memory */
  STEP_TOO_MANY,  /**< more than max_records records */
  STEP_BAD_BODY   /**< unusable body; the parser set the message */
};

/** Grows @a *arr (of @a elem bytes each) so that one more fits; doubling keeps appends O(1). */
static bool
grow(void **arr, size_t *cap, size_t used, size_t elem)
{
  size_t ncap;
  void *n;

  if (used < *cap)
    return true;
  ncap = (0 == *cap) ? 16 : *cap * 2;
  if (ncap < *cap || ncap > SIZE_MAX / elem)
    return false;
  n = realloc(*arr, ncap * elem);
  if (NULL == n)
    return false;
  *arr = n;
  *cap = ncap;
  return true;
}

/** Claims the next record index, enforcing max_records. */
static enum step
next_record(struct builder *bd, size_t *index)
{
  if (bd->b.n_records >= bd->max_records)
    return STEP_TOO_MANY;
  *index = bd->b.n_records++;
  return STEP_OK;
}

/** Appends @a ev, taking ownership of its client (released on failure too). */
static enum step
add_event(struct builder *bd, struct kg_event *ev)
{
  void *arr = bd->b.events;

  if (! grow(&arr, &bd->cap_events, bd->b.n_events, sizeof *ev))
  {
    kg_event_clear(ev);
    return STEP_NOMEM;
  }
  bd->b.events = arr;
  bd->b.events[bd->b.n_events++] = *ev;
  return STEP_OK;
}

static enum step
add_rejection(struct builder *bd, size_t index, const char *msg)
{
  void *arr = bd->b.rejected;
  char *copy;

  if (KG_EVENTS_ENOMEM == msg)
    return STEP_NOMEM;
  if (! grow(&arr, &bd->cap_rejected, bd->b.n_rejected,
             sizeof (struct kg_event_rejection)))
    return STEP_NOMEM;
  bd->b.rejected = arr;
  copy = dup_bytes(msg, strlen(msg));
  if (NULL == copy)
    return STEP_NOMEM;
  bd->b.rejected[bd->b.n_rejected].index = index;
  bd->b.rejected[bd->b.n_rejected].error = copy;
  bd->b.n_rejected++;
  return STEP_OK;
}

/** Records the outcome of one record: the event on success, else a rejection. */
static enum step
settle(struct builder *bd, size_t index, const char *err, struct kg_event *ev)
{
  if (NULL == err) {
    ev->index = index;
    return add_event(bd, ev);
  }
  kg_event_clear(ev);
  return add_rejection(bd, index, err);
}

void
kg_events_batch_free(struct kg_events_batch *b)
{
  if (NULL == b)
    return;
  for (size_t i = 0; i < b->n_events; i++)
    free(b->events[i].client);
  free(b->events);
  for (size_t i = 0; i < b->n_rejected; i++)
    free(b->rejected[i].error);
  free(b->rejected);
  memset(b, 0, sizeof *b);
}

/** Merges rejections @a a and @a b (each ordered by index) into a new array. */
static struct kg_event_rejection *
merge_rejections(const struct kg_event_rejection *a, size_t na,
                 const struct kg_event_rejection *b, size_t nb)
{
  struct kg_event_rejection *out = calloc(na + nb + 1, sizeof *out);
  size_t i = 0, j = 0;

  if (NULL == out)
    return NULL;
  while (i < na || j < nb) {
    if (j == nb || (i < na && a[i].index < b[j].index)) {
      out[i + j] = a[i];
      i++;
    } else {
      out[i + j] = b[j];
      j++;
    }
  }
  return out;
}

int
kg_events_reject_future(struct kg_events_batch *b, int64_t now_us)
{
  struct kg_event_rejection *late = calloc(b->n_events + 1, sizeof *late);
  struct kg_event_rejection *merged;
  size_t n_late = 0, kept = 0;
  bool failed = false;
  char msg[160];

  if (NULL == late)
    return -1;
  for (size_t i = 0; i < b->n_events; i++) {
    struct kg_event *ev = &b->events[i];
    int64_t ahead = ev->requested_at_us - now_us;

    if (ahead <= KG_EVENTS_MAX_AHEAD_US) {
      b->events[kept++] = *ev;
      continue;
    }
    snprintf(msg, sizeof msg, "requested_at: %lld s ahead of the service's clock "
             "(more than %lld s of clock skew: check the KMS host's time)",
             (long long) (ahead / 1000000), (long long) (KG_EVENTS_MAX_AHEAD_US / 1000000));
    late[n_late].index = ev->index;
    late[n_late].error = dup_bytes(msg, strlen(msg));
    if (NULL == late[n_late].error) {
      failed = true;
      b->events[kept++] = *ev;    /* stays owned by the batch */
      continue;
    }
    n_late++;
    kg_event_clear(ev);
  }
  b->n_events = kept;             /* entries past it are moved or cleared */
  merged = merge_rejections(b->rejected, b->n_rejected, late, n_late);
  if (NULL == merged) {
    for (size_t i = 0; i < n_late; i++)
      free(late[i].error);
    free(late);
    return -1;
  }
  free(b->rejected);
  free(late);
  b->rejected = merged;
  b->n_rejected += n_late;
  return failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* JSON records (JSON array elements and NDJSON lines)                 */
/* ------------------------------------------------------------------ */

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

static const char *const json_field_names[JF_COUNT] = {
  "cmid", "client", "requested_at", "hresult", "required_count", "is_vm",
  "license_status", "minutes_to_expiry", "activation_id"
};

/**
 * Writes "unknown field '<key>'" with the key made printable: the key may
 * hold NULs, quotes or any UTF-8, and the message ends up in logs and JSON.
 */
static const char *
unknown_field_error(const char *key, size_t key_len, char *buf, size_t buf_len)
{
  char quoted[KG_EVENTS_KEY_QUOTE_MAX + 4];
  size_t n = (key_len > KG_EVENTS_KEY_QUOTE_MAX) ? KG_EVENTS_KEY_QUOTE_MAX : key_len;

  for (size_t i = 0; i < n; i++)
  {
    unsigned char c = (unsigned char) key[i];

    quoted[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
  }
  if (key_len > n)
  {
    memcpy(quoted + n, "...", 3);
    n += 3;
  }
  quoted[n] = '\0';
  snprintf(buf, buf_len, "unknown field '%s'", quoted);
  return buf;
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

  memset(ev, 0, sizeof *ev);
  if (! json_is_object(rec))
    return "record: not a JSON object";
  json_object_keylen_foreach(rec, key, key_len, value)
  {
    size_t f;

    for (f = 0; f < JF_COUNT; f++)
      if (strlen(json_field_names[f]) == key_len
          && 0 == memcmp(json_field_names[f], key, key_len))
        break;
    if (JF_COUNT == f)
      return unknown_field_error(key, key_len, errbuf, errbuf_len);
    slot[f] = value;
  }

  v = slot[JF_CMID];
  if (NULL == v)
    return "cmid: missing";
  if (! json_is_string(v))
    return "cmid: not a string";
  if (! kg_guid_normalize(json_string_value(v), json_string_length(v), ev->cmid))
    return "cmid: not a GUID";

  v = slot[JF_CLIENT];
  if (NULL == v)
    return "client: missing";
  if (! json_is_string(v))
    return "client: not a string";
  switch (check_client(json_string_value(v), json_string_length(v)))
  {
  case CLIENT_OK:
    break;
  case CLIENT_EMPTY:
    return "client: empty";
  case CLIENT_LONG:
    return "client: longer than 253 characters";
  case CLIENT_CHAR:
  default:
    return "client: has a space, comma, control or non-ASCII character";
  }

  v = slot[JF_REQUESTED_AT];
  if (NULL == v)
    return "requested_at: missing";
  if (! json_is_string(v))
    return "requested_at: not a string";
  if (! kg_time_parse_rfc3339(json_string_value(v), json_string_length(v),
                              &ev->requested_at_us))
    return "requested_at: not an RFC 3339 date-time";

  /* optional fields: null means absent, as exporters often write it */
  v = slot[JF_HRESULT];
  if (NULL != v && ! json_is_null(v))
  {
    if (json_is_string(v))
    {
      if (! parse_hresult_text(json_string_value(v), json_string_length(v),
                               &ev->hresult))
        return "hresult: not 0x and 1 to 8 hex digits";
    }
    else if (json_is_integer(v))
    {
      json_int_t i = json_integer_value(v);

      if (i < 0 || i > 0xFFFFFFFFLL)
        return "hresult: out of range 0 to 0xFFFFFFFF";
      ev->hresult = (uint32_t) i;
    }
    else
    {
      return "hresult: not a 0x hex string or an integer";
    }
    ev->has_hresult = true;
  }

  v = slot[JF_REQUIRED_COUNT];
  if (NULL != v && ! json_is_null(v))
  {
    if (! json_is_integer(v)
        || (25 != json_integer_value(v) && 5 != json_integer_value(v)))
      return "required_count: not 25 or 5";
    ev->required_count = (int32_t) json_integer_value(v);
    ev->has_required_count = true;
  }

  v = slot[JF_IS_VM];
  if (NULL != v && ! json_is_null(v))
  {
    if (json_is_boolean(v))
      ev->is_vm = json_is_true(v);
    else if (json_is_integer(v)
             && (0 == json_integer_value(v) || 1 == json_integer_value(v)))
      ev->is_vm = (1 == json_integer_value(v));
    else
      return "is_vm: not a boolean, 0 or 1";
    ev->has_is_vm = true;
  }

  v = slot[JF_LICENSE_STATUS];
  if (NULL != v && ! json_is_null(v))
  {
    if (! json_is_integer(v)
        || json_integer_value(v) < 0 || json_integer_value(v) > 6)
      return "license_status: not an integer 0 to 6";
    ev->license_status = (int32_t) json_integer_value(v);
    ev->has_license_status = true;
  }

  v = slot[JF_MINUTES_TO_EXPIRY];
  if (NULL != v && ! json_is_null(v))
  {
    if (! json_is_integer(v) || json_integer_value(v) < 0)
      return "minutes_to_expiry: not a non-negative integer";
    ev->minutes_to_expiry = (int64_t) json_integer_value(v);
    ev->has_minutes_to_expiry = true;
  }

  v = slot[JF_ACTIVATION_ID];
  if (NULL != v && ! json_is_null(v))
  {
    if (! json_is_string(v))
      return "activation_id: not a string";
    if (! kg_guid_normalize(json_string_value(v), json_string_length(v),
                            ev->activation_id))
      return "activation_id: not a GUID";
    ev->has_activation_id = true;
  }

  /* last, so that no error above leaves an allocation behind */
  v = slot[JF_CLIENT];
  ev->client = dup_bytes(json_string_value(v), json_string_length(v));
  if (NULL == ev->client)
    return KG_EVENTS_ENOMEM;
  return NULL;
}

/* NUL bytes are allowed inside strings so that they reject one record
   ("client: has ... control character") rather than the whole body. */
#define KG_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/** Handles one decoded record (array element or NDJSON object). */
static enum step
json_record(struct builder *bd, size_t index, json_t *rec)
{
  struct kg_event ev;
  char errbuf[96];
  const char *err = event_from_json(rec, &ev, errbuf, sizeof errbuf);

  return settle(bd, index, err, &ev);
}

static enum step
parse_json(struct builder *bd, const char *body, size_t len, const char **error)
{
  json_error_t jerr;
  /* DECODE_ANY so that a lone scalar is reported as "not an array" below */
  json_t *root = json_loadb(body, len, KG_JSON_FLAGS | JSON_DECODE_ANY, &jerr);
  enum step st = STEP_OK;
  size_t n;

  if (NULL == root)
  {
    switch (json_error_code(&jerr))
    {
    case json_error_out_of_memory:
      return STEP_NOMEM;
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
    return STEP_BAD_BODY;
  }
  if (! json_is_array(root))
  {
    json_decref(root);
    *error = "body is not a JSON array";
    return STEP_BAD_BODY;
  }
  n = json_array_size(root);
  if (n > bd->max_records)
  {
    json_decref(root);
    return STEP_TOO_MANY;
  }
  bd->b.events = calloc(n > 0 ? n : 1, sizeof (struct kg_event));
  if (NULL == bd->b.events)
  {
    json_decref(root);
    return STEP_NOMEM;
  }
  bd->cap_events = (n > 0) ? n : 1;
  for (size_t i = 0; i < n && STEP_OK == st; i++)
  {
    size_t index;

    st = next_record(bd, &index);
    if (STEP_OK == st)
      st = json_record(bd, index, json_array_get(root, i));
  }
  json_decref(root);
  return st;
}

/** A line holding only spaces, tabs and CRs is no record. */
static bool
is_blank_line(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (! is_blank(s[i]) && '\r' != s[i])
      return false;
  return true;
}

static enum step
parse_ndjson(struct builder *bd, const char *body, size_t len)
{
  const char *end = body + len;
  const char *p;
  size_t lines = 0;
  enum step st = STEP_OK;

  /* Count first, so that an oversized body fails before any decoding. */
  for (p = body; p < end;)
  {
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *stop = (NULL == nl) ? end : nl;

    if (! is_blank_line(p, (size_t) (stop - p)))
      lines++;
    p = (NULL == nl) ? end : nl + 1;
  }
  if (lines > bd->max_records)
    return STEP_TOO_MANY;

  for (p = body; p < end && STEP_OK == st;)
  {
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
    st = next_record(bd, &index);
    if (STEP_OK != st)
      break;
    rec = json_loadb(line, line_len, KG_JSON_FLAGS | JSON_DECODE_ANY, &jerr);
    if (NULL == rec)
    {
      char errbuf[64];

      if (json_error_out_of_memory == json_error_code(&jerr))
        return STEP_NOMEM;
      if (json_error_duplicate_key == json_error_code(&jerr))
        snprintf(errbuf, sizeof errbuf, "record: duplicate key");
      else if (json_error_null_byte_in_key == json_error_code(&jerr))
        snprintf(errbuf, sizeof errbuf, "record: an object key holds a NUL");
      else
        snprintf(errbuf, sizeof errbuf,
                 "record: not valid JSON (at byte %d of the line)",
                 jerr.position);
      st = add_rejection(bd, index, errbuf);
      continue;
    }
    st = json_record(bd, index, rec);
    json_decref(rec);
  }
  return st;
}

/* ------------------------------------------------------------------ */
/* CSV (PowerShell Export-Csv)                                         */
/* ------------------------------------------------------------------ */

/**
 * One CSV row, unescaped.  The buffers are reused from row to row and grow
 * by doubling, so a body costs O(length) however its rows are shaped.
 */
struct csv_row {
  char *buf;          /**< field bytes, back to back */
  size_t used;
  size_t cap;
  size_t *start;      /**< offset of each field in buf */
  size_t *flen;       /**< length of each field */
  size_t n;           /**< fields in this row */
  size_t fcap;
  bool unterminated;  /**< input ended inside a quoted field */
  bool after_quote;   /**< bytes between a closing quote and the separator */
};

struct csv_cursor {
  const char *p;
  const char *end;
};

static bool
row_append(struct csv_row *row, const char *s, size_t len)
{
  if (0 == len)
    return true;
  if (len > row->cap - row->used)
  {
    size_t ncap = (0 == row->cap) ? 256 : row->cap;

    while (len > ncap - row->used)
    {
      if (ncap > SIZE_MAX / 2)
        return false;
      ncap *= 2;
    }
    {
      char *n = realloc(row->buf, ncap);

      if (NULL == n)
        return false;
      row->buf = n;
      row->cap = ncap;
    }
  }
  memcpy(row->buf + row->used, s, len);
  row->used += len;
  return true;
}

static bool
row_push_field(struct csv_row *row, size_t start)
{
  if (row->n == row->fcap)
  {
    size_t ncap = (0 == row->fcap) ? 8 : row->fcap * 2;
    size_t *ns;
    size_t *nl;

    if (ncap > SIZE_MAX / sizeof (size_t))
      return false;
    ns = realloc(row->start, ncap * sizeof (size_t));
    if (NULL == ns)
      return false;
    row->start = ns;
    nl = realloc(row->flen, ncap * sizeof (size_t));
    if (NULL == nl)
      return false;
    row->flen = nl;
    row->fcap = ncap;
  }
  row->start[row->n] = start;
  row->flen[row->n] = row->used - start;
  row->n++;
  return true;
}

static void
row_free(struct csv_row *row)
{
  free(row->buf);
  free(row->start);
  free(row->flen);
}

/** Consumes one line end (CRLF, LF or a lone CR) if the cursor is at one. */
static bool
skip_line_end(struct csv_cursor *c)
{
  if (c->p < c->end && '\r' == *c->p)
  {
    c->p++;
    if (c->p < c->end && '\n' == *c->p)
      c->p++;
    return true;
  }
  if (c->p < c->end && '\n' == *c->p)
  {
    c->p++;
    return true;
  }
  return false;
}

/**
 * Reads one RFC 4180 row.  Lenient where it cannot mislead: a quote inside
 * an unquoted field is kept as data (as Excel does).
 * @return 1 a row was read, 0 end of input, -1 out of memory
 */
static int
csv_read_row(struct csv_cursor *c, struct csv_row *row)
{
  row->used = 0;
  row->n = 0;
  row->unterminated = false;
  row->after_quote = false;
  if (c->p >= c->end)
    return 0;
  for (;;)
  {
    size_t start = row->used;

    if (c->p < c->end && '"' == *c->p)
    {
      c->p++;
      for (;;)
      {
        const char *q = memchr(c->p, '"', (size_t) (c->end - c->p));

        if (NULL == q)
        {
          if (! row_append(row, c->p, (size_t) (c->end - c->p)))
            return -1;
          c->p = c->end;
          row->unterminated = true;
          return row_push_field(row, start) ? 1 : -1;
        }
        if (! row_append(row, c->p, (size_t) (q - c->p)))
          return -1;
        c->p = q + 1;
        if (c->p < c->end && '"' == *c->p)
        {
          if (! row_append(row, "\"", 1))
            return -1;
          c->p++;
          continue;
        }
        break;
      }
      while (c->p < c->end && ',' != *c->p && '\r' != *c->p && '\n' != *c->p)
      {
        row->after_quote = true;
        c->p++;
      }
    }
    else
    {
      const char *s = c->p;

      while (c->p < c->end && ',' != *c->p && '\r' != *c->p && '\n' != *c->p)
        c->p++;
      if (! row_append(row, s, (size_t) (c->p - s)))
        return -1;
    }
    if (! row_push_field(row, start))
      return -1;
    if (c->p < c->end && ',' == *c->p)
    {
      c->p++;
      continue;
    }
    skip_line_end(c);
    return 1;
  }
}

/** Case-insensitive ASCII comparison of a header cell, ignoring blanks around it. */
static bool
header_is(const char *s, size_t len, const char *name)
{
  size_t nlen = strlen(name);

  trim_blanks(&s, &len);
  if (len != nlen)
    return false;
  for (size_t i = 0; i < len; i++)
  {
    char a = s[i];
    char b = name[i];

    if (a >= 'A' && a <= 'Z')
      a = (char) (a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z')
      b = (char) (b - 'A' + 'a');
    if (a != b)
      return false;
  }
  return true;
}

/**
 * Finds the info string: the last line of the message that holds more than
 * blanks.  Event 12290's text is a fixed preamble, then "Info:", then it.
 */
static void
last_line(const char *s, size_t len, const char **line, size_t *line_len)
{
  size_t e = len;
  size_t b;

  while (e > 0 && (is_blank(s[e - 1]) || '\r' == s[e - 1] || '\n' == s[e - 1]))
    e--;
  b = e;
  while (b > 0 && '\r' != s[b - 1] && '\n' != s[b - 1])
    b--;
  *line = s + b;
  *line_len = e - b;
  trim_blanks(line, line_len);
}

/** Validates one data row into @a ev. @return NULL or the rejection reason */
static const char *
event_from_csv_row(const struct csv_row *row, size_t ncols, size_t col_time,
                   size_t col_msg, struct kg_event *ev, char *errbuf,
                   size_t errbuf_len)
{
  const char *t;
  size_t tlen;
  const char *info;
  size_t info_len;
  int64_t at;

  memset(ev, 0, sizeof *ev);
  if (row->unterminated)
    return "row: unterminated quoted field";
  if (row->after_quote)
    return "row: text after a closing quote";
  if (row->n != ncols)
  {
    snprintf(errbuf, errbuf_len, "row: %zu column%s, expected %zu",
             row->n, (1 == row->n) ? "" : "s", ncols);
    return errbuf;
  }
  t = row->buf + row->start[col_time];
  tlen = row->flen[col_time];
  trim_blanks(&t, &tlen);
  if (! kg_time_parse_rfc3339(t, tlen, &at))
    return "TimeCreated: not an RFC 3339 date-time";
  last_line(row->buf + row->start[col_msg], row->flen[col_msg], &info, &info_len);
  if (0 == info_len)
    return "Message: empty";
  ev->requested_at_us = at;
  return kg_events_parse_info(info, info_len, ev);
}

static enum step
parse_csv(struct builder *bd, const char *body, size_t len, const char **error)
{
  struct csv_cursor c = { body, body + len };
  struct csv_row row = { 0 };
  size_t ncols;
  size_t col_time = SIZE_MAX;
  size_t col_msg = SIZE_MAX;
  enum step st = STEP_OK;
  int r;

  /* allocated up front so that cells of an all-empty row point somewhere */
  row.buf = malloc(256);
  if (NULL == row.buf)
    return STEP_NOMEM;
  row.cap = 256;
  /* PowerShell 5 without -NoTypeInformation starts with "#TYPE <class>". */
  if (len >= 5 && 0 == memcmp(body, "#TYPE", 5))
  {
    while (c.p < c.end && '\r' != *c.p && '\n' != *c.p)
      c.p++;
    skip_line_end(&c);
  }
  while (skip_line_end(&c))
    ;
  r = csv_read_row(&c, &row);
  if (r < 0)
  {
    row_free(&row);
    return STEP_NOMEM;
  }
  if (0 == r || row.unterminated)
  {
    row_free(&row);
    *error = (0 == r) ? "CSV body has no header row"
             : "CSV header has an unterminated quoted field";
    return STEP_BAD_BODY;
  }
  ncols = row.n;
  for (size_t i = 0; i < row.n; i++)
  {
    const char *cell = row.buf + row.start[i];

    if (SIZE_MAX == col_time && header_is(cell, row.flen[i], "TimeCreated"))
      col_time = i;
    else if (SIZE_MAX == col_msg && header_is(cell, row.flen[i], "Message"))
      col_msg = i;
  }
  if (SIZE_MAX == col_time || SIZE_MAX == col_msg)
  {
    row_free(&row);
    *error = "CSV header must name the TimeCreated and Message columns";
    return STEP_BAD_BODY;
  }
  if (row.after_quote)
  {
    row_free(&row);
    *error = "CSV header has text after a closing quote";
    return STEP_BAD_BODY;
  }

  while (STEP_OK == st)
  {
    struct kg_event ev;
    char errbuf[64];
    const char *err;
    size_t index;

    /* empty lines carry no record (and would never have both columns) */
    while (skip_line_end(&c))
      ;
    r = csv_read_row(&c, &row);
    if (r < 0)
      st = STEP_NOMEM;
    if (r <= 0)
      break;
    st = next_record(bd, &index);
    if (STEP_OK != st)
      break;
    err = event_from_csv_row(&row, ncols, col_time, col_msg, &ev, errbuf,
                             sizeof errbuf);
    st = settle(bd, index, err, &ev);
  }
  row_free(&row);
  return st;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

int
kg_events_parse(enum kg_events_format fmt, const char *body, size_t len,
                size_t max_records, struct kg_events_batch *out,
                const char **error)
{
  struct builder bd;
  const char *dummy;
  const char *msg = NULL;
  enum step st;

  if (NULL == error)
    error = &dummy;
  *error = NULL;
  if (NULL == out)
  {
    *error = "no output batch given";
    return -1;
  }
  memset(out, 0, sizeof *out);
  memset(&bd, 0, sizeof bd);
  bd.max_records = max_records;
  if (NULL == body)
    len = 0;
  /* Windows tools (PowerShell 5's -Encoding UTF8 above all) write a BOM. */
  if (len >= 3 && 0 == memcmp(body, "\xEF\xBB\xBF", 3))
  {
    body += 3;
    len -= 3;
  }
  if (NULL == body)
    body = "";
  switch (fmt)
  {
  case KG_EVENTS_JSON:
    st = parse_json(&bd, body, len, &msg);
    break;
  case KG_EVENTS_NDJSON:
    st = parse_ndjson(&bd, body, len);
    break;
  case KG_EVENTS_CSV:
    st = parse_csv(&bd, body, len, &msg);
    break;
  default:
    *error = "unknown body format";
    return -1;
  }
  if (STEP_OK == st)
  {
    *out = bd.b;
    return 0;
  }
  kg_events_batch_free(&bd.b);
  if (NULL != msg)
    *error = msg;
  else if (STEP_TOO_MANY == st)
    *error = (KG_EVENTS_MAX_RECORDS == max_records)
             ? "more than 10000 records"
             : "too many records";
  else
    *error = "out of memory";
  return -1;
}
