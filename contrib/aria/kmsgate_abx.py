"""kmsgate gate for VMware Aria Automation 8.x (vRealize Automation 8.2 to
Aria Automation 8.18): an extensibility (ABX) action, Python 3, standard
library only (urllib.request; no dependency to add to the action).

Subscribe it to five event topics (README.md, "VMware Aria Automation"):

  compute.allocation.pre   blocking, once per cluster (all its resourceNames):
                           one reservation per machine, so that each machine
                           is committed or released on its own; each machine
                           is registered in kmsgate as `powered_off` (being
                           built: it renews nothing yet). A no-go raises with
                           the gate's reasons and releases what it reserved.
  compute.provision.post   per machine, after a successful build: registers
                           the machine `active` and commits its reservation.
  deployment.resource.request.post
                           per resource when its request ends; for a machine
                           whose create or delete FAILED: releases its
                           reservation (a failed build is also recorded as
                           decommissioned, so that deleting the failed
                           deployment is not refused later).
  compute.removal.pre      blocking, per machine: asks whether it may go.
  compute.removal.post     per machine, after it is gone: commits.

No step depends on properties written back by a topic: every later event
finds its machine's plan again by replaying the first gate request with the
same Idempotency-Key and body (kmsgate answers a replay with the first
answer, plan_id included, and reserves nothing more). The key is
aria:<provision|removal>:<requestId>:<hostname>; the body is rebuilt from
the action inputs, the pool and the machine's name, all stable over the
request. When no plan is found that way (the .pre event was let through
ungated, or the plan expired), a finished removal is recorded with
DELETE /v1/desktops/{hostname}: the machine is gone whatever kmsgate says.

When kmsgate cannot answer (unreachable, timeout, 5xx) the action raises,
which fails a blocking event's request, unless kmsgateFailOpen is true.

What it cannot do, and refuses rather than half-does:
  - a machine being removed that kmsgate has never registered (built before
    the action was installed and never synced) cannot be gated: removal.pre
    raises and names the pool sync (contrib/aria/kmsgate_aria_sync.py) that
    registers it. A machine recorded as decommissioned goes through ungated.
  - a later subscription that renames machines after compute.allocation.pre
    breaks the link between a name and its reservation: give this action's
    allocation subscription the lowest priority (it runs last).

Action inputs (defaults in brackets):
  kmsgateUrl          kmsgate's base URL, e.g. https://kmsgate.corp.example
  kmsgateToken        the action constant (encrypted) holding a kmsgate
                      token with role `hook`
  kmsgateFailOpen     "true": let the request through when kmsgate cannot answer [false]
  kmsgateDomain       DNS suffix added to resource names without a dot [none]
  kmsgateKmsHost      the KMS host [the pool's, from GET /v1/pools/{pool}]
  kmsgateTtlMinutes   how long a reservation waits for its machine [120]
  kmsgateTimeout      seconds per HTTP request [10]
The pool comes from the resource's custom property `kmsgatePool`, else its tag
`kmsgatePool`; a machine with neither is not gated.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

POOL_PROPERTY = "kmsgatePool"
FAILED = ("FAILED", "FAILURE", "ERROR")
# deployment.resource.request.post says which request ended in eventType.
CREATE_EVENTS = ("CREATE_RESOURCE", "CREATE")
DELETE_EVENTS = ("DELETE_RESOURCE", "DELETE")


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
    props = inputs.get("customProperties") or inputs.get("properties") or {}
    return props.get(POOL_PROPERTY) or _tag(inputs.get("tags"), POOL_PROPERTY)


def _call(cfg, method, path, body=None, key=None):
    """One request to kmsgate: (status, document). Raises KmsgateUnavailable
    when there is no answer to act on (no connection, timeout, 5xx)."""
    headers = {"Authorization": "Bearer " + cfg["token"], "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if key:
        headers["Idempotency-Key"] = key
    req = urllib.request.Request(cfg["url"] + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=cfg["timeout"]) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise KmsgateUnavailable("kmsgate cannot be reached: %s" % e) from e
    if status >= 500:
        raise KmsgateUnavailable("kmsgate answered %d: %s" % (status, text[:300]))
    try:
        return status, (json.loads(text) if text else {})
    except ValueError:
        raise KmsgateUnavailable("kmsgate answered %d without JSON" % status) from None


def _detail(doc):
    """A problem's detail and its field errors, for an exception message."""
    errors = "; ".join("%s: %s" % (e.get("field"), e.get("message")) for e in doc.get("errors", []))
    return doc.get("detail", "refused") + (" (%s)" % errors if errors else "")


def _hostname(cfg, name):
    name = str(name).strip().lower()
    if cfg["domain"] and "." not in name:
        name = "%s.%s" % (name, cfg["domain"].lower())
    return name


def _hostnames(cfg, inputs):
    names = inputs.get("resourceNames")
    if not names and inputs.get("resourceName"):
        names = [inputs["resourceName"]]
    if not names and inputs.get("name"):
        names = [inputs["name"]]
    return [_hostname(cfg, n) for n in names or []]


def _quote(text):
    return urllib.parse.quote(str(text), safe="")


def _kms_host(cfg, pool):
    """The pool's pinned KMS host, or None for a pool that discovers its hosts
    (kms_hosts): the gate then evaluates every host of the pool."""
    if cfg["kms_host"] is None:
        status, doc = _call(cfg, "GET", "/v1/pools/" + _quote(pool))
        if status != 200:
            raise KmsgateRefused("kmsgate: pool %s (%d): %s" % (pool, status, _detail(doc)))
        cfg["kms_host"] = doc.get("kms_host") or ""
    return cfg["kms_host"] or None


def _request(cfg, inputs, kind, pool, hostname):
    """The gate request of one machine and its key: the same on every event
    of the request, so that a later event replays the first answer."""
    body = {"reserve": True, "ttl_minutes": cfg["ttl"]}
    if _kms_host(cfg, pool):
        body["kms_host"] = _kms_host(cfg, pool)
    if kind == "provision":
        body["provision"] = [{"pool": pool, "count": 1}]
    else:
        body["decommission"] = {"desktops": [hostname]}
    request_id = inputs.get("requestId") or inputs.get("deploymentId")
    return body, "aria:%s:%s:%s" % (kind, request_id, hostname)


def _reserve(cfg, inputs, kind, pool, hostname):
    """Asks the gate (or replays the first answer); the plan id, or raises."""
    body, key = _request(cfg, inputs, kind, pool, hostname)
    status, doc = _call(cfg, "POST", "/v1/gate", body, key)
    if status >= 400:
        raise KmsgateRefused("kmsgate refused the request (%d): %s" % (status, _detail(doc)))
    if doc.get("decision") != "go":
        raise KmsgateRefused("kmsgate: no-go for %s of %s: %s"
                             % (kind, hostname, " ".join(doc.get("reasons", []))))
    return doc["plan_id"]


def _finish(cfg, plan_id, action):
    """Commits or releases a plan; whether it was (or already is) done."""
    status, doc = _call(cfg, "POST", "/v1/plans/%s/%s" % (plan_id, action))
    if status == 200:
        return True
    if status == 409 and doc.get("state") in ("committed", "released"):
        print("kmsgate: plan %s is already %s" % (plan_id, doc.get("state")))
        return doc.get("state") == ("committed" if action == "commit" else "released")
    if status == 409:  # expired: the caller records the change another way
        print("kmsgate: plan %s could not be %sd: %s" % (plan_id, action, _detail(doc)))
        return False
    raise KmsgateRefused("kmsgate: %s of plan %s refused (%d): %s"
                         % (action, plan_id, status, _detail(doc)))


def _replayed_plan(cfg, inputs, kind, pool, hostname):
    """The plan of a machine's .pre event, or None when there is none to find."""
    try:
        return _reserve(cfg, inputs, kind, pool, hostname)
    except KmsgateRefused as e:
        print("kmsgate: no reservation found for %s: %s" % (hostname, e))
        return None


def _put_desktop(cfg, hostname, pool, state):
    status, doc = _call(cfg, "PUT", "/v1/desktops/" + _quote(hostname),
                        {"pool": pool, "state": state})
    if status not in (200, 201):
        raise KmsgateRefused("kmsgate: registering %s in %s refused (%d): %s"
                             % (hostname, pool, status, _detail(doc)))


def _desktop(cfg, hostname):
    status, doc = _call(cfg, "GET", "/v1/desktops/" + _quote(hostname))
    if status == 404:
        return None
    if status != 200:
        raise KmsgateRefused("kmsgate: reading %s refused (%d): %s"
                             % (hostname, status, _detail(doc)))
    return doc


def _undo(cfg, plans, names):
    """Best effort after a refused cluster: what was reserved and registered
    for it is given back (what fails here lapses after kmsgateTtlMinutes)."""
    try:
        for plan_id in plans:
            _finish(cfg, plan_id, "release")
        for name in names:
            _call(cfg, "DELETE", "/v1/desktops/" + _quote(name))
    except (KmsgateRefused, KmsgateUnavailable) as e:
        print("kmsgate: could not give everything back: %s" % e)


def _allocation(cfg, inputs, pool):
    """One reservation per machine of the cluster; all or none."""
    names = _hostnames(cfg, inputs)
    if not names:
        raise KmsgateRefused("kmsgate: the event names no machine (resourceNames is empty)")
    plans, registered = [], []
    try:
        for name in names:
            plans.append(_reserve(cfg, inputs, "provision", pool, name))
            _put_desktop(cfg, name, pool, "powered_off")
            registered.append(name)
    except KmsgateRefused:
        _undo(cfg, plans, registered)
        raise
    print("kmsgate: %d machine(s) of %s reserved: %s" % (len(names), pool, ", ".join(plans)))
    return {}


def _being_built(cfg, name):
    """The machine as compute.allocation.pre registered it (powered_off), or None."""
    desktop = _desktop(cfg, name)
    return desktop if desktop and desktop.get("state") == "powered_off" else None


def _provisioned(cfg, inputs, pool):
    """Commit first, then mark it active: a retried event still finds the plan."""
    for name in _hostnames(cfg, inputs):
        if _being_built(cfg, name):
            plan_id = _replayed_plan(cfg, inputs, "provision", pool, name)
            if plan_id:
                _finish(cfg, plan_id, "commit")
        _put_desktop(cfg, name, pool, "active")
    return {}


def _removal(cfg, inputs, pool):
    """Each machine named is gated; all or none."""
    plans = []
    try:
        for name in _hostnames(cfg, inputs):
            desktop = _desktop(cfg, name)
            if desktop is None:
                raise KmsgateRefused(
                    "kmsgate: %s is not registered in kmsgate, so its removal cannot be gated; "
                    "run the pool sync (kmsgate_aria_sync.py) or register it with PUT "
                    "/v1/desktops/%s, then retry" % (name, name))
            if desktop.get("state") == "decommissioned":
                print("kmsgate: %s is recorded as decommissioned: nothing to gate" % name)
                continue
            plans.append(_reserve(cfg, inputs, "removal", pool, name))
    except KmsgateRefused:
        _undo(cfg, plans, [])
        raise
    return {}


def _removed(cfg, inputs, pool):
    for name in _hostnames(cfg, inputs):
        desktop = _desktop(cfg, name)
        if desktop is None or desktop.get("state") == "decommissioned":
            continue
        plan_id = _replayed_plan(cfg, inputs, "removal", pool, name)
        if not plan_id or not _finish(cfg, plan_id, "commit"):
            status, doc = _call(cfg, "DELETE", "/v1/desktops/" + _quote(name))
            if status not in (200, 204):
                raise KmsgateRefused("kmsgate: recording %s as decommissioned refused (%d): %s"
                                     % (name, status, _detail(doc)))
    return {}


def _resource_ended(cfg, inputs, pool):
    """deployment.resource.request.post: only a failed machine request matters."""
    status = str(inputs.get("status") or "").upper()
    if status not in FAILED:
        return {}
    kind = str(inputs.get("eventType") or inputs.get("requestType") or "").upper()
    for name in _hostnames(cfg, inputs):
        desktop = _desktop(cfg, name)
        if kind in CREATE_EVENTS and desktop and desktop.get("state") == "powered_off":
            # Never built: give its headroom back and record it as gone, so
            # that deleting the failed deployment is not refused later.
            plan_id = _replayed_plan(cfg, inputs, "provision", pool or desktop["pool"], name)
            if plan_id:
                _finish(cfg, plan_id, "release")
            _call(cfg, "DELETE", "/v1/desktops/" + _quote(name))
        elif kind in DELETE_EVENTS and desktop and desktop.get("state") != "decommissioned":
            plan_id = _replayed_plan(cfg, inputs, "removal", pool or desktop["pool"], name)
            if plan_id:
                _finish(cfg, plan_id, "release")
    return {}


HANDLERS = {"compute.allocation.pre": _allocation, "compute.provision.post": _provisioned,
            "compute.removal.pre": _removal, "compute.removal.post": _removed,
            "deployment.resource.request.post": _resource_ended}
BLOCKING = ("compute.allocation.pre", "compute.removal.pre")


def handler(context, inputs):
    """ABX entry point. Returns no property: nothing relies on a write-back."""
    topic = (inputs.get("__metadata") or {}).get("eventTopicId", "")
    if topic not in HANDLERS:
        raise KmsgateRefused("kmsgate: event topic %r is not handled" % topic)
    cfg = _config(context, inputs)
    pool = _pool(inputs)
    if not pool and topic != "deployment.resource.request.post":
        return {}
    try:
        return HANDLERS[topic](cfg, inputs, pool)
    except KmsgateUnavailable as e:
        if not cfg["fail_open"] or topic not in BLOCKING:
            raise
        print("kmsgate: %s; kmsgateFailOpen lets the request through ungated" % e)
        return {}
