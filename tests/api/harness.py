"""Harness for the API tests: each test gets a real `kmsgate serve` process on
its own fresh database of the PostgreSQL started by scripts/test.sh, and talks
to it over HTTP. Standard library only (run with /usr/bin/python3).

Environment (set by scripts/test.sh):
  KG_BIN       the kmsgate binary under test
  KG_PG_DIR    socket folder of the test PostgreSQL
  KG_PG_PORT   its port
  KG_DATA_DIR  the project folder (migrations/, openapi/)
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import openapi_check  # OpenAPI response check (see Client.request)

BIN = os.environ.get("KG_BIN", "build/kmsgate")
PG_DIR = os.environ.get("KG_PG_DIR", "")
PG_PORT = os.environ.get("KG_PG_PORT", "5432")
DATA_DIR = os.environ.get("KG_DATA_DIR", ".")

_db_counter = [0]
_db_lock = threading.Lock()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def psql(sql, db="postgres", host=None, port=None):
    """Runs SQL on the test cluster (or another); returns stdout rows (tab-separated)."""
    out = subprocess.run(
        ["psql", "-h", host or PG_DIR, "-p", port or PG_PORT, "-U", "postgres", "-d", db, "-qAtX",
         "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def db_url(name):
    return "postgresql://postgres@/%s?host=%s&port=%s" % (name, PG_DIR, PG_PORT)


def new_database():
    with _db_lock:
        _db_counter[0] += 1
        name = "kgtest_%d_%d" % (os.getpid(), _db_counter[0])
    psql('CREATE DATABASE "%s"' % name)
    return name


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self._json = None

    @property
    def json(self):
        if self._json is None:
            self._json = json.loads(self.body.decode("utf-8"))
        return self._json

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Client:
    """A tiny HTTP client bound to one service and (optionally) one token."""

    def __init__(self, port, token=None, host="127.0.0.1", check=True):
        self.port = port
        self.host = host
        self.token = token
        self.check = check  # OpenAPI response check (see request)

    def with_token(self, token):
        return Client(self.port, token, self.host, self.check)

    def request(self, method, path, body=None, headers=None, raw=None, content_type=None,
                timeout=30):
        hdrs = {}
        if self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
            hdrs["Content-Type"] = content_type or "application/octet-stream"
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = content_type or "application/json"
        if headers:
            hdrs.update(headers)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        # --- OpenAPI response check: every answer must match openapi/kmsgate.yaml
        # (Client(check=False) or KG_OPENAPI_CHECK=0 turn it off) ---
        if self.check and os.environ.get("KG_OPENAPI_CHECK", "1") != "0":
            openapi_check.check(method, path, resp.status, resp.headers, resp.body)
        # --- end of the OpenAPI response check ---
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def q(value):
    """URL-encodes one path segment or query value."""
    return urllib.parse.quote(str(value), safe="")


class Service:
    """A migrated database and a running `kmsgate serve` on a free port."""

    def __init__(self, database=None, migrate=True, threads=4, extra_env=None):
        self.database = database or new_database()
        self.url = db_url(self.database)
        self.port = None
        self.proc = None
        self.log_path = None
        self.threads = threads
        self.extra_env = extra_env or {}
        if migrate:
            self.run_cli("migrate")
        self.admin_token = None

    def env(self):
        env = dict(os.environ)
        env.update({"KMSGATE_DATABASE_URL": self.url, "KMSGATE_DATA_DIR": DATA_DIR,
                    "KMSGATE_THREADS": str(self.threads)})
        env.update(self.extra_env)
        return env

    def run_cli(self, *args, check=True):
        return subprocess.run([BIN] + list(args), env=self.env(), capture_output=True,
                              text=True, check=check, timeout=60)

    def create_token(self, role, name):
        return self.run_cli("token", "create", "--role", role, "--name", name).stdout.strip()

    def start(self, port=None, wait=True):
        self.port = port or free_port()
        env = self.env()
        env["KMSGATE_LISTEN"] = "127.0.0.1:%d" % self.port
        self.log_path = "/tmp/kmsgate-test-%d-%d.log" % (os.getpid(), self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "serve"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        if self.admin_token is None:
            self.admin_token = self.create_token("admin", "test-admin-%d" % self.port)
        return self

    def wait_ready(self, timeout=30, path="/healthz"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("kmsgate exited with %s; log:\n%s"
                                     % (self.proc.returncode, self.log_text()[-3000:]))
            try:
                if Client(self.port).get(path, timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("kmsgate did not become ready")

    def client(self, token=None):
        return Client(self.port, token if token is not None else self.admin_token)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the service; returns its exit code. Sanitizer reports fail the test."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("kmsgate did not stop within %ds" % timeout)
        self.log.close()
        code = self.proc.returncode
        self.proc = None
        text = self.log_text()
        if "ERROR: AddressSanitizer" in text or "runtime error:" in text or \
                "ERROR: LeakSanitizer" in text:
            raise AssertionError("sanitizer report in the service log:\n" + text[-4000:])
        return code

    def drop(self):
        psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.database)

    def sql(self, statement):
        return psql(statement, self.database)


class Skip(Exception):
    """Raised by a test that cannot run here; run.py prints the reason and
    counts the test neither passed nor failed."""


def expect(cond, message="expectation failed"):
    if not cond:
        raise AssertionError(message)


def expect_status(resp, status):
    if resp.status != status:
        raise AssertionError("expected %d, got %r" % (status, resp))


def expect_problem(resp, status, field=None):
    """A problem+json answer with the given status (and naming field, if given)."""
    expect_status(resp, status)
    ct = resp.headers.get("content-type", "")
    expect(ct.startswith("application/problem+json"), "content type %r for %r" % (ct, resp))
    doc = resp.json
    for key in ("type", "title", "status", "detail"):
        expect(key in doc, "problem lacks %s: %r" % (key, doc))
    expect(doc["status"] == status, "problem status %r" % doc)
    if field is not None:
        fields = [e.get("field") for e in doc.get("errors", [])]
        expect(field in fields, "problem does not name field %r: %r" % (field, doc))
    return doc


PG_BIN = "/usr/lib/postgresql/15/bin"
PG_USER = "kmsgate-pg"


class PrivateCluster:
    """A PostgreSQL of one test's own, for tests that stop and restart the
    database under a running service. Runs as the unprivileged PG_USER when
    the tests run as root (initdb and postgres refuse root)."""

    def __init__(self):
        self.dir = "/tmp/kg-private-pg-%d-%d" % (os.getpid(), free_port())
        self.port = str(free_port())
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            subprocess.run(["chown", PG_USER, self.dir], check=True)
        self._as_pg([PG_BIN + "/initdb", "-D", self.dir + "/data", "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        self.start()
        subprocess.run(["psql", "-h", self.dir, "-p", self.port, "-U", "postgres", "-qc",
                        "CREATE DATABASE kmsgate"], check=True, capture_output=True)
        self.url = "postgresql://postgres@/kmsgate?host=%s&port=%s" % (self.dir, self.port)

    def _as_pg(self, argv):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", PG_USER, "--"] + argv
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def start(self):
        self._as_pg([PG_BIN + "/pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/log",
                     "-w", "-o", "-k %s -p %s -c listen_addresses='' -c fsync=off"
                     % (self.dir, self.port), "start"])

    def stop(self, mode="immediate"):
        self._as_pg([PG_BIN + "/pg_ctl", "-D", self.dir + "/data", "-m", mode, "-w", "stop"])

    def sql(self, statement):
        return psql(statement, "kmsgate", self.dir, self.port)

    def destroy(self):
        try:
            self.stop("fast")
        except subprocess.CalledProcessError:
            pass
        subprocess.run(["rm", "-rf", self.dir], check=False)
