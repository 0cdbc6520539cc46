#!/bin/sh
# Lints openapi/kmsgate.yaml with the Redocly CLI version pinned in package.json
# (recommended rules, adjusted in redocly.yaml). Installs that version from
# package-lock.json on first use. Exit status: 0 only when there is no error
# and no warning (Redocly itself fails on errors only; the document is kept at
# zero warnings, so a new warning fails too).
set -eu
cd "$(dirname "$0")"
# No usage telemetry, no update check: this runs in tests and CI.
REDOCLY_TELEMETRY=off
REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export REDOCLY_TELEMETRY REDOCLY_SUPPRESS_UPDATE_NOTICE
# The pinned Redocly needs Node.js 20.19 or newer (Debian 12's own nodejs is 18).
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' 2>/dev/null; then
  echo "openapi lint: needs Node.js >= 20.19 on PATH (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
if [ ! -d node_modules/@redocly/cli ]; then
  npm ci --no-audit --no-fund >&2
fi
rc=0
out=$(npx --no-install redocly lint --config redocly.yaml --format stylish \
  ../../openapi/kmsgate.yaml 2>&1) || rc=$?
printf '%s\n' "$out"
if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -Eq '[0-9]+ warnings?'; then
  echo "openapi lint: warnings count as failures" >&2
  rc=1
fi
exit "$rc"
