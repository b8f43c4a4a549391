// The path view's geometry: a Ping in, lanes/nodes/edges out. Pure and deterministic (no DOM, no
// clock), so it is tested with exact numbers and render.ts only has to draw what it is given.
//
// One lane per network namespace, in order of first appearance. One node per hop, one column per hop,
// in causal order: all request hops, then all reply hops. Time order within a journey is kept even
// where it zigzags: on a veth pair the peer's netif_rx fires inside the sender's xmit, before
// net_dev_xmit, and hiding that would misstate the timings.
import type { Hop, Ping } from "../../../shared/types.ts";
import { pingDrop } from "../drops.ts";
import { estimateTextWidth, formatDeltaNs, netnsLabel, shortEvent } from "../format.ts";

export type Side = "request" | "reply";

export interface LayoutOptions {
  /** horizontal distance between consecutive hops */
  colWidth: number;
  laneHeight: number;
  /** request row sits this far above the lane's centre line, reply row this far below */
  rowOffset: number;
  /** room for the lane labels */
  marginLeft: number;
  /** room for the legend */
  marginTop: number;
  marginRight: number;
  marginBottom: number;
  /** font size the drop label is drawn with, to reserve room for it */
  labelFontPx: number;
}

export const DEFAULT_LAYOUT: LayoutOptions = {
  colWidth: 104,
  laneHeight: 120,
  rowOffset: 22,
  marginLeft: 150,
  marginTop: 56,
  marginRight: 24,
  marginBottom: 16,
  labelFontPx: 12,
};

export interface LaneGeom {
  key: string;
  label: string;
  /** centre line */
  y: number;
  top: number;
  height: number;
}

export interface NodeGeom {
  id: string;
  x: number;
  y: number;
  /** interface name */
  label: string;
  side: Side;
  event: string;
  /** short event name for the drawing */
  eventLabel: string;
  lane: string;
  tNs: number;
  /** where its text goes: away from the steeper of the edges that meet it */
  labelAt: "above" | "below";
}

export interface EdgeGeom {
  from: string;
  to: string;
  /** signed time step, e.g. "+3.5 µs" */
  label: string;
  /** "turn" joins the last request hop to the first reply hop: time spent at the far end */
  side: Side | "turn";
  dtNs: number;
}

export interface MarkGeom {
  x: number;
  y: number;
  label: string;
  side: Side;
  /** second line: where the kernel freed it */
  detail?: string;
  /** the last node before the mark, if any: the path's last known hop */
  from?: string;
  /** where the (left-aligned) text starts: it grows to the right, away from the previous hop's text */
  textX: number;
}

export interface PathLayout {
  width: number;
  height: number;
  lanes: LaneGeom[];
  nodes: NodeGeom[];
  edges: EdgeGeom[];
  drop?: MarkGeom;
  /** request went out and nothing came back in time */
  noReply?: MarkGeom;
}

/** A mark's text starts this far left of the mark's centre, under its left edge. */
const MARK_TEXT_INSET = 10;

interface Step {
  side: Side;
  hop: Hop;
  index: number;
}

const laneKey = (hop: Hop): string => (hop.netns !== undefined ? String(hop.netns) : "?");

function causalSteps(ping: Ping): Step[] {
  const steps: Step[] = [];
  for (const side of ["request", "reply"] as const) {
    const hops = ping[side]?.hops ?? [];
    hops.forEach((hop, index) => steps.push({ side, hop, index }));
  }
  return steps;
}

function lanesOf(steps: Step[], opts: LayoutOptions): LaneGeom[] {
  const order: string[] = [];
  const labels = new Map<string, string>();
  for (const { hop } of steps) {
    const key = laneKey(hop);
    if (!labels.has(key)) order.push(key);
    // A named hop anywhere in the lane names the lane; unnamed hops never overwrite a name.
    if (!labels.has(key) || hop.netnsName) labels.set(key, netnsLabel(hop.netns, hop.netnsName));
  }
  if (order.length === 0) {
    order.push("?");
    labels.set("?", netnsLabel(undefined, undefined));
  }
  return order.map((key, i) => {
    const top = opts.marginTop + i * opts.laneHeight;
    return { key, label: labels.get(key) ?? key, y: top + opts.laneHeight / 2, top, height: opts.laneHeight };
  });
}

function rowY(lane: LaneGeom, side: Side, opts: LayoutOptions): number {
  return side === "request" ? lane.y - opts.rowOffset : lane.y + opts.rowOffset;
}

/** Where a journey ended badly, one column after its last hop (or first column if it had none). */
function endMark(side: Side, nodes: NodeGeom[], col: number, lanes: LaneGeom[],
  opts: LayoutOptions): Omit<MarkGeom, "label" | "detail"> {
  const x = opts.marginLeft + (col + 0.5) * opts.colWidth;
  const last = [...nodes].reverse().find((n) => n.side === side);
  const lane = lanes.find((l) => l.key === last?.lane) ?? lanes[0];
  const y = lane ? rowY(lane, side, opts) : opts.marginTop;
  const mark = { x, y, side, textX: x - MARK_TEXT_INSET };
  return last ? { ...mark, from: last.id } : mark;
}

/**
 * Text above or below a node, on the side its edges cross less: an edge climbing in from another lane
 * would run through labels on that side. Level or balanced edges keep the row's default (request text
 * above, reply text below), which keeps the two rows of a lane apart.
 */
function placeLabels(nodes: NodeGeom[]): void {
  nodes.forEach((n, i) => {
    let aboveDy = 0, belowDy = 0;
    for (const m of [nodes[i - 1], nodes[i + 1]]) {
      if (!m) continue;
      if (m.y < n.y) aboveDy += n.y - m.y;
      if (m.y > n.y) belowDy += m.y - n.y;
    }
    if (aboveDy !== belowDy) n.labelAt = aboveDy < belowDy ? "above" : "below";
  });
}

/** A drop is marked only where the ping counts as dropped (see drops.ts). */
export function layoutPath(ping: Ping, options: Partial<LayoutOptions> = {}): PathLayout {
  const opts: LayoutOptions = { ...DEFAULT_LAYOUT, ...options };
  const steps = causalSteps(ping);
  const lanes = lanesOf(steps, opts);
  const laneByKey = new Map(lanes.map((l) => [l.key, l]));

  const nodes: NodeGeom[] = [];
  const edges: EdgeGeom[] = [];
  const shownDrop = pingDrop(ping);
  let drop: MarkGeom | undefined;
  let col = 0;
  for (const side of ["request", "reply"] as const) {
    for (const step of steps.filter((s) => s.side === side)) {
      const lane = laneByKey.get(laneKey(step.hop));
      if (!lane) continue;
      const node: NodeGeom = {
        id: `${side}-${step.index}`, x: opts.marginLeft + (col + 0.5) * opts.colWidth, y: rowY(lane, side, opts),
        label: step.hop.ifname, side, event: step.hop.event, eventLabel: shortEvent(step.hop.event),
        lane: lane.key, tNs: step.hop.tNs, labelAt: side === "request" ? "above" : "below",
      };
      const prev = nodes[nodes.length - 1];
      if (prev) {
        const dtNs = node.tNs - prev.tNs;
        edges.push({ from: prev.id, to: node.id, label: formatDeltaNs(dtNs), side: prev.side === side ? side : "turn", dtNs });
      }
      nodes.push(node);
      col++;
    }
    if (shownDrop?.side === side) {
      const { reason, location } = shownDrop.drop;
      drop = { ...endMark(side, nodes, col, lanes, opts), label: `dropped: ${reason}` };
      if (location) drop.detail = `at ${location}`;
      col++;
    }
  }

  placeLabels(nodes);

  let noReply: MarkGeom | undefined;
  if (ping.status === "no-reply" && !drop) {
    noReply = { ...endMark("request", nodes, col, lanes, opts), label: "no reply" };
    col++;
  }

  // Marks sit in the last column; their text may reach past it.
  const marksRight = [drop, noReply].flatMap((m) => (m ? [m] : []))
    .flatMap((m) => [m.label, m.detail].flatMap((t) => (t ? [m.textX + estimateTextWidth(t, opts.labelFontPx)] : [])));
  const columnsRight = opts.marginLeft + Math.max(col, 1) * opts.colWidth;
  const width = Math.max(columnsRight, ...marksRight) + opts.marginRight;
  const height = opts.marginTop + lanes.length * opts.laneHeight + opts.marginBottom;

  const out: PathLayout = { width, height, lanes, nodes, edges };
  if (drop) out.drop = drop;
  if (noReply) out.noReply = noReply;
  return out;
}
