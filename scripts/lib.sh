# shellcheck shell=bash
# Shared set-up for scripts/run.sh and scripts/test.sh: packages, builds and
# a local PostgreSQL. Sourced, not executed.

KG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Local state (the bootstrap token, PostgreSQL data: see kg_pg_home);
# KMSGATE_STATE_DIR moves it. Absolute: PostgreSQL runs from another folder.
KG_VAR=$(realpath -m "${KMSGATE_STATE_DIR:-$KG_ROOT/var}")
KG_PG_BIN=/usr/lib/postgresql/15/bin
# The unprivileged account that owns local PostgreSQL data when we run as root.
KG_PG_USER=kmsgate-pg

# What scripts/run.sh needs to build and run (the README's first command);
# the test command adds KG_TEST_PACKAGES. Split so that the first run on a
# bare machine downloads only what it uses.
KG_RUN_PACKAGES=(build-essential cmake pkg-config libulfius-dev libjansson-dev libpq-dev
  libmicrohttpd-dev libgnutls28-dev libxml2-dev postgresql-15 postgresql-client-15 curl python3 tzdata)
KG_TEST_PACKAGES=(libcmocka-dev libcurl4-gnutls-dev wrk python3-yaml clang clang-format
  libclang-rt-14-dev openssl chromium chromium-driver prometheus python3-requests git jq)
KG_PACKAGES=("${KG_RUN_PACKAGES[@]}" "${KG_TEST_PACKAGES[@]}")

kg_say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
kg_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt-get that waits for a dpkg lock another apt holds instead of failing.
kg_apt() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }

# kg_ensure_packages [PACKAGE...]: installs those of the Debian packages
# (default: KG_PACKAGES) that are missing; needs root the first time.
# No pipeline ends in `grep -q` here: under pipefail, grep -q leaving at its
# first match kills the writer with SIGPIPE and the pipeline fails, so a
# package apt offers read as missing (issue 22). Outputs are captured first.
kg_ensure_packages() {
  local missing=() lacking=() p out log rc t=$SECONDS
  [ $# -gt 0 ] || set -- "${KG_PACKAGES[@]}"
  for p in "$@"; do
    out=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || out=
    [ "$out" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || kg_die "missing packages (${missing[*]}); run once as root or install them"
  kg_say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp /tmp/kg-apt.XXXXXX)
  # --error-on=any: a mirror that cannot be reached is an error, not a warning
  # followed by "apt offers no package" for everything.
  kg_apt update -q --error-on=any >"$log" 2>&1 ||
    { cat "$log" >&2; rm -f "$log"; kg_die "apt-get update failed (output above)"; }
  for p in "${missing[@]}"; do
    out=$(apt-cache policy "$p" 2>/dev/null) || out=
    [[ $out =~ Candidate:\ [0-9] ]] || lacking+=("$p")
  done
  [ ${#lacking[@]} -eq 0 ] ||
    { rm -f "$log"; kg_die "apt offers no package ${lacking[*]} (check /etc/apt/sources.list*)"; }
  rc=0
  kg_apt install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -30 "$log" >&2; rm -f "$log"
    kg_die "apt-get install failed (exit $rc; its last lines above)"
  fi
  # apt's own summary: how many packages came and how much was downloaded.
  out=$(grep -E 'newly installed|^Need to get |^Fetched ' "$log" | sed 's/^/    /') || out=
  rm -f "$log"
  kg_say "installed in $((SECONDS - t))s"
  [ -z "$out" ] || printf '%s\n' "$out" >&2
}

# kg_build DIR [cmake args...]: configures once, then builds incrementally.
kg_build() {
  local dir=$1; shift
  cmake -S "$KG_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)" >/dev/null || { cmake --build "$dir" -j1; return 1; }
}

# Runs a command as the PostgreSQL owner: ourselves, or KG_PG_USER when root
# (from /: our own folder may be closed to it, and initdb complains then).
kg_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u "$KG_PG_USER" -- "$@")
  else
    "$@"
  fi
}

kg_ensure_pg_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id "$KG_PG_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --shell /usr/sbin/nologin "$KG_PG_USER"
}

# Picks a TCP port nobody listens on.
kg_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# kg_pg_home DIR: the folder a local PostgreSQL meant for DIR really uses.
# DIR itself, except as root when KG_PG_USER cannot reach DIR's folder (a
# clone under /root, mode 0700): then /var/lib/kmsgate/HASH/NAME, with HASH
# from that folder's path, so each clone keeps its own data between runs.
kg_pg_home() {
  local dir=$1 parent hash
  parent=$(dirname "$dir")
  mkdir -p "$parent"
  if [ "$(id -u)" -ne 0 ] || { kg_ensure_pg_user && kg_as_pg test -x "$parent"; }; then
    echo "$dir"
    return
  fi
  hash=$(printf '%s' "$parent" | sha256sum | cut -c1-12)
  install -d -m 0755 /var/lib/kmsgate "/var/lib/kmsgate/$hash"
  echo "$parent" >"/var/lib/kmsgate/$hash/origin"   # whose data this is
  kg_say "$KG_PG_USER cannot enter $parent: PostgreSQL data goes to /var/lib/kmsgate/$hash/$(basename "$dir")"
  echo "/var/lib/kmsgate/$hash/$(basename "$dir")"
}

# kg_pg_start DIR: starts (initialising if needed) a PostgreSQL whose data and
# socket live in DIR, listening on the Unix socket only. Sets KG_PG_URL.
kg_pg_start() {
  local dir=$1 port
  kg_ensure_pg_user
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$KG_PG_USER" "$dir"
  kg_as_pg test -w "$dir" ||
    kg_die "$KG_PG_USER cannot write $dir: every parent folder must be traversable (chmod o+x)"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    kg_as_pg "$KG_PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; kg_die "initdb failed"; }
  fi
  port=$(cat "$dir/port" 2>/dev/null || true)
  [ -n "$port" ] || { port=$(kg_free_port); echo "$port" >"$dir/port"; }
  if ! kg_as_pg "$KG_PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    # The socket file name carries the port: a fresh free port keeps two
    # clusters of one machine apart even if they shared a socket folder.
    kg_as_pg "$KG_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-k $dir -p $port -c listen_addresses='' -c fsync=${KG_PG_FSYNC:-on} -c max_connections=300" \
      start >/dev/null || { tail -20 "$dir/postgres.log"; kg_die "PostgreSQL did not start"; }
  fi
  KG_PG_DIR=$dir
  KG_PG_PORT=$port
  KG_PG_URL="postgresql://postgres@/kmsgate?host=$dir&port=$port"
}

kg_pg_stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  kg_as_pg "$KG_PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# kg_pg_createdb NAME: creates a database in the cluster of kg_pg_start.
kg_pg_createdb() {
  local found
  found=$(psql -h "$KG_PG_DIR" -p "$KG_PG_PORT" -U postgres -d postgres -qAt \
    -c "SELECT 1 FROM pg_database WHERE datname = '$1'") || return 1
  [ "$found" = 1 ] ||
    psql -h "$KG_PG_DIR" -p "$KG_PG_PORT" -U postgres -d postgres -q -c "CREATE DATABASE \"$1\"" >/dev/null
}
