/**
 * @file auth.h
 * @brief API tokens: generation, hashing and lookup. Tokens are random
 *        (256 bits), shown once, and stored only as their SHA-256.
 */
#ifndef KG_AUTH_H
#define KG_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "idutil.h"
#include "http.h"

/** "kg_" + 43 base64url characters + NUL. */
#define KG_TOKEN_BUFSZ 48
/** Hex SHA-256 as a PostgreSQL bytea literal: "\x" + 64 hex + NUL. */
#define KG_TOKEN_HASH_BUFSZ 67

/**
 * Makes a new random token.
 * @param out receives the token text
 * @return 0 on success, -1 when the kernel gave no randomness
 */
int kg_auth_token_generate(char out[KG_TOKEN_BUFSZ]);

/**
 * Hashes a token for storage and lookup.
 * @param token the token text
 * @param len its length
 * @param out receives "\x<64 hex>" for a bytea parameter
 * @return 0 on success, -1 on failure
 */
int kg_auth_token_hash(const char *token, size_t len, char out[KG_TOKEN_HASH_BUFSZ]);

/**
 * Parses a role name.
 * @param name "reader", "hook" or "admin"
 * @return the role, or KG_ROLE_NONE when unknown
 */
enum kg_role kg_auth_role_parse(const char *name);

/**
 * The name of a role.
 * @param role the role
 * @return "reader", "hook", "admin" or "none"
 */
const char *kg_auth_role_name(enum kg_role role);

/**
 * Finds the unrevoked token behind an Authorization header value.
 * @param db connection
 * @param authorization the header value ("Bearer ...") or NULL
 * @param[out] who filled when found
 * @param[out] found whether a valid token was found
 * @return KG_QS_OK, or the database failure
 */
enum kg_qs kg_auth_authenticate(struct kg_db *db, const char *authorization,
                                struct kg_principal *who, bool *found);

/**
 * Stores a new token; shared by the CLI and POST /v1/tokens.
 * @param db connection
 * @param name the token's name
 * @param role its role
 * @param[out] token receives the token text (shown once)
 * @param[out] id receives the token's uuid
 * @return KG_QS_OK, or the failure (SQLSTATE 23505: name in use)
 */
enum kg_qs kg_auth_token_create(struct kg_db *db, const char *name, enum kg_role role,
                                char token[KG_TOKEN_BUFSZ], char id[40]);

#endif
