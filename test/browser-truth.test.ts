// What issues 7, 8 and 11 ask the page to show, on a LIVE capture: one `pktpath serve --source ebpf`
// on the real kernel, one real Chromium, real traffic through namespaces made here (prefix ppBT).
// A ping through a masquerading router (one ping, the SNAT mark, src → dst per hop), a ping across
// VXLAN (the tunnel band), an nft drop in a named table and chain (the rule in the banner, the
// Devices / Every step toggle), and a filter changed from the header (UDP shown, echoes not, the same
// BPF programs, a bad expression refused where typed). Needs root and bpf/ and client/dist built.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { buildFilter } from "../shared/filter/index.ts";
import type { Ping } from "../shared/types.ts";
import { routed, sh, Topology, vxlanOverlay } from "./lib/netns.ts";
import { programsHeldBy } from "./support/bpf-programs.ts";
import { openChromium } from "./support/chromium.ts";
import { ROOT, startServe, waitFor, type ServeChild } from "./support/cli-child.ts";

// In b: answers each datagram on 9501 with "pong". In a: one datagram from port 40001, waits for the answer.
const UDP_ECHO = `const u = require("node:dgram").createSocket("udp4");
u.on("message", (m, r) => u.send("pong", r.port, r.address));
u.bind(9501, "0.0.0.0", () => console.log("ready"));`;
const UDP_CLIENT = `const u = require("node:dgram").createSocket("udp4");
const t = setTimeout(() => process.exit(1), 2000);
u.on("message", () => { clearTimeout(t); u.close(); });
u.bind(40001, () => u.send("ping", 9501, process.argv[1]));`;

const MINE = "icmp and (net 10.71.0.0/16 or net 198.18.71.0/24 or net 10.72.0.0/16 or net 10.73.0.0/16 or net 10.74.0.0/16)";

const skip = process.getuid?.() !== 0 && "needs root: eBPF capture and network namespaces";
const shot = (name: string): string => join(tmpdir(), `pktpath-truth-${name}.png`);

/** The list's rows whose route starts with `prefix` ("icmp 10.71.1.2 → 198.18.71.2 "), newest first: their ids. */
const rowIds = (page: Page, prefix: string): Promise<string[]> =>
  page.locator(".ping-row").evaluateAll((els, p) => els
    .filter((e) => e.querySelector(".addr")?.textContent?.replace(/\s+/g, " ").trim().startsWith(p))
    .map((e) => e.getAttribute("data-ping-id") ?? ""), prefix);

/** Waits until the list holds `n` rows starting with `prefix` (and a little more, to see no extra one comes). */
async function listed(page: Page, prefix: string, n: number): Promise<string[]> {
  await waitFor(async () => ((await rowIds(page, prefix)).length >= n ? true : undefined), 8_000, `${n} rows "${prefix}…"`).catch(async (e: unknown) => {
    await page.screenshot({ path: shot("timeout") });
    throw e;
  });
  await page.waitForTimeout(1_500);
  return rowIds(page, prefix);
}

/** Opens a row and waits for its map. */
async function open(page: Page, id: string): Promise<void> {
  await page.locator(`.ping-row[data-ping-id="${id}"]`).click();
  await page.locator(".detail-title .pid", { hasText: id }).waitFor({ timeout: 5_000 });
  await page.locator(".path-svg .pp-box").first().waitFor({ timeout: 5_000 });
  await page.locator(".detail-pane").evaluate((e) => e.scrollTo(0, 0));
}

/** The hop table's rows: side, step, interface, namespace, header (with "*" where it is marked rewritten). */
const hopRows = (page: Page): Promise<string[][]> =>
  page.locator(".hop-table tbody tr:not(.drop-row):not(.free-row)").evaluateAll((trs) => trs.map((tr) => {
    const td = [...tr.querySelectorAll("td")];
    const header = td[5];
    return [1, 2, 3, 4].map((i) => td[i]?.textContent?.trim() ?? "").concat(`${header?.textContent ?? ""}${header?.classList.contains("nat") ? "*" : ""}`);
  }));

async function fetchJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return (await r.json()) as T;
}

const tryRun = (f: () => void): void => {
  try {
    f();
  } catch {
    // the echo is not answered (dropped): the point of the case
  }
};

test("live dashboard truth: NAT mark, VXLAN band, nft rule and every step, a filter changed from the page", { skip, timeout: 240_000 }, async (t) => {
  assert.ok(existsSync(join(ROOT, "client/dist/index.html")), "client/dist is missing: build it (npm test does) first");
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
  });
  const topos: Topology[] = [];
  const topology = (prefix: string): Topology => {
    const topo = new Topology(prefix);
    topos.push(topo);
    undo.push(() => topo.destroy());
    return topo;
  };

  // Only this file's networks: other tests on this machine may flood the host with echoes.
  const live: ServeChild = await startServe(["--source", "ebpf", MINE], 30_000);
  undo.push(() => live.stop());
  const b = await openChromium("ppBT", { width: 1440, height: 900 });
  undo.push(() => b.close());
  const { page } = b;
  await page.goto(live.url);
  await page.locator('.status-bar .conn[data-conn="open"]').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator(".status-bar .source").textContent(), "ebpf");

  await t.test("a masquerading router: one complete ping, SNAT at the router, the rewritten header per hop", async () => {
    const topo = topology("ppBT1");
    const P = topo.prefix;
    for (const ns of ["a", "r", "b"]) topo.netns(ns);
    topo.veth({ ns: "a", name: "a0" }, { ns: "r", name: "ra" });
    topo.veth({ ns: "r", name: "rb" }, { ns: "b", name: "b0" });
    topo.addr({ ns: "a", name: "a0" }, "10.71.1.2/24");
    topo.addr({ ns: "r", name: "ra" }, "10.71.1.1/24");
    topo.addr({ ns: "r", name: "rb" }, "198.18.71.1/24");
    topo.addr({ ns: "b", name: "b0" }, "198.18.71.2/24");
    topo.link("a", "route", "add", "default", "via", "10.71.1.1");
    topo.forwarding("r");
    topo.nft("r", `table ip ${P}_nat {\n chain post { type nat hook postrouting priority srcnat; oifname "${P}-rb" masquerade; }\n}`);
    // Neighbours resolved and conntrack warm before the ping the page is asked about.
    topo.exec("a", "ping", "-c", "1", "-W", "1", "198.18.71.2");
    await listed(page, "icmp 10.71.1.2 → 198.18.71.2 seq 1", 1);

    topo.exec("a", "ping", "-c", "1", "-W", "1", "198.18.71.2");
    // the warm-up and this one, each ONE row (never a half-path ping from the rewritten address)
    const ids = await listed(page, "icmp 10.71.1.2 → 198.18.71.2 seq 1", 2);
    assert.equal(ids.length, 2);
    assert.deepEqual(await rowIds(page, "icmp 198.18.71.1 "), [], "no ping from the rewritten source");
    assert.deepEqual(await rowIds(page, "icmp 198.18.71.2 "), [], "no ping from the far end");
    await open(page, ids[0]!);
    assert.equal(await page.locator(".detail-title .badge").textContent(), "complete");
    const notes = await page.locator(".path-notes li").allInnerTexts();
    assert.deepEqual(notes.map((n) => n.replace(/\+0x[0-9a-f]+/, "")), ["request: SNAT 10.71.1.2 → 198.18.71.1", "reply: DNAT 198.18.71.1 → 10.71.1.2",
      "The reply's skb was freed as NO_SOCKET at ping_rcv after ping's raw socket got its copy: a delivery, not a drop."]);
    const svgNotes = await page.locator(".path-svg .pp-note").allTextContents();
    assert.deepEqual(svgNotes.filter((s) => s.includes("NAT")), ["SNAT 10.71.1.2 → 198.18.71.1 at " + `${P}-rb`, "DNAT 198.18.71.1 → 10.71.1.2 at " + `${P}-rb`]);
    // The hop table: every hop, the header it had (the rewritten one from the nat chain on, the
    // reply un-NATed where the router forwards it), rewritten headers marked.
    const ping = await fetchJson<Ping>(`${live.url}/api/pings/${ids[0]}`);
    const table = await hopRows(page);
    assert.equal(table.length, ping.request!.hops.length + ping.reply!.hops.length);
    const [A, R, B, out, back, outNat, backNat] = [`${P}-a`, `${P}-r`, `${P}-b`, "10.71.1.2 → 198.18.71.2", "198.18.71.2 → 198.18.71.1",
      "198.18.71.1 → 198.18.71.2", "198.18.71.2 → 10.71.1.2"];
    assert.deepEqual(table.map((r) => r.join(" | ")), [
      `request | local out | ${P}-a0 | ${A} | ${out}`, `request | output | ${P}-a0 | ${A} | ${out}`, `request | queue | ${P}-a0 | ${A} | ${out}`,
      `request | rx | ${P}-ra | ${R} | ${out}`, `request | xmit | ${P}-a0 | ${A} | ${out}`, `request | receive | ${P}-ra | ${R} | ${out}`,
      `request | ip rcv | ${P}-ra | ${R} | ${out}`, `request | forward | ${P}-ra → ${P}-rb | ${R} | ${out}`, `request | output | ${P}-rb | ${R} | ${out}`,
      `request | ${P}_nat post masquerade | ${P}-rb | ${R} | ${outNat}*`, `request | queue | ${P}-rb | ${R} | ${outNat}*`,
      `request | rx | ${P}-b0 | ${B} | ${outNat}*`, `request | xmit | ${P}-rb | ${R} | ${outNat}*`, `request | receive | ${P}-b0 | ${B} | ${outNat}*`,
      `request | ip rcv | ${P}-b0 | ${B} | ${outNat}*`, `request | local deliver | ${P}-b0 | ${B} | ${outNat}*`,
      `reply | local out | ${P}-b0 | ${B} | ${back}`, `reply | output | ${P}-b0 | ${B} | ${back}`, `reply | queue | ${P}-b0 | ${B} | ${back}`,
      `reply | rx | ${P}-rb | ${R} | ${back}`, `reply | xmit | ${P}-b0 | ${B} | ${back}`, `reply | receive | ${P}-rb | ${R} | ${back}`,
      `reply | ip rcv | ${P}-rb | ${R} | ${back}`, `reply | forward | ${P}-rb → ${P}-ra | ${R} | ${backNat}*`, `reply | output | ${P}-ra | ${R} | ${backNat}*`,
      `reply | ${P}_nat post accept | ${P}-ra | ${R} | ${backNat}*`, `reply | queue | ${P}-ra | ${R} | ${backNat}*`, `reply | rx | ${P}-a0 | ${A} | ${backNat}*`,
      `reply | xmit | ${P}-ra | ${R} | ${backNat}*`, `reply | receive | ${P}-a0 | ${A} | ${backNat}*`, `reply | ip rcv | ${P}-a0 | ${A} | ${backNat}*`,
      `reply | local deliver | ${P}-a0 | ${A} | ${backNat}*`,
    ]);
    await page.screenshot({ path: shot("nat") });
    await page.locator(".hop-table").screenshot({ path: shot("nat-hops") });
  });

  await t.test("a VXLAN overlay between two nodes: one ping, the tunnel band labelled with kind, VNI and outer addresses", async () => {
    const topo = topology("ppBT2");
    const P = topo.prefix;
    vxlanOverlay(topo, 72);
    await listed(page, "icmp 10.72.0.1 → 10.72.0.2 seq 1", 1);
    topo.exec("p1", "ping", "-c", "1", "-W", "1", "10.72.0.2");
    const ids = await listed(page, "icmp 10.72.0.1 → 10.72.0.2 seq 1", 2);
    assert.equal(ids.length, 2, "one ping per echo, never one per tunnel end");
    assert.deepEqual(await rowIds(page, "icmp 198.18.72."), []);
    await open(page, ids[0]!);
    await page.screenshot({ path: shot("vxlan") });
    assert.equal(await page.locator(".detail-title .badge").textContent(), "complete");
    const [there, back] = ["vxlan 7: 198.18.72.1 → 198.18.72.2", "vxlan 7: 198.18.72.2 → 198.18.72.1"];
    assert.deepEqual(await page.locator(".path-notes li").allInnerTexts().then((n) => n.filter((x) => x.includes("vxlan"))),
      [`request carried in ${there}`, `reply carried in ${back}`]);
    // The band: over the underlay device on each node (the map wraps n2 onto a second row), the same
    // band both ways; the thick underlay edge between them; its label written in the node's box.
    assert.deepEqual(await page.locator(".path-svg .pp-tunnel title").allTextContents(), [`${there}\n${back}`, `${there}\n${back}`]);
    assert.equal(await page.locator(".path-svg .pp-edge path[stroke-width='10']").count(), 2, "the underlay step, each way");
    assert.deepEqual(await page.locator(".path-svg .pp-note-tunnel").allTextContents(), [there, back]);
    assert.deepEqual(await page.locator(".path-svg .pp-lane-label").allTextContents(), [`${P}-p1`, `${P}-n1`, `${P}-n2`, `${P}-p2`]);
    // The hop table marks the encapsulated steps with the tunnel's kind and VNI.
    const ping = await fetchJson<Ping>(`${live.url}/api/pings/${ids[0]}`);
    const carried = (ping.request?.hops ?? []).concat(ping.reply?.hops ?? []).filter((h) => h.outer).length;
    assert.equal(carried, 14, "seven underlay steps each way");
    assert.equal(await page.locator(".hop-table .tag.tunnel", { hasText: "vxlan 7" }).count(), carried);
  });

  await t.test("an nft drop in a named table and chain: the rule in words, Devices / Every step, every step in the table", async () => {
    const topo = topology("ppBT3");
    const P = topo.prefix;
    routed(topo, "10.73");
    await listed(page, "icmp 10.73.1.2 → 10.73.2.2 seq 1", 1);
    topo.nft("r", `table inet ${P}_f {\n chain guard { type filter hook forward priority 0; policy accept; icmp type echo-request drop; }\n}`);
    tryRun(() => topo.exec("a", "ping", "-c", "1", "-W", "1", "10.73.2.2"));
    const ids = await listed(page, "icmp 10.73.1.2 → 10.73.2.2 seq 1", 2);
    assert.equal(ids.length, 2);
    assert.equal(await page.locator(`.ping-row[data-ping-id="${ids[0]}"] .reason`).textContent(), `nft inet ${P}_f guard`);
    await open(page, ids[0]!);
    assert.equal(await page.locator(".detail-title .badge").textContent(), "dropped");
    assert.match(await page.locator(".drop-note").innerText(),
      new RegExp(`^Dropped by nft inet ${P}_f guard on the request path in ${P}-r after ${P}-ra \\(NETFILTER_DROP at nft_do_chain\\+0x[0-9a-f]+\\)$`));
    assert.deepEqual(await page.locator(".path-svg .pp-drop-label").allTextContents(), [`dropped by nft inet ${P}_f guard`, "NETFILTER_DROP"]);
    const events = (): Promise<string[]> => page.locator(`.path-svg [data-node$='|${P}-ra'] .pp-node-event`).allTextContents();
    // Devices: the router's receiving device with its device events only.
    assert.deepEqual(await events(), ["rx · receive"]);
    assert.equal(await page.locator(".path-svg .pp-node-event", { hasText: "guard drop" }).count(), 0);
    await page.getByRole("button", { name: "Every step" }).click();
    await page.locator(".path-svg .pp-node-event", { hasText: `${P}_f guard drop` }).waitFor({ timeout: 5_000 });
    assert.deepEqual(await events(), ["rx · receive", "ip rcv · forward", `${P}_f guard drop`]);
    const ping = await fetchJson<Ping>(`${live.url}/api/pings/${ids[0]}`);
    const table = await hopRows(page);
    assert.equal(table.length, ping.request!.hops.length);
    const steps = table.map((r) => `${r[1]} ${r[2]}`);
    assert.deepEqual(steps, [`local out ${P}-a0`, `output ${P}-a0`, `queue ${P}-a0`, `rx ${P}-ra`, `xmit ${P}-a0`,
      `receive ${P}-ra`, `ip rcv ${P}-ra`, `forward ${P}-ra → ${P}-rb`, `${P}_f guard drop ${P}-ra`]);
    assert.match(await page.locator(".hop-table tr.drop-row").innerText(), new RegExp(`kfree_skb — dropped by nft inet ${P}_f guard \\(NETFILTER_DROP\\) at nft_do_chain`));
    await page.screenshot({ path: shot("nft-every-step") });
    await page.getByRole("button", { name: "Devices" }).click();
    await page.locator(".path-svg .pp-node-event", { hasText: "guard drop" }).waitFor({ state: "detached", timeout: 5_000 });
  });

  await t.test("the filter changed from the header: UDP 9501 shown, echoes not, the same programs; a bad expression refused where typed", async () => {
    const topo = topology("ppBT4");
    const P = topo.prefix;
    routed(topo, "10.74");
    const echoes = "icmp 10.74.1.2 → 10.74.2.2 ";
    assert.equal((await listed(page, echoes, 1)).length, 1, "the warm-up echo, under the default filter");
    const before = programsHeldBy(live.child.pid!);
    assert.ok(before.length >= 7, `serve holds its programs: ${before.join(",")}`);
    const names = new Map((JSON.parse(sh("bpftool", "-j", "prog", "show")) as { id: number; name?: string }[]).map((p) => [p.id, p.name ?? ""]));
    const held = before.map((id) => names.get(id) ?? `${id}?`);
    t.diagnostic(`serve's programs: ${before.map((id, i) => `${id} ${held[i]}`).join(", ")}`);
    for (const name of ["handle_net_dev_queue", "handle_netif_receive_skb", "handle_kfree_skb", "nf_enter"]) assert.ok(held.includes(name), name);

    const box = page.getByLabel("Capture filter").locator("input");
    await box.fill("udp port 9501");
    await box.press("Enter");
    await page.getByRole("button", { name: "Applied" }).waitFor({ timeout: 5_000 });
    assert.equal(new URL(page.url()).searchParams.get("filter"), "udp port 9501");
    assert.deepEqual(await fetchJson(`${live.url}/api/filter`), { expression: "udp port 9501", editable: true });

    // A UDP server in b answers on 9501; a sends one datagram from port 40001, then an echo.
    const server = spawn("ip", ["netns", "exec", topo.n("b"), process.execPath, "-e", UDP_ECHO], { stdio: ["ignore", "pipe", "inherit"] });
    undo.push(() => server.kill("SIGTERM"));
    await once(server.stdout, "data");
    topo.exec("a", process.execPath, "-e", UDP_CLIENT, "10.74.2.2");
    topo.exec("a", "ping", "-c", "1", "-W", "1", "10.74.2.2");
    const udp = await listed(page, "udp 10.74.1.2:40001 → 10.74.2.2:9501", 1);
    assert.equal(udp.length, 1);
    assert.equal(await page.locator(`.ping-row[data-ping-id="${udp[0]}"] .badge`).textContent(), "complete");
    // The port is on the row's second line too: the first is cut short in a narrow list.
    assert.deepEqual(await page.locator(`.ping-row[data-ping-id="${udp[0]}"] .flags`).allTextContents(), [":9501"]);
    assert.equal((await rowIds(page, echoes)).length, 1, "no echo captured after the change");
    assert.deepEqual(programsHeldBy(live.child.pid!), before, "the same programs: nothing reloaded");
    await open(page, udp[0]!);
    assert.deepEqual(await page.locator(".path-svg .pp-lane-label").allTextContents(), [`${P}-a`, `${P}-r`, `${P}-b`]);
    await page.screenshot({ path: shot("filter-udp") });

    // A bad expression: the parser's message where it was typed; the kernel keeps the old filter.
    const bad = buildFilter("udp portt 9501");
    assert.ok(!bad.ok);
    await box.fill("udp portt 9501");
    await box.press("Enter");
    await page.locator("#capture-filter-error").waitFor({ timeout: 5_000 });
    assert.equal(await page.locator("#capture-filter-error span").textContent(), bad.message);
    assert.equal(bad.message, 'expected "and" or "or" before "portt"');
    assert.equal(await page.locator("#capture-filter-error .caret").textContent(), "udp portt 9501\n    ^");
    assert.equal(await box.getAttribute("aria-invalid"), "true");
    assert.equal(await box.inputValue(), "udp portt 9501");
    assert.deepEqual(await fetchJson(`${live.url}/api/filter`), { expression: "udp port 9501", editable: true });
    assert.deepEqual(programsHeldBy(live.child.pid!), before);
    await page.screenshot({ path: shot("filter-refused") });
    assert.deepEqual(b.errors, ["Failed to load resource: the server responded with a status of 400 (Bad Request)"], "the one refusal");
  });
});
