/**
 * @file pool_sync.h
 * @brief The pool sync's handler (http_pool_sync.c), routed with the pools
 *        (kg_routes_pools).
 */
#ifndef KG_POOL_SYNC_H
#define KG_POOL_SYNC_H

#include "http.h"

/** Body limit of a machine list: 20,000 machines with long platform ids. */
#define KG_MAX_SYNC_BODY (4 * 1024 * 1024)

/**
 * PUT /v1/pools/{name}/desktops.
 * @param ctx request
 */
void kg_handle_pool_sync(struct kg_ctx *ctx);

#endif
