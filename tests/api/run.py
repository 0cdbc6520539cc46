"""Runs the API tests: every `test_*` function of every tests/api/test_*.py.

A test function takes one argument, `svc`, a started harness.Service on a
fresh database (stopped and dropped afterwards, its exit code and sanitizer
output checked), unless it is decorated with @no_service, in which case it gets
nothing and manages services itself. A test that raises harness.Skip is
reported with its reason and not counted. Prints one line per test and a closing
`N passed, N failed` line; exits 1 on any failure.

  /usr/bin/python3 tests/api/run.py [-k SUBSTRING] [FILE...]
"""
import importlib.util
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def no_service(fn):
    fn.no_service = True
    return fn


harness.no_service = no_service


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_one(fn):
    if getattr(fn, "no_service", False):
        fn()
        return
    svc = harness.Service().start()
    failed = True
    try:
        fn(svc)
        failed = False
    finally:
        try:
            code = svc.stop()
            if not failed and code != 0:
                raise AssertionError("kmsgate exited with %s after the test" % code)
        finally:
            svc.drop()


def main(argv):
    pattern = None
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "-k":
            pattern = argv[i + 1]
            i += 2
        else:
            files.append(argv[i])
            i += 1
    here = os.path.dirname(os.path.abspath(__file__))
    if not files:
        files = sorted(os.path.join(here, f) for f in os.listdir(here)
                       if f.startswith("test_") and f.endswith(".py"))
    passed = failed = 0
    label = os.environ.get("KG_LABEL", "api")
    for path in files:
        mod = load(path)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            fn = getattr(mod, name)
            # -k matches FILE::NAME, so "-k quickstart" selects test_quickstart.py.
            full = "%s::%s" % (os.path.basename(path), name)
            if not callable(fn) or (pattern and pattern not in full):
                continue
            start = time.time()
            try:
                run_one(fn)
                passed += 1
                print("PASS %s %s::%s (%.1fs)" % (label, os.path.basename(path), name,
                                                  time.time() - start), flush=True)
            except harness.Skip as why:
                print("SKIP %s %s::%s: %s" % (label, os.path.basename(path), name, why),
                      flush=True)
            except Exception:  # noqa: BLE001 - every failure is reported the same way
                failed += 1
                print("FAIL %s %s::%s" % (label, os.path.basename(path), name), flush=True)
                traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
