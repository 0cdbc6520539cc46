"""The PowerShell recipes in contrib/ cannot run here (no PowerShell, no
Horizon, no Citrix, no KMS host), so each one's sequence of kmsgate calls is
mirrored against the real service: the same method, path, query, body and
headers in the same order, as contrib/kmsgate-common.ps1 Invoke-Kmsgate sends
them (Authorization, Accept, Idempotency-Key; compact UTF-8 JSON as
'application/json; charset=utf-8'). Each mirror names the script lines it
follows, and the test checks that those lines still hold those calls, so a
change to a script without its mirror fails here.

What the mirrors cannot check: the platform calls between the kmsgate calls
(Horizon REST and VMware.Hv.Helper, the Citrix SDK, Get-WinEvent and CIM) and
PowerShell itself (parsing, ConvertTo-Json depth and array shapes); see the
README, "What was not checked without the platforms"."""
import json
import os
import time

from estate import create_host, headroom_two, now_s
from harness import DATA_DIR, expect, expect_status, q

CONTRIB = os.path.join(DATA_DIR, "contrib")


def lines(script, expected):
    """Line number -> text each line of the script must contain."""
    with open(os.path.join(CONTRIB, script), encoding="utf-8") as f:
        text = f.read().splitlines()
    for number, needle in expected.items():
        expect(needle in text[number - 1], "%s:%d no longer holds %r: update its mirror (%r)"
               % (script, number, needle, text[number - 1]))


# kmsgate-common.ps1: the calls every recipe shares.
COMMON = {
    108: "Invoke-KmsgateRetry 'POST' '/v1/gate' $request",
    111: "Invoke-KmsgateRetry 'POST' '/v1/gate' $request $Key",
    124: "Invoke-KmsgateRetry 'GET' \"/v1/plans/$($gate.Body.plan_id)\"",
    138: "Invoke-KmsgateRetry 'POST' \"/v1/plans/$PlanId/release\"",
    144: "Invoke-KmsgateRetry 'DELETE' \"/v1/desktops/$([uri]::EscapeDataString($d))\"",
    156: "Invoke-KmsgateRetry 'POST' \"/v1/plans/$PlanId/commit\"",
    179: "Invoke-KmsgateRetry 'PUT' \"/v1/pools/$([uri]::EscapeDataString($Name))/desktops\" $body",
}


class Mirror:
    """Invoke-Kmsgate (kmsgate-common.ps1 lines 34-66), call for call."""

    def __init__(self, svc, token):
        self.c = svc.client(token)
        self.calls = []

    def invoke(self, method, path, body=None, key=None, raw=None, content_type=None):
        headers = {"Accept": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        if raw is None and body is not None:
            raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        if raw is not None:
            r = self.c.request(method, path, raw=raw, content_type=content_type, headers=headers)
        else:
            r = self.c.request(method, path, headers=headers)
        self.calls.append("%s %s" % (method, path))
        return r

    # Invoke-Gate (lines 101-132): a dry run without key, or a reservation under the key.
    def gate(self, kms_host, decommission, dry_run, ttl, key):
        body = {"kms_host": kms_host} if kms_host else {}  # lines 102-104
        body["decommission"] = decommission
        if dry_run:  # lines 106-108
            body.update(reserve=False, dry_run=True)
            return self.invoke("POST", "/v1/gate", body), None
        body.update(reserve=True, ttl_minutes=ttl)  # lines 109-111
        gate = self.invoke("POST", "/v1/gate", body, key)
        if gate.status not in (200, 201) or gate.json["decision"] != "go":
            return gate, None
        plan = self.invoke("GET", "/v1/plans/" + gate.json["plan_id"])  # line 124
        return gate, plan

    # Undo-Plan (lines 137-153): release, then one DELETE per desktop gone.
    def undo(self, plan_id, gone):
        r = self.invoke("POST", "/v1/plans/%s/release" % plan_id)
        expect(r.status == 200 or (r.status == 409 and r.json["state"] in ("released", "expired")), r)
        for d in gone:
            expect_status(self.invoke("DELETE", "/v1/desktops/" + q(d)), 200)

    # Complete-Plan (lines 155-166): commit, or the Undo-Plan fallback on a 409.
    def complete(self, plan_id, gone):
        r = self.invoke("POST", "/v1/plans/%s/commit" % plan_id)
        if r.status == 409:
            self.undo(plan_id, gone)
        return r

    # Sync-Pool (lines 172-191).
    def sync(self, name, desktops, dry_run=False, force=False):
        return self.invoke("PUT", "/v1/pools/%s/desktops" % q(name),
                           {"desktops": desktops, "dry_run": dry_run, "force": force})


def estate(svc, pool="finance"):
    return headroom_two(svc, pool)


def decisions(svc):
    return int(svc.sql("SELECT count(*) FROM decisions")[0][0])


def states(svc):
    return dict(svc.sql("SELECT hostname, state FROM desktops ORDER BY hostname"))


def test_horizon_pool_resize_mirror(svc):
    lines("kmsgate-common.ps1", COMMON)
    lines("horizon-pool-resize.ps1", {
        187: "Invoke-KmsgateRetry 'GET' \"/v1/pools/$([uri]::EscapeDataString($KmsgatePool))\"",
        205: "Invoke-Gate $KmsHost ([ordered]@{ pool = $KmsgatePool; count = $count }) $dryRun $TtlMinutes $IdempotencyKey",
        216: "Undo-Plan $planId @()", 223: "Undo-Plan $planId @()",
        295: "Undo-Plan $planId $gone", 300: "Complete-Plan $planId $picked"})
    names = estate(svc)
    m = Mirror(svc, svc.create_token("hook", "horizon"))
    # Horizon lists the 27 machines; -TargetSize 25 asks to decommission 2.
    pool = m.invoke("GET", "/v1/pools/finance")  # line 187
    expect_status(pool, 200)
    kms_host = pool.json["kms_host"]
    count = len(names) - 25
    # -WhatIf: a dry run. Nothing recorded, nothing reserved (the old script
    # sent reserve:false alone, which recorded a decision).
    gate, _ = m.gate(kms_host, {"pool": "finance", "count": count}, True, 120, None)
    expect(gate.status == 200 and gate.json["decision"] == "go" and gate.json["plan_id"] is None,
           gate)
    expect(decisions(svc) == 0 and svc.sql("SELECT count(*) FROM plans") == [["0"]])
    # The run: reserved under the day's key, the picks deleted, committed.
    key = "horizon-pool-resize/finance/25/" + time.strftime("%Y-%m-%d", time.gmtime())
    gate, plan = m.gate(kms_host, {"pool": "finance", "count": count}, False, 120, key)
    expect(gate.status == 201 and plan.json["state"] == "reserved", (gate, plan))
    picked = gate.json["decommission"]
    expect(len(picked) == 2 and set(picked) <= set(names), picked)
    expect_status(m.complete(gate.json["plan_id"], picked), 200)  # line 300
    expect(sorted(h for h, s in states(svc).items() if s == "decommissioned") == sorted(picked))
    # A re-run the same day: the same answer and plan, found committed: done.
    again, plan = m.gate(kms_host, {"pool": "finance", "count": count}, False, 120, key)
    expect(again.json["plan_id"] == gate.json["plan_id"] and plan.json["state"] == "committed")
    expect(m.calls == ["GET /v1/pools/finance", "POST /v1/gate", "POST /v1/gate",
                       "GET /v1/plans/" + gate.json["plan_id"],
                       "POST /v1/plans/%s/commit" % gate.json["plan_id"],
                       "POST /v1/gate", "GET /v1/plans/" + gate.json["plan_id"]], m.calls)
    # A third machine would breach the floor: no-go, nothing reserved.
    nogo, _ = m.gate(kms_host, {"pool": "finance", "count": 1}, False, 120, key + "/b")
    expect(nogo.status == 200 and nogo.json["decision"] == "no-go", nogo)


def test_horizon_resize_failures_release_and_record_what_is_gone(svc):
    estate(svc)
    m = Mirror(svc, svc.create_token("hook", "horizon"))
    # A picked machine with a session (no -LogoffSessions): released, nothing deleted (line 223).
    gate, _ = m.gate("kms01.corp.example", {"pool": "finance", "count": 1}, False, 120, "k1")
    m.undo(gate.json["plan_id"], [])
    expect(m.c.get("/v1/plans/" + gate.json["plan_id"]).json["state"] == "released")
    expect("decommissioned" not in states(svc).values())
    # The Horizon change failed after one machine went (line 295): released, that one recorded.
    gate, _ = m.gate("kms01.corp.example", {"pool": "finance", "count": 2}, False, 120, "k2")
    gone = gate.json["decommission"][:1]
    m.undo(gate.json["plan_id"], gone)
    expect(sorted(h for h, s in states(svc).items() if s == "decommissioned") == gone)
    # Horizon took longer than the TTL: the commit is refused (expired) and
    # Complete-Plan records each machine instead (kmsgate-common.ps1 line 162).
    gate, _ = m.gate("kms01.corp.example", {"pool": "finance", "count": 1}, False, 120, "k3")
    svc.sql("UPDATE plans SET expires_at = now() - interval '1 minute' WHERE id = '%s'"
            % gate.json["plan_id"])
    r = m.complete(gate.json["plan_id"], gate.json["decommission"])
    expect(r.status == 409 and r.json["state"] == "expired", r)
    expect(states(svc)[gate.json["decommission"][0]] == "decommissioned")


def test_citrix_remove_machine_mirror(svc):
    lines("kmsgate-common.ps1", COMMON)
    lines("citrix-remove-machine.ps1", {
        134: "Invoke-KmsgateRetry 'GET' \"/v1/desktops/$([uri]::EscapeDataString($hostnames[0]))\"",
        145: "Invoke-Gate $KmsHost ([ordered]@{ desktops = $hostnames }) $dryRun $TtlMinutes $IdempotencyKey",
        202: "Undo-Plan $planId $removed", 207: "Complete-Plan $planId $hostnames"})
    names = estate(svc, "citrix-finance")
    m = Mirror(svc, svc.create_token("hook", "citrix"))
    two = names[:2]
    first = m.invoke("GET", "/v1/desktops/" + q(two[0]))  # line 134
    expect_status(first, 200)
    kms_host = first.json["kms_host"]
    # -WhatIf: a dry run.
    gate, _ = m.gate(kms_host, {"desktops": two}, True, 60, None)
    expect(gate.json["decision"] == "go" and decisions(svc) == 0, gate)
    key = "citrix-remove/digest/" + time.strftime("%Y-%m-%d", time.gmtime())
    gate, plan = m.gate(kms_host, {"desktops": two}, False, 60, key)
    expect(gate.status == 201 and plan.json["state"] == "reserved", gate)
    # Removing the second machine failed after the first left the broker (line 202).
    m.undo(gate.json["plan_id"], two[:1])
    expect(states(svc)[two[0]] == "decommissioned" and states(svc)[two[1]] == "active")
    # Asked afresh (a new key): the remaining machine goes and is committed (line 207).
    gate, plan = m.gate(kms_host, {"desktops": two[1:]}, False, 60, key + "/2")
    expect_status(m.complete(gate.json["plan_id"], two[1:]), 200)
    expect(states(svc)[two[1]] == "decommissioned")


def csv_rows(rows):
    """ConvertTo-Csv -NoTypeInformation of (TimeCreated, Message), joined with CRLF."""
    out = ['"TimeCreated","Message"']
    for at, message in rows:
        out.append('"%s","%s"' % (at, message.replace('"', '""')))
    return "\r\n".join(out).encode("utf-8")


def message(client, cmid, when):
    return ("An activation request has been processed.\r\nInfo:\r\n0x0, 25, %s, %s, %s, 1, 1, "
            "259200, 4de7cb65-cdf1-4de9-8ae8-e3cce27b9f2c"
            % (client, cmid, time.strftime("%Y/%m/%d %H:%M", time.gmtime(when))))


def test_kms_export_task_mirror(svc):
    lines("kms-export-task.ps1", {
        73: "Invoke-KmsgateRetry 'POST' $activations", 97: "Send-Rows $pending",
        121: "Send-Rows $rows",
        139: "Invoke-KmsgateRetry 'GET' \"/v1/kms-servers/$([uri]::EscapeDataString($Server))\"",
        147: "Invoke-KmsgateRetry 'POST' \"/v1/kms-hosts/$([uri]::EscapeDataString($kmsHost))/observations\""})
    c = svc.client()
    create_host(c)
    m = Mirror(svc, svc.create_token("hook", "export"))
    path = "/v1/kms-servers/kms01.corp.example/activations"
    t = now_s() - 3600
    at = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(t))
    good = [(at, message("vdi-%d.corp.example" % i, "6a1f2c7e-0b4d-4f0e-9a55-2b7d3c1e9f1%d" % i, t))
            for i in range(3)]
    bad = (at, message("vdi-9.corp.example", "not-a-cmid", t))
    # A batch with one record kmsgate rejects (line 121 -> 73): its index names it.
    r = m.invoke("POST", path, raw=csv_rows(good + [bad]), content_type="text/csv; charset=utf-8")
    expect_status(r, 200)
    expect(r.json["accepted"] == 3 and [x["index"] for x in r.json["rejected"]] == [3], r.json)
    # The next run sends the kept record first (line 97 -> 73): still rejected,
    # so it stays kept (the old task had moved past it for good).
    r = m.invoke("POST", path, raw=csv_rows([bad]), content_type="text/csv; charset=utf-8")
    expect([x["index"] for x in r.json["rejected"]] == [0] and r.json["accepted"] == 0, r.json)
    # Re-sending the good ones (the overlap window) stores nothing new.
    r = m.invoke("POST", path, raw=csv_rows(good), content_type="text/csv; charset=utf-8")
    expect(r.json["duplicates"] == 3 and r.json["accepted"] == 0, r.json)
    server = m.invoke("GET", "/v1/kms-servers/kms01.corp.example")  # line 139
    expect_status(server, 200)
    host = [h["name"] for h in server.json["hosts"] if h["family"] == "windows"][0]
    r = m.invoke("POST", "/v1/kms-hosts/%s/observations" % q(host), {"count": 3})  # line 147
    expect(r.status in (200, 201), r)
