// The list at scale: a capture of 100,000 pings (or argv[2]) opened in the page in a real Chromium,
// then the list scrolled for ~10 s, a step per animation frame, steadily and in jumps. Prints the
// time to open the file and the frame times (p50/p95/p99/max ms, frames over 20 ms), and how many
// rows were in the DOM. Asserts nothing: figures, not a test.
// Usage (after `npm ci` and a client build): node --import tsx bench/list-scroll.ts [pings]
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServe } from "../test/support/cli-child.ts";

const PINGS = Number(process.argv[2] ?? 100_000);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const HOST = 4026531833, NS = 4026532177;

/**
 * Four events a ping, as an eBPF capture has them at the ends of a veth: the request queued on the
 * host and freed in the namespace, the reply received on the host and freed as NO_SOCKET after ping's
 * raw socket took its copy. One in a hundred dropped by nft instead. Fifty destinations, so flows exist.
 */
function capture(n: number): string {
  const lines = [JSON.stringify({ pktpath: "capture", version: 1, source: "ebpf", kernel: "bench", startedAt: "2026-12-02T00:00:00.000Z" })];
  for (let i = 0; i < n; i++) {
    const t = 1e6 + i * 200_000, dst = `10.240.${Math.floor(i / 50) % 200}.${(i % 50) + 2}`;
    const seq = i % 60000, id = 1000 + Math.floor(i / 60000);
    const req = { family: 4, proto: "icmp", src: "10.240.0.1", dst, icmp: { type: 8, id, seq } };
    const rep = { family: 4, proto: "icmp", src: dst, dst: "10.240.0.1", icmp: { type: 0, id, seq } };
    const a = `0xffff8881${(0x1000000 + 2 * (i % 4096)).toString(16)}00`, b = `0xffff8882${(0x1000000 + 2 * (i % 4096)).toString(16)}00`;
    lines.push(JSON.stringify({ event: "net_dev_queue", tNs: t, skbaddr: a, len: 98, ifname: "ppB-h", netns: HOST, netnsName: "host", packet: req }));
    if (i % 100 === 99) {
      lines.push(JSON.stringify({ event: "kfree_skb", tNs: t + 9000, skbaddr: a, netns: NS, dropReason: "NETFILTER_DROP", location: "nft_do_chain+0x46f" }));
      continue;
    }
    lines.push(JSON.stringify({ event: "consume_skb", tNs: t + 9000, skbaddr: a, netns: NS }));
    lines.push(JSON.stringify({ event: "netif_receive_skb", tNs: t + 30_000 + (i % 37) * 1000, skbaddr: b, len: 84, ifname: "ppB-h", netns: HOST, netnsName: "host", packet: rep }));
    lines.push(JSON.stringify({ event: "kfree_skb", tNs: t + 40_000, skbaddr: b, netns: HOST, dropReason: "NO_SOCKET", location: "ping_rcv+0xb3" }));
  }
  return lines.join("\n") + "\n";
}

/**
 * Runs in the page (as text: tsx would wrap a function literal in helpers the page does not have).
 * steady: 600 px a frame (a fast flick); jumps: anywhere in the list (the scrollbar dragged).
 */
const SCROLL = `async (mode) => {
  const list = document.querySelector(".ping-list");
  if (!list) throw new Error("no list");
  list.scrollTop = 0;
  const frames = [];
  let rows = 0, i = 0, last = performance.now();
  const end = last + 5000;
  await new Promise((resolve) => {
    const step = (now) => {
      frames.push(now - last);
      last = now;
      rows = Math.max(rows, list.querySelectorAll(".ping-row").length);
      i++;
      list.scrollTop = mode === "steady" ? (i * 600) % list.scrollHeight : ((i * 7919) % 1000) / 1000 * list.scrollHeight;
      if (now < end) requestAnimationFrame(step); else resolve();
    };
    requestAnimationFrame(step);
  });
  return { frames: frames.slice(1), rows, height: list.scrollHeight };
}`;

const stats = (ms: number[]): string => {
  const s = [...ms].sort((x, y) => x - y);
  const q = (p: number): string => (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN).toFixed(1);
  return `frames ${s.length}: p50 ${q(50)} ms, p95 ${q(95)} ms, p99 ${q(99)} ms, max ${(s.at(-1) ?? NaN).toFixed(1)} ms, ${s.filter((x) => x > 20).length} over 20 ms (a frame missed)`;
};

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "client/dist/index.html"))) throw new Error("build the client first: npx vite build --config client/vite.config.ts");
  const dir = mkdtempSync(join(tmpdir(), "ppU-bench-"));
  const file = join(dir, `list-${PINGS}.ndjson`);
  writeFileSync(file, capture(PINGS));
  const server = await startServe(["--source", join(ROOT, "test/fixtures/ebpf/topologies.ndjson")], 20_000);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(server.url);
    await page.locator(".ping-row").first().waitFor({ timeout: 15_000 });
    const t0 = performance.now();
    await page.locator("input[type=file]").setInputFiles(file);
    await page.locator(".status-bar .file-name").waitFor({ timeout: 600_000 });
    const openMs = performance.now() - t0;
    const listed = await page.locator(".list-count .count").textContent();
    console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} (others' work counts in the frame times)`);
    console.log(`opened ${PINGS.toLocaleString("en-US")} pings in ${(openMs / 1000).toFixed(1)} s; the list says ${listed}`);
    for (const mode of ["steady", "jumps"] as const) {
      const result = (await page.evaluate(`(${SCROLL})(${JSON.stringify(mode)})`)) as { frames: number[]; rows: number; height: number };
      console.log(`${mode}: ${stats(result.frames)}; at most ${result.rows} rows in the DOM of a ${result.height.toLocaleString("en-US")} px list`);
    }
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
