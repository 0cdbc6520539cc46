/**
 * @file http.h
 * @brief The request context every handler receives, the route table, and
 *        the server start/stop.
 */
#ifndef KG_HTTP_H
#define KG_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <ulfius.h>

#include "config.h"
#include "db.h"

/** Roles in increasing power; a route names the least one it needs. */
enum kg_role {
  KG_ROLE_NONE = 0,
  KG_ROLE_READER,
  KG_ROLE_HOOK,
  KG_ROLE_ADMIN
};

/** The authenticated caller. */
struct kg_principal {
  char token_id[40]; /**< uuid of the token, "" when unauthenticated */
  char name[129];    /**< the token's name, for logs and decisions */
  enum kg_role role;
};

/** How a route takes its body. */
enum kg_body {
  KG_BODY_NONE,
  KG_BODY_JSON,
  KG_BODY_RAW
};

struct kg_route;

/** Everything one request needs; lives on the stack of the dispatcher. */
struct kg_ctx {
  const struct _u_request *req;
  struct _u_response *resp;
  const struct kg_route *route;
  struct kg_db *db; /**< this thread's connection */
  json_t *body;     /**< parsed body for KG_BODY_JSON routes, else NULL */
  struct kg_principal who;
  char request_id[72];
  unsigned int status; /**< set by the reply helpers, logged */
};

/** A handler answers through the reply helpers in responses.h. */
typedef void (*kg_handler)(struct kg_ctx *ctx);

/** One entry of the route table. */
struct kg_route {
  const char *method;    /**< "GET", "POST", ... */
  const char *pattern;   /**< ulfius pattern, e.g. "/v1/pools/:name" */
  enum kg_role min_role; /**< KG_ROLE_NONE: no token needed */
  enum kg_body body;     /**< what the body must be */
  size_t max_body;       /**< larger bodies get 413 */
  kg_handler handler;
  /** The query parameters the handler reads, separated by spaces (NULL: none).
      The dispatcher refuses any other name with a 400 (query.h). */
  const char *query;
};

/** Body limits from api.md. */
#define KG_MAX_BODY (1024 * 1024)
#define KG_MAX_INGEST_BODY (256 * 1024 * 1024)

/**
 * A path or query parameter of the request.
 * @param ctx request
 * @param name parameter name
 * @return its (URL-decoded) value or NULL
 */
const char *kg_param(const struct kg_ctx *ctx, const char *name);

/**
 * A request header (case-insensitive name).
 * @return its value or NULL
 */
const char *kg_header(const struct kg_ctx *ctx, const char *name);

/**
 * Starts serving; returns once the listening socket is up.
 * @param cfg configuration
 * @return 0 on success, -1 after logging why
 */
int kg_http_start(const struct kg_config *cfg);

/** Stops accepting, waits for requests in flight, frees the server. */
void kg_http_stop(void);

/** The routes of each resource, defined in the http_*.c handler files. */
extern const struct kg_route kg_routes_health[];
extern const struct kg_route kg_routes_hosts[];
extern const struct kg_route kg_routes_pools[];
extern const struct kg_route kg_routes_desktops[];
extern const struct kg_route kg_routes_tokens[];
extern const struct kg_route kg_routes_activations[];
extern const struct kg_route kg_routes_forecast[];
extern const struct kg_route kg_routes_gate[];
extern const struct kg_route kg_routes_plans[];
extern const struct kg_route kg_routes_decisions[];
extern const struct kg_route kg_routes_metrics[];
extern const struct kg_route kg_routes_servers[];
extern const struct kg_route kg_routes_activation_ids[];

#endif
