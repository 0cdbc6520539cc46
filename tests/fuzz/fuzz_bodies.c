/**
 * @file fuzz_bodies.c
 * @brief libFuzzer target: the JSON request bodies of every endpoint that
 *        takes one, through the real handlers. The first byte picks the route;
 *        the rest is the body, parsed as the dispatcher does. The database is
 *        unreachable on purpose (a folder that does not exist), so a body that
 *        passes validation ends in the 503 path: every answer must be a
 *        complete 4xx or 503, never a crash, a leak or a 2xx.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/** Every route whose body is JSON, found in the route tables at start. */
static const struct kg_route *json_routes[64];
static size_t n_json_routes;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  /* clang-format off */
  static const struct kg_route *const tables[] = {
    kg_routes_hosts, kg_routes_pools, kg_routes_desktops, kg_routes_tokens,
    kg_routes_activations, kg_routes_gate, kg_routes_plans, kg_routes_activation_ids, NULL,
  };
  /* clang-format on */
  (void) argc;
  (void) argv;
  kg_db_configure("host=/nonexistent-kmsgate-fuzz dbname=none connect_timeout=1");
  kg_log_set_level(KG_LOG_ERROR); /* every valid body logs a failed connection otherwise */
  for (const struct kg_route *const *t = tables; NULL != *t; t++)
    for (const struct kg_route *r = *t; NULL != r->method; r++)
      if (KG_BODY_JSON == r->body && n_json_routes < 64)
        json_routes[n_json_routes++] = r;
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct _u_request req;
  struct _u_response resp;

  if (0 == size || 0 == n_json_routes)
    return 0;
  const struct kg_route *route = json_routes[data[0] % n_json_routes];
  if (U_OK != ulfius_init_request(&req) || U_OK != ulfius_init_response(&resp))
    abort();
  /* Path parameters every pattern may use, valid so that the body decides. */
  u_map_put(req.map_url, "name", "kms01.corp.example");
  u_map_put(req.map_url, "hostname", "vdi-001.corp.example");
  u_map_put(req.map_url, "id", "00000000-0000-4000-8000-000000000001");
  struct kg_ctx ctx = { .req = &req, .resp = &resp, .route = route, .db = kg_db_thread() };
  ctx.who.role = KG_ROLE_ADMIN;
  json_error_t err;
  ctx.body = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, &err);
  if (NULL != ctx.body && json_is_object(ctx.body)) {
    route->handler(&ctx);
    if (ctx.status < 400 || (ctx.status >= 500 && 503 != ctx.status))
      abort(); /* without a database nothing can succeed, and nothing may crash to a 500 */
  }
  json_decref(ctx.body);
  ulfius_clean_request(&req);
  ulfius_clean_response(&resp);
  return 0;
}
