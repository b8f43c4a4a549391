// Live capture with eBPF: a worker loads bpf/pktpath.bpf.o and reads its per-CPU rings; this side
// decodes the record batches and hands RawEvents to the sink.
import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { err, ok, type Result } from "../../shared/result.ts";
import type { RawEvent } from "../../shared/types.ts";
import { readDropReasons } from "./btf.ts";
import { decodeRingBytes, type DecodeContext } from "./decode.ts";
import { loadKallsyms } from "./kallsyms.ts";
import { checkPrerequisites, kernelHasFunction } from "./libbpf.ts";
import type { RingWorkerData, RingWorkerMessage } from "./ringWorker.ts";
import type { CaptureFilter, CaptureSource, RodataFilter, SourceCounters } from "./source.ts";

export const PKTPATH_OBJ = fileURLToPath(new URL("../../bpf/pktpath.bpf.o", import.meta.url));
/** The same program for kernels before 6.2, which copies packet headers with bpf_probe_read_kernel. */
export const PKTPATH_COMPAT_OBJ = fileURLToPath(new URL("../../bpf/pktpath-compat.bpf.o", import.meta.url));
const WORKER = new URL("./ringWorker.ts", import.meta.url);
const TSX_API = import.meta.resolve("tsx/esm/api");
const OPTIONAL_TRACEPOINTS = ["napi_gro_receive_entry"];

/** Whether live eBPF capture can work here, and if not, what to do about it. */
export function ebpfAvailable(objPath = PKTPATH_OBJ): Result<void> {
  return checkPrerequisites(objPath);
}

/** The BPF object for this kernel: pktpath.bpf.o reads headers through bpf_rdonly_cast (Linux 6.2+). */
export function objectForKernel(hasRdonlyCast = kernelHasFunction("bpf_rdonly_cast")): string {
  return hasRdonlyCast ? PKTPATH_OBJ : PKTPATH_COMPAT_OBJ;
}

export const COMPAT_WARNING = "using the BPF build for kernels before 6.2 (no bpf_rdonly_cast): packet headers are copied with bpf_probe_read_kernel, which costs more per hop";

/** IPv4 or IPv6 text → 16 bytes (IPv4 in the first 4). */
export function hostBytes(host: string): Result<{ family: 4 | 6; bytes: Uint8Array }> {
  const family = isIP(host);
  const out = new Uint8Array(16);
  if (family === 4) {
    host.split(".").forEach((p, i) => (out[i] = Number(p)));
    return ok({ family: 4, bytes: out });
  }
  if (family !== 6) return err(`not an IP address: ${host}`);
  let text = host.split("%")[0] ?? host;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const b = v4[1].split(".").map(Number);
    text = text.slice(0, -v4[1].length) + `${(((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16)}:${(((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return ok({ family: 6, bytes: out });
}

/** [IPv4 protocol, IPv6 next header]: ICMP has a different number in IPv6. */
function protoNumbers(proto: RodataFilter["proto"]): [number, number] {
  switch (proto) {
    case "tcp": return [6, 6];
    case "udp": return [17, 17];
    case "icmp": return [1, 58];
    default: return [0, 0];
  }
}

/** The .rodata settings of bpf/pktpath.bpf.c for a filter. */
export function filterRodata(filter: RodataFilter): Result<Record<string, Uint8Array>> {
  const mode = filter.proto === "icmp-echo" ? 0 : filter.proto === "any" ? 1 : 2;
  const [v4, v6] = protoNumbers(filter.proto);
  const rodata: Record<string, Uint8Array> = {
    filter_mode: Uint8Array.of(mode),
    filter_l4proto: Uint8Array.of(v4),
    filter_l4proto_v6: Uint8Array.of(v6),
  };
  if (filter.host !== undefined) {
    const host = hostBytes(filter.host);
    if (!host.ok) return host;
    rodata.filter_host_family = Uint8Array.of(host.value.family);
    rodata.filter_host = host.value.bytes;
  }
  if (filter.port !== undefined) {
    if (!Number.isInteger(filter.port) || filter.port < 1 || filter.port > 65535) return err(`bad port ${filter.port}`);
    rodata.filter_port = new Uint8Array(Uint16Array.of(filter.port).buffer);
  }
  return ok(rodata);
}

/** The .rodata filter for a CaptureFilter: only shorthands have one (see CaptureFilter.rodata). */
function rodataOf(filter: CaptureFilter | RodataFilter): Result<RodataFilter> {
  if (!("program" in filter)) return ok(filter);
  if (filter.rodata) return ok(filter.rodata);
  return err(`this BPF program applies only --proto, --host and --port until it runs the compiled filter, not the FILTER "${filter.expression}"`);
}

export interface EbpfSource extends CaptureSource {
  /** optional tracepoints this kernel lacks, and the like */
  readonly warnings: string[];
  /** records that did not decode (should stay 0) */
  malformed(): number;
}

export interface EbpfOptions {
  objPath?: string;
  /** sees every raw record batch before it is decoded (tests check real records with it) */
  onRawBatch?: (bytes: ArrayBuffer) => void;
  /** log2 of each CPU's ring slots (default: by CPU count, see ringSlotsLog2) */
  ringSlotsLog2?: number;
  /** KiB read from the rings and not yet decoded, past which the reader waits (default 16 MiB) */
  maxInflightKiB?: number;
}

/** Until the BPF program runs filter.program, it applies the .rodata filter: a CaptureFilter's
 * `rodata` (or a RodataFilter given as such, as tests and benches do). */
export function createEbpfSource(filter: CaptureFilter | RodataFilter, opts: EbpfOptions = {}): EbpfSource {
  const counters: SourceCounters = { events: 0, lost: 0 };
  const warnings: string[] = [];
  const stopFlag = new SharedArrayBuffer(4);
  const inflight = new SharedArrayBuffer(4);
  let worker: Worker | undefined;
  let stopped: Promise<void> | undefined;
  let malformed = 0;

  async function start(sink: (events: RawEvent[]) => void): Promise<void> {
    if (worker) throw new Error("eBPF source already started");
    const objPath = opts.objPath ?? objectForKernel();
    const pre = checkPrerequisites(objPath);
    if (!pre.ok) throw new Error(pre.error);
    if (objPath === PKTPATH_COMPAT_OBJ) warnings.push(COMPAT_WARNING);
    const settings = rodataOf(filter);
    if (!settings.ok) throw new Error(settings.error);
    const rodata = filterRodata(settings.value);
    if (!rodata.ok) throw new Error(rodata.error);
    const [reasons, syms] = await Promise.all([readDropReasons(), loadKallsyms()]);
    if (!reasons.ok) warnings.push(`drop reasons are shown as numbers: ${reasons.error}`);
    if (!syms.ok) warnings.push(`drop locations are shown as addresses: ${syms.error}`);
    const ctx: DecodeContext = {
      startKtimeNs: process.hrtime.bigint(), // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
      dropReasons: reasons.ok ? reasons.value : new Map(),
      symbolize: syms.ok ? (a) => syms.value.symbolize(a) : undefined,
    };
    const data: RingWorkerData = {
      objPath, rodata: rodata.value, optionalTracepoints: OPTIONAL_TRACEPOINTS, stop: stopFlag,
      idleMs: [5, 50], maxBatchBytes: 1 << 20, inflight, maxInflightKiB: opts.maxInflightKiB ?? 16 * 1024,
      slotsLog2: opts.ringSlotsLog2,
    };
    const taken = new Int32Array(inflight);
    // Workers do not inherit tsx's registration, and Node 20 ignores `--import tsx` for a worker's
    // entry; so the entry is a line of JS that registers tsx, then imports the TypeScript worker.
    const entry = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER.href)}); });`;
    const w = new Worker(entry, { eval: true, workerData: data });
    worker = w;
    let onStopped: () => void = () => {};
    stopped = new Promise<void>((resolve) => (onStopped = resolve));
    await new Promise<void>((resolve, reject) => {
      w.on("message", (msg: RingWorkerMessage) => {
        switch (msg.type) {
          case "ready":
            warnings.push(...msg.warnings);
            return resolve();
          case "error":
            return reject(new Error(msg.message));
          case "batch": {
            opts.onRawBatch?.(msg.bytes);
            const out = decodeRingBytes(msg.bytes, ctx);
            malformed += out.malformed;
            counters.events += out.events.length;
            if (out.events.length) sink(out.events);
            Atomics.sub(taken, 0, Math.ceil(msg.bytes.byteLength / 1024));
            Atomics.notify(taken, 0);
            return;
          }
          case "lost":
            counters.lost = msg.lost;
            return;
          case "stopped":
            counters.lost = msg.lost;
            return onStopped();
        }
      });
      w.on("error", (e) => reject(e));
      w.on("exit", () => {
        reject(new Error("eBPF capture worker exited before it was ready"));
        onStopped();
      });
    });
  }

  async function stop(): Promise<void> {
    if (!worker) return;
    Atomics.store(new Int32Array(stopFlag), 0, 1);
    const w = worker;
    await stopped;
    await new Promise<void>((resolve) => (w.threadId < 0 ? resolve() : w.once("exit", () => resolve())));
  }

  return {
    name: "ebpf",
    live: true,
    warnings,
    start,
    stop,
    counters: () => ({ ...counters }),
    malformed: () => malformed,
  };
}
