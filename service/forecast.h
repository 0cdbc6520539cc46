/**
 * @file forecast.h
 * @brief Pure model of a KMS host's count over time (docs/model.md §3).
 *
 * No I/O, no clock, no global state: the caller loads the estate from the
 * database, passes `now`, and formats the result.  All times are Unix
 * seconds.  Inputs are validated (indices, renewal intervals, time ranges)
 * because a bad index would otherwise read out of bounds.
 */
#ifndef KG_FORECAST_H
#define KG_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * E: an entry leaves the host's cache this long after the CMID's latest
 * request.
 */
#define FC_EXPIRY_SECONDS ((int64_t) 2592000)

/** Late renewals are tolerated this long before a CMID counts as lapsing. */
#define FC_GRACE_SECONDS ((int64_t) 86400)

/**
 * Times (now, requests, plan times) must lie within +/- this many seconds
 * (about 31,700 years), so that no arithmetic on them can overflow.
 */
#define FC_TIME_LIMIT ((int64_t) 1000000000000)

enum fc_desktop_state {
  FC_ACTIVE,
  FC_POWERED_OFF,
  FC_DECOMMISSIONED
};

enum fc_status {
  FC_RENEWING,
  FC_LAPSING,
  FC_UNSEEN
};

/** One CMID seen on the host: the summary of its requests. */
struct fc_cmid {
  int64_t last_request;        /* latest seen request; one after now counts as now */
  int32_t request_count;       /* seen requests (>= 1) */
  bool last_client_registered; /* its latest request came from a registered
                                  desktop's name: when no desktop carries this
                                  CMID, that desktop replaced it (rule (b)) */
  bool renews_elsewhere;       /* its newest request is on another host of the
                                  family: it renews there and lapses here
                                  (docs/model.md §6.2) */
};

struct fc_pool {
  int64_t renewal_seconds; /* R of this pool; 1 .. FC_EXPIRY_SECONDS */
  bool unique_cmids;
};

struct fc_desktop {
  const char *hostname; /* lowercase; ties in ordering (NULL sorts as "") */
  int32_t pool;         /* index into pools */
  int32_t cmid;         /* index into cmids, -1 when unknown or never seen */
  enum fc_desktop_state state;
  bool powered_off; /* its platform reports it powered off: an ACTIVE desktop
                       that renews nothing (rule (a) counts it as not active)
                       until reported on; still a desktop of its pool that a
                       plan may decommission (taking it stops no renewal) */
};

struct fc_provision {
  int32_t pool;
  int32_t count; /* >= 0 */
};

struct fc_plan {
  int64_t at; /* plan time; the model uses max(at, now) */
  size_t n_decommission;
  const int32_t *decommission; /* desktop indices */
  size_t n_provision;
  const struct fc_provision *provision;
  size_t n_arrivals;
  const int64_t *arrivals; /* CMIDs that move here from a retired host: each
                              requests first at max(time, now), then renews */
};

/**
 * Everything the model knows about one KMS host at `now`.
 * Passing `desktops` in strcmp() order of hostname (PostgreSQL:
 * ORDER BY hostname COLLATE "C") saves sorting them by name for the
 * decommission order; any order gives the same results.
 */
struct fc_estate {
  int64_t now;
  int32_t capacity, threshold, margin; /* floor = threshold + margin */
  int64_t host_renewal_seconds;        /* R for CMIDs linked to no desktop */
  int64_t horizon_seconds;             /* H, >= 0 */
  size_t n_cmids;
  const struct fc_cmid *cmids;
  size_t n_pools;
  const struct fc_pool *pools;
  size_t n_desktops;
  const struct fc_desktop *desktops;
  size_t n_reserved;
  const struct fc_plan *reserved; /* unexpired reserved plans */
};

struct fc_step {
  int64_t at;
  int32_t count;
};

struct fc_result {
  int32_t floor;
  int32_t current_count;            /* count(now) with no plan and no reserved plans */
  int64_t window_start, window_end; /* see fc_evaluate() */
  int32_t baseline_min;             /* reserved plans only, over the window */
  int64_t baseline_min_at;
  int32_t projected_min; /* reserved plans + the evaluated plan */
  int64_t projected_min_at;
  bool has_breach;
  int64_t first_breach_at;     /* first t in window with planned count < floor, else 0 */
  bool go;                     /* projected_min >= floor */
  int32_t max_decommission;    /* see fc_evaluate() */
  int64_t max_decommission_at; /* when those decommissions are assumed */
  size_t n_steps;
  struct fc_step *steps; /* planned count: first at window_start, then one per change */
  /* explanation material for reasons (the caller formats English): */
  int32_t renewing;                  /* renewing CMIDs at now */
  int32_t lapsing;                   /* lapsing CMIDs still in the cache at now */
  int32_t unseen;                    /* ACTIVE desktops whose cmid is -1 */
  int32_t plan_lapsing_cmids;        /* renewing CMIDs the evaluated plan stops */
  int64_t plan_lapsing_first_expiry; /* earliest expiry among them, or 0 */
  int32_t plan_new_cmids;            /* new CMIDs the evaluated plan's provisions add */
};

/**
 * Status of one CMID at `now` (rules (a) and (b) of the model).
 * Scans all desktops: use fc_cmid_survey() for many CMIDs.
 * @param e the estate
 * @param cmid index into e->cmids; -1 (or any invalid index) gives FC_UNSEEN
 * @return FC_RENEWING, FC_LAPSING, or FC_UNSEEN for cmid -1
 */
enum fc_status fc_cmid_status(const struct fc_estate *e, int32_t cmid);

/**
 * When the CMID's cache entry expires if it made no request after `now`:
 * last_request + E, for a renewing CMID too, since a renewal due before
 * `now` that no event shows is never credited (the expiry a decommission
 * at `now` would give).  Scans all desktops.
 * @param e the estate
 * @param cmid index into e->cmids
 * @return the expiry time, or 0 when @a cmid is -1 or invalid
 */
int64_t fc_cmid_expiry(const struct fc_estate *e, int32_t cmid);

/**
 * The first projected renewal of a renewing CMID after @a t (>= now): when
 * it would next request, e.g. to move to another host after its own host is
 * retired at @a t.  Scans all desktops.
 * @param e the estate
 * @param cmid index into e->cmids
 * @param t a time at or after e->now
 * @return that time, or 0 when the CMID is not renewing or invalid
 */
int64_t fc_cmid_next_renewal(const struct fc_estate *e, int32_t cmid, int64_t t);

/**
 * fc_cmid_status() and fc_cmid_expiry() for every CMID in one O(n) pass,
 * for listing desktops.
 * @param e the estate
 * @param[out] status array of e->n_cmids entries, or NULL
 * @param[out] expiry array of e->n_cmids entries, or NULL
 * @return 0 on success, -1 on invalid estate or out of memory
 */
int fc_cmid_survey(const struct fc_estate *e, enum fc_status *status, int64_t *expiry);

/**
 * Evaluates a plan against the estate and its reserved plans.
 *
 * Window: start = max(now, earliest max(at, now) among the evaluated and
 * the reserved plans), end = now + H; when start > end the window is the
 * single instant start.  max_decommission is the largest k such that
 * decommissioning the first k desktops of fc_pick_decommission() order
 * (pool @a max_decommission_pool) at max_decommission_at still gives go,
 * in place of the plan's own decommissions but with its provisions and all
 * reserved plans; max_decommission_at is max(plan->at, now) when @a plan is
 * given, else window_start.  0 when even k = 0 is no-go.
 * @param e the estate
 * @param plan the plan to evaluate, or NULL for the baseline
 * @param max_decommission_pool pool index, or -1 for the whole host
 * @param[out] out the result; release with fc_result_free(), also after an error
 * @return 0 on success, -1 on out of memory or invalid input
 */
int fc_evaluate(const struct fc_estate *e, const struct fc_plan *plan,
                int32_t max_decommission_pool, struct fc_result *out);

/**
 * Releases what fc_evaluate() allocated in @a r; safe to call twice.
 * @param r the result
 */
void fc_result_free(struct fc_result *r);

/**
 * Order of desktops for "decommission k of pool p": ACTIVE desktops that
 * no reserved plan decommissions, first those whose CMID another such
 * desktop shares, then lapsing or unseen ones (both by hostname), then the
 * rest by latest request first, ties by hostname.
 * @param e the estate
 * @param pool pool index, or -1 for the whole host
 * @param[out] out receives up to @a n desktop indices
 * @param n capacity of @a out
 * @return number of indices written; 0 also on invalid input or out of memory
 */
size_t fc_pick_decommission(const struct fc_estate *e, int32_t pool, int32_t *out, size_t n);

/**
 * Everything fc_evaluate() computes that does not depend on the plan, the
 * margin or the horizon: CMID statuses, the baseline count (with the
 * reserved plans) as sorted events, the decommission order of the whole
 * host and of every pool, and the CMIDs each prefix of those orders stops
 * when taken at now.  Opaque and immutable once built: any number of
 * threads may use one read-only at the same time.
 *
 * Ownership: the prepared object copies the struct fc_estate itself (so
 * that may be a temporary) but BORROWS its arrays: cmids, pools, desktops
 * and the desktops' hostnames, and the reserved plans with their
 * decommission and provision arrays must stay alive and unchanged until
 * fc_prepared_free().
 */
struct fc_prepared;

/**
 * Prepares @a e for many fc_evaluate_prepared() calls.  Costs about what
 * one fc_evaluate() costs; uses e->now, capacity, threshold, host renewal
 * and reserved plans, but neither e->margin nor e->horizon_seconds.
 * @param e the estate (validated like fc_evaluate() does)
 * @param max_horizon_seconds the largest horizon later calls may ask for, >= 0
 * @param[out] out receives the prepared estate, NULL on error
 * @return 0 on success, -1 on invalid input or out of memory
 */
int fc_prepare(const struct fc_estate *e, int64_t max_horizon_seconds, struct fc_prepared **out);

/**
 * Releases a prepared estate; NULL is allowed.
 * @param p the prepared estate
 */
void fc_prepared_free(struct fc_prepared *p);

/**
 * Same results as fc_evaluate (e, plan, max_decommission_pool, out) where e
 * is the prepared estate with its margin replaced by @a margin and its
 * horizon by @a horizon_seconds.  Reads @a p only.  Fast path: a plan at or
 * before now (or no plan and no future reserved plan); a later plan time
 * recomputes the stops of the decommission order: O(n), about 2 ms at 100k.
 * @param p the prepared estate
 * @param margin floor = threshold + margin
 * @param horizon_seconds H, 0 .. the prepared max_horizon_seconds
 * @param plan the plan to evaluate, or NULL for the baseline
 * @param max_decommission_pool pool index, or -1 for the whole host
 * @param[out] out the result; release with fc_result_free(), also after an error
 * @return 0 on success, -1 on out of memory or invalid input
 */
int fc_evaluate_prepared(const struct fc_prepared *p, int32_t margin, int64_t horizon_seconds,
                         const struct fc_plan *plan, int32_t max_decommission_pool,
                         struct fc_result *out);

/**
 * fc_pick_decommission() of the prepared estate, without recomputing it.
 * @param p the prepared estate
 * @param pool pool index, or -1 for the whole host
 * @param[out] out receives up to @a n desktop indices
 * @param n capacity of @a out
 * @return number of indices written; 0 also on invalid input
 */
size_t fc_pick_decommission_prepared(const struct fc_prepared *p, int32_t pool, int32_t *out,
                                     size_t n);

/* ------------------------------------------ several hosts (section 6) */

/**
 * Splits @a n desktops over hosts by weight, rounded down per host:
 * floor(n * w / total), so the forecast never relies on a lucky draw.
 * @param n desktops, >= 0
 * @param weights k weights, each >= 1
 * @param k number of hosts, >= 1
 * @param[out] share k counts
 * @return 0, or -1 on invalid input
 */
int fc_split_by_weight(int64_t n, const int32_t *weights, size_t k, int64_t *share);

/**
 * The @a k latest of @a n times, ascending: the moved CMIDs a receiving
 * host is credited with when only some of them come to it (the latest
 * arrivals: errs low).
 * @param times n times, any order
 * @param n number of times
 * @param k how many to keep, <= n
 * @param[out] out k times
 */
void fc_latest_times(const int64_t *times, size_t n, size_t k, int64_t *out);

#endif
