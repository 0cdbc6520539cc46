#!/usr/bin/env bash
# The main job: install what is missing, build, start a local PostgreSQL when
# KMSGATE_DATABASE_URL is unset (data kept in var/pg between runs, or under
# /var/lib/kmsgate/ when root and the project folder is closed), migrate,
# create the bootstrap admin token once, and serve until Ctrl-C.
#   scripts/run.sh [--demo]     --demo loads a small demo estate on first use
set -euo pipefail
source "$(dirname "$0")/lib.sh"

demo=0
for arg in "$@"; do
  case $arg in
    --demo) demo=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) kg_die "unknown option $arg (try --help)" ;;
  esac
done

kg_ensure_packages "${KG_RUN_PACKAGES[@]}"
kg_say "building build/kmsgate"
kg_build "$KG_ROOT/build" -DKMSGATE_TESTS=OFF
bin="$KG_ROOT/build/kmsgate"
mkdir -p "$KG_VAR"

own_pg=0
if [ -z "${KMSGATE_DATABASE_URL:-}" ]; then
  pgdir=$(kg_pg_home "$KG_VAR/pg")
  kg_say "starting the local PostgreSQL; its data: $pgdir"
  kg_pg_start "$pgdir"
  kg_pg_createdb kmsgate
  export KMSGATE_DATABASE_URL=$KG_PG_URL
  own_pg=1
fi

service_pid=
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$service_pid" ]; then
    kill -TERM "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  if [ "$own_pg" -eq 1 ]; then
    kg_say "stopping the local PostgreSQL"
    kg_pg_stop "$pgdir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kg_say "migrating"
"$bin" migrate

# The token named bootstrap-admin is made once per database: exit status 3
# means this database has it already, and the file from that run holds it.
# A copy is kept beside the local PostgreSQL's data (root only, mode 0600) when
# that data lives outside the project (/var/lib/kmsgate/HASH): a clone deleted
# and made again at the same path finds its database and its token there.
token_file="$KG_VAR/admin-token"
kept=
[ "$own_pg" -eq 0 ] || kept="$(dirname "$pgdir")/admin-token"
[ "$kept" != "$token_file" ] || kept=
rc=0
( umask 077; "$bin" token create --role admin --name bootstrap-admin >"$token_file.new" 2>/dev/null ) || rc=$?
if [ "$rc" -eq 0 ]; then
  mv "$token_file.new" "$token_file"
  [ -z "$kept" ] || install -m 0600 "$token_file" "$kept"
  kg_say "bootstrap admin token (shown once; also saved in $token_file, mode 0600):"
  cat "$token_file"
elif [ "$rc" -eq 3 ]; then
  rm -f "$token_file.new"
  if [ ! -s "$token_file" ] && [ -n "$kept" ] && [ -s "$kept" ]; then
    install -m 0600 "$kept" "$token_file"
    kg_say "the bootstrap admin token was made before; $token_file was gone: restored from $kept"
  elif [ -s "$token_file" ]; then
    kg_say "the bootstrap admin token was made before: see $token_file"
  else
    # A file that does not exist must not be named as the place to look.
    kg_say "this database has its bootstrap admin token already, but $token_file is gone" \
      "(an earlier run made it, maybe in a clone since deleted). While this serves, this" \
      "makes a new admin token for it, in another terminal:"
    printf "  (umask 077; KMSGATE_DATABASE_URL='%s' %q token create --role admin --name admin-%s >%q)\n" \
      "$KMSGATE_DATABASE_URL" "$bin" "$(date +%Y%m%d-%H%M%S)" "$token_file" >&2
  fi
else
  rm -f "$token_file.new"
  kg_die "could not create the bootstrap admin token"
fi

"$bin" serve &
service_pid=$!
listen=${KMSGATE_LISTEN:-127.0.0.1:8080}
for _ in $(seq 1 100); do
  curl -fsS "http://$listen/readyz" >/dev/null 2>&1 && break
  kill -0 "$service_pid" 2>/dev/null || kg_die "kmsgate serve exited"
  sleep 0.2
done

if [ "$demo" -eq 1 ] && [ ! -s "$token_file" ]; then
  kg_say "demo not loaded: it needs the admin token in $token_file (see above)"
elif [ "$demo" -eq 1 ]; then
  kg_say "loading the demo estate"
  /usr/bin/python3 "$KG_ROOT/scripts/demo.py" --url "http://$listen" --token-file "$token_file"
fi
kg_say "kmsgate serves on http://$listen (Ctrl-C stops it)"
wait "$service_pid"
