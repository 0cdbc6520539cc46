/**
 * @file tzif.c
 * @brief A small TZif reader (RFC 8536): the transitions and offsets of a
 *        zone, and local-to-UTC conversion over them.  See tzif.h.
 */
#include "tzif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Largest TZif file read: the biggest in tzdata is under 4 KiB fat. */
#define TZIF_MAX_BYTES (256 * 1024)

static uint32_t
be32(const unsigned char *p)
{
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static int64_t
be64(const unsigned char *p)
{
  return (int64_t) (((uint64_t) be32(p) << 32) | be32(p + 4));
}

/** The six counts of a TZif header. */
struct counts {
  size_t isut, isstd, leap, time, type, chars;
};

static void
read_counts(const unsigned char *h, struct counts *c)
{
  c->isut = be32(h + 20);
  c->isstd = be32(h + 24);
  c->leap = be32(h + 28);
  c->time = be32(h + 32);
  c->type = be32(h + 36);
  c->chars = be32(h + 40);
}

/** Bytes of a data block whose times are @a tsize bytes wide (4 or 8). */
static size_t
block_size(const struct counts *c, size_t tsize)
{
  return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd
         + c->isut;
}

/** @return true when the counts are sane and their block fits in the @a len bytes after the header */
static bool
counts_fit(const struct counts *c, size_t len, size_t tsize)
{
  return c->time <= 100000 && c->type <= 256 && c->chars <= 65536 && c->leap <= 10000
         && c->isut <= 256 && c->isstd <= 256 && len - 44 >= block_size(c, tsize);
}

/** Fills @a tz from the data block at @a p. @return NULL or the reason */
static const char *
read_block(const unsigned char *p, const struct counts *c, size_t tsize, struct kg_tz *tz)
{
  const unsigned char *idx = p + c->time * tsize;
  const unsigned char *types = idx + c->time;

  if (0 == c->type || c->type > 256 || c->time > 100000)
    return "time zone file: bad counts";
  tz->at = calloc(c->time + 1, sizeof *tz->at);
  tz->offset = calloc(c->time + 1, sizeof *tz->offset);
  if (NULL == tz->at || NULL == tz->offset)
    return "out of memory";
  tz->offset0 = (int32_t) be32(types);
  for (size_t i = 0; i < c->time; i++) {
    tz->at[i] = (8 == tsize) ? be64(p + 8 * i) : (int32_t) be32(p + 4 * i);
    if (idx[i] >= c->type || (i > 0 && tz->at[i] <= tz->at[i - 1]))
      return "time zone file: bad transitions";
    tz->offset[i] = (int32_t) be32(types + 6 * idx[i]);
  }
  for (size_t i = 0; i < c->type; i++) {
    int32_t off = (int32_t) be32(types + 6 * i);

    if (off < -25 * 3600 || off > 26 * 3600)
      return "time zone file: offset out of range";
  }
  tz->n = c->time;
  return NULL;
}

const char *
kg_tz_parse(const unsigned char *data, size_t len, struct kg_tz *tz)
{
  struct counts c;
  size_t tsize = 4;
  const char *err;

  memset(tz, 0, sizeof *tz);
  if (len < 44 || 0 != memcmp(data, "TZif", 4))
    return "time zone file: not TZif";
  read_counts(data, &c);
  if (!counts_fit(&c, len, 4))
    return "time zone file: truncated";
  /* Version 2 and later repeat the data with 64-bit times, then a footer. */
  if ('\0' != data[4]) {
    size_t off = 44 + block_size(&c, 4);

    if (len - off < 44 || 0 != memcmp(data + off, "TZif", 4))
      return "time zone file: truncated";
    data += off;
    len -= off;
    read_counts(data, &c);
    if (!counts_fit(&c, len, 8))
      return "time zone file: truncated";
    tsize = 8;
    /* A footer "\nSTD offset[DST[offset][,rule]]\n": a comma means DST rules. */
    for (size_t i = 44 + block_size(&c, 8); i < len && !tz->rules_after; i++)
      tz->rules_after = (',' == data[i]);
  }
  err = read_block(data + 44, &c, tsize, tz);
  if (NULL != err)
    kg_tz_free(tz);
  return err;
}

/** @return true when @a name is a plausible zone name that stays inside the zone folder */
static bool
valid_name(const char *name)
{
  size_t len = strlen(name);

  if (0 == len || len > 64 || '/' == name[0] || '/' == name[len - 1])
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || '_' == c
              || '-' == c || '+' == c || '/' == c || '.' == c;

    if (!ok || ('/' == c && '/' == name[i + 1]))
      return false;
  }
  return NULL == strstr(name, "..") && '.' != name[0] && NULL == strstr(name, "/.");
}

const char *
kg_tz_load(const char *name, struct kg_tz *tz)
{
  const char *dir = getenv("TZDIR");
  char path[512];
  unsigned char *buf;
  size_t len;
  FILE *f;
  const char *err;

  memset(tz, 0, sizeof *tz);
  if (NULL == name || !valid_name(name))
    return "not a time zone name (Area/City, as Europe/Berlin)";
  if (NULL == dir || '\0' == dir[0])
    dir = "/usr/share/zoneinfo";
  if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
    return "not a time zone name (Area/City, as Europe/Berlin)";
  f = fopen(path, "rb");
  if (NULL == f)
    return "no such time zone in the system's tz database";
  buf = malloc(TZIF_MAX_BYTES);
  if (NULL == buf) {
    fclose(f);
    return "out of memory";
  }
  len = fread(buf, 1, TZIF_MAX_BYTES, f);
  err = ferror(f) ? "no such time zone in the system's tz database" : kg_tz_parse(buf, len, tz);
  fclose(f);
  free(buf);
  return err;
}

void
kg_tz_free(struct kg_tz *tz)
{
  if (NULL == tz)
    return;
  free(tz->at);
  free(tz->offset);
  memset(tz, 0, sizeof *tz);
}

/** The offset in force at UTC instant @a t; *beyond when rules, not the table, would decide. */
static int32_t
offset_at(const struct kg_tz *tz, int64_t t, bool *beyond)
{
  size_t lo = 0, hi = tz->n;

  if (0 == tz->n || t < tz->at[0])
    return tz->offset0;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;

    if (tz->at[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  if (lo == tz->n - 1 && tz->rules_after)
    *beyond = true;
  return tz->offset[lo];
}

enum kg_tz_result
kg_tz_local_to_utc(const struct kg_tz *tz, int64_t local_s, int32_t *offset_s)
{
  /* Offsets change at most once within a day around any instant: the
     candidates are the offsets a day before and a day after. */
  bool beyond = false;
  /* clang-format off */
  int32_t cand[2] = { offset_at(tz, local_s - 86400, &beyond),
                      offset_at(tz, local_s + 86400, &beyond) };
  /* clang-format on */
  bool found = false;
  int64_t best = 0;

  if (beyond)
    return KG_TZ_BEYOND;
  for (size_t i = 0; i < 2; i++) {
    int64_t utc = local_s - cand[i];
    bool ignored = false;

    if (offset_at(tz, utc, &ignored) != cand[i] || (found && utc >= best))
      continue;
    found = true;
    best = utc;
    *offset_s = cand[i];
  }
  return found ? KG_TZ_OK : KG_TZ_GAP;
}
