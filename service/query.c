/**
 * @file query.c
 * @brief The query-string rule of every route (query.h). Pure: it reads the
 *        URL as received, not ulfius's map, which also holds the path's
 *        parameters and cannot tell a repeated name.
 */
#include "query.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/** Most distinct names one route declares. */
#define KG_QUERY_MAX_NAMES 16

static int
hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/**
 * Percent-decodes @a n bytes of @a s into @a out (cut at @a cap - 1 bytes,
 * but checked to the end); @a len receives the whole decoded length.
 * @return false on a bad escape or an encoded NUL
 */
static bool
decode(const char *s, size_t n, char *out, size_t cap, size_t *len)
{
  size_t w = 0;

  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if ('%' == c) {
      int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (0 == hi && 0 == lo))
        return false;
      c = (char) (hi * 16 + lo);
      i += 2;
    } else if ('+' == c) {
      c = ' ';
    }
    if (NULL != out && w + 1 < cap)
      out[w] = c;
    w++;
  }
  if (NULL != out)
    out[w < cap ? w : cap - 1] = '\0';
  *len = w;
  return true;
}

/** Whether @a name is one of the space-separated words of @a declared. */
static bool
is_declared(const char *declared, const char *name)
{
  size_t len = strlen(name);

  for (const char *w = declared; NULL != w && '\0' != *w;) {
    size_t n = strcspn(w, " ");
    if (n == len && 0 == strncmp(w, name, n))
      return true;
    w += n;
    w += strspn(w, " ");
  }
  return false;
}

/** Copies @a decoded into @a name when it is printable ASCII, else "". */
static void
report_name(const char *decoded, char name[KG_QUERY_NAME_BUFSZ])
{
  for (const char *c = decoded; '\0' != *c; c++)
    if (*c < 0x20 || *c > 0x7e) {
      name[0] = '\0';
      return;
    }
  snprintf(name, KG_QUERY_NAME_BUFSZ, "%s", decoded);
}

/** One "name=value" segment of @a n bytes, against the names accepted so far. */
static enum kg_query_verdict
check_segment(const char *seg, size_t n, const char *declared,
              char seen[KG_QUERY_MAX_NAMES][KG_QUERY_NAME_BUFSZ], size_t *n_seen,
              char name[KG_QUERY_NAME_BUFSZ])
{
  size_t name_len = strcspn(seg, "=");
  char decoded[KG_QUERY_NAME_BUFSZ];
  size_t len, value_len;

  if (name_len > n)
    name_len = n;
  if (0 == name_len || !decode(seg, name_len, decoded, sizeof(decoded), &len))
    return KG_QUERY_MALFORMED;
  report_name(decoded, name);
  if (name_len < n && !decode(seg + name_len + 1, n - name_len - 1, NULL, 0, &value_len))
    return KG_QUERY_MALFORMED;
  /* a name cut to the buffer is longer than any declared one */
  if (len >= sizeof(decoded) || !is_declared(declared, decoded))
    return KG_QUERY_UNKNOWN;
  for (size_t i = 0; i < *n_seen; i++)
    if (0 == strcmp(seen[i], decoded))
      return KG_QUERY_REPEATED;
  if (*n_seen == KG_QUERY_MAX_NAMES)
    return KG_QUERY_REPEATED;
  memcpy(seen[(*n_seen)++], decoded, sizeof(decoded));
  return KG_QUERY_OK;
}

enum kg_query_verdict
kg_query_check(const char *url, const char *declared, char name[KG_QUERY_NAME_BUFSZ])
{
  char seen[KG_QUERY_MAX_NAMES][KG_QUERY_NAME_BUFSZ];
  size_t n_seen = 0;
  const char *q = NULL == url ? NULL : strchr(url, '?');

  name[0] = '\0';
  if (NULL == q)
    return KG_QUERY_OK;
  for (q++; '\0' != *q;) {
    size_t n = strcspn(q, "&");
    if (n > 0) {
      enum kg_query_verdict v = check_segment(q, n, declared, seen, &n_seen, name);
      if (KG_QUERY_OK != v)
        return v;
    }
    q += n;
    if ('&' == *q)
      q++;
  }
  name[0] = '\0';
  return KG_QUERY_OK;
}
