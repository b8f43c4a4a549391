// The per-CPU ring reader (server/capture/rings.ts) on plain buffers laid out like the BPF maps:
// which slots it takes, in what order, and what it hands back to the kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RecordDecoder } from "../server/capture/decode.ts";
import { PKTPATH_OBJ } from "../server/capture/ebpf.ts";
import { readRecordLayout } from "../server/capture/layout.ts";
import { CURSOR_BYTES, PerCpuRings as Rings0, QuietLosses, ringSlotsLog2, slotLayout } from "../server/capture/rings.ts";

const layout = await readRecordLayout(PKTPATH_OBJ);
assert.ok(layout.ok, layout.ok ? "" : layout.error);
const SLOT = slotLayout(layout.value);
const SLOT_BYTES = SLOT.bytes;
const EVENT_SIZE = layout.value.eventSize;
const KIND_OFFSET = layout.value.slotEvent + layout.value.ev.kind;
/** The reader over these buffers, with the real slot layout. */
class PerCpuRings extends Rings0 {
  constructor(ring: ArrayBuffer, cursors: ArrayBuffer, cpus: number, log2: number, maxBatchBytes: number, quiet?: QuietLosses) {
    super(ring, cursors, cpus, log2, maxBatchBytes, SLOT, quiet);
  }
}

const LOG2 = 3; // 8 slots per CPU
const CPUS = 2;

interface Rings { ring: ArrayBuffer; cursors: ArrayBuffer; fill(cpu: number, pos: number, ts: number): void; cursor(cpu: number): bigint; len(cpu: number, pos: number): number }

function rings(consumed: number[] = [0, 0]): Rings {
  const ring = new ArrayBuffer((CPUS << LOG2) * SLOT_BYTES);
  const cursors = new ArrayBuffer(CPUS * CURSOR_BYTES);
  const dv = new DataView(ring);
  const cur = new DataView(cursors);
  consumed.forEach((n, c) => cur.setBigUint64(c * CURSOR_BYTES, BigInt(n), true));
  const at = (cpu: number, pos: number): number => ((cpu << LOG2) + (pos & ((1 << LOG2) - 1))) * SLOT_BYTES;
  return {
    ring, cursors,
    fill(cpu, pos, ts) {
      const slot = at(cpu, pos);
      dv.setBigUint64(slot + SLOT.tsOffset, BigInt(ts), true);
      dv.setUint8(slot + KIND_OFFSET, 1);
      dv.setUint32(slot, EVENT_SIZE, true);
    },
    cursor: (cpu) => cur.getBigUint64(cpu * CURSOR_BYTES, true),
    len: (cpu, pos) => dv.getUint32(at(cpu, pos), true),
  };
}

/** The records' timestamps in the order of the bytes (the decoder would sort them). */
function times(bytes: Uint8Array | undefined): number[] {
  if (!bytes) return [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let at = 0; at < bytes.byteLength; at += SLOT_BYTES) out.push(Number(dv.getBigUint64(at + SLOT.tsOffset, true)));
  return out;
}

test("records of two CPUs come out merged by time, their slots freed and the cursors advanced", () => {
  const r = rings();
  [10, 30, 50].forEach((ts, i) => r.fill(0, i, ts));
  [20, 40].forEach((ts, i) => r.fill(1, i, ts));
  const reader = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 1 << 20);
  const out = reader.drain();
  assert.equal(out?.byteLength, 5 * SLOT_BYTES);
  assert.deepEqual(times(out), [10, 20, 30, 40, 50]);
  // framed like BPF ring buffer records, so the decoder reads them as it always did
  const decoded = new RecordDecoder(layout.value, { startKtimeNs: 0n, dropReasons: new Map() }).decodeBytes(out!.buffer as ArrayBuffer);
  assert.deepEqual([decoded.events.map((e) => e.tNs), decoded.malformed], [[10, 20, 30, 40, 50], 0]);
  assert.deepEqual([r.cursor(0), r.cursor(1)], [3n, 2n]);
  assert.deepEqual([0, 1, 2].map((p) => r.len(0, p)), [0, 0, 0]);
  assert.equal(reader.drain(), undefined, "nothing twice");
});

test("only records stamped up to the cut are taken; the rest wait for the next drain", () => {
  const r = rings();
  [10, 30, 50].forEach((ts, i) => r.fill(0, i, ts));
  [20, 40].forEach((ts, i) => r.fill(1, i, ts));
  const reader = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 1 << 20);
  assert.deepEqual(times(reader.drain(35n)), [10, 20, 30]);
  assert.deepEqual([r.cursor(0), r.cursor(1)], [2n, 1n]);
  assert.equal(r.len(0, 2), EVENT_SIZE, "the slot after the cut is still the kernel's record");
  assert.deepEqual(times(reader.drain()), [40, 50]);
});

test("a CPU's ring is read up to its first slot not yet filled, across the wrap", () => {
  const r = rings([6, 0]);
  r.fill(0, 6, 1);
  r.fill(0, 7, 2);
  r.fill(0, 8, 3); // slot 0 again, one lap on
  r.fill(0, 10, 5); // slot 2: filled, but slot 1 (pos 9) is still being written
  const reader = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 1 << 20);
  assert.deepEqual(times(reader.drain()), [1, 2, 3]);
  assert.equal(r.cursor(0), 9n);
  r.fill(0, 9, 4);
  assert.deepEqual(times(reader.drain()), [4, 5]);
  assert.equal(r.cursor(0), 11n);
});

test("a drain takes at most a batch's worth from each CPU, and nothing from others past what it left", () => {
  const r = rings();
  [10, 20, 30, 40].forEach((ts, i) => r.fill(0, i, ts));
  [5, 25].forEach((ts, i) => r.fill(1, i, ts));
  const reader = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 2 * SLOT_BYTES);
  // CPU 0 gives 10 and 20 and still holds 30: CPU 1's 25 must wait for it
  assert.deepEqual(times(reader.drain()), [5, 10, 20]);
  assert.deepEqual(times(reader.drain()), [25, 30, 40]);
});

test("timestamps above 2^32 ns compare by both words", () => {
  const r = rings();
  r.fill(0, 0, 2 ** 32 + 5);
  r.fill(1, 0, 7);
  r.fill(1, 1, 2 ** 33);
  const reader = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 1 << 20);
  assert.deepEqual(times(reader.drain(2n ** 32n + 10n)), [7, 2 ** 32 + 5]);
  assert.deepEqual(times(reader.drain()), [2 ** 33]);
});

test("ring size: 64 KiB slots per CPU at most, 4 KiB at least, within the budget between", () => {
  assert.equal(ringSlotsLog2(2, SLOT_BYTES), 16);
  assert.equal(ringSlotsLog2(32, SLOT_BYTES), 13);
  assert.equal(ringSlotsLog2(4096, SLOT_BYTES), 12);
  // serve's budget (server/sources.ts): 16 MiB in all
  assert.equal(ringSlotsLog2(2, SLOT_BYTES, 16 << 20), 15);
  assert.equal(ringSlotsLog2(8, SLOT_BYTES, 16 << 20), 13);
});

test("a reader far behind lets go of what is stamped up to the cut, on every CPU, and says how many and when", () => {
  const r = rings([6, 0]);
  [100, 200, 300, 400].forEach((ts, i) => r.fill(0, 6 + i, ts)); // across the wrap
  [150, 160, 350].forEach((ts, i) => r.fill(1, i, ts));
  // CPU 1's second slot: the kernel's report of records it lost from 50 to 160, not a record itself
  const report = new DataView(r.ring, ((1 << LOG2) + 1) * SLOT_BYTES);
  report.setUint8(SLOT.lost.kindOffset, SLOT.lost.kind);
  report.setBigUint64(SLOT.lost.locationOffset, 50n, true);
  report.setUint32(SLOT.lost.lenOffset, 7, true);
  const reader = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 1 << 20);
  assert.deepEqual(reader.discard(320n), { count: 4, reported: 7, firstNs: 50n, lastNs: 300n });
  assert.deepEqual([r.cursor(0), r.cursor(1)], [9n, 2n], "handed back to the kernel");
  assert.deepEqual([r.len(0, 6), r.len(0, 8), r.len(1, 0)], [0, 0, 0]);
  assert.equal(reader.discard(320n), undefined, "nothing twice");
  assert.deepEqual(times(reader.drain()), [350, 400], "what is newer is read as before");
});

test("a ring is half full once the slot half a ring past the reader is filled, three quarters full likewise", () => {
  const r = rings([5, 0]);
  const reader = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 1 << 20);
  [5, 6, 7].forEach((pos) => r.fill(0, pos, pos));
  assert.equal(reader.halfFull(), false, "3 of 8");
  r.fill(0, 9, 9); // half a ring past position 5, across the wrap
  assert.equal(reader.halfFull(), true);
  assert.equal(reader.filledPast(0.75), false, "not six of eight");
  r.fill(0, 11, 11); // six slots past position 5
  assert.equal(reader.filledPast(0.75), true);
  reader.drain();
  assert.equal(reader.halfFull(), false, "read");
  assert.equal(reader.filledPast(0.75), false);
});

test("each lost record is in one report: the reader reports what grew since, the kernel's report keeps the rest", () => {
  const quiet = new QuietLosses();
  assert.equal(quiet.report(0, 0n, 0n, 0n), undefined, "nothing lost");
  assert.deepEqual(quiet.report(0, 5n, 100n, 140n), { firstNs: 100n, lastNs: 140n, count: 5n });
  assert.equal(quiet.report(0, 5n, 100n, 140n), undefined, "said already");
  assert.deepEqual(quiet.report(0, 8n, 100n, 190n), { firstNs: 140n, lastNs: 190n, count: 3n }, "only the three since");
  assert.deepEqual(quiet.report(1, 2n, 120n, 130n), { firstNs: 120n, lastNs: 130n, count: 2n }, "each CPU its own");
  // CPU 0 stores a record again: its report counts 9 since 100, the reader said 8 of them
  const r = rings();
  r.fill(0, 0, 200);
  r.fill(0, 1, 210);
  r.fill(1, 0, 205);
  const report = new DataView(r.ring, 0);
  report.setUint8(SLOT.lost.kindOffset, SLOT.lost.kind);
  report.setBigUint64(SLOT.lost.locationOffset, 100n, true);
  report.setUint32(SLOT.lost.lenOffset, 9, true);
  const other = new DataView(r.ring, (1 << LOG2) * SLOT_BYTES);
  other.setUint8(SLOT.lost.kindOffset, SLOT.lost.kind);
  other.setBigUint64(SLOT.lost.locationOffset, 300n, true); // an episode the reader never reported
  other.setUint32(SLOT.lost.lenOffset, 4, true);
  const out = new PerCpuRings(r.ring, r.cursors, CPUS, LOG2, 1 << 20, quiet).drain();
  assert.ok(out);
  const dv = new DataView(out.buffer);
  const lens = [0, 1, 2].map((i) => dv.getUint32(i * SLOT_BYTES + SLOT.lost.lenOffset, true));
  assert.deepEqual(times(out), [200, 205, 210]);
  assert.deepEqual([lens[0], lens[1]], [1, 4], "9 less the 8 reported; 4 as the kernel said");
  assert.deepEqual(quiet.report(0, 2n, 400n, 410n), { firstNs: 400n, lastNs: 410n, count: 2n }, "a new episode, whole");
  assert.equal(quiet.settle(1, 120n, 2), 0, "all of it said by the reader");
});
