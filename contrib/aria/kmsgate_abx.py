"""kmsgate gate for VMware Aria Automation (vRA 8): an extensibility (ABX)
action, Python 3, standard library plus `requests` (both in the ABX runtime).

Subscribe it to these event topics (README.md, "VMware Aria Automation"):
  compute.allocation.pre   blocking: gates provisioning the machines of
                           inputs["resourceNames"] (one event for a cluster)
  compute.removal.pre      blocking: gates removing the machines named
  compute.provision.post   commits the plan; releases it when the event
  compute.removal.post     reports a failed deployment
A `.pre` event asks POST /v1/gate with reserve=true and an Idempotency-Key
made from the request id, so a retried event gets the first answer, and
returns {"customProperties": {"kmsgatePlanId": ...}}, which Aria writes onto
the resource and hands to the matching `.post` event. A no-go raises with the
gate's reasons, which fails the request. When kmsgate cannot answer
(unreachable, timeout, 5xx) it raises too, unless kmsgateFailOpen is true.

Action inputs (defaults in brackets):
  kmsgateUrl          kmsgate's base URL, e.g. https://kmsgate.corp.example
  kmsgateToken        name of the action secret (or encrypted action constant)
                      holding a kmsgate token with role `hook`
  kmsgateFailOpen     "true": let the request through when kmsgate cannot answer [false]
  kmsgateDomain       DNS suffix added to resource names without a dot [none]
  kmsgateKmsHost      the KMS host [the pool's, from GET /v1/pools/{pool}]
  kmsgateTtlMinutes   how long a reservation waits for its .post event [120]
  kmsgateTimeout      seconds per HTTP request [10]
The pool comes from the resource's custom property `kmsgatePool`, else its tag
`kmsgatePool`; a resource with neither is not gated.
"""
import hashlib
import json

import requests

PLAN_PROPERTY = "kmsgatePlanId"
POOL_PROPERTY = "kmsgatePool"
FAILED_STATUSES = ("FAILED", "FAILURE", "ERROR", "CANCELED", "CANCELLED")


class KmsgateRefused(Exception):
    """The gate answered no-go, or refused the request."""


class KmsgateUnavailable(Exception):
    """kmsgate could not answer."""


def _flag(value):
    return str(value).strip().lower() in ("true", "1", "yes")


def _config(context, inputs):
    """The action's settings; the token through the ABX secret store when there is one."""
    token = inputs.get("kmsgateToken", "")
    if hasattr(context, "getSecret"):
        token = context.getSecret(token)
    url = str(inputs.get("kmsgateUrl", "")).rstrip("/")
    if not url or not token:
        raise KmsgateRefused("kmsgate: the action inputs kmsgateUrl and kmsgateToken are required")
    return {"url": url, "token": token, "fail_open": _flag(inputs.get("kmsgateFailOpen", False)),
            "domain": str(inputs.get("kmsgateDomain", "") or "").strip("."),
            "kms_host": inputs.get("kmsgateKmsHost") or None,
            "ttl": int(inputs.get("kmsgateTtlMinutes", 120)),
            "timeout": float(inputs.get("kmsgateTimeout", 10))}


def _tag(tags, key):
    """A tag's value: Aria passes tags as {key: value} or as [{key, value}]."""
    if isinstance(tags, dict):
        return tags.get(key)
    for tag in tags or []:
        if isinstance(tag, dict) and tag.get("key") == key:
            return tag.get("value")
    return None


def _pool(inputs):
    props = inputs.get("customProperties") or {}
    return props.get(POOL_PROPERTY) or _tag(inputs.get("tags"), POOL_PROPERTY)


def _call(cfg, method, path, body=None, key=None):
    """One request to kmsgate: (status, document). Raises KmsgateUnavailable
    when there is no answer to act on (no connection, timeout, 5xx)."""
    headers = {"Authorization": "Bearer " + cfg["token"], "Accept": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    try:
        r = requests.request(method, cfg["url"] + path, json=body, headers=headers,
                             timeout=cfg["timeout"])
    except requests.RequestException as e:
        raise KmsgateUnavailable("kmsgate cannot be reached: %s" % e) from e
    if r.status_code >= 500:
        raise KmsgateUnavailable("kmsgate answered %d: %s" % (r.status_code, r.text[:300]))
    try:
        return r.status_code, r.json()
    except ValueError:
        raise KmsgateUnavailable("kmsgate answered %d without JSON" % r.status_code) from None


def _detail(doc):
    """A problem's detail and its field errors, for an exception message."""
    errors = "; ".join("%s: %s" % (e.get("field"), e.get("message")) for e in doc.get("errors", []))
    return doc.get("detail", "refused") + (" (%s)" % errors if errors else "")


def _hostnames(cfg, inputs):
    names = [str(n) for n in inputs.get("resourceNames") or []]
    if cfg["domain"]:
        names = [n if "." in n else "%s.%s" % (n, cfg["domain"]) for n in names]
    return names


def _idempotency_key(inputs, topic, names):
    """The request id and topic, and the machines: Aria issues one removal
    event per machine within one request, each a different gate request."""
    digest = hashlib.sha256(json.dumps(sorted(names)).encode()).hexdigest()[:16]
    return "aria:%s:%s:%s" % (topic, inputs.get("requestId") or inputs.get("deploymentId"), digest)


def _gate(cfg, inputs, topic, pool):
    """Asks the gate with a reservation; returns the plan id or raises."""
    names = _hostnames(cfg, inputs)
    if not names:
        raise KmsgateRefused("kmsgate: the event names no machine (resourceNames is empty)")
    kms_host = cfg["kms_host"]
    if not kms_host:
        status, doc = _call(cfg, "GET", "/v1/pools/" + requests.utils.quote(pool, safe=""))
        if status != 200:
            raise KmsgateRefused("kmsgate: pool %s (%d): %s" % (pool, status, _detail(doc)))
        kms_host = doc["kms_host"]
    body = {"kms_host": kms_host, "reserve": True, "ttl_minutes": cfg["ttl"]}
    if topic == "compute.allocation.pre":
        body["provision"] = [{"pool": pool, "count": len(names)}]
    else:
        body["decommission"] = {"desktops": names}
    status, doc = _call(cfg, "POST", "/v1/gate", body, _idempotency_key(inputs, topic, names))
    if status >= 400:
        raise KmsgateRefused("kmsgate refused the request (%d): %s" % (status, _detail(doc)))
    if doc.get("decision") != "go":
        raise KmsgateRefused("kmsgate: no-go for %s: %s" % (", ".join(names),
                                                           " ".join(doc.get("reasons", []))))
    return doc["plan_id"]


def _failed(inputs):
    """Whether a .post event reports a failed deployment (its status or failure message)."""
    status = str(inputs.get("status") or "").upper()
    return status in FAILED_STATUSES or bool(inputs.get("failureMessage"))


def _finish(cfg, inputs, plan_id):
    """Commits the plan after the change, or releases it when the change failed."""
    action = "release" if _failed(inputs) else "commit"
    status, doc = _call(cfg, "POST", "/v1/plans/%s/%s" % (plan_id, action))
    if status == 409 and doc.get("state") != "expired":
        # Released or committed before, e.g. by another machine of the cluster.
        print("kmsgate: plan %s is already %s" % (plan_id, doc.get("state")))
    elif status != 200:
        raise KmsgateRefused("kmsgate: %s of plan %s refused (%d): %s"
                             % (action, plan_id, status, _detail(doc)))
    return {}


def handler(context, inputs):
    """ABX entry point. Returns custom properties for Aria to write back."""
    topic = (inputs.get("__metadata") or {}).get("eventTopicId", "")
    cfg = _config(context, inputs)
    if topic.endswith(".post"):
        plan_id = (inputs.get("customProperties") or {}).get(PLAN_PROPERTY)
        return _finish(cfg, inputs, plan_id) if plan_id else {}
    if topic not in ("compute.allocation.pre", "compute.removal.pre"):
        raise KmsgateRefused("kmsgate: event topic %r is not handled" % topic)
    pool = _pool(inputs)
    if not pool:
        return {}
    try:
        plan_id = _gate(cfg, inputs, topic, pool)
    except KmsgateUnavailable as e:
        if not cfg["fail_open"]:
            raise
        print("kmsgate: %s; kmsgateFailOpen lets the request through ungated" % e)
        return {}
    return {"customProperties": {PLAN_PROPERTY: plan_id}}
