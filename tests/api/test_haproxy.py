"""Three kmsgate replicas on one database behind Debian's HAProxy 2.6
(deploy/ha/haproxy.cfg, /readyz as its health check).

- The reservation race through the load balancer: with one desktop of
  headroom left, two callers reserving at once on different replicas get one
  go (201) and one no-go, and the database holds one new plan.
- A replica killed (SIGKILL) under writes, gates and reservations: nothing
  acknowledged is lost, every request is answered (retried by HAProxy on
  another replica when its replica died under it), HAProxy marks the replica
  down through /readyz within the stated time. The figures are printed."""
import signal
import threading
import time

import ha
from harness import Client, PrivateCluster, Service, expect, expect_status, no_service

DOWN_S = 5  # stated bound: HAProxy marks a dead replica down within this (inter 500ms, fall 2)


def _replicas(cluster, n=3):
    out = []
    for _ in range(n):
        svc = Service(database="kmsgate", migrate=False, threads=4)
        svc.url = cluster.url
        out.append(svc)
    out[0].run_cli("migrate")
    for svc in out:
        svc.start()
    return out


def _race(port, token, names):
    """Two callers at once, each reserving another desktop; returns both answers."""
    barrier = threading.Barrier(2)
    answers = [None, None]

    def call(i):
        barrier.wait(timeout=5)
        answers[i] = Client(port, token).post("/v1/gate", {
            "kms_host": ha.HOST, "decommission": {"desktops": [names[i]]}, "reserve": True})
    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


@no_service
def test_haproxy_three_replicas_race_and_a_killed_replica():
    cluster = PrivateCluster()
    replicas = []
    lb = load = None
    try:
        replicas = _replicas(cluster)
        lb = ha.start_haproxy(cluster.dir, [r.port for r in replicas])
        token = replicas[0].admin_token
        c = Client(lb.port, token)
        deadline = time.time() + 10
        while set(ha.haproxy_states(lb).values()) != {"UP"} and time.time() < deadline:
            time.sleep(0.1)
        expect(set(ha.haproxy_states(lb).values()) == {"UP"}, ha.haproxy_states(lb))
        names, pre_plans = ha.prepare_estate(c)
        # Spend the headroom down to one desktop, then race for it.
        for name in names[2:6]:
            r = c.post("/v1/gate", {"kms_host": ha.HOST, "decommission": {"desktops": [name]},
                                    "reserve": True})
            expect_status(r, 201)
        first, second = _race(lb.port, token, names[6:8])
        statuses = sorted([first.status, second.status])
        expect(statuses == [200, 201], "race answers %r %r" % (first, second))
        no_go = first if first.status == 200 else second
        expect(no_go.json["decision"] == "no-go", no_go.json)
        rows = cluster.sql("SELECT count(*) FROM plans WHERE state = 'reserved'")
        expect(rows == [["7"]], "reserved plans %s (headroom 7)" % rows)
        # Free the headroom for the load: release all but the first two plans.
        for p in c.get("/v1/plans?state=reserved&limit=100").json["items"]:
            if p["id"] not in pre_plans:
                expect_status(c.post("/v1/plans/%s/release" % p["id"]), 200)

        load = ha.Load(lb.port, token)
        ha.start_workload(load, names, "lb")
        time.sleep(2)
        t_kill = time.time()
        replicas[1].proc.send_signal(signal.SIGKILL)
        while not ha.haproxy_states(lb)["kmsgate2"].startswith("DOWN") \
                and time.time() < t_kill + DOWN_S:
            time.sleep(0.05)
        marked_down = time.time() - t_kill
        expect(ha.haproxy_states(lb)["kmsgate2"].startswith("DOWN"), ha.haproxy_states(lb))
        time.sleep(3)
        load.stop()
        try:
            lost = ha.verify_after(c, load, pre_plans)
        except AssertionError as e:  # HAProxy's log says why (termination state)
            raise AssertionError("%s\nHAProxy's log of failed requests:\n%s" % (e, "\n".join(
                line for line in lb.log().splitlines() if " 50" in line)[-3000:]))
        errors = [a for a in load.answers if a.status not in (200, 201, 409)]
        writes = [a for a in load.of("write") if a.status in (200, 201)]
        ha.report("haproxy (replica killed)", marked_down_s="%.2f" % marked_down,
                  answers=len(load.answers), answered_503=load.summary().get(503, 0),
                  other_errors=len(errors) - load.summary().get(503, 0),
                  acknowledged_writes=len(writes), lost_writes=lost)
        expect(lost == 0, "%d acknowledged writes lost" % lost)
        expect(not errors, "errors through the load balancer: %s"
               % [(a.kind, a.status, a.body) for a in errors[:5]])
    finally:
        if load is not None:
            load.stop()
        if lb is not None:
            lb.stop()
        for i, svc in enumerate(replicas):
            if i == 1 and svc.proc is not None:
                svc.proc.wait()
                svc.log.close()
                svc.proc = None
            svc.stop()
        cluster.destroy()
