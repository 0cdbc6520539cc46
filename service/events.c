/**
 * @file events.c
 * @brief Event-12290 records: the info string, the batch and the entry point
 *        (the formats live in events_<format>.c).
 *
 * Everything here is bounded by explicit lengths: bodies come straight from
 * HTTP and may hold NULs, invalid UTF-8 or truncated quoting.  Error texts
 * handed back are either static or built from sanitized bytes, so that they
 * are always printable ASCII and safe to put in a JSON response.
 */
#include "events.h"
#include "events_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

const char KG_EVENTS_ENOMEM[] = "out of memory";
const char KG_EV_SKIP[] = "not event 12290";
const char KG_EVENTS_EFLUSH[] = "storing a batch failed";

/* ------------------------------------------------------------------ */
/* Small lexical helpers                                               */
/* ------------------------------------------------------------------ */

/* The header documents the helpers the format parsers share. */

void
kg_ev_trim(const char **s, size_t *len)
{
  while (*len > 0 && kg_ev_is_blank((*s)[0])) {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && kg_ev_is_blank((*s)[*len - 1]))
    (*len)--;
}

/**
 * Lowercase hex digit of each byte, or 0 for a non-hex byte.  A table:
 * GUIDs make up a third of every record, and this is their hot loop.
 */
/* clang-format off */
static const char hex_lower[256] = {
  ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
  ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
  ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',
  ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
};
/* clang-format on */

static int
hex_value(char c)
{
  char h = hex_lower[(unsigned char) c];

  if (0 == h)
    return -1;
  return (h <= '9') ? h - '0' : h - 'a' + 10;
}

bool
kg_ev_parse_hresult(const char *s, size_t len, uint32_t *out)
{
  uint32_t v = 0;

  if (len < 3 || len > 10 || '0' != s[0] || ('x' != s[1] && 'X' != s[1]))
    return false;
  for (size_t i = 2; i < len; i++) {
    int h = hex_value(s[i]);

    if (h < 0)
      return false;
    v = (v << 4) | (uint32_t) h;
  }
  *out = v;
  return true;
}

bool
kg_ev_parse_decimal(const char *s, size_t len, int64_t max, int64_t *out)
{
  int64_t v = 0;

  if (0 == len)
    return false;
  for (size_t i = 0; i < len; i++) {
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
read_number(const char *s, size_t len, size_t *pos, unsigned int max_digits, int *out)
{
  int v = 0;
  unsigned int n = 0;

  while (*pos < len && n < max_digits && s[*pos] >= '0' && s[*pos] <= '9') {
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
enum stamp_check {
  STAMP_OK,
  STAMP_FORMAT,
  STAMP_RANGE
};

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
  if (!read_number(s, len, &pos, 4, &year) || 4 != pos - before)
    return STAMP_FORMAT;
  if (pos >= len || '/' != s[pos++])
    return STAMP_FORMAT;
  if (!read_number(s, len, &pos, 2, &month))
    return STAMP_FORMAT;
  if (pos >= len || '/' != s[pos++])
    return STAMP_FORMAT;
  if (!read_number(s, len, &pos, 2, &day))
    return STAMP_FORMAT;
  if (pos >= len || !kg_ev_is_blank(s[pos]))
    return STAMP_FORMAT;
  while (pos < len && kg_ev_is_blank(s[pos]))
    pos++;
  if (!read_number(s, len, &pos, 2, &hour))
    return STAMP_FORMAT;
  if (pos >= len || ':' != s[pos++])
    return STAMP_FORMAT;
  before = pos;
  if (!read_number(s, len, &pos, 2, &minute) || 2 != pos - before)
    return STAMP_FORMAT;
  if (pos != len)
    return STAMP_FORMAT;
  if (0 == year || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)
      || hour > 23 || minute > 59)
    return STAMP_RANGE;
  return STAMP_OK;
}

/**
 * DNS names are ASCII on the wire (IDNs travel as punycode), so anything but
 * printable ASCII is a corrupted record; commas would also break the info
 * string the name came from.  Refusing non-ASCII keeps every stored name
 * valid UTF-8 for the JSON answers.
 */
enum kg_ev_client
kg_ev_check_client(const char *s, size_t len)
{
  if (0 == len)
    return KG_CLIENT_EMPTY;
  if (len > KG_EVENTS_CLIENT_MAX)
    return KG_CLIENT_LONG;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char) s[i];

    if (c <= 0x20 || c >= 0x7f || ',' == c)
      return KG_CLIENT_CHAR;
  }
  return KG_CLIENT_OK;
}

char *
kg_ev_dup(const char *s, size_t len)
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
  if (38 == len && '{' == s[0] && '}' == s[37]) {
    s++;
    len = 36;
  }
  if (36 != len)
    return false;
  if ('-' != s[8] || '-' != s[13] || '-' != s[18] || '-' != s[23])
    return false;
  for (size_t i = 0; i < 36; i++) {
    char h = hex_lower[(unsigned char) s[i]];

    if (0 == h) {
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
/* clang-format off */
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
/* clang-format on */

const char *
kg_events_parse_info(const char *s, size_t len, struct kg_event *ev)
{
  const char *field[KG_INFO_FIELDS];
  size_t flen[KG_INFO_FIELDS];
  size_t nfields = 1;
  const char *p;
  const char *end;

  if (NULL == ev)
    return "info string: no event to fill";
  if (NULL == s) {
    s = "";
    len = 0;
  }
  end = s + len;
  for (p = s; NULL != (p = memchr(p, ',', (size_t) (end - p))); p++)
    nfields++;
  if (KG_INFO_FIELDS != nfields) {
    int64_t requested_at_us = ev->requested_at_us;

    memset(ev, 0, sizeof *ev);
    ev->requested_at_us = requested_at_us;
    if (nfields < sizeof info_count_errors / sizeof info_count_errors[0])
      return info_count_errors[nfields];
    return "info string: expected 9 fields, got more than 16";
  }
  p = s;
  for (size_t i = 0; i < KG_INFO_FIELDS; i++) {
    const char *comma = memchr(p, ',', (size_t) (end - p));
    const char *stop = (NULL == comma) ? end : comma;

    field[i] = p;
    flen[i] = (size_t) (stop - p);
    p = (NULL == comma) ? end : comma + 1;
  }
  return kg_ev_info_fields(field, flen, ev);
}

const char *
kg_ev_info_fields(const char *const in_field[KG_INFO_FIELDS], const size_t in_flen[KG_INFO_FIELDS],
                  struct kg_event *ev)
{
  const char *field[KG_INFO_FIELDS];
  size_t flen[KG_INFO_FIELDS];
  int64_t requested_at_us = ev->requested_at_us;
  int64_t v;

  memset(ev, 0, sizeof *ev);
  ev->requested_at_us = requested_at_us;
  for (size_t i = 0; i < KG_INFO_FIELDS; i++) {
    field[i] = (NULL == in_field[i]) ? "" : in_field[i];
    flen[i] = (NULL == in_field[i]) ? 0 : in_flen[i];
    kg_ev_trim(&field[i], &flen[i]);
  }
  /* Every check below returns before the only allocation, the client name. */

  if (!kg_ev_parse_hresult(field[0], flen[0], &ev->hresult))
    return "info string: hresult is not 0x and 1 to 8 hex digits";
  ev->has_hresult = true;

  if (2 == flen[1] && 0 == memcmp(field[1], "25", 2))
    ev->required_count = 25;
  else if (1 == flen[1] && '5' == field[1][0])
    ev->required_count = 5;
  else
    return "info string: required count is not 25 or 5";
  ev->has_required_count = true;

  switch (kg_ev_check_client(field[2], flen[2])) {
    case KG_CLIENT_OK:
      break;
    case KG_CLIENT_EMPTY:
      return "info string: client name is empty";
    case KG_CLIENT_LONG:
      return "info string: client name is longer than 253 characters";
    default:
      return "info string: client name has a space, control or non-ASCII character";
  }

  if (!kg_guid_normalize(field[3], flen[3], ev->cmid))
    return "info string: cmid is not a GUID";

  switch (check_client_stamp(field[4], flen[4])) {
    case STAMP_OK:
      break;
    case STAMP_RANGE:
      return "info string: client timestamp is not a valid date and time";
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

  if (!kg_ev_parse_decimal(field[7], flen[7], INT64_MAX, &v))
    return "info string: minutes until expiry is not a non-negative integer";
  ev->minutes_to_expiry = v;
  ev->has_minutes_to_expiry = true;

  if (!kg_guid_normalize(field[8], flen[8], ev->activation_id))
    return "info string: activation ID is not a GUID";
  ev->has_activation_id = true;

  ev->client = kg_ev_dup(field[2], flen[2]);
  if (NULL != ev->client)
    return NULL;
  memset(ev, 0, sizeof *ev);
  ev->requested_at_us = requested_at_us;
  return KG_EVENTS_ENOMEM;
}

/* ------------------------------------------------------------------ */
/* Batch building                                                      */
/* ------------------------------------------------------------------ */

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
enum kg_ev_step
kg_ev_next_record(struct kg_ev_builder *bd, size_t *index)
{
  if (bd->b.n_records >= bd->max_records)
    return KG_STEP_TOO_MANY;
  *index = bd->b.n_records++;
  return KG_STEP_OK;
}

/** Hands the accepted events to the flush callback and frees them. */
static enum kg_ev_step
flush_events(struct kg_ev_builder *bd)
{
  int r = bd->opts->flush(bd->opts->cls, bd->b.events, bd->b.n_events);

  for (size_t i = 0; i < bd->b.n_events; i++)
    free(bd->b.events[i].client);
  bd->b.n_flushed += bd->b.n_events;
  bd->b.n_events = 0;
  return (0 == r) ? KG_STEP_OK : KG_STEP_FLUSH;
}

/** Appends @a ev, taking ownership of its client (released on failure too). */
static enum kg_ev_step
add_event(struct kg_ev_builder *bd, struct kg_event *ev)
{
  void *arr = bd->b.events;

  if (!grow(&arr, &bd->cap_events, bd->b.n_events, sizeof *ev)) {
    kg_event_clear(ev);
    return KG_STEP_NOMEM;
  }
  bd->b.events = arr;
  bd->b.events[bd->b.n_events++] = *ev;
  if (NULL != bd->opts->flush && bd->b.n_events >= bd->opts->batch_size)
    return flush_events(bd);
  return KG_STEP_OK;
}

/** The reason for an event dated @a ahead_us after the service's clock, in @a buf. */
static const char *
future_reason(int64_t ahead_us, char *buf, size_t len)
{
  /* clang-format off */
  snprintf(buf, len, "requested_at: %lld s ahead of the service's clock "
           "(more than %lld s of clock skew: check the KMS host's time)",
           /* clang-format on */
           (long long) (ahead_us / 1000000), (long long) (KG_EVENTS_MAX_AHEAD_US / 1000000));
  return buf;
}

enum kg_ev_step
kg_ev_reject(struct kg_ev_builder *bd, size_t index, const char *msg)
{
  void *arr = bd->b.rejected;
  char *copy;

  if (KG_EVENTS_ENOMEM == msg)
    return KG_STEP_NOMEM;
  if (!grow(&arr, &bd->cap_rejected, bd->b.n_rejected, sizeof(struct kg_event_rejection)))
    return KG_STEP_NOMEM;
  bd->b.rejected = arr;
  copy = kg_ev_dup(msg, strlen(msg));
  if (NULL == copy)
    return KG_STEP_NOMEM;
  bd->b.rejected[bd->b.n_rejected].index = index;
  bd->b.rejected[bd->b.n_rejected].error = copy;
  bd->b.n_rejected++;
  return KG_STEP_OK;
}

/** Records the outcome of one record: the event on success, else a rejection. */
enum kg_ev_step
kg_ev_settle(struct kg_ev_builder *bd, size_t index, const char *err, struct kg_event *ev)
{
  char msg[160];

  if (NULL == err && bd->opts->now_us > 0
      && ev->requested_at_us - bd->opts->now_us > KG_EVENTS_MAX_AHEAD_US)
    err = future_reason(ev->requested_at_us - bd->opts->now_us, msg, sizeof msg);
  if (NULL == err) {
    ev->index = index;
    return add_event(bd, ev);
  }
  kg_event_clear(ev);
  if (KG_EV_SKIP == err) {
    bd->b.n_skipped++;
    return KG_STEP_OK;
  }
  return kg_ev_reject(bd, index, err);
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
merge_rejections(const struct kg_event_rejection *a, size_t na, const struct kg_event_rejection *b,
                 size_t nb)
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
    future_reason(ahead, msg, sizeof msg);
    late[n_late].index = ev->index;
    late[n_late].error = kg_ev_dup(msg, strlen(msg));
    if (NULL == late[n_late].error) {
      failed = true;
      b->events[kept++] = *ev; /* stays owned by the batch */
      continue;
    }
    n_late++;
    kg_event_clear(ev);
  }
  b->n_events = kept; /* entries past it are moved or cleared */
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

const char *
kg_ev_check_event_id(const char *s, size_t len, const char *bad)
{
  int64_t id;

  kg_ev_trim(&s, &len);
  if (!kg_ev_parse_decimal(s, len, 65535, &id))
    return bad;
  return (KG_EVENT_ID_ACTIVATION == id) ? NULL : KG_EV_SKIP;
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

  while (e > 0 && (kg_ev_is_blank(s[e - 1]) || '\r' == s[e - 1] || '\n' == s[e - 1]))
    e--;
  b = e;
  while (b > 0 && '\r' != s[b - 1] && '\n' != s[b - 1])
    b--;
  *line = s + b;
  *line_len = e - b;
  kg_ev_trim(line, line_len);
}

const char *
kg_ev_info_from_message(const char *msg, size_t len, const char *empty, struct kg_event *ev)
{
  const char *info;
  size_t info_len;

  last_line(msg, len, &info, &info_len);
  if (0 == info_len)
    return empty;
  return kg_events_parse_info(info, info_len, ev);
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

int
kg_events_parse(enum kg_events_format fmt, const char *body, size_t len, size_t max_records,
                struct kg_events_batch *out, const char **error)
{
  return kg_events_parse_with(fmt, body, len, max_records, NULL, out, error);
}

int
kg_events_parse_with(enum kg_events_format fmt, const char *body, size_t len, size_t max_records,
                     const struct kg_events_opts *opts, struct kg_events_batch *out,
                     const char **error)
{
  static const struct kg_events_opts none;
  struct kg_ev_builder bd;
  const char *dummy;
  const char *msg = NULL;
  enum kg_ev_step st;

  if (NULL == error)
    error = &dummy;
  *error = NULL;
  if (NULL == out) {
    *error = "no output batch given";
    return -1;
  }
  memset(out, 0, sizeof *out);
  memset(&bd, 0, sizeof bd);
  bd.max_records = max_records;
  bd.opts = (NULL == opts) ? &none : opts;
  bd.zone = bd.opts->zone;
  if (NULL == body)
    len = 0;
  /* Windows tools (PowerShell 5's -Encoding UTF8 above all) write a BOM. */
  if (len >= 3 && 0 == memcmp(body, "\xEF\xBB\xBF", 3)) {
    body += 3;
    len -= 3;
  }
  if (NULL == body)
    body = "";
  /* PowerShell 5's Out-File and ">" write UTF-16: say so rather than "not JSON". */
  if (len >= 2 && (0 == memcmp(body, "\xFF\xFE", 2) || 0 == memcmp(body, "\xFE\xFF", 2))) {
    *error = "body is UTF-16: send UTF-8 (PowerShell: -Encoding UTF8)";
    return -1;
  }
  switch (fmt) {
    case KG_EVENTS_JSON:
      st = kg_ev_parse_json(&bd, body, len, &msg);
      break;
    case KG_EVENTS_NDJSON:
      st = kg_ev_parse_ndjson(&bd, body, len);
      break;
    case KG_EVENTS_CSV:
      st = kg_ev_parse_csv(&bd, body, len, &msg);
      break;
    case KG_EVENTS_XML:
      st = kg_ev_parse_xml(&bd, body, len, &msg);
      break;
    default:
      *error = "unknown body format";
      return -1;
  }
  if (KG_STEP_OK == st && NULL != bd.opts->flush && bd.b.n_events > 0)
    st = flush_events(&bd);
  if (KG_STEP_OK == st) {
    *out = bd.b;
    return 0;
  }
  kg_events_batch_free(&bd.b);
  if (NULL != msg)
    *error = msg;
  else if (KG_STEP_FLUSH == st)
    *error = KG_EVENTS_EFLUSH;
  else if (KG_STEP_TOO_MANY == st && KG_EVENTS_MAX_UPLOAD_RECORDS == max_records)
    *error = "more than 1000000 records";
  else if (KG_STEP_TOO_MANY == st)
    *error =
      (KG_EVENTS_MAX_RECORDS == max_records) ? "more than 10000 records" : "too many records";
  else
    *error = "out of memory";
  return -1;
}
