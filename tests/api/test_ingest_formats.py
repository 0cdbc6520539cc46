"""Ingest from the tools admins already run (api.md "More ingest sources"):
every fixture of tests/fixtures/README.md uploaded through
POST /v1/kms-hosts/{name}/activations, with its non-12290 event skipped and
counted, the same instants stored whatever the format, and the host's count."""
import datetime
import os
import re

from estate import create_host, create_pool, put_desktop
from harness import expect, expect_problem, expect_status, q

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

# Each holds the 6 requests of kms-export-ps5.csv (4 CMIDs, real activation IDs) and one
# event 12293.
SOURCES = [
    ("kms-export-useculture-de.csv", "text/csv"),
    ("winevent-ps5.json", "application/json"),
    ("winevent-ps7.json", "application/json; charset=utf-8"),
    ("winlogbeat.ndjson", "application/x-ndjson"),
    ("nxlog.ndjson", "application/x-ndjson"),
    ("fluentbit-winevtlog.ndjson", "application/x-ndjson"),
    ("wevtutil.xml", "application/xml"),
    ("eventviewer.xml", "text/xml"),
    # the event's data instead of its message (tests/fixtures/make-shipper-fixtures.py)
    ("wevtutil-data10.xml", "application/xml"),
    ("winevent-ps5-nomessage.json", "application/json"),
    ("winlogbeat-nomessage.ndjson", "application/x-ndjson"),
    ("fluentbit-winevtlog-nomessage.ndjson", "application/x-ndjson"),
    ("fluentbit-winevtlog-xml.ndjson", "application/x-ndjson"),
    ("fluentbit-winlog.ndjson", "application/x-ndjson"),
    ("winlogbeat6.ndjson", "application/x-ndjson"),
]

# The desktops of the fixtures' clients and the CMID each must carry after the upload:
# vdi-p1-001 renewed with the same CMID a week later; vdi-p1-017 is not activated yet but
# its requests are counted by the host and name it (docs/model.md §6.2).
DESKTOPS = {
    "vdi-p1-001.corp.example": "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10",
    "vdi-p1-002.corp.example": "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f",
    "vdi-p1-017.corp.example": "8b1e4f2a-3c5d-4e6f-8a9b-0c1d2e3f4a5b",
}

# The fixtures' newest event is 2026-11-20; they are moved by whole days so
# that it lands yesterday, and the count is that of a fresh log whenever the
# tests run. Only host times move (the client timestamps are not stored).
SHIFT_DAYS = (datetime.datetime.now(datetime.timezone.utc).date() - datetime.date(2026, 11, 21)).days


def _shift_date(m):
    d = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return (d + datetime.timedelta(days=SHIFT_DAYS)).isoformat().encode()


def fixture(name):
    """The fixture's bytes with every host time moved by SHIFT_DAYS."""
    with open(os.path.join(FIXTURES, name), "rb") as f:
        body = f.read()
    body = re.sub(rb"(\d{4})-(\d{2})-(\d{2})(?=[T ]\d{2}:\d{2})", _shift_date, body)
    return re.sub(rb"Date\((-?\d+)",
                  lambda m: b"Date(%d" % (int(m.group(1)) + SHIFT_DAYS * 86400000), body)


def host_name(source):
    return "kms-%s.corp.example" % re.sub(r"[^a-z0-9]+", "-", source.lower())


def upload(c, host, body, content_type):
    return c.request("POST", "/v1/kms-hosts/%s/activations" % q(host), raw=body,
                     content_type=content_type)


def stored(svc, host):
    """The host's per-CMID summary, to the second (NXLog and Fluent Bit keep no more)."""
    return svc.sql("SELECT c.cmid, to_char(c.first_request_at AT TIME ZONE 'UTC',"
                   " 'YYYY-MM-DD HH24:MI:SS'), to_char(c.last_request_at AT TIME ZONE 'UTC',"
                   " 'YYYY-MM-DD HH24:MI:SS'), c.request_count, c.last_client, c.required_count"
                   " FROM cmids c JOIN kms_hosts h ON h.id = c.kms_host_id"
                   " WHERE h.name = '%s' ORDER BY 1" % host)


# What every source stores: the first one's rows, to the second.
REFERENCE = [
    ["0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f", "%s 08:51:40", "%s 08:51:40", "1",
     "vdi-p1-002.corp.example", "25"],
    ["3f2504e0-4f89-11d3-9a0c-0305e82c3301", "%s 07:30:12", "%s 07:30:12", "1",
     "app01.corp.example", "5"],
    ["6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10", "%s 09:12:44", "%s 09:14:03", "2",
     "vdi-p1-001.corp.example", "25"],
    ["8b1e4f2a-3c5d-4e6f-8a9b-0c1d2e3f4a5b", "%s 21:02:50", "%s 23:02:55", "2",
     "vdi-p1-017.corp.example", "25"],
]


def reference():
    day = lambda d: (datetime.date(2026, 11, d) + datetime.timedelta(days=SHIFT_DAYS)).isoformat()
    days = [(20, 20), (20, 20), (13, 20), (19, 19)]
    return [[r[0], r[1] % day(a), r[2] % day(b)] + r[3:] for r, (a, b) in zip(REFERENCE, days)]


def check_source(svc, name, content_type):
    """All 6 requests stored, the 12293 skipped, a re-send all duplicates, the host's count
    and the desktops' CMIDs right."""
    c = svc.client()
    host = host_name(name)
    create_host(c, name=host)
    create_pool(c, "pool-a", host=host)
    for desktop in DESKTOPS:
        put_desktop(c, desktop, "pool-a")
    r = upload(c, host, fixture(name), content_type)
    expect_status(r, 200)
    doc = r.json
    expect(doc["accepted"] == 6 and doc["skipped"] == 1 and doc["rejected"] == []
           and doc["records"] == 7 and doc["duplicates"] == 0, (name, doc))
    # the same export again stores nothing and skips the same event
    r = upload(c, host, fixture(name), content_type)
    expect(r.json["accepted"] == 0 and r.json["duplicates"] == 6 and r.json["skipped"] == 1,
           (name, r.json))
    h = c.get("/v1/kms-hosts/" + q(host)).json
    expect(h["current_count"] == 4, (name, h))
    rows = stored(svc, host)
    # every tool's time format reads as the same instants
    expect(rows == reference(), (name, rows, reference()))
    for desktop, cmid in DESKTOPS.items():
        d = c.get("/v1/desktops/" + q(desktop)).json
        expect(d["cmid"] == cmid, (name, d))


def _source_test(name, content_type):
    def test(svc):
        check_source(svc, name, content_type)
    return test


# One test per source, named after its fixture (-k fluentbit_winlog runs one).
for _name, _type in SOURCES:
    globals()["test_source_" + re.sub(r"[^a-z0-9]+", "_", _name.lower())] = _source_test(_name, _type)


def test_single_convertto_json_object_and_records_side_by_side(svc):
    c = svc.client()
    host = "kms01.corp.example"
    create_host(c, name=host)
    info = ("0x0, 25, vdi-p1-001.corp.example, 6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10,"
            " 2026/11/20 9:14, 1, 1, 259200, 4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c")
    at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
    ms = int(at.timestamp()) * 1000
    one = ('{"Id": 12290, "TimeCreated": "\\/Date(%d)\\/", "Message": "An activation request'
           ' has been processed.\\r\\nInfo:\\r\\n%s"}' % (ms, info))
    r = upload(c, host, one.encode(), "application/json")
    expect_status(r, 200)
    expect(r.json["accepted"] == 1 and r.json["skipped"] == 0, r.json)
    # an event record with an unreadable id is rejected by index, naming the field
    body = ('%s\n{"EventID": "twelve", "EventTime": "2026-11-20 09:14:03"}\n'
            '{"EventID": 12289, "EventTime": "2026-11-20 09:14:03"}\n' % one.replace("\\/Date(%d)" % ms,
                                                                        "\\/Date(%d)" % (ms + 1000)))
    r = upload(c, host, body.encode(), "application/x-ndjson")
    expect(r.json["accepted"] == 1 and r.json["skipped"] == 1, r.json)
    expect(r.json["rejected"] == [{"index": 1, "error": "EventID: not an event id"}], r.json)


def test_unusable_bodies_are_400_and_store_nothing(svc):
    c = svc.client()
    host = "kms01.corp.example"
    create_host(c, name=host)
    hostile = [
        b"<!DOCTYPE Event [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><Event>&x;</Event>",
        b"<!DOCTYPE a [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]><Events>&b;</Events>",
        b"<Events><Event>",
        b"<html><body>not events</body></html>",
    ]
    for body in hostile:
        doc = expect_problem(upload(c, host, body, "application/xml"), 400)
        expect("XML" in doc["detail"], doc)
    utf16 = fixture("winevent-ps7.json").decode("utf-8").encode("utf-16")
    doc = expect_problem(upload(c, host, utf16, "application/json"), 400)
    expect("UTF-16" in doc["detail"], doc)
    expect(svc.sql("SELECT count(*) FROM activation_requests") == [["0"]])


def _shift_us_date(m):
    d = datetime.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    d += datetime.timedelta(days=SHIFT_DAYS)
    return b"%d/%d/%d " % (d.month, d.day, d.year)


def test_local_times_read_in_the_stated_zone_and_culture(svc):
    """Export-Csv without Select-Object writes TimeCreated as ToString() (en-US, local time):
    refused naming the parameters, then read under ?culture=en-US and a zone or an offset."""
    c = svc.client()
    host = "kms01.corp.example"
    create_host(c, name=host)
    body = re.sub(rb"(\d{1,2})/(\d{1,2})/(\d{4}) ", _shift_us_date,
                  fixture("kms-export-tostring-enus.csv"))
    url = "/v1/kms-hosts/%s/activations" % q(host)
    r = c.request("POST", url, raw=body, content_type="text/csv")
    expect_status(r, 200)
    expect(r.json["accepted"] == 0 and r.json["skipped"] == 1 and len(r.json["rejected"]) == 6,
           r.json)
    expect(all("culture" in x["error"] and "time_zone" in x["error"] for x in r.json["rejected"]),
           r.json)
    r = c.request("POST", url + "?culture=en-US", raw=body, content_type="text/csv")
    expect(len(r.json["rejected"]) == 6 and "utc_offset" in r.json["rejected"][0]["error"], r.json)
    # A zone without daylight saving at +01:00, so that the instants do not depend on the date
    r = c.request("POST", url + "?culture=en-US&time_zone=Africa/Lagos", raw=body,
                  content_type="text/csv")
    expect(r.json["accepted"] == 6 and r.json["rejected"] == [] and r.json["skipped"] == 1, r.json)
    expect(stored(svc, host) == reference(), stored(svc, host))
    r = c.request("POST", url + "?culture=en-us&utc_offset=%2B01:00", raw=body,
                  content_type="text/csv")
    expect(r.json["accepted"] == 0 and r.json["duplicates"] == 6, r.json)
    expect(c.get("/v1/kms-hosts/" + q(host)).json["current_count"] == 4)
    for query, word in [("time_zone=Mars/Olympus", "time_zone"), ("time_zone=../../etc/passwd",
                        "time_zone"), ("utc_offset=1", "utc_offset"), ("culture=de-DE", "culture"),
                        ("time_zone=UTC&utc_offset=%2B01:00", "not both")]:
        doc = expect_problem(c.request("POST", url + "?" + query, raw=body,
                                       content_type="text/csv"), 400)
        expect(word in doc["detail"], (query, doc))
