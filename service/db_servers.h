/**
 * @file db_servers.h
 * @brief KMS server statements: the machines whose event logs kmsgate
 *        stores, their hosts (one per family) and their requests by
 *        activation ID (docs/model.md §5.2).
 */
#ifndef KG_DB_SERVERS_H
#define KG_DB_SERVERS_H

#include <stdbool.h>

#include "db.h"

/** Requests of one server with one activation ID (or none, by upload family). */
struct kg_server_total {
  const char *activation_id; /**< NULL: events without one */
  const char *application;   /**< where they count; NULL: unmapped (nowhere) */
  long long requests;
  const char *last_at; /**< epoch seconds text */
};

/** Receives a server name; false aborts (KG_QS_HARD_ERROR). */
typedef bool (*kg_server_cb)(void *cls, const char *server);

/** Receives a host of a server; false aborts. */
typedef bool (*kg_server_host_cb)(void *cls, const char *name, const char *family);

/** Receives a total; false aborts. */
typedef bool (*kg_server_total_cb)(void *cls, const struct kg_server_total *t);

/**
 * Whether some KMS host names @a server.
 * @param db connection
 * @param server lowercase DNS name
 * @param[out] found the answer
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_server_exists(struct kg_db *db, const char *server, bool *found);

/**
 * Servers named by a host or holding events, by name.
 * @param db connection
 * @param after list after this name, or NULL from the start
 * @param limit rows at most
 * @param cb receives each name
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_server_list(struct kg_db *db, const char *after, long long limit, kg_server_cb cb,
                             void *cls);

/**
 * The hosts of a server, by family.
 * @param db connection
 * @param server lowercase DNS name
 * @param cb receives each host
 * @param cls closure for cb
 * @param[out] n number of hosts
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_server_hosts(struct kg_db *db, const char *server, kg_server_host_cb cb, void *cls,
                              int *n);

/**
 * The server's requests by activation ID, most requests first.
 * @param db connection
 * @param server lowercase DNS name
 * @param cb receives each total
 * @param cls closure for cb
 * @param[out] n number of totals
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_server_totals(struct kg_db *db, const char *server, kg_server_total_cb cb,
                               void *cls, int *n);

/** Receives a server's unmapped requests; false aborts. */
typedef bool (*kg_server_unmapped_cb)(void *cls, const char *server, long long requests);

/**
 * Every server holding requests, with how many of them map to no application.
 * @param db connection
 * @param cb receives each server
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_server_unmapped(struct kg_db *db, kg_server_unmapped_cb cb, void *cls);

#endif
