// Hostile WebSocket clients against a real `serve` child: one that floods resync (or pause) requests
// for 1000-ping snapshots and never reads. Every message the server sends goes through one bounded
// path, so the server's memory stays near rest and it keeps answering; the skipped sends are counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocket } from "ws";
import { createFileSource } from "../server/capture/file.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import { captureText, manyPings, tempDir, writeCapture } from "./support/capture-file.ts";
import { startServe, waitFor, type ServeChild } from "./support/cli-child.ts";
import { rssMiB } from "./support/rss.ts";
import { TestClient } from "./support/ws-client.ts";

/** 600 copies of the two-ping recording: 1200 pings, a 1000-ping snapshot is about 1.5 MB of JSON. */
const COPIES = 600;
const BOUND_MIB = 100;
const FLOOD = 2000;

async function servingManyPings(t: { after: (fn: () => unknown) => void }): Promise<ServeChild> {
  const tmp = tempDir("pktpath-hostile-ws-");
  t.after(tmp.remove);
  const file = writeCapture(tmp.dir, "many.ndjson", captureText(manyPings(COPIES, 50_000, 0)));
  const serve = await startServe(["--source", file]);
  t.after(() => serve.stop());
  await waitFor(async () => {
    const pings: unknown = await (await fetch(`${serve.url}/api/pings?limit=1000`)).json();
    return Array.isArray(pings) && pings.length === 1000 ? true : undefined;
  }, 20_000, "1000 pings in the store");
  return serve;
}

/** The most RSS seen over a few samples: the server at rest after reading its capture. */
async function restMiB(pid: number): Promise<number> {
  let most = 0;
  for (let i = 0; i < 5; i++) {
    most = Math.max(most, rssMiB(pid));
    await new Promise((r) => setTimeout(r, 100));
  }
  return most;
}

/** Samples RSS for `ms`; stops early (returning what it saw) once the bound is passed. */
async function peakMiB(pid: number, ms: number, bound: number): Promise<number> {
  let peak = 0;
  for (const until = performance.now() + ms; performance.now() < until && peak <= bound;) {
    peak = Math.max(peak, rssMiB(pid));
    await new Promise((r) => setTimeout(r, 50));
  }
  return peak;
}

/**
 * A client that stops reading at once and sends `messages` in waves of 20, 110 ms apart: the server
 * answers at most one snapshot per 100 ms however many come at once, so spread out, every wave asks
 * for another. Resolves when all are sent (about 11 s for 2000).
 */
async function hostile(ws: WebSocket, messages: string[]): Promise<void> {
  if (ws.readyState !== WebSocket.OPEN) await once(ws, "open");
  ws.pause();
  for (let i = 0; i < messages.length && ws.readyState === WebSocket.OPEN; i += 20) {
    for (const m of messages.slice(i, i + 20)) ws.send(m);
    await new Promise((r) => setTimeout(r, 110));
  }
}

const floods: [string, string[]][] = [
  ["resync", Array<string>(FLOOD).fill(JSON.stringify({ type: "resync", limit: 1000 }))],
  ["pause", Array.from({ length: FLOOD }, (_, i) => JSON.stringify({ type: "pause", paused: i % 2 === 0 }))],
];

for (const [name, messages] of floods) {
  test(`a ${name} flood from a client that never reads: the server stays within ${BOUND_MIB} MiB of rest and answers`, async (t) => {
    const serve = await servingManyPings(t);
    const pid = serve.child.pid!;
    const rest = await restMiB(pid);
    const ws = new WebSocket(serve.url.replace(/^http/, "ws") + "/api/stream");
    t.after(() => ws.terminate());
    // The pause flood asks for snapshots of the size the last resync set.
    const flood = hostile(ws, name === "pause" ? [JSON.stringify({ type: "resync", limit: 1000 }), ...messages] : messages);
    let sent = false;
    void flood.then(() => (sent = true));
    let peak = 0;
    while (!sent && peak < rest + BOUND_MIB) peak = Math.max(peak, await peakMiB(pid, 500, rest + BOUND_MIB));
    await flood;
    t.diagnostic(`${name} flood: RSS at rest ${rest.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
    assert.ok(peak < rest + BOUND_MIB, `RSS ${peak.toFixed(0)} MiB, at rest ${rest.toFixed(0)} MiB`);
    const t0 = performance.now();
    assert.equal((await fetch(`${serve.url}/api/health`)).status, 200);
    assert.ok(performance.now() - t0 < 1000, "health answered within a second");
    // A well-behaved client beside it gets its hello and snapshot as ever.
    const good = await TestClient.connect(serve.url);
    t.after(() => good.close());
    assert.equal((await good.next("snapshot")).pings.length, 100);
    await good.close();
    // The hostile client never answers the close either: the server cuts it instead of waiting 30 s.
    const stopAt = performance.now();
    assert.equal(await serve.stop(), 0);
    assert.ok(performance.now() - stopAt < 5000, `stopped in ${(performance.now() - stopAt).toFixed(0)} ms`);
  });
}

test("in process: skipped sends are counted, and a client that drains gets one fresh snapshot", async (t) => {
  const tmp = tempDir("pktpath-hostile-ws-");
  t.after(tmp.remove);
  const file = writeCapture(tmp.dir, "many.ndjson", captureText(manyPings(COPIES, 50_000, 0)));
  const pipeline = new Pipeline(createFileSource(file, { speed: Infinity }));
  await pipeline.start();
  t.after(() => pipeline.stop());
  await waitFor(async () => (pipeline.store.total === 2 * COPIES ? true : undefined), 20_000, "all pings");
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0, stream: { maxBufferedBytes: 64 * 1024 } });
  t.after(() => server.close());

  const slow = await TestClient.connect(server.url);
  t.after(() => slow.close());
  await hostile(slow.ws, Array<string>(500).fill(JSON.stringify({ type: "resync", limit: 1000 })));
  assert.ok(server.streamCounters().skipped > 0, "sends were skipped");
  const before = slow.arrivals.length;
  slow.ws.resume();
  // Once drained, the pending resync is answered with what the store holds now.
  await waitFor(async () => {
    const last = slow.arrivals.at(-1)?.msg;
    return last?.type === "snapshot" && last.pings.length === 1000 && slow.arrivals.length > before ? true : undefined;
  }, 10_000, "a fresh snapshot");
  const snapshots = slow.arrivals.filter((a) => a.msg.type === "snapshot").length;
  t.diagnostic(`500 resyncs in 25 waves: ${snapshots - 1} snapshots of 1000 sent, ${server.streamCounters().skipped} sends skipped`);
  assert.ok(snapshots - 1 < 25, `${snapshots - 1} snapshots for 25 waves of resyncs`);
  const last = slow.arrivals.at(-1)?.msg;
  assert.deepEqual(last?.type === "snapshot" ? last.pings : [], pipeline.store.newest(1000));
});

test("in process: connections past the bound are refused with 503", async (t) => {
  const tmp = tempDir("pktpath-hostile-ws-");
  t.after(tmp.remove);
  const pipeline = new Pipeline(createFileSource(writeCapture(tmp.dir, "few.ndjson", captureText(manyPings(2, 50_000, 0)))));
  await pipeline.start();
  t.after(() => pipeline.stop());
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0, stream: { maxClients: 2 } });
  t.after(() => server.close());
  const a = await TestClient.connect(server.url);
  const b = await TestClient.connect(server.url);
  t.after(() => Promise.all([a.close(), b.close()]));
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(server.url.replace(/^http/, "ws") + "/api/stream");
    ws.on("unexpected-response", (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on("open", () => { resolve(101); ws.close(); });
    ws.on("error", () => undefined);
  });
  assert.equal(status, 503);
  assert.equal(server.streamCounters().refused, 1);
  await a.close();
  await waitFor(async () => ((await TestClient.connect(server.url).then((c) => (void c.close(), true))) ? true : undefined), 3000, "room again");
});
