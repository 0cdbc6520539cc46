"""openapi/kmsgate.yaml against the code: the C route tables and the document
list the same operations with the same roles and bodies, the service serves
the file byte for byte, and every operation documents its problem answers."""
import glob
import os
import re

import openapi_check
from harness import DATA_DIR, Client, expect, expect_status, no_service

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SPEC_FILE = os.path.join(ROOT, "openapi", "kmsgate.yaml")
METHODS = ("get", "put", "post", "patch", "delete")
ROLES = {"KG_ROLE_NONE": "none", "KG_ROLE_READER": "reader", "KG_ROLE_HOOK": "hook",
         "KG_ROLE_ADMIN": "admin"}

TABLE = re.compile(r"const\s+struct\s+kg_route\s+(kg_routes_\w+)\s*\[\s*\]\s*=\s*\{(.*?)\n\};",
                   re.S)
ENTRY = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(KG_ROLE_\w+)\s*,\s*(KG_BODY_\w+)\s*,')


def c_routes():
    """{(METHOD, /openapi/{path}): (role, body kind)} from every service/http_*.c table."""
    routes = {}
    tables = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "service", "http_*.c"))):
        with open(path, encoding="utf-8") as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        for _name, body in TABLE.findall(text):
            tables += 1
            for method, pattern, role, kind in ENTRY.findall(body):
                templated = re.sub(r":(\w+)", r"{\1}", pattern)
                key = (method, templated)
                expect(key not in routes, "route %s %s is in two tables" % key)
                routes[key] = (ROLES[role], kind)
    expect(tables == 13, "expected the 13 kg_routes_* tables of http.h, found %d" % tables)
    return routes


def spec_operations():
    spec = openapi_check.load()
    ops = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                ops[(method.upper(), path)] = item[method]
    expect(not set(m for item in spec["paths"].values() for m in item)
           - set(METHODS) - {"parameters"}, "unexpected path item members")
    return ops


@no_service
def test_every_c_route_is_documented_and_nothing_else():
    routes = c_routes()
    ops = spec_operations()
    missing = sorted(set(routes) - set(ops))
    extra = sorted(set(ops) - set(routes))
    expect(not missing, "routes of the C tables missing from the OpenAPI: %r" % missing)
    expect(not extra, "OpenAPI operations with no C route: %r" % extra)


def key_checks_role(method, path):
    """Routes whose handler checks the role further than the route table."""
    return (method, path) == ("POST", "/v1/gate")


@no_service
def test_roles_security_and_bodies_match_the_route_tables():
    spec = openapi_check.load()
    for (method, path), (role, kind) in sorted(c_routes().items()):
        op = spec["paths"][path][method.lower()]
        where = "%s %s" % (method, path)
        expect(op.get("x-kmsgate-role") == role,
               "%s: x-kmsgate-role %r, the route table says %r"
               % (where, op.get("x-kmsgate-role"), role))
        expect(("Role: %s" % role) in op.get("description", ""),
               "%s: the description does not say 'Role: %s'" % (where, role))
        statuses = set(op["responses"])
        if role == "none":
            expect(op.get("security") == [], "%s needs no token: security must be []" % where)
            expect("401" not in statuses, "%s: documents 401 without auth" % where)
        else:
            expect("security" not in op, "%s: must use the global bearer security" % where)
            for status in ("401", "503"):
                expect(status in statuses, "%s: lacks %s" % (where, status))
        # A token below the route's role is the only 403, but for the gate, whose
        # handler refuses a reader anything but a dry run.
        expect(("403" in statuses) == (role in ("hook", "admin") or key_checks_role(method, path)),
               "%s: 403 must be documented exactly when the role is above reader" % where)
        body = op.get("requestBody")
        if kind == "KG_BODY_NONE":
            expect(body is None, "%s takes no body" % where)
            expect("413" not in statuses, "%s: 413 without a body" % where)
        else:
            expect(body is not None, "%s takes a body (%s)" % (where, kind))
            expect("413" in statuses, "%s: lacks 413" % where)
        if kind == "KG_BODY_JSON":
            body = openapi_check._deref(body)
            expect(body.get("required") is True and list(body["content"]) == ["application/json"],
                   "%s: a JSON body route needs a required application/json body" % where)
            for status in ("400", "415"):
                expect(status in statuses, "%s: lacks %s" % (where, status))


@no_service
def test_every_operation_declares_a_4xx_problem():
    spec = openapi_check.load()
    for (method, path), op in sorted(spec_operations().items()):
        problems = []
        for status, response in op["responses"].items():
            content = openapi_check._deref(response).get("content", {})
            if status.startswith("4") and "application/problem+json" in content:
                problems.append(status)
        expect(problems, "%s %s declares no 4xx problem+json response" % (method, path))
        for status, response in op["responses"].items():
            response = openapi_check._deref(response)
            if status.startswith(("4", "5")) and (method, path, status) != \
                    ("POST", "/v1/gate", "409"):
                expect(list(response.get("content", {})) == ["application/problem+json"],
                       "%s %s %s: errors are application/problem+json" % (method, path, status))
            if status == "503":
                expect("Retry-After" in response.get("headers", {}),
                       "%s %s: 503 without Retry-After" % (method, path))
            if status == "401":
                expect("WWW-Authenticate" in response.get("headers", {}),
                       "%s %s: 401 without WWW-Authenticate" % (method, path))
            if status == "201" and not (method, path) in (("POST", "/v1/tokens"),
                                                          ("POST", "/v1/gate"),
                                                          ("POST", "/v1/kms-hosts/{name}/observations")):
                expect("Location" in response.get("headers", {}),
                       "%s %s: 201 without Location" % (method, path))


@no_service
def test_document_is_self_consistent():
    spec = openapi_check.load()
    expect(spec["openapi"].startswith("3.1"), spec["openapi"])
    openapi_check.check_keywords()
    ids = [op["operationId"] for op in spec_operations().values()]
    expect(len(ids) == len(set(ids)), "duplicate operationIds")
    # Every $ref resolves.
    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)
    for ref in set(refs(spec)):
        openapi_check.resolve(ref)
    # The validator itself: closed objects, nullable types, formats.
    host = openapi_check.resolve("#/components/schemas/Observation")
    good = {"kms_host": "kms01.corp.example", "count": 3, "at": "2026-12-01T00:00:00Z",
            "modelled": 2, "difference": 1}
    openapi_check.validate(host, good)
    for bad in (dict(good, extra=1), dict(good, at="2026-13-01T00:00:00Z"),
                dict(good, count=True), {k: v for k, v in good.items() if k != "modelled"},
                dict(good, kms_host="KMS01.corp.example")):
        try:
            openapi_check.validate(host, bad)
        except AssertionError:
            continue
        raise AssertionError("the validator accepted %r" % bad)


def test_openapi_yaml_is_served_byte_for_byte(svc):
    r = Client(svc.port).get("/openapi.yaml")
    expect_status(r, 200)
    expect(r.headers.get("content-type", "").split(";")[0] == "application/yaml", r.headers)
    with open(os.path.join(DATA_DIR, "openapi", "kmsgate.yaml"), "rb") as f:
        served_from = f.read()
    expect(r.body == served_from, "GET /openapi.yaml differs from the data folder's file")
    with open(SPEC_FILE, "rb") as f:
        expect(r.body == f.read(), "GET /openapi.yaml differs from openapi/kmsgate.yaml")


def test_check_catches_undocumented_answers(svc):
    """The harness hook really checks: a wrong status or shape fails."""
    r = svc.client().get("/v1/kms-hosts")
    openapi_check.check("GET", "/v1/kms-hosts", 200, r.headers, r.body)
    for args in (("GET", "/v1/kms-hosts", 418, r.headers, r.body),
                 ("GET", "/v1/kms-hosts", 200, r.headers, b'{"items": []}'),
                 ("GET", "/v1/kms-hosts", 200, {"content-type": "text/plain"}, r.body),
                 ("GET", "/v1/kms-hosts", 200, {"content-type": "application/json"}, r.body),
                 ("POST", "/healthz", 200, r.headers, r.body)):
        try:
            openapi_check.check(*args)
        except AssertionError:
            continue
        raise AssertionError("openapi_check.check accepted %r" % (args[:3],))
    # Undocumented paths are not checked.
    openapi_check.check("GET", "/no/such/thing", 418, {}, b"")


def test_less_travelled_answers_match_the_document(svc):
    """Answers the other tests rarely reach, each validated by the harness hook."""
    from estate import DAY, create_host, create_pool, now_s, renewing_pool
    c = svc.client()
    anonymous = Client(svc.port)
    create_host(c)
    create_pool(c, "p1")
    names = renewing_pool(c, "p1", 27, now_s() - DAY)
    host = "/v1/kms-hosts/kms01.corp.example"
    # Metrics: Prometheus text with the per-host gauges.
    r = anonymous.get("/metrics")
    expect_status(r, 200)
    expect(b'kmsgate_kms_host_current_cmids{kms_host="kms01.corp.example"} 27' in r.body, r.body[-600:])
    # The host document with an observation, the forecast and the headroom.
    expect_status(c.post(host + "/observations", {"count": 28}), 201)
    doc = c.get(host).json
    expect(doc["last_observation"]["count"] == 28 and doc["in_count"]["clients"] == 27, doc)
    expect_status(c.get(host + "/forecast?horizon_days=365&pool=p1"), 200)
    expect(c.get(host + "/headroom").json["pool"] is None)
    for path, field in ((host + "/forecast?horizon_days=0", "horizon_days"),
                        (host + "/headroom?pool=nope", "pool"),
                        ("/v1/plans?state=gone", "state"),
                        ("/v1/plans?kms_host=bad%20host", "kms_host"),
                        ("/v1/decisions?since=yesterday", "since"),
                        ("/v1/decisions?cursor=4142", "cursor")):
        expect_status(c.get(path), 422)
    for path in ("/v1/kms-hosts/nope.example/forecast", "/v1/kms-hosts/nope.example/headroom",
                 "/v1/plans/00000000-0000-4000-8000-000000000000", "/v1/plans/x"):
        expect_status(c.get(path), 404)
    # Gate: reserve, replay, an over-long Idempotency-Key, enforce, provision only.
    gate = {"kms_host": "kms01.corp.example", "decommission": {"desktops": names[:1]},
            "reserve": True, "ttl_minutes": 5}
    first = c.post("/v1/gate", gate, headers={"Idempotency-Key": "k1"})
    expect_status(first, 201)
    expect(first.json["expires_at"] and first.json["plan_id"], first.json)
    expect(c.post("/v1/gate", gate, headers={"Idempotency-Key": "k1"}).json == first.json)
    r = c.post("/v1/gate", gate, headers={"Idempotency-Key": "k" * 256})
    expect_status(r, 422)
    r = c.post("/v1/gate?enforce=1", {"kms_host": "kms01.corp.example",
                                      "decommission": {"pool": "p1", "count": 5}})
    expect_status(r, 409)
    expect(r.headers["content-type"].startswith("application/json"), r.headers)
    expect_status(c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                                      "provision": [{"pool": "p1", "count": 2}]}), 200)
    expect_status(c.post("/v1/gate", raw=b"{}", content_type="text/plain"), 415)
    # Plans: list and read, commit with a (ignored) body, unknown and malformed ids.
    plan = first.json["plan_id"]
    expect_status(c.get("/v1/plans?kms_host=KMS01.corp.example&state=reserved&limit=1"), 200)
    expect_status(c.post("/v1/plans/%s/commit" % plan, raw=b"ignored", content_type="text/plain"),
                  200)
    expect_status(c.post("/v1/plans/00000000-0000-4000-8000-000000000000/release"), 404)
    expect_status(c.post("/v1/plans/nope/commit"), 404)
    expect_status(c.post("/v1/plans/%s/release" % plan, raw=b" " * (1024 * 1024 + 1),
                         content_type="application/octet-stream"), 413)
    decisions = c.get("/v1/decisions?kms_host=kms01.corp.example&since=2020-01-01T00:00:00Z"
                      "&limit=2")
    expect_status(decisions, 200)
    expect(decisions.json["next_cursor"] is not None, decisions.json)
    expect_status(c.get("/v1/decisions?limit=2&cursor=" + decisions.json["next_cursor"]), 200)
    # Observations and pools: wrong content type, too large.
    expect_status(c.post(host + "/observations", raw=b"{}", content_type="text/plain"), 415)
    expect_status(c.patch("/v1/pools/p1", raw=b"{}", content_type="text/plain"), 415)
    expect_status(c.post("/v1/pools", raw=b" " * (1024 * 1024 + 1),
                         content_type="application/json"), 413)
    # Authentication on every kind of path.
    for method, path in (("GET", host), ("GET", host + "/forecast"), ("GET", "/v1/plans"),
                         ("GET", "/v1/decisions"), ("POST", "/v1/gate"),
                         ("POST", "/v1/plans/%s/commit" % plan), ("DELETE", "/v1/tokens/x")):
        expect_status(anonymous.request(method, path), 401)
    reader = svc.client(svc.create_token("reader", "openapi-reader"))
    expect_status(reader.post(host + "/observations", {"count": 1}), 403)
    expect_status(reader.post("/v1/plans/%s/release" % plan), 403)
    # Methods a path does not list: 405 with Allow.
    for method, path in (("PUT", host), ("DELETE", "/v1/gate"), ("POST", "/v1/desktops"),
                         ("GET", "/v1/plans/%s/commit" % plan)):
        r = c.request(method, path)
        expect_status(r, 405)
        expect(r.headers.get("allow"), r.headers)
