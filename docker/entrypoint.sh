#!/bin/sh
# kmsgate container entrypoint.
#
#   (no arguments) | serve [FLAGS]   kmsgate migrate [FLAGS], then exec kmsgate serve [FLAGS]
#   anything else                    exec kmsgate "$@" (migrate, token create ..., --help)
#
# The migrations run under a PostgreSQL advisory lock, so several replicas may
# start at once: one applies them, the others wait and find nothing to do.
# A database that is still starting is retried KMSGATE_MIGRATE_ATTEMPTS times
# (default 10), KMSGATE_MIGRATE_DELAY seconds apart (default 3); these two are
# read by this script only. Exit status: kmsgate's own, or 1 when the
# migrations never succeeded.
set -eu

if [ "$#" -eq 0 ] || [ "$1" = serve ]; then
  [ "$#" -gt 0 ] && shift
  attempts=${KMSGATE_MIGRATE_ATTEMPTS:-10}
  delay=${KMSGATE_MIGRATE_DELAY:-3}
  n=1
  # Flags (--database-url, --data-dir, ...) apply to migrate as to serve.
  until kmsgate migrate "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      echo "kmsgate-entrypoint: kmsgate migrate failed $n times; giving up" >&2
      exit 1
    fi
    echo "kmsgate-entrypoint: kmsgate migrate failed (attempt $n of $attempts); retrying in ${delay}s" >&2
    n=$((n + 1))
    sleep "$delay"
  done
  # exec: kmsgate becomes PID 1's process and receives SIGTERM from `docker stop`.
  exec kmsgate serve "$@"
fi

exec kmsgate "$@"
