// Events and hops that arrive out of time order are put in place by a search, not by walking back one
// by one: a perf script file whose timestamps go backwards read 100 000 lines in 29 s (3.4 s ascending).
import { test } from "node:test";
import assert from "node:assert/strict";
import { insertHop } from "../shared/journeys.ts";
import { TextCaptureReader } from "../shared/importers/textCapture.ts";
import type { Hop, RawEvent } from "../shared/types.ts";

const hop = (tNs: number, ifname = "h"): Hop => ({ event: "netif_rx", ifname, tNs, len: 84 });

/** Hops that count how often their time is read: the cost of finding a place, apart from moving. */
function countingHops(n: number): { hops: Hop[]; reads: () => number } {
  let reads = 0;
  const hops = Array.from({ length: n }, (_, i) => new Proxy(hop(i * 10), {
    get: (target, key, receiver) => {
      if (key === "tNs") reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  }));
  return { hops, reads: () => reads };
}

test("insertHop: a hop older than all 100 000 finds its place in O(log n) looks", () => {
  const n = 100_000;
  for (const [tNs, at] of [[-1, 0], [55_555, 5556], [5_000, 501], [n * 10, n]] as const) {
    const { hops, reads } = countingHops(n);
    insertHop(hops, hop(tNs, "new"));
    assert.ok(reads() <= 2 * Math.ceil(Math.log2(n)) + 2, `tNs ${tNs}: ${reads()} hops looked at`);
    assert.equal(hops[at]?.ifname, "new", `tNs ${tNs} lands at ${at}`);
    assert.equal(hops.length, n + 1);
  }
});

test("insertHop: any arrival order gives time order, equal times in arrival order", () => {
  // A fixed shuffle (no randomness in tests): multiplying by a unit mod a prime visits each slot once.
  const times = Array.from({ length: 997 }, (_, i) => ((i * 389) % 997) >> 2);
  const hops: Hop[] = [];
  times.forEach((t, i) => insertHop(hops, hop(t, `a${i}`)));
  const expected = times.map((t, i) => ({ t, i })).sort((x, y) => x.t - y.t || x.i - y.i).map(({ i }) => `a${i}`);
  assert.deepEqual(hops.map((h) => h.ifname), expected);
});

/** `perf script` lines, one net_dev_queue each, 1 µs apart: forwards or backwards in time. */
function perfScript(n: number, backwards: boolean): string[] {
  return Array.from({ length: n }, (_, i) => {
    const us = 319_000_000 + (backwards ? n - i : i);
    const t = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, "0")}`;
    return `ping  6291 [001] ${t}: net:net_dev_queue: dev=lo skbaddr=0xffff${i.toString(16)} len=98`;
  });
}

function readAll(lines: string[]): { events: RawEvent[]; ms: number } {
  const t0 = performance.now();
  const reader = new TextCaptureReader({ format: "perf-script" });
  const events: RawEvent[] = [];
  for (const l of lines) {
    const r = reader.push(l);
    assert.ok(r.ok, r.ok ? "" : r.error);
    for (const e of r.value) events.push(e);
  }
  for (const e of reader.end()) events.push(e);
  return { events, ms: performance.now() - t0 };
}

test("a perf script capture whose timestamps go backwards reads about as fast as one that goes forwards", (t) => {
  const n = 100_000;
  const forwards = readAll(perfScript(n, false));
  const backwards = readAll(perfScript(n, true));
  t.diagnostic(`${n} lines: forwards ${forwards.ms.toFixed(0)} ms, backwards ${backwards.ms.toFixed(0)} ms`);
  assert.equal(backwards.events.length, n);
  // Time order restored: the last line written is the earliest event.
  assert.deepEqual(backwards.events.slice(0, 2).map((e) => [e.tNs, e.skbaddr]), [[0, `0xffff${(n - 1).toString(16)}`], [1000, `0xffff${(n - 2).toString(16)}`]]);
  assert.ok(backwards.events.every((e, i) => i === 0 || e.tNs >= backwards.events[i - 1]!.tNs));
  // Generous: a walk back one by one is ~100 times slower here; a heap, about as fast.
  assert.ok(backwards.ms < 3 * forwards.ms + 250, `backwards ${backwards.ms.toFixed(0)} ms, forwards ${forwards.ms.toFixed(0)} ms`);
});
