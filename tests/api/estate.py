"""Builds estates through the API for the API tests: hosts, pools, desktops
and ingested event-12290 records with times relative to now."""
import time
import uuid

from harness import expect, expect_status, q

DAY = 86400


def iso(t):
    """RFC 3339 UTC for Unix seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def cmid_for(name):
    """A stable CMID per name, so tests can predict it."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name))


def create_host(c, name="kms01.corp.example", family="windows", **extra):
    body = {"name": name, "family": family}
    body.update(extra)
    r = c.post("/v1/kms-hosts", body)
    expect_status(r, 201)
    return r.json


def create_pool(c, name, host="kms01.corp.example", platform="horizon", **extra):
    body = {"name": name, "kms_host": host, "platform": platform}
    body.update(extra)
    r = c.post("/v1/pools", body)
    expect_status(r, 201)
    return r.json


def put_desktop(c, hostname, pool, **extra):
    body = {"pool": pool}
    body.update(extra)
    r = c.put("/v1/desktops/" + q(hostname), body)
    expect(r.status in (200, 201), "PUT desktop: %r" % r)
    return r.json


def event(client, cmid, at, required_count=25, hresult="0x0"):
    return {"cmid": cmid, "client": client, "requested_at": iso(at),
            "required_count": required_count, "hresult": hresult}


def ingest(c, events, host="kms01.corp.example"):
    r = c.post("/v1/kms-hosts/%s/activations" % q(host), events)
    expect_status(r, 200)
    return r.json


def renewing_pool(c, pool, n, last_seen, host="kms01.corp.example", prefix=None,
                  domain="corp.example", history=2):
    """n desktops in pool with unique CMIDs, each with `history` requests 7 days
    apart ending at last_seen. Returns the hostnames."""
    prefix = prefix or ("vdi-%s-" % pool)
    names = ["%s%03d.%s" % (prefix, i + 1, domain) for i in range(n)]
    events = []
    for name in names:
        put_desktop(c, name, pool)
        for k in range(history):
            events.append(event(name, cmid_for(name), last_seen - k * 7 * DAY))
    for i in range(0, len(events), 5000):
        ingest(c, events[i:i + 5000], host)
    return names


def now_s():
    return int(time.time())


def headroom_two(svc, pool):
    """A Windows host (floor 25) and `pool` of 27 renewing desktops
    vdi-001..vdi-027.corp.example last seen a day ago: two may go, a third
    may not. Returns the hostnames."""
    c = svc.client()
    create_host(c)
    create_pool(c, pool)
    return renewing_pool(c, pool, 27, now_s() - DAY, prefix="vdi-")
