/**
 * @file gate_family_internal.h
 * @brief What gate_family.c (the hosts read, the pick over them) and
 *        gate_family_plan.c (a gate plan over them) share.
 */
#ifndef KG_GATE_FAMILY_INTERNAL_H
#define KG_GATE_FAMILY_INTERNAL_H

#include "gate_family.h"
#include "gate_hosts.h"

/** A desktop a plan may take, as ranked over the family. */
struct fam_desk {
  long long id;
  const char *hostname; /**< points into a host's estate, held by the family */
  int reg;              /**< the host it is registered on (index in the family) */
  int group;            /**< 0 shared, 1 lapsing or unseen, 2 renewing */
  int64_t latest;       /**< its CMID's latest request on any host of the family */
};

/** A provision as asked: the pool and the whole count (each host takes its share). */
struct fam_prov {
  const char *pool;
  int count;
};

/** What every host's evaluation of the plan shares. */
struct fam_eval {
  int64_t at;
  bool has_margin;
  int margin;
  const struct fam_prov *prov;
  size_t n_prov;
};

/** Finds or reads host @a name of the family; *out -1 when it is none of it (or too many). */
enum kg_qs fam_get(struct kg_family *f, const char *name, int *out);

/** Whether desktop @a id is held by a reserved plan of a host read. */
bool fam_held(const struct kg_family *f, long long id);

/** The desktop's CMID on @a h when @a h still counts it, else -1. */
int32_t fam_cached(const struct kg_family *f, const struct kg_family_host *h, const char *hostname);

/** Reads every host of the family where one of the desktops' CMIDs is cached. */
enum kg_qs fam_load_caching(struct kg_family *f, const struct fam_desk *c, size_t n);

/** Ranks desktops once over the family (docs/model.md §3.10, §6.6). */
enum kg_qs fam_rank(struct kg_family *f, struct fam_desk *c, size_t n);

/**
 * The ranked candidates: the active unheld desktops of @a pool, or with
 * @a pool NULL those of every host i with hosts[i]; *c is malloc'ed.
 */
enum kg_qs fam_candidates(struct kg_family *f, const char *pool, const bool *hosts,
                          struct fam_desk **c, size_t *n);

/**
 * Whether no other host caches the CMID of any active desktop host @a hi
 * holds: then the family's order of those desktops is the host's own (no
 * status or latest request comes from elsewhere), and the model's
 * max_decommission of the whole host is the family's.
 */
bool fam_alone(const struct kg_family *f, int hi);

/** Evaluates the first @a k picks and the provisions on host @a h. */
int fam_evaluate(const struct kg_family *f, const struct fam_eval *ev, struct kg_family_host *h,
                 const struct fam_desk *picks, size_t k, struct fc_result *r);

/** Largest k of @a order that keeps every touched host, and each host its picks touch, at go. */
enum kg_qs fam_largest(struct kg_family *f, const struct fam_eval *ev, const struct fam_desk *order,
                       size_t n, int32_t *out);

#endif
