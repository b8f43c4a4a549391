// The capture log of raw record batches (server/capture/rawLog.ts): bounded in records, the oldest
// batches leaving whole while the rest still hold the bound; a view keeps what it saw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rawLogEvents, RawRecordLog } from "../server/capture/rawLog.ts";

const batch = (n: number): ArrayBuffer => new Uint8Array([n]).buffer;

test("whole batches fall off the front once the rest hold the bound; a view is not changed by later batches", () => {
  const log = new RawRecordLog(10);
  log.add(batch(1), 4);
  log.add(batch(2), 4);
  log.add(batch(3), 0); // nothing decoded: nothing kept
  const before = log.view();
  log.add(batch(4), 4); // 12 kept: the first batch leaves only if the others hold 10
  assert.deepEqual([log.size, log.dropped], [12, 0]);
  log.add(batch(5), 4); // 16: the first leaves (12 ≥ 10), the second stays (8 < 10)
  assert.deepEqual([log.size, log.dropped], [12, 4]);
  const ids = (bs: readonly ArrayBuffer[]): number[] => bs.map((b) => new Uint8Array(b)[0]!);
  assert.deepEqual(ids(log.view().batches), [2, 4, 5]);
  assert.deepEqual([before.size, ids(before.batches)], [8, [1, 2]]);
  const decoded = [...rawLogEvents(log.view(), (b) => [{ event: "x", tNs: new Uint8Array(b)[0]!, skbaddr: "0x1", len: 0 }])];
  assert.deepEqual(decoded.map((evs) => evs[0]!.tNs), [2, 4, 5]);
});

test("thousands of batches: the front is compacted, the newest kept", () => {
  const log = new RawRecordLog(100);
  for (let i = 0; i < 5000; i++) log.add(batch(i % 256), 1);
  assert.deepEqual([log.size, log.dropped, log.view().batches.length], [100, 4900, 100]);
});
