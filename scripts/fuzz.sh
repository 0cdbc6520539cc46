#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a while
# on its seed corpus in tests/fuzz/corpus/<name>. New inputs that reach new
# code go to var/fuzz/<name> (the committed seeds stay small and reviewed).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     default 300; tests use 10
# Targets: every tests/fuzz/fuzz_*.c (bodies, events, forecast, time, tzif, winevent, xml).
# Prints one line per target: executions, corpus size, result.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-300}
work=${KG_WORK:-$KG_ROOT}
kg_ensure_packages || exit 1
dir="$work/build-fuzz"
CC=clang kg_build "$dir" -DKMSGATE_FUZZ=ON -DKMSGATE_TESTS=OFF -DCMAKE_C_COMPILER=clang || exit 1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0; failed=0
for t in "$dir"/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t"); name=${name#fuzz_}
  out="$work/var/fuzz/$name"; mkdir -p "$out"
  log="$out/last.log"
  "$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$out/" "$out" "$KG_ROOT/tests/fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  execs=$(grep -oP 'stat::number_of_executed_units: *\K[0-9]+' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -oP '^#\K[0-9]+' "$log" | tail -1)
  units=$(find "$out" -maxdepth 1 -type f ! -name '*.log' ! -name 'crash-*' ! -name 'leak-*' ! -name 'timeout-*' | wc -l)
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); status=ok
  else
    failed=$((failed + 1)); status="FAILED (see $log)"; tail -30 "$log"
  fi
  printf 'fuzz %-10s %10s executions in %ss, %s corpus inputs: %s\n' "$name" "${execs:-?}" "$seconds" "$units" "$status"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
