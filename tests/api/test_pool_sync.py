"""PUT /v1/pools/{name}/desktops: the pool's complete machine list from its
platform (api.md "Pool sync"): the difference, the dry run, the drop guard,
machines of other pools, the idempotent re-send, large lists, two syncs at
once, and the power state the forecast now uses (docs/model.md §3.3)."""
import threading
import time

from estate import DAY, create_host, create_pool, now_s, put_desktop, renewing_pool
from harness import Client, Service, expect, expect_problem, expect_status, no_service, q

HOST = "kms01.corp.example"


def sync(c, pool, names, status=200, **extra):
    """Syncs @pool with @names (strings, or dicts for power states)."""
    body = {"desktops": [n if isinstance(n, dict) else {"hostname": n} for n in names]}
    body.update(extra)
    r = c.put("/v1/pools/%s/desktops" % q(pool), body)
    expect_status(r, status)
    return r.json


def version(svc):
    return int(svc.sql("SELECT estate_version FROM kms_hosts WHERE name = '%s'" % HOST)[0][0])


def states(c, pool):
    r = c.get("/v1/desktops?pool=%s&limit=1000" % q(pool))
    expect_status(r, 200)
    return {d["hostname"]: d["state"] for d in r.json["items"]}


def setup(c, names=("a", "b", "c", "d")):
    create_host(c, HOST)
    create_pool(c, "p1", HOST)
    for n in names:
        put_desktop(c, "%s.corp.example" % n, "p1")


def fqdn(*names):
    return ["%s.corp.example" % n for n in names]


def test_sync_adds_decommissions_and_resends_idempotently(svc):
    c = svc.client()
    setup(c)
    listed = fqdn("b", "c", "d", "e") + ["F.Corp.Example"]
    doc = sync(c, "p1", listed)
    expect(doc == {"pool": "p1", "added": fqdn("e", "f"), "decommissioned": fqdn("a"),
                   "unchanged": 3, "power_changed": [], "dry_run": False}, doc)
    expect(states(c, "p1") == {"a.corp.example": "decommissioned", "b.corp.example": "active",
                               "c.corp.example": "active", "d.corp.example": "active",
                               "e.corp.example": "active", "f.corp.example": "active"})
    a = c.get("/v1/desktops/a.corp.example").json
    expect(a["decommissioned_at"] is not None, a)
    before, rows = version(svc), svc.sql("SELECT hostname, updated_at FROM desktops ORDER BY 1")
    doc = sync(c, "p1", listed)
    expect(doc == {"pool": "p1", "added": [], "decommissioned": [], "unchanged": 5,
                   "power_changed": [], "dry_run": False}, doc)
    expect(version(svc) == before, "a re-sent list must write nothing (estate version)")
    expect(svc.sql("SELECT hostname, updated_at FROM desktops ORDER BY 1") == rows)


def test_dry_run_answers_the_difference_and_changes_nothing(svc):
    c = svc.client()
    setup(c)
    before, rows = version(svc), svc.sql("SELECT * FROM desktops ORDER BY id")
    listed = fqdn("b", "c", "d", "e")
    doc = sync(c, "p1", listed, dry_run=True)
    expect(doc == {"pool": "p1", "added": fqdn("e"), "decommissioned": fqdn("a"),
                   "unchanged": 3, "power_changed": [], "dry_run": True}, doc)
    expect(version(svc) == before and svc.sql("SELECT * FROM desktops ORDER BY id") == rows,
           "a dry run wrote")
    doc = sync(c, "p1", listed)
    expect(doc["added"] == fqdn("e") and not doc["dry_run"], doc)


def test_drop_guard_refuses_wiping_more_than_half_unless_forced(svc):
    c = svc.client()
    setup(c)
    before = version(svc)
    for listed in ([], fqdn("a")):
        for dry in (False, True):
            r = c.put("/v1/pools/p1/desktops", {"desktops": [{"hostname": h} for h in listed],
                                                "dry_run": dry})
            doc = expect_problem(r, 409)
            expect("more than half" in doc["detail"] and "force" in doc["detail"], doc)
    expect(version(svc) == before)
    expect(set(states(c, "p1").values()) == {"active"})
    doc = sync(c, "p1", fqdn("a", "b"))  # exactly half: allowed
    expect(doc["decommissioned"] == fqdn("c", "d"), doc)
    doc = sync(c, "p1", [], force=True)
    expect(doc["decommissioned"] == fqdn("a", "b"), doc)
    expect(set(states(c, "p1").values()) == {"decommissioned"})
    # an empty pool takes an empty list; a listed decommissioned machine is back
    expect(sync(c, "p1", [])["decommissioned"] == [])
    doc = sync(c, "p1", fqdn("a"))
    expect(doc["added"] == fqdn("a"), doc)
    a = c.get("/v1/desktops/a.corp.example").json
    expect(a["state"] == "active" and a["decommissioned_at"] is None and a["cmid"] is None, a)


def test_a_machine_of_another_pool_is_a_conflict(svc):
    c = svc.client()
    setup(c)
    create_pool(c, "p2", HOST)
    put_desktop(c, "x.corp.example", "p2")
    before = version(svc)
    r = c.put("/v1/pools/p1/desktops",
              {"desktops": [{"hostname": h} for h in fqdn("a", "b", "c", "d", "new", "X")]})
    doc = expect_problem(r, 409, "desktops[5].hostname")
    expect("x.corp.example" in doc["detail"] and "p2" in doc["detail"], doc)
    expect(version(svc) == before)
    expect_status(c.get("/v1/desktops/new.corp.example"), 404)
    expect(c.get("/v1/desktops/x.corp.example").json["pool"] == "p2")


def test_validation(svc):
    c = svc.client()
    setup(c)
    url = "/v1/pools/p1/desktops"
    expect_problem(c.put(url, {"desktops": {"hostname": "a"}}), 400, "desktops")
    expect_problem(c.put(url, {}), 422, "desktops")
    expect_problem(c.put(url, {"desktops": [], "forse": True}), 422, "forse")
    expect_problem(c.put(url, {"desktops": ["a.corp.example"]}), 400, "desktops[0]")
    expect_problem(c.put(url, {"desktops": [{"hostname": "a b"}]}), 422, "desktops[0].hostname")
    expect_problem(c.put(url, {"desktops": [{"hostname": "a.corp.example"},
                                            {"hostname": "A.CORP.EXAMPLE"}]}),
                   422, "desktops[1].hostname")
    expect_problem(c.put(url, {"desktops": [{"hostname": "a.corp.example",
                                             "power_state": "standby"}]}),
                   422, "desktops[0].power_state")
    expect_problem(c.put(url, {"desktops": [{"hostname": "a.corp.example", "pool": "p1"}]}),
                   422, "desktops[0].pool")
    expect_problem(c.put(url, {"desktops": [{"hostname": "a.corp.example",
                                             "platform_id": "x" * 257}]}),
                   422, "desktops[0].platform_id")
    expect_problem(c.put("/v1/pools/nope/desktops", {"desktops": []}), 404)
    reader = c.with_token(svc.create_token("reader", "r"))
    expect_problem(reader.put(url, {"desktops": []}), 403)
    hook = c.with_token(svc.create_token("hook", "h"))
    expect_status(hook.put(url, {"desktops": [{"hostname": h} for h in fqdn("a", "b", "c")]}),
                  200)
    expect_problem(c.put(url, {"desktops": []}, headers={"Content-Type": "text/plain"}), 415)
    big = b'{"desktops": [' + b" " * (4 * 1024 * 1024) + b"]}"
    expect_problem(c.request("PUT", url, raw=big, content_type="application/json"), 413)


def test_power_state_and_platform_id_are_kept_and_shown(svc):
    c = svc.client()
    setup(c, ("a",))
    d = c.get("/v1/desktops/a.corp.example").json
    expect(d["power_state"] == "unknown" and d["platform_id"] is None, d)
    doc = sync(c, "p1", [{"hostname": "a.corp.example", "power_state": "off",
                          "platform_id": "vm-17"},
                         {"hostname": "b.corp.example", "power_state": "on"}])
    expect(doc["added"] == fqdn("b") and doc["power_changed"] == fqdn("a"), doc)
    d = c.get("/v1/desktops/a.corp.example").json
    expect(d["power_state"] == "off" and d["platform_id"] == "vm-17", d)
    expect(c.get("/v1/desktops/b.corp.example").json["power_state"] == "on")
    # unknown, null or no member keep what the platform said last
    before = version(svc)
    doc = sync(c, "p1", [{"hostname": "a.corp.example", "power_state": "unknown"},
                         {"hostname": "b.corp.example", "power_state": None}])
    expect(doc["power_changed"] == [] and version(svc) == before, doc)
    expect(c.get("/v1/desktops/a.corp.example").json["power_state"] == "off")
    # PUT stores what it is given
    r = c.put("/v1/desktops/a.corp.example", {"pool": "p1", "power_state": "unknown",
                                              "platform_id": None})
    expect_status(r, 200)
    expect(r.json["power_state"] == "unknown" and r.json["platform_id"] is None, r.json)
    expect_problem(c.put("/v1/desktops/a.corp.example", {"pool": "p1", "power_state": "of"}),
                   422, "power_state")


def gate_one(c, name):
    r = c.post("/v1/gate", {"kms_host": HOST, "decommission": {"desktops": [name]}})
    expect_status(r, 200)
    return r.json


def test_powered_off_desktops_stop_crediting_renewals(svc):
    """Example 1 of docs/model.md §4: 30 renewing desktops, floor 25. Decommissioning
    one is go. Six reported powered off renew nothing: their entries leave the
    cache 30 days after their last request, the count falls to 24, and the same
    gate is no-go; reported on again, it is go."""
    c = svc.client()
    create_host(c, HOST)
    create_pool(c, "p1", HOST)
    names = renewing_pool(c, "p1", 30, now_s() - 2 * DAY)
    expect(gate_one(c, names[0])["decision"] == "go")
    off = set(names[:6])
    doc = sync(c, "p1", [{"hostname": n, "power_state": "off" if n in off else "on"}
                         for n in names])
    expect(sorted(doc["power_changed"]) == sorted(names), doc)
    g = gate_one(c, names[0])
    expect(g["decision"] == "no-go" and g["baseline_min"] == 24, g)
    expect(g["first_breach_at"] is not None, g)
    expect(any("6 active desktops of this host are reported powered off" in x
               for x in g["reasons"]), g["reasons"])
    f = c.get("/v1/kms-hosts/%s/forecast" % HOST).json
    expect(f["min"] == 24 and f["current_count"] == 30, f)
    d = c.get("/v1/desktops/" + q(names[1])).json
    expect(d["power_state"] == "off" and d["cmid_status"] == "lapsing", d)
    expect(c.get("/v1/desktops/" + q(names[7])).json["cmid_status"] == "renewing")
    # the powered-off desktops are decommissioned first and stop nothing
    h = c.get("/v1/kms-hosts/%s/headroom?pool=p1" % HOST).json
    expect(h["max_decommission"] == 0, h)
    doc = sync(c, "p1", [{"hostname": n, "power_state": "on"} for n in names])
    expect(sorted(doc["power_changed"]) == sorted(off), doc)
    g = gate_one(c, names[0])
    expect(g["decision"] == "go" and g["baseline_min"] == 30, g)
    # the same through PUT /v1/desktops
    for n in names[:6]:
        expect_status(c.put("/v1/desktops/" + q(n), {"pool": "p1", "power_state": "off"}), 200)
    expect(gate_one(c, names[0])["decision"] == "no-go")


def test_a_large_pool_syncs_in_a_few_statements(svc):
    c = svc.client()
    create_host(c, HOST)
    create_pool(c, "big", HOST)
    names = ["vdi-%05d.corp.example" % i for i in range(5000)]
    start = time.time()
    doc = sync(c, "big", [{"hostname": n, "power_state": "on", "platform_id": "id-%d" % i}
                          for i, n in enumerate(names)])
    first = time.time() - start
    expect(len(doc["added"]) == 5000, len(doc["added"]))
    start = time.time()
    doc = sync(c, "big", [{"hostname": n, "power_state": "off" if i % 2 else "on"}
                          for i, n in enumerate(names[100:])])
    second = time.time() - start
    expect(len(doc["decommissioned"]) == 100 and len(doc["power_changed"]) == 2450, doc["unchanged"])
    expect(first < 10 and second < 10, "5,000 machines took %.1fs and %.1fs" % (first, second))
    r = c.get("/v1/pools/big").json
    expect(r["desktops"]["active"] == 4900 and r["desktops"]["decommissioned"] == 100, r)


def test_two_syncs_of_one_pool_run_one_after_the_other(svc):
    c = svc.client()
    setup(c, ())
    first = fqdn(*["m%03d" % i for i in range(0, 300)])
    second = fqdn(*["m%03d" % i for i in range(150, 450)])
    answers = {}

    def run(key, names):
        answers[key] = c.put("/v1/pools/p1/desktops",
                             {"desktops": [{"hostname": n} for n in names], "force": True})

    threads = [threading.Thread(target=run, args=(k, n))
               for k, n in (("first", first), ("second", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in answers.values():
        expect_status(r, 200)
    active = sorted(h for h, s in states(c, "p1").items() if s == "active")
    a, b = answers["first"].json, answers["second"].json
    # whichever ran second saw the first's result and left exactly its own list
    later, earlier = (b, a) if active == second else (a, b)
    expect(active in (first, second), "the pool is neither list: %d active" % len(active))
    expect(len(earlier["added"]) == 300 and len(later["added"]) == 150, (earlier, later))
    expect(len(later["decommissioned"]) == 150 and later["unchanged"] == 150, later)


@no_service
def test_a_refreshed_estate_sees_power_changes():
    """A replica refreshing its cached estate by changed rows answers as one
    that reads it in full after a sync changes power states only."""
    full = Service(extra_env={"KMSGATE_ESTATE_REFRESH": "off"}).start()
    refreshing = Service(database=full.database, migrate=False).start()
    try:
        a = Client(refreshing.port, full.admin_token)
        b = full.client()
        create_host(a, HOST)
        create_pool(a, "p1", HOST)
        names = renewing_pool(a, "p1", 30, now_s() - 2 * DAY)
        forecast = "/v1/kms-hosts/%s/forecast" % HOST
        expect(a.get(forecast).json["min"] == 30)
        for off in (6, 0, 3):
            sync(b, "p1", [{"hostname": n, "power_state": "off" if i < off else "on"}
                           for i, n in enumerate(names)])
            mine, theirs = a.get(forecast).json, b.get(forecast).json
            expect(mine["min"] == theirs["min"] == 30 - off, (off, mine, theirs))
        text = Client(refreshing.port).get("/metrics").body.decode()
        expect('kmsgate_estate_loads_total{kind="refresh"} ' in text
               and 'kmsgate_estate_loads_total{kind="refresh"} 0\n' not in text,
               "the replica should have refreshed")
    finally:
        for s in (refreshing, full):
            expect(s.stop() == 0)
        full.drop()
