// The per-CPU rings of bpf/pktpath.bpf.c, read from the array they live in (mapped into this
// process by the worker): struct pktpath_slot and struct pktpath_ring_cursor of bpf/pktpath.h.
// Pure apart from the shared memory it is given; test/rings.test.ts drives it with plain buffers.
import { RECORDS_LOST } from "../../shared/gaps.ts";
import type { RecordLayout } from "./layout.ts";

/** What the reader needs of struct pktpath_slot: its size and where the event's ts_ns is in it. */
export interface SlotLayout {
  bytes: number;
  /** byte offset of ts_ns (u64, little-endian) inside a slot */
  tsOffset: number;
  /** what the reader needs to write a records_lost record itself (lossRecord) */
  lost: { eventSize: number; kind: number; kindOffset: number; locationOffset: number; lenOffset: number };
}

export function slotLayout(layout: RecordLayout): SlotLayout {
  const at = (f: keyof RecordLayout["ev"]): number => layout.slotEvent + layout.ev[f];
  const kind = [...layout.kinds].find(([, name]) => name === RECORDS_LOST)?.[0] ?? 0;
  return { bytes: layout.slotSize, tsOffset: at("ts_ns"),
    lost: { eventSize: layout.eventSize, kind, kindOffset: at("kind"), locationOffset: at("location"), lenOffset: at("len") } };
}

/**
 * struct producer (bpf/ring.h), per CPU: next, limit, lost, lost_first_ns, lost_last_ns. A CPU that
 * lost records and stored none since has not reported them yet: the reader does (lossRecord).
 */
export const PRODUCER_BYTES = 40;

/** A slot holding a records_lost record: `count` records lost on one CPU, from firstNs to lastNs (ktime). */
export function lossRecord(slot: SlotLayout, firstNs: bigint, lastNs: bigint, count: bigint): Uint8Array {
  const out = new Uint8Array(slot.bytes);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, slot.lost.eventSize, true);
  dv.setBigUint64(slot.tsOffset, lastNs, true);
  dv.setBigUint64(slot.lost.locationOffset, firstNs, true);
  dv.setUint32(slot.lost.lenOffset, count > 0xffffffffn ? 0xffffffff : Number(count), true);
  dv.setUint8(slot.lost.kindOffset, slot.lost.kind);
  return out;
}

/**
 * Losses the reader reported for CPUs that stored no record since (lossRecord from their producer
 * state). A CPU's loss count keeps growing until it stores a record; that record is its own report,
 * with the whole count. So the reader reports only what it had not yet, and takes off the kernel's
 * report what the reader reported of it: each lost record is in exactly one report.
 */
export class QuietLosses {
  private readonly open: ({ firstNs: bigint; lastNs: bigint; count: bigint } | undefined)[] = [];

  /** What to report of a CPU whose producer state says `lost` since firstNs, the last at lastNs. */
  report(cpu: number, lost: bigint, firstNs: bigint, lastNs: bigint): { firstNs: bigint; lastNs: bigint; count: bigint } | undefined {
    if (lost === 0n) return undefined;
    const o = this.open[cpu];
    if (o?.firstNs !== firstNs) {
      this.open[cpu] = { firstNs, lastNs, count: lost };
      return { firstNs, lastNs, count: lost };
    }
    if (lost <= o.count) return undefined;
    const news = { firstNs: o.lastNs, lastNs, count: lost - o.count };
    o.count = lost;
    o.lastNs = lastNs;
    return news;
  }

  /** Of a kernel's report from `cpu` (`count` lost, the first at firstNs), what no report said yet. */
  settle(cpu: number, firstNs: bigint, count: number): number {
    const o = this.open[cpu];
    if (o?.firstNs !== firstNs) return count;
    this.open[cpu] = undefined;
    return Math.max(0, count - Number(o.count));
  }
}

/** struct pktpath_ring_cursor: one cache line per CPU */
export const CURSOR_BYTES = 64;
/** All the CPUs' rings together stay near this size (kernel memory), within the bounds below. */
const RING_BUDGET_BYTES = 64 << 20;

/** log2 of the slots in each CPU's ring: 65536 (~100 ms of a 600k records/s flood) at most, 4096 at least. */
export function ringSlotsLog2(cpus: number, slotBytes: number, budgetBytes = RING_BUDGET_BYTES): number {
  const fit = Math.floor(Math.log2(budgetBytes / Math.max(cpus, 1) / slotBytes));
  return Math.min(16, Math.max(12, fit));
}

/**
 * One ring per CPU. A drain takes, from every ring, the filled slots stamped no later than the
 * moment the drain began, and merges them by time. That cut keeps causes before effects across
 * CPUs: a record made after another was filled (a packet's next hop, on another CPU) is stamped
 * after it, so when the later one is taken, the earlier one was already there to take.
 */
export class PerCpuRings {
  private readonly u32: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly consumed: BigUint64Array;
  private readonly pos: number[];
  private readonly mask: number;
  private readonly maxRecords: number;
  private readonly slotBytes: number;
  private readonly tsLo: number;
  private readonly tsHi: number;
  private readonly lost: SlotLayout["lost"];

  constructor(ring: ArrayBuffer, cursors: ArrayBuffer, private readonly cpus: number, private readonly log2: number,
    maxBatchBytes: number, slot: SlotLayout, private readonly quiet?: QuietLosses) {
    this.slotBytes = slot.bytes;
    this.tsLo = slot.tsOffset;
    this.tsHi = slot.tsOffset + 4;
    this.lost = slot.lost;
    this.u32 = new Uint32Array(ring);
    this.bytes = new Uint8Array(ring);
    this.consumed = new BigUint64Array(cursors);
    this.pos = Array.from({ length: cpus }, (_, c) => Number(this.consumed[(c * CURSOR_BYTES) / 8]));
    this.mask = (1 << log2) - 1;
    this.maxRecords = Math.max(1, Math.floor(maxBatchBytes / this.slotBytes));
  }

  private slotAt(cpu: number, pos: number): number {
    return ((cpu << this.log2) + (pos & this.mask)) * this.slotBytes;
  }

  /** Whether the slot at byte offset at is stamped (ts_ns, two u32 words) no later than hi:lo. */
  private stampedBy(at: number, hi: number, lo: number): boolean {
    const tsHi = this.u32[(at + this.tsHi) / 4]!;
    return tsHi < hi || (tsHi === hi && this.u32[(at + this.tsLo) / 4]! <= lo);
  }

  /** Whether the slot at byte offset at is filled and stamped no later than hi:lo. */
  private ready(at: number, hi: number, lo: number): boolean {
    return Atomics.load(this.u32, at / 4) !== 0 && this.stampedBy(at, hi, lo);
  }

  /** Whether slot a is stamped no later than slot b. */
  private tsBefore(a: number, b: number): boolean {
    return this.stampedBy(a, this.u32[(b + this.tsHi) / 4]!, this.u32[(b + this.tsLo) / 4]!);
  }

  /** Whether some CPU's ring is at least half full (its slot half a ring past the reader is filled). */
  halfFull(): boolean {
    return this.filledPast(0.5);
  }

  /** Whether some CPU's ring holds more than this part of its slots (0 to 1) unread. */
  filledPast(part: number): boolean {
    const at = Math.min(this.mask, Math.floor((this.mask + 1) * part));
    for (let c = 0; c < this.cpus; c++) if (Atomics.load(this.u32, this.slotAt(c, this.pos[c]! + at) / 4) !== 0) return true;
    return false;
  }

  /**
   * Frees, unread, every filled slot stamped no later than untilNs, on every CPU: what a reader too
   * far behind lets go, so that what it reads next is recent. How many records of packets, how many
   * the kernel's reports among them counted lost (and no other report has), and the first and last
   * time among them and among those losses; undefined when nothing was there.
   */
  discard(untilNs: bigint): { count: number; reported: number; firstNs: bigint; lastNs: bigint } | undefined {
    const hi = Number(untilNs >> 32n), lo = Number(untilNs & 0xffffffffn);
    let count = 0, reported = 0, first: bigint | undefined, last: bigint | undefined;
    const word = (at: number, off: number): bigint => (BigInt(this.u32[(at + off + 4) / 4]!) << 32n) | BigInt(this.u32[(at + off) / 4]!);
    const earliest = (ts: bigint): void => {
      if (first === undefined || ts < first) first = ts;
    };
    for (let c = 0; c < this.cpus; c++) {
      let n = 0, at = this.slotAt(c, this.pos[c]!), end = at;
      // One CPU's ring is in time order: its first and last are the oldest and newest let go.
      if (this.ready(at, hi, lo)) earliest(word(at, this.tsLo));
      for (; this.ready(at, hi, lo); at = this.slotAt(c, this.pos[c]! + n)) {
        end = at;
        // A report of records the kernel lost is no record; the loss it reports began earlier, and
        // what it counts (less what the reader reported already) goes into the report of these.
        if (this.bytes[at + this.lost.kindOffset] === this.lost.kind) {
          const from = word(at, this.lost.locationOffset), len = this.u32[(at + this.lost.lenOffset) / 4]!;
          earliest(from);
          reported += this.quiet ? this.quiet.settle(c, from, len) : len;
        } else count++;
        this.u32[at / 4] = 0;
        n++;
      }
      if (n === 0) continue;
      const ts = word(end, this.tsLo);
      if (last === undefined || ts > last) last = ts;
      this.pos[c]! += n;
      Atomics.store(this.consumed, (c * CURSOR_BYTES) / 8, BigInt(this.pos[c]!));
    }
    return first === undefined || last === undefined ? undefined : { count, reported, firstNs: first, lastNs: last };
  }

  /** The kernel's reports among the slots about to be taken count only what the reader has not reported (QuietLosses). */
  private settleReports(counts: readonly number[]): void {
    const { kind, kindOffset, locationOffset, lenOffset } = this.lost;
    for (let c = 0; c < this.cpus; c++) {
      for (let i = 0; i < counts[c]!; i++) {
        const at = this.slotAt(c, this.pos[c]! + i);
        if (this.bytes[at + kindOffset] !== kind) continue;
        const first = (BigInt(this.u32[(at + locationOffset + 4) / 4]!) << 32n) | BigInt(this.u32[(at + locationOffset) / 4]!);
        const len = (at + lenOffset) / 4;
        this.u32[len] = this.quiet!.settle(c, first, this.u32[len]!);
      }
    }
  }

  /** Takes what is ready, as ring-record bytes in time order; untilNs undefined takes everything filled. */
  drain(untilNs?: bigint): Uint8Array | undefined {
    let hi = untilNs === undefined ? 0xffffffff : Number(untilNs >> 32n);
    let lo = untilNs === undefined ? 0xffffffff : Number(untilNs & 0xffffffffn);
    const counts: number[] = [];
    let capped = false;
    for (let c = 0; c < this.cpus; c++) {
      let n = 0;
      const start = this.pos[c]!;
      while (n < this.maxRecords && this.ready(this.slotAt(c, start + n), hi, lo)) n++;
      counts.push(n);
      if (n === this.maxRecords && this.ready(this.slotAt(c, start + n), hi, lo)) {
        // More is ready than a batch holds: the cut moves back to the last record taken here, so
        // that no other CPU's later records go out ahead of the ones this CPU still holds.
        const last = this.slotAt(c, start + n - 1);
        [hi, lo] = [this.u32[(last + this.tsHi) / 4]!, this.u32[(last + this.tsLo) / 4]!];
        capped = true;
      }
    }
    let total = 0;
    for (let c = 0; c < this.cpus; c++) {
      if (capped) {
        let n = counts[c]!;
        while (n > 0 && !this.ready(this.slotAt(c, this.pos[c]! + n - 1), hi, lo)) n--;
        counts[c] = n;
      }
      total += counts[c]!;
    }
    if (total === 0) return undefined;
    if (this.quiet) this.settleReports(counts);
    const out = new Uint8Array(total * this.slotBytes);
    let o = 0;
    const taken = counts.map(() => 0);
    // Merge by time, copying runs: under load one CPU's records mostly follow each other.
    const head = (c: number): number => this.slotAt(c, this.pos[c]! + taken[c]!);
    for (;;) {
      let best = -1;
      let second = -1;
      for (let c = 0; c < this.cpus; c++) {
        if (taken[c]! >= counts[c]!) continue;
        if (best < 0 || this.tsBefore(head(c), head(best))) [second, best] = [best, c];
        else if (second < 0 || this.tsBefore(head(c), head(second))) second = c;
      }
      if (best < 0) break;
      const from = this.pos[best]! + taken[best]!;
      let run = 1;
      const limit = counts[best]! - taken[best]!;
      const bound = second < 0 ? -1 : head(second);
      while (run < limit && ((from + run) & this.mask) !== 0 && (bound < 0 || this.tsBefore(this.slotAt(best, from + run), bound))) run++;
      const at = this.slotAt(best, from);
      out.set(this.bytes.subarray(at, at + run * this.slotBytes), o);
      o += run * this.slotBytes;
      taken[best]! += run;
    }
    // Free the slots (len back to 0) before telling the kernel they are consumed. Plain stores: the
    // atomic store of the cursor after them orders them first, and only this thread reads len as 0.
    for (let c = 0; c < this.cpus; c++) {
      const n = counts[c]!;
      if (n === 0) continue;
      for (let i = 0; i < n; i++) this.u32[this.slotAt(c, this.pos[c]! + i) / 4] = 0;
      this.pos[c]! += n;
      Atomics.store(this.consumed, (c * CURSOR_BYTES) / 8, BigInt(this.pos[c]!));
    }
    return out;
  }
}
