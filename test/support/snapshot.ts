// Snapshot files for the layout: the geometry as stable JSON under test/snapshots/. A missing file is
// written once (and the test fails, so it is looked at and committed); UPDATE_SNAPSHOTS=1 rewrites.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

export function matchSnapshot(name: string, value: unknown): void {
  const file = fileURLToPath(new URL(`../snapshots/${name}.json`, import.meta.url));
  const text = `${JSON.stringify(value, null, 1)}\n`;
  if (process.env.UPDATE_SNAPSHOTS === "1" || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    assert.ok(process.env.UPDATE_SNAPSHOTS === "1", `snapshot ${name} was missing and has been written: look at it, then commit it`);
    return;
  }
  assert.equal(text, readFileSync(file, "utf8"), `layout differs from test/snapshots/${name}.json`);
}
