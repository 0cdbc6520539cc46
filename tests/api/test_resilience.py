"""The service survives its database: PostgreSQL stopped under a running
service turns /readyz into 503 and the gate fails closed (503, never go);
when PostgreSQL is back the service recovers by itself."""
import time

from harness import Client, PrivateCluster, Service, expect, expect_problem, expect_status, no_service
from test_metrics import scrape


def wait_for(predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@no_service
def test_database_restart_503_then_recovery():
    cluster = PrivateCluster()
    svc = None
    try:
        svc = Service(database="kmsgate", migrate=False)
        svc.url = cluster.url
        svc.run_cli("migrate")
        svc.start()
        c = svc.client()
        expect_status(c.post("/v1/kms-hosts", {"name": "kms01.corp.example", "family": "windows"}), 201)
        expect_status(Client(svc.port).get("/readyz"), 200)

        cluster.stop("immediate")
        r = Client(svc.port).get("/readyz")
        expect_problem(r, 503)
        expect(r.headers.get("retry-after"), r.headers)
        r = c.post("/v1/gate", {"kms_host": "kms01.corp.example"})
        expect_problem(r, 503)  # fails closed: never a go without the database
        # The scrape still answers (the KmsgateDatabaseDown alert reads it), without host gauges.
        samples, _ = scrape(svc.port)
        expect(samples["kmsgate_database_up"] == [({}, 0.0)], samples.get("kmsgate_database_up"))
        expect("kmsgate_kms_host_current_cmids" not in samples, samples.keys())
        expect_status(Client(svc.port).get("/healthz"), 200)

        cluster.start()
        expect(wait_for(lambda: Client(svc.port).get("/readyz").status == 200),
               "readyz did not recover")
        # Every worker thread reconnects on its own: no 503 once the database is back.
        statuses = [c.post("/v1/gate", {"kms_host": "kms01.corp.example"}).status
                    for _ in range(3 * svc.threads)]
        expect(all(s == 200 for s in statuses), statuses)
    finally:
        if svc is not None:
            code = svc.stop()
            expect(code == 0, "exit code %s" % code)
        cluster.destroy()
