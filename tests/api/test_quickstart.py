"""The README's main command, as a newcomer runs it: scripts/run.sh --demo
starts its own PostgreSQL, migrates, prints the bootstrap token once, loads
the demo estate and answers /readyz within 60 seconds; Ctrl-C stops the
service and that PostgreSQL and leaves no process behind; a second run keeps
the data. Run from this project folder, then (as root) from a fresh clone in
a folder only root may enter, deleted and cloned again to the same path (its
token comes back from beside the data; with that copy gone too, run.sh prints
the command that makes a new admin token), and from a clone of an ordinary
user who runs it without root. The clones are `git clone`s of this repository with the
working tree's uncommitted changes applied (untracked files are not copied)."""
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from harness import DATA_DIR, PG_USER, Client, Skip, expect, expect_status, free_port, no_service

# The throwaway account of the non-root run, made when missing.
PLAIN_USER = "kg-quickstart"


def start_run(project, port, log_path, state=None, user=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMSGATE_")}
    env["KMSGATE_LISTEN"] = "127.0.0.1:%d" % port
    if state:
        env["KMSGATE_STATE_DIR"] = state
    argv = [os.path.join(project, "scripts", "run.sh"), "--demo"]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    log = open(log_path, "ab")
    return subprocess.Popen(argv, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def wait_ready(proc, port, log_path, limit=60):
    start = time.time()
    while time.time() - start < limit:
        expect(proc.poll() is None, "run.sh exited:\n" + read(log_path)[-3000:])
        try:
            if Client(port).get("/readyz", timeout=2).status == 200:
                return time.time() - start
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError("no /readyz 200 within %ds:\n%s" % (limit, read(log_path)[-3000:]))


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def ctrl_c(proc):
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("run.sh did not stop after Ctrl-C")


def leftovers(port, project, state, pgdir):
    """Processes of this run: run.sh, its kmsgate, its PostgreSQL."""
    paths = [os.path.join(project, "scripts", "run.sh"), os.path.join(project, "build", "kmsgate"),
             state, pgdir]
    pattern = "|".join([re.escape(p) for p in paths] + ["127.0.0.1:%d" % port])
    out = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def pg_data_dir(log_path):
    """Where run.sh says the PostgreSQL data is (it must say)."""
    m = re.search(r"its data: ([^\s\x1b]+)", read(log_path))
    expect(m is not None, "run.sh does not say where the data is:\n" + read(log_path)[-2000:])
    return m.group(1)


def quickstart(project, log_path, state=None, user=None):
    """The whole newcomer's session: first run, the demo, Ctrl-C, a second
    run on the same data, Ctrl-C. Returns the PostgreSQL data folder used
    and the seconds to the first /readyz."""
    given_state, state = state, state or os.path.join(project, "var")
    port = free_port()
    proc = start_run(project, port, log_path, given_state, user)
    try:
        seconds = wait_ready(proc, port, log_path, limit=180)
        pgdir = pg_data_dir(log_path)
        token_path = os.path.join(state, "admin-token")
        token = read(token_path).strip()
        expect(stat.S_IMODE(os.stat(token_path).st_mode) == 0o600, "token file mode")
        expect(token in read(log_path), "the token is printed once")
        deadline = time.time() + 60
        while "demo: loaded" not in read(log_path) and time.time() < deadline:
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
        left = leftovers(port, project, state, pgdir)
        expect(left == [], "processes left: %r" % left)

        proc = start_run(project, port, log_path, given_state, user)
        wait_ready(proc, port, log_path)
        expect("was made before" in read(log_path), "second run made a new token")
        expect_status(Client(port, token).get("/v1/kms-hosts/kms01.corp.example"), 200)
        expect(pg_data_dir(log_path) == pgdir, "the second run moved the data")
        ctrl_c(proc)
        left = leftovers(port, project, state, pgdir)
        expect(left == [], "processes left: %r" % left)
        return pgdir, seconds
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def stop_leftovers(*paths):
    for path in paths:
        subprocess.run(["pkill", "-f", path], check=False)


def clone(dest):
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", DATA_DIR, dest], check=True)
    diff = subprocess.run(["git", "-C", DATA_DIR, "diff", "HEAD", "--binary"],
                          capture_output=True, check=True).stdout
    if diff:
        subprocess.run(["git", "-C", dest, "apply"], input=diff, check=True)


def needs_root_once(what):
    if os.geteuid() != 0:
        # Under CI a test that cannot run is a failure: a green CI must not hide it.
        expect(os.environ.get("CI") != "true", "cannot run under CI=true: needs root (%s)" % what)
        raise Skip("needs root (%s)" % what)
    if os.environ.get("KG_SANITIZED") == "1":
        raise Skip("run.sh builds its own binary, so the sanitizer pass adds nothing: "
                   "ran with the normal build")


@no_service
def test_run_demo_ready_then_ctrl_c_leaves_nothing_and_data_persists():
    state = tempfile.mkdtemp(prefix="kg-quickstart-")
    os.chmod(state, 0o755)
    try:
        _, seconds = quickstart(DATA_DIR, os.path.join(state, "run.log"), state=state)
        print("quickstart: /readyz 200 after %.1fs" % seconds)
    finally:
        stop_leftovers(state)
        shutil.rmtree(state, ignore_errors=True)


def serve_again(project, log_path, limit=60):
    """run.sh --demo once more in PROJECT, up to /readyz; returns (proc, port)."""
    port = free_port()
    proc = start_run(project, port, log_path)
    try:
        wait_ready(proc, port, log_path, limit=limit)
        deadline = time.time() + 60
        while "kmsgate serves on" not in read(log_path) and time.time() < deadline:
            time.sleep(0.25)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc, port


def stop_cleanly(proc, port, project, pgdir):
    ctrl_c(proc)
    left = leftovers(port, project, os.path.join(project, "var"), pgdir)
    expect(left == [], "processes left: %r" % left)


def said(log_path):
    """What run.sh said (its ==> lines and the lines under them), not the service's log."""
    return "\n".join(line for line in read(log_path).splitlines() if not line.startswith("{"))


def reclone_keeps_the_token(top, project):
    """Deleting the clone and cloning again to the same path finds the same
    database (the path names it) and its bootstrap token, kept beside it."""
    token_path = os.path.join(project, "var", "admin-token")
    token = read(token_path).strip()
    shutil.rmtree(project)
    clone(project)
    log_path = os.path.join(top, "reclone.log")
    proc, port = serve_again(project, log_path, limit=240)
    try:
        expect(os.path.isfile(token_path), "after a re-clone there is no %s; run.sh said:\n%s"
               % (token_path, said(log_path)[-1500:]))
        expect(read(token_path).strip() == token, "the restored token differs")
        expect(stat.S_IMODE(os.stat(token_path).st_mode) == 0o600, "mode of " + token_path)
        expect("restored from" in said(log_path), said(log_path)[-1500:])
        expect_status(Client(port, token).get("/v1/kms-hosts/kms01.corp.example"), 200)
        return proc, port
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)   # the caller's stop_leftovers does the rest
        raise


def lost_token_says_how_to_make_one(top, project, pgdir):
    """Both copies gone: run.sh says so (it names no missing file as the place
    to look) and prints a command that makes a working admin token."""
    token_path = os.path.join(project, "var", "admin-token")
    kept = os.path.join(os.path.dirname(pgdir), "admin-token")
    expect(stat.S_IMODE(os.stat(kept).st_mode) == 0o600, "mode of " + kept)
    os.unlink(token_path)
    os.unlink(kept)
    log_path = os.path.join(top, "lost.log")
    proc, port = serve_again(project, log_path)
    try:
        text = said(log_path)
        expect("is gone" in text and "see " + token_path not in text, text[-1500:])
        lines = [line.strip() for line in text.splitlines() if "token create --role admin" in line]
        expect(len(lines) == 1 and "KMSGATE_DATABASE_URL=" in lines[0], text[-1500:])
        env = {k: v for k, v in os.environ.items() if not k.startswith("KMSGATE_")}
        subprocess.run(["bash", "-c", lines[0]], env=env, cwd="/", check=True)
        expect(stat.S_IMODE(os.stat(token_path).st_mode) == 0o600, "mode of " + token_path)
        token = read(token_path).strip()
        expect_status(Client(port, token).get("/v1/kms-hosts/kms01.corp.example"), 200)
    finally:
        stop_cleanly(proc, port, project, pgdir)


@no_service
def test_run_demo_from_a_clone_in_a_folder_closed_to_others():
    """Root's clone under /root (mode 0700): kmsgate-pg cannot enter it, so the
    data goes to /var/lib/kmsgate/HASH/pg, owned by kmsgate-pg. Then the clone
    is deleted and cloned again to the same path (issue 22): the token comes
    back from beside the data; with that copy gone too, run.sh prints the
    command that makes a new admin token for that database."""
    needs_root_once("a clone under /root, mode 0700")
    top = tempfile.mkdtemp(prefix="kg-quickstart-", dir="/root")
    project = os.path.join(top, "kmsgate")
    pgdir = None
    try:
        expect(stat.S_IMODE(os.stat(top).st_mode) == 0o700, "mkdtemp makes 0700 folders")
        start = time.time()
        clone(project)
        pgdir, _ = quickstart(project, os.path.join(top, "run.log"))
        print("quickstart from a 0700 clone: %.1fs in all (clone, build, two runs)"
              % (time.time() - start))
        expect(pgdir.startswith("/var/lib/kmsgate/") and pgdir.endswith("/pg"), pgdir)
        expect(pwd.getpwuid(os.stat(pgdir).st_uid).pw_name == PG_USER, "owner of " + pgdir)
        expect(os.path.isfile(os.path.join(pgdir, "data", "PG_VERSION")), pgdir)
        proc, port = reclone_keeps_the_token(top, project)
        stop_cleanly(proc, port, project, pgdir)
        lost_token_says_how_to_make_one(top, project, pgdir)
    finally:
        stop_leftovers(project, *([pgdir] if pgdir else []))
        shutil.rmtree(top, ignore_errors=True)
        if pgdir and pgdir.startswith("/var/lib/kmsgate/"):
            shutil.rmtree(os.path.dirname(pgdir), ignore_errors=True)


@no_service
def test_run_demo_as_an_ordinary_user():
    """An ordinary user's clone with the packages installed: no root at all,
    PostgreSQL runs as that user with its data in the clone's var/pg."""
    needs_root_once("creates the user %s and runs as it" % PLAIN_USER)
    try:
        pwd.getpwnam(PLAIN_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        PLAIN_USER], check=True)
    top = tempfile.mkdtemp(prefix="kg-quickstart-user-")
    project = os.path.join(top, "kmsgate")
    try:
        clone(project)
        subprocess.run(["chown", "-R", PLAIN_USER, top], check=True)
        start = time.time()
        pgdir, _ = quickstart(project, os.path.join(top, "run.log"), user=PLAIN_USER)
        print("quickstart as %s: %.1fs in all (build, two runs)" % (PLAIN_USER,
                                                                   time.time() - start))
        expect(pgdir == os.path.join(project, "var", "pg"), pgdir)
        expect(pwd.getpwuid(os.stat(os.path.join(pgdir, "data")).st_uid).pw_name == PLAIN_USER,
               "owner of the data")
    finally:
        stop_leftovers(project)
        shutil.rmtree(top, ignore_errors=True)
