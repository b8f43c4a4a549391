// Honest counts under a stall: /api/health's events are every record the kernel program made (read,
// or lost because its ring was full), lost is what never reached correlation, by where it was lost,
// and events − lost is exactly what the Correlator was handed. Before, events counted only what was
// read and lost mixed the kernel's drops with the server's, so lost could exceed events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { KERNEL_BTF } from "../server/capture/btf.ts";
import { createEbpfSource, type EbpfOptions } from "../server/capture/ebpf.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import type { Ping, RawEvent } from "../shared/types.ts";
import type { CaptureStats, LostByCause } from "../shared/protocol.ts";
import { captureFilter } from "./support/filter.ts";
import { Topology } from "./lib/netns.ts";

const skip = process.getuid?.() !== 0 ? "needs root (loads a BPF program, creates a namespace)"
  : !existsSync(KERNEL_BTF) ? `needs kernel BTF (${KERNEL_BTF})` : false;

/** /api/health as this server answers it: every count present. */
type Health = CaptureStats & { lostBy: LostByCause; collisions: number; correlated: number };

test("a flood while the main thread is stalled: events − lost is what was correlated, lost by cause", { skip, timeout: 60_000 }, async (t) => {
  const topo = new Topology("ppFa");
  t.after(() => topo.destroy());
  topo.netns("lo");
  // Small rings (the kernel loses records while the main thread is blocked), a read-ahead of several
  // batches (they pile up in the port, and the queue bound drops some when the thread wakes up).
  const source = createEbpfSource(captureFilter("", { host: "127.0.0.1" }), { ringSlotsLog2: 12, maxInflightKiB: 2048, netfilter: false });
  const pipeline = new Pipeline(source, { maxQueuedEvents: 3000 });
  let correlated = 0, afterLoss = 0;
  const echoIds = new Set<number>();
  pipeline.onEvents((events: RawEvent[]) => {
    // Reports of lost records (the kernel's, after its ring was full) are no packet's records.
    for (const e of events) {
      if (e.packet?.icmp) echoIds.add(e.packet.icmp.id);
      if (e.event === "records_lost") afterLoss++;
      else correlated++;
    }
  });
  const pings: Ping[] = [];
  pipeline.onPings((batch) => void pings.push(...batch));
  await pipeline.start();
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0 });
  t.after(() => server.close());
  let stopped = false;
  t.after(async () => (stopped ? undefined : pipeline.stop()));
  // Synchronous: the main thread (decode, queue, correlation) does nothing while ping floods.
  topo.exec("lo", "ping", "-f", "-c", "5000", "-q", "127.0.0.1");
  await new Promise((r) => setTimeout(r, 500));
  topo.exec("lo", "ping", "-c", "1", "-e", "4811", "127.0.0.1");
  await new Promise((r) => setTimeout(r, 500));
  await pipeline.stop();
  stopped = true;

  const health = (await (await fetch(`${server.url}/api/health`)).json()) as Health;
  t.diagnostic(JSON.stringify(health));
  // 10,002 echo skbs on loopback, 5 records each without netfilter observers (4 device hops, the free).
  assert.equal(health.events, 5 * 10_002, "every record the kernel made: read or lost");
  assert.ok(health.lostBy.ring > 0, "the kernel's full ring lost some");
  assert.ok(health.lostBy.queue > 0, "the server's queue bound dropped some");
  assert.equal(health.lostBy.malformed, 0);
  assert.equal(health.lost, health.lostBy.ring + health.lostBy.queue + health.lostBy.malformed);
  assert.equal(health.events - health.lost, correlated, "events − lost = what the Correlator was handed");
  assert.equal(health.correlated, correlated);
  assert.equal(typeof health.collisions, "number");
  assert.ok(echoIds.has(4811), "the echo after the flood was correlated");

  // Where records were lost, the pings then open say so: none that did not complete (its reply's
  // records lost, or its free's) is shown as a plain no-reply or drop; the echo after the flood,
  // half a second after the last loss, is not marked.
  assert.ok(afterLoss > 0, "the kernel program reported when it lost records");
  const flood = pings.filter((p) => p.icmpId !== 4811);
  const marked = flood.filter((p) => p.recordsLost);
  t.diagnostic(`${flood.length} flood pings, ${marked.length} marked recordsLost, statuses ${JSON.stringify(Object.fromEntries(
    ["complete", "no-reply", "dropped", "error"].map((s) => [s, flood.filter((p) => p.status === s).length])))}`);
  assert.deepEqual(flood.filter((p) => p.status !== "complete" && !p.recordsLost).map((p) => [p.seq, p.status]), [],
    "every flood ping that did not complete was open while records were lost");
  assert.deepEqual(pings.filter((p) => p.icmpId === 4811).map((p) => [p.status, p.recordsLost ?? false]), [["complete", false]]);
});

test("after a long stall, what is read first is the present: records that waited too long are let go, counted, and the newest ping is whole", { skip, timeout: 60_000 }, async (t) => {
  const topo = new Topology("ppFs");
  t.after(() => topo.destroy());
  topo.netns("lo");
  const source = createEbpfSource(captureFilter("", { host: "127.0.0.1" }), { ringSlotsLog2: 12, maxInflightKiB: 1024, netfilter: false, staleMs: 250 });
  const pipeline = new Pipeline(source);
  let correlated = 0;
  let reported = 0;
  pipeline.onEvents((events: RawEvent[]) => {
    for (const e of events) {
      if (e.event === "records_lost") reported += e.len ?? 0;
      else correlated++;
    }
  });
  const pings: Ping[] = [];
  pipeline.onPings((batch) => void pings.push(...batch));
  await pipeline.start();
  let stopped = false;
  t.after(async () => (stopped ? undefined : pipeline.stop()));
  // The main thread (decode, correlation) is blocked for the whole of it: a flood that fills the
  // rings, a second in which it all grows old, then one echo. A reader that kept the past in full
  // rings would find no room for that echo; the kernel would lose it.
  topo.exec("lo", "sh", "-c", "ping -f -c 5000 -q 127.0.0.1; sleep 1; ping -c 1 -e 4812 127.0.0.1");
  await new Promise((r) => setTimeout(r, 1000));
  await pipeline.stop();
  stopped = true;
  const stats = pipeline.stats();
  t.diagnostic(JSON.stringify(stats));
  const lostBy = stats.lostBy!;
  assert.deepEqual(pings.filter((p) => p.icmpId === 4812).map((p) => [p.status, p.request?.hops.length, p.reply?.hops.length, p.recordsLost ?? false]), [["complete", 4, 4, false]],
    "the echo made after the stall is whole: request and reply, four hops each");
  assert.ok(lostBy.queue > 0, "the stale records were let go at the reader, and counted where correlation fell behind");
  assert.equal(stats.events, 5 * 10_002, "every record the kernel made: read, let go or lost");
  assert.equal(stats.lost, lostBy.ring + lostBy.queue + lostBy.malformed);
  assert.equal(stats.events - stats.lost, correlated, "events − lost = what the Correlator was handed");
  assert.equal(reported, lostBy.ring + lostBy.queue, "each record lost in the rings or let go at the reader is in one report");
});

/** A Pipeline on loopback with serve's sampling (scaled to a small ring) and, unless opts says otherwise, a short let-go; and its pings. */
async function sampledPipeline(t: { after: (fn: () => unknown) => void }, prefix: string, opts: Pick<EbpfOptions, "staleMs"> = { staleMs: 300 }) {
  const topo = new Topology(prefix);
  t.after(() => topo.destroy());
  topo.netns("lo");
  // as serve samples, on a ring of 16,384 slots: heavy flows once an eighth waits, none of them past
  // midway from there to full (9,216); stale records let go past midway from that to full (12,800)
  const source = createEbpfSource(captureFilter("", { host: "127.0.0.1" }),
    { ringSlotsLog2: 14, maxInflightKiB: 1024, netfilter: false, sampleFill: 0.125, ...opts });
  const pipeline = new Pipeline(source);
  const pings: Ping[] = [];
  pipeline.onPings((batch) => void pings.push(...batch));
  await pipeline.start();
  let stopped = false;
  t.after(async () => (stopped ? undefined : pipeline.stop()));
  return {
    topo, pings, source, pipeline,
    stop: async (): Promise<CaptureStats> => {
      await new Promise((r) => setTimeout(r, 1500));
      await pipeline.stop();
      stopped = true;
      return pipeline.stats();
    },
  };
}

const wholeEcho = ["complete", 4, 4, false];
const shape = (p: Ping) => [p.status, p.request?.hops.length, p.reply?.hops.length, p.recordsLost ?? false];

test("sampling a flood while correlation is behind: one's own pings all followed whole, the flood's exchanges whole or not at all, nothing lost", { skip, timeout: 60_000 }, async (t) => {
  // nothing let go at the reader: what the rings hold waits there
  const { topo, pings, source, pipeline, stop } = await sampledPipeline(t, "ppFp", {});
  let correlated = 0;
  pipeline.onEvents((events: RawEvent[]) => void (correlated += events.filter((e) => e.event !== "records_lost").length));
  // The main thread (decode, correlation) is blocked throughout: the rings fill with the flood,
  // while someone pings the same address, ten times, as the flood goes on.
  topo.exec("lo", "sh", "-c", "ping -f -c 20000 -q 127.0.0.1 & for i in 1 2 3 4 5 6 7 8 9 10; do ping -c 1 -e 4814 127.0.0.1 >/dev/null; sleep 0.05; done; wait");
  const stats = await stop();
  t.diagnostic(JSON.stringify(stats));
  const own = pings.filter((p) => p.icmpId === 4814);
  assert.deepEqual(own.map(shape), Array.from({ length: 10 }, () => wholeEcho), "each of one's own ten pings, whole: request and reply, four hops each");
  assert.ok((stats.sampled ?? 0) > 10_000, `most of the flood's 40,000 skbs were not followed: ${stats.sampled}`);
  assert.equal(stats.sampled, source.counters().sampled);
  assert.deepEqual(stats.lostBy, { ring: 0, queue: 0, malformed: 0 }, "nothing that was followed lost a record");
  assert.equal(stats.events, correlated, "every record made was correlated");
  // What was followed of the flood is whole: no request without its reply, no reply alone. (The
  // copies of replies still queued to ping's socket when it exits are freed then: QUEUE_PURGE.)
  const flood = pings.filter((p) => p.icmpId !== 4814);
  t.diagnostic(`${flood.length} flood pings followed`);
  assert.ok(flood.length > 50, "some of the flood was followed");
  assert.deepEqual(flood.filter((p) => p.status !== "complete" && !(p.status === "dropped" && p.reply?.dropped?.reason === "QUEUE_PURGE" && !p.request))
    .map((p) => [p.seq, p.status, p.request?.hops.length, p.reply?.hops.length]), [], "every flood exchange followed is whole");
});

test("a stall longer than sampling can bear: once the ring is deeply crowded no heavy flow is followed, and nothing is let go or lost", { skip, timeout: 60_000 }, async (t) => {
  const { topo, pings, source, stop } = await sampledPipeline(t, "ppFd");
  // The main thread (decode, correlation) is blocked for six seconds of flood: at one in N of its
  // exchanges, the flood alone would fill the ring past the let-go point in about three.
  topo.exec("lo", "sh", "-c", "ping -f -w 6 -q 127.0.0.1 & for i in $(seq 1 20); do ping -c 1 -e 4815 127.0.0.1 >/dev/null; sleep 0.25; done; wait");
  const stats = await stop();
  t.diagnostic(JSON.stringify(stats));
  assert.deepEqual(pings.filter((p) => p.icmpId === 4815).map(shape), Array.from({ length: 20 }, () => wholeEcho),
    "each of one's own twenty pings, whole");
  assert.deepEqual(stats.lostBy, { ring: 0, queue: 0, malformed: 0 }, "nothing let go at the reader, nothing lost in the ring");
  assert.equal(source.counters().discarded, 0);
  assert.ok((stats.sampled ?? 0) > 100_000, `nearly all of the flood was not followed: ${stats.sampled}`);
});

test("a bursty flood (its sender pausing between bursts) is heavy still after each pause: sampled, nothing lost", { skip, timeout: 60_000 }, async (t) => {
  const { topo, pings, stop } = await sampledPipeline(t, "ppFb");
  // Forty bursts of 300 echoes, 30 ms apart (a few windows of the program's flow counts): a flow
  // judged by its last window alone was light after each pause, and every burst was followed whole,
  // 120,000 records into a ring of 16,384 that nobody reads.
  topo.exec("lo", "sh", "-c", "(for i in $(seq 1 40); do ping -f -c 300 -q 127.0.0.1 >/dev/null; sleep 0.03; done) & for i in $(seq 1 10); do ping -c 1 -e 4816 127.0.0.1 >/dev/null; sleep 0.2; done; wait");
  const stats = await stop();
  t.diagnostic(JSON.stringify(stats));
  assert.deepEqual(pings.filter((p) => p.icmpId === 4816).map(shape), Array.from({ length: 10 }, () => wholeEcho),
    "each of one's own ten pings, whole");
  assert.deepEqual(stats.lostBy, { ring: 0, queue: 0, malformed: 0 }, "nothing let go, nothing lost");
  assert.ok((stats.sampled ?? 0) > 10_000, `most of the 12,000 exchanges' 24,000 skbs were not followed: ${stats.sampled}`);
});
