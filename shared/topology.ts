// A ping's path as the client draws it and the terminal prints it: namespace lanes, ordered steps,
// and where it was dropped. Geometry-free, so the server, the CLI and the page agree.
import { effectiveDrop } from "./pings.ts";
import type { Hop, Journey, Ping } from "./types.ts";

export interface Lane {
  /** stable identity: "ns:<inode>", else "name:<netnsName>", else "ns:?" */
  key: string;
  /** what to show: the namespace's name when known, else its inode, else "?" */
  name: string;
  netns?: number;
}

export type Side = "request" | "reply";

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
}

export function laneKeyOf(hop: Hop): string {
  if (hop.netns !== undefined) return `ns:${hop.netns}`;
  if (hop.netnsName !== undefined) return `name:${hop.netnsName}`;
  return "ns:?";
}

function fallbackName(hop: Hop): string {
  return hop.netnsName ?? (hop.netns !== undefined ? String(hop.netns) : "?");
}

function sideHops(ping: Ping): { side: Side; hop: Hop }[] {
  const req = (ping.request?.hops ?? []).map((hop) => ({ side: "request" as const, hop }));
  const rep = (ping.reply?.hops ?? []).map((hop) => ({ side: "reply" as const, hop }));
  return [...req, ...rep];
}

/** One lane per namespace, in order of first appearance; a name known on any hop names the lane. */
export function lanesOf(ping: Ping): Lane[] {
  const lanes = new Map<string, Lane>();
  const named = new Set<string>();
  for (const { hop } of sideHops(ping)) {
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

/** The request's hops then the reply's, each in time order, with the time since the previous step. */
export function pathOf(ping: Ping): PathStep[] {
  const lanes = new Map(lanesOf(ping).map((l) => [l.key, l]));
  const steps: PathStep[] = [];
  let prevTNs: number | undefined;
  for (const { side, hop } of sideHops(ping)) {
    const lane = lanes.get(laneKeyOf(hop)) ?? { key: laneKeyOf(hop), name: fallbackName(hop) };
    steps.push({ lane, ifname: hop.ifname, event: hop.event, tNs: hop.tNs,
      dtNs: prevTNs === undefined ? 0 : hop.tNs - prevTNs, side, len: hop.len });
    prevTNs = hop.tNs;
  }
  return steps;
}

/**
 * Where the ping was dropped, for a dropped ping only: a reply freed as NO_SOCKET after reaching its
 * host is a delivery (see effectiveDrop), not a drop point.
 */
export function dropPointOf(ping: Ping): DropPoint | undefined {
  if (ping.status !== "dropped") return undefined;
  for (const side of ["request", "reply"] as const) {
    const journey: Journey | undefined = ping[side];
    const drop = journey ? effectiveDrop(journey) : undefined;
    if (!journey || !drop) continue;
    const point: DropPoint = { side, reason: drop.reason };
    if (drop.location !== undefined) point.location = drop.location;
    const last = journey.hops[journey.hops.length - 1];
    if (last) {
      const lane = lanesOf(ping).find((l) => l.key === laneKeyOf(last));
      if (lane) point.lane = lane;
      point.ifname = last.ifname;
      point.tNs = last.tNs;
    }
    return point;
  }
  return undefined;
}
