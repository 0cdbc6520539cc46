"""Desktops: the hooks' idempotent upsert, reads with CMID status, decommissioning."""
import datetime
import threading

from harness import expect, expect_problem, expect_status, q

DESKTOP_FIELDS = {"hostname", "pool", "kms_host", "cmid", "state", "last_activation_at",
                  "decommissioned_at", "created_at", "updated_at", "cmid_status",
                  "last_request_at", "request_count", "expires_at", "required_count"}
CMID = "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10"


def setup(c, hosts=("kms01.corp.example",)):
    for h in hosts:
        expect_status(c.post("/v1/kms-hosts", {"name": h, "family": "windows"}), 201)
    expect_status(c.post("/v1/pools", {"name": "gold", "kms_host": hosts[0],
                                       "platform": "horizon"}), 201)


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def seen(svc, cmid, days_ago, count=3, host="kms01.corp.example"):
    """Records a CMID in the host's summary table as ingest would."""
    svc.sql("INSERT INTO cmids (kms_host_id, cmid, first_request_at, last_request_at,"
            " request_count, last_client, required_count)"
            " SELECT id, '%s', now() - interval '%d days', now() - interval '%s days', %d,"
            " 'vdi', 25 FROM kms_hosts WHERE name = '%s'"
            % (cmid, days_ago + 30, days_ago, count, host))


def test_put_creates_then_updates_idempotently(svc):
    c = svc.client()
    setup(c)
    body = {"pool": "gold", "cmid": CMID, "state": "active",
            "last_activation_at": "2026-11-20T09:14:00+01:00"}
    r1 = c.put("/v1/desktops/vdi-01.corp.example", body)
    expect_status(r1, 201)
    expect(r1.headers.get("location") == "/v1/desktops/vdi-01.corp.example", r1.headers)
    d = r1.json
    expect(DESKTOP_FIELDS <= set(d), d)
    expect(d["hostname"] == "vdi-01.corp.example" and d["pool"] == "gold", d)
    expect(d["kms_host"] == "kms01.corp.example" and d["cmid"] == CMID, d)
    expect(d["state"] == "active" and d["decommissioned_at"] is None, d)
    expect(d["last_activation_at"] == "2026-11-20T08:14:00Z", d)
    expect(d["cmid_status"] == "unseen" and d["last_request_at"] is None, d)
    expect(d["request_count"] is None and d["expires_at"] is None, d)
    r2 = c.put("/v1/desktops/vdi-01.corp.example", body)
    expect_status(r2, 200)
    expect(r2.json == d, (r2.json, d))
    expect(c.get("/v1/desktops/vdi-01.corp.example").json == d)


def test_hostnames_are_case_insensitive_and_cmids_lowercase(svc):
    c = svc.client()
    setup(c)
    r = c.put("/v1/desktops/VDI-01.Corp.Example", {"pool": "gold", "cmid": CMID.upper()})
    expect_status(r, 201)
    expect(r.json["hostname"] == "vdi-01.corp.example" and r.json["cmid"] == CMID, r.json)
    r = c.get("/v1/desktops/vdi-01.corp.example")
    expect_status(r, 200)
    expect(r.json["cmid"] == CMID)
    r = c.put("/v1/desktops/vdi-01.CORP.example", {"pool": "gold", "cmid": "{%s}" % CMID})
    expect_status(r, 200)
    rows = svc.sql("SELECT hostname, cmid FROM desktops")
    expect(rows == [["vdi-01.corp.example", CMID]], rows)


def test_omitted_fields_keep_and_null_clears(svc):
    c = svc.client()
    setup(c)
    c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "cmid": CMID,
                                               "last_activation_at": "2026-11-20T00:00:00Z"})
    r = c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "state": "powered_off"})
    expect_status(r, 200)
    d = r.json
    expect(d["cmid"] == CMID and d["last_activation_at"] == "2026-11-20T00:00:00Z", d)
    expect(d["state"] == "powered_off", d)
    r = c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "cmid": None,
                                                   "last_activation_at": None})
    expect_status(r, 200)
    expect(r.json["cmid"] is None and r.json["last_activation_at"] is None, r.json)
    expect(r.json["state"] == "powered_off" and r.json["cmid_status"] == "unseen", r.json)


def test_decommission_by_state_and_back(svc):
    c = svc.client()
    setup(c)
    c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold"})
    r = c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "state": "decommissioned"})
    expect_status(r, 200)
    first = r.json["decommissioned_at"]
    expect(first is not None and r.json["state"] == "decommissioned", r.json)
    svc.sql("UPDATE desktops SET decommissioned_at = decommissioned_at - interval '1 hour'")
    r = c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "state": "decommissioned"})
    kept = r.json["decommissioned_at"]
    expect(parse_time(kept) < parse_time(first), (kept, first))   # the first time stays
    r = c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "state": "active"})
    expect(r.json["state"] == "active" and r.json["decommissioned_at"] is None, r.json)


def test_delete_decommissions_and_keeps_the_row(svc):
    c = svc.client()
    setup(c)
    c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "cmid": CMID})
    r = c.delete("/v1/desktops/VDI-01.corp.example")
    expect_status(r, 200)
    d = r.json
    expect(d["state"] == "decommissioned" and d["decommissioned_at"] is not None, d)
    expect(d["cmid"] == CMID, d)
    svc.sql("UPDATE desktops SET decommissioned_at = decommissioned_at - interval '1 hour'")
    again = c.delete("/v1/desktops/vdi-01.corp.example")
    expect_status(again, 200)
    expect(parse_time(again.json["decommissioned_at"]) < parse_time(d["decommissioned_at"]))
    expect_status(c.get("/v1/desktops/vdi-01.corp.example"), 200)
    expect_problem(c.delete("/v1/desktops/vdi-99.corp.example"), 404)


def test_put_validation(svc):
    c = svc.client()
    setup(c)
    url = "/v1/desktops/vdi-01.corp.example"
    expect_problem(c.put(url, {}), 422, "pool")
    doc = expect_problem(c.put(url, {"pool": "nope"}), 422, "pool")
    expect("nope" in doc["detail"], doc)
    expect_problem(c.put(url, {"pool": 5}), 400, "pool")
    expect_problem(c.put(url, {"pool": "gold", "cmid": "not-a-guid"}), 422, "cmid")
    expect_problem(c.put(url, {"pool": "gold", "cmid": CMID + "0"}), 422, "cmid")
    expect_problem(c.put(url, {"pool": "gold", "cmid": " " + CMID}), 422, "cmid")
    expect_problem(c.put(url, {"pool": "gold", "cmid": 12}), 400, "cmid")
    expect_problem(c.put(url, {"pool": "gold", "state": "deleted"}), 422, "state")
    expect_problem(c.put(url, {"pool": "gold", "last_activation_at": "yesterday"}), 422,
                   "last_activation_at")
    expect_problem(c.put(url, {"pool": "gold", "last_activation_at": 5}), 400,
                   "last_activation_at")
    expect_problem(c.put(url, {"pool": "gold", "owner": "bob"}), 422, "owner")
    expect_problem(c.put("/v1/desktops/" + "a" * 300, {"pool": "gold"}), 422, "hostname")
    expect_problem(c.put("/v1/desktops/" + q("vdi 01.corp.example"), {"pool": "gold"}),
                   422, "hostname")
    expect_problem(c.put(url, raw=b"{}", content_type="text/plain"), 415)
    expect_problem(c.put(url, raw=b"{", content_type="application/json"), 400)
    expect_problem(c.put(url, raw=b" " * (1024 * 1024 + 1), content_type="application/json"), 413)
    expect_status(c.get("/v1/desktops"), 200)
    expect(c.get("/v1/desktops").json["items"] == [])


def test_unusable_path_hostnames_are_404(svc):
    c = svc.client()
    for path in ("/v1/desktops/vdi-99.corp.example", "/v1/desktops/" + "a" * 300,
                 "/v1/desktops/" + q("has space"), "/v1/desktops/%ff%00"):
        expect_problem(c.get(path), 404)
        expect_problem(c.delete(path), 404)


def test_moving_to_a_pool_of_another_host_is_refused(svc):
    c = svc.client()
    setup(c, hosts=("kms01.corp.example", "kms02.corp.example"))
    expect_status(c.post("/v1/pools", {"name": "gold-2", "kms_host": "kms01.corp.example",
                                       "platform": "horizon"}), 201)
    expect_status(c.post("/v1/pools", {"name": "other", "kms_host": "kms02.corp.example",
                                       "platform": "citrix"}), 201)
    c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold", "cmid": CMID})
    doc = expect_problem(c.put("/v1/desktops/vdi-01.corp.example", {"pool": "other"}), 422, "pool")
    expect("CMID" in doc["detail"] and "kms01.corp.example" in doc["detail"], doc)
    d = c.get("/v1/desktops/vdi-01.corp.example").json
    expect(d["pool"] == "gold" and d["kms_host"] == "kms01.corp.example", d)
    # Within the same host a desktop can change pools.
    r = c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold-2"})
    expect_status(r, 200)
    expect(r.json["pool"] == "gold-2" and r.json["cmid"] == CMID, r.json)


def test_cmid_status_renewing_lapsing_unseen(svc):
    c = svc.client()
    setup(c)
    renewing = "11111111-1111-1111-1111-111111111111"
    lapsing = "22222222-2222-2222-2222-222222222222"
    never = "33333333-3333-3333-3333-333333333333"
    off = "44444444-4444-4444-4444-444444444444"
    seen(svc, renewing, 2, count=4)
    seen(svc, lapsing, 9)          # > 7 days + 24 h ago
    seen(svc, off, 2)
    c.put("/v1/desktops/a.corp.example", {"pool": "gold", "cmid": renewing})
    c.put("/v1/desktops/b.corp.example", {"pool": "gold", "cmid": lapsing})
    c.put("/v1/desktops/c.corp.example", {"pool": "gold", "cmid": never})
    c.put("/v1/desktops/d.corp.example", {"pool": "gold"})
    c.put("/v1/desktops/e.corp.example", {"pool": "gold", "cmid": off, "state": "powered_off"})
    docs = {d["hostname"][0]: d for d in c.get("/v1/desktops").json["items"]}
    expect(docs["a"]["cmid_status"] == "renewing", docs["a"])
    expect(docs["a"]["request_count"] == 4 and docs["a"]["required_count"] == 25, docs["a"])
    last = parse_time(docs["a"]["last_request_at"])
    expect(parse_time(docs["a"]["expires_at"]) - last == datetime.timedelta(days=30), docs["a"])
    expect(docs["b"]["cmid_status"] == "lapsing", docs["b"])
    expect(docs["c"]["cmid_status"] == "unseen" and docs["c"]["last_request_at"] is None, docs["c"])
    expect(docs["d"]["cmid_status"] == "unseen", docs["d"])
    # Only an active desktop keeps a CMID renewing.
    expect(docs["e"]["cmid_status"] == "lapsing", docs["e"])
    # ... and a clone that is active renews for its powered-off twin.
    c.put("/v1/desktops/f.corp.example", {"pool": "gold", "cmid": off})
    expect(c.get("/v1/desktops/e.corp.example").json["cmid_status"] == "renewing")
    # A longer pool interval keeps a 9-day-old CMID renewing.
    expect_status(c.patch("/v1/pools/gold", {"renewal_interval_minutes": 14 * 1440}), 200)
    expect(c.get("/v1/desktops/b.corp.example").json["cmid_status"] == "renewing")


def test_list_filters_and_cursor(svc):
    c = svc.client()
    setup(c)
    expect_status(c.post("/v1/pools", {"name": "silver", "kms_host": "kms01.corp.example",
                                       "platform": "other"}), 201)
    names = ["vdi-%02d.corp.example" % i for i in (4, 2, 5, 1, 3)]
    for n in names:
        c.put("/v1/desktops/" + n, {"pool": "gold", "cmid": CMID})
    c.put("/v1/desktops/vdi-06.corp.example", {"pool": "silver", "state": "powered_off"})
    got, pages, path = [], 0, "/v1/desktops?pool=gold&limit=2"
    while path:
        doc = c.get(path).json
        pages += 1
        got += [d["hostname"] for d in doc["items"]]
        cur = doc["next_cursor"]
        path = "/v1/desktops?pool=gold&limit=2&cursor=" + q(cur) if cur else None
    expect(pages == 3 and got == sorted(names), (pages, got))
    items = c.get("/v1/desktops?state=powered_off").json["items"]
    expect([d["hostname"] for d in items] == ["vdi-06.corp.example"], items)
    items = c.get("/v1/desktops?cmid=" + CMID.upper()).json["items"]
    expect(len(items) == 5, items)
    items = c.get("/v1/desktops?kms_host=kms01.corp.example&state=active").json["items"]
    expect(len(items) == 5, items)
    expect(c.get("/v1/desktops?pool=nope").json == {"items": [], "next_cursor": None})
    expect_problem(c.get("/v1/desktops?state=gone"), 422, "state")
    expect_problem(c.get("/v1/desktops?cmid=xyz"), 422, "cmid")
    expect_problem(c.get("/v1/desktops?pool=" + "x" * 200), 422, "pool")
    expect_problem(c.get("/v1/desktops?pool=a%01b"), 422, "pool")
    r = c.get("/v1/desktops?pool=%ff")     # not UTF-8: never reaches SQL
    expect(r.status in (200, 422), r)
    expect_problem(c.get("/v1/desktops?limit=abc"), 422, "limit")
    expect_problem(c.get("/v1/desktops?cursor=ff"), 422, "cursor")   # byte 0xff: not text
    expect_problem(c.get("/v1/desktops?cursor=" + "41" * 300), 422, "cursor")


def test_concurrent_puts_of_one_new_hostname(svc):
    c = svc.client()
    setup(c)
    n = 8
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        barrier.wait()
        results[i] = c.put("/v1/desktops/vdi-race.corp.example", {"pool": "gold", "cmid": CMID})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for r in results)
    expect(statuses == [200] * (n - 1) + [201], statuses)
    expect(svc.sql("SELECT count(*) FROM desktops") == [["1"]])


def test_concurrent_puts_to_pools_of_two_hosts(svc):
    c = svc.client()
    setup(c, hosts=("kms01.corp.example", "kms02.corp.example"))
    expect_status(c.post("/v1/pools", {"name": "other", "kms_host": "kms02.corp.example",
                                       "platform": "citrix"}), 201)
    for round_ in range(5):
        host = "vdi-race-%d.corp.example" % round_
        barrier = threading.Barrier(2)
        results = [None, None]

        def worker(i, pool):
            barrier.wait()
            results[i] = c.put("/v1/desktops/" + host, {"pool": pool})

        threads = [threading.Thread(target=worker, args=(i, p))
                   for i, p in enumerate(("gold", "other"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status for r in results)
        expect(statuses == [201, 422], results)
