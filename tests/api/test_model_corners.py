"""The model's conservative corners end to end (docs/model.md §3):
plan times past the horizon, requests dated ahead of the service's clock,
a rebuilt desktop whose old CMID lapses, and answers that do not depend on
the database's default time zone."""
import time

from estate import DAY, cmid_for, create_host, create_pool, event, ingest, iso, now_s, put_desktop
from harness import Service, expect, expect_problem, expect_status, no_service

HOST = "/v1/kms-hosts/kms01.corp.example"


def test_plan_time_past_the_horizon_is_422(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "p1")
    now = now_s()
    gate = {"kms_host": "kms01.corp.example", "provision": [{"pool": "p1", "count": 1}]}
    doc = expect_problem(c.post("/v1/gate", dict(gate, at=iso(now + 50 * DAY))), 422,
                         "horizon_days")
    expect("at least 50 " in doc["errors"][0]["message"], doc)
    r = c.post("/v1/gate", dict(gate, at=iso(now + 50 * DAY), horizon_days=51))
    expect_status(r, 200)
    expect(r.json["steps"][0]["at"] == iso(now + 50 * DAY), r.json)
    expect_problem(c.post("/v1/gate", dict(gate, at=iso(now + 400 * DAY), horizon_days=365)),
                   422, "at")
    # a plan time in the past is taken as now: the window starts at now
    r = c.post("/v1/gate", dict(gate, at=iso(now - 10 * DAY)))
    expect_status(r, 200)
    expect(r.json["steps"][0]["at"] >= iso(now), r.json)


def test_requests_ahead_of_the_clock_are_rejected(svc):
    c = svc.client()
    create_host(c)
    now = now_s()
    events = [event("pc-a.corp.example", cmid_for("a"), now + 3600),
              event("pc-b.corp.example", cmid_for("b"), now + 300),
              event("pc-c.corp.example", cmid_for("c"), now - DAY)]
    doc = ingest(c, events)
    expect(doc["accepted"] == 2, doc)
    expect(len(doc["rejected"]) == 1 and doc["rejected"][0]["index"] == 0, doc)
    expect("ahead of the service's clock" in doc["rejected"][0]["error"], doc)
    expect("clock skew" in doc["rejected"][0]["error"], doc)
    # the request 5 minutes ahead counts as made at now: in the count, and
    # (one request, no desktop) lapsing exactly 30 days from now at the latest
    r = c.get(HOST + "/forecast?horizon_days=31")
    expect_status(r, 200)
    expect(r.json["current_count"] == 2, r.json)
    drop = [s for s in r.json["steps"] if s["count"] == 0]
    expect(drop and drop[0]["at"] <= iso(time.time() + 30 * DAY), r.json)


def test_rebuilt_desktop_old_cmid_lapses(svc):
    """A desktop renewed twice with CMID X, then rebuilt: its requests carry
    Y. X is no desktop's CMID now, but its latest request came from a
    registered desktop, so it was replaced: it lapses at last + 30 d instead
    of counting as a renewing PC forever."""
    c = svc.client()
    create_host(c)
    create_pool(c, "p1")
    now = now_s()
    name = "vdi-001.corp.example"
    put_desktop(c, name, "p1")
    x, y = cmid_for("x"), cmid_for("y")
    ingest(c, [event(name, x, now - 9 * DAY), event(name, x, now - 2 * DAY)])
    ingest(c, [event(name, y, now - DAY)])
    r = c.get("/v1/desktops/" + name)
    expect(r.json["cmid"] == y, r.json)
    r = c.get(HOST + "/forecast")
    doc = r.json
    expect(doc["current_count"] == 2, doc)
    expect(doc["min"] == 1 and doc["min_at"] == iso(now - 2 * DAY + 30 * DAY), doc)
    r = c.get(HOST)
    expect(r.json["renewing"] == 1 and r.json["lapsing"] == 1, r.json)


def julian_day(t):
    """Day of the year 1..365 as POSIX 'Jn' counts it (February 29 never counts)."""
    tm = time.gmtime(t)
    day = tm.tm_yday
    leap = tm.tm_year % 4 == 0 and (tm.tm_year % 100 != 0 or tm.tm_year % 400 == 0)
    return day - 1 if leap and day > 59 else day


@no_service
def test_answers_do_not_depend_on_the_database_time_zone():
    """The database's default time zone has a daylight-saving change 15 days
    ago, so 'now - 30 days' in local time is an hour off. A request 30 days
    and 30 minutes ago must not count in the modelled count of an
    observation (it would in that zone's arithmetic)."""
    now = now_s()
    start = julian_day(now - 15 * DAY)
    zone = "KGS+3KGD,J%d/0,J%d/0" % (start, (start + 99) % 365 + 1)
    svc = Service()
    try:
        svc.sql('ALTER DATABASE "%s" SET TimeZone = \'%s\'' % (svc.database, zone))
        shown = svc.sql("SELECT (now() - interval '30 days') <> (now() - interval '720 hours')")
        expect(shown == [['t']], "the zone has no daylight-saving change in the last 30 days: %r" % shown)
        svc.start()
        c = svc.client()
        create_host(c)
        ingest(c, [event("pc-in.corp.example", cmid_for("in"), now - 30 * DAY + 1800),
                   event("pc-out.corp.example", cmid_for("out"), now - 30 * DAY - 1800)])
        r = c.post(HOST + "/observations", {"count": 1, "at": iso(now)})
        expect_status(r, 201)
        expect(r.json["modelled"] == 1, r.json)
        r = c.get(HOST + "/forecast")
        expect(r.json["current_count"] == 1, r.json)
    finally:
        svc.stop()
        svc.drop()
