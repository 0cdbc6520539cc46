/**
 * @file db.h
 * @brief PostgreSQL access: one connection per worker thread, statements
 *        prepared lazily per connection, and the single transaction runner.
 *
 * Every SQL statement is a `struct kg_stmt` owned by exactly one db_*.c file.
 */
#ifndef KG_DB_H
#define KG_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/** Outcome of a query or transaction step, in the spirit of Taler's QueryStatus. */
enum kg_qs {
  KG_QS_INTERNAL_ERROR = -4, /**< not the database: out of memory, a model error: 500 */
  KG_QS_HARD_ERROR = -3,     /**< the database failed or is unreachable: 503 */
  KG_QS_SOFT_ERROR = -2,     /**< serialization failure or deadlock: retry */
  KG_QS_REPLIED = -1,        /**< the callback already queued a 4xx reply: roll back */
  KG_QS_OK = 0,              /**< success */
};

/** A named SQL statement; the pointer is its identity on each connection. */
struct kg_stmt {
  const char *name; /**< unique name for PQprepare */
  const char *sql;  /**< text with $1.. parameters (never built from input) */
};

struct kg_db;

/**
 * Remembers the connection string for all later connections.
 * @param database_url libpq connection string or URI (NULL: libpq defaults)
 */
void kg_db_configure(const char *database_url);

/**
 * Opens a connection of its own with the session settings applied and
 * checked, outside the per-thread registry (start-up checks).
 * @return the connection (caller PQfinish()es) or NULL, logged
 */
PGconn *kg_db_open(void);

/**
 * The calling thread's connection, (re)connecting when needed.
 * libpq connections are not thread-safe, so each thread has its own.
 * @return the handle (never NULL; check kg_db_connected())
 */
struct kg_db *kg_db_thread(void);

/**
 * Makes sure the connection is up, reconnecting after a database restart.
 * @param db handle
 * @return true when the connection is usable
 */
bool kg_db_connected(struct kg_db *db);

/**
 * Closes every connection opened by any thread; call after workers stopped.
 */
void kg_db_close_all(void);

/**
 * Runs a prepared statement (preparing it on first use on this connection).
 * @param db handle
 * @param stmt the statement
 * @param nparams number of parameters
 * @param params text values (NULL entries are SQL NULL)
 * @param[out] qs KG_QS_OK, or the kind of failure
 * @return the result (caller PQclear()s) or NULL on failure
 */
PGresult *kg_db_exec(struct kg_db *db, const struct kg_stmt *stmt, int nparams,
                     const char *const *params, enum kg_qs *qs);

/**
 * Receives one row of a result.
 * @param cls closure
 * @param res the result (valid only during the call)
 * @param row the row number
 * @return true to go on, false to stop (the query then fails: out of memory)
 */
typedef bool (*kg_db_row_fn)(void *cls, const PGresult *res, int row);

/**
 * Runs a statement and hands every row to @a each: the one multi-row loop.
 * @param db connection
 * @param stmt the statement
 * @param nparams number of parameters
 * @param params text values (NULL entries are SQL NULL)
 * @param each receives each row
 * @param cls closure for each
 * @param[out] rows number of rows the statement returned (0 on failure)
 * @return KG_QS_OK, the failure, or KG_QS_INTERNAL_ERROR when @a each stopped
 */
enum kg_qs kg_db_each_row(struct kg_db *db, const struct kg_stmt *stmt, int nparams,
                          const char *const *params, kg_db_row_fn each, void *cls, int *rows);

/**
 * Like kg_db_exec() for statements whose rows are not needed.
 * @return KG_QS_OK or the failure kind
 */
enum kg_qs kg_db_run(struct kg_db *db, const struct kg_stmt *stmt, int nparams,
                     const char *const *params);

/**
 * Runs plain SQL without parameters (migrations, BEGIN/COMMIT).
 * @return KG_QS_OK or the failure kind
 */
enum kg_qs kg_db_simple(struct kg_db *db, const char *sql);

/**
 * The SQLSTATE of the last failed statement on this connection, or "".
 * Handlers use it to turn constraint violations into 409/422.
 */
const char *kg_db_last_sqlstate(const struct kg_db *db);

/** The raw connection, for COPY and other libpq calls. */
PGconn *kg_db_conn(struct kg_db *db);

/**
 * Classifies a failed result and remembers its SQLSTATE.
 * @param db handle
 * @param res the result (may be NULL)
 * @return KG_QS_SOFT_ERROR for 40001/40P01, otherwise KG_QS_HARD_ERROR
 */
enum kg_qs kg_db_classify_failure(struct kg_db *db, const PGresult *res);

/** Isolation level requested for a transaction. */
enum kg_isolation {
  KG_READ_COMMITTED,
  KG_REPEATABLE_READ,
  KG_SERIALIZABLE
};

/** A unit of work run inside a transaction by kg_db_run_transaction(). */
typedef enum kg_qs (*kg_tx_fn)(struct kg_db *db, void *cls);

/**
 * Runs @a fn in a transaction; retries serialization failures and a
 * connection lost before anything was committed a few times.
 * @param db handle
 * @param what name used in logs
 * @param isolation isolation level
 * @param fn the callback; it must be safe to run more than once
 * @param cls closure for fn
 * @return KG_QS_OK when committed, KG_QS_REPLIED when fn replied,
 *         or KG_QS_HARD_ERROR/KG_QS_SOFT_ERROR when it could not be done
 */
enum kg_qs kg_db_run_transaction(struct kg_db *db, const char *what, enum kg_isolation isolation,
                                 kg_tx_fn fn, void *cls);

/**
 * Whole Unix seconds of a timestamptz expression, rounded down: the one
 * conversion every statement uses, so that a request 0.4 s before now
 * never reads as one after it.
 */
#define KG_SQL_EPOCH(col) "floor(extract(epoch FROM " col "))::bigint"

/**
 * Advisory lock over where stored requests count: every ingest holds it
 * shared (uploads still run side by side); rebuilding summaries from raw
 * requests (a new host, a host moved to another server, a changed
 * activation-ID mapping) holds it exclusive, so that it sees every upload
 * that committed before it and none runs half-routed beside it.
 */
#define KG_SQL_ROUTING_LOCK "7021794190251950430"

/**
 * The number of parameters in the array @a a, counted by the compiler: call
 * sites never keep a count beside the list. An argument that is a pointer,
 * not an array, does not compile.
 */
/* clang-format off */
#define KG_NPARAMS(a)                                                          \
  ((int) (sizeof(a) / sizeof((a)[0])                                          \
          + 0 * sizeof(struct { int array_expected : __builtin_types_compatible_p( \
                                    __typeof__(a), __typeof__(&(a)[0])) ? -1 : 1; })))
/* clang-format on */

/** Room for any long long in decimal, sign and NUL included. */
#define KG_DB_INT_BUFSZ 24

/**
 * Formats an integer statement parameter (parameters travel as text).
 * @param buf receives the decimal text
 * @param v the value
 * @return buf, so that the call can stand in a parameter array
 */
const char *kg_db_param_int(char buf[KG_DB_INT_BUFSZ], long long v);

/**
 * Runs @a fn with every statement in its own implicit transaction, for work
 * that reads and then writes one row (a gate that reserves nothing): it
 * saves the BEGIN/COMMIT round trips. Retries like kg_db_run_transaction().
 * @param db handle
 * @param what name used in logs
 * @param fn the callback; it must be safe to run more than once
 * @param cls closure for fn
 * @return KG_QS_OK, KG_QS_REPLIED, or the failure
 */
enum kg_qs kg_db_run_autocommit(struct kg_db *db, const char *what, kg_tx_fn fn, void *cls);

/**
 * Runs COPY ... FROM STDIN with @a data (COPY text format) inside the
 * caller's transaction; no retry on a lost connection (the transaction
 * runner retries the whole transaction).
 * @param db handle
 * @param stmt the COPY statement (its name is unused: COPY is not prepared)
 * @param data the rows, every line ending in a newline
 * @param len bytes of @a data
 * @return KG_QS_OK or the failure kind
 */
enum kg_qs kg_db_copy_in(struct kg_db *db, const struct kg_stmt *stmt, const char *data,
                         size_t len);

/**
 * Small helpers for reading result cells.
 */
const char *kg_db_text(const PGresult *res, int row, int col); /**< NULL for SQL NULL */
long long kg_db_int(const PGresult *res, int row, int col);    /**< 0 for SQL NULL */
bool kg_db_bool(const PGresult *res, int row, int col);        /**< 't' is true */

#endif
