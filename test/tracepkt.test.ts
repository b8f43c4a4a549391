// The terminal text of `pktpath trace`, on pings correlated from the real veth recordings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDurationNs, formatPing, summarizePing } from "../shared/tracepkt.ts";
import type { Ping } from "../shared/types.ts";
import { fixtureEvents, PEER_NS, run } from "./support/cases.ts";

const NAMES = { [PEER_NS]: "ppB1-ns" };
const firstPing = (name: string, names?: Record<number, string>): Ping => {
  const p = run(fixtureEvents(name, names)).all.pings[0];
  if (!p) throw new Error(`${name}: no ping`);
  return p;
};

test("durations read as people write them", () => {
  const table: [number, string][] = [[0, "0ns"], [850, "850ns"], [999, "999ns"], [1000, "1.0us"],
    [15000, "15.0us"], [999_949, "999.9us"], [1_000_000, "1.00ms"], [1_250_000, "1.25ms"],
    [2e9, "2.000s"], [-3000, "-3.0us"]];
  for (const [ns, text] of table) assert.equal(formatDurationNs(ns), text, String(ns));
});

test("a complete IPv4 ping: summary, then each hop as [netns] ifname direction src -> dst", () => {
  // The peer namespace has a name (the server learns it from `ip netns`); the host's shows its inode.
  assert.deepEqual(formatPing(firstPing("ping4-host-to-ns", NAMES)).split("\n"), [
    "p-1 complete 10.231.1.1 -> 10.231.1.2 id=4660 seq=1 rtt=15.0us hops=4/4",
    "  [  4026531833]           ppB1-h request 10.231.1.1 -> 10.231.1.2           net_dev_queue      +0ns",
    "  [     ppB1-ns]           ppB1-n request 10.231.1.1 -> 10.231.1.2           netif_rx           +1.0us",
    "  [  4026531833]           ppB1-h request 10.231.1.1 -> 10.231.1.2           net_dev_xmit       +2.0us",
    "  [     ppB1-ns]           ppB1-n request 10.231.1.1 -> 10.231.1.2           netif_receive_skb  +3.0us",
    "  [     ppB1-ns]           ppB1-n   reply 10.231.1.2 -> 10.231.1.1           net_dev_queue      +15.0us",
    "  [  4026531833]           ppB1-h   reply 10.231.1.2 -> 10.231.1.1           netif_rx           +15.0us",
    "  [     ppB1-ns]           ppB1-n   reply 10.231.1.2 -> 10.231.1.1           net_dev_xmit       +16.0us",
    "  [  4026531833]           ppB1-h   reply 10.231.1.2 -> 10.231.1.1           netif_receive_skb  +18.0us",
  ]);
});

test("an IPv6 ping with no namespace names known shows inodes for both sides", () => {
  const lines = formatPing(firstPing("ping6-host-to-ns")).split("\n");
  assert.equal(lines[0], "p-1 complete fd00:231::1 -> fd00:231::2 id=4661 seq=1 rtt=24.0us hops=4/4");
  assert.equal(lines[2], "  [  4026532177]           ppB1-n request fd00:231::1 -> fd00:231::2         netif_rx           +5.0us");
  assert.equal(lines.length, 9);
});

test("a ping dropped by nft names the reason, the kernel function and the last interface", () => {
  const ping = firstPing("ping4-nft-drop", NAMES);
  assert.equal(summarizePing(ping), "p-1 dropped 10.231.1.1 -> 10.231.1.2 id=4664 seq=1 hops=4/0" +
    " (request dropped: NETFILTER_DROP at nft_do_chain+0x3e8/0x610 after ppB1-n)");
  assert.equal(formatPing(ping).split("\n").length, 5);
});

test("one-line summaries of every status", () => {
  const events = fixtureEvents("ping4-host-to-ns");
  const requestOnly = events.slice(5, 9);
  const noReply = run(requestOnly).all.pings[0];
  const replyOnly = run(events.slice(9, 15)).all.pings[0];
  assert.ok(noReply && replyOnly);
  const table: [Ping, string][] = [
    [noReply, "p-1 no-reply 10.231.1.1 -> 10.231.1.2 id=4660 seq=1 hops=4/0"],
    [replyOnly, "p-1 complete 10.231.1.1 -> 10.231.1.2 id=4660 seq=1 hops=0/4 (request not seen)"],
    [firstPing("ping4-ns-to-host"), "p-1 complete 10.231.1.2 -> 10.231.1.1 id=4662 seq=1 rtt=20.0us hops=4/4"],
  ];
  for (const [ping, line] of table) assert.equal(summarizePing(ping), line);
  // A reply freed as NO_SOCKET in ping_rcv was delivered: no drop text on a complete ping.
  assert.equal(replyOnly.reply?.dropped?.reason, "NO_SOCKET");
});

test("a drop by a netfilter rule names the rule, and an answered ICMP error shows its way back", async () => {
  const { ruleDropPing, errorPing } = await import("./support/path-cases.ts");
  assert.equal(summarizePing(ruleDropPing()), "p-1 dropped 10.0.0.2 -> 10.0.1.5 id=77 seq=1 hops=8/0 (request dropped: NETFILTER_DROP by nft inet filter forward after r0)");
  const lines = formatPing(errorPing()).split("\n");
  assert.equal(lines[0], "p-1 error 10.0.0.2 -> 10.0.1.5 id=77 seq=1 hops=4/0");
  assert.equal(lines.length, 9, "the summary, four request hops, four hops of the error back");
  assert.equal(lines[5], "  [  ppU-router]               r0   error 10.0.0.1 -> 10.0.0.2               net_dev_queue      +12.0us");
});

test("a ping's wall-clock time, in the zone asked for and named (UTC when none is)", async () => {
  const { natPing } = await import("./support/path-cases.ts");
  const p = { ...natPing(), at: "2026-12-02T06:34:15.123456Z" };
  assert.equal(summarizePing(p), "p-1 at 2026-12-02 06:34:15.123456 UTC complete 10.0.0.2 -> 10.0.1.5 id=77 seq=1 rtt=61.0us hops=8/8");
  assert.equal(formatPing(p, { timeZone: "Europe/Berlin" }).split("\n")[0],
    "p-1 at 2026-12-02 07:34:15.123456 GMT+1 complete 10.0.0.2 -> 10.0.1.5 id=77 seq=1 rtt=61.0us hops=8/8");
});
