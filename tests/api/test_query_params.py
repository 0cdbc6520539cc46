"""The query-string rule of every route: a route takes exactly the query
parameters openapi/kmsgate.yaml documents for it; any other name, a repeated
one or a malformed query is a 400 naming it. Driven by the document's paths,
so a new route is covered as soon as it is documented."""
import os
import re

import openapi_check
from estate import create_host, create_pool, put_desktop
from harness import expect, expect_problem, expect_status, no_service, q

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

METHODS = ("get", "put", "post", "patch", "delete")
HOST = "kms01.corp.example"
PLAN = "0190a5d2-7b1c-7d3e-8f00-000000000001"
GUID = "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f10"
# Path values that name something real, so that only the query can be wrong.
PATH_VALUES = {"name": HOST, "server": HOST, "hostname": "vdi-001.corp.example",
               "id": GUID}
# Ingest parameters another branch adds (time zone of CSV times, PowerShell
# culture): declared in the route table ahead of the document.
PENDING = {("POST", "/v1/kms-hosts/{name}/activations"): {"time_zone", "utc_offset", "culture"},
           ("POST", "/v1/kms-servers/{server}/activations"): {"time_zone", "utc_offset",
                                                               "culture"}}

ROW = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*KG_ROLE_\w+\s*,\s*KG_BODY_\w+\s*,'
                 r'\s*[^,]+,\s*\w+\s*,\s*(NULL|"[^"]*")\s*\}', re.S)


def documented():
    """{(METHOD, path): {query parameter names}} of every operation."""
    spec = openapi_check.load()
    ops = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                params = item[method].get("parameters", []) + item.get("parameters", [])
                names = {openapi_check._deref(p)["name"] for p in params
                         if openapi_check._deref(p)["in"] == "query"}
                ops[(method.upper(), path)] = names
    return ops


def declared():
    """{(METHOD, path): {names}} from the `query` member of every route table row."""
    routes = {}
    for name in sorted(os.listdir(os.path.join(ROOT, "service"))):
        if not (name.startswith("http_") and name.endswith(".c")):
            continue
        with open(os.path.join(ROOT, "service", name), encoding="utf-8") as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        for method, pattern, query in ROW.findall(text):
            path = re.sub(r":(\w+)", r"{\1}", pattern)
            routes[(method, path)] = set() if query == "NULL" else set(query.strip('"').split())
    return routes


@no_service
def test_route_tables_declare_exactly_the_documented_query_parameters():
    docs, tables = documented(), declared()
    expect(set(docs) == set(tables), "routes differ: %r" % (set(docs) ^ set(tables)))
    for key, names in sorted(docs.items()):
        extra = tables[key] - names - PENDING.get(key, set())
        missing = names - tables[key]
        expect(not extra and not missing, "%s %s: the route table declares %r, the document %r"
               % (key + (sorted(tables[key]), sorted(names))))


def fill(path):
    return re.sub(r"\{(\w+)\}", lambda m: q(PATH_VALUES[m.group(1)]), path)


def estate(c):
    create_host(c, HOST)
    create_pool(c, "p1", HOST)
    put_desktop(c, "vdi-001.corp.example", "p1")


def test_an_unknown_query_parameter_is_refused_on_every_route(svc):
    c = svc.client()
    estate(c)
    for (method, path), names in sorted(documented().items()):
        url = fill(path)
        for query, field in (("bogus_param=1", "bogus_param"), ("Limit=5", "Limit"),
                             ("name=other", "name")):
            r = c.request(method, "%s?%s" % (url, query))
            doc = expect_problem(r, 400, field)
            expect("not a parameter of this route" in doc["detail"], (method, path, doc))
        for query in ("%zz=1", "=1", "a%00b=1"):
            expect_problem(c.request(method, "%s?%s" % (url, query)), 400)
        for name in sorted(names):
            r = c.request(method, "%s?%s=1&%s=2" % (url, name, name))
            doc = expect_problem(r, 400, name)
            expect("more than once" in doc["detail"], (method, path, doc))


def test_a_query_meant_for_the_body_records_nothing(svc):
    c = svc.client()
    estate(c)
    plan = {"kms_host": HOST, "decommission": {"desktops": ["vdi-001.corp.example"]}}
    expect_problem(c.post("/v1/gate?dry_run=true", plan), 400, "dry_run")
    expect_problem(c.post("/v1/gate?enfroce=true", plan), 400, "enfroce")
    expect_problem(c.post("/v1/gate?reserve=true", plan), 400, "reserve")
    r = c.get("/v1/decisions")
    expect_status(r, 200)
    expect(r.json["items"] == [], "a refused request recorded a decision: %r" % r.json)
    # the documented one, encoded or not, still enforces: the plan is no-go (count 0)
    expect_status(c.post("/v1/gate?enforce=true", plan), 409)
    expect_status(c.post("/v1/gate?%65nforce=true", plan), 409)
    expect_problem(c.post("/v1/gate?enforce=ture", plan), 422, "enforce")


SAMPLES = {"limit": "1", "kms_host": HOST, "pool": "p1", "cmid": GUID,
           "horizon_days": "30", "since": "2026-01-01T00:00:00Z", "application": "windows",
           "enforce": "false"}
STATES = {"/v1/desktops": "active", "/v1/plans": "reserved"}


def test_documented_query_parameters_still_work(svc):
    c = svc.client()
    estate(c)
    for (method, path), names in sorted(documented().items()):
        if method != "GET" or not names:
            continue
        url = fill(path)
        values = dict(SAMPLES, state=STATES.get(path))
        cursor = None
        if "cursor" in names:
            page = c.get(url + "?limit=1")
            expect_status(page, 200)
            cursor = page.json["next_cursor"]
        for name in sorted(names):
            if name == "cursor":
                if cursor is None:
                    continue
                value = cursor
            else:
                value = values[name]
            r = c.get("%s?%s=%s" % (url, name, q(value)))
            expect_status(r, 200)
        r = c.get("%s?%s" % (url, "&".join("%s=%s" % (n, q(values[n])) for n in sorted(names)
                                             if n != "cursor")))
        expect_status(r, 200)
    plan = {"kms_host": HOST, "provision": [{"pool": "p1", "count": 30}]}
    expect_status(c.post("/v1/gate?enforce=true", plan), 200)
