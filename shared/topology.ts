// An exchange's path as the page draws it and the terminal prints it: namespace lanes, ordered steps,
// the interfaces it visited, and where it was dropped. Geometry-free, so the server, the CLI and the
// page agree. What the path says beyond that (NAT, tunnels, loops, fragments) is in pathNotes.ts.
import { effectiveDrop } from "./pings.ts";
import type { ExchangeStatus, Hop, IcmpErrorInfo, Journey } from "./types.ts";

/** What has a path: a Ping, or any Exchange. */
export interface PathSubject {
  status: ExchangeStatus;
  /** wall clock of the request's first hop */
  at?: string;
  request?: Journey;
  reply?: Journey;
  error?: IcmpErrorInfo;
  fragments?: Journey[];
  retries?: Journey[];
  /** the capture lost records while it was open */
  recordsLost?: boolean;
}

export interface Lane {
  /** stable identity: "ns:<inode>", else "name:<netnsName>", else "ns:?" */
  key: string;
  /** the namespace's name when known, else its inode, else "?" (what the terminal prints) */
  name: string;
  netns?: number;
}

/** The ways a path goes: the request out, the reply back, or the ICMP error sent back instead. */
export type Side = "request" | "reply" | "error";
export const SIDES: readonly Side[] = ["request", "reply", "error"];

export interface PathStep {
  lane: Lane;
  ifname: string;
  event: string;
  tNs: number;
  /** since the previous step of the path (0 for the first) */
  dtNs: number;
  side: Side;
  len: number;
}

export interface DropPoint {
  side: Side;
  /** the last hop the dropped skb made, if it made any */
  lane?: Lane;
  ifname?: string;
  tNs?: number;
  reason: string;
  location?: string;
  /** the netfilter family, table and chain that dropped it */
  rule?: string;
}

/** The device tracepoints: the "devices" view shows these, "every step" shows all hops. */
export const DEVICE_EVENTS: ReadonlySet<string> = new Set(["net_dev_queue", "netif_rx", "net_dev_xmit", "netif_receive_skb",
  "napi_gro_receive_entry"]);
export const isDeviceEvent = (event: string): boolean => DEVICE_EVENTS.has(event);

export function laneKeyOf(hop: Hop): string {
  if (hop.netns !== undefined) return `ns:${hop.netns}`;
  if (hop.netnsName !== undefined) return `name:${hop.netnsName}`;
  return "ns:?";
}

function fallbackName(hop: Hop): string {
  return hop.netnsName ?? (hop.netns !== undefined ? String(hop.netns) : "?");
}

/** What the page calls a lane: its name, else "netns <inode>". */
export function laneLabel(lane: Lane): string {
  return lane.name === "?" ? "netns ?" : lane.netns !== undefined && lane.name === String(lane.netns) ? `netns ${lane.name}` : lane.name;
}

export function journeyOf(subject: PathSubject, side: Side): Journey | undefined {
  return side === "error" ? subject.error?.journey : subject[side];
}

function sideHops(subject: PathSubject): { side: Side; hop: Hop }[] {
  return SIDES.flatMap((side) => (journeyOf(subject, side)?.hops ?? []).map((hop) => ({ side, hop })));
}

/** One lane per namespace, in order of first appearance; a name known on any hop names the lane. */
export function lanesOf(subject: PathSubject): Lane[] {
  const lanes = new Map<string, Lane>();
  const named = new Set<string>();
  const all = [...sideHops(subject), ...(subject.fragments ?? []).flatMap((j) => j.hops.map((hop) => ({ hop })))];
  for (const { hop } of all) {
    const key = laneKeyOf(hop);
    let lane = lanes.get(key);
    if (!lane) {
      lane = { key, name: fallbackName(hop) };
      if (hop.netns !== undefined) lane.netns = hop.netns;
      lanes.set(key, lane);
    }
    // The first name any hop knows wins (the server may learn a name mid-capture).
    if (hop.netnsName !== undefined && !named.has(key)) {
      lane.name = hop.netnsName;
      named.add(key);
    }
  }
  return [...lanes.values()];
}

/** The request's hops, the reply's, then the error's, each in time order, with the time since the previous step. */
export function pathOf(subject: PathSubject): PathStep[] {
  const lanes = new Map(lanesOf(subject).map((l) => [l.key, l]));
  const steps: PathStep[] = [];
  let prevTNs: number | undefined;
  for (const { side, hop } of sideHops(subject)) {
    const lane = lanes.get(laneKeyOf(hop)) ?? { key: laneKeyOf(hop), name: fallbackName(hop) };
    steps.push({ lane, ifname: hop.ifname, event: hop.event, tNs: hop.tNs,
      dtNs: prevTNs === undefined ? 0 : hop.tNs - prevTNs, side, len: hop.len });
    prevTNs = hop.tNs;
  }
  return steps;
}

/**
 * Where it was dropped, for a dropped exchange only: a reply freed as NO_SOCKET after reaching its
 * host is a delivery (see effectiveDrop), not a drop point.
 */
export function dropPointOf(subject: PathSubject): DropPoint | undefined {
  if (subject.status !== "dropped") return undefined;
  const lanes = lanesOf(subject);
  for (const side of SIDES) {
    const journey = journeyOf(subject, side);
    const drop = journey ? effectiveDrop(journey) : undefined;
    if (!journey || !drop) continue;
    const point: DropPoint = { side, reason: drop.reason };
    if (drop.location !== undefined) point.location = drop.location;
    if (drop.rule !== undefined) point.rule = drop.rule;
    const last = journey.hops[journey.hops.length - 1];
    if (last) {
      const lane = lanes.find((l) => l.key === laneKeyOf(last));
      if (lane) point.lane = lane;
      point.ifname = last.ifname;
      point.tNs = last.tNs;
    }
    return point;
  }
  return undefined;
}

/** A kfree_skb the exchange's status does not count as a drop: the reply's copy reached ping's raw socket. */
export function deliveredFree(subject: PathSubject): { side: Side; reason: string; location?: string } | undefined {
  for (const side of SIDES) {
    const j = journeyOf(subject, side);
    if (j?.dropped && !effectiveDrop(j)) {
      const out: { side: Side; reason: string; location?: string } = { side, reason: j.dropped.reason };
      if (j.dropped.location !== undefined) out.location = j.dropped.location;
      return out;
    }
  }
  return undefined;
}

/** "nft inet filter forward", or a legacy table as it names itself ("iptables filter FORWARD"). */
export function ruleText(rule: string): string {
  return /^(ip6?tables|ebtables|arptables)\b/.test(rule) ? rule : `nft ${rule}`;
}

/** The drop in words: "dropped by nft inet filter forward", else "dropped: NETFILTER_DROP". */
export function dropText(drop: { reason: string; rule?: string }): string {
  return drop.rule ? `dropped by ${ruleText(drop.rule)}` : `dropped: ${drop.reason}`;
}

/** A node of the map: one interface of one namespace ("" is the namespace's own stack, before any device). */
export const nodeKeyOf = (hop: Hop): string => `${laneKeyOf(hop)}|${hop.ifname}`;

/** The skb at one interface, from its first hop there to the last before it moved on. */
export interface Visit {
  node: string;
  lane: string;
  ifname: string;
  /** indexes into the journey's hops */
  hops: number[];
  firstTNs: number;
  lastTNs: number;
}

/**
 * The interfaces a journey passed, in order, from its hops (all, or those `keep` admits). A veth's
 * peer receives inside the sender's transmit (queue a, rx b, xmit a): that xmit completes the visit
 * to a, it is not a way back, so the picture does not zigzag across the link.
 */
export function visitsOf(journey: Journey | undefined, keep: (hop: Hop) => boolean = () => true): Visit[] {
  const visits: Visit[] = [];
  journey?.hops.forEach((hop, i) => {
    if (!keep(hop)) return;
    const node = nodeKeyOf(hop);
    const last = visits[visits.length - 1];
    const target = last?.node === node ? last : hop.event === "net_dev_xmit" ? sendInProgress(journey, visits, node) : undefined;
    if (target) {
      target.hops.push(i);
      target.lastTNs = Math.max(target.lastTNs, hop.tNs);
      return;
    }
    visits.push({ node, lane: laneKeyOf(hop), ifname: hop.ifname, hops: [i], firstTNs: hop.tNs, lastTNs: hop.tNs });
  });
  return visits;
}

const hasEvent = (j: Journey, v: Visit, event: string): boolean => v.hops.some((i) => j.hops[i]?.event === event);

/**
 * The latest visit to `node` if it queued the packet and has not seen it transmitted: transmits nest
 * (a VXLAN device's xmit returns after the underlay's queue, the peer's rx and the underlay's xmit).
 */
function sendInProgress(j: Journey, visits: Visit[], node: string): Visit | undefined {
  for (let i = visits.length - 1; i >= 0; i--) {
    const v = visits[i]!;
    if (v.node !== node) continue;
    return hasEvent(j, v, "net_dev_queue") && !hasEvent(j, v, "net_dev_xmit") ? v : undefined;
  }
  return undefined;
}
