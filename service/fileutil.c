/**
 * @file fileutil.c
 * @brief Whole-file reads for configuration-time files (migrations, the
 *        OpenAPI document, the dashboard page, TLS keys).
 */
#include "fileutil.h"

#include <stdio.h>
#include <stdlib.h>

char *
kg_file_read(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n = -1;

  if (NULL == f)
    return NULL;
  if (0 == fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && 0 == fseek(f, 0, SEEK_SET)
      && NULL != (buf = malloc((size_t) n + 1))) {
    if ((size_t) n != fread(buf, 1, (size_t) n, f)) {
      free(buf);
      buf = NULL;
    } else {
      buf[n] = '\0';
      if (NULL != len)
        *len = (size_t) n;
    }
  }
  fclose(f);
  return buf;
}
