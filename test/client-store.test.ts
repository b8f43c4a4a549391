// The dashboard's live-data core without a browser: the store coalesces messages into one commit per
// frame, keeps newest first and bounded; reconnect backoff, permalinks and the list filter.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Ping } from "../shared/types.ts";
import { hashForPing, pingIdFromHash } from "../client/src/api.ts";
import { matchesFilter } from "../client/src/filter.ts";
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

test("permalink hash round-trips ids and refuses other hashes", () => {
  assert.equal(hashForPing("p-12"), "#/ping/p-12");
  assert.equal(pingIdFromHash("#/ping/p-12"), "p-12");
  assert.equal(pingIdFromHash(hashForPing("p/ 1")), "p/ 1");
  for (const h of ["", "#", "#/ping/", "#/pings/p-1", "#/ping/p-1/x", "#/ping/%E0%A4%A"]) assert.equal(pingIdFromHash(h), undefined, h);
});

test("list filter: every word must match, across addresses, seq, status and interfaces", () => {
  const p: Ping = { ...ping(3, "dropped"), request: { id: "j-1", skbaddr: "0x1", hops: [
    { event: "net_dev_queue", ifname: "veth-web", tNs: 0, len: 98, netnsName: "blue" }] } };
  assert.equal(matchesFilter(p, ""), true);
  assert.equal(matchesFilter(p, "10.0.0.3 DROPPED"), true);
  assert.equal(matchesFilter(p, "seq=3 veth-web blue"), true);
  assert.equal(matchesFilter(p, "seq=30"), false);
  assert.equal(matchesFilter(p, "complete"), false);
});
