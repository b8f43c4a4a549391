// Live capture with eBPF: a worker loads bpf/pktpath.bpf.o and reads its per-CPU rings; this side
// decodes the record batches and hands RawEvents to the sink.
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { RawEvent } from "../../shared/types.ts";
import { MessageChannel } from "node:worker_threads";
import { readKernelFacts } from "./btf.ts";
import { RecordDecoder, resolveDrop, type DecodeContext, type UnresolvedDrop } from "./decode.ts";
import { loadKallsyms } from "./kallsyms.ts";
import { readRecordLayout } from "./layout.ts";
import { checkPrerequisites, kernelHasFunction } from "./libbpf.ts";
import { NetfilterObservers, type Send } from "./netfilter.ts";
import { NetfilterLayout } from "./nfplan.ts";
import { slotLayout } from "./rings.ts";
import type { RingCounters, RingWorkerData, RingWorkerMessage, WorkerReply } from "./ringWorker.ts";
import { encodeProgram, type FilterProgram } from "../../shared/filter/index.ts";
import type { CaptureFilter, CaptureSource, EventSink, IntakeControl, RawBatch, SourceCounters } from "./source.ts";
import { siblingModule, workerEntry } from "../workerEntry.ts";

export const PKTPATH_OBJ = fileURLToPath(new URL("../../bpf/pktpath.bpf.o", import.meta.url));
/** The same program for kernels before 6.2, which copies packet headers with bpf_probe_read_kernel. */
export const PKTPATH_COMPAT_OBJ = fileURLToPath(new URL("../../bpf/pktpath-compat.bpf.o", import.meta.url));
const WORKER = siblingModule("ringWorker", import.meta.url);
const OPTIONAL_TRACEPOINTS = ["napi_gro_receive_entry", "neigh_event_send_done"];


/** The BPF object for this kernel: pktpath.bpf.o reads headers through bpf_rdonly_cast (Linux 6.2+). */
export function objectForKernel(hasRdonlyCast = kernelHasFunction("bpf_rdonly_cast")): string {
  return hasRdonlyCast ? PKTPATH_OBJ : PKTPATH_COMPAT_OBJ;
}

export const COMPAT_WARNING = "using the BPF build for kernels before 6.2 (no bpf_rdonly_cast): packet headers are copied with bpf_probe_read_kernel, which costs more per hop";

export interface EbpfSource extends CaptureSource {
  /** optional tracepoints this kernel lacks, and the like */
  readonly warnings: string[];
  /** records that did not decode (should stay 0) */
  malformed(): number;
  /** tracked skbs evicted by another in the kernel's table (their journeys end early) */
  collisions(): number;
  /** namespaces with netfilter observers attached */
  observedNamespaces(): number;
  /** Switches the kernel filter to this program (struct pktpath_filter), without reloading anything. */
  setFilter(program: FilterProgram): Promise<void>;
}

export interface EbpfOptions {
  objPath?: string;
  /** sees every raw record batch before it is decoded (tests check real records with it) */
  onRawBatch?: (bytes: ArrayBuffer) => void;
  /** log2 of each CPU's ring slots (default: by CPU count, see ringSlotsLog2) */
  ringSlotsLog2?: number;
  /** without ringSlotsLog2: what all the CPUs' rings together come to at most (default 64 MiB) */
  ringBudgetMiB?: number;
  /**
   * KiB read from the rings and not yet correlated (released by the pipeline; decoded, without one),
   * past which the reader waits. The default, 8 MiB, is about 39,000 records: fewer than the
   * pipeline queues (65,536), so what waits for correlation waits in the kernel's ring, not decoded here.
   */
  maxInflightKiB?: number;
  /**
   * While the reader waits and a ring is half full (with sampleFill, past midway from where heavy
   * flows are no longer followed to full), records older than this are let go unread
   * (counted lost at the queue, reported as one loss span), so that what is read next is recent.
   * Absent: never; what does not fit in the rings is lost in the kernel, the newest first.
   */
  staleMs?: number;
  /** attach netfilter observers in every namespace (default: when the kernel has BPF netfilter links) */
  netfilter?: boolean;
  /**
   * Once this part of a CPU's ring (0 to 1) holds records not yet read, a packet of a heavy flow is
   * followed for one in N of its exchanges (past midway from there to full, for none), and a light
   * flow's every packet still is (bpf/pktpath.bpf.c, sample_fill): under a flood, journeys are
   * followed whole or not at all, and someone's own pings are all followed. Counted in
   * counters().sampled. Absent: every packet the filter takes is followed.
   */
  sampleFill?: number;
}

export function createEbpfSource(filter: CaptureFilter, opts: EbpfOptions = {}): EbpfSource {
  const counters: SourceCounters = { events: 0, lost: 0 };
  const warnings: string[] = [];
  const stopFlag = new SharedArrayBuffer(4);
  const inflight = new SharedArrayBuffer(4);
  const nfLayout = new NetfilterLayout();
  const pending = new Map<number, (r: WorkerReply) => void>();
  const control = new MessageChannel();
  let nextCommand = 1;
  let worker: Worker | undefined;
  let observers: NetfilterObservers | undefined;
  let stopped: Promise<void> | undefined;
  let malformed = 0;
  /** the capture worker's latest counts (its lost is counters.lost too) */
  let ring: RingCounters = { lost: 0, collisions: 0, sampled: 0, discarded: 0 };
  let startKtimeNs = 0n;
  /** batches handed to the sink in order; one may wait for its drops' chains to be named */
  let delivered: Promise<void> = Promise.resolve();
  /** batches read and not yet decoded (see pump), and whether one is with the sink */
  const waiting: { bytes: ArrayBuffer; release: () => void }[] = [];
  let busy = false;
  let drained: () => void = () => {};
  let originUs: number | undefined;
  /** The wall clock of CLOCK_MONOTONIC's startKtimeNs, as the two clocks relate now. */
  const wallOfStart = (): number => (performance.timeOrigin + performance.now()) * 1000 - Number(process.hrtime.bigint() - startKtimeNs) / 1000;

  // A command wakes the worker from its idle sleep (it waits on the stop word) and is answered on the port.
  const send: Send = (cmd) => new Promise((resolve) => {
    const id = nextCommand++;
    pending.set(id, resolve);
    control.port1.postMessage({ ...cmd, id });
    Atomics.notify(new Int32Array(stopFlag), 0);
  });
  control.port1.on("message", (r: WorkerReply) => {
    pending.get(r.id)?.(r);
    pending.delete(r.id);
  });
  control.port1.unref();

  async function start(sink: EventSink, intake?: IntakeControl): Promise<void> {
    if (worker) throw new Error("eBPF source already started");
    const objPath = opts.objPath ?? objectForKernel();
    const pre = checkPrerequisites(objPath);
    if (!pre.ok) throw new Error(pre.error);
    if (objPath === PKTPATH_COMPAT_OBJ) warnings.push(COMPAT_WARNING);
    const program = encodeProgram(filter.program);
    if (!program.ok) throw new Error(program.error);
    const [layout, facts, syms] = await Promise.all([readRecordLayout(objPath), readKernelFacts(), loadKallsyms()]);
    if (!layout.ok) throw new Error(layout.error);
    if (!facts.dropReasons.ok) warnings.push(`drop reasons are shown as numbers: ${facts.dropReasons.error}`);
    if (!syms.ok) warnings.push(`drop locations are shown as addresses: ${syms.error}`);
    const netfilter = opts.netfilter ?? facts.netfilterLinks;
    if (!netfilter && opts.netfilter === undefined) {
      warnings.push("this kernel has no BPF netfilter links (Linux 6.4+): no stack steps or netfilter chains, device hops only");
    }
    startKtimeNs = process.hrtime.bigint(); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
    originUs = wallOfStart();
    const ctx: DecodeContext = {
      startKtimeNs,
      dropReasons: facts.dropReasons.ok ? facts.dropReasons.value : new Map(),
      symbolize: syms.ok ? (a) => syms.value.symbolize(a) : undefined,
      netfilter: nfLayout,
    };
    const decoder = new RecordDecoder(layout.value, ctx);
    // The capture log keeps the bytes and makes them events again for a download, with a decoder of
    // its own and the netfilter layout as it was when they were read (kept as a snapshot).
    const rawBatch = (bytes: ArrayBuffer): RawBatch => {
      const netfilter = nfLayout.snapshot();
      return { bytes, decode: (b) => new RecordDecoder(layout.value, { ...ctx, netfilter }).decodeBytes(b).events };
    };
    // A drop by a chain added since its namespace was looked at: look again, name it, then hand it on.
    // Batches wait behind it, in order (drops are rare; looking takes a process, some milliseconds).
    const deliver = (events: RawEvent[], unresolved: UnresolvedDrop[], release: () => void, raw: () => RawBatch): void => {
      if (unresolved.length === 0 && observers === undefined) return sink(events, release, raw());
      delivered = delivered.then(async () => {
        if (unresolved.length > 0 && observers) {
          await observers.refresh([...new Set(unresolved.map((u) => u.netns))]);
          for (const u of unresolved) resolveDrop(u.event, u, nfLayout);
        }
        sink(events, release, raw());
      });
    };
    const decodeAndDeliver = (bytes: ArrayBuffer, release: () => void): void => {
      const out = decoder.decodeBytes(bytes);
      malformed += out.malformed;
      // A report of records lost is no record of a packet: what the kernel made are those it lost, counted there.
      counters.events += out.events.length - out.reports;
      // Its snapshot of the netfilter layout is taken as it is handed on (after drops were named).
      if (out.events.length) deliver(out.events, out.unresolved, release, () => rawBatch(bytes));
      else release();
    };
    // With an intake (the pipeline), batches wait here as the bytes they came in, and each is made
    // into events only once the pipeline has taken the one before: under a flood the backlog is
    // bytes, not objects that outlive young collections (by estimate a large part of the worker's
    // promoted garbage; peak RSS under a flood fell by about 50 MiB). The reader reads on as batches
    // are released, so the backlog is its read-ahead.
    const pump = (): void => {
      while (!busy) {
        const next = waiting.shift();
        if (!next) return drained();
        busy = true;
        let inPump = true, done = false;
        decodeAndDeliver(next.bytes, () => {
          if (done) return;
          done = true;
          next.release();
          busy = false;
          if (!inPump) pump();
        });
        inPump = false;
      }
    };
    const data: RingWorkerData = {
      objPath, rodata: {}, optionalTracepoints: OPTIONAL_TRACEPOINTS, netfilter, slot: slotLayout(layout.value),
      filter: program.value, control: control.port2, stop: stopFlag,
      idleMs: [5, 50], maxBatchBytes: 1 << 20, inflight, maxInflightKiB: opts.maxInflightKiB ?? 8 * 1024,
      slotsLog2: opts.ringSlotsLog2,
      ...(opts.ringBudgetMiB === undefined ? {} : { ringBudgetBytes: opts.ringBudgetMiB * 2 ** 20 }),
      statKeys: { lost: layout.value.stats.get("lost") ?? 0, collisions: layout.value.stats.get("collisions") ?? 1, sampled: layout.value.stats.get("sampled") ?? 2 },
      ...(opts.sampleFill === undefined ? {} : { sampleFill: opts.sampleFill }),
      ...(opts.staleMs === undefined ? {} : { staleNs: opts.staleMs * 1e6 }),
    };
    const taken = new Int32Array(inflight);
    const entry = workerEntry(WORKER);
    const w = new Worker(entry, { eval: true, workerData: data, transferList: [control.port2] });
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
            // The reader may read on once the pipeline has taken these (release), or at once
            // without an intake to say when (tests, `trace`'s own sinks).
            const kib = Math.ceil(msg.bytes.byteLength / 1024);
            let released = false;
            const release = (): void => {
              if (released) return;
              released = true;
              Atomics.sub(taken, 0, kib);
              Atomics.notify(taken, 0);
            };
            if (!intake) {
              decodeAndDeliver(msg.bytes, () => undefined);
              return release();
            }
            const survey = decoder.survey(msg.bytes);
            if (!intake.fits(survey.records)) {
              intake.shed(survey.records, survey.span);
              return release();
            }
            waiting.push({ bytes: msg.bytes, release });
            return pump();
          }
          case "counters":
          case "stopped": {
            const { type, ...counts } = msg;
            ring = counts;
            counters.lost = counts.lost;
            return type === "stopped" ? onStopped() : undefined;
          }
        }
      });
      w.on("error", (e) => reject(e));
      w.on("exit", () => {
        reject(new Error("eBPF capture worker exited before it was ready"));
        onStopped();
      });
    });
    if (netfilter) {
      // Live only once the stack steps are observed in every namespace there is.
      observers = new NetfilterObservers(send, nfLayout, { onWarning: (m) => warnings.push(m) });
      await observers.start();
    }
  }

  async function stop(): Promise<void> {
    if (!worker) return;
    observers?.stop();
    Atomics.store(new Int32Array(stopFlag), 0, 1);
    Atomics.notify(new Int32Array(stopFlag), 0);
    const w = worker;
    await stopped;
    await new Promise<void>((resolve) => (w.threadId < 0 ? resolve() : w.once("exit", () => resolve())));
    // what was read waits to be decoded no longer than the sink takes it
    if (busy || waiting.length > 0) await new Promise<void>((resolve) => (drained = resolve));
    await delivered;
    control.port1.close();
  }

  return {
    name: "ebpf",
    live: true,
    warnings,
    start,
    stop,
    counters: () => ({ ...counters, malformed, collisions: ring.collisions, sampled: ring.sampled, discarded: ring.discarded }),
    malformed: () => malformed,
    collisions: () => ring.collisions,
    observedNamespaces: () => observers?.namespaces ?? 0,
    // Re-mapped when the wall clock moved more than a millisecond against the kernel's (NTP, a set clock).
    originUs() {
      if (originUs === undefined) return undefined;
      const now = wallOfStart();
      if (Math.abs(now - originUs) > 1000) originUs = now;
      return Math.round(originUs);
    },
    async setFilter(program) {
      const bytes = encodeProgram(program);
      if (!bytes.ok) throw new Error(bytes.error);
      const r = await send({ type: "filter", bytes: bytes.value });
      if (r.type === "filter" && r.error !== undefined) throw new Error(r.error);
    },
  };
}
