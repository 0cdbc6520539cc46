/**
 * @file test_chart.c
 * @brief The SVG forecast chart: its parts are present, names are escaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chart.h"

/* clang-format off */
static const struct fc_step steps[] = {
  { 1796083200, 30 }, { 1798502400, 24 },  /* 2026-12-01: 30, 2026-12-29: 24 */
};
/* clang-format on */

static void
test_chart_has_steps_floor_today_and_breach(void **state)
{
  (void) state;
  /* clang-format off */
  struct kg_chart c = { "kms01.corp.example", 1796083200, 1796083200, 1796083200 + 45 * 86400,
                        25, 50, 2, steps, 1798502400 };
  /* clang-format on */
  char *svg = kg_chart_svg(&c);
  assert_non_null(svg);
  assert_non_null(strstr(svg, "<svg "));
  assert_non_null(strstr(svg, "class='count'"));
  assert_non_null(strstr(svg, "class='floor'"));
  assert_non_null(strstr(svg, "floor 25"));
  assert_non_null(strstr(svg, "class='today'"));
  assert_non_null(strstr(svg, "class='breach'"));
  assert_non_null(strstr(svg, "below floor 2026-12-29"));
  assert_non_null(strstr(svg, "2026-12-01"));
  assert_non_null(strstr(svg, "</svg>"));
  free(svg);
}

static void
test_chart_without_breach_or_steps(void **state)
{
  (void) state;
  struct kg_chart c = { "kms02", 1000, 1000, 1000, 25, 50, 0, NULL, 0 };
  char *svg = kg_chart_svg(&c);
  assert_non_null(svg);
  assert_null(strstr(svg, "class='breach'"));
  assert_null(strstr(svg, "class='count'"));
  free(svg);
}

static void
test_chart_escapes_the_title(void **state)
{
  (void) state;
  struct kg_chart c = { "<script>&\"'", 0, 0, 86400, 5, 10, 1, steps, 0 };
  char *svg = kg_chart_svg(&c);
  assert_non_null(svg);
  assert_null(strstr(svg, "<script>"));
  assert_non_null(strstr(svg, "&lt;script&gt;&amp;&quot;&apos;"));
  free(svg);
}

int
main(void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_chart_has_steps_floor_today_and_breach),
    cmocka_unit_test(test_chart_without_breach_or_steps),
    cmocka_unit_test(test_chart_escapes_the_title),
  };
  /* clang-format on */
  return cmocka_run_group_tests(tests, NULL, NULL);
}
