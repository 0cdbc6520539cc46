/**
 * @file gate_input.h
 * @brief The body of POST /v1/gate, validated: one place reads every member,
 *        so that the handler works on typed values only.
 */
#ifndef KG_GATE_INPUT_H
#define KG_GATE_INPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "input.h"

#define KG_MAX_PLAN_DESKTOPS 10000
#define KG_MAX_PROVISIONS 100

/** One provision as asked. */
struct provision_input {
  const char *pool;
  int count;
};

/** The validated request body. */
struct gate_input {
  char kms_host[KG_HOSTNAME_BUFSZ];
  bool has_at;
  int64_t at;                          /**< Unix seconds */
  char (*desktops)[KG_HOSTNAME_BUFSZ]; /**< decommission.desktops, normalized; or NULL */
  size_t n_desktops;
  const char *decommission_pool; /**< or NULL */
  int decommission_count;
  size_t n_provisions;
  struct provision_input provisions[KG_MAX_PROVISIONS];
  int horizon_days;
  bool has_margin;
  int margin;
  bool reserve;
  int ttl_minutes;
  bool enforce; /**< ?enforce=true: a no-go is a 409 */
  bool dry_run; /**< evaluate only: record and reserve nothing */
  bool retire;  /**< retire_kms_host given */
  char retire_host[KG_HOSTNAME_BUFSZ];
  bool has_retire_at;
  int64_t retire_at; /**< Unix seconds */
};

/**
 * Reads and checks the gate's body and ?enforce=, answering the 4xx itself.
 * @param ctx the request
 * @param[out] in the validated input
 * @param now the service's clock, Unix seconds (plan times past the horizon)
 * @return true when valid; false after the error reply
 */
bool kg_gate_parse_input(struct kg_ctx *ctx, struct gate_input *in, int64_t now);

/**
 * Frees what kg_gate_parse_input() allocated in @a in (not @a in itself).
 * @param in the input
 */
void kg_gate_input_clear(struct gate_input *in);

#endif
