"""GET /metrics: Prometheus text format, scraped, parsed and linted with
promtool (Debian's `prometheus` package)."""
import re
import subprocess

from estate import DAY, cmid_for, create_host, create_pool, event, ingest, now_s, renewing_pool
from harness import Client, expect, expect_status

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')


def promtool_check(text):
    """`promtool check metrics` on a scrape: names, types, help, and the
    suffixes Prometheus reserves (a gauge may not end in _count)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       timeout=60)
    expect(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
           "promtool check metrics: %r %r" % (p.stdout, p.stderr))


def scrape(port):
    r = Client(port).get("/metrics")
    expect_status(r, 200)
    promtool_check(r.body)
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
    expect(samples["kmsgate_kms_host_current_cmids"] == [(host, 27.0)],
           samples["kmsgate_kms_host_current_cmids"])
    expect(samples["kmsgate_kms_host_floor"] == [(host, 25.0)])
    expect(samples["kmsgate_database_up"] == [({}, 1.0)])
    expect("kmsgate_kms_host_count" not in samples and "kmsgate_kms_host_count" not in types)


def test_last_event_breach_and_observation_gauges(svc):
    """The idle alert's input is the newest stored request per host (0 when the
    host has none); the breach time and the latest observation appear only
    when there is one."""
    c = svc.client()
    create_host(c)
    create_host(c, "kms-idle.corp.example")
    create_pool(c, "p1")
    last = now_s() - DAY
    renewing_pool(c, "p1", 26, last)
    # One server request newer than every desktop's, and one stored but older.
    ingest(c, [event("srv1.corp.example", cmid_for("srv1"), last + 3600, required_count=5),
               event("srv2.corp.example", cmid_for("srv2"), last - 20 * DAY, required_count=5)])
    expect_status(c.post("/v1/kms-hosts/kms01.corp.example/observations",
                         {"count": 31, "at": "2026-11-30T12:00:00Z"}), 201)
    samples, types = scrape(svc.port)
    for name in ("kmsgate_kms_host_last_event_timestamp_seconds",
                 "kmsgate_kms_host_first_breach_timestamp_seconds",
                 "kmsgate_kms_host_observed_cmids", "kmsgate_kms_host_observed_modelled_cmids",
                 "kmsgate_kms_host_last_observation_timestamp_seconds"):
        expect(types.get(name) == "gauge", (name, types))
    by_host = lambda name: {l["kms_host"]: v for l, v in samples.get(name, [])}  # noqa: E731
    expect(by_host("kmsgate_kms_host_last_event_timestamp_seconds") ==
           {"kms01.corp.example": float(last + 3600), "kms-idle.corp.example": 0.0},
           samples["kmsgate_kms_host_last_event_timestamp_seconds"])
    observed = c.get("/v1/kms-hosts/kms01.corp.example").json["last_observation"]
    expect(by_host("kmsgate_kms_host_observed_cmids") == {"kms01.corp.example": 31.0})
    expect(by_host("kmsgate_kms_host_observed_modelled_cmids") ==
           {"kms01.corp.example": float(observed["modelled"])}, observed)
    expect(by_host("kmsgate_kms_host_last_observation_timestamp_seconds") ==
           {"kms01.corp.example": 1796040000.0})
    # 28 counted (26 desktops, 2 servers) against 25: the older server request
    # lapses in 10 days, leaving 27: no breach. The idle host has no CMID: 0 < 25.
    breach = by_host("kmsgate_kms_host_first_breach_timestamp_seconds")
    expect(list(breach) == ["kms-idle.corp.example"] and breach["kms-idle.corp.example"] > 0,
           breach)
