"""GET /metrics: Prometheus text format, scraped and parsed."""
import re

from estate import DAY, create_host, create_pool, now_s, renewing_pool
from harness import Client, expect, expect_status

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')


def scrape(port):
    r = Client(port).get("/metrics")
    expect_status(r, 200)
    expect(r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers)
    samples, types = {}, {}
    for line in r.body.decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        expect(m is not None, "not a Prometheus sample line: %r" % line)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        samples.setdefault(m.group(1), []).append((labels, float(m.group(4))))
    return samples, types


def test_metrics_are_prometheus_text_with_requests_gates_and_hosts(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "p1")
    names = renewing_pool(c, "p1", 27, now_s() - DAY)
    c.post("/v1/gate", {"kms_host": "kms01.corp.example", "decommission": {"desktops": names[:1]}})
    c.post("/v1/gate", {"kms_host": "kms01.corp.example", "decommission": {"desktops": names[:5]}})
    Client(svc.port).get("/no/such/path")
    samples, types = scrape(svc.port)
    expect(types.get("kmsgate_http_requests_total") == "counter", types)
    expect(types.get("kmsgate_http_request_duration_seconds") == "histogram", types)
    expect(types.get("kmsgate_gate_decisions_total") == "counter", types)
    gates = {l["decision"]: v for l, v in samples["kmsgate_gate_decisions_total"]}
    expect(gates == {"go": 1.0, "no-go": 1.0}, gates)
    gate_200 = [v for l, v in samples["kmsgate_http_requests_total"]
                if l == {"route": "/v1/gate", "status": "200"}]
    expect(gate_200 == [2.0], samples["kmsgate_http_requests_total"])
    expect(any(l.get("route") == "unmatched" and l.get("status") == "404"
               for l, _ in samples["kmsgate_http_requests_total"]))
    buckets = [(l["le"], v) for l, v in samples["kmsgate_http_request_duration_seconds_bucket"]
               if l["route"] == "/v1/gate"]
    expect(buckets[-1][0] == "+Inf" and buckets[-1][1] == 2.0, buckets)
    expect(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "buckets must be cumulative")
    host = {"kms_host": "kms01.corp.example"}
    expect(samples["kmsgate_kms_host_count"] == [(host, 27.0)], samples["kmsgate_kms_host_count"])
    expect(samples["kmsgate_kms_host_floor"] == [(host, 25.0)])
    expect(samples["kmsgate_database_up"] == [({}, 1.0)])
