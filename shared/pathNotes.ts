// What a path says beyond where it went: where NAT rewrote the header, tunnel segments, a routing
// loop, where a packet was fragmented and reassembled, and a step's name in words. Pure; the map,
// the banner, the hop table and the terminal read the same notes.
import { journeyOf, laneKeyOf, lanesOf, laneLabel, SIDES, type PathSubject, type Side } from "./topology.ts";
import type { Hop, Journey, OuterHeader, PacketInfo } from "./types.ts";

export interface HeaderChange {
  side: Side;
  /** index of the hop that first saw the new header */
  hop: number;
  /** "SNAT 10.0.0.2 → 192.0.2.1", "DNAT 192.0.2.1:80 → 10.0.0.5:8080" */
  text: string;
}

/** The header a hop saw: its own when NAT rewrote it, else the journey's. */
export const headerAt = (journey: Journey, hop: Hop): PacketInfo | undefined => hop.packet ?? journey.packet;

/**
 * The header at each hop of a journey. A net_dev_xmit hop is recorded without one (the peer may
 * have freed the skb by then, so the kernel program reads only its address): it sent what the hop
 * before it held, not the journey's first header.
 */
export function headersOf(journey: Journey): (PacketInfo | undefined)[] {
  let prev = journey.packet;
  return journey.hops.map((hop) => {
    prev = hop.packet ?? (hop.event === "net_dev_xmit" ? prev : journey.packet);
    return prev;
  });
}

const withPort = (addr: string, port: number | undefined): string => (port === undefined ? addr : `${addr}:${port}`);

function changesOf(side: Side, journey: Journey): HeaderChange[] {
  const out: HeaderChange[] = [];
  let prev = journey.packet;
  headersOf(journey).forEach((cur, i) => {
    if (!cur || !prev) {
      prev = cur ?? prev;
      return;
    }
    if (cur.src !== prev.src || cur.sport !== prev.sport) {
      out.push({ side, hop: i, text: `SNAT ${withPort(prev.src, prev.sport)} → ${withPort(cur.src, cur.sport)}` });
    }
    if (cur.dst !== prev.dst || cur.dport !== prev.dport) {
      out.push({ side, hop: i, text: `DNAT ${withPort(prev.dst, prev.dport)} → ${withPort(cur.dst, cur.dport)}` });
    }
    prev = cur;
  });
  return out;
}

export function headerChanges(subject: PathSubject): HeaderChange[] {
  return SIDES.flatMap((side) => {
    const j = journeyOf(subject, side);
    return j ? changesOf(side, j) : [];
  });
}

export interface TunnelSegment {
  side: Side;
  /** first and last hop index carried encapsulated */
  first: number;
  last: number;
  outer: OuterHeader;
  /** "vxlan 7: 192.0.2.10 → 192.0.2.20" */
  text: string;
}

const sameOuter = (a: OuterHeader, b: OuterHeader): boolean =>
  a.kind === b.kind && a.src === b.src && a.dst === b.dst && a.vni === b.vni;

export function tunnelText(o: OuterHeader): string {
  return `${o.kind}${o.vni !== undefined ? ` ${o.vni}` : ""}: ${o.src} → ${o.dst}`;
}

export function tunnelSegments(subject: PathSubject): TunnelSegment[] {
  const out: TunnelSegment[] = [];
  for (const side of SIDES) {
    let open: TunnelSegment | undefined;
    journeyOf(subject, side)?.hops.forEach((hop, i) => {
      // net_dev_xmit is recorded without the packet's headers (see headersOf): it sent what was open.
      if (open && (hop.outer ? sameOuter(open.outer, hop.outer) : !hop.packet && hop.event === "net_dev_xmit")) {
        open.last = i;
        return;
      }
      open = undefined;
      if (hop.outer) {
        open = { side, first: i, last: i, outer: hop.outer, text: tunnelText(hop.outer) };
        out.push(open);
      }
    });
  }
  return out;
}

/** Events where a packet arrives in a namespace; a namespace seen arriving twice is a loop. */
const ARRIVALS = new Set(["netif_receive_skb", "ip_rcv", "ipv6_rcv"]);

export interface RoutingLoop {
  side: Side;
  lane: string;
  /** the namespace's label */
  name: string;
  /** times the packet arrived there */
  passes: number;
  /** TTL (hop limit) at its first and last arrival, when known */
  ttlFirst?: number;
  ttlLast?: number;
  text: string;
}

/**
 * A loop is the same namespace reached again: the arrivals at one interface (or, with TTLs known,
 * arrivals with a lower TTL each time). A router sees TTL n arriving and n−1 leaving; only arrivals count.
 */
export function routingLoop(subject: PathSubject): RoutingLoop | undefined {
  const lanes = new Map(lanesOf(subject).map((l) => [l.key, laneLabel(l)]));
  for (const side of SIDES) {
    const j = journeyOf(subject, side);
    if (!j) continue;
    const arrivals = new Map<string, Hop[]>();
    for (const hop of j.hops) {
      if (!ARRIVALS.has(hop.event)) continue;
      const key = `${laneKeyOf(hop)}|${hop.ifname}|${hop.event}`;
      arrivals.set(key, [...(arrivals.get(key) ?? []), hop]);
    }
    let worst: Hop[] | undefined;
    for (const hops of arrivals.values()) if (hops.length > 1 && hops.length > (worst?.length ?? 1)) worst = hops;
    const first = worst?.[0], last = worst?.[worst.length - 1];
    if (!worst || !first || !last) continue;
    const name = lanes.get(laneKeyOf(first)) ?? "?";
    const loop: RoutingLoop = { side, lane: laneKeyOf(first), name, passes: worst.length, text: "" };
    if (first.ttl !== undefined && last.ttl !== undefined) {
      loop.ttlFirst = first.ttl;
      loop.ttlLast = last.ttl;
    }
    const ttl = loop.ttlFirst !== undefined ? `, TTL ${loop.ttlFirst} → ${loop.ttlLast}` : "";
    loop.text = `routing loop: ${side} reached ${name} ${worst.length} times${ttl}`;
    return loop;
  }
  return undefined;
}

export interface HopPlace {
  lane: string;
  name: string;
  ifname: string;
  tNs: number;
}

export interface Fragmentation {
  /** fragment journeys besides the request/reply */
  count: number;
  /** the first hop of the fragments: where the packet was split */
  fragmentedAt?: HopPlace;
  /** the first hop of a fragment's journey without a fragment header: where it was put back together */
  reassembledAt?: HopPlace;
  text: string;
}

export function fragmentation(subject: PathSubject): Fragmentation | undefined {
  const fragments = subject.fragments ?? [];
  const journeys = [...SIDES.map((s) => journeyOf(subject, s)), ...fragments].filter((j): j is Journey => j !== undefined);
  const isFragmented = fragments.length > 0 || journeys.some((j) => j.fragment || j.hops.some((h) => h.fragment));
  if (!isFragmented) return undefined;
  const lanes = new Map(lanesOf(subject).map((l) => [l.key, laneLabel(l)]));
  const place = (hop: Hop): HopPlace => ({ lane: laneKeyOf(hop), name: lanes.get(laneKeyOf(hop)) ?? "?", ifname: hop.ifname, tNs: hop.tNs });
  const firsts = fragments.flatMap((j) => (j.hops[0] ? [j.hops[0]] : [])).sort((a, b) => a.tNs - b.tNs);
  const out: Fragmentation = { count: fragments.length, text: "" };
  if (firsts[0]) out.fragmentedAt = place(firsts[0]);
  for (const j of journeys) {
    const i = j.hops.findIndex((h) => h.fragment);
    const after = i < 0 ? undefined : j.hops.slice(i + 1).find((h) => !h.fragment);
    if (after) {
      out.reassembledAt = place(after);
      break;
    }
  }
  const where = (p: HopPlace | undefined, verb: string): string | undefined => (p ? `${verb} at ${p.name} ${p.ifname}`.trimEnd() : undefined);
  out.text = [`fragmented: ${fragments.length + 1} fragments`, where(out.fragmentedAt, "split"), where(out.reassembledAt, "reassembled")]
    .filter((s): s is string => s !== undefined).join(", ");
  return out;
}

const STEP_WORDS: Record<string, string> = {
  net_dev_queue: "queue", net_dev_xmit: "xmit", netif_rx: "rx", netif_receive_skb: "receive", napi_gro_receive_entry: "gro",
  ip_rcv: "ip rcv", ipv6_rcv: "ip6 rcv", ip_forward: "forward", ip6_forward: "forward", ip_local_deliver: "local deliver",
  ip6_input: "local deliver", __ip_local_out: "local out", ip6_local_out: "local out", ip_output: "output", ip6_output: "output",
  br_handle_frame: "bridge", macvlan_handle_frame: "macvlan", neigh_resolve_output: "ARP wait",
};

/** A hop's step in a few words: "queue", "forward", "filter FORWARD accept", "nat POSTROUTING masquerade". */
export function stepLabel(hop: Hop): string {
  const nf = hop.netfilter;
  if (nf) return `${nf.table} ${nf.chain} ${nf.verdict}`;
  return STEP_WORDS[hop.event] ?? hop.event;
}
