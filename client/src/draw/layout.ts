// The path map's geometry: an exchange in, boxes/nodes/routes out. Pure and deterministic (no DOM,
// no clock, text measured with estimateTextWidth), so it is snapshot-tested and render.ts only draws.
//
// One box per network namespace, always labelled; one node per interface in it; the request, the
// reply and an ICMP error are routes over the same nodes (request on the upper track, going right;
// reply and error on the lower one). Boxes flow left to right and wrap into rows to fit the width, so
// a long path never scrolls sideways and text keeps its size. The events at an interface are words
// over (request) or under (reply) its node; time is on the edges.
import { laneLabel, lanesOf, visitsOf, journeyOf, isDeviceEvent, type PathSubject, type Side, type Visit } from "../../../shared/topology.ts";
import { stepLabel, tunnelSegments } from "../../../shared/pathNotes.ts";
import type { Hop } from "../../../shared/types.ts";
import { estimateTextWidth } from "../format.ts";
import { lanesKey, marksOf, notesOf } from "./notes.ts";
import { routeEdges, type EdgeGeom } from "./routes.ts";

export type StepMode = "devices" | "all";

export interface MapOptions {
  /** the width to fit: the pane's, or the export's */
  width: number;
  steps: StepMode;
}

/** Sizes in px; every text is at least 12 px. */
export const M = {
  margin: 16, top: 40, boxGap: 88, nodeGap: 80, rowGap: 56, padX: 14, header: 30, line: 16, nodeH: 30,
  track: 7, labelFont: 15, nodeFont: 13, font: 12, minNodeW: 72, maxWordsW: 150, maxLabelChars: 32,
} as const;

export interface NodeGeom {
  id: string;
  lane: string;
  ifname: string;
  /** centre */
  x: number;
  y: number;
  width: number;
  /** the request's steps here, over the node */
  above: string[];
  /** the reply's and the error's, under it */
  below: string[];
  /** which route each line under the node belongs to */
  belowSides: Side[];
  /** a drop or no-reply mark standing in the path where it ended */
  mark?: MarkGeom;
}

export interface MarkGeom {
  kind: "drop" | "no-reply";
  side: Side;
  label: string;
  detail?: string;
}

export interface NoteGeom {
  kind: "nat" | "tunnel" | "loop" | "fragment" | "error" | "turn" | "steps";
  text: string;
}

export interface BoxGeom {
  key: string;
  /** the name shown, cut to fit; `title` has it whole */
  label: string;
  title: string;
  x: number;
  y: number;
  width: number;
  height: number;
  row: number;
  notes: NoteGeom[];
}

export interface BandGeom {
  x: number;
  y: number;
  width: number;
  height: number;
  text: string;
}

export interface PathMap {
  width: number;
  height: number;
  boxes: BoxGeom[];
  nodes: NodeGeom[];
  edges: EdgeGeom[];
  bands: BandGeom[];
  /** the routes drawn, for the legend */
  sides: Side[];
}

/**
 * Presentation draws larger as the screen grows: 1.25× on a 1920 px screen (12 px text becomes 15 px),
 * up to 1.6× on larger ones; the layout is made for the width divided by it, so it still fits.
 */
export function presentationScale(paneWidth: number): number {
  return Math.round(Math.min(1.6, Math.max(1, paneWidth / 1480)) * 100) / 100;
}

const textW = (t: string, px: number = M.font): number => estimateTextWidth(t, px);
const cut = (t: string, n: number): string => (t.length > n ? `${t.slice(0, n - 1)}…` : t);

/** Words packed into lines no wider than `maxW` (a word wider than that gets a line of its own). */
export function packWords(words: string[], maxW: number): string[] {
  const lines: string[] = [];
  for (const w of words) {
    const last = lines[lines.length - 1];
    if (last !== undefined && textW(`${last} · ${w}`) <= maxW) lines[lines.length - 1] = `${last} · ${w}`;
    else lines.push(w);
  }
  return lines;
}

export interface SideVisits {
  side: Side;
  hops: Hop[];
  visits: Visit[];
}

function sideVisits(subject: PathSubject, steps: StepMode): SideVisits[] {
  const keep = (h: Hop): boolean => steps === "all" || isDeviceEvent(h.event);
  return (["request", "reply", "error"] as const).flatMap((side) => {
    const j = journeyOf(subject, side);
    return j ? [{ side, hops: j.hops, visits: visitsOf(j, keep) }] : [];
  });
}

/** The steps seen at a node, each once in first-seen order; a node passed again says how often. */
function stepWords(hops: Hop[], visits: Visit[], node: string): string[] {
  const words: string[] = [];
  let passes = 0;
  for (const v of visits) {
    if (v.node !== node) continue;
    passes++;
    for (const i of v.hops) {
      const h = hops[i];
      const w = h ? stepLabel(h) : undefined;
      if (w && !words.includes(w)) words.push(w);
    }
  }
  return passes > 1 ? [...words, `${passes} passes`] : words;
}

interface BoxPlan {
  key: string;
  label: string;
  title: string;
  nodes: NodeGeom[];
  notes: NoteGeom[];
  width: number;
  above: number;
  below: number;
}

function nodeWidth(n: NodeGeom): number {
  const texts = [...n.above, ...n.below].map((t) => textW(t));
  const mark = n.mark ? Math.max(textW(n.mark.label), n.mark.detail ? textW(n.mark.detail) : 0) : 0;
  return Math.max(M.minNodeW, textW(n.ifname, M.nodeFont) + 20, ...texts, mark);
}

function planBoxes(subject: PathSubject, steps: StepMode): { plans: BoxPlan[]; sv: SideVisits[] } {
  const sv = sideVisits(subject, steps);
  const nodes = new Map<string, NodeGeom>();
  for (const { visits } of sv) {
    for (const v of visits) {
      if (!nodes.has(v.node)) nodes.set(v.node, { id: v.node, lane: v.lane, ifname: v.ifname, x: 0, y: 0, width: 0, above: [], below: [], belowSides: [] });
    }
  }
  for (const n of nodes.values()) {
    for (const { side, hops, visits } of sv) {
      const lines = packWords(stepWords(hops, visits, n.id), Math.max(M.maxWordsW, textW(n.ifname, M.nodeFont) + 20));
      if (side === "request") n.above.push(...lines);
      else {
        n.below.push(...lines);
        n.belowSides.push(...lines.map(() => side));
      }
    }
  }
  // Marks stand where the route ended: after the last node (the route's direction decides the side).
  const order = [...nodes.keys()];
  for (const [i, m] of marksOf(subject, sv).entries()) {
    const id = `mark-${i}`;
    const markNode: NodeGeom = { id, lane: m.lane ?? "ns:?", ifname: "", x: 0, y: 0, width: 0, above: [], below: [], belowSides: [], mark: m.mark };
    const at = m.after === undefined ? -1 : order.indexOf(m.after);
    const backwards = m.mark.side !== "request";
    order.splice(at < 0 ? order.length : backwards ? at : at + 1, 0, id);
    nodes.set(id, markNode);
  }
  const notes = notesOf(subject, sv);
  const lanes = lanesOf(subject);
  const plans: BoxPlan[] = [];
  for (const lane of lanes) {
    const boxNodes = order.map((id) => nodes.get(id)).filter((n): n is NodeGeom => n !== undefined && n.lane === lane.key);
    let laneNotes = notes.get(lane.key) ?? [];
    // A namespace the path reached only through stack steps (a macvlan's receive handler, a packet
    // freed before any device) keeps its box in the devices view, saying where its steps are.
    const hidden = boxNodes.length === 0 && sv.some((s) => s.hops.some((h) => lanesKey(h) === lane.key && !isDeviceEvent(h.event)));
    if (hidden && steps === "devices") laneNotes = [...laneNotes, { kind: "steps", text: "no device hop here: see Every step" }];
    if (boxNodes.length === 0 && laneNotes.length === 0) continue;
    for (const n of boxNodes) n.width = nodeWidth(n);
    const full = laneLabel(lane);
    const label = cut(full, M.maxLabelChars);
    const nodesW = boxNodes.reduce((s, n) => s + n.width, 0) + Math.max(0, boxNodes.length - 1) * M.nodeGap;
    const width = 2 * M.padX + Math.max(nodesW, textW(label, M.labelFont), ...laneNotes.map((n) => textW(n.text)));
    plans.push({ key: lane.key, label, title: lane.netns !== undefined ? `${full} (netns inode ${lane.netns})` : full,
      nodes: boxNodes, notes: laneNotes, width,
      above: Math.max(0, ...boxNodes.map((n) => n.above.length)), below: Math.max(0, ...boxNodes.map((n) => n.below.length + (n.mark ? 2 : 0))) });
  }
  return { plans, sv };
}

/** Boxes into rows, left to right; a row ends where the next box would pass the width. */
function rowsOf(plans: BoxPlan[], width: number): BoxPlan[][] {
  const rows: BoxPlan[][] = [];
  let x = M.margin;
  for (const p of plans) {
    const row = rows[rows.length - 1];
    if (!row || (row.length > 0 && x + p.width > width - M.margin)) {
      rows.push([p]);
      x = M.margin + p.width + M.boxGap;
    } else {
      row.push(p);
      x += p.width + M.boxGap;
    }
  }
  return rows;
}

export function layoutMap(subject: PathSubject, opts: MapOptions): PathMap {
  const { plans, sv } = planBoxes(subject, opts.steps);
  const rows = rowsOf(plans, opts.width);
  const boxes: BoxGeom[] = [];
  const nodes: NodeGeom[] = [];
  let y = M.top;
  let right = 0;
  rows.forEach((row, r) => {
    const above = Math.max(0, ...row.map((p) => p.above)), below = Math.max(0, ...row.map((p) => p.below));
    const notes = Math.max(0, ...row.map((p) => p.notes.length));
    const nodeY = y + M.header + above * M.line + 6 + M.nodeH / 2;
    const height = M.header + (above + below + notes) * M.line + M.nodeH + 24;
    let x = M.margin;
    for (const p of row) {
      const nodesW = p.nodes.reduce((s, n) => s + n.width, 0) + Math.max(0, p.nodes.length - 1) * M.nodeGap;
      let nx = x + (p.width - nodesW) / 2;
      for (const n of p.nodes) {
        n.x = nx + n.width / 2;
        n.y = nodeY;
        nx += n.width + M.nodeGap;
        nodes.push(n);
      }
      boxes.push({ key: p.key, label: p.label, title: p.title, x, y, width: p.width, height, row: r, notes: p.notes });
      x += p.width + M.boxGap;
    }
    right = Math.max(right, x - M.boxGap + M.margin);
    y += height + M.rowGap;
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const rowBottom = (r: number): number => Math.max(...boxes.filter((b) => b.row === r).map((b) => b.y + b.height));
  const edges = routeEdges(sv, byId, boxes, rowBottom, M.rowGap);
  const bands = tunnelBands(subject, opts.steps, byId);
  const sides = sv.filter((s) => s.visits.length > 0).map((s) => s.side);
  return { width: Math.max(opts.width, right), height: y - M.rowGap + M.margin, boxes, nodes, edges, bands, sides };
}

/**
 * The nodes that saw the packet encapsulated, one band per row they share; a tunnel's way back over
 * the same nodes is the same band, its title naming both directions.
 */
function tunnelBands(subject: PathSubject, steps: StepMode, byId: Map<string, NodeGeom>): BandGeom[] {
  const bands: BandGeom[] = [];
  const add = (band: BandGeom): void => {
    const same = bands.find((b) => b.x === band.x && b.y === band.y && b.width === band.width);
    if (!same) bands.push(band);
    else if (!same.text.split("\n").includes(band.text)) same.text = `${same.text}\n${band.text}`;
  };
  for (const t of tunnelSegments(subject)) {
    const j = journeyOf(subject, t.side);
    if (!j) continue;
    const ids = new Set(j.hops.slice(t.first, t.last + 1).filter((h) => h.outer && (steps === "all" || isDeviceEvent(h.event)))
      .map((h) => `${lanesKey(h)}|${h.ifname}`));
    const ns = [...ids].map((id) => byId.get(id)).filter((n): n is NodeGeom => n !== undefined);
    for (const rowY of [...new Set(ns.map((n) => n.y))]) {
      const inRow = ns.filter((n) => n.y === rowY);
      const x0 = Math.min(...inRow.map((n) => n.x - n.width / 2)) - 6, x1 = Math.max(...inRow.map((n) => n.x + n.width / 2)) + 6;
      add({ x: x0, y: rowY - M.nodeH / 2 - 8, width: x1 - x0, height: M.nodeH + 16, text: t.text });
    }
  }
  return bands;
}
