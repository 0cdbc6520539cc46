/**
 * @file http_desktops.c
 * @brief Routes of this resource (not yet implemented).
 */
#include "http.h"

const struct kg_route kg_routes_desktops[] = {
  { NULL, NULL, 0, 0, 0, NULL },
};
