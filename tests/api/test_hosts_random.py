"""Random estates of two or three KMS hosts of one product, built through the
API, against a naive re-statement of docs/model.md §3 and §6 written
here from the text: per host, each CMID counts from its requests there; it
renews only on the host of its newest request; decommissioning every active
desktop of a CMID stops its renewals; a gate is go only if every host it
touches keeps its floor. KG_MULTIHOST_ESTATES sets how many estates (40 by
default; the long form runs 1,000)."""
import calendar
import os
import random
import time

from estate import DAY, cmid_for, create_host, create_pool, event, ingest, now_s, put_desktop
from harness import expect, expect_status

E = 30 * DAY
R = 7 * DAY
GRACE = DAY
HORIZON = 45 * DAY
FLOOR = 25
CAPACITY = 50


class World:
    """What the random estate sent: requests per (client, CMID, host)."""

    def __init__(self, rng, tag, now):
        self.now = now
        self.hosts = ["%s-h%d" % (tag, i) for i in range(rng.randrange(2, 4))]
        self.requests = {}                # (cmid, host) -> [times]
        self.client = {}                  # cmid -> client name
        self.desktops = {}                # hostname -> cmid
        for h in self.hosts:
            for i in range(rng.randrange(18, 28)):
                name = "%s-pc-%s-%d.corp.example" % (tag, h, i)
                last = now - rng.randrange(0, 9 * DAY)
                self.add(name, cmid_for(name), h, [last - k * R for k in range(2)])
        for i in range(rng.randrange(4, 14)):
            name = "%s-vdi-%d.corp.example" % (tag, i)
            cmid = cmid_for(name)
            self.desktops[name] = cmid
            for h in rng.sample(self.hosts, rng.randrange(1, len(self.hosts) + 1)):
                last = now - rng.randrange(0, 35 * DAY)
                self.add(name, cmid, h, [last - k * R for k in range(rng.randrange(1, 3))])

    def add(self, client, cmid, host, times):
        self.client[cmid] = client
        self.requests.setdefault((cmid, host), []).extend(times)

    def last(self, cmid, host):
        times = self.requests.get((cmid, host))
        return max(times) if times else None

    def home(self, cmid):
        """The host of the CMID's newest request; a tie names none (both lapse)."""
        lasts = sorted(((self.last(cmid, h), h) for h in self.hosts
                        if self.last(cmid, h) is not None), reverse=True)
        if len(lasts) > 1 and lasts[0][0] == lasts[1][0]:
            return None
        return lasts[0][1]

    def end_on(self, cmid, host, stopped):
        """When the CMID stops counting on the host (None: not before the window ends)."""
        last = self.last(cmid, host)
        is_desktop = self.client[cmid] in self.desktops
        age = self.now - last
        if self.home(cmid) != host or age > R + GRACE:
            return last + E
        if not is_desktop and len(self.requests[(cmid, host)]) < 2:
            return last + E                     # rule (b) needs two requests
        if is_desktop and stopped:
            return last + E                     # no renewal after now is credited by now
        return None

    def minimum(self, host, plan):
        stopped = {self.desktops[d] for d in plan}
        ends = [self.end_on(c, host, c in stopped)
                for (c, h) in self.requests if h == host
                and self.last(c, host) + E > self.now]
        times = sorted({e for e in ends if e is not None and e <= self.now + HORIZON})
        best = None
        for t in [self.now] + times:
            n = min(CAPACITY, sum(1 for e in ends if e is None or t < e))
            best = n if best is None else min(best, n)
        return best

    def touched(self, plan, own):
        hosts = {own}
        for d in plan:
            for h in self.hosts:
                last = self.last(self.desktops[d], h)
                if last is not None and last > self.now - E:
                    hosts.add(h)
        return hosts


def build(c, world, pool):
    for h in world.hosts:
        create_host(c, h)
    create_pool(c, pool, host=world.hosts[0])
    for name in sorted(world.desktops):
        put_desktop(c, name, pool)
    for h in world.hosts:
        events = [event(world.client[cmid], cmid, t) for (cmid, host), times
                  in sorted(world.requests.items()) if host == h for t in times]
        ingest(c, events, h)


def test_random_estates_against_a_naive_restatement(svc):
    c = svc.client()
    rng = random.Random(614)
    estates = int(os.environ.get("KG_MULTIHOST_ESTATES", "40"))
    for n in range(estates):
        now = now_s()
        world = World(rng, "r%d" % n, now)
        build(c, world, "pool-r%d" % n)
        plan = rng.sample(sorted(world.desktops), rng.randrange(1, min(6, len(world.desktops)) + 1))
        r = c.post("/v1/gate", {"kms_host": world.hosts[0], "decommission": {"desktops": plan}})
        expect_status(r, 200)
        world.now = calendar.timegm(time.strptime(r.json["evaluated_at"], "%Y-%m-%dT%H:%M:%SZ"))
        got = {h["kms_host"]: h["projected_min"] for h in r.json["hosts"]}
        want = {h: world.minimum(h, plan) for h in world.touched(plan, world.hosts[0])}
        expect(got == want, "estate %d, plan %r: hosts %r, naive %r" % (n, plan, got, want))
        decision = "go" if all(m >= FLOOR for m in want.values()) else "no-go"
        expect(r.json["decision"] == decision, "estate %d: %r" % (n, r.json))

