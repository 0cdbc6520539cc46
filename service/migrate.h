/**
 * @file migrate.h
 * @brief Schema migrations: numbered migrations/NNNN_name.sql files applied in
 *        order, once each, recorded with their SHA-256.
 */
#ifndef KG_MIGRATE_H
#define KG_MIGRATE_H

#include <stddef.h>

#include "db.h"

/** One migration file. */
struct kg_migration {
  char version[128]; /**< file name without ".sql", e.g. "0001_schema" */
  char checksum[65]; /**< hex SHA-256 of the file */
  char *sql;         /**< the file's text */
};

/** The migrations found on disk, sorted by version. */
struct kg_migration_set {
  size_t n;
  struct kg_migration *items;
};

/**
 * Reads every *.sql file of @a dir.
 * @param dir the migrations folder
 * @param set receives the files
 * @return 0 on success, -1 after logging why
 */
int kg_migrations_load(const char *dir, struct kg_migration_set *set);

/**
 * Frees what kg_migrations_load() read.
 * @param set the set
 */
void kg_migrations_free(struct kg_migration_set *set);

/**
 * Applies the pending migrations in one transaction under an advisory lock.
 * Refuses when an applied migration's checksum differs from its file, or an
 * applied migration has no file.
 * @param db connection
 * @param set files
 * @param[out] applied how many were applied now
 * @return 0 on success, -1 after logging why
 */
int kg_migrations_apply(struct kg_db *db, const struct kg_migration_set *set, size_t *applied);

/**
 * Whether the database carries exactly the migrations of @a set (for /readyz).
 * @param db connection
 * @param set files
 * @param[out] current true when up to date
 * @return KG_QS_OK or the database failure
 */
enum kg_qs kg_migrations_current(struct kg_db *db, const struct kg_migration_set *set,
                                 bool *current);

#endif
