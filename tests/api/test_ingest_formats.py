"""Ingest from the tools admins already run (api.md "More ingest sources"):
every fixture of tests/fixtures/README.md uploaded through
POST /v1/kms-hosts/{name}/activations, with its non-12290 event skipped and
counted, the same instants stored whatever the format, and the host's count."""
import datetime
import os
import re

from estate import create_host
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
]

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


def test_every_source_accepts_six_skips_one_and_counts_four(svc):
    c = svc.client()
    reference = None
    for name, content_type in SOURCES:
        host = host_name(name)
        create_host(c, name=host)
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
        expect(len(rows) == 4, (name, rows))
        # every tool's time format reads as the same instants
        if reference is None:
            reference = rows
        expect(rows == reference, (name, rows, reference))


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
