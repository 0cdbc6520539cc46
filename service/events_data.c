/**
 * @file events_data.c
 * @brief Event 12290 read from its data instead of its rendered message.
 *
 * The event's message template is "An activation request has been
 * processed.%nInfo:%n%1": insertion string 1 (data value 0) is the whole
 * info string.  Windows logs 10 insertion strings for it, values 1..9 being
 * the nine fields of that string, which is how public scripts read it
 * (Properties[1]..[9], ReplacementStrings[3] as the client).  Exports that
 * kept only the info string (1 value) or only the nine fields (9 values)
 * are read too.  When the 10 values are there, the info string and the
 * fields must say the same: a record whose two copies disagree is not
 * trusted either way.
 */
#include <stdio.h>
#include <string.h>

#include "events_internal.h"

/** @return true when every one of the @a n values is empty or blank */
static bool
all_blank(const char *const v[], const size_t vlen[], size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const char *s = (NULL == v[i]) ? "" : v[i];
    size_t len = (NULL == v[i]) ? 0 : vlen[i];

    kg_ev_trim(&s, &len);
    if (len > 0)
      return false;
  }
  return true;
}

/** @return true when two parsed events carry the same request */
static bool
same_request(const struct kg_event *a, const struct kg_event *b)
{
  /* clang-format off */
  return 0 == strcmp(a->cmid, b->cmid) && 0 == strcmp(a->client, b->client)
         && a->hresult == b->hresult && a->required_count == b->required_count
         && a->is_vm == b->is_vm && a->license_status == b->license_status
         && a->minutes_to_expiry == b->minutes_to_expiry
         && 0 == strcmp(a->activation_id, b->activation_id);
  /* clang-format on */
}

/** The 10-value form: value 0 the info string, values 1..9 its fields. */
static const char *
ten_values(const char *const v[], const size_t vlen[], const char *what, struct kg_event *ev,
           char *errbuf, size_t errbuf_len)
{
  struct kg_event whole;
  const char *err;

  if (all_blank(v + 1, vlen + 1, KG_INFO_FIELDS))
    return kg_events_parse_info(v[0], (NULL == v[0]) ? 0 : vlen[0], ev);
  err = kg_ev_info_fields(v + 1, vlen + 1, ev);
  if (NULL != err || all_blank(v, vlen, 1))
    return err;
  whole.requested_at_us = ev->requested_at_us;
  err = kg_events_parse_info(v[0], vlen[0], &whole);
  if (NULL == err && same_request(ev, &whole)) {
    kg_event_clear(&whole);
    return NULL;
  }
  if (NULL == err)
    kg_event_clear(&whole);
  kg_event_clear(ev);
  if (KG_EVENTS_ENOMEM == err)
    return err;
  snprintf(errbuf, errbuf_len, "%s: value 0 (the info string) and values 1-9 disagree", what);
  return errbuf;
}

const char *
kg_ev_info_values(const char *const v[], const size_t vlen[], size_t n, const char *what,
                  struct kg_event *ev, char *errbuf, size_t errbuf_len)
{
  switch (n) {
    case 1:
      return kg_events_parse_info(v[0], (NULL == v[0]) ? 0 : vlen[0], ev);
    case KG_INFO_FIELDS:
      return kg_ev_info_fields(v, vlen, ev);
    case KG_DATA_VALUES:
      return ten_values(v, vlen, what, ev, errbuf, errbuf_len);
    default:
      snprintf(errbuf, errbuf_len,
               "%s: %zu values, expected the info string and its 9 fields (10), or either", what,
               n);
      return errbuf;
  }
}
