#!/bin/sh
# Runs one FAME process by name (the container's argument).
set -eu
cd /app
name="${1:-}"
# Nodes authenticate with the dev OAuth2 clients the pki service wrote: agents may serve
# pools (config/policy.yml), the client may only call; dev.env is the client's.
creds=certs/dev.env
[ "$name" = math-agent ] && [ -f certs/agent.env ] && creds=certs/agent.env
[ "$name" = math-client ] && [ -f certs/client.env ] && creds=certs/client.env
if [ -z "${FAME_ADMISSION_CLIENT_ID:-}" ] && [ -f "$creds" ]; then
  set -a
  . "./$creds"
  set +a
fi
[ $# -gt 0 ] && shift
case "$name" in
  oauth2 | welcome | ca | math-agent | math-client) exec node "services/$name/dist/bin.js" "$@" ;;
  sentinel) exec node packages/sentinel/dist/bin.js "$@" ;;
  pki) exec node scripts/setup-pki.mjs --dir certs "$@" ;;
  nats-config) exec node compose/nats-config.mjs ;;
  health) exec node compose/healthcheck.mjs "$@" ;;
  *)
    echo "usage: oauth2 | welcome | ca | sentinel | math-agent | math-client | pki | nats-config | health URL" >&2
    exit 64
    ;;
esac
