"""Issue 23: gates over several KMS hosts of one product, each case reduced
from a randomized comparison with kms-model.md section 6 and worked by hand
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


def test_case5_a_retirement_with_another_plan_is_refused(svc):
    c = svc.client()
    setup(c)
    for extra in ({"decommission": {"pool": "p", "count": 1}},
                  {"provision": [{"pool": "p", "count": 1}]}):
        body = dict(extra, retire_kms_host={"name": "kms-b"})
        r = c.post("/v1/gate", body)
        expect(r.status == 422, "%r: %r" % (body, r))
