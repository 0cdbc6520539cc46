#!/usr/bin/env bash
# The README's first command on a bare Debian 12, as a newcomer runs it: a
# container from the minbase base image (scripts/lib-container.sh: debootstrap
# only, none of the project's packages), the project's git-tracked files
# copied to /root/kmsgate (/root mode 0700, so PostgreSQL's data goes to
# /var/lib/kmsgate/HASH), and `scripts/run.sh --demo` run there as root. It
# must install the packages, build, start PostgreSQL, migrate, load the demo
# and serve: then /readyz, the README's demo gate over HTTP (a 409 no-go, 10
# could go), and Ctrl-C (SIGINT to run.sh's process group, as a terminal sends
# it) must stop kmsgate and PostgreSQL with exit status 130. The container
# reaches Debian's mirror as this machine does: this machine's apt sources and
# Acquire settings are copied in. Only the base image is cached between runs.
# Prints each step's time and what apt downloaded; ends with "N passed, N failed".
#   scripts/test-bare.sh [--full]
#     --full   then also `scripts/test.sh --quick` in a second bare container (the
#              README's second command from nothing; 30 minutes on a busy 2-core machine), with
#              KG_CONTAINER_TESTS=0 there: podman does not run inside it.
# shellcheck disable=SC2317,SC2016  # checks run through check and need; $ for the container
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-container.sh"

full=0
case ${1:-} in
  --full) full=1 ;;
  "") ;;
  *) kg_die "unknown option $1 (scripts/test-bare.sh [--full])" ;;
esac

run=kg-bare-$$-$RANDOM   # unique: others may run podman here at the same time
kg_label=bare

[ "$(id -u)" -eq 0 ] || kg_die "run as root (rootful podman)"

cleanup() {
  set +e
  podman --runtime runc rm -f -i -t 0 "$run-demo" "$run-full" >/dev/null 2>&1
  rm -rf "/tmp/$run".*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cx NAME CMD...: a shell command line in container NAME, quietly (polls).
cx() { local name=$1; shift; podman --runtime runc exec "$name" bash -c "$*"; }

# This machine's apt sources, the keyrings they name and its Acquire settings
# (proxy, Check-Valid-Until for a snapshot mirror...), as a tar stream.
apt_config_tar() {
  local files=() f key
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] || continue
    files+=("$f")
    while read -r key; do
      [ ! -f "$key" ] || files+=("$key")
    done < <(sed -n 's/.*[Ss]igned-[Bb]y[:=] *\([^] ]*\).*/\1/p' "$f")
  done
  for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
    [ -f "$f" ] && grep -qi '^[^/#]*acquire' "$f" && files+=("$f")
  done
  tar -C / -c "${files[@]#/}" 2>/dev/null
}

# bare NAME: a container from the base image, this machine's apt settings in
# place of the image's own sources, the project in /root/kmsgate. PID 1 is a
# shell loop, which also reaps what run.sh's children leave behind.
bare() {
  local name=$1
  pm run -d --name "$name" --hostname bare "$KG_BASE_IMAGE" \
    bash -c 'trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null || return 1
  cx "$name" 'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*; chmod 0700 /root;
    mkdir -m 0755 /root/kmsgate' &&
    apt_config_tar | podman --runtime runc exec -i "$name" tar -x -C / &&
    project_tar | podman --runtime runc exec -i "$name" tar -x -C /root/kmsgate
}

# The project as a clone of it holds it, as a tar stream: a git clone (the
# API tests clone it again) with this working tree's tracked files and new
# files not yet committed over it; not build/ or var/ (ignored).
project_tar() {
  local dir=/tmp/$run.clone
  rm -rf "$dir"
  git clone -q --no-hardlinks "$KG_ROOT" "$dir" &&
    git -C "$KG_ROOT" ls-files -z --cached --others --exclude-standard |
    tar -C "$KG_ROOT" --null -T - --ignore-failed-read -c 2>/dev/null | tar -x -C "$dir" &&
    tar -C "$dir" -c . && rm -rf "$dir"
}

# ------------------------------------------------------ the first command
# shellcheck disable=SC2119  # no extra packages
need "podman, its configuration and the base image $KG_BASE_IMAGE" kg_podman_setup
need "bare container from $KG_BASE_IMAGE, the project in /root/kmsgate" bare "$run-demo"
none_installed() {
  local out
  # shellcheck disable=SC2016  # dpkg-query's own ${Field} syntax
  out=$(cx "$run-demo" 'dpkg-query -W -f="\${Package} \${Status}\n" gcc cmake postgresql-15 curl python3 \
    2>/dev/null; true')
  [[ $out != *"install ok installed"* ]] || { printf '%s\n' "$out"; return 1; }
}
check "none of the project's packages in the container" none_installed

# As a terminal runs it: setsid makes a process group with run.sh in the
# foreground, whose exit status is kept in /root/run.rc.
t=$SECONDS
pm exec -d "$run-demo" setsid bash -c 'echo $$ >/root/run.pid; cd /root/kmsgate
  scripts/run.sh --demo >/root/run.log 2>&1; echo $? >/root/run.rc' >/dev/null
log() { cx "$run-demo" 'cat /root/run.log'; }
readyz() {
  cx "$run-demo" 'for _ in $(seq 1 900); do
      [ ! -e /root/run.rc ] || exit 1
      curl -fsS -o /dev/null http://127.0.0.1:8080/readyz 2>/dev/null && exit 0
      sleep 1
    done; exit 1' || { log | tail -30; return 1; }
}
need "scripts/run.sh --demo: /readyz 200 (installed, built, migrated)" readyz
ready=$((SECONDS - t))
printf 'bare: /readyz 200 after %ds; apt:\n' "$ready"
log | sed -n '/==> installed in/,/^ *Fetched/p'

demo_loaded() {
  cx "$run-demo" 'for _ in $(seq 1 120); do
      grep -q "kmsgate serves on" /root/run.log && exit 0
      [ ! -e /root/run.rc ] || exit 1
      sleep 0.5
    done; exit 1' && [[ $(log) == *$'\ndemo: loaded'* ]] && return 0
  log | tail -20
  return 1
}
check "the demo estate loaded" demo_loaded
check "the PostgreSQL data is under /var/lib/kmsgate (kmsgate-pg cannot enter /root)" \
  cx "$run-demo" 'grep -q "its data: /var/lib/kmsgate/[0-9a-f]\{12\}/pg" /root/run.log'

# The README's demo gate: decommissioning the whole Horizon pool is refused.
demo_gate() {
  local out
  # shellcheck disable=SC2016  # expanded in the container
  out=$(cx "$run-demo" 'cd /root/kmsgate && TOKEN=$(cat var/admin-token) &&
    curl -sS -w "\nHTTP %{http_code}\n" -H "Authorization: Bearer $TOKEN" \
      -H "Content-Type: application/json" -X POST "http://127.0.0.1:8080/v1/gate?enforce=true" \
      -d "{\"kms_host\": \"kms01.corp.example\", \"decommission\": {\"pool\": \"horizon-finance\", \"count\": 18}}"') ||
    return 1
  printf 'bare: the demo gate answered: %s ...\n%s\n' "${out:0:160}" "${out##*$'\n'}"
  [[ $out == *$'\nHTTP 409' ]] && [[ $out == *'"decision":"no-go"'* ]] &&
    [[ $out == *'"max_decommission":10'* ]]
}
check "the README's demo gate over HTTP: 409 no-go, max_decommission 10" demo_gate

# Ctrl-C: SIGINT to the whole foreground process group, as a terminal sends it.
ctrl_c() {
  cx "$run-demo" 'kill -INT -- "-$(cat /root/run.pid)" &&
    for _ in $(seq 1 120); do [ ! -e /root/run.rc ] || exit 0; sleep 0.5; done; exit 1' ||
    { log | tail -20; return 1; }
}
need "Ctrl-C: run.sh exits within 60 s" ctrl_c
rc=$(cx "$run-demo" 'cat /root/run.rc')
check "run.sh's exit status after Ctrl-C is 130 (was $rc)" test "$rc" = 130
# Processes still running (not zombies) of run.sh, kmsgate, pg_ctl or PostgreSQL.
# shellcheck disable=SC2016  # expanded in the container
left=$(cx "$run-demo" 'for d in /proc/[0-9]*; do
    c=$(cat "$d/comm" 2>/dev/null) || continue
    case $c in run.sh|kmsgate|postgres|pg_ctl) ;; *) continue ;; esac
    s=$(sed -n "s/^State:[[:space:]]*\(.\).*/\1/p" "$d/status" 2>/dev/null)
    [ "$s" = Z ] || echo "${d#/proc/} $c"
  done')
check "nothing left running after Ctrl-C (found: ${left:-none})" test -z "$left"
check "PostgreSQL shut down cleanly (no postmaster.pid)" \
  cx "$run-demo" '! ls /var/lib/kmsgate/*/pg/data/postmaster.pid 2>/dev/null'
check "the log tells PostgreSQL stopped" cx "$run-demo" 'grep -q "stopping the local PostgreSQL" /root/run.log'
printf 'bare: scripts/run.sh --demo from nothing to the demo gate and Ctrl-C in %ds\n' $((SECONDS - t))
podman --runtime runc rm -f -t 0 "$run-demo" >/dev/null

# ------------------------------------------------------ the second command
if [ "$full" -eq 1 ]; then
  need "bare container for scripts/test.sh --quick" bare "$run-full"
  t=$SECONDS
  rc=0
  cx "$run-full" 'cd /root/kmsgate && KG_CONTAINER_TESTS=0 scripts/test.sh --quick' \
    >"/tmp/$run.full.log" 2>&1 || rc=$?
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "/tmp/$run.full.log" | tail -1) || summary=
  printf 'bare: scripts/test.sh --quick from nothing: exit %d after %ds: %s\n' "$rc" \
    $((SECONDS - t)) "${summary:-no summary line}"
  grep -E '^(FAIL|error:)' "/tmp/$run.full.log" || true
  [ "$rc" -eq 0 ] || tail -40 "/tmp/$run.full.log"
  check "scripts/test.sh --quick in a bare container" test "$rc" -eq 0 -a -n "$summary"
fi
finish
