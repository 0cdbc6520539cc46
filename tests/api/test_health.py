"""Health, readiness, routing errors, request ids and the CLI."""
import json
import subprocess

from harness import Client, Service, expect, expect_problem, expect_status, no_service


def test_healthz_and_readyz(svc):
    c = Client(svc.port)
    r = c.get("/healthz")
    expect_status(r, 200)
    expect(r.json == {"status": "ok"})
    r = c.get("/readyz")
    expect_status(r, 200)
    expect(r.json["status"] == "ready")


def test_json_answers_end_with_a_newline(svc):
    """So that curl's output does not run into the shell prompt: plain JSON,
    problem+json and the gate's answer (sent as the text it stores)."""
    c = svc.client()
    c.post("/v1/kms-hosts", {"name": "kms01.corp.example", "family": "windows"})
    answers = [Client(svc.port).get("/healthz"), Client(svc.port).get("/no/such/thing"),
               c.get("/v1/kms-hosts"),
               c.post("/v1/gate", {"kms_host": "kms01.corp.example", "provision": []})]
    for r in answers:
        expect(r.body.endswith(b"}\n") and not r.body.endswith(b"\n\n"), r)
        json.loads(r.body)


def test_unknown_route_is_problem_404(svc):
    r = Client(svc.port).get("/no/such/thing")
    expect_problem(r, 404)


def test_wrong_method_is_problem_405_with_allow(svc):
    r = Client(svc.port).post("/healthz", body={})
    doc = expect_problem(r, 405)
    expect("GET" in r.headers.get("allow", ""), "Allow header: %r" % r.headers)
    expect("POST" in doc["detail"])


def test_request_id_is_echoed_or_generated(svc):
    c = Client(svc.port)
    r = c.get("/healthz", headers={"X-Request-Id": "hook-42.abc"})
    expect(r.headers.get("x-request-id") == "hook-42.abc")
    r = c.get("/healthz")
    expect(len(r.headers.get("x-request-id", "")) == 32)
    # An id with characters unsafe for logs is replaced, not echoed.
    r = c.get("/healthz", headers={"X-Request-Id": "a b\"c"})
    expect(r.headers.get("x-request-id") != "a b\"c")


def test_one_json_log_line_per_request(svc):
    Client(svc.port).get("/healthz", headers={"X-Request-Id": "trace-me-1"})
    lines = [json.loads(line) for line in svc.log_text().splitlines() if line.startswith("{")]
    hits = [x for x in lines if x.get("request_id") == "trace-me-1"]
    expect(len(hits) == 1, "log lines: %r" % hits)
    hit = hits[0]
    for key in ("method", "route", "status", "duration_ms"):
        expect(key in hit, "log line lacks %s: %r" % (key, hit))
    expect(hit["status"] == 200 and hit["route"] == "/healthz")


def test_openapi_is_served(svc):
    r = Client(svc.port).get("/openapi.yaml")
    expect_status(r, 200)
    expect(r.body.startswith(b"openapi: 3"), r.body[:40])


@no_service
def test_readyz_503_until_migrated_then_200():
    svc = Service(migrate=False)
    try:
        svc.start(wait=True)  # healthz answers even without a schema
    except subprocess.CalledProcessError:
        pass  # token creation fails before migration: expected
    try:
        r = Client(svc.port).get("/readyz")
        doc = expect_problem(r, 503)
        expect("migrate" in doc["detail"])
        expect(r.headers.get("retry-after") is not None)
        svc.run_cli("migrate")
        expect_status(Client(svc.port).get("/readyz"), 200)
    finally:
        expect(svc.stop() == 0)
        svc.drop()


@no_service
def test_migrate_is_idempotent_and_refuses_changed_files():
    svc = Service()
    try:
        out = svc.run_cli("migrate")
        expect("0 applied now" in out.stderr, out.stderr)
        svc.sql("UPDATE schema_migrations SET checksum = 'x' WHERE version = '0001_schema'")
        out = svc.run_cli("migrate", check=False)
        expect(out.returncode != 0, "migrate accepted a changed migration")
        expect("changed after it was applied" in out.stderr, out.stderr)
    finally:
        svc.drop()


@no_service
def test_token_create_prints_only_the_token():
    svc = Service()
    try:
        out = svc.run_cli("token", "create", "--role", "reader", "--name", "cli-test")
        token = out.stdout
        expect(token.endswith("\n") and token.count("\n") == 1, repr(token))
        expect(token.startswith("kg_") and len(token.strip()) == 46, repr(token))
        rows = svc.sql("SELECT count(*) FROM api_tokens WHERE name = 'cli-test' AND role = 'reader'")
        expect(rows == [["1"]])
        bad = svc.run_cli("token", "create", "--role", "root", "--name", "x", check=False)
        expect(bad.returncode == 2)
    finally:
        svc.drop()


@no_service
def test_help_documents_every_option():
    svc = Service(migrate=False)
    try:
        out = svc.run_cli("--help")
        for word in ("serve", "migrate", "token create", "--database-url", "--listen",
                     "--threads", "--log-level", "--tls-cert", "--tls-key",
                     "KMSGATE_DATABASE_URL", "KMSGATE_LISTEN", "KMSGATE_THREADS",
                     "KMSGATE_LOG_LEVEL", "KMSGATE_TLS_CERT", "KMSGATE_TLS_KEY"):
            expect(word in out.stdout, "--help lacks %s" % word)
    finally:
        svc.drop()


@no_service
def test_sigterm_exits_zero():
    svc = Service().start()
    try:
        expect(svc.stop() == 0)
    finally:
        svc.drop()


def test_sigterm_finishes_requests_in_flight(svc):
    """A request being served when SIGTERM arrives still gets its answer."""
    import threading
    import time as _time
    from estate import create_host, event
    c = svc.client()
    create_host(c)
    events = [event("pc-%d.corp.example" % i, "00000000-0000-4000-8000-%012d" % i,
                    1790000000 + i) for i in range(10000)]
    result = {}

    def upload():
        result["r"] = c.post("/v1/kms-hosts/kms01.corp.example/activations", events, timeout=60)

    t = threading.Thread(target=upload)
    t.start()
    _time.sleep(0.15)  # the 10,000-event body is being parsed or stored now
    svc.proc.send_signal(15)
    t.join()
    expect(result["r"].status == 200 and result["r"].json["accepted"] == 10000, result["r"])
    expect(svc.proc.wait(timeout=30) == 0)
    expect_status_refused(svc.port)


def expect_status_refused(port):
    try:
        Client(port).get("/healthz", timeout=2)
    except OSError:
        return
    raise AssertionError("still accepting after shutdown")
