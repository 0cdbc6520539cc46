/**
 * @file fuzz_time.c
 * @brief libFuzzer target: RFC 3339 parsing; whatever parses must format and
 *        parse back to the same second.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int64_t us, again;
  char text[KG_TIME_BUFSZ];

  if (!kg_time_parse_rfc3339((const char *) data, size, &us))
    return 0;
  int64_t seconds = us / 1000000 - (us % 1000000 < 0); /* floor, also before 1970 */
  if (seconds < 0)
    return 0; /* an offset may move a 1970 time before the epoch; format clamps there */
  kg_time_format(seconds, text);
  if (!kg_time_parse_rfc3339(text, strlen(text), &again) || again != seconds * 1000000)
    abort();
  return 0;
}
