#!/usr/bin/python3
"""seed.py: fills a kmsgate database with one KMS host and N CMIDs, fast.

Two ways in:
  --via sql (default)  one psql transaction of INSERT ... SELECT generate_series
                       into kms_hosts, pools, desktops and cmids (the gate only
                       reads cmids, desktops, pools and plans). 100,000 CMIDs
                       take a few seconds.
  --via api            through the service: POST /v1/kms-hosts, POST /v1/pools,
                       PUT /v1/desktops/{hostname}, POST .../activations (two
                       requests 7 days apart per CMID). Meant for small hosts
                       (1,000 CMIDs is ~1,000 requests).

The estate (deterministic for the same arguments), N = --cmids:
  - 90% of the CMIDs belong to desktops spread over --pools pools
    (vdi-pNN-NNNNNN.<domain>); of those desktops 2% are powered off, the rest
    active;
  - 10% are not linked to any desktop (servers and PCs, srv-NNNNNN.<domain>),
    each with at least 2 requests;
  - 95% of all CMIDs are renewing (last request within the last 6.5 days),
    4% lapsing (last request 8 to 40 days ago), 1% long gone (70 to 120 days);
  - plus 1% extra active desktops whose CMID was never seen (unseen).
  - no decommissioned desktops, no reserved plans.

--names-out FILE writes hostnames of active, CMID-linked desktops (a sample of
--names-count, spread over all pools) for bench/gate.lua to decommission.
--inventory-only (SQL only) creates the host, its pools and the desktops of the
CMIDs that would be linked, without any CMID: bench/ingest.py fills them in.
--drop first deletes the host (and its pools/desktops/CMIDs) if it exists.

Examples:
  bench/seed.py --db "$KMSGATE_DATABASE_URL" --host kms-100k.bench.example \
      --cmids 100000 --pools 20 --names-out /tmp/names-100k.txt
  bench/seed.py --via api --url http://127.0.0.1:8080 --token-file var/admin-token \
      --host kms-1k.bench.example --cmids 1000 --pools 2
"""
import argparse
import http.client
import json
import random
import subprocess
import sys
import time
import urllib.parse
import uuid

DAY = 86400


def die(msg):
    sys.exit("seed.py: " + msg)


def layout(n_cmids, n_pools):
    """Counts of the estate, shared by both ways in."""
    linked = n_cmids * 9 // 10
    return {
        "linked": linked,                       # CMIDs 1..linked belong to desktops
        "unlinked": n_cmids - linked,           # servers/PCs
        "unseen": max(1, n_cmids // 100) if n_cmids else 0,  # desktops without a seen CMID
        "pools": max(1, min(n_pools, linked or 1)),
    }


def desktop_name(host_tag, pool, i, domain):
    return "vdi-%s-p%02d-%06d.%s" % (host_tag, pool, i, domain)


# --------------------------------------------------------------------- SQL ---

SQL = r"""
\set ON_ERROR_STOP 1
BEGIN;
{drop}
INSERT INTO kms_hosts (name, family, threshold, capacity, margin, renewal_interval_minutes,
                       description, server)
VALUES (:'host', 'windows', 25, :capacity, 0, 10080, 'bench estate (bench/seed.py)', :'host');
CREATE TEMP TABLE seed_host ON COMMIT DROP AS SELECT id FROM kms_hosts WHERE name = :'host';

INSERT INTO pools (name, kms_host_id, platform, unique_cmids)
SELECT :'tag' || '-p' || lpad(p::text, 2, '0'), h.id,
       CASE WHEN p % 3 = 0 THEN 'citrix' ELSE 'horizon' END, true
FROM seed_host h, generate_series(1, :pools) p;

-- CMID i: a stable UUID; its last request spread deterministically over the
-- ranges of the docstring (i * prime mod m gives a well-mixed offset).
INSERT INTO cmids (kms_host_id, cmid, first_request_at, last_request_at, request_count,
                   last_client, required_count)
SELECT h.id, c.cmid, c.last - interval '1 day' * (7 * (c.n - 1)), c.last, c.n, c.client, c.req
FROM seed_host h, (
  SELECT i,
         md5(:'host' || ':' || i)::uuid AS cmid,
         CASE WHEN i % 100 < 95 THEN now() - interval '1 second' * ((i::bigint * 7919) % 561600)
              WHEN i % 100 < 99 THEN now() - interval '1 day' * 8
                                         - interval '1 second' * ((i::bigint * 104729) % (32 * 86400))
              ELSE now() - interval '1 day' * 70
                         - interval '1 second' * ((i::bigint * 15485863) % (50 * 86400))
         END AS last,
         2 + (i % 20) AS n,
         CASE WHEN i <= :linked
              THEN 'vdi-' || :'tag' || '-p' || lpad((1 + (i - 1) % :pools)::text, 2, '0')
                   || '-' || lpad(i::text, 6, '0') || '.' || :'domain'
              ELSE 'srv-' || :'tag' || '-' || lpad(i::text, 6, '0') || '.' || :'domain' END
           AS client,
         CASE WHEN i <= :linked THEN 25 ELSE 5 END::smallint AS req
  FROM generate_series(1, :cmids) i) c;

-- Desktops 1..linked carry CMID i; 2% of them are powered off. Then the
-- unseen ones (no CMID) after them.
INSERT INTO desktops (hostname, pool_id, kms_host_id, cmid, cmid_seen_at, state,
                      last_activation_at)
SELECT 'vdi-' || :'tag' || '-p' || lpad((1 + (i - 1) % :pools)::text, 2, '0')
         || '-' || lpad(i::text, 6, '0') || '.' || :'domain',
       p.id, h.id, c.cmid, c.last_request_at,
       CASE WHEN i % 50 = 7 THEN 'powered_off' ELSE 'active' END,
       c.last_request_at
FROM seed_host h
JOIN generate_series(1, :linked) i ON true
JOIN pools p ON p.kms_host_id = h.id
  AND p.name = :'tag' || '-p' || lpad((1 + (i - 1) % :pools)::text, 2, '0')
JOIN cmids c ON c.kms_host_id = h.id AND c.cmid = md5(:'host' || ':' || i)::uuid;

INSERT INTO desktops (hostname, pool_id, kms_host_id, state)
SELECT 'vdi-' || :'tag' || '-p' || lpad((1 + (j - 1) % :pools)::text, 2, '0')
         || '-' || lpad((:cmids + j)::text, 6, '0') || '.' || :'domain',
       p.id, h.id, 'active'
FROM seed_host h
JOIN generate_series(1, :unseen) j ON true
JOIN pools p ON p.kms_host_id = h.id
  AND p.name = :'tag' || '-p' || lpad((1 + (j - 1) % :pools)::text, 2, '0');
COMMIT;
ANALYZE kms_hosts; ANALYZE pools; ANALYZE desktops; ANALYZE cmids;
"""

# --inventory-only: the host, its pools and the desktops of CMIDs 1..linked,
# named as above but with no CMID and no requests yet (bench/ingest.py then
# sends the requests, and ingest links each desktop to its client's CMID).
INVENTORY_SQL = r"""
\set ON_ERROR_STOP 1
BEGIN;
{drop}
INSERT INTO kms_hosts (name, family, threshold, capacity, margin, renewal_interval_minutes,
                       description, server)
VALUES (:'host', 'windows', 25, :capacity, 0, 10080, 'bench estate (bench/seed.py)', :'host');
CREATE TEMP TABLE seed_host ON COMMIT DROP AS SELECT id FROM kms_hosts WHERE name = :'host';
INSERT INTO pools (name, kms_host_id, platform, unique_cmids)
SELECT :'tag' || '-p' || lpad(p::text, 2, '0'), h.id,
       CASE WHEN p % 3 = 0 THEN 'citrix' ELSE 'horizon' END, true
FROM seed_host h, generate_series(1, :pools) p;
INSERT INTO desktops (hostname, pool_id, kms_host_id, state)
SELECT 'vdi-' || :'tag' || '-p' || lpad((1 + (i - 1) % :pools)::text, 2, '0')
         || '-' || lpad(i::text, 6, '0') || '.' || :'domain',
       p.id, h.id, 'active'
FROM seed_host h
JOIN generate_series(1, :linked) i ON true
JOIN pools p ON p.kms_host_id = h.id
  AND p.name = :'tag' || '-p' || lpad((1 + (i - 1) % :pools)::text, 2, '0');
COMMIT;
ANALYZE kms_hosts; ANALYZE pools; ANALYZE desktops;
"""

DROP_SQL = r"""
DELETE FROM plan_decommissions WHERE desktop_id IN
  (SELECT d.id FROM desktops d JOIN kms_hosts h ON h.id = d.kms_host_id WHERE h.name = :'host');
DELETE FROM plans WHERE kms_host_id IN (SELECT id FROM kms_hosts WHERE name = :'host');
DELETE FROM plan_provisions WHERE pool_id IN
  (SELECT p.id FROM pools p JOIN kms_hosts h ON h.id = p.kms_host_id WHERE h.name = :'host');
DELETE FROM desktops WHERE kms_host_id IN (SELECT id FROM kms_hosts WHERE name = :'host');
DELETE FROM pools WHERE kms_host_id IN (SELECT id FROM kms_hosts WHERE name = :'host');
DELETE FROM kms_hosts WHERE name = :'host';
"""


def psql(db, script, variables):
    cmd = ["psql", db, "-qAtX", "-v", "ON_ERROR_STOP=1"]
    for k, v in variables.items():
        cmd += ["-v", "%s=%s" % (k, v)]
    r = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if r.returncode != 0:
        die("psql failed:\n" + r.stderr.strip())
    return r.stdout


def seed_sql(a, lay, tag):
    variables = {
        "host": a.host, "tag": tag, "domain": a.domain, "capacity": a.capacity,
        "pools": lay["pools"], "cmids": a.cmids, "linked": lay["linked"],
        "unseen": lay["unseen"],
    }
    script = INVENTORY_SQL if a.inventory_only else SQL
    psql(a.db, script.replace("{drop}", DROP_SQL if a.drop else ""), variables)
    out = psql(a.db, "SELECT (SELECT count(*) FROM cmids c JOIN kms_hosts h ON h.id = c.kms_host_id"
                     " WHERE h.name = :'host'), (SELECT count(*) FROM desktops d JOIN kms_hosts h"
                     " ON h.id = d.kms_host_id WHERE h.name = :'host');", {"host": a.host})
    return [int(x) for x in out.strip().split("|")]


# --------------------------------------------------------------------- API ---

class Api:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        if u.hostname not in ("127.0.0.1", "localhost", "::1"):
            die("--url must point at this machine (127.0.0.1)")
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
        self.token = token

    def call(self, method, path, body, ok=(200, 201)):
        data = json.dumps(body).encode()
        hdrs = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                text = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()   # the server closed a keep-alive connection: reconnect once
                if attempt == 2:
                    raise
        if r.status not in ok:
            die("%s %s -> %d %s" % (method, path, r.status, text[:300]))
        return json.loads(text or b"null")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def seed_api(a, lay, tag):
    token = a.token or open(a.token_file).read().strip()
    api = Api(a.url, token)
    q = lambda s: urllib.parse.quote(s, safe="")
    api.call("POST", "/v1/kms-hosts", {"name": a.host, "family": "windows",
                                       "capacity": a.capacity})
    pools = ["%s-p%02d" % (tag, p + 1) for p in range(lay["pools"])]
    for i, p in enumerate(pools):
        api.call("POST", "/v1/pools", {"name": p, "kms_host": a.host,
                                       "platform": "citrix" if (i + 1) % 3 == 0 else "horizon"})
    now = int(time.time())
    events = []
    for i in range(1, a.cmids + 1):
        cmid = str(uuid.uuid5(uuid.NAMESPACE_DNS, "%s:%d" % (a.host, i)))
        if i % 100 < 95:
            last = now - (i * 7919) % 561600
        elif i % 100 < 99:
            last = now - 8 * DAY - (i * 104729) % (32 * DAY)
        else:
            last = now - 70 * DAY - (i * 15485863) % (50 * DAY)
        if i <= lay["linked"]:
            pool = 1 + (i - 1) % lay["pools"]
            client = desktop_name(tag, pool, i, a.domain)
            api.call("PUT", "/v1/desktops/" + q(client),
                     {"pool": pools[pool - 1],
                      "state": "powered_off" if i % 50 == 7 else "active"})
            req = 25
        else:
            client = "srv-%s-%06d.%s" % (tag, i, a.domain)
            req = 5
        for k in (1, 0):
            events.append({"cmid": cmid, "client": client, "requested_at": iso(last - k * 7 * DAY),
                           "required_count": req, "hresult": "0x0"})
    for j in range(1, lay["unseen"] + 1):
        pool = 1 + (j - 1) % lay["pools"]
        api.call("PUT", "/v1/desktops/" + q(desktop_name(tag, pool, a.cmids + j, a.domain)),
                 {"pool": pools[pool - 1]})
    path = "/v1/kms-hosts/%s/activations" % q(a.host)
    for s in range(0, len(events), 10000):
        api.call("POST", path, events[s:s + 10000], ok=(200,))
    return [a.cmids, lay["linked"] + lay["unseen"]]


# -------------------------------------------------------------------- main ---

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--via", choices=("sql", "api"), default="sql")
    ap.add_argument("--db", help="libpq URL of the kmsgate database (--via sql)")
    ap.add_argument("--url", help="service base URL (--via api), 127.0.0.1 only")
    ap.add_argument("--token", help="admin token (--via api)")
    ap.add_argument("--token-file", help="file holding the admin token (--via api)")
    ap.add_argument("--host", required=True, help="KMS host name (lowercase)")
    ap.add_argument("--cmids", type=int, required=True)
    ap.add_argument("--pools", type=int, default=4)
    ap.add_argument("--capacity", type=int, default=50,
                    help="the host's cache size (default 50, as a real Windows KMS host)")
    ap.add_argument("--domain", default="bench.example")
    ap.add_argument("--tag", help="short label in generated names (default: from --host)")
    ap.add_argument("--names-out", help="write decommissionable desktop names here")
    ap.add_argument("--names-count", type=int, default=1000)
    ap.add_argument("--inventory-only", action="store_true",
                    help="host, pools and desktops only: no CMIDs (for bench/ingest.py)")
    ap.add_argument("--drop", action="store_true", help="delete the host first if it exists")
    a = ap.parse_args()

    if a.host != a.host.lower():
        die("--host must be lowercase")
    if not 0 <= a.cmids <= 999999:
        die("--cmids must be 0..999999")
    tag = a.tag or a.host.split(".")[0]
    lay = layout(a.cmids, a.pools)
    t0 = time.time()
    if a.via == "sql":
        if not a.db:
            die("--via sql needs --db")
        n_cmids, n_desktops = seed_sql(a, lay, tag)
    else:
        if not a.url or not (a.token or a.token_file):
            die("--via api needs --url and --token or --token-file")
        n_cmids, n_desktops = seed_api(a, lay, tag)

    if a.names_out:
        # Active desktops with a CMID: i <= linked and i % 50 != 7, spread evenly.
        candidates = [i for i in range(1, lay["linked"] + 1) if i % 50 != 7]
        picked = random.Random(1).sample(candidates, min(a.names_count, len(candidates)))
        with open(a.names_out, "w") as f:
            for i in picked:
                f.write(desktop_name(tag, 1 + (i - 1) % lay["pools"], i, a.domain) + "\n")
    print("seeded %s via %s: %d CMIDs, %d desktops, %d pools in %.1f s"
          % (a.host, a.via, n_cmids, n_desktops, lay["pools"], time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
