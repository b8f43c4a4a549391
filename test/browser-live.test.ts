// The dashboard live: real Chromium, `pktpath serve --source ebpf` on the real kernel, real pings
// through a veth pair into a namespace this test creates (prefix ppD2). Then the server goes away and
// comes back on the same port: the page must say so, reconnect and resync. Needs root and bpf/ built
// (npm test does both).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { hostToNamespace, Topology } from "./lib/netns.ts";
import { tempDir, writeCapture } from "./support/capture-file.ts";
import { startServe } from "./support/cli-child.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const run = promisify(execFile);

const rowIds = (page: Page, src: string, dst: string): Promise<string[]> =>
  page.locator(".ping-row").evaluateAll((els, [s, d]) => els
    .filter((e) => e.querySelector(".addr")?.textContent?.replace(/\s+/g, " ").trim().startsWith(`icmp ${s} → ${d} `))
    .map((e) => e.getAttribute("data-ping-id") ?? ""), [src, dst]);

test("dashboard live: real pings appear as they happen; the page survives a server restart", { timeout: 120_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("needs root: eBPF capture and network namespaces");
    return;
  }
  assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
  });

  const topo = new Topology("ppD2");
  undo.push(() => topo.destroy());
  hostToNamespace(topo, "10.233.1");

  const live = await startServe(["--source", "ebpf"], 30_000);
  undo.push(() => live.stop());
  const port = new URL(live.url).port;

  const profile = mkdtempSync(join(tmpdir(), "ppD2-chromium-"));
  undo.push(() => rmSync(profile, { recursive: true, force: true }));
  const ctx: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true, viewport: { width: 1440, height: 900 },
  });
  undo.push(() => Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 10_000))]));
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));

  await page.goto(live.url);
  await page.locator('.status-bar .conn[data-conn="open"]').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator(".status-bar .source").textContent(), "ebpf");
  assert.equal(await page.locator(".status-bar .mode-live").textContent(), "live");

  // Three real pings; each must show up in the list without a reload, within a second or so.
  await run("ping", ["-c", "3", "-i", "0.2", "-W", "1", "10.233.1.2"]);
  const pingsDoneMs = Date.now();
  await page.waitForFunction(() => document.querySelectorAll(".ping-row").length > 0, undefined, { timeout: 5_000 });
  let ours: string[] = [];
  while (Date.now() - pingsDoneMs < 5_000 && ours.length < 3) {
    ours = await rowIds(page, "10.233.1.1", "10.233.1.2");
    if (ours.length < 3) await page.waitForTimeout(50);
  }
  const shownAfterMs = Date.now() - pingsDoneMs;
  assert.equal(ours.length, 3, "all three pings listed");
  assert.ok(shownAfterMs < 2_000, `the last ping was listed ${shownAfterMs} ms after ping exited`);
  t.diagnostic(`last live ping listed ${shownAfterMs} ms after the ping command exited`);

  // The newest: host → ppD2-ns over the veth pair, eight hops, complete.
  const newest = ours[0] ?? "";
  await page.locator(`.ping-row[data-ping-id="${newest}"]`).click();
  await page.locator(".path-svg .pp-node").nth(1).waitFor({ timeout: 5_000 });
  const labels = await page.locator(".path-svg .pp-lane-label").allTextContents();
  assert.equal(labels.length, 2);
  assert.equal(labels[1], "ppD2-ns");
  const ifnames = new Set(await page.locator(".path-svg .pp-node-label").allTextContents());
  assert.deepEqual([...ifnames].sort(), ["ppD2-h", "ppD2-n"]);
  // every hop of the ping, stack steps included, one row each
  const full = (await (await fetch(`${live.url}/api/pings/${newest}`)).json()) as { request: { hops: unknown[] }; reply: { hops: unknown[] } };
  assert.ok(full.request.hops.length >= 8, "the request's devices and stack steps");
  assert.equal(await page.locator(".hop-table tbody tr:not(.drop-row):not(.free-row)").count(), full.request.hops.length + full.reply.hops.length);
  assert.equal(await page.locator(".detail-title .badge").textContent(), "complete");
  await page.screenshot({ path: join(tmpdir(), "pktpath-live.png") });

  // The server goes away: the page says it is reconnecting and keeps what it has.
  await live.stop();
  await page.locator('.status-bar .conn[data-conn="reconnecting"]').waitFor({ timeout: 5_000 });
  assert.equal((await rowIds(page, "10.233.1.1", "10.233.1.2")).length, 3);

  // It comes back on the same port, replaying a capture: the page reconnects and resyncs its list.
  const tmp = tempDir("ppD2-");
  undo.push(tmp.remove);
  const file = writeCapture(tmp.dir, "topologies.ndjson", readFileSync(new URL("./fixtures/ebpf/topologies.ndjson", import.meta.url), "utf8"));
  const again = await startServe(["--port", port, "--source", file], 30_000);
  undo.push(() => again.stop());
  await page.locator('.status-bar .conn[data-conn="open"]').waitFor({ timeout: 15_000 });
  await page.waitForFunction((f) => document.querySelector(".status-bar .source")?.textContent === f, file);
  await page.waitForFunction(() => document.querySelectorAll(".ping-row").length === 5, undefined, { timeout: 5_000 });
  assert.equal((await rowIds(page, "10.233.1.1", "10.233.1.2")).length, 0, "the list is the new server's");
  assert.deepEqual(pageErrors, []);
});
