// Lanes, path steps and drop points of pings correlated from the real veth recordings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dropPointOf, lanesOf, pathOf } from "../shared/topology.ts";
import type { Ping } from "../shared/types.ts";
import { fixtureEvents, HOST_NS, PEER_NS, run } from "./support/cases.ts";

const HOST = { key: `ns:${HOST_NS}`, name: String(HOST_NS), netns: HOST_NS };
const PEER = { key: `ns:${PEER_NS}`, name: "ppB1-ns", netns: PEER_NS };
const pingsOf = (name: string): Ping[] => run(fixtureEvents(name, { [PEER_NS]: "ppB1-ns" })).all.pings;

test("lanes: one per namespace in order of first appearance, named when a name is known", () => {
  const [host2ns] = pingsOf("ping4-host-to-ns");
  const [ns2host] = pingsOf("ping4-ns-to-host");
  assert.ok(host2ns && ns2host);
  assert.deepEqual(lanesOf(host2ns), [HOST, PEER]);
  assert.deepEqual(lanesOf(ns2host), [PEER, HOST]);
});

test("lanes: a name learned on a later hop names the lane; hops without netns share one lane", () => {
  const [ping] = pingsOf("ping4-host-to-ns");
  assert.ok(ping?.request && ping.reply);
  const unnamed = (p: Ping): Ping => ({ ...p, request: p.request && { ...p.request,
    hops: p.request.hops.map(({ netnsName: _n, ...h }) => h) } });
  assert.deepEqual(lanesOf(unnamed(ping)).map((l) => l.name), [String(HOST_NS), "ppB1-ns"]);
  const bare = (p: Ping): Ping => ({ ...p, request: p.request && { ...p.request,
    hops: p.request.hops.map(({ event, ifname, tNs, len }) => ({ event, ifname, tNs, len })) }, reply: undefined });
  assert.deepEqual(lanesOf(bare(ping)), [{ key: "ns:?", name: "?" }]);
});

test("path: request then reply hops with the time since the previous step", () => {
  const [ping] = pingsOf("ping4-host-to-ns");
  assert.ok(ping);
  const rows = pathOf(ping).map((s) => [s.side, s.lane.name, s.ifname, s.event, s.tNs, s.dtNs, s.len]);
  assert.deepEqual(rows, [
    ["request", String(HOST_NS), "ppB1-h", "net_dev_queue", 75000, 0, 98],
    ["request", "ppB1-ns", "ppB1-n", "netif_rx", 76000, 1000, 84],
    ["request", String(HOST_NS), "ppB1-h", "net_dev_xmit", 77000, 1000, 98],
    ["request", "ppB1-ns", "ppB1-n", "netif_receive_skb", 78000, 1000, 84],
    ["reply", "ppB1-ns", "ppB1-n", "net_dev_queue", 90000, 12000, 98],
    ["reply", String(HOST_NS), "ppB1-h", "netif_rx", 90000, 0, 84],
    ["reply", "ppB1-ns", "ppB1-n", "net_dev_xmit", 91000, 1000, 98],
    ["reply", String(HOST_NS), "ppB1-h", "netif_receive_skb", 93000, 2000, 84],
  ]);
  assert.deepEqual(pathOf(ping).map((s) => s.lane.key), [HOST, PEER, HOST, PEER, PEER, HOST, PEER, HOST].map((l) => l.key));
  assert.deepEqual(pathOf(ping)[1]?.lane, PEER);
});

test("drop point: the nft drop in the netns, after the request's last hop", () => {
  const [ping] = pingsOf("ping4-nft-drop");
  assert.ok(ping);
  assert.deepEqual(dropPointOf(ping), { side: "request", reason: "NETFILTER_DROP",
    location: "nft_do_chain+0x3e8/0x610", lane: PEER, ifname: "ppB1-n", tNs: 8000 });
});

test("drop point: none for a complete ping whose reply the kernel freed as NO_SOCKET", () => {
  const [ping] = pingsOf("ping4-host-to-ns");
  assert.ok(ping);
  assert.equal(ping.reply?.dropped?.reason, "NO_SOCKET");
  assert.equal(dropPointOf(ping), undefined);
});
