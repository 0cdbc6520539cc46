#!/bin/sh
# Formats the C sources with clang-format (14) and the project's .clang-format,
# once, as a commit of its own. Some constructs are laid out by hand and
# clang-format cannot keep them, so they are wrapped first in
# /* clang-format off */ ... /* clang-format on */ guards:
#   - multi-line initializers (= { ... }; the SQL of `static const struct
#     kg_stmt`, route tables, cmocka test arrays, field lists, lookup tables);
#   - multi-line #defines (SQL fragments, test bodies), and those longer than
#     100 columns, with braces, or with a cast of a parenthesized argument, as
#     ((int64_t) (s) * 1000000);
#   - json_pack() calls over several lines (their key, value pairs);
#   - statements continued by lines of concatenated string literals.
# Running it again adds no second guard.
# Usage: scripts/format-apply.sh [FILE...]   (default: service/ tests/unit tests/fuzz)
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is missing: apt-get install -y clang-format" >&2; exit 1; }
case "$(clang-format --version)" in
  *" 14."*) ;;
  *) echo "warning: .clang-format was tuned for clang-format 14: $(clang-format --version)" >&2 ;;
esac
if [ "$#" -eq 0 ]; then
  set -- $(find service tests/unit tests/fuzz -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) | sort)
fi
python3 - "$@" <<'PY'
import re
import sys

OFF, ON = "/* clang-format off */", "/* clang-format on */"


def code_of(line):
    """The line without string/char literals and comments (roughly), for counting."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    line = re.sub(r"/\*.*?\*/", "", line)
    return re.sub(r"//.*", "", line)


def close_of(lines, start, opening, closing):
    """Index of the line where the bracket opened on lines[start] closes."""
    depth = 0
    for i in range(start, len(lines)):
        for ch in code_of(lines[i]):
            if ch == opening:
                depth += 1
            elif ch == closing:
                depth -= 1
                if depth == 0:
                    return i
    return None


def statement_start(lines, i):
    """First line of the statement that lines[i] continues."""
    while i > 0:
        raw = lines[i - 1].strip()
        prev = code_of(lines[i - 1]).strip()
        if (prev == "" or prev.endswith((";", "{", "}", ":")) or prev.startswith("#")
                or raw.startswith(("/*", "*", "//")) or raw.endswith("*/")):
            break
        i -= 1
    return i


def ranges_of(lines):
    out = []
    i = 0
    while i < len(lines):
        code = code_of(lines[i])
        stripped = code.strip()
        if stripped.startswith("#define"):
            end = i
            while lines[end].rstrip().endswith("\\") and end + 1 < len(lines):
                end += 1
            if (end > i or len(lines[i]) > 100 or "{" in code
                    or re.search(r"\(\w[\w ]*\) \(", code)):
                out.append((i, end))
            i = end + 1
            continue
        if re.search(r"=\s*(\([\w ]+\)\s*)?\{", code) and code.count("{") > code.count("}"):
            end = close_of(lines, i, "{", "}")
            if end is not None and end > i:
                out.append((statement_start(lines, i), end))
                i = end + 1
                continue
        m = re.search(r"\bjson_pack\s*\(", code)
        if m:
            end = close_of([code[m.start():]] + lines[i + 1:], 0, "(", ")")
            if end is not None and end > 0:
                out.append((statement_start(lines, i), i + end))
                i += end + 1
                continue
        if stripped.startswith('"') and i > 0:
            end = i
            while end + 1 < len(lines) and code_of(lines[end + 1]).strip().startswith('"'):
                end += 1
            # concatenation: two string lines, or one continuing a string
            if end > i or lines[i - 1].rstrip().endswith('"'):
                out.append((statement_start(lines, i), end))
            i = end + 1
            continue
        i += 1
    return out


def between(line):
    """Whether a line between two guarded ranges loses nothing by being guarded."""
    s = line.strip()
    return s == "" or s.startswith(("/*", "*", "//")) or s.endswith("*/")


def guard(path):
    with open(path) as f:
        lines = f.read().split("\n")
    guarded, inside = set(), False
    for k, line in enumerate(lines):
        inside = (inside or line.strip() == OFF) and line.strip() != ON
        if inside or line.strip() == ON:
            guarded.add(k)
    merged = []
    for a, b in sorted(r for r in ranges_of(lines)
                       if not any(k in guarded for k in range(r[0], r[1] + 1))):
        # one guard over neighbours with only blank lines and comments between
        if merged and all(between(lines[k]) for k in range(merged[-1][1] + 1, a)):
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    for a, b in reversed(merged):
        indent = re.match(r"\s*", lines[a]).group(0)
        if lines[a].lstrip().startswith("#"):
            indent = ""
        lines[b + 1:b + 1] = [indent + ON]
        lines[a:a] = [indent + OFF]
    with open(path, "w") as f:
        f.write("\n".join(lines))


for p in sys.argv[1:]:
    guard(p)
PY
clang-format -i --style=file "$@"
