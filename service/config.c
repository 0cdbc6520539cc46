/**
 * @file config.c
 * @brief Environment and flag parsing for every kmsgate command.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
const char kg_config_usage[] =
  "Usage: kmsgate [OPTIONS] COMMAND\n"
  "\n"
  "Commands:\n"
  "  serve                          serve the HTTP API until SIGINT/SIGTERM\n"
  "  migrate                        apply migrations/*.sql in order, once each\n"
  "  token create --role ROLE --name NAME\n"
  "                                 create an API token (admin|hook|reader) and print it\n"
  "  prune                          delete raw activation requests older than the retention\n"
  "                                 now (serve also does it in the background)\n"
  "  --help                         show this text\n"
  "\n"
  "Options (each overrides the environment variable named in brackets):\n"
  "  --database-url URL   libpq connection string or URI [KMSGATE_DATABASE_URL]\n"
  "  --listen HOST:PORT   address to serve on, default 127.0.0.1:8080 [KMSGATE_LISTEN]\n"
  "  --threads N          worker threads, one DB connection each, default 2 x CPUs [KMSGATE_THREADS]\n"
  "  --log-level LEVEL    debug|info|warn|error, default info [KMSGATE_LOG_LEVEL]\n"
  "  --tls-cert FILE      PEM certificate; with --tls-key serves HTTPS [KMSGATE_TLS_CERT]\n"
  "  --tls-key FILE       PEM private key [KMSGATE_TLS_KEY]\n"
  "  --data-dir DIR       folder holding migrations/ and openapi/ [KMSGATE_DATA_DIR]\n"
  "  --retention-days N   keep raw activation requests N days (35..3650), default 400;\n"
  "                       the per-CMID summaries the forecast reads are kept [KMSGATE_RETENTION_DAYS]\n"
  "  --prune-interval S   seconds between background prunes (1..86400), default 3600\n"
  "                       [KMSGATE_PRUNE_INTERVAL]\n"
  "  --estate-refresh on|off  refresh a cached host estate by the rows written since it was\n"
  "                       read (on, the default) or read it in full after every write\n"
  "                       [KMSGATE_ESTATE_REFRESH]\n"
  "\n"
  "Logs are JSON lines on stderr. Exit status: 0 success, 1 runtime failure, 2 usage error,\n"
  "3 (token create) a live token already has that name.\n";
/* clang-format on */

int
kg_config_parse_listen(const char *text, struct kg_config *cfg)
{
  const char *colon;
  const char *host = text;
  size_t host_len;

  if ('[' == text[0]) {
    const char *close = strchr(text, ']');
    if (NULL == close || ':' != close[1])
      return -1;
    host = text + 1;
    host_len = (size_t) (close - host);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (NULL == colon)
      return -1;
    host_len = (size_t) (colon - text);
  }
  if (0 == host_len || host_len >= sizeof(cfg->listen_host))
    return -1;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if ('\0' == colon[1] || '\0' != *end || port < 1 || port > 65535)
    return -1;
  memcpy(cfg->listen_host, host, host_len);
  cfg->listen_host[host_len] = '\0';
  cfg->listen_port = (uint16_t) port;
  return 0;
}

/** Parses a whole number in [min, max]. */
static int
parse_uint(const char *text, long min, long max, unsigned int *out)
{
  char *end;
  long n = strtol(text, &end, 10);
  if ('\0' == text[0] || '\0' != *end || n < min || n > max)
    return -1;
  *out = (unsigned int) n;
  return 0;
}

/** Applies one named setting; the same code serves environment and flags. */
static int
apply_setting(struct kg_config *cfg, const char *name, const char *value)
{
  if (0 == strcmp(name, "database-url"))
    cfg->database_url = value;
  else if (0 == strcmp(name, "listen")) {
    if (0 != kg_config_parse_listen(value, cfg)) {
      fprintf(stderr, "kmsgate: listen address '%s' is not HOST:PORT\n", value);
      return -1;
    }
  } else if (0 == strcmp(name, "threads")) {
    if (0 != parse_uint(value, 1, 1024, &cfg->threads)) {
      fprintf(stderr, "kmsgate: threads must be 1..1024, not '%s'\n", value);
      return -1;
    }
  } else if (0 == strcmp(name, "log-level")) {
    if (0 != kg_log_parse_level(value, &cfg->log_level)) {
      fprintf(stderr, "kmsgate: log level must be debug|info|warn|error, not '%s'\n", value);
      return -1;
    }
  } else if (0 == strcmp(name, "retention-days")) {
    /* The observation's modelled count reads 30 days of raw requests. */
    if (0 != parse_uint(value, 35, 3650, &cfg->retention_days)) {
      fprintf(stderr, "kmsgate: retention days must be 35..3650, not '%s'\n", value);
      return -1;
    }
  } else if (0 == strcmp(name, "prune-interval")) {
    if (0 != parse_uint(value, 1, 86400, &cfg->prune_seconds)) {
      fprintf(stderr, "kmsgate: prune interval must be 1..86400 seconds, not '%s'\n", value);
      return -1;
    }
  } else if (0 == strcmp(name, "estate-refresh")) {
    if (0 != strcmp(value, "on") && 0 != strcmp(value, "off")) {
      fprintf(stderr, "kmsgate: estate refresh must be on or off, not '%s'\n", value);
      return -1;
    }
    cfg->estate_refresh = (0 == strcmp(value, "on"));
  } else if (0 == strcmp(name, "tls-cert"))
    cfg->tls_cert = value;
  else if (0 == strcmp(name, "tls-key"))
    cfg->tls_key = value;
  else if (0 == strcmp(name, "data-dir"))
    cfg->data_dir = value;
  else
    return 1; /* not a configuration setting */
  return 0;
}

static const struct {
  const char *env;
  const char *name;
} env_settings[] = {
  { "KMSGATE_DATABASE_URL", "database-url" },
  { "KMSGATE_LISTEN", "listen" },
  { "KMSGATE_THREADS", "threads" },
  { "KMSGATE_LOG_LEVEL", "log-level" },
  { "KMSGATE_TLS_CERT", "tls-cert" },
  { "KMSGATE_TLS_KEY", "tls-key" },
  { "KMSGATE_DATA_DIR", "data-dir" },
  { "KMSGATE_RETENTION_DAYS", "retention-days" },
  { "KMSGATE_PRUNE_INTERVAL", "prune-interval" },
  { "KMSGATE_ESTATE_REFRESH", "estate-refresh" },
};

static bool
is_setting(const char *name)
{
  for (size_t k = 0; k < sizeof(env_settings) / sizeof(env_settings[0]); k++)
    if (0 == strcmp(name, env_settings[k].name))
      return true;
  return false;
}

static void
set_defaults(struct kg_config *cfg)
{
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);

  memset(cfg, 0, sizeof(*cfg));
  strcpy(cfg->listen_host, "127.0.0.1");
  cfg->listen_port = 8080;
  cfg->threads = (unsigned int) (cpus > 0 ? 2 * cpus : 4);
  cfg->log_level = KG_LOG_INFO;
  cfg->data_dir = KMSGATE_DATA_DIR;
  cfg->retention_days = 400;
  cfg->prune_seconds = 3600;
  cfg->estate_refresh = true;
}

/** Consumes "--name value" or "--name=value" at argv[*i]; 1 when it is not ours. */
static int
take_flag(struct kg_config *cfg, int argc, char **argv, int *i)
{
  const char *arg = argv[*i];
  char name[64];
  const char *value;
  const char *eq = strchr(arg, '=');

  if (0 != strncmp(arg, "--", 2))
    return 1;
  if (NULL != eq) {
    size_t n = (size_t) (eq - arg - 2);
    if (n >= sizeof(name))
      return 1;
    memcpy(name, arg + 2, n);
    name[n] = '\0';
    value = eq + 1;
  } else {
    if (strlen(arg + 2) >= sizeof(name))
      return 1;
    strcpy(name, arg + 2);
    value = (*i + 1 < argc) ? argv[*i + 1] : NULL;
  }
  if (!is_setting(name))
    return 1;
  if (NULL == value) {
    fprintf(stderr, "kmsgate: --%s needs a value\n", name);
    return -1;
  }
  if (0 != apply_setting(cfg, name, value))
    return -1;
  if (NULL == eq)
    (*i)++;
  return 0;
}

int
kg_config_load(int *argc, char **argv, struct kg_config *cfg)
{
  set_defaults(cfg);
  for (size_t k = 0; k < sizeof(env_settings) / sizeof(env_settings[0]); k++) {
    const char *value = getenv(env_settings[k].env);
    if (NULL != value && '\0' != value[0] && 0 != apply_setting(cfg, env_settings[k].name, value))
      return -1;
  }
  int out = 1;
  for (int i = 1; i < *argc; i++) {
    int rc = take_flag(cfg, *argc, argv, &i);
    if (rc < 0)
      return -1;
    if (1 == rc)
      argv[out++] = argv[i];
  }
  argv[out] = NULL;
  *argc = out;
  if ((NULL == cfg->tls_cert) != (NULL == cfg->tls_key)) {
    fprintf(stderr, "kmsgate: TLS needs both a certificate and a key\n");
    return -1;
  }
  return 0;
}
