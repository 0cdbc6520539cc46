/**
 * @file plan_json.c
 * @brief Plans and decisions as the API shows them.
 */
#include "plan_json.h"

#include "input.h"

/** The stored JSON @a text decoded, or null for none. */
static json_t *
json_or_null(const char *text)
{
  json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
  return v ? v : json_null();
}

json_t *
kg_plan_json(const struct kg_plan_record *p)
{
  /* clang-format off */
  return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o}",
                   "id", p->id, "kms_host", p->kms_host, "state", p->state,
                   "at", kg_json_epoch_text(p->at),
                   "expires_at", kg_json_epoch_text(p->expires_at),
                   "created_at", kg_json_epoch_text(p->created_at),
                   "committed_at", kg_json_epoch_text(p->committed_at),
                   "released_at", kg_json_epoch_text(p->released_at),
                   "caller", p->caller,
                   "decommission", json_or_null(p->decommission_json),
                   "provision", json_or_null(p->provision_json));
  /* clang-format on */
}

json_t *
kg_decision_json(const struct kg_decision_record *d)
{
  /* clang-format off */
  return json_pack("{s:s,s:s,s:o,s:s,s:i,s:s,s:o,s:o,s:o}",
                   "id", d->id, "kms_host", d->kms_host,
                   "evaluated_at", kg_json_epoch_text(d->evaluated_at),
                   "decision", d->decision, "http_status", d->http_status,
                   "caller", d->caller,
                   "plan_id", d->plan_id ? json_string(d->plan_id) : json_null(),
                   "request", json_or_null(d->request_json),
                   "response", json_or_null(d->response_json));
  /* clang-format on */
}
