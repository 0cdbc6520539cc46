/**
 * @file host_live.h
 * @brief Gathers the live fields of a host document (forecast_json.h
 *        renders them).
 */
#ifndef KG_HOST_LIVE_H
#define KG_HOST_LIVE_H

#include <jansson.h>

#include "db.h"

/**
 * Adds the exact live fields of a host to its document, read now in the
 * caller's transaction.
 * @param db connection
 * @param name the host's (lowercase) name
 * @param doc the host document to extend (left as it is when the host was deleted meanwhile)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_host_live_add(struct kg_db *db, const char *name, json_t *doc);

#endif
