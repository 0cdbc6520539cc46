/**
 * @file input.c
 * @brief Input validation helpers shared by every handler.
 */
#include "input.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

void
kg_input_only(const json_t *obj, const char *const *allowed, const char *prefix,
              struct kg_errors *e)
{
  const char *key;
  json_t *value;

  json_object_foreach((json_t *) obj, key, value) {
    bool known = false;
    (void) value;
    for (const char *const *a = allowed; NULL != *a && !known; a++)
      known = (0 == strcmp(*a, key));
    if (!known)
      kg_errors_add(e, false, key, "unknown field '%s%s'", prefix, key);
  }
}

/** Looks a member up; records "required" when absent and needed. */
static const json_t *
member(const json_t *obj, const char *field, bool required, struct kg_errors *e)
{
  const json_t *v = json_object_get(obj, field);
  if (NULL == v && required)
    kg_errors_add(e, false, field, "is required");
  return v;
}

bool
kg_input_string(const json_t *obj, const char *field, bool required, size_t max_len,
                struct kg_errors *e, const char **out)
{
  const json_t *v = member(obj, field, required, e);
  if (NULL == v)
    return false;
  if (!json_is_string(v)) {
    kg_errors_add(e, true, field, "must be a string");
    return false;
  }
  size_t len = json_string_length(v);
  if (0 == len || len > max_len || strlen(json_string_value(v)) != len) {
    kg_errors_add(e, false, field, "must be 1 to %zu characters without NUL", max_len);
    return false;
  }
  *out = json_string_value(v);
  return true;
}

bool
kg_input_int(const json_t *obj, const char *field, bool required, json_int_t min,
             json_int_t max, struct kg_errors *e, json_int_t *out)
{
  const json_t *v = member(obj, field, required, e);
  if (NULL == v)
    return false;
  if (!json_is_integer(v)) {
    kg_errors_add(e, true, field, "must be an integer");
    return false;
  }
  json_int_t n = json_integer_value(v);
  if (n < min || n > max) {
    kg_errors_add(e, false, field, "must be between %lld and %lld", (long long) min, (long long) max);
    return false;
  }
  *out = n;
  return true;
}

bool
kg_input_bool(const json_t *obj, const char *field, bool required,
              struct kg_errors *e, bool *out)
{
  const json_t *v = member(obj, field, required, e);
  if (NULL == v)
    return false;
  if (!json_is_boolean(v)) {
    kg_errors_add(e, true, field, "must be true or false");
    return false;
  }
  *out = json_is_true(v);
  return true;
}

bool
kg_input_time(const json_t *obj, const char *field, bool required,
              struct kg_errors *e, int64_t *out_us)
{
  const json_t *v = member(obj, field, required, e);
  if (NULL == v)
    return false;
  if (!json_is_string(v)) {
    kg_errors_add(e, true, field, "must be an RFC 3339 string");
    return false;
  }
  if (!kg_time_parse_rfc3339(json_string_value(v), json_string_length(v), out_us)) {
    kg_errors_add(e, false, field, "must be an RFC 3339 date-time such as 2026-12-01T00:00:00Z");
    return false;
  }
  return true;
}

bool
kg_input_enum(const json_t *obj, const char *field, bool required,
              const char *const *choices, struct kg_errors *e, const char **out)
{
  const char *s;
  if (!kg_input_string(obj, field, required, 64, e, &s))
    return false;
  char list[256] = "";
  for (const char *const *c = choices; NULL != *c; c++) {
    if (0 == strcmp(*c, s)) {
      *out = *c;
      return true;
    }
    size_t used = strlen(list);
    snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", *c);
  }
  kg_errors_add(e, false, field, "must be one of: %s", list);
  return false;
}

bool
kg_hostname_normalize(const char *in, char out[KG_HOSTNAME_BUFSZ])
{
  size_t len = strlen(in);
  size_t label = 0;

  if (0 == len || len >= KG_HOSTNAME_BUFSZ)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char) in[i];
    if ('.' == c) {
      if (0 == label)
        return false;  /* empty label: "a..b" or a leading dot */
      label = 0;
    } else if (isalnum(c) || '-' == c || '_' == c) {
      if (++label > 63)
        return false;
    } else {
      return false;
    }
    out[i] = (char) tolower(c);
  }
  out[len] = '\0';
  return label > 0;  /* no trailing dot */
}

bool
kg_query_int(const struct kg_ctx *ctx, const char *name, long long min, long long max,
             long long dflt, struct kg_errors *e, long long *out)
{
  const char *text = kg_param(ctx, name);
  *out = dflt;
  if (NULL == text)
    return true;
  char *end;
  long long n = strtoll(text, &end, 10);
  if ('\0' == text[0] || '\0' != *end || n < min || n > max) {
    kg_errors_add(e, false, name, "must be an integer between %lld and %lld", min, max);
    return false;
  }
  *out = n;
  return true;
}

bool
kg_query_time(const struct kg_ctx *ctx, const char *name, struct kg_errors *e, int64_t *out_us)
{
  const char *text = kg_param(ctx, name);
  if (NULL == text)
    return false;
  if (!kg_time_parse_rfc3339(text, strlen(text), out_us)) {
    kg_errors_add(e, false, name, "must be an RFC 3339 date-time such as 2026-12-01T00:00:00Z");
    return false;
  }
  return true;
}

static int
hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

bool
kg_page_parse(const struct kg_ctx *ctx, struct kg_errors *e, struct kg_page *page)
{
  bool ok = kg_query_int(ctx, "limit", 1, 1000, 100, e, &page->limit);
  const char *cursor = kg_param(ctx, "cursor");

  page->after[0] = '\0';
  if (NULL == cursor || '\0' == cursor[0])
    return ok;
  /* The cursor is the hex of the last key: opaque to callers, trivially safe to decode. */
  size_t len = strlen(cursor);
  if (0 != len % 2 || len / 2 >= sizeof(page->after)) {
    kg_errors_add(e, false, "cursor", "is not a cursor from this API");
    return false;
  }
  for (size_t i = 0; i < len / 2; i++) {
    int hi = hex_value(cursor[2 * i]);
    int lo = hex_value(cursor[2 * i + 1]);
    if (hi < 0 || lo < 0 || (0 == hi && 0 == lo)) {
      kg_errors_add(e, false, "cursor", "is not a cursor from this API");
      return false;
    }
    page->after[i] = (char) (hi * 16 + lo);
  }
  page->after[len / 2] = '\0';
  return ok;
}

json_t *
kg_page_cursor(const char *key)
{
  if (NULL == key)
    return json_null();
  size_t len = strlen(key);
  char *hex = malloc(2 * len + 1);
  if (NULL == hex)
    return json_null();
  for (size_t i = 0; i < len; i++)
    snprintf(hex + 2 * i, 3, "%02x", (unsigned char) key[i]);
  hex[2 * len] = '\0';
  json_t *s = json_string(hex);
  free(hex);
  return s;
}

json_t *
kg_page_document(json_t *items, json_t *next_cursor)
{
  return json_pack("{s:o,s:o}", "items", items, "next_cursor", next_cursor);
}

json_t *
kg_json_time(int64_t unix_seconds)
{
  char buf[KG_TIME_BUFSZ];
  kg_time_format(unix_seconds, buf);
  return json_string(buf);
}

json_t *
kg_json_epoch_text(const char *epoch_text)
{
  if (NULL == epoch_text)
    return json_null();
  return kg_json_time(strtoll(epoch_text, NULL, 10));
}
