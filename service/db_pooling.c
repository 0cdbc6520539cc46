/**
 * @file db_pooling.c
 * @brief Start-up check of the pooling mode between kmsgate and PostgreSQL.
 *
 * PostgreSQL cannot tell whether a pooler sits in front of it, so the check
 * watches which server process answers: with two client connections A and
 * B, A asks for its backend's pid, B opens a transaction (which pins a server
 * session in any pooling mode) and asks for its own, then A asks again. On a
 * session of its own (no pooler, PgBouncer pool_mode = session) B never gets
 * A's backend and A always gets the same one back. Under transaction pooling
 * A's backend is free between its statements: B is handed it (PgBouncer
 * reuses the most recently released server first), or A is handed another
 * one while B holds it. Three rounds, so that another client taking A's
 * backend in between cannot hide it.
 */
#include "db_pooling.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

#define KG_POOLING_ROUNDS 3
/* A pooler in session mode with every server busy makes the second client
   wait: the check gives up rather than hold the start-up. */
#define KG_POOLING_WAIT_MS 5000

/** Why a step failed: the pooler's own words decide. */
enum step {
  STEP_OK,
  STEP_FAILED,
  STEP_REFUSED_BY_POOLER,
};

static enum step
step_failed(PGconn *conn, const PGresult *res)
{
  const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  if (NULL != strstr(msg, "pooling mode"))
    return STEP_REFUSED_BY_POOLER; /* "transaction blocks not allowed in statement pooling mode" */
  kg_log(KG_LOG_WARN, json_pack("{s:s}", "event", "db_pooling_unchecked"),
         "pooling mode not checked: %s", msg);
  return STEP_FAILED;
}

/** Waits for the next result of @a conn, at most KG_POOLING_WAIT_MS. */
static bool
wait_result(PGconn *conn)
{
  struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
  while (PQisBusy(conn)) {
    if (1 != poll(&pfd, 1, KG_POOLING_WAIT_MS) || 1 != PQconsumeInput(conn))
      return false;
  }
  return true;
}

/**
 * Runs @a sql, whose last statement returns the backend's pid as "pid".
 * @return STEP_OK with *pid set, or why not
 */
static enum step
query_pid(PGconn *conn, const char *sql, long *pid)
{
  int sent = PQsendQuery(conn, sql);
  if (1 != sent || !wait_result(conn))
    return step_failed(conn, NULL);
  enum step st = STEP_FAILED;
  PGresult *res;
  while (NULL != (res = PQgetResult(conn))) {
    ExecStatusType rs = PQresultStatus(res);
    int col = PQfnumber(res, "pid");
    if (PGRES_TUPLES_OK == rs && col >= 0 && 1 == PQntuples(res)) {
      *pid = strtol(PQgetvalue(res, 0, col), NULL, 10);
      st = STEP_OK;
    } else if (PGRES_COMMAND_OK != rs) {
      st = step_failed(conn, res);
      PQclear(res);
      break;
    }
    PQclear(res);
    if (!wait_result(conn))
      return step_failed(conn, NULL);
  }
  return st;
}

/** One round; sets *shared when the pids prove a shared session. */
static enum step
one_round(PGconn *a, PGconn *b, bool *shared)
{
  static const char pid_sql[] = "SELECT pg_backend_pid() AS pid";
  long a1 = 0, b1 = 0, a2 = 0;
  enum step st = query_pid(a, pid_sql, &a1);
  if (STEP_OK == st)
    st = query_pid(b, "BEGIN; SELECT pg_backend_pid() AS pid", &b1);
  if (STEP_OK == st)
    st = query_pid(a, pid_sql, &a2);
  if (STEP_OK == st) {
    PGresult *res = PQexec(b, "COMMIT");
    if (NULL == res || PGRES_COMMAND_OK != PQresultStatus(res))
      st = step_failed(b, res);
    PQclear(res);
  }
  *shared = STEP_REFUSED_BY_POOLER == st || (STEP_OK == st && (b1 == a1 || a2 != a1));
  return st;
}

enum kg_pooling
kg_db_pooling_check(void)
{
  PGconn *a = kg_db_open();
  PGconn *b = NULL == a ? NULL : kg_db_open();
  bool shared = false;
  enum step st = (NULL == a || NULL == b) ? STEP_FAILED : STEP_OK;

  for (int round = 0; round < KG_POOLING_ROUNDS && STEP_OK == st && !shared; round++)
    st = one_round(a, b, &shared);
  PQfinish(a);
  PQfinish(b);
  if (shared) {
    /* clang-format off */
    kg_log(KG_LOG_ERROR, json_pack("{s:s}", "event", "db_pooling_shared"),
           "the database connection goes through a pooler in transaction or statement pooling "
           "mode (PgBouncer pool_mode = transaction or statement): kmsgate keeps session state "
           "(its settings, prepared statements) and needs pool_mode = session; see "
           "docs/operations.md");
    /* clang-format on */
    return KG_POOLING_SHARED;
  }
  return STEP_OK == st ? KG_POOLING_SESSION : KG_POOLING_UNREACHABLE;
}
