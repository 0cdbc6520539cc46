/**
 * @file auth.c
 * @brief Token handling. Lookup goes by the SHA-256 of the presented token,
 *        so the database never holds a usable secret and the comparison is an
 *        index probe on a hash that leaks nothing about stored tokens.
 */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "db_tokens.h"
#include "idutil.h"

/* clang-format off */
static const char *const role_names[] = {
  [KG_ROLE_NONE] = "none", [KG_ROLE_READER] = "reader",
  [KG_ROLE_HOOK] = "hook", [KG_ROLE_ADMIN] = "admin",
};
/* clang-format on */

enum kg_role
kg_auth_role_parse(const char *name)
{
  for (int r = KG_ROLE_READER; r <= KG_ROLE_ADMIN; r++)
    if (NULL != name && 0 == strcmp(name, role_names[r]))
      return (enum kg_role) r;
  return KG_ROLE_NONE;
}

const char *
kg_auth_role_name(enum kg_role role)
{
  return role_names[role];
}

int
kg_auth_token_generate(char out[KG_TOKEN_BUFSZ])
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char raw[32];

  if (sizeof(raw) != getrandom(raw, sizeof(raw), 0))
    return -1;
  /* base64url without padding: 256 bits in 43 characters (the last carries 4 bits). */
  strcpy(out, "kg_");
  size_t o = 3;
  unsigned int acc = 0;
  int bits = 0;
  for (size_t i = 0; i < sizeof(raw); i++) {
    acc = (acc << 8) | raw[i];
    bits += 8;
    while (bits >= 6) {
      out[o++] = alphabet[(acc >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0)
    out[o++] = alphabet[(acc << (6 - bits)) & 63];
  out[o] = '\0';
  return 0;
}

int
kg_auth_token_hash(const char *token, size_t len, char out[KG_TOKEN_HASH_BUFSZ])
{
  out[0] = '\\';
  out[1] = 'x';
  return kg_sha256_hex(token, len, out + 2);
}

enum kg_qs
kg_auth_authenticate(struct kg_db *db, const char *authorization, struct kg_principal *who,
                     bool *found)
{
  *found = false;
  if (NULL == authorization || 0 != strncasecmp(authorization, "Bearer ", 7))
    return KG_QS_OK;
  const char *token = authorization + 7;
  while (' ' == *token)
    token++;
  size_t len = strlen(token);
  if (0 == len || len > 256)
    return KG_QS_OK;
  char hash[KG_TOKEN_HASH_BUFSZ];
  if (0 != kg_auth_token_hash(token, len, hash))
    return KG_QS_HARD_ERROR;
  if (!kg_db_connected(db))
    return KG_QS_HARD_ERROR;
  struct kg_token_match m;
  enum kg_qs qs = kg_db_token_lookup(db, hash, &m, found);
  if (KG_QS_OK != qs || !*found)
    return qs;
  snprintf(who->token_id, sizeof(who->token_id), "%s", m.id);
  snprintf(who->name, sizeof(who->name), "%s", m.name);
  who->role = kg_auth_role_parse(m.role);
  *found = (KG_ROLE_NONE != who->role);
  return KG_QS_OK;
}

enum kg_qs
kg_auth_token_create(struct kg_db *db, const char *name, enum kg_role role,
                     char token[KG_TOKEN_BUFSZ], char id[40])
{
  char hash[KG_TOKEN_HASH_BUFSZ];

  if (0 != kg_auth_token_generate(token) || 0 != kg_auth_token_hash(token, strlen(token), hash))
    return KG_QS_HARD_ERROR;
  return kg_db_token_insert(db, name, role_names[role], hash, id);
}
