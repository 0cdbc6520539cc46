#!/usr/bin/python3
"""gen-events.py: write a realistic KMS event-12290 export for kmsgate tests and benchmarks.

The output is what `POST /v1/kms-hosts/{name}/activations` ingests (see api.md):
  csv     PowerShell Export-Csv of `TimeCreated, Message`, newest first as
          Get-WinEvent returns them; --ps 5 (default) adds the UTF-8 BOM and the
          #TYPE line, --ps 7 writes neither. CRLF line ends, multi-line quoted
          Message ending in the 9-field info string.
  ndjson  one JSON object per line, oldest first.
  json    one array of the same objects.

The population, over --days days ending at --end:
  - renewing desktops (--clients): a request every 7 days, a few minutes of jitter;
  - about 1 in 12 desktops is new: it retries every 2 hours with 0xC004F038
    (count too low, license status 2 = OOB grace) a few times, then activates
    and renews (the host's count itself is not simulated);
  - about 1 in 20 is rearmed midway: it switches to a new CMID from then on;
  - one group of non-generalized clones (about 1 in 10) shares a single CMID;
  - servers (--servers): required count 5, renewing every 7 days.
--broken N corrupts N records, cycling through: bad CMID, 8 fields (JSON:
missing client), bad time.  The same arguments and --seed give the same bytes.
A summary (records, broken, distinct CMIDs) goes to stderr.

Example: scripts/gen-events.py --format csv --clients 30 --servers 3 --days 30 \
           --end 2026-12-01T00:00:00Z --seed 1 --broken 3 --out /tmp/kms.csv
"""
import argparse
import datetime as dt
import json
import random
import sys
import uuid

WIN_ACTIVATION_ID = "4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c"
SRV_ACTIVATION_ID = "9bd77860-9b31-4b7b-96ad-2564017315bf"
PREAMBLE = "An activation request has been processed.\r\nInfo:\r\n"
RENEWAL = dt.timedelta(days=7)
RETRY = dt.timedelta(minutes=120)
VALIDITY_MIN = 180 * 24 * 60  # an activation lasts 180 days
GRACE_MIN = 30 * 24 * 60      # out-of-box grace period


def parse_end(text):
    if text is None:
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        sys.exit("--end needs an offset or Z")
    return t.astimezone(dt.timezone.utc)


class Gen:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        self.end = parse_end(args.end)
        self.start = self.end - dt.timedelta(days=args.days)
        self.events = []  # dicts, one per request

    def guid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def emit(self, t, client, cmid, hresult, required, vm, status, minutes, act, tz):
        if self.start <= t < self.end:
            self.events.append(dict(t=t, client=client, cmid=cmid, hresult=hresult,
                                    required=required, vm=vm, status=status,
                                    minutes=minutes, act=act, tz=tz))

    def jitter(self):
        return dt.timedelta(seconds=self.rng.uniform(-900, 900))

    def renew(self, t, until, client, cmid, required, vm, act, tz):
        """Renewals every 7 days from t while t < until."""
        while t < until:
            self.emit(t, client, cmid, 0, required, vm, 1, VALIDITY_MIN, act, tz)
            t += RENEWAL + self.jitter()

    def population(self):
        a, rng = self.a, self.rng
        clone_cmid = self.guid()
        n_clones = max(2, a.clients // 10) if a.clients >= 10 else 0
        tz_choices = [dt.timedelta(0), dt.timedelta(hours=1), dt.timedelta(hours=-5)]
        for i in range(a.clients):
            name = "%s%03d.%s" % (a.client_prefix, i + 1, a.domain)
            tz = rng.choice(tz_choices)
            first = self.start + dt.timedelta(seconds=rng.uniform(0, RENEWAL.total_seconds()))
            roll = rng.random()
            if i < n_clones:  # the clones come first so their count is fixed
                self.renew(first, self.end, name, clone_cmid, 25, True, WIN_ACTIVATION_ID, tz)
            elif roll < 1 / 12:  # new desktop: retries, then activates
                cmid, t = self.guid(), self.start + dt.timedelta(
                    seconds=rng.uniform(0, a.days * 86400 * 0.8))
                for k in range(rng.randint(3, 12)):
                    left = max(0, GRACE_MIN - k * 120)
                    self.emit(t, name, cmid, 0xC004F038, 25, True, 2, left, WIN_ACTIVATION_ID, tz)
                    t += RETRY + dt.timedelta(seconds=rng.uniform(0, 90))
                self.renew(t, self.end, name, cmid, 25, True, WIN_ACTIVATION_ID, tz)
            elif roll < 1 / 12 + 1 / 20:  # rearmed midway: a new CMID from then on
                mid = self.start + (self.end - self.start) * rng.uniform(0.3, 0.7)
                self.renew(first, mid, name, self.guid(), 25, True, WIN_ACTIVATION_ID, tz)
                self.renew(mid, self.end, name, self.guid(), 25, True, WIN_ACTIVATION_ID, tz)
            else:
                self.renew(first, self.end, name, self.guid(), 25, True, WIN_ACTIVATION_ID, tz)
        for i in range(a.servers):
            name = "srv%02d.%s" % (i + 1, a.domain)
            first = self.start + dt.timedelta(seconds=rng.uniform(0, RENEWAL.total_seconds()))
            self.renew(first, self.end, name, self.guid(), 5, rng.random() < 0.5,
                       SRV_ACTIVATION_ID, dt.timedelta(0))
        self.events.sort(key=lambda e: (e["t"], e["client"]))
        for e in self.events:  # Windows keeps 100 ns ticks: 7 fraction digits
            e["tick"] = rng.randint(0, 9)
        if a.records is not None:
            if len(self.events) < a.records:
                print("gen-events: only %d records for --records %d; raise --clients or --days"
                      % (len(self.events), a.records), file=sys.stderr)
            self.events = self.events[-a.records:] if a.records > 0 else []
        broken = rng.sample(range(len(self.events)), min(a.broken, len(self.events)))
        for n, idx in enumerate(sorted(broken)):
            self.events[idx]["broken"] = ("cmid", "fields", "time")[n % 3]


def stamp(t):
    """Client timestamp as the KMS host logs it: yyyy/m/d h:mm, no leading zeros."""
    return "%d/%d/%d %d:%02d" % (t.year, t.month, t.day, t.hour, t.minute)


def info_string(e, sep):
    cmid = e["cmid"][:-1] if e.get("broken") == "cmid" else e["cmid"]
    fields = ["0x%X" % e["hresult"], str(e["required"]), e["client"], cmid,
              stamp(e["t"] + e["tz"]), "1" if e["vm"] else "0", str(e["status"]),
              str(e["minutes"]), e["act"]]
    if e.get("broken") == "fields":
        fields.pop()
    return sep.join(fields)


def time_created(e):
    if e.get("broken") == "time":  # what a locale-formatted DateTime looks like
        return e["t"].strftime("%m/%d/%Y %I:%M:%S %p")
    return e["t"].strftime("%Y-%m-%dT%H:%M:%S.%f") + str(e["tick"]) + "Z"


def quote(s):
    return '"' + s.replace('"', '""') + '"'


def write_csv(g, out):
    if g.a.ps == 5:
        out.write(b"\xef\xbb\xbf#TYPE System.Management.Automation.PSCustomObject\r\n")
    out.write(b'"TimeCreated","Message"\r\n')
    for i, e in enumerate(reversed(g.events)):  # Get-WinEvent lists newest first
        sep = ", " if i % 4 else ","  # hosts differ; both forms occur
        line = quote(time_created(e)) + "," + quote(PREAMBLE + info_string(e, sep)) + "\r\n"
        out.write(line.encode("utf-8"))


def json_record(e):
    r = {"cmid": e["cmid"], "client": e["client"],
         "requested_at": e["t"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
         "hresult": "0x%X" % e["hresult"], "required_count": e["required"],
         "is_vm": e["vm"], "license_status": e["status"],
         "minutes_to_expiry": e["minutes"], "activation_id": e["act"]}
    kind = e.get("broken")
    if kind == "cmid":
        r["cmid"] = r["cmid"][:-1]
    elif kind == "fields":
        del r["client"]
    elif kind == "time":
        r["requested_at"] = e["t"].strftime("%Y-%m-%d %H:%M")
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", choices=("csv", "ndjson", "json"), default="csv")
    p.add_argument("--ps", type=int, choices=(5, 7), default=5, help="CSV flavour")
    p.add_argument("--out", default="-", help="output file, - for stdout")
    p.add_argument("--clients", type=int, default=30)
    p.add_argument("--servers", type=int, default=3)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--end", help="RFC 3339 end of the period (default: now)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--broken", type=int, default=0)
    p.add_argument("--records", type=int, help="keep only the newest N records")
    p.add_argument("--client-prefix", default="vdi-p1-")
    p.add_argument("--domain", default="corp.example")
    a = p.parse_args()
    if a.days < 1 or a.clients < 0 or a.servers < 0 or a.broken < 0:
        p.error("--days must be >= 1; counts must be >= 0")
    g = Gen(a)
    g.population()
    out = sys.stdout.buffer if a.out == "-" else open(a.out, "wb")
    try:
        if a.format == "csv":
            write_csv(g, out)
        elif a.format == "ndjson":
            for e in g.events:
                out.write((json.dumps(json_record(e)) + "\n").encode("utf-8"))
        else:
            out.write(json.dumps([json_record(e) for e in g.events], indent=1).encode("utf-8"))
            out.write(b"\n")
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    n_broken = sum(1 for e in g.events if e.get("broken"))
    print("gen-events: %d records (%d broken), %d distinct CMIDs, %s .. %s"
          % (len(g.events), n_broken, len({e["cmid"] for e in g.events}),
             g.start.isoformat(), g.end.isoformat()), file=sys.stderr)


if __name__ == "__main__":
    main()
