// The stream's defences, in process with small bounds: a client that stops reading is skipped rather
// than buffered for, and catches up with a fresh snapshot; a peer that stops answering pings is cut.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { createFileSource } from "../server/capture/file.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import { captureText, hostToNsEvents, manyPings, tempDir, writeCapture } from "./support/capture-file.ts";
import { waitFor } from "./support/cli-child.ts";
import { TestClient } from "./support/ws-client.ts";

test("a client that stops reading is skipped, then resynced with a snapshot", async (t) => {
  const tmp = tempDir("pktpath-stream-");
  t.after(tmp.remove);
  // ~12 MB of pings messages: more than the loopback socket buffers absorb for a reader that stopped.
  const copies = 4000;
  const file = writeCapture(tmp.dir, "many.ndjson", captureText(manyPings(copies, 50_000, 800e6)));
  const pipeline = new Pipeline(createFileSource(file));
  await pipeline.start();
  t.after(() => pipeline.stop());
  // Every ping is sent, none summarised however fast the replay is correlated, so that what waits
  // for the slow reader is more than the socket buffers hold. (With the stream's own bound of 100 a
  // batch, a replay correlated faster sends fewer: the likely reason it failed twice in three runs
  // here, no snapshot coming, as when the reader is never skipped.)
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0,
    stream: { maxBufferedBytes: 64 * 1024, snapshotLimit: 10, maxPingsPerBatch: 10_000 } });
  t.after(() => server.close());

  // Connected and no longer reading before the replay reaches the pings (800 ms in).
  const slow = await TestClient.connect(server.url);
  t.after(() => slow.close());
  await slow.next("snapshot");
  assert.equal(pipeline.store.total, 0, "connected before the first ping");
  slow.ws.pause();
  await waitFor(async () => (pipeline.store.total === 2 * copies ? true : undefined), 15_000, "all pings");
  await new Promise((r) => setTimeout(r, 300));

  slow.ws.resume();
  const resumedAt = performance.now();
  const snapshot = await slow.next("snapshot", 10_000);
  t.diagnostic(`snapshot ${Math.round(performance.now() - resumedAt)} ms after resuming`);
  const delivered = slow.arrivals.flatMap((a) => (a.msg.type === "pings" ? a.msg.pings : []));
  t.diagnostic(`delivered ${delivered.length} of ${2 * copies} pings before the resync`);
  assert.ok(delivered.length < 2 * copies, `skipped some: ${delivered.length} of ${2 * copies} delivered`);
  assert.deepEqual(snapshot.pings, pipeline.store.newest(10));
  assert.equal(snapshot.pings[0]?.seq, 2 * copies);
});

test("a peer that does not answer pings is terminated; one that does stays", async (t) => {
  const tmp = tempDir("pktpath-stream-");
  t.after(tmp.remove);
  const file = writeCapture(tmp.dir, "two.ndjson", captureText(hostToNsEvents()));
  const pipeline = new Pipeline(createFileSource(file));
  await pipeline.start();
  t.after(() => pipeline.stop());
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0, stream: { heartbeatMs: 100 } });
  t.after(() => server.close());

  const alive = await TestClient.connect(server.url);
  t.after(() => alive.close());
  const mute = new WebSocket(server.url.replace(/^http/, "ws") + "/api/stream", { autoPong: false });
  await new Promise((resolve, reject) => mute.once("open", resolve).once("error", reject));
  const closed = new Promise<number>((resolve) => mute.once("close", (code) => resolve(code)));
  // Two heartbeats: the first ping goes unanswered, the second finds the peer dead.
  assert.equal(await closed, 1006);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(alive.ws.readyState, WebSocket.OPEN);
  await waitFor(async () => (alive.arrivals.length > 0 ? true : undefined));
});
