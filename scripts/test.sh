#!/usr/bin/env bash
# `npm test`: the one gate. Installs what it needs, then type-check, lint, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
[ -x node_modules/.bin/tsx ] || npm ci --no-audit --no-fund
make -s -C bpf
npx vite build --config client/vite.config.ts --logLevel warn
npx tsc -p tsconfig.json
npx eslint .
# One file at a time: live-capture tests share the kernel's tracepoints and the machine's namespaces.
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
