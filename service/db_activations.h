/**
 * @file db_activations.h
 * @brief SQL for event-12290 ingest and count observations.
 */
#ifndef KG_DB_ACTIVATIONS_H
#define KG_DB_ACTIVATIONS_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "events.h"

/** What one ingest stored; release with kg_ingest_result_clear(). */
struct kg_ingest_result {
  long long inserted;        /**< new activation requests */
  long long desktops_linked; /**< desktops whose CMID was set or changed */
  json_t *by_family;         /**< {family: records}, duplicates included */
  long long unmapped;        /**< records whose activation ID maps to no application */
  json_t *ambiguous_clients; /**< short client names two or more desktops share */
};

/**
 * Releases what an ingest result owns; safe to call twice.
 * @param r the result
 */
void kg_ingest_result_clear(struct kg_ingest_result *r);

/**
 * Stores a batch of events for a KMS server in one statement: new requests,
 * each counted host's per-CMID summary (routed by activation ID), the
 * server's per-ID totals, and desktop CMID links. Already stored events are
 * skipped (idempotent). Rows are written in key order so concurrent uploads
 * wait for each other rather than deadlock; a deadlock that happens anyway
 * (desktop links) is a serialization failure the transaction runner retries.
 * @param db connection (in a transaction)
 * @param server the KMS server (lowercase DNS name)
 * @param family_hint where events without an activation ID count
 * @param events the accepted records (client names lowercased by the caller)
 * @param n number of records
 * @param[out] out counts
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_ingest(struct kg_db *db, const char *server, const char *family_hint,
                        const struct kg_event *events, size_t n, struct kg_ingest_result *out);

/**
 * Records the host's own reported count next to the modelled count at that
 * time (distinct CMIDs with a request in (at - 30 d, at], capped at capacity).
 * @param db connection
 * @param host_id the KMS host
 * @param count reported count
 * @param at_seconds observation time
 * @param[out] modelled the modelled count
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_observation_insert(struct kg_db *db, long long host_id, long long count,
                                    int64_t at_seconds, long long *modelled);

/** A host's own reported count, as stored with the model's count at that time. */
struct kg_observation {
  long long count;
  long long modelled;
  int64_t at; /**< Unix seconds */
};

/**
 * The latest observation of a host.
 * @param db connection
 * @param host_id the KMS host
 * @param[out] found whether the host has one
 * @param[out] obs the observation, when found
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_last_observation_row(struct kg_db *db, long long host_id, bool *found,
                                      struct kg_observation *obs);

/** CMIDs in a host's count, by the required count of their latest request. */
struct kg_in_count {
  long long clients; /**< required count 25 */
  long long servers; /**< required count 5 */
  long long unknown; /**< none or another */
};

#endif
