/**
 * @file main.c
 * @brief kmsgate command line: serve, migrate, token create, prune.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "estate_cache.h"
#include "db.h"
#include "db_pooling.h"
#include "http.h"
#include "http_health.h"
#include "log.h"
#include "prune.h"
#include "migrate.h"

static int
load_migrations(const struct kg_config *cfg, struct kg_migration_set *set)
{
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/migrations", cfg->data_dir);
  return kg_migrations_load(dir, set);
}

static int
cmd_migrate(const struct kg_config *cfg)
{
  struct kg_migration_set set;
  size_t applied = 0;

  if (0 != load_migrations(cfg, &set))
    return 1;
  if (KG_POOLING_SHARED == kg_db_pooling_check()) {
    kg_migrations_free(&set);
    return 1;
  }
  int rc = kg_migrations_apply(kg_db_thread(), &set, &applied);
  /* clang-format off */
  if (0 == rc)
    kg_log(KG_LOG_INFO, json_pack("{s:s,s:i,s:i}", "event", "migrate_done",
                                  "applied", (int) applied, "total", (int) set.n),
           /* clang-format on */
           "migrations: %zu applied now, %zu in total", applied, set.n);
  kg_migrations_free(&set);
  kg_db_close_all();
  return 0 == rc ? 0 : 1;
}

static int
cmd_token_create(const struct kg_config *cfg, int argc, char **argv)
{
  const char *role_name = NULL;
  const char *name = NULL;
  (void) cfg;

  for (int i = 3; i + 1 < argc; i += 2) {
    if (0 == strcmp(argv[i], "--role"))
      role_name = argv[i + 1];
    else if (0 == strcmp(argv[i], "--name"))
      name = argv[i + 1];
  }
  enum kg_role role = kg_auth_role_parse(role_name);
  if (KG_ROLE_NONE == role || NULL == name || '\0' == name[0] || strlen(name) > 128) {
    fprintf(stderr, "usage: kmsgate token create --role admin|hook|reader --name NAME\n");
    return 2;
  }
  struct kg_db *db = kg_db_thread();
  char token[KG_TOKEN_BUFSZ];
  char id[40];
  if (!kg_db_connected(db) || KG_QS_OK != kg_auth_token_create(db, name, role, token, id)) {
    bool name_in_use = 0 == strcmp(kg_db_last_sqlstate(db), "23505");
    fprintf(stderr, "kmsgate: could not create the token%s\n",
            name_in_use ? ": a live token has that name" : "");
    kg_db_close_all();
    return name_in_use ? 3 : 1;
  }
  printf("%s\n", token);
  kg_db_close_all();
  return 0;
}

static int
cmd_prune(const struct kg_config *cfg)
{
  long long deleted = 0;
  int rc = kg_prune_run(cfg, &deleted);

  if (0 == rc)
    printf("%lld\n", deleted);
  kg_db_close_all();
  return 0 == rc ? 0 : 1;
}

static int
cmd_serve(const struct kg_config *cfg)
{
  struct kg_migration_set set;
  sigset_t stop_signals;
  int sig = 0;

  if (0 != load_migrations(cfg, &set) || 0 != kg_health_init(cfg, &set))
    return 1;
  /* Refused before serving anything: under transaction pooling the session
     settings and prepared statements would land on other clients' sessions.
     A database down at start-up is not checked (the service waits for it). */
  if (KG_POOLING_SHARED == kg_db_pooling_check()) {
    kg_health_shutdown();
    kg_migrations_free(&set);
    return 1;
  }
  /* Blocked before the workers start so that they inherit the mask and
     only sigwait() below ever sees SIGINT/SIGTERM. */
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);
  kg_estate_cache_configure(cfg->estate_refresh);
  if (0 != kg_http_start(cfg) || 0 != kg_prune_start(cfg)) {
    kg_http_stop();
    kg_migrations_free(&set);
    return 1;
  }
  sigwait(&stop_signals, &sig);
  kg_log(KG_LOG_INFO, json_pack("{s:s,s:i}", "event", "stopping", "signal", sig),
         "stopping: finishing requests in flight");
  kg_prune_stop();
  kg_http_stop();
  kg_db_close_all();
  kg_health_shutdown();
  kg_migrations_free(&set);
  kg_log(KG_LOG_INFO, json_pack("{s:s}", "event", "stopped"), "stopped");
  return 0;
}

int
main(int argc, char **argv)
{
  struct kg_config cfg;

  for (int i = 1; i < argc; i++)
    if (0 == strcmp(argv[i], "--help") || 0 == strcmp(argv[i], "-h")) {
      fputs(kg_config_usage, stdout);
      return 0;
    }
  if (0 != kg_config_load(&argc, argv, &cfg))
    return 2;
  kg_log_set_level(cfg.log_level);
  kg_db_configure(cfg.database_url);
  if (argc >= 2 && 0 == strcmp(argv[1], "serve"))
    return cmd_serve(&cfg);
  if (argc >= 2 && 0 == strcmp(argv[1], "migrate"))
    return cmd_migrate(&cfg);
  if (argc >= 2 && 0 == strcmp(argv[1], "prune"))
    return cmd_prune(&cfg);
  if (argc >= 3 && 0 == strcmp(argv[1], "token") && 0 == strcmp(argv[2], "create"))
    return cmd_token_create(&cfg, argc, argv);
  fputs(kg_config_usage, stderr);
  return 2;
}
