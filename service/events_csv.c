/**
 * @file events_csv.c
 * @brief Event-12290 records from PowerShell's Export-Csv of the host's
 *        event log (columns TimeCreated and Message, optionally Id).
 *
 * Export-Csv -UseCulture writes the culture's list separator: ';' in most
 * of Europe, ',' in the US.  The header row tells which: it names at least
 * TimeCreated and Message, so it holds at least one separator outside quotes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_internal.h"
#include "timeutil.h"

/**
 * One CSV row, unescaped.  The buffers are reused from row to row and grow
 * by doubling, so a body costs O(length) however its rows are shaped.
 */
struct csv_row {
  char *buf; /**< field bytes, back to back */
  size_t used;
  size_t cap;
  size_t *start; /**< offset of each field in buf */
  size_t *flen;  /**< length of each field */
  size_t n;      /**< fields in this row */
  size_t fcap;
  bool unterminated; /**< input ended inside a quoted field */
  bool after_quote;  /**< bytes between a closing quote and the separator */
};

struct csv_cursor {
  const char *p;
  const char *end;
  char sep; /**< ',' or ';' (Export-Csv -UseCulture in many locales) */
};

static bool
row_append(struct csv_row *row, const char *s, size_t len)
{
  if (0 == len)
    return true;
  if (len > row->cap - row->used) {
    size_t ncap = (0 == row->cap) ? 256 : row->cap;

    while (len > ncap - row->used) {
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
  if (row->n == row->fcap) {
    size_t ncap = (0 == row->fcap) ? 8 : row->fcap * 2;
    size_t *ns;
    size_t *nl;

    if (ncap > SIZE_MAX / sizeof(size_t))
      return false;
    ns = realloc(row->start, ncap * sizeof(size_t));
    if (NULL == ns)
      return false;
    row->start = ns;
    nl = realloc(row->flen, ncap * sizeof(size_t));
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
  if (c->p < c->end && '\r' == *c->p) {
    c->p++;
    if (c->p < c->end && '\n' == *c->p)
      c->p++;
    return true;
  }
  if (c->p < c->end && '\n' == *c->p) {
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
  for (;;) {
    size_t start = row->used;

    if (c->p < c->end && '"' == *c->p) {
      c->p++;
      for (;;) {
        const char *q = memchr(c->p, '"', (size_t) (c->end - c->p));

        if (NULL == q) {
          if (!row_append(row, c->p, (size_t) (c->end - c->p)))
            return -1;
          c->p = c->end;
          row->unterminated = true;
          return row_push_field(row, start) ? 1 : -1;
        }
        if (!row_append(row, c->p, (size_t) (q - c->p)))
          return -1;
        c->p = q + 1;
        if (c->p < c->end && '"' == *c->p) {
          if (!row_append(row, "\"", 1))
            return -1;
          c->p++;
          continue;
        }
        break;
      }
      while (c->p < c->end && c->sep != *c->p && '\r' != *c->p && '\n' != *c->p) {
        row->after_quote = true;
        c->p++;
      }
    } else {
      const char *s = c->p;

      while (c->p < c->end && c->sep != *c->p && '\r' != *c->p && '\n' != *c->p)
        c->p++;
      if (!row_append(row, s, (size_t) (c->p - s)))
        return -1;
    }
    if (!row_push_field(row, start))
      return -1;
    if (c->p < c->end && c->sep == *c->p) {
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

  kg_ev_trim(&s, &len);
  if (len != nlen)
    return false;
  for (size_t i = 0; i < len; i++) {
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

/** The columns of a header row that the records are read from. */
struct csv_header {
  size_t ncols;
  size_t col_time;
  size_t col_msg;
  size_t col_id; /**< the event id column, SIZE_MAX when there is none */
};

/**
 * Validates one data row into @a ev.
 * @return NULL, KG_EV_SKIP for another event id, or the rejection reason
 */
static const char *
event_from_csv_row(const struct csv_row *row, const struct csv_header *h,
                   const struct kg_events_time *zone, struct kg_event *ev, char *errbuf,
                   size_t errbuf_len)
{
  const char *t;
  size_t tlen;
  int64_t at;

  memset(ev, 0, sizeof *ev);
  if (row->unterminated)
    return "row: unterminated quoted field";
  if (row->after_quote)
    return "row: text after a closing quote";
  if (row->n != h->ncols) {
    snprintf(errbuf, errbuf_len, "row: %zu column%s, expected %zu", row->n,
             (1 == row->n) ? "" : "s", h->ncols);
    return errbuf;
  }
  if (SIZE_MAX != h->col_id) {
    const char *err = kg_ev_check_event_id(row->buf + row->start[h->col_id], row->flen[h->col_id],
                                           "Id: not an event id (0 to 65535)");

    if (NULL != err)
      return err;
  }
  t = row->buf + row->start[h->col_time];
  tlen = row->flen[h->col_time];
  kg_ev_trim(&t, &tlen);
  /* A time without an offset is refused unless the upload states its zone:
     a culture's "yyyy-MM-dd HH:mm:ss" is the exporting host's local time. */
  enum kg_ev_time r = kg_ev_parse_time(t, tlen, zone, false, &at);
  if (KG_EV_TIME_OK != r)
    return kg_ev_time_error(r, "TimeCreated", "TimeCreated: not an RFC 3339 date-time", errbuf,
                            errbuf_len);
  ev->requested_at_us = at;
  return kg_ev_info_from_message(row->buf + row->start[h->col_msg], row->flen[h->col_msg],
                                 "Message: empty", ev);
}

/**
 * Picks the separator of the header line at the cursor: ';' when it has more
 * semicolons than commas outside quotes, else ','.
 */
static char
detect_separator(const struct csv_cursor *c)
{
  size_t commas = 0;
  size_t semicolons = 0;
  bool quoted = false;

  for (const char *p = c->p; p < c->end; p++) {
    if ('"' == *p)
      quoted = !quoted;
    else if (!quoted && ('\r' == *p || '\n' == *p))
      break;
    else if (!quoted && ',' == *p)
      commas++;
    else if (!quoted && ';' == *p)
      semicolons++;
  }
  return (semicolons > commas) ? ';' : ',';
}

/**
 * Reads the optional "#TYPE" line and the header row.
 * @return KG_STEP_OK, KG_STEP_NOMEM, or KG_STEP_BAD_BODY with @a error set
 */
static enum kg_ev_step
read_header(struct csv_cursor *c, struct csv_row *row, struct csv_header *h, const char **error)
{
  int r;

  /* PowerShell 5 without -NoTypeInformation starts with "#TYPE <class>". */
  if (c->end - c->p >= 5 && 0 == memcmp(c->p, "#TYPE", 5)) {
    while (c->p < c->end && '\r' != *c->p && '\n' != *c->p)
      c->p++;
    skip_line_end(c);
  }
  while (skip_line_end(c))
    ;
  c->sep = detect_separator(c);
  r = csv_read_row(c, row);
  if (r < 0)
    return KG_STEP_NOMEM;
  if (0 == r || row->unterminated) {
    *error =
      (0 == r) ? "CSV body has no header row" : "CSV header has an unterminated quoted field";
    return KG_STEP_BAD_BODY;
  }
  h->ncols = row->n;
  h->col_time = SIZE_MAX;
  h->col_msg = SIZE_MAX;
  h->col_id = SIZE_MAX;
  for (size_t i = 0; i < row->n; i++) {
    const char *cell = row->buf + row->start[i];

    if (SIZE_MAX == h->col_time && header_is(cell, row->flen[i], "TimeCreated"))
      h->col_time = i;
    else if (SIZE_MAX == h->col_msg && header_is(cell, row->flen[i], "Message"))
      h->col_msg = i;
    else if (SIZE_MAX == h->col_id && header_is(cell, row->flen[i], "Id"))
      h->col_id = i;
  }
  if (SIZE_MAX == h->col_time || SIZE_MAX == h->col_msg) {
    *error = "CSV header must name the TimeCreated and Message columns";
    return KG_STEP_BAD_BODY;
  }
  if (row->after_quote) {
    *error = "CSV header has text after a closing quote";
    return KG_STEP_BAD_BODY;
  }
  return KG_STEP_OK;
}

enum kg_ev_step
kg_ev_parse_csv(struct kg_ev_builder *bd, const char *body, size_t len, const char **error)
{
  struct csv_cursor c = { body, body + len, ',' };
  struct csv_row row = { 0 };
  struct csv_header h;
  enum kg_ev_step st;
  int r;

  /* allocated up front so that cells of an all-empty row point somewhere */
  row.buf = malloc(256);
  if (NULL == row.buf)
    return KG_STEP_NOMEM;
  row.cap = 256;
  st = read_header(&c, &row, &h, error);
  while (KG_STEP_OK == st) {
    struct kg_event ev;
    char errbuf[256];
    const char *err;
    size_t index;

    /* empty lines carry no record (and would never have both columns) */
    while (skip_line_end(&c))
      ;
    r = csv_read_row(&c, &row);
    if (r < 0)
      st = KG_STEP_NOMEM;
    if (r <= 0)
      break;
    st = kg_ev_next_record(bd, &index);
    if (KG_STEP_OK != st)
      break;
    err = event_from_csv_row(&row, &h, bd->zone, &ev, errbuf, sizeof errbuf);
    st = kg_ev_settle(bd, index, err, &ev);
  }
  row_free(&row);
  return st;
}
