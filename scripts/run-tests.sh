#!/usr/bin/env bash
# Runs test files one at a time (live-capture tests share the kernel's tracepoints and the machine's
# namespaces), spec output on the terminal. With CI=true a skipped test fails the run: CI has what
# every test needs (root, BTF, Chromium), so a skip there is a test that silently did not run.
set -uo pipefail
cd "$(dirname "$0")/.."
tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT
node --import tsx --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "$@"
status=$?
if [ "${CI:-}" = "true" ]; then
  # TAP marks a skipped test (declared with skip, or t.skip() inside it) "ok N - name # SKIP why".
  skipped="$(grep -E '^ *ok [0-9]+ - .* # SKIP' "$tap" | sed -E 's/^ *ok [0-9]+ - /  /')"
  if [ -n "$skipped" ]; then
    echo "CI=true: $(printf '%s\n' "$skipped" | wc -l) skipped test(s) fail the run:" >&2
    printf '%s\n' "$skipped" >&2
    exit 1
  fi
fi
exit "$status"
