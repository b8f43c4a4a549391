// `trace` and `record` → `import` on the real kernel: pings to a loopback address of their own
// (127.0.0.0/8 is all local), with their own ICMP id, so other traffic cannot match. Needs root for BPF.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { parsePing } from "../shared/validate.ts";
import type { Ping } from "../shared/types.ts";
import { tempDir } from "./support/capture-file.ts";
import { ROOT, runCli } from "./support/cli-child.ts";

const run = promisify(execFile);
const BIN = `${ROOT}bin/pktpath.js`;
const skip = process.getuid?.() === 0 ? false : "needs root to load BPF programs";
const ICMP_ID = 4801;

/** Starts a pktpath child and resolves once `ready` shows on its stderr. */
async function startUntil(args: string[], ready: RegExp, nodeArgs: string[] = []) {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const exited = once(child, "close").then(([code]) => code as number | null);
  await new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (ready.test(stderr)) resolve();
    });
    void exited.then((code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
  });
  return { child, exited, out: () => ({ stdout, stderr }) };
}

const ping = (addr: string) => run("ping", ["-e", String(ICMP_ID), "-c", "2", "-i", "0.2", "-W", "1", addr]);

function checkPings(pings: Ping[], addr: string): void {
  const ours = pings.filter((p) => p.icmpId === ICMP_ID && p.dst === addr);
  assert.deepEqual(ours.map((p) => [p.status, p.src, p.dst, p.seq]),
    [["complete", "127.0.0.1", addr, 1], ["complete", "127.0.0.1", addr, 2]]);
  for (const p of ours) {
    assert.ok((p.rttNs ?? 0) > 0 && (p.rttNs ?? 0) < 1e9, `rtt ${p.rttNs}`);
    assert.deepEqual(p.request?.hops.map((h) => [h.ifname, h.netnsName]).slice(0, 2), [["lo", "host"], ["lo", "host"]]);
  }
}

test("trace --json --count 2: two Ping lines, then exit 0", { skip, timeout: 30_000 }, async () => {
  const addr = "127.0.0.77";
  const tr = await startUntil(["trace", "--json", "--count", "2", "--host", addr, "--duration", "20"],
    /^pktpath: tracing \(source: \w+\)$/m);
  await ping(addr);
  assert.equal(await tr.exited, 0, tr.out().stderr);
  const lines = tr.out().stdout.trimEnd().split("\n");
  assert.equal(lines.length, 2);
  const pings = lines.map((l) => parsePing(JSON.parse(l))).map((r) => (r.ok ? r.value : assert.fail(r.ok ? "" : r.error)));
  checkPings(pings, addr);
});

test("trace under a CPU profiler (node --cpu-prof: a signal every millisecond) loads its programs and captures", { skip, timeout: 30_000 }, async (t) => {
  // The verifier gives up when a signal is pending; the programs are loaded with signals held back.
  const tmp = tempDir("pktpath-prof-");
  t.after(tmp.remove);
  const addr = "127.0.0.78";
  const tr = await startUntil(["trace", "--json", "--count", "2", "--source", "ebpf", "--host", addr, "--duration", "20"],
    /^pktpath: tracing \(source: ebpf\)$/m, ["--cpu-prof", "--cpu-prof-dir", tmp.dir]);
  await ping(addr);
  assert.equal(await tr.exited, 0, tr.out().stderr);
  const pings = tr.out().stdout.trimEnd().split("\n").map((l) => parsePing(JSON.parse(l))).map((r) => (r.ok ? r.value : assert.fail(r.ok ? "" : r.error)));
  checkPings(pings, addr);
});

test("record --duration, then import --json finds the same pings", { skip, timeout: 30_000 }, async (t) => {
  const tmp = tempDir("pktpath-rec-");
  t.after(tmp.remove);
  const out = `${tmp.dir}/lo.ndjson`;
  const addr = "127.0.0.78";
  const rec = await startUntil(["record", "--out", out, "--duration", "3", "--host", addr], /^pktpath: recording to /m);
  await ping(addr);
  assert.equal(await rec.exited, 0, rec.out().stderr);
  assert.match(rec.out().stderr, new RegExp(`^pktpath: recorded \\d+ events \\(2 pings\\) to ${out}$`, "m"));
  const header = JSON.parse(readFileSync(out, "utf8").split("\n")[0] ?? "") as Record<string, unknown>;
  assert.deepEqual(Object.keys(header), ["pktpath", "version", "source", "kernel", "startedAt"]);

  const imported = await runCli(["import", out, "--json"]);
  assert.equal(imported.code, 0, imported.stderr);
  const { pings } = JSON.parse(imported.stdout) as { pings: unknown[] };
  checkPings(pings.map((p) => {
    const r = parsePing(p);
    return r.ok ? r.value : assert.fail(r.ok ? "" : r.error);
  }), addr);
});
