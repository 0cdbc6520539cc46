"""The dashboard at / in headless Chromium: a read token entered once, every
KMS host with count, floor, headroom and next breach, and a forecast chart per
host drawn by the service (GET /v1/kms-hosts/{name}/forecast.svg)."""
import os
import subprocess

import pngcheck
import webdriver
from harness import DATA_DIR, Client, expect, expect_problem, expect_status

SCREENSHOT_DIR = os.environ.get("KG_SCREENSHOT_DIR", "/tmp")


def load_demo(svc):
    token_file = "/tmp/kg-demo-token-%d" % svc.port
    with open(token_file, "w") as f:
        f.write(svc.admin_token)
    subprocess.run(["/usr/bin/python3", os.path.join(DATA_DIR, "scripts", "demo.py"), "--url",
                    "http://127.0.0.1:%d" % svc.port, "--token-file", token_file],
                   check=True, capture_output=True, timeout=120)
    os.unlink(token_file)


def test_forecast_svg(svc):
    load_demo(svc)
    reader = svc.create_token("reader", "wallboard")
    r = Client(svc.port, reader).get("/v1/kms-hosts/kms01.corp.example/forecast.svg")
    expect_status(r, 200)
    expect(r.headers["content-type"].startswith("image/svg+xml"), r.headers)
    svg = r.body.decode()
    for part in ("<svg ", "class='count'", "class='floor'", "floor 25", "class='today'"):
        expect(part in svg, "chart lacks %s" % part)
    # The demo's rearmed lab CMIDs lapse; the count stays above the floor: no breach mark.
    expect("class='breach'" not in svg, svg[:300])
    expect_problem(Client(svc.port, reader).get("/v1/kms-hosts/nope.corp.example/forecast.svg"), 404)
    expect_problem(Client(svc.port).get("/v1/kms-hosts/kms01.corp.example/forecast.svg"), 401)


def table_rows(browser, css):
    """The text of every body cell of the table at css, row by row."""
    return browser.script("return [...document.querySelectorAll(arguments[0] + ' tbody tr')]"
                          ".map(r => [...r.cells].map(c => c.textContent))", css)


def log_in(browser, svc, token):
    browser.get("http://127.0.0.1:%d/" % svc.port)
    browser.type("#token", token)
    browser.click("#login button[type=submit]")


def screenshot(browser, name):
    path = os.path.join(SCREENSHOT_DIR, name)
    return path, browser.screenshot(path)


def test_dashboard_in_headless_chromium(svc):
    expect(webdriver.available(), "chromium and chromium-driver are not installed")
    load_demo(svc)
    # A second, smaller host that will breach, so the chart shows the breach mark too.
    c = svc.client()
    c.post("/v1/kms-hosts", {"name": "kms-poc.corp.example", "family": "windows"})
    reader = svc.create_token("reader", "dashboard")
    r = Client(svc.port).get("/")
    expect_status(r, 200)
    expect(r.headers["content-type"].startswith("text/html"), r.headers)
    browser = webdriver.Browser()
    try:
        log_in(browser, svc, reader)
        browser.wait_for("return document.querySelectorAll('#charts svg').length === 2")
        rows = table_rows(browser, "#hosts")
        expect(rows[0][0] == "kms-poc.corp.example" and rows[1][0] == "kms01.corp.example", rows)
        expect(rows[1][1:4] == ["40", "25", "15"], rows)
        counts = browser.script("return [...document.querySelectorAll('#charts svg')].map(s => "
                                "[s.querySelectorAll('path.count').length, "
                                "s.querySelectorAll('line.floor').length])")
        expect(counts == [[1, 1], [1, 1]], counts)
        # The token stays in the tab: a reload shows the data without asking again.
        browser.get("http://127.0.0.1:%d/" % svc.port)
        browser.wait_for("return document.querySelectorAll('#charts svg').length === 2")
        path, png = screenshot(browser, "kmsgate-dashboard.png")
    finally:
        browser.close()
    # The floor line (#dd3333) is on the picture, and so is the count line (#1f6feb).
    expect(pngcheck.count_colour(png, (0xdd, 0x33, 0x33)) > 200, "no floor line in " + path)
    expect(pngcheck.count_colour(png, (0x1f, 0x6f, 0xeb)) > 200, "no count line in " + path)
    print("dashboard screenshot: %s" % path)


def dry_run_gate(c, body, status=200):
    r = c.post("/v1/gate", dict(body, dry_run=True))
    expect_status(r, status)
    return r.json


def decision_count(svc):
    return int(svc.sql("SELECT count(*) FROM decisions")[0][0])


def test_gate_dry_run_evaluates_like_the_gate_and_records_nothing(svc):
    load_demo(svc)
    c = svc.client()
    body = {"kms_host": "kms01.corp.example", "decommission": {"pool": "horizon-finance", "count": 18}}
    before = decision_count(svc)
    dry = dry_run_gate(c, body)
    expect(dry["decision_id"] is None and dry["plan_id"] is None, dry)
    r = c.post("/v1/gate?enforce=true", dict(body, dry_run=True))
    expect_status(r, 409)
    expect(decision_count(svc) == before and svc.sql("SELECT count(*) FROM plans") == [["0"]])
    real = c.post("/v1/gate", body).json
    for key in ("decision", "first_breach_at", "max_decommission", "projected_min",
                "projected_min_at", "baseline_min", "decommission", "reasons", "floor"):
        expect(dry[key] == real[key], (key, dry[key], real[key]))
    expect(dry["decision"] == "no-go" and dry["max_decommission"] == 10, dry)
    expect(decision_count(svc) == before + 1 and real["decision_id"])
    # A dry run cannot reserve, and takes only a boolean.
    expect_problem(c.post("/v1/gate", dict(body, dry_run=True, reserve=True)), 422, "dry_run")
    expect_problem(c.post("/v1/gate", dict(body, dry_run="yes")), 400, "dry_run")
    # Nor is it a gate decision in the metrics.
    metrics = Client(svc.port).get("/metrics").body.decode()
    expect('kmsgate_gate_decisions_total{decision="no-go"} 1\n' in metrics, metrics[-800:])


def set_field(browser, css, value):
    browser.script("const e = document.querySelector(arguments[0]); e.value = arguments[1];"
                   "e.dispatchEvent(new Event('change'));", css, value)


def test_what_if_in_headless_chromium(svc):
    expect(webdriver.available(), "chromium and chromium-driver are not installed")
    load_demo(svc)
    c = svc.client()
    reserved = c.post("/v1/gate", {"kms_host": "kms01.corp.example", "reserve": True,
                                   "decommission": {"pool": "citrix-callcenter", "count": 1}})
    expect_status(reserved, 201)
    hook = svc.create_token("hook", "planner")
    body = {"kms_host": "kms01.corp.example", "decommission": {"pool": "horizon-finance", "count": 18}}
    api = dry_run_gate(c, body)
    expect(api["first_breach_at"] is not None, api)
    before = decision_count(svc)
    browser = webdriver.Browser()
    try:
        log_in(browser, svc, hook)
        browser.wait_for("return !document.getElementById('panels').hidden")
        pools = {row[0]: row for row in table_rows(browser, "#pools")}
        # Host headroom 15; the reservation holds one CMID's worth, so 9 of the pool could go.
        row = pools["horizon-finance"]
        expect(row[1:3] + row[4:] == ["kms01.corp.example", "18", "15", "9"], pools)
        expect(row[3].startswith("kms01.corp.example: "), "where its desktops renew: %r" % row)
        plans = table_rows(browser, "#plans")
        expect(len(plans) == 1 and plans[0][0] == reserved.json["plan_id"][:8], plans)
        decisions = table_rows(browser, "#decisions")
        expect(decisions[0][2] == "go", decisions)
        set_field(browser, "#wi-host", "kms01.corp.example")
        set_field(browser, "#wi-pool", "horizon-finance")
        set_field(browser, "#wi-decommission", "18")
        browser.click("#whatif button[type=submit]")
        browser.wait_for("return !document.getElementById('wi-result').hidden")
        shown = browser.script("return ['wi-decision', 'wi-breach', 'wi-max']"
                               ".map(id => document.getElementById(id).textContent)")
        expect(shown == ["no-go", api["first_breach_at"][:10], str(api["max_decommission"])],
               (shown, api))
        lines = browser.script("const s = document.querySelector('#wi-chart svg'); return "
                               "['path.baseline', 'path.planned', 'line.floor', 'line.breach']"
                               ".map(q => s.querySelectorAll(q).length)")
        expect(lines == [1, 1, 1, 1], lines)
        browser.script("document.getElementById('wi-chart').scrollIntoView()")
        path, png = screenshot(browser, "kmsgate-what-if.png")
        # Retiring the only host: its pools would have nowhere to activate.
        set_field(browser, "#wi-retire", "kms01.corp.example")
        browser.script("document.getElementById('wi-result').hidden = true")
        browser.click("#whatif button[type=submit]")
        browser.wait_for("return !document.getElementById('wi-result').hidden")
        retire = browser.script("return [document.getElementById('wi-decision').textContent,"
                                " document.getElementById('wi-reasons').textContent]")
        expect(retire[0] == "no-go" and "no KMS host left" in retire[1], retire)
    finally:
        browser.close()
    # The planned line (#e8590c) is on the picture, and nothing was recorded.
    expect(pngcheck.count_colour(png, (0xe8, 0x59, 0x0c)) > 200, "no planned line in " + path)
    expect(decision_count(svc) == before, "the what-if recorded a decision")
    print("what-if screenshot: %s" % path)
