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
        browser.get("http://127.0.0.1:%d/" % svc.port)
        browser.type("#token", reader)
        browser.click("#login button[type=submit]")
        browser.wait_for("return document.querySelectorAll('#charts svg').length === 2")
        rows = browser.script("return [...document.querySelectorAll('#hosts tbody tr')]"
                              ".map(r => [...r.cells].map(c => c.textContent))")
        expect(rows[0][0] == "kms-poc.corp.example" and rows[1][0] == "kms01.corp.example", rows)
        expect(rows[1][1:4] == ["40", "25", "15"], rows)
        counts = browser.script("return [...document.querySelectorAll('#charts svg')].map(s => "
                                "[s.querySelectorAll('path.count').length, "
                                "s.querySelectorAll('line.floor').length])")
        expect(counts == [[1, 1], [1, 1]], counts)
        # The token stays in the tab: a reload shows the data without asking again.
        browser.get("http://127.0.0.1:%d/" % svc.port)
        browser.wait_for("return document.querySelectorAll('#charts svg').length === 2")
        path = os.path.join(SCREENSHOT_DIR, "kmsgate-dashboard.png")
        png = browser.screenshot(path)
    finally:
        browser.close()
    # The floor line (#dd3333) is on the picture, and so is the count line (#1f6feb).
    expect(pngcheck.count_colour(png, (0xdd, 0x33, 0x33)) > 200, "no floor line in " + path)
    expect(pngcheck.count_colour(png, (0x1f, 0x6f, 0xeb)) > 200, "no count line in " + path)
    print("dashboard screenshot: %s" % path)
