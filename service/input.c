/**
 * @file input.c
 * @brief Input validation helpers shared by every handler.
 */
#include "input.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "timeutil.h"

void
kg_input_only(const json_t *obj, const char *const *allowed, const char *prefix,
              struct kg_errors *e)
{
  const char *key;
  json_t *value;

  json_object_foreach((json_t *) obj, key, value)
  {
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
kg_input_int(const json_t *obj, const char *field, bool required, json_int_t min, json_int_t max,
             struct kg_errors *e, json_int_t *out)
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
    kg_errors_add(e, false, field, "must be between %lld and %lld", (long long) min,
                  (long long) max);
    return false;
  }
  *out = n;
  return true;
}

bool
kg_input_bool(const json_t *obj, const char *field, bool required, struct kg_errors *e, bool *out)
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
kg_input_time(const json_t *obj, const char *field, bool required, struct kg_errors *e,
              int64_t *out_us)
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
kg_input_enum(const json_t *obj, const char *field, bool required, const char *const *choices,
              struct kg_errors *e, const char **out)
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
        return false; /* empty label: "a..b" or a leading dot */
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
  return label > 0; /* no trailing dot */
}

bool
kg_path_hostname(struct kg_ctx *ctx, const char *param, char out[KG_HOSTNAME_BUFSZ],
                 const char *what)
{
  const char *raw = kg_param(ctx, param);
  if (NULL != raw && kg_hostname_normalize(raw, out))
    return true;
  kg_reply_problem(ctx, 404, "no such %s", what);
  return false;
}

bool
kg_path_name(struct kg_ctx *ctx, const char *param, size_t max_bytes, const char **out,
             const char *what)
{
  const char *raw = kg_param(ctx, param);
  if (NULL != raw && kg_text_ok(raw, max_bytes)) {
    *out = raw;
    return true;
  }
  kg_reply_problem(ctx, 404, "no such %s", what);
  return false;
}

bool
kg_path_uuid(struct kg_ctx *ctx, const char *param, char out[37], const char *what)
{
  const char *raw = kg_param(ctx, param);
  if (NULL != raw && kg_guid_normalize(raw, strlen(raw), out))
    return true;
  kg_reply_problem(ctx, 404, "no such %s", what);
  return false;
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

const char *
kg_query_hostname(const struct kg_ctx *ctx, const char *name, const char *message,
                  struct kg_errors *e, char out[KG_HOSTNAME_BUFSZ])
{
  const char *text = kg_param(ctx, name);
  if (NULL == text)
    return NULL;
  if (!kg_hostname_normalize(text, out)) {
    kg_errors_add(e, false, name, "%s", message);
    return NULL;
  }
  return out;
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

/**
 * Length of the UTF-8 sequence at @a s: 0 when it is invalid or a control
 * character (tab, CR and LF pass when @a breaks).
 */
static size_t
utf8_char(const unsigned char *s, size_t avail, bool breaks)
{
  unsigned int c = s[0];
  size_t n;
  unsigned int cp;

  if (c < 0x80) {
    bool is_break = '\t' == c || '\n' == c || '\r' == c;
    return ((c < 0x20 && !(breaks && is_break)) || 0x7f == c) ? 0 : 1;
  }
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n > avail)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if (0x80 != (s[i] & 0xc0))
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  bool overlong = (3 == n && cp < 0x800) || (4 == n && cp < 0x10000);
  bool invalid = cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f);
  return (overlong || invalid) ? 0 : n;
}

long
kg_text_chars(const char *s, size_t len, bool breaks)
{
  long chars = 0;
  if (strlen(s) != len)
    return -1; /* an embedded NUL (JSON "\u0000") */
  for (size_t i = 0; i < len; chars++) {
    size_t n = utf8_char((const unsigned char *) s + i, len - i, breaks);
    if (0 == n)
      return -1;
    i += n;
  }
  return chars;
}

bool
kg_text_ok(const char *s, size_t max_bytes)
{
  size_t len = strlen(s);
  return len >= 1 && len <= max_bytes && kg_text_chars(s, len, false) >= 0;
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
