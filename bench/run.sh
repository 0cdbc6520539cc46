#!/usr/bin/env bash
# kmsgate benchmark: builds the binary, starts a throwaway PostgreSQL (fsync
# on) and `kmsgate serve` on 127.0.0.1, seeds KMS hosts of 1,000 and 100,000
# CMIDs, measures with wrk and prints a table, then measures event ingest.
# Everything it starts is stopped on exit. See bench/README.md.
#
#   bench/run.sh [MODE] [options]
#     MODE            all (default) | gate (wrk rows only) | ingest (ingest only) |
#                     load (mixed load: gates, desktop PUTs, uploads, reads;
#                     64 connections, 60 s unless --duration/--conns say otherwise) |
#                     scale (1,000,000 CMIDs over 20 hosts: gate latency on the
#                     largest at 1 connection, resident memory, first gate after
#                     a restart; see bench/scale.sh)
#     --quick         short form for tests: 3 s per wrk run, 10,000 CMIDs instead
#                     of 100,000, 50,000 events ingested (< 60 s)
#     --duration S    seconds per wrk run (default 15; 3 with --quick)
#     --conns N       wrk connections (default 32)
#     --threads N     KMSGATE_THREADS (default 2 x CPUs)
#     --events N      events to ingest (default 1,000,000; 50,000 with --quick)
#     --uploaders N   concurrent ingest uploaders (default 4)
#     --big N         CMIDs of the big host (default 100,000; 10,000 with --quick)
#     --seed-via api  seed the 1,000-CMID host through the API instead of SQL
#     --keep          keep the bench PostgreSQL data folder afterwards
#   KG_WORK=DIR       build (DIR/build-bench) and data (DIR/var/bench-pg) go under
#                     DIR instead of the project folder (the data under
#                     /var/lib/kmsgate/ when root and kmsgate-pg cannot enter DIR)
#   KG_BENCH_BIN=F    use this kmsgate binary instead of building one
# Exit status: 0 unless something broke (a build or seed failure, 5xx or other
# non-2xx answers, connection errors, failed ingest); missed performance targets
# are reported as FAIL but do not change the exit status.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
bench_dir="$KG_ROOT/bench"

mode=all quick=0 duration='' conns='' threads='' events='' uploaders=4 big='' seed_via=sql keep=0
while [ $# -gt 0 ]; do
  case $1 in
    all|gate|ingest|load|scale) mode=$1 ;;
    --quick) quick=1 ;;
    --duration) duration=$2; shift ;;
    --conns) conns=$2; shift ;;
    --threads) threads=$2; shift ;;
    --events) events=$2; shift ;;
    --uploaders) uploaders=$2; shift ;;
    --big) big=$2; shift ;;
    --seed-via) seed_via=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print } /^set /{ exit }' "$0"; exit 0 ;;
    *) kg_die "unknown argument $1 (try --help)" ;;
  esac
  shift
done
if [ "$mode" = load ]; then
  conns=${conns:-64}
  [ "$quick" -eq 1 ] && duration=${duration:-5} || duration=${duration:-60}
fi
conns=${conns:-32}
if [ "$quick" -eq 1 ]; then
  duration=${duration:-3} events=${events:-50000} big=${big:-10000}
else
  duration=${duration:-15} events=${events:-1000000} big=${big:-100000}
fi
threads=${threads:-$((2 * $(nproc)))}
small=1000
work=${KG_WORK:-$KG_ROOT}
state="$work/var/bench"          # results, logs, names files, tokens
pgdir=$(kg_pg_home "$work/var/bench-pg")   # elsewhere when root and $work is closed
mkdir -p "$state"
command -v wrk >/dev/null || kg_ensure_packages

broke=0   # set when something errored; decides the exit status
note_broken() { printf 'ERROR: %s\n' "$*" >&2; broke=1; }

# ---------------------------------------------------------------- build ---
if [ -n "${KG_BENCH_BIN:-}" ]; then
  bin=$KG_BENCH_BIN
else
  kg_ensure_packages
  kg_say "building $work/build-bench (release, no tests)"
  kg_build "$work/build-bench" -DKMSGATE_TESTS=OFF || kg_die "build failed"
  bin="$work/build-bench/kmsgate"
fi
[ -x "$bin" ] || kg_die "no kmsgate binary at $bin"

# --------------------------------------------------- PostgreSQL + service ---
service_pid=
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$service_pid" ]; then
    kill -TERM "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  kg_pg_stop "$pgdir"
  [ "$keep" -eq 1 ] || rm -rf "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kg_say "starting a throwaway PostgreSQL in $pgdir (fsync on)"
kg_pg_stop "$pgdir"; rm -rf "$pgdir"
KG_PG_FSYNC=on kg_pg_start "$pgdir"
kg_pg_createdb kmsgate
export KMSGATE_DATABASE_URL=$KG_PG_URL KMSGATE_DATA_DIR=$KG_ROOT KMSGATE_THREADS=$threads
"$bin" migrate >"$state/migrate.log" 2>&1 || { cat "$state/migrate.log"; kg_die "migrate failed"; }
( umask 077
  "$bin" token create --role admin --name bench-admin >"$state/admin-token"
  "$bin" token create --role hook --name bench-hook >"$state/hook-token" )
hook_token=$(cat "$state/hook-token")

port=$(kg_free_port)
url="http://127.0.0.1:$port"
# Starts kmsgate serve (the scale mode restarts it: a cold cache), appending to its log.
start_service() {
  KMSGATE_LISTEN="127.0.0.1:$port" "$bin" serve >>"$state/kmsgate.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && break
    kill -0 "$service_pid" 2>/dev/null || { tail -20 "$state/kmsgate.log"; kg_die "kmsgate serve exited"; }
    sleep 0.1
  done
  curl -fsS "$url/readyz" >/dev/null || kg_die "kmsgate is not ready"
}
: >"$state/kmsgate.log"
start_service

# CPU ticks used so far by the service; used to wait until it is idle again.
service_ticks() { awk '{print $14 + $15}' "/proc/$service_pid/stat" 2>/dev/null || echo 0; }
# wrk stops with requests still queued in the service (a slow gate at 32
# connections leaves seconds of work): wait for it to go quiet before the next
# measurement so one run does not eat into the next.
drain() {
  local prev cur
  prev=$(service_ticks)
  for _ in $(seq 1 150); do
    sleep 0.2
    cur=$(service_ticks)
    [ $((cur - prev)) -le 1 ] && return 0
    prev=$cur
  done
}

# Share of CPU time idle over one second: other work on the machine (a test
# run, a build) makes the figures meaningless, so the report shows it.
cpu_idle_pct() {
  local a b
  read -ra a </proc/stat; sleep 1; read -ra b </proc/stat
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $(( total > 0 ? 100 * (b[4] - a[4] + b[5] - a[5]) / total : 0 ))
}
idle_before=$(cpu_idle_pct)
[ "$idle_before" -ge 90 ] ||
  printf 'warning: the machine is busy before the benchmark (%s%% idle): figures will be low\n' \
    "$idle_before" >&2

# ------------------------------------------------------------------ seed ---
small_host=kms-1k.bench.example
big_host=kms-big.bench.example
ingest_host=kms-ingest.bench.example
big_label=$(printf "%'d" "$big" 2>/dev/null || echo "$big")
if [ "$mode" != ingest ] && [ "$mode" != scale ]; then
  kg_say "seeding $small_host ($small CMIDs, via $seed_via) and $big_host ($big_label CMIDs, via sql)"
  if [ "$seed_via" = api ]; then
    /usr/bin/python3 "$bench_dir/seed.py" --via api --url "$url" --token-file "$state/admin-token" \
      --host "$small_host" --cmids "$small" --pools 2 --names-out "$state/names-small.txt"
  else
    /usr/bin/python3 "$bench_dir/seed.py" --db "$KMSGATE_DATABASE_URL" --host "$small_host" \
      --cmids "$small" --pools 2 --names-out "$state/names-small.txt"
  fi
  /usr/bin/python3 "$bench_dir/seed.py" --db "$KMSGATE_DATABASE_URL" --host "$big_host" \
    --cmids "$big" --pools 20 --names-out "$state/names-big.txt"
fi

# ------------------------------------------------------------------- wrk ---
results="$state/wrk-results.txt"
routes="$state/wrk-routes.txt"
: >"$results"
: >"$routes"
# run_wrk LABEL CONNS SCRIPT [SCRIPT ARGS...]
run_wrk() {
  local label=$1 c=$2 script=$3; shift 3
  local t=$(( c < 2 ? 1 : 2 )) out="$state/wrk-$label.txt" rc=0
  kg_say "wrk $label: $c connections, ${duration}s"
  local first_line
  first_line=$(wc -l <"$state/kmsgate.log")
  KG_LABEL=$label KG_CONNS=$c KG_TOKEN=$hook_token \
    wrk -t"$t" -c"$c" -d"${duration}s" --timeout 60s --latency -s "$bench_dir/$script" "$url" \
    ${1:+--} "$@" >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || ! grep -q '^KGBENCH ' "$out"; then
    cat "$out" >&2
    note_broken "wrk $label failed (exit $rc)"
    return 0
  fi
  grep -h '^wrk: HTTP' "$out" >&2 || true
  grep '^KGBENCH ' "$out" >>"$results"
  drain
  # The service's own per-route latencies over the run (wrk mixes all routes).
  local last_line
  last_line=$(wc -l <"$state/kmsgate.log")
  KG_LABEL=$label /usr/bin/python3 "$bench_dir/logstats.py" "$state/kmsgate.log" \
    "$((first_line + 1))" "$last_line" >>"$routes" || note_broken "logstats $label failed"
}

if [ "$mode" = scale ]; then
  # shellcheck source=SCRIPTDIR/scale.sh
  source "$bench_dir/scale.sh"
  exit "$broke"
fi

if [ "$mode" = load ]; then
  # Mixed load (4 gates, 1 desktop PUT, 1 upload of 20 events, 4 reads in
  # every 10 requests) on each host, next to the gate-only row of the same
  # host and /readyz before and after, all in one run.
  first_pool() {
    psql "$KMSGATE_DATABASE_URL" -qAtX -c "SELECT p.name FROM pools p JOIN kms_hosts h
      ON h.id = p.kms_host_id WHERE h.name = '$1' ORDER BY p.name LIMIT 1"
  }
  rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$service_pid/status")
  run_wrk readyz "$conns" readyz.lua
  run_wrk gate-small "$conns" gate.lua "$small_host" "$state/names-small.txt" 3
  run_wrk mixed-small "$conns" mixed.lua "$small_host" "$(first_pool "$small_host")" \
    "$state/names-small.txt"
  run_wrk readyz-after "$conns" readyz.lua
  run_wrk gate-big "$conns" gate.lua "$big_host" "$state/names-big.txt" 3
  run_wrk mixed-big "$conns" mixed.lua "$big_host" "$(first_pool "$big_host")" \
    "$state/names-big.txt"
  rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$service_pid/status")
  kill -0 "$service_pid" 2>/dev/null || note_broken "kmsgate died under load"
  printf 'kmsgate resident memory: %s KiB before, %s KiB after the load rows\n' \
    "$rss_before" "$rss_after"
fi

if [ "$mode" = all ] || [ "$mode" = gate ]; then
  # /readyz right before and right after the 1,000-CMID gate row: the ratio
  # target compares with their mean, as this machine's ceiling drifts by a
  # quarter between runs a minute apart.
  run_wrk readyz "$conns" readyz.lua
  run_wrk gate-small "$conns" gate.lua "$small_host" "$state/names-small.txt" 3
  run_wrk readyz-after "$conns" readyz.lua
  run_wrk forecast-small "$conns" forecast.lua "$small_host"
  run_wrk gate-big "$conns" gate.lua "$big_host" "$state/names-big.txt" 3
  run_wrk gate-big-c1 1 gate.lua "$big_host" "$state/names-big.txt" 3
  kill -0 "$service_pid" 2>/dev/null || note_broken "kmsgate died during the wrk runs"
fi

# ---------------------------------------------------------------- ingest ---
ingest_line=
if [ "$mode" = all ] || [ "$mode" = ingest ]; then
  kg_say "ingest: $events events in batches of 10,000, $uploaders uploaders"
  /usr/bin/python3 "$bench_dir/seed.py" --db "$KMSGATE_DATABASE_URL" --host "$ingest_host" \
    --cmids 50000 --pools 10 --inventory-only
  rc=0
  /usr/bin/python3 "$bench_dir/ingest.py" --url "$url" --token-file "$state/hook-token" \
    --host "$ingest_host" --events "$events" --uploaders "$uploaders" --cmids 50000 --pools 10 \
    >"$state/ingest.txt" 2>"$state/ingest-batches.log" || rc=$?
  ingest_line=$(grep '^KGINGEST ' "$state/ingest.txt" || true)
  if [ "$rc" -ne 0 ] || [ -z "$ingest_line" ]; then
    grep -v '^batch ' "$state/ingest-batches.log" >&2 || true
    note_broken "ingest failed (exit $rc)"
  fi
fi

# ----------------------------------------------------------------- report ---
kg_say "results"
server_errors=$(grep -c '"status":5[0-9][0-9]' "$state/kmsgate.log" || true)
/usr/bin/python3 - "$results" "$quick" "$big" "$conns" "$duration" "$threads" "$ingest_line" \
  "$server_errors" "$idle_before" "$routes" <<'EOF' | tee "$state/last-report.md"
import datetime, os, platform, re, subprocess, sys

results, quick, big, conns, duration, threads, ingest_line, server_errors, idle, routes_file = \
    sys.argv[1:11]
quick = quick == "1"
big = int(big)

def parse(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}

rows = {}
for line in open(results):
    d = parse(line)
    rows[d["label"]] = d
# Server-side latency of the gate route in each run (from the service log).
gate_route = {}
for line in open(routes_file):
    d = parse(line)
    if d["route"] == "POST_/v1/gate":
        gate_route[d["label"]] = d

cpu = "?"
try:
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
except OSError:
    pass
pg = subprocess.run(["/usr/lib/postgresql/15/bin/postgres", "--version"], capture_output=True,
                    text=True).stdout.strip()
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
print("kmsgate benchmark, %s UTC, %d CPUs (%s), %s (fsync on), KMSGATE_THREADS=%s%s%s; "
      "CPU idle before start: %s%%"
      % (now, os.cpu_count(), cpu, pg, threads,
         ", wrk -t2 -c%s -d%ss" % (conns, duration) if rows else "", ", QUICK" if quick else "",
         idle))
print()
names = [
    ("readyz", "GET /readyz"),
    ("gate-small", "POST /v1/gate (1,000 CMIDs)"),
    ("readyz-after", "GET /readyz (again)"),
    ("forecast-small", "GET forecast (1,000 CMIDs)"),
    ("gate-big", "POST /v1/gate (%s CMIDs)" % format(big, ",")),
    ("gate-big-c1", "POST /v1/gate (%s CMIDs)" % format(big, ",")),
    ("mixed-small", "mixed load (1,000 CMIDs)"),
    ("mixed-big", "mixed load (%s CMIDs)" % format(big, ",")),
]
ceilings = [float(rows[k]["rps"]) for k in ("readyz", "readyz-after") if k in rows]
base = sum(ceilings) / len(ceilings) if ceilings else None


def print_table():
    w = max(len(n) for _, n in names)
    print("| %-*s | conns | %8s | %7s | %7s | %7s | %10s |"
          % (w, "endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx", "vs /readyz"))
    print("|%s|-------|----------|---------|---------|---------|------------|" % ("-" * (w + 2)))
    for key, name in names:
        if key not in rows:
            continue
        d = rows[key]
        rps = float(d["rps"])
        errs = sum(int(d[k]) for k in ("connect_err", "read_err", "write_err", "timeouts"))
        non2xx = d["non2xx"] + ("" if errs == 0 else " +%d sock" % errs)
        pct = 100.0 * rps / base if base else None
        vs = "-" if pct is None else ("%.1f%%" % pct if pct >= 1 else "%.2f%%" % pct)
        print("| %-*s | %5s | %8.1f | %7.2f | %7.2f | %7s | %10s |"
              % (w, name, d["conns"], rps, float(d["p50_ms"]), float(d["p99_ms"]), non2xx, vs))
    if len(ceilings) > 1:
        print("vs /readyz: against the mean of the two /readyz runs (%.1f req/s)" % base)
    print()
    if gate_route:
        print("POST /v1/gate as the service logged it (handler time, no queueing in the client):")
        for key, name in names:
            if key in gate_route:
                g = gate_route[key]
                print("  %-32s %6s gates  p50 %7s ms  p99 %7s ms  max %7s ms"
                      % (key, g["n"], g["p50_ms"], g["p99_ms"], g["max_ms"]))
        print()


if rows:
    print_table()

def verdict(ok):
    return "PASS" if ok else "FAIL"

targets = []
if base and "gate-small" in rows:
    pct = 100.0 * float(rows["gate-small"]["rps"]) / base
    targets.append("gate throughput at 1,000 CMIDs >= 50%% of /readyz (mean of the runs before"
                   " and after it, %.0f req/s): %.1f%% -> %s" % (base, pct, verdict(pct >= 50)))
if "gate-big" in rows:
    p50 = float(rows["gate-big"]["p50_ms"])
    extra = ""
    if "gate-big-c1" in rows:
        c1 = float(rows["gate-big-c1"]["p50_ms"])
        extra = " (1 connection: p50 %.1f ms%s)" % (c1, " -> " + verdict(c1 < 50) if big == 100000 else "")
    if big == 100000:
        targets.append("gate p50 at 100,000 CMIDs < 50 ms, %s connections: %.1f ms -> %s%s"
                       % (rows["gate-big"]["conns"], p50, verdict(p50 < 50), extra))
    else:
        targets.append("gate p50 at %s CMIDs: %.1f ms%s (target is for 100,000 CMIDs: n/a)"
                       % (format(big, ","), p50, extra))
def mixed_targets(key, label, p99_limit):
    if key not in rows or key not in gate_route:
        return
    g = gate_route[key]
    p99 = float(g["p99_ms"])
    targets.append("gate p99 in the mixed load at %s CMIDs < %d ms (service log): %.1f ms -> %s"
                   % (label, p99_limit, p99, verdict(p99 < p99_limit)))
    alone = key.replace("mixed", "gate")
    if alone in gate_route:
        a, m = float(gate_route[alone]["p50_ms"]), float(g["p50_ms"])
        targets.append("gate p50 in the mixed load at %s CMIDs within 3x of the gate-only row"
                       " (service log): %.2f vs %.2f ms -> %s"
                       % (label, m, a, verdict(m <= 3 * max(a, 0.01))))


if base and "mixed-small" in rows:
    pct = 100.0 * float(rows["mixed-small"]["rps"]) / base
    targets.append("mixed throughput at 1,000 CMIDs >= 15%% of /readyz: %.1f%% -> %s"
                   % (pct, verdict(pct >= 15)))
mixed_targets("mixed-small", "1,000", 50)
if big == 100000:
    mixed_targets("mixed-big", "100,000", 250)
if ingest_line:
    d = parse(ingest_line)
    eps = float(d["events_per_s"])
    print("ingest: %s events in %s batches of 10,000 by %s uploaders in %s s: %.0f events/s; "
          "per batch p50 %s ms, p90 %s ms, max %s ms; accepted %s, duplicates %s, rejected %s, "
          "errors %s" % (format(int(d["events"]), ","), d["batches"], d["uploaders"], d["seconds"],
                         eps, d["batch_p50_ms"], d["batch_p90_ms"], d["batch_max_ms"],
                         d["accepted"], d["duplicates"], d["rejected"], d["errors"]))
    dup_ok = d["reingest_duplicates"] == d["reingest_records"] and d["reingest_accepted"] == "0"
    print("re-ingest of one batch (%s records): %s duplicates, %s accepted -> %s"
          % (d["reingest_records"], d["reingest_duplicates"], d["reingest_accepted"],
             verdict(dup_ok)))
    print()
    if int(d["events"]) >= 1000000:
        targets.append("ingest >= 150,000 events/s: %.0f -> %s" % (eps, verdict(eps >= 150000)))
    else:
        targets.append("ingest: %.0f events/s (target >= 150,000 is for 1,000,000 events: n/a)" % eps)
print("targets%s:" % (" (informational; --quick sizes are smaller)" if quick else " (informational)"))
for t in targets:
    print("  " + t)
if server_errors != "0":
    print("\nkmsgate logged %s responses with status 5xx (see var/bench/kmsgate.log)" % server_errors)
EOF

while read -r line; do
  label=$(grep -oP 'label=\K\S+' <<<"$line")
  for k in non2xx connect_err read_err write_err timeouts; do
    v=$(grep -oP "\b$k=\K[0-9]+" <<<"$line")
    [ "${v:-0}" -eq 0 ] || note_broken "$label: $k=$v"
  done
done <"$results"
[ "${server_errors:-0}" -eq 0 ] || note_broken "kmsgate answered $server_errors requests with 5xx"
if [ "$broke" -ne 0 ]; then
  echo "bench: something broke (see above); logs in $state" >&2
  exit 1
fi
echo "bench: done; logs and raw wrk output in $state"
