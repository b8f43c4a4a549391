// `pktpath serve --source ebpf` under a flood: `ping -f` into a namespace over a veth for 60 s (or
// argv[2] seconds), with one WebSocket client that reads and one that never does. Every 5 s: the
// server's RSS, events, lost by cause, pings streamed (and summarised), /api/health's answer time and
// the main thread's event-loop delay (bench/loop-delay.mjs, preloaded; its windows start with the
// flood, and the start-up is reported apart), and the dashboard's own
// health in Chromium (open the whole time): its frame time p95 and how long it takes to answer; at
// the end the peak RSS, pings/s streamed, the worst event-loop delay p99, the worst frame time p95,
// one's own pings sent amid the flood (how many shown, how soon), the slow client's fate, and a
// screenshot of the page (/tmp/pktpath-soak.png). Asserts nothing.
// Usage (root, after `make -C bpf`, `vite build`): node --import tsx bench/soak.ts [seconds]
// (PKTPATH_SOAK_BROWSER=0: no browser; PKTPATH_SOAK_PAGE_AT=N: the page opened N s into the flood)
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { WebSocket } from "ws";

const SECONDS = Number(process.argv[2] ?? 60);
const MARKER_ID = 4242;
/** one every 0.5 s for most of the run */
const MARKERS = Math.max(1, Math.floor((SECONDS - 2) * 2));
const BIN = fileURLToPath(new URL("../bin/pktpath.js", import.meta.url));
const LOOP_DELAY = fileURLToPath(new URL("./loop-delay.mjs", import.meta.url));
const P = "ppS1";
const ip = (...a: string[]) => void execFileSync("ip", a, { stdio: ["ignore", "ignore", "pipe"] });

function teardown(): void {
  try { ip("netns", "del", `${P}-ns`); } catch { /* absent */ }
  try { ip("link", "del", `${P}-h`); } catch { /* absent */ }
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  teardown();
  ip("netns", "add", `${P}-ns`);
  ip("link", "add", `${P}-h`, "type", "veth", "peer", "name", `${P}-n`, "netns", `${P}-ns`);
  ip("addr", "add", "10.237.0.1/24", "dev", `${P}-h`);
  ip("link", "set", `${P}-h`, "up");
  ip("-n", `${P}-ns`, "addr", "add", "10.237.0.2/24", "dev", `${P}-n`);
  ip("-n", `${P}-ns`, "link", "set", `${P}-n`, "up");

  // PKTPATH_SOAK_NODE_ARGS: more node flags for the server (a profile: "--cpu-prof --cpu-prof-dir=DIR").
  const extra = (process.env.PKTPATH_SOAK_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const server = spawn(process.execPath, [...extra, "--import", LOOP_DELAY, BIN, "serve", "--port", "0", "--source", "ebpf"], { stdio: ["ignore", "pipe", "pipe"] });
  let loopDelay = "", worstP99 = 0, beforeFlood = "";
  server.stderr.on("data", (d: Buffer) => {
    for (const line of String(d).split("\n")) {
      const m = /^loop-delay .*p99=([\d.]+)/.exec(line);
      if (line.startsWith("loop-delay-before ")) beforeFlood = line.slice("loop-delay-before ".length);
      else if (m) {
        loopDelay = line.slice("loop-delay ".length);
        worstP99 = Math.max(worstP99, Number(m[1]));
      } else if (line.trim() !== "") process.stderr.write(line + "\n");
    }
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => { server.kill("SIGTERM"); teardown(); process.exit(1); });
  // A failure below must not leave the server (or the browser) running, holding this process open.
  onFailure = () => server.kill("SIGTERM");
  const url = await new Promise<string>((resolve) => server.stdout.on("data", (d: Buffer) => {
    const m = /serving (http:\S+)/.exec(String(d));
    if (m?.[1]) resolve(m[1]);
  }));
  const pid = server.pid!;
  const wsUrl = url.replace("http", "ws") + "/api/stream";
  let received = 0, pingsSeen = 0, summarised = 0;
  // Someone's own pings amid the flood (another ping, its own ICMP id): how many the page is shown,
  // their status, and how long after each request began (its `at`) it was shown.
  const markers = new Map<number, { status: string; shownMs: number }>();
  const reader = new WebSocket(wsUrl);
  reader.on("message", (d) => {
    received++;
    const msg = JSON.parse(String(d)) as { type: string; pings?: { icmpId: number; seq: number; status: string; at?: string }[];
      summarised?: { complete: number; other: number } };
    if (msg.type !== "pings") return;
    pingsSeen += msg.pings?.length ?? 0;
    for (const p of msg.pings ?? []) {
      if (p.icmpId !== MARKER_ID) continue;
      markers.set(p.seq, { status: p.status, shownMs: p.at === undefined ? NaN : Date.now() - Date.parse(p.at) });
    }
    summarised += (msg.summarised?.complete ?? 0) + (msg.summarised?.other ?? 0);
  });
  const slow = new WebSocket(wsUrl);
  let slowClosed = "open";
  slow.on("open", () => (slow as unknown as { _socket: { pause(): void } })._socket.pause());
  slow.on("close", (code) => (slowClosed = `closed ${code}`));

  // The dashboard as a user has it open: frame intervals from requestAnimationFrame, read every 5 s.
  let browser: Browser | undefined, page: Page | undefined;
  // PKTPATH_SOAK_PAGE_AT=N: the page is opened N s into the flood (someone who opens the dashboard
  // because the node is busy), not before it.
  const pageAt = process.env.PKTPATH_SOAK_PAGE_AT === undefined ? undefined : Number(process.env.PKTPATH_SOAK_PAGE_AT);
  const openPage = async (): Promise<void> => {
    if (process.env.PKTPATH_SOAK_BROWSER === "0" || !existsSync("/usr/bin/chromium")) return;
    const server0 = onFailure;
    onFailure = () => { server0(); void browser?.close(); };
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    // As text: tsx would wrap a function's inner functions in a helper the page does not have.
    await page.evaluate(`(() => {
      window.frames_ = [];
      let last = performance.now();
      const tick = (now) => { window.frames_.push(now - last); last = now; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
  };
  if (pageAt === undefined) await openPage();
  let worstFrameP95 = 0;
  const pageHealth = async (): Promise<string> => {
    if (!page) return "";
    const asked = performance.now();
    const frames = await page.evaluate<number[]>("(() => { const f = window.frames_ || []; window.frames_ = []; return f; })()");
    const answerMs = performance.now() - asked;
    frames.sort((a, b) => a - b);
    const p95 = frames[Math.floor(frames.length * 0.95)] ?? NaN;
    worstFrameP95 = Math.max(worstFrameP95, p95);
    return ` page: ${frames.length} frames, p95 ${p95.toFixed(1)} ms, max ${(frames.at(-1) ?? NaN).toFixed(1)} ms, answered in ${answerMs.toFixed(0)} ms`;
  };

  // The event-loop windows start again with the flood: the start-up and the page's first load are
  // reported apart, as the time before it.
  server.kill("SIGUSR2");
  const flood = spawn("ping", ["-f", "-q", "-w", String(SECONDS), "10.237.0.2"], { stdio: ["ignore", "pipe", "inherit"] });
  const marker = spawn("ping", ["-q", "-c", String(MARKERS), "-i", "0.5", "-e", String(MARKER_ID), "10.237.0.2"], { stdio: "ignore" });
  let floodSummary = "";
  flood.stdout.on("data", (d: Buffer) => (floodSummary += String(d)));
  const floodDone = new Promise((r) => flood.on("close", r));
  const t0 = Date.now();
  let peak = rssMiB(pid);
  console.log(`t=  0s rss=${peak.toFixed(1)} MiB`);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 250);
  const opened = pageAt === undefined ? Promise.resolve() : new Promise((r) => setTimeout(r, pageAt * 1000)).then(openPage)
    .then(() => console.log(`page opened at t=${((Date.now() - t0) / 1000).toFixed(1)}s`));
  for (let t = 5; t <= SECONDS; t += 5) {
    await new Promise((r) => setTimeout(r, t * 1000 - (Date.now() - t0)));
    if (pageAt !== undefined && t > pageAt) await opened;
    const asked = performance.now();
    const health = (await (await fetch(`${url}/api/health`)).json()) as { events: number; lost: number;
      lostBy?: { ring: number; queue: number; malformed: number }; collisions?: number; sampled?: number };
    const answerMs = performance.now() - asked;
    const by = health.lostBy ? ` (ring ${health.lostBy.ring}, queue ${health.lostBy.queue}, malformed ${health.lostBy.malformed})` : "";
    console.log(`t=${String(t).padStart(3)}s rss=${rssMiB(pid).toFixed(1)} MiB events=${health.events} lost=${health.lost}${by} ` +
      `collisions=${health.collisions ?? "?"} sampled=${health.sampled ?? "?"} pings-streamed=${pingsSeen} summarised=${summarised} health=${answerMs.toFixed(1)} ms loop ${loopDelay}` +
      await pageHealth());
  }
  clearInterval(sampler);
  await floodDone;
  if (marker.exitCode === null) await new Promise((r) => marker.on("close", r));
  await new Promise((r) => setTimeout(r, 1500));
  const shown = [...markers.values()], byStatus = new Map<string, number>();
  for (const m of shown) byStatus.set(m.status, (byStatus.get(m.status) ?? 0) + 1);
  const late = shown.map((m) => m.shownMs).sort((a, b) => a - b);
  console.log(`own pings amid the flood (id ${MARKER_ID}): ${shown.length} of ${MARKERS} shown (${[...byStatus].map(([k, v]) => `${v} ${k}`).join(", ")}), ` +
    `shown after p50 ${(late[Math.floor(late.length / 2)] ?? NaN).toFixed(0)} ms, max ${(late.at(-1) ?? NaN).toFixed(0)} ms`);
  console.log(floodSummary.trim().split("\n").slice(-2).join("\n"));
  console.log(`reading client: ${received} messages, ${pingsSeen} pings (${(pingsSeen / SECONDS).toFixed(0)}/s), ${summarised} summarised; slow client: ${slowClosed}`);
  console.log(`event-loop delay from the server's start to the flood's: ${beforeFlood || "?"}`);
  console.log(`peak RSS ${peak.toFixed(1)} MiB; event-loop delay p99, worst 5 s window: ${worstP99.toFixed(1)} ms` +
    (page ? `; page frame time p95, worst 5 s window: ${worstFrameP95.toFixed(1)} ms` : ""));
  if (page) {
    await page.screenshot({ path: "/tmp/pktpath-soak.png" });
    console.log(`page: ${await page.locator("[data-ping-id]").count()} ping rows drawn (screenshot /tmp/pktpath-soak.png)`);
  }
  await browser?.close();
  reader.close();
  slow.terminate();
  server.kill("SIGTERM");
  await new Promise((r) => server.on("close", r));
}

/** What a failure of main() must end: what it started. */
let onFailure = (): void => undefined;

main().catch((e: unknown) => {
  onFailure();
  console.error(e);
  process.exitCode = 1;
}).finally(teardown);
