/**
 * @file events.h
 * @brief Parsing of KMS event-12290 records (JSON, NDJSON, PowerShell CSV,
 *        Windows event XML, and Windows event records from ConvertTo-Json,
 *        Winlogbeat, NXLog and Fluent Bit inside JSON and NDJSON).
 *
 * Pure functions: they get bytes and return structures, do no I/O and keep
 * no state, so they can be fuzzed directly.  Every input is (pointer,
 * length), need not be NUL-terminated and may hold any bytes.
 */
#ifndef KG_EVENTS_H
#define KG_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The record limit of one parse held in memory whole (no flush); callers pass it as max_records. */
#define KG_EVENTS_MAX_RECORDS 10000

/** The record limit of one ingest request, stored in batches (api.md). */
#define KG_EVENTS_MAX_UPLOAD_RECORDS 1000000

/** Longest client DNS name accepted (RFC 1035 limit of a presentation name). */
#define KG_EVENTS_CLIENT_MAX 253

/** Body formats, by Content-Type. */
enum kg_events_format {
  KG_EVENTS_JSON,   /**< application/json: one array of objects */
  KG_EVENTS_NDJSON, /**< application/x-ndjson: one object per line */
  KG_EVENTS_CSV,    /**< text/csv: Export-Csv of TimeCreated, Message (and Id) */
  KG_EVENTS_XML     /**< application/xml: wevtutil /f:xml or Event Viewer's "Save as XML" */
};

/** Cultures whose DateTime.ToString() form the ingest reads (PowerShell's Export-Csv). */
enum kg_events_culture {
  KG_CULTURE_NONE,     /**< none stated: such times are refused, naming the parameter */
  KG_CULTURE_EN_US,    /**< "12/1/2026 10:14:03 AM" */
  KG_CULTURE_INVARIANT /**< "12/01/2026 10:14:03" */
};

struct kg_tz;

/**
 * How times written without an offset are read: the ingest's query
 * parameters time_zone, utc_offset and culture.  Times with an offset (or
 * in UTC) never use it.
 */
struct kg_events_time {
  bool given;             /**< a zone or an offset was stated */
  const struct kg_tz *tz; /**< the zone (tzif.h), or NULL for offset_s */
  int32_t offset_s;       /**< UTC offset in seconds, when tz is NULL */
  enum kg_events_culture culture;
};

/** One activation request, as the KMS host logged it. */
struct kg_event {
  char cmid[37]; /**< lowercase GUID 8-4-4-4-12 */
  char *client;  /**< client DNS name as given (1..253 printable ASCII, no space or comma); owned */
  int64_t
    requested_at_us; /**< request time, Unix microseconds (JSON requested_at, or CSV TimeCreated) */
  bool has_hresult;
  uint32_t hresult; /**< HRESULT answered: 0 success, 0xC004F038 count too low */
  bool has_required_count;
  int32_t required_count; /**< 25 or 5 only */
  bool has_is_vm;
  bool is_vm;
  bool has_license_status;
  int32_t license_status; /**< 0..6 */
  bool has_minutes_to_expiry;
  int64_t minutes_to_expiry; /**< >= 0 */
  bool has_activation_id;
  char activation_id[37]; /**< lowercase GUID */
  size_t index;           /**< 0-based position among the body's records */
};

/** A record that was not accepted. */
struct kg_event_rejection {
  size_t index; /**< 0-based position among the body's records */
  char *
    error; /**< short English naming the field and the reason, e.g. "cmid: not a GUID"; owned, printable ASCII */
};

/** Result of kg_events_parse(); release with kg_events_batch_free(). */
struct kg_events_batch {
  size_t n_events;
  struct kg_event *events; /**< accepted records, in body order */
  size_t n_rejected;
  struct kg_event_rejection *rejected; /**< rejected records, by increasing index */
  size_t n_skipped; /**< records of another event than 12290: not stored, not rejected */
  size_t n_records; /**< records seen (accepted + rejected + skipped) */
  size_t n_flushed; /**< accepted records handed to kg_events_opts.flush (not in events) */
};

/**
 * Parses an ingest body into accepted events and per-record rejections.
 *
 * A UTF-8 byte order mark at the start is skipped in every format.
 * JSON: a top-level array; each element is a record.  NDJSON: each line that
 * holds more than spaces, tabs and CR is a record; a line that is not valid
 * JSON is a rejected record.  CSV: RFC 4180 with an optional "#TYPE" first
 * line, a header row naming TimeCreated and Message (any order and case),
 * then one record per row; empty lines are skipped and take no index.
 * @param fmt the body format
 * @param body the body bytes, not NUL-terminated
 * @param len number of bytes in @a body
 * @param max_records more records than this make the whole body unusable
 * @param[out] out receives the result; zeroed on failure (freeing it is harmless)
 * @param[out] error on failure, receives a static English message
 * @return 0 on success (even if every record was rejected); -1 when the body
 *         as a whole is unusable (not a JSON array, CSV without the
 *         TimeCreated/Message header, more than @a max_records records,
 *         out of memory)
 */
int kg_events_parse(enum kg_events_format fmt, const char *body, size_t len, size_t max_records,
                    struct kg_events_batch *out, const char **error);

/** What kg_events_parse_with() adds to kg_events_parse(); zero members are off. */
struct kg_events_opts {
  const struct kg_events_time *zone; /**< how times without an offset are read, or NULL */
  int64_t now_us; /**< when > 0, events dated more than KG_EVENTS_MAX_AHEAD_US after it are
                       rejected as kg_events_reject_future() does */
  /**
   * Receives the accepted events every batch_size of them and at the end, so
   * that a large body is stored batch by batch and never held whole; the
   * events' client names are freed after it returns.
   * @return 0 to go on, non-zero to stop (kg_events_parse_with() fails with
   *         KG_EVENTS_EFLUSH)
   */
  int (*flush)(void *cls, struct kg_event *events, size_t n);
  void *cls;
  size_t batch_size;
};

/** The error kg_events_parse_with() gives when opts->flush stopped it; compare pointers. */
extern const char KG_EVENTS_EFLUSH[];

/**
 * kg_events_parse() with options (NULL: none, as kg_events_parse()).  With
 * a flush, out->events holds no events at the end (n_flushed counts them);
 * a failure after a flush leaves the flushed batches where flush put them.
 */
int kg_events_parse_with(enum kg_events_format fmt, const char *body, size_t len,
                         size_t max_records, const struct kg_events_opts *opts,
                         struct kg_events_batch *out, const char **error);

/**
 * Releases everything a batch owns and zeroes it.
 * @param b the batch; NULL is allowed
 */
void kg_events_batch_free(struct kg_events_batch *b);

/**
 * Parses one 9-field info string of event 12290, e.g.
 * "0x0, 25, vdi-p1-001.corp.example, 6a1f2c7e-..., 2026/11/20 9:14, 1, 1, 259200, 4de7cb65-...".
 * Fields are separated by commas and trimmed of spaces and tabs.  The client
 * timestamp (field 5, "yyyy/m/d h:mm") is validated but not stored: it is the
 * client's clock, not the request time.
 * @param s the info string, not NUL-terminated
 * @param len number of bytes in @a s
 * @param[in,out] ev receives every field except requested_at_us, which is
 *        kept as the caller set it; on success ev->client is allocated
 *        (release with kg_event_clear()); on failure ev owns no memory and
 *        its other fields are unspecified.  Whatever ev held before is
 *        overwritten, not freed.  Must not be NULL (NULL gets an error).
 * @return NULL on success, or a static error message naming the field
 *         ("info string: cmid is not a GUID"); the message is
 *         #KG_EVENTS_ENOMEM when memory ran out
 */
const char *kg_events_parse_info(const char *s, size_t len, struct kg_event *ev);

/** The message kg_events_parse_info() returns when out of memory; compare pointers. */
extern const char KG_EVENTS_ENOMEM[];

/** How far ahead of the service's clock a request may be dated (clock skew). */
#define KG_EVENTS_MAX_AHEAD_US ((int64_t) 600 * 1000000)

/**
 * Moves every accepted event dated more than KG_EVENTS_MAX_AHEAD_US after
 * @a now_us to the rejections, naming the skew; rejections stay ordered
 * by index.  A KMS host whose clock runs ahead would otherwise keep CMIDs
 * counted after the real host dropped them.
 * @param b the parsed batch
 * @param now_us the service's clock, Unix microseconds
 * @return 0 on success, -1 when out of memory (the batch stays freeable)
 */
int kg_events_reject_future(struct kg_events_batch *b, int64_t now_us);

/**
 * Releases what one event owns (its client name) and zeroes it.
 * @param ev the event; NULL is allowed
 */
void kg_event_clear(struct kg_event *ev);

/**
 * Normalizes a GUID to lowercase "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
 * Accepts exactly 36 characters in the 8-4-4-4-12 hex pattern, in any case,
 * optionally inside one pair of braces ("{...}", 38 characters) as Windows
 * tools print them; nothing else (no spaces, no other wrapping).
 * @param s the text, not NUL-terminated
 * @param len number of bytes in @a s
 * @param[out] out receives the NUL-terminated lowercase GUID; untouched on failure
 * @return true on success
 */
bool kg_guid_normalize(const char *s, size_t len, char out[37]);

#endif
