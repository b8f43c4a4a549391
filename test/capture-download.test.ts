// GET /api/capture: the dashboard's "Save capture". A `pktpath serve` of the real eBPF topologies
// capture hands back its events as a capture file that `import` reads to the same pings; the log keeps
// only the newest events; the access rules hold; a large download streams without stalling the server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CaptureLog, captureFileName } from "../server/captureLog.ts";
import { captureHeaderLine, createFileSource } from "../server/capture/file.ts";
import { Pipeline } from "../server/pipeline.ts";
import { createApp, startServer } from "../server/serve.ts";
import { makePolicy } from "../server/security.ts";
import type { Ping, RawEvent } from "../shared/types.ts";
import { tempDir, writeCapture } from "./support/capture-file.ts";
import { runCli, startServe, waitFor, type ServeChild } from "./support/cli-child.ts";
import { fetchPing, fetchPings } from "./support/api.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/ebpf/topologies.ndjson", import.meta.url));
const fixtureLines = readFileSync(FIXTURE, "utf8").trimEnd().split("\n");
const fixtureEvents = fixtureLines.slice(1).map((l) => JSON.parse(l) as RawEvent);
const tmp = tempDir("ppC1-");
const capture = writeCapture(tmp.dir, "topologies.ndjson", readFileSync(FIXTURE, "utf8"));
let serve: ServeChild;

before(async () => {
  serve = await startServe(["--source", capture]);
  await waitFor(async () => ((await fetchPings(serve.url)).length === 5 ? true : undefined), 10_000, "five pings");
});

after(async () => {
  await serve?.stop();
  tmp.remove();
});

test("headers, the header line record writes, then every event the server ingested", async () => {
  const res = await fetch(`${serve.url}/api/capture`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
  assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename="pktpath-\d{8}T\d{6}Z\.ndjson"$/);
  assert.equal(res.headers.get("transfer-encoding"), "chunked", "streamed, not one sized body");
  assert.equal(res.headers.get("x-pktpath-events"), "65");
  assert.equal(res.headers.get("x-pktpath-dropped-events"), "0");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", "the security headers of every route");
  const lines = (await res.text()).trimEnd().split("\n");
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(header), ["pktpath", "version", "source", "kernel", "startedAt"]);
  assert.deepEqual([header.pktpath, header.version, header.source, header.kernel], ["capture", 1, capture, release()]);
  assert.equal(lines[0] + "\n", captureHeaderLine(capture, String(header.startedAt)), "the writer's own header line");
  assert.deepEqual(lines.slice(1).map((l) => JSON.parse(l) as unknown), fixtureEvents);
});

test("round trip: the saved file imports to the pings /api/pings showed, hops included", async () => {
  const saved = join(tmp.dir, "saved.ndjson");
  writeFileSync(saved, await (await fetch(`${serve.url}/api/capture`)).text());
  const r = await runCli(["import", saved, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const imported = JSON.parse(r.stdout) as { pings: Ping[] };
  const shown = (await fetchPings(serve.url)).reverse();
  assert.deepEqual(imported.pings.map((p) => [p.id, p.status]), shown.map((p) => [p.id, p.status]));
  assert.deepEqual(imported.pings.map((p) => p.status), ["complete", "complete", "complete", "complete", "dropped"]);
  for (const p of imported.pings) {
    const full = await fetchPing(serve.url, p.id);
    assert.deepEqual([p.request?.hops, p.reply?.hops], [full.request?.hops, full.reply?.hops], p.id);
  }
});

test("the same access rules as every route: a foreign Host is refused", async () => {
  const { port } = new URL(serve.url);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/api/capture", headers: { host: `evil.example:${port}` } }, resolve)
      .on("error", reject).end();
  });
  res.resume();
  assert.equal(res.statusCode, 403);
});

/** A server of its own on the fixture, replayed at once, with the given options. */
async function inProcess(t: { after: (fn: () => unknown) => void }, opts: { captureLogEvents?: number; token?: string }) {
  const pipeline = new Pipeline(createFileSource(capture, { speed: Infinity }));
  const server = await startServer(pipeline, { host: "127.0.0.1", port: 0, ...opts });
  t.after(() => server.close());
  await pipeline.start();
  t.after(() => pipeline.stop());
  await waitFor(async () => (pipeline.store.total === 5 ? true : undefined), 5000, "five pings");
  return server;
}

test("the log keeps the newest events and says how many fell off", async (t) => {
  const server = await inProcess(t, { captureLogEvents: 10 });
  const res = await fetch(`${server.url}/api/capture`);
  assert.deepEqual([res.headers.get("x-pktpath-events"), res.headers.get("x-pktpath-dropped-events")], ["10", "55"]);
  const lines = (await res.text()).trimEnd().split("\n");
  assert.equal(lines.length, 11);
  assert.deepEqual(lines.slice(1).map((l) => JSON.parse(l) as unknown), fixtureEvents.slice(-10));
});

test("with a token, the download needs it too", async (t) => {
  const token = "capture-token-0123456789";
  const server = await inProcess(t, { token });
  assert.equal((await fetch(`${server.url}/api/capture`)).status, 401);
  const res = await fetch(`${server.url}/api/capture`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.text()).trimEnd().split("\n").length, 66);
});

test("ring order across the wrap; the file name is ISO 8601 basic", () => {
  const log = new CaptureLog(4);
  const ev = (tNs: number): RawEvent => ({ event: "netif_rx", tNs, skbaddr: "0x1", ifname: "lo", len: 1 });
  log.add([ev(1), ev(2), ev(3)]);
  log.add([ev(4), ev(5), ev(6)]);
  assert.deepEqual(log.events().map((e) => e.tNs), [3, 4, 5, 6]);
  assert.equal(log.dropped, 2);
  log.add([ev(7), ev(8), ev(9), ev(10), ev(11)]);
  assert.deepEqual(log.events().map((e) => e.tNs), [8, 9, 10, 11]);
  assert.equal(log.dropped, 7);
  assert.equal(captureFileName(new Date("2026-03-04T05:06:07.890Z")), "pktpath-20260304T050607Z.ndjson");
});

test("a large download streams: a reader that stops holds the server's writes back, the server stays responsive", async (t) => {
  const big = 200_000;
  const log = new CaptureLog(big);
  // The fixture's events again and again, each round later: ~65 MB of JSON lines.
  const roundNs = (fixtureEvents.at(-1)?.tNs ?? 0) + 1;
  for (let round = 0; log.size < big; round++) log.add(fixtureEvents.map((e) => ({ ...e, tNs: e.tNs + round * roundNs })));
  const last = log.events().at(-1);
  const pipeline = new Pipeline(createFileSource(capture));
  let policy = makePolicy("127.0.0.1", 0, undefined);
  const server = createServer(createApp(pipeline, () => policy, undefined, log));
  let download: ServerResponse | undefined;
  // Before the app: express rewrites req.url as it routes.
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/api/capture") download = res;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  const { port } = server.address() as AddressInfo;
  policy = makePolicy("127.0.0.1", port, undefined);

  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/api/capture" }, resolve).on("error", reject).end();
  });
  res.pause();
  await new Promise((r) => setTimeout(r, 500));
  const held = download?.writableLength ?? -1;
  t.diagnostic(`bytes queued in the server while the reader waits: ${held}`);
  assert.ok(held >= 0 && held < 4 * 1024 * 1024, `the server waits for drain (queued ${held} bytes)`);
  const t0 = performance.now();
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/health`)).status, 200);
  assert.ok(performance.now() - t0 < 500, "other requests are answered meanwhile");

  res.setEncoding("utf8");
  let lines = 0, tail = "", lastLine = "";
  res.on("data", (chunk: string) => {
    const text = tail + chunk;
    const cut = text.lastIndexOf("\n");
    lines += text.slice(0, cut + 1).split("\n").length - 1;
    tail = text.slice(cut + 1);
    if (cut >= 0) lastLine = text.slice(0, cut).split("\n").at(-1) ?? "";
  });
  res.resume();
  await once(res, "end");
  assert.equal(lines, big + 1);
  assert.equal(tail, "");
  assert.deepEqual(JSON.parse(lastLine), last);
});
