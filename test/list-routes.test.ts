// The list's routes on a real server over the real eight-namespace recording: search (?q=) with its
// counts in headers and its refusals, flows, info, and the capture filter through an injected control
// (GET shows it, PUT applies it or answers 400 with the parser's message and column; without a control
// the filter is not editable and PUT answers 501). Bad input gets a clear error; the server keeps serving.
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, test } from "node:test";
import { createFileSource } from "../server/capture/file.ts";
import type { FilterControl } from "../server/listRoutes.ts";
import { Pipeline } from "../server/pipeline.ts";
import { startServer, type RunningServer } from "../server/serve.ts";
import { waitFor } from "./support/cli-child.ts";
import { EIGHT_NS_FIXTURE } from "./support/eight-ns.ts";

let pipeline: Pipeline;
let withFilter: RunningServer;
let without: RunningServer;
const applied: string[] = [];

/** Accepts what starts with "icmp" and refuses the rest, naming where: the shape the kernel's parser answers in. */
const filter: FilterControl = {
  current: () => applied.at(-1) ?? "icmp or icmp6",
  set: (expression) => {
    if (!expression.startsWith("icmp")) return { ok: false, error: "expected a protocol, got \"tcpp\"", column: 0 };
    applied.push(expression.trim());
    return { ok: true, expression: expression.trim() };
  },
};

before(async () => {
  // ids without the capture's prefix: what is tested here is the lists, not the names of their items
  pipeline = new Pipeline(createFileSource(EIGHT_NS_FIXTURE), { correlator: { idPrefix: "" } });
  await pipeline.start();
  await waitFor(async () => (pipeline.store.size === 3 ? true : undefined), 10_000, "three pings");
  withFilter = await startServer(pipeline, { host: "127.0.0.1", port: 0, filter });
  without = await startServer(pipeline, { host: "127.0.0.1", port: 0 });
});

after(async () => {
  await withFilter.close();
  await without.close();
  await pipeline.stop();
});

async function call(base: string, path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(base + path, init);
  return { status: res.status, headers: res.headers, body: await res.json() };
}
const ids = (body: unknown): unknown => (Array.isArray(body) ? body.map((p: { id?: unknown }) => p.id) : body);

test("search: every word must match, across addresses, namespaces, interfaces, reasons; counts in headers", async () => {
  const table: [string, string[]][] = [
    ["", ["p-3", "p-2", "p-1"]],
    ["NETFILTER_DROP", ["p-3"]],
    ["netfilter_drop ppu-r5", ["p-3"]],
    ["10.253.1.1", ["p-2", "p-1"]],
    ["ppU-server-7 complete", ["p-2", "p-1"]],
    ["seq=2", ["p-2"]],
    ["nft_do_chain", ["p-3"]],
    ["no-such-thing", []],
  ];
  for (const [q, want] of table) {
    const r = await call(withFilter.url, `/api/pings?q=${encodeURIComponent(q)}`);
    assert.equal(r.status, 200, q);
    assert.deepEqual(ids(r.body), want, q);
    assert.equal(r.headers.get("x-total-count"), String(want.length), q);
    assert.equal(r.headers.get("x-pings-held"), "3");
  }
  const limited = await call(withFilter.url, "/api/pings?q=10.253&limit=1");
  assert.deepEqual([ids(limited.body), limited.headers.get("x-total-count")], [["p-3"], "3"], "limit cuts the list, not the count");
  // The list drops hops; the whole ping is one GET away.
  const [first] = limited.body as { request?: { hops?: unknown } }[];
  assert.equal(first?.request?.hops, undefined);
});

test("search and limit refusals are clear, and the server keeps serving", async () => {
  const table: [string, string][] = [
    ["/api/pings?q=a&q=b", "q: expected one search text"],
    [`/api/pings?q=${"a".repeat(201)}`, "q: longer than 200 characters"],
    ["/api/pings?limit=0", "limit: expected an integer from 1 to 1000"],
    ["/api/pings?limit=abc", "limit: expected an integer from 1 to 1000"],
    ["/api/flows?q=a&q=b", "q: expected one search text"],
  ];
  for (const [path, error] of table) assert.deepEqual(await call(withFilter.url, path).then((r) => [r.status, r.body]), [400, { error }], path);
  assert.equal((await call(withFilter.url, "/api/pings")).status, 200);
});

test("flows: one group per kind, source and destination, with counts and RTT percentiles", async () => {
  const r = await call(withFilter.url, "/api/flows");
  assert.equal(r.status, 200);
  const { matched, flows } = r.body as { matched: number; flows: Record<string, unknown>[] };
  assert.equal(matched, 3);
  const p = await Promise.all(["p-2", "p-1"].map((id) => call(withFilter.url, `/api/pings/${id}`).then((x) => (x.body as { rttNs: number }).rttNs)));
  const [lo, hi] = [Math.min(...p), Math.max(...p)];
  assert.deepEqual(flows, [
    { key: "icmp-echo 10.253.1.3 10.253.7.2", kind: "icmp-echo", family: 4, src: "10.253.1.3", dst: "10.253.7.2", count: 1, dropped: 1, errors: 0,
      noReply: 0, refused: 0, ids: ["p-3"] },
    { key: "icmp-echo 10.253.1.1 10.253.7.2", kind: "icmp-echo", family: 4, src: "10.253.1.1", dst: "10.253.7.2", count: 2, dropped: 0, errors: 0,
      noReply: 0, refused: 0, ids: ["p-2", "p-1"], rttP50Ns: lo, rttP99Ns: hi },
  ]);
  assert.deepEqual((await call(withFilter.url, "/api/flows?q=dropped")).body, { matched: 1, flows: [flows[0]] });
});

test("info: the host name and the capture source, for exports", async () => {
  assert.deepEqual((await call(withFilter.url, "/api/info")).body, { host: hostname(), source: EIGHT_NS_FIXTURE });
});

test("capture filter: shown, applied, refused with message and column; not editable without a control", async () => {
  const put = (base: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
    call(base, "/api/filter", { method: "PUT", headers, body });
  assert.deepEqual((await call(withFilter.url, "/api/filter")).body, { expression: "icmp or icmp6", editable: true });
  assert.deepEqual(await put(withFilter.url, JSON.stringify({ expression: "icmp and host 10.253.7.2 " })).then((r) => [r.status, r.body]),
    [200, { expression: "icmp and host 10.253.7.2" }]);
  assert.deepEqual((await call(withFilter.url, "/api/filter")).body, { expression: "icmp and host 10.253.7.2", editable: true });
  assert.deepEqual(await put(withFilter.url, JSON.stringify({ expression: "tcpp port 80" })).then((r) => [r.status, r.body]),
    [400, { error: "expected a protocol, got \"tcpp\"", column: 0 }]);
  const refusals: [string, number, unknown][] = [
    ["{}", 400, { error: "expected { \"expression\": string }", column: 0 }],
    [JSON.stringify({ expression: 7 }), 400, { error: "expected { \"expression\": string }", column: 0 }],
    [JSON.stringify({ expression: `icmp ${"x".repeat(1000)}` }), 400, { error: "expression longer than 1000 characters", column: 1000 }],
    ["{not json", 400, { error: "bad request" }],
  ];
  for (const [body, status, answer] of refusals) assert.deepEqual(await put(withFilter.url, body).then((r) => [r.status, r.body]), [status, answer], body);
  const crossSite = await put(withFilter.url, JSON.stringify({ expression: "icmp" }), { "content-type": "application/json", origin: "http://evil.example" });
  assert.deepEqual([crossSite.status, crossSite.body], [403, { error: "Origin \"http://evil.example\" may not change the filter" }]);
  assert.deepEqual(applied, ["icmp and host 10.253.7.2"], "refused changes never reached the control");

  assert.deepEqual((await call(without.url, "/api/filter")).body, { expression: "", editable: false });
  assert.deepEqual(await put(without.url, JSON.stringify({ expression: "icmp" })).then((r) => [r.status, r.body]),
    [501, { error: "this source has no capture filter to change" }]);
});

test("exchanges: the held pings as icmp-echo exchanges, by kind, without hops in the list; one by id with them", async () => {
  const all = await call(withFilter.url, "/api/exchanges?limit=10");
  assert.equal(all.status, 200);
  const list = all.body as { id: string; kind: string; icmpId?: number; request?: { hops?: unknown } }[];
  assert.deepEqual(list.map((x) => [x.id, x.kind]), [["p-3", "icmp-echo"], ["p-2", "icmp-echo"], ["p-1", "icmp-echo"]]);
  assert.equal(list[0]?.request?.hops, undefined);
  assert.deepEqual(ids((await call(withFilter.url, "/api/exchanges?kind=icmp-echo&q=dropped")).body), ["p-3"]);
  assert.deepEqual((await call(withFilter.url, "/api/exchanges?kind=tcp")).body, [], "no TCP exchanges in an echo capture");
  assert.deepEqual(await call(withFilter.url, "/api/exchanges?kind=sctp").then((r) => [r.status, r.body]),
    [400, { error: "kind: expected one of icmp-echo, tcp, udp" }]);
  const one = await call(withFilter.url, "/api/exchanges/p-1");
  const x = one.body as { kind: string; request: { hops: unknown[] }; reply: { hops: unknown[] } };
  assert.deepEqual([one.status, x.kind, x.request.hops.length, x.reply.hops.length], [200, "icmp-echo", 28, 28]);
  assert.deepEqual(await call(withFilter.url, "/api/exchanges/p-99").then((r) => [r.status, r.body]), [404, { error: "no exchange \"p-99\"" }]);
});
