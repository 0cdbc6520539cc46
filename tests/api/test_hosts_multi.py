"""Several KMS hosts per product (docs/model.md §6, example 6): desktops
linked to CMIDs across the hosts of their family, a CMID renewing only on the
host of its newest request, discovering pools with weights, and gates that
evaluate every host they touch."""
import concurrent.futures
import random
import threading

from estate import DAY, cmid_for, create_host, create_pool, event, ingest, iso, now_s, put_desktop
from harness import Client, Service, expect, expect_problem, expect_status, no_service, q


def pcs(c, host, n, last, prefix):
    """n PCs (no desktop) renewing on host: two requests each, 7 days apart."""
    events = []
    for i in range(n):
        name = "%s-%02d.corp.example" % (prefix, i)
        events += [event(name, cmid_for(name), last - k * 7 * DAY) for k in range(2)]
    ingest(c, events, host)


def desktops(c, pool, n, host_of_events, last, prefix="vdi"):
    names = ["%s-%02d.corp.example" % (prefix, i) for i in range(n)]
    events = []
    for name in names:
        put_desktop(c, name, pool)
        events += [event(name, cmid_for(name), last - k * 7 * DAY) for k in range(2)]
    ingest(c, events, host_of_events)
    return names


def count(c, host):
    return c.get("/v1/kms-hosts/" + q(host)).json["current_count"]


def test_example6_discovering_pool_over_two_hosts(svc):
    c = svc.client()
    create_host(c, "kms-a")
    create_host(c, "kms-b")
    now = now_s()
    pcs(c, "kms-a", 20, now - DAY, "pc-a")
    pcs(c, "kms-b", 20, now - DAY, "pc-b")
    r = c.post("/v1/pools", {"name": "p", "platform": "horizon",
                             "kms_hosts": [{"name": "kms-a"}, {"name": "KMS-B", "weight": 1}]})
    expect_status(r, 201)
    expect(r.json["kms_host"] == "kms-a", r.json)
    expect(r.json["kms_hosts"] == [{"name": "kms-a", "weight": 1},
                                   {"name": "kms-b", "weight": 1}], r.json)
    names = desktops(c, "p", 10, "kms-a", now - 2 * DAY)
    expect(count(c, "kms-a") == 30 and count(c, "kms-b") == 20, "counts 30 and 20")
    r = c.get("/v1/pools/p")
    expect(r.json["desktops_by_host"] == {"kms-a": 10}, r.json)
    r = c.post("/v1/gate", {"kms_host": "kms-a", "decommission": {"desktops": names[:5]}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "go" and doc["projected_min"] == 25, doc)
    expect([h["kms_host"] for h in doc["hosts"]] == ["kms-a"], "touches only kms-a: %r" % doc)
    r = c.post("/v1/gate", {"kms_host": "kms-a", "provision": [{"pool": "p", "count": 10}]})
    doc = r.json
    expect(doc["decision"] == "go", doc)
    by_host = {h["kms_host"]: h for h in doc["hosts"]}
    expect(by_host["kms-a"]["projected_min"] == 35 and by_host["kms-b"]["projected_min"] == 25,
           "each host gets floor(10 * 1 / 2) = 5 new CMIDs: %r" % doc["hosts"])
    # the binding host is the one closest to its floor
    expect(doc["kms_host"] == "kms-b" and doc["floor"] == 25, doc)
    # without kms_host the pool names it
    r = c.post("/v1/gate", {"provision": [{"pool": "p", "count": 10}]})
    expect_status(r, 200)
    expect(sorted(h["kms_host"] for h in r.json["hosts"]) == ["kms-a", "kms-b"], r.json)
    r = c.post("/v1/gate", {"decommission": {"desktops": names[:1]}})
    expect(r.json["decision"] == "go" and r.json["hosts"][0]["kms_host"] == "kms-a", r.json)
    expect_problem(c.post("/v1/gate", {"horizon_days": 30}), 422, "kms_host")
    expect_problem(c.post("/v1/gate", {"provision": [{"pool": "nope", "count": 1}]}), 422,
                   "provision[0].pool")
    expect_problem(c.post("/v1/pools", {"name": "q", "platform": "horizon", "kms_host": "kms-a",
                                        "kms_hosts": [{"name": "kms-a"}]}), 422, "kms_host")
    r = c.patch("/v1/pools/p", {"kms_hosts": [{"name": "kms-a", "weight": 3}, {"name": "kms-b"}]})
    expect_status(r, 200)
    expect(r.json["kms_hosts"] == [{"name": "kms-a", "weight": 3},
                                   {"name": "kms-b", "weight": 1}], r.json)
    r = c.post("/v1/gate", {"provision": [{"pool": "p", "count": 8}], "dry_run": True})
    by_host = {h["kms_host"]: h for h in r.json["hosts"]}
    expect(by_host["kms-a"]["steps"][-1]["count"] == 36 and
           by_host["kms-b"]["steps"][-1]["count"] == 22, "6 and 2 of 8: %r" % r.json["hosts"])
    expect_problem(c.patch("/v1/pools/p", {"kms_hosts": [{"name": "kms-b"}]}), 422, "kms_hosts")
    expect_status(c.patch("/v1/pools/p", {"kms_hosts": None}), 200)
    expect(c.get("/v1/pools/p").json["kms_hosts"] == [], "pinned again")
    create_host(c, "office-c", family="office")
    expect_problem(c.post("/v1/pools", {"name": "q", "platform": "horizon",
                                        "kms_hosts": [{"name": "kms-a"}, {"name": "office-c"}]}),
                   422, "kms_hosts[1].name")


def test_decommission_touches_the_host_where_the_cmids_are_cached(svc):
    """The motivating case: a pool registered on kms-a whose desktops activated
    on kms-b. Decommissioning them leaves kms-a alone but takes kms-b under
    its floor: no-go, naming kms-b."""
    c = svc.client()
    create_host(c, "kms-a")
    create_host(c, "kms-b")
    create_pool(c, "p", host="kms-a")
    now = now_s()
    pcs(c, "kms-a", 26, now - DAY, "pc-a")
    pcs(c, "kms-b", 20, now - DAY, "pc-b")
    names = desktops(c, "p", 10, "kms-b", now - 2 * DAY)
    expect(c.get("/v1/desktops/" + names[0]).json["cmid"] == cmid_for(names[0]),
           "linked from the other host's events")
    expect(count(c, "kms-a") == 26 and count(c, "kms-b") == 30, "counts 26 and 30")
    expect(c.get("/v1/kms-hosts/kms-b").json["pools"] == [{"pool": "p", "desktops": 10}], "pools")
    expect(c.get("/v1/kms-hosts/kms-a").json["pools"] == [], "no desktop renews on kms-a")
    r = c.post("/v1/gate", {"kms_host": "kms-a", "decommission": {"desktops": names[:6]}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "no-go", doc)
    expect(sorted(h["kms_host"] for h in doc["hosts"]) == ["kms-a", "kms-b"], doc["hosts"])
    expect(doc["kms_host"] == "kms-b" and doc["projected_min"] == 24, doc)
    expect(doc["first_breach_at"] == iso(now - 2 * DAY + 30 * DAY), doc)
    expect(doc["max_decommission"] == 5, doc)
    expect(any("kms-b" in reason for reason in doc["reasons"]), doc["reasons"])
    r = c.get("/v1/kms-hosts/kms-a/headroom?pool=p")
    expect(r.json["max_decommission"] == 5, "headroom over both hosts: %r" % r.json)
    r = c.post("/v1/gate", {"kms_host": "kms-a", "decommission": {"desktops": names[:5]}})
    expect(r.json["decision"] == "go", r.json)
    r = c.post("/v1/gate", {"kms_host": "kms-a", "decommission": {"desktops": names[:5]},
                            "reserve": True})
    expect_status(r, 201)
    # the reservation holds kms-b too: its baseline now has the 5 stops
    r = c.get("/v1/kms-hosts/kms-b/forecast")
    expect(r.json["min"] == 25 and r.json["reserved_plans"] == 1, r.json)
    r = c.post("/v1/gate", {"kms_host": "kms-a", "decommission": {"desktops": names[5:6]}})
    expect(r.json["decision"] == "no-go" and r.json["kms_host"] == "kms-b", r.json)


def test_a_cmid_renews_only_on_the_host_of_its_newest_request(svc):
    c = svc.client()
    create_host(c, "kms-a")
    create_host(c, "kms-b")
    create_pool(c, "p", host="kms-a")
    now = now_s()
    put_desktop(c, "vdi-1.corp.example", "p")
    cmid = cmid_for("vdi-1")
    ingest(c, [event("vdi-1.corp.example", cmid, now - 9 * DAY),
               event("vdi-1.corp.example", cmid, now - 3 * DAY)], "kms-a")
    ingest(c, [event("vdi-1.corp.example", cmid, now - DAY)], "kms-b")
    a = c.get("/v1/kms-hosts/kms-a").json
    b = c.get("/v1/kms-hosts/kms-b").json
    expect(a["current_count"] == 1 and a["lapsing"] == 1 and a["renewing"] == 0, a)
    expect(b["current_count"] == 1 and b["renewing"] == 1, b)
    r = c.get("/v1/kms-hosts/kms-a/forecast")
    expect(r.json["min"] == 0 and r.json["min_at"] == iso(now - 3 * DAY + 30 * DAY), r.json)


def test_example7_retire_a_host(svc):
    """kms-a: 26 renewing PCs; kms-b: 20 PCs and the 10 desktops of pool p,
    discovering over kms-b and kms-a. Retiring kms-b moves p's 10 CMIDs to
    kms-a at their next renewals: 26 rises to 36, minimum 26, go. The PCs
    move nowhere. With a pool pinned to kms-b: no-go, naming it."""
    c = svc.client()
    create_host(c, "kms-a")
    create_host(c, "kms-b")
    now = now_s()
    pcs(c, "kms-a", 26, now - DAY, "pc-a")
    pcs(c, "kms-b", 20, now - DAY, "pc-b")
    r = c.post("/v1/pools", {"name": "p", "platform": "horizon",
                             "kms_hosts": [{"name": "kms-b"}, {"name": "kms-a"}]})
    expect_status(r, 201)
    desktops(c, "p", 10, "kms-b", now - 2 * DAY)
    expect(count(c, "kms-a") == 26 and count(c, "kms-b") == 30, "counts 26 and 30")
    r = c.post("/v1/gate", {"retire_kms_host": {"name": "KMS-B"}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "go" and doc["stranded_pools"] == [], doc)
    expect(doc["retire_kms_host"]["name"] == "kms-b", doc)
    expect([h["kms_host"] for h in doc["hosts"]] == ["kms-a"], doc["hosts"])
    expect(doc["kms_host"] == "kms-a" and doc["projected_min"] == 26, doc)
    expect(doc["steps"][-1]["count"] == 36, doc["steps"])
    expect(doc["steps"][-1]["at"] <= iso(now + 7 * DAY), doc["steps"])
    create_pool(c, "q", host="kms-b")
    r = c.post("/v1/gate", {"kms_host": "kms-a", "retire_kms_host": {"name": "kms-b"}})
    doc = r.json
    expect(doc["decision"] == "no-go" and doc["stranded_pools"] == ["q"], doc)
    expect(any("pool q" in reason for reason in doc["reasons"]), doc["reasons"])
    expect_problem(c.post("/v1/gate", {"kms_host": "kms-a", "retire_kms_host": {"name": "nope"}}),
                   422, "retire_kms_host.name")
    expect_problem(c.post("/v1/gate", {"kms_host": "kms-a", "reserve": True,
                                       "retire_kms_host": {"name": "kms-b"}}), 422, "reserve")


def test_a_plan_touching_more_hosts_than_the_gate_evaluates_is_no_go(svc):
    """Two pools over 16 hosts each share only kms-00: a provision into both
    touches 30 other hosts, more than the 16 the gate evaluates, so every
    host staying far above its floor is not enough for a go."""
    c = svc.client()
    hosts = ["kms-%02d" % i for i in range(31)]
    now = now_s()
    for h in hosts:
        create_host(c, h, threshold=1)
        pcs(c, h, 2, now - DAY, "pc-" + h)
    for pool, members in (("p1", hosts[:16]), ("p2", hosts[:1] + hosts[16:])):
        expect_status(c.post("/v1/pools", {"name": pool, "platform": "horizon",
                                           "kms_hosts": [{"name": h} for h in members]}), 201)
    plan = {"kms_host": "kms-00", "provision": [{"pool": "p1", "count": 16}]}
    r = c.post("/v1/gate", plan)
    expect(r.json["decision"] == "go" and len(r.json["hosts"]) == 16, r.json)
    plan["provision"].append({"pool": "p2", "count": 16})
    r = c.post("/v1/gate", plan)
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "no-go" and doc["max_decommission"] == 0, doc)
    expect(len(doc["hosts"]) == 17, "own host and the first 16 others: %r" % doc["hosts"])
    expect(all(h["decision"] == "go" for h in doc["hosts"]), doc["hosts"])
    expect(any("more than 16 other KMS hosts" in reason for reason in doc["reasons"]),
           doc["reasons"])


def test_a_retirement_moving_cmids_to_more_hosts_than_the_gate_evaluates_is_no_go(svc):
    """Two pools discover kms-r and nine other hosts each: retiring kms-r
    moves their CMIDs to 18 hosts, more than the 16 the gate evaluates, so
    the answer is no-go with a reason (it was a 500)."""
    c = svc.client()
    hosts = ["kms-%02d" % i for i in range(1, 19)]
    now = now_s()
    create_host(c, "kms-r", threshold=1)
    for h in hosts:
        create_host(c, h, threshold=1)
    for pool, members in (("p1", hosts[:9]), ("p2", hosts[9:])):
        expect_status(c.post("/v1/pools", {"name": pool, "platform": "horizon",
                                           "kms_hosts": [{"name": h}
                                                         for h in ["kms-r"] + members]}), 201)
        desktops(c, pool, 12, "kms-r", now - 2 * DAY, prefix="vdi-" + pool)
    r = c.post("/v1/gate", {"retire_kms_host": {"name": "kms-r"}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "no-go" and doc["max_decommission"] == 0, doc)
    expect(any("more than 16 other KMS hosts" in reason for reason in doc["reasons"]),
           doc["reasons"])
    expect(len(doc["hosts"]) == 16, [h["kms_host"] for h in doc["hosts"]])


@no_service
def test_two_replicas_race_reservations_over_two_hosts():
    """200 reserving gates from two replicas, each taking one desktop of a pool
    registered on kms-a whose CMIDs sit on kms-a (headroom 4) or kms-b
    (headroom 6): exactly 10 go, neither host under its floor with every plan
    applied, no deadlock error and no 5xx."""
    first = Service(threads=8).start()
    second = Service(database=first.database, migrate=False, threads=8).start()
    try:
        c = first.client()
        create_host(c, "kms-a")
        create_host(c, "kms-b")
        create_pool(c, "p", host="kms-a")
        now = now_s()
        pcs(c, "kms-a", 9, now - DAY, "pc-a")
        pcs(c, "kms-b", 11, now - DAY, "pc-b")
        names = (desktops(c, "p", 20, "kms-a", now - 2 * DAY, prefix="vdi-a")
                 + desktops(c, "p", 20, "kms-b", now - 2 * DAY, prefix="vdi-b"))
        expect(count(c, "kms-a") == 29 and count(c, "kms-b") == 31, "headroom 4 and 6")
        rng = random.Random(14)
        jobs = [([first.port, second.port][i % 2], rng.choice(names)) for i in range(200)]
        barrier = threading.Barrier(64)

        def fire(job):
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass
            return Client(job[0], first.admin_token).post("/v1/gate", {
                "kms_host": "kms-a", "decommission": {"desktops": [job[1]]}, "reserve": True},
                timeout=60)

        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
            responses = list(pool.map(fire, jobs))
        statuses = sorted({r.status for r in responses})
        expect(set(statuses) <= {200, 201, 409}, "unexpected statuses %r" % statuses)
        expect(sum(r.status == 201 for r in responses) == 10, "exactly 10 go: %r" %
               [r.status for r in responses])
        for host in ("kms-a", "kms-b"):
            f = c.get("/v1/kms-hosts/%s/forecast" % host).json
            expect(f["min"] == 25 and f["floor"] == 25, f)
    finally:
        expect(second.stop() == 0)
        expect(first.stop() == 0)
        first.drop()
