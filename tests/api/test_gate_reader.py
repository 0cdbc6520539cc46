"""A reader token may ask the gate a dry run (the dashboard's what-if): it
records and reserves nothing. Anything else it asks of the gate stays 403."""
from estate import DAY, create_host, create_pool, now_s, renewing_pool
from harness import expect, expect_problem, expect_status

HOST = "kms01.corp.example"


def test_a_reader_may_ask_a_dry_run_and_nothing_else(svc):
    c = svc.client()
    create_host(c, HOST)
    create_pool(c, "p1", HOST)
    names = renewing_pool(c, "p1", 30, now_s() - 2 * DAY)
    reader = c.with_token(svc.create_token("reader", "wallboard"))
    plan = {"kms_host": HOST, "decommission": {"pool": "p1", "count": 5}}
    r = reader.post("/v1/gate", dict(plan, dry_run=True))
    expect_status(r, 200)
    expect(r.json["decision"] == "go" and r.json["decision_id"] is None, r.json)
    # enforce still answers a no-go with 409, recording nothing
    r = reader.post("/v1/gate?enforce=true", dict(plan, dry_run=True,
                                                  decommission={"desktops": names[:6]}))
    expect_status(r, 409)
    expect(r.json["decision"] == "no-go" and r.json["decision_id"] is None, r.json)
    for body in (plan, dict(plan, dry_run=False), dict(plan, dry_run="true"),
                 dict(plan, reserve=True), {"kms_host": HOST}):
        doc = expect_problem(reader.post("/v1/gate", body), 403)
        expect("dry run" in doc["detail"] and "hook" in doc["detail"], doc)
    expect_problem(reader.post("/v1/gate", dict(plan, dry_run=True, reserve=True)), 422,
                   "dry_run")
    expect(c.get("/v1/decisions").json["items"] == [], "a reader's request was recorded")
    expect(c.get("/v1/plans").json["items"] == [], "a reader's request reserved")
    hook = c.with_token(svc.create_token("hook", "ci"))
    r = hook.post("/v1/gate", plan)
    expect_status(r, 200)
    expect(r.json["decision_id"] is not None, r.json)
