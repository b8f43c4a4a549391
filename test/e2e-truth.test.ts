// One packet, one journey, on the paths real hosts take (issue "One packet, one journey"): a
// masquerading router, a container behind a bridge in the host's namespace masqueraded out, a VXLAN
// overlay between two nodes, echoes over the MTU (IPv4 and IPv6), TTL 1 through a router and an nft
// reject. Each through `pktpath trace --json` on the real kernel; exact outcomes per echo sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Hop, Journey, Ping } from "../shared/types.ts";
import { hostNetnsInode, sh, Topology, vxlanOverlay } from "./lib/netns.ts";
import { TraceChild } from "./lib/trace.ts";

const skip = process.getuid?.() !== 0 && "needs root: loads BPF and creates network namespaces";

/** "event ifname netnsName" per hop, the host namespace's own chains left out (this machine's firewall). */
function steps(j: Journey | undefined, host = hostNetnsInode()): string[] {
  return (j?.hops ?? []).filter((h) => !(h.netfilter && h.netns === host && !h.netfilter.table.includes("ppT")))
    .map((h) => `${h.event} ${h.ifname} ${h.netnsName}`);
}

/** Where a hop's header differs from the journey's first: "event ifname src>dst". */
function rewrites(j: Journey | undefined): string[] {
  return (j?.hops ?? []).filter((h) => h.packet).map((h) => `${h.event} ${h.ifname} ${h.packet!.src}>${h.packet!.dst}`);
}

/** Runs `trace ARGS` around traffic; returns every ping it printed within the time given. */
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
    // the echo is not answered (a drop, an error): the point of the test
  }
};

/** a — r — b routed, r masquerading out of rb: a is 10.60.1.2, r 10.60.1.1 and 198.18.60.1, b 198.18.60.2. */
function masqueradingRouter(topo: Topology): void {
  for (const ns of ["a", "r", "b"]) topo.netns(ns);
  topo.veth({ ns: "a", name: "a0" }, { ns: "r", name: "ra" });
  topo.veth({ ns: "r", name: "rb" }, { ns: "b", name: "b0" });
  topo.addr({ ns: "a", name: "a0" }, "10.60.1.2/24");
  topo.addr({ ns: "r", name: "ra" }, "10.60.1.1/24");
  topo.addr({ ns: "r", name: "rb" }, "198.18.60.1/24");
  topo.addr({ ns: "b", name: "b0" }, "198.18.60.2/24");
  topo.link("a", "route", "add", "default", "via", "10.60.1.1");
  topo.forwarding("r");
  topo.nft("r", `table ip ${topo.prefix}_nat {\n chain post { type nat hook postrouting priority srcnat; oifname "${topo.n("rb")}" masquerade; }\n}`);
  topo.exec("a", "ping", "-c", "1", "-W", "1", "198.18.60.2");
}

for (const args of [[], ["--proto", "any"]]) {
  test(`a masquerading router: one ping per echo, the rewrite at the nat chain, the reply paired after NAT${args.length ? " (--proto any)" : ""}`, { skip }, async (t) => {
    const topo = new Topology(args.length ? "ppT1b" : "ppT1");
    t.after(() => topo.destroy());
    masqueradingRouter(topo);
    const pings = await traced(args, () => topo.exec("a", "ping", "-c", "2", "-i", "0.2", "-W", "1", "198.18.60.2"));
    const ours = pings.filter((p) => p.dst === "198.18.60.2" || p.src === "198.18.60.2" || p.dst === "198.18.60.1");
    assert.deepEqual(ours.map((p) => [p.status, p.src, p.dst, p.seq]), [["complete", "10.60.1.2", "198.18.60.2", 1], ["complete", "10.60.1.2", "198.18.60.2", 2]]);
    const P = topo.prefix;
    const p = ours[0]!;
    assert.deepEqual(steps(p.request), [
      `__ip_local_out ${P}-a0 ${P}-a`, `ip_output ${P}-a0 ${P}-a`, `net_dev_queue ${P}-a0 ${P}-a`, `netif_rx ${P}-ra ${P}-r`,
      `net_dev_xmit ${P}-a0 ${P}-a`, `netif_receive_skb ${P}-ra ${P}-r`, `ip_rcv ${P}-ra ${P}-r`, `ip_forward ${P}-ra ${P}-r`,
      `ip_output ${P}-rb ${P}-r`, `nft_do_chain ${P}-rb ${P}-r`, `net_dev_queue ${P}-rb ${P}-r`, `netif_rx ${P}-b0 ${P}-b`,
      `net_dev_xmit ${P}-rb ${P}-r`, `netif_receive_skb ${P}-b0 ${P}-b`, `ip_rcv ${P}-b0 ${P}-b`, `ip_local_deliver ${P}-b0 ${P}-b`,
    ]);
    // The chain that rewrote it, and the header from there on: one journey, its header changed.
    const nat = p.request!.hops.find((h) => h.event === "nft_do_chain")!;
    assert.deepEqual(nat.netfilter, { family: "ip", table: `${P}_nat`, chain: "post", hook: "postrouting", verdict: "masquerade" });
    assert.deepEqual(rewrites(p.request), [`nft_do_chain ${P}-rb 198.18.60.1>198.18.60.2`, `net_dev_queue ${P}-rb 198.18.60.1>198.18.60.2`,
      `netif_rx ${P}-b0 198.18.60.1>198.18.60.2`, `netif_receive_skb ${P}-b0 198.18.60.1>198.18.60.2`, `ip_rcv ${P}-b0 198.18.60.1>198.18.60.2`,
      `ip_local_deliver ${P}-b0 198.18.60.1>198.18.60.2`]);
    // The reply goes to the router's address and is un-NATed on its way through it.
    assert.deepEqual([p.reply?.packet?.src, p.reply?.packet?.dst], ["198.18.60.2", "198.18.60.1"]);
    assert.deepEqual(rewrites(p.reply).slice(0, 1), [`ip_forward ${P}-rb 198.18.60.2>10.60.1.2`]);
    assert.equal(p.reply!.hops.at(-1)?.netnsName, `${P}-a`);
  });
}

// The reply is judged again where its header changes: turned away by `--host` in b and on its way
// into r (it is addressed to r), it is taken from where r's conntrack un-NATs it to a's address. The
// kernel's memory of rejected skbs (one parse per packet, not one per hop) must not hide it then.
test("a masquerading router with --host the client: the reply captured from the hop that un-NATs it", { skip }, async (t) => {
  const topo = new Topology("ppT1c");
  t.after(() => topo.destroy());
  masqueradingRouter(topo);
  const pings = await traced(["--host", "10.60.1.2"], () => topo.exec("a", "ping", "-c", "2", "-i", "0.2", "-W", "1", "198.18.60.2"));
  const ours = pings.filter((p) => p.dst === "198.18.60.2" || p.src === "198.18.60.2" || p.dst === "198.18.60.1");
  assert.deepEqual(ours.map((p) => [p.status, p.src, p.dst, p.seq]), [["complete", "10.60.1.2", "198.18.60.2", 1], ["complete", "10.60.1.2", "198.18.60.2", 2]]);
  const P = topo.prefix;
  for (const p of ours) {
    // the whole request: it matched at its first hop and is followed past the rewrite
    assert.equal(p.request!.hops.at(-1)?.event, "ip_local_deliver");
    assert.equal(p.request!.hops.at(-1)?.netnsName, `${P}-b`);
    const reply = steps(p.reply);
    assert.ok(!reply.some((s) => s.endsWith(` ${P}-b`)), `no reply hop in b, where its header does not match: ${reply.join(", ")}`);
    assert.equal(p.reply!.hops[0]?.netnsName, `${P}-r`);
    assert.equal(p.reply!.packet?.dst, "10.60.1.2", "the reply's first hop is past the un-NAT");
    assert.equal(p.reply!.hops.at(-1)?.netnsName, `${P}-a`);
  }
});

test("a container behind a bridge in the host's namespace, masqueraded out to another host (Docker's default)", { skip }, async (t) => {
  const topo = new Topology("ppT2");
  const P = topo.prefix;
  // Forwarding is switched on for the two devices that take part only, not for the whole host.
  const sysctls = [`net.ipv4.conf.${P}-br.forwarding`, `net.ipv4.conf.${P}-up.forwarding`];
  t.after(() => topo.destroy());
  topo.netns("c");
  topo.netns("ext");
  topo.link(undefined, "link", "add", topo.n("br"), "type", "bridge");
  topo.link(undefined, "link", "set", topo.n("br"), "up");
  topo.veth({ name: "h" }, { ns: "c", name: "c0" });
  topo.link(undefined, "link", "set", topo.n("h"), "master", topo.n("br"));
  topo.addr({ name: "br" }, "10.61.0.1/24");
  topo.addr({ ns: "c", name: "c0" }, "10.61.0.2/24");
  topo.link("c", "route", "add", "default", "via", "10.61.0.1");
  topo.veth({ name: "up" }, { ns: "ext", name: "x0" });
  topo.addr({ name: "up" }, "198.18.61.1/24");
  topo.addr({ ns: "ext", name: "x0" }, "198.18.61.2/24");
  for (const k of sysctls) sh("sysctl", "-qw", `${k}=1`);
  topo.nft(undefined, `table ip ${P}_nat {\n chain post { type nat hook postrouting priority srcnat; ip saddr 10.61.0.0/24 oifname "${P}-up" masquerade; }\n}`);
  topo.exec("c", "ping", "-c", "1", "-W", "1", "198.18.61.2");

  const pings = await traced([], () => topo.exec("c", "ping", "-c", "1", "-W", "1", "198.18.61.2"));
  const ours = pings.filter((p) => p.src === "10.61.0.2");
  assert.deepEqual(ours.map((p) => [p.status, p.dst, p.seq]), [["complete", "198.18.61.2", 1]]);
  const p = ours[0]!;
  assert.deepEqual(steps(p.request), [
    `__ip_local_out ${P}-c0 ${P}-c`, `ip_output ${P}-c0 ${P}-c`, `net_dev_queue ${P}-c0 ${P}-c`, `netif_rx ${P}-h host`,
    // br_netfilter runs the IP prerouting hook for the frame the bridge received (br_nf_pre_routing);
    // then the bridge hands it up to its own device, where ip_sabotage_in (at the hook's very front)
    // stops a second prerouting pass, so ip_rcv has no step of its own there; routing forwards it.
    `net_dev_xmit ${P}-c0 ${P}-c`, `netif_receive_skb ${P}-h host`, `br_handle_frame ${P}-h host`, `br_nf_pre_routing ${P}-br host`,
    `netif_receive_skb ${P}-br host`, `ip_forward ${P}-br host`, `ip_output ${P}-up host`, `nft_do_chain ${P}-up host`,
    `net_dev_queue ${P}-up host`, `netif_rx ${P}-x0 ${P}-ext`, `net_dev_xmit ${P}-up host`, `netif_receive_skb ${P}-x0 ${P}-ext`,
    `ip_rcv ${P}-x0 ${P}-ext`, `ip_local_deliver ${P}-x0 ${P}-ext`,
  ]);
  // every nat chain of the hook runs in the one NAT hook of conntrack: the step names them all, ours among them
  const nat = p.request!.hops.find((h) => h.netfilter?.table.split("|").includes(`${P}_nat`))!;
  assert.deepEqual([nat.netfilter?.verdict, nat.packet?.src, nat.packet?.dst], ["masquerade", "198.18.61.1", "198.18.61.2"]);
  assert.deepEqual([p.reply?.packet?.dst, p.reply?.hops.at(-1)?.netnsName], ["198.18.61.1", `${P}-c`]);
});

for (const args of [[], ["--proto", "any"]]) {
  test(`a VXLAN overlay between two nodes: one journey from pod to pod, underlay hops with the outer header and VNI${args.length ? " (--proto any)" : ""}`, { skip }, async (t) => {
    const topo = new Topology(args.length ? "ppT3b" : "ppT3");
    t.after(() => topo.destroy());
    vxlanOverlay(topo, 62);
    const pings = await traced(args, () => topo.exec("p1", "ping", "-c", "1", "-W", "1", "10.62.0.2"));
    const ours = pings.filter((p) => p.src === "10.62.0.1" && p.dst === "10.62.0.2");
    assert.deepEqual(ours.map((p) => p.status), ["complete"]);
    const p = ours[0]!;
    const P = topo.prefix;
    const bridged = (n: string, port: string, br: string) => [`br_handle_frame ${P}-${port} ${P}-${n}`, `br_nf_pre_routing ${P}-${br} ${P}-${n}`,
      `br_nf_forward_ip ${P}-${br} ${P}-${n}`, `br_nf_post_routing ${P}-${br} ${P}-${n}`];
    // The skb is the same from pod to pod: bridged into vx1, wrapped in UDP on the same skb, sent over
    // the underlay, delivered to n2's UDP socket, unwrapped by vxlan_rcv, bridged out to the pod.
    assert.deepEqual(steps(p.request), [
      `__ip_local_out ${P}-e1 ${P}-p1`, `ip_output ${P}-e1 ${P}-p1`, `net_dev_queue ${P}-e1 ${P}-p1`, `netif_rx ${P}-pv1 ${P}-n1`,
      `net_dev_xmit ${P}-e1 ${P}-p1`, `netif_receive_skb ${P}-pv1 ${P}-n1`, ...bridged("n1", "pv1", "br1"),
      `net_dev_queue ${P}-vx1 ${P}-n1`, `__ip_local_out ${P}-u1 ${P}-n1`, `ip_output ${P}-u1 ${P}-n1`, `net_dev_queue ${P}-u1 ${P}-n1`,
      `netif_rx ${P}-u2 ${P}-n2`, `net_dev_xmit ${P}-u1 ${P}-n1`, `net_dev_xmit ${P}-vx1 ${P}-n1`, `netif_receive_skb ${P}-u2 ${P}-n2`,
      `ip_rcv ${P}-u2 ${P}-n2`, `ip_local_deliver ${P}-u2 ${P}-n2`, `napi_gro_receive_entry ${P}-vx2 ${P}-n2`,
      `netif_receive_skb ${P}-vx2 ${P}-n2`, ...bridged("n2", "vx2", "br2"),
      `net_dev_queue ${P}-pv2 ${P}-n2`, `netif_rx ${P}-e2 ${P}-p2`, `net_dev_xmit ${P}-pv2 ${P}-n2`, `netif_receive_skb ${P}-e2 ${P}-p2`,
      `ip_rcv ${P}-e2 ${P}-p2`, `ip_local_deliver ${P}-e2 ${P}-p2`,
    ]);
    // The underlay hops carry the outer header; the journey's header stays the pods' (the inner one).
    const outer = (h: Hop) => `${h.event} ${h.ifname} ${h.outer!.kind} ${h.outer!.src}>${h.outer!.dst}:${h.outer!.dport} vni ${h.outer!.vni}`;
    const tunnel = `198.18.62.1>198.18.62.2:4789 vni 7`;
    assert.deepEqual(p.request!.hops.filter((h) => h.outer).map(outer), [`__ip_local_out ${P}-u1 vxlan ${tunnel}`, `ip_output ${P}-u1 vxlan ${tunnel}`,
      `net_dev_queue ${P}-u1 vxlan ${tunnel}`, `netif_rx ${P}-u2 vxlan ${tunnel}`, `netif_receive_skb ${P}-u2 vxlan ${tunnel}`,
      `ip_rcv ${P}-u2 vxlan ${tunnel}`, `ip_local_deliver ${P}-u2 vxlan ${tunnel}`]);
    assert.deepEqual(rewrites(p.request), [], "the inner header never changed");
    assert.deepEqual([p.request?.packet?.src, p.request?.packet?.dst], ["10.62.0.1", "10.62.0.2"]);
    assert.equal(p.reply!.hops.filter((h) => h.outer?.kind === "vxlan" && h.outer.src === "198.18.62.2" && h.outer.vni === 7).length, 7, "the reply's way back through the tunnel");
  });
}

/** a — r — b routed for IPv4 (10.63.x) and IPv6 (fd00:63:x::), MTU 1500 everywhere. */
function routedDual(topo: Topology): void {
  for (const ns of ["a", "r", "b"]) topo.netns(ns);
  topo.veth({ ns: "a", name: "a0" }, { ns: "r", name: "ra" });
  topo.veth({ ns: "r", name: "rb" }, { ns: "b", name: "b0" });
  for (const [end, v4, v6] of [[{ ns: "a", name: "a0" }, "10.63.1.2/24", "fd00:63:1::2/64"], [{ ns: "r", name: "ra" }, "10.63.1.1/24", "fd00:63:1::1/64"],
    [{ ns: "r", name: "rb" }, "10.63.2.1/24", "fd00:63:2::1/64"], [{ ns: "b", name: "b0" }, "10.63.2.2/24", "fd00:63:2::2/64"]] as const) {
    topo.addr(end, v4);
    topo.addr(end, v6);
  }
  topo.route("a", "10.63.2.0/24", "10.63.1.1");
  topo.route("b", "10.63.1.0/24", "10.63.2.1");
  topo.route("a", "fd00:63:2::/64", "fd00:63:1::1");
  topo.route("b", "fd00:63:1::/64", "fd00:63:2::1");
  topo.forwarding("r");
  topo.exec("a", "ping", "-c", "1", "-W", "2", "10.63.2.2");
  topo.exec("a", "ping", "-6", "-c", "1", "-W", "2", "fd00:63:2::2");
}

test("echoes over the MTU, IPv4 and IPv6: one ping each, its other fragments attached, where split and where whole again", { skip }, async (t) => {
  const topo = new Topology("ppT4");
  t.after(() => topo.destroy());
  routedDual(topo);
  const pings = await traced([], () => {
    topo.exec("a", "ping", "-c", "1", "-s", "4000", "-W", "2", "10.63.2.2");
    topo.exec("a", "ping", "-6", "-c", "1", "-s", "4000", "-W", "2", "fd00:63:2::2");
  });
  const ours = pings.filter((p) => p.src === "10.63.1.2" || p.src === "fd00:63:1::2");
  assert.deepEqual(ours.map((p) => [p.status, p.family, p.src, p.dst]), [["complete", 4, "10.63.1.2", "10.63.2.2"], ["complete", 6, "fd00:63:1::2", "fd00:63:2::2"]]);
  const P = topo.prefix;
  for (const [p, size] of [[ours[0]!, 1480], [ours[1]!, 1448]] as const) {
    const mark = (f: Journey) => `${f.fragment!.ipId === p.request!.hops.find((h) => h.fragment)!.fragment!.ipId ? "request" : "reply"} ${f.fragment!.offset}${f.fragment!.more ? "+" : ""}`;
    // The sender split it (ip_output hands the first fragment on in the echo's own skb): whole at the
    // sender's stack steps, a first fragment from its first device on; two more fragments each way,
    // and the clone the kernel makes of the last one when it reassembles (it frees it, with the rest).
    assert.deepEqual(p.request!.hops.map((h) => (h.fragment ? `${h.fragment.offset}${h.fragment.more ? "+" : ""}` : "whole")).slice(0, 4),
      ["whole", "whole", "0+", "0+"]);
    assert.equal(p.request!.hops[2]!.event, "net_dev_queue", "fragmented where it first met a device");
    assert.deepEqual(p.fragments!.map(mark).sort(), [`reply ${size}+`, `reply ${2 * size}`, `request ${size}+`, `request ${2 * size}`, `request ${2 * size}`]);
    // No piece of it was dropped: the middle fragments and the clone go with the reassembled packet.
    assert.deepEqual(p.fragments!.flatMap((f) => (f.dropped ? [`${f.dropped.reason} ${f.dropped.location?.replace(/\+.*/, "")}`] : [])).sort(),
      ["NOT_SPECIFIED skb_release_data", "NOT_SPECIFIED skb_release_data", "NOT_SPECIFIED skb_release_data", "NO_SOCKET ping_rcv"]);
    // The fragments crossed the router as the echo did; its last hops are at the receiver.
    for (const f of p.fragments!.filter((j) => j.hops.length > 1)) assert.equal(f.hops.filter((h) => h.event.startsWith("ip") && h.event.includes("forward")).length, 1, f.id);
  }
  // IPv4 reassembles before the input hook: the last fragment's skb carries the whole echo from there.
  const whole = ours[0]!.fragments!.flatMap((f) => f.hops.filter((h) => !h.fragment && h.packet?.icmp?.type === 8).map((h) => `${h.event} ${h.ifname}`));
  assert.deepEqual(whole, [`ip_local_deliver ${P}-b0`]);
});

test("TTL 1 through a router, and an nft reject: the ICMP error answers the ping (sender, type, code, text, its way back)", { skip }, async (t) => {
  const topo = new Topology("ppT5");
  t.after(() => topo.destroy());
  routedDual(topo);
  const P = topo.prefix;
  const pings = await traced([], () => {
    tryRun(() => topo.exec("a", "ping", "-c", "1", "-t", "1", "-W", "1", "10.63.2.2"));
    topo.nft("r", `table inet ${P}_t {\n chain forward { type filter hook forward priority 0; policy accept;\n  icmp type echo-request reject with icmp type admin-prohibited; }\n}`);
    tryRun(() => topo.exec("a", "ping", "-c", "1", "-W", "1", "10.63.2.2"));
  });
  const ours = pings.filter((p) => p.src === "10.63.1.2" && p.dst === "10.63.2.2");
  assert.deepEqual(ours.map((p) => [p.status, p.error?.from, p.error?.type, p.error?.code, p.error?.text]), [
    ["error", "10.63.1.1", 11, 0, "Time to live exceeded"],
    ["error", "10.63.1.1", 3, 13, "Packet filtered"],
  ]);
  const sent = [`__ip_local_out ${P}-a0 ${P}-a`, `ip_output ${P}-a0 ${P}-a`, `net_dev_queue ${P}-a0 ${P}-a`, `netif_rx ${P}-ra ${P}-r`,
    `net_dev_xmit ${P}-a0 ${P}-a`, `netif_receive_skb ${P}-ra ${P}-r`, `ip_rcv ${P}-ra ${P}-r`];
  const [ttl, rejected] = [ours[0]!, ours[1]!];
  // TTL 1: ip_forward finds it expired before its hook, sends the error and drops the echo.
  assert.deepEqual(steps(ttl.request), sent);
  assert.deepEqual([ttl.request?.dropped?.reason, ttl.request?.dropped?.location?.replace(/\+.*/, "")], ["IP_INHDR", "ip_forward"]);
  // The reject: the forward chain answers with the error, then drops it (a chain added while tracing).
  assert.deepEqual(steps(rejected.request), [...sent, `ip_forward ${P}-ra ${P}-r`, `nft_do_chain ${P}-ra ${P}-r`]);
  assert.deepEqual([rejected.request?.dropped?.reason, rejected.request?.dropped?.rule], ["NETFILTER_DROP", `inet ${P}_t forward`]);
  for (const p of ours) {
    // The error's way back, from the router to the sender, like a reply; it quotes the echo.
    assert.deepEqual(steps(p.error?.journey), [`__ip_local_out ${P}-ra ${P}-r`, `ip_output ${P}-ra ${P}-r`, `net_dev_queue ${P}-ra ${P}-r`,
      `netif_rx ${P}-a0 ${P}-a`, `net_dev_xmit ${P}-ra ${P}-r`, `netif_receive_skb ${P}-a0 ${P}-a`, `ip_rcv ${P}-a0 ${P}-a`, `ip_local_deliver ${P}-a0 ${P}-a`]);
    const q = p.error!.journey!.packet!.quoted!;
    assert.deepEqual([q.src, q.dst, q.icmp?.type, q.icmp?.id, q.icmp?.seq], ["10.63.1.2", "10.63.2.2", 8, p.icmpId, p.seq]);
    assert.equal(p.reply, undefined);
  }
});
