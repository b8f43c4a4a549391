// The bounded ping store: newest first, O(1) lookup, and eviction of the oldest past capacity.
import { test } from "node:test";
import assert from "node:assert/strict";
import { correlateAll } from "../shared/correlate.ts";
import type { Ping } from "../shared/types.ts";
import { PingStore } from "../server/store.ts";
import { hostToNsEvents } from "./support/capture-file.ts";

const [first] = correlateAll(hostToNsEvents()).pings;
const pingN = (n: number): Ping => ({ ...(first as Ping), id: `p-${n}`, seq: n });

test("keeps the newest `capacity` pings, newest first, and forgets the evicted ones", () => {
  const store = new PingStore(3);
  assert.deepEqual(store.newest(10), []);
  store.add([pingN(1), pingN(2)]);
  assert.deepEqual(store.newest(10).map((p) => p.id), ["p-2", "p-1"]);
  store.add([pingN(3), pingN(4), pingN(5)]);
  assert.deepEqual(store.newest(10).map((p) => p.id), ["p-5", "p-4", "p-3"]);
  assert.deepEqual(store.newest(2).map((p) => p.id), ["p-5", "p-4"]);
  assert.equal(store.get("p-2"), undefined);
  assert.equal(store.get("p-4")?.seq, 4);
  assert.deepEqual([store.size, store.total], [3, 5]);
});

test("refuses a capacity that is not a positive integer", () => {
  assert.throws(() => new PingStore(0), RangeError);
  assert.throws(() => new PingStore(1.5), RangeError);
});
