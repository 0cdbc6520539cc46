/**
 * @file db_estate_internal.h
 * @brief What the full load (db_estate.c) and the refresh by changed rows
 *        (db_estate_delta.c) share: the strings an estate's names point
 *        into, the CMID lookup, and the parsing of one row of each kind.
 */
#ifndef KG_DB_ESTATE_INTERNAL_H
#define KG_DB_ESTATE_INTERNAL_H

#include <stdatomic.h>

#include "db_estate.h"

/**
 * Storage of an estate's pool names and desktop hostnames. A full load's
 * node keeps the query results the names point into; a refresh adds a node
 * with the hostnames of its new desktops whose parent is the estate it was
 * refreshed from, so names are never copied twice. Nodes are shared by the
 * estates that point into them (reference counted: estates are freed by
 * whichever thread releases them last).
 */
struct kg_estate_strings {
  atomic_int refs;
  struct kg_estate_strings *parent;
  int depth;                  /**< nodes above this one */
  PGresult *pools, *desktops; /**< a full load's results, else NULL */
  size_t used, size;
  char data[]; /**< a refresh's new hostnames */
};

/** Empties @a es and sets its host row and the model's host fields. */
void kg_estate_begin(struct kg_estate *es, const struct kg_host_row *host, int64_t now,
                     int64_t horizon_seconds);

/**
 * A node for @a size bytes of names below @a parent (referenced by it).
 * @return the node with one reference, or NULL without memory
 */
struct kg_estate_strings *kg_estate_strings_new(struct kg_estate_strings *parent, size_t size);

/**
 * Copies @a s into @a node (which has room for it).
 * @return the copy
 */
char *kg_estate_strings_add(struct kg_estate_strings *node, const char *s);

/** Drops a reference to @a node and, when it was the last, to its parents. */
void kg_estate_strings_unref(struct kg_estate_strings *node);

/**
 * Builds the estate's CMID text -> index table over its n_cmids CMIDs,
 * with room for @a capacity of them.
 * @return 0, or -1 without memory
 */
int kg_estate_cmid_map_build(struct kg_estate *es, size_t capacity);

/** Adds CMID @a index (its text already in cmid_text) to the table. */
void kg_estate_cmid_map_add(struct kg_estate *es, int32_t index);

/** @return the index of pool id @a id (pools are ordered by id), or -1 */
int32_t kg_estate_pool_by_id(const struct kg_estate *es, long long id);

/**
 * Sets CMID @a index from row @a row of a CMID result (cmid, last request,
 * count, registered name, renews elsewhere, cached elsewhere, required count).
 */
void kg_estate_cmid_from_row(struct kg_estate *es, size_t index, const PGresult *res, int row);

/**
 * Allocates the estate's desktop arrays for @a n desktops (filled by the
 * caller) and points the model at them.
 * @return 0, or -1 without memory
 */
int kg_estate_alloc_desktops(struct kg_estate *es, size_t n);

/**
 * Sets desktop @a index from row @a row of a desktop result (id, hostname,
 * pool id, cmid, state, here); the hostname pointer is the caller's.
 * @return 0, or -1 when its pool is not in the estate
 */
int kg_estate_desktop_from_row(struct kg_estate *es, size_t index, const PGresult *res, int row);

#endif
