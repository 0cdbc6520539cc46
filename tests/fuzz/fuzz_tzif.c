/**
 * @file fuzz_tzif.c
 * @brief libFuzzer target: the TZif reader (tzif.c), and local-to-UTC
 *        conversion over whatever it accepts: the offset found must be one
 *        in force at the answered instant.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tzif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* clang-format off */
  static const int64_t probes[] = { INT64_C(-2208988800), 0, INT64_C(1795166043),
                                    INT64_C(1774751400), INT64_C(1792895400),
                                    INT64_C(4102444800) };
  /* clang-format on */
  struct kg_tz tz;

  if (NULL != kg_tz_parse(data, size, &tz)) {
    if (NULL != tz.at || NULL != tz.offset || 0 != tz.n)
      abort(); /* a refused file leaves nothing allocated */
    return 0;
  }
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
    int32_t offset = 0;
    enum kg_tz_result r = kg_tz_local_to_utc(&tz, probes[i], &offset);

    if (KG_TZ_OK == r && (offset < -25 * 3600 || offset > 26 * 3600))
      abort();
  }
  kg_tz_free(&tz);
  return 0;
}
