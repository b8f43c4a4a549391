// Pings of the shapes the producers of issues 7 and 8 will report (NAT, VXLAN, a routing loop,
// netfilter steps, an ICMP error, a drop by a rule, a drop before any device, fragments), written
// out hop by hop in the contract's fields, with the timings of a real routed veth ping.
import type { Exchange, Hop, Journey, PacketInfo, Ping } from "../../shared/types.ts";

const NS = { client: 4026532601, router: 4026532602, server: 4026532603, node1: 4026532604, node2: 4026532605 } as const;
type NsName = keyof typeof NS;

export function hop(event: string, ifname: string, ns: NsName, tNs: number, extra: Partial<Hop> = {}): Hop {
  return { event, ifname, netns: NS[ns], netnsName: `ppU-${ns}`, tNs, len: 84, ...extra };
}

/** A veth pair crossed as the kernel reports it: queue a, rx b (inside a's xmit), xmit a, receive b. */
export function veth(a: string, an: NsName, b: string, bn: NsName, t0: number, extra: Partial<Hop> = {}): Hop[] {
  return [hop("net_dev_queue", a, an, t0, extra), hop("netif_rx", b, bn, t0 + 3000, extra),
    hop("net_dev_xmit", a, an, t0 + 4000, extra), hop("netif_receive_skb", b, bn, t0 + 6000, extra)];
}

const icmp = (src: string, dst: string, type: number): PacketInfo => ({ family: 4, proto: "icmp", src, dst, icmp: { type, id: 77, seq: 1 } });

function journey(id: string, hops: Hop[], packet: PacketInfo, more: Partial<Journey> = {}): Journey {
  return { id, skbaddr: "0xffff888100a1b200", hops, packet, ...more };
}

function ping(status: Ping["status"], request?: Journey, reply?: Journey, more: Partial<Ping> = {}): Ping {
  const p: Ping = { id: "p-1", family: 4, src: "10.0.0.2", dst: "10.0.1.5", icmpId: 77, seq: 1, status, ...more };
  if (request) p.request = request;
  if (reply) p.reply = reply;
  return p;
}

const REQ = icmp("10.0.0.2", "10.0.1.5", 8), REP = icmp("10.0.1.5", "10.0.0.2", 0);

/** client → router (masquerades 10.0.0.2 as 192.0.2.1 on its way out) → server; the reply is de-NATed in the router. */
export function natPing(): Ping {
  const out = { packet: icmp("192.0.2.1", "10.0.1.5", 8) }, home = { packet: REP };
  return ping("complete",
    journey("j-1", [...veth("c0", "client", "r0", "router", 0), ...veth("r1", "router", "s0", "server", 20_000, out)], REQ),
    journey("j-2", [...veth("s0", "server", "r1", "router", 40_000), ...veth("r0", "router", "c0", "client", 55_000, home)],
      icmp("10.0.1.5", "192.0.2.1", 0)),
    { rttNs: 61_000 });
}

/** pod (client ns) → node1 vxlan0 → node1 eth0 ⇒ (vxlan 7, 192.0.2.10 → 192.0.2.20) ⇒ node2 eth0 → vxlan0 → server. */
export function vxlanPing(): Ping {
  const outer = { outer: { kind: "vxlan", src: "192.0.2.10", dst: "192.0.2.20", vni: 7, dport: 4789 } };
  const req = [...veth("c0", "client", "v1", "node1", 0), hop("net_dev_queue", "vxlan0", "node1", 9000), hop("net_dev_xmit", "vxlan0", "node1", 9500),
    ...veth("eth0", "node1", "eth0", "node2", 12_000, outer), hop("netif_receive_skb", "vxlan0", "node2", 20_000),
    ...veth("v2", "node2", "s0", "server", 24_000)];
  return ping("no-reply", journey("j-1", req, REQ));
}

/** r1 and r2 (both "router" and "server" here) send the echo back and forth; TTL falls by two a round. */
export function loopPing(): Ping {
  const hops: Hop[] = [...veth("c0", "client", "r0", "router", 0, { ttl: 64 })];
  for (let i = 0; i < 4; i++) {
    const t = 10_000 + i * 20_000;
    hops.push(...veth("r1", "router", "s0", "server", t, { ttl: 63 - 2 * i }), ...veth("s0", "server", "r1", "router", t + 10_000, { ttl: 62 - 2 * i }));
  }
  return ping("dropped", journey("j-1", hops, REQ, { dropped: { reason: "IP_INNOHDR" } }));
}

/** Every step in the router: receive, nft prerouting, forward, nft forward drop by rule. */
export function ruleDropPing(): Ping {
  const nf = (chain: string, hook: string, verdict: string): Partial<Hop> => ({ netfilter: { family: "inet", table: "filter", chain, hook, verdict } });
  const hops = [...veth("c0", "client", "r0", "router", 0), hop("ip_rcv", "r0", "router", 7000), hop("nft_do_chain", "r0", "router", 7500, nf("prerouting", "prerouting", "accept")),
    hop("ip_forward", "r0", "router", 8000, { toIfname: "r1" }), hop("nft_do_chain", "r0", "router", 8400, nf("forward", "forward", "drop"))];
  return ping("dropped", journey("j-1", hops, REQ, { dropped: { reason: "NETFILTER_DROP", location: "nft_do_chain+0x46f", rule: "inet filter forward" } }));
}

/** TTL 1: the router answers with time exceeded; the error goes back to the client like a reply. */
export function errorPing(): Ping {
  const err = journey("j-2", [...veth("r0", "router", "c0", "client", 12_000)], icmp("10.0.0.1", "10.0.0.2", 11));
  return ping("error", journey("j-1", [...veth("c0", "client", "r0", "router", 0, { ttl: 1 })], REQ, { dropped: { reason: "IP_INADDRERRORS" } }),
    undefined, { error: { from: "10.0.0.1", type: 11, code: 0, text: "Time to live exceeded", journey: err } });
}

/** No ARP answer: the echo waits in the client's neighbour queue and is freed before any device. */
export function neighPing(): Ping {
  const hops = [hop("__ip_local_out", "", "client", 0), hop("ip_output", "c0", "client", 800), hop("neigh_resolve_output", "c0", "client", 1200)];
  return ping("dropped", journey("j-1", hops, REQ, { dropped: { reason: "NEIGH_FAILED", location: "neigh_invalidate+0x8c" } }));
}

/** 4000 bytes over a 1500 MTU router link: split at r1, three fragments, put back together at the server. */
export function fragmentPing(): Ping {
  const f = (offset: number, more: boolean): Partial<Hop> => ({ fragment: { ipId: 4242, offset, more } });
  const first = [...veth("c0", "client", "r0", "router", 0), ...veth("r1", "router", "s0", "server", 20_000, f(0, true)),
    hop("ip_local_deliver", "s0", "server", 27_000)];
  const frag = (id: string, offset: number, more: boolean, t: number): Journey =>
    journey(id, veth("r1", "router", "s0", "server", t, f(offset, more)), REQ, { fragment: { ipId: 4242, offset, more } });
  return ping("no-reply", journey("j-1", first, REQ, { fragment: { ipId: 4242, offset: 0, more: true } }), undefined,
    { fragments: [frag("j-3", 1480, true, 21_000), frag("j-4", 2960, false, 22_000)] });
}

/** A TCP connect refused: the SYN through the router, the server's RST back the same way. */
export function tcpRefused(): Exchange {
  const syn: PacketInfo = { family: 4, proto: "tcp", src: "10.0.0.2", dst: "10.0.1.5", sport: 51514, dport: 443, tcpFlags: "S" };
  const rst: PacketInfo = { family: 4, proto: "tcp", src: "10.0.1.5", dst: "10.0.0.2", sport: 443, dport: 51514, tcpFlags: "R" };
  return { id: "x-1", kind: "tcp", family: 4, src: "10.0.0.2", dst: "10.0.1.5", sport: 51514, dport: 443, status: "refused", rttNs: 52_000,
    request: journey("j-1", [...veth("c0", "client", "r0", "router", 0), ...veth("r1", "router", "s0", "server", 20_000)], syn),
    reply: journey("j-2", [...veth("s0", "server", "r1", "router", 30_000), ...veth("r0", "router", "c0", "client", 45_000)], rst) };
}

/** Two macvlan containers on one parent: the request reaches the second one's stack in its receive handler, no device tracepoint there. */
export function macvlanPing(): Ping {
  const req = [hop("net_dev_queue", "mv0", "client", 0), hop("netif_receive_skb", "eth0", "router", 2000),
    hop("macvlan_handle_frame", "eth0", "router", 2500, { toIfname: "mv1" }), hop("ip_rcv", "mv1", "server", 3000),
    hop("ip_local_deliver", "mv1", "server", 3500)];
  return ping("no-reply", journey("j-1", req, REQ));
}
