#!/usr/bin/env bash
# The test command: the same set-up as scripts/run.sh, then the cmocka unit
# tests and the API tests (the real binary over HTTP against a PostgreSQL
# started for this run), for a normal and an ASan+UBSan build, then the
# container image (scripts/test-container.sh, as root) and, but for --quick,
# the README's first command in a bare Debian 12 container
# (scripts/test-bare.sh, as root). Ends with "N passed, N failed"; exits
# non-zero on any failure.
#   scripts/test.sh [--quick] [--bare-full] [-k PATTERN] [API_TEST_FILE...]
#     --quick      normal build only (no sanitizer build)
#     --bare-full  the long form of the bare-machine test (with --quick too): it
#                  also runs `scripts/test.sh --quick` in a bare container
#     -k PATTERN   only API tests whose FILE::NAME contains PATTERN
#   CI=true        a test that cannot run here (no root, no podman) is a failure,
#                  not a skip
#   KG_CONTAINER_TESTS=0  leaves out the two container tests (test-bare.sh --full
#                  sets it inside its container, where podman cannot run)
#   KG_WORK=DIR    put builds and the test PostgreSQL under DIR instead of the
#                  project folder (lets several checkouts or people test at once)
#   KG_MODEL_ITERATIONS=N  random estates in the model's randomized tests
#                  (default 10,000 for the normal build, 400 with --quick and
#                  under the sanitizers)
#   KG_RANDOM_PLANS=N  gate plans that tests/api/test_plans_random.py compares
#                  with its restatement of the spec (default 240; long form 5000)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-container.sh"

quick=0
bare_full=0
api_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --bare-full) bare_full=1 ;;
    -k) api_args+=(-k "$2"); shift ;;
    *) api_args+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")") ;;
  esac
  shift
done
work=${KG_WORK:-$KG_ROOT}
model_iterations=${KG_MODEL_ITERATIONS:-}   # set it to override the random estates per run

kg_ensure_packages || exit 1
# Test-only packages: the high-availability tests (tests/api/test_pgbouncer.py,
# test_failover.py, test_haproxy.py, test_patroni.py) run Debian's PgBouncer,
# HAProxy, and Patroni with etcd (the Patroni test is the long form, collected
# only with KG_HA_LONG=1: about 3 minutes).
KG_HA_PACKAGES=(pgbouncer haproxy patroni python3-etcd etcd-server)
kg_ensure_packages "${KG_HA_PACKAGES[@]}" || exit 1
passed=0
failed=0
count() { passed=$((passed + $1)); failed=$((failed + $2)); }
# cannot_run WHAT WHY: a test this machine cannot run is skipped, except under
# CI=true, where it is a failure: a green CI must not hide a test that never ran.
cannot_run() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL $1: cannot run under CI=true: $2"; count 0 1
  else
    echo "$1 skipped: $2"
  fi
}

# Runs a command that ends with "N passed, N failed", shows its output and
# adds its counts; a command that ends without that line counts as one failure.
run_counted() {
  local out line p f
  # -a: opening /dev/stderr again must not truncate a log file it points to
  out=$("$@" 2>&1 | tee -a /dev/stderr)
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -1)
  if [ -z "$line" ]; then count 0 1; return; fi
  read -r p _ f _ <<<"${line//,/}"
  count "$p" "$f"
}

builds=("build:-DKMSGATE_SANITIZE=OFF")
[ "$quick" -eq 1 ] || builds+=("build-asan:-DKMSGATE_SANITIZE=ON")

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export LSAN_OPTIONS="suppressions=$KG_ROOT/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Unit tests: every cmocka binary, counted test by test.
run_unit_tests() {
  local dir=$1 label=$2 t out p f
  for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    p=$(grep -oP '\[  PASSED  \] \K[0-9]+' <<<"$out" | tail -1)
    f=$(grep -oP '\[  FAILED  \] \K[0-9]+' <<<"$out" | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a crash counts as a failure
    [ "$f" -eq 0 ] || printf '%s\n' "$out"
    printf '%s %s: %d passed, %d failed\n' "$label" "$(basename "$t")" "$p" "$f"
    count "$p" "$f"
  done
}

for spec in "${builds[@]}"; do
  dir="$work/${spec%%:*}"
  kg_say "building ${spec%%:*} (${spec#*:})"
  if ! kg_build "$dir" -DKMSGATE_TESTS=ON "${spec#*:}"; then
    echo "build failed: ${spec%%:*}"; count 0 1; continue
  fi
  # The long form compares the model with its naive restatement over 10,000
  # random estates (400 otherwise, and under the sanitizers).
  iterations=400
  [ "$quick" -eq 0 ] && [ "${spec#*:}" = "-DKMSGATE_SANITIZE=OFF" ] && iterations=10000
  export KG_MODEL_ITERATIONS=${model_iterations:-$iterations}
  run_unit_tests "$dir" "unit(${spec%%:*})"
done

# A short fuzzing run of every libFuzzer target (scripts/fuzz.sh runs longer).
if [ "$quick" -eq 0 ]; then
  kg_say "fuzzing each target for ${KG_FUZZ_SECONDS:-10}s"
  run_counted "$KG_ROOT/scripts/fuzz.sh" "${KG_FUZZ_SECONDS:-10}"
fi

# The house rules: files and functions of service/ stay short, and every C
# file is as clang-format lays it out (scripts/format-apply.sh).
kg_say "checking the structure of service/"
run_counted /usr/bin/python3 "$KG_ROOT/scripts/check-structure.py"
kg_say "checking the C formatting (clang-format)"
run_counted "$KG_ROOT/scripts/check-format.sh"

# The OpenAPI document must lint clean (pinned Redocly, recommended rules).
kg_say "linting openapi/kmsgate.yaml"
if "$KG_ROOT/tests/openapi-lint/lint.sh"; then count 1 0; else count 0 1; fi

# API tests against a PostgreSQL of their own, removed afterwards.
pgdir=$(kg_pg_home "$work/var/test-pg")
kg_say "test PostgreSQL in $pgdir"
kg_pg_stop "$pgdir"; rm -rf "$pgdir"
KG_PG_FSYNC=off kg_pg_start "$pgdir"
trap 'kg_pg_stop "$pgdir"' EXIT
export KG_PG_DIR KG_PG_PORT KG_DATA_DIR="$KG_ROOT"

for spec in "${builds[@]}"; do
  dir="$work/${spec%%:*}"
  [ -x "$dir/kmsgate" ] || continue
  kg_say "API tests against ${spec%%:*}/kmsgate"
  sanitized=0; [ "${spec#*:}" = "-DKMSGATE_SANITIZE=ON" ] && sanitized=1
  KG_BIN="$dir/kmsgate" KG_LABEL="api(${spec%%:*})" KG_SANITIZED=$sanitized \
    run_counted /usr/bin/python3 "$KG_ROOT/tests/api/run.py" "${api_args[@]}"
done

# The container image, built and run with podman (scripts/test-container.sh):
# about 20 s once its images are cached, so quick runs have it too; then, but
# not with --quick, the README's first command in a bare Debian 12 container
# (scripts/test-bare.sh, about 5 minutes: it installs the packages from the
# mirror each time). Both are left out when API tests are picked by name or
# file, as those runs are about them.
if [ ${#api_args[@]} -gt 0 ]; then
  echo "container tests skipped: API tests were selected (-k or FILE)"
elif [ "${KG_CONTAINER_TESTS:-1}" = 0 ]; then
  echo "container tests skipped: KG_CONTAINER_TESTS=0"
elif [ "$(id -u)" -ne 0 ]; then
  cannot_run "container tests" "they need root (rootful podman); run scripts/test-container.sh and scripts/test-bare.sh as root"
elif ! (kg_ensure_packages "${KG_PODMAN_TOOLS[@]}"); then
  echo "FAIL container tests: podman could not be installed (see above)"; count 0 1
else
  kg_say "scripts/test-container.sh"
  run_counted "$KG_ROOT/scripts/test-container.sh"
  if [ "$bare_full" -eq 1 ]; then
    kg_say "scripts/test-bare.sh --full"
    run_counted "$KG_ROOT/scripts/test-bare.sh" --full
  elif [ "$quick" -eq 0 ]; then
    kg_say "scripts/test-bare.sh"
    run_counted "$KG_ROOT/scripts/test-bare.sh"
  fi
fi

# Short forms of the benchmarks and the mixed load: they fail on errors (5xx,
# connection errors, a dead service), never on speed.
if [ "$quick" -eq 0 ]; then
  for mode in all load; do
    kg_say "bench/run.sh $mode --quick"
    if KG_WORK="$work" "$KG_ROOT/bench/run.sh" "$mode" --quick >&2; then count 1 0; else count 0 1; fi
  done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
