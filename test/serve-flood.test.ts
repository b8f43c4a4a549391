// `pktpath serve --source ebpf` under another team's flood (`ping -f` into a namespace this test
// creates, prefix ppSf), as a user has the dashboard open: the kernel samples the heavy flow once its
// ring is crowded, one's own pings to the same address are all followed and listed complete, the
// counts say how much of the flood was not followed, and the status bar says so in words.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { WebSocket } from "ws";
import type { Ping } from "../shared/types.ts";
import { hostToNamespace, Topology } from "./lib/netns.ts";
import { openChromium } from "./support/chromium.ts";
import { ROOT, startServe, waitFor } from "./support/cli-child.ts";

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 ? "needs root: eBPF capture and network namespaces" : false;
const OWN_ID = 4815;

test("serve under a flood: heavy flows sampled in the kernel, one's own pings all followed whole, the status bar says what was sampled", { skip, timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
  const topo = new Topology("ppSf");
  t.after(() => topo.destroy());
  hostToNamespace(topo, "10.233.9");
  const live = await startServe(["--source", "ebpf"], 30_000);
  t.after(() => live.stop());

  // What the page is sent, as it is sent: the store keeps the newest 10,000 pings, which a flood
  // turns over in a fraction of a second; the stream sends every ping of a session as light as ours.
  const streamed = new Map<number, Ping>();
  const ws = new WebSocket(live.url.replace("http", "ws") + "/api/stream");
  t.after(() => ws.close());
  ws.on("message", (d) => {
    const msg = JSON.parse(String(d)) as { type: string; pings?: Ping[] };
    for (const p of msg.type === "pings" ? msg.pings ?? [] : []) if (p.icmpId === OWN_ID) streamed.set(p.seq ?? -1, p);
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  // Four seconds of flood, and meanwhile someone's own ping every 0.25 s to the same address.
  const flood = run("ping", ["-f", "-q", "-w", "4", "10.233.9.2"]);
  const own = run("ping", ["-q", "-c", "12", "-i", "0.25", "-e", String(OWN_ID), "10.233.9.2"]);
  await Promise.all([flood, own]);

  type Health = { events: number; lost: number; lostBy: { ring: number; queue: number; malformed: number }; sampled?: number; correlated: number };
  const health = await waitFor(async () => {
    const h = (await (await fetch(`${live.url}/api/health`)).json()) as Health;
    return h.events > 0 && h.events - h.lost === h.correlated ? h : undefined;
  }, 15_000, "correlation to catch up");
  t.diagnostic(JSON.stringify(health));
  assert.ok((health.sampled ?? 0) > 0, "the kernel sampled the flood: its ring was crowded");
  const ours = await waitFor(async () => (streamed.size === 12 ? [...streamed.values()] : undefined), 15_000,
    "one's own twelve pings streamed");
  assert.deepEqual(ours.map((p) => [p.status, p.recordsLost ?? false]), Array.from({ length: 12 }, () => ["complete", false]),
    "every one of one's own pings complete, none open across a loss");

  const b = await openChromium("ppSf", { width: 1440, height: 900 });
  t.after(() => b.close());
  await b.page.goto(live.url);
  const item = b.page.locator(".status-bar .sampled");
  await item.waitFor({ timeout: 10_000 });
  assert.match(await item.innerText(), /^[\d,]+ packets of heavy flows sampled out$/);
  assert.match(await item.getAttribute("title") ?? "", /heavy flows were sampled .* light ones, your own pings among them, were all followed/);
  assert.deepEqual(b.errors, []);
});
