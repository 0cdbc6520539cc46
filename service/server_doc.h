/**
 * @file server_doc.h
 * @brief The document of a KMS server: its hosts, its requests by family
 *        and the activation IDs that count nowhere until an admin maps them.
 */
#ifndef KG_SERVER_DOC_H
#define KG_SERVER_DOC_H

#include <jansson.h>

#include "db.h"

/**
 * Builds {server, hosts, requests_by_family, unmapped_requests,
 * unmapped_activation_ids} of one server.
 * @param db connection
 * @param server lowercase DNS name
 * @param[out] doc new reference (NULL on failure)
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_server_document(struct kg_db *db, const char *server, json_t **doc);

#endif
