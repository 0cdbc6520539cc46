/**
 * @file config.h
 * @brief The one place that reads configuration: environment first, flags override.
 */
#ifndef KG_CONFIG_H
#define KG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

/** Everything the process can be told; immutable once loaded. */
struct kg_config {
  const char *database_url;    /**< libpq connection string or URI (KMSGATE_DATABASE_URL) */
  char listen_host[256];       /**< numeric address to bind (KMSGATE_LISTEN host part) */
  uint16_t listen_port;        /**< port to bind (KMSGATE_LISTEN port part) */
  unsigned int threads;        /**< worker threads, each with its own DB connection */
  enum kg_log_level log_level; /**< KMSGATE_LOG_LEVEL */
  const char *tls_cert;        /**< PEM certificate file, enables HTTPS with tls_key */
  const char *tls_key;         /**< PEM private key file */
  const char *data_dir;        /**< folder with migrations/ and openapi/ (KMSGATE_DATA_DIR) */
  unsigned int retention_days; /**< raw requests kept this long (KMSGATE_RETENTION_DAYS) */
  unsigned int prune_seconds;  /**< pause between prunes in serve (KMSGATE_PRUNE_INTERVAL) */
  bool estate_refresh; /**< refresh cached estates by changed rows (KMSGATE_ESTATE_REFRESH) */
};

/**
 * Loads the configuration from the environment, then from flags.
 * Recognised flags: --database-url, --listen, --threads, --log-level,
 * --tls-cert, --tls-key, --data-dir, --retention-days, --prune-interval,
 * --estate-refresh
 * (each "--flag VALUE" or "--flag=VALUE").
 * Arguments that are not configuration flags are left for the command.
 * @param argc argument count (updated: consumed flags are removed)
 * @param argv argument vector (updated in place)
 * @param cfg the configuration to fill
 * @return 0 on success, -1 after printing why to stderr
 */
int kg_config_load(int *argc, char **argv, struct kg_config *cfg);

/**
 * Parses "host:port" or "[v6]:port".
 * @param text the listen address
 * @param cfg receives listen_host and listen_port
 * @return 0 on success, -1 when malformed
 */
int kg_config_parse_listen(const char *text, struct kg_config *cfg);

/** The usage text printed by --help. */
extern const char kg_config_usage[];

#endif
