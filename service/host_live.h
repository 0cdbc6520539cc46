/**
 * @file host_live.h
 * @brief The live fields of a host document (forecast_json.h renders them):
 *        gathered exactly for one host, or from this process's figures of
 *        at most KG_FIGURES_MAX_AGE seconds for host lists.
 */
#ifndef KG_HOST_LIVE_H
#define KG_HOST_LIVE_H

#include <jansson.h>

#include "db.h"
#include "db_hosts.h"

/**
 * Adds the exact live fields of a host to its document, read now in the
 * caller's transaction.
 * @param db connection
 * @param name the host's (lowercase) name
 * @param doc the host document to extend (left as it is when the host was deleted meanwhile)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_host_live_add(struct kg_db *db, const char *name, json_t *doc);

/**
 * Adds the live fields of a host to its document for a list: the ones
 * computed for the same estate_version within the last KG_FIGURES_MAX_AGE
 * seconds, by this or another request of this process, else read now.
 * @param db connection
 * @param host the host row the list read
 * @param doc the host document to extend
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_host_live_add_cached(struct kg_db *db, const struct kg_host_row *host, json_t *doc);

#endif
