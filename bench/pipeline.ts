// The pipeline's own cost on one core: records the eBPF source's raw ring batches during a `ping -f`
// flood on a namespace's own loopback (argv[2] seconds, default 2), then replays those bytes
// through decode (RecordDecoder) + correlation (the shared Correlator) + the stores, synchronously on
// this thread, argv[3] rounds (default 5). Prints records, pings and events/s per round and their
// median, then the bytes allocated per event over one more replay (steadier than the rates). Asserts nothing. With a FILE, the recording is kept there (the raw batches, each after its
// u32 length) and a later run replays it instead of recording again.
// Usage (root, after `make -C bpf`): node --import tsx bench/pipeline.ts [seconds] [rounds] [FILE]
import { execFileSync, spawn } from "node:child_process";
import { Session } from "node:inspector/promises";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { readKernelFacts } from "../server/capture/btf.ts";
import { RecordDecoder } from "../server/capture/decode.ts";
import { createEbpfSource, objectForKernel } from "../server/capture/ebpf.ts";
import { readRecordLayout } from "../server/capture/layout.ts";
import { ExchangeStore, PingStore } from "../server/store.ts";
import { Correlator, type CorrelatorOutput } from "../shared/correlate.ts";
import { buildFilter } from "../shared/filter/index.ts";
import { isPing } from "../shared/pings.ts";

const SECONDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 5);
const FILE = process.argv[4];
const NS = "ppFb-lo";
const ns = (...a: string[]): void => void execFileSync("ip", ["netns", ...a], { stdio: ["ignore", "ignore", "pipe"] });

function teardown(): void {
  try { ns("del", NS); } catch { /* absent */ }
}

async function record(): Promise<ArrayBuffer[]> {
  const built = buildFilter("host 127.0.0.1");
  if (!built.ok) throw new Error(built.error);
  const batches: ArrayBuffer[] = [];
  const source = createEbpfSource({ expression: built.value.expression, program: built.value.program },
    { onRawBatch: (bytes) => void batches.push(bytes) });
  await source.start(() => undefined);
  try {
    const flood = spawn("ip", ["netns", "exec", NS, "ping", "-f", "-q", "-w", String(SECONDS), "127.0.0.1"], { stdio: "ignore" });
    await new Promise((r) => flood.on("close", r));
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await source.stop();
  }
  const { lost } = source.counters();
  if (lost > 0) console.log(`(recording lost ${lost} records in the kernel's ring)`);
  return batches;
}

function save(path: string, batches: ArrayBuffer[]): void {
  const parts: Uint8Array[] = [];
  for (const b of batches) parts.push(new Uint8Array(Uint32Array.of(b.byteLength).buffer), new Uint8Array(b));
  writeFileSync(path, Buffer.concat(parts));
}

function load(path: string): ArrayBuffer[] {
  const buf = readFileSync(path);
  const out: ArrayBuffer[] = [];
  for (let at = 0; at + 4 <= buf.byteLength;) {
    const n = buf.readUInt32LE(at);
    out.push(buf.buffer.slice(buf.byteOffset + at + 4, buf.byteOffset + at + 4 + n));
    at += 4 + n;
  }
  return out;
}

async function recorded(): Promise<ArrayBuffer[]> {
  if (FILE !== undefined && existsSync(FILE)) return load(FILE);
  teardown();
  ns("add", NS);
  ns("exec", NS, "ip", "link", "set", "lo", "up");
  const batches = await record();
  if (FILE !== undefined) save(FILE, batches);
  return batches;
}

async function main(): Promise<void> {
  const batches = await recorded();
  const bytes = batches.reduce((n, b) => n + b.byteLength, 0);
  const objPath = objectForKernel();
  const [layout, facts] = await Promise.all([readRecordLayout(objPath), readKernelFacts()]);
  if (!layout.ok) throw new Error(layout.error);
  // tNs from the first record's time (each record: an 8-byte header, then struct pktpath_event).
  const first = batches.find((b) => b.byteLength > 0);
  if (!first) throw new Error("nothing was recorded");
  const startKtimeNs = new DataView(first).getBigUint64(8 + layout.value.ev.ts_ns, true);
  console.log(`recorded ${(bytes / 2 ** 20).toFixed(1)} MiB in ${batches.length} batches (ping -f on a namespace's loopback, ${SECONDS} s)`);
  const rates: number[] = [];
  const replay = (): { events: number; pings: number } => {
    const decoder = new RecordDecoder(layout.value, {
      startKtimeNs, dropReasons: facts.dropReasons.ok ? facts.dropReasons.value : new Map(),
    });
    const correlator = new Correlator();
    const store = new PingStore(10_000), others = new ExchangeStore(10_000);
    let events = 0, pings = 0;
    for (const b of batches) {
      const out = decoder.decodeBytes(b);
      events += out.events.length;
      // As the Pipeline does: a batch's events at once.
      const r: CorrelatorOutput = { journeys: [], exchanges: [], pings: [] };
      correlator.pushAll(out.events, r);
      store.add(r.pings);
      pings += r.pings.length;
      if (r.exchanges.length > r.pings.length) others.add(r.exchanges.filter((x) => !isPing(x)));
    }
    const f = correlator.flush();
    store.add(f.pings);
    pings += f.pings.length;
    return { events, pings };
  };
  for (let round = 1; round <= ROUNDS; round++) {
    const t0 = performance.now(), cpu0 = process.cpuUsage();
    const { events, pings } = replay();
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    rates.push(events / s);
    // CPU time too: the process's own (the collector's threads included), which a busy neighbour
    // of this virtual machine moves less than the wall clock.
    console.log(`round ${round}: ${events} events, ${pings} pings in ${s.toFixed(2)} s: ${Math.round(events / s).toLocaleString("en-US")} events/s; ${cpuS.toFixed(2)} s of CPU`);
  }
  rates.sort((a, b) => a - b);
  console.log(`median: ${Math.round(rates[Math.floor(rates.length / 2)] ?? 0).toLocaleString("en-US")} events/s (decode + correlate + store, one core)`);
  // What the rates hide in this machine's noise: the bytes allocated per event (most of the time
  // not spent on the events themselves is the collector's), sampled over one more replay.
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const { events } = replay();
  const { profile } = await session.post("HeapProfiler.stopSampling");
  const total = (n: { selfSize: number; children: typeof n[] }): number => n.children.reduce((sum, c) => sum + total(c), n.selfSize);
  console.log(`allocated: ${Math.round(total(profile.head) / events)} bytes per event (sampled)`);
  session.disconnect();
}

process.once("SIGINT", () => {
  teardown();
  process.exit(1);
});
main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
}).finally(teardown);
