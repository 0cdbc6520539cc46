#!/usr/bin/env bash
# A PostgreSQL cluster for kmsgate under Patroni on one machine: etcd 3.4 and
# three Patroni members (deploy/ha/patroni.yml), all on 127.0.0.1 with free
# ports and everything under DIR, run as the unprivileged kmsgate-pg user
# when started as root (PostgreSQL refuses root).
#   deploy/ha/patroni-cluster.sh start DIR   prints KMSGATE_DATABASE_URL: the
#                                             members' multi-host URL
#   deploy/ha/patroni-cluster.sh stop DIR    stops the members and etcd
# DIR/ports.env holds the ports, DIR/*.pid the process ids, DIR/*.log the logs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../scripts/lib.sh"   # kg_as_pg, kg_ensure_pg_user, kg_free_port
cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] && { [ "$cmd" = start ] || [ "$cmd" = stop ]; } ||
  kg_die "usage: $0 start|stop DIR"
members=(pg1 pg2 pg3)

# Runs a program in the background as the PostgreSQL user; its pid in DIR/NAME.pid.
spawn() {
  local name=$1; shift
  kg_as_pg sh -c 'echo $$ >"$0"; exec "$@"' "$dir/$name.pid" "$@" >>"$dir/$name.log" 2>&1 &
}

# waits SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
waits() {
  local n=$(($1 * 10)); shift
  until "$@" >/dev/null 2>&1; do
    n=$((n - 1)); [ "$n" -gt 0 ] || return 1
    sleep 0.1
  done
}

start() {
  kg_ensure_pg_user
  mkdir -p "$dir"; dir=$(realpath "$dir")
  [ "$(id -u)" -eq 0 ] && chown "$KG_PG_USER" "$dir"
  {
    echo "ETCD_PORT=$(kg_free_port)"; echo "ETCD_PEER_PORT=$(kg_free_port)"
    for m in "${members[@]}"; do
      echo "${m}_PG_PORT=$(kg_free_port)"; echo "${m}_REST_PORT=$(kg_free_port)"
    done
  } >"$dir/ports.env"
  source "$dir/ports.env"
  spawn etcd /usr/bin/etcd --name etcd1 --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "etcd1=http://127.0.0.1:$ETCD_PEER_PORT"
  waits 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health" || kg_die "etcd did not start: $dir/etcd.log"
  local m pg rest urls=()
  for m in "${members[@]}"; do
    pg=${m}_PG_PORT; rest=${m}_REST_PORT
    sed -e "s|@NAME@|$m|g" -e "s|@DIR@|$dir|g" -e "s|@ETCD_PORT@|$ETCD_PORT|g" \
      -e "s|@PG_PORT@|${!pg}|g" -e "s|@REST_PORT@|${!rest}|g" "$here/patroni.yml" >"$dir/$m.yml"
    spawn "$m" /usr/bin/patroni "$dir/$m.yml"
    urls+=("127.0.0.1:${!pg}")
    # The first member bootstraps the cluster; the others clone it.
    waits 90 curl -sf "http://127.0.0.1:${!rest}/health" || kg_die "$m did not start: $dir/$m.log"
  done
  local leader
  leader=$(curl -sf "http://127.0.0.1:${pg1_REST_PORT}/cluster" |
    /usr/bin/python3 -c 'import json,sys; print([m["port"] for m in json.load(sys.stdin)["members"] if m["role"] == "leader"][0])')
  waits 60 sh -c "curl -sf http://127.0.0.1:$pg1_REST_PORT/cluster | grep -q sync_standby" ||
    kg_die "no synchronous standby: $dir/*.log"
  psql -h 127.0.0.1 -p "$leader" -U postgres -d postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname = 'kmsgate'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$leader" -U postgres -d postgres -qc "CREATE DATABASE kmsgate"
  local IFS=,
  echo "postgresql://postgres@${urls[*]}/kmsgate?target_session_attrs=read-write"
}

stop() {
  local name pid
  for name in "${members[@]}" etcd; do
    pid=$(cat "$dir/$name.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || continue
    waits 30 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
  done
}

"$cmd"
