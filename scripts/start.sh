#!/usr/bin/env bash
# `npm start`: install what is missing, build the BPF object, the client and the server's JavaScript,
# serve on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
PKTPATH_NO_BROWSER=1 bash scripts/setup-system.sh
[ -x node_modules/.bin/tsx ] || npm ci --no-audit --no-fund
if command -v clang >/dev/null 2>&1; then make -s -C bpf || echo "pktpath: BPF build failed; live eBPF capture unavailable" >&2; fi
[ -f client/dist/index.html ] && [ -z "$(find client/src client/index.html -newer client/dist/index.html 2>/dev/null | head -1)" ] \
  || npx vite build --config client/vite.config.ts --logLevel warn
[ -f dist/.built ] && [ -z "$(find server shared -newer dist/.built 2>/dev/null | head -1)" ] || bash scripts/build-server.sh
exec node bin/pktpath.js serve "$@"
