/**
 * @file query.h
 * @brief The query-string rule of every route: only the parameters a route
 *        declares, each once, well encoded. An unknown name is refused
 *        rather than ignored, so that `POST /v1/gate?dry_run=true` cannot
 *        record a real decision and `?enfroce=true` cannot quietly not
 *        enforce.
 */
#ifndef KG_QUERY_H
#define KG_QUERY_H

#include <stddef.h>

/** What kg_query_check() found. */
enum kg_query_verdict {
  KG_QUERY_OK,
  KG_QUERY_MALFORMED, /**< a bad %-escape, an encoded NUL, or an empty name */
  KG_QUERY_UNKNOWN,   /**< a name the route does not declare */
  KG_QUERY_REPEATED,  /**< a declared name given twice */
};

/** Room for a parameter name in the answer (longer ones are cut). */
#define KG_QUERY_NAME_BUFSZ 65

/**
 * Checks the query string of @a url (everything after its first '?')
 * against @a declared. Names and values are percent-decoded ('+' is a
 * space); empty segments (`a=1&&b=2`, a trailing '&') are ignored.
 * @param url the request's URL as received (path and query)
 * @param declared the route's accepted names separated by spaces, or NULL for none
 * @param[out] name the offending name, printable ASCII only ("" when it is not)
 * @return the first problem found, or KG_QUERY_OK
 */
enum kg_query_verdict kg_query_check(const char *url, const char *declared,
                                     char name[KG_QUERY_NAME_BUFSZ]);

#endif
