// Under a flood of finished pings the stream samples what a page gets, never what the server keeps:
// each batch carries at most maxPingsPerBatch complete pings (the newest), every ping that did not
// complete, the newest ping of every other ping session (someone's own ping amid another's flood),
// and `summarised`, the count of those left out, so that sent + summarised is every ping.
// The store keeps them all, up to its bound. Before, a batch was cut to its newest 1000, drops and
// no-replies included.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { CaptureSource } from "../server/capture/source.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import type { Ping, RawEvent } from "../shared/types.ts";
import { PINGS_PER_SESSION } from "../shared/sample.ts";
import { hostToNsEvents } from "./support/capture-file.ts";
import { waitFor } from "./support/cli-child.ts";
import { TestClient } from "./support/ws-client.ts";

const COPIES = 3000;
/** every this many copies of the first flood, the reply never comes: a no-reply amid the second flood */
const UNANSWERED_EVERY = 300;
/** the icmp id of one quiet ping session amid the second flood (+ the recording's) */
const QUIET_ID_DELTA = 7;

/**
 * Copies of the recording's two pings, gapNs apart from offsetNs, icmp id + idDelta; `answered(k)`
 * false: copy k's first reply is left out. `skbTag` sets their skb addresses apart from other copies'.
 */
function copies(gapNs: number, offsetNs: number, idDelta: number, answered: (k: number) => boolean, count = COPIES, skbTag = ""): RawEvent[] {
  const base = hostToNsEvents(0);
  // The first reply's skb carries the second request later: only its first life is left out.
  const firstReply = base.find((e) => e.packet?.icmp?.type === 0)!;
  const firstReplyEnd = base.find((e) => e.skbaddr === firstReply.skbaddr && e.tNs > firstReply.tNs && e.event.endsWith("_skb") && !e.event.startsWith("netif"))!;
  const out: RawEvent[] = [];
  for (let k = 0; k < count; k++) {
    for (const e of base) {
      if (!answered(k) && e.skbaddr === firstReply.skbaddr && e.tNs >= firstReply.tNs && e.tNs <= firstReplyEnd.tNs) continue;
      const ev: RawEvent = { ...e, tNs: e.tNs + offsetNs + k * gapNs, skbaddr: `0x${skbTag}${k.toString(16)}${e.skbaddr.slice(2)}` };
      if (e.packet?.icmp) ev.packet = { ...e.packet, icmp: { ...e.packet.icmp, id: e.packet.icmp.id + idDelta, seq: e.packet.icmp.seq + 2 * k } };
      out.push(ev);
    }
  }
  return out;
}

/** Two floods of 2 × COPIES pings; the second runs while the first's unanswered ones time out (2 s). */
function floods(): RawEvent[][] {
  const first = copies(20_000, 800e6, 0, (k) => k % UNANSWERED_EVERY !== 0);
  const second = copies(100_000, 2700e6, 1, () => true);
  // Someone's own ping (another icmp id) amid the second flood, 150 ms before its end.
  const quiet = copies(0, 2850e6, QUIET_ID_DELTA, () => true, 1, "abc");
  return [first, [...second, ...quiet]].map((f) => f.sort((a, b) => a.tNs - b.tNs));
}

/**
 * Each flood handed over whole, the second once the first was correlated: what finishes in one batch
 * of the stream does not depend on how fast this machine parses (a capture file's batches of 512 did:
 * on a slow machine a 100 ms batch held fewer complete pings than the bound, and none was summarised).
 */
function floodSource(batches: RawEvent[][]): CaptureSource {
  let events = 0, lastNs = 0;
  const next = (sink: Parameters<CaptureSource["start"]>[0], i: number): void => {
    const batch = batches[i];
    if (batch === undefined) return;
    events += batch.length;
    lastNs = batch.at(-1)?.tNs ?? lastNs;
    sink(batch, () => next(sink, i + 1));
  };
  return {
    name: "floods", live: false,
    start: (sink) => Promise.resolve(next(sink, 0)),
    counters: () => ({ events, lost: 0 }),
    nowNs: () => lastNs,
    stop: () => Promise.resolve(),
  };
}

test("a flood of finished pings: the newest, every non-complete one and the newest of each other ping session are sent, the rest counted; the store keeps all", { timeout: 30_000 }, async (t) => {
  // Time passes by the events' own clock: the second flood's events time the first's unanswered requests out.
  const twoFloods = floods();
  // Queued one at a time: the bound only has to take the larger flood.
  const pipeline = new Pipeline(floodSource(twoFloods), { maxQueuedEvents: Math.max(...twoFloods.map((b) => b.length)) });
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0, stream: { maxPingsPerBatch: 100 } });
  t.after(() => server.close());
  const client = await TestClient.connect(server.url);
  t.after(() => client.close());
  assert.deepEqual((await client.next("snapshot")).pings, [], "connected before the first ping");
  await pipeline.start();
  t.after(() => pipeline.stop());

  const t0 = performance.now();
  const total = 4 * COPIES + 2;
  const counted = (): number => client.arrivals.reduce((n, a) => n + (a.msg.type === "pings"
    ? a.msg.pings.length + (a.msg.summarised?.complete ?? 0) + (a.msg.summarised?.other ?? 0) : 0), 0);
  await waitFor(async () => (counted() >= total ? true : undefined), 20_000, "every ping sent or counted").catch((e: unknown) => {
    t.diagnostic(`counted ${counted()}, store ${pipeline.store.total}`);
    throw e;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(counted(), total, "each finished ping is sent or counted once");
  t.diagnostic(`all counted after ${Math.round(performance.now() - t0)} ms`);

  const batches = client.arrivals.flatMap((a) => (a.msg.type === "pings" ? [a.msg] : []));
  const summarised = batches.reduce((n, b) => n + (b.summarised?.complete ?? 0), 0);
  t.diagnostic(`${batches.length} batches, ${summarised} complete pings summarised`);
  assert.ok(summarised > 0, "some complete pings were summarised");
  // The newest 100, and older ones only as the newest few of a ping session (src, dst, icmp id).
  const session = (p: Ping): string => `${p.src} ${p.dst} ${p.icmpId}`;
  assert.ok(batches.every((b) => {
    const complete = b.pings.filter((p) => p.status === "complete");
    return complete.length <= 100 + PINGS_PER_SESSION * new Set(complete.map(session)).size;
  }), `at most 100 complete pings a batch, and ${PINGS_PER_SESSION} of each session`);
  // Someone's own ping amid another's flood is sent, in a batch that summarised the flood around it.
  const floodId = Math.min(...batches.flatMap((b) => b.pings.map((p) => p.icmpId)));
  const quietIn = batches.filter((b) => b.pings.some((p) => p.icmpId === floodId + QUIET_ID_DELTA));
  assert.equal(quietIn.length, 1, "the quiet session's newest ping was sent");
  assert.ok((quietIn[0]!.summarised?.complete ?? 0) > 0);
  assert.ok(batches.every((b) => (b.summarised?.other ?? 0) === 0));
  const noReply = batches.flatMap((b) => b.pings.filter((p) => p.status !== "complete"));
  assert.deepEqual(noReply.map((p) => [p.status, p.seq]),
    Array.from({ length: COPIES / UNANSWERED_EVERY }, (_, i) => ["no-reply", 1 + 2 * i * UNANSWERED_EVERY]), "every no-reply was sent");
  // A no-reply came amid the second flood, in a batch that summarised complete pings.
  assert.ok(batches.some((b) => (b.summarised?.complete ?? 0) > 0 && b.pings.some((p) => p.status === "no-reply")));
  // The last batch of each flood ends with its newest ping.
  const sent = new Set(batches.flatMap((b) => b.pings.map((p) => p.id)));
  assert.ok(pipeline.store.newest(1).every((p) => sent.has(p.id)), "the newest ping was sent");

  assert.equal(pipeline.store.total, total, "the store was given every ping");
  assert.equal(pipeline.store.size, 10_000, "and holds them up to its bound");
});
