// The dashboard as an incident review uses it, in a real Chromium against a real `pktpath serve`:
// a ping through eight namespaces (test/fixtures/ebpf/eight-ns.ndjson, recorded with
// `record-ebpf.sh eight`) presented at 1920×1080: every namespace named on screen at ≥ 12 px, nothing
// scrolling sideways, the reply route drawn; keys between pings; a drop named; a link to a ping the
// server no longer has; the copied link and the light export saying what they show.
// Then 5,000 pings: the server's search finds the one drop by its reason, over HTTP and in the page.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { pingIdPrefixOf, tempDir, writeCapture } from "./support/capture-file.ts";
import { openChromium, svgTexts } from "./support/chromium.ts";
import { ROOT, startServe, waitFor } from "./support/cli-child.ts";
import { EIGHT_NS_FIXTURE, EIGHT_NS_NAMES, eightNsCapture } from "./support/eight-ns.ts";
import { existsSync } from "node:fs";

/** serve names the recording's pings after its start */
const P = pingIdPrefixOf(EIGHT_NS_FIXTURE);

const rowIds = (page: Page): Promise<(string | null)[]> =>
  page.locator(".ping-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-ping-id")));

const noSideScroll = (page: Page): Promise<string[]> => page.evaluate(() =>
  [document.scrollingElement, ...document.querySelectorAll(".app-main, .detail-pane, .path-pane")]
    .filter((e): e is Element => e !== null && e.scrollWidth > e.clientWidth)
    .map((e) => `${e.className || e.tagName} ${e.scrollWidth} > ${e.clientWidth}`));

test("presentation at 1920×1080: eight namespaces named on screen, no sideways scroll, both routes; keys, drops, links, export",
  { timeout: 120_000 }, async (t) => {
    assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
    const undo: (() => unknown)[] = [];
    t.after(async () => {
      for (const step of undo.reverse()) await step();
    });
    const server = await startServe(["--source", EIGHT_NS_FIXTURE], 20_000);
    undo.push(() => server.stop());
    const b = await openChromium("ppU-present", { width: 1920, height: 1080 });
    undo.push(() => b.close());
    const { page } = b;
    await b.ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });

    await page.goto(server.url);
    await page.locator(".ping-row").nth(2).waitFor({ timeout: 10_000 });
    assert.deepEqual(await rowIds(page), [`${P}3`, `${P}2`, `${P}1`]);
    await page.locator(`.ping-row[data-ping-id="${P}1"]`).click();
    await page.locator(".path-svg .pp-node").nth(13).waitFor();
    await page.keyboard.press("p");
    await page.locator(".app.presenting").waitFor();
    await page.waitForFunction(() => (document.querySelector(".path-svg") as SVGSVGElement | null)?.getBoundingClientRect().width ?? 0 > 1700);

    const labels = await svgTexts(page, ".path-svg .pp-lane-label");
    assert.deepEqual(labels.map((l) => l.text), EIGHT_NS_NAMES, "eight namespaces, each named once, in path order");
    for (const l of labels) {
      assert.ok(l.left >= 0 && l.right <= 1920 && l.top >= 0 && l.bottom <= 1080, `${l.text} inside the viewport: ${JSON.stringify(l)}`);
      assert.ok(l.px >= 12, `${l.text} drawn at ${l.px} px`);
    }
    for (const sel of [".pp-node-label", ".pp-node-event", ".pp-edge-label", ".pp-note"]) {
      const small = (await svgTexts(page, `.path-svg ${sel}`)).filter((x) => x.px < 12);
      assert.deepEqual(small, [], `every ${sel} at 12 px or more`);
    }
    assert.deepEqual(await noSideScroll(page), [], "nothing scrolls sideways");
    assert.equal(await page.locator('.path-svg .pp-edge[data-side="request"]').count(), 13);
    assert.equal(await page.locator('.path-svg .pp-edge[data-side="reply"]').count(), 13, "the reply route, every step back");
    assert.equal(await page.locator(".path-svg .pp-node").count(), 14, "one node per interface");
    assert.match(await page.locator(".note-free").innerText(), /freed as NO_SOCKET at ping_rcv\+0x[0-9a-f]+ after ping's raw socket got its copy: a delivery, not a drop/);
    await page.screenshot({ path: join(tmpdir(), "pktpath-presentation-8ns-1920.png") });

    // ←/→ and j/k walk the list (newest first) while presenting; Esc leaves.
    const selected = (): Promise<string | null> => page.locator(".detail-title .pid").textContent();
    await page.keyboard.press("ArrowLeft");
    await waitFor(async () => ((await selected()) === `${P}2` ? true : undefined), 5000, "← selects the newer ping");
    await page.keyboard.press("k");
    await waitFor(async () => ((await selected()) === `${P}3` ? true : undefined), 5000, "k selects the newer ping");
    const drop = await page.locator(".drop-note").innerText();
    assert.match(drop, /^Dropped: NETFILTER_DROP on the request path in ppU-r5 after ppU-r5-5 at nft_do_chain\+0x[0-9a-f]+$/);
    assert.deepEqual((await svgTexts(page, ".path-svg .pp-drop-label")).map((x) => x.text.replace(/0x[0-9a-f]+/, "0x…")),
      ["dropped: NETFILTER_DROP", "at nft_do_chain+0x…"]);
    await page.screenshot({ path: join(tmpdir(), "pktpath-presentation-8ns-drop-1920.png") });
    await page.keyboard.press("j");
    await waitFor(async () => ((await selected()) === `${P}2` ? true : undefined), 5000, "j selects the older ping");
    await page.keyboard.press("ArrowRight");
    await waitFor(async () => ((await selected()) === `${P}1` ? true : undefined), 5000, "→ selects the older ping");
    assert.equal(new URL(page.url()).hash, `#/ping/${P}1`);
    await page.keyboard.press("Escape");
    await page.locator(".list-pane").waitFor();
    assert.equal(await page.locator(".app.presenting").count(), 0);

    // Copy link: the URL says what it was, so it still does when the server no longer has it.
    await page.getByRole("button", { name: "Copy link" }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    // the link says when (the recording's wall clock) and what, to make sense even once the ping is gone
    assert.equal(new URL(copied).hash, `#/ping/${P}1?at=2026-12-02T06%3A47%3A58.477779Z&what=icmp+10.253.1.1+%E2%86%92+10.253.7.2+seq+1+%C2%B7+complete`);

    // A link to a ping this server does not have: says so, says what it was, offers the capture.
    await page.goto(`${server.url}/#/ping/r9-p-77?at=2026-12-01T09%3A00%3A00.000001Z&what=icmp+10.9.9.9+%E2%86%92+10.8.8.8+seq+4+%C2%B7+dropped`);
    await page.getByRole("alert").waitFor();
    assert.equal(await page.getByRole("alert").innerText(), "This server no longer has ping r9-p-77: it aged out of the store or came from another run.");
    assert.equal(await page.locator(".gone-what").innerText(), "The link was to icmp 10.9.9.9 → 10.8.8.8 seq 4 · dropped at 2026-12-01T09:00:00.000001Z.");
    assert.equal(await page.locator(".gone").getByRole("button", { name: "Save capture" }).count(), 1);

    // The export: light by default, with host, source and what it shows over the map and waterfall.
    await page.goto(`${server.url}/#/ping/${P}1`);
    await page.locator(".path-svg .pp-node").nth(13).waitFor();
    const tmp = tempDir("ppU-export-");
    undo.push(tmp.remove);
    const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export SVG" }).click()]);
    const svgFile = join(tmp.dir, "path.svg");
    await dl.saveAs(svgFile);
    const svg = readFileSync(svgFile, "utf8");
    assert.match(svg, /^<\?xml/);
    assert.ok(svg.includes('fill="#ffffff"'), "light background");
    assert.ok(!svg.includes("#0d1117"), "nothing of the dark theme");
    assert.ok(svg.includes(`>${P}1 · icmp 10.253.1.1 → 10.253.7.2 seq 1 · complete · rtt 58.5 µs</text>`), "what it shows");
    assert.ok(svg.includes(`host ${hostname()} · source ${EIGHT_NS_FIXTURE}`), "where it comes from");
    for (const name of EIGHT_NS_NAMES) assert.ok(svg.includes(`>${name}</text>`), `${name} in the export`);
    assert.ok(svg.includes('class="pp-waterfall"'), "the waterfall under the map");
    // The failed loads are the page asking for the id the server does not have, as a ping and as an exchange.
    assert.deepEqual(b.errors, Array(2).fill("Failed to load resource: the server responded with a status of 404 (Not Found)"));
  });

test("5,000 pings: the server's search finds the drop by its reason, over HTTP and in the page; flows group them", { timeout: 180_000 }, async (t) => {
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
  });
  const tmp = tempDir("ppU-5000-");
  undo.push(tmp.remove);
  const file = writeCapture(tmp.dir, "five-thousand.ndjson", eightNsCapture(4999));
  const server = await startServe(["--source", file], 60_000);
  undo.push(() => server.stop());
  const get = async (path: string): Promise<{ status: number; total: string | null; body: unknown }> => {
    const res = await fetch(`${server.url}${path}`);
    return { status: res.status, total: res.headers.get("x-total-count"), body: await res.json() };
  };
  await waitFor(async () => ((await get("/api/pings?limit=1")).total === "5000" ? true : undefined), 90_000, "5,000 pings held");

  const found = await get("/api/pings?q=NETFILTER_DROP");
  assert.equal(found.status, 200);
  assert.equal(found.total, "1");
  assert.ok(Array.isArray(found.body) && found.body.length === 1);
  const drop: unknown = found.body[0];
  assert.ok(typeof drop === "object" && drop !== null && "status" in drop && "src" in drop && "id" in drop);
  assert.deepEqual([drop.status, drop.src], ["dropped", "10.253.1.3"]);
  const dropId = String(drop.id);
  assert.equal((await get("/api/pings?q=nft_do_chain%20ppu-r5")).total, "1", "by location and namespace, any case");
  assert.equal((await get("/api/pings?q=ppU-r5-5")).total, "5000", "every ping passed r5's interface");
  assert.equal((await get("/api/pings?q=ppU-server-7")).total, "4999", "all but the dropped one reached the server");
  assert.deepEqual(await get("/api/pings?q=a&q=b"), { status: 400, total: null, body: { error: "q: expected one search text" } });
  assert.deepEqual(await get(`/api/pings?q=${"x".repeat(201)}`), { status: 400, total: null, body: { error: "q: longer than 200 characters" } });
  const flows = await get("/api/flows");
  assert.equal(flows.status, 200);
  const f = flows.body as { matched: number; flows: { key: string; count: number; dropped: number; rttP50Ns?: number; rttP99Ns?: number }[] };
  assert.equal(f.matched, 5000);
  assert.deepEqual(f.flows.map((x) => [x.key, x.count, x.dropped]), [["icmp-echo 10.253.1.3 10.253.7.2", 1, 1], ["icmp-echo 10.253.1.1 10.253.7.2", 4999, 0]]);
  const [, echo] = f.flows;
  assert.ok(echo?.rttP50Ns !== undefined && echo.rttP99Ns !== undefined && echo.rttP50Ns <= echo.rttP99Ns);

  const b = await openChromium("ppU-search", { width: 1440, height: 900 });
  undo.push(() => b.close());
  const { page } = b;
  await page.goto(server.url);
  await page.locator(".ping-row").first().waitFor({ timeout: 15_000 });
  await waitFor(async () => ((await page.locator(".list-count .count").textContent()) === "100 of 5,000" ? true : undefined), 5000, "100 of 5,000");
  // Pause keeps what is shown; resuming does not cut the list back.
  await page.getByRole("button", { name: "Pause updates" }).click();
  await page.getByRole("button", { name: "Resume updates" }).click();
  await page.waitForTimeout(500);
  assert.equal(await page.locator(".list-count .count").textContent(), "100 of 5,000");

  await page.getByLabel("Search pings").fill("NETFILTER_DROP");
  await waitFor(async () => {
    const ids = await rowIds(page);
    return ids.length === 1 && ids[0] === dropId ? true : undefined;
  }, 10_000, "the page lists the one drop the server found");
  assert.equal(await page.locator(".list-count .count").textContent(), "1");
  assert.match(await page.locator(".list-count").textContent() ?? "", /^1matching/);
  assert.equal(await page.locator(".ping-row .reason").textContent(), "NETFILTER_DROP");
  await page.locator(".ping-row").first().click();
  await page.locator(".drop-note").waitFor();
  assert.match(await page.locator(".drop-note").innerText(), /^Dropped: NETFILTER_DROP on the request path in ppU-r5/);
  await page.screenshot({ path: join(tmpdir(), "pktpath-search-1440.png") });

  await page.getByLabel("Search pings").fill("");
  await page.getByRole("button", { name: "Flows" }).click();
  await page.locator(".flow-row").nth(1).waitFor();
  // The server's groups over all it holds, not the page's hundred.
  await waitFor(async () => ((await page.locator(".flow-row .flow-count").allTextContents()).join() === "1,4,999" ? true : undefined), 10_000, "the server's flows");
  assert.deepEqual(await page.locator(".flow-row .addr").allTextContents(), ["icmp 10.253.1.3 → 10.253.7.2", "icmp 10.253.1.1 → 10.253.7.2"]);
  // Open the big group: the members the page holds, and the way to the rest on the server.
  await page.locator(".flow-row").nth(1).click();
  await page.locator(".ping-row.member").first().waitFor();
  assert.equal(await page.locator(".flow-row").nth(1).getAttribute("aria-expanded"), "true");
  // The list is virtual: the last row is drawn once scrolled to.
  await page.locator(".ping-list").evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await page.locator(".more-row").waitFor();
  assert.equal(await page.locator(".more-row").textContent(), "4,900 more on the server: search “10.253.1.1 10.253.7.2” to list them");
  await page.screenshot({ path: join(tmpdir(), "pktpath-flows-1440.png") });
  await page.locator(".more-row").click();
  await page.getByRole("button", { name: "Flows" }).click();
  await waitFor(async () => ((await page.locator(".list-count .count").textContent()) === "1,000 of 4,999" ? true : undefined), 10_000, "1,000 of 4,999");
  assert.deepEqual(b.errors, []);
});
