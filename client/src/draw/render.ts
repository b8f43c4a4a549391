// Draws a PathLayout into an <svg> with d3. Every colour and font is an attribute, not CSS, so the
// serialized SVG (export, screenshots pasted into incident docs) looks the same outside the page.
import { select, type BaseType, type Selection } from "d3";
import { estimateTextWidth } from "../format.ts";
import type { EdgeGeom, LaneGeom, MarkGeom, NodeGeom, PathLayout } from "./layout.ts";

export const PALETTE = {
  background: "#0d1117",
  laneEven: "#131a23",
  laneOdd: "#10161e",
  laneLine: "#263140",
  text: "#e6edf3",
  muted: "#8b98a8",
  request: "#4ea1ff",
  reply: "#f0a43c",
  turn: "#8b98a8",
  drop: "#ff5d5d",
  pill: "#1b2430",
} as const;

const FONT = "ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const MONO = "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace";
const NODE_R = 7;
const LANE_LABEL_CHARS = 18;

type Svg = Selection<SVGSVGElement, unknown, null, undefined>;

export interface RenderOptions {
  /** one line at the top: what this ping is, so an exported picture stands on its own */
  title?: string;
}

const sideColor = (side: EdgeGeom["side"]): string => PALETTE[side];

function defs(svg: Svg): void {
  const d = svg.append("defs");
  for (const side of ["request", "reply", "turn"] as const) {
    d.append("marker").attr("id", `pp-arrow-${side}`).attr("viewBox", "0 0 10 10")
      .attr("refX", 9).attr("refY", 5).attr("markerWidth", 7).attr("markerHeight", 7)
      .attr("orient", "auto-start-reverse")
      .append("path").attr("d", "M0,0 L10,5 L0,10 z").attr("fill", sideColor(side));
  }
}

function header(svg: Svg, layout: PathLayout, title: string | undefined): void {
  const g = svg.append("g").attr("class", "pp-header").attr("font-family", FONT);
  if (title) {
    g.append("text").attr("x", 12).attr("y", 18).attr("font-size", 13).attr("font-weight", 600)
      .attr("fill", PALETTE.text).text(title);
  }
  const items: [string, string, boolean][] = [["request", PALETTE.request, false], ["reply", PALETTE.reply, false],
    ["time at far end", PALETTE.turn, true]];
  let x = 12;
  const y = layout.lanes[0] ? layout.lanes[0].top - 12 : 36;
  for (const [label, colour, dashed] of items) {
    g.append("line").attr("x1", x).attr("x2", x + 22).attr("y1", y - 4).attr("y2", y - 4)
      .attr("stroke", colour).attr("stroke-width", 2).attr("stroke-dasharray", dashed ? "4 3" : null);
    g.append("text").attr("x", x + 28).attr("y", y).attr("font-size", 11).attr("fill", PALETTE.muted).text(label);
    x += 40 + estimateTextWidth(label, 11);
  }
  g.append("text").attr("x", x).attr("y", y).attr("font-size", 13).attr("font-weight", 700)
    .attr("fill", PALETTE.drop).text("✕");
  g.append("text").attr("x", x + 14).attr("y", y).attr("font-size", 11).attr("fill", PALETTE.muted).text("drop");
}

function lanes(svg: Svg, layout: PathLayout): void {
  const g = svg.append("g").attr("class", "pp-lanes").attr("font-family", FONT);
  const lane = g.selectAll<SVGGElement, LaneGeom>("g").data(layout.lanes).join("g")
    .attr("class", "pp-lane").attr("data-lane", (l) => l.key);
  lane.append("rect").attr("x", 0).attr("y", (l) => l.top).attr("width", layout.width).attr("height", (l) => l.height)
    .attr("fill", (_l, i) => (i % 2 === 0 ? PALETTE.laneEven : PALETTE.laneOdd));
  lane.append("line").attr("x1", 0).attr("x2", layout.width).attr("y1", (l) => l.top).attr("y2", (l) => l.top)
    .attr("stroke", PALETTE.laneLine);
  lane.append("title").text((l) => (l.key === "?" ? l.label : `${l.label} (netns inode ${l.key})`));
  lane.append("text").attr("class", "pp-lane-label").attr("x", 12).attr("y", (l) => l.y - 2)
    .attr("font-size", 13).attr("font-weight", 600).attr("fill", PALETTE.text)
    .text((l) => (l.label.length > LANE_LABEL_CHARS ? `${l.label.slice(0, LANE_LABEL_CHARS - 1)}…` : l.label));
  // A named lane also shows its inode: names are per machine, the inode is what the kernel reports.
  lane.filter((l) => l.label !== `netns ${l.key}` && l.key !== "?").append("text").attr("x", 12)
    .attr("y", (l) => l.y + 14).attr("font-size", 11).attr("font-family", MONO).attr("fill", PALETTE.muted)
    .text((l) => `inode ${l.key}`);
}

/** The segment between two node centres, pulled back to the circles' rims so arrowheads show. */
function trimmed(a: NodeGeom, b: NodeGeom): [number, number, number, number] {
  const dx = b.x - a.x, dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len, uy = dy / len;
  return [a.x + ux * (NODE_R + 2), a.y + uy * (NODE_R + 2), b.x - ux * (NODE_R + 3), b.y - uy * (NODE_R + 3)];
}

function edges(svg: Svg, layout: PathLayout): void {
  const byId = new Map(layout.nodes.map((n) => [n.id, n]));
  const drawn = layout.edges.flatMap((e) => {
    const a = byId.get(e.from), b = byId.get(e.to);
    return a && b ? [{ e, a, b }] : [];
  });
  const g = svg.append("g").attr("class", "pp-edges").attr("font-family", MONO);
  const edge = g.selectAll<SVGGElement, (typeof drawn)[number]>("g").data(drawn).join("g").attr("class", "pp-edge")
    .attr("data-side", (d) => d.e.side);
  edge.append("line")
    .attr("x1", (d) => trimmed(d.a, d.b)[0]).attr("y1", (d) => trimmed(d.a, d.b)[1])
    .attr("x2", (d) => trimmed(d.a, d.b)[2]).attr("y2", (d) => trimmed(d.a, d.b)[3])
    .attr("stroke", (d) => sideColor(d.e.side)).attr("stroke-width", 2)
    .attr("stroke-dasharray", (d) => (d.e.side === "turn" ? "5 4" : null))
    .attr("marker-end", (d) => `url(#pp-arrow-${d.e.side})`);
  const pillW = (d: { e: EdgeGeom }): number => estimateTextWidth(d.e.label, 11) + 10;
  // The turn edge is short and leaves the request text's side: its label sits past the middle.
  const at = (d: { e: EdgeGeom }): number => (d.e.side === "turn" ? 0.62 : 0.5);
  const mx = (d: { e: EdgeGeom; a: NodeGeom; b: NodeGeom }): number => d.a.x + (d.b.x - d.a.x) * at(d);
  const my = (d: { e: EdgeGeom; a: NodeGeom; b: NodeGeom }): number => d.a.y + (d.b.y - d.a.y) * at(d);
  edge.append("rect").attr("x", (d) => mx(d) - pillW(d) / 2).attr("y", (d) => my(d) - 9)
    .attr("width", pillW).attr("height", 18).attr("rx", 9).attr("fill", PALETTE.pill)
    .attr("stroke", (d) => sideColor(d.e.side)).attr("stroke-opacity", 0.5);
  edge.append("text").attr("class", "pp-edge-label").attr("x", mx).attr("y", (d) => my(d) + 4)
    .attr("text-anchor", "middle").attr("font-size", 11).attr("fill", PALETTE.text).text((d) => d.e.label);
}

function halo<D, P extends BaseType, PD>(text: Selection<SVGTextElement, D, P, PD>): void {
  text.attr("stroke", PALETTE.background).attr("stroke-width", 4).attr("stroke-linejoin", "round")
    .attr("paint-order", "stroke");
}

function nodes(svg: Svg, layout: PathLayout): void {
  const g = svg.append("g").attr("class", "pp-nodes").attr("font-family", FONT);
  const node = g.selectAll<SVGGElement, NodeGeom>("g").data(layout.nodes).join("g").attr("class", "pp-node")
    .attr("data-node", (n) => n.id).attr("data-side", (n) => n.side);
  node.append("circle").attr("cx", (n) => n.x).attr("cy", (n) => n.y).attr("r", NODE_R)
    .attr("fill", (n) => PALETTE[n.side]).attr("stroke", PALETTE.background).attr("stroke-width", 2);
  // A halo in the background colour keeps text readable where an edge passes behind it.
  const up = (n: NodeGeom): number => (n.labelAt === "above" ? -1 : 1);
  node.append("text").attr("class", "pp-node-event").attr("x", (n) => n.x).attr("y", (n) => n.y + up(n) * 13 + 4)
    .attr("text-anchor", "middle").attr("font-size", 11).attr("fill", PALETTE.muted).call(halo).text((n) => n.eventLabel);
  node.append("text").attr("class", "pp-node-label").attr("x", (n) => n.x).attr("y", (n) => n.y + up(n) * 26 + 4)
    .attr("text-anchor", "middle").attr("font-size", 13).attr("font-weight", 600).attr("fill", PALETTE.text)
    .call(halo).text((n) => n.label);
  node.append("title").text((n) => `${n.side} ${n.event} on ${n.label}`);
}

function mark(svg: Svg, layout: PathLayout, m: MarkGeom, kind: "drop" | "no-reply"): void {
  const colour = kind === "drop" ? PALETTE.drop : PALETTE.muted;
  const g = svg.append("g").attr("class", `pp-${kind}`).attr("font-family", FONT);
  const from = layout.nodes.find((n) => n.id === m.from);
  if (from) {
    // Where the path ends: no arrow and no time step, the kernel reported no hop there.
    const [x1, y1] = trimmed(from, { ...from, x: m.x, y: m.y });
    g.append("line").attr("x1", x1).attr("y1", y1).attr("x2", m.x - 12).attr("y2", m.y)
      .attr("stroke", colour).attr("stroke-width", 2).attr("stroke-dasharray", "2 4");
  }
  if (kind === "drop") {
    const r = 8;
    g.append("path").attr("d", `M${m.x - r},${m.y - r} L${m.x + r},${m.y + r} M${m.x + r},${m.y - r} L${m.x - r},${m.y + r}`)
      .attr("stroke", colour).attr("stroke-width", 3).attr("stroke-linecap", "round");
  } else {
    g.append("circle").attr("cx", m.x).attr("cy", m.y).attr("r", NODE_R).attr("fill", "none")
      .attr("stroke", colour).attr("stroke-width", 2).attr("stroke-dasharray", "3 3");
  }
  // Reading order is always reason, then location; the block sits below a request-row mark and above
  // a reply-row mark, the side where the lane has room.
  const lines = [m.label, m.detail].filter((t): t is string => t !== undefined);
  const firstY = m.side === "request" ? m.y + 26 : m.y - 16 - (lines.length - 1) * 15;
  lines.forEach((line, i) => {
    const main = i === 0;
    g.append("text").attr("class", `pp-${kind}-label`).attr("x", m.textX).attr("y", firstY + i * 15)
      .attr("text-anchor", "start").attr("font-size", main ? 12 : 11).attr("font-weight", main ? 700 : 400)
      .attr("font-family", main ? FONT : MONO).attr("fill", colour).call(halo).text(line);
  });
}

export function renderPath(el: SVGSVGElement, layout: PathLayout, opts: RenderOptions = {}): void {
  const svg: Svg = select(el);
  svg.selectAll("*").remove();
  svg.attr("xmlns", "http://www.w3.org/2000/svg").attr("viewBox", `0 0 ${layout.width} ${layout.height}`)
    .attr("width", layout.width).attr("height", layout.height).attr("role", "img");
  svg.append("rect").attr("width", layout.width).attr("height", layout.height).attr("fill", PALETTE.background);
  defs(svg);
  lanes(svg, layout);
  header(svg, layout, opts.title);
  edges(svg, layout);
  nodes(svg, layout);
  if (layout.drop) mark(svg, layout, layout.drop, "drop");
  if (layout.noReply) mark(svg, layout, layout.noReply, "no-reply");
}
