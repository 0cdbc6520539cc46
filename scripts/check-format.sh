#!/bin/sh
# Checks that the C sources are as clang-format (14) and .clang-format lay them
# out: one line per file that is not, then "N passed, M failed" (one per file).
# scripts/format-apply.sh formats them (the test command runs this check).
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is missing: apt-get install -y clang-format" >&2; exit 1; }
passed=0 failed=0
for f in $(find service tests/unit tests/fuzz -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) | sort); do
  if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    echo "not formatted: $f (scripts/format-apply.sh $f)"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
