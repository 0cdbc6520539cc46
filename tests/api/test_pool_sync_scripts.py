"""The pool sync scripts against the real service's PUT /v1/pools/{name}/desktops:
the Aria sync (contrib/aria/kmsgate_aria_sync.py) run for real on machines
shaped as the Aria IaaS API lists them (GET /iaas/api/machines: content[] of
{id, name, powerState, customProperties, tags[{key, value}]}), and the
Horizon and Citrix sync scripts (PowerShell, not runnable here) mirrored call
for call as in test_contrib_mirrors.py: the platform's list in, with its
power states mapped as the script maps them, one PUT per pool out.
Covered: the difference (added, decommissioned, unchanged), the dry run
(-WhatIf / --dry-run), an idempotent re-send, the guard against a list that
drops more than half of a pool (-Force / --force), a pool the platform lists
empty (never sent), and a powered-off machine crediting no renewals."""
import importlib.util
import io
import os

from estate import create_pool, headroom_two
from harness import DATA_DIR, expect, expect_status
from test_contrib_mirrors import COMMON, Mirror, lines

_spec = importlib.util.spec_from_file_location(
    "kmsgate_aria_sync", os.path.join(DATA_DIR, "contrib", "aria", "kmsgate_aria_sync.py"))
aria_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aria_sync)


def estate(svc, pool):
    return headroom_two(svc, pool)


def states(svc):
    return dict(svc.sql("SELECT hostname, state FROM desktops ORDER BY hostname"))


def power_off_cuts_the_forecast(svc, host="kms01.corp.example"):
    """The host's forecast minimum, to compare before and after a machine is reported off."""
    r = svc.client().get("/v1/kms-hosts/%s/forecast?horizon_days=45" % host)
    expect_status(r, 200)
    return r.json["min"]


# horizon-pool-sync.ps1: the machine list becomes {hostname, power_state, platform_id}
# (ConvertTo-PowerState: POWERED_ON on; POWERED_OFF, SUSPENDED off), one Sync-Pool per pool.
HORIZON_LINES = {
    114: "ConvertTo-PowerState \"$($_.managed_machine_data.virtual_machine_power_state)\" @('POWERED_ON') @('POWERED_OFF', 'SUSPENDED')",
    116: "Sync-Pool $kmsgateName $desktops $dryRun ([bool]$Force)",
}
HORIZON_POWER = {"POWERED_ON": "on", "POWERED_OFF": "off", "SUSPENDED": "off"}


def horizon_machine(name, power, state="AVAILABLE"):
    """A machine as GET /rest/inventory/v1/machines lists it (the fields the script reads)."""
    return {"id": "m-" + name, "name": name.split(".")[0], "dns_name": name.upper(), "state": state,
            "desktop_pool_id": "pool-1",
            "managed_machine_data": {"virtual_machine_power_state": power}}


def horizon_desktops(machines):
    """What lines 112-115 make of Horizon's list."""
    return [{"hostname": m["dns_name"].lower(),
             "power_state": HORIZON_POWER.get(m["managed_machine_data"]["virtual_machine_power_state"],
                                              "unknown"),
             "platform_id": m["id"]}
            for m in machines if m["dns_name"] and m["state"] != "DELETING"]


def test_horizon_pool_sync_mirror(svc):
    lines("kmsgate-common.ps1", COMMON)
    lines("horizon-pool-sync.ps1", HORIZON_LINES)
    names = estate(svc, "finance")
    m = Mirror(svc, svc.create_token("hook", "horizon-sync"))
    # Horizon re-created two instant clones under new names, lost one, and a
    # power policy has one machine off; another is being deleted.
    listed = [horizon_machine(n, "POWERED_ON") for n in names[1:]]
    listed[0]["managed_machine_data"]["virtual_machine_power_state"] = "POWERED_OFF"
    listed += [horizon_machine("vdi-new-1.corp.example", "POWERED_ON"),
               horizon_machine("vdi-new-2.corp.example", "SUSPENDED"),
               horizon_machine("vdi-gone.corp.example", "POWERED_ON", state="DELETING")]
    desktops = horizon_desktops(listed)
    before = states(svc)
    # -WhatIf: the difference, nothing changed.
    r = m.sync("finance", desktops, dry_run=True)
    expect_status(r, 200)
    expect(sorted(r.json["added"]) == ["vdi-new-1.corp.example", "vdi-new-2.corp.example"], r.json)
    expect(r.json["decommissioned"] == [names[0]] and r.json["unchanged"] == 26, r.json)
    expect(r.json["dry_run"] is True and states(svc) == before, r.json)
    # The run, then the same list again: nothing more changes.
    r = m.sync("finance", desktops)
    expect(r.status == 200 and r.json["dry_run"] is False and len(r.json["added"]) == 2, r)
    expect(states(svc)[names[0]] == "decommissioned" and "vdi-gone.corp.example" not in states(svc))
    r = m.sync("finance", desktops)
    expect(r.json["added"] == [] and r.json["decommissioned"] == [] and r.json["unchanged"] == 28,
           r.json)
    off = m.c.get("/v1/desktops/" + names[1]).json
    expect(off.get("power_state") == "off", off)
    # A truncated list (Horizon answered a page and failed): refused without -Force.
    r = m.sync("finance", desktops[:10])
    expect(r.status == 409, r)
    expect(states(svc)[names[5]] == "active")
    r = m.sync("finance", desktops[:10], force=True)
    expect(r.status == 200 and len(r.json["decommissioned"]) == 18, r)


# citrix-pool-sync.ps1: PowerState On on; Off, Suspended off; the rest unknown.
CITRIX_LINES = {
    98: "ConvertTo-PowerState \"$($_.PowerState)\" @('On') @('Off', 'Suspended')",
    100: "Sync-Pool $pool $desktops $dryRun ([bool]$Force)",
}
CITRIX_POWER = {"On": "on", "Off": "off", "Suspended": "off"}


def test_citrix_pool_sync_mirror_and_power_state(svc):
    lines("citrix-pool-sync.ps1", CITRIX_LINES)
    names = estate(svc, "Finance Win11")
    m = Mirror(svc, svc.create_token("hook", "citrix-sync"))
    # Get-BrokerMachine -CatalogName 'Finance Win11': DNSName, SID, PowerState.
    broker = [{"DNSName": n, "SID": "S-1-5-21-1-%d" % i, "PowerState": "On"}
              for i, n in enumerate(names)]
    broker[0]["PowerState"] = "Unmanaged"
    desktops = [{"hostname": b["DNSName"].lower(),
                 "power_state": CITRIX_POWER.get(b["PowerState"], "unknown"),
                 "platform_id": b["SID"]} for b in broker]
    r = m.sync("Finance Win11", desktops)
    expect(r.status == 200 and r.json["unchanged"] == 27 and r.json["added"] == [], r)
    baseline = power_off_cuts_the_forecast(svc)
    # A holiday shutdown: five machines reported Off renew nothing until reported On.
    for b in broker[1:6]:
        b["PowerState"] = "Off"
    desktops = [{"hostname": b["DNSName"].lower(),
                 "power_state": CITRIX_POWER.get(b["PowerState"], "unknown"),
                 "platform_id": b["SID"]} for b in broker]
    r = m.sync("Finance Win11", desktops)
    expect(r.status == 200 and r.json["decommissioned"] == [], r)
    expect(power_off_cuts_the_forecast(svc) < baseline)
    for b in broker:
        b["PowerState"] = "On"
    r = m.sync("Finance Win11", [{"hostname": b["DNSName"].lower(), "power_state": "on",
                                  "platform_id": b["SID"]} for b in broker])
    expect(r.status == 200 and power_off_cuts_the_forecast(svc) == baseline, r)


def iaas_machine(name, power, pool=None, tag=None):
    """A machine as GET /iaas/api/machines lists it."""
    doc = {"id": "aria-" + name, "name": name, "powerState": power, "address": "10.0.0.1",
           "deploymentId": "d-1", "projectId": "p-1", "externalId": "vm-" + name,
           "customProperties": {}, "tags": []}
    if pool:
        doc["customProperties"]["kmsgatePool"] = pool
    if tag:
        doc["tags"].append({"key": "kmsgatePool", "value": tag})
    return doc


def test_aria_pool_sync(svc):
    names = estate(svc, "aria-pool")
    c = svc.client()
    create_pool(c, "aria-tagged")
    token = svc.create_token("hook", "aria-sync")
    url = "http://127.0.0.1:%d" % svc.port
    short = [n.split(".")[0] for n in names]
    machines = [iaas_machine(n, "ON", pool="aria-pool") for n in short[1:]]
    machines[0]["powerState"] = "GUEST_OFF"
    machines += [iaas_machine("vdi-x1", "ON", pool="aria-pool"),
                 iaas_machine("vra-7f3a", "OFF", tag="aria-tagged"),
                 iaas_machine("web-1", "ON")]  # no pool: left out
    machines[-2]["hostname"] = "vdi-t1"  # the guest's name, not the machine's
    pools = aria_sync.pools_from(machines, "corp.example")
    expect(sorted(pools) == ["aria-pool", "aria-tagged"], sorted(pools))
    expect(pools["aria-tagged"] == [{"hostname": "vdi-t1.corp.example", "power_state": "off",
                                     "platform_id": "aria-vra-7f3a"}], pools["aria-tagged"])
    out = io.StringIO()
    expect(aria_sync.push(url, token, pools, dry_run=True, out=out) == (0, False), out.getvalue())
    expect("(dry run): 1 added, 1 decommissioned, 26 unchanged" in out.getvalue(), out.getvalue())
    expect(states(svc)[names[0]] == "active")
    out = io.StringIO()
    expect(aria_sync.push(url, token, pools, out=out) == (0, False), out.getvalue())
    expect(states(svc)[names[0]] == "decommissioned" and
           states(svc)["vdi-t1.corp.example"] == "active", states(svc))
    # Re-sent: unchanged. A pool Aria lists empty is not sent.
    out = io.StringIO()
    expect(aria_sync.push(url, token, dict(pools, empty=[]), out=out) == (1, False), out.getvalue())
    expect("aria-pool: 0 added, 0 decommissioned, 27 unchanged" in out.getvalue(), out.getvalue())
    expect("pool empty lists no machine: not sent" in out.getvalue(), out.getvalue())
    # A truncated list is refused without --force, taken with it.
    cut = {"aria-pool": pools["aria-pool"][:5]}
    out = io.StringIO()
    expect(aria_sync.push(url, token, cut, out=out) == (1, False) and "(409)" in out.getvalue(),
           out.getvalue())
    expect(aria_sync.push(url, token, cut, force=True, out=io.StringIO()) == (0, False))
    # kmsgate unreachable: reported as such (exit code 3 in main).
    expect(aria_sync.push("http://127.0.0.1:9", token, cut, out=io.StringIO()) == (1, True))


def test_reader_token_asks_the_what_if(svc):
    """-WhatIf of the Horizon and Citrix scripts is a dry run, which a reader may ask."""
    estate(svc, "finance")
    m = Mirror(svc, svc.create_token("reader", "dashboard"))
    gate, _ = m.gate("kms01.corp.example", {"pool": "finance", "count": 1}, True, 120, None)
    expect(gate.status == 200 and gate.json["decision"] == "go", gate)
    # A reservation still needs a hook token.
    gate, _ = m.gate("kms01.corp.example", {"pool": "finance", "count": 1}, False, 120, "k")
    expect(gate.status == 403, gate)
