"""The README's main command, as a newcomer runs it: scripts/run.sh --demo
starts its own PostgreSQL, migrates, prints the bootstrap token once, loads
the demo estate and answers /readyz within 60 seconds; Ctrl-C stops the
service and that PostgreSQL and leaves no process behind; a second run keeps
the data."""
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from harness import DATA_DIR, Client, expect, expect_status, free_port, no_service


def start_run(state, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMSGATE_")}
    env.update({"KMSGATE_STATE_DIR": state, "KMSGATE_LISTEN": "127.0.0.1:%d" % port})
    log = open(os.path.join(state, "run.log"), "ab")
    proc = subprocess.Popen([os.path.join(DATA_DIR, "scripts", "run.sh"), "--demo"],
                            cwd=DATA_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    return proc


def wait_ready(proc, port, state, limit=60):
    start = time.time()
    while time.time() - start < limit:
        expect(proc.poll() is None, "run.sh exited:\n" + read(state, "run.log")[-3000:])
        try:
            if Client(port).get("/readyz", timeout=2).status == 200:
                return time.time() - start
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError("no /readyz 200 within %ds:\n%s" % (limit, read(state, "run.log")[-3000:]))


def read(state, name):
    with open(os.path.join(state, name), "rb") as f:
        return f.read().decode("utf-8", "replace")


def ctrl_c(proc):
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("run.sh did not stop after Ctrl-C")


def leftovers(state, port):
    out = subprocess.run(["pgrep", "-af", "%s|127.0.0.1:%d" % (state, port)],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


@no_service
def test_run_demo_ready_then_ctrl_c_leaves_nothing_and_data_persists():
    state = tempfile.mkdtemp(prefix="kg-quickstart-")
    os.chmod(state, 0o755)
    port = free_port()
    try:
        proc = start_run(state, port)
        seconds = wait_ready(proc, port, state)
        print("quickstart: /readyz 200 after %.1fs" % seconds)
        token_path = os.path.join(state, "admin-token")
        token = read(state, "admin-token").strip()
        expect(stat.S_IMODE(os.stat(token_path).st_mode) == 0o600, "token file mode")
        expect(token in read(state, "run.log"), "the token is printed once")
        deadline = time.time() + 60
        while "demo: loaded" not in read(state, "run.log") and time.time() < deadline:
            time.sleep(0.25)
        c = Client(port, token)
        host = c.get("/v1/kms-hosts/kms01.corp.example").json
        expect(host["current_count"] == 40 and host["floor"] == 25, host)
        # The README's demo example: the whole Horizon pool is a no-go, 10 could go.
        r = c.post("/v1/gate?enforce=true", {"kms_host": "kms01.corp.example",
                                             "decommission": {"pool": "horizon-finance",
                                                              "count": 18}})
        expect_status(r, 409)
        expect(r.json["decision"] == "no-go" and r.json["max_decommission"] == 10, r.json)
        ctrl_c(proc)
        expect(leftovers(state, port) == [], "processes left: %r" % leftovers(state, port))

        proc = start_run(state, port)
        wait_ready(proc, port, state)
        expect("was made before" in read(state, "run.log"), "second run made a new token")
        expect_status(Client(port, token).get("/v1/kms-hosts/kms01.corp.example"), 200)
        ctrl_c(proc)
        expect(leftovers(state, port) == [], "processes left: %r" % leftovers(state, port))
    finally:
        subprocess.run(["pkill", "-f", state], check=False)
        shutil.rmtree(state, ignore_errors=True)
