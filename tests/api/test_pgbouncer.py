"""kmsgate behind a stock PgBouncer (Debian's 1.18, deploy/ha/pgbouncer.ini).

Session pooling works: the service applies its session settings after
connecting (a stock PgBouncer refuses the startup parameter "options") and
clears statements a previous process prepared on a pooled server session, so
a restarted service is not handed a session whose statement names are taken.
A database restart behind PgBouncer under load loses nothing (figures printed).
Transaction pooling is refused at start-up with a message naming the mode,
with fewer server connections than service threads."""
import signal
import time

import ha
from harness import Client, PrivateCluster, Service, expect, expect_status, no_service


def _service(bouncer, threads=4):
    svc = Service(database="kmsgate", migrate=False, threads=threads)
    svc.url = "postgresql://postgres@127.0.0.1:%d/kmsgate" % bouncer.port
    return svc


def _gates(svc, n):
    c = svc.client()
    return [c.post("/v1/gate", {"kms_host": "kms01.corp.example"}).status for _ in range(n)]


def _restarts(svc):
    """A crash and a clean stop, each followed by a start and gates on every thread."""
    for sig in (signal.SIGKILL, signal.SIGTERM):
        svc.stop(sig=sig)
        svc.start()
        statuses = _gates(svc, 3 * svc.threads)
        expect(all(s == 200 for s in statuses), "after a restart (%s): %s\n%s"
               % (sig, statuses, svc.log_text()[-2000:]))


def _database_restart_under_load(svc, cluster, names, pre_plans):
    """PostgreSQL behind PgBouncer stopped (-m immediate) and started again
    under writes, gates and reservations: 503 with Retry-After meanwhile,
    nothing acknowledged lost, /readyz 200 again without a restart."""
    c = svc.client()
    load = ha.Load(svc.port, svc.admin_token)
    ha.start_workload(load, names, "bouncer")
    try:
        time.sleep(2)
        t_kill = time.time()
        cluster.stop("immediate")
        t_dead = time.time()
        time.sleep(1)
        t_start = time.time()
        cluster.start()
        t_up = time.time()
        after_start = ha.wait_ready(svc.port, 10, started=t_up)
        switch = time.time() - t_kill
        time.sleep(2)
    finally:
        load.stop()
    lost = ha.verify_after(c, load, pre_plans, down_from=t_dead, down_to=t_start)
    writes = [a for a in load.of("write") if a.status in (200, 201)]
    ha.report("pgbouncer session mode (database restarted)", switch_s="%.2f" % switch,
              ready_after_start_s="%.2f" % after_start, answers=len(load.answers),
              answered_503=load.summary().get(503, 0), acknowledged_writes=len(writes),
              lost_writes=lost)
    expect(lost == 0, "%d acknowledged writes lost" % lost)


@no_service
def test_pgbouncer_session_mode_works_and_survives_restarts():
    cluster = PrivateCluster()
    # The database's own default zone is not UTC: the service must set UTC itself.
    cluster.sql("ALTER DATABASE kmsgate SET TimeZone = 'Pacific/Chatham'")
    bouncer = ha.start_pgbouncer(cluster.dir, cluster.dir, cluster.port, "session", 20)
    svc = None
    try:
        svc = _service(bouncer)
        svc.run_cli("migrate")
        svc.start()
        c = svc.client()
        names, pre_plans = ha.prepare_estate(c)
        expect_status(Client(svc.port).get("/readyz"), 200)
        expect(all(s == 200 for s in _gates(svc, 3 * svc.threads)), "gates before restarts")
        _restarts(svc)
        # A pooler that skips its reset query (server_reset_query empty, as
        # some set it to save a round trip) hands the next process the server
        # sessions with the statements the last one prepared: every statement
        # name must be free again all the same.
        bouncer.stop()
        bouncer = ha.start_pgbouncer(cluster.dir, cluster.dir, cluster.port, "session", 20,
                                     extra="server_reset_query =\n", port=bouncer.port)
        _restarts(svc)
        expect("already exists" not in svc.log_text(), svc.log_text()[-2000:])
        # The settings held on every session: nothing in the log says otherwise.
        expect("db_session_setup_failed" not in svc.log_text(), svc.log_text()[-2000:])
        _database_restart_under_load(svc, cluster, names, pre_plans)
    finally:
        if svc is not None:
            svc.stop()
        bouncer.stop()
        cluster.destroy()


@no_service
def test_pgbouncer_transaction_mode_is_refused_at_start():
    cluster = PrivateCluster()
    # Fewer server connections than service threads: a pool that would make
    # the service's sessions travel between clients.
    bouncer = ha.start_pgbouncer(cluster.dir, cluster.dir, cluster.port, "transaction", 2)
    try:
        svc = _service(bouncer, threads=4)
        out = svc.run_cli("migrate", check=False)
        expect(out.returncode != 0, "migrate ran under transaction pooling: %s" % out.stderr)
        expect("pool_mode = transaction" in out.stderr + out.stdout, out.stderr)
        svc.admin_token = "unused"  # no token: the schema is not there
        svc.start(wait=False)
        deadline = time.time() + 30
        while svc.proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        code = svc.proc.poll()
        log = svc.log_text()
        if code is None:
            svc.stop()
        expect(code not in (None, 0), "serve kept running under transaction pooling:\n" + log[-2000:])
        expect("pool_mode = transaction" in log and "pool_mode = session" in log, log[-2000:])
        svc.proc = None
        svc.log.close()
    finally:
        bouncer.stop()
        cluster.destroy()
