// LruMap (shared/lru.ts): the order entries were last set in, oldest first, through sets of keys
// already there (the node moves, from the front, the middle or the back) and deletes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LruMap } from "../shared/lru.ts";

test("setting a key already there makes it the newest, wherever it was; its value is the new one", () => {
  const m = new LruMap<string, number>();
  for (const [k, v] of [["a", 1], ["b", 2], ["c", 3], ["d", 4]] as const) m.set(k, v);
  m.set("b", 20); // from the middle
  m.set("a", 10); // from the front
  m.set("a", 11); // already the newest
  assert.deepEqual([m.size, m.oldestKey(), m.oldestValue(), m.get("b")], [4, "c", 3, 20]);
  m.delete("c");
  m.set("d", 40); // the oldest again, after a delete
  assert.deepEqual(m.oldest(), ["b", 20]);
  assert.deepEqual(m.drain(), [20, 11, 40]);
  assert.deepEqual([m.size, m.oldestKey()], [0, undefined]);
  m.set("x", 1);
  m.set("x", 2);
  assert.deepEqual([m.size, m.oldest()], [1, ["x", 2]]);
});
