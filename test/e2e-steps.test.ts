// Inside each namespace (issue "Inside each namespace"): the stack's steps, the netfilter chain that
// decided, and drops before any device. An unanswered ARP, two macvlan containers on one parent, a
// routing loop between two routers, a drop by a named nft chain and by an iptables-legacy table.
// Each through `pktpath trace --json` on the real kernel; exact steps, reasons and rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Journey, Ping } from "../shared/types.ts";
import { hostNetnsInode, Topology } from "./lib/netns.ts";
import { TraceChild } from "./lib/trace.ts";

const skip = process.getuid?.() !== 0 && "needs root: loads BPF and creates network namespaces";

function steps(j: Journey | undefined): string[] {
  return (j?.hops ?? []).filter((h) => !(h.netfilter && h.netns === hostNetnsInode())).map((h) => `${h.event} ${h.ifname} ${h.netnsName}`);
}

async function traced(args: string[], traffic: () => void, settleMs = 2500): Promise<Ping[]> {
  const trace = await TraceChild.start(args);
  try {
    traffic();
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    await trace.stop();
  }
  return trace.pings;
}

const tryRun = (f: () => void): void => {
  try {
    f();
  } catch {
    // not answered: the point of the test
  }
};

test("a neighbour that never answers ARP: the echo waits in the neighbour queue, then is dropped NEIGH_FAILED in the sender's namespace", { skip }, async (t) => {
  const topo = new Topology("ppS1");
  t.after(() => topo.destroy());
  topo.netns("a");
  topo.netns("b");
  topo.veth({ ns: "a", name: "a0" }, { ns: "b", name: "b0" });
  topo.addr({ ns: "a", name: "a0" }, "10.64.1.2/24");
  const P = topo.prefix;
  const pings = await traced([], () => tryRun(() => topo.exec("a", "ping", "-c", "1", "-W", "1", "10.64.1.99")), 5000);
  const ours = pings.filter((p) => p.dst === "10.64.1.99");
  assert.deepEqual(ours.map((p) => p.status), ["dropped"]);
  const p = ours[0]!;
  // Sent, then queued on a0 until ARP for 10.64.1.99 resolves: it never does.
  assert.deepEqual(steps(p.request), [`__ip_local_out ${P}-a0 ${P}-a`, `ip_output ${P}-a0 ${P}-a`, `neigh_resolve_output ${P}-a0 ${P}-a`]);
  assert.deepEqual(p.request!.hops[2]!.neighbour, { address: "10.64.1.99", state: "INCOMPLETE" });
  assert.deepEqual([p.request!.dropped!.reason, p.request!.dropped!.location?.replace(/\+.*/, "")], ["NEIGH_FAILED", "neigh_invalidate"]);
  // About three seconds later (the neighbour's retries), before any device saw it.
  const waitedNs = (p.request!.hops.at(-1)!.tNs - p.request!.hops[0]!.tNs);
  assert.ok(waitedNs < 1e6, "queued at once");
  // The sender's own host tells ping so (what ping prints): kept with the drop.
  assert.deepEqual([p.error?.from, p.error?.type, p.error?.code, p.error?.text], ["10.64.1.2", 3, 1, "Destination Host Unreachable"]);
});

test("two macvlan containers on one parent (bridge mode): the echo enters the destination's namespace through the parent's handler", { skip }, async (t) => {
  const topo = new Topology("ppS2");
  t.after(() => topo.destroy());
  for (const ns of ["node", "wire", "c1", "c2"]) topo.netns(ns);
  topo.veth({ ns: "node", name: "p" }, { ns: "wire", name: "w" });
  for (const [m, c, addr] of [["m1", "c1", "10.65.0.1/24"], ["m2", "c2", "10.65.0.2/24"]] as const) {
    topo.link("node", "link", "add", topo.n(m), "link", topo.n("p"), "type", "macvlan", "mode", "bridge");
    topo.link("node", "link", "set", topo.n(m), "netns", topo.n(c));
    topo.addr({ ns: c, name: m }, addr);
    topo.link(c, "link", "set", topo.n(m), "up");
  }
  topo.exec("c1", "ping", "-c", "1", "-W", "1", "10.65.0.2");
  const P = topo.prefix;
  const pings = await traced([], () => topo.exec("c1", "ping", "-c", "1", "-W", "1", "10.65.0.2"));
  const ours = pings.filter((p) => p.src === "10.65.0.1");
  assert.deepEqual(ours.map((p) => [p.status, p.dst]), [["complete", "10.65.0.2"]]);
  // macvlan's bridge mode forwards to the parent, whose receive handler hands the frame to m2 with no
  // receive tracepoint of its own: the stack's first step in c2 shows it arrived.
  const via = (from: string, fromNs: string, to: string, toNs: string) => [`__ip_local_out ${P}-${from} ${P}-${fromNs}`,
    `ip_output ${P}-${from} ${P}-${fromNs}`, `net_dev_queue ${P}-${from} ${P}-${fromNs}`, `netif_rx ${P}-p ${P}-node`,
    `net_dev_xmit ${P}-${from} ${P}-${fromNs}`, `netif_receive_skb ${P}-p ${P}-node`, `macvlan_handle_frame ${P}-p ${P}-node`,
    `ip_rcv ${P}-${to} ${P}-${toNs}`, `ip_local_deliver ${P}-${to} ${P}-${toNs}`];
  assert.deepEqual(steps(ours[0]!.request), via("m1", "c1", "m2", "c2"));
  assert.deepEqual(steps(ours[0]!.reply), via("m2", "c2", "m1", "c1"));
});

test("a routing loop between two routers: the same namespaces passed again and again with a falling TTL, until time exceeded", { skip }, async (t) => {
  const topo = new Topology("ppS3");
  t.after(() => topo.destroy());
  for (const ns of ["a", "r1", "r2"]) topo.netns(ns);
  topo.veth({ ns: "a", name: "a0" }, { ns: "r1", name: "r1a" });
  topo.veth({ ns: "r1", name: "r12" }, { ns: "r2", name: "r21" });
  topo.addr({ ns: "a", name: "a0" }, "10.66.1.2/24");
  topo.addr({ ns: "r1", name: "r1a" }, "10.66.1.1/24");
  topo.addr({ ns: "r1", name: "r12" }, "10.66.12.1/24");
  topo.addr({ ns: "r2", name: "r21" }, "10.66.12.2/24");
  topo.route("a", "10.66.9.0/24", "10.66.1.1");
  // Each router sends 10.66.9.0/24 to the other.
  topo.route("r1", "10.66.9.0/24", "10.66.12.2");
  topo.route("r2", "10.66.9.0/24", "10.66.12.1");
  topo.route("r2", "10.66.1.0/24", "10.66.12.1");
  topo.forwarding("r1");
  topo.forwarding("r2");
  topo.exec("a", "ping", "-c", "1", "-W", "1", "10.66.1.1");
  const P = topo.prefix;
  const pings = await traced([], () => tryRun(() => topo.exec("a", "ping", "-c", "1", "-t", "6", "-W", "1", "10.66.9.9")));
  const ours = pings.filter((p) => p.dst === "10.66.9.9");
  assert.deepEqual(ours.map((p) => [p.status, p.error?.text]), [["error", "Time to live exceeded"]]);
  const p = ours[0]!;
  // One skb the whole way round: r1, r2, r1, ... each forwarding one TTL lower, until r? finds it at 1.
  const forwards = p.request!.hops.filter((h) => h.event === "ip_forward").map((h) => `${h.netnsName} ${h.ttl}`);
  assert.deepEqual(forwards, [`${P}-r1 5`, `${P}-r2 4`, `${P}-r1 3`, `${P}-r2 2`, `${P}-r1 1`]);
  assert.deepEqual([p.request!.dropped?.reason, p.request!.dropped?.location?.replace(/\+.*/, "")], ["IP_INHDR", "ip_forward"]);
  assert.equal(p.error!.from, "10.66.12.2", "the router that found it expired (r2, on the link it came in by)");
  assert.equal(steps(p.request).length, p.request!.hops.length);
});

test("drops by a named nft chain and by an iptables-legacy table: the rule is named, the chain's step says drop", { skip }, async (t) => {
  const topo = new Topology("ppS4");
  t.after(() => topo.destroy());
  for (const ns of ["a", "r", "b"]) topo.netns(ns);
  topo.veth({ ns: "a", name: "a0" }, { ns: "r", name: "ra" });
  topo.veth({ ns: "r", name: "rb" }, { ns: "b", name: "b0" });
  topo.addr({ ns: "a", name: "a0" }, "10.67.1.2/24");
  topo.addr({ ns: "r", name: "ra" }, "10.67.1.1/24");
  topo.addr({ ns: "r", name: "rb" }, "10.67.2.1/24");
  topo.addr({ ns: "b", name: "b0" }, "10.67.2.2/24");
  topo.route("a", "10.67.2.0/24", "10.67.1.1");
  topo.route("b", "10.67.1.0/24", "10.67.2.1");
  topo.forwarding("r");
  topo.exec("a", "ping", "-c", "1", "-W", "1", "10.67.2.2");
  const P = topo.prefix;
  topo.nft("r", `table inet ${P}_filter {\n chain forward { type filter hook forward priority -10; policy accept; icmp type echo-request icmp sequence 1 drop; }\n}`);
  // seq 2 passes nft; the legacy FORWARD chain drops it.
  topo.exec("r", "iptables-legacy", "-A", "FORWARD", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP");
  const pings = await traced([], () => tryRun(() => topo.exec("a", "ping", "-c", "2", "-i", "0.3", "-W", "1", "10.67.2.2")), 3000);
  const ours = pings.filter((p) => p.dst === "10.67.2.2");
  assert.deepEqual(ours.map((p) => [p.seq, p.status, p.request?.dropped?.reason, p.request?.dropped?.rule]), [
    [1, "dropped", "NETFILTER_DROP", `inet ${P}_filter forward`],
    [2, "dropped", "NETFILTER_DROP", "iptables filter FORWARD"],
  ]);
  const verdicts = (p: Ping) => p.request!.hops.filter((h) => h.netfilter).map((h) => `${h.event} ${h.netfilter!.family} ${h.netfilter!.table} ${h.netfilter!.chain} ${h.netfilter!.hook} ${h.netfilter!.verdict}`);
  // seq 1: the nft chain (priority -10) drops it; seq 2: it passes there, and the legacy table (priority 0) drops it.
  assert.deepEqual(verdicts(ours[0]!), [`nft_do_chain inet ${P}_filter forward forward drop`]);
  assert.deepEqual(verdicts(ours[1]!), [`nft_do_chain inet ${P}_filter forward forward accept`, "ipt_do_table iptables filter FORWARD forward drop"]);
  for (const p of ours) assert.deepEqual(steps(p.request).slice(-2).map((x) => x.split(" ")[0]), [p.seq === 1 ? "ip_forward" : "nft_do_chain", p.seq === 1 ? "nft_do_chain" : "ipt_do_table"]);
});
