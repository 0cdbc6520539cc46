"""The README's curl tour works as printed, run the way a new user would."""
import os
import re
import subprocess

from harness import DATA_DIR, expect


def readme_block(marker):
    with open(os.path.join(DATA_DIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- %s:start -->\s*```sh\n(.*?)```\s*<!-- %s:end -->" % (marker, marker),
                  text, re.S)
    expect(m is not None, "README has no %s block" % marker)
    return m.group(1)


def test_curl_tour_runs_as_printed(svc):
    script = readme_block("curl-tour")
    env = dict(os.environ, KMSGATE="http://127.0.0.1:%d" % svc.port, TOKEN=svc.admin_token)
    out = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True,
                         timeout=120, cwd=DATA_DIR)
    expect(out.returncode == 0, "tour failed (%d):\n%s\n%s" % (out.returncode, out.stdout[-2000:],
                                                              out.stderr[-2000:]))
    expect('"current_count":27' in out.stdout and '"headroom":2' in out.stdout, out.stdout[-3000:])
    expect('"decision":"no-go"' in out.stdout and '"max_decommission":2' in out.stdout,
           out.stdout[-3000:])
    expect('"state":"committed"' in out.stdout, out.stdout[-3000:])
    rows = svc.sql("SELECT count(*) FROM desktops WHERE state = 'decommissioned'")
    expect(rows == [["2"]], rows)
