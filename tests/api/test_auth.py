"""Authentication and roles on the inventory endpoints."""
from harness import Client, expect, expect_problem, expect_status

HOST = {"name": "kms01.corp.example", "family": "windows"}
POOL = {"name": "gold", "kms_host": "kms01.corp.example", "platform": "horizon"}


def setup(svc):
    c = svc.client()
    expect_status(c.post("/v1/kms-hosts", HOST), 201)
    expect_status(c.post("/v1/pools", POOL), 201)
    expect_status(c.put("/v1/desktops/vdi-01.corp.example", {"pool": "gold"}), 201)
    return c


def test_missing_or_bad_token_is_401(svc):
    setup(svc)
    anonymous = Client(svc.port)
    for path in ("/v1/kms-hosts", "/v1/pools", "/v1/desktops", "/v1/tokens",
                 "/v1/kms-hosts/kms01.corp.example/duplicates"):
        r = anonymous.get(path)
        expect_problem(r, 401)
        expect("Bearer" in r.headers.get("www-authenticate", ""), r.headers)
        expect_problem(svc.client("kg_not-a-real-token").get(path), 401)
    expect_problem(anonymous.post("/v1/kms-hosts", {"name": "x.example", "family": "office"}), 401)
    expect_problem(anonymous.put("/v1/desktops/vdi-02.corp.example", {"pool": "gold"}), 401)
    basic = anonymous.get("/v1/pools", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    expect_problem(basic, 401)
    # A body is not even looked at before the token is.
    expect_problem(anonymous.post("/v1/kms-hosts", raw=b"{", content_type="application/json"), 401)


def test_reader_can_read_but_not_write(svc):
    setup(svc)
    reader = svc.client(svc.create_token("reader", "dashboards"))
    for path in ("/v1/kms-hosts", "/v1/kms-hosts/kms01.corp.example", "/v1/pools",
                 "/v1/pools/gold", "/v1/desktops", "/v1/desktops/vdi-01.corp.example",
                 "/v1/kms-hosts/kms01.corp.example/duplicates"):
        expect_status(reader.get(path), 200)
    doc = expect_problem(reader.post("/v1/kms-hosts", {"name": "x.example", "family": "office"}), 403)
    expect("reader" in doc["detail"] and "admin" in doc["detail"], doc)
    expect_problem(reader.put("/v1/desktops/vdi-02.corp.example", {"pool": "gold"}), 403)
    expect_problem(reader.delete("/v1/desktops/vdi-01.corp.example"), 403)
    expect_problem(reader.patch("/v1/pools/gold", {"platform": "other"}), 403)
    expect_problem(reader.delete("/v1/kms-hosts/kms01.corp.example"), 403)


def test_hook_can_manage_desktops_but_not_hosts_or_pools(svc):
    setup(svc)
    hook = svc.client(svc.create_token("hook", "horizon"))
    expect_problem(hook.post("/v1/kms-hosts", {"name": "x.example", "family": "office"}), 403)
    expect_problem(hook.patch("/v1/kms-hosts/kms01.corp.example", {"margin": 1}), 403)
    expect_problem(hook.post("/v1/pools", dict(POOL, name="silver")), 403)
    expect_problem(hook.delete("/v1/pools/gold"), 403)
    r = hook.put("/v1/desktops/vdi-02.corp.example", {"pool": "gold"})
    expect_status(r, 201)
    expect_status(hook.delete("/v1/desktops/vdi-02.corp.example"), 200)
    expect_status(hook.get("/v1/desktops"), 200)


def test_revoked_token_is_401(svc):
    setup(svc)
    c = svc.client()
    made = c.post("/v1/tokens", {"name": "short-lived", "role": "hook"}).json
    hook = svc.client(made["token"])
    expect_status(hook.get("/v1/desktops"), 200)
    expect_status(c.delete("/v1/tokens/" + made["id"]), 204)
    expect_problem(hook.get("/v1/desktops"), 401)
    expect_problem(hook.put("/v1/desktops/vdi-03.corp.example", {"pool": "gold"}), 401)
