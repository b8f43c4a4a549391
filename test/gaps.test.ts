// A capture that lost records (a full kernel ring: each record after lost ones says how many) marks
// the exchanges that were open across the gap `recordsLost`: their path, and a "no-reply" or a drop,
// may be what was left rather than what happened. Exchanges clear of every gap are not marked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { correlateAll } from "../shared/correlate.ts";
import { GAP_SLACK_NS, RECORDS_LOST } from "../shared/gaps.ts";
import { parsePing, parseRawEvent } from "../shared/validate.ts";
import type { RawEvent } from "../shared/types.ts";
import { hostToNsEvents } from "./support/capture-file.ts";

const pingsOf = (events: RawEvent[]) => correlateAll(events).pings.sort((a, b) => a.seq - b.seq).map((p) => [p.seq, p.status, p.recordsLost ?? false]);

test("the recording's two pings, a second apart: no gap, nothing marked", () => {
  assert.deepEqual(pingsOf(hostToNsEvents(0)), [[1, "complete", false], [2, "complete", false]]);
});

/** What a source says after a full ring: `count` records lost, the first at fromNs, the last at toNs. */
const lostReport = (fromNs: number, toNs: number, count = 3): RawEvent => ({ event: RECORDS_LOST, tNs: toNs, skbaddr: "0x0", len: count, lostFromNs: fromNs });

/** Events with a report inserted in time order. */
const withReport = (events: RawEvent[], report: RawEvent): RawEvent[] => {
  const at = events.findIndex((e) => e.tNs > report.tNs);
  return at < 0 ? [...events, report] : [...events.slice(0, at), report, ...events.slice(at)];
};

test("records lost amid the first ping: it alone is marked, and the second is not", () => {
  const events = hostToNsEvents(0);
  const reply = events.find((e) => e.packet?.icmp?.type === 0)!;
  assert.deepEqual(pingsOf(withReport(events, lostReport(reply.tNs - 10, reply.tNs - 1))), [[1, "complete", true], [2, "complete", false]]);
});

test("records lost between the pings, when neither was open: nothing marked", () => {
  const events = hostToNsEvents(0);
  const second = events.find((e) => e.packet?.icmp?.seq === 2)!;
  const firstEnd = Math.max(...events.filter((e) => e.tNs < second.tNs).map((e) => e.tNs));
  const [from, to] = [firstEnd + (second.tNs - firstEnd) / 4, firstEnd + (second.tNs - firstEnd) / 2];
  assert.ok(second.tNs - to > GAP_SLACK_NS && from > firstEnd);
  assert.deepEqual(pingsOf(withReport(events, lostReport(from, to))), [[1, "complete", false], [2, "complete", false]]);
});

test("the first reply's records lost: a no-reply that says its records were lost", () => {
  const base = hostToNsEvents(0);
  const reply = base.find((e) => e.packet?.icmp?.type === 0)!;
  const firstSecond = base.findIndex((e) => e.packet?.icmp?.seq === 2);
  // Every record of the first reply's skb until the second request is gone; a report says so.
  const gone = base.filter((e, i) => i < firstSecond && e.skbaddr === reply.skbaddr && e.tNs >= reply.tNs);
  const kept = base.filter((e) => !gone.includes(e));
  const pings = pingsOf(withReport(kept, lostReport(gone[0]!.tNs, gone.at(-1)!.tNs, gone.length)));
  assert.deepEqual(pings, [[1, "no-reply", true], [2, "complete", false]]);
  // Without the report the same capture claims a plain no-reply.
  assert.deepEqual(pingsOf(kept), [[1, "no-reply", false], [2, "complete", false]]);
});

test("a ping begun and lost within a long loss: marked, though the loss began before it and ended after", () => {
  const base = hostToNsEvents(0);
  const firstSecond = base.findIndex((e) => e.packet?.icmp?.seq === 2);
  const reply = base.find((e) => e.packet?.icmp?.type === 0)!;
  // The first ping's request seen, then nothing of it: the loss spans from before it to past its timeout.
  const kept = base.filter((e, i) => i >= firstSecond || e.tNs < reply.tNs);
  const first = base[0]!.tNs, second = base[firstSecond]!.tNs;
  const pings = pingsOf(withReport(kept, lostReport(first - 5e6, (reply.tNs + second) / 2, 1000)));
  assert.deepEqual(pings, [[1, "no-reply", true], [2, "complete", false]]);
});

test("the fields survive the boundaries: a capture line's lostFromNs, a ping's recordsLost", () => {
  const line = parseRawEvent({ event: RECORDS_LOST, tNs: 5000, skbaddr: "0x0", len: 12, lostFromNs: 1000 });
  assert.ok(line.ok && line.value.lostFromNs === 1000);
  const ping = parsePing({ id: "p-1", family: 4, src: "a", dst: "b", icmpId: 1, seq: 1, status: "no-reply", recordsLost: true });
  assert.ok(ping.ok && ping.value.recordsLost === true);
  assert.equal(parsePing({ id: "p-1", family: 4, src: "a", dst: "b", icmpId: 1, seq: 1, status: "no-reply", recordsLost: 1 }).ok, false);
});
