"""The Prometheus alert rules (docker/kmsgate-alerts.yml): promtool loads them
and runs their unit tests, every rule is tested, every metric a rule reads is
one the service exports, and the compose monitoring profile loads them."""
import os
import re
import subprocess

import yaml

from harness import DATA_DIR, expect, no_service
from test_metrics import scrape

DOCKER = os.path.join(DATA_DIR, "docker")


def promtool(*args):
    p = subprocess.run(["promtool"] + list(args), capture_output=True, text=True, timeout=120,
                       cwd=DOCKER)
    expect(p.returncode == 0, "promtool %s:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def load(name):
    with open(os.path.join(DOCKER, name), encoding="utf-8") as f:
        return yaml.safe_load(f)


def rules():
    return [r for g in load("kmsgate-alerts.yml")["groups"] for r in g["rules"]]


@no_service
def test_alert_rules_pass_their_promtool_unit_tests():
    promtool("check", "rules", "kmsgate-alerts.yml")
    out = promtool("test", "rules", "kmsgate-alerts.test.yml")
    expect("SUCCESS" in out, out)
    # Each alert is evaluated by a case where it fires and one where it does not.
    cases = {}
    for test in load("kmsgate-alerts.test.yml")["tests"]:
        for case in test["alert_rule_test"]:
            cases.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    names = [r["alert"] for r in rules()]
    expect(len(names) == 6, names)
    for name in names:
        expect(cases.get(name) == {True, False}, "%s lacks a firing or a quiet case" % name)


@no_service
def test_compose_monitoring_profile_loads_the_rules():
    config = load("prometheus.yml")
    expect(config["rule_files"] == ["kmsgate-alerts.yml"], config.get("rule_files"))
    compose = load("compose.yaml")
    mounts = compose["services"]["prometheus"]["volumes"]
    expect("./kmsgate-alerts.yml:/etc/prometheus/kmsgate-alerts.yml:ro" in mounts, mounts)
    promtool("check", "config", "prometheus.yml")


def test_rules_read_only_metrics_the_service_exports(svc):
    """A renamed gauge would leave a rule silently matching nothing."""
    c = svc.client()
    c.post("/v1/kms-hosts", {"name": "kms01.corp.example", "family": "windows"})
    c.post("/v1/kms-hosts/kms01.corp.example/observations", {"count": 3})
    _, types = scrape(svc.port)
    exported = set(types) | {"up"}
    for rule in rules():
        used = set(re.findall(r"\b((?:kmsgate_|up\b)[a-z_]*)", rule["expr"]))
        expect(used and used <= exported, "%s reads %s" % (rule["alert"], used - exported))
