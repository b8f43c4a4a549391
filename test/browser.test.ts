// The dashboard in a real Chromium against a real `pktpath serve` replaying a capture file of real eBPF
// events (test/fixtures/ebpf/topologies.ndjson: one ping each through a veth into a namespace, a
// forwarding namespace, a bridge, IPv6, and an nftables drop). Needs client/dist (npm test builds it).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { Ping } from "../shared/types.ts";
import { layoutMap } from "../client/src/draw/layout.ts";
import { tempDir, writeCapture } from "./support/capture-file.ts";
import { startServe } from "./support/cli-child.ts";
import { fetchPing, fetchPings } from "./support/api.ts";

const FIXTURE = new URL("./fixtures/ebpf/topologies.ndjson", import.meta.url);

const ROOT = new URL("..", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const texts = (page: Page, selector: string): Promise<string[]> =>
  page.locator(selector).evaluateAll((els) => els.map((e) => e.textContent ?? ""));

const hopCount = (p: Ping): number => (p.request?.hops.length ?? 0) + (p.reply?.hops.length ?? 0);

/** What a user checks after opening a ping: the namespaces, interfaces, hop table and status. */
async function assertShowsPing(page: Page, ping: Ping): Promise<void> {
  const hops = hopCount(ping);
  // The map has one node per interface (the geometry does not depend on the width asked for).
  const map = layoutMap(ping, { width: 1000, steps: "devices" });
  const nodes = map.nodes.filter((n) => !n.mark).length;
  await page.locator(".path-svg .pp-node").nth(nodes - 1).waitFor({ timeout: 10_000 });
  await page.locator(".detail-title .pid", { hasText: ping.id }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator(".path-svg .pp-node").count(), nodes);
  assert.deepEqual(await texts(page, ".path-svg .pp-lane-label"), map.boxes.map((b) => b.label));
  assert.equal(await page.locator(".hop-table tbody tr:not(.drop-row):not(.free-row)").count(), hops);
  assert.equal(await page.locator(".detail-title .badge").textContent(), ping.status === "no-reply" ? "no reply" : ping.status);
  assert.equal(await page.locator(".detail-title .pid").textContent(), ping.id);
}

/** Finds the listed ping from src to dst; the fixture has one per topology. */
function byRoute(pings: Ping[], src: string, dst: string): Ping {
  const p = pings.find((x) => x.src === src && x.dst === dst);
  assert.ok(p, `no ping ${src} → ${dst} in ${pings.map((x) => `${x.src}→${x.dst}`).join(", ")}`);
  return p;
}

test("dashboard: live list, path view, drops, permalink, keyboard, presentation, export", { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
  // Undone last-first once the test ends, pass or fail: the browser before its profile, the server
  // before the directory its capture file lives in.
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
  });
  const tmp = tempDir("ppD1-");
  undo.push(tmp.remove);
  const file = writeCapture(tmp.dir, "topologies.ndjson", readFileSync(FIXTURE, "utf8"));
  const server = await startServe(["--source", file], 20_000);
  undo.push(() => server.stop());
  assert.equal(server.source, file);

  const profile = mkdtempSync(join(tmpdir(), "ppD1-chromium-"));
  undo.push(() => rmSync(profile, { recursive: true, force: true }));
  const ctx: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1440, height: 900 }, acceptDownloads: true,
  });
  undo.push(() => Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 10_000))]));
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });

  await page.goto(server.url);
  const listed = await fetchPings(server.url);
  assert.equal(listed.length, 5, "one ping per recorded topology");
  await page.locator(".ping-row").nth(listed.length - 1).waitFor({ timeout: 10_000 });
  assert.deepEqual(await page.locator(".ping-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-ping-id"))),
    listed.map((p) => p.id), "the list shows the server's pings, newest first");
  assert.deepEqual(await texts(page, ".ping-row .badge"), listed.map((p) => (p.status === "no-reply" ? "no reply" : p.status)));
  assert.equal(await page.locator(".status-bar .conn").getAttribute("data-conn"), "open");
  assert.equal(await page.locator(".status-bar .source").textContent(), file);
  assert.equal(await page.locator(".status-bar .mode-replay").textContent(), "replay");

  // The veth ping: host → ppR-client, both ends of the pair, eight hops, no drop drawn (the reply's
  // NO_SOCKET free at ping_rcv is the delivery to ping's raw socket, and the page says so).
  const veth = await fetchPing(server.url, byRoute(listed, "10.250.0.1", "10.250.0.2").id);
  await page.locator(`.ping-row[data-ping-id="${veth.id}"]`).click();
  await assertShowsPing(page, veth);
  assert.deepEqual(await texts(page, ".path-svg .pp-lane-label"), ["host", "ppR-client"]);
  assert.deepEqual([...new Set(await texts(page, ".path-svg .pp-node-label"))].sort(), ["ppR-cl0", "ppR-host"]);
  assert.equal(await page.locator(".path-svg .pp-drop").count(), 0);
  assert.match(await page.locator(".note-free").innerText(), /^The reply's skb was freed as NO_SOCKET at ping_rcv\+0x[0-9a-f]+ after ping's raw socket got its copy: a delivery, not a drop\.$/);
  assert.equal(new URL(page.url()).hash, `#/ping/${veth.id}`);

  // Permalink: a reload shows the same ping without clicking.
  await page.reload();
  await assertShowsPing(page, veth);

  // Routed through a forwarding namespace: three namespaces, sixteen hops, four interfaces.
  const routed = await fetchPing(server.url, byRoute(listed, "10.251.1.2", "10.251.2.2").id);
  await page.locator(`.ping-row[data-ping-id="${routed.id}"]`).click();
  await assertShowsPing(page, routed);
  assert.deepEqual(await texts(page, ".path-svg .pp-lane-label"), ["ppR-client", "ppR-router", "ppR-server"]);
  assert.equal(hopCount(routed), 16);
  await page.screenshot({ path: join(tmpdir(), "pktpath-dashboard.png") });

  // Dropped by nftables: the mark, its reason and location, on the request path.
  const dropped = await fetchPing(server.url, byRoute(listed, "10.252.0.3", "10.252.0.9").id);
  await page.locator(`.ping-row[data-ping-id="${dropped.id}"]`).click();
  await assertShowsPing(page, dropped);
  assert.deepEqual(await texts(page, ".path-svg .pp-drop-label"), ["dropped: NETFILTER_DROP", `at ${dropped.request?.dropped?.location}`]);
  assert.equal(await page.locator(".drop-note").innerText(),
    `Dropped: NETFILTER_DROP on the request path in ppR-db after ppR-db0 at ${dropped.request?.dropped?.location}`);
  await page.screenshot({ path: join(tmpdir(), "pktpath-dropped.png") });

  // Keyboard: the list is a listbox; ArrowDown selects the next (older) ping and updates the link.
  await page.locator(".ping-list").focus();
  await page.keyboard.press("ArrowDown");
  const next = listed[listed.findIndex((p) => p.id === dropped.id) + 1];
  assert.ok(next, "the dropped ping is not the oldest");
  await page.waitForFunction((id) => location.hash === `#/ping/${id}`, next.id);
  await assertShowsPing(page, await fetchPing(server.url, next.id));

  // Search (on the server): narrows the list to what matches every word.
  await page.getByLabel("Search pings").fill("dropped");
  await page.waitForFunction((id) => [...document.querySelectorAll(".ping-row")].map((e) => e.getAttribute("data-ping-id")).join() === id, dropped.id);
  await page.getByLabel("Search pings").fill("");
  await page.getByLabel("Search pings").press("p");
  assert.equal(await page.locator(".list-pane").count(), 1, "typing p in the search is just a letter");
  await page.getByLabel("Search pings").fill("");
  await page.locator(".ping-row").nth(listed.length - 1).waitFor();

  // Presentation mode: `p` hides the list and enlarges the type; the button brings it back.
  await page.locator(".ping-list").press("p");
  assert.equal(await page.locator(".list-pane").count(), 0);
  await page.screenshot({ path: join(tmpdir(), "pktpath-presentation.png") });
  await page.getByRole("button", { name: /exit presentation/i }).click();
  assert.equal(await page.locator(".list-pane").count(), 1);

  // Export: the SVG is the drawing; the PNG is twice its size.
  const svgFile = join(tmp.dir, "path.svg"), pngFile = join(tmp.dir, "path.png");
  const [svgDl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export SVG" }).click()]);
  await svgDl.saveAs(svgFile);
  const svgText = readFileSync(svgFile, "utf8");
  assert.match(svgText, /^<\?xml/);
  assert.match(svgText, /<svg[^>]* xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  // The export is the drawing of the ping selected last (the one after the dropped one).
  assert.ok(svgText.includes(`aria-label="Path of ${next.id} `), "the SVG is the selected ping's");
  assert.ok(svgText.includes(`source ${file}`), "the SVG says where it comes from");
  assert.ok(svgText.includes(">ppR-client</text>"), "the SVG carries the lane labels");
  assert.ok(!/<svg[^>]* style=/.test(svgText), "no page layout styles in the exported SVG");
  const [pngDl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export PNG" }).click()]);
  await pngDl.saveAs(pngFile);
  const png = readFileSync(pngFile);
  assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
  const svgWidth = Number(/<svg[^>]* width="([\d.]+)"/.exec(svgText)?.[1]);
  assert.equal(png.readUInt32BE(16), Math.ceil(svgWidth * 2), "PNG width is 2× the SVG's");

  assert.deepEqual(pageErrors, []);
});
