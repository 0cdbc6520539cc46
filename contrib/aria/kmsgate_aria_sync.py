#!/usr/bin/env python3
"""kmsgate_aria_sync.py - keep kmsgate's pools true to VMware Aria Automation:
push each pool's complete machine list, with each machine's power state, to
PUT /v1/pools/{name}/desktops. Run it on a schedule (cron or a systemd
timer, every 15 to 60 minutes). Python 3.6 or later, standard library only.

Targets vRealize Automation 8.2 to Aria Automation 8.18 (on premises), IaaS
API: a refresh token from POST /csp/gateway/am/api/login?access_token
({username, password}), a bearer token from POST /iaas/api/login
({refreshToken}), then GET /iaas/api/machines paged with $top and $skip
(content, totalElements), each machine's hostname or name, id, powerState,
customProperties and tags ("Get your access token for the VMware Aria
Automation API" and the IaaS API reference, Get Machines:
https://developer.broadcom.com/xapis/cloud-assembly-iaas-api/latest/iaas/api/machines/get).

A machine's pool is its custom property kmsgatePool, else its tag
kmsgatePool (the same rule as the ABX action); machines with neither are
left out. The hostname is the machine's hostname (else its name), with
--domain added to a name without a dot. powerState ON is "on"; OFF, GUEST_OFF and SUSPEND are "off"
(it renews nothing until a later sync reports it on); anything else is
"unknown" (the model keeps what it had).

What it refuses rather than half-does: a pool with no machine in Aria is not
sent (an empty list would decommission the whole pool: send one by hand with
force if that is what you mean); kmsgate refuses (409) a list that would
decommission more than half of a pool unless --force; an Aria login or
listing that fails stops before anything is sent.

  kmsgate_aria_sync.py --aria https://vra.corp.example --aria-user svc-kmsgate \\
      --aria-password-file /etc/kmsgate/aria.pw --kmsgate https://kmsgate.corp.example \\
      --token-file /etc/kmsgate/token --domain corp.example [--pool P]... [--dry-run] [--force]

Exit codes: 0 every pool synced; 1 a pool refused, or Aria unreachable;
3 kmsgate unavailable.
"""
import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

POOL_KEY = "kmsgatePool"
POWER = {"ON": "on", "OFF": "off", "GUEST_OFF": "off", "SUSPEND": "off"}


class Unavailable(Exception):
    """A service did not answer."""


def call(method, url, body=None, token=None, timeout=60):
    """One JSON request: (status, document). Raises Unavailable without an answer or on 5xx."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise Unavailable("%s %s: %s" % (method, url, e)) from e
    if status >= 500:
        raise Unavailable("%s %s answered %d" % (method, url, status))
    try:
        return status, (json.loads(text) if text else {})
    except ValueError:
        return status, {"detail": text[:300].decode("utf-8", "replace")}


def aria_token(aria, user, password):
    status, doc = call("POST", aria + "/csp/gateway/am/api/login?access_token",
                       {"username": user, "password": password})
    if status != 200 or "refresh_token" not in doc:
        raise Unavailable("Aria login refused (%d)" % status)
    status, doc = call("POST", aria + "/iaas/api/login", {"refreshToken": doc["refresh_token"]})
    if status != 200 or "token" not in doc:
        raise Unavailable("Aria IaaS login refused (%d)" % status)
    return doc["token"]


def aria_machines(aria, token, page=200):
    """Every machine of GET /iaas/api/machines, page by page."""
    machines, skip = [], 0
    while True:
        query = urllib.parse.urlencode({"$top": page, "$skip": skip})
        status, doc = call("GET", "%s/iaas/api/machines?%s" % (aria, query), token=token)
        if status != 200:
            raise Unavailable("listing the Aria machines refused (%d)" % status)
        content = doc.get("content") or []
        machines.extend(content)
        skip += len(content)
        if not content or skip >= int(doc.get("totalElements", 0)):
            return machines


def _pool_of(machine):
    pool = (machine.get("customProperties") or {}).get(POOL_KEY)
    for tag in machine.get("tags") or []:
        if not pool and isinstance(tag, dict) and tag.get("key") == POOL_KEY:
            pool = tag.get("value")
    return pool


def pools_from(machines, domain=""):
    """{pool: [desktop, ...]} from the IaaS machines, in the pool sync's shape."""
    pools = {}
    for m in machines:
        # The guest's hostname when Aria knows it, else the machine name.
        pool = _pool_of(m)
        name = str(m.get("hostname") or m.get("name") or "").strip().lower()
        if not pool or not name:
            continue
        if domain and "." not in name:
            name = "%s.%s" % (name, domain.strip(".").lower())
        pools.setdefault(pool, []).append({
            "hostname": name, "power_state": POWER.get(str(m.get("powerState", "")).upper(), "unknown"),
            "platform_id": m.get("id")})
    return pools


def push(kmsgate, token, pools, dry_run=False, force=False, out=sys.stdout):
    """PUT each pool's list; (number refused, kmsgate down)."""
    refused, down = 0, False
    for pool in sorted(pools):
        desktops = pools[pool]
        if not desktops:
            print("kmsgate: pool %s lists no machine: not sent" % pool, file=out)
            refused += 1
            continue
        path = "/v1/pools/%s/desktops" % urllib.parse.quote(pool, safe="")
        try:
            status, doc = call("PUT", kmsgate + path,
                               {"desktops": desktops, "dry_run": dry_run, "force": force}, token)
        except Unavailable as e:
            print("kmsgate: %s" % e, file=out)
            refused, down = refused + 1, True
            continue
        if status != 200:
            errors = "; ".join("%s: %s" % (e.get("field"), e.get("message"))
                               for e in doc.get("errors", []))
            print("kmsgate: sync of pool %s refused (%d): %s %s"
                  % (pool, status, doc.get("detail", ""), errors), file=out)
            refused += 1
            continue
        print("kmsgate: pool %s%s: %d added, %d decommissioned, %s unchanged"
              % (pool, " (dry run)" if dry_run else "", len(doc.get("added", [])),
                 len(doc.get("decommissioned", [])), doc.get("unchanged")), file=out)
        for name in doc.get("added", []):
            print("  + %s" % name, file=out)
        for name in doc.get("decommissioned", []):
            print("  - %s" % name, file=out)
    return refused, down


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--aria", required=True, help="Aria Automation base URL")
    p.add_argument("--aria-user", required=True)
    p.add_argument("--aria-password-file", required=True)
    p.add_argument("--kmsgate", required=True, help="kmsgate base URL")
    p.add_argument("--token-file", required=True, help="a kmsgate token of role hook")
    p.add_argument("--domain", default="", help="DNS suffix for names without a dot")
    p.add_argument("--pool", action="append", help="sync only these pools (repeatable)")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    aria, kmsgate = args.aria.rstrip("/"), args.kmsgate.rstrip("/")
    try:
        token = aria_token(aria, args.aria_user, _read(args.aria_password_file))
        pools = pools_from(aria_machines(aria, token), args.domain)
    except Unavailable as e:
        print("kmsgate: %s: nothing sent" % e, file=sys.stderr)
        return 1
    for pool in args.pool or []:
        pools.setdefault(pool, [])
    if args.pool:
        pools = {k: v for k, v in pools.items() if k in args.pool}
    refused, down = push(kmsgate, _read(args.token_file), pools, args.dry_run, args.force)
    return 3 if down else (1 if refused else 0)


if __name__ == "__main__":
    sys.exit(main())
