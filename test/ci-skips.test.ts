// In CI nothing may skip: scripts/run-tests.sh (what `npm test` runs the suite with) fails a run in
// which any test skipped when CI=true, naming each; .ci/run sets CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir, writeCapture } from "./support/capture-file.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

function run(cmd: string, args: string[], extra: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  // Not a subtest of this run: node:test marks its children with NODE_TEST_CONTEXT, and a nested
  // runner that sees it runs no files.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...extra })) if (v !== undefined && k !== "NODE_TEST_CONTEXT") env[k] = v;
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env, timeout: 60_000 }, (e, stdout, stderr) => {
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : -1, stdout, stderr });
    });
  });
}

const SUITE = `import { test } from "node:test";
test("runs", () => {});
test("declared skipped", { skip: "needs something" }, () => {});
test("skipped from inside", (t) => { t.skip("not here"); });
`;

test("run-tests.sh: with CI=true a skipped test fails the run and is named; without, it passes", async (t) => {
  const tmp = tempDir("pktpath-ci-");
  t.after(tmp.remove);
  const file = writeCapture(tmp.dir, "skips.test.ts", SUITE);
  const ci = await run("bash", ["scripts/run-tests.sh", file], { CI: "true" });
  assert.equal(ci.code, 1, ci.stderr);
  assert.equal(ci.stderr, "CI=true: 2 skipped test(s) fail the run:\n  declared skipped # SKIP needs something\n  skipped from inside # SKIP not here\n");
  const local = await run("bash", ["scripts/run-tests.sh", file], { CI: undefined });
  assert.equal(local.code, 0, local.stderr);
  assert.match(local.stdout, /declared skipped/);
});

test("run-tests.sh: a failing test fails the run, CI or not", async (t) => {
  const tmp = tempDir("pktpath-ci-");
  t.after(tmp.remove);
  const file = writeCapture(tmp.dir, "fails.test.ts", `import { test } from "node:test";\ntest("fails", () => { throw new Error("no"); });\n`);
  for (const CI of ["true", undefined]) assert.equal((await run("bash", ["scripts/run-tests.sh", file], { CI })).code, 1, String(CI));
});

test(".ci/run runs npm test with CI=true, and npm test runs the suite through run-tests.sh", async (t) => {
  // npm itself would run this whole suite (this test among it): a stand-in on PATH records the call.
  const tmp = tempDir("pktpath-ci-");
  t.after(tmp.remove);
  const npm = writeCapture(tmp.dir, "npm", `#!/bin/sh\necho "CI=$CI $*" > "${join(tmp.dir, "called")}"\n`);
  chmodSync(npm, 0o755);
  const r = await run(".ci/run", [], { CI: undefined, PATH: `${tmp.dir}:${process.env.PATH ?? ""}` });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(tmp.dir, "called"), "utf8"), "CI=true test\n");
  assert.match(readFileSync(join(ROOT, "scripts/test.sh"), "utf8"), /^exec bash scripts\/run-tests\.sh "\$\{files\[@\]\}"$/m);
});
