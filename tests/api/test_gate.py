"""Forecast, headroom and gate end to end: estates built through the API,
with activation events relative to now; the worked examples of docs/model.md
§4 and the gate's error handling."""
from estate import (DAY, cmid_for, create_host, create_pool, event, ingest, iso, now_s,
                    put_desktop, renewing_pool)
from harness import Client, Service, expect, expect_problem, expect_status, no_service


def steady_estate(c, n=30):
    create_host(c)
    create_pool(c, "p1")
    last = now_s() - 2 * DAY
    names = renewing_pool(c, "p1", n, last)
    return names, last


def test_example1_steady_pool_go_and_no_go(svc):
    c = svc.client()
    names, last = steady_estate(c)
    r = c.get("/v1/kms-hosts/kms01.corp.example/forecast")
    expect_status(r, 200)
    expect(r.json["current_count"] == 30 and r.json["min"] == 30, r.json)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "decommission": {"desktops": names[:5]}})
    expect_status(r, 200)
    expect(r.json["decision"] == "go" and r.json["projected_min"] == 25, r.json)
    r = c.post("/v1/gate", {"kms_host": "KMS01.corp.example",
                            "decommission": {"desktops": names[:6]}})
    expect_status(r, 200)
    doc = r.json
    expect(doc["decision"] == "no-go", doc)
    expect(doc["projected_min"] == 24, doc)
    expect(doc["first_breach_at"] == iso(last + 30 * DAY), doc)
    expect(doc["projected_min_at"] == iso(last + 30 * DAY), doc)
    expect(doc["max_decommission"] == 5, doc)
    expect(doc["current_count"] == 30 and doc["baseline_min"] == 30 and doc["floor"] == 25, doc)
    expect(doc["steps"][-1] == {"at": iso(last + 30 * DAY), "count": 24}, doc["steps"])
    expect(any("removes 6 renewing CMIDs" in x and "24" in x and "25" in x
               for x in doc["reasons"]), doc["reasons"])
    expect(doc["decision_id"] and doc["plan_id"] is None, doc)


def test_decommission_by_pool_count_and_headroom(svc):
    c = svc.client()
    steady_estate(c)
    r = c.get("/v1/kms-hosts/kms01.corp.example/headroom?pool=p1")
    expect_status(r, 200)
    expect(r.json["max_decommission"] == 5 and r.json["pool"] == "p1", r.json)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "decommission": {"pool": "p1", "count": 6}})
    expect(r.json["decision"] == "no-go" and len(r.json["decommission"]) == 6, r.json)
    expect(r.json["max_decommission"] == 5, r.json)


def test_enforce_answers_no_go_with_409_and_the_body(svc):
    c = svc.client()
    names, _ = steady_estate(c)
    r = c.post("/v1/gate?enforce=true", {"kms_host": "kms01.corp.example",
                                         "decommission": {"desktops": names[:6]}})
    expect_status(r, 409)
    expect(r.json["decision"] == "no-go" and r.json["reasons"], r.json)
    r = c.post("/v1/gate?enforce=true", {"kms_host": "kms01.corp.example",
                                         "decommission": {"desktops": names[:1]}})
    expect_status(r, 200)


def test_example2_rearm_trick_wears_off(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "poc")
    now = now_s()
    renewing_pool(c, "poc", 10, now - DAY)
    seen = now - 20 * DAY
    ingest(c, [event("rearm-lab.corp.example", cmid_for("rearm-%d" % i), seen + i)
               for i in range(15)])
    r = c.get("/v1/kms-hosts/kms01.corp.example/forecast")
    doc = r.json
    expect(doc["current_count"] == 25, doc)
    expect(doc["min"] == 10 and doc["min_at"] == iso(seen + 14 + 30 * DAY), doc)
    expect(doc["first_breach_at"] == iso(seen + 30 * DAY), doc)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example"})
    expect(r.json["decision"] == "no-go", r.json)
    expect(any("even without this plan" in x for x in r.json["reasons"]), r.json["reasons"])


def test_example3_shared_image_cmid(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "base")
    create_pool(c, "clones", unique_cmids=False)
    renewing_pool(c, "base", 12, now_s() - DAY)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "provision": [{"pool": "clones", "count": 40}]})
    doc = r.json
    expect(doc["decision"] == "no-go" and doc["projected_min"] == 13, doc)
    expect(any("unique_cmids=false" in x for x in doc["reasons"]), doc["reasons"])
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "provision": [{"pool": "base", "count": 13}]})
    expect(r.json["decision"] == "go" and r.json["projected_min"] == 25, r.json)


def test_example4_capacity(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "big")
    names = renewing_pool(c, "big", 80, now_s() - DAY, history=1)
    r = c.get("/v1/kms-hosts/kms01.corp.example")
    expect(r.json["current_count"] == 50, r.json)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "decommission": {"desktops": names[:30]}})
    doc = r.json
    expect(doc["decision"] == "go" and doc["projected_min"] == 50, doc)
    expect(doc["max_decommission"] == 55, doc)


def test_future_plan_time_and_horizon(svc):
    c = svc.client()
    names, last = steady_estate(c)
    at = now_s() + 10 * DAY
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "at": iso(at),
                            "decommission": {"desktops": names[:6]}, "horizon_days": 90})
    doc = r.json
    # They keep renewing until `at`: their last request is last + 7 d (<= at).
    expect(doc["first_breach_at"] == iso(last + 7 * DAY + 30 * DAY), doc)
    expect(doc["window_start"] == iso(at), doc)


def test_host_document_carries_the_model(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "p1")
    renewing_pool(c, "p1", 27, now_s() - DAY)
    put_desktop(c, "new-1.corp.example", "p1")
    r = c.get("/v1/kms-hosts/kms01.corp.example")
    doc = r.json
    expect(doc["current_count"] == 27 and doc["headroom"] == 2 and doc["floor"] == 25, doc)
    expect(doc["renewing"] == 27 and doc["unseen"] == 1 and doc["lapsing"] == 0, doc)


def test_gate_validation_names_fields(svc):
    c = svc.client()
    steady_estate(c)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "decommission": {"desktops": ["nope.corp.example"]}})
    expect_problem(r, 422, "decommission.desktops[0]")
    r = c.post("/v1/gate", {"kms_host": "other.corp.example"})
    expect_problem(r, 422, "kms_host")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "decommission": {"pool": "p1", "count": 31}})
    expect_problem(r, 422, "decommission.count")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "provision": [{"pool": "nope", "count": 1}]})
    expect_problem(r, 422, "provision[0].pool")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "horizon_days": 366})
    expect_problem(r, 422, "horizon_days")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "horizon_days": "x"})
    expect_problem(r, 400, "horizon_days")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "reserv": True})
    expect_problem(r, 422, "reserv")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "at": "yesterday"})
    expect_problem(r, 422, "at")


def test_margin_override(svc):
    c = svc.client()
    names, _ = steady_estate(c)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "margin": 3,
                            "decommission": {"desktops": names[:3]}})
    expect(r.json["floor"] == 28 and r.json["margin"] == 3, r.json)
    expect(r.json["decision"] == "no-go" and r.json["max_decommission"] == 2, r.json)
    # The override is this request's alone: the next gate applies the host's margin.
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                            "decommission": {"desktops": names[:3]}})
    expect(r.json["floor"] == 25 and r.json["margin"] == 0, r.json)


def test_decisions_are_recorded_with_the_caller(svc):
    c = svc.client()
    names, _ = steady_estate(c)
    hook = svc.create_token("hook", "horizon-hook")
    r = c.with_token(hook).post("/v1/gate", {"kms_host": "kms01.corp.example",
                                             "decommission": {"desktops": names[:2]}})
    expect_status(r, 200)
    decision_id = r.json["decision_id"]
    r = c.get("/v1/decisions?kms_host=kms01.corp.example")
    expect_status(r, 200)
    items = r.json["items"]
    expect(items[0]["id"] == decision_id and items[0]["caller"] == "horizon-hook", items[0])
    expect(items[0]["decision"] == "go" and items[0]["request"]["kms_host"], items[0])
    reader = svc.create_token("reader", "auditor")
    expect_problem(c.with_token(reader).post("/v1/gate", {"kms_host": "kms01.corp.example"}), 403)


def test_gate_input_types_enforce_and_keys(svc):
    c = svc.client()
    steady_estate(c)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "decommission": {"desktops": [5]}})
    expect_problem(r, 400, "decommission.desktops")
    r = c.post("/v1/gate?enforce=yes", {"kms_host": "kms01.corp.example"})
    expect_problem(r, 422, "enforce")
    r = c.post("/v1/gate?enforce=0", {"kms_host": "kms01.corp.example"})
    expect_status(r, 200)
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example"}, headers={"Idempotency-Key": "k" * 256})
    expect_problem(r, 422, "Idempotency-Key")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "provision": [7]})
    expect_problem(r, 400, "provision")


@no_service
def test_a_replica_never_answers_from_an_estate_another_changed():
    """A plain gate evaluates on the estate and host row its process cached
    and stores the decision only while the host's estate_version is still the
    one they were read at. Changes made through another replica (a desktop
    decommissioned, the host's threshold) must show in the very next answer,
    and every answer is recorded exactly once."""
    first = Service().start()
    second = Service(database=first.database, migrate=False).start()
    try:
        a, b = first.client(), Client(second.port, first.admin_token)
        names, _ = steady_estate(a)
        plan = {"kms_host": "kms01.corp.example", "decommission": {"desktops": names[:5]}}
        for _ in range(3):  # the first loads the estate, the others reuse it
            r = b.post("/v1/gate", plan)
            expect(r.json["decision"] == "go" and r.json["projected_min"] == 25, r.json)
        expect_status(a.delete("/v1/desktops/" + names[29]), 200)
        r = b.post("/v1/gate", plan)
        expect(r.json["decision"] == "no-go" and r.json["projected_min"] == 24, r.json)
        expect_status(a.patch("/v1/kms-hosts/kms01.corp.example", {"threshold": 20}), 200)
        r = b.post("/v1/gate", plan)
        expect(r.json["decision"] == "go" and r.json["floor"] == 20, r.json)
        ids = first.sql("SELECT id FROM decisions ORDER BY evaluated_at")
        expect(len(ids) == 5, ids)
        expect(ids[-1] == [r.json["decision_id"]], (ids, r.json))
    finally:
        expect(second.stop() == 0)
        expect(first.stop() == 0)
        first.drop()
