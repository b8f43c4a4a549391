// The bundled demo: a real eBPF capture, served on request and whenever live capture is impossible.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileSource } from "../server/capture/file.ts";
import { DEMO_CAPTURE } from "../server/sources.ts";
import type { RawEvent } from "../shared/types.ts";
import { startServe, waitFor } from "./support/cli-child.ts";

const isRoot = process.getuid?.() === 0;

async function health(url: string): Promise<unknown> {
  return (await fetch(`${url}/api/health`)).json();
}

test("serve --source demo: labelled demo, not live, and its pings arrive", async (t) => {
  const serve = await startServe(["--source", "demo"]);
  t.after(() => serve.stop());
  assert.match(serve.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const pings = await waitFor(async () => {
    const list = (await (await fetch(`${serve.url}/api/pings?limit=100`)).json()) as { status: string; src: string }[];
    return list.length >= 3 ? list : undefined;
  }, 10_000, "three demo pings");
  assert.ok(pings.every((p) => ["complete", "no-reply", "dropped"].includes(p.status)));
  const h = (await health(serve.url)) as { source: string; live: boolean; lost: number };
  assert.deepEqual([h.source, h.live, h.lost], ["demo", false, 0]);
});

test("auto falls back to the demo when live capture is impossible, and says why", { skip: !isRoot && "needs root to drop to an unprivileged user" }, async (t) => {
  // setpriv drops to nobody: no BPF, no tracefs, exactly what a user without root meets.
  const serve = await startServe([], 15_000, ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]);
  t.after(() => serve.stop());
  const h = (await health(serve.url)) as { source: string; live: boolean };
  assert.deepEqual([h.source, h.live], ["demo", false]);
  const lines = serve.stderr().trim().split("\n");
  assert.deepEqual(lines, [
    "pktpath: ebpf capture unavailable: eBPF capture needs root (run with sudo)",
    "pktpath: tracefs capture unavailable: tracefs capture needs root",
    "pktpath: live capture is unavailable (reasons above): showing the bundled demo capture, not this machine's traffic",
  ]);
});

test("a looping replay starts over on the same timeline, later by the loop gap", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "pktpath-loop-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "two.ndjson");
  const ev = (tNs: number): RawEvent => ({ event: "net_dev_queue", tNs, skbaddr: "0xffff1", ifname: "lo", len: 98 });
  writeFileSync(file, [{ pktpath: "capture", version: 1, source: "ebpf", kernel: "k", startedAt: "t" }, ev(0), ev(5e8)]
    .map((o) => JSON.stringify(o)).join("\n") + "\n");
  const source = createFileSource(file, { loop: true, speed: Infinity, name: "demo" });
  const seen: number[] = [];
  await source.start((batch) => seen.push(...batch.map((e) => e.tNs)));
  await waitFor(async () => (seen.length >= 6 ? true : undefined), 5000, "three rounds");
  await source.stop();
  assert.deepEqual(seen.slice(0, 6), [0, 5e8, 2.5e9, 3e9, 5e9, 5.5e9]);
  assert.equal(source.name, "demo");
});

test("the bundled demo is a real capture with several namespaces, a drop and IPv6", async () => {
  const { readCapture } = await import("../server/capture/file.ts");
  const { correlateAll } = await import("../shared/correlate.ts");
  const events: RawEvent[] = [];
  for await (const item of readCapture(DEMO_CAPTURE)) {
    assert.ok(item.ok, item.ok ? "" : item.error);
    if (item.value.kind === "event") events.push(item.value.event);
  }
  const { pings } = correlateAll(events);
  assert.equal(pings.length, 25);
  assert.deepEqual([...new Set(pings.map((p) => p.status))].sort(), ["complete", "dropped"]);
  assert.ok(pings.some((p) => p.family === 6));
  const lanes = new Set(events.map((e) => e.netnsName).filter(Boolean));
  assert.deepEqual([...lanes].sort(), ["host", "ppR-bridge", "ppR-client", "ppR-db", "ppR-router", "ppR-server", "ppR-web"]);
});
