// `"live": true` in /api/health is a promise that capture runs: an echo sent the moment it is first
// seen must be in /api/pings. Before, `live` was true from the moment the port was bound, about a
// second before the BPF programs were attached.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { promisify } from "node:util";
import { hostToNamespace, Topology } from "./lib/netns.ts";
import { startServe, waitFor } from "./support/cli-child.ts";

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 && "needs root (loads BPF, creates a network namespace)";

/** A port free a moment ago: serve must be polled before its ready line says which port it took. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test("an echo sent the moment /api/health first says live is in /api/pings", { skip, timeout: 60_000 }, async (t) => {
  const topo = new Topology("ppH10");
  t.after(() => topo.destroy());
  hostToNamespace(topo, "10.209.10");

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serving = startServe(["--port", String(port), "--source", "ebpf"], 30_000);
  t.after(async () => (await serving).stop());
  const seen: boolean[] = [];
  await waitFor(async () => {
    const health = await fetch(`${base}/api/health`).then((r) => r.json() as Promise<{ live: boolean }>, () => undefined);
    if (health === undefined) return undefined;
    seen.push(health.live);
    return health.live ? true : undefined;
  }, 30_000, "live");
  const id = 4242;
  await run("ping", ["-c", "1", "-W", "1", "-e", String(id), "10.209.10.2"]);
  t.diagnostic(`health answers before live: ${seen.filter((l) => !l).length}`);
  await serving;
  const ping = await waitFor(async () => {
    const pings = (await (await fetch(`${base}/api/pings`)).json()) as { icmpId: number; status: string; dst: string }[];
    return pings.find((p) => p.icmpId === id);
  }, 5000, `the echo with id ${id}`);
  assert.deepEqual([ping.dst, ping.status], ["10.209.10.2", "complete"]);
});
