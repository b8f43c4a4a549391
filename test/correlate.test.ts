// The Correlator on real kernel recordings (test/fixtures/tracefs/, made by record-tracefs.sh): pings
// from the host into a netns over veth and back, IPv6, ARP first, two pingers at once, an nft drop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { correlateAll } from "../shared/correlate.ts";
import { isLifetimeEvent, type Ping } from "../shared/types.ts";
import { describeJourney, fixtureEvents, H4, HOST_NS, N4, PEER_NS, run } from "./support/cases.ts";

type PingRow = [id: string, status: Ping["status"], icmpId: number, seq: number, rttNs: number | undefined,
  request: string | undefined, reply: string | undefined, emittedAtEvent: number];

interface FixtureCase {
  name: string;
  why: string;
  journeys: string[];
  pings: PingRow[];
}

const CASES: FixtureCase[] = [
  {
    name: "ping4-host-to-ns",
    why: "veth host→ns: the reply skb takes an address an MLD packet used, the next request takes it again",
    journeys: [
      "j-1 0xffff88810913b700 queue@ppB1-n+0 rx@ppB1-h+4000 xmit@ppB1-n+5000 recv@ppB1-h+7000 - NOT_SPECIFIED",
      "j-2 0xffff888105b04900 queue@ppB1-h+75000 rx@ppB1-n+76000 xmit@ppB1-h+77000 recv@ppB1-n+78000 request#1",
      "j-3 0xffff888105b04100 queue@ppB1-n+90000 rx@ppB1-h+90000 xmit@ppB1-n+91000 recv@ppB1-h+93000 reply#1 NO_SOCKET",
      "j-4 0xffff888105b04100 queue@ppB1-h+35996000 rx@ppB1-n+36001000 xmit@ppB1-h+36002000 recv@ppB1-n+36005000 - NOT_SPECIFIED",
      "j-5 0xffff888105b04100 queue@ppB1-h+204111000 rx@ppB1-n+204116000 xmit@ppB1-h+204117000 recv@ppB1-n+204121000 request#2",
      "j-6 0xffff888105b04800 queue@ppB1-n+204136000 rx@ppB1-h+204138000 xmit@ppB1-n+204138000 recv@ppB1-h+204142000 reply#2 NO_SOCKET",
    ],
    // Each ping is final at the reply's kfree_skb in ping_rcv (event 14 and 31), not at the flush.
    pings: [
      ["p-1", "complete", 4660, 1, 15000, "j-2", "j-3", 14],
      ["p-2", "complete", 4660, 2, 25000, "j-5", "j-6", 31],
    ],
  },
  {
    name: "ping6-host-to-ns",
    why: "IPv6 echo (types 128/129) over the same veth",
    journeys: [
      "j-1 0xffff888105b04100 queue@ppB1-h+0 rx@ppB1-n+5000 xmit@ppB1-h+6000 recv@ppB1-n+9000 request#1",
      "j-2 0xffff888105b04800 queue@ppB1-n+24000 rx@ppB1-h+25000 xmit@ppB1-n+25000 recv@ppB1-h+28000 reply#1 NO_SOCKET",
      "j-3 0xffff888105b04100 queue@ppB1-h+135807000 rx@ppB1-n+135813000 xmit@ppB1-h+135814000 recv@ppB1-n+135817000 - NOT_SPECIFIED",
      "j-4 0xffff888105b04100 queue@ppB1-h+203889000 rx@ppB1-n+203894000 xmit@ppB1-h+203895000 recv@ppB1-n+203898000 request#2",
      "j-5 0xffff888105b04800 queue@ppB1-n+203910000 rx@ppB1-h+203911000 xmit@ppB1-n+203912000 recv@ppB1-h+203915000 reply#2 NO_SOCKET",
    ],
    pings: [
      ["p-1", "complete", 4661, 1, 24000, "j-1", "j-2", 9],
      ["p-2", "complete", 4661, 2, 21000, "j-4", "j-5", 25],
    ],
  },
  {
    name: "ping4-ns-to-host",
    why: "the other direction: the pinger lives in the netns",
    journeys: [
      "j-1 0xffff888105b04100 queue@ppB1-n+0 rx@ppB1-h+4000 xmit@ppB1-n+6000 recv@ppB1-h+8000 request#1",
      "j-2 0xffff888105b04800 queue@ppB1-h+20000 rx@ppB1-n+21000 xmit@ppB1-h+21000 recv@ppB1-n+23000 reply#1 NO_SOCKET",
    ],
    pings: [["p-1", "complete", 4662, 1, 20000, "j-1", "j-2", 9]],
  },
  {
    name: "ping4-cold-arp",
    why: "ARP first: the echo reply reuses the ARP reply's address right after arp_process consumed it",
    journeys: [
      "j-1 0xffff888105b04400 queue@ppB1-h+0 rx@ppB1-n+4000 xmit@ppB1-h+5000 recv@ppB1-n+8000 -",
      "j-2 0xffff888105b04800 queue@ppB1-n+19000 rx@ppB1-h+20000 xmit@ppB1-n+20000 recv@ppB1-h+21000 -",
      "j-3 0xffff888105b04100 queue@ppB1-h+22000 rx@ppB1-n+23000 xmit@ppB1-h+23000 recv@ppB1-n+25000 request#1",
      "j-4 0xffff888105b04800 queue@ppB1-n+32000 rx@ppB1-h+33000 xmit@ppB1-n+33000 recv@ppB1-h+34000 reply#1 NO_SOCKET",
    ],
    pings: [["p-1", "complete", 4663, 1, 10000, "j-3", "j-4", 22]],
  },
  {
    name: "ping4-concurrent",
    why: "two pingers (ids 4670, 4671) whose seq 2 skbs interleave hop by hop within the same microseconds",
    journeys: [
      "j-1 0xffff88810913b000 queue@ppB1-h+0 rx@ppB1-n+5000 xmit@ppB1-h+6000 recv@ppB1-n+9000 request#1",
      "j-2 0xffff88810913b500 queue@ppB1-n+23000 rx@ppB1-h+25000 xmit@ppB1-n+25000 recv@ppB1-h+28000 reply#1 NO_SOCKET",
      "j-3 0xffff888105b04800 queue@ppB1-h+461000 rx@ppB1-n+463000 xmit@ppB1-h+463000 recv@ppB1-n+464000 request#1",
      "j-4 0xffff888105b04400 queue@ppB1-n+468000 rx@ppB1-h+469000 xmit@ppB1-n+469000 recv@ppB1-h+471000 reply#1 NO_SOCKET",
      "j-5 0xffff888105b04800 queue@ppB1-h+15055000 rx@ppB1-n+15058000 xmit@ppB1-h+15059000 recv@ppB1-n+15062000 request#2",
      "j-6 0xffff88810913b000 queue@ppB1-h+15055000 rx@ppB1-n+15058000 xmit@ppB1-h+15060000 recv@ppB1-n+15062000 request#2",
      "j-7 0xffff888105b04400 queue@ppB1-n+15072000 rx@ppB1-h+15073000 xmit@ppB1-n+15074000 recv@ppB1-h+15076000 reply#2 NO_SOCKET",
      "j-8 0xffff88810913b500 queue@ppB1-n+15072000 rx@ppB1-h+15073000 xmit@ppB1-n+15074000 recv@ppB1-h+15077000 reply#2 NO_SOCKET",
      "j-9 0xffff88810913bd00 queue@ppB1-n+31105000 rx@ppB1-h+31109000 xmit@ppB1-n+31110000 recv@ppB1-h+31113000 - NOT_SPECIFIED",
      "j-10 0xffff888105b04800 queue@ppB1-h+31120000 rx@ppB1-n+31121000 xmit@ppB1-h+31122000 recv@ppB1-n+31123000 request#3",
      "j-11 0xffff888105b04400 queue@ppB1-n+31134000 rx@ppB1-h+31134000 xmit@ppB1-n+31135000 recv@ppB1-h+31137000 reply#3 NO_SOCKET",
      "j-12 0xffff88810913bd00 queue@ppB1-h+31156000 rx@ppB1-n+31157000 xmit@ppB1-h+31158000 recv@ppB1-n+31158000 request#3",
      "j-13 0xffff88810913b500 queue@ppB1-n+31165000 rx@ppB1-h+31165000 xmit@ppB1-n+31165000 recv@ppB1-h+31167000 reply#3 NO_SOCKET",
    ],
    pings: [
      ["p-1", "complete", 4670, 1, 23000, "j-1", "j-2", 9],
      ["p-2", "complete", 4671, 1, 7000, "j-3", "j-4", 20],
      ["p-3", "complete", 4671, 2, 17000, "j-5", "j-7", 42],
      ["p-4", "complete", 4670, 2, 17000, "j-6", "j-8", 43],
      ["p-5", "complete", 4671, 3, 14000, "j-10", "j-11", 62],
      ["p-6", "complete", 4670, 3, 9000, "j-12", "j-13", 74],
    ],
  },
  {
    name: "ping4-nft-drop",
    why: "nft in the netns drops echo requests: kfree_skb NETFILTER_DROP ends the ping at once",
    journeys: [
      "j-1 0xffff88810913bd00 queue@ppB1-h+0 rx@ppB1-n+4000 xmit@ppB1-h+6000 recv@ppB1-n+8000 request#1 NETFILTER_DROP",
      "j-2 0xffff88810913bd00 queue@ppB1-n+375487000 rx@ppB1-h+375491000 xmit@ppB1-n+375492000 recv@ppB1-h+375495000 - NOT_SPECIFIED",
      "j-3 0xffff88810913bd00 queue@ppB1-n+375517000 rx@ppB1-h+375518000 xmit@ppB1-n+375519000 recv@ppB1-h+375519000 - NOT_SPECIFIED",
      "j-4 0xffff888105b04400 queue@ppB1-h+407452000 rx@ppB1-n+407456000 xmit@ppB1-h+407457000 recv@ppB1-n+407460000 - NOT_SPECIFIED",
      "j-5 0xffff888105b04400 queue@ppB1-h+407477000 rx@ppB1-n+407478000 xmit@ppB1-h+407478000 recv@ppB1-n+407478000 - NOT_SPECIFIED",
    ],
    pings: [["p-1", "dropped", 4664, 1, undefined, "j-1", undefined, 4]],
  },
];

for (const c of CASES) {
  test(`${c.name}: ${c.why}`, () => {
    const { all, pingAt } = run(fixtureEvents(c.name));
    assert.deepEqual(all.journeys.map(describeJourney), c.journeys);
    const rows = all.pings.map((p): PingRow => [p.id, p.status, p.icmpId, p.seq, p.rttNs, p.request?.id,
      p.reply?.id, pingAt.get(p.id) ?? -9]);
    assert.deepEqual(rows, c.pings);
    for (const p of all.pings) assert.equal(p.family, c.name.startsWith("ping6") ? 6 : 4);
  });
}

test("ping4-host-to-ns: the first ping exactly, every hop field as the kernel reported it", () => {
  const { all } = run(fixtureEvents("ping4-host-to-ns", { [PEER_NS]: "ppB1-ns" }));
  const hop = (event: string, ifname: string, tNs: number, len: number) => ifname === "ppB1-h"
    ? { event, ifname, ifindex: 8, netns: HOST_NS, tNs, len }
    : { event, ifname, ifindex: 2, netns: PEER_NS, netnsName: "ppB1-ns", tNs, len };
  const echo = (type: number, src: string, dst: string) =>
    ({ family: 4, proto: "icmp", src, dst, icmp: { type, id: 4660, seq: 1 } });
  assert.deepEqual(all.pings[0], {
    id: "p-1", kind: "icmp-echo", family: 4, src: H4, dst: N4, icmpId: 4660, seq: 1, status: "complete", rttNs: 15000,
    request: { id: "j-2", skbaddr: "0xffff888105b04900", packet: echo(8, H4, N4), hops: [
      hop("net_dev_queue", "ppB1-h", 75000, 98), hop("netif_rx", "ppB1-n", 76000, 84),
      hop("net_dev_xmit", "ppB1-h", 77000, 98), hop("netif_receive_skb", "ppB1-n", 78000, 84)] },
    reply: { id: "j-3", skbaddr: "0xffff888105b04100", packet: echo(0, N4, H4),
      dropped: { reason: "NO_SOCKET", location: "ping_rcv+0xab/0xd0" }, hops: [
        hop("net_dev_queue", "ppB1-n", 90000, 98), hop("netif_rx", "ppB1-h", 90000, 84),
        hop("net_dev_xmit", "ppB1-n", 91000, 98), hop("netif_receive_skb", "ppB1-h", 93000, 84)] },
  });
});

test("frees of skbs never seen on a hop (raw socket clones, netlink, vsock) make no journey", () => {
  const events = fixtureEvents("ping4-concurrent");
  const hopAddrs = new Set(events.filter((e) => !isLifetimeEvent(e.event)).map((e) => e.skbaddr));
  const loneFrees = events.filter((e) => isLifetimeEvent(e.event) && !hopAddrs.has(e.skbaddr));
  assert.deepEqual(loneFrees.map((e) => `${e.skbaddr} ${e.location}`), [
    "0xffff888105b04100 raw_recvmsg+0xac/0x1d0",
    "0xffff888105b04900 raw_rcv+0x220/0x270",
    "0xffff888105b04900 raw_rcv+0x220/0x270",
  ]);
  const { all } = run(events);
  assert.equal(all.journeys.length, 13);
  assert.ok(all.journeys.every((j) => j.hops.length === 4));
});

test("without lifetime events: a different packet at the same address, or idleness, ends a journey", () => {
  // Sources that lack skb:consume_skb / skb:kfree_skb. The MLD packets carry no packet info here, so a
  // short idle time is what separates them from the echo skbs whose address they reuse.
  const events = fixtureEvents("ping4-host-to-ns").filter((e) => !isLifetimeEvent(e.event));
  const { all, pingAt } = run(events, { journeyIdleNs: 5e6 });
  assert.deepEqual(all.journeys.map(describeJourney), [
    "j-1 0xffff88810913b700 queue@ppB1-n+0 rx@ppB1-h+4000 xmit@ppB1-n+5000 recv@ppB1-h+7000 -",
    "j-2 0xffff888105b04900 queue@ppB1-h+75000 rx@ppB1-n+76000 xmit@ppB1-h+77000 recv@ppB1-n+78000 request#1",
    "j-3 0xffff888105b04100 queue@ppB1-n+90000 rx@ppB1-h+90000 xmit@ppB1-n+91000 recv@ppB1-h+93000 reply#1",
    "j-4 0xffff888105b04100 queue@ppB1-h+35996000 rx@ppB1-n+36001000 xmit@ppB1-h+36002000 recv@ppB1-n+36005000 -",
    "j-5 0xffff888105b04100 queue@ppB1-h+204111000 rx@ppB1-n+204116000 xmit@ppB1-h+204117000 recv@ppB1-n+204121000 request#2",
    "j-6 0xffff888105b04800 queue@ppB1-n+204136000 rx@ppB1-h+204138000 xmit@ppB1-n+204138000 recv@ppB1-h+204142000 reply#2",
  ]);
  assert.deepEqual(all.pings.map((p) => [p.id, p.status, p.seq, p.rttNs]),
    [["p-1", "complete", 1, 15000], ["p-2", "complete", 2, 25000]]);
  // p-1 ends when its reply went idle, seen at the next event (the MLD packet at 35.996 ms, index 12);
  // p-2 only at the end of the capture.
  assert.deepEqual([pingAt.get("p-1"), pingAt.get("p-2")], [12, -1]);
});

test("the same events give the same output, and correlateAll equals push-by-push plus flush", () => {
  const events = fixtureEvents("ping4-concurrent");
  assert.deepEqual(correlateAll(events), run(events).all);
  assert.deepEqual(correlateAll(events), correlateAll(events));
});
