// Hostile HTTP clients against a real `serve` child: pipelined downloads of the capture and of
// 1000-ping lists on sockets that never read, and downloads that stall. Work per connection is
// bounded (one request at a time, a few waiting, the rest refused), the log is streamed without a
// copy per request, and downloads at once are few: memory stays near rest and the server answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { createFileSource } from "../server/capture/file.ts";
import { CaptureLog } from "../server/captureLog.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import { captureText, manyPings, tempDir, writeCapture } from "./support/capture-file.ts";
import { startServe, waitFor } from "./support/cli-child.ts";
import { rssMiB } from "./support/rss.ts";
import type { RawEvent } from "../shared/types.ts";

const BOUND_MIB = 100;

/** Opens a socket that writes `requests` GETs of `path` back to back and never reads an answer. */
async function pipelined(port: number, path: string, requests: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.pause();
  socket.on("error", () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`.repeat(requests));
  return socket;
}

test(`pipelined and stalled downloads that never read: the server stays within ${BOUND_MIB} MiB of rest and answers`, async (t) => {
  const tmp = tempDir("pktpath-hostile-http-");
  t.after(tmp.remove);
  // 4500 copies of the two-ping recording: 148 500 events, the capture log nearly full (150 000), 9000 pings.
  const file = writeCapture(tmp.dir, "many.ndjson", captureText(manyPings(4500, 50_000, 0)));
  const serve = await startServe(["--source", file]);
  t.after(() => serve.stop());
  const port = Number(new URL(serve.url).port);
  await waitFor(async () => {
    const h = (await (await fetch(`${serve.url}/api/health`)).json()) as { events: number };
    return h.events === 148_500 ? true : undefined;
  }, 30_000, "the whole capture read");
  await new Promise((r) => setTimeout(r, 500));
  const pid = serve.child.pid!;
  const rest = rssMiB(pid);

  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  let peak = rest;
  const sample = () => (peak = Math.max(peak, rssMiB(pid)));
  // 600 capture downloads pipelined on 20 sockets, 1000 lists of 1000 pings on 10, 200 stalled downloads.
  for (let i = 0; i < 20 && peak < rest + BOUND_MIB; i++, sample()) sockets.push(await pipelined(port, "/api/capture", 30));
  for (let i = 0; i < 10 && peak < rest + BOUND_MIB; i++, sample()) sockets.push(await pipelined(port, "/api/pings?limit=1000", 100));
  for (let i = 0; i < 200 && peak < rest + BOUND_MIB; i++) {
    sockets.push(await pipelined(port, "/api/capture", 1));
    if (i % 10 === 0) sample();
  }
  for (const until = performance.now() + 6000; performance.now() < until && peak < rest + BOUND_MIB;) {
    sample();
    await new Promise((r) => setTimeout(r, 50));
  }
  t.diagnostic(`RSS at rest ${rest.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB with ${sockets.length} hostile sockets`);
  assert.ok(peak < rest + BOUND_MIB, `RSS ${peak.toFixed(0)} MiB, at rest ${rest.toFixed(0)} MiB`);
  const t0 = performance.now();
  const health = await fetch(`${serve.url}/api/health`);
  assert.equal(health.status, 200);
  assert.ok(performance.now() - t0 < 1000, "health answered within a second");
  // Downloads are all taken by the stalled ones: a fresh one is told so, not queued.
  const busy = await fetch(`${serve.url}/api/capture`);
  assert.equal(busy.status, 503);
  assert.deepEqual(await busy.json(), { error: "2 capture downloads already running; try again later", code: "busy" });
});

/** Sends `n` pipelined GETs of `path` and reads every answer until the server closes: their status lines. */
async function statusesOf(port: number, path: string, n: number): Promise<string[]> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let text = "";
  socket.setEncoding("utf8").on("data", (d: string) => (text += d));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`.repeat(n));
  await once(socket, "close");
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!);
}

test("in process: one request at a time per connection, four more waiting, then 503 and close", async (t) => {
  const tmp = tempDir("pktpath-hostile-http-");
  t.after(tmp.remove);
  const pipeline = new Pipeline(createFileSource(writeCapture(tmp.dir, "few.ndjson", captureText(manyPings(2, 50_000, 0)))));
  await pipeline.start();
  t.after(() => pipeline.stop());
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0 });
  t.after(() => server.close());
  const port = Number(new URL(server.url).port);
  assert.deepEqual(await statusesOf(port, "/api/health", 10), ["200", "200", "200", "200", "200", "503"]);
});

test("in process: a download that stalls is cut after the stall time, and frees its place", async (t) => {
  const tmp = tempDir("pktpath-hostile-http-");
  t.after(tmp.remove);
  const pipeline = new Pipeline(createFileSource(writeCapture(tmp.dir, "many.ndjson", captureText(manyPings(1800, 50_000, 0))), { speed: Infinity }));
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0, captureStallMs: 500 });
  t.after(() => server.close());
  await pipeline.start();
  t.after(() => pipeline.stop());
  await waitFor(async () => (pipeline.store.total === 3600 ? true : undefined), 30_000, "the whole capture");
  const port = Number(new URL(server.url).port);
  const stalled = [await pipelined(port, "/api/capture", 1), await pipelined(port, "/api/capture", 1)];
  t.after(() => stalled.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await fetch(`${server.url}/api/capture`)).status, 503);
  // Past the stall time, what the stalled readers then get is a cut-off file and a closed socket.
  await new Promise((r) => setTimeout(r, 1500));
  const received = await Promise.all(stalled.map(async (s) => {
    let bytes = 0;
    s.on("data", (d: Buffer) => (bytes += d.length));
    s.resume();
    await once(s, "close");
    return bytes;
  }));
  const whole = (await (await fetch(`${server.url}/api/capture`)).text()).length;
  assert.ok(received.every((b) => b > 0 && b < whole), `received ${received.join(", ")} of ${whole} bytes`);
  const res = await fetch(`${server.url}/api/capture`);
  assert.equal(res.status, 200);
  assert.equal((await res.text()).trimEnd().split("\n").length, 59_401, "the header and every event");
});

test("a download's view of the log: what it held then, however much comes and falls off after", () => {
  const log = new CaptureLog(3000);
  const ev = (tNs: number): RawEvent => ({ event: "netif_rx", tNs, skbaddr: "0x1", ifname: "lo", len: 1 });
  log.add(Array.from({ length: 3500 }, (_, i) => ev(i)));
  const view = log.view();
  // One reference per block of 1024 events, not per event.
  assert.equal(view.parts.length, 4);
  log.add(Array.from({ length: 7000 }, (_, i) => ev(3500 + i)));
  const seen = view.parts.flatMap((p) => p.events.slice(p.from, p.to).map((e) => e.tNs));
  assert.deepEqual([view.size, view.dropped, seen.length, seen[0], seen.at(-1)], [3000, 500, 3000, 500, 3499]);
  assert.deepEqual(log.events().map((e) => e.tNs), Array.from({ length: 3000 }, (_, i) => 7500 + i));
  assert.equal(log.dropped, 7500);
});
