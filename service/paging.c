/**
 * @file paging.c
 * @brief List pages: request parsing, opaque cursors and the page collector.
 */
#include "paging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "input.h"

/* ---- the request ---- */

static int
hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

bool
kg_page_parse(const struct kg_ctx *ctx, struct kg_errors *e, struct kg_page *page)
{
  bool ok = kg_query_int(ctx, "limit", 1, 1000, 100, e, &page->limit);
  const char *cursor = kg_param(ctx, "cursor");

  page->after[0] = '\0';
  if (NULL == cursor || '\0' == cursor[0])
    return ok;
  /* The cursor is the hex of the last key: opaque to callers, trivially safe to decode. */
  size_t len = strlen(cursor);
  if (0 != len % 2 || len / 2 >= sizeof(page->after)) {
    kg_errors_add(e, false, "cursor", "is not a cursor from this API");
    return false;
  }
  for (size_t i = 0; i < len / 2; i++) {
    int hi = hex_value(cursor[2 * i]);
    int lo = hex_value(cursor[2 * i + 1]);
    if (hi < 0 || lo < 0 || (0 == hi && 0 == lo)) {
      kg_errors_add(e, false, "cursor", "is not a cursor from this API");
      return false;
    }
    page->after[i] = (char) (hi * 16 + lo);
  }
  page->after[len / 2] = '\0';
  return ok;
}

void
kg_page_check_text(const struct kg_page *page, size_t max_bytes, struct kg_errors *e)
{
  if ('\0' != page->after[0] && !kg_text_ok(page->after, max_bytes))
    kg_errors_add(e, false, "cursor", "is not a cursor from this API");
}

const char *
kg_page_after(const struct kg_page *page)
{
  return ('\0' != page->after[0]) ? page->after : NULL;
}

bool
kg_page_split_time_key(const char *key, char us[24], char id[37])
{
  const char *comma = strchr(key, ',');
  size_t n = (NULL != comma) ? (size_t) (comma - key) : 0;
  char *end;

  if (0 == n || n >= 24)
    return false;
  memcpy(us, key, n);
  us[n] = '\0';
  (void) strtoll(us, &end, 10);
  /* Both parts go to casts in SQL: anything else must be refused here, not fail there. */
  return '\0' == *end && kg_guid_normalize(comma + 1, strlen(comma + 1), id);
}

/* ---- the answer ---- */

/** The cursor for the key of the last item of a page: a JSON string, NULL without memory. */
static json_t *
page_cursor(const char *key)
{
  size_t len = strlen(key);
  char *hex = malloc(2 * len + 1);
  if (NULL == hex)
    return NULL;
  for (size_t i = 0; i < len; i++)
    snprintf(hex + 2 * i, 3, "%02x", (unsigned char) key[i]);
  hex[2 * len] = '\0';
  json_t *s = json_string(hex);
  free(hex);
  return s;
}

bool
kg_list_start(struct kg_list *l, long long limit)
{
  json_decref(l->items);
  l->items = json_array();
  l->limit = limit;
  l->rows = 0;
  l->last_key[0] = '\0';
  return NULL != l->items;
}

bool
kg_list_add(struct kg_list *l, json_t *item, const char *key)
{
  if (NULL == item)
    return false;
  if (l->rows++ >= l->limit) {
    json_decref(item); /* the look-ahead row: it only proves a next page exists */
    return true;
  }
  snprintf(l->last_key, sizeof(l->last_key), "%s", key);
  return 0 == json_array_append_new(l->items, item);
}

json_t *
kg_list_document(struct kg_list *l)
{
  json_t *cursor = (l->rows > l->limit) ? page_cursor(l->last_key) : json_null();
  json_t *items = l->items;

  l->items = NULL;
  if (NULL == items || NULL == cursor) {
    json_decref(items);
    json_decref(cursor);
    return NULL;
  }
  return json_pack("{s:o,s:o}", "items", items, "next_cursor", cursor);
}

void
kg_list_free(struct kg_list *l)
{
  json_decref(l->items);
  l->items = NULL;
}

void
kg_reply_tx_list(struct kg_ctx *ctx, enum kg_qs qs, struct kg_list *l)
{
  json_t *doc = (KG_QS_OK == qs) ? kg_list_document(l) : NULL;

  kg_list_free(l);
  if (KG_QS_OK == qs && NULL == doc)
    qs = KG_QS_INTERNAL_ERROR; /* out of memory: 500 */
  kg_reply_tx_document(ctx, qs, 200, doc);
}

/* ---- lists sorted by time then id ---- */

/** What a time-sorted list's transaction needs and collects. */
struct time_list_tx {
  struct kg_ctx *ctx;
  const struct kg_page *page;
  kg_time_page_fn fn;
  const void *filter;
  struct kg_list list;
};

static enum kg_qs
time_list_transaction(struct kg_db *db, void *cls)
{
  struct time_list_tx *t = cls;
  const char *after = kg_page_after(t->page);
  char us[24], id[37];

  /* Checked here, not with the filters: these lists have always reported a
     foreign cursor on its own, once the filters passed and the database answered. */
  if (NULL != after && !kg_page_split_time_key(after, us, id)) {
    struct kg_errors e;
    kg_errors_init(&e);
    kg_errors_add(&e, false, "cursor", "is not a cursor from this API");
    kg_errors_reply(t->ctx, &e);
    return KG_QS_REPLIED;
  }
  if (!kg_list_start(&t->list, t->page->limit))
    return KG_QS_INTERNAL_ERROR;
  return t->fn(db, t->filter, NULL != after ? us : NULL, NULL != after ? id : NULL,
               t->page->limit + 1, &t->list);
}

void
kg_list_serve_by_time(struct kg_ctx *ctx, const char *what, const struct kg_page *page,
                      kg_time_page_fn fn, const void *filter)
{
  struct time_list_tx t = { .ctx = ctx, .page = page, .fn = fn, .filter = filter };
  enum kg_qs qs =
    kg_db_run_transaction(ctx->db, what, KG_READ_COMMITTED, time_list_transaction, &t);
  kg_reply_tx_list(ctx, qs, &t.list);
}
