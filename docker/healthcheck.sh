#!/bin/sh
# Container healthcheck: GET /readyz on this container's own listener.
# 200 only when the database answers and the migrations are current.
# Follows KMSGATE_LISTEN (HOST:PORT or [V6]:PORT) and uses HTTPS when
# KMSGATE_TLS_CERT is set (-k: the certificate names the service, not 127.0.0.1).
# Exit status: 0 healthy, 1 unhealthy (what HEALTHCHECK expects).
listen=${KMSGATE_LISTEN:-127.0.0.1:8080}
port=${listen##*:}
host=${listen%:*}
case $host in
  0.0.0.0|'') host=127.0.0.1 ;;
  '[::]') host='[::1]' ;;
esac
scheme=http
[ -n "${KMSGATE_TLS_CERT:-}" ] && scheme=https
curl -fsS -k -o /dev/null --max-time 4 "$scheme://$host:$port/readyz" && exit 0
exit 1
