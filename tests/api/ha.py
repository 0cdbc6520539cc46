"""Helpers for the high-availability tests (test_pgbouncer.py, test_failover.py,
test_haproxy.py, test_patroni.py): PostgreSQL clusters on loopback TCP that
can stream to each other, a PgBouncer and an HAProxy started from the files
in deploy/ha/, and a load that records every answer. Runs the database
processes as the unprivileged harness.PG_USER when the tests run as root
(initdb, postgres and pgbouncer refuse root)."""
import os
import re
import shutil
import subprocess
import threading
import time

from harness import DATA_DIR, PG_BIN, PG_USER, Client, expect, expect_status, free_port, psql

HA_DIR = os.path.join(DATA_DIR, "deploy", "ha")


def as_pg(argv):
    return ["runuser", "-u", PG_USER, "--"] + argv if os.geteuid() == 0 else argv


def run_pg(argv, timeout=120):
    return subprocess.run(as_pg(argv), check=True, capture_output=True, text=True,
                          timeout=timeout, cwd="/")


def own_dir(prefix):
    """A fresh folder the PostgreSQL user owns."""
    path = "/tmp/%s-%d-%d" % (prefix, os.getpid(), free_port())
    os.makedirs(path)
    os.chmod(path, 0o755)
    if os.geteuid() == 0:
        shutil.chown(path, PG_USER)
    return path


def render(template, path, **values):
    """Writes deploy/ha/TEMPLATE with @NAME@ replaced by values[NAME]."""
    with open(os.path.join(HA_DIR, template)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace("@%s@" % key, str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    expect(not left, "unfilled placeholders in %s: %s" % (template, left))
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


class Node:
    """One PostgreSQL listening on 127.0.0.1:port (and a socket in its folder)."""

    def __init__(self, name, extra=""):
        self.name = name
        self.dir = own_dir("kg-ha-" + name)
        self.data = self.dir + "/data"
        self.port = free_port()
        self.extra = extra

    def initdb(self):
        run_pg([PG_BIN + "/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--locale=C.UTF-8"])
        with open(self.data + "/pg_hba.conf", "a") as f:
            f.write("host replication postgres 127.0.0.1/32 trust\n")
        return self

    def basebackup_from(self, primary, slot):
        """A streaming standby of @primary through replication slot @slot."""
        psql("SELECT pg_create_physical_replication_slot('%s')" % slot, "postgres",
             primary.dir, str(primary.port))
        run_pg([PG_BIN + "/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
                "-U", "postgres", "-D", self.data, "-R", "-X", "stream", "-S", slot,
                "-c", "fast"])
        with open(self.data + "/postgresql.auto.conf", "a") as f:
            f.write("primary_slot_name = '%s'\n" % slot)
        return self

    def start(self):
        opts = ("-k %s -p %d -c listen_addresses=127.0.0.1 -c max_connections=100 "
                "-c wal_level=replica -c max_wal_senders=5 -c max_replication_slots=5 "
                "-c hot_standby=on -c wal_keep_size=64MB %s" % (self.dir, self.port, self.extra))
        run_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.dir + "/log", "-w", "-t", "60",
                "-o", opts, "start"])
        return self

    def stop(self, mode="immediate"):
        try:
            run_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])
        except subprocess.CalledProcessError:
            pass

    def promote(self):
        run_pg([PG_BIN + "/pg_ctl", "-D", self.data, "-w", "promote"])

    def sql(self, statement, db="kmsgate"):
        return psql(statement, db, self.dir, str(self.port))

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.dir + "/log") as f:
                return f.read()
        except OSError:
            return ""


def wait_sync(primary, timeout=30):
    """Waits until the primary has a synchronous standby streaming."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = primary.sql("SELECT count(*) FROM pg_stat_replication"
                           " WHERE sync_state = 'sync' AND state = 'streaming'", "postgres")
        if rows[0][0] != "0":
            return
        time.sleep(0.1)
    raise AssertionError("no synchronous standby:\n" + primary.log()[-2000:])


class Daemon:
    """A foreground process of the tests' own (pgbouncer, haproxy, etcd, patroni)."""

    def __init__(self, argv, log_path, as_pg_user=True, env=None):
        self.log_path = log_path
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(as_pg(argv) if as_pg_user else argv, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, cwd="/", env=env)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def wait_port(port, timeout=30, proc=None):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and not proc.alive():
            raise AssertionError("exited early:\n" + proc.log()[-3000:])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("nothing listens on port %d" % port)


def start_pgbouncer(folder, backend_dir, backend_port, mode, pool_size, extra="", port=None):
    """PgBouncer from deploy/ha/pgbouncer.ini in front of one database
    (@extra: lines added to its [pgbouncer] section)."""
    port = port or free_port()
    with open(folder + "/userlist.txt", "w") as f:
        f.write('"postgres" ""\n')
    ini = render("pgbouncer.ini", folder + "/pgbouncer.ini", BACKEND_HOST=backend_dir,
                 BACKEND_PORT=backend_port, PORT=port, POOL_MODE=mode, POOL_SIZE=pool_size,
                 DIR=folder)
    with open(ini, "a") as f:
        f.write(extra)
    daemon = Daemon(["/usr/sbin/pgbouncer", ini], folder + "/pgbouncer.out")
    wait_port(port, proc=daemon)
    daemon.port = port
    return daemon


# --- a load that records every answer --------------------------------------

REQUEST_TIMEOUT = 20  # s: connect_timeout 3 s per host + statement_timeout 15 s, and a margin


class Answer:
    def __init__(self, kind, key, start, end, status, retry_after, body):
        self.kind, self.key, self.start, self.end = kind, key, start, end
        self.status, self.retry_after, self.body = status, retry_after, body


class Load:
    """Threads that each repeat one kind of request until stopped, every
    answer recorded with its start and end times. A request that gets no
    answer within REQUEST_TIMEOUT is recorded with status 0."""

    def __init__(self, ports, token):
        self.ports = ports if isinstance(ports, list) else [ports]
        self.token = token
        self.answers = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []

    def _one(self, kind, key, method, path, body, headers, port):
        start = time.time()
        status, retry_after, doc = 0, None, None
        try:
            r = Client(port, self.token, check=False).request(method, path, body=body,
                                                               headers=headers,
                                                               timeout=REQUEST_TIMEOUT)
            status, retry_after = r.status, r.headers.get("retry-after")
            try:
                doc = r.json
            except ValueError:
                doc = None
        except OSError as e:
            doc = {"error": repr(e)}
        a = Answer(kind, key, start, time.time(), status, retry_after, doc)
        with self.lock:
            self.answers.append(a)
        return a

    def add(self, kind, make, pause):
        """Starts a thread calling make(i) -> (method, path, body, headers, key)."""
        def loop():
            i = 0
            while not self.stopping.is_set():
                method, path, body, headers, key = make(i)
                self._one(kind, key, method, path, body, headers,
                          self.ports[i % len(self.ports)])
                i += 1
                time.sleep(pause)
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(REQUEST_TIMEOUT + 5)

    def of(self, kind):
        return [a for a in self.answers if a.kind == kind]

    def summary(self):
        by = {}
        for a in self.answers:
            by.setdefault(a.status, 0)
            by[a.status] += 1
        return by


def check_answers(load, what):
    """Every request was answered (no time-out, no refused connection), and
    every 503 carries Retry-After; only 200, 201 and 503 appear (and 409 for
    a reservation of a desktop that a plan already holds)."""
    bad = [a for a in load.answers if a.status not in (200, 201, 503)
           and not (a.kind == "reserve" and a.status == 409)]
    expect(not bad, "%s: unexpected answers: %s" % (
        what, [(a.kind, a.status, a.body, round(a.end - a.start, 2)) for a in bad[:5]]))
    slow = [a for a in load.answers if a.end - a.start > REQUEST_TIMEOUT]
    expect(not slow, "%s: answers slower than %d s: %d" % (what, REQUEST_TIMEOUT, len(slow)))
    bare = [a for a in load.answers if a.status == 503 and not a.retry_after]
    expect(not bare, "%s: 503 without Retry-After: %d" % (what, len(bare)))


def wait_ready(port, timeout, started=None):
    """Polls /readyz every 50 ms; returns seconds until it answered 200 (from @started)."""
    started = started or time.time()
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if Client(port, check=False).get("/readyz", timeout=REQUEST_TIMEOUT).status == 200:
                return time.time() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("/readyz not 200 within %d s" % timeout)


def report(name, **figures):
    """One line of measured figures in the test output (docs/operations.md quotes them)."""
    print("    %s: %s" % (name, ", ".join("%s=%s" % kv for kv in figures.items())), flush=True)


# --- the failover workload: writes, gates and reservations ------------------

HOST = "kms01.corp.example"
HEADROOM = 7  # estate.renewing_pool(32 desktops) of test_reservations: 7 may go


def prepare_estate(c):
    """A host whose pool p1 may lose 7 desktops, a pool for the writes, and
    two plans reserved before any failure. Returns (names, plan ids)."""
    from estate import DAY, create_host, create_pool, now_s, renewing_pool
    create_host(c)
    create_pool(c, "p1")
    create_pool(c, "writes")
    names = renewing_pool(c, "p1", 32, now_s() - DAY)
    plans = []
    for name in names[:2]:
        r = c.post("/v1/gate", {"kms_host": HOST, "decommission": {"desktops": [name]},
                                "reserve": True, "ttl_minutes": 30})
        expect_status(r, 201)
        plans.append(r.json["plan_id"])
    return names, plans


def start_workload(load, names, tag):
    """Desktop writes every 10 ms, gates every 20 ms, a reservation of the next
    desktop every 100 ms (each with its own Idempotency-Key)."""
    def write(i):
        name = "vdi-w-%s-%05d.corp.example" % (tag, i)
        return "PUT", "/v1/desktops/" + name, {"pool": "writes"}, None, name

    def gate(i):
        return "POST", "/v1/gate", {"kms_host": HOST,
                                    "decommission": {"desktops": [names[-1]]}}, None, None

    def reserve(i):
        key = "%s-%d" % (tag, i)
        body = {"kms_host": HOST, "decommission": {"desktops": [names[2 + i % 28]]},
                "reserve": True, "ttl_minutes": 30}
        return "POST", "/v1/gate", body, {"Idempotency-Key": key}, (key, body)

    load.add("write", write, 0.01)
    load.add("gate", gate, 0.02)
    load.add("reserve", reserve, 0.1)


def verify_after(c, load, pre_plans, down_from=None, down_to=None):
    """What a failover must not do, checked through the recovered service.
    Returns the number of acknowledged writes lost (the caller expects 0)."""
    check_answers(load, "during the failover")
    # No answer of success from a database that was not the primary: between
    # the primary's death and the promotion nothing can have been served.
    if down_from is not None:
        served = [a for a in load.answers if a.status in (200, 201)
                  and a.start > down_from and a.end < down_to]
        expect(not served, "answered %d x 2xx with no primary, e.g. %s" % (
            len(served), [(a.kind, a.body) for a in served[:3]]))
    lost = [a.key for a in load.of("write") if a.status in (200, 201)
            and c.get("/v1/desktops/" + a.key).status != 200]
    # Reservations: every acknowledged plan is there; a reservation whose
    # answer was a 503 is retried with its key and answered once.
    for a in load.of("reserve"):
        if a.status == 201:
            expect_status(c.get("/v1/plans/" + a.body["plan_id"]), 200)
        elif a.status == 503:
            key, body = a.key
            r = c.post("/v1/gate", body, headers={"Idempotency-Key": key})
            expect(r.status in (200, 201, 409), "retry of %s: %r" % (key, r))
    reserved = c.get("/v1/plans?kms_host=%s&state=reserved&limit=100" % HOST).json["items"]
    held = [d for p in reserved for d in p["decommission"]]
    expect(len(held) == len(set(held)), "a desktop in two reserved plans: %s" % held)
    expect(len(held) <= HEADROOM, "%d desktops reserved, headroom %d" % (len(held), HEADROOM))
    for plan_id in pre_plans:  # taken before the failure: still reserved, committed once
        r = c.post("/v1/plans/%s/commit" % plan_id)
        expect(r.status == 200 and r.json["state"] == "committed", r)
    committed = c.get("/v1/plans?kms_host=%s&state=committed&limit=100" % HOST).json["items"]
    expect(sorted(p["id"] for p in committed) == sorted(pre_plans), committed)
    return len(lost)


def start_haproxy(folder, replica_ports):
    """HAProxy from deploy/ha/haproxy.cfg in front of three replicas."""
    port = free_port()
    cfg = render("haproxy.cfg", folder + "/haproxy.cfg", DIR=folder, PORT=port,
                 REPLICA1=replica_ports[0], REPLICA2=replica_ports[1],
                 REPLICA3=replica_ports[2])
    check = subprocess.run(["/usr/sbin/haproxy", "-c", "-q", "-f", cfg], capture_output=True,
                           text=True)
    expect(check.returncode == 0, "haproxy -c: %s" % check.stderr)
    daemon = Daemon(["/usr/sbin/haproxy", "-db", "-f", cfg], folder + "/haproxy.out",
                    as_pg_user=False)
    wait_port(port, proc=daemon)
    daemon.port = port
    daemon.socket = folder + "/haproxy.sock"
    return daemon


def haproxy_states(daemon):
    """{server name: status} from the stats socket (UP, DOWN, ...)."""
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.socket)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = data.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(head, line.split(","))) for line in lines[1:] if line]
    return {r["svname"]: r["status"] for r in rows
            if r["svname"] not in ("FRONTEND", "BACKEND")}
