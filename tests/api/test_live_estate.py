"""Gates while the estate changes: one replica gates continuously (several
threads at once, so that loads of the same estate overlap) while another
registers desktops and uploads events. Every gate answer must be the answer
a fresh evaluation (a replica that reads every estate in full) gives at a
database state that was current at some moment while the gate ran, and never
one from before the gate started."""
import threading
import time

from estate import DAY, cmid_for, event, ingest, now_s, put_desktop
from harness import Client, Service, expect, expect_status, no_service
from test_estate_refresh import metric
from test_gate import steady_estate

HOST = "kms01.corp.example"
WRITES = 16
GATERS = 3
# What the estate decides; times are left out, as they move with the second
# an evaluation runs in.
COUNTS = ("decision", "floor", "current_count", "renewing", "lapsing", "unseen",
          "reserved_plans", "baseline_min", "projected_min", "max_decommission")


def version(svc):
    return int(svc.sql("SELECT estate_version FROM kms_hosts WHERE name = '%s'" % HOST)[0][0])


def model_fields(doc):
    fields = {k: doc[k] for k in COUNTS}
    fields["breach"] = doc["first_breach_at"] is not None
    fields["step_counts"] = [s["count"] for s in doc["steps"]]
    return fields


def write(c, k, last):
    """Write k: a new desktop (even k) or an upload that links the last one."""
    name = "live-%03d.corp.example" % (k // 2)
    if k % 2 == 0:
        put_desktop(c, name, "p1")
    else:
        ingest(c, [event(name, cmid_for(name), last - 7 * DAY), event(name, cmid_for(name), last)])


def writer(a, checker, svc, plan, states, failures):
    """Writes, and after each write asks the checker replica (which has never
    seen that version, so it loads it fresh) for a dry run of the plan."""
    try:
        last = now_s() - DAY
        for k in range(WRITES + 1):
            if k > 0:
                write(a, k - 1, last)
            v = version(svc)
            r = checker.post("/v1/gate", dict(plan, dry_run=True))
            expect_status(r, 200)
            expect(version(svc) == v, "only the writer changes the estate")
            states.append((v, model_fields(r.json)))
            time.sleep(0.05)
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        failures.append("writer: %r" % e)


def gater(b, svc, plan, stop, answers, failures):
    try:
        while not stop.is_set():
            before = version(svc)
            r = b.post("/v1/gate", plan)
            after = version(svc)
            expect_status(r, 200)
            answers.append((before, after, r.json))
    except Exception as e:  # noqa: BLE001
        failures.append("gater: %r" % e)


def candidates(states, before, after):
    """Answers of the states current at some moment between before and after."""
    out = []
    for i, (v, fields) in enumerate(states):
        next_v = states[i + 1][0] if i + 1 < len(states) else None
        if v <= after and (next_v is None or next_v > before):
            out.append(fields)
    return out


@no_service
def test_gates_agree_with_fresh_evaluations_while_another_replica_writes():
    first = Service().start()
    second = Service(database=first.database, migrate=False).start()
    # The checker reads every estate in full; the gating replica refreshes.
    third = Service(database=first.database, migrate=False,
                    extra_env={"KMSGATE_ESTATE_REFRESH": "off"}).start()
    try:
        a = first.client()
        b = Client(second.port, first.admin_token)
        checker = Client(third.port, first.admin_token)
        names, _ = steady_estate(a)
        plan = {"kms_host": HOST, "decommission": {"desktops": names[:4]}}
        states, answers, failures = [], [], []
        stop = threading.Event()
        gaters = [threading.Thread(target=gater, args=(b, first, plan, stop, answers, failures))
                  for _ in range(GATERS)]
        for t in gaters:
            t.start()
        writer(a, checker, first, plan, states, failures)
        stop.set()
        for t in gaters:
            t.join(60)
        expect(not failures, failures)
        expect(len(answers) >= 3 * WRITES, "too few gates to mean anything: %d" % len(answers))
        distinct = {repr(sorted(f.items())) for _, f in states}
        expect(len(distinct) >= WRITES // 2, "the writes should change the answers: %d" % len(distinct))
        for before, after, doc in answers:
            ok = candidates(states, before, after)
            expect(ok, "no state recorded for versions %d..%d" % (before, after))
            expect(model_fields(doc) in ok,
                   "gate at versions %d..%d answered %r; fresh evaluations then: %r"
                   % (before, after, model_fields(doc), ok))
        expect(metric(second.port, "refresh") > 0, "the gating replica should refresh")
        expect(metric(third.port, "refresh") == 0, "the checker reads in full")
        rows = first.sql("SELECT count(*) FROM decisions WHERE kms_host = '%s'" % HOST)
        expect(int(rows[0][0]) == len(answers), (rows, len(answers)))
    finally:
        for s in (third, second, first):
            expect(s.stop() == 0)
        first.drop()
