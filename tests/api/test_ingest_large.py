"""A whole export in one request (api.md "Event ingest"): more records than one
batch, stored batch by batch and summed into one answer; re-sends all
duplicates; a body that turns out unusable part-way says how much was stored.
The 500,000-record uploads with their memory figure are bench/ingest-large.py."""
import json

from estate import create_host, create_pool, now_s, put_desktop
from harness import expect, expect_problem, expect_status, q

HOST = "kms01.corp.example"
N = 25000  # three batches of 10,000


def cmid(i):
    return "6a1f2c7e-0b4d-4f0e-%04x-%012x" % (0x8000 | (i >> 48), i & 0xFFFFFFFFFFFF)


def info(i):
    return ("0x0, 25, pc-%05d.corp.example, %s, 2026/11/20 9:14, 1, 1, 259200,"
            " 73111121-5638-40f6-bc11-f1d7b0d64300" % (i, cmid(i)))


def ndjson(n, start):
    """Fluent Bit winevtlog lines (one event 12293 every 1000) with their 10 values."""
    lines = []
    for i in range(n):
        at = start - i
        if i % 1000 == 999:
            lines.append('{"EventID":12293,"TimeCreated":"%d"}' % at)
            continue
        values = [info(i)] + [x.strip() for x in info(i).split(",")]
        lines.append(json.dumps({"EventID": 12290, "TimeCreated": "/Date(%d000)/" % at,
                                 "Message": "", "StringInserts": values}))
    return ("\n".join(lines) + "\n").encode()


def xml(n, start):
    import datetime
    out = []
    for i in range(n):
        at = datetime.datetime.fromtimestamp(start - i, datetime.timezone.utc)
        out.append("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
                   "<EventID>12290</EventID><TimeCreated SystemTime='%s'/></System><EventData>"
                   "<Data>%s</Data></EventData></Event>\r\n"
                   % (at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"), info(i)))
    return "".join(out).encode()


def upload(c, body, content_type, host=HOST):
    return c.request("POST", "/v1/kms-hosts/%s/activations" % q(host), raw=body,
                     content_type=content_type, timeout=300)


def test_an_export_larger_than_a_batch_is_stored_and_summed(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "pool-a")
    for i in (0, 12345, N - 2):
        put_desktop(c, "pc-%05d.corp.example" % i, "pool-a")
    body = ndjson(N, now_s() - 3600)
    skipped = N // 1000
    r = upload(c, body, "application/x-ndjson")
    expect_status(r, 200)
    doc = r.json
    expect(doc["records"] == N and doc["accepted"] == N - skipped and doc["skipped"] == skipped
           and doc["duplicates"] == 0 and doc["rejected"] == [] and doc["desktops_linked"] == 3
           and doc["by_family"] == {"windows": N - skipped}, {k: doc[k] for k in doc})
    r = upload(c, body, "application/x-ndjson")
    expect(r.json["accepted"] == 0 and r.json["duplicates"] == N - skipped
           and r.json["desktops_linked"] == 0, r.json)
    rows = svc.sql("SELECT count(*), sum(request_count) FROM cmids")
    expect(rows == [[str(N - skipped), str(N - skipped)]], rows)
    expect(c.get("/v1/kms-hosts/" + q(HOST)).json["current_count"] == 50)  # its capacity
    for i in (0, 12345, N - 2):
        d = c.get("/v1/desktops/pc-%05d.corp.example" % i).json
        expect(d["cmid"] == cmid(i), d)


def test_a_json_array_export_is_read_element_by_element(svc):
    c = svc.client()
    create_host(c)
    start = now_s() - 3600
    events = [{"cmid": cmid(i), "client": "pc-%05d.corp.example" % i,
               "requested_at": "%s" % __import__("estate").iso(start - i)} for i in range(N)]
    events[17000]["cmid"] = "not a guid"
    r = upload(c, json.dumps(events).encode(), "application/json")
    expect_status(r, 200)
    expect(r.json["accepted"] == N - 1 and r.json["rejected"] == [
        {"index": 17000, "error": "cmid: not a GUID"}], r.json["rejected"])


def test_a_body_unusable_part_way_says_what_was_stored(svc):
    c = svc.client()
    create_host(c)
    good = xml(N, now_s() - 3600)
    doc = expect_problem(upload(c, good + b"<Event><System>", "application/xml"), 400)
    expect("not well-formed" in doc["detail"]
           and "20000 new records of the first 20000 were stored" in doc["detail"], doc)
    expect(svc.sql("SELECT count(*) FROM activation_requests") == [["20000"]])
    # the corrected upload stores the rest; what was stored counts as duplicates
    r = upload(c, good, "application/xml")
    expect(r.json["accepted"] == N - 20000 and r.json["duplicates"] == 20000, r.json)


def test_more_records_than_an_upload_holds_is_413(svc):
    c = svc.client()
    create_host(c)
    body = b'{"Id":1}\n' * 1000001
    doc = expect_problem(upload(c, body, "application/x-ndjson"), 413)
    expect("more than 1000000 records" in doc["detail"], doc)
    expect(svc.sql("SELECT count(*) FROM activation_requests") == [["0"]])
