/**
 * @file events_internal.h
 * @brief What the ingest parsers (events_<format>.c) share: the batch under
 *        construction, the lexical helpers and one parser entry per format.
 *
 * Not part of the service's interface: only events*.c include it.  Every
 * helper takes (pointer, length) and never relies on a NUL terminator.
 */
#ifndef KG_EVENTS_INTERNAL_H
#define KG_EVENTS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "events.h"

/** Fields of the event-12290 info string (and of its event data). */
#define KG_INFO_FIELDS 9

/** Data values event 12290 carries: the info string, then its 9 fields. */
#define KG_DATA_VALUES (KG_INFO_FIELDS + 1)

/** The event id of "an activation request has been processed". */
#define KG_EVENT_ID_ACTIVATION 12290

/**
 * What a record parser returns, instead of NULL or a reason, for a record of
 * another event than 12290: kg_ev_settle() counts it as skipped.  Compare
 * pointers.
 */
extern const char KG_EV_SKIP[];

/** A batch under construction, with the spare capacity of its arrays. */
struct kg_ev_builder {
  struct kg_events_batch b;
  size_t cap_events;
  size_t cap_rejected;
  size_t max_records;
  const struct kg_events_time *zone; /**< how times without an offset are read, or NULL */
  const struct kg_events_opts *opts; /**< never NULL */
};

/** Internal outcomes; mapped to kg_events_parse()'s -1 and message at the end. */
enum kg_ev_step {
  KG_STEP_OK = 0,
  KG_STEP_NOMEM,    /**< out of memory */
  KG_STEP_TOO_MANY, /**< more than max_records records */
  KG_STEP_BAD_BODY, /**< unusable body; the parser set the message */
  KG_STEP_FLUSH     /**< the flush callback stopped the parse */
};

/** Outcome of checking a client DNS name. */
enum kg_ev_client {
  KG_CLIENT_OK,
  KG_CLIENT_EMPTY,
  KG_CLIENT_LONG,
  KG_CLIENT_CHAR
};

/** @return true for a space or a tab */
static inline bool
kg_ev_is_blank(char c)
{
  return ' ' == c || '\t' == c;
}

/** Trims spaces and tabs on both ends of [*s, *s + *len). */
void kg_ev_trim(const char **s, size_t *len);

/**
 * Copies bytes into a new NUL-terminated string.
 * @return the copy (free() it), or NULL when out of memory
 */
char *kg_ev_dup(const char *s, size_t len);

/** "0x" or "0X" followed by 1..8 hex digits, nothing else. @return true if it is */
bool kg_ev_parse_hresult(const char *s, size_t len, uint32_t *out);

/** Checks a client DNS name (printable ASCII, no space or comma, 1..253). */
enum kg_ev_client kg_ev_check_client(const char *s, size_t len);

/**
 * Checks an event id given as text (decimal, blanks around allowed).
 * @param bad the reason to return when the text is no event id (static)
 * @return NULL for 12290, KG_EV_SKIP for another id, else @a bad
 */
const char *kg_ev_check_event_id(const char *s, size_t len, const char *bad);

/**
 * Fills @a ev from a rendered event-12290 message: the info string is its
 * last line that holds more than blanks.
 * @param empty the reason when the message holds nothing (static)
 * @param[in,out] ev as for kg_events_parse_info()
 * @return NULL on success, else the reason
 */
const char *kg_ev_info_from_message(const char *msg, size_t len, const char *empty,
                                    struct kg_event *ev);

/**
 * Fills @a ev from the 9 fields of an info string or of an event's data
 * (Data 1-9, Properties, StringInserts...), trimmed of blanks; the
 * messages are kg_events_parse_info()'s ("info string: cmid is not a GUID").
 * @param field, flen the fields in info-string order; a NULL field is empty
 * @param[in,out] ev as for kg_events_parse_info(): requested_at_us is kept
 * @return NULL on success (ev->client allocated), else a static reason
 */
const char *kg_ev_info_fields(const char *const field[KG_INFO_FIELDS],
                              const size_t flen[KG_INFO_FIELDS], struct kg_event *ev);

/**
 * Fills @a ev from an event's data values (EventData/Data, Properties,
 * StringInserts, event_data.paramN): 1 value (the info string), 9 (its
 * fields) or 10 (both, which must agree; either may be blank), see
 * events_data.c.
 * @param v, vlen the values in order; a NULL value is empty
 * @param n how many the event has (only the first KG_DATA_VALUES are read)
 * @param what the name of the data in the reasons ("EventData")
 * @param errbuf room for a built reason
 * @return NULL on success (ev->client allocated), else the reason
 */
const char *kg_ev_info_values(const char *const v[], const size_t vlen[], size_t n,
                              const char *what, struct kg_event *ev, char *errbuf,
                              size_t errbuf_len);

/**
 * Claims the next record index, enforcing max_records.
 * @return KG_STEP_OK or KG_STEP_TOO_MANY
 */
enum kg_ev_step kg_ev_next_record(struct kg_ev_builder *bd, size_t *index);

/**
 * Records a rejection of record @a index with a copy of @a msg.
 * @return KG_STEP_OK, or KG_STEP_NOMEM (also when msg is KG_EVENTS_ENOMEM)
 */
enum kg_ev_step kg_ev_reject(struct kg_ev_builder *bd, size_t index, const char *msg);

/**
 * Records the outcome of one record: @a ev (taking its client) when @a err
 * is NULL, a skipped record for KG_EV_SKIP, else a rejection (@a ev is
 * cleared unless taken).
 * @return KG_STEP_OK or KG_STEP_NOMEM
 */
enum kg_ev_step kg_ev_settle(struct kg_ev_builder *bd, size_t index, const char *err,
                             struct kg_event *ev);

/** One or more decimal digits whose value is at most @a max; no sign, no blanks. */
bool kg_ev_parse_decimal(const char *s, size_t len, int64_t max, int64_t *out);

/** Outcome of kg_ev_parse_time(). */
enum kg_ev_time {
  KG_EV_TIME_OK,
  KG_EV_TIME_BAD,     /**< no time in a known form */
  KG_EV_TIME_NO_ZONE, /**< a local time, and no zone was stated */
  KG_EV_TIME_CULTURE, /**< a culture's ToString() form, and no culture was stated */
  KG_EV_TIME_GAP,     /**< a local time the zone skipped */
  KG_EV_TIME_BEYOND   /**< later than the zone file's table */
};

/**
 * Parses a time as Windows tools write it: RFC 3339 (any digits of
 * fraction), .NET's "/Date(ms)/" or "/Date(ms+hhmm)/" (ms are UTC; the
 * offset only says where it was written), "YYYY-MM-DD hh:mm:ss[.f]" with an
 * optional " +hhmm", "+hh:mm" or "Z" (NXLog, Fluent Bit), and under a
 * stated culture PowerShell's ToString() ("12/1/2026 10:14:03 AM").  A
 * time without an offset is read in @a zone when one was stated; else the
 * "YYYY-MM-DD hh:mm:ss" form is read as UTC when @a naive_utc (NXLog CE's
 * EventTime, as documented before the zone parameter) and refused otherwise.
 * @param zone the stated zone and culture, or NULL
 * @param[out] unix_us the instant in Unix microseconds; untouched on failure
 */
enum kg_ev_time kg_ev_parse_time(const char *s, size_t len, const struct kg_events_time *zone,
                                 bool naive_utc, int64_t *unix_us);

/**
 * The reason for a time kg_ev_parse_time() refused.
 * @param field the member's name; @param bad the reason for KG_EV_TIME_BAD (static)
 * @return @a bad, or the reason built in @a errbuf (at least 256 bytes)
 */
const char *kg_ev_time_error(enum kg_ev_time r, const char *field, const char *bad, char *errbuf,
                             size_t errbuf_len);

/**
 * @return true when @a rec is a Windows event record (ConvertTo-Json,
 *         Winlogbeat, NXLog, Fluent Bit) rather than kmsgate's own record:
 *         an object without "cmid" that has Message, Properties, TimeCreated...
 */
bool kg_ev_is_winevent(json_t *rec);

/**
 * Fills @a ev from a Windows event record (see events_winevent.c).
 * @param errbuf room for a built reason
 * @return NULL, KG_EV_SKIP for another event than 12290, or the reason
 */
const char *kg_ev_winevent(json_t *rec, const struct kg_events_time *zone, struct kg_event *ev,
                           char *errbuf, size_t errbuf_len);

/**
 * Fills @a ev from one Windows event as an XML string (Fluent Bit's
 * render_event_as_xml "System"): its event id and time, and with
 * @a with_data the request from its RenderingInfo/Message or EventData.
 * @return NULL, KG_EV_SKIP, the reason or KG_EVENTS_ENOMEM
 */
const char *kg_ev_xml_event(const char *xml, size_t len, bool with_data, struct kg_event *ev,
                            char *errbuf, size_t errbuf_len);

/** @name One parser per body format; each fills @a bd and may set @a error for KG_STEP_BAD_BODY. */
/** @{ */
enum kg_ev_step kg_ev_parse_json(struct kg_ev_builder *bd, const char *body, size_t len,
                                 const char **error);
enum kg_ev_step kg_ev_parse_ndjson(struct kg_ev_builder *bd, const char *body, size_t len);
enum kg_ev_step kg_ev_parse_csv(struct kg_ev_builder *bd, const char *body, size_t len,
                                const char **error);
enum kg_ev_step kg_ev_parse_xml(struct kg_ev_builder *bd, const char *body, size_t len,
                                const char **error);
/** @} */

#endif
