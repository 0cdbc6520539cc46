#!/usr/bin/python3
"""Server-side latency per route from kmsgate's JSON log, for one wrk run.

wrk's percentiles mix every request of a mixed load; the service logs each
request with its route and duration, so the gate's own p50/p99 under the mixed
load come from the log lines written during the run.

    bench/logstats.py LOG FIRST_LINE LAST_LINE

prints one line per route, e.g.
    KGROUTE label=- route=POST_/v1/gate n=4120 p50_ms=1.20 p99_ms=8.40 max_ms=30.10
(FIRST_LINE and LAST_LINE are 1-based, inclusive; KG_LABEL names the run).
"""
import json
import os
import sys

from ingest import percentile  # the uploader's nearest-rank percentile


def main():
    path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    by_route = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if n < first:
                continue
            if n > last:
                break
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("event") != "request" or "duration_ms" not in d:
                continue
            key = "%s_%s" % (d.get("method"), d.get("route"))
            by_route.setdefault(key, []).append(float(d["duration_ms"]))
    label = os.environ.get("KG_LABEL", "-")
    for key in sorted(by_route):
        v = sorted(by_route[key])
        print("KGROUTE label=%s route=%s n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f"
              % (label, key, len(v), percentile(v, 50), percentile(v, 99), v[-1]))


if __name__ == "__main__":
    main()
