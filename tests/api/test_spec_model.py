"""spec_model.py (the restatement test_plans_random.py compares the service
with) against the spec's own worked examples (kms-model.md sections 4 and 7)
and the hand-worked cases of issue 23: if the restatement misread the text,
these fail without any service running."""
import spec_model
from harness import expect, no_service

NOW = spec_model.parse_time("2026-12-01T00:00:00Z")
HOUR = 3600
DAY = spec_model.DAY


class Estate:
    """A small estate for the model: hosts of floor 25 unless told."""

    def __init__(self, *hosts):
        self.doc = {"hosts": [{"name": h, "threshold": 25, "capacity": 50, "margin": 0,
                               "renewal": 10080} for h in hosts],
                    "pools": [], "desktops": [], "requests": []}

    def pool(self, name, hosts, unique=True):
        self.doc["pools"].append({"name": name, "hosts": [[h, 1] for h in hosts],
                                  "pinned": len(hosts) == 1, "renewal": None, "unique": unique})

    def desktop(self, name, pool, state="active"):
        self.doc["desktops"].append({"name": name, "pool": pool, "state": state})

    def request(self, host, cmid, client, *ages):
        for age in ages:
            self.doc["requests"].append([host, cmid, client, NOW - age])

    def pcs(self, host, n, prefix, ages=(170 * HOUR, 2 * HOUR)):
        for i in range(n):
            self.request(host, "%s-%d" % (prefix, i), "%s-%d" % (prefix, i), *ages)

    def desktops(self, pool, n, host, ages, prefix="vdi"):
        names = ["%s-%02d" % (prefix, i) for i in range(n)]
        for name in names:
            self.desktop(name, pool)
            self.request(host, "c-" + name, name, *ages)
        return names

    def gate(self, body):
        return spec_model.SpecModel(self.doc, NOW).gate(body)


def at(text):
    return spec_model.parse_time(text)


@no_service
def test_example1_steady_pool():
    e = Estate("kms01")
    e.pool("p", ["kms01"])
    names = e.desktops("p", 30, "kms01", [2 * DAY])
    a = e.gate({"kms_host": "kms01", "decommission": {"desktops": names[:5]}})
    expect(a["decision"] == "go" and a["hosts"]["kms01"]["projected_min"] == 25, a)
    a = e.gate({"kms_host": "kms01", "decommission": {"desktops": names[:6]}})
    host = a["hosts"]["kms01"]
    expect(a["decision"] == "no-go" and host["projected_min"] == 24, a)
    expect(host["first_breach_at"] == at("2026-12-29T00:00:00Z"), a)
    expect(a["max_decommission"] == 5, a)


@no_service
def test_example2_rearm_trick_wears_off():
    e = Estate("kms01")
    e.pool("p", ["kms01"])
    e.desktops("p", 10, "kms01", [2 * DAY, 9 * DAY])
    for i in range(15):
        e.doc["requests"].append(["kms01", "rearm-%d" % i, "lab-pc", at("2026-11-10T00:00:00Z")])
    a = e.gate({"kms_host": "kms01"})
    host = a["hosts"]["kms01"]
    expect(host["current_count"] == 25 and host["baseline_min"] == 10, a)
    expect(host["baseline_min_at"] == at("2026-12-10T00:00:00Z") and a["decision"] == "no-go", a)


@no_service
def test_example3_shared_image_cmid():
    e = Estate("kms01")
    e.pool("p", ["kms01"], unique=False)
    e.pcs("kms01", 12, "pc")
    a = e.gate({"kms_host": "kms01", "provision": [{"pool": "p", "count": 40}]})
    expect(a["decision"] == "no-go" and a["hosts"]["kms01"]["projected_min"] == 13, a)


@no_service
def test_example4_capacity():
    e = Estate("kms01")
    e.pool("p", ["kms01"])
    e.desktops("p", 80, "kms01", [2 * DAY])
    a = e.gate({"kms_host": "kms01", "decommission": {"pool": "p", "count": 30}})
    expect(a["hosts"]["kms01"]["current_count"] == 50, a)
    expect(a["decision"] == "go" and a["hosts"]["kms01"]["projected_min"] == 50, a)
    expect(a["max_decommission"] == 55, a)


def two_hosts(pcs_a, pcs_b, desktops_on):
    """Examples 6 and 7: PCs renewing on kms-a and kms-b, and pool p (discovering,
    weights 1 and 1, desktops_on first) with 10 desktops renewing on desktops_on."""
    e = Estate("kms-a", "kms-b")
    e.pcs("kms-a", pcs_a, "pa")
    e.pcs("kms-b", pcs_b, "pb")
    e.pool("p", sorted(["kms-a", "kms-b"], key=lambda h: h != desktops_on))
    return e, e.desktops("p", 10, desktops_on, [2 * DAY, 9 * DAY])


@no_service
def test_example6_two_hosts():
    e, names = two_hosts(20, 20, "kms-a")
    a = e.gate({"decommission": {"desktops": names[:5]}})
    expect(sorted(a["hosts"]) == ["kms-a"] and a["hosts"]["kms-a"]["projected_min"] == 25, a)
    expect(a["decision"] == "go", a)
    a = e.gate({"provision": [{"pool": "p", "count": 10}]})
    expect(a["hosts"]["kms-b"]["steps"][-1][1] == 25, a)
    expect(a["hosts"]["kms-a"]["steps"][-1][1] == 35 and a["binding"] == "kms-b", a)


@no_service
def test_example7_retire():
    e, _ = two_hosts(26, 20, "kms-b")
    a = e.gate({"retire_kms_host": {"name": "kms-b"}})
    host = a["hosts"]["kms-a"]
    expect(sorted(a["hosts"]) == ["kms-a"] and a["decision"] == "go", a)
    expect(host["projected_min"] == 26 and host["steps"][-1][1] == 36, a)
    expect(host["steps"][-1][0] <= NOW + 7 * DAY, a)
    e.pool("q", ["kms-b"])
    a = e.gate({"kms_host": "kms-a", "retire_kms_host": {"name": "kms-b"}})
    expect(a["decision"] == "no-go" and a["stranded_pools"] == ["q"], a)


def issue_estate():
    e = Estate("kms-a", "kms-b")
    e.pool("p", ["kms-a", "kms-b"])
    return e


@no_service
def test_issue23_case1_a_moved_cmid_is_not_counted_twice():
    e = issue_estate()
    e.desktop("d1", "p")
    e.request("kms-a", "X", "d1", 217 * HOUR)
    e.request("kms-a", "L", "pc-l", 480 * HOUR)
    e.pcs("kms-a", 23, "pa")
    e.request("kms-b", "X", "d1", 49 * HOUR)
    a = e.gate({"retire_kms_host": {"name": "kms-b"}, "horizon_days": 15})
    host = a["hosts"]["kms-a"]
    expect(a["decision"] == "no-go" and host["current_count"] == 25, a)
    expect(host["projected_min"] == 24 and host["projected_min_at"] == NOW + 240 * HOUR, a)


@no_service
def test_issue23_case2_picks_ranked_over_the_family():
    e = issue_estate()
    e.desktop("d1", "p")
    e.desktop("d2", "p")
    e.request("kms-b", "X1", "d1", 178 * HOUR, 10 * HOUR)
    e.pcs("kms-b", 30, "pb")
    e.request("kms-a", "X2", "d2", 173 * HOUR, 5 * HOUR)
    e.pcs("kms-a", 24, "pa")
    for host in (None, "kms-a", "kms-b"):
        body = {"decommission": {"pool": "p", "count": 1}}
        if host:
            body["kms_host"] = host
        a = e.gate(body)
        expect(a["decommission"] == ["d2"] and a["decision"] == "no-go", a)
        expect(a["hosts"]["kms-a"]["projected_min"] == 24, a)
        expect(a["hosts"]["kms-a"]["first_breach_at"] == NOW + 715 * HOUR, a)
    a = e.gate({"kms_host": "kms-b", "decommission": {"pool": "p", "count": 2}})
    expect(a["status"] == 200, a)


@no_service
def test_issue23_cases3_and_4_named_desktops_touch_their_hosts_only():
    e = issue_estate()
    e.desktop("d1", "p")
    e.request("kms-b", "X", "d1", 170 * HOUR, 2 * HOUR)
    e.pcs("kms-b", 30, "pb")
    a = e.gate({"decommission": {"desktops": ["d1"]}})
    expect(a["decision"] == "go" and sorted(a["hosts"]) == ["kms-b"], a)
    a = e.gate({"kms_host": "kms-b", "decommission": {"desktops": ["d1"]}})
    expect(a["status"] == 200, a)
    e.pool("q", ["kms-a"])
    e.desktop("dq", "q")
    expect(e.gate({"kms_host": "kms-b", "decommission": {"desktops": ["dq"]}})["status"] == 422,
           "dq's pool does not list kms-b")
    expect(e.gate({"decommission": {"desktops": ["d1", "dq"]}})["status"] == 200,
           "without kms_host any active desktops may be named")
    a = e.gate({"retire_kms_host": {"name": "kms-b"},
                "decommission": {"desktops": ["d1"]}})
    expect(a["status"] == 422, "case 5: a retirement is a plan of its own")
