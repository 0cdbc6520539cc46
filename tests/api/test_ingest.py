"""Event-12290 ingest in every format, idempotency, rejections by index,
desktop linking (rearm), required counts, and count observations."""
import os

from estate import DAY, create_host, create_pool, event, ingest, iso, now_s, put_desktop
from harness import expect, expect_problem, expect_status

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
HOST = "/v1/kms-hosts/kms01.corp.example"


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def upload(c, body, content_type):
    return c.request("POST", HOST + "/activations", raw=body, content_type=content_type)


def test_csv_export_with_type_line_bom_crlf_and_multiline_messages(svc):
    c = svc.client()
    create_host(c)
    r = upload(c, fixture("kms-export-ps5.csv"), "text/csv")
    expect_status(r, 200)
    expect(r.json["accepted"] == 6 and r.json["duplicates"] == 0 and r.json["rejected"] == [], r.json)
    # Sending the same export again stores nothing new and says so.
    r = upload(c, fixture("kms-export-ps5.csv"), "text/csv")
    expect(r.json["accepted"] == 0 and r.json["duplicates"] == 6, r.json)
    # The PowerShell 7 export of the same events is the same events.
    r = upload(c, fixture("kms-export-ps7.csv"), "text/csv; charset=utf-8")
    expect(r.json["accepted"] == 0 and r.json["duplicates"] == 6, r.json)
    rows = svc.sql("SELECT count(*), count(DISTINCT cmid) FROM activation_requests")
    expect(rows == [["6", "4"]], rows)
    rows = svc.sql("SELECT cmid, request_count, last_client, required_count FROM cmids"
                   " WHERE cmid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301'")
    expect(rows == [["3f2504e0-4f89-11d3-9a0c-0305e82c3301", "1", "app01.corp.example", "5"]], rows)
    rows = svc.sql("SELECT to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
                   " FROM activation_requests WHERE client = 'vdi-p1-001.corp.example'"
                   " ORDER BY requested_at DESC LIMIT 1")
    expect(rows == [["2026-11-20 09:14:03.123456"]], rows)


def test_mixed_good_and_bad_records_store_the_good_ones(svc):
    c = svc.client()
    create_host(c)
    r = upload(c, fixture("kms-export-mixed.csv"), "text/csv")
    expect_status(r, 200)
    doc = r.json
    expect([x["index"] for x in doc["rejected"]] == [1, 3, 4], doc)
    expect(all(x["error"] for x in doc["rejected"]), doc)
    expect("cmid" in doc["rejected"][0]["error"].lower(), doc)
    expect(doc["accepted"] == 3 and doc["records"] == 6, doc)
    expect(svc.sql("SELECT count(*) FROM activation_requests") == [["3"]])


def test_json_and_ndjson(svc):
    c = svc.client()
    create_host(c)
    r = upload(c, fixture("events.json"), "application/json")
    expect_status(r, 200)
    n = r.json["accepted"]
    expect(n > 0 and r.json["rejected"] == [], r.json)
    r = upload(c, fixture("events.json"), "application/json")
    expect(r.json["accepted"] == 0 and r.json["duplicates"] == n, r.json)
    r = upload(c, fixture("events.ndjson"), "application/x-ndjson")
    expect_status(r, 200)
    expect(r.json["rejected"] == [], r.json)
    r = upload(c, fixture("events-mixed.ndjson"), "application/x-ndjson")
    expect_status(r, 200)
    expect(len(r.json["rejected"]) >= 2, r.json)
    body = b'[{"cmid": "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10", "client": "x.corp.example",' \
           b' "requested_at": "2026-11-20T09:14:03Z", "colour": "red"}]'
    r = upload(c, body, "application/json")
    expect(r.json["rejected"][0]["index"] == 0 and "colour" in r.json["rejected"][0]["error"], r.json)


def test_linking_and_rearm(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "p1")
    put_desktop(c, "VDI-P1-001.corp.example", "p1")
    now = now_s()
    old, new = "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10", "11111111-2222-4333-8444-555555555555"
    r = ingest(c, [event("vdi-p1-001.CORP.example", old, now - 9 * DAY)])
    expect(r["desktops_linked"] == 1, r)
    d = c.get("/v1/desktops/vdi-p1-001.corp.example").json
    expect(d["cmid"] == old, d)
    # A rearm: the same client now requests with a new CMID.
    ingest(c, [event("vdi-p1-001.corp.example", new, now - 2 * DAY)])
    expect(c.get("/v1/desktops/vdi-p1-001.corp.example").json["cmid"] == new)
    # A late-arriving older event never takes the link back.
    ingest(c, [event("vdi-p1-001.corp.example", old, now - 5 * DAY)])
    d = c.get("/v1/desktops/vdi-p1-001.corp.example").json
    # Rule (a): an active desktop seen within R + grace renews, even after one request.
    expect(d["cmid"] == new and d["cmid_status"] == "renewing", d)
    # Non-desktop clients (servers, physical PCs) count on the host too.
    ingest(c, [event("app01.corp.example", "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                     now - DAY, required_count=5)])
    host = c.get(HOST).json
    expect(host["current_count"] == 3, host)  # old CMID still cached, new one, the server
    expect(host["in_count"] == {"clients": 2, "servers": 1, "unknown": 0}, host)


def test_observations_and_last_observation(svc):
    c = svc.client()
    create_host(c)
    now = now_s()
    ingest(c, [event("pc-%d.corp.example" % i, "00000000-0000-4000-8000-%012d" % i, now - DAY)
               for i in range(7)])
    r = c.post(HOST + "/observations", {"count": 9, "at": iso(now)})
    expect_status(r, 201)
    expect(r.json["modelled"] == 7 and r.json["difference"] == 2, r.json)
    host = c.get(HOST).json
    expect(host["last_observation"] == {"count": 9, "at": iso(now), "modelled": 7,
                                        "difference": 2}, host)
    expect_problem(c.post(HOST + "/observations", {"count": -1}), 422, "count")
    expect_problem(c.post(HOST + "/observations", {"count": "nine"}), 400, "count")
    expect_problem(c.post("/v1/kms-hosts/nope.corp.example/observations", {"count": 1}), 404)


def test_ingest_errors(svc):
    c = svc.client()
    create_host(c)
    expect_problem(upload(c, b"hello", "text/plain"), 415)
    expect_problem(upload(c, b"{\"not\": \"an array\"}", "application/json"), 400)
    expect_problem(upload(c, b"a,b\n1,2\n", "text/csv"), 400)
    expect_problem(c.request("POST", "/v1/kms-hosts/nope.corp.example/activations", raw=b"[]",
                             content_type="application/json"), 404)
    # a body over 256 MiB (413) and 1,000,000 records: test_ingest_large.py and bench/
    reader = svc.create_token("reader", "ro")
    expect_problem(c.with_token(reader).post(HOST + "/activations", []), 403)


def test_concurrent_overlapping_uploads_store_each_event_once(svc):
    import threading
    c = svc.client()
    create_host(c)
    create_pool(c, "p1")
    now = now_s()
    for i in range(40):
        put_desktop(c, "vdi-%02d.corp.example" % i, "p1")
    events = [event("vdi-%02d.corp.example" % (i % 40), "00000000-0000-4000-8000-%012d" % (i % 300),
                    now - 60 * i) for i in range(3000)]
    results = []

    def upload(chunk):
        results.append(c.post(HOST + "/activations", chunk))

    # Four uploads of overlapping halves, in different orders, at once.
    chunks = [events[:2000], events[1000:], list(reversed(events[:2000])), events[500:2500]]
    threads = [threading.Thread(target=upload, args=(ch,)) for ch in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expect(all(r.status == 200 for r in results), results)
    expect(sum(r.json["accepted"] for r in results) == 3000, [r.json for r in results])
    expect(svc.sql("SELECT count(*) FROM activation_requests") == [["3000"]])
    rows = svc.sql("SELECT sum(request_count), count(*) FROM cmids")
    expect(rows == [["3000", "300"]], rows)
