#!/usr/bin/python3
"""ingest.py: ingest throughput of POST /v1/kms-hosts/{name}/activations.

Generates --events event-12290 records up front (NDJSON, all 9 fields, as
scripts/gen-events.py writes them), split into batches of --batch (default
10,000, the per-request maximum), then uploads them with --uploaders
concurrent connections and reports events/s overall and the per-batch
latency. Finally re-sends one batch and checks that every record of it comes
back as a duplicate.

The population: --cmids CMIDs (90% desktop clients named like bench/seed.py
names them, vdi-<tag>-pNN-NNNNNN.<domain>, 10% servers), each renewing every 7
days; the records are rounds of renewals, oldest first: record e is round
e // cmids of CMID e % cmids, so every record is distinct and a batch holds
up to --batch different CMIDs. With the defaults (1,000,000 events, 50,000
CMIDs) that is 20 weekly renewals per CMID, the last one within the past week.

Prints one parseable line:
  KGINGEST events=N batches=N uploaders=N seconds=F events_per_s=F batch_p50_ms=F
    batch_p90_ms=F batch_max_ms=F accepted=N duplicates=N rejected=N errors=N
    reingest_duplicates=N reingest_accepted=N
Exit status 1 if a request failed, a record was rejected, the accepted count
is not the number sent, or the re-ingest stored anything.

Example:
  bench/ingest.py --url http://127.0.0.1:8080 --token-file var/admin-token \
      --host kms-ingest.bench.example --events 1000000 --uploaders 4
"""
import argparse
import http.client
import json
import queue
import random
import sys
import threading
import time
import urllib.parse
import uuid

DAY = 86400
WIN_ACT = "73111121-5638-40f6-bc11-f1d7b0d64300"  # Windows 10/11 Enterprise
SRV_ACT = "9bd77860-9b31-4b7b-96ad-2564017315bf"


def iso_us(t):
    s = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%06dZ" % int((t - s) * 1e6)


def generate(a, tag):
    """Returns a list of NDJSON bodies (bytes), one per batch."""
    rng = random.Random(a.seed)
    linked = a.cmids * 9 // 10
    pools = max(1, a.pools)
    # Per CMID: id, client, required count, activation id and a fixed phase in the week.
    cmids = []
    for k in range(1, a.cmids + 1):
        cmid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if k <= linked:
            client = "vdi-%s-p%02d-%06d.%s" % (tag, 1 + (k - 1) % pools, k, a.domain)
            prefix = '{"cmid":"%s","client":"%s","required_count":25,"is_vm":true,' \
                     '"license_status":1,"minutes_to_expiry":259200,"activation_id":"%s",' \
                     % (cmid, client, WIN_ACT)
        else:
            client = "srv-%s-%06d.%s" % (tag, k, a.domain)
            prefix = '{"cmid":"%s","client":"%s","required_count":5,"is_vm":false,' \
                     '"license_status":1,"minutes_to_expiry":259200,"activation_id":"%s",' \
                     % (cmid, client, SRV_ACT)
        cmids.append((prefix, rng.uniform(0, 6.5 * DAY)))
    rounds = (a.events + a.cmids - 1) // a.cmids
    now = time.time()
    bodies, lines = [], []
    for e in range(a.events):
        r, k = divmod(e, a.cmids)
        prefix, phase = cmids[k]
        t = now - phase - (rounds - 1 - r) * 7 * DAY + rng.uniform(-900, 0)
        hresult = "0xC004F038" if (r == 0 and k % 12 == 5) else "0x0"
        lines.append('%s"hresult":"%s","requested_at":"%s"}' % (prefix, hresult, iso_us(t)))
        if len(lines) == a.batch:
            bodies.append(("\n".join(lines) + "\n").encode())
            lines = []
    if lines:
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


class Uploader:
    def __init__(self, url, token, host):
        u = urllib.parse.urlsplit(url)
        if u.hostname not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("ingest.py: --url must point at this machine (127.0.0.1)")
        self.addr = (u.hostname, u.port or 80)
        self.conn = None
        self.path = "/v1/kms-hosts/%s/activations" % urllib.parse.quote(host, safe="")
        self.headers = {"Authorization": "Bearer " + token,
                        "Content-Type": "application/x-ndjson"}

    def post(self, body):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(*self.addr, timeout=300)
            try:
                self.conn.request("POST", self.path, body=body, headers=self.headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        return None


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token")
    ap.add_argument("--token-file")
    ap.add_argument("--host", required=True, help="KMS host (must exist)")
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--cmids", type=int, default=50000)
    ap.add_argument("--pools", type=int, default=10, help="as given to bench/seed.py")
    ap.add_argument("--domain", default="bench.example")
    ap.add_argument("--tag", help="as bench/seed.py (default: from --host)")
    ap.add_argument("--uploaders", type=int, default=4)
    ap.add_argument("--seed", type=int, default=12290)
    ap.add_argument("--quiet", action="store_true", help="no per-batch lines")
    a = ap.parse_args()
    token = a.token or (open(a.token_file).read().strip() if a.token_file else None)
    if not token:
        sys.exit("ingest.py: give --token or --token-file")
    tag = a.tag or a.host.split(".")[0]

    t0 = time.time()
    bodies = generate(a, tag)
    mb = sum(len(b) for b in bodies) / 1e6
    print("generated %d events in %d batches (%.0f MB NDJSON) in %.1f s (not measured)"
          % (a.events, len(bodies), mb, time.time() - t0), file=sys.stderr)

    work = queue.Queue()
    for i, b in enumerate(bodies):
        work.put(i)
    lock = threading.Lock()
    stats = {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": 0}
    latencies = []

    def run():
        up = Uploader(a.url, token, a.host)
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            s = time.time()
            try:
                status, text = up.post(bodies[i])
            except Exception as exc:  # noqa: BLE001 - report and count
                status, text = 0, str(exc).encode()
            ms = (time.time() - s) * 1e3
            with lock:
                latencies.append(ms)
                if status != 200:
                    stats["errors"] += 1
                    print("batch %d: HTTP %d %s" % (i, status, text[:300]), file=sys.stderr)
                    continue
                doc = json.loads(text)
                stats["accepted"] += doc["accepted"]
                stats["duplicates"] += doc["duplicates"]
                stats["rejected"] += len(doc["rejected"])
                if not a.quiet:
                    print("batch %3d: %7.1f ms accepted=%d duplicates=%d rejected=%d"
                          % (i, ms, doc["accepted"], doc["duplicates"], len(doc["rejected"])),
                          file=sys.stderr)

    threads = [threading.Thread(target=run) for _ in range(max(1, a.uploaders))]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.time() - start

    # Re-ingest one batch (the middle one): everything must be a duplicate.
    probe = bodies[len(bodies) // 2]
    probe_n = probe.count(b"\n")
    status, text = Uploader(a.url, token, a.host).post(probe)
    re_dup = re_acc = -1
    if status == 200:
        doc = json.loads(text)
        re_dup, re_acc = doc["duplicates"], doc["accepted"]
    else:
        stats["errors"] += 1
        print("re-ingest: HTTP %d %s" % (status, text[:300]), file=sys.stderr)

    lat = sorted(latencies)
    print("KGINGEST events=%d batches=%d uploaders=%d seconds=%.2f events_per_s=%.0f "
          "batch_p50_ms=%.1f batch_p90_ms=%.1f batch_max_ms=%.1f accepted=%d duplicates=%d "
          "rejected=%d errors=%d reingest_records=%d reingest_duplicates=%d reingest_accepted=%d"
          % (a.events, len(bodies), a.uploaders, seconds, a.events / seconds,
             percentile(lat, 50), percentile(lat, 90), lat[-1] if lat else 0,
             stats["accepted"], stats["duplicates"], stats["rejected"], stats["errors"],
             probe_n, re_dup, re_acc))
    ok = (stats["errors"] == 0 and stats["rejected"] == 0 and stats["accepted"] == a.events
          and re_acc == 0 and re_dup == probe_n)
    if not ok:
        print("ingest.py: FAILED (see the counts above)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
