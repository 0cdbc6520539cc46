"""Issue 23: gates over several KMS hosts of one product, each case reduced
from a randomized comparison with docs/model.md §6 and worked by hand
from the spec. Setup: windows hosts kms-a and kms-b (floor 25), pool p
discovering over both (registered on kms-a, its first host), desktops dN in
p linked by client name; "k PCs" are k CMIDs of no desktop with requests
170 h and 2 h ago."""
from estate import cmid_for, create_host, create_pool, event, ingest, iso, now_s, put_desktop
from harness import expect, expect_problem, expect_status

HOUR = 3600


def setup(c, pool_hosts=("kms-a", "kms-b")):
    create_host(c, "kms-a")
    create_host(c, "kms-b")
    r = c.post("/v1/pools", {"name": "p", "platform": "horizon",
                             "kms_hosts": [{"name": h} for h in pool_hosts]})
    expect_status(r, 201)


def desktop(n):
    return "d%d.corp.example" % n


def pcs(c, host, n, now, prefix):
    events = []
    for i in range(n):
        name = "%s-%02d.corp.example" % (prefix, i)
        events += [event(name, cmid_for(name), now - h * HOUR) for h in (170, 2)]
    ingest(c, events, host)


def seen(c, host, client, cmid, now, *hours):
    ingest(c, [event(client, cmid, now - h * HOUR) for h in hours], host)


def test_case1_a_retirement_counts_a_moved_cmid_once(svc):
    """X (d1) is cached on kms-a (now-217h) and renews on kms-b (now-49h).
    Retiring kms-b moves X to kms-a at now+119h, where it is already cached:
    it adds nothing until that entry ends (now+503h). L, seen once on kms-a at
    now-480h, expires at now+240h: kms-a falls from 25 to 24, no-go (the
    service counted X twice: 25, 26 at now+119h, 25 at now+240h, go)."""
    c = svc.client()
    setup(c)
    now = now_s()
    put_desktop(c, desktop(1), "p")
    x = cmid_for("X")
    seen(c, "kms-a", desktop(1), x, now, 217)
    seen(c, "kms-a", "l.corp.example", cmid_for("L"), now, 480)
    pcs(c, "kms-a", 23, now, "pc-a")
    seen(c, "kms-b", desktop(1), x, now, 49)
    expect(c.get("/v1/kms-hosts/kms-a").json["current_count"] == 25, "kms-a counts 25")
    r = c.post("/v1/gate", {"retire_kms_host": {"name": "kms-b"}, "horizon_days": 15})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "no-go", doc)
    expect(doc["kms_host"] == "kms-a" and doc["projected_min"] == 24, doc)
    expect(doc["projected_min_at"] == iso(now + 240 * HOUR), doc)
    expect([h["kms_host"] for h in doc["hosts"]] == ["kms-a"], doc["hosts"])
    expect(max(s["count"] for s in doc["steps"]) == 25, "X never counts twice: %r" % doc["steps"])


def case2_estate(c):
    setup(c)
    now = now_s()
    put_desktop(c, desktop(1), "p")
    put_desktop(c, desktop(2), "p")
    seen(c, "kms-b", desktop(1), cmid_for("X1"), now, 178, 10)
    pcs(c, "kms-b", 30, now, "pc-b")
    seen(c, "kms-a", desktop(2), cmid_for("X2"), now, 173, 5)
    pcs(c, "kms-a", 24, now, "pc-a")
    return now


def test_case2_candidates_are_ranked_once_over_the_family(svc):
    """X1 (d1) renews on kms-b, X2 (d2) on kms-a; both are renewing and X2 is
    the later request, so "one of p" picks d2 whichever host the request
    names: kms-a falls 25 -> 24 at now+715h, no-go. The service picked d1
    from kms-a's view (X1 read as unseen there) and said go; with kms_host
    kms-b and count 2 it answered 422 (\"only 1 active desktops\")."""
    c = svc.client()
    now = case2_estate(c)
    for extra in ({}, {"kms_host": "kms-a"}, {"kms_host": "kms-b"}):
        body = dict(extra, decommission={"pool": "p", "count": 1})
        r = c.post("/v1/gate", body)
        expect_status(r, 200)
        doc = r.json
        expect(doc["decommission"] == [desktop(2)], "%r picks d2: %r" % (body, doc))
        expect(doc["decision"] == "no-go", doc)
        expect(doc["kms_host"] == "kms-a" and doc["projected_min"] == 24, doc)
        expect(doc["projected_min_at"] == iso(now - 5 * HOUR + 720 * HOUR), doc)
        expect(not any("removes no renewing CMID" in t for t in doc["reasons"]), doc["reasons"])
        expect(any("removes 1 renewing CMID" in t for t in doc["reasons"]), doc["reasons"])
        expect(doc["max_decommission"] == 0, doc)
    r = c.post("/v1/gate", {"kms_host": "kms-b", "decommission": {"pool": "p", "count": 2}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decommission"] == [desktop(2), desktop(1)], doc)
    expect(doc["decision"] == "no-go", doc)
    by_host = {h["kms_host"]: h for h in doc["hosts"]}
    expect(sorted(by_host) == ["kms-a", "kms-b"], doc["hosts"])
    expect(by_host["kms-a"]["projected_min"] == 24 and by_host["kms-b"]["projected_min"] == 30,
           doc["hosts"])
    r = c.get("/v1/kms-hosts/kms-b/headroom?pool=p")
    expect_status(r, 200)
    expect(r.json["max_decommission"] == 0, "d2 first, and kms-a cannot lose it: %r" % r.json)


def test_case3_named_desktops_of_any_host_of_their_pool(svc):
    """A desktop may be named with any host its pool lists (kms-b for p,
    registered on kms-a), and without kms_host desktops of pools on
    different hosts may be named together; a desktop whose pool does not
    list the request's host is a 422."""
    c = svc.client()
    now = case2_estate(c)
    r = c.post("/v1/gate", {"kms_host": "kms-b", "decommission": {"desktops": [desktop(1)]}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "go" and doc["kms_host"] == "kms-b", doc)
    expect([h["kms_host"] for h in doc["hosts"]] == ["kms-b"], doc["hosts"])
    create_pool(c, "pa", host="kms-a")
    create_pool(c, "pb", host="kms-b")
    put_desktop(c, "da.corp.example", "pa")
    put_desktop(c, "db.corp.example", "pb")
    seen(c, "kms-a", "da.corp.example", cmid_for("da"), now, 170, 3)
    seen(c, "kms-b", "db.corp.example", cmid_for("db"), now, 170, 3)
    r = c.post("/v1/gate", {"decommission": {"desktops": ["da.corp.example", "db.corp.example"]}})
    expect_status(r, 200)
    doc = r.json
    by_host = {h["kms_host"]: h for h in doc["hosts"]}
    expect(sorted(by_host) == ["kms-a", "kms-b"], doc["hosts"])
    expect(by_host["kms-a"]["projected_min"] == 25 and by_host["kms-b"]["projected_min"] == 31,
           doc["hosts"])
    expect(doc["decision"] == "go", doc)
    expect_problem(c.post("/v1/gate", {"kms_host": "kms-a",
                                       "decommission": {"desktops": ["db.corp.example"]}}),
                   422, "decommission.desktops[0]")


def test_case4_a_host_the_plan_does_not_touch_cannot_decide(svc):
    """d1's CMID renews on kms-b among 30 PCs; kms-a (p's first host) is
    empty. Decommissioning d1 touches kms-b only: 31 -> 30, go. The service
    evaluated kms-a too (count 0) and said no-go."""
    c = svc.client()
    setup(c)
    now = now_s()
    put_desktop(c, desktop(1), "p")
    seen(c, "kms-b", desktop(1), cmid_for("X"), now, 170, 2)
    pcs(c, "kms-b", 30, now, "pc-b")
    r = c.post("/v1/gate", {"decommission": {"desktops": [desktop(1)]}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "go", doc)
    expect([h["kms_host"] for h in doc["hosts"]] == ["kms-b"], doc["hosts"])
    expect(doc["kms_host"] == "kms-b" and doc["projected_min"] == 30, doc)
    r = c.post("/v1/gate", {"decommission": {"pool": "p", "count": 1}})
    expect(r.json["decision"] == "go" and [h["kms_host"] for h in r.json["hosts"]] == ["kms-b"],
           r.json)
    # the request's own host is touched when named: kms-a under its floor decides
    r = c.post("/v1/gate", {"kms_host": "kms-a", "decommission": {"desktops": [desktop(1)]}})
    expect(r.json["decision"] == "no-go" and r.json["kms_host"] == "kms-a", r.json)
    # a plan that touches no host evaluates every host of its pools
    put_desktop(c, desktop(9), "p")
    r = c.post("/v1/gate", {"decommission": {"desktops": [desktop(9)]}})
    expect_status(r, 200)
    expect(sorted(h["kms_host"] for h in r.json["hosts"]) == ["kms-a", "kms-b"], r.json)
    expect(r.json["decision"] == "no-go" and r.json["kms_host"] == "kms-a", r.json)


def test_case5_a_retirement_with_another_plan_is_refused(svc):
    c = svc.client()
    setup(c)
    for extra in ({"decommission": {"pool": "p", "count": 1}},
                  {"provision": [{"pool": "p", "count": 1}]}):
        body = dict(extra, retire_kms_host={"name": "kms-b"})
        r = c.post("/v1/gate", body)
        expect(r.status == 422, "%r: %r" % (body, r))


def test_max_decommission_counts_each_host_the_picks_would_touch(svc):
    """d2 (renewing on kms-b, the later request) comes before d1 (renewing on
    kms-a) in p's order. One of p touches kms-b only: go, kms-a not
    evaluated. A second pick would take kms-a from 25 to 24, so the largest
    decommission is 1, whichever host the request names."""
    c = svc.client()
    setup(c)
    now = now_s()
    put_desktop(c, desktop(1), "p")
    put_desktop(c, desktop(2), "p")
    seen(c, "kms-a", desktop(1), cmid_for("X1"), now, 170, 5)
    pcs(c, "kms-a", 24, now, "pc-a")
    seen(c, "kms-b", desktop(2), cmid_for("X2"), now, 170, 2)
    pcs(c, "kms-b", 30, now, "pc-b")
    r = c.post("/v1/gate", {"decommission": {"pool": "p", "count": 1}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decommission"] == [desktop(2)] and doc["decision"] == "go", doc)
    expect([h["kms_host"] for h in doc["hosts"]] == ["kms-b"], doc["hosts"])
    expect(doc["max_decommission"] == 1, doc)
    r = c.post("/v1/gate", {"kms_host": "kms-a", "decommission": {"pool": "p", "count": 1}})
    expect(r.json["decision"] == "go" and r.json["max_decommission"] == 1, r.json)
    expect(sorted(h["kms_host"] for h in r.json["hosts"]) == ["kms-a", "kms-b"], r.json)
    for host in ("kms-a", "kms-b"):
        r = c.get("/v1/kms-hosts/%s/headroom?pool=p" % host)
        expect(r.json["max_decommission"] == 1, "%s: %r" % (host, r.json))
    r = c.post("/v1/gate", {"decommission": {"pool": "p", "count": 2}})
    expect(r.json["decision"] == "no-go" and r.json["kms_host"] == "kms-a", r.json)


def test_a_pool_named_twice_is_provisioned_as_its_sum(svc):
    """Pool q discovers over kms-b (weight 3) and kms-a (weight 1); kms-b has
    30 PCs, kms-a none. Provisioning 2 + 2 into q is 4 of q: kms-a takes
    floor(4 * 1/4) = 1 and is touched (0 < 25: no-go), kms-b floor(12/4) =
    3. The service rounded each item: kms-a 0 + 0 (untouched, go), kms-b
    1 + 1. The single-host path sums too (kms-b's own share of 4)."""
    c = svc.client()
    setup(c)
    now = now_s()
    pcs(c, "kms-b", 30, now, "pc-b")
    r = c.post("/v1/pools", {"name": "q", "platform": "horizon",
                             "kms_hosts": [{"name": "kms-b", "weight": 3},
                                           {"name": "kms-a", "weight": 1}]})
    expect_status(r, 201)
    twice = [{"pool": "q", "count": 2}, {"pool": "q", "count": 2}]
    r = c.post("/v1/gate", {"provision": twice})
    expect_status(r, 200)
    doc = r.json
    by_host = {h["kms_host"]: h for h in doc["hosts"]}
    expect(sorted(by_host) == ["kms-a", "kms-b"], doc["hosts"])
    expect(doc["decision"] == "no-go" and doc["kms_host"] == "kms-a", doc)
    expect(max(s["count"] for s in by_host["kms-b"]["steps"]) == 33, by_host["kms-b"]["steps"])
    once = c.post("/v1/gate", {"provision": [{"pool": "q", "count": 4}]}).json
    expect(once["decision"] == doc["decision"] and once["hosts"] == doc["hosts"], (once, doc))


def test_a_rebuilt_desktops_old_cmid_lapses_on_another_host(svc):
    """d7 (pool pb, pinned to kms-b) was last seen on kms-a with CMID X (498h
    and 162h ago); rebuilt, it now carries Y on kms-b (100h ago). Section 6
    links desktops by client name over the whole family, so X's latest client
    is a registered desktop carrying another CMID: X lapses on kms-a (rule
    (b)) and kms-a falls 25 -> 24 at X's last request + 30 d. The service
    read only kms-a's own desktops and kept X renewing. kms-a's estate is
    cached before d7 is registered, so the refresh must see the change too."""
    c = svc.client()
    setup(c)
    now = now_s()
    create_pool(c, "pb", host="kms-b")
    seen(c, "kms-a", "d7.corp.example", cmid_for("X"), now, 498, 162)
    pcs(c, "kms-a", 24, now, "pc-a")
    r = c.get("/v1/kms-hosts/kms-a/forecast?horizon_days=30")
    expect_status(r, 200)
    expect(r.json["min"] == 25, "X renews while d7 is nobody's: %r" % r.json["min"])
    put_desktop(c, "d7.corp.example", "pb")
    seen(c, "kms-b", "d7.corp.example", cmid_for("Y"), now, 100)
    r = c.get("/v1/kms-hosts/kms-a/forecast?horizon_days=30")
    expect_status(r, 200)
    expect(r.json["min"] == 24 and r.json["min_at"] == iso(now + (720 - 162) * HOUR), r.json)


def test_a_retirement_that_moves_cmids_nowhere_touches_no_host(svc):
    """kms-b serves 3 PCs and no desktop; asked of kms-b itself, retiring it
    moves no CMID, so no host is touched: go (section 6), hosts empty, the
    top-level fields kms-b's own baseline (under its floor: information
    only). The OpenAPI asked for at least one host, which this answer broke
    (every response here is checked against it)."""
    c = svc.client()
    setup(c)
    pcs(c, "kms-b", 3, now_s(), "pc-b")
    r = c.post("/v1/gate", {"kms_host": "kms-b", "retire_kms_host": {"name": "kms-b"}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "go" and doc["hosts"] == [], doc)
    expect(doc["kms_host"] == "kms-b" and doc["current_count"] == 3, doc)


def test_a_retirement_moves_a_pinned_pools_cmids_to_its_host(svc):
    """d1 is in pb, pinned to kms-b, but its CMID renews on kms-a (170h and
    2h ago) beside 30 PCs. Retiring kms-a moves it at its next renewal: the
    text names discovering pools only, and the reading that errs low sends a
    pinned pool's CMIDs to its pinned host, which is then evaluated (empty,
    under its floor: no-go). The service moved them nowhere and said go."""
    c = svc.client()
    setup(c)
    now = now_s()
    create_pool(c, "pb", host="kms-b")
    put_desktop(c, desktop(1), "pb")
    seen(c, "kms-a", desktop(1), cmid_for("X"), now, 170, 2)
    pcs(c, "kms-a", 30, now, "pc-a")
    r = c.post("/v1/gate", {"kms_host": "kms-a", "retire_kms_host": {"name": "kms-a"}})
    expect_status(r, 200)
    doc = r.json
    expect([h["kms_host"] for h in doc["hosts"]] == ["kms-b"], doc)
    expect(doc["decision"] == "no-go" and doc["kms_host"] == "kms-b", doc)
    expect(max(s["count"] for s in doc["hosts"][0]["steps"]) == 1, doc["hosts"][0]["steps"])
