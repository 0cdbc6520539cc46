"""Reserved plans: reservation, commit, release, expiry, idempotency keys, and
concurrent reservations from two service processes on one database."""
import concurrent.futures
import json
import random
import threading

from estate import DAY, create_host, create_pool, now_s, renewing_pool
from harness import Client, Service, expect, expect_problem, expect_status, no_service


def estate_with_headroom_7(c):
    create_host(c)
    create_pool(c, "p1")
    return renewing_pool(c, "p1", 32, now_s() - DAY)


def gate(c, names, headers=None, **extra):
    body = {"kms_host": "kms01.corp.example", "decommission": {"desktops": names}}
    body.update(extra)
    return c.post("/v1/gate", body, headers=headers)


def test_reserve_commit_release_lifecycle(svc):
    c = svc.client()
    names = estate_with_headroom_7(c)
    r = gate(c, names[:3], reserve=True, ttl_minutes=30)
    expect_status(r, 201)
    plan_id = r.json["plan_id"]
    expect(plan_id and r.json["decision"] == "go", r.json)
    plan = c.get("/v1/plans/" + plan_id).json
    expect(plan["state"] == "reserved" and sorted(plan["decommission"]) == sorted(names[:3]), plan)
    # The reservation spends headroom for everyone after it.
    r = c.get("/v1/kms-hosts/kms01.corp.example/headroom")
    expect(r.json["max_decommission"] == 4 and r.json["reserved_plans"] == 1, r.json)
    # A desktop of the plan cannot be reserved again.
    r = gate(c, names[2:4], reserve=True)
    doc = expect_problem(r, 409)
    expect(doc["plan_id"] == plan_id, doc)
    # Commit: the desktops become decommissioned; twice is harmless.
    r = c.post("/v1/plans/%s/commit" % plan_id)
    expect_status(r, 200)
    expect(r.json["state"] == "committed", r.json)
    expect_status(c.post("/v1/plans/%s/commit" % plan_id), 200)
    d = c.get("/v1/desktops/" + names[0]).json
    expect(d["state"] == "decommissioned" and d["decommissioned_at"], d)
    expect_problem(c.post("/v1/plans/%s/release" % plan_id), 409)
    r = c.get("/v1/plans?kms_host=kms01.corp.example&state=committed")
    expect([p["id"] for p in r.json["items"]] == [plan_id], r.json)


def test_release_frees_the_headroom(svc):
    c = svc.client()
    names = estate_with_headroom_7(c)
    plan_id = gate(c, names[:7], reserve=True).json["plan_id"]
    expect(gate(c, names[7:8], reserve=True).json["decision"] == "no-go")
    r = c.post("/v1/plans/%s/release" % plan_id)
    expect(r.json["state"] == "released", r.json)
    expect_status(c.post("/v1/plans/%s/release" % plan_id), 200)
    expect_problem(c.post("/v1/plans/%s/commit" % plan_id), 409)
    expect(gate(c, names[7:8], reserve=True).json["decision"] == "go")


def test_expired_plans_stop_counting_without_a_job(svc):
    c = svc.client()
    names = estate_with_headroom_7(c)
    plan_id = gate(c, names[:7], reserve=True, ttl_minutes=1).json["plan_id"]
    expect(gate(c, names[7:8]).json["decision"] == "no-go")
    # Age the plan instead of sleeping a minute.
    svc.sql("UPDATE plans SET expires_at = now() - interval '1 second' WHERE id = '%s'" % plan_id)
    expect(c.get("/v1/plans/" + plan_id).json["state"] == "expired")
    expect(gate(c, names[7:8]).json["decision"] == "go")
    expect_problem(c.post("/v1/plans/%s/commit" % plan_id), 409)
    expect_problem(c.get("/v1/plans/not-a-uuid"), 404)
    expect_problem(c.get("/v1/plans/00000000-0000-4000-8000-000000000000"), 404)


def test_idempotency_key_replays_and_rejects_other_bodies(svc):
    c = svc.client()
    names = estate_with_headroom_7(c)
    key = {"Idempotency-Key": "resize-42"}
    first = gate(c, names[:2], reserve=True, headers=key)
    expect_status(first, 201)
    again = gate(c, names[:2], reserve=True, headers=key)
    expect_status(again, 201)
    expect(again.json == first.json, (first.json, again.json))
    rows = svc.sql("SELECT count(*) FROM plans")
    expect(rows == [["1"]], rows)
    r = gate(c, names[:3], reserve=True, headers=key)
    expect_problem(r, 422, "Idempotency-Key")


def test_ttl_bounds(svc):
    c = svc.client()
    names = estate_with_headroom_7(c)
    expect_problem(gate(c, names[:1], reserve=True, ttl_minutes=1441), 422, "ttl_minutes")
    expect_problem(gate(c, names[:1], reserve=True, ttl_minutes=0), 422, "ttl_minutes")


def _race(ports, token, names, requests, keyed):
    """Fires `requests` reserve gates, each decommissioning one random desktop,
    spread over the services; returns the responses."""
    rng = random.Random(7)
    jobs = []
    for i in range(requests):
        headers = {"Idempotency-Key": "race-%d" % (i % (requests // 2))} if keyed else None
        name = names[(i % (requests // 2)) % len(names)] if keyed else rng.choice(names)
        jobs.append((ports[i % len(ports)], name, headers))
    barrier = threading.Barrier(min(64, requests))

    def fire(job):
        port, name, headers = job
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return Client(port, token).post("/v1/gate", {
            "kms_host": "kms01.corp.example", "decommission": {"desktops": [name]},
            "reserve": True}, headers=headers, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        return list(pool.map(fire, jobs))


def _check_race(svc, responses, c):
    statuses = [r.status for r in responses]
    expect(all(s < 500 for s in statuses), "5xx under load: %r" % [r for r in responses if r.status >= 500][:3])
    plans = {r.json["plan_id"] for r in responses if r.status == 201}
    expect(len(plans) == 7, "expected exactly 7 reservations, got %d (%r)" % (len(plans), statuses))
    rows = svc.sql("SELECT count(*) FROM plans WHERE state = 'reserved'")
    expect(rows == [["7"]], rows)
    for r in responses:
        expect(r.status in (200, 201, 409), r)
        if r.status == 200:
            expect(r.json["decision"] == "no-go", r.json)
    forecast = c.get("/v1/kms-hosts/kms01.corp.example/forecast").json
    expect(forecast["min"] >= forecast["floor"] == 25, forecast)
    expect(forecast["min"] == 25, forecast)


def _race_on_two_replicas(keyed):
    """Two `kmsgate serve` processes on one database, 200 reserving gates
    spread over both; checks the race and returns the responses in order."""
    first = Service(threads=8).start()
    second = Service(database=first.database, migrate=False, threads=8).start()
    try:
        c = first.client()
        names = estate_with_headroom_7(c)
        responses = _race([first.port, second.port], first.admin_token, names, 200, keyed=keyed)
        _check_race(first, responses, c)
        return responses
    finally:
        expect(second.stop() == 0)
        expect(first.stop() == 0)
        first.drop()


@no_service
def test_two_replicas_never_spend_the_same_headroom():
    _race_on_two_replicas(keyed=False)


@no_service
def test_retries_with_idempotency_keys_reserve_nothing_twice():
    responses = _race_on_two_replicas(keyed=True)
    by_key = {}
    for i, r in enumerate(responses):
        by_key.setdefault(i % 100, []).append(r)
    for a, b in by_key.values():
        expect(a.status == b.status, (a, b))
        if a.status in (200, 201):
            expect(json.dumps(a.json, sort_keys=True) == json.dumps(b.json, sort_keys=True),
                   (a.json, b.json))
