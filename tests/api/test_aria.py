"""The Aria Automation ABX action (contrib/aria/kmsgate_abx.py) driven against
the real service through every topic it subscribes to: a cluster allocation
and its retry, each machine's post-provisioning event, a cluster of 3 with
one machine failing, removals that go, do not go and fail, a machine kmsgate
never registered, and kmsgate being unreachable.

Payload shapes. The compute topics (compute.allocation.pre,
compute.provision.post, compute.removal.pre, compute.removal.post) carry the
fields their event topic schema lists in Automation Assembler (Extensibility >
Library > Event topics; the topics and which of them run once per cluster or
once per machine: "Event topics provided with Automation Assembler",
https://docs.vmware.com/en/VMware-Aria-Automation/8.18/Using-Automation-Assembler/GUID-B1561CF6-30EC-4D7D-B214-6AC8190289C5.html):
__metadata.eventTopicId, requestId, deploymentId, componentId,
componentTypeId, resourceIds, resourceNames, customProperties, tags.
deployment.resource.request.post ("Deployment resource completed") carries
one resource: its id, name, resourceType, eventType (CREATE_RESOURCE; a
subscription criteria on it in VMware's Build Tools for Aria guide,
github.com/vmware/build-tools-for-vmware-aria), status and failureMessage;
the status and failureMessage names are from the topic schema as remembered
and were not checked against a live Aria (see README, "What was not checked").
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import uuid

from estate import headroom_two
from harness import DATA_DIR, Skip, expect, free_port

_spec = importlib.util.spec_from_file_location(
    "kmsgate_abx", os.path.join(DATA_DIR, "contrib", "aria", "kmsgate_abx.py"))
abx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(abx)


class Context:
    """What ABX hands the action: here only the secret store."""

    def __init__(self, secrets):
        self.secrets = secrets

    def getSecret(self, name):  # noqa: N802 - the ABX method's name
        return self.secrets[name]


class Request:
    """One Aria request (a deployment, or a deletion): its ids stay the same
    over all the events it raises."""

    def __init__(self):
        self.request_id = str(uuid.uuid4())
        self.deployment_id = str(uuid.uuid4())

    def compute(self, topic, names, props=None, tags=None):
        """A compute topic's payload: the whole cluster for compute.allocation.pre,
        one machine for the others."""
        return {"__metadata": {"eventTopicId": topic, "userName": "jdoe@corp.example",
                               "orgId": str(uuid.uuid4()), "id": str(uuid.uuid4())},
                "requestId": self.request_id, "deploymentId": self.deployment_id,
                "componentTypeId": "Cloud.vSphere.Machine", "componentId": "Desktop",
                "resourceIds": [str(uuid.uuid4()) for _ in names],
                "resourceNames": list(names),
                "customProperties": dict(props or {}), "tags": dict(tags or {})}

    def resource_ended(self, name, event_type, status, failure=None):
        """deployment.resource.request.post for one machine."""
        doc = {"__metadata": {"eventTopicId": "deployment.resource.request.post",
                              "orgId": str(uuid.uuid4()), "id": str(uuid.uuid4())},
               "requestId": self.request_id, "deploymentId": self.deployment_id,
               "id": str(uuid.uuid4()), "name": name, "resourceType": "Cloud.vSphere.Machine",
               "eventType": event_type, "status": status}
        if failure:
            doc["failureMessage"] = failure
        return doc


POOL = {"kmsgatePool": "vdi-pool"}


def run(svc, token, payload, **settings):
    inputs = {"kmsgateUrl": "http://127.0.0.1:%d" % svc.port, "kmsgateToken": "kmsgate-hook",
              "kmsgateDomain": "corp.example"}
    inputs.update(settings)
    inputs.update(payload)
    return abx.handler(Context({"kmsgate-hook": token}), inputs)


def raises(fn, kind):
    try:
        fn()
    except kind as e:
        return str(e)
    raise AssertionError("expected %s" % kind.__name__)


def plans(svc):
    """Every plan: (kind, machine or count, state), in creation order."""
    return svc.sql("SELECT CASE WHEN EXISTS (SELECT 1 FROM plan_decommissions d WHERE d.plan_id = p.id)"
                   " THEN 'removal' ELSE 'provision' END, p.state FROM plans p ORDER BY p.created_at, p.id")


def states(svc, prefix):
    return dict(svc.sql("SELECT hostname, state FROM desktops WHERE hostname LIKE '%s%%'"
                        " ORDER BY hostname" % prefix))


def estate(svc):
    headroom_two(svc, "vdi-pool")
    return svc.create_token("hook", "aria")


def test_an_aria_built_machine_is_registered_committed_and_deleted(svc):
    token = estate(svc)
    names = ["vdi-new-1", "vdi-new-2", "vdi-new-3"]
    build = Request()
    alloc = build.compute("compute.allocation.pre", names, props=POOL)
    expect(run(svc, token, alloc) == {})
    # One reservation per machine; the machines are known as being built.
    expect(plans(svc) == [["provision", "reserved"]] * 3, plans(svc))
    expect(set(states(svc, "vdi-new").values()) == {"powered_off"}, states(svc, "vdi-new"))
    # Aria retries the event (a timeout on its side): the first answers, nothing new.
    expect(run(svc, token, alloc) == {} and len(plans(svc)) == 3, plans(svc))
    keys = sorted(k for [k] in svc.sql("SELECT idempotency_key FROM decisions"))
    expect(keys == ["aria:provision:%s:%s.corp.example" % (build.request_id, n) for n in names],
           keys)
    # One post-provisioning event per machine: registered active, its plan committed.
    for i, name in enumerate(names):
        expect(run(svc, token, build.compute("compute.provision.post", [name], props=POOL)) == {})
        expect([s for _, s in plans(svc)] == ["committed"] * (i + 1) + ["reserved"] * (2 - i),
               plans(svc))
    expect(set(states(svc, "vdi-new").values()) == {"active"}, states(svc, "vdi-new"))
    # A retried post event changes nothing and raises nothing.
    expect(run(svc, token, build.compute("compute.provision.post", [names[0]], props=POOL)) == {})
    expect(len(plans(svc)) == 3)
    # The user deletes one machine: gated, then committed after it is gone.
    delete = Request()
    expect(run(svc, token, delete.compute("compute.removal.pre", [names[1]], props=POOL)) == {})
    expect(plans(svc)[-1] == ["removal", "reserved"], plans(svc))
    expect(run(svc, token, delete.compute("compute.removal.post", [names[1]], props=POOL)) == {})
    expect(plans(svc)[-1] == ["removal", "committed"], plans(svc))
    expect(states(svc, "vdi-new-2") == {"vdi-new-2.corp.example": "decommissioned"})


def test_a_cluster_of_three_with_one_failing_commits_only_the_built_machines(svc):
    token = estate(svc)
    names = ["vdi-c-1", "vdi-c-2", "vdi-c-3"]
    build = Request()
    # The pool from a tag: the README's subscription condition lets tags through too.
    tags = {"kmsgatePool": "vdi-pool", "env": "prod"}
    run(svc, token, build.compute("compute.allocation.pre", names, tags=tags))
    run(svc, token, build.compute("compute.provision.post", [names[0]], tags=tags))
    # The second machine fails to clone: no compute.provision.post comes for it.
    failed = build.resource_ended(names[1], "CREATE_RESOURCE", "FAILED",
                                  "Unable to clone the template")
    expect(run(svc, token, failed) == {})
    run(svc, token, build.compute("compute.provision.post", [names[2]], tags=tags))
    run(svc, token, build.resource_ended(names[0], "CREATE_RESOURCE", "FINISHED"))
    expect([s for _, s in plans(svc)] == ["committed", "released", "committed"], plans(svc))
    expect(states(svc, "vdi-c") == {"vdi-c-1.corp.example": "active",
                                    "vdi-c-2.corp.example": "decommissioned",
                                    "vdi-c-3.corp.example": "active"}, states(svc, "vdi-c"))
    # The failure event again (a retry): nothing changes.
    expect(run(svc, token, failed) == {} and len(plans(svc)) == 3)
    # The failed deployment is deleted: the never-built machine is not refused,
    # the two built ones are gated and recorded.
    delete = Request()
    for name in names:
        expect(run(svc, token, delete.compute("compute.removal.pre", [name], tags=tags)) == {})
    for name in names:
        expect(run(svc, token, delete.compute("compute.removal.post", [name], tags=tags)) == {})
    expect([s for _, s in plans(svc)] == ["committed", "released", "committed",
                                          "committed", "committed"], plans(svc))
    expect(set(states(svc, "vdi-c").values()) == {"decommissioned"}, states(svc, "vdi-c"))


def test_removals_that_do_not_go_and_that_fail(svc):
    token = estate(svc)
    # 27 CMIDs against a floor of 25: two machines may go, a third may not.
    delete = Request()
    for name in ("vdi-001", "vdi-002"):
        expect(run(svc, token, delete.compute("compute.removal.pre", [name], props=POOL)) == {})
    message = raises(lambda: run(svc, token, delete.compute("compute.removal.pre", ["vdi-003"],
                                                            props=POOL)), abx.KmsgateRefused)
    expect("no-go" in message and "below the floor 25" in message, message)
    expect(plans(svc) == [["removal", "reserved"]] * 2, plans(svc))
    # One event naming several machines is all or none.
    several = Request().compute("compute.removal.pre", ["vdi-004", "vdi-005", "vdi-006"],
                                props=POOL)
    raises(lambda: run(svc, token, several), abx.KmsgateRefused)
    expect(len(plans(svc)) == 2, plans(svc))
    # vdi-001 is gone: committed. Deleting vdi-002 fails: released, it stays active.
    run(svc, token, delete.compute("compute.removal.post", ["vdi-001"], props=POOL))
    run(svc, token, delete.resource_ended("vdi-002", "DELETE_RESOURCE", "FAILED", "VM locked"))
    expect([s for _, s in plans(svc)] == ["committed", "released"], plans(svc))
    expect(states(svc, "vdi-00")["vdi-002.corp.example"] == "active")
    expect(states(svc, "vdi-00")["vdi-001.corp.example"] == "decommissioned")
    # A machine kmsgate never registered cannot be gated: refused, naming the sync.
    unknown = Request().compute("compute.removal.pre", ["web-9"], props=POOL)
    message = raises(lambda: run(svc, token, unknown), abx.KmsgateRefused)
    expect("not registered" in message and "sync" in message, message)
    # A machine without kmsgatePool (property or tag) is not gated at all.
    expect(run(svc, token, Request().compute("compute.allocation.pre", ["web-1"])) == {})
    expect(len(plans(svc)) == 2)


def test_fails_closed_unless_told_to_fail_open(svc):
    token = estate(svc)
    alloc = Request().compute("compute.allocation.pre", ["vdi-y1"], props=POOL)
    down = "http://127.0.0.1:%d" % free_port()
    message = raises(lambda: run(svc, token, alloc, kmsgateUrl=down, kmsgateTimeout=3),
                     abx.KmsgateUnavailable)
    expect("cannot be reached" in message, message)
    expect(run(svc, token, alloc, kmsgateUrl=down, kmsgateFailOpen="true") == {})
    # Failing open is for the blocking gates only: a lost commit is an error to see.
    post = Request().compute("compute.provision.post", ["vdi-y1"], props=POOL)
    raises(lambda: run(svc, token, post, kmsgateUrl=down, kmsgateFailOpen="true",
                       kmsgateTimeout=3), abx.KmsgateUnavailable)
    # A bad token is kmsgate refusing, not kmsgate missing: it fails even when failing open.
    message = raises(lambda: abx.handler(Context({"s": "kg_wrong"}), dict(
        alloc, kmsgateUrl="http://127.0.0.1:%d" % svc.port, kmsgateToken="s",
        kmsgateFailOpen="true")), abx.KmsgateRefused)
    expect("401" in message, message)
    expect(svc.sql("SELECT count(*) FROM plans") == [["0"]])


def test_standard_library_only(svc):
    """The action imports nothing outside Python's standard library."""
    with open(os.path.join(DATA_DIR, "contrib", "aria", "kmsgate_abx.py"), encoding="utf-8") as f:
        imports = {line.split()[1].split(".")[0] for line in f
                   if line.startswith(("import ", "from "))}
    expect(imports <= {"json", "urllib"}, imports)


def test_the_readme_subscription_condition_lets_tagged_pools_through(svc):
    """The condition the README gives the subscriptions, evaluated as the
    JavaScript it is on payloads with the pool as a property, as a tag, and
    neither (the old condition tested only the property)."""
    if shutil.which("node") is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("node is needed to evaluate the subscription condition")
        raise Skip("node is not installed")
    with open(os.path.join(DATA_DIR, "README.md"), encoding="utf-8") as f:
        condition = re.search(r"with the condition\s+`([^`]+)`", f.read()).group(1)
    build = Request()
    payloads = [build.compute("compute.allocation.pre", ["a"], props=POOL),
                build.compute("compute.allocation.pre", ["a"], tags={"kmsgatePool": "p"}),
                build.compute("compute.allocation.pre", ["a"], tags={"env": "prod"}),
                {k: v for k, v in build.compute("compute.removal.pre", ["a"]).items()
                 if k not in ("customProperties", "tags")}]
    script = ("const payloads = %s; console.log(JSON.stringify(payloads.map(d => "
              "(function (event) { return Boolean(%s); })({data: d}))));"
              % (json.dumps(payloads), condition))
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    expect(out.returncode == 0, out.stderr)
    expect(json.loads(out.stdout) == [True, True, False, False], out.stdout)
