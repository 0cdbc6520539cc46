/**
 * @file server_doc.c
 * @brief Builds KMS server documents from the records of db_servers.c.
 */
#include "server_doc.h"

#include <string.h>

#include "db_servers.h"
#include "input.h"

static bool
add_host(void *cls, const char *name, const char *family)
{
  return 0 == json_array_append_new(cls, json_pack("{s:s,s:s}", "name", name, "family", family));
}

/** Adds one total to by_family, or to the unmapped list and sum. */
static bool
add_total(void *cls, const struct kg_server_total *t)
{
  json_t *doc = cls;
  json_t *by_family = json_object_get(doc, "requests_by_family");

  if (NULL != t->application) {
    json_int_t had = json_integer_value(json_object_get(by_family, t->application));
    return 0
           == json_object_set_new(by_family, t->application,
                                  json_integer(had + (json_int_t) t->requests));
  }
  json_int_t sum = json_integer_value(json_object_get(doc, "unmapped_requests"));
  /* clang-format off */
  return 0 == json_object_set_new(doc, "unmapped_requests",
                                  json_integer(sum + (json_int_t) t->requests))
         && 0 == json_array_append_new(json_object_get(doc, "unmapped_activation_ids"),
                                       json_pack("{s:s,s:I,s:o}", "activation_id",
                                                 t->activation_id, "requests",
                                                 (json_int_t) t->requests, "last_at",
                                                 kg_json_epoch_text(t->last_at)));
  /* clang-format on */
}

enum kg_qs
kg_server_document(struct kg_db *db, const char *server, json_t **doc)
{
  int n;
  enum kg_qs qs;

  /* clang-format off */
  *doc = json_pack("{s:s,s:[],s:{s:i,s:i,s:i},s:i,s:[]}", "server", server, "hosts",
                   "requests_by_family", "windows", 0, "office2010", 0, "office", 0,
                   "unmapped_requests", 0, "unmapped_activation_ids");
  /* clang-format on */
  if (NULL == *doc)
    return KG_QS_INTERNAL_ERROR;
  qs = kg_db_server_hosts(db, server, add_host, json_object_get(*doc, "hosts"), &n);
  if (KG_QS_OK == qs)
    qs = kg_db_server_totals(db, server, add_total, *doc, &n);
  if (KG_QS_OK != qs) {
    json_decref(*doc);
    *doc = NULL;
  }
  return qs;
}
