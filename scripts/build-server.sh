#!/usr/bin/env bash
# Compiles server/ and shared/ to JavaScript in dist/ (ignored by git), so that `pktpath` runs without
# tsx's loader in each of its threads (about 90 MiB of memory less for `serve`). bin/pktpath.js runs
# dist/ while it is newer than every source file, the TypeScript through tsx otherwise. Type errors are
# the gate's business (npm test runs tsc); this only emits. dist/ mirrors the checkout, and what the
# server finds next to its modules (the BPF objects, the built client, the demo capture) is linked in.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist.tmp
npx tsc -p scripts/tsconfig.server.json --outDir dist.tmp
ln -s ../bpf dist.tmp/bpf
ln -s ../client dist.tmp/client
ln -s ../../server/demo dist.tmp/server/demo
touch dist.tmp/.built
rm -rf dist
mv dist.tmp dist
