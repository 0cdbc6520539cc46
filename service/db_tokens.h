/**
 * @file db_tokens.h
 * @brief SQL for listing and revoking API tokens (creation is in auth.c,
 *        shared with the CLI). Never returns a token or its hash.
 */
#ifndef KG_DB_TOKENS_H
#define KG_DB_TOKENS_H

#include <stdbool.h>

#include "db.h"

/** One token as the API shows it. */
struct kg_token_record {
  const char *id; /**< uuid */
  const char *name;
  const char *role;
  const char *created_at; /**< epoch seconds text */
  const char *revoked_at; /**< epoch seconds text or NULL */
  const char *sort_key;   /**< "<created_at µs>,<id>": the list cursor key */
};

/**
 * Receives one token row.
 * @param cls closure
 * @param t the row (borrowed)
 * @return true to go on, false when out of memory (the query then fails)
 */
typedef bool (*kg_token_cb)(void *cls, const struct kg_token_record *t);

/**
 * Reads one token.
 * @param db connection
 * @param id canonical uuid text
 * @param cb receives the row when found
 * @param cls closure for cb
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_token_get(struct kg_db *db, const char *id, kg_token_cb cb, void *cls,
                           bool *found);

/**
 * Lists tokens, oldest first (ties by id).
 * @param db connection
 * @param after_us with @a after_id: only tokens sorting after this key, or NULL
 * @param after_id canonical uuid text, or NULL
 * @param limit most rows to return
 * @param cb receives each row in order
 * @param cls closure for cb
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_token_list(struct kg_db *db, const char *after_us, const char *after_id,
                            long long limit, kg_token_cb cb, void *cls);

/**
 * Revokes a token; a revoked one keeps its first revocation time.
 * @param db connection (in a transaction)
 * @param id canonical uuid text
 * @param[out] found whether it exists
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_token_revoke(struct kg_db *db, const char *id, bool *found);

/** The live token a hash matches. */
struct kg_token_match {
  char id[40];
  char name[129];
  char role[16]; /**< "reader" | "hook" | "admin" */
};

/**
 * The live token with this hash.
 * @param db connection
 * @param hash "\\x" and the token's SHA-256 in hex (bytea input)
 * @param[out] out filled when found
 * @param[out] found whether a live token has that hash
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_db_token_lookup(struct kg_db *db, const char *hash, struct kg_token_match *out,
                              bool *found);

/**
 * Stores a new token's hash.
 * @param db connection
 * @param name its name
 * @param role "reader" | "hook" | "admin"
 * @param hash as for kg_db_token_lookup()
 * @param[out] id the new token's id
 * @return KG_QS_OK or the failure (23505: a live token has that name)
 */
enum kg_qs kg_db_token_insert(struct kg_db *db, const char *name, const char *role,
                              const char *hash, char id[40]);

#endif
