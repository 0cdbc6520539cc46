/**
 * @file chart.c
 * @brief SVG step chart of a forecast, written by hand: it is a handful of
 *        elements, and a library would add a dependency for no gain.
 */
#include "chart.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WIDTH 720
#define HEIGHT 260
#define LEFT 48
#define RIGHT 16
#define TOP 28
#define BOTTOM 36

/** Output buffer; once an allocation fails it stays failed. */
struct svg {
  char *buf;
  size_t len, cap;
  int failed;
};

static void out(struct svg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out(struct svg *s, const char *fmt, ...)
{
  while (!s->failed) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      s->failed = 1;
    } else if ((size_t) n < s->cap - s->len) {
      s->len += (size_t) n;
      return;
    } else {
      size_t cap = 2 * s->cap + (size_t) n + 1;
      char *grown = realloc(s->buf, cap);
      if (NULL == grown)
        s->failed = 1;
      else {
        s->buf = grown;
        s->cap = cap;
      }
    }
  }
}

/** Writes text with the five XML special characters escaped. */
static void
out_escaped(struct svg *s, const char *text)
{
  for (const char *p = text ? text : ""; '\0' != *p; p++) {
    switch (*p) {
      case '<':
        out(s, "&lt;");
        break;
      case '>':
        out(s, "&gt;");
        break;
      case '&':
        out(s, "&amp;");
        break;
      case '"':
        out(s, "&quot;");
        break;
      case '\'':
        out(s, "&apos;");
        break;
      default:
        out(s, "%c", *p);
    }
  }
}

/** The plotting area's geometry. */
struct frame {
  int64_t t0, t1;
  int32_t ymax;
};

static double
x_of(const struct frame *f, int64_t t)
{
  double span = (double) (f->t1 > f->t0 ? f->t1 - f->t0 : 1);
  double x = (double) (t - f->t0) / span;
  x = x < 0 ? 0 : (x > 1 ? 1 : x);
  return LEFT + x * (WIDTH - LEFT - RIGHT);
}

static double
y_of(const struct frame *f, int32_t count)
{
  double y = (double) count / (double) (f->ymax > 0 ? f->ymax : 1);
  y = y < 0 ? 0 : (y > 1 ? 1 : y);
  return TOP + (1 - y) * (HEIGHT - TOP - BOTTOM);
}

static void
day_label(int64_t t, char *buf, size_t len)
{
  time_t tt = (time_t) t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, len, "%Y-%m-%d", &tm);
}

static void
draw_axes(struct svg *s, const struct frame *f, const struct kg_chart *c)
{
  char a[16], b[16];
  day_label(f->t0, a, sizeof(a));
  day_label(f->t1, b, sizeof(b));
  out(s, "<rect x='%d' y='%d' width='%d' height='%d' fill='#fafafa' stroke='#ccc'/>", LEFT, TOP,
      WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
  out(s, "<text x='%d' y='%d' font-size='11' fill='#555'>%s</text>", LEFT, HEIGHT - 14, a);
  out(s, "<text x='%d' y='%d' font-size='11' fill='#555' text-anchor='end'>%s</text>",
      WIDTH - RIGHT, HEIGHT - 14, b);
  out(s, "<text x='%d' y='%.1f' font-size='11' fill='#555' text-anchor='end'>%d</text>", LEFT - 6,
      y_of(f, f->ymax) + 4, f->ymax);
  out(s, "<text x='%d' y='%.1f' font-size='11' fill='#555' text-anchor='end'>0</text>", LEFT - 6,
      y_of(f, 0) + 4);
  out(s, "<text x='%d' y='18' font-size='13' font-weight='bold'>", LEFT);
  out_escaped(s, c->title);
  out(s, "</text>");
}

static void
draw_floor_and_markers(struct svg *s, const struct frame *f, const struct kg_chart *c)
{
  double fy = y_of(f, c->floor);
  /* clang-format off */
  out(s, "<line class='floor' x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#d33' "
         "stroke-dasharray='6 4' stroke-width='1.5'/>", LEFT, fy, WIDTH - RIGHT, fy);
  /* clang-format on */
  out(s, "<text x='%d' y='%.1f' font-size='11' fill='#d33' text-anchor='end'>floor %d</text>",
      WIDTH - RIGHT - 4, fy - 4, c->floor);
  double nx = x_of(f, c->now);
  /* clang-format off */
  out(s, "<line class='today' x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#888'/>"
         "<text x='%.1f' y='%d' font-size='11' fill='#555'>today</text>",
      /* clang-format on */
      nx, TOP, nx, HEIGHT - BOTTOM, nx + 3, TOP + 12);
  if (0 != c->breach_at) {
    char day[16];
    double bx = x_of(f, c->breach_at);
    day_label(c->breach_at, day, sizeof(day));
    /* clang-format off */
    out(s, "<circle class='breach' cx='%.1f' cy='%.1f' r='5' fill='#d33'/>"
           "<text x='%.1f' y='%.1f' font-size='11' fill='#d33'>below floor %s</text>",
        /* clang-format on */
        bx, fy, bx + 7, fy + 14, day);
  }
}

static void
draw_steps(struct svg *s, const struct frame *f, const struct kg_chart *c)
{
  if (0 == c->n_steps)
    return;
  out(s, "<path class='count' fill='none' stroke='#1f6feb' stroke-width='2' d='M%.1f %.1f",
      x_of(f, c->steps[0].at), y_of(f, c->steps[0].count));
  for (size_t i = 1; i < c->n_steps; i++) {
    double x = x_of(f, c->steps[i].at);
    out(s, " H%.1f V%.1f", x, y_of(f, c->steps[i].count));
  }
  out(s, " H%.1f'/>", x_of(f, f->t1));
}

char *
kg_chart_svg(const struct kg_chart *c)
{
  struct svg s = { .buf = malloc(4096), .cap = 4096 };
  struct frame f = { c->start, c->end > c->start ? c->end : c->start + 1, c->capacity };

  if (NULL == s.buf)
    return NULL;
  s.buf[0] = '\0';
  /* Leave head room above the floor and the highest step. */
  int32_t top = c->floor;
  for (size_t i = 0; i < c->n_steps; i++)
    top = c->steps[i].count > top ? c->steps[i].count : top;
  f.ymax = (top + top / 5 + 1 < c->capacity || c->capacity <= 0) ? top + top / 5 + 1 : c->capacity;
  /* clang-format off */
  out(&s, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' "
          "font-family='sans-serif' role='img'><title>", WIDTH, HEIGHT, WIDTH, HEIGHT);
  /* clang-format on */
  out_escaped(&s, c->title);
  out(&s, " forecast</title>");
  draw_axes(&s, &f, c);
  draw_floor_and_markers(&s, &f, c);
  draw_steps(&s, &f, c);
  out(&s, "</svg>\n");
  if (s.failed) {
    free(s.buf);
    return NULL;
  }
  return s.buf;
}
