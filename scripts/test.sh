#!/usr/bin/env bash
# `npm test`: the one gate. Installs what it needs, then type-check, lint, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
[ -x node_modules/.bin/tsx ] || npm ci --no-audit --no-fund
make -s -C bpf
npx vite build --config client/vite.config.ts --logLevel warn
# The CLI the tests start runs the compiled server, as `npm start` does (bin/pktpath.js).
bash scripts/build-server.sh
npx tsc -p tsconfig.json
npx eslint .
mapfile -t files < <(find test -name '*.test.ts' | sort)
# One file at a time; with CI=true, a skipped test fails the run (scripts/run-tests.sh).
exec bash scripts/run-tests.sh "${files[@]}"
