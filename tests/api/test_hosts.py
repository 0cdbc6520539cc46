"""KMS hosts: create, list, read, patch, delete, and the duplicate-CMID report."""
import datetime

from estate import DAY, iso, now_s, renewing_pool
from estate import create_host as make_host, create_pool as make_pool
from harness import expect, expect_problem, expect_status, q

HOST_FIELDS = {"name", "family", "threshold", "capacity", "margin", "floor",
               "renewal_interval_minutes", "description", "created_at", "updated_at"}


def test_create_windows_host_with_defaults(svc):
    c = svc.client()
    r = c.post("/v1/kms-hosts", {"name": "kms01.corp.example", "family": "windows"})
    expect_status(r, 201)
    expect(r.headers.get("location") == "/v1/kms-hosts/kms01.corp.example", r.headers)
    h = r.json
    expect(HOST_FIELDS <= set(h), h)
    expect(h["threshold"] == 25 and h["capacity"] == 50 and h["margin"] == 0, h)
    expect(h["floor"] == 25 and h["renewal_interval_minutes"] == 10080, h)
    expect(h["description"] == "" and h["created_at"].endswith("Z"), h)
    expect_status(c.get("/v1/kms-hosts/kms01.corp.example"), 200)


def test_create_office_host_defaults_and_explicit_values(svc):
    c = svc.client()
    h = make_host(c, "kms-office.corp.example", "office")
    expect(h["threshold"] == 5 and h["capacity"] == 10 and h["floor"] == 5, h)
    h = make_host(c, "kms02.corp.example", "windows", threshold=5, capacity=10, margin=3,
                  renewal_interval_minutes=15, description="servers only\nsite B")
    expect(h["threshold"] == 5 and h["capacity"] == 10 and h["margin"] == 3, h)
    expect(h["floor"] == 8 and h["renewal_interval_minutes"] == 15, h)
    expect(h["description"] == "servers only\nsite B", h)


def test_host_names_are_case_insensitive(svc):
    c = svc.client()
    h = make_host(c, "KMS01.Corp.Example")
    expect(h["name"] == "kms01.corp.example", h)
    r = c.get("/v1/kms-hosts/Kms01.CORP.example")
    expect_status(r, 200)
    expect(r.json["name"] == "kms01.corp.example")
    r = c.post("/v1/kms-hosts", {"name": "kms01.corp.EXAMPLE", "family": "office"})
    doc = expect_problem(r, 409)
    expect("kms01.corp.example" in doc["detail"], doc)


def test_create_host_validation_names_fields(svc):
    c = svc.client()
    expect_problem(c.post("/v1/kms-hosts", {}), 422, "name")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example"}), 422, "family")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "linux"}), 422, "family")
    expect_problem(c.post("/v1/kms-hosts", {"name": "bad name", "family": "windows"}), 422, "name")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a" * 300, "family": "windows"}), 422, "name")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                            "renewal_interval_minutes": 14}),
                   422, "renewal_interval_minutes")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                            "renewal_interval_minutes": 43201}),
                   422, "renewal_interval_minutes")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                            "threshold": 0}), 422, "threshold")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                            "margin": -1}), 422, "margin")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                            "description": "x" * 1001}), 422, "description")
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                            "colour": "blue"}), 422, "colour")
    # Wrong JSON types are 400, still naming the field.
    expect_problem(c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                            "threshold": "25"}), 400, "threshold")
    expect_problem(c.post("/v1/kms-hosts", {"name": 7, "family": "windows"}), 400, "name")
    # A NUL inside a string never reaches the database.
    r = c.post("/v1/kms-hosts", {"name": "a.example", "family": "windows",
                                 "description": "a\u0000b"})
    expect(r.status in (400, 422), r)
    expect_status(c.get("/v1/kms-hosts/a.example"), 404)


def test_malformed_bodies(svc):
    c = svc.client()
    expect_problem(c.post("/v1/kms-hosts", raw=b'{"name": ', content_type="application/json"), 400)
    expect_problem(c.post("/v1/kms-hosts", raw=b'[1, 2]', content_type="application/json"), 400)
    expect_problem(c.post("/v1/kms-hosts", raw=b'{"name": "a.example", "family": "windows"}',
                          content_type="text/plain"), 415)
    big = b'{"name": "a.example", "family": "windows", "description": "' + \
        b"x" * (1024 * 1024) + b'"}'
    expect(len(big) > 1024 * 1024 + 1)
    expect_problem(c.post("/v1/kms-hosts", raw=big, content_type="application/json"), 413)
    exact = b" " * (1024 * 1024 + 1)
    expect_problem(c.post("/v1/kms-hosts", raw=exact, content_type="application/json"), 413)
    expect_problem(c.patch("/v1/kms-hosts/a.example", raw=exact,
                           content_type="application/json"), 413)


def test_unknown_and_unusable_path_names_are_404(svc):
    c = svc.client()
    for path in ("/v1/kms-hosts/nope.example", "/v1/kms-hosts/" + "a" * 300,
                 "/v1/kms-hosts/" + q("has space.example"), "/v1/kms-hosts/" + q("\u00e9.example"),
                 "/v1/kms-hosts/%ff%fe", "/v1/kms-hosts/nope.example/duplicates"):
        expect_problem(c.get(path), 404)
        if not path.endswith("duplicates"):
            expect_problem(c.delete(path), 404)
            expect_problem(c.patch(path, {"margin": 1}), 404)


def same_but_clock(a, b):
    """Two documents of one host read moments apart: equal, except that a time
    the forecast takes from the clock (an empty host's minimum is at "now") may
    have moved on by a second or two between the reads."""
    expect(set(a) == set(b), (a, b))
    for key in a:
        if a[key] == b[key]:
            continue
        moved = (key.endswith("_at") and isinstance(a[key], str) and isinstance(b[key], str)
                 and abs((parse_time(a[key]) - parse_time(b[key])).total_seconds()) <= 5)
        expect(moved, (key, a[key], b[key]))


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_patch_host(svc):
    c = svc.client()
    before = make_host(c)
    r = c.patch("/v1/kms-hosts/KMS01.corp.example", {"threshold": 20, "margin": 2,
                                                     "description": "main site"})
    expect_status(r, 200)
    h = r.json
    expect(h["threshold"] == 20 and h["margin"] == 2 and h["floor"] == 22, h)
    expect(h["capacity"] == 50 and h["description"] == "main site", h)
    expect(h["created_at"] == before["created_at"], h)
    r = c.patch("/v1/kms-hosts/kms01.corp.example", {"capacity": 10, "renewal_interval_minutes": 60,
                                                     "description": None})
    expect_status(r, 200)
    expect(r.json["capacity"] == 10 and r.json["renewal_interval_minutes"] == 60, r.json)
    expect(r.json["description"] == "" and r.json["threshold"] == 20, r.json)
    same_but_clock(c.get("/v1/kms-hosts/kms01.corp.example").json, r.json)
    expect_problem(c.patch("/v1/kms-hosts/kms01.corp.example", {"name": "x.example"}), 422, "name")
    expect_problem(c.patch("/v1/kms-hosts/kms01.corp.example", {"family": "office"}), 422, "family")
    expect_problem(c.patch("/v1/kms-hosts/kms01.corp.example", {"margin": "1"}), 400, "margin")
    expect_problem(c.patch("/v1/kms-hosts/kms01.corp.example", {"margin": 10001}), 422, "margin")
    expect_problem(c.patch("/v1/kms-hosts/kms01.corp.example", {"thresold": 3}), 422, "thresold")
    expect(c.get("/v1/kms-hosts/kms01.corp.example").json["margin"] == 2)


def test_delete_host_and_refusal_while_pools_use_it(svc):
    c = svc.client()
    make_host(c, "kms01.corp.example")
    make_host(c, "kms02.corp.example")
    make_pool(c, "p-b", "kms01.corp.example")
    make_pool(c, "p-a", "kms01.corp.example")
    r = c.delete("/v1/kms-hosts/kms01.corp.example")
    doc = expect_problem(r, 409)
    expect(doc.get("pools") == ["p-a", "p-b"], doc)
    expect("p-a" in doc["detail"] and "p-b" in doc["detail"], doc)
    r = c.delete("/v1/kms-hosts/KMS02.corp.example")
    expect_status(r, 204)
    expect(r.body == b"", r.body)
    expect_problem(c.get("/v1/kms-hosts/kms02.corp.example"), 404)
    expect_problem(c.delete("/v1/kms-hosts/kms02.corp.example"), 404)
    expect_status(c.delete("/v1/pools/p-a"), 204)
    expect_status(c.delete("/v1/pools/p-b"), 204)
    expect_status(c.delete("/v1/kms-hosts/kms01.corp.example"), 204)


def test_list_hosts_sorted_with_cursor(svc):
    c = svc.client()
    names = ["kms%02d.corp.example" % i for i in (5, 3, 1, 4, 2)]
    for n in names:
        make_host(c, n)
    seen = []
    path = "/v1/kms-hosts?limit=2"
    pages = 0
    while True:
        r = c.get(path)
        expect_status(r, 200)
        doc = r.json
        pages += 1
        expect(len(doc["items"]) <= 2, doc)
        seen += [h["name"] for h in doc["items"]]
        if doc["next_cursor"] is None:
            break
        path = "/v1/kms-hosts?limit=2&cursor=" + q(doc["next_cursor"])
    expect(pages == 3, pages)
    expect(seen == sorted(names), seen)
    r = c.get("/v1/kms-hosts")
    expect(len(r.json["items"]) == 5 and r.json["next_cursor"] is None, r.json)
    expect(HOST_FIELDS <= set(r.json["items"][0]))
    expect_problem(c.get("/v1/kms-hosts?limit=0"), 422, "limit")
    expect_problem(c.get("/v1/kms-hosts?limit=1001"), 422, "limit")
    expect_problem(c.get("/v1/kms-hosts?cursor=zz"), 422, "cursor")
    expect_problem(c.get("/v1/kms-hosts?cursor=ff"), 422, "cursor")   # not UTF-8


def put_desktop(c, hostname, pool, cmid=None, state=None):
    body = {"pool": pool}
    if cmid is not None:
        body["cmid"] = cmid
    if state is not None:
        body["state"] = state
    r = c.put("/v1/desktops/" + hostname, body)
    expect(r.status in (200, 201), r)
    return r.json


def test_duplicates_report(svc):
    c = svc.client()
    make_host(c, "kms01.corp.example")
    make_host(c, "kms02.corp.example")
    make_pool(c, "gold", "kms01.corp.example", unique_cmids=False)
    make_pool(c, "silver", "kms01.corp.example")
    make_pool(c, "other", "kms02.corp.example")
    shared = "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10"
    put_desktop(c, "vdi-03.corp.example", "gold", shared.upper())
    put_desktop(c, "vdi-01.corp.example", "gold", shared)
    put_desktop(c, "vdi-02.corp.example", "silver", shared)
    put_desktop(c, "vdi-04.corp.example", "gold", "11111111-2222-3333-4444-555555555555")
    # Decommissioned clones and other hosts' desktops do not count.
    put_desktop(c, "vdi-05.corp.example", "gold", shared, state="decommissioned")
    put_desktop(c, "vdi-06.corp.example", "other", shared)
    r = c.get("/v1/kms-hosts/KMS01.corp.example/duplicates")
    expect_status(r, 200)
    doc = r.json
    expect(doc["next_cursor"] is None, doc)
    expect(doc["items"] == [{"cmid": shared, "count": 3,
                             "desktops": ["vdi-01.corp.example", "vdi-02.corp.example",
                                          "vdi-03.corp.example"],
                             "pools": ["gold", "silver"]}], doc)
    r = c.get("/v1/kms-hosts/kms02.corp.example/duplicates")
    expect(r.json == {"items": [], "next_cursor": None}, r.json)
    expect_problem(c.get("/v1/kms-hosts/kms09.corp.example/duplicates"), 404)


def test_duplicates_sorted_by_count_then_cmid(svc):
    c = svc.client()
    make_host(c)
    make_pool(c, "p", "kms01.corp.example")
    a = "aaaaaaaa-0000-0000-0000-000000000000"
    b = "bbbbbbbb-0000-0000-0000-000000000000"
    z = "ffffffff-0000-0000-0000-000000000000"
    for i in range(2):
        put_desktop(c, "b%d.corp.example" % i, "p", b)
        put_desktop(c, "a%d.corp.example" % i, "p", a)
    for i in range(3):
        put_desktop(c, "z%d.corp.example" % i, "p", z)
    items = c.get("/v1/kms-hosts/kms01.corp.example/duplicates").json["items"]
    expect([(i["cmid"], i["count"]) for i in items] == [(z, 3), (a, 2), (b, 2)], items)


def test_list_figures_follow_every_write_the_forecast_reads(svc):
    """The list keeps a host's live fields for up to 15 s, but only while its
    estate_version stands: events, desktops and settings show at once, and the
    single-host document is always read anew."""
    c = svc.client()
    make_host(c)
    make_pool(c, "p-a")
    now = now_s()

    def listed():
        return {h["name"]: h for h in c.get("/v1/kms-hosts").json["items"]}["kms01.corp.example"]

    expect(listed()["current_count"] == 0)
    renewing_pool(c, "p-a", 3, now - DAY)
    expect(listed()["current_count"] == 3 and listed()["pools"] == [{"pool": "p-a", "desktops": 3}])
    expect_status(c.patch("/v1/kms-hosts/kms01.corp.example", {"margin": 2}), 200)
    h = listed()
    expect(h["floor"] == 27 and h["headroom"] == 3 - 27, h)
    expect_status(c.post("/v1/kms-hosts/kms01.corp.example/observations",
                         {"count": 4, "at": iso(now)}), 201)
    one = c.get("/v1/kms-hosts/kms01.corp.example").json
    expect(one["last_observation"]["count"] == 4, one)
    # An observation bumps no estate_version: the list may show it up to 15 s later.
    expect(listed()["last_observation"] in (None, one["last_observation"]))
    h = listed()
    for field in ("current_count", "floor", "headroom", "renewing", "lapsing", "unseen",
                  "forecast_min", "in_count", "pools", "unmapped_activation_ids"):
        expect(h[field] == one[field], (field, h, one))
