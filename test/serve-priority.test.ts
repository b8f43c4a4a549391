// The thread that serves the page runs ahead of the rest of serve when it wakes: under a flood the
// CPUs are busy, and its event loop's delay was the time it waited for one (bench/soak.ts). Only that
// thread: the pipeline and capture workers, started before it was raised, keep the default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SERVING_NICE } from "../server/commands.ts";

const BIN = fileURLToPath(new URL("../bin/pktpath.js", import.meta.url));
const skip = process.getuid?.() !== 0 ? "needs root (a negative nice value)" : false;

/** A thread's nice value: field 19 of /proc/PID/task/TID/stat, counted after the command's closing parenthesis. */
function niceOf(pid: number, tid: string): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

test("serve raises its serving thread alone: the main thread at nice -5, every worker's thread as it was", { skip, timeout: 60_000 }, async (t) => {
  const child = spawn(process.execPath, [BIN, "serve", "--source", "demo", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => void child.kill("SIGTERM"));
  let out = "";
  for (const s of [child.stdout, child.stderr]) s.on("data", (d: Buffer) => void (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 45_000);
    child.stdout.on("data", () => {
      if (!/serving http/.test(out)) return;
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  const pid = child.pid!;
  const threads = readdirSync(`/proc/${pid}/task`);
  // what serve's threads started with: this process's own, which a child inherits
  const inherited = niceOf(process.pid, String(process.pid));
  const others = threads.filter((tid) => tid !== String(pid)).map((tid) => niceOf(pid, tid));
  assert.equal(SERVING_NICE, -5);
  assert.notEqual(inherited, SERVING_NICE, "the test runs at a nice value other than serve's own");
  assert.equal(niceOf(pid, String(pid)), SERVING_NICE, out);
  assert.ok(others.length >= 4, `the workers' threads are there: ${others.length}`);
  assert.deepEqual([...new Set(others)], [inherited], "every other thread keeps the nice value it started with");
});
