/**
 * @file chart.h
 * @brief Renders a forecast as an SVG step chart: the count steps, the floor
 *        line, "today" and the first breach. Pure: no I/O, no globals, so it
 *        can be unit-tested and fuzzed like the model.
 */
#ifndef KG_CHART_H
#define KG_CHART_H

#include <stddef.h>
#include <stdint.h>

#include "forecast.h"

/** What one chart shows. */
struct kg_chart {
  const char *title;  /**< e.g. the KMS host's name (escaped for XML here) */
  int64_t now;        /**< "today" marker, Unix seconds */
  int64_t start, end; /**< the time axis */
  int32_t floor;      /**< threshold + margin: the red line */
  int32_t capacity;   /**< the count cannot exceed it: top of the y axis */
  size_t n_steps;
  const struct fc_step *steps; /**< count from each step's time to the next */
  int64_t breach_at;           /**< first time below the floor, or 0 for none */
};

/**
 * Renders the chart.
 * @param chart what to draw
 * @return a NUL-terminated SVG document the caller frees, or NULL without memory
 */
char *kg_chart_svg(const struct kg_chart *chart);

#endif
