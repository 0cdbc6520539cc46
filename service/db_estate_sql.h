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

/* The CMID's newest request on another host of the family (NULL: none), one
   index probe per CMID, and none at all when the family has one host. `c` is a
   CMID of host $1. As two correlated EXISTS joined to kms_hosts, the planner
   built a hash table per CMID: 3 s for the 240,000 CMIDs of the scale bench's
   largest host, in a family of 20. */
/* clang-format off */
#define OTHER_HOSTS_JOIN                                                       \
  " LEFT JOIN LATERAL (SELECT max(o.last_request_at) AS last FROM cmids o"    \
  "  WHERE o.cmid = c.cmid AND o.kms_host_id <> $1"                          \
  "  AND o.kms_host_id IN (SELECT x.id FROM kms_hosts x JOIN kms_hosts h"     \
  "   ON h.id = $1 AND x.family = h.family)"                                 \
  "  AND (SELECT count(*) FROM kms_hosts x JOIN kms_hosts h"                 \
  "   ON h.id = $1 AND x.family = h.family) > 1) e ON true"
/* clang-format on */

/* The ids of host $1's family (itself included). A CMID's latest client that
   is a desktop registered on any of them has replaced the CMID (rule (b)):
   section 6 links desktops to CMIDs by client name over the whole family, so
   a desktop rebuilt with a CMID on kms-e ends its old CMID's renewals on kms-a
   too. Migration 0017 bumps the whole family on a desktop write to match. */
/* clang-format off */
#define FAMILY_HOST_IDS                                                        \
  "(SELECT x.id FROM kms_hosts x JOIN kms_hosts h ON h.id = $1 AND x.family = h.family)"
/* clang-format on */

/* Whether another host of the family has a request of the CMID as new or newer:
   it renews there and lapses here (a tie lapses on both, the stricter reading);
   and whether another host caches it (requested there in the last 30 days): a
   gate that decommissions its desktop touches that host. Needs OTHER_HOSTS_JOIN. */
/* clang-format off */
#define RENEWS_ELSEWHERE                                                       \
  " coalesce(e.last >= c.last_request_at, false),"                           \
  " coalesce(e.last > to_timestamp($2) - interval '30 days', false)"
/* clang-format on */

/* A desktop's columns, read by kg_estate_desktop_from_row() in both loads: the
   last says whether it is this host's (registered on it: only such desktops
   may be named in this host's plans), the one after it whether its platform
   reports it powered off (it renews nothing, docs/model.md §3.3). */
/* clang-format off */
#define KG_ESTATE_DESKTOP_COLUMNS                                              \
  "d.id, d.hostname, d.pool_id, d.cmid, d.state, d.kms_host_id = $1,"         \
  " d.power_state = 'off'"
/* clang-format on */

#endif
