/**
 * @file http.c
 * @brief The ulfius/libmicrohttpd server: route registration, and the one
 *        dispatcher that gives every route request ids, authentication, body
 *        limits, JSON parsing and a log line, so no handler repeats them.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "fileutil.h"
#include "log.h"
#include "metrics.h"
#include "query.h"
#include "responses.h"

static struct _u_instance instance;
static bool instance_ready;
/** Set once shutdown starts: answers then ask clients to close their connection. */
static atomic_bool stopping;
static char *tls_key_pem;
static char *tls_cert_pem;

static const struct kg_route *const *
all_tables(void)
{
  /* clang-format off */
  static const struct kg_route *const tables[] = {
    kg_routes_health, kg_routes_hosts, kg_routes_pools, kg_routes_desktops,
    kg_routes_tokens, kg_routes_activations, kg_routes_forecast, kg_routes_gate,
    kg_routes_plans, kg_routes_decisions, kg_routes_metrics, kg_routes_servers,
    kg_routes_activation_ids, NULL,
  };
  /* clang-format on */
  return tables;
}

const char *
kg_param(const struct kg_ctx *ctx, const char *name)
{
  return u_map_get(ctx->req->map_url, name);
}

const char *
kg_header(const struct kg_ctx *ctx, const char *name)
{
  return u_map_get_case(ctx->req->map_header, name);
}

/**
 * Accepts a caller's X-Request-Id only when it is short and plain, so it is
 * safe to log and echo, and does not look like one of our tokens ("kg_..."),
 * so a confused client cannot write its secret into the logs.
 */
static bool
request_id_acceptable(const char *id)
{
  size_t n = strlen(id);
  if (0 == n || n > 64 || 0 == strncmp(id, "kg_", 3))
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || '-' == c
          || '_' == c || '.' == c || ':' == c))
      return false;
  }
  return true;
}

static void
assign_request_id(struct kg_ctx *ctx)
{
  const char *given = kg_header(ctx, "X-Request-Id");
  if (NULL != given && request_id_acceptable(given)) {
    snprintf(ctx->request_id, sizeof(ctx->request_id), "%s", given);
  } else {
    unsigned char raw[16] = { 0 };
    if (sizeof(raw) != getrandom(raw, sizeof(raw), 0))
      memset(raw, 0, sizeof(raw));
    for (size_t i = 0; i < sizeof(raw); i++)
      snprintf(ctx->request_id + 2 * i, 3, "%02x", raw[i]);
  }
  u_map_put(ctx->resp->map_header, "X-Request-Id", ctx->request_id);
}

static double
elapsed_ms(const struct timespec *start)
{
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  return (double) (end.tv_sec - start->tv_sec) * 1e3
         + (double) (end.tv_nsec - start->tv_nsec) / 1e6;
}

static void
log_request(const struct kg_ctx *ctx, const char *route, double ms)
{
  /* clang-format off */
  json_t *fields = json_pack("{s:s,s:s?,s:s,s:i,s:f,s:s}",
                             "event", "request", "method", ctx->req->http_verb,
                             "route", route, "status", (int) ctx->status,
                             "duration_ms", ms, "request_id", ctx->request_id);
  /* clang-format on */
  if (NULL != fields && '\0' != ctx->who.name[0])
    json_object_set_new(fields, "token", json_string(ctx->who.name));
  kg_log(ctx->status >= 500 ? KG_LOG_WARN : KG_LOG_INFO, fields, "%s %s %u", ctx->req->http_verb,
         route, ctx->status);
}

/** 401 carries a challenge so curl users see what is expected. */
static bool
authenticate(struct kg_ctx *ctx)
{
  bool found;
  enum kg_qs qs = kg_auth_authenticate(ctx->db, kg_header(ctx, "Authorization"), &ctx->who, &found);

  if (KG_QS_OK != qs) {
    kg_reply_db_unavailable(ctx);
    return false;
  }
  if (!found) {
    u_map_put(ctx->resp->map_header, "WWW-Authenticate", "Bearer realm=\"kmsgate\"");
    kg_reply_problem(ctx, 401, "a valid token is required: Authorization: Bearer <token>");
    return false;
  }
  if (ctx->who.role < ctx->route->min_role) {
    kg_reply_problem(ctx, 403, "the token '%s' has role %s; this needs %s", ctx->who.name,
                     kg_auth_role_name(ctx->who.role), kg_auth_role_name(ctx->route->min_role));
    return false;
  }
  return true;
}

/** Content-Length is checked before the body because ulfius truncates silently at its limit. */
static bool
body_within_limit(struct kg_ctx *ctx)
{
  const char *cl = kg_header(ctx, "Content-Length");
  unsigned long long declared = 0;

  if (NULL != cl) {
    char *end;
    errno = 0;
    declared = strtoull(cl, &end, 10);
    if (0 != errno || end == cl)
      declared = ULLONG_MAX;
  }
  if (declared > ctx->route->max_body || ctx->req->binary_body_length > ctx->route->max_body) {
    kg_reply_problem(ctx, 413, "the body is larger than %zu bytes", ctx->route->max_body);
    return false;
  }
  return true;
}

/** True when the Content-Type's media type (before any ';') equals @a want. */
static bool
content_type_is(const struct kg_ctx *ctx, const char *want)
{
  const char *ct = kg_header(ctx, "Content-Type");
  if (NULL == ct)
    return false;
  size_t n = strcspn(ct, "; \t");
  return strlen(want) == n && 0 == strncasecmp(ct, want, n);
}

static bool
parse_json_body(struct kg_ctx *ctx)
{
  if (!content_type_is(ctx, "application/json")) {
    kg_reply_problem(ctx, 415, "the body must be application/json");
    return false;
  }
  json_error_t err;
  ctx->body =
    json_loadb(ctx->req->binary_body, ctx->req->binary_body_length, JSON_REJECT_DUPLICATES, &err);
  if (NULL == ctx->body) {
    kg_reply_problem(ctx, 400, "malformed JSON at line %d, column %d: %s", err.line, err.column,
                     err.text);
    return false;
  }
  if (!json_is_object(ctx->body)) {
    kg_reply_problem(ctx, 400, "the body must be a JSON object");
    return false;
  }
  return true;
}

/**
 * Refuses a query parameter the route does not read (400): ignored, a
 * misspelt `?enforce` or a `?dry_run` meant for the body would quietly
 * change what the caller gets.
 */
static bool
query_acceptable(struct kg_ctx *ctx)
{
  static const char *const why[] = {
    [KG_QUERY_MALFORMED] = "is malformed (a bad %-escape, an encoded NUL or an empty name)",
    [KG_QUERY_UNKNOWN] = "is not a parameter of this route",
    [KG_QUERY_REPEATED] = "is given more than once",
  };
  char name[KG_QUERY_NAME_BUFSZ];
  enum kg_query_verdict v = kg_query_check(ctx->req->http_url, ctx->route->query, name);
  const char *takes = NULL != ctx->route->query ? ctx->route->query : "none";

  if (KG_QUERY_OK == v)
    return true;
  /* clang-format off */
  kg_reply_problem_with(ctx, 400, json_pack("{s:[{s:s,s:s}]}", "errors", "field", name,
                                            "message", why[v]),
                        "query parameter '%s' %s; %s %s takes: %s", name, why[v],
                        ctx->req->http_verb, ctx->route->pattern, takes);
  /* clang-format on */
  return false;
}

static bool
prepare_request(struct kg_ctx *ctx)
{
  if (KG_ROLE_NONE != ctx->route->min_role && !authenticate(ctx))
    return false;
  if (!query_acceptable(ctx))
    return false;
  if (KG_BODY_NONE == ctx->route->body)
    return true;
  if (!body_within_limit(ctx))
    return false;
  return KG_BODY_JSON != ctx->route->body || parse_json_body(ctx);
}

static int
dispatch(const struct _u_request *req, struct _u_response *resp, void *cls)
{
  struct timespec start;
  struct kg_ctx ctx = { .req = req, .resp = resp, .route = cls };

  clock_gettime(CLOCK_MONOTONIC, &start);
  ctx.db = kg_db_thread();
  assign_request_id(&ctx);
  if (prepare_request(&ctx))
    ctx.route->handler(&ctx);
  if (0 == ctx.status)
    kg_reply_problem(&ctx, 500, "the handler gave no answer");
  if (atomic_load(&stopping))
    u_map_put(resp->map_header, "Connection", "close");
  json_decref(ctx.body);
  double ms = elapsed_ms(&start);
  kg_metrics_observe(ctx.route->pattern, ctx.status, ms);
  log_request(&ctx, ctx.route->pattern, ms);
  return U_CALLBACK_COMPLETE;
}

/** The Allow header for a path: every method registered on its pattern. */
static void
list_methods(const char *pattern, char *out, size_t len)
{
  out[0] = '\0';
  for (const struct kg_route *const *t = all_tables(); NULL != *t; t++)
    for (const struct kg_route *r = *t; NULL != r->method; r++)
      if (0 == strcmp(r->pattern, pattern) && NULL == strstr(out, r->method)) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", used ? ", " : "", r->method);
      }
}

static int
method_not_allowed(const struct _u_request *req, struct _u_response *resp, void *cls)
{
  const char *pattern = cls;
  struct kg_ctx ctx = { .req = req, .resp = resp };
  char allow[128];

  assign_request_id(&ctx);
  list_methods(pattern, allow, sizeof(allow));
  u_map_put(resp->map_header, "Allow", allow);
  kg_reply_problem(&ctx, 405, "%s is not allowed here; allowed: %s", req->http_verb, allow);
  kg_metrics_observe(pattern, ctx.status, 0);
  log_request(&ctx, pattern, 0);
  return U_CALLBACK_COMPLETE;
}

static int
not_found(const struct _u_request *req, struct _u_response *resp, void *cls)
{
  struct kg_ctx ctx = { .req = req, .resp = resp };
  (void) cls;

  assign_request_id(&ctx);
  kg_reply_problem(&ctx, 404, "no such resource");
  kg_metrics_observe("unmatched", ctx.status, 0);
  log_request(&ctx, "unmatched", 0);
  return U_CALLBACK_COMPLETE;
}

/** True when an earlier route of the tables already has this pattern. */
static bool
pattern_seen_before(const struct kg_route *route)
{
  for (const struct kg_route *const *t = all_tables(); NULL != *t; t++)
    for (const struct kg_route *r = *t; NULL != r->method; r++) {
      if (r == route)
        return false;
      if (0 == strcmp(r->pattern, route->pattern))
        return true;
    }
  return false;
}

static int
register_routes(void)
{
  for (const struct kg_route *const *t = all_tables(); NULL != *t; t++)
    for (const struct kg_route *r = *t; NULL != r->method; r++) {
      /* The pattern is the url_format (4th argument): ulfius fills :params only from it. */
      if (U_OK
          != ulfius_add_endpoint_by_val(&instance, r->method, NULL, r->pattern, 0, dispatch,
                                        (void *) r))
        return -1;
      /* A lower-priority catch-all per path turns a wrong method into 405, not 404. */
      if (!pattern_seen_before(r)
          && U_OK
               != ulfius_add_endpoint_by_val(&instance, "*", NULL, r->pattern, 1,
                                             method_not_allowed, (void *) r->pattern))
        return -1;
    }
  return ulfius_set_default_endpoint(&instance, not_found, NULL) == U_OK ? 0 : -1;
}

static int
bind_address(const struct kg_config *cfg, struct sockaddr_storage *ss)
{
  struct sockaddr_in *v4 = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) ss;

  memset(ss, 0, sizeof(*ss));
  if (1 == inet_pton(AF_INET, cfg->listen_host, &v4->sin_addr)) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(cfg->listen_port);
    return 0;
  }
  if (1 == inet_pton(AF_INET6, cfg->listen_host, &v6->sin6_addr)) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(cfg->listen_port);
    return 0;
  }
  if (0 == strcmp(cfg->listen_host, "localhost")) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(cfg->listen_port);
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
  }
  kg_log(KG_LOG_ERROR, NULL, "listen host '%s' is not a numeric address", cfg->listen_host);
  return -1;
}

static int
load_tls(const struct kg_config *cfg)
{
  if (NULL == cfg->tls_cert)
    return 0;
  tls_cert_pem = kg_file_read(cfg->tls_cert, NULL);
  tls_key_pem = kg_file_read(cfg->tls_key, NULL);
  if (NULL == tls_cert_pem || NULL == tls_key_pem) {
    kg_log(KG_LOG_ERROR, NULL, "cannot read TLS certificate '%s' or key '%s'", cfg->tls_cert,
           cfg->tls_key);
    return -1;
  }
  return 0;
}

int
kg_http_start(const struct kg_config *cfg)
{
  static struct sockaddr_storage addr;

  if (0 != bind_address(cfg, &addr) || 0 != load_tls(cfg))
    return -1;
  if (U_OK != ulfius_init_instance(&instance, cfg->listen_port, NULL, NULL))
    return -1;
  instance_ready = true;
  /* ulfius buffers bodies up to this size and cuts the rest off silently; one
     byte over the largest route limit lets body_within_limit() see the overflow. */
  instance.max_post_body_size = KG_MAX_INGEST_BODY + 1;
  if (0 != register_routes())
    return -1;

  /* MHD_USE_ITC lets kg_http_stop() quiesce: stop accepting, keep serving.
     poll, not epoll: with epoll, libmicrohttpd 0.9.75's MHD_quiesce_daemon()
     and a busy worker can both remove the listening socket from the worker's
     epoll set, and the loser aborts the process ("Failed to remove listen FD
     from epoll set", seen once in the test suite at SIGTERM). With poll every
     worker just stops polling that socket. Each worker watches at most a few
     hundred sockets, where poll costs nothing measurable (bench/README.md). */
  unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
  if (NULL != tls_cert_pem)
    flags |= MHD_USE_TLS;
  /* clang-format off */
  struct MHD_OptionItem ops[] = {
    { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) mhd_request_completed, NULL },
    { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t) ulfius_uri_logger, NULL },
    { MHD_OPTION_THREAD_POOL_SIZE, (intptr_t) cfg->threads, NULL },
    { MHD_OPTION_SOCK_ADDR, 0, &addr },
    /* Slow or stalled clients lose their connection instead of a worker forever. */
    { MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL },
    { MHD_OPTION_CONNECTION_LIMIT, 1024, NULL },
    { NULL != tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls_cert_pem },
    { MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key_pem },
    { MHD_OPTION_END, 0, NULL },
  };
  /* clang-format on */
  if (U_OK != ulfius_start_framework_with_mhd_options(&instance, flags, ops)) {
    kg_log(KG_LOG_ERROR, NULL, "cannot serve on %s:%u", cfg->listen_host, cfg->listen_port);
    return -1;
  }
  /* clang-format off */
  kg_log(KG_LOG_INFO, json_pack("{s:s,s:s,s:i,s:i,s:b}", "event", "listening",
                                "host", cfg->listen_host, "port", cfg->listen_port,
                                "threads", (int) cfg->threads, "tls", NULL != tls_cert_pem),
         /* clang-format on */
         "serving on %s:%u", cfg->listen_host, cfg->listen_port);
  return 0;
}

/** Seconds a shutdown waits for requests in flight before closing them. */
#define KG_DRAIN_SECONDS 10

/**
 * Stops accepting and waits until the open connections have been answered
 * (clients that keep an idle connection alive are cut at the deadline).
 */
static void
drain_connections(void)
{
  struct MHD_Daemon *daemon = instance.mhd_daemon;
  if (NULL == daemon)
    return;
  atomic_store(&stopping, true);
  MHD_socket listener = MHD_quiesce_daemon(daemon);
  if (MHD_INVALID_SOCKET != listener)
    close(listener);
  for (int tick = 0; tick < KG_DRAIN_SECONDS * 20; tick++) {
    const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (NULL == info || 0 == info->num_connections)
      return;
    struct timespec pause = { 0, 50 * 1000 * 1000 };
    nanosleep(&pause, NULL);
  }
}

void
kg_http_stop(void)
{
  if (!instance_ready)
    return;
  drain_connections();
  ulfius_stop_framework(&instance);
  ulfius_clean_instance(&instance);
  instance_ready = false;
  free(tls_cert_pem);
  free(tls_key_pem);
  tls_cert_pem = tls_key_pem = NULL;
}
