/**
 * @file migrate.c
 * @brief Migration runner.
 */
#include "migrate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idutil.h"
#include "fileutil.h"
#include "log.h"

/* Any constant works; all kmsgate processes must agree on it. */
#define KG_MIGRATE_LOCK "7021794190251950429"

/* clang-format off */
static const struct kg_stmt stmt_applied = {
  "migrate_applied", "SELECT version, checksum FROM schema_migrations ORDER BY version"
};
static const struct kg_stmt stmt_record = {
  "migrate_record", "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)"
};
static const struct kg_stmt stmt_summary = {
  "migrate_summary", "SELECT count(*), max(version) FROM schema_migrations"
};
/* clang-format on */

static int
compare_versions(const void *a, const void *b)
{
  return strcmp(((const struct kg_migration *) a)->version,
                ((const struct kg_migration *) b)->version);
}

static int
load_one(const char *dir, const char *file, struct kg_migration *m)
{
  char path[4096];
  size_t len = 0;
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  snprintf(m->version, sizeof(m->version), "%.*s", (int) (strlen(file) - 4), file);
  m->sql = kg_file_read(path, &len);
  if (NULL == m->sql || 0 != kg_sha256_hex(m->sql, len, m->checksum)) {
    kg_log(KG_LOG_ERROR, NULL, "cannot read migration %s", path);
    return -1;
  }
  return 0;
}

int
kg_migrations_load(const char *dir, struct kg_migration_set *set)
{
  DIR *d = opendir(dir);
  struct dirent *e;

  memset(set, 0, sizeof(*set));
  if (NULL == d) {
    kg_log(KG_LOG_ERROR, NULL, "cannot open migrations folder %s", dir);
    return -1;
  }
  int rc = 0;
  while (0 == rc && NULL != (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 5 || n >= 128 || 0 != strcmp(e->d_name + n - 4, ".sql"))
      continue;
    struct kg_migration *grown = realloc(set->items, (set->n + 1) * sizeof(*grown));
    if (NULL == grown) {
      rc = -1;
      break;
    }
    set->items = grown;
    memset(&set->items[set->n], 0, sizeof(set->items[0]));
    rc = load_one(dir, e->d_name, &set->items[set->n]);
    set->n++;
  }
  closedir(d);
  if (0 == rc)
    qsort(set->items, set->n, sizeof(set->items[0]), compare_versions);
  return rc;
}

void
kg_migrations_free(struct kg_migration_set *set)
{
  for (size_t i = 0; i < set->n; i++)
    free(set->items[i].sql);
  free(set->items);
  memset(set, 0, sizeof(*set));
}

static const struct kg_migration *
find_file(const struct kg_migration_set *set, const char *version)
{
  for (size_t i = 0; i < set->n; i++)
    if (0 == strcmp(set->items[i].version, version))
      return &set->items[i];
  return NULL;
}

/** Checks applied rows against the files; marks which files are applied. */
static int
verify_applied(const PGresult *res, const struct kg_migration_set *set, bool *is_applied)
{
  for (int row = 0; row < PQntuples(res); row++) {
    const char *version = PQgetvalue(res, row, 0);
    const struct kg_migration *m = find_file(set, version);
    if (NULL == m) {
      kg_log(KG_LOG_ERROR, NULL, "migration %s is applied but has no file: refusing", version);
      return -1;
    }
    if (0 != strcmp(m->checksum, PQgetvalue(res, row, 1))) {
      kg_log(KG_LOG_ERROR, NULL, "migration %s changed after it was applied: refusing", version);
      return -1;
    }
    is_applied[m - set->items] = true;
  }
  return 0;
}

static int
apply_pending(struct kg_db *db, const struct kg_migration_set *set, const bool *is_applied,
              size_t *applied)
{
  for (size_t i = 0; i < set->n; i++) {
    if (is_applied[i])
      continue;
    const struct kg_migration *m = &set->items[i];
    const char *params[] = { m->version, m->checksum };
    if (KG_QS_OK != kg_db_simple(db, m->sql)
        || KG_QS_OK != kg_db_run(db, &stmt_record, KG_NPARAMS(params), params)) {
      kg_log(KG_LOG_ERROR, NULL, "migration %s failed", m->version);
      return -1;
    }
    kg_log(KG_LOG_INFO, json_pack("{s:s,s:s}", "event", "migration_applied", "version", m->version),
           "applied migration %s", m->version);
    (*applied)++;
  }
  return 0;
}

static int
migrate_locked(struct kg_db *db, const struct kg_migration_set *set, size_t *applied)
{
  /* clang-format off */
  if (KG_QS_OK != kg_db_simple(db, "SELECT pg_advisory_xact_lock(" KG_MIGRATE_LOCK ")")
      || KG_QS_OK != kg_db_simple(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                      " version text PRIMARY KEY,"
                                      " checksum text NOT NULL,"
                                      " applied_at timestamptz NOT NULL DEFAULT now())"))
    /* clang-format on */
    return -1;
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_applied, 0, NULL, &qs);
  if (NULL == res)
    return -1;
  bool *is_applied = calloc(set->n + 1, sizeof(bool));
  int rc = (NULL == is_applied) ? -1 : verify_applied(res, set, is_applied);
  PQclear(res);
  if (0 == rc)
    rc = apply_pending(db, set, is_applied, applied);
  free(is_applied);
  return rc;
}

int
kg_migrations_apply(struct kg_db *db, const struct kg_migration_set *set, size_t *applied)
{
  *applied = 0;
  if (!kg_db_connected(db) || KG_QS_OK != kg_db_simple(db, "BEGIN"))
    return -1;
  /* Quiet the NOTICEs of CREATE ... IF NOT EXISTS for operators reading the output. */
  (void) kg_db_simple(db, "SET LOCAL client_min_messages = warning");
  int rc = migrate_locked(db, set, applied);
  if (0 != rc || KG_QS_OK != kg_db_simple(db, "COMMIT")) {
    (void) kg_db_simple(db, "ROLLBACK");
    *applied = 0;
    return -1;
  }
  return 0;
}

enum kg_qs
kg_migrations_current(struct kg_db *db, const struct kg_migration_set *set, bool *current)
{
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, &stmt_summary, 0, NULL, &qs);

  *current = false;
  if (NULL == res)
    return ('4' == kg_db_last_sqlstate(db)[0]) ? KG_QS_OK : qs; /* no table yet: not current */
  const char *last = kg_db_text(res, 0, 1);
  *current =
    (size_t) kg_db_int(res, 0, 0) == set->n
    && (0 == set->n || (NULL != last && 0 == strcmp(last, set->items[set->n - 1].version)));
  PQclear(res);
  return KG_QS_OK;
}
