// The path map and waterfall geometry (client/src/draw): exact, deterministic (no clock; text measured
// by estimateTextWidth), snapshotted under test/snapshots/layout-*.json, plus what an SRE relies on
// stated outright: every namespace boxed and named, inside the width; request and reply routes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { layoutMap, M, presentationScale, type PathMap } from "../client/src/draw/layout.ts";
import { layoutWaterfall } from "../client/src/draw/waterfall.ts";
import { estimateTextWidth } from "../client/src/format.ts";
import type { Exchange, Ping } from "../shared/types.ts";
import { EIGHT_NS_NAMES, eightNsPings } from "./support/eight-ns.ts";
import { errorPing, fragmentPing, loopPing, macvlanPing, natPing, neighPing, ruleDropPing, tcpRefused, vxlanPing } from "./support/path-cases.ts";
import { matchSnapshot } from "./support/snapshot.ts";

/** 1920×1080 presentation: the pane is the window less its padding, laid out at 1/scale and drawn scale×. */
const PANE = 1920 - 64 - 2;
const PRESENTATION = Math.floor((PANE - 2) / presentationScale(PANE));
/** 1440×900 with the list beside it. */
const DESK = 1440 - 420 - 36 - 2;

function assertFits(map: PathMap, width: number): void {
  assert.equal(map.width, width, "nothing wider than the pane");
  for (const b of map.boxes) {
    assert.ok(b.x >= 0 && b.x + b.width <= width, `box ${b.label} inside the width`);
    assert.ok(estimateTextWidth(b.label, M.labelFont) <= b.width - 2 * M.padX, `label ${b.label} inside its box`);
  }
  for (const n of map.nodes) assert.ok(n.x - n.width / 2 >= 0 && n.x + n.width / 2 <= width, `node ${n.id} inside the width`);
}

const edgeRows = (map: PathMap): string[] => map.edges.map((e) => `${e.side} ${e.from.split("|")[1] ?? e.from} → ${e.to.split("|")[1] ?? e.to} ${e.label}`);
const notes = (map: PathMap): string[] => map.boxes.flatMap((b) => b.notes.map((n) => `${b.label}: ${n.kind} ${n.text}`));

test("eight namespaces in presentation: eight named boxes in two rows, one node per interface, both routes", async () => {
  const [p1] = await eightNsPings();
  assert.ok(p1);
  const map = layoutMap(p1, { width: PRESENTATION, steps: "devices" });
  assertFits(map, PRESENTATION);
  assert.deepEqual(map.boxes.map((b) => b.label), EIGHT_NS_NAMES);
  assert.deepEqual([...new Set(map.boxes.map((b) => b.row))], [0, 1]);
  assert.equal(map.nodes.length, 14, "client, two per router, server");
  assert.deepEqual(map.sides, ["request", "reply"]);
  // Each veth crossing is one step, not four: 13 steps out, 13 back.
  assert.equal(map.edges.filter((e) => e.side === "request").length, 13);
  assert.equal(map.edges.filter((e) => e.side === "reply").length, 13);
  assert.deepEqual(map.nodes.find((n) => n.ifname === "ppU-r1-1")?.above, ["rx · receive"]);
  assert.deepEqual(map.nodes.find((n) => n.ifname === "ppU-r1-1")?.below, ["queue · xmit"]);
  assert.deepEqual(notes(map), ["ppU-server: turn answered after 10.5 µs"]);
  matchSnapshot("layout-eight-ns-presentation", map);
  const desk = layoutMap(p1, { width: DESK, steps: "devices" });
  assertFits(desk, DESK);
  matchSnapshot("layout-eight-ns-desk", desk);
});

test("eight namespaces, dropped in r5: the mark stands after the last interface, with reason and location", async () => {
  const [, , dropped] = await eightNsPings();
  assert.ok(dropped);
  const map = layoutMap(dropped, { width: PRESENTATION, steps: "devices" });
  const mark = map.nodes.find((n) => n.mark);
  assert.deepEqual(mark?.mark, { kind: "drop", side: "request", label: "dropped: NETFILTER_DROP", detail: "at nft_do_chain+0x46f" });
  assert.equal(mark?.lane, map.boxes.find((b) => b.label === "ppU-r5")?.key);
  assert.deepEqual(map.sides, ["request"]);
  assert.equal(map.edges.at(-1)?.side, "end");
  matchSnapshot("layout-eight-ns-dropped", map);
});

test("waterfall: one row per device hop in causal order, bars from the row before, ticks at round times", async () => {
  const [p1] = await eightNsPings();
  assert.ok(p1);
  const wf = layoutWaterfall(p1, { width: PRESENTATION, steps: "devices" });
  assert.equal(wf.rows.length, 56);
  assert.deepEqual(wf.rows.slice(0, 3).map((r) => [r.where, r.step, r.delta]),
    [["ppU-client · ppU-client-1", "queue", "0 ns"], ["ppU-r1 · ppU-r1-1", "rx", "+5.0 µs"], ["ppU-client · ppU-client-1", "xmit", "+1.8 µs"]]);
  assert.deepEqual(wf.ticks.map((t) => t.label), ["0 ns", "20.0 µs", "40.0 µs", "60.0 µs"]);
  for (const r of wf.rows) assert.ok(r.x0 <= r.x1 && r.x1 <= wf.plotX + wf.plotW);
  matchSnapshot("waterfall-eight-ns", wf);
});

const cases: { name: string; ping: () => Ping | Exchange; steps: "devices" | "all"; notes: string[]; check?: (map: PathMap) => void }[] = [
  { name: "nat", ping: natPing, steps: "devices", notes: ["ppU-router: nat SNAT 10.0.0.2 → 192.0.2.1 at r1", "ppU-router: nat DNAT 192.0.2.1 → 10.0.0.2 at r0",
    "ppU-server: turn answered after 14.0 µs"] },
  { name: "vxlan", ping: vxlanPing, steps: "devices", notes: ["ppU-node1: tunnel vxlan 7: 192.0.2.10 → 192.0.2.20"],
    check: (map) => {
      // node2 wraps to the second row: the tunnel gets a band in each row it crosses.
      assert.deepEqual(map.boxes.map((b) => b.row), [0, 0, 1, 1]);
      assert.deepEqual(map.bands.map((b) => b.text), ["vxlan 7: 192.0.2.10 → 192.0.2.20", "vxlan 7: 192.0.2.10 → 192.0.2.20"]);
      assert.deepEqual(map.edges.filter((e) => e.tunnel).map((e) => `${e.from} → ${e.to}`), ["ns:4026532604|eth0 → ns:4026532605|eth0"]);
    } },
  { name: "loop", ping: loopPing, steps: "devices", notes: ["ppU-server: loop routing loop: request reached ppU-server 4 times, TTL 63 → 57"], check: (map) => assert.deepEqual(edgeRows(map).filter((r) => r.includes("×")), ["request r1 → s0 +3.0 µs ×4", "request s0 → r1 +3.0 µs ×4"]) },
  { name: "rule-drop-devices", ping: ruleDropPing, steps: "devices", notes: [],
    check: (map) => assert.deepEqual(map.nodes.find((n) => n.mark)?.mark, { kind: "drop", side: "request", label: "dropped by nft inet filter forward", detail: "NETFILTER_DROP" }) },
  { name: "rule-drop-every-step", ping: ruleDropPing, steps: "all", notes: [],
    check: (map) => assert.deepEqual(map.nodes.find((n) => n.ifname === "r0")?.above,
      ["rx · receive", "ip rcv", "filter prerouting accept", "forward", "filter forward drop"]) },
  { name: "icmp-error", ping: errorPing, steps: "devices", notes: ["ppU-router: error time to live exceeded from 10.0.0.1", "ppU-router: turn answered after 6.0 µs"],
    check: (map) => assert.deepEqual(map.sides, ["request", "error"]) },
  { name: "neigh-failed", ping: neighPing, steps: "devices", notes: [],
    check: (map) => {
      assert.deepEqual(map.boxes.map((b) => b.label), ["ppU-client"]);
      assert.deepEqual(map.nodes.map((n) => n.mark?.label), ["dropped: NEIGH_FAILED"]);
    } },
  { name: "tcp-refused", ping: tcpRefused, steps: "devices", notes: ["ppU-server: turn answered after 4.0 µs"],
    check: (map) => {
      assert.deepEqual(map.sides, ["request", "reply"]);
      assert.equal(map.nodes.filter((n) => n.mark).length, 0, "refused is an answer, not a drop");
    } },
  { name: "macvlan-devices", ping: macvlanPing, steps: "devices", notes: ["ppU-server: steps no device hop here: see Every step"],
    check: (map) => assert.deepEqual(map.boxes.map((b) => b.label), ["ppU-client", "ppU-router", "ppU-server"], "the container the request reached keeps its box") },
  { name: "macvlan-every-step", ping: macvlanPing, steps: "all", notes: [],
    check: (map) => assert.deepEqual(map.nodes.filter((n) => !n.mark).map((n) => `${n.ifname}: ${n.above.join(" | ")}`),
      ["mv0: queue", "eth0: receive · macvlan", "mv1: ip rcv | local deliver"]) },
  { name: "fragments", ping: fragmentPing, steps: "all", notes: ["ppU-router: fragment split into 3 fragments at r1", "ppU-server: fragment reassembled at s0"] },
];

for (const c of cases) {
  test(`map: ${c.name}`, () => {
    const map = layoutMap(c.ping(), { width: DESK, steps: c.steps });
    assertFits(map, DESK);
    assert.deepEqual(notes(map), c.notes);
    c.check?.(map);
    matchSnapshot(`layout-${c.name}`, map);
  });
}

test("presentation scale grows with the screen: none on a laptop pane, 1.25× at 1920, at most 1.6×", () => {
  assert.deepEqual([1000, 1480, PANE, 2500, 3800].map(presentationScale), [1, 1, 1.25, 1.6, 1.6]);
});

test("the same layout twice is the same geometry (nothing depends on a clock or on state)", async () => {
  const [p1] = await eightNsPings();
  assert.ok(p1);
  assert.deepEqual(layoutMap(p1, { width: DESK, steps: "all" }), layoutMap(p1, { width: DESK, steps: "all" }));
});
