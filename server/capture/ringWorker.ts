// Worker thread: loads and attaches the BPF object, then reads the per-CPU rings straight from the
// array they live in, mapped into this process (no FFI call per record), and posts batches of raw
// record bytes to the main thread. It sleeps between reads, which is why it is a worker and not on
// the event loop. Between reads it takes commands from a port of its own: filter programs to switch
// to, and netfilter observers to attach in other namespaces (setns is per thread, and this thread
// holds the programs). The layout is bpf/pktpath.h's struct pktpath_slot and pktpath_ring_cursor.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import { mmapArray, openAndAttach, possibleCpus, type BpfSession, type MapMemory, type NetfilterPlace } from "./libbpf.ts";
import { CURSOR_BYTES, lossRecord, PerCpuRings, PRODUCER_BYTES, QuietLosses, ringSlotsLog2, type SlotLayout } from "./rings.ts";

export interface RingWorkerData {
  objPath: string;
  rodata: Record<string, Uint8Array>;
  optionalTracepoints: string[];
  /** load the netfilter observers (kernel 6.4+) */
  netfilter: boolean;
  slot: SlotLayout;
  /** struct pktpath_filter bytes to run from the start */
  filter: Uint8Array;
  /** commands from the main thread (WorkerCommand), answered on the same port (WorkerReply) */
  control: MessagePort;
  /** Int32 at index 0: set to 1 by the main thread to stop */
  stop: SharedArrayBuffer;
  /** how long to sleep when the rings were empty: idleMs[0], doubling while they stay empty, up to idleMs[1] */
  idleMs: [number, number];
  /** largest batch posted at once */
  maxBatchBytes: number;
  /**
   * Int32 at index 0: KiB posted and not yet taken by the thread that decodes them, which subtracts
   * what its pipeline has correlated (or dropped) and notifies. Past maxInflightKiB the worker stops
   * reading, and memory stays bounded when correlation falls behind: the rings fill (the kernel counts
   * what it cannot store as lost), and with staleNs what waits there too long is let go unread.
   */
  inflight: SharedArrayBuffer;
  maxInflightKiB: number;
  /** log2 of each CPU's ring slots; by CPU count when absent */
  slotsLog2?: number;
  /** with slotsLog2 absent, what all the rings together come to at most (default: rings.ts's 64 MiB) */
  ringBudgetBytes?: number;
  /**
   * While correlation is behind and a ring is half full (with sampleFill: see staleFill in run()),
   * records older than this (ns) wait no longer in the rings: they are let go unread (and reported
   * lost), so that what is read once it catches up is the present. Full rings would otherwise hold
   * a second or more of the past, and a ping made now would be shown that late; the kernel would
   * lose the new records instead. A lag the rings can hold (less than half of them) loses nothing.
   * Absent: nothing is let go.
   */
  staleNs?: number;
  /**
   * The part of a CPU's ring (0 to 1) that, once filled and not yet read, makes the kernel program
   * sample: a packet of a heavy flow is then followed only for one in N of its exchanges (the
   * program's sample_fill), and past midway from there to full, none of a heavy flow's. Absent:
   * every packet the filter takes is followed, and what does not fit in the ring is lost.
   */
  sampleFill?: number;
  /** enum pktpath_stat, from the object's BTF: the stats map's key of each counter */
  statKeys: { lost: number; collisions: number; sampled: number };
}

/** One observer to place: the program, where, and in which namespace (by a path that opens it). */
export interface ObserverPlace extends NetfilterPlace {
  prog: "nf_enter" | "nf_after";
}

export type WorkerCommand =
  | { type: "filter"; id: number; bytes: Uint8Array }
  /** Replace a namespace's observers with these (none: detach it). */
  | { type: "observe"; id: number; netns: number; path: string; places: ObserverPlace[] };

export type WorkerReply =
  | { type: "filter"; id: number; error?: string }
  | { type: "observe"; id: number; attached: number; errors: string[] };

export type RingWorkerMessage =
  | { type: "ready"; attached: string[]; warnings: string[] }
  | { type: "error"; message: string }
  | { type: "batch"; bytes: ArrayBuffer }
  | ({ type: "counters" } & RingCounters)
  | ({ type: "stopped" } & RingCounters);

/** The kernel program's counters, and the records the reader let go (see staleNs). */
export interface RingCounters {
  lost: number;
  collisions: number;
  /** packets the filter took and the program did not follow, the ring being crowded (see sampleFill) */
  sampled: number;
  discarded: number;
}

const COUNTERS_EVERY_MS = 250;
const SMALL_READ_BYTES = 256 * 1024;
const GATHER_MS = 5;

function post(msg: RingWorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(msg, transfer);
}

/**
 * The filter map holds two programs; the one not running is written, then filter_ctl switches. It
 * counts the filters set so far (its low bit is the slot in use), so the kernel side can tell a
 * verdict it remembered from an earlier filter's (bpf/pktpath.bpf.c, the rejected map).
 */
function setFilter(session: BpfSession, bytes: Uint8Array, active: { generation: number }): string | undefined {
  const next = (active.generation + 1) >>> 0;
  const wrote = session.updateMap("filter", next & 1, bytes);
  if (!wrote.ok) return wrote.error;
  const switched = session.updateMap("filter_ctl", 0, Uint8Array.from(new Uint8Array(Uint32Array.of(next).buffer)));
  if (!switched.ok) return switched.error;
  active.generation = next;
  return undefined;
}

/** Observers per namespace: link fds, closed when replaced or when the namespace goes. */
class Observers {
  private readonly links = new Map<number, number[]>();

  constructor(private readonly session: BpfSession) {}

  replace(netns: number, path: string, places: ObserverPlace[]): { attached: number; errors: string[] } {
    this.detach(netns);
    const fds: number[] = [];
    const errors: string[] = [];
    for (const place of places) {
      const fd = this.session.attachNetfilter(place.prog, place, path);
      if (fd.ok) fds.push(fd.value);
      else errors.push(fd.error);
    }
    if (fds.length) this.links.set(netns, fds);
    return { attached: fds.length, errors };
  }

  detach(netns: number): void {
    for (const fd of this.links.get(netns) ?? []) this.session.closeLink(fd);
    this.links.delete(netns);
  }

  closeAll(): void {
    for (const netns of [...this.links.keys()]) this.detach(netns);
  }
}

function handleCommand(cmd: WorkerCommand, session: BpfSession, observers: Observers, filter: { generation: number }, port: MessagePort): void {
  switch (cmd.type) {
    case "filter": {
      const error = setFilter(session, cmd.bytes, filter);
      port.postMessage(error === undefined ? { type: "filter", id: cmd.id } : { type: "filter", id: cmd.id, error } satisfies WorkerReply);
      return;
    }
    case "observe":
      port.postMessage({ type: "observe", id: cmd.id, ...observers.replace(cmd.netns, cmd.path, cmd.places) } satisfies WorkerReply);
      return;
  }
}

function run(data: RingWorkerData): void {
  const stop = new Int32Array(data.stop);
  const cpus = possibleCpus();
  if (!cpus.ok) return post({ type: "error", message: cpus.error });
  const log2 = data.slotsLog2 ?? ringSlotsLog2(cpus.value, data.slot.bytes, data.ringBudgetBytes);
  const session = openAndAttach({
    objPath: data.objPath,
    rodata: {
      ...data.rodata,
      ring_slots_log2: new Uint8Array(Uint32Array.of(log2).buffer),
      ...(data.sampleFill === undefined ? {} : { sample_fill: new Uint8Array(Uint32Array.of(Math.max(1, Math.round(data.sampleFill * (1 << log2)))).buffer) }),
    },
    optionalTracepoints: data.optionalTracepoints,
    mapEntries: { ring: cpus.value << log2, ring_consumed: cpus.value },
    netfilter: data.netfilter,
  });
  if (!session.ok) return post({ type: "error", message: session.error });
  const filter = { generation: 0 };
  const filterError = setFilter(session.value, data.filter, filter);
  if (filterError !== undefined) {
    session.value.close();
    return post({ type: "error", message: `cannot set the capture filter: ${filterError}` });
  }
  const maps: MapMemory[] = [];
  const map = (name: string, bytes: number): MapMemory | undefined => {
    const fd = session.value.mapFd(name);
    const m = fd.ok ? mmapArray(fd.value.fd, bytes) : fd;
    if (!m.ok) {
      post({ type: "error", message: m.error });
      return undefined;
    }
    maps.push(m.value);
    return m.value;
  };
  const ring = map("ring", (cpus.value << log2) * data.slot.bytes);
  const cursors = ring && map("ring_consumed", cpus.value * CURSOR_BYTES);
  if (!ring || !cursors) {
    for (const m of maps) m.unmap();
    return session.value.close();
  }
  const observers = new Observers(session.value);
  const inflight = new Int32Array(data.inflight);
  const quiet = new QuietLosses();
  const rings = new PerCpuRings(ring.buffer, cursors.buffer, cpus.value, log2, data.maxBatchBytes, data.slot, quiet);
  /** Posts ring-record bytes to the decoding thread, counted in flight until it releases them. */
  const hand = (out: Uint8Array): void => {
    Atomics.add(inflight, 0, Math.ceil(out.byteLength / 1024));
    post({ type: "batch", bytes: out.buffer as ArrayBuffer }, [out.buffer as ArrayBuffer]);
  };
  /** Posts what is ready (see PerCpuRings.drain); returns the bytes read. */
  const drain = (untilNs?: bigint): number => {
    const out = rings.drain(untilNs);
    if (!out) return 0;
    const bytes = out.byteLength; // read before the transfer, which empties out
    hand(out);
    return bytes;
  };
  // Losses a CPU has not reported (it stored no record since): reported here, each lost record once.
  const reportQuietLosses = (): void => {
    const v = session.value.lookupMap("producer", 0, cpus.value * PRODUCER_BYTES);
    if (!v.ok) return;
    const dv = new DataView(v.value.buffer, v.value.byteOffset, v.value.byteLength);
    const records: Uint8Array[] = [];
    for (let c = 0; c < cpus.value; c++) {
      const base = c * PRODUCER_BYTES;
      const news = quiet.report(c, dv.getBigUint64(base + 16, true), dv.getBigUint64(base + 24, true), dv.getBigUint64(base + 32, true));
      if (news) records.push(lossRecord(data.slot, news.firstNs, news.lastNs, news.count));
    }
    if (records.length === 0) return;
    const out = new Uint8Array(records.length * data.slot.bytes);
    records.forEach((r, i) => out.set(r, i * data.slot.bytes));
    hand(out);
  };
  /** Lets go of what has waited too long in the rings while correlation is behind: reported as one loss. */
  let discarded = 0;
  const staleNs = data.staleNs === undefined ? undefined : BigInt(Math.round(data.staleNs));
  // With the kernel sampling once sampleFill of a ring waits, and following no heavy flow past midway
  // from there to full, the stale are let go only past midway from that to full: sampling is what
  // keeps the ring from filling, and letting go what is left.
  const staleFill = data.sampleFill === undefined ? 0.5 : (3 + data.sampleFill) / 4;
  const discardStale = (): void => {
    if (staleNs === undefined || !rings.filledPast(staleFill)) return;
    const gone = rings.discard(process.hrtime.bigint() - staleNs);
    if (!gone) return;
    discarded += gone.count;
    // one report of the records let go and of the kernel's losses reported among them
    hand(lossRecord(data.slot, gone.firstNs, gone.lastNs, BigInt(gone.count + gone.reported)));
  };
  post({ type: "ready", attached: session.value.attached, warnings: session.value.warnings });
  const counter = (key: number): number => {
    const r = session.value.percpuSum("stats", key);
    return r.ok ? Number(r.value) : 0;
  };
  const readCounters = (): RingCounters => ({
    lost: counter(data.statKeys.lost), collisions: counter(data.statKeys.collisions), sampled: counter(data.statKeys.sampled), discarded,
  });
  let last: RingCounters = { lost: 0, collisions: 0, sampled: 0, discarded: 0 };
  let countedAt = Date.now();
  const [idleMin, idleMax] = data.idleMs;
  let idle = idleMin;
  while (Atomics.load(stop, 0) === 0) {
    for (let m = receiveMessageOnPort(data.control); m; m = receiveMessageOnPort(data.control)) {
      handleCommand(m.message as WorkerCommand, session.value, observers, filter, data.control);
    }
    const pending = Atomics.load(inflight, 0);
    if (pending > data.maxInflightKiB) {
      Atomics.wait(inflight, 0, pending, idleMin);
      discardStale();
    } else {
      // process.hrtime is CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
      const read = drain(process.hrtime.bigint());
      // Quiet rings are looked at less and less often (the first record after a lull waits at most
      // idleMax), so an idle capture costs next to nothing.
      if (read === 0) {
        Atomics.wait(stop, 0, 0, idle);
        idle = Math.min(idleMax, idle * 2);
      } else {
        idle = idleMin;
        // A trickle under load: let it gather for a few ms, so batches (and messages) stay few and large.
        if (read < SMALL_READ_BYTES) Atomics.wait(stop, 0, 0, GATHER_MS);
      }
    }
    if (Date.now() - countedAt < COUNTERS_EVERY_MS) continue;
    countedAt = Date.now();
    reportQuietLosses();
    const now = readCounters();
    if (now.lost !== last.lost || now.collisions !== last.collisions || now.sampled !== last.sampled || now.discarded !== last.discarded) {
      post({ type: "counters", ...(last = now) });
    }
  }
  last = readCounters();
  // Detach so nothing new arrives, then hand over what is left; the mappings keep the maps alive.
  observers.closeAll();
  reportQuietLosses();
  session.value.close();
  while (drain() > 0);
  for (const m of maps) m.unmap();
  post({ type: "stopped", ...last });
}

if (parentPort && workerData) run(workerData as RingWorkerData);
