/**
 * @file db_estate_sql.h
 * @brief SQL fragments that the full estate load (db_estate.c) and the
 *        refresh by changed rows (db_estate_delta.c) must phrase alike.
 *        $1 is the host id, $2 the evaluation time; `c` is the CMID row.
 */
#ifndef KG_DB_ESTATE_SQL_H
#define KG_DB_ESTATE_SQL_H

/* CMIDs whose last request is older than E + the longest renewal interval
   (30 d) + grace can neither count nor renew: the model never needs them. */
#define KG_RELEVANT_DAYS "61"

/* Whether another host of the family has a request of the CMID as new or newer:
   it renews there and lapses here (a tie lapses on both, the stricter reading).
   Looked up only when the family has another host. */
/* clang-format off */
#define RENEWS_ELSEWHERE                                                         \
  " CASE WHEN (SELECT count(*) FROM kms_hosts o, kms_hosts h WHERE h.id = $1"    \
  "             AND o.family = h.family) > 1"                                    \
  " THEN EXISTS (SELECT 1 FROM cmids o JOIN kms_hosts oh ON oh.id = o.kms_host_id" \
  "  JOIN kms_hosts h ON h.id = c.kms_host_id AND h.family = oh.family"          \
  "  WHERE o.cmid = c.cmid AND o.kms_host_id <> c.kms_host_id"                   \
  "  AND o.last_request_at >= c.last_request_at) ELSE false END,"                \
  /* and whether another host of the family caches it (requested there in the \
     last 30 days): a gate that decommissions its desktop touches that host */ \
  " CASE WHEN (SELECT count(*) FROM kms_hosts o, kms_hosts h WHERE h.id = $1"    \
  "             AND o.family = h.family) > 1"                                    \
  " THEN EXISTS (SELECT 1 FROM cmids o JOIN kms_hosts oh ON oh.id = o.kms_host_id" \
  "  JOIN kms_hosts h ON h.id = c.kms_host_id AND h.family = oh.family"          \
  "  WHERE o.cmid = c.cmid AND o.kms_host_id <> c.kms_host_id"                   \
  "  AND o.last_request_at > to_timestamp($2) - interval '30 days') ELSE false END"
/* clang-format on */

#endif
