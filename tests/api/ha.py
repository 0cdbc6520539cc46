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

from harness import DATA_DIR, PG_BIN, PG_USER, Client, expect, free_port, psql

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
