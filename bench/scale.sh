# bench/scale.sh: the scale measurement of `bench/run.sh scale`, sourced by
# run.sh after the service is up (it uses run.sh's variables and functions).
#
# An estate of 1,000,000 CMIDs over 20 KMS hosts seeded by bench/seed.py: one
# host of 240,000 CMIDs and 19 of 40,000 (--quick: 100,000 in all). Measures
#   - the first gate on each host (each loads that host's estate: cold cache),
#   - gate latency at 1 connection on the largest host (warm cache),
#   - kmsgate's resident memory with all 20 estates cached,
#   - the first gate on the largest host after a restart (cold cache), as
#     curl sees it.
# Targets (issue 15): p50 < 10 ms, memory < 1 GiB, first gate after a restart < 2 s.

scale_hosts=20
if [ "$quick" -eq 1 ]; then largest=24000 others=4000; else largest=240000 others=40000; fi
scale_total=$((largest + (scale_hosts - 1) * others))

# gate_once HOST NAMES_FILE: prints curl's total time in ms of one plain gate.
gate_once() {
  local body
  body=$(head -3 "$2" | awk 'BEGIN { printf "[" } { printf "%s\"%s\"", (NR > 1 ? "," : ""), $0 }
                              END { printf "]" }')
  curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $hook_token" \
    -H 'Content-Type: application/json' \
    -d "{\"kms_host\":\"$1\",\"decommission\":{\"desktops\":$body}}" "$url/v1/gate" |
    awk '{ printf "%.1f\n", $1 * 1000 }'
}

kg_say "scale: seeding $scale_hosts hosts, $scale_total CMIDs in all (largest $largest)"
for i in $(seq -w 1 "$scale_hosts"); do
  n=$others
  [ "$i" = 01 ] && n=$largest
  /usr/bin/python3 "$bench_dir/seed.py" --db "$KMSGATE_DATABASE_URL" --host "kms-s$i.bench.example" \
    --tag "s$i" --cmids "$n" --pools 10 --names-out "$state/names-s$i.txt" >/dev/null 2>&1 ||
    kg_die "seeding kms-s$i failed"
done
largest_host=kms-s01.bench.example

cold_first=$(gate_once "$largest_host" "$state/names-s01.txt") || note_broken "first gate failed"
for i in $(seq -w 2 "$scale_hosts"); do
  gate_once "kms-s$i.bench.example" "$state/names-s$i.txt" >/dev/null || note_broken "gate kms-s$i failed"
done
run_wrk scale-c1 1 gate.lua "$largest_host" "$state/names-s01.txt" 3
rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$service_pid/status")

kg_say "scale: restarting kmsgate (cold cache)"
kill -TERM "$service_pid"
wait "$service_pid" || true
start_service
restart_first=$(gate_once "$largest_host" "$state/names-s01.txt") || note_broken "gate after restart failed"
restart_second=$(gate_once "$largest_host" "$state/names-s01.txt") || note_broken "second gate failed"

line=$(grep '^KGBENCH label=scale-c1' "$results" || true)
p50=$(grep -oP 'p50_ms=\K[0-9.]+' <<<"$line")
p99=$(grep -oP 'p99_ms=\K[0-9.]+' <<<"$line")
rps=$(grep -oP 'rps=\K[0-9.]+' <<<"$line")
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
kg_say "scale results"
{
  printf 'scale: %d CMIDs over %d hosts (largest %d), %s\n' "$scale_total" "$scale_hosts" \
    "$largest" "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf '  gate at 1 connection on the largest host: %s req/s, p50 %s ms, p99 %s ms -> %s\n' \
    "$rps" "$p50" "$p99" "$(verdict "${p50:-1e9} < 10")"
  printf '  resident memory with all %d estates cached: %d MiB -> %s\n' "$scale_hosts" \
    "$((rss_kib / 1024))" "$(verdict "$rss_kib < 1048576")"
  printf '  first gate on the largest host: %s ms (before the restart, cold)\n' "$cold_first"
  printf '  first gate after a restart: %s ms -> %s (the next one: %s ms)\n' "$restart_first" \
    "$(verdict "${restart_first:-1e9} < 2000")" "$restart_second"
} | tee "$state/last-report.md"
