# shellcheck shell=bash
# Shared by the tests that use podman as root with no image registry
# (scripts/test-container.sh, scripts/test-bare.sh): the tools, the podman
# configuration this machine needs, and the Debian 12 base image made with
# debootstrap. Sourced after scripts/lib.sh, not executed. The caller sets
# $run, a name unique to its run.

KG_BASE_IMAGE=localhost/debian:12-slim

# The checks' bookkeeping: a PASS or FAIL line per check, labelled with
# $kg_label; finish prints the time taken and "N passed, N failed" and exits.
kg_start=$SECONDS
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'PASS %s: %s\n' "${kg_label:?}" "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s: %s\n' "$kg_label" "$*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() {
  printf '%s test: %ds\n' "$kg_label" $((SECONDS - kg_start))
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}
# A step the rest depends on: its failure ends the run.
need() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; finish; fi; }

# Every podman command is printed as run: the README's container section is these.
# runc: Debian's crun is not installed, and runc is what works here.
pm() { printf '+ podman %s\n' "$*" >&2; podman --runtime runc "$@"; }

# What podman needs here and the base image is made with; iptables for CNI's
# bridge network.
KG_PODMAN_TOOLS=(podman runc debootstrap iptables)

# Debian's defaults fail in a container-in-a-VM without systemd: the default
# nofile ulimit cannot be raised there, and the systemd cgroup manager needs
# systemd. An existing, different configuration is left alone: this run then
# uses its own file (CONTAINERS_CONF replaces the system files for it).
KG_CONTAINERS_CONF='[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"'
kg_ensure_containers_conf() {
  local conf=/etc/containers/containers.conf
  if [ ! -e "$conf" ]; then
    mkdir -p /etc/containers
    printf '# Written by kmsgate scripts/lib-container.sh\n%s\n' "$KG_CONTAINERS_CONF" >"$conf"
    kg_say "wrote $conf"
  elif ! grep -qx 'default_ulimits = \[\]' "$conf" || ! grep -qx 'cgroup_manager = "cgroupfs"' "$conf"; then
    export CONTAINERS_CONF=/tmp/${run:?}.containers.conf
    printf '%s\n' "$KG_CONTAINERS_CONF" >"$CONTAINERS_CONF"
    kg_say "warning: $conf lacks default_ulimits = [] or cgroup_manager = \"cgroupfs\";" \
      "left as it is, this run uses $CONTAINERS_CONF"
  fi
}

# The Debian suites apt uses on this machine, as "URL SUITE" lines.
kg_apt_suites() {
  # shellcheck disable=SC2016  # apt's own $(FIELD) syntax
  apt-get indextargets --format '$(SITE) $(RELEASE)' 'Created-By: Packages' |
    awk '$2 ~ /^bookworm(-updates|-security)?$/' | sort -u
}

# localhost/debian:12-slim, made once from the mirror apt already uses: a
# minbase debootstrap, so nothing the project needs is in it.
kg_ensure_base_image() {
  local rc=0
  exec 9>/run/lock/kg-ct-base.lock   # two runs must not debootstrap at once
  flock 9
  if pm image exists "$KG_BASE_IMAGE"; then
    kg_say "base image $KG_BASE_IMAGE: cached"
  else
    kg_make_base_image || rc=$?
  fi
  exec 9>&-   # the lock: held while checking and making only
  return "$rc"
}

kg_make_base_image() {
  local mirror dir t=$SECONDS
  # awk reads to the end: one leaving early would kill the writer (pipefail).
  mirror=$(kg_apt_suites | awk '$2 == "bookworm" && m == "" { m = $1 } END { print m }')
  mirror=${mirror:-http://deb.debian.org/debian}
  dir=$(mktemp -d /var/tmp/kg-ct-base.XXXXXX)
  kg_say "debootstrap --variant=minbase bookworm $dir $mirror"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 ||
    { tail -20 "$dir.log"; rm -rf "$dir"; return 1; }
  kg_apt_suites | awk '{ print "deb " $1 " " $2 " main" }' >"$dir/etc/apt/sources.list"
  # As Debian's own slim images: no documentation, man pages or translations.
  printf 'path-exclude /usr/share/%s/*\n' doc man info locale >"$dir/etc/dpkg/dpkg.cfg.d/slim"
  printf 'path-include /usr/share/doc/*/copyright\n' >>"$dir/etc/dpkg/dpkg.cfg.d/slim"
  rm -rf "$dir"/usr/share/{man,info,locale}/* "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/*
  find "$dir/usr/share/doc" -type f ! -name copyright -delete
  tar -C "$dir" -c . | pm import -q - "$KG_BASE_IMAGE" >/dev/null
  rm -rf "$dir" "$dir.log"
  kg_say "base image made in $((SECONDS - t))s"
}

# kg_podman_setup: the tools, the configuration and the base image.
kg_podman_setup() {
  kg_ensure_packages "${KG_PODMAN_TOOLS[@]}" "$@" && kg_ensure_containers_conf && kg_ensure_base_image
}
