// The dashboard's live-data core without a browser: the store coalesces messages into one commit per
// frame, keeps newest first and bounded, tops up after a pause; reconnect backoff, permalinks, search.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Ping } from "../shared/types.ts";
import { hashForPing, linkFromHash } from "../client/src/api.ts";
import { matchesWords, queryWords } from "../shared/search.ts";
import { MAX_PINGS, PingStore } from "../client/src/store.ts";
import { backoffMs } from "../client/src/stream.ts";

const ping = (n: number, status: Ping["status"] = "complete"): Ping =>
  ({ id: `p-${n}`, family: 4, src: "10.0.0.1", dst: `10.0.0.${n % 250}`, icmpId: 7, seq: n, status });

/** A store whose "animation frames" run when the test says so. */
function manualStore(): { store: PingStore; frames: (() => void)[] } {
  const frames: (() => void)[] = [];
  return { store: new PingStore((commit) => frames.push(commit)), frames };
}

test("store: a burst of messages is one frame, one notification, newest first", () => {
  const { store, frames } = manualStore();
  let notified = 0;
  store.subscribe(() => notified++);
  store.replaceAll([ping(2), ping(1)]);
  for (let n = 3; n <= 50; n++) store.upsert([ping(n)]);
  store.patch({ conn: "open" });
  assert.equal(frames.length, 1, "one frame scheduled for the whole burst");
  assert.equal(store.getSnapshot().pings.length, 0, "nothing visible before the frame");
  frames.shift()?.();
  assert.equal(notified, 1);
  const s = store.getSnapshot();
  assert.equal(s.conn, "open");
  assert.deepEqual(s.pings.slice(0, 3).map((p) => p.id), ["p-50", "p-49", "p-48"]);
  assert.deepEqual(s.pings.slice(-2).map((p) => p.id), ["p-2", "p-1"]);
  assert.equal(s.pings.length, 50);
  assert.equal(store.getSnapshot(), s, "the snapshot is stable between commits (useSyncExternalStore needs that)");
});

test("store: a ping seen again replaces its entry and moves up; a snapshot replaces everything", () => {
  const { store, frames } = manualStore();
  store.upsert([ping(1), ping(2), ping(3)]);
  frames.shift()?.();
  store.upsert([ping(1, "dropped")]);
  assert.equal(store.find("p-1")?.status, "dropped", "find sees pending updates");
  frames.shift()?.();
  assert.deepEqual(store.getSnapshot().pings.map((p) => `${p.id}:${p.status}`), ["p-1:dropped", "p-3:complete", "p-2:complete"]);
  store.upsert([ping(9)]);
  store.replaceAll([ping(5)]);
  frames.shift()?.();
  assert.deepEqual(store.getSnapshot().pings.map((p) => p.id), ["p-5"], "updates before a snapshot are superseded");
});

test("store: the list is bounded, also while no frame runs (hidden tab)", () => {
  const { store, frames } = manualStore();
  for (let n = 1; n <= 3 * MAX_PINGS; n++) store.upsert([ping(n)]);
  frames.shift()?.();
  const { pings } = store.getSnapshot();
  assert.equal(pings.length, MAX_PINGS);
  assert.equal(pings[0]?.id, `p-${3 * MAX_PINGS}`);
  assert.equal(pings.at(-1)?.id, `p-${2 * MAX_PINGS + 1}`);
});

test("store: bad messages are counted and the last one is shown", () => {
  const { store, frames } = manualStore();
  store.noteBadMessage("pings[0].status: expected one of complete, no-reply, dropped");
  store.noteBadMessage("message is not JSON");
  frames.shift()?.();
  assert.equal(store.getSnapshot().badMessages, 2);
  assert.equal(store.getSnapshot().lastError, "message is not JSON");
});

test("reconnect backoff doubles from 0.5 s, caps at 10 s, jitter ±20 %", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 0.5)), [500, 1000, 2000, 4000, 8000, 10000, 10000]);
  assert.equal(backoffMs(0, 0), 400);
  assert.equal(backoffMs(0, 1), 600);
});

test("permalink hash round-trips ids and what the link was about, and refuses other hashes", () => {
  assert.equal(hashForPing("p-12"), "#/ping/p-12");
  assert.deepEqual(linkFromHash("#/ping/p-12"), { id: "p-12" });
  assert.deepEqual(linkFromHash(hashForPing("p/ 1")), { id: "p/ 1" });
  const about = { at: "2026-12-02T06:34:15.123456Z", what: "icmp 10.0.0.2 → 10.0.1.5 seq 3 · dropped" };
  assert.equal(hashForPing("r7-p-3", about),
    "#/ping/r7-p-3?at=2026-12-02T06%3A34%3A15.123456Z&what=icmp+10.0.0.2+%E2%86%92+10.0.1.5+seq+3+%C2%B7+dropped");
  assert.deepEqual(linkFromHash(hashForPing("r7-p-3", about)), { id: "r7-p-3", ...about });
  for (const h of ["", "#", "#/ping/", "#/pings/p-1", "#/ping/p-1/x", "#/ping/%E0%A4%A"]) assert.equal(linkFromHash(h), undefined, h);
});

test("store: a snapshot after a pause tops the list up instead of cutting it back", () => {
  const { store, frames } = manualStore();
  store.replaceAll(Array.from({ length: 300 }, (_, i) => ping(300 - i)));
  frames.shift()?.();
  store.replaceAll([ping(302), ping(301), ping(300)], true);
  frames.shift()?.();
  const ids = store.getSnapshot().pings.map((p) => p.id);
  assert.equal(ids.length, 302);
  assert.deepEqual(ids.slice(0, 4), ["p-302", "p-301", "p-300", "p-299"]);
});

test("search words: every word must match, across addresses, seq, status, interfaces, namespaces, reasons, rules", () => {
  const p: Ping = { ...ping(3, "dropped"), request: { id: "j-1", skbaddr: "0x1", hops: [
    { event: "net_dev_queue", ifname: "veth-web", tNs: 0, len: 98, netnsName: "blue" }],
  dropped: { reason: "NETFILTER_DROP", location: "nft_do_chain+0x46f", rule: "inet filter forward" } } };
  const m = (q: string): boolean => matchesWords(p, queryWords(q));
  assert.equal(m(""), true);
  assert.equal(m("10.0.0.3 DROPPED"), true);
  assert.equal(m("seq=3 veth-web blue"), true);
  assert.equal(m("netfilter_drop"), true);
  assert.equal(m("filter forward"), true);
  assert.equal(m("seq=30"), false);
  assert.equal(m("complete"), false);
});
