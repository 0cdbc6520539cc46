"""Real estates I (docs/model.md §5 and §7): one KMS server's log feeds
one count per licensing application, routed by the activation ID; admin
mappings for unknown IDs; client names matched as FQDN or NetBIOS; a host
created after the upload; retention that changes no answer."""
import os
import random
import subprocess

from estate import DAY, cmid_for, create_host, create_pool, event, iso, now_s, put_desktop
from harness import DATA_DIR, expect, expect_problem, expect_status, q

WINDOWS_ENTERPRISE = "73111121-5638-40f6-bc11-f1d7b0d64300"
OFFICE_LTSC_2021 = "fbdb3e18-a8ef-4fb3-9183-dffd60bd0984"
OFFICE_2010_PRO = "6f327760-8c5c-417c-9b61-836a98287e0c"
UNKNOWN_ID = "0badc0de-0000-4000-8000-000000000001"


def with_id(ev, activation_id):
    if activation_id is not None:
        ev["activation_id"] = activation_id
    return ev


def renewing(client, cmid, last, activation_id, required=25):
    """Two requests 7 days apart ending at last."""
    return [with_id(event(client, cmid, last - k * 7 * DAY, required_count=required), activation_id)
            for k in range(2)]


def upload_server(c, server, events):
    r = c.post("/v1/kms-servers/%s/activations" % q(server), events)
    expect_status(r, 200)
    return r.json


def upload_host(c, host, events):
    r = c.post("/v1/kms-hosts/%s/activations" % q(host), events)
    expect_status(r, 200)
    return r.json


def count_of(c, host):
    r = c.get("/v1/kms-hosts/%s" % q(host))
    expect_status(r, 200)
    return r.json["current_count"]


def example5_log(now):
    events = []
    for i in range(24):
        name = "vdi-%03d.corp.example" % i
        events += renewing(name, cmid_for(name), now - DAY, WINDOWS_ENTERPRISE)
    for i in range(6):
        name = "pc-%03d.corp.example" % i
        events += renewing(name, cmid_for("office-" + name), now - DAY, OFFICE_LTSC_2021, 5)
    return events


def test_example5_mixed_log_feeds_two_counts(svc):
    c = svc.client()
    create_host(c, "kms01.corp.example")
    create_host(c, "kms01-office", family="office", server="kms01.corp.example")
    create_pool(c, "p1")
    for i in range(24):
        put_desktop(c, "vdi-%03d.corp.example" % i, "p1")
    doc = upload_server(c, "KMS01.corp.example", example5_log(now_s()))
    expect(doc["accepted"] == 60 and doc["by_family"] == {"windows": 48, "office": 12}, doc)
    expect(doc["unmapped"] == 0 and doc["desktops_linked"] == 24, doc)
    expect(count_of(c, "kms01.corp.example") == 24, "windows counts 24, not 30")
    expect(count_of(c, "kms01-office") == 6, "office counts its 6")
    r = c.post("/v1/gate", {"kms_host": "kms01.corp.example"})
    expect(r.json["decision"] == "no-go" and r.json["current_count"] == 24, r.json)
    r = c.post("/v1/gate", {"kms_host": "kms01-office"})
    expect(r.json["decision"] == "go" and r.json["floor"] == 5, r.json)
    r = c.get("/v1/kms-servers/kms01.corp.example")
    expect_status(r, 200)
    expect(r.json["requests_by_family"] == {"windows": 48, "office2010": 0, "office": 12}, r.json)
    expect(sorted(h["family"] for h in r.json["hosts"]) == ["office", "windows"], r.json)
    r = c.get("/v1/kms-servers")
    expect([s["server"] for s in r.json["items"]] == ["kms01.corp.example"], r.json)


def test_per_host_upload_routes_the_same_way(svc):
    c = svc.client()
    create_host(c, "kms01.corp.example")
    create_host(c, "kms01-office", family="office", server="kms01.corp.example")
    doc = upload_host(c, "kms01.corp.example", example5_log(now_s()))
    expect(doc["by_family"] == {"windows": 48, "office": 12}, doc)
    expect(count_of(c, "kms01.corp.example") == 24, "per-host path routes office away")
    expect(count_of(c, "kms01-office") == 6, "office counts its 6")
    # events without an activation ID count on the host they were uploaded to
    now = now_s()
    doc = upload_host(c, "kms01-office", renewing("pc-x.corp.example", cmid_for("x"), now, None, 5))
    expect(doc["by_family"] == {"office": 2}, doc)
    expect(count_of(c, "kms01-office") == 7, "no ID: the upload's host")
    doc = upload_server(c, "kms01.corp.example", renewing("pc-y.corp.example", cmid_for("y"), now, None))
    expect(doc["by_family"] == {"windows": 2}, doc)
    expect(count_of(c, "kms01.corp.example") == 25, "no ID through the server path: windows")


def test_a_host_created_later_counts_stored_events(svc):
    c = svc.client()
    create_host(c, "kms01.corp.example")
    upload_server(c, "kms01.corp.example", example5_log(now_s()))
    r = c.get("/v1/kms-servers/kms01.corp.example")
    expect(r.json["requests_by_family"]["office"] == 12, r.json)
    create_host(c, "kms01-office", family="office", server="kms01.corp.example")
    expect(count_of(c, "kms01-office") == 6, "the new host counts what is stored")
    r = c.post("/v1/kms-hosts", {"name": "kms01-office-2", "family": "office",
                                 "server": "kms01.corp.example"})
    expect_problem(r, 409)
    create_host(c, "kms01-o2010", family="office2010", server="kms01.corp.example")
    expect(count_of(c, "kms01-o2010") == 0, "no Office 2010 requests")
    expect_problem(c.post("/v1/kms-servers/nobody.corp.example/activations", []), 404)


def test_unknown_activation_ids_count_nowhere_until_mapped(svc):
    c = svc.client()
    create_host(c, "kms01.corp.example")
    create_host(c, "kms01-office", family="office", server="kms01.corp.example")
    now = now_s()
    events = []
    for i in range(7):
        name = "pc-%d.corp.example" % i
        events += renewing(name, cmid_for(name), now - DAY, UNKNOWN_ID, 5)
    doc = upload_server(c, "kms01.corp.example", events)
    expect(doc["unmapped"] == 14 and doc["by_family"] == {}, doc)
    expect(count_of(c, "kms01.corp.example") == 0 and count_of(c, "kms01-office") == 0, "nowhere")
    r = c.get("/v1/kms-hosts/kms01-office")
    expect(r.json["unmapped_activation_ids"][0]["activation_id"] == UNKNOWN_ID, r.json)
    expect(r.json["unmapped_activation_ids"][0]["requests"] == 14, r.json)
    r = c.get("/v1/kms-servers/kms01.corp.example")
    expect(r.json["unmapped_requests"] == 14, r.json)
    r = c.get("/metrics")
    expect('kmsgate_kms_server_unmapped_requests{server="kms01.corp.example"} 14\n'
           in r.body.decode(), "the scrape reports unmapped requests")
    r = c.put("/v1/activation-ids/" + UNKNOWN_ID.upper(), {"application": "office",
                                                            "description": "a new SKU"})
    expect_status(r, 201)
    expect(r.json["builtin"] is False and r.json["application"] == "office", r.json)
    expect(count_of(c, "kms01-office") == 7, "a new mapping counts stored requests at once")
    r = c.get("/v1/kms-servers/kms01.corp.example")
    expect(r.json["unmapped_requests"] == 0 and r.json["requests_by_family"]["office"] == 14,
           r.json)
    expect_status(c.put("/v1/activation-ids/" + UNKNOWN_ID, {"application": "windows"}), 200)
    expect(count_of(c, "kms01-office") == 0 and count_of(c, "kms01.corp.example") == 7, "moved")
    expect_status(c.delete("/v1/activation-ids/" + UNKNOWN_ID), 204)
    expect(count_of(c, "kms01.corp.example") == 0, "unmapped again")
    expect_problem(c.delete("/v1/activation-ids/" + UNKNOWN_ID), 404)
    expect_problem(c.put("/v1/activation-ids/" + WINDOWS_ENTERPRISE, {"application": "office"}),
                   409)
    expect_problem(c.delete("/v1/activation-ids/" + WINDOWS_ENTERPRISE), 409)
    expect_problem(c.put("/v1/activation-ids/" + UNKNOWN_ID, {"application": "excel"}), 422,
                   "application")
    reader = c.with_token(svc.create_token("reader", "r"))
    expect_problem(reader.put("/v1/activation-ids/" + UNKNOWN_ID, {"application": "office"}), 403)


def shared_table():
    """The shared reference file when it is beside the clone, else the repo's copy."""
    shared = os.path.join(DATA_DIR, "..", "shared", "data", "kms-activation-ids.tsv")
    ours = os.path.join(DATA_DIR, "data", "kms-activation-ids.tsv")
    path = shared if os.path.exists(shared) else ours
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    with open(ours, encoding="utf-8") as f:
        expect(f.read().splitlines()[1:] == ["\t".join(r) for r in rows],
               "data/kms-activation-ids.tsv differs from the shared file")
    return rows


def test_every_known_activation_id_ships_with_the_service(svc):
    c = svc.client()
    rows = shared_table()
    expect(len(rows) == 257, "257 rows")
    known, cursor = {}, None
    while True:
        r = c.get("/v1/activation-ids?limit=100" + ("&cursor=" + q(cursor) if cursor else ""))
        expect_status(r, 200)
        for item in r.json["items"]:
            known[item["activation_id"]] = item
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    for activation_id, application, _, group, n_policy, sku in rows:
        item = known.get(activation_id)
        expect(item is not None, "%s (%s) is not known" % (activation_id, sku))
        expect(item["application"] == application and item["builtin"], item)
        expect(item["n_policy"] == int(n_policy) and item["product_group"] == group, item)
    r = c.get("/v1/activation-ids?application=office2010&limit=1000")
    expect(len(r.json["items"]) == 19, len(r.json["items"]))
    expect_problem(c.get("/v1/activation-ids?application=excel"), 422, "application")


def test_client_names_match_fqdn_and_netbios(svc):
    c = svc.client()
    create_host(c, "kms01.corp.example")
    create_pool(c, "p1")
    for name in ("vdi-001.corp.example", "vdi-002", "vdi-003.site-a.example",
                 "vdi-003.site-b.example"):
        put_desktop(c, name, "p1")
    now = now_s()
    doc = upload_host(c, "kms01.corp.example", [
        with_id(event("VDI-001", cmid_for("1"), now - DAY), WINDOWS_ENTERPRISE),
        with_id(event("vdi-002.corp.example", cmid_for("2"), now - DAY), WINDOWS_ENTERPRISE),
        with_id(event("VDI-003", cmid_for("3"), now - DAY), WINDOWS_ENTERPRISE)])
    expect(doc["desktops_linked"] == 2 and doc["ambiguous_clients"] == ["vdi-003"], doc)
    expect(c.get("/v1/desktops/vdi-001.corp.example").json["cmid"] == cmid_for("1"), "netbios")
    expect(c.get("/v1/desktops/vdi-002").json["cmid"] == cmid_for("2"), "fqdn to short")
    for name in ("vdi-003.site-a.example", "vdi-003.site-b.example"):
        d = c.get("/v1/desktops/" + name).json
        expect(d["cmid"] is None and d["name_ambiguous"], "ambiguous links nothing: %r" % d)
    expect(not c.get("/v1/desktops/vdi-002").json["name_ambiguous"], "one desktop per label")


def prune(svc):
    out = subprocess.run([os.environ["KG_BIN"], "prune"], env=dict(svc.env(),
                         KMSGATE_RETENTION_DAYS="35"), capture_output=True, text=True, timeout=60)
    expect(out.returncode == 0, out.stderr)
    return int(out.stdout.strip())


# Fields that say when the question was asked, not what the answer is.
ASKED_AT = ("evaluated_at", "window_start", "window_end", "min_at", "baseline_min_at",
            "forecast_min_at", "updated_at", "last_observation", "decision_id")


def answers(c, names):
    forecast = c.get("/v1/kms-hosts/kms01.corp.example/forecast?horizon_days=60").json
    host = c.get("/v1/kms-hosts/kms01.corp.example").json
    gate = c.post("/v1/gate", {"kms_host": "kms01.corp.example",
                               "decommission": {"desktops": names[:3]}}).json
    for doc in (forecast, host, gate):
        for key in ASKED_AT:
            doc.pop(key, None)
        for part in [doc] + doc.get("hosts", []):
            if "steps" in part:
                part["steps"] = part["steps"][1:]     # the first step is at now
    return forecast, host, gate


def test_retention_prunes_raw_requests_without_changing_answers(svc):
    c = svc.client()
    create_host(c, "kms01.corp.example")
    create_pool(c, "p1")
    now = now_s()
    names = ["vdi-%02d.corp.example" % i for i in range(27)]
    events = []
    for i, name in enumerate(names):
        put_desktop(c, name, "p1")
        events += [with_id(event(name, cmid_for(name), now - k * 7 * DAY - i), WINDOWS_ENTERPRISE)
                   for k in range(20)]
    events += [with_id(event("old-pc", cmid_for("old"), now - 50 * DAY - k * 7 * DAY), None)
               for k in range(3)]
    upload_host(c, "kms01.corp.example", events)
    before = answers(c, names)
    stored = svc.sql("SELECT count(*) FROM activation_requests")[0][0]
    deleted = prune(svc)
    expect(deleted > 0, "old requests pruned")
    left = svc.sql("SELECT count(*), min(requested_at) > now() - interval '35 days'"
                   " FROM activation_requests")
    expect(int(left[0][0]) == int(stored) - deleted and left[0][1] == "t", left)
    after = answers(c, names)
    expect(before == after, "answers changed:\n%r\n%r" % (before, after))
    expect(prune(svc) == 0, "nothing left to prune")
    r = c.post("/v1/kms-hosts/kms01.corp.example/observations", {"count": 27, "at": iso(now)})
    expect(r.json["modelled"] == 27, r.json)


def random_log(rng, now, n):
    """A mixed log: windows, office, office2010, unmapped IDs and events with no ID."""
    ids = [WINDOWS_ENTERPRISE, OFFICE_LTSC_2021, OFFICE_2010_PRO, UNKNOWN_ID, None]
    events = []
    for i in range(n):
        kind = rng.randrange(len(ids))
        name = "pc-%d-%d.corp.example" % (kind, i)
        cmid = cmid_for("%s-%d-%d" % (name, rng.random(), i))
        for k in range(rng.randrange(1, 4)):
            at = now - rng.randrange(0, 40 * DAY) - k * 7 * DAY
            events.append(with_id(event(name, cmid, at, required_count=25 if kind == 0 else 5),
                                  ids[kind]))
    return events


def same_second_forecasts(c, host_a, host_b):
    """Both forecasts at one evaluation time (answers at now move with the clock)."""
    for _ in range(20):
        a = c.get("/v1/kms-hosts/%s/forecast" % host_a).json
        b = c.get("/v1/kms-hosts/%s/forecast" % host_b).json
        if a["evaluated_at"] == b["evaluated_at"]:
            break
    return a, b


def test_mixed_log_equals_uploads_one_family_at_a_time(svc):
    """Through the server path, each host counts and forecasts exactly what it
    does when the same events go to it one family at a time."""
    c = svc.client()
    rng = random.Random(12290)
    now = now_s()
    families = [("windows", WINDOWS_ENTERPRISE), ("office", OFFICE_LTSC_2021),
                ("office2010", OFFICE_2010_PRO)]
    for round_no in range(6):
        mixed, split = "mixed-%d.example" % round_no, "split-%d.example" % round_no
        for server in (mixed, split):
            for family, _ in families:
                create_host(c, "%s-%s" % (family, server), family=family, server=server)
        events = random_log(rng, now, rng.randrange(20, 60))
        upload_server(c, mixed, events)
        for family, activation_id in families:
            part = [e for e in events if e.get("activation_id") == activation_id
                    or (family == "windows" and "activation_id" not in e)]
            upload_host(c, "%s-%s" % (family, split), part)
        for family, _ in families:
            a, b = same_second_forecasts(c, "%s-%s" % (family, mixed), "%s-%s" % (family, split))
            for key in ("current_count", "min", "min_at", "first_breach_at", "steps"):
                expect(a[key] == b[key], "%s %s: %r != %r" % (family, key, a[key], b[key]))
