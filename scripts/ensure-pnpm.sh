#!/usr/bin/env bash
# Prints the path of a pnpm binary at the version pinned in package.json,
# installing it into ./.tools on first use. Only Node 20 + npm are assumed:
# no global install, no root, no corepack shims on PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want="$(node -p "require('$root/package.json').packageManager.split('@')[1]")"
bin="$root/.tools/node_modules/.bin/pnpm"
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$want" ]; then
  echo "$bin"; exit 0
fi
echo "installing pnpm@$want into .tools/ ..." >&2
mkdir -p "$root/.tools"
npm install --prefix "$root/.tools" --no-save --no-audit --no-fund --loglevel=error "pnpm@$want" >&2
"$bin" --version >/dev/null
echo "$bin"
