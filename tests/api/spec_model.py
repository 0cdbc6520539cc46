"""An independent restatement of the gate, written from the TEXT of
shared/spec/kms-model.md (sections 3 and 6) and shared/spec/api.md (the
`POST /v1/gate` contract), never from the service's C code: comparing the
service with a copy of its own functions would only prove that it agrees with
itself. Each rule quotes the spec sentence it comes from. Where the text is
open, the reading that errs low (a `no-go` rather than a `go`) is taken and
marked "AMBIGUOUS" here; test_plans_random.py counts the answers that differ
only there apart from real disagreements.

Input: an estate of one family (hosts, pools, desktops, activation requests
with absolute Unix times), the evaluation time `now` (the answer's
`evaluated_at`) and a gate request body as sent over HTTP. Output: the
expected answer (status, decision, hosts, binding host, picks,
max_decommission, stranded pools).

The estate, as a dict:
  hosts:    [{name, threshold, capacity, margin, renewal}]   renewal in minutes
  pools:    [{name, hosts: [[host, weight], ...], pinned: bool,
              renewal: minutes or None, unique: bool}]       (pinned: one host)
  desktops: [{name, pool, state}]                            state active|powered_off|decommissioned
  requests: [[host, cmid, client, t]]                        t Unix seconds
"""
import calendar
import time

MIN = 60
DAY = 86400
# "E = 30 days (exact: 2,592,000 s)"
E = 30 * DAY
# "grace = 24 h"
GRACE = DAY
# "horizon H = 45 days by default (request field horizon_days, 1 to 365)"
DEFAULT_HORIZON_DAYS = 45
NEG_INF = float("-inf")


def parse_time(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Invalid(Exception):
    """The plan is a 422."""


class Effects:
    """What a plan changes: CMIDs whose renewals stop (with their new last
    request), CMIDs arriving on hosts (from a time on, renewing there), and
    the hosts it touches."""

    def __init__(self):
        self.stopped = {}       # cmid -> its last request after the stop
        self.arrivals = {}      # host -> {cmid or new-CMID key: first request}
        self.touched = set()
        self.retired = None     # the retired host, for a retirement

    def arrive(self, host, key, at):
        slot = self.arrivals.setdefault(host, {})
        slot[key] = min(slot.get(key, at), at)


# The other readings of the AMBIGUOUS rules below: readings() tries each and names
# those that would change an answer.
ALTERNATIVES = {
    "pc-requests-on-every-host": "a PC's 2 requests counted over every host, not its home host",
    "clone-cmid-newest": "a clone pool's newest CMID on every receiving host",
    "retire-pinned-nowhere": "a retirement moves a pinned pool's CMIDs nowhere",
    "renewal-own-host": "a pool without its own interval has its own (first) host's",
    "renewal-renewing-host": "a pool without its own interval has the renewing host's",
}


class SpecModel:
    def __init__(self, estate, now, alt=frozenset()):
        self.estate = estate
        self.alt = alt      # keys of ALTERNATIVES: read those rules the other way
        self.now = now
        self.hosts = {h["name"]: h for h in estate["hosts"]}
        self.pools = {p["name"]: p for p in estate["pools"]}
        self.desktops = {d["name"]: d for d in estate["desktops"]}
        self.last_on = {}       # (cmid, host) -> latest request there
        self.latest = {}        # cmid -> (time, host, client) of its newest request
        self.n_on = {}          # (cmid, host) -> requests seen there
        newest_by_client = {}   # client -> (time, cmid)
        for host, cmid, client, t in estate["requests"]:
            key = (cmid, host)
            self.last_on[key] = max(self.last_on.get(key, t), t)
            if cmid not in self.latest or t > self.latest[cmid][0]:
                self.latest[cmid] = (t, host, client)
            self.n_on[key] = self.n_on.get(key, 0) + 1
            if client not in newest_by_client or t > newest_by_client[client][0]:
                newest_by_client[client] = (t, cmid)
        # "A desktop is linked to its CMID by client name over all hosts of the same
        # family (the newest request on any host wins)."
        self.link = {d: newest_by_client[d][1] for d in self.desktops if d in newest_by_client}
        self.sharers = {}
        for d, c in sorted(self.link.items()):
            self.sharers.setdefault(c, []).append(d)
        self.status = {c: self._status(c) for c in self.latest}

    # ------------------------------------------------------------------ intervals
    def pool_hosts(self, pool):
        """[(host, weight)] of a pool: its pinned host, or its discovery list."""
        return [(h, w) for h, w in self.pools[pool]["hosts"]]

    def lists(self, pool, host):
        return any(h == host for h, _ in self.pool_hosts(pool))

    def pool_renewal(self, pool, c, pick):
        """"R = the pool's renewal interval (by default the host's, 10080 min ...)".
        AMBIGUOUS: which host's, for a pool of several hosts or whose desktop renews
        on another host than its pool's? The pool's own host (the first listed:
        openapi's `effective_renewal_interval_minutes`) or the host the CMID renews
        with (section 1: clients adopt the interval "from its first answer"). The
        reading that errs low takes `pick` of the two: the smaller for a status, the
        larger for projected renewals and moves, as section 3 does for shared CMIDs."""
        p = self.pools[pool]
        if p["renewal"] is not None:
            return p["renewal"] * MIN
        own = self.host_renewal(p["hosts"][0][0])
        there = self.host_renewal(self.home(c))
        if "renewal-own-host" in self.alt:
            return own
        if "renewal-renewing-host" in self.alt:
            return there
        return pick(own, there)

    def host_renewal(self, host):
        return self.hosts[host]["renewal"] * MIN

    def active(self, d):
        return self.desktops[d]["state"] == "active"

    def home(self, c):
        """"A CMID renews only on the host of its latest request"."""
        return self.latest[c][1]

    def last(self, c):
        return self.latest[c][0]

    def renewal_of(self, c, desktops=None, later=False):
        """R of a CMID: "for a CMID not linked to any desktop, the host's; for a CMID
        shared by desktops of pools with different intervals: the smallest of its
        active desktops' for its status, the largest of the decommissioned desktops'
        for their projected renewals". `desktops`: the decommissioned ones; `later`:
        for a move (its first renewal after a retirement), erring low like them."""
        linked = self.sharers.get(c, [])
        act = [d for d in linked if self.active(d)]
        if desktops or (later and act):
            return max(self.pool_renewal(self.desktops[d]["pool"], c, max)
                       for d in desktops or act)
        if act:
            return min(self.pool_renewal(self.desktops[d]["pool"], c, min) for d in act)
        if linked:
            return max(self.pool_renewal(self.desktops[d]["pool"], c, max) for d in linked)
        return self.host_renewal(self.home(c))

    def _status(self, c):
        """"renewing if (a) some desktop with that CMID is active and
        now - last(c) <= R + grace, or (b) no desktop has that CMID, the client of
        its latest request is not a registered desktop, c has at least 2 seen
        requests, and now - last(c) <= R + grace." "lapsing otherwise"."""
        age = self.now - self.last(c)
        linked = self.sharers.get(c, [])
        if linked:
            act = [d for d in linked if self.active(d)]
            return "renewing" if act and age <= self.renewal_of(c) + GRACE else "lapsing"
        client = self.latest[c][2]
        # "c has at least 2 seen requests". AMBIGUOUS: seen where? Section 6 takes a
        # CMID's status "from its requests on every host of the family", but a PC seen
        # once on each of two hosts has not shown that it renews with either; the
        # reading that errs low counts the requests on its home host only.
        home = self.home(c)
        seen = self.n_on[(c, home)]
        if "pc-requests-on-every-host" in self.alt:
            seen = sum(n for (cc, _), n in self.n_on.items() if cc == c)
        if client not in self.desktops and seen >= 2 and age <= self.host_renewal(home) + GRACE:
            return "renewing"
        return "lapsing"

    def renewing(self, c):
        return self.status.get(c) == "renewing"

    def cached_on(self, c):
        """Hosts where the CMID is in the cache now (a request in the last 30 days).
        AMBIGUOUS: a host's cache also keeps only its `capacity` most recent CMIDs;
        that eviction is ignored, which touches more hosts (errs low)."""
        return sorted(h for (cc, h), t in self.last_on.items() if cc == c and t + E > self.now)

    # ------------------------------------------------------------------ the count
    def coverage(self, host, eff):
        """Per CMID on the host: (end of its counted entry, or None; time from
        which it requests and renews there, or None)."""
        cov = {}
        for (c, h), last_h in self.last_on.items():
            if h != host:
                continue
            end, forever = last_h + E, None
            # "A renewing CMID requests at last(c) + k*R for every k >= 1": on its home host.
            # "on any other host where it is cached it lapses at its last request there + 30 days"
            if self.home(c) == host and self.renewing(c):
                if eff is not None and c in eff.stopped:
                    end = eff.stopped[c] + E
                else:
                    forever = NEG_INF
            cov[c] = [end, forever]
        if eff is not None:
            for key, at in eff.arrivals.get(host, {}).items():
                slot = cov.setdefault(key, [None, None])
                slot[1] = at if slot[1] is None else min(slot[1], at)
        return cov

    def count(self, host, cov, t):
        """"count(t) = min(capacity, number of CMIDs with a request r such that
        r <= t < r + E)"."""
        n = sum(1 for end, frm in cov.values()
                if (end is not None and t < end) or (frm is not None and t >= frm))
        return min(self.hosts[host]["capacity"], n)

    def steps(self, host, cov, start, end):
        """The count over [start, end] ("both ends included") as [(at, count)]."""
        points = {start}
        for e, frm in cov.values():
            for x in (e, frm):
                if x is not None and start < x <= end:
                    points.add(x)
        out = []
        for t in sorted(points):
            n = self.count(host, cov, t)
            if not out or out[-1][1] != n:
                out.append((t, n))
        return out

    def host_result(self, host, eff, start, end, floor):
        base = self.coverage(host, None)
        planned = self.coverage(host, eff)
        b_steps = self.steps(host, base, start, end)
        p_steps = self.steps(host, planned, start, end)
        b_min = min(n for _, n in b_steps)
        p_min = min(n for _, n in p_steps)
        breach = next((t for t, n in p_steps if n < floor), None)
        return {
            "kms_host": host,
            "decision": "go" if p_min >= floor else "no-go",
            "floor": floor,
            "current_count": self.count(host, base, self.now),
            "baseline_min": b_min,
            "baseline_min_at": next(t for t, n in b_steps if n == b_min),
            "projected_min": p_min,
            "projected_min_at": next(t for t, n in p_steps if n == p_min),
            "first_breach_at": breach,
            "steps": p_steps,
        }

    # ------------------------------------------------------------------ picks
    def rank(self, candidates):
        """Section 3: "first those whose CMID another active desktop ... shares, then
        those whose CMID is lapsing or unseen, each of these two groups by hostname;
        then the rest by latest request first, ties by hostname. The groups are formed
        once, from the estate before any pick." Section 6: "They are ranked once, by
        the order of section 3 applied to the family"."""
        shared, lapsing, rest = [], [], []
        for d in candidates:
            c = self.link.get(d)
            if c is not None and any(o != d and self.active(o) for o in self.sharers[c]):
                shared.append(d)
            elif c is None or not self.renewing(c):
                lapsing.append(d)
            else:
                rest.append(d)
        rest.sort(key=lambda d: (-self.last(self.link[d]), d))
        return sorted(shared) + sorted(lapsing) + rest

    def pool_candidates(self, pool):
        """"the candidates are all active desktops of the pool, whichever host their
        CMIDs are cached on"."""
        return self.rank([d for d, v in self.desktops.items() if v["pool"] == pool and
                          self.active(d)])

    # ------------------------------------------------------------------ plan effects
    def decommission(self, eff, names, t):
        """"d stops at t. If its CMID is renewing, it keeps renewing only while another
        active desktop outside the plan shares it; otherwise its last request is the
        latest of last(c) and the renewals last(c) + k*R (k >= 1) with
        now < last(c) + k*R <= t." "Decommissioning a desktop stops its renewals, and
        touches every host where its CMID is cached." """
        plan = set(names)
        for d in names:
            c = self.link.get(d)
            if c is None:   # "An active desktop whose CMID has never been seen counts nothing"
                continue
            eff.touched.update(self.cached_on(c))
            if not self.renewing(c) or c in eff.stopped:
                continue
            if any(o not in plan and self.active(o) for o in self.sharers[c]):
                continue
            r = self.renewal_of(c, [o for o in self.sharers[c] if o in plan])
            last = self.last(c)
            k = max(0, (t - last) // r)      # the last renewal at or before t
            credited = [last + j * r for j in range(1, k + 1) if self.now < last + j * r <= t]
            eff.stopped[c] = max([last] + credited)

    def split(self, pool, n):
        """"Provisioning n desktops adds to each host floor(n * weight / total weight)
        new CMIDs (the expected split, rounded down)"."""
        hosts = self.pool_hosts(pool)
        total = sum(w for _, w in hosts)
        return [(h, n * w // total) for h, w in hosts]

    def provision(self, eff, items, t):
        summed = {}
        for item in items:   # "A pool named twice counts once with the summed count."
            summed[item["pool"]] = summed.get(item["pool"], 0) + item["count"]
        for pool, n in summed.items():
            shares = self.split(pool, n)
            if self.pools[pool]["unique"]:
                for h, k in shares:
                    for i in range(k):
                        eff.arrive(h, "new:%s:%s:%d" % (pool, h, i), t)
                    if k:
                        eff.touched.add(h)
                continue
            # "a pool with unique_cmids=false adds its one shared CMID only to a host that
            # gets at least one desktop by that rule (or to its only host)"; "when a
            # desktop of p already has a CMID (the most recently seen one, if they
            # differ), that CMID requests again from t and renews ... only a pool with no
            # known CMID adds one new CMID at t". AMBIGUOUS: "a desktop of p" is read as
            # a desktop in any state, and "most recently seen" over several hosts as the
            # pool's CMID that adds the least to each receiving host (the one cached there
            # longest: a CMID renewing there adds nothing), which errs low.
            known = sorted({self.link[d] for d, v in self.desktops.items()
                            if v["pool"] == pool and d in self.link})
            newest = max(known, key=self.last) if known else None
            receivers = [h for h, k in shares if k >= 1]
            if len(shares) == 1 and n >= 1:
                receivers = [shares[0][0]]
            for h in receivers:
                key = max(known, key=lambda c: self.cached_until(c, h, eff)) if known \
                    else "new:%s" % pool
                if known and "clone-cmid-newest" in self.alt:
                    key = newest
                eff.arrive(h, key, t)
                eff.touched.add(h)

    def cached_until(self, c, host, eff):
        """When the CMID's entry on the host ends with the plan's stops (inf: renews there)."""
        last = self.last_on.get((c, host))
        if last is None:
            return NEG_INF
        if self.home(c) == host and self.renewing(c):
            return eff.stopped[c] + E if c in eff.stopped else float("inf")
        return last + E

    def retire(self, eff, host, t):
        """Section 6, "Retiring a host". Returns the stranded pools."""
        eff.retired = host
        # "A pool pinned to the retired host (or left with no host) makes the answer no-go"
        stranded = sorted(p for p, v in self.pools.items()
                          if not [h for h, _ in v["hosts"] if h != host])
        moving = {}
        for c in sorted(self.latest):
            # "Each CMID renewing on it moves at its first renewal after t"
            if self.home(c) != host or not self.renewing(c):
                continue
            linked = self.sharers.get(c, [])
            if not linked:
                continue    # "a CMID of no desktop moves nowhere and lapses"
            # AMBIGUOUS: a CMID shared by desktops of several pools goes with the pool of
            # its first desktop by name (the generator never shares across pools).
            pool = self.desktops[linked[0]]["pool"]
            r = self.renewal_of(c, later=True)
            k = (t - self.last(c)) // r + 1
            moving.setdefault(pool, []).append((c, self.last(c) + k * r))
        for pool, cmids in sorted(moving.items()):
            # "the CMIDs of a discovering pool's desktops are split over that pool's
            # remaining hosts by the provisioning rule above (by weight, rounded down per
            # host, the remainder counted nowhere)". AMBIGUOUS: the text names discovering
            # pools only; a pool pinned to another host (its desktops' CMIDs renew on the
            # retired one) is read as sending them to its pinned host (its one remaining
            # host), which evaluates that host too.
            remaining = [(h, w) for h, w in self.pool_hosts(pool) if h != host]
            if self.pools[pool]["pinned"] and "retire-pinned-nowhere" in self.alt:
                remaining = []
            total = sum(w for _, w in remaining)
            for h, w in remaining:
                k = len(cmids) * w // total
                if k == 0:
                    continue
                # "A moved CMID is a CMID, not a new one: where the receiving host already
                # caches it, it adds nothing until that entry would have ended. ... each
                # receiving host is forecast with the k moved CMIDs that add the least to it
                # (the latest to add coverage there)."
                def adds_from(item):
                    c, at = item
                    there = self.last_on.get((c, h))
                    return max(at, there + E) if there is not None else at
                for c, at in sorted(cmids, key=adds_from, reverse=True)[:k]:
                    eff.arrive(h, c, at)
                eff.touched.add(h)
        return stranded

    # ------------------------------------------------------------------ the gate
    def validate(self, body):
        host = body.get("kms_host")
        if host is not None and host not in self.hosts:
            raise Invalid("kms_host")
        dec = body.get("decommission")
        prov = body.get("provision") or []
        retire = body.get("retire_kms_host")
        # "a gate with retire_kms_host and also a decommission or provision is 422"
        if retire is not None and (dec is not None or prov):
            raise Invalid("retire_kms_host")
        if retire is not None and retire["name"] not in self.hosts:
            raise Invalid("retire_kms_host.name")
        if dec is not None and "desktops" in dec:
            names = dec["desktops"]
            if len(set(names)) != len(names):
                raise Invalid("decommission.desktops")
            for d in names:
                if d not in self.desktops or not self.active(d):
                    raise Invalid("decommission.desktops")
                # "with kms_host given, each named desktop must be in a pool that lists
                # that host (pinned or among its kms_hosts), else 422; without it, any
                # active desktop may be named"
                if host is not None and not self.lists(self.desktops[d]["pool"], host):
                    raise Invalid("decommission.desktops")
        if dec is not None and "pool" in dec:
            pool = dec["pool"]
            if pool not in self.pools:
                raise Invalid("decommission.pool")
            # api.md: "every named pool must list it, pinned or among its kms_hosts"
            if host is not None and not self.lists(pool, host):
                raise Invalid("decommission.pool")
            # api.md: "a count larger than the pool's active desktops is a 422"
            if dec["count"] > len(self.pool_candidates(pool)):
                raise Invalid("decommission.count")
        for item in prov:
            if item["pool"] not in self.pools or \
                    (host is not None and not self.lists(item["pool"], host)):
                raise Invalid("provision.pool")

    def plan_time(self, body):
        at = body.get("at")
        retire = body.get("retire_kms_host")
        if retire is not None and retire.get("at") is not None:
            at = retire["at"]
        # "A plan time before now is taken as now"
        return self.now if at is None else max(self.now, parse_time(at))

    def effects(self, body, names, t):
        eff = Effects()
        stranded = None
        if body.get("retire_kms_host") is not None:
            stranded = self.retire(eff, body["retire_kms_host"]["name"], t)
        if names:
            self.decommission(eff, names, t)
        self.provision(eff, body.get("provision") or [], t)
        if body.get("kms_host") is not None:
            eff.touched.add(body["kms_host"])
        return eff, stranded

    def named_pools(self, body, names):
        pools = {self.desktops[d]["pool"] for d in names}
        dec = body.get("decommission") or {}
        if "pool" in dec:
            pools.add(dec["pool"])
        pools.update(item["pool"] for item in body.get("provision") or [])
        return pools

    def evaluated_hosts(self, body, names, eff):
        """"A gate evaluates every host its plan touches: the request's kms_host if
        given, each host where a decommissioned desktop's CMID is cached, each host
        that receives provisions, and for a retirement each remaining host that
        receives moved CMIDs." "Only a plan that touches no host at all (its CMIDs
        cached nowhere, its provisions rounding down to nothing everywhere, no
        kms_host) evaluates every host of the pools it names." AMBIGUOUS: the pools a
        plan of named desktops names are read as those desktops' pools."""
        if eff.touched or eff.retired is not None:
            return set(eff.touched)
        hosts = set()
        for pool in self.named_pools(body, names):
            hosts.update(h for h, _ in self.pool_hosts(pool))
        return hosts

    def evaluate_on(self, hosts, eff, start, end):
        out = {}
        for h in sorted(hosts):
            v = self.hosts[h]
            # "threshold + margin is the gate's floor"
            out[h] = self.host_result(h, eff, start, end, v["threshold"] + v["margin"])
        return out

    def gate(self, body):
        """The expected answer to POST /v1/gate with this body."""
        try:
            self.validate(body)
        except Invalid as why:
            return {"status": 422, "field": str(why)}
        horizon = body.get("horizon_days", DEFAULT_HORIZON_DAYS) * DAY
        end = self.now + horizon
        t = self.plan_time(body)
        # "Window. From start = max(now, earliest plan time) to now + H"
        start = t
        dec = body.get("decommission") or {}
        pool = dec.get("pool")
        names = list(dec.get("desktops", []))
        if pool is not None:
            names = self.pool_candidates(pool)[:dec["count"]]
        eff, stranded = self.effects(body, names, t)
        hosts = self.evaluated_hosts(body, names, eff)
        results = self.evaluate_on(hosts, eff, start, end)
        # "go only if every one of them stays at or above its own floor"
        decision = "go" if all(r["decision"] == "go" for r in results.values()) else "no-go"
        if stranded:
            decision = "no-go"
        # "its top-level fields are those of the binding host (lowest planned minimum
        # minus floor; ties by name)"
        binding = min(results, key=lambda h: (results[h]["projected_min"] - results[h]["floor"],
                                              h)) if results else None
        answer = {"status": 200, "decision": decision, "hosts": results, "binding": binding,
                  "decommission": names, "stranded_pools": stranded,
                  "start": start, "end": end}
        answer["max_decommission"], answer["max_decommission_strict"] = \
            self.max_decommission(body, names, hosts, t, start, end)
        return answer

    def max_decommission(self, body, names, hosts, t, start, end):
        """"max_decommission is the largest k that keeps every touched host at go";
        "the largest decommission that could replace the plan's own, at the plan's
        time, with the plan's provisions ...: from the plan's pool, or from the whole
        host when the plan names desktops". Returns (k, strict): strict only for a plan
        that decommissions from a pool. AMBIGUOUS: each k is evaluated on the hosts of
        the answer and those the k picks (and the plan's provisions) touch: more hosts
        err low; the answer's hosts already follow "a plan that touches no host at all"
        when it applies, so a k = 0 that touches nothing adds no host. For named desktops
        and provisions "the whole host" is read as the pools listing the request's
        host, else the pools the plan names; a retirement has none (not compared)."""
        if body.get("retire_kms_host") is not None:
            return None, False
        dec = body.get("decommission") or {}
        if "pool" in dec:
            candidates, strict = self.pool_candidates(dec["pool"]), True
        else:
            host = body.get("kms_host")
            pools = {p for p in self.pools if host is not None and self.lists(p, host)} or \
                self.named_pools(body, names)
            candidates = self.rank([d for d, v in self.desktops.items()
                                    if v["pool"] in pools and self.active(d)])
            strict = False
        best = 0
        for k in range(0, len(candidates) + 1):
            eff, _ = self.effects(body, candidates[:k], t)
            on = set(hosts) | eff.touched
            results = self.evaluate_on(on, eff, start, end)
            if not all(r["decision"] == "go" for r in results.values()):
                break
            best = k
        return best, strict


def summary(answer):
    """What test_plans_random.py compares of an answer."""
    if answer["status"] != 200:
        return answer["status"]
    hosts = {h: {k: v for k, v in r.items()} for h, r in answer["hosts"].items()}
    return (answer["decision"], answer["binding"], hosts, answer["decommission"],
            answer["max_decommission"], answer["stranded_pools"])


def readings(estate, now, body, alt=frozenset()):
    """The other readings (ALTERNATIVES, besides `alt`) that would change the answer."""
    answer = summary(SpecModel(estate, now, alt).gate(body))
    return [text for key, text in sorted(ALTERNATIVES.items()) if key not in alt and
            summary(SpecModel(estate, now, alt | {key}).gate(body)) != answer]
