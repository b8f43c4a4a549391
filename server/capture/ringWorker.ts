// Worker thread: loads and attaches the BPF object, then reads the ring buffer straight from its
// shared memory (no FFI call per record) and posts batches of raw record bytes to the main thread.
// It blocks in poll() between reads, which is why it is a worker and not on the event loop.
import { parentPort, workerData } from "node:worker_threads";
import { mmapRing, openAndAttach, pollReadable, type BpfSession, type RingMapping } from "./libbpf.ts";

export interface RingWorkerData {
  objPath: string;
  rodata: Record<string, Uint8Array>;
  optionalTracepoints: string[];
  /** Int32 at index 0: set to 1 by the main thread to stop */
  stop: SharedArrayBuffer;
  ringMap: string;
  lostMap: string;
  pollMs: number;
  /** largest batch posted at once */
  maxBatchBytes: number;
  /**
   * Int32 at index 0: KiB posted and not yet taken by the main thread, which subtracts what it has
   * decoded and notifies. Past maxInflightKiB the worker stops reading: the ring fills, the kernel
   * counts what it cannot store as lost, and memory stays bounded when the main thread falls behind.
   */
  inflight: SharedArrayBuffer;
  maxInflightKiB: number;
}

export type RingWorkerMessage =
  | { type: "ready"; attached: string[]; warnings: string[] }
  | { type: "error"; message: string }
  | { type: "batch"; bytes: ArrayBuffer }
  | { type: "lost"; lost: number }
  | { type: "stopped"; lost: number };

const BUSY = 0x80000000;
const HDR = 8;
const LOST_EVERY_MS = 250;
const SMALL_READ_BYTES = 256 * 1024;
const GATHER_MS = 5;

function post(msg: RingWorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(msg, transfer);
}

class RingReader {
  private readonly consumerPos: BigUint64Array;
  private readonly producerPos: BigUint64Array;
  private readonly words: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly mask: number;
  private readonly dataStart: number;

  constructor(ring: RingMapping, maxEntries: number, private readonly maxBatchBytes: number,
    private readonly inflight: Int32Array) {
    this.consumerPos = new BigUint64Array(ring.consumer, 0, 1);
    this.producerPos = new BigUint64Array(ring.producer, 0, 1);
    this.words = new Uint32Array(ring.producer);
    this.bytes = new Uint8Array(ring.producer);
    this.mask = maxEntries - 1;
    this.dataStart = ring.pageSize;
  }

  /** Copies out every committed record, posting at most maxBatchBytes at a time. Returns bytes read. */
  drain(): number {
    let cons = Number(Atomics.load(this.consumerPos, 0));
    const prod = Number(Atomics.load(this.producerPos, 0)); // the kernel stores it with release semantics
    const first = cons;
    let start = cons;
    while (cons < prod) {
      const hdr = Atomics.load(this.words, (this.dataStart + (cons & this.mask)) / 4);
      if (hdr & BUSY) break; // reserved but not yet submitted: later records wait behind it
      const next = cons + ((((hdr & 0x3fffffff) >>> 0) + HDR + 7) & ~7);
      if (next - start > this.maxBatchBytes && cons > start) {
        this.flush(start, cons);
        start = cons;
      }
      cons = next;
    }
    if (cons > start) this.flush(start, cons);
    return cons - first;
  }

  private flush(from: number, to: number): void {
    const at = this.dataStart + (from & this.mask);
    // The data area is mapped twice in a row, so a record range that wraps is still contiguous here.
    const copy = this.bytes.slice(at, at + (to - from));
    Atomics.store(this.consumerPos, 0, BigInt(to));
    Atomics.add(this.inflight, 0, Math.ceil(copy.byteLength / 1024));
    post({ type: "batch", bytes: copy.buffer }, [copy.buffer]);
  }
}

function readLost(session: BpfSession, map: string): number {
  const r = session.percpuSum(map);
  return r.ok ? Number(r.value) : 0;
}

function run(data: RingWorkerData): void {
  const stop = new Int32Array(data.stop);
  const session = openAndAttach({ objPath: data.objPath, rodata: data.rodata, optionalTracepoints: data.optionalTracepoints });
  if (!session.ok) return post({ type: "error", message: session.error });
  const ringFd = session.value.mapFd(data.ringMap);
  const ring = ringFd.ok ? mmapRing(ringFd.value.fd, ringFd.value.maxEntries) : ringFd;
  if (!ringFd.ok || !ring.ok) {
    session.value.close();
    return post({ type: "error", message: ring.ok ? "no ring buffer" : ring.error });
  }
  const inflight = new Int32Array(data.inflight);
  const reader = new RingReader(ring.value, ringFd.value.maxEntries, data.maxBatchBytes, inflight);
  post({ type: "ready", attached: session.value.attached, warnings: session.value.warnings });
  let lost = 0;
  let lostAt = Date.now();
  while (Atomics.load(stop, 0) === 0) {
    const pending = Atomics.load(inflight, 0);
    if (pending > data.maxInflightKiB) Atomics.wait(inflight, 0, pending, data.pollMs);
    else {
      const read = reader.drain();
      if (read === 0) pollReadable(ringFd.value.fd, data.pollMs);
      // A trickle under load: let it gather for a few ms, so batches (and messages) stay few and large.
      else if (read < SMALL_READ_BYTES) Atomics.wait(stop, 0, 0, GATHER_MS);
    }
    if (Date.now() - lostAt < LOST_EVERY_MS) continue;
    lostAt = Date.now();
    const now = readLost(session.value, data.lostMap);
    if (now !== lost) post({ type: "lost", lost: (lost = now) });
  }
  lost = readLost(session.value, data.lostMap);
  // Detach so nothing new arrives, then hand over what is left; the mapping keeps the ring alive.
  session.value.close();
  reader.drain();
  ring.value.unmap();
  post({ type: "stopped", lost });
}

if (parentPort && workerData) run(workerData as RingWorkerData);
