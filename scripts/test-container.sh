#!/usr/bin/env bash
# The container image, tested for real with podman, as root and with no image
# registry: makes a Debian 12 base image with debootstrap (once; cached as
# localhost/debian:12-slim), builds docker/Dockerfile and docker/postgres.Dockerfile
# on it, runs both on a private network and checks migrate, a token, the
# README's curl tour (a gate passes), /readyz, the HEALTHCHECK, a read-only
# root filesystem, the non-root user, the SIGTERM drain, the image's size and
# packages, and docker/compose.local.yaml. Removes its containers, network and
# volumes; keeps the images as a cache. Ends with "N passed, N failed".
#   scripts/test-container.sh
# shellcheck disable=SC2317,SC2016  # checks run through check and need; $ for the container
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-container.sh"

BASE=$KG_BASE_IMAGE
IMAGE=localhost/kmsgate:latest
PG_IMAGE=localhost/kmsgate-postgres:15
# Unique per run: other people may run podman on this machine at the same time.
run=kg-ct-$$-$RANDOM
kg_label=container

[ "$(id -u)" -eq 0 ] || kg_die "run as root (rootful podman)"

# --------------------------------------------------------------- set-up
# Debian 12's podman uses CNI networks, which resolve container names (db)
# only with the dnsname plugin. ss (iproute2) tells when the drain test's
# upload is under way.
TOOLS=(podman-compose golang-github-containernetworking-plugin-dnsname iproute2)

build() {
  pm build -q --format docker --build-arg DEBIAN_IMAGE="$BASE" -f "$1" -t "$2" "$KG_ROOT" >/dev/null
}

cleanup() {
  set +e
  [ -z "${composed:-}" ] || compose_down
  podman --runtime runc rm -f -i -t 0 "$run-kmsgate" "$run-db" >/dev/null 2>&1
  podman --runtime runc network rm -f "$run" >/dev/null 2>&1
  podman --runtime runc volume rm -f "$run-pgdata" >/dev/null 2>&1
  rm -rf "/tmp/$run".*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need "podman, its configuration and the base image $BASE" kg_podman_setup "${TOOLS[@]}"
t=$SECONDS
need "build $IMAGE (docker/Dockerfile)" build docker/Dockerfile "$IMAGE"
need "build $PG_IMAGE (docker/postgres.Dockerfile)" build docker/postgres.Dockerfile "$PG_IMAGE"
printf 'container images built in %ds\n' $((SECONDS - t))

# ------------------------------------------------------- image hygiene
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
printf 'image %s: %d MB\n' "$IMAGE" $((size / 1000000))
# shellcheck disable=SC2016  # dpkg-query's own ${Field} syntax
packages=$(pm run --rm --no-healthcheck --entrypoint dpkg-query "$IMAGE" -W -f '${Package}\n')
printf 'runtime packages (%d): %s\n' "$(wc -l <<<"$packages")" "$(tr '\n' ' ' <<<"$packages")"
# shellcheck disable=SC2016  # $c belongs to the container's shell
no_compiler() {
  ! grep -xE 'gcc(-[0-9]+)?|cpp(-[0-9]+)?|clang(-[0-9]+)?|binutils|libc6-dev|make|cmake' <<<"$packages" &&
    pm run --rm --no-healthcheck --entrypoint sh "$IMAGE" \
      -c 'for c in cc gcc c99 ld as make; do if command -v "$c"; then exit 1; fi; done'
}
check "no compiler, linker or build tool in the runtime image" no_compiler
check "the image's USER is kmsgate" \
  test "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = kmsgate
check "the image declares a HEALTHCHECK" \
  grep -q kmsgate-healthcheck <<<"$(podman image inspect --format '{{.HealthCheck}}' "$IMAGE")"

# ------------------------------------------------- kmsgate beside PostgreSQL
password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
url="postgresql://kmsgate:$password@db:5432/kmsgate"
pm network create "$run" >/dev/null
pm volume create "$run-pgdata" >/dev/null
pm run -d --name "$run-db" --network "$run" --network-alias db -v "$run-pgdata:/var/lib/postgresql/data" \
  -e POSTGRES_USER=kmsgate -e POSTGRES_DB=kmsgate -e POSTGRES_PASSWORD="$password" "$PG_IMAGE" >/dev/null
pg_ready() {
  local _
  for _ in $(seq 1 60); do
    podman exec "$run-db" pg_isready -q -h 127.0.0.1 && return 0
    sleep 0.5
  done
  podman logs "$run-db" | tail -20
  return 1
}
need "PostgreSQL container ready" pg_ready

kmsgate() { pm run --rm --no-healthcheck --network "$run" -e KMSGATE_DATABASE_URL="$url" "$IMAGE" "$@"; }
need "kmsgate migrate" kmsgate migrate
make_token() { token=$(kmsgate token create --role admin --name container-test) && [ -n "$token" ]; }
need "kmsgate token create" make_token

port=$(kg_free_port)
# --read-only: the service writes nothing to disk; its logs go to stderr.
# Without systemd podman cannot run the HEALTHCHECK on a timer and logs
# "unable to get systemd connection" errors, harmless: the test runs it by hand.
pm run -d --name "$run-kmsgate" --network "$run" --read-only -p "127.0.0.1:$port:8080" \
  -e KMSGATE_DATABASE_URL="$url" -e KMSGATE_THREADS=4 "$IMAGE" >/dev/null
base="http://127.0.0.1:$port"
readyz() {
  local _
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && return 0
    sleep 0.25
  done
  podman logs "$run-kmsgate" 2>&1 | tail -20
  return 1
}
need "/readyz 200 from the read-only kmsgate container" readyz
check "the service runs as uid 10001" test "$(podman exec "$run-kmsgate" id -u)" = 10001
check "the root filesystem is read-only" \
  test "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$run-kmsgate")" = true
check "the HEALTHCHECK command passes" pm healthcheck run "$run-kmsgate"

# The README's curl tour: a host, a pool, 27 desktops, their activations, a
# no-go, then a reserved go that is committed.
tour() {
  local out
  out=$(sed -n '/<!-- curl-tour:start -->/,/<!-- curl-tour:end -->/p' "$KG_ROOT/README.md" |
    sed '1,2d;$d' | sed '$d' | KMSGATE=$base TOKEN=$token bash -e) || return 1
  grep -q '"decision":"no-go"' <<<"$out" && grep -q '"state":"committed"' <<<"$out"
}
check "the README's curl tour: a gate passes and its plan is committed" tour

# SIGTERM drain: 10,000 activations uploaded slowly (about 2 s) while
# `podman stop` sends SIGTERM once the upload is under way; it must still get its 200.
drain() {
  local events=/tmp/$run.events code took rc started stopping _
  seq -w 1 10000 | awk '{ printf "{\"cmid\":\"00000000-0000-4000-8000-%012d\",\"client\":\"drain-%s.corp.example\",\"requested_at\":\"%s\"}\n", $1, $1, d }' \
    d="$(date -u -d '1 day ago' +%Y-%m-%dT%H:%M:%SZ)" >"$events"
  started=$(date +%s.%N)
  curl -sS -o "/tmp/$run.drain" -w '%{http_code} %{time_total}' --limit-rate 500k -H "Authorization: Bearer $token" \
    -H "Content-Type: application/x-ndjson" --data-binary "@$events" \
    "$base/v1/kms-hosts/kms-tour.corp.example/activations" >"/tmp/$run.code" &
  for _ in $(seq 1 100); do
    [ -z "$(ss -Htn state established "( dport = :$port )")" ] || break
    sleep 0.05
  done
  sleep 0.5
  stopping=$(date +%s.%N)
  pm stop -t 30 "$run-kmsgate" >/dev/null
  wait $! || true
  read -r code took <"/tmp/$run.code"
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$run-kmsgate")
  printf 'drain: podman stop %.1fs into the upload; it answered %s after %.1fs; kmsgate exited %s\n' \
    "$(awk -v a="$started" -v b="$stopping" 'BEGIN { print b - a }')" "$code" "$took" "$rc"
  [ "$code" = 200 ] && grep -q '"accepted":10000' "/tmp/$run.drain" && [ "$rc" = 0 ]
}
check "a request in flight during podman stop is answered (SIGTERM drain), exit 0" drain

remove_all() {
  pm rm -f -t 0 "$run-kmsgate" "$run-db" >/dev/null && pm network rm "$run" >/dev/null &&
    pm volume rm "$run-pgdata" >/dev/null
}
check "both containers, the network and the volume removed" remove_all

# ---------------------------------------------------------- compose
compose() {
  printf '+ podman-compose %s\n' "$*" >&2
  KMSGATE_PORT=$port podman-compose --podman-args='--runtime runc' -p "$run" \
    -f "$KG_ROOT/docker/compose.yaml" -f "$KG_ROOT/docker/compose.local.yaml" "$@" \
    >>"/tmp/$run.compose.log" 2>&1 || { tail -20 "/tmp/$run.compose.log"; return 1; }
}
compose_up() {
  composed=1
  compose up -d db kmsgate && readyz &&
    [ "$(podman ps -q --filter "label=io.podman.compose.project=$run" | wc -l)" -eq 2 ]
}
# podman-compose 1.0 leaves the project's network behind.
compose_down() { compose down -v && podman network rm -f "${run}_default" >/dev/null && composed=; }
# podman-compose 1.0 has no "config": --dry-run merges the files and prints the result.
check "podman-compose merges compose.yaml and compose.local.yaml" compose --dry-run up -d db kmsgate
check "podman-compose up: db and kmsgate from local images, /readyz 200" compose_up
check "podman-compose down" compose_down
finish
