// Correlator edge cases, built from the real veth sequences of test/fixtures/tracefs/ cut or altered in
// one stated way each: timeouts, a reply without its request, reuse of the request's own address, a
// dropped reply, late replies, out-of-order hops, and the bounds on open state under a flood.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Correlator, type CorrelatorOutput } from "../shared/correlate.ts";
import type { RawEvent } from "../shared/types.ts";
import { echoPacket } from "./support/tracefs-fixture.ts";
import { describeJourney, fixtureEvents, H4, N4, run } from "./support/cases.ts";

// ping4-host-to-ns: events 5..12 are echo request #1 (4 hops at 75..78 us, consumed at 92 us),
// 9..14 interleave its reply (4 hops from 90 us, kfree NO_SOCKET at 97 us).
const HOST_TO_NS = fixtureEvents("ping4-host-to-ns");
const REQ1 = "0xffff888105b04900", REP1 = "0xffff888105b04100";
const only = (addr: string, from = 0, to = 15) => HOST_TO_NS.slice(from, to).filter((e) => e.skbaddr === addr);

function pings(o: CorrelatorOutput): string[] {
  return o.pings.map((p) => `${p.id} ${p.status} seq=${p.seq} rtt=${p.rttNs} req=${p.request?.id} rep=${p.reply?.id}`);
}

test("no reply: the request becomes no-reply once replyTimeoutNs has passed after its journey ended, exactly once", () => {
  const c = new Correlator();
  const request = only(REQ1).slice(0, 5); // 4 hops and icmp_rcv's consume, no raw clone
  for (const ev of request) assert.deepEqual(pings(c.push(ev)), []);
  assert.equal(c.stats().openPings, 1);
  const consumedTNs = 92000; // the reply can come only once the request arrived
  assert.deepEqual(pings(c.advance(consumedTNs + 2e9)), []);
  assert.deepEqual(pings(c.advance(consumedTNs + 2e9 + 1)), ["p-1 no-reply seq=1 rtt=undefined req=j-1 rep=undefined"]);
  assert.deepEqual(pings(c.advance(consumedTNs + 5e9)), []);
  assert.deepEqual(c.flush(), { journeys: [], exchanges: [], pings: [] });
  assert.deepEqual(c.stats(), { openJourneys: 0, openPings: 0, evictedJourneys: 0, evictedPings: 0 });
});

test("a request still in flight waits up to maxInFlightNs; the timeouts are options; flush ends a waiting request", () => {
  const c = new Correlator({ replyTimeoutNs: 1e6, maxInFlightNs: 5e6 });
  for (const ev of only(REQ1).slice(0, 4)) c.push(ev); // still open: no lifetime event yet (queued somewhere)
  assert.deepEqual(pings(c.advance(75000 + 2e6)), [], "in flight: replyTimeoutNs does not apply yet");
  assert.deepEqual(pings(c.advance(75000 + 5e6)), []);
  assert.deepEqual(pings(c.advance(75000 + 5e6 + 1)), ["p-1 no-reply seq=1 rtt=undefined req=j-1 rep=undefined"]);
  const c2 = new Correlator();
  for (const ev of only(REQ1).slice(0, 4)) c2.push(ev);
  const out = c2.flush();
  assert.deepEqual(out.journeys.map((j) => j.id), ["j-1"]);
  assert.deepEqual(pings(out), ["p-1 no-reply seq=1 rtt=undefined req=j-1 rep=undefined"]);
});

test("an idle journey ends after journeyIdleNs without events, not before", () => {
  const c = new Correlator({ journeyIdleNs: 1e9 });
  for (const ev of only(REQ1).slice(0, 4)) c.push(ev);
  const lastHopTNs = 78000;
  assert.deepEqual(c.advance(lastHopTNs + 1e9).journeys, []);
  assert.deepEqual(c.advance(lastHopTNs + 1e9 + 1).journeys.map(describeJourney), [
    "j-1 0xffff888105b04900 queue@ppB1-h+75000 rx@ppB1-n+76000 xmit@ppB1-h+77000 recv@ppB1-n+78000 request#1"]);
});

test("a reply whose request was never seen still makes a ping, without request or rtt", () => {
  const { all } = run(HOST_TO_NS.slice(9)); // the capture starts just after request #1 was sent
  assert.deepEqual(pings(all), [
    "p-1 complete seq=1 rtt=undefined req=undefined rep=j-1",
    "p-2 complete seq=2 rtt=25000 req=j-3 rep=j-4",
  ]);
  const p1 = all.pings[0];
  assert.deepEqual([p1?.src, p1?.dst, p1?.icmpId, p1?.family], [H4, N4, 4660, 4]);
});

test("a reply skb that reuses its own request's address after consume_skb is a second journey", () => {
  // As ping4-host-to-ns #1, but the request is consumed before the reply is built, and the reply skb
  // gets the request's memory: the same address names two packets of one ping.
  const events = [...only(REQ1).slice(0, 5), ...only(REP1, 9, 15).map((e) => ({ ...e, skbaddr: REQ1 }))];
  assert.deepEqual(events.map((e) => `${e.event}+${e.tNs}`), [
    "net_dev_queue+75000", "netif_rx+76000", "net_dev_xmit+77000", "netif_receive_skb+78000", "consume_skb+92000",
    "net_dev_queue+90000", "netif_rx+90000", "net_dev_xmit+91000", "netif_receive_skb+93000", "kfree_skb+97000"]);
  // Keep time order: the consume moves before the reply's first hop.
  const ordered = [...events.slice(0, 4), { ...events[4]!, tNs: 89000 }, ...events.slice(5)];
  const { all } = run(ordered);
  assert.deepEqual(all.journeys.map(describeJourney), [
    "j-1 0xffff888105b04900 queue@ppB1-h+75000 rx@ppB1-n+76000 xmit@ppB1-h+77000 recv@ppB1-n+78000 request#1",
    "j-2 0xffff888105b04900 queue@ppB1-n+90000 rx@ppB1-h+90000 xmit@ppB1-n+91000 recv@ppB1-h+93000 reply#1 NO_SOCKET",
  ]);
  assert.deepEqual(pings(all), ["p-1 complete seq=1 rtt=15000 req=j-1 rep=j-2"]);
});

test("a reply dropped on its way back makes the ping dropped; NO_SOCKET at ping_rcv does not", () => {
  const dropped = HOST_TO_NS.slice(0, 15).map((e): RawEvent => e.event === "kfree_skb" && e.skbaddr === REP1
    ? { ...e, dropReason: "NETFILTER_DROP", location: "nft_do_chain+0x3e8/0x610" } : e);
  assert.deepEqual(pings(run(dropped).all), ["p-1 dropped seq=1 rtt=15000 req=j-2 rep=j-3"]);
  assert.deepEqual(pings(run(HOST_TO_NS.slice(0, 15)).all), ["p-1 complete seq=1 rtt=15000 req=j-2 rep=j-3"]);
  const prefixed = HOST_TO_NS.slice(0, 15).map((e): RawEvent => e.dropReason === "NO_SOCKET"
    ? { ...e, dropReason: "SKB_DROP_REASON_NO_SOCKET" } : e);
  assert.deepEqual(pings(run(prefixed).all), ["p-1 complete seq=1 rtt=15000 req=j-2 rep=j-3"]);
});

test("a kfree_skb without a reason still ends the journey as dropped", () => {
  const events = only(REQ1).slice(0, 4).concat({ event: "kfree_skb", tNs: 80000, skbaddr: REQ1 });
  const { all } = run(events);
  assert.deepEqual(all.journeys[0]?.dropped, { reason: "unknown" });
  assert.deepEqual(pings(all), ["p-1 dropped seq=1 rtt=undefined req=j-1 rep=undefined"]);
});

test("a reply after its request timed out is a second ping, with the reply only", () => {
  const request = only(REQ1).slice(0, 5);
  const lateReply = only(REP1, 9, 15).map((e) => ({ ...e, tNs: e.tNs + 3e9 }));
  const { all, pingAt } = run([...request, ...lateReply]);
  assert.deepEqual(pings(all), ["p-1 no-reply seq=1 rtt=undefined req=j-1 rep=undefined",
    "p-2 complete seq=1 rtt=undefined req=undefined rep=j-2"]);
  assert.deepEqual([...pingAt.values()], [5, 9]);
});

test("hops that arrive a few ns out of order are kept in time order", () => {
  const hops = only(REQ1).slice(0, 4);
  const swapped = [hops[0]!, { ...hops[2]!, tNs: 76000 }, { ...hops[1]!, tNs: 76003 }, hops[3]!];
  const { all } = run(swapped);
  assert.deepEqual(all.journeys[0]?.hops.map((h) => `${h.event}+${h.tNs}`),
    ["net_dev_queue+75000", "net_dev_xmit+76000", "netif_rx+76003", "netif_receive_skb+78000"]);
});

test("hop fields a source does not know: ifname \"?\", len 0, no ifindex or netns keys", () => {
  const [first] = only(REQ1);
  const { ifname: _i, len: _l, ifindex: _x, netns: _n, ...bare } = first!;
  const { all } = run([bare, { ...bare, event: "napi_gro_receive_entry", tNs: 76000, ifname: "" }]);
  assert.deepEqual(all.journeys[0]?.hops, [{ event: "net_dev_queue", ifname: "?", tNs: 75000, len: 0 },
    { event: "napi_gro_receive_entry", ifname: "?", tNs: 76000, len: 0 }]);
});

/** A flood of echo requests on distinct addresses, none ever freed or answered, 1 us apart. */
function flood(n: number): RawEvent[] {
  const out: RawEvent[] = [];
  for (let i = 0; i < n; i++) {
    // Kernel addresses pass 2^53: BigInt, not number. Each ICMP id carries 65,536 sequence numbers.
    const skbaddr = `0x${(0xffff888100000000n + BigInt(i) * 256n).toString(16)}`;
    out.push({ event: "net_dev_queue", tNs: i * 1000, skbaddr, ifname: "ppB1-h", len: 98,
      packet: echoPacket({ family: 4, src: H4, dst: N4 }, true, 1 + (i >> 16), i & 0xffff) });
  }
  return out;
}

test("bounded state: past maxOpenJourneys the oldest journey ends, past maxOpenPings the oldest is no-reply", () => {
  const c = new Correlator({ maxOpenJourneys: 2, maxOpenPings: 2 });
  const [a, b, d] = flood(3);
  c.push(a!);
  c.push(b!);
  const out = c.push(d!);
  assert.deepEqual(out.journeys.map((j) => j.id), ["j-1"]);
  assert.deepEqual(pings(out), ["p-1 no-reply seq=0 rtt=undefined req=j-1 rep=undefined"]);
  assert.deepEqual(c.stats(), { openJourneys: 2, openPings: 2, evictedJourneys: 1, evictedPings: 1 });
});

test("bounded state under a flood of 150,000 unanswered requests with the default caps", () => {
  const c = new Correlator();
  let endedJourneys = 0, finalPings = 0;
  for (const ev of flood(150_000)) {
    const out = c.push(ev);
    endedJourneys += out.journeys.length;
    finalPings += out.pings.length;
  }
  assert.deepEqual(c.stats(), { openJourneys: 100_000, openPings: 100_000, evictedJourneys: 50_000, evictedPings: 50_000 });
  assert.deepEqual([endedJourneys, finalPings], [50_000, 50_000]);
  const end = c.flush();
  assert.deepEqual([end.journeys.length, end.pings.length], [100_000, 100_000]);
  assert.deepEqual(c.stats(), { openJourneys: 0, openPings: 0, evictedJourneys: 50_000, evictedPings: 50_000 });
});

test("end of capture: a TCP connect whose SYN and retransmission were dropped is dropped, not no-reply", () => {
  const syn = { family: 4, proto: "tcp", src: "10.0.0.2", dst: "10.0.1.5", sport: 40100, dport: 8082, tcpFlags: "S" } as const;
  const attempt = (skbaddr: string, t0: number): RawEvent[] => [
    { event: "net_dev_queue", tNs: t0, skbaddr, ifname: "a0", ifindex: 2, netns: 1, packet: syn },
    { event: "netif_rx", tNs: t0 + 1000, skbaddr, ifname: "ra", ifindex: 3, netns: 2, packet: syn },
    { event: "kfree_skb", tNs: t0 + 2000, skbaddr, ifname: "ra", ifindex: 3, netns: 2, packet: syn,
      dropReason: "NETFILTER_DROP", rule: "inet t forward" },
  ];
  // The capture stops 1 ms after the retransmission was dropped: long before the wait for a SYN-ACK is over.
  const { all } = run([...attempt("0x1", 1e6), ...attempt("0x1", 1e9 + 1e6)]);
  assert.deepEqual(all.exchanges.map((x) => `${x.kind} ${x.dport} ${x.status} retries=${x.retries?.length ?? 0} ${x.request?.dropped?.rule}`),
    ["tcp 8082 dropped retries=1 inet t forward"]);
});
