/**
 * @file inventory.c
 * @brief Resource documents and input checks of the inventory API.
 */
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *
kg_host_json(const struct kg_host_record *h)
{
  /* clang-format off */
  return json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:s,s:o,s:o}",
                   "name", h->name, "server", h->server, "family", h->family,
                   "threshold", h->threshold, "capacity", h->capacity, "margin", h->margin,
                   "floor", h->threshold + h->margin,
                   "renewal_interval_minutes", h->renewal_minutes,
                   "description", h->description,
                   "created_at", kg_json_epoch_text(h->created_at),
                   "updated_at", kg_json_epoch_text(h->updated_at));
  /* clang-format on */
}

json_t *
kg_pool_json(const struct kg_pool_record *p)
{
  /* clang-format off */
  json_t *counts = json_pack("{s:I,s:I,s:I}", "active", (json_int_t) p->active,
                             "powered_off", (json_int_t) p->powered_off,
                             "decommissioned", (json_int_t) p->decommissioned);
  /* clang-format on */
  if (NULL == counts)
    return NULL;
  /* clang-format off */
  return json_pack("{s:s,s:s,s:o,s:o,s:s,s:o,s:i,s:b,s:o,s:o,s:o}",
                   "name", p->name, "kms_host", p->kms_host,
                   "kms_hosts", json_loads(p->kms_hosts_json, 0, NULL),
                   "desktops_by_host", json_loads(p->desktops_by_host_json, 0, NULL),
                   "platform", p->platform,
                   "renewal_interval_minutes",
                   p->has_renewal ? json_integer(p->renewal_minutes) : json_null(),
                   "effective_renewal_interval_minutes", p->effective_renewal_minutes,
                   "unique_cmids", p->unique_cmids, "desktops", counts,
                   "created_at", kg_json_epoch_text(p->created_at),
                   "updated_at", kg_json_epoch_text(p->updated_at));
  /* clang-format on */
}

/** A JSON string, or null for NULL. */
static json_t *
string_or_null(const char *s)
{
  return NULL != s ? json_string(s) : json_null();
}

json_t *
kg_desktop_json(const struct kg_desktop_record *d)
{
  /* clang-format off */
  json_t *doc = json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o}",
                          "hostname", d->hostname, "pool", d->pool, "kms_host", d->kms_host,
                          "cmid", string_or_null(d->cmid), "state", d->state,
                          "last_activation_at", kg_json_epoch_text(d->last_activation_at),
                          "decommissioned_at", kg_json_epoch_text(d->decommissioned_at),
                          "created_at", kg_json_epoch_text(d->created_at),
                          "updated_at", kg_json_epoch_text(d->updated_at));
  json_t *facts = json_pack("{s:s,s:o,s:o,s:o,s:o,s:b,s:s,s:o}",
                            "cmid_status", d->cmid_status,
                            "last_request_at", kg_json_epoch_text(d->last_request_at),
                            "request_count", d->has_request_count
                              ? json_integer(d->request_count) : json_null(),
                            "expires_at", kg_json_epoch_text(d->expires_at),
                            "required_count", d->has_required_count
                              ? json_integer(d->required_count) : json_null(),
                            "name_ambiguous", d->name_ambiguous,
                            "power_state", d->power_state,
                            "platform_id", string_or_null(d->platform_id));
  /* clang-format on */
  if (NULL == doc || NULL == facts || 0 != json_object_update(doc, facts)) {
    json_decref(doc);
    doc = NULL;
  }
  json_decref(facts);
  return doc;
}

json_t *
kg_token_json(const struct kg_token_record *t)
{
  /* clang-format off */
  return json_pack("{s:s,s:s,s:s,s:o,s:o}", "id", t->id, "name", t->name, "role", t->role,
                   "created_at", kg_json_epoch_text(t->created_at),
                   "revoked_at", kg_json_epoch_text(t->revoked_at));
  /* clang-format on */
}

/* ---- input ---- */

bool
kg_input_name(const json_t *obj, const char *field, bool required, size_t max_bytes,
              struct kg_errors *e, const char **out)
{
  const char *s;
  if (!kg_input_string(obj, field, required, max_bytes, e, &s))
    return false;
  if (!kg_text_ok(s, max_bytes)) {
    kg_errors_add(e, false, field, "must not contain control characters");
    return false;
  }
  *out = s;
  return true;
}

bool
kg_input_hostname(const json_t *obj, const char *field, bool required, struct kg_errors *e,
                  char out[KG_HOSTNAME_BUFSZ])
{
  const char *s;
  if (!kg_input_string(obj, field, required, KG_HOSTNAME_BUFSZ - 1, e, &s))
    return false;
  if (!kg_hostname_normalize(s, out)) {
    /* clang-format off */
    kg_errors_add(e, false, field, "must be a DNS hostname (letters, digits, '-', '_' and"
                  " '.', labels of 1 to 63 characters, at most 253 in all)");
    /* clang-format on */
    return false;
  }
  return true;
}

bool
kg_input_description(const json_t *obj, const char *field, struct kg_errors *e, const char **out)
{
  const json_t *v = json_object_get(obj, field);
  if (NULL == v)
    return false;
  if (json_is_null(v)) {
    *out = "";
    return true;
  }
  if (!json_is_string(v)) {
    kg_errors_add(e, true, field, "must be a string");
    return false;
  }
  long chars = kg_text_chars(json_string_value(v), json_string_length(v), true);
  if (chars < 0 || chars > KG_DESCRIPTION_MAX) {
    kg_errors_add(e, false, field, "must be at most %d characters of text", KG_DESCRIPTION_MAX);
    return false;
  }
  *out = json_string_value(v);
  return true;
}

/* ---- replies ---- */

enum kg_qs
kg_host_find(struct kg_ctx *ctx, struct kg_db *db, const char *name, struct kg_host_row *host)
{
  bool found;
  enum kg_qs qs = kg_db_host_row(db, name, false, host, &found);

  if (KG_QS_OK == qs && !found) {
    kg_reply_problem(ctx, 404, "KMS host %s does not exist", name);
    return KG_QS_REPLIED;
  }
  return qs;
}

void
kg_set_location(struct kg_ctx *ctx, const char *prefix, const char *name)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t plen = strlen(prefix);
  size_t nlen = strlen(name);
  char *url = malloc(plen + 3 * nlen + 1);

  if (NULL == url)
    return; /* the 201 still names the resource in its body */
  memcpy(url, prefix, plen);
  char *o = url + plen;
  for (const unsigned char *c = (const unsigned char *) name; '\0' != *c; c++) {
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
        || '-' == *c || '.' == *c || '_' == *c || '~' == *c) {
      *o++ = (char) *c;
    } else {
      *o++ = '%';
      *o++ = hex[*c >> 4];
      *o++ = hex[*c & 15];
    }
  }
  *o = '\0';
  u_map_put(ctx->resp->map_header, "Location", url);
  free(url);
}
