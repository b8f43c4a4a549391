// The HTTP API of `pktpath serve <capture file>`, run as a child on a real recording of two pings
// from the host into a netns. Answers are compared with the Correlator run over the same events, and
// with the facts of the recording itself (ids, rtts, drop of the delivered reply).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { correlateAll } from "../shared/correlate.ts";
import type { Journey, Ping } from "../shared/types.ts";
import { createFileSource } from "../server/capture/file.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer } from "../server/serve.ts";
import { captureText, HEADER_CORRELATION, hostToNsEvents, tempDir, writeCapture } from "./support/capture-file.ts";
import { startServe, waitFor, type ServeChild } from "./support/cli-child.ts";

const events = hostToNsEvents();
// serve reads the capture as its header says: ids named after its start, times from its clock origin
const expected = correlateAll(events, HEADER_CORRELATION).pings;
const P = `p-${HEADER_CORRELATION.idPrefix}`;
const tmp = tempDir("pktpath-http-");
const capture = writeCapture(tmp.dir, "host-to-ns.ndjson", captureText(events));
let serve: ServeChild;

function light(p: Ping): unknown {
  const strip = (j: Journey) => Object.fromEntries(Object.entries(j).filter(([k]) => k !== "hops"));
  const out: Record<string, unknown> = { ...p };
  if (p.request) out.request = strip(p.request);
  if (p.reply) out.reply = strip(p.reply);
  return out;
}

async function getJson(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(serve.url + path);
  return { status: res.status, body: await res.json() };
}

before(async () => {
  serve = await startServe(["--source", capture]);
  // The replay delivers the whole recording within half a second of start.
  await waitFor(async () => {
    const res = await getJson("/api/pings");
    return Array.isArray(res.body) && res.body.length === 2 ? true : undefined;
  }, 5000, "two pings");
});

after(async () => {
  await serve?.stop();
  tmp.remove();
});

test("the recording holds two complete pings (what the server must show)", () => {
  assert.deepEqual(expected.map((p) => [p.id, p.status, p.icmpId, p.seq, p.rttNs]),
    [[`${P}1`, "complete", 4660, 1, 15000], [`${P}2`, "complete", 4660, 2, 25000]]);
});

test("GET /api/health", async () => {
  assert.deepEqual(await getJson("/api/health"),
    { status: 200, body: { source: capture, live: false, events: events.length, lost: 0,
      lostBy: { ring: 0, queue: 0, malformed: 0 }, collisions: 0, correlated: events.length } });
});

test("GET /api/pings: newest first, journeys without hops", async () => {
  const res = await getJson("/api/pings");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, [...expected].reverse().map(light));
  assert.deepEqual(await getJson("/api/pings?limit=1"), { status: 200, body: [light(expected[1] as Ping)] });
  assert.deepEqual(await getJson("/api/pings?limit=1000"), res);
});

test("GET /api/pings/:id: the whole ping with hops, 404 for an unknown id", async () => {
  const one = await getJson(`/api/pings/${P}1`);
  assert.deepEqual(one, { status: 200, body: expected[0] });
  const hops = (one.body as Ping).request?.hops.map((h) => `${h.netnsName}/${h.ifname}/${h.event}`);
  assert.deepEqual(hops, ["host/ppB1-h/net_dev_queue", "ppB1-ns/ppB1-n/netif_rx", "host/ppB1-h/net_dev_xmit",
    "ppB1-ns/ppB1-n/netif_receive_skb"]);
  assert.deepEqual(await getJson("/api/pings/p-99"), { status: 404, body: { error: 'no ping "p-99"' } });
});

test("bad limit → 400 naming the rule", async () => {
  for (const q of ["0", "1001", "abc", "1.5", "-3", "", "1&limit=2", "99999999999"]) {
    assert.deepEqual(await getJson(`/api/pings?limit=${q}`),
      { status: 400, body: { error: "limit: expected an integer from 1 to 1000" } }, q);
  }
});

test("unknown API route → 404 JSON", async () => {
  assert.deepEqual(await getJson("/api/nope"), { status: 404, body: { error: "no route GET /api/nope" } });
});

test("a request for another Host name (DNS rebinding) → 403", async () => {
  const { port } = new URL(serve.url);
  const status = await new Promise<number | undefined>((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/api/health", headers: { host: `evil.example:${port}` } },
      (res) => { res.resume(); resolve(res.statusCode); }).on("error", reject).end();
  });
  assert.equal(status, 403);
});

test("static client with SPA fallback, and 503 when it is not built", async (t) => {
  const dist = join(tmp.dir, "dist");
  mkdirSync(join(dist, "assets"), { recursive: true });
  writeFileSync(join(dist, "index.html"), "<!doctype html><title>pktpath</title>");
  writeFileSync(join(dist, "assets", "app.js"), "console.log(1)");
  const pipeline = new Pipeline(createFileSource(capture));
  await pipeline.start();
  t.after(() => pipeline.stop());
  const built = await startServer(pipeline, { host: "127.0.0.1", port: 0, distDir: dist });
  t.after(() => built.close());
  const missing = await startServer(pipeline, { host: "127.0.0.1", port: 0, distDir: join(tmp.dir, "none") });
  t.after(() => missing.close());

  const page = async (base: string, path: string) => {
    const res = await fetch(base + path);
    return [res.status, res.headers.get("content-type")?.split(";")[0], await res.text()];
  };
  assert.deepEqual(await page(built.url, "/"), [200, "text/html", "<!doctype html><title>pktpath</title>"]);
  assert.deepEqual(await page(built.url, "/ping/p-1"), [200, "text/html", "<!doctype html><title>pktpath</title>"]);
  assert.deepEqual(await page(built.url, "/assets/app.js"), [200, "text/javascript", "console.log(1)"]);
  assert.deepEqual(await page(missing.url, "/"),
    [503, "text/plain", "pktpath: the dashboard is not built; run `npm run build:client`\n"]);
});
