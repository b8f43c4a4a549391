// WS /api/stream of `pktpath serve <capture file>`, run as a child. The recording (two real pings into
// a netns) starts 2 s into the capture, so clients that connect at once see an empty snapshot, then
// the pings as the replay reaches them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocket } from "ws";
import { correlateAll } from "../shared/correlate.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import type { Ping } from "../shared/types.ts";
import { captureText, HEADER_CORRELATION, hostToNsEvents, tempDir, writeCapture } from "./support/capture-file.ts";
import { startServe, type ServeChild } from "./support/cli-child.ts";
import { TestClient } from "./support/ws-client.ts";

const OFFSET_NS = 2e9;
const events = hostToNsEvents(OFFSET_NS);
const expected = correlateAll(events, HEADER_CORRELATION).pings;
const P = `p-${HEADER_CORRELATION.idPrefix}`;
const tmp = tempDir("pktpath-ws-");
const capture = writeCapture(tmp.dir, "host-to-ns.ndjson", captureText(events));
let serve: ServeChild;
const clients: TestClient[] = [];

async function connect(): Promise<TestClient> {
  const c = await TestClient.connect(serve.url);
  clients.push(c);
  return c;
}

/** The time the replay reaches the last event of this ping, in ms after the ready line at the latest. */
function completesAtMs(p: Ping): number {
  const hops = [...(p.request?.hops ?? []), ...(p.reply?.hops ?? [])];
  return Math.max(...hops.map((h) => h.tNs)) / 1e6;
}

before(async () => {
  serve = await startServe(["--source", capture, "--pace"]);
});

const NONE_LOST = { ring: 0, queue: 0, malformed: 0 };

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await serve?.stop();
  tmp.remove();
});

test("hello, an empty snapshot, then each ping within a second of its completion; paused clients wait", async () => {
  const live = await connect();
  const paused = await connect();
  for (const c of [live, paused]) {
    const hello = await c.next("hello");
    assert.equal(hello.version, PROTOCOL_VERSION);
    assert.deepEqual({ ...hello.stats, events: 0, eventsPerSec: 0 },
      { source: capture, live: false, events: 0, lost: 0, lostBy: NONE_LOST, collisions: 0, eventsPerSec: 0, pings: 0 });
    assert.deepEqual(await c.next("snapshot"), { type: "snapshot", pings: [] });
  }
  paused.send(JSON.stringify({ type: "pause", paused: true }));

  const got: Ping[] = [];
  while (got.length < expected.length) {
    const msg = await live.next("pings", 6000);
    const arrivedMs = (live.arrivals.find((a) => a.msg === msg)?.atMs ?? Infinity) - serve.readyAtMs;
    for (const p of msg.pings) {
      assert.ok(arrivedMs < completesAtMs(p) + 1000, `${p.id} arrived ${arrivedMs} ms after ready`);
      got.push(p);
    }
  }
  assert.deepEqual(got, expected);
  assert.deepEqual(got.map((p) => [p.id, p.status, p.rttNs]), [[`${P}1`, "complete", 15000], [`${P}2`, "complete", 25000]]);

  const stats = await live.next("stats", 2000);
  assert.deepEqual({ ...stats.stats, eventsPerSec: 0 },
    { source: capture, live: false, events: events.length, lost: 0, lostBy: NONE_LOST, collisions: 0, eventsPerSec: 0, pings: 2 });

  // The paused client heard nothing of the pings; resuming brings it up to date with a snapshot.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(paused.arrivals.filter((a) => a.msg.type === "pings").length, 0);
  paused.send(JSON.stringify({ type: "pause", paused: false }));
  assert.deepEqual(await paused.next("snapshot"), { type: "snapshot", pings: [...expected].reverse() });
});

test("hostile messages get an error code and the connection keeps serving", async () => {
  const c = await connect();
  await c.next("snapshot");
  const cases: [string | Buffer, string][] = [
    ["not json", "message is not JSON"],
    ["[1,2]", "message is not a JSON object"],
    ['{"type":"nope"}', 'unknown message type "nope"'],
    ['{"type":"resync","limit":0}', "resync.limit: expected an integer from 1 to 1000"],
    ['{"type":"pause","paused":"yes"}', "pause.paused: expected a boolean"],
    [Buffer.from([1, 2, 3]), "binary messages are not part of the protocol"],
  ];
  for (const [text, message] of cases) {
    c.send(text);
    assert.deepEqual(await c.next("error"), { type: "error", code: "bad_message", message }, String(text));
  }
  c.send(JSON.stringify({ type: "resync", limit: 1 }));
  const snap = await c.next("snapshot");
  assert.deepEqual(snap.pings.map((p) => p.id), [`${P}2`]);
  assert.equal(c.ws.readyState, WebSocket.OPEN);
});

test("an oversized message closes that connection with 1009; others are unaffected", async () => {
  const bystander = await connect();
  await bystander.next("snapshot");
  const big = await connect();
  await big.next("snapshot");
  big.send(JSON.stringify({ type: "resync", limit: 1, pad: "x".repeat(5000) }));
  assert.equal((await big.closed).code, 1009);
  bystander.send(JSON.stringify({ type: "resync", limit: 5 }));
  assert.equal((await bystander.next("snapshot")).pings.length, 2);
  const fresh = await connect();
  assert.equal((await fresh.next("hello")).version, PROTOCOL_VERSION);
});

test("upgrades elsewhere than /api/stream, or from a foreign page, are refused", async () => {
  const refused = async (path: string, headers: Record<string, string> = {}) => {
    const ws = new WebSocket(serve.url.replace(/^http/, "ws") + path, { headers });
    // Ending a refused handshake reports "closed before the connection was established": expected here.
    ws.on("error", () => undefined);
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, { statusCode: number }];
    ws.terminate();
    return res.statusCode;
  };
  assert.equal(await refused("/api/other"), 404);
  assert.equal(await refused("/api/stream", { origin: "http://evil.example" }), 403);
});
