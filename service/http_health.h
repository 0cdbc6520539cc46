/**
 * @file http_health.h
 * @brief /healthz, /readyz and /openapi.yaml.
 */
#ifndef KG_HTTP_HEALTH_H
#define KG_HTTP_HEALTH_H

#include "config.h"
#include "migrate.h"

/**
 * Remembers what /readyz compares against and loads the OpenAPI document.
 * @param cfg configuration (data_dir)
 * @param expected the migrations this binary expects (kept by pointer)
 * @return 0 on success, -1 after logging why
 */
int kg_health_init(const struct kg_config *cfg, const struct kg_migration_set *expected);

/** Frees the loaded OpenAPI document. */
void kg_health_shutdown(void);

#endif
