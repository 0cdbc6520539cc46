"""Pools: create, list, read (with desktop counts), patch, delete."""
from estate import create_host as make_host, create_pool as make_pool, put_desktop
from harness import expect, expect_problem, expect_status, q

POOL_FIELDS = {"name", "kms_host", "platform", "renewal_interval_minutes",
               "effective_renewal_interval_minutes", "unique_cmids", "desktops",
               "created_at", "updated_at"}


def test_create_pool_with_defaults(svc):
    c = svc.client()
    make_host(c)
    r = c.post("/v1/pools", {"name": "Finance Pool", "kms_host": "KMS01.corp.example",
                             "platform": "citrix"})
    expect_status(r, 201)
    expect(r.headers.get("location") == "/v1/pools/Finance%20Pool", r.headers)
    p = r.json
    expect(POOL_FIELDS <= set(p), p)
    expect(p["name"] == "Finance Pool" and p["kms_host"] == "kms01.corp.example", p)
    expect(p["platform"] == "citrix" and p["unique_cmids"] is True, p)
    expect(p["renewal_interval_minutes"] is None, p)
    expect(p["effective_renewal_interval_minutes"] == 10080, p)
    expect(p["desktops"] == {"active": 0, "powered_off": 0, "decommissioned": 0}, p)
    r = c.get("/v1/pools/" + q("Finance Pool"))
    expect_status(r, 200)
    expect(r.json == p, (r.json, p))


def test_create_pool_with_values(svc):
    c = svc.client()
    make_host(c)
    p = make_pool(c, "gold", renewal_interval_minutes=1440, unique_cmids=False)
    expect(p["renewal_interval_minutes"] == 1440, p)
    expect(p["effective_renewal_interval_minutes"] == 1440 and p["unique_cmids"] is False, p)
    p = make_pool(c, "silver", renewal_interval_minutes=None)
    expect(p["renewal_interval_minutes"] is None, p)


def test_create_pool_errors(svc):
    c = svc.client()
    make_host(c)
    make_pool(c, "gold")
    base = {"name": "p1", "kms_host": "kms01.corp.example", "platform": "horizon"}

    def post(**change):
        body = dict(base)
        body.update(change)
        for k in [k for k, v in change.items() if v is KeyError]:
            del body[k]
        return c.post("/v1/pools", body)

    doc = expect_problem(post(kms_host="kms09.corp.example"), 422, "kms_host")
    expect("kms09.corp.example" in doc["detail"], doc)
    expect_problem(post(kms_host="not a host"), 422, "kms_host")
    expect_problem(post(kms_host=KeyError), 422, "kms_host")
    expect_problem(post(name=KeyError), 422, "name")
    expect_problem(post(name=""), 422, "name")
    expect_problem(post(name="x" * 129), 422, "name")
    expect_problem(post(name="a/b"), 422, "name")
    expect_problem(post(name="tab\there"), 422, "name")
    expect_problem(post(platform="vmware"), 422, "platform")
    expect_problem(post(renewal_interval_minutes=10), 422, "renewal_interval_minutes")
    expect_problem(post(renewal_interval_minutes="60"), 400, "renewal_interval_minutes")
    expect_problem(post(unique_cmids="yes"), 400, "unique_cmids")
    expect_problem(post(colour="red"), 422, "colour")
    doc = expect_problem(post(name="gold"), 409)
    expect("gold" in doc["detail"], doc)
    expect_problem(c.get("/v1/pools/p1"), 404)


def test_get_pool_counts_desktops_by_state(svc):
    c = svc.client()
    make_host(c)
    make_pool(c, "gold")
    for i in range(3):
        put_desktop(c, "vdi-a%d.corp.example" % i, "gold")
    put_desktop(c, "vdi-b0.corp.example", "gold", state="powered_off")
    put_desktop(c, "vdi-c0.corp.example", "gold", state="decommissioned")
    put_desktop(c, "vdi-c1.corp.example", "gold")
    expect_status(c.delete("/v1/desktops/vdi-c1.corp.example"), 200)
    p = c.get("/v1/pools/gold").json
    expect(p["desktops"] == {"active": 3, "powered_off": 1, "decommissioned": 2}, p)
    items = c.get("/v1/pools").json["items"]
    expect(items[0]["desktops"] == p["desktops"], items)


def test_unusable_pool_paths_are_404(svc):
    c = svc.client()
    for path in ("/v1/pools/nope", "/v1/pools/%ff", "/v1/pools/" + "x" * 300,
                 "/v1/pools/a%09b"):
        expect_problem(c.get(path), 404)
        expect_problem(c.delete(path), 404)
        expect_problem(c.patch(path, {"platform": "other"}), 404)


def test_list_pools_filter_and_cursor(svc):
    c = svc.client()
    make_host(c, "kms01.corp.example")
    make_host(c, "kms02.corp.example")
    names = ["p5", "p3", "p1", "p4", "p2"]
    for n in names:
        make_pool(c, n)
    make_pool(c, "q-other", "kms02.corp.example")
    seen = []
    path = "/v1/pools?kms_host=KMS01.corp.example&limit=2"
    pages = 0
    while path:
        doc = c.get(path).json
        pages += 1
        seen += [p["name"] for p in doc["items"]]
        cursor = doc["next_cursor"]
        path = ("/v1/pools?kms_host=kms01.corp.example&limit=2&cursor=" + q(cursor)) if cursor else None
    expect(pages == 3 and seen == sorted(names), (pages, seen))
    all_items = c.get("/v1/pools").json["items"]
    expect([p["name"] for p in all_items] == sorted(names) + ["q-other"], all_items)
    expect(c.get("/v1/pools?kms_host=kms09.corp.example").json == {"items": [], "next_cursor": None})
    expect_problem(c.get("/v1/pools?kms_host=bad%20host"), 422, "kms_host")
    expect_problem(c.get("/v1/pools?cursor=0a"), 422, "cursor")


def test_patch_pool(svc):
    c = svc.client()
    make_host(c, renewal_interval_minutes=720)
    before = make_pool(c, "gold")
    expect(before["effective_renewal_interval_minutes"] == 720, before)
    r = c.patch("/v1/pools/gold", {"platform": "other", "renewal_interval_minutes": 60,
                                   "unique_cmids": False})
    expect_status(r, 200)
    p = r.json
    expect(p["platform"] == "other" and p["unique_cmids"] is False, p)
    expect(p["renewal_interval_minutes"] == 60 and p["effective_renewal_interval_minutes"] == 60, p)
    r = c.patch("/v1/pools/gold", {"renewal_interval_minutes": None})
    expect_status(r, 200)
    p = r.json
    expect(p["renewal_interval_minutes"] is None and p["effective_renewal_interval_minutes"] == 720, p)
    expect(p["platform"] == "other" and p["unique_cmids"] is False, p)
    # The effective interval follows the host while the pool has none of its own.
    expect_status(c.patch("/v1/kms-hosts/kms01.corp.example", {"renewal_interval_minutes": 900}), 200)
    expect(c.get("/v1/pools/gold").json["effective_renewal_interval_minutes"] == 900)
    expect_problem(c.patch("/v1/pools/gold", {"name": "silver"}), 422, "name")
    expect_problem(c.patch("/v1/pools/gold", {"platform": "x"}), 422, "platform")
    expect_problem(c.patch("/v1/pools/gold", {"unique_cmids": 1}), 400, "unique_cmids")
    expect_problem(c.patch("/v1/pools/gold", {"renewal_interval_minutes": 5}), 422,
                   "renewal_interval_minutes")
    expect_problem(c.patch("/v1/pools/gold", {"size": 5}), 422, "size")
    expect_problem(c.patch("/v1/pools/silver", {"platform": "other"}), 404)


def test_move_pool_to_another_host_only_while_empty(svc):
    c = svc.client()
    make_host(c, "kms01.corp.example")
    make_host(c, "kms02.corp.example")
    make_pool(c, "gold")
    make_pool(c, "silver")
    r = c.patch("/v1/pools/gold", {"kms_host": "KMS02.corp.example"})
    expect_status(r, 200)
    expect(r.json["kms_host"] == "kms02.corp.example", r.json)
    expect_problem(c.patch("/v1/pools/gold", {"kms_host": "kms09.corp.example"}), 422, "kms_host")
    put_desktop(c, "vdi-1.corp.example", "silver", state="decommissioned")
    doc = expect_problem(c.patch("/v1/pools/silver", {"kms_host": "kms02.corp.example"}),
                         422, "kms_host")
    expect("1 desktop" in doc["detail"], doc)
    # Naming the pool's own host is no move.
    r = c.patch("/v1/pools/silver", {"kms_host": "kms01.corp.example", "platform": "citrix"})
    expect_status(r, 200)
    expect(r.json["kms_host"] == "kms01.corp.example" and r.json["platform"] == "citrix")


def test_delete_pool(svc):
    c = svc.client()
    make_host(c)
    make_pool(c, "gold")
    make_pool(c, "silver")
    put_desktop(c, "vdi-1.corp.example", "silver")
    put_desktop(c, "vdi-2.corp.example", "silver", state="decommissioned")
    doc = expect_problem(c.delete("/v1/pools/silver"), 409)
    expect("2 desktops" in doc["detail"] and doc.get("desktops") == 2, doc)
    r = c.delete("/v1/pools/gold")
    expect_status(r, 204)
    expect(r.body == b"")
    expect_problem(c.get("/v1/pools/gold"), 404)
    expect_problem(c.delete("/v1/pools/gold"), 404)
    # The name is free again.
    make_pool(c, "gold")


def test_pool_named_in_a_reserved_plan_cannot_move(svc):
    from estate import create_host, create_pool
    from harness import expect_problem
    c = svc.client()
    create_host(c)
    create_host(c, "kms02.corp.example")
    create_pool(c, "grow")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "margin": 0,
                            "provision": [{"pool": "grow", "count": 30}], "reserve": True})
    assert r.status == 201, r
    r = c.patch("/v1/pools/grow", {"kms_host": "kms02.corp.example"})
    expect_problem(r, 422, "kms_host")
    c.post("/v1/plans/%s/release" % r_plan(c), None)


def r_plan(c):
    return c.get("/v1/plans?state=reserved").json["items"][0]["id"]
