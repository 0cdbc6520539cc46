/**
 * @file db_pooling.h
 * @brief Start-up check that the database connection keeps one server
 *        session per client connection (no pooler, or PgBouncer in session
 *        mode).
 */
#ifndef KG_DB_POOLING_H
#define KG_DB_POOLING_H

/** Outcome of kg_db_pooling_check(). */
enum kg_pooling {
  KG_POOLING_SESSION = 0,     /**< each client connection keeps its server session */
  KG_POOLING_UNREACHABLE = 1, /**< the database could not be reached: not checked */
  KG_POOLING_SHARED = 2,      /**< sessions are shared between transactions: refuse */
};

/**
 * Finds out whether the server session behind a connection stays the same
 * between transactions. kmsgate keeps session state (the settings applied at
 * connect, prepared statements), which PgBouncer's transaction and statement
 * pooling modes hand to other clients after every transaction.
 * @return the outcome; KG_POOLING_SHARED is logged with the mode to use
 */
enum kg_pooling kg_db_pooling_check(void);

#endif
