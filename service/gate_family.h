/**
 * @file gate_family.h
 * @brief A gate plan over the KMS hosts of one product (docs/model.md
 *        §6.4-§6.7) when the family has several: desktops picked once over
 *        the family, named desktops of any host their pool lists, and only
 *        the hosts the plan touches evaluated.
 */
#ifndef KG_GATE_FAMILY_H
#define KG_GATE_FAMILY_H

#include <jansson.h>
#include <stdbool.h>

#include "db_plan_hosts.h"
#include "estate_cache.h"
#include "gate_input.h"

/** The most hosts of a family one evaluation reads (the request's and 16 others). */
#define KG_FAMILY_HOSTS (KG_MAX_OTHER_HOSTS + 1)

/** One host of the family as the evaluation read it. */
struct kg_family_host {
  struct kg_estate_use use;
  enum fc_status *status; /**< per CMID, from fc_cmid_survey(); NULL until needed */
  int32_t *left;          /**< per CMID: active desktops that no reserved plan holds */
  size_t survey_hosts;    /**< hosts whose reserved plans `left` knew */
  bool touched;           /**< the plan touches it: it is evaluated */
  bool evaluated;
  struct fc_result r;
};

/** The hosts of one family an evaluation reads; h[0] is the request's. */
struct kg_family {
  struct kg_db *db;
  int64_t now, horizon_seconds;
  bool lock; /**< lock each host row read (a reserving gate, under the family lock) */
  enum kg_estate_fit fit;
  bool more; /**< the plan needed more hosts than KG_FAMILY_HOSTS: it cannot be go */
  size_t n;
  struct kg_family_host h[KG_FAMILY_HOSTS];
  long long *held; /**< desktop ids reserved plans of the hosts read hold, sorted */
  size_t n_held, held_hosts;
};

/** The plan as the request gave it. */
struct kg_family_plan {
  bool named_host; /**< the request gave kms_host: h[0] is touched */
  const char (*desktops)[KG_HOSTNAME_BUFSZ];
  size_t n_desktops;
  const char *pool; /**< decommission by pool and count, or NULL */
  size_t count;
  const struct provision_input *provisions;
  size_t n_provisions;
  int64_t at;
  bool has_margin;
  int margin;
  bool reserve;
};

/** The answer, and what a reservation stores. */
struct kg_family_answer {
  unsigned int status; /**< 0, or 422 / 409: the request is refused */
  char field[64], message[400];
  char held_plan[40]; /**< 409: the plan holding held_desktop */
  const char *held_desktop;
  json_t *doc; /**< the gate answer without plan_id and decision_id */
  bool go;
  long long *desktop_ids; /**< the desktops decommissioned */
  size_t n_desktops;
  long long pool_ids[KG_MAX_PROVISIONS]; /**< provisions by pool, full counts */
  int counts[KG_MAX_PROVISIONS];
  size_t n_pools;
  long long host_ids[KG_MAX_OTHER_HOSTS]; /**< hosts a reservation holds besides h[0] */
  size_t n_hosts;
};

/**
 * Starts reading a family from the request's host.
 * @return KG_QS_OK or the failure; kg_family_close() in any case
 */
enum kg_qs kg_family_open(struct kg_family *f, struct kg_db *db, const char *host, int64_t now,
                          int64_t horizon_seconds, bool lock, enum kg_estate_fit fit);

/**
 * Resolves and evaluates a gate plan over the family (docs/model.md
 * §6.4): the request's host when named, each host where a decommissioned
 * desktop's CMID is cached, each host that receives provisions; a plan that
 * touches none of them evaluates every host of the pools it names.
 * @return KG_QS_OK (also with a->status set for a refused request) or the failure
 */
enum kg_qs kg_family_gate(struct kg_family *f, const struct kg_family_plan *p,
                          struct kg_family_answer *a);

/**
 * The largest decommission from @a pool (NULL: every active desktop the
 * request's host counts or holds) at @a at that keeps h[0] and every host
 * the picks touch at go, the candidates ranked once over the family.
 * @param own the model's answer on h[0] alone, taken when no other host can matter
 * @return KG_QS_OK or the failure
 */
enum kg_qs kg_family_headroom(struct kg_family *f, const char *pool, int64_t at, int32_t own,
                              int32_t *k);

/** Releases what the answer holds. */
void kg_family_answer_free(struct kg_family_answer *a);

/** Releases the hosts read. */
void kg_family_close(struct kg_family *f);

#endif
