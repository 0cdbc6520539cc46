"""The Aria Automation ABX action (contrib/aria/kmsgate_abx.py) driven against
the real service with event payloads shaped like Aria's: a 10-machine cluster
allocation, its retry, the per-machine post-provisioning events, removals that
go, that do not go and that fail, and kmsgate being unreachable."""
import importlib.util
import os
import uuid

from estate import create_host, create_pool, now_s, renewing_pool, DAY
from harness import DATA_DIR, expect, free_port

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


def event(topic, names, request_id, props=None, tags=None, **extra):
    """A payload as Aria sends it to a compute event subscription."""
    doc = {"__metadata": {"eventTopicId": topic, "userName": "jdoe@corp.example",
                          "orgId": str(uuid.uuid4()), "id": str(uuid.uuid4())},
           "requestId": request_id, "deploymentId": str(uuid.uuid4()),
           "componentTypeId": "Cloud.vSphere.Machine", "componentId": "Desktop",
           "resourceIds": [str(uuid.uuid4()) for _ in names], "resourceNames": list(names),
           "customProperties": dict(props or {}), "tags": tags or {}}
    doc.update(extra)
    return doc


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


def plan_row(svc, plan_id):
    return svc.sql("SELECT state, coalesce((SELECT sum(count) FROM plan_provisions WHERE plan_id = p.id), 0),"
                   " (SELECT count(*) FROM plan_decommissions WHERE plan_id = p.id)"
                   " FROM plans p WHERE id = '%s'" % plan_id)[0]


def estate(svc):
    c = svc.client()
    create_host(c)
    create_pool(c, "vdi-pool")
    renewing_pool(c, "vdi-pool", 27, now_s() - DAY, prefix="vdi-")
    return svc.create_token("hook", "aria")


def test_cluster_allocation_reserves_once_and_post_events_commit(svc):
    token = estate(svc)
    names = ["vdi-new-%02d" % i for i in range(1, 11)]
    request_id = str(uuid.uuid4())
    alloc = event("compute.allocation.pre", names, request_id, props={"kmsgatePool": "vdi-pool"})
    out = run(svc, token, alloc)
    plan_id = out["customProperties"]["kmsgatePlanId"]
    expect(plan_row(svc, plan_id) == ["reserved", "10", "0"], plan_row(svc, plan_id))
    # Aria retries the event (a timeout on its side): the first answer, nothing new stored.
    expect(run(svc, token, alloc) == out)
    expect(svc.sql("SELECT count(*) FROM plans") == [["1"]])
    keys = svc.sql("SELECT idempotency_key FROM decisions WHERE idempotency_key IS NOT NULL")
    expect(len(keys) == 1 and keys[0][0].startswith("aria:compute.allocation.pre:" + request_id),
           keys)
    plan = svc.client(token).get("/v1/plans/" + plan_id).json
    expect(plan["state"] == "reserved" and plan["caller"] == "aria", plan)
    # One post-provisioning event per machine, each carrying the property written back.
    for name in names:
        post = event("compute.provision.post", [name], request_id,
                     props={"kmsgatePool": "vdi-pool", "kmsgatePlanId": plan_id})
        expect(run(svc, token, post) == {})
    expect(plan_row(svc, plan_id)[0] == "committed")


def test_pool_from_a_tag_and_a_failed_deployment_releases(svc):
    token = estate(svc)
    request_id = str(uuid.uuid4())
    alloc = event("compute.allocation.pre", ["vdi-x1", "vdi-x2"], request_id,
                  tags={"kmsgatePool": "vdi-pool", "env": "prod"})
    plan_id = run(svc, token, alloc)["customProperties"]["kmsgatePlanId"]
    expect(plan_row(svc, plan_id) == ["reserved", "2", "0"])
    failed = event("compute.provision.post", ["vdi-x1"], request_id,
                   props={"kmsgatePlanId": plan_id}, status="FAILED",
                   failureMessage="Unable to clone the template")
    expect(run(svc, token, failed) == {})
    expect(plan_row(svc, plan_id)[0] == "released")
    # The cluster's other machine reports success later: the plan stays released.
    ok = event("compute.provision.post", ["vdi-x2"], request_id, props={"kmsgatePlanId": plan_id})
    expect(run(svc, token, ok) == {} and plan_row(svc, plan_id)[0] == "released")
    # A machine without kmsgatePool is not gated.
    expect(run(svc, token, event("compute.allocation.pre", ["web-1"], str(uuid.uuid4()))) == {})


def test_removal_gates_by_hostname_and_refuses_with_the_reasons(svc):
    token = estate(svc)
    props = {"kmsgatePool": "vdi-pool"}
    # 27 CMIDs against a floor of 25: removing three is a no-go, with the gate's reasons.
    three = event("compute.removal.pre", ["vdi-001", "vdi-002", "vdi-003"], str(uuid.uuid4()),
                  props=props)
    message = raises(lambda: run(svc, token, three), abx.KmsgateRefused)
    expect("no-go" in message and "below the floor 25" in message, message)
    expect(svc.sql("SELECT count(*) FROM plans") == [["0"]])
    # Removing one goes: reserved, then committed by the removal's post event.
    request_id = str(uuid.uuid4())
    plan_id = run(svc, token, event("compute.removal.pre", ["vdi-001"], request_id,
                                    props=props))["customProperties"]["kmsgatePlanId"]
    expect(plan_row(svc, plan_id) == ["reserved", "0", "1"])
    done = event("compute.removal.post", ["vdi-001"], request_id,
                 props=dict(props, kmsgatePlanId=plan_id))
    expect(run(svc, token, done) == {} and plan_row(svc, plan_id)[0] == "committed")
    state = svc.sql("SELECT state FROM desktops WHERE hostname = 'vdi-001.corp.example'")
    expect(state == [["decommissioned"]], state)
    # A removal that failed releases its plan; the desktop stays active.
    request_id = str(uuid.uuid4())
    plan_id = run(svc, token, event("compute.removal.pre", ["vdi-002"], request_id,
                                    props=props))["customProperties"]["kmsgatePlanId"]
    failed = event("compute.removal.post", ["vdi-002"], request_id,
                   props=dict(props, kmsgatePlanId=plan_id), status="FAILED")
    expect(run(svc, token, failed) == {} and plan_row(svc, plan_id)[0] == "released")
    # An unknown machine is refused with the field kmsgate names.
    unknown = event("compute.removal.pre", ["nope-9"], str(uuid.uuid4()), props=props)
    message = raises(lambda: run(svc, token, unknown), abx.KmsgateRefused)
    expect("422" in message and "decommission.desktops" in message, message)


def test_fails_closed_unless_told_to_fail_open(svc):
    token = estate(svc)
    alloc = event("compute.allocation.pre", ["vdi-y1"], str(uuid.uuid4()),
                  props={"kmsgatePool": "vdi-pool"})
    down = "http://127.0.0.1:%d" % free_port()
    message = raises(lambda: run(svc, token, alloc, kmsgateUrl=down, kmsgateTimeout=3),
                     abx.KmsgateUnavailable)
    expect("cannot be reached" in message, message)
    expect(run(svc, token, alloc, kmsgateUrl=down, kmsgateFailOpen="true") == {})
    # A bad token is kmsgate refusing, not kmsgate missing: it fails even when failing open.
    message = raises(lambda: abx.handler(Context({"s": "kg_wrong"}), dict(
        alloc, kmsgateUrl="http://127.0.0.1:%d" % svc.port, kmsgateToken="s",
        kmsgateFailOpen="true")), abx.KmsgateRefused)
    expect("401" in message, message)
    expect(svc.sql("SELECT count(*) FROM plans") == [["0"]])
