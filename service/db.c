/**
 * @file db.c
 * @brief Connection handling and the transaction runner.
 */
#include "db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/** How often a transaction is retried on serialization failures. */
#define KG_TX_ATTEMPTS 5
#define KG_MAX_STMTS 256

struct kg_db {
  PGconn *conn;
  const struct kg_stmt *prepared[KG_MAX_STMTS]; /* prepared on this connection */
  size_t n_prepared;
  char sqlstate[6];
  struct kg_db *next_in_registry;
};

static const char *db_url;
static _Thread_local struct kg_db *thread_db;
/* Registry of all connections, only so shutdown can close them. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kg_db *registry;

void
kg_db_configure(const char *database_url)
{
  db_url = database_url;
}

/** Routes server notices into the JSON log instead of libpq's bare stderr lines. */
static void
log_notice(void *cls, const char *message)
{
  (void) cls;
  kg_log(KG_LOG_WARN, json_pack("{s:s}", "event", "db_notice"), "%s", message);
}

/* The session settings every statement relies on, applied after connecting
   rather than as the startup parameter "options", which a stock PgBouncer
   refuses (and ignore_startup_parameters would drop silently). A short
   statement timeout keeps a stuck query from pinning a worker, a lock timeout
   below it makes waiting for a lock fail first, UTC keeps interval arithmetic
   on timestamptz ('30 days') free of daylight-saving shifts whatever the
   database's default time zone, and no parallel workers: every statement here
   is short OLTP, and starting workers cost more than the scan they share (the
   estate's CMID query planned a Gather with 2 workers: 65 ms for 1,400 rows).
   DEALLOCATE ALL first: a pooler may hand over a server session that still
   holds the statements a previous kmsgate process prepared under the same
   names. The last statement reads the settings back: one round trip. */
/* clang-format off */
static const char setup_sql[]
  = "DEALLOCATE ALL;"
    " SELECT set_config('statement_timeout', '15s', false),"
    " set_config('lock_timeout', '10s', false), set_config('TimeZone', 'UTC', false),"
    " set_config('max_parallel_workers_per_gather', '0', false);"
    " SELECT current_setting('statement_timeout') AS statement_timeout,"
    " current_setting('lock_timeout') AS lock_timeout, current_setting('TimeZone') AS timezone,"
    " current_setting('max_parallel_workers_per_gather') AS parallel";
/* clang-format on */

/** Column @a col of the one row of a read-back, or "?". */
static const char *
read_back(const PGresult *res, const char *col)
{
  int c = PQfnumber(res, col);
  return (c >= 0 && 1 == PQntuples(res)) ? PQgetvalue(res, 0, c) : "?";
}

/** Applies the session settings and checks that they hold. */
static bool
setup_session(PGconn *conn)
{
  const char *sql = setup_sql; /* constant text (tests/api/test_security.py) */
  PGresult *res = PQexec(conn, sql);
  bool applied = NULL != res && PGRES_TUPLES_OK == PQresultStatus(res);
  const char *st = applied ? read_back(res, "statement_timeout") : "";
  const char *lt = applied ? read_back(res, "lock_timeout") : "";
  const char *tz = applied ? read_back(res, "timezone") : "";
  const char *par = applied ? read_back(res, "parallel") : "";
  bool ok = applied && 0 == strcmp(st, "15s") && 0 == strcmp(lt, "10s") && 0 == strcmp(tz, "UTC")
            && 0 == strcmp(par, "0");
  /* clang-format off */
  if (applied && !ok)
    kg_log(KG_LOG_ERROR, json_pack("{s:s}", "event", "db_session_setup_failed"),
           "database session settings did not hold (read back: statement_timeout %s,"
           " lock_timeout %s, TimeZone %s, max_parallel_workers_per_gather %s)",
           /* clang-format on */
           st, lt, tz, par);
  else if (!ok)
    kg_log(KG_LOG_ERROR, json_pack("{s:s}", "event", "db_session_setup_failed"),
           "database session settings could not be applied: %s",
           res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  PQclear(res);
  return ok;
}

PGconn *
kg_db_open(void)
{
  /* dbname is expanded when it holds a URI or key=value string; the keywords
     after it override: a short connect timeout keeps /readyz and the gate
     failing fast (per host of a multi-host URL). */
  const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
  const char *vals[] = { db_url ? db_url : "", "3", "kmsgate", NULL };
  PGconn *conn = PQconnectdbParams(keys, vals, 1);

  if (NULL != conn && CONNECTION_OK != PQstatus(conn)) {
    kg_log(KG_LOG_WARN, json_pack("{s:s}", "event", "db_connect_failed"),
           "database connection failed: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return NULL;
  }
  if (NULL == conn)
    return NULL;
  PQsetNoticeProcessor(conn, log_notice, NULL);
  if (!setup_session(conn)) {
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

struct kg_db *
kg_db_thread(void)
{
  if (NULL != thread_db)
    return thread_db;
  struct kg_db *db = calloc(1, sizeof(*db));
  if (NULL == db)
    abort(); /* a few hundred bytes once per thread: nothing sensible to do without them */
  pthread_mutex_lock(&registry_lock);
  db->next_in_registry = registry;
  registry = db;
  pthread_mutex_unlock(&registry_lock);
  thread_db = db;
  return db;
}

bool
kg_db_connected(struct kg_db *db)
{
  if (NULL != db->conn && CONNECTION_OK == PQstatus(db->conn))
    return true;
  if (NULL != db->conn)
    PQfinish(db->conn);
  db->n_prepared = 0; /* prepared statements died with the old session */
  db->conn = kg_db_open();
  return NULL != db->conn;
}

void
kg_db_close_all(void)
{
  pthread_mutex_lock(&registry_lock);
  struct kg_db *db = registry;
  registry = NULL;
  pthread_mutex_unlock(&registry_lock);
  while (NULL != db) {
    struct kg_db *next = db->next_in_registry;
    if (NULL != db->conn)
      PQfinish(db->conn);
    free(db);
    db = next;
  }
  thread_db = NULL;
}

PGconn *
kg_db_conn(struct kg_db *db)
{
  return db->conn;
}

const char *
kg_db_last_sqlstate(const struct kg_db *db)
{
  return db->sqlstate;
}

enum kg_qs
kg_db_classify_failure(struct kg_db *db, const PGresult *res)
{
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

  snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
  if (NULL != state && (0 == strcmp(state, "40001") || 0 == strcmp(state, "40P01")))
    return KG_QS_SOFT_ERROR;
  /* Constraint violations are the caller's business (409/422); others are logged. */
  if (NULL == state || '2' != state[0] || '3' != state[1])
    kg_log(KG_LOG_ERROR, json_pack("{s:s,s:s}", "event", "db_error", "sqlstate", db->sqlstate),
           "database error: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
  return KG_QS_HARD_ERROR;
}

static bool
is_prepared(const struct kg_db *db, const struct kg_stmt *stmt)
{
  for (size_t i = 0; i < db->n_prepared; i++)
    if (db->prepared[i] == stmt)
      return true;
  return false;
}

static enum kg_qs
prepare(struct kg_db *db, const struct kg_stmt *stmt)
{
  if (is_prepared(db, stmt))
    return KG_QS_OK;
  if (db->n_prepared == KG_MAX_STMTS)
    abort(); /* a programming error: raise KG_MAX_STMTS */
  PGresult *res = PQprepare(db->conn, stmt->name, stmt->sql, 0, NULL);
  enum kg_qs qs = KG_QS_OK;
  if (NULL == res || PGRES_COMMAND_OK != PQresultStatus(res))
    qs = kg_db_classify_failure(db, res);
  else
    db->prepared[db->n_prepared++] = stmt;
  PQclear(res);
  return qs;
}

/**
 * True when a failed statement found the server gone (restart, failover).
 * Every error the server reports carries a SQLSTATE; a failure without one
 * happened on the wire. libpq does not always mark such a connection bad
 * (seen after an immediate shutdown: "server closed the connection
 * unexpectedly" with PQstatus still CONNECTION_OK), so the SQLSTATE decides.
 */
static bool
connection_lost(const struct kg_db *db)
{
  return CONNECTION_OK != PQstatus(db->conn) || '\0' == db->sqlstate[0]
         || 0 == strncmp(db->sqlstate, "08", 2) || 0 == strncmp(db->sqlstate, "57P", 3);
}

/** Drops the connection and opens a new one. */
static bool
reconnect(struct kg_db *db)
{
  PQfinish(db->conn);
  db->conn = NULL;
  return kg_db_connected(db);
}

static PGresult *
exec_once(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params,
          enum kg_qs *qs)
{
  *qs = prepare(db, stmt);
  if (KG_QS_OK != *qs)
    return NULL;
  PGresult *res = PQexecPrepared(db->conn, stmt->name, nparams, params, NULL, NULL, 0);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (PGRES_TUPLES_OK == st || PGRES_COMMAND_OK == st)
    return res;
  *qs = kg_db_classify_failure(db, res);
  PQclear(res);
  return NULL;
}

PGresult *
kg_db_exec(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params,
           enum kg_qs *qs)
{
  db->sqlstate[0] = '\0';
  if (NULL == db->conn && !kg_db_connected(db)) {
    *qs = KG_QS_HARD_ERROR;
    return NULL;
  }
  /* Outside a transaction nothing is lost by running a statement again on a
     fresh connection, so a database restart costs callers no error. */
  bool idle = PQTRANS_IDLE == PQtransactionStatus(db->conn);
  PGresult *res = exec_once(db, stmt, nparams, params, qs);
  if (NULL == res && idle && connection_lost(db) && reconnect(db))
    res = exec_once(db, stmt, nparams, params, qs);
  return res;
}

enum kg_qs
kg_db_run(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params)
{
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, stmt, nparams, params, &qs);
  PQclear(res);
  return qs;
}

static enum kg_qs
simple_once(struct kg_db *db, const char *sql)
{
  PGresult *res = PQexec(db->conn, sql);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  enum kg_qs qs = KG_QS_OK;
  if (PGRES_COMMAND_OK != st && PGRES_TUPLES_OK != st)
    qs = kg_db_classify_failure(db, res);
  PQclear(res);
  return qs;
}

enum kg_qs
kg_db_simple(struct kg_db *db, const char *sql)
{
  db->sqlstate[0] = '\0';
  if (NULL == db->conn && !kg_db_connected(db))
    return KG_QS_HARD_ERROR;
  bool idle = PQTRANS_IDLE == PQtransactionStatus(db->conn);
  enum kg_qs qs = simple_once(db, sql);
  if (KG_QS_OK != qs && idle && connection_lost(db) && reconnect(db))
    qs = simple_once(db, sql);
  return qs;
}

/* clang-format off */
static const char *const begin_sql[] = {
  [KG_READ_COMMITTED] = "BEGIN ISOLATION LEVEL READ COMMITTED",
  [KG_REPEATABLE_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
  [KG_SERIALIZABLE] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
};
/* clang-format on */

/** One attempt: BEGIN, callback, COMMIT; rolls back on anything but success. */
static enum kg_qs
attempt_transaction(struct kg_db *db, enum kg_isolation isolation, kg_tx_fn fn, void *cls)
{
  enum kg_qs qs = kg_db_simple(db, begin_sql[isolation]);
  if (KG_QS_OK != qs)
    return qs;
  qs = fn(db, cls);
  if (KG_QS_OK == qs)
    qs = kg_db_simple(db, "COMMIT");
  else
    (void) kg_db_simple(db, "ROLLBACK");
  return qs;
}

enum kg_qs
kg_db_run_transaction(struct kg_db *db, const char *what, enum kg_isolation isolation, kg_tx_fn fn,
                      void *cls)
{
  enum kg_qs qs = KG_QS_HARD_ERROR;

  for (int attempt = 1; attempt <= KG_TX_ATTEMPTS; attempt++) {
    if (!kg_db_connected(db))
      return KG_QS_HARD_ERROR;
    qs = attempt_transaction(db, isolation, fn, cls);
    if (KG_QS_SOFT_ERROR != qs)
      break;
  }
  if (KG_QS_SOFT_ERROR == qs)
    kg_log(KG_LOG_WARN, json_pack("{s:s,s:s}", "event", "tx_gave_up", "tx", what),
           "transaction %s kept failing to serialize", what);
  return qs;
}

const char *
kg_db_param_int(char buf[KG_DB_INT_BUFSZ], long long v)
{
  snprintf(buf, KG_DB_INT_BUFSZ, "%lld", v);
  return buf;
}

enum kg_qs
kg_db_run_autocommit(struct kg_db *db, const char *what, kg_tx_fn fn, void *cls)
{
  enum kg_qs qs = KG_QS_HARD_ERROR;

  for (int attempt = 1; attempt <= KG_TX_ATTEMPTS; attempt++) {
    if (!kg_db_connected(db))
      return KG_QS_HARD_ERROR;
    qs = fn(db, cls);
    if (KG_QS_SOFT_ERROR != qs)
      break;
  }
  if (KG_QS_SOFT_ERROR == qs)
    kg_log(KG_LOG_WARN, json_pack("{s:s,s:s}", "event", "tx_gave_up", "tx", what),
           "%s kept failing to serialize", what);
  return qs;
}

const char *
kg_db_text(const PGresult *res, int row, int col)
{
  return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

long long
kg_db_int(const PGresult *res, int row, int col)
{
  return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

bool
kg_db_bool(const PGresult *res, int row, int col)
{
  return !PQgetisnull(res, row, col) && 't' == PQgetvalue(res, row, col)[0];
}

enum kg_qs
kg_db_each_row(struct kg_db *db, const struct kg_stmt *stmt, int nparams, const char *const *params,
               kg_db_row_fn each, void *cls, int *rows)
{
  enum kg_qs qs;
  PGresult *res = kg_db_exec(db, stmt, nparams, params, &qs);

  *rows = 0;
  if (NULL == res)
    return qs;
  *rows = PQntuples(res);
  for (int i = 0; i < *rows && KG_QS_OK == qs; i++)
    if (!each(cls, res, i))
      qs = KG_QS_INTERNAL_ERROR;
  PQclear(res);
  return qs;
}

/** Sends @a data in pieces libpq and the server handle comfortably. */
static bool
copy_send(PGconn *conn, const char *data, size_t len)
{
  const size_t piece = 256 * 1024;
  for (size_t off = 0; off < len; off += piece) {
    size_t n = (len - off < piece) ? len - off : piece;
    if (1 != PQputCopyData(conn, data + off, (int) n))
      return false;
  }
  return true;
}

enum kg_qs
kg_db_copy_in(struct kg_db *db, const struct kg_stmt *stmt, const char *data, size_t len)
{
  const char *sql = stmt->sql; /* COPY cannot be prepared: sent as text */

  db->sqlstate[0] = '\0';
  if (NULL == db->conn)
    return KG_QS_HARD_ERROR;
  PGresult *res = PQexec(db->conn, sql);
  if (NULL == res || PGRES_COPY_IN != PQresultStatus(res)) {
    enum kg_qs qs = kg_db_classify_failure(db, res);
    PQclear(res);
    return qs;
  }
  PQclear(res);
  bool sent = copy_send(db->conn, data, len);
  /* On a failed send, ending with an error message aborts the COPY cleanly. */
  if (1 != PQputCopyEnd(db->conn, sent ? NULL : "kmsgate: sending COPY data failed"))
    sent = false;
  enum kg_qs qs = KG_QS_OK;
  while (NULL != (res = PQgetResult(db->conn))) {
    bool stuck = PGRES_COPY_IN == PQresultStatus(res);
    if (PGRES_COMMAND_OK != PQresultStatus(res) && KG_QS_OK == qs)
      qs = kg_db_classify_failure(db, res);
    PQclear(res);
    if (stuck) {
      /* The end of the data never got through: libpq would report COPY_IN
         forever. The session is unusable; a fresh one serves the retry. */
      (void) reconnect(db);
      return KG_QS_HARD_ERROR;
    }
  }
  return (KG_QS_OK == qs && !sent) ? KG_QS_HARD_ERROR : qs;
}
