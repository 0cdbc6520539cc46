/**
 * @file http_decisions.c
 * @brief Routes of this resource (not yet implemented).
 */
#include "http.h"

const struct kg_route kg_routes_decisions[] = {
  { NULL, NULL, 0, 0, 0, NULL },
};
