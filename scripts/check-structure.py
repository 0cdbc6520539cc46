#!/usr/bin/python3
"""The house rules a newcomer can count on: no file in service/ over 800
lines, no function over 80 (from its opening brace to its closing one, both
at the start of a line as every function here is written). Prints one line
per breach and a closing "N passed, N failed"."""
import glob
import os
import re
import sys

MAX_FILE, MAX_FUNCTION = 800, 80
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service")
breaches, checked = [], 0
for path in sorted(glob.glob(os.path.join(root, "*.[ch]"))):
    lines = open(path, encoding="utf-8").read().split("\n")
    name = os.path.basename(path)
    checked += 1
    if len(lines) - 1 > MAX_FILE:
        breaches.append("%s: %d lines (at most %d)" % (name, len(lines) - 1, MAX_FILE))
    start = None
    for i, line in enumerate(lines):
        if line.startswith("{"):
            start = i
        elif line.startswith("}") and start is not None:
            if i - start + 1 > MAX_FUNCTION:
                sig = " ".join(lines[max(0, start - 3):start])
                fn = re.findall(r"([A-Za-z_]\w*)\s*\(", sig)
                breaches.append("%s: function %s is %d lines (at most %d)"
                                % (name, fn[0] if fn else "?", i - start + 1, MAX_FUNCTION))
            start = None
for b in breaches:
    print(b)
print("%d passed, %d failed" % (checked - len(breaches), len(breaches)))
sys.exit(1 if breaches else 0)
