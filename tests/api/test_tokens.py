"""API tokens: create (shown once), list (never the secret), revoke."""
from harness import expect, expect_problem, expect_status, q


def create(c, name, role):
    r = c.post("/v1/tokens", {"name": name, "role": role})
    expect_status(r, 201)
    return r.json


def test_create_token_shows_it_once_and_it_works(svc):
    c = svc.client()
    doc = create(c, "horizon-hook", "hook")
    expect(set(doc) == {"id", "name", "role", "token", "created_at"}, doc)
    expect(doc["name"] == "horizon-hook" and doc["role"] == "hook", doc)
    expect(doc["token"].startswith("kg_") and len(doc["token"]) == 46, doc)
    hook = svc.client(doc["token"])
    expect_status(hook.get("/v1/kms-hosts"), 200)
    listed = [t for t in c.get("/v1/tokens").json["items"] if t["id"] == doc["id"]]
    expect(len(listed) == 1, listed)
    expect(listed[0] == {"id": doc["id"], "name": "horizon-hook", "role": "hook",
                         "created_at": doc["created_at"], "revoked_at": None}, listed)
    # The secret is stored only as a hash.
    rows = svc.sql("SELECT count(*) FROM api_tokens WHERE token_hash::text LIKE '%%%s%%'"
                   % doc["token"][3:13])
    expect(rows == [["0"]], rows)
    expect(doc["token"] not in c.get("/v1/tokens").body.decode())


def test_create_token_errors(svc):
    c = svc.client()
    create(c, "ci", "reader")
    doc = expect_problem(c.post("/v1/tokens", {"name": "ci", "role": "admin"}), 409)
    expect("ci" in doc["detail"], doc)
    expect_problem(c.post("/v1/tokens", {"name": "x", "role": "root"}), 422, "role")
    expect_problem(c.post("/v1/tokens", {"name": "x"}), 422, "role")
    expect_problem(c.post("/v1/tokens", {"role": "hook"}), 422, "name")
    expect_problem(c.post("/v1/tokens", {"name": "", "role": "hook"}), 422, "name")
    expect_problem(c.post("/v1/tokens", {"name": "n" * 129, "role": "hook"}), 422, "name")
    expect_problem(c.post("/v1/tokens", {"name": 3, "role": "hook"}), 400, "name")
    expect_problem(c.post("/v1/tokens", {"name": "x", "role": "hook", "ttl": 3}), 422, "ttl")
    expect_problem(c.post("/v1/tokens", raw=b"name=x", content_type="application/x-www-form-urlencoded"),
                   415)


def test_revoke_token(svc):
    c = svc.client()
    doc = create(c, "citrix-hook", "hook")
    hook = svc.client(doc["token"])
    expect_status(hook.get("/v1/pools"), 200)
    r = c.delete("/v1/tokens/" + doc["id"].upper())
    expect_status(r, 204)
    expect(r.body == b"")
    expect_problem(hook.get("/v1/pools"), 401)
    listed = {t["id"]: t for t in c.get("/v1/tokens").json["items"]}
    expect(listed[doc["id"]]["revoked_at"] is not None, listed)
    first = listed[doc["id"]]["revoked_at"]
    expect_status(c.delete("/v1/tokens/" + doc["id"]), 204)   # again: stays revoked
    listed = {t["id"]: t for t in c.get("/v1/tokens").json["items"]}
    expect(listed[doc["id"]]["revoked_at"] == first)
    # The name is free for a new token once the old one is revoked.
    create(c, "citrix-hook", "hook")


def test_revoke_unknown_or_malformed_id_is_404(svc):
    c = svc.client()
    for ident in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "1",
                  "00000000-0000-0000-0000-00000000000g", q("' OR 1=1 --"), "x" * 300):
        expect_problem(c.delete("/v1/tokens/" + ident), 404)


def test_revoking_yourself_is_allowed(svc):
    c = svc.client()
    doc = create(c, "second-admin", "admin")
    me = svc.client(doc["token"])
    expect_status(me.delete("/v1/tokens/" + doc["id"]), 204)
    expect_problem(me.get("/v1/tokens"), 401)
    expect_status(c.get("/v1/tokens"), 200)


def test_list_tokens_with_cursor(svc):
    c = svc.client()
    made = [create(c, "t%d" % i, "reader")["id"] for i in range(4)]
    every = [t["id"] for t in c.get("/v1/tokens").json["items"]]
    expect(len(every) == 5 and set(made) <= set(every), every)   # + the test's admin
    got, pages, path = [], 0, "/v1/tokens?limit=2"
    while path:
        doc = c.get(path).json
        pages += 1
        for t in doc["items"]:
            expect(set(t) == {"id", "name", "role", "created_at", "revoked_at"}, t)
        got += [t["id"] for t in doc["items"]]
        cur = doc["next_cursor"]
        path = "/v1/tokens?limit=2&cursor=" + q(cur) if cur else None
    expect(pages == 3 and got == every, (pages, got, every))
    expect_problem(c.get("/v1/tokens?cursor=41"), 422, "cursor")
    expect_problem(c.get("/v1/tokens?limit=-1"), 422, "limit")


def test_tokens_are_admin_only(svc):
    c = svc.client()
    reader = svc.client(create(c, "r", "reader")["token"])
    hook = svc.client(create(c, "h", "hook")["token"])
    target = create(c, "victim", "reader")["id"]
    for who in (reader, hook):
        expect_problem(who.get("/v1/tokens"), 403)
        expect_problem(who.post("/v1/tokens", {"name": "x", "role": "admin"}), 403)
        expect_problem(who.delete("/v1/tokens/" + target), 403)
