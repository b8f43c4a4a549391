// UDP flood between two namespaces over a veth pair, measuring packets/s received with
// (a) nothing attached, (b) do-nothing BPF programs where pktpath attaches (its tracepoints, and
// its netfilter observers at the same hooks and priorities in every namespace), (c) the pktpath
// capture with --proto any, (d) the pktpath capture with its default filter (ICMP echo), which
// rejects the flood in the kernel, (e) the same with a four-clause expression that rejects it too.
// Prints figures; asserts nothing. Needs root and `make -C bpf`.
// Usage: node --import tsx bench/flood.ts [seconds per phase, default 2] [rounds, default 3] [phases, default abcdek]
// (phases: the letters of those to run, say "bd" for the no-op probe against the default filter; k: the
// kernel time per program run, in two more phases at the end)
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createEbpfSource } from "../server/capture/ebpf.ts";
import { buildFilter } from "../shared/filter/index.ts";
import type { CaptureFilter } from "../server/capture/source.ts";
import { openAndAttach, type BpfSession } from "../server/capture/libbpf.ts";
import { chainsIn, findNamespaces, placesOf } from "../server/capture/netfilter.ts";
import { planHooks } from "../server/capture/nfplan.ts";

/** A capture filter from a pcap-filter expression ("" is the default: ICMP echoes). */
function filterOf(expression: string): CaptureFilter {
  const built = buildFilter(expression);
  if (!built.ok) throw new Error(built.error);
  return { expression: built.value.expression, program: built.value.program };
}

const SECONDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 3);
const PHASES = process.argv[4] ?? "abcdek";
const NOOP_OBJ = fileURLToPath(new URL("../bpf/noop.bpf.o", import.meta.url));
const SRC = "10.236.0.1", DST = "10.236.0.2", PORT = 9400;
/** Four clauses, none of which the flood (UDP to 9400) matches: the whole table runs per packet. */
const FOUR_CLAUSES = "(tcp port 443 and host 10.0.0.9) or udp port 53 or icmp or icmp6";

// Child scripts run inside the namespaces. The receiver counts datagrams until its stdin closes;
// the sender keeps 64 sends in flight for the given time.
const RECEIVER = `
const s = require("node:dgram").createSocket({ type: "udp4", recvBufferSize: 8 << 20 });
let n = 0; s.on("message", () => n++);
s.bind(${PORT}, "${DST}", () => process.stdout.write("ready\\n"));
process.stdin.on("data", () => { process.stdout.write(n + "\\n"); n = 0; });
process.stdin.on("end", () => s.close());`;
const SENDER = `
const s = require("node:dgram").createSocket("udp4");
const buf = Buffer.alloc(64); const end = Date.now() + Number(process.argv[1]) * 1000;
let sent = 0, inflight = 0;
console.log("started");
const pump = () => {
  while (inflight < 64 && Date.now() < end) { inflight++; s.send(buf, ${PORT}, "${DST}", () => { inflight--; sent++; pump(); }); }
  if (inflight === 0) { console.log(sent); s.close(); }
};
pump();`;

// Nothing imports test/, so the two namespaces are made here with plain ip commands.
const NS_S = "ppF1-s", NS_R = "ppF1-r";
const ip = (...args: string[]): void => void execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });

function teardown(): void {
  for (const ns of [NS_S, NS_R]) {
    try { ip("netns", "del", ns); } catch { /* not there */ }
  }
}

function setup(): void {
  teardown();
  ip("netns", "add", NS_S);
  ip("netns", "add", NS_R);
  ip("-n", NS_S, "link", "add", "ppF1-s", "type", "veth", "peer", "name", "ppF1-r", "netns", NS_R);
  ip("-n", NS_S, "addr", "add", `${SRC}/24`, "dev", "ppF1-s");
  ip("-n", NS_R, "addr", "add", `${DST}/24`, "dev", "ppF1-r");
  ip("-n", NS_S, "link", "set", "ppF1-s", "up");
  ip("-n", NS_R, "link", "set", "ppF1-r", "up");
}

function run(ns: string, script: string, args: string[] = []): ReturnType<typeof spawn> {
  return spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script, ...args], { stdio: ["pipe", "pipe", "inherit"] });
}

function nextLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim())));
}

interface Phase { sent: number; received: number; pps: number }

/** Seconds of flood before counting starts, in every phase alike: the count is of the steady state
 * (caches warm, a new capture worker's code compiled), not of the first moments after attaching. */
const WARM_SECONDS = 0.5;

async function phase(receiver: ReturnType<typeof spawn>): Promise<Phase> {
  const sender = run(NS_S, SENDER, [String(WARM_SECONDS + SECONDS)]);
  await nextLine(sender); // "started"
  const sentLine = nextLine(sender);
  await new Promise((r) => setTimeout(r, WARM_SECONDS * 1000));
  const counted = nextLine(receiver);
  receiver.stdin!.write("reset\n");
  await counted;
  const sent = Number(await sentLine);
  await new Promise((r) => setTimeout(r, 200)); // let the receiver drain its queue
  const got = nextLine(receiver);
  receiver.stdin!.write("count\n");
  const received = Number(await got);
  return { sent, received, pps: received / SECONDS };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

type RunStats = Map<string, { ns: number; runs: number }>;
interface Totals {
  a: number[]; b: number[]; c: number[]; d: number[]; e: number[]; events: number; captureS: number; quietS: number; quietCpuS: number; cpuS: number; lost: number; malformed: number;
}

function addRunStats(into: RunStats, more: RunStats): void {
  for (const [name, s] of more) {
    const prev = into.get(name) ?? { ns: 0, runs: 0 };
    into.set(name, { ns: prev.ns + s.ns, runs: prev.runs + s.runs });
  }
}

/**
 * The do-nothing probe where pktpath attaches: its tracepoints, and netfilter programs at the places
 * pktpath's observers take in every namespace (the entering one per hook, one after each chain).
 */
async function attachNoop(): Promise<BpfSession> {
  const noop = openAndAttach({ objPath: NOOP_OBJ, optionalTracepoints: ["napi_gro_receive_entry", "neigh_event_send_done"], netfilter: true });
  if (!noop.ok) throw new Error(noop.error);
  for (const [, path] of await findNamespaces()) {
    const { chains } = await chainsIn(path);
    for (const place of placesOf(planHooks(chains))) {
      const fd = noop.value.attachNetfilter(place.prog === "nf_enter" ? "noop_nf_enter" : "noop_nf_after", place, path);
      if (!fd.ok) throw new Error(fd.error);
    }
  }
  return noop.value;
}

/**
 * One round of the phases; rounds interleave so that other load on the machine hits all alike, and
 * every other round runs them in reverse order, so that a drift within a round (this VM's rate falls
 * and rises by tens of percent over a minute) favours no phase.
 */
async function round(receiver: ReturnType<typeof spawn>, t: Totals, index: number): Promise<void> {
  const phases: [string, () => Promise<void>][] = [
    ["a", async () => void t.a.push((await phase(receiver)).pps)],
    ["b", async () => {
      const noop = await attachNoop();
      t.b.push((await phase(receiver)).pps);
      noop.close();
    }],
    ["c", async () => {
      const source = createEbpfSource(filterOf("ip or ip6"));
      await source.start((batch) => (t.events += batch.length));
      const t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      t.c.push((await phase(receiver)).pps);
      await source.stop();
      const cpu = process.cpuUsage(cpu0);
      t.cpuS += (cpu.user + cpu.system) / 1e6;
      t.captureS += Number(process.hrtime.bigint() - t0) / 1e9;
      t.lost += source.counters().lost;
      t.malformed += source.malformed();
    }],
    // The default filter (ICMP echo only) while the flood is other traffic: the everyday cost.
    ["d", async () => {
      const quiet = createEbpfSource(filterOf(""));
      await quiet.start(() => undefined);
      const cpu0 = process.cpuUsage(), t0 = process.hrtime.bigint();
      t.d.push((await phase(receiver)).pps);
      const cpu = process.cpuUsage(cpu0);
      t.quietCpuS += (cpu.user + cpu.system) / 1e6;
      t.quietS += Number(process.hrtime.bigint() - t0) / 1e9;
      await quiet.stop();
    }],
    ["e", async () => {
      const four = createEbpfSource(filterOf(FOUR_CLAUSES));
      await four.start(() => undefined);
      t.e.push((await phase(receiver)).pps);
      await four.stop();
    }],
  ];
  const chosen = phases.filter(([name]) => PHASES.includes(name));
  if (index % 2 === 1) chosen.reverse();
  for (const [, run] of chosen) await run();
}

/**
 * Kernel time per program run, from the kernel's BPF statistics, in one more phase each for the
 * no-op probe and pktpath. Not during the rounds: the statistics read the clock twice per program
 * run, which would add the same cost to (b) and (c) and so flatter their ratio.
 */
async function kernelTimes(receiver: ReturnType<typeof spawn>): Promise<{ any: RunStats; quiet: RunStats }> {
  execFileSync("sysctl", ["-qw", "kernel.bpf_stats_enabled=1"]);
  try {
    const noop = await attachNoop();
    await phase(receiver);
    const any = bpfRunStats();
    noop.close();
    const quiet = new Map(any);
    const measure = async (expression: string): Promise<RunStats> => {
      const source = createEbpfSource(filterOf(expression));
      await source.start(() => undefined);
      await phase(receiver);
      const stats = bpfRunStats();
      await source.stop();
      return stats;
    };
    addRunStats(any, await measure("ip or ip6"));
    // The default filter: the flood is never tracked, so this is the cost of judging a packet.
    addRunStats(quiet, await measure(""));
    return { any, quiet };
  } finally {
    execFileSync("sysctl", ["-qw", "kernel.bpf_stats_enabled=0"]);
  }
}

/** Kernel-side cost per program run, from the kernel's own BPF statistics (sum over runs so far). */
function bpfRunStats(): RunStats {
  const progs = JSON.parse(execFileSync("bpftool", ["-j", "prog", "show"], { encoding: "utf8" })) as
    { name?: string; run_time_ns?: number; run_cnt?: number }[];
  const out: RunStats = new Map();
  for (const p of progs) {
    const name = p.name ?? "";
    if (!/^(handle_|noop_|nf_enter$|nf_after$)/.test(name)) continue;
    const prev = out.get(name) ?? { ns: 0, runs: 0 };
    out.set(name, { ns: prev.ns + (p.run_time_ns ?? 0), runs: prev.runs + (p.run_cnt ?? 0) });
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the flood bench needs root");
  execFileSync("sysctl", ["-qw", "kernel.bpf_stats_enabled=0"]);
  setup();
  try {
    const receiver = run(NS_R, RECEIVER);
    await nextLine(receiver);
    const t: Totals = { a: [], b: [], c: [], d: [], e: [], events: 0, captureS: 0, quietS: 0, quietCpuS: 0, cpuS: 0, lost: 0, malformed: 0 };
    for (let i = 0; i < ROUNDS; i++) await round(receiver, t, i);
    const kernel = PHASES.includes("k") ? await kernelTimes(receiver) : undefined;
    receiver.stdin!.end();
    const fmt = (xs: number[]): string => `${Math.round(median(xs))} pkt/s  (rounds: ${xs.map(Math.round).join(", ")})`;
    console.log(`(a) nothing attached      ${fmt(t.a)}`);
    console.log(`(b) no-op probe           ${fmt(t.b)}`);
    console.log(`(c) pktpath --proto any   ${fmt(t.c)}`);
    console.log(`(d) pktpath default filter ${fmt(t.d)}  (ICMP echo only: the flood is filtered out in the kernel)`);
    console.log(`(e) pktpath "${FOUR_CLAUSES}" ${fmt(t.e)}`);
    const r = (xs: number[]): string => (median(xs) / median(t.b)).toFixed(3);
    console.log(`ratio to (b), medians: (c) ${r(t.c)}; (d) ${r(t.d)}; (e) ${r(t.e)}`);
    // Each round measures (b) and (c) seconds apart, so a round's own ratio is spared slower drifts.
    const perRound = t.c.map((c, i) => c / (t.b[i] ?? NaN));
    console.log(`ratio (c)/(b) per round: ${perRound.map((r) => r.toFixed(3)).join(", ")}; median ${median(perRound).toFixed(3)}`);
    // (d) and (e) run back to back: their per-round ratio is the filter's own cost.
    console.log(`ratio (d)/(b) per round: ${t.d.map((d, i) => (d / (t.b[i] ?? NaN)).toFixed(3)).join(", ")}; ` +
      `(e)/(d) per round: ${t.e.map((e, i) => (e / (t.d[i] ?? NaN)).toFixed(3)).join(", ")}`);
    console.log(`pktpath: ${t.events} events, ${Math.round(t.events / t.captureS)} events/s, lost ${t.lost}, malformed ${t.malformed}`);
    console.log(`pktpath process CPU while capturing (reader worker + decoding): ${Math.round((100 * t.cpuS) / t.captureS)}% of one core`);
    if (t.quietS) console.log(`pktpath process CPU with the default filter (nothing to read): ${((100 * t.quietCpuS) / t.quietS).toFixed(1)}% of one core`);
    const perRun = (stats: RunStats): string => [...stats].sort().map(([name, s]) => `${name} ${s.runs ? Math.round(s.ns / s.runs) : 0} ns`).join(", ");
    if (kernel) {
      console.log(`kernel time per program run (bpf_stats, one more phase each), --proto any: ${perRun(kernel.any)}`);
      console.log(`kernel time per program run, default filter (nothing tracked): ${perRun(kernel.quiet)}`);
    }
  } finally {
    teardown();
  }
}

main().catch((e: unknown) => {
  console.error(`flood: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
