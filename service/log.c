/**
 * @file log.c
 * @brief JSON-lines logger. A single write(2) per line keeps lines from
 *        different worker threads from interleaving.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int min_level = KG_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
kg_log_set_level(enum kg_log_level level)
{
  atomic_store(&min_level, (int) level);
}

int
kg_log_parse_level(const char *name, enum kg_log_level *out)
{
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
    if (0 == strcmp(name, level_names[i])) {
      *out = (enum kg_log_level) i;
      return 0;
    }
  return -1;
}

static void
format_now(char *buf, size_t len)
{
  struct timeval tv;
  struct tm tm;

  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03ldZ", (long) (tv.tv_usec / 1000));
}

void
kg_log(enum kg_log_level level, json_t *fields, const char *fmt, ...)
{
  if ((int) level < atomic_load(&min_level)) {
    json_decref(fields);
    return;
  }
  char ts[40];
  char msg[1024];
  va_list ap;

  format_now(ts, sizeof(ts));
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);

  json_t *line = json_object();
  if (NULL == line) {
    json_decref(fields);
    return;
  }
  json_object_set_new(line, "ts", json_string(ts));
  json_object_set_new(line, "level", json_string(level_names[level]));
  json_t *m = json_string(msg);
  /* A message built from bad input may not be UTF-8: keep the line, drop the text. */
  json_object_set_new(line, "msg", m ? m : json_string("(message not UTF-8)"));
  if (NULL != fields)
    json_object_update(line, fields);
  json_decref(fields);

  char *text = json_dumps(line, JSON_COMPACT);
  json_decref(line);
  if (NULL == text)
    return;
  size_t len = strlen(text);
  text[len] = '\n'; /* json_dumps leaves the NUL; we overwrite it for one write */
  ssize_t ignored = write(STDERR_FILENO, text, len + 1);
  (void) ignored;
  free(text);
}
