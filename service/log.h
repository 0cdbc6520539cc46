/**
 * @file log.h
 * @brief One JSON object per line on stderr, so log shippers need no parser of their own.
 */
#ifndef KG_LOG_H
#define KG_LOG_H

#include <jansson.h>

enum kg_log_level {
  KG_LOG_DEBUG = 0,
  KG_LOG_INFO,
  KG_LOG_WARN,
  KG_LOG_ERROR
};

/**
 * Sets the lowest level that is written.
 * @param level the threshold
 */
void kg_log_set_level(enum kg_log_level level);

/**
 * Parses a level name ("debug", "info", "warn", "error").
 * @param name the name
 * @param out where the level is stored
 * @return 0 on success, -1 for an unknown name
 */
int kg_log_parse_level(const char *name, enum kg_log_level *out);

/**
 * Writes one log line: {"ts","level","msg"} merged with @a fields.
 * @param level severity
 * @param fields extra members (stolen; may be NULL)
 * @param fmt printf-style message
 */
void kg_log(enum kg_log_level level, json_t *fields, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

#endif
