"""A cached estate refreshed by the rows written since its version answers
exactly as one read in full. Two replicas share a database: one refreshes
(the default), the other reads every estate in full after each write
(KMSGATE_ESTATE_REFRESH=off). After every write of a random sequence over two
hosts of one family (desktops registered, moved between states, events that
link them, clones sharing a CMID, requests from names registered later,
desktops powered off and on by their platform, the same CMID renewing on
the other host, reservations), both answer the host
documents, forecasts and gates; the answers must be equal."""
import random
import time

from estate import DAY, cmid_for, create_host, create_pool, event, ingest, now_s, put_desktop
from harness import Client, Service, expect, expect_status, no_service

HOSTS = ("kms-a.corp.example", "kms-b.corp.example")
STEPS = 80
# Per request, not per estate.
VOLATILE = {"request_id", "decision_id", "evaluated_at", "id", "plan_id", "expires_at"}


def strip(doc):
    if isinstance(doc, dict):
        return {k: strip(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [strip(v) for v in doc]
    return doc


def metric(port, kind):
    text = Client(port).get("/metrics").body.decode()
    line = 'kmsgate_estate_loads_total{kind="%s"} ' % kind
    for row in text.splitlines():
        if row.startswith(line):
            return int(row[len(line):])
    raise AssertionError("no %s in /metrics" % line)


class Estate:
    """The random writer: what exists, so that writes are valid."""

    def __init__(self, c, rng):
        self.c, self.rng = c, rng
        self.desktops = []           # (name, pool)
        self.decommissioned = set()
        self.unregistered = []       # names seen in events, not registered yet
        self.k = 0
        self.last = now_s() - DAY

    def name(self):
        self.k += 1
        return "vdi-%03d.corp.example" % self.k

    def register(self):
        rng = self.rng
        if self.unregistered and rng.random() < 0.5:
            name = self.unregistered.pop(rng.randrange(len(self.unregistered)))
        else:
            name = self.name()
        pool = rng.choice(("pa", "pb", "pd"))
        put_desktop(self.c, name, pool)
        self.desktops.append((name, pool))

    def upload(self):
        rng = self.rng
        host = rng.choice(HOSTS)
        events = []
        for _ in range(rng.randint(1, 4)):
            at = self.last - rng.randint(0, 40) * DAY // 2
            roll = rng.random()
            if roll < 0.15:
                name = self.name()             # a name registered later (rule (b))
                self.unregistered.append(name)
                events.append(event(name, cmid_for(name), at))
            elif roll < 0.3 and self.desktops:
                name = rng.choice(self.desktops)[0]
                events.append(event(name, cmid_for("image"), at))   # a clone of one image
            elif self.desktops:
                name = rng.choice(self.desktops)[0]
                events.append(event(name, cmid_for(name), at))
        if events:
            ingest(self.c, events, host)

    def change_state(self):
        if not self.desktops:
            return
        name, pool = self.rng.choice(self.desktops)
        state = self.rng.choice(("active", "powered_off", "decommissioned"))
        # the platform's power report too: "off" stops its renewals (migration 0016)
        power = self.rng.choice(("on", "off", "unknown"))
        put_desktop(self.c, name, pool, state=state, power_state=power)
        if state == "decommissioned":
            self.decommissioned.add(name)
        else:
            self.decommissioned.discard(name)

    def reserve(self):
        active = [n for n, p in self.desktops if p == "pa" and n not in self.decommissioned]
        if active:
            self.c.post("/v1/gate", {"kms_host": HOSTS[0], "reserve": True,
                                     "decommission": {"desktops": active[:1]}})

    def step(self):
        roll = self.rng.random()
        if roll < 0.35:
            self.register()
        elif roll < 0.8:
            self.upload()
        elif roll < 0.95:
            self.change_state()
        else:
            self.reserve()


def difference(mine, theirs, path="answers"):
    """Where two answers first differ, for the failure message."""
    if isinstance(mine, dict) and isinstance(theirs, dict) and mine.keys() == theirs.keys():
        for k in mine:
            if mine[k] != theirs[k]:
                return difference(mine[k], theirs[k], "%s.%s" % (path, k))
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for i, (x, y) in enumerate(zip(mine, theirs)):
            if x != y:
                return difference(x, y, "%s[%d]" % (path, i))
    return "%s: refreshed %r, read in full %r" % (path, mine, theirs)


def answers(c, estate):
    """What a replica says about both hosts, and a dry-run gate."""
    out = []
    for host in HOSTS:
        out.append(c.get("/v1/kms-hosts/" + host))
        out.append(c.get("/v1/kms-hosts/%s/forecast" % host))
    # desktops registered on the first host (pools pa and pd live there)
    names = [n for n, p in estate.desktops
             if p != "pb" and n not in estate.decommissioned][:6]
    if names:
        out.append(c.post("/v1/gate", {"decommission": {"desktops": names}, "dry_run": True}))
    for r in out:
        expect_status(r, 200)
    return [strip(r.json) for r in out]


def same_second_answers(a, b, estate):
    """Both replicas' answers, evaluated within one second (times move with it)."""
    for _ in range(5):
        start = int(time.time())
        first, second = answers(a, estate), answers(b, estate)
        if int(time.time()) == start:
            return first, second
    raise AssertionError("could not evaluate both within one second")


@no_service
def test_a_refreshed_estate_answers_as_one_read_in_full():
    full = Service(extra_env={"KMSGATE_ESTATE_REFRESH": "off"}).start()
    refreshing = Service(database=full.database, migrate=False).start()
    try:
        a = Client(refreshing.port, full.admin_token)
        b = full.client()
        for host in HOSTS:
            create_host(a, host)
        create_pool(a, "pa", HOSTS[0])
        create_pool(a, "pb", HOSTS[1])
        expect_status(a.post("/v1/pools", {"name": "pd", "platform": "horizon",
                                           "kms_hosts": [{"name": HOSTS[0]},
                                                         {"name": HOSTS[1], "weight": 2}]}), 201)
        estate = Estate(a, random.Random(20261201))
        for _ in range(8):
            estate.register()
        for step in range(STEPS):
            estate.step()
            # Asked again when they differ: the service's clock (time(), a
            # coarse clock) can turn the second a little apart from ours, and
            # then evaluation times differ; a wrong refresh differs every time.
            for _ in range(3):
                mine, theirs = same_second_answers(a, b, estate)
                if mine == theirs:
                    break
            expect(mine == theirs, "step %d: %s" % (step, difference(mine, theirs)))
        refreshes = metric(refreshing.port, "refresh")
        expect(refreshes >= STEPS // 2, "the replica should mostly refresh: %d" % refreshes)
        expect(metric(full.port, "refresh") == 0, "KMSGATE_ESTATE_REFRESH=off never refreshes")
    finally:
        for s in (refreshing, full):
            expect(s.stop() == 0)
        full.drop()


@no_service
def test_an_estate_behind_the_kept_log_is_read_in_full():
    """The log keeps 256 versions per host (migration 0015): a replica that
    has not read the host for 300 writes reads it in full, and answers as
    one that read it in full all along."""
    full = Service(extra_env={"KMSGATE_ESTATE_REFRESH": "off"}).start()
    refreshing = Service(database=full.database, migrate=False).start()
    try:
        a = Client(refreshing.port, full.admin_token)
        create_host(a, HOSTS[0])
        create_pool(a, "pa", HOSTS[0])
        doc = "/v1/kms-hosts/%s/forecast" % HOSTS[0]
        expect_status(a.get(doc), 200)
        loads = metric(refreshing.port, "full")
        for k in range(300):
            put_desktop(full.client(), "far-%03d.corp.example" % k, "pa")
        kept = full.sql("SELECT count(*) FROM estate_changes")[0][0]
        expect(int(kept) == 256, "the log keeps 256 versions: %s" % kept)
        mine, theirs = a.get(doc), full.client().get(doc)
        expect(strip(mine.json)["unseen"] == strip(theirs.json)["unseen"] == 300,
               (mine.json, theirs.json))
        expect(metric(refreshing.port, "full") == loads + 1, "read in full")
        expect(metric(refreshing.port, "refresh") == 0, "no refresh from 300 versions behind")
    finally:
        for s in (refreshing, full):
            expect(s.stop() == 0)
        full.drop()
