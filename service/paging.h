/**
 * @file paging.h
 * @brief List pages: the ?limit=&cursor= request, the opaque cursor, and the
 *        collector that turns the rows of a list statement into
 *        {"items", "next_cursor"}. Every list endpoint pages this one way.
 *
 * A cursor is the hex of the sort key of the last item shown; a list
 * statement is asked for limit + 1 rows, the extra row only telling that
 * there is a next page.
 */
#ifndef KG_PAGING_H
#define KG_PAGING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "http.h"
#include "responses.h"

/** A page request: ?limit= and ?cursor=. */
struct kg_page {
  long long limit; /**< 1..1000, default 100 */
  char after[512]; /**< decoded cursor: the sort key to continue after, "" = start */
};

/**
 * Reads ?limit= and ?cursor= (an opaque token made by kg_list_document()).
 * @param ctx request
 * @param e errors
 * @param[out] page the request
 * @return true when both are valid (errors recorded otherwise)
 */
bool kg_page_parse(const struct kg_ctx *ctx, struct kg_errors *e, struct kg_page *page);

/**
 * Records a list cursor that cannot be one of ours when it is not plain text
 * (cursors are decoded from hex, so any byte can come back). For lists
 * sorted by a name.
 * @param page the parsed page
 * @param max_bytes longest key of the list
 * @param e errors
 */
void kg_page_check_text(const struct kg_page *page, size_t max_bytes, struct kg_errors *e);

/**
 * The key to continue after, as a statement parameter.
 * @param page the parsed page
 * @return the key, or NULL (SQL NULL) for the first page
 */
const char *kg_page_after(const struct kg_page *page);

/**
 * Splits the key of a list sorted by time then id, "<epoch µs>,<uuid>", into
 * its two statement parameters.
 * @param key the decoded cursor (not "")
 * @param[out] us the microseconds, as text
 * @param[out] id the uuid, canonical
 * @return false when the key is not one of ours
 */
bool kg_page_split_time_key(const char *key, char us[24], char id[37]);

/** Collects one page of a list from the limit + 1 rows of its statement. */
struct kg_list {
  json_t *items;      /**< the page's items */
  long long limit;    /**< items per page */
  long long rows;     /**< rows offered so far */
  char last_key[512]; /**< sort key of the last item kept */
};

/**
 * Starts (or, in a re-run transaction, restarts) a page.
 * @param l the page
 * @param limit items per page
 * @return true, or false when out of memory
 */
bool kg_list_start(struct kg_list *l, long long limit);

/**
 * Offers one row to the page.
 * @param l the page
 * @param item the row's document (stolen; NULL means out of memory)
 * @param key the row's sort key (the cursor continues after it)
 * @return true, or false when out of memory
 */
bool kg_list_add(struct kg_list *l, json_t *item, const char *key);

/**
 * Makes the list document {"items", "next_cursor"} and empties the page.
 * @param l the page
 * @return new document, or NULL when out of memory
 */
json_t *kg_list_document(struct kg_list *l);

/**
 * Frees what a page still holds.
 * @param l the page
 */
void kg_list_free(struct kg_list *l);

/**
 * Answers a transaction that filled a page: the list document when it
 * committed, the failure otherwise. Frees the page either way.
 * @param ctx request
 * @param qs the runner's result
 * @param l the page
 */
void kg_reply_tx_list(struct kg_ctx *ctx, enum kg_qs qs, struct kg_list *l);

/**
 * Reads the rows of one page of a list sorted by time then id into a page.
 * @param db connection (in a transaction)
 * @param filter the list's own filters
 * @param after_us microseconds of the cursor's key, or NULL on the first page
 * @param after_id id of the cursor's key, or NULL on the first page
 * @param limit rows to read (the page's limit + 1)
 * @param list receives each row (kg_list_add())
 * @return KG_QS_OK or the failure
 */
typedef enum kg_qs (*kg_time_page_fn)(struct kg_db *db, const void *filter, const char *after_us,
                                      const char *after_id, long long limit, struct kg_list *list);

/**
 * Answers one page of a list sorted by time then id (keys "<µs>,<uuid>"):
 * reads it in a transaction and replies the page, or the failure. A cursor
 * that is not one of ours gets a 422 of its own.
 * @param ctx request, whose filters were checked already
 * @param what transaction name for logs
 * @param page limit and cursor
 * @param fn reads the rows
 * @param filter passed to fn
 */
void kg_list_serve_by_time(struct kg_ctx *ctx, const char *what, const struct kg_page *page,
                           kg_time_page_fn fn, const void *filter);

#endif
