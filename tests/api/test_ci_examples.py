"""The CI examples (contrib/ci/*.yml) as their runners run them: each shell
snippet is taken from the YAML file as it stands and run with curl against the
real service, with the environment each CI system gives it (GitHub's
$GITHUB_OUTPUT file, GitLab's dotenv report, Azure's ##vso output lines).
Covered: a go that reserves, hands on the picked desktops and commits them; a
retried gate that replays the first answer; a no-go that stops the run; a
failed change that releases; a plan that expired before the change started
(the check stops it) or while it ran (the record falls back to one DELETE per
picked desktop); kmsgate unreachable (fails closed)."""
import os
import re
import shutil
import subprocess
import tempfile

import yaml

from estate import headroom_two
from harness import DATA_DIR, Skip, expect, free_port

CI_DIR = os.path.join(DATA_DIR, "contrib", "ci")


def need_tools():
    missing = [t for t in ("curl", "jq", "bash", "sh") if shutil.which(t) is None]
    if missing:
        message = "the CI snippets need %s" % ", ".join(missing)
        if os.environ.get("CI") == "true":
            raise AssertionError(message)
        raise Skip(message)


def strings(node):
    """Every string in a parsed YAML document."""
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def snippets(name):
    """The file's shell snippets by the name on their first line (# kmsgate: NAME)."""
    with open(os.path.join(CI_DIR, name), encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    found = {}
    for text in strings(doc):
        m = re.match(r"# kmsgate: (\w+)\n", text)
        if m:
            found[m.group(1)] = text
    expect(set(found) == {"gate", "check", "record"}, (name, sorted(found)))
    return doc, found


class Platform:
    """How one CI system runs a snippet and hands values to the next job."""

    def __init__(self, svc, token, name, workdir):
        self.svc, self.token, self.name, self.workdir = svc, token, name, workdir
        self.doc, self.snippets = snippets(name)

    def env(self, **extra):
        env = {"PATH": os.environ["PATH"], "HOME": self.workdir,
               "KMSGATE_URL": "http://127.0.0.1:%d" % self.svc.port,
               "KMSGATE_TOKEN": self.token, "KMSGATE_TTL_MINUTES": "120"}
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run(self, snippet, **extra):
        shell = ["sh", "-c"] if self.name == "gitlab-ci.yml" else ["bash", "-c"]
        out = subprocess.run(shell + [self.snippets[snippet]], env=self.env(**extra),
                             cwd=self.workdir, capture_output=True, text=True, timeout=120)
        return out.returncode, out.stdout + out.stderr

    def gate(self, key, decommission=0, provision=0, url=None):
        """Runs the gate step; (exit code, log, handed-on values)."""
        extra = {"KMS_HOST": "kms01.corp.example", "POOL": "vdi-pool",
                 "DECOMMISSION": decommission, "PROVISION": provision, "IDEMPOTENCY_KEY": key}
        if url:
            extra["KMSGATE_URL"] = url
        outputs = os.path.join(self.workdir, "outputs")
        open(outputs, "w").close()
        extra.update(GITHUB_OUTPUT=outputs, GITHUB_STEP_SUMMARY=os.path.join(self.workdir, "sum"))
        env_file = os.path.join(self.workdir, "kmsgate.env")
        if os.path.exists(env_file):
            os.remove(env_file)
        code, log = self.run("gate", **extra)
        if self.name == "github-actions.yml":
            lines = open(outputs, encoding="utf-8").read().splitlines()
        elif self.name == "gitlab-ci.yml":
            lines = open(env_file).read().splitlines() if os.path.exists(env_file) else []
            lines = [re.sub(r"^KMSGATE_(\w+)=", lambda m: m.group(1).lower() + "=", l)
                     for l in lines]
        else:
            lines = [m.group(1) + "=" + m.group(2) for m in re.finditer(
                r"##vso\[task\.setvariable variable=(\w+);isOutput=true\](.*)", log)]
        values = dict(l.split("=", 1) for l in lines if "=" in l)
        return code, log, values

    def next_job_env(self, values):
        if self.name == "gitlab-ci.yml":
            return {"KMSGATE_PLAN_ID": values["plan_id"], "KMSGATE_DESKTOPS": values["desktops"]}
        return {"PLAN_ID": values["plan_id"], "DESKTOPS": values["desktops"]}

    def record(self, values, succeeded):
        env = self.next_job_env(values)
        if self.name == "gitlab-ci.yml":
            # The job's own variables (kmsgate:commit or kmsgate:release).
            job = self.doc["kmsgate:commit" if succeeded else "kmsgate:release"]
            env.update(job["variables"])
        elif self.name == "github-actions.yml":
            env["APPLY_RESULT"] = "success" if succeeded else "failure"
        else:
            env["APPLY_RESULT"] = "Succeeded" if succeeded else "Failed"
        return self.run("record", **env)


def estate(svc):
    headroom_two(svc, "vdi-pool")
    return svc.create_token("hook", "ci")


def plan_state(svc, plan_id):
    return svc.client(svc.admin_token).get("/v1/plans/" + plan_id).json["state"]


def decommissioned(svc):
    return [h for [h] in svc.sql("SELECT hostname FROM desktops WHERE state = 'decommissioned'"
                                 " ORDER BY hostname")]


def expire(svc, plan_id):
    svc.sql("UPDATE plans SET expires_at = now() - interval '1 minute' WHERE id = '%s'" % plan_id)


def scenario(svc, name):
    """Every path of one CI file against a fresh estate."""
    need_tools()
    token = estate(svc)
    with tempfile.TemporaryDirectory() as workdir:
        p = Platform(svc, token, name, workdir)
        # A no-go: 3 of 27 CMIDs against a floor of 25. The run stops with the reasons.
        code, log, values = p.gate(name + "-nogo", decommission=3)
        expect(code != 0 and "no-go" in log and "below the floor 25" in log, log)
        expect("HTTP 409" in log and not values.get("plan_id"), (log, values))
        # A go: the plan, its expiry and the two desktops kmsgate picked are handed on.
        code, log, values = p.gate(name + "-go", decommission=1)
        expect(code == 0, log)
        picked = values["desktops"].split(",")
        expect(len(picked) == 1 and picked[0].startswith("vdi-"), values)
        expect(values["expires_at"].endswith("Z"), values)
        # A retried gate step replays the first answer: the same plan, nothing more.
        again = p.gate(name + "-go", decommission=1)
        expect(again[0] == 0 and again[2]["plan_id"] == values["plan_id"], again)
        expect(svc.sql("SELECT count(*) FROM plans") == [["1"]])
        code, log = p.run("check", **p.next_job_env(values))
        expect(code == 0 and "reserved until" in log, log)
        code, log = p.record(values, succeeded=True)
        expect(code == 0 and plan_state(svc, values["plan_id"]) == "committed", log)
        expect(decommissioned(svc) == picked, decommissioned(svc))
        # The change fails: released.
        code, log, failed = p.gate(name + "-fail", decommission=1)
        expect(code == 0, log)
        code, log = p.record(failed, succeeded=False)
        expect(code == 0 and plan_state(svc, failed["plan_id"]) == "released", log)
        expect(decommissioned(svc) == picked)
        # The plan lapses before the change starts: the check stops the job.
        code, log, late = p.gate(name + "-late", decommission=1)
        expect(code == 0, log)
        expire(svc, late["plan_id"])
        code, log = p.run("check", **p.next_job_env(late))
        expect(code != 0 and "expired" in log, log)
        # ... or while it runs: the commit falls back to one DELETE per picked desktop.
        code, log = p.record(late, succeeded=True)
        expect(code == 0 and "recorded as decommissioned" in log, log)
        expect(decommissioned(svc) == sorted(picked + [late["desktops"]]), decommissioned(svc))
        return p


def test_github_actions_example(svc):
    p = scenario(svc, "github-actions.yml")
    # kmsgate is internal: every job on a self-hosted runner.
    for job in p.doc["jobs"].values():
        expect("self-hosted" in job["runs-on"], job["runs-on"])


def test_gitlab_ci_example(svc):
    p = scenario(svc, "gitlab-ci.yml")
    expect(p.doc[".kmsgate"]["tags"] == ["kmsgate"], p.doc[".kmsgate"])


def test_azure_pipelines_example(svc):
    p = scenario(svc, "azure-pipelines.yml")
    expect(p.doc["pool"] == {"name": "kmsgate-agents"} and "vmImage" not in str(p.doc), p.doc)


def test_ci_examples_fail_closed_and_need_no_recent_curl(svc):
    need_tools()
    for name in sorted(os.listdir(CI_DIR)):
        with open(os.path.join(CI_DIR, name), encoding="utf-8") as f:
            text = f.read()
        # --fail-with-body needs curl 7.76: Ubuntu 20.04 and RHEL 8 ship older.
        code = re.sub(r"(?m)^\s*#.*$", "", text)
        expect("--fail-with-body" not in code and "ubuntu-latest" not in code, name)
    token = estate(svc)
    with tempfile.TemporaryDirectory() as workdir:
        p = Platform(svc, token, "github-actions.yml", workdir)
        down = "http://127.0.0.1:%d" % free_port()
        code, log, values = p.gate("down", decommission=1, url=down)
        expect(code != 0 and "HTTP 000" in log and not values.get("plan_id"), log)
