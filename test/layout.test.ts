// Exact geometry of the path view for the shapes an incident review meets: a veth ping into a netns,
// a ping routed through a forwarding namespace, a dropped ping, a ping that got no reply.
// Expected numbers follow from DEFAULT_LAYOUT: column c is centred at x = 150 + 104·(c + ½); lane i's
// centre is y = 56 + 120·i + 60; the request row sits 22 above it, the reply row 22 below.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Hop, Journey, Ping } from "../shared/types.ts";
import { layoutPath } from "../client/src/draw/layout.ts";
import { formatDeltaNs, formatDurationNs } from "../client/src/format.ts";

const HOST = 4026531833;
const NS = 4026532500;

function hop(event: string, ifname: string, netns: number | undefined, tNs: number, netnsName?: string): Hop {
  const h: Hop = { event, ifname, tNs, len: event.startsWith("net_dev") ? 98 : 84 };
  if (netns !== undefined) h.netns = netns;
  if (netnsName) h.netnsName = netnsName;
  return h;
}

function journey(id: string, hops: Hop[], dropped?: Journey["dropped"]): Journey {
  const j: Journey = { id, skbaddr: "0xffff88810913b600", hops };
  if (dropped) j.dropped = dropped;
  return j;
}

function ping(status: Ping["status"], request?: Journey, reply?: Journey): Ping {
  const p: Ping = { id: "p-1", family: 4, src: "10.231.1.1", dst: "10.231.1.2", icmpId: 5223, seq: 1, status };
  if (request) p.request = request;
  if (reply) p.reply = reply;
  return p;
}

// Timings of a real veth ping (test/fixtures/tracefs/ping4-host-to-ns.txt), relative to its first hop.
const veth = ping("complete",
  journey("j-1", [
    hop("net_dev_queue", "ppB1-h", HOST, 0), hop("netif_rx", "ppB1-n", NS, 18_000, "ppC1-ns"),
    hop("net_dev_xmit", "ppB1-h", HOST, 26_000), hop("netif_receive_skb", "ppB1-n", NS, 28_000, "ppC1-ns"),
  ]),
  journey("j-2", [
    hop("net_dev_queue", "ppB1-n", NS, 39_000, "ppC1-ns"), hop("netif_rx", "ppB1-h", HOST, 40_000),
    hop("net_dev_xmit", "ppB1-n", NS, 40_000, "ppC1-ns"), hop("netif_receive_skb", "ppB1-h", HOST, 49_000),
  ]));

const A = 101, R = 102, B = 103;
/** veth a0 (ns a) ↔ r0 (router), router forwards to r1 ↔ b0 (ns b); the reply comes back the same way. */
function leg(out: string, outNs: number, inn: string, innNs: number, t0: number): Hop[] {
  const name = (n: number): string => ({ [A]: "ppC1-a", [R]: "ppC1-r", [B]: "ppC1-b" })[n] ?? "?";
  return [hop("net_dev_queue", out, outNs, t0, name(outNs)), hop("netif_rx", inn, innNs, t0 + 3_000, name(innNs)),
    hop("net_dev_xmit", out, outNs, t0 + 4_000, name(outNs)), hop("netif_receive_skb", inn, innNs, t0 + 6_000, name(innNs))];
}
const routed = ping("complete",
  journey("j-1", [...leg("a0", A, "r0", R, 0), ...leg("r1", R, "b0", B, 20_000)]),
  journey("j-2", [...leg("b0", B, "r1", R, 40_000), ...leg("r0", R, "a0", A, 55_000)]));

const dropped = ping("dropped", journey("j-1", [
  hop("net_dev_queue", "ppB1-h", HOST, 0), hop("netif_rx", "ppB1-n", NS, 4_000, "ppC1-ns"),
  hop("net_dev_xmit", "ppB1-h", HOST, 5_000), hop("netif_receive_skb", "ppB1-n", NS, 7_000, "ppC1-ns"),
], { reason: "NETFILTER_DROP", location: "nft_do_chain+0x3e8/0x610" }));

const noReply = ping("no-reply", journey("j-1", [hop("net_dev_queue", "eth0", HOST, 0), hop("net_dev_xmit", "eth0", HOST, 12_500)]));

const droppedBeforeAnyHop = ping("dropped", journey("j-1", [], { reason: "NETFILTER_DROP" }));

type NodeRow = [id: string, x: number, y: number, label: string, side: string, lane: string];
type EdgeRow = [from: string, to: string, label: string, side: string];

interface Case {
  name: string;
  ping: Ping;
  width: number;
  height: number;
  lanes: [key: string, label: string, y: number][];
  nodes: NodeRow[];
  edges: EdgeRow[];
  drop?: { x: number; y: number; label: string; detail?: string; from?: string };
  noReply?: { x: number; y: number; label: string };
}

const cases: Case[] = [
  {
    name: "veth ping into a netns: two lanes, the path zigzags as the kernel ran it",
    ping: veth, width: 150 + 8 * 104 + 24, height: 56 + 2 * 120 + 16,
    lanes: [[String(HOST), `netns ${HOST}`, 116], [String(NS), "ppC1-ns", 236]],
    nodes: [
      ["request-0", 202, 94, "ppB1-h", "request", String(HOST)], ["request-1", 306, 214, "ppB1-n", "request", String(NS)],
      ["request-2", 410, 94, "ppB1-h", "request", String(HOST)], ["request-3", 514, 214, "ppB1-n", "request", String(NS)],
      ["reply-0", 618, 258, "ppB1-n", "reply", String(NS)], ["reply-1", 722, 138, "ppB1-h", "reply", String(HOST)],
      ["reply-2", 826, 258, "ppB1-n", "reply", String(NS)], ["reply-3", 930, 138, "ppB1-h", "reply", String(HOST)],
    ],
    edges: [
      ["request-0", "request-1", "+18 µs", "request"], ["request-1", "request-2", "+8.0 µs", "request"],
      ["request-2", "request-3", "+2.0 µs", "request"], ["request-3", "reply-0", "+11 µs", "turn"],
      ["reply-0", "reply-1", "+1.0 µs", "reply"], ["reply-1", "reply-2", "+0.0 µs", "reply"],
      ["reply-2", "reply-3", "+9.0 µs", "reply"],
    ],
  },
  {
    name: "routed through a forwarding namespace: three lanes, sixteen hops",
    ping: routed, width: 150 + 16 * 104 + 24, height: 56 + 3 * 120 + 16,
    lanes: [["101", "ppC1-a", 116], ["102", "ppC1-r", 236], ["103", "ppC1-b", 356]],
    nodes: [
      ["request-0", 202, 94, "a0", "request", "101"], ["request-1", 306, 214, "r0", "request", "102"],
      ["request-2", 410, 94, "a0", "request", "101"], ["request-3", 514, 214, "r0", "request", "102"],
      ["request-4", 618, 214, "r1", "request", "102"], ["request-5", 722, 334, "b0", "request", "103"],
      ["request-6", 826, 214, "r1", "request", "102"], ["request-7", 930, 334, "b0", "request", "103"],
      ["reply-0", 1034, 378, "b0", "reply", "103"], ["reply-1", 1138, 258, "r1", "reply", "102"],
      ["reply-2", 1242, 378, "b0", "reply", "103"], ["reply-3", 1346, 258, "r1", "reply", "102"],
      ["reply-4", 1450, 258, "r0", "reply", "102"], ["reply-5", 1554, 138, "a0", "reply", "101"],
      ["reply-6", 1658, 258, "r0", "reply", "102"], ["reply-7", 1762, 138, "a0", "reply", "101"],
    ],
    edges: [
      ["request-0", "request-1", "+3.0 µs", "request"], ["request-1", "request-2", "+1.0 µs", "request"],
      ["request-2", "request-3", "+2.0 µs", "request"], ["request-3", "request-4", "+14 µs", "request"],
      ["request-4", "request-5", "+3.0 µs", "request"], ["request-5", "request-6", "+1.0 µs", "request"],
      ["request-6", "request-7", "+2.0 µs", "request"], ["request-7", "reply-0", "+14 µs", "turn"],
      ["reply-0", "reply-1", "+3.0 µs", "reply"], ["reply-1", "reply-2", "+1.0 µs", "reply"],
      ["reply-2", "reply-3", "+2.0 µs", "reply"], ["reply-3", "reply-4", "+9.0 µs", "reply"],
      ["reply-4", "reply-5", "+3.0 µs", "reply"], ["reply-5", "reply-6", "+1.0 µs", "reply"],
      ["reply-6", "reply-7", "+2.0 µs", "reply"],
    ],
  },
  {
    name: "dropped by nftables in the netns: a drop mark one column after the last hop, room for its text",
    // The drop text starts 10 px left of the mark (x 618); its wider line, 27 chars at 12 px ≈ 195 px,
    // ends at 803, past the last column.
    ping: dropped, width: 608 + 195 + 24, height: 56 + 2 * 120 + 16,
    lanes: [[String(HOST), `netns ${HOST}`, 116], [String(NS), "ppC1-ns", 236]],
    nodes: [
      ["request-0", 202, 94, "ppB1-h", "request", String(HOST)], ["request-1", 306, 214, "ppB1-n", "request", String(NS)],
      ["request-2", 410, 94, "ppB1-h", "request", String(HOST)], ["request-3", 514, 214, "ppB1-n", "request", String(NS)],
    ],
    edges: [
      ["request-0", "request-1", "+4.0 µs", "request"], ["request-1", "request-2", "+1.0 µs", "request"],
      ["request-2", "request-3", "+2.0 µs", "request"],
    ],
    drop: { x: 618, y: 214, label: "dropped: NETFILTER_DROP", detail: "at nft_do_chain+0x3e8/0x610", from: "request-3" },
  },
  {
    name: "no reply: a ghost mark where the reply should have started",
    ping: noReply, width: 150 + 3 * 104 + 24, height: 56 + 120 + 16,
    lanes: [[String(HOST), `netns ${HOST}`, 116]],
    nodes: [["request-0", 202, 94, "eth0", "request", String(HOST)], ["request-1", 306, 94, "eth0", "request", String(HOST)]],
    edges: [["request-0", "request-1", "+13 µs", "request"]],
    noReply: { x: 410, y: 94, label: "no reply" },
  },
  {
    name: "dropped before its first hop: one unknown lane, the drop in the first column",
    // "dropped: NETFILTER_DROP" is 23 chars ≈ 166 px, from x 192.
    ping: droppedBeforeAnyHop, width: 192 + 166 + 24, height: 56 + 120 + 16,
    lanes: [["?", "netns ?", 116]],
    nodes: [],
    edges: [],
    drop: { x: 202, y: 94, label: "dropped: NETFILTER_DROP" },
  },
];

for (const c of cases) {
  test(`layoutPath: ${c.name}`, () => {
    const out = layoutPath(c.ping);
    assert.equal(out.width, c.width);
    assert.equal(out.height, c.height);
    assert.deepEqual(out.lanes.map((l) => [l.key, l.label, l.y]), c.lanes);
    assert.deepEqual(out.nodes.map((n) => [n.id, n.x, n.y, n.label, n.side, n.lane]), c.nodes);
    assert.deepEqual(out.edges.map((e) => [e.from, e.to, e.label, e.side]), c.edges);
    const d = out.drop;
    assert.deepEqual(d && { x: d.x, y: d.y, label: d.label, ...(d.detail ? { detail: d.detail } : {}), ...(d.from ? { from: d.from } : {}) }, c.drop);
    if (d) assert.equal(d.textX, d.x - 10);
    assert.deepEqual(out.noReply && { x: out.noReply.x, y: out.noReply.y, label: out.noReply.label }, c.noReply);
  });
}

test("layoutPath: node text goes where the edges do not climb in", () => {
  // veth: each hop's neighbours sit in the other lane, so text flips to the free side; a level
  // neighbour (eth0 → eth0) keeps the row's default, request text above.
  assert.deepEqual(layoutPath(veth).nodes.map((n) => n.labelAt),
    ["above", "below", "above", "below", "below", "above", "below", "above"]);
  assert.deepEqual(layoutPath(noReply).nodes.map((n) => n.labelAt), ["above", "above"]);
});

test("layoutPath is deterministic and does not touch its input", () => {
  const before = JSON.stringify(routed);
  assert.deepEqual(layoutPath(routed), layoutPath(routed));
  assert.equal(JSON.stringify(routed), before);
});

test("layoutPath: a name on any hop names the lane; options move the geometry", () => {
  const out = layoutPath(veth, { colWidth: 50, marginLeft: 0, marginTop: 0, laneHeight: 100, rowOffset: 10 });
  assert.deepEqual(out.lanes.map((l) => [l.label, l.y, l.top, l.height]), [[`netns ${HOST}`, 50, 0, 100], ["ppC1-ns", 150, 100, 100]]);
  assert.deepEqual(out.nodes.slice(0, 2).map((n) => [n.x, n.y, n.eventLabel, n.event]),
    [[25, 40, "queue", "net_dev_queue"], [75, 140, "rx", "netif_rx"]]);
});

test("duration formatting: µs under a millisecond, then ms, then s; deltas are signed", () => {
  const rows: [number, string][] = [[0, "0.0 µs"], [1_234, "1.2 µs"], [9_949, "9.9 µs"], [10_000, "10 µs"],
    [52_499, "52 µs"], [999_499, "999 µs"], [1_000_000, "1.00 ms"], [2_345_678, "2.35 ms"], [3_500_000_000, "3.50 s"]];
  for (const [ns, text] of rows) assert.equal(formatDurationNs(ns), text, `${ns} ns`);
  assert.equal(formatDeltaNs(1_500), "+1.5 µs");
  assert.equal(formatDeltaNs(-1_500), "−1.5 µs");
});

test("layoutPath: a delivered reply freed as NO_SOCKET at ping_rcv is no drop; a dropped reply is", () => {
  const reply = (status: Ping["status"], reason: string): Ping => {
    const rep = journey("j-2", veth.reply?.hops ?? [], { reason, location: "ping_rcv+0xab/0xd0" });
    rep.packet = { family: 4, proto: "icmp", src: veth.dst, dst: veth.src, icmp: { type: 0, id: 5223, seq: 1 } };
    return { ...veth, status, reply: rep };
  };
  const delivered = layoutPath(reply("complete", "NO_SOCKET"));
  assert.equal(delivered.drop, undefined);
  assert.equal(delivered.width, 150 + 8 * 104 + 24);
  const lost = layoutPath(reply("dropped", "NETFILTER_DROP"));
  // After the last reply hop (ppB1-h, host lane, reply row y = 116 + 22), in column 8.
  assert.deepEqual([lost.drop?.x, lost.drop?.y, lost.drop?.label, lost.drop?.side], [150 + 8.5 * 104, 138, "dropped: NETFILTER_DROP", "reply"]);
});
