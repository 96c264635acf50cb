#!/bin/sh
# Runs one FAME process by name (the container's argument).
set -eu
cd /app
# Nodes authenticate with the dev OAuth2 client that the pki service wrote.
if [ -z "${FAME_ADMISSION_CLIENT_ID:-}" ] && [ -f certs/dev.env ]; then
  set -a
  . ./certs/dev.env
  set +a
fi
name="${1:-}"
[ $# -gt 0 ] && shift
case "$name" in
  oauth2 | welcome | ca | math-agent | math-client) exec node "services/$name/dist/bin.js" "$@" ;;
  sentinel) exec node packages/sentinel/dist/bin.js "$@" ;;
  pki) exec node scripts/setup-pki.mjs --dir certs "$@" ;;
  health) exec node compose/healthcheck.mjs "$@" ;;
  *)
    echo "usage: oauth2 | welcome | ca | sentinel | math-agent | math-client | pki | health URL" >&2
    exit 64
    ;;
esac
