#!/usr/bin/env node
// The CLI. Once scripts/build-server.sh has compiled server/ and shared/ to dist/ (npm start and
// npm test do), and while nothing in them changed since, it runs that JavaScript: no thread loads
// tsx. Otherwise it runs the TypeScript through tsx, so a checkout being edited needs no build step
// (worker threads register tsx themselves then: server/workerEntry.ts).
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Newest modification time (ms) of any file under dir. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function built() {
  try {
    return statSync(`${root}dist/.built`).mtimeMs >= Math.max(newest(`${root}server`), newest(`${root}shared`));
  } catch {
    return false;
  }
}

if (process.env.PKTPATH_TSX !== "1" && built()) {
  await import("../dist/server/cli.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../server/cli.ts");
}
