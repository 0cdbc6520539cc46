#!/usr/bin/python3
"""Loads a small demo estate through the API so a newcomer sees real answers:
one KMS host, two pools (a Horizon instant-clone pool and a Citrix catalog),
a few dozen desktops with 30 days of activation history, three servers, and a
handful of one-off CMIDs from a rearmed lab machine that will lapse.

  scripts/demo.py --url http://127.0.0.1:8080 --token-file var/admin-token

Does nothing when the demo host already exists.
"""
import argparse
import http.client
import json
import random
import sys
import time
import urllib.parse
import uuid

HOST = "kms01.corp.example"
DAY = 86400


def call(base, token, method, path, body=None):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
    headers = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    if r.status >= 400 and not (method == "GET" and r.status == 404):
        sys.exit("demo: %s %s -> %d %s" % (method, path, r.status, text))
    return r.status, (json.loads(text) if text else None)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def history(client, cmid, last, days=30, required=25):
    """Renewals every 7 days back from `last` over `days` days."""
    out, t = [], last
    while t > last - days * DAY:
        out.append({"cmid": cmid, "client": client, "requested_at": iso(t),
                    "required_count": required, "hresult": "0x0", "is_vm": True,
                    "license_status": 1})
        t -= 7 * DAY
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--token-file", required=True)
    args = ap.parse_args()
    token = open(args.token_file).read().strip()
    base = args.url
    status, _ = call(base, token, "GET", "/v1/kms-hosts/" + HOST)
    if status == 200:
        print("demo: %s already exists; nothing loaded" % HOST)
        return
    rng = random.Random(2026)
    now = int(time.time())
    call(base, token, "POST", "/v1/kms-hosts",
         {"name": HOST, "family": "windows", "description": "demo KMS host"})
    call(base, token, "POST", "/v1/pools", {"name": "horizon-finance", "kms_host": HOST,
                                            "platform": "horizon"})
    call(base, token, "POST", "/v1/pools", {"name": "citrix-callcenter", "kms_host": HOST,
                                            "platform": "citrix"})
    events = []
    for pool, prefix, n in (("horizon-finance", "vdi-fin-", 18), ("citrix-callcenter", "ctx-cc-", 14)):
        for i in range(1, n + 1):
            name = "%s%03d.corp.example" % (prefix, i)
            call(base, token, "PUT", "/v1/desktops/" + name, {"pool": pool})
            cmid = str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
            events += history(name, cmid, now - rng.randint(DAY // 2, 6 * DAY))
    for i in range(1, 4):
        name = "app%02d.corp.example" % i
        events += history(name, str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                          now - rng.randint(DAY, 5 * DAY), required=5)
    for i in range(5):
        events.append({"cmid": str(uuid.uuid5(uuid.NAMESPACE_DNS, "rearm-%d" % i)),
                       "client": "lab-rearm.corp.example", "requested_at": iso(now - 20 * DAY + i),
                       "required_count": 25, "hresult": "0xC004F038"})
    _, result = call(base, token, "POST", "/v1/kms-hosts/%s/activations" % HOST, events)
    _, host = call(base, token, "GET", "/v1/kms-hosts/" + HOST)
    print("demo: loaded %d events; %s count %s, floor %s, headroom %s"
          % (result["accepted"], HOST, host.get("current_count"), host.get("floor"),
             host.get("headroom")))


if __name__ == "__main__":
    main()
