/**
 * @file events_xml.c
 * @brief Event-12290 records from Windows event XML: `wevtutil qe "Key
 *        Management Service" /f:xml` (a stream of <Event> elements with no
 *        single root) and Event Viewer's "Save as XML" (an <Events> root).
 *
 * libxml2 parses, as the well-kept library made for it; this file only walks
 * what it built.  The body is read inside a wrapper element (fed through a
 * read callback, not copied), which makes a root-less stream one document
 * and makes any DOCTYPE a well-formedness error: with no DTD there is
 * nothing to load or expand, and XML_PARSE_NONET keeps the parser off the
 * network whatever a body says.  XML_PARSE_HUGE stays off, so libxml2's
 * own limits on depth (256) and on the size of one text node hold.  The
 * reader streams: only one <Event> subtree is in memory at a time.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libxml/xmlreader.h>

#include "events_internal.h"

/** The namespace of Windows event XML; an Event in no namespace is taken too. */
#define EVENT_NS "http://schemas.microsoft.com/win/2004/08/events/event"

static const char wrap_open[] = "<kmsgate-body>";
static const char wrap_close[] = "</kmsgate-body>";

/** The wrapper, the body and the closing tag, handed to libxml2 in turn. */
struct wrapped_body {
  const char *part[3];
  size_t len[3];
  size_t i;   /**< part being read */
  size_t off; /**< bytes of it already handed over */
};

/** libxml2 read callback: copies the next bytes of the wrapped body. */
static int
wrapped_read(void *ctx, char *buf, int room)
{
  struct wrapped_body *w = ctx;
  size_t n = 0;

  while (w->i < 3 && n < (size_t) room) {
    size_t left = w->len[w->i] - w->off;
    size_t take = ((size_t) room - n < left) ? (size_t) room - n : left;

    memcpy(buf + n, w->part[w->i] + w->off, take);
    n += take;
    w->off += take;
    if (w->off == w->len[w->i]) {
      w->i++;
      w->off = 0;
    }
  }
  return (int) n;
}

static int
wrapped_close(void *ctx)
{
  (void) ctx;
  return 0;
}

/** Drops libxml2's messages: the answer names the problem, stderr stays clean. */
static void
quiet(void *ctx, xmlErrorPtr err)
{
  (void) ctx;
  (void) err;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* libxml2 wants its one-time set-up done once before threads race to it. */
static void
xml_init(void)
{
  xmlInitParser();
}

/** @return true when @a name equals the NUL-terminated @a want */
static bool
named(const xmlChar *name, const char *want)
{
  return NULL != name && 0 == strcmp((const char *) name, want);
}

/** The first child element of @a parent called @a name, or NULL. */
static xmlNodePtr
child(xmlNodePtr parent, const char *name)
{
  if (NULL == parent)
    return NULL;
  for (xmlNodePtr n = parent->children; NULL != n; n = n->next)
    if (XML_ELEMENT_NODE == n->type && named(n->name, name))
      return n;
  return NULL;
}

/** The text of one event, owned by libxml2's allocator until released. */
struct event_text {
  xmlChar *id;
  xmlChar *time;
  xmlChar *message;
  xmlChar *data[KG_DATA_VALUES];
  size_t n_data;
};

static void
event_text_free(struct event_text *t)
{
  xmlFree(t->id);
  xmlFree(t->time);
  xmlFree(t->message);
  for (size_t i = 0; i < t->n_data && i < KG_DATA_VALUES; i++)
    xmlFree(t->data[i]);
}

/**
 * Collects the texts of System/EventID, System/TimeCreated/@SystemTime,
 * RenderingInfo/Message and EventData/Data.
 * @return false when out of memory
 */
static bool
collect(xmlNodePtr ev, struct event_text *t)
{
  xmlNodePtr sys = child(ev, "System");
  xmlNodePtr n;
  bool ok = true;

  memset(t, 0, sizeof *t);
  if (NULL != (n = child(sys, "EventID")))
    ok = ok && NULL != (t->id = xmlNodeGetContent(n));
  if (NULL != (n = child(sys, "TimeCreated")))
    t->time = xmlGetProp(n, (const xmlChar *) "SystemTime");
  if (NULL != (n = child(child(ev, "RenderingInfo"), "Message")))
    ok = ok && NULL != (t->message = xmlNodeGetContent(n));
  n = child(ev, "EventData");
  for (n = (NULL == n) ? NULL : n->children; NULL != n && ok; n = n->next) {
    if (XML_ELEMENT_NODE != n->type || !named(n->name, "Data"))
      continue;
    if (t->n_data < KG_DATA_VALUES)
      ok = NULL != (t->data[t->n_data] = xmlNodeGetContent(n));
    t->n_data++;
  }
  return ok;
}

static size_t
xlen(const xmlChar *s)
{
  return (NULL == s) ? 0 : strlen((const char *) s);
}

/** Fills @a ev from an event's data values. @return NULL or the reason */
static const char *
from_data(const struct event_text *t, struct kg_event *ev, char *errbuf, size_t errbuf_len)
{
  const char *value[KG_DATA_VALUES];
  size_t vlen[KG_DATA_VALUES];

  if (0 == t->n_data)
    return "RenderingInfo/Message and EventData/Data: both missing";
  for (size_t i = 0; i < t->n_data && i < KG_DATA_VALUES; i++) {
    value[i] = (const char *) t->data[i];
    vlen[i] = xlen(t->data[i]);
  }
  return kg_ev_info_values(value, vlen, t->n_data, "EventData", ev, errbuf, errbuf_len);
}

/** kg_ev_info_from_message()'s answer for a blank message; compared by pointer. */
static const char blank_message[] = "RenderingInfo/Message: blank";

/**
 * Fills @a ev from one <Event>: its time, and with @a with_data its request.
 * @return NULL, KG_EV_SKIP, the reason or KG_EVENTS_ENOMEM
 */
static const char *
event_from_xml(xmlNodePtr node, bool with_data, struct kg_event *ev, char *errbuf,
               size_t errbuf_len)
{
  struct event_text t;
  const char *err;

  memset(ev, 0, sizeof *ev);
  if (!collect(node, &t))
    err = KG_EVENTS_ENOMEM;
  else if (NULL == t.id)
    err = "System/EventID: missing";
  else if (NULL
           != (err = kg_ev_check_event_id((const char *) t.id, xlen(t.id),
                                          "System/EventID: not an event id")))
    ; /* another event, or no event id */
  else if (NULL == t.time)
    err = "System/TimeCreated/@SystemTime: missing";
  else if (KG_EV_TIME_OK
           != kg_ev_parse_time((const char *) t.time, xlen(t.time), NULL, false,
                               &ev->requested_at_us))
    err = "System/TimeCreated/@SystemTime: not a date-time";
  else if (with_data) {
    err = blank_message;
    if (NULL != t.message)
      err = kg_ev_info_from_message((const char *) t.message, xlen(t.message), blank_message, ev);
    if (blank_message == err)
      err = from_data(&t, ev, errbuf, errbuf_len);
  }
  event_text_free(&t);
  return err;
}

/**
 * Handles the element the reader is on: descends into <Events>, takes an
 * <Event> as a record (moving past it), refuses anything else.
 * @param[in,out] r the reader's last result; set to the next one
 */
static enum kg_ev_step
element(struct kg_ev_builder *bd, xmlTextReaderPtr rd, int *r, const char **error)
{
  const xmlChar *name = xmlTextReaderConstLocalName(rd);
  const xmlChar *ns = xmlTextReaderConstNamespaceUri(rd);
  int depth = xmlTextReaderDepth(rd);
  struct kg_event ev;
  char errbuf[256];
  enum kg_ev_step st;
  size_t index;
  xmlNodePtr node;

  if (NULL != ns && !named(ns, EVENT_NS))
    name = NULL;
  if (1 == depth && named(name, "Events")) {
    *r = xmlTextReaderRead(rd);
    return KG_STEP_OK;
  }
  if (!named(name, "Event")) {
    *error = "XML body: expected <Event> elements, alone or in <Events>";
    return KG_STEP_BAD_BODY;
  }
  node = xmlTextReaderExpand(rd);
  if (NULL == node) {
    *r = -1; /* the subtree is not well-formed: the reader is in error */
    return KG_STEP_OK;
  }
  st = kg_ev_next_record(bd, &index);
  if (KG_STEP_OK != st)
    return st;
  st = kg_ev_settle(bd, index, event_from_xml(node, true, &ev, errbuf, sizeof errbuf), &ev);
  *r = xmlTextReaderNext(rd);
  return st;
}

/** Skips blanks and an XML declaration, which may only open a document. */
static bool
skip_prolog(const char **body, size_t *len)
{
  const char *end = *body + *len;
  const char *p = *body;

  while (p < end && (' ' == *p || '\t' == *p || '\r' == *p || '\n' == *p))
    p++;
  if (end - p >= 5 && 0 == memcmp(p, "<?xml", 5)) {
    const char *close = NULL;

    for (const char *q = p; q + 1 < end && NULL == close; q++)
      if ('?' == q[0] && '>' == q[1])
        close = q;
    if (NULL == close)
      return false;
    p = close + 2;
  }
  *len = (size_t) (end - p);
  *body = p;
  return true;
}

/**
 * Opens a reader over @a body inside the wrapper element (see the top).
 * @return the reader, or NULL when out of memory
 */
static xmlTextReaderPtr
open_reader(struct wrapped_body *w, const char *body, size_t len)
{
  /* clang-format off */
  *w = (struct wrapped_body) { { wrap_open, body, wrap_close },
                               { sizeof wrap_open - 1, len, sizeof wrap_close - 1 }, 0, 0 };
  /* clang-format on */
  xmlTextReaderPtr rd;

  if (0 != pthread_once(&xml_once, xml_init))
    return NULL;
  /* The declaration is gone, so the encoding is stated: UTF-8, as every format here. */
  rd =
    xmlReaderForIO(wrapped_read, wrapped_close, w, NULL, "UTF-8",
                   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
  if (NULL != rd)
    xmlTextReaderSetStructuredErrorHandler(rd, quiet, NULL);
  return rd;
}

const char *
kg_ev_xml_event(const char *xml, size_t len, bool with_data, struct kg_event *ev, char *errbuf,
                size_t errbuf_len)
{
  const char *err = "System: not one <Event> in well-formed XML";
  struct wrapped_body w;
  xmlTextReaderPtr rd;
  xmlNodePtr node = NULL;
  int r;

  memset(ev, 0, sizeof *ev);
  if (!skip_prolog(&xml, &len))
    return "System: the XML declaration is not closed";
  rd = open_reader(&w, xml, len);
  if (NULL == rd)
    return KG_EVENTS_ENOMEM;
  r = xmlTextReaderRead(rd); /* the wrapper */
  do
    r = (1 == r) ? xmlTextReaderRead(rd) : r;
  while (1 == r && XML_READER_TYPE_ELEMENT != xmlTextReaderNodeType(rd)
         && XML_READER_TYPE_TEXT != xmlTextReaderNodeType(rd));
  if (1 == r && XML_READER_TYPE_ELEMENT == xmlTextReaderNodeType(rd)
      && named(xmlTextReaderConstLocalName(rd), "Event")
      && (NULL == xmlTextReaderConstNamespaceUri(rd)
          || named(xmlTextReaderConstNamespaceUri(rd), EVENT_NS)))
    node = xmlTextReaderExpand(rd);
  if (NULL != node)
    err = event_from_xml(node, with_data, ev, errbuf, errbuf_len);
  xmlFreeTextReader(rd);
  return err;
}

enum kg_ev_step
kg_ev_parse_xml(struct kg_ev_builder *bd, const char *body, size_t len, const char **error)
{
  struct wrapped_body w;
  xmlTextReaderPtr rd;
  enum kg_ev_step st = KG_STEP_OK;
  int r;

  if (!skip_prolog(&body, &len)) {
    *error = "XML body: the XML declaration is not closed";
    return KG_STEP_BAD_BODY;
  }
  rd = open_reader(&w, body, len);
  if (NULL == rd)
    return KG_STEP_NOMEM;
  r = xmlTextReaderRead(rd);
  while (1 == r && KG_STEP_OK == st) {
    int type = xmlTextReaderNodeType(rd);

    if (XML_READER_TYPE_ELEMENT == type && xmlTextReaderDepth(rd) >= 1)
      st = element(bd, rd, &r, error);
    else if (XML_READER_TYPE_TEXT == type || XML_READER_TYPE_CDATA == type) {
      /* Event subtrees are skipped whole: this text lies outside every Event */
      *error = "XML body: text outside <Event> elements";
      st = KG_STEP_BAD_BODY;
    } else
      r = xmlTextReaderRead(rd);
  }
  xmlFreeTextReader(rd);
  if (KG_STEP_OK == st && r < 0) {
    *error = "body is not well-formed XML (or holds a DTD, which is refused)";
    st = KG_STEP_BAD_BODY;
  }
  return st;
}
