"""Random gate plans over random estates of 2-4 KMS hosts of one family,
compared with spec_model.py, a restatement of kms-model.md sections 3 and 6
written from the spec's text (not from the service's code).

Each estate (hosts with their own threshold, capacity, margin and renewal
interval; pinned and discovering pools, unique CMIDs or clones; active,
powered-off and decommissioned desktops, unseen and rearmed ones; PCs with
requests on one or two hosts) is built through the API in one service, then
every plan kind is asked of POST /v1/gate: decommission by names and by pool
and count, provision, retirement, decommission with provision, with and
without `kms_host` and `at`, some of them invalid (422). The answer's status,
decision, evaluated hosts, binding host, per-host results (floor, current
count, baseline and planned minimum with their times, first breach, steps),
the picked desktops, `max_decommission` and the stranded pools must be what
the restatement says. Where spec_model.py marks the text as AMBIGUOUS it
takes the reading that errs low and fails on a difference, naming the other
readings (spec_model.ALTERNATIVES) that would change that answer; only
`max_decommission` of plans that do not decommission from a pool ("the whole
host" of several) is counted and printed, not failed.

  KG_RANDOM_PLANS=N       plans to compare (default 240; the long form: 5000)
  KG_RANDOM_PLANS_SEED=S  first seed (default 2323); estate i uses seed S*100000+i
  KG_SPEC_READINGS=K,...  compare with the other reading of these open rules
                          (keys of spec_model.ALTERNATIVES) instead of the low one
                          (default: DEFAULT_READINGS below, the service's open readings;
                          empty: the low reading of every rule)

On a mismatch it prints the seed, the estate and the plan reduced (a greedy
removal of requests, desktops, pools and hosts rebuilt through the API while
the same class of disagreement stays), both answers, and fails."""
import json
import os
import random
import time
import uuid

import openapi_check
import spec_model
from estate import create_host, put_desktop
from harness import Client, Service, expect, expect_status, no_service, q

# KG_SPEC_READINGS: comma-separated keys of spec_model.ALTERNATIVES, to compare with
# the other reading of those open rules instead of the one that errs low. The default
# is the service's reading where it has not (yet) adopted the low one, each an OPEN
# reading of the spec text, not a settled rule:
#   renewal-own-host: R of a pool without its own interval whose desktop renews on
#     another host of the family. The service takes the pool's own (first) host's
#     interval; the low reading takes the smaller of the two for a status and the
#     larger for projected renewals. Left for a change of the forecast's interval per
#     CMID (forecast*.c, estate loads); KG_SPEC_READINGS= (empty) compares with the
#     low reading.
DEFAULT_READINGS = "renewal-own-host"
READINGS = frozenset(r for r in os.environ.get("KG_SPEC_READINGS", DEFAULT_READINGS).split(",")
                     if r)
STRICT_SKIP = 30          # seconds past an estate's now0 where boundaries lie (see render)
ESTATES_PER_SERVICE = 25  # a fresh database now and then keeps each estate load small


# ---------------------------------------------------------------------- drawing
def draw_estate(rng):
    """An estate with local names and request times in minutes before its now0."""
    names = sorted(rng.sample("abcdefgh", rng.randint(2, 4)))
    hosts = []
    for name in names:
        threshold = rng.randint(2, 8)
        margin = rng.choice([0, 0, 0, 1, 2])
        capacity = 50 if rng.random() < 0.8 else threshold + margin + rng.randint(0, 4)
        hosts.append({"name": name, "threshold": threshold, "capacity": capacity,
                      "margin": margin, "renewal": rng.choice([10080, 10080, 4320, 1440, 20160])})
    est = {"hosts": hosts, "pools": [], "desktops": [], "requests": []}
    used = {}

    def add(host, cmid, client, minutes):
        minutes = max(1, minutes)
        while minutes in used.setdefault(cmid, set()):
            minutes += 1
        used[cmid].add(minutes)
        est["requests"].append([host, cmid, client, minutes])
        return minutes

    by_name = {h["name"]: h for h in hosts}
    n = 0
    for h in hosts:
        floor = h["threshold"] + h["margin"]
        for _ in range(rng.randint(max(0, floor - 2), floor + 4)):
            n += 1
            client, cmid, r = "pc%d" % n, "c-pc%d" % n, h["renewal"]
            kind = rng.random()
            if kind < 0.7:          # renewing, or just lapsed
                last = rng.randint(1, r + 1380 if rng.random() < 0.85 else r + 4 * 1440)
                for k in range(rng.randint(2, 3)):
                    add(h["name"], cmid, client, last + k * r + rng.randint(0, 30))
            elif kind < 0.8:        # seen once
                add(h["name"], cmid, client, rng.randint(1, 35 * 1440))
            else:                   # also on another host, before or after
                other = rng.choice([x for x in names if x != h["name"]])
                last = add(h["name"], cmid, client, rng.randint(1, r + 3 * 1440))
                add(h["name"], cmid, client, last + r)
                add(other, cmid, client, last + rng.choice([-1, 1]) * rng.randint(60, 10 * 1440))
    for i in range(rng.randint(1, 3)):
        if rng.random() < 0.6:
            members = rng.sample(names, rng.randint(2, len(names)))
            pool = {"hosts": [[m, rng.choice([1, 1, 2, 3])] for m in members], "pinned": False}
        else:
            pool = {"hosts": [[rng.choice(names), 1]], "pinned": True}
        pool.update(name="p%d" % (i + 1), unique=rng.random() < 0.75,
                    renewal=None if rng.random() < 0.6 else rng.choice([10080, 4320, 1440, 20160]))
        est["pools"].append(pool)
    d = 0
    for pool in est["pools"]:
        r = pool["renewal"] or by_name[pool["hosts"][0][0]]["renewal"]
        cmids = []
        for _ in range(rng.randint(1, 7)):
            d += 1
            client = "d%d" % d
            state = rng.choices(["active", "powered_off", "decommissioned"], [80, 5, 15])[0]
            est["desktops"].append({"name": client, "pool": pool["name"], "state": state})
            kind = rng.random()
            if kind < 0.1:
                continue            # unseen
            if kind < 0.25 and cmids:
                cmid = rng.choice(cmids)        # a clone sharing a CMID of the pool
            else:
                cmid = "c-" + client
                cmids.append(cmid)
            pool_hosts = [m for m, _ in pool["hosts"]]
            home = rng.choice(pool_hosts) if rng.random() < 0.8 else rng.choice(names)
            last = rng.randint(1, r + 4 * 1440) if rng.random() < 0.85 else \
                rng.randint(1, 40 * 1440)
            mins = [add(home, cmid, client, last + k * r + rng.randint(0, 30))
                    for k in range(rng.randint(1, 3))]
            if rng.random() < 0.3:      # cached on another host too
                other = rng.choice([x for x in names if x != home])
                mins.append(add(other, cmid, client, last + rng.randint(-last + 1, 20 * 1440)))
            if rng.random() < 0.07:     # rearmed: an older CMID from the same client
                old = max(mins) + rng.randint(60, 5 * 1440)
                for k in range(rng.randint(1, 2)):
                    add(rng.choice(names), "c-old-" + client, client, old + k * r)
    return est


def draw_plan(rng, est):
    hosts = [h["name"] for h in est["hosts"]]
    pools = {p["name"]: p for p in est["pools"]}
    active = [d for d in est["desktops"] if d["state"] == "active"]
    kind = rng.choices(["names", "pool", "provision", "retire", "combo", "retire+dec"],
                       [28, 28, 20, 18, 5, 1])[0]
    if kind in ("names", "combo", "retire+dec") and not active:
        kind = "provision"
    plan = {"kind": kind}
    if kind in ("names", "combo", "retire+dec"):
        named = rng.sample(active, rng.randint(1, min(4, len(active))))
        plan["decommission"] = {"desktops": [x["name"] for x in named]}
        listing = [m for m, _ in pools[rng.choice(named)["pool"]]["hosts"]]
    if kind == "pool":
        pool = rng.choice(list(pools))
        n = sum(1 for d in active if d["pool"] == pool)
        count = n + 1 if n == 0 or rng.random() < 0.08 else rng.randint(1, n)
        plan["decommission"] = {"pool": pool, "count": count}
        listing = [m for m, _ in pools[pool]["hosts"]]
    if kind in ("provision", "combo"):
        items = [{"pool": rng.choice(list(pools)), "count": rng.randint(1, 10)}
                 for _ in range(1 if rng.random() < 0.8 else 2)]
        plan["provision"] = items
        if kind == "provision":
            listing = [m for m, _ in pools[items[0]["pool"]]["hosts"]]
    if kind.startswith("retire"):
        retired = rng.choice(hosts)
        plan["retire"] = {"name": retired, "at": None}
        listing = [h for h in hosts if h != retired]
    r = rng.random()
    if r < 0.4:
        plan["kms_host"] = rng.choice(listing)
    elif r < 0.5:
        plan["kms_host"] = rng.choice(hosts if kind != "retire" else listing)
    horizon = None if rng.random() < 0.5 else rng.randint(5, 60)
    plan["horizon_days"] = horizon
    reach = (horizon or 45) * 1440 - 10
    r = rng.random()
    if r < 0.4:
        plan["at"] = rng.randint(1, reach)                  # minutes after now0
    elif r < 0.55:
        plan["at"] = -rng.randint(1, 5 * 1440)              # in the past: taken as now
    if kind == "retire" and "at" in plan and plan["at"] > 0 and rng.random() < 0.5:
        plan["retire"]["at"] = plan.pop("at")
    plan["dry_run"] = rng.random() < 0.8
    return plan


# ---------------------------------------------------------------------- rendering
class Names:
    """Local names of an estate turned into the service's names under a tag."""

    def __init__(self, tag):
        self.tag = tag

    def host(self, x):
        return "%s-%s.kms.example" % (self.tag, x)

    def pool(self, x):
        return "%s-%s" % (self.tag, x)

    def client(self, x):
        return "%s-%s.corp.example" % (self.tag, x)

    def cmid(self, x):
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, "%s/%s" % (self.tag, x)))


def request_time(now0, minutes):
    # Requests sit 30 s past a minute of now0 and plan times on one, so every
    # boundary of the model falls 30 s past a minute of now0: an evaluation in
    # that very second is not compared (its sub-second could go either way).
    return now0 + 30 - 60 * minutes


def render_estate(est, names, now0):
    return {
        "hosts": [dict(h, name=names.host(h["name"])) for h in est["hosts"]],
        "pools": [dict(p, name=names.pool(p["name"]),
                       hosts=[[names.host(h), w] for h, w in p["hosts"]]) for p in est["pools"]],
        "desktops": [dict(d, name=names.client(d["name"]), pool=names.pool(d["pool"]))
                     for d in est["desktops"]],
        "requests": [[names.host(h), names.cmid(c), names.client(cl), request_time(now0, m)]
                     for h, c, cl, m in est["requests"]],
    }


def render_plan(plan, names, now0):
    body = {}
    if plan.get("kms_host"):
        body["kms_host"] = names.host(plan["kms_host"])
    if plan.get("at") is not None:
        body["at"] = spec_model.iso(now0 + 60 * plan["at"])
    if plan.get("horizon_days"):
        body["horizon_days"] = plan["horizon_days"]
    dec = plan.get("decommission")
    if dec and "desktops" in dec:
        body["decommission"] = {"desktops": [names.client(d) for d in dec["desktops"]]}
    elif dec:
        body["decommission"] = {"pool": names.pool(dec["pool"]), "count": dec["count"]}
    if plan.get("provision"):
        body["provision"] = [{"pool": names.pool(i["pool"]), "count": i["count"]}
                             for i in plan["provision"]]
    if plan.get("retire"):
        body["retire_kms_host"] = {"name": names.host(plan["retire"]["name"])}
        if plan["retire"].get("at") is not None:
            body["retire_kms_host"]["at"] = spec_model.iso(now0 + 60 * plan["retire"]["at"])
    if plan.get("dry_run"):
        body["dry_run"] = True
    return body


def build(c, est, names, now0):
    """The estate through the API: hosts, pools, desktops, then each host's events."""
    for h in est["hosts"]:
        create_host(c, names.host(h["name"]), threshold=h["threshold"], capacity=h["capacity"],
                    margin=h["margin"], renewal_interval_minutes=h["renewal"])
    for p in est["pools"]:
        body = {"name": names.pool(p["name"]), "platform": "horizon",
                "unique_cmids": p["unique"]}
        if p["pinned"]:
            body["kms_host"] = names.host(p["hosts"][0][0])
        else:
            body["kms_hosts"] = [{"name": names.host(h), "weight": w} for h, w in p["hosts"]]
        if p["renewal"] is not None:
            body["renewal_interval_minutes"] = p["renewal"]
        expect_status(c.post("/v1/pools", body), 201)
    for d in est["desktops"]:
        put_desktop(c, names.client(d["name"]), names.pool(d["pool"]), state=d["state"])
    for h in est["hosts"]:
        events = [{"cmid": names.cmid(cm), "client": names.client(cl),
                   "requested_at": spec_model.iso(request_time(now0, m)), "hresult": "0x0",
                   "required_count": 25}
                  for host, cm, cl, m in est["requests"] if host == h["name"]]
        if events:
            r = c.post("/v1/kms-hosts/%s/activations" % q(names.host(h["name"])), events)
            expect(r.status == 200 and r.json["accepted"] == len(events), "ingest: %r" % r)


# ---------------------------------------------------------------------- comparing
HOST_FIELDS = ("decision", "floor", "current_count", "baseline_min", "projected_min",
               "projected_min_at", "first_breach_at")
TIME_FIELDS = ("projected_min_at", "first_breach_at", "baseline_min_at")


def shown(v, field):
    return spec_model.iso(v) if field in TIME_FIELDS and v is not None else v


def compare(plan, want, resp):
    """[(class, detail)] of every difference; classes ending in '?' are where the
    spec is open (counted, not failed)."""
    if resp.status != want["status"]:
        return [("status", "service %d, spec %d (%s)" % (resp.status, want["status"],
                                                         want.get("field", "")))]
    if want["status"] != 200:
        return []
    doc = resp.json
    out = []
    if doc["decision"] != want["decision"]:
        out.append(("decision", "service %s, spec %s" % (doc["decision"], want["decision"])))
    if plan.get("retire"):
        if sorted(doc.get("stranded_pools") or []) != want["stranded_pools"]:
            out.append(("stranded", "service %r, spec %r" % (doc.get("stranded_pools"),
                                                             want["stranded_pools"])))
        if not want["hosts"]:
            return out      # a retirement touching no host: only the decision is specified
    got = {h["kms_host"]: h for h in doc["hosts"]}
    if sorted(got) != sorted(want["hosts"]):
        out.append(("hosts", "service %s, spec %s" % (sorted(got), sorted(want["hosts"]))))
    if doc["kms_host"] != want["binding"]:
        out.append(("binding", "service %s, spec %s" % (doc["kms_host"], want["binding"])))
    elif want["binding"] is not None:
        top = want["hosts"][want["binding"]]
        for f in HOST_FIELDS[1:] + ("baseline_min_at",):
            if doc[f] != shown(top[f], f):
                out.append(("top." + f, "service %r, spec %r" % (doc[f], shown(top[f], f))))
    for name in sorted(set(got) & set(want["hosts"])):
        g, w = got[name], want["hosts"][name]
        for f in HOST_FIELDS:
            if g[f] != shown(w[f], f):
                out.append(("host." + f, "%s: service %r, spec %r" % (name, g[f], shown(w[f], f))))
        steps = [(spec_model.iso(t), n) for t, n in w["steps"]]
        g_steps = [(s["at"], s["count"]) for s in g["steps"]]
        if g_steps != steps:
            out.append(("host.steps", "%s: service %r, spec %r" % (name, g_steps, steps)))
    dec = plan.get("decommission") or {}
    if "pool" in dec and sorted(doc["decommission"]) != sorted(want["decommission"]):
        out.append(("picks", "service %r, spec %r" % (doc["decommission"], want["decommission"])))
    if want["max_decommission"] is not None and doc["max_decommission"] != want["max_decommission"]:
        cls = "max_decommission" if want["max_decommission_strict"] else "max_decommission?"
        out.append((cls, "service %d, spec %d" % (doc["max_decommission"],
                                                 want["max_decommission"])))
    return out


def hard(diffs):
    return [d for d in diffs if not d[0].endswith("?")]


def ask(c, est, plan, names, now0, rendered=None):
    """One gate; returns (diffs, want, resp), or None when not comparable (evaluated in
    the second where the estate's boundaries lie)."""
    rendered = rendered or render_estate(est, names, now0)
    body = render_plan(plan, names, now0)
    resp = Client(c.port, c.token, check=False).post("/v1/gate", body)
    schema = []
    try:
        openapi_check.check("POST", "/v1/gate", resp.status, resp.headers, resp.body)
    except AssertionError as why:
        schema = [("openapi", str(why).splitlines()[-1].strip())]
    now = now0
    if resp.status == 200:
        now = spec_model.parse_time(resp.json["evaluated_at"])
        if (now - now0) % 60 == STRICT_SKIP:
            return None
    want = spec_model.SpecModel(rendered, now, READINGS).gate(body)
    diffs = schema + compare(plan, want, resp)
    if hard(diffs):
        want["readings"] = spec_model.readings(rendered, now, body, READINGS)
    return diffs, want, resp


# ---------------------------------------------------------------------- reducing
class Reducer:
    """Greedy reduction of a disagreeing estate and plan, each try rebuilt through the
    API under a new tag, kept while the same classes of difference stay."""

    def __init__(self, c, tag, budget_s=45, budget_tries=150):
        self.c, self.tag, self.n = c, tag, 0
        self.deadline = time.time() + budget_s
        self.tries = budget_tries

    def still(self, est, plan, classes):
        if time.time() > self.deadline or self.tries <= 0:
            return False
        self.tries -= 1
        self.n += 1
        names = Names("%s-m%d" % (self.tag, self.n))
        now0 = int(time.time())
        try:
            build(self.c, est, names, now0)
            got = ask(self.c, est, plan, names, now0)
        except (AssertionError, KeyError):
            return False
        return got is not None and classes <= {d[0] for d in hard(got[0])}

    def candidates(self, est, plan):
        """Smaller estates and plans, biggest cuts first."""
        named = set((plan.get("decommission") or {}).get("desktops", []))
        pools_used = {d["pool"] for d in est["desktops"]}
        pools_used.update(i["pool"] for i in plan.get("provision") or [])
        pools_used.add((plan.get("decommission") or {}).get("pool"))
        for cmid in sorted({r[1] for r in est["requests"]}):
            yield dict(est, requests=[r for r in est["requests"] if r[1] != cmid]), plan
        for d in est["desktops"]:
            if d["name"] not in named:
                yield dict(est, desktops=[x for x in est["desktops"] if x is not d],
                           requests=[r for r in est["requests"] if r[2] != d["name"]]), plan
        for i in range(len(est["requests"])):
            yield dict(est, requests=est["requests"][:i] + est["requests"][i + 1:]), plan
        for p in est["pools"]:
            if p["name"] not in pools_used:
                yield dict(est, pools=[x for x in est["pools"] if x is not p]), plan
        used = {r[0] for r in est["requests"]} | {plan.get("kms_host")}
        used |= {h for p in est["pools"] for h, _ in p["hosts"]}
        used.add((plan.get("retire") or {}).get("name"))
        for h in est["hosts"]:
            if h["name"] not in used:
                yield dict(est, hosts=[x for x in est["hosts"] if x is not h]), plan
        for key in ("kms_host", "at", "horizon_days"):
            if plan.get(key) is not None:
                yield est, dict(plan, **{key: None})

    def reduce(self, est, plan, classes):
        """Keeps a cut while every class of hard difference in `classes` stays."""
        pos, progress = 0, False
        while True:
            cands = list(self.candidates(est, plan))
            if pos >= len(cands):
                if not progress:
                    return est, plan
                pos, progress = 0, False
                continue
            if self.still(cands[pos][0], cands[pos][1], classes):
                est, plan, progress = cands[pos][0], cands[pos][1], True
            else:
                pos += 1


def brief(resp):
    if resp.status != 200:
        return {"status": resp.status, "body": resp.body.decode("utf-8", "replace")[:400]}
    doc = resp.json
    keep = ("decision", "kms_host", "evaluated_at", "projected_min", "projected_min_at",
            "first_breach_at", "max_decommission", "decommission", "stranded_pools", "reasons")
    out = {k: doc.get(k) for k in keep}
    out["hosts"] = [{k: h[k] for k in ("kms_host", "decision", "floor", "current_count",
                                       "baseline_min", "projected_min", "projected_min_at",
                                       "first_breach_at")} for h in doc["hosts"]]
    return out


def spec_brief(want):
    if want["status"] != 200:
        return want
    return {"decision": want["decision"], "binding": want["binding"],
            "max_decommission": want["max_decommission"], "decommission": want["decommission"],
            "stranded_pools": want["stranded_pools"],
            "hosts": [{k: shown(v, k) for k, v in h.items() if k != "steps"}
                      for h in want["hosts"].values()]}


def report(seed, est, plan, diffs, want, resp):
    print("MISMATCH seed %s (%s)" % (seed, ", ".join(sorted({d[0] for d in diffs}))))
    for d in diffs:
        print("  %s: %s" % d)
    if want.get("readings"):
        print("  readings of an open spec text that applied: %s" % "; ".join(want["readings"]))
    print("  estate (request times in minutes before now, each 30 s past the minute):")
    print("  " + json.dumps(est, sort_keys=True))
    print("  plan (at: minutes after now): " + json.dumps(plan, sort_keys=True))
    print("  service: " + json.dumps(brief(resp), sort_keys=True))
    print("  spec:    " + json.dumps(spec_brief(want), sort_keys=True), flush=True)


# ---------------------------------------------------------------------- the test
def plans_wanted():
    return int(os.environ.get("KG_RANDOM_PLANS", "240"))


class Tally:
    """Counts of the comparison, and the disagreements shown reduced (the first of each
    class and plan kind, four at most)."""

    def __init__(self):
        self.stats = {"compared": 0, "skipped": 0, "422": 0, "kinds": {}, "classes": {},
                      "open": {}, "readings": {}}
        self.failures = []
        self.reduced = set()

    def bump(self, bucket, key):
        self.stats[bucket][key] = self.stats[bucket].get(key, 0) + 1

    def add(self, plan, diffs, want):
        """Counts one compared plan; True when it disagrees (a hard difference)."""
        self.stats["compared"] += 1
        self.stats["422"] += want["status"] == 422
        self.bump("kinds", plan["kind"])
        for cls, _ in diffs:
            self.bump("open" if cls.endswith("?") else "classes", "%s/%s" % (cls, plan["kind"]))
        for text in want.get("readings", []) if hard(diffs) else []:
            self.bump("readings", text)
        return bool(hard(diffs))

    def show(self, c, where, est, plan, got):
        """Prints a disagreement, then reduced, unless one of its kind was shown."""
        diffs, want, resp = got
        key = (hard(diffs)[0][0], plan["kind"])
        if key in self.reduced or len(self.reduced) >= 4:
            return
        self.reduced.add(key)
        report(where, est, plan, diffs, want, resp)
        tag = "x%d" % len(self.reduced)
        small_est, small_plan = Reducer(c, tag).reduce(est, plan, {d[0] for d in hard(diffs)})
        names, now0 = Names(tag + "-min"), int(time.time())
        build(c, small_est, names, now0)
        again = ask(c, small_est, small_plan, names, now0)
        if again is not None and hard(again[0]):
            report(where + ", reduced", small_est, small_plan, *again)

    def summary(self, estates, seconds):
        s = self.stats
        print("random plans: %d compared, %d not compared (boundary second), %d of them 422, "
              "kinds %s, %d estates, %.1fs" % (s["compared"], s["skipped"], s["422"],
                                               json.dumps(s["kinds"], sort_keys=True), estates,
                                               seconds))
        print("random plans: differences by class/plan kind %s; where the spec is open %s" % (
            json.dumps(s["classes"], sort_keys=True), json.dumps(s["open"], sort_keys=True)))
        print("random plans: disagreeing plans whose answer another reading of an open rule "
              "would change (spec_model.ALTERNATIVES): %s"
              % json.dumps(s["readings"], sort_keys=True), flush=True)


@no_service
def test_random_plans_against_the_spec_restatement():
    wanted = plans_wanted()
    expect(READINGS <= set(spec_model.ALTERNATIVES), "KG_SPEC_READINGS: keys of %s"
           % sorted(spec_model.ALTERNATIVES))
    first_seed = int(os.environ.get("KG_RANDOM_PLANS_SEED", "2323"))
    tally = Tally()
    svc, i, start = None, 0, time.time()
    try:
        while tally.stats["compared"] < wanted:
            if i % ESTATES_PER_SERVICE == 0:
                if svc is not None:
                    expect(svc.stop() == 0, "kmsgate exited non-zero")
                    svc.drop()
                svc = Service().start()
            c = svc.client()
            seed = first_seed * 100000 + i
            rng = random.Random(seed)
            est = draw_estate(rng)
            plans = [draw_plan(rng, est) for _ in range(16)]
            names, now0 = Names("e%d" % i), int(time.time())
            build(c, est, names, now0)
            rendered = render_estate(est, names, now0)
            i += 1
            for k, plan in enumerate(plans):
                got = ask(c, est, plan, names, now0, rendered)
                if got is None:
                    tally.stats["skipped"] += 1
                elif tally.add(plan, got[0], got[1]):
                    tally.failures.append(seed)
                    tally.show(c, "%d plan %d" % (seed, k), est, plan, got)
    finally:
        if svc is not None:
            svc.stop()
            svc.drop()
    tally.summary(i, time.time() - start)
    expect(not tally.failures, "%d of %d plans disagree with the spec (seeds %s)"
           % (len(tally.failures), tally.stats["compared"], sorted(set(tally.failures))[:20]))
