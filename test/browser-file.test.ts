// The dashboard's capture files in a real Chromium: "Open capture…" reads a file in the page (the real
// eBPF topologies capture, a tracefs text capture, a broken file, a large one) while the live stream of
// a real `pktpath serve --source demo` goes on behind it; "Save capture" downloads the session as a
// file that opens again. Needs client/dist (npm test builds it).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";
import { chromium, type Page } from "playwright-core";
import type { RawEvent } from "../shared/types.ts";
import { pingIdPrefixOf, tempDir, writeCapture } from "./support/capture-file.ts";
import { ROOT, startServe, waitFor } from "./support/cli-child.ts";
import { fetchPings } from "./support/api.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/ebpf/topologies.ndjson", import.meta.url));
/** The page names a file's pings as the dashboard that recorded it did: after the capture's start. */
const P = pingIdPrefixOf(FIXTURE);
const TRACEFS_TEXT = fileURLToPath(new URL("./fixtures/text/tracefs-veth-drop.txt", import.meta.url));
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** A served page in its own Chromium profile; everything is undone when the test ends, pass or fail. */
async function openDashboard(t: TestContext, prefix: string, source: string) {
  assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
  });
  const tmp = tempDir(prefix);
  undo.push(tmp.remove);
  const server = await startServe(["--source", source]);
  undo.push(server.stop);
  const profile = mkdtempSync(join(tmpdir(), `${prefix}chromium-`));
  undo.push(() => rmSync(profile, { recursive: true, force: true }));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true, viewport: { width: 1440, height: 900 }, acceptDownloads: true,
  });
  undo.push(() => Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 10_000))]));
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
  const apiCalls: string[] = [];
  page.on("request", (r) => { if (new URL(r.url()).pathname.startsWith("/api/")) apiCalls.push(new URL(r.url()).pathname); });
  await page.goto(server.url);
  return { page, url: server.url, dir: tmp.dir, pageErrors, apiCalls };
}

const rowIds = (page: Page): Promise<(string | null)[]> =>
  page.locator(".ping-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-ping-id")));
const texts = (page: Page, selector: string): Promise<string[]> =>
  page.locator(selector).evaluateAll((els) => els.map((e) => e.textContent ?? ""));

async function serverHealth(url: string): Promise<{ events: number; source: string }> {
  return (await (await fetch(`${url}/api/health`)).json()) as { events: number; source: string };
}

test("Open capture: a file's pings in the page, live paused behind it, errors by line, back to live", { timeout: 120_000 }, async (t) => {
  const { page, url, pageErrors, apiCalls } = await openDashboard(t, "ppF1-", "demo");
  await page.locator(".ping-row").first().waitFor({ timeout: 15_000 });
  assert.equal(await page.locator(".status-bar .source").textContent(), "demo");

  await page.locator("input[type=file]").setInputFiles(FIXTURE);
  await page.locator(".status-bar .file-name").waitFor({ timeout: 10_000 });
  assert.equal(await page.locator(".status-bar .file-name").textContent(), "file: topologies.ndjson");
  assert.deepEqual(await rowIds(page), [5, 4, 3, 2, 1].map((n) => `${P}${n}`), "the file's pings, newest first");
  assert.deepEqual(await texts(page, ".ping-row .badge"), ["dropped", "complete", "complete", "complete", "complete"]);
  assert.deepEqual(await texts(page, ".status-bar .item b"), ["topologies.ndjson", "ebpf", "65", "9", "5"]);

  // The live replay goes on (the server ingests, the stream stays open), but nothing of it is shown.
  const before = (await serverHealth(url)).events;
  await waitFor(async () => ((await serverHealth(url)).events > before ? true : undefined), 10_000, "live events");
  await page.waitForTimeout(1500);
  assert.deepEqual(await rowIds(page), [5, 4, 3, 2, 1].map((n) => `${P}${n}`), "no live ping merged into the file view");
  assert.equal(await page.locator(".status-bar .conn").getAttribute("data-conn"), "open", "the WebSocket stays connected");
  assert.equal(await page.getByRole("button", { name: "Save capture" }).count(), 0, "saving is for the live session");

  // The dropped one: the nft drop on the request path, from the file's own hops (nothing fetched).
  const callsBefore = apiCalls.length;
  await page.locator(`.ping-row[data-ping-id="${P}5"]`).click();
  await page.locator(".drop-note").waitFor();
  assert.match(await page.locator(".drop-note").innerText(), /^Dropped: NETFILTER_DROP on the request path in ppR-db after ppR-db0 at nft_do_chain\+0x[0-9a-f]+$/);
  assert.equal((await texts(page, ".path-svg .pp-drop-label"))[0], "dropped: NETFILTER_DROP");
  assert.equal(await page.locator(".hop-table tbody tr:not(.drop-row):not(.free-row)").count(), 8);
  assert.deepEqual(await texts(page, ".path-svg .pp-lane-label"), ["ppR-web", "ppR-bridge", "ppR-db"]);
  assert.equal(await page.getByRole("button", { name: "Copy link" }).count(), 0, "a file's ping has no server link");
  assert.deepEqual(apiCalls.slice(callsBefore), [], "a file's ping is not asked of the server");
  await page.screenshot({ path: join(tmpdir(), "pktpath-file-open.png") });

  // A broken file: one message naming the file and line; the open file stays.
  const lines = readFileSync(FIXTURE, "utf8").split("\n");
  await page.locator("input[type=file]").setInputFiles({ name: "broken.ndjson", mimeType: "application/x-ndjson",
    buffer: Buffer.from([lines[0], lines[1], "{oops", lines[2]].join("\n")) });
  await page.getByRole("alert").waitFor();
  assert.equal(await page.locator(".file-error code").textContent(), "broken.ndjson:3: not valid JSON");
  assert.equal(await page.locator(".status-bar .file-name").textContent(), "file: topologies.ndjson");
  await page.screenshot({ path: join(tmpdir(), "pktpath-file-error.png") });
  await page.getByRole("button", { name: "Dismiss" }).click();

  // A tracefs text capture: journeys but no packet headers, so no pings, and the page says why.
  await page.locator("input[type=file]").setInputFiles(TRACEFS_TEXT);
  await page.locator(".status-bar .file-name", { hasText: "tracefs-veth-drop.txt" }).waitFor();
  assert.deepEqual(await texts(page, ".status-bar .item b"), ["tracefs-veth-drop.txt", "tracefs", "61", "5", "0"]);
  assert.match(await page.locator(".list-pane .empty").innerText(), /^No pings in tracefs-veth-drop\.txt: 5 journeys/);

  // Back to live: the server's pings again, the file forgotten.
  await page.getByRole("button", { name: "Back to live" }).click();
  await page.locator(".status-bar .source").waitFor();
  assert.equal(await page.locator(".status-bar .file-name").count(), 0);
  assert.equal(await page.locator(".status-bar .source").textContent(), "demo");
  const live = new Set((await fetchPings(url)).map((p) => p.id));
  const shown = await rowIds(page);
  assert.ok(shown.length > 0 && shown.every((id) => id !== null && live.has(id)), `live rows: ${shown.join(" ")}`);
  assert.deepEqual(pageErrors, []);
});

test("Open capture: a large file streams in with progress, the page answering meanwhile", { timeout: 120_000 }, async (t) => {
  const { page, dir, pageErrors } = await openDashboard(t, "ppF2-", "demo");
  // The five topologies again and again, each round later: 3000 rounds, 195,000 events, ~65 MB.
  const events = readFileSync(FIXTURE, "utf8").trimEnd().split("\n").slice(1).map((l) => JSON.parse(l) as RawEvent);
  const roundNs = (events.at(-1)?.tNs ?? 0) + 3e9;
  const rounds = 3000;
  const out: string[] = [readFileSync(FIXTURE, "utf8").split("\n")[0]!];
  for (let r = 0; r < rounds; r++) for (const e of events) out.push(JSON.stringify({ ...e, tNs: e.tNs + r * roundNs }));
  const big = writeCapture(dir, "big.ndjson", out.join("\n") + "\n");

  await page.locator("input[type=file]").setInputFiles(big);
  await page.locator(".file-banner progress").waitFor({ timeout: 10_000 });
  // While it reads, the page answers script and shows how far it got.
  const answersMs: number[] = [];
  const seenLines = new Set<string>();
  while (await page.locator(".file-banner progress").count() > 0) {
    const t0 = performance.now();
    const banner = await page.locator(".file-banner").textContent().catch(() => null);
    answersMs.push(performance.now() - t0);
    if (banner) seenLines.add(/([\d,]+) lines/.exec(banner)?.[1] ?? "");
    if (seenLines.size === 2) await page.screenshot({ path: join(tmpdir(), "pktpath-file-progress.png") }).catch(() => undefined);
    await page.waitForTimeout(50);
  }
  t.diagnostic(`progress states seen: ${seenLines.size}; slowest answer while reading: ${Math.round(Math.max(...answersMs))} ms`);
  assert.ok(seenLines.size >= 3, `progress moved: ${[...seenLines].join(" ")}`);
  // Responsiveness is shown by the page answering between progress steps; how fast is a figure, not a test.
  assert.ok(answersMs.length >= seenLines.size, "the page answered while reading");
  await page.locator(".status-bar .file-name").waitFor();
  assert.deepEqual((await texts(page, ".status-bar .item b")).slice(0, 5),
    ["big.ndjson", "ebpf", (65 * rounds).toLocaleString("en-US"), (9 * rounds).toLocaleString("en-US"), (5 * rounds).toLocaleString("en-US")]);
  // The list is virtual: all of them listed, only the rows in view in the page.
  assert.equal(await page.locator(".list-count .count").textContent(), (5 * rounds).toLocaleString("en-US"), "every ping listed");
  const inDom = await page.locator(".ping-row").count();
  assert.ok(inDom > 10 && inDom < 60, `${inDom} rows drawn`);
  assert.equal(await page.locator(".ping-row").first().getAttribute("data-ping-id"), `${P}${5 * rounds}`);
  assert.deepEqual(pageErrors, []);
});

test("Save capture: the download is a pktpath capture of the session, and opens again", { timeout: 120_000 }, async (t) => {
  const tmp = tempDir("ppF3-src-");
  t.after(tmp.remove);
  const source = writeCapture(tmp.dir, "topologies.ndjson", readFileSync(FIXTURE, "utf8"));
  const { page, url, dir, pageErrors } = await openDashboard(t, "ppF3-", source);
  await waitFor(async () => ((await fetchPings(url)).length === 5 ? true : undefined), 10_000, "five pings");

  await page.screenshot({ path: join(tmpdir(), "pktpath-save.png") });
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Save capture" }).click()]);
  assert.match(download.suggestedFilename(), /^pktpath-\d{8}T\d{6}Z\.ndjson$/);
  const saved = join(dir, download.suggestedFilename());
  await download.saveAs(saved);
  const lines = readFileSync(saved, "utf8").trimEnd().split("\n");
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual([header.pktpath, header.version, header.source], ["capture", 1, source]);
  assert.equal(lines.length, 66, "the header and the 65 events");

  // Opened in the page: the pings the server showed.
  await page.locator("input[type=file]").setInputFiles(saved);
  await page.locator(".status-bar .file-name").waitFor();
  assert.deepEqual(await rowIds(page), (await fetchPings(url)).map((p) => p.id));
  assert.deepEqual(pageErrors, []);
});
