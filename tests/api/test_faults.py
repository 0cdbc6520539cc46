"""Faults under load: PostgreSQL stopped and restarted while writers and gates
run. Every acknowledged (2xx) write is in the database afterwards, the gate
answers 503 (never go) while the database is away, and the service recovers
without a restart."""
import threading
import time
import uuid

from harness import Client, PrivateCluster, Service, expect, no_service

HOST = "kms01.corp.example"


@no_service
def test_writes_survive_a_database_restart_under_load():
    cluster = PrivateCluster()
    svc = None
    try:
        svc = Service(database="kmsgate", migrate=False, threads=8)
        svc.url = cluster.url
        svc.run_cli("migrate")
        svc.start()
        c = svc.client()
        c.post("/v1/kms-hosts", {"name": HOST, "family": "windows"})
        c.post("/v1/pools", {"name": "p1", "kms_host": HOST, "platform": "horizon"})
        acked = {"desktops": set(), "events": set()}
        seen = {"gate": {}, "write": {}}
        lock = threading.Lock()
        down = threading.Event()
        stop = threading.Event()
        gate_go_while_down = []

        def writer(n):
            w = Client(svc.port, svc.admin_token)
            i = 0
            while not stop.is_set():
                i += 1
                name = "w%d-%d.corp.example" % (n, i)
                cmid = str(uuid.uuid4())
                try:
                    r = w.put("/v1/desktops/" + name, {"pool": "p1"}, timeout=10)
                    e = w.post("/v1/kms-hosts/%s/activations" % HOST, [
                        {"cmid": cmid, "client": name, "requested_at": time.strftime(
                            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))}], timeout=10)
                except OSError:
                    continue
                with lock:
                    for resp in (r, e):
                        seen["write"][resp.status] = seen["write"].get(resp.status, 0) + 1
                    if r.status in (200, 201):
                        acked["desktops"].add(name)
                    if e.status == 200 and e.json["accepted"] == 1:
                        acked["events"].add(cmid)

        def gater():
            g = Client(svc.port, svc.admin_token)
            while not stop.is_set():
                try:
                    r = g.post("/v1/gate", {"kms_host": HOST}, timeout=10)
                except OSError:
                    continue
                with lock:
                    seen["gate"][r.status] = seen["gate"].get(r.status, 0) + 1
                    if down.is_set() and r.status == 200 and r.json.get("decision") == "go":
                        gate_go_while_down.append(r)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=gater) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(2)
        cluster.stop("immediate")
        down.set()
        time.sleep(2)
        down.clear()
        cluster.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()

        expect(not gate_go_while_down, "gate said go without a database: %r" % gate_go_while_down[:2])
        expect(seen["gate"].get(503, 0) > 0, "no 503 while the database was away: %r" % seen)
        expect(all(s in (200, 201, 503) for s in list(seen["gate"]) + list(seen["write"])), seen)
        names = {row[0] for row in cluster.sql("SELECT hostname FROM desktops")}
        cmids = {row[0] for row in cluster.sql("SELECT cmid FROM activation_requests")}
        lost_desktops = acked["desktops"] - names
        lost_events = acked["events"] - cmids
        print("faults: %d desktops and %d events acknowledged, %d and %d lost; statuses %r"
              % (len(acked["desktops"]), len(acked["events"]), len(lost_desktops),
                 len(lost_events), seen))
        expect(not lost_desktops and not lost_events, (lost_desktops, lost_events))
        expect(len(acked["desktops"]) > 20, acked["desktops"])
        # Recovered without a restart of the service.
        expect(Client(svc.port).get("/readyz").status == 200)
        expect(c.post("/v1/gate", {"kms_host": HOST}).status == 200)
    finally:
        if svc is not None:
            expect(svc.stop() == 0)
        cluster.destroy()
