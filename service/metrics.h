/**
 * @file metrics.h
 * @brief Process-local Prometheus counters. Each replica exposes its own;
 *        Prometheus sums them, so this does not make the service stateful.
 */
#ifndef KG_METRICS_H
#define KG_METRICS_H

#include <stdbool.h>

/**
 * Counts one finished request.
 * @param route the route pattern (a static string)
 * @param status HTTP status sent
 * @param ms duration in milliseconds
 */
void kg_metrics_observe(const char *route, unsigned int status, double ms);

/**
 * Counts one gate decision.
 * @param go true for go, false for no-go
 */
void kg_metrics_gate(bool go);

/**
 * Counts one estate read from PostgreSQL.
 * @param refreshed true for a refresh by changed rows, false for a full load
 */
void kg_metrics_estate(bool refreshed);

/**
 * Writes the request and gate metrics in Prometheus text format.
 * @return a malloc'd text the caller frees, or NULL without memory
 */
char *kg_metrics_render(void);

#endif
