/**
 * @file http_hosts.c
 * @brief Routes of this resource (not yet implemented).
 */
#include "http.h"

const struct kg_route kg_routes_hosts[] = {
  { NULL, NULL, 0, 0, 0, NULL },
};
