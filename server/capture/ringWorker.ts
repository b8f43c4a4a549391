// Worker thread: loads and attaches the BPF object, then reads the per-CPU rings straight from the
// array they live in, mapped into this process (no FFI call per record), and posts batches of raw
// record bytes to the main thread. It sleeps between reads, which is why it is a worker and not on
// the event loop. The layout is bpf/pktpath.h's struct pktpath_slot and struct pktpath_ring_cursor.
import { parentPort, workerData } from "node:worker_threads";
import { mmapArray, openAndAttach, possibleCpus, type MapMemory } from "./libbpf.ts";
import { CURSOR_BYTES, PerCpuRings, ringSlotsLog2, SLOT_BYTES } from "./rings.ts";

export interface RingWorkerData {
  objPath: string;
  rodata: Record<string, Uint8Array>;
  optionalTracepoints: string[];
  /** Int32 at index 0: set to 1 by the main thread to stop */
  stop: SharedArrayBuffer;
  /** how long to sleep when the rings were empty: idleMs[0], doubling while they stay empty, up to idleMs[1] */
  idleMs: [number, number];
  /** largest batch posted at once */
  maxBatchBytes: number;
  /**
   * Int32 at index 0: KiB posted and not yet taken by the main thread, which subtracts what it has
   * decoded and notifies. Past maxInflightKiB the worker stops reading: the rings fill, the kernel
   * counts what it cannot store as lost, and memory stays bounded when the main thread falls behind.
   */
  inflight: SharedArrayBuffer;
  maxInflightKiB: number;
  /** log2 of each CPU's ring slots; by CPU count when absent */
  slotsLog2?: number;
}

export type RingWorkerMessage =
  | { type: "ready"; attached: string[]; warnings: string[] }
  | { type: "error"; message: string }
  | { type: "batch"; bytes: ArrayBuffer }
  | { type: "lost"; lost: number }
  | { type: "stopped"; lost: number };

const LOST_EVERY_MS = 250;
const SMALL_READ_BYTES = 256 * 1024;
const GATHER_MS = 5;

function post(msg: RingWorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(msg, transfer);
}

function run(data: RingWorkerData): void {
  const stop = new Int32Array(data.stop);
  const cpus = possibleCpus();
  if (!cpus.ok) return post({ type: "error", message: cpus.error });
  const log2 = data.slotsLog2 ?? ringSlotsLog2(cpus.value);
  const session = openAndAttach({
    objPath: data.objPath,
    rodata: { ...data.rodata, ring_slots_log2: new Uint8Array(Uint32Array.of(log2).buffer) },
    optionalTracepoints: data.optionalTracepoints,
    mapEntries: { ring: cpus.value << log2, ring_consumed: cpus.value },
  });
  if (!session.ok) return post({ type: "error", message: session.error });
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
  const ring = map("ring", (cpus.value << log2) * SLOT_BYTES);
  const cursors = ring && map("ring_consumed", cpus.value * CURSOR_BYTES);
  if (!ring || !cursors) {
    for (const m of maps) m.unmap();
    return session.value.close();
  }
  const inflight = new Int32Array(data.inflight);
  const rings = new PerCpuRings(ring.buffer, cursors.buffer, cpus.value, log2, data.maxBatchBytes);
  /** Posts what is ready (see PerCpuRings.drain); returns the bytes read. */
  const drain = (untilNs?: bigint): number => {
    const out = rings.drain(untilNs);
    if (!out) return 0;
    const bytes = out.byteLength; // read before the transfer, which empties out
    Atomics.add(inflight, 0, Math.ceil(bytes / 1024));
    post({ type: "batch", bytes: out.buffer as ArrayBuffer }, [out.buffer as ArrayBuffer]);
    return bytes;
  };
  post({ type: "ready", attached: session.value.attached, warnings: session.value.warnings });
  const readLost = (): number => {
    const r = session.value.percpuSum("lost");
    return r.ok ? Number(r.value) : 0;
  };
  let lost = 0;
  let lostAt = Date.now();
  const [idleMin, idleMax] = data.idleMs;
  let idle = idleMin;
  while (Atomics.load(stop, 0) === 0) {
    const pending = Atomics.load(inflight, 0);
    if (pending > data.maxInflightKiB) Atomics.wait(inflight, 0, pending, idleMin);
    else {
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
    if (Date.now() - lostAt < LOST_EVERY_MS) continue;
    lostAt = Date.now();
    const now = readLost();
    if (now !== lost) post({ type: "lost", lost: (lost = now) });
  }
  lost = readLost();
  // Detach so nothing new arrives, then hand over what is left; the mappings keep the maps alive.
  session.value.close();
  while (drain() > 0);
  for (const m of maps) m.unmap();
  post({ type: "stopped", lost });
}

if (parentPort && workerData) run(workerData as RingWorkerData);
