// A pktpath killed with -9 while capturing through tracefs leaves its instance behind (events on, a
// buffer allocated): the next pktpath to start removes it, whatever source that one uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { captureText, hostToNsEvents, tempDir, writeCapture } from "./support/capture-file.ts";
import { runCli, startServe } from "./support/cli-child.ts";

const skip = process.getuid?.() !== 0 && "needs root (tracefs)";

/** Starts `serve --source tracefs`, kills it with -9, and returns the instance directory it left. */
async function leftBehind(): Promise<string> {
  const serve = await startServe(["--source", "tracefs"]);
  const dir = `/sys/kernel/tracing/instances/pktpath-${serve.child.pid}`;
  serve.child.kill("SIGKILL");
  await serve.stop();
  assert.equal(existsSync(dir), true, "a process killed with -9 cannot clean up after itself");
  return dir;
}

test("serve of a capture file removes the instance a killed tracefs capture left", { skip }, async (t) => {
  const tmp = tempDir("pktpath-stale-");
  t.after(tmp.remove);
  const file = writeCapture(tmp.dir, "two.ndjson", captureText(hostToNsEvents()));
  const dir = await leftBehind();
  const serve = await startServe(["--source", file]);
  t.after(() => serve.stop());
  assert.equal(existsSync(dir), false);
});

test("serve of the demo and an eBPF trace remove it too", { skip }, async (t) => {
  const first = await leftBehind();
  const demo = await startServe(["--source", "demo"]);
  t.after(() => demo.stop());
  assert.equal(existsSync(first), false, "demo");
  await demo.stop();
  const second = await leftBehind();
  const r = await runCli(["trace", "--source", "ebpf", "--duration", "0.5"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(second), false, "ebpf");
});
