// Draws a PathMap and a Waterfall into <svg> elements with d3. Every colour and font is an attribute,
// not CSS, so the serialized SVG (exports pasted into incident docs) looks the same outside the page.
import { select, type Selection } from "d3";
import type { Side } from "../../../shared/topology.ts";
import { M, type BoxGeom, type NodeGeom, type PathMap } from "./layout.ts";
import type { EdgeGeom } from "./routes.ts";
import type { Waterfall } from "./waterfall.ts";

export interface Palette {
  name: "dark" | "light";
  background: string;
  box: string;
  boxLine: string;
  node: string;
  text: string;
  muted: string;
  request: string;
  reply: string;
  error: string;
  turn: string;
  drop: string;
  tunnel: string;
  note: string;
}

export const DARK: Palette = { name: "dark", background: "#0d1117", box: "#131a23", boxLine: "#2b3a4d", node: "#1b2430", text: "#e6edf3",
  muted: "#9aa7b6", request: "#4ea1ff", reply: "#f0a43c", error: "#c780ff", turn: "#9aa7b6", drop: "#ff5d5d", tunnel: "#2ea043", note: "#d2a8ff" };
export const LIGHT: Palette = { name: "light", background: "#ffffff", box: "#f4f6f8", boxLine: "#c5ced8", node: "#ffffff", text: "#1f2328",
  muted: "#57606a", request: "#0969da", reply: "#bc4c00", error: "#8250df", turn: "#6e7781", drop: "#cf222e", tunnel: "#1a7f37", note: "#6639ba" };

const FONT = "ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const MONO = "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace";
const SIDE_WORD: Record<Side, string> = { request: "request", reply: "reply", error: "ICMP error" };

type G = Selection<SVGGElement, unknown, null, undefined>;

const colourOf = (p: Palette, side: EdgeGeom["side"]): string => (side === "end" ? p.muted : p[side]);

function halo(t: Selection<SVGTextElement, unknown, null, undefined>, p: Palette): void {
  t.attr("stroke", p.background).attr("stroke-width", 4).attr("stroke-linejoin", "round").attr("paint-order", "stroke");
}

function text(g: G, x: number, y: number, s: string, size: number, fill: string, extra: Record<string, string | number> = {}) {
  const t = g.append("text").attr("x", x).attr("y", y).attr("font-size", size).attr("fill", fill).text(s);
  for (const [k, v] of Object.entries(extra)) t.attr(k, v);
  return t;
}

function defs(g: G, p: Palette, id: string): void {
  const d = g.append("defs");
  for (const side of ["request", "reply", "error", "turn"] as const) {
    d.append("marker").attr("id", `${id}-arrow-${side}`).attr("viewBox", "0 0 10 10").attr("refX", 9).attr("refY", 5)
      .attr("markerWidth", 7).attr("markerHeight", 7).attr("orient", "auto-start-reverse")
      .append("path").attr("d", "M0,0 L10,5 L0,10 z").attr("fill", colourOf(p, side));
  }
}

function legend(g: G, map: PathMap, p: Palette): void {
  const l = g.append("g").attr("class", "pp-legend").attr("font-family", FONT);
  let x = M.margin;
  for (const side of map.sides) {
    l.append("line").attr("x1", x).attr("x2", x + 22).attr("y1", 18).attr("y2", 18).attr("stroke", p[side]).attr("stroke-width", 2.5);
    text(l as G, x + 28, 22, SIDE_WORD[side], 12, p.muted);
    x += 40 + SIDE_WORD[side].length * 7.2;
  }
  text(l as G, x, 22, "time on the edges · events over (request) and under (answer) each interface", 12, p.muted);
}

function box(g: G, b: BoxGeom, p: Palette): void {
  const bg = g.append("g").attr("class", "pp-box").attr("data-lane", b.key);
  bg.append("rect").attr("x", b.x).attr("y", b.y).attr("width", b.width).attr("height", b.height).attr("rx", 8)
    .attr("fill", p.box).attr("stroke", p.boxLine);
  bg.append("title").text(b.title);
  text(bg as G, b.x + M.padX, b.y + 20, b.label, M.labelFont, p.text, { class: "pp-lane-label", "font-weight": 700, "font-family": FONT });
  b.notes.forEach((n, i) => {
    const colour = n.kind === "loop" ? p.drop : n.kind === "tunnel" ? p.tunnel : n.kind === "error" ? p.error : n.kind === "turn" || n.kind === "steps" ? p.muted : p.note;
    text(bg as G, b.x + M.padX, b.y + b.height - 12 - (b.notes.length - 1 - i) * M.line, n.text, 12, colour,
      { class: `pp-note pp-note-${n.kind}`, "font-family": FONT, "font-weight": n.kind === "turn" || n.kind === "steps" ? 400 : 600 });
  });
}

function node(g: G, n: NodeGeom, p: Palette): void {
  const ng = g.append("g").attr("class", n.mark ? `pp-${n.mark.kind}` : "pp-node").attr("data-node", n.id);
  if (n.mark) {
    const up = n.mark.side === "request";
    const y = up ? n.y - 7 : n.y + 7, x = n.x - n.width / 2 + 10, r = 7;
    const colour = n.mark.kind === "drop" ? p.drop : p.muted;
    if (n.mark.kind === "drop") {
      ng.append("path").attr("d", `M${x - r},${y - r} L${x + r},${y + r} M${x + r},${y - r} L${x - r},${y + r}`)
        .attr("stroke", colour).attr("stroke-width", 3).attr("stroke-linecap", "round");
    } else {
      ng.append("circle").attr("cx", x).attr("cy", y).attr("r", r).attr("fill", "none").attr("stroke", colour)
        .attr("stroke-width", 2).attr("stroke-dasharray", "3 3");
    }
    const lines = [n.mark.label, n.mark.detail].filter((t): t is string => t !== undefined);
    lines.forEach((line, i) => {
      const t = text(ng as G, x - r, y + 24 + i * M.line, line, 12, colour, { class: `pp-${n.mark?.kind}-label`,
        "font-weight": i === 0 ? 700 : 400, "font-family": i === 0 ? FONT : MONO });
      halo(t, p);
    });
    return;
  }
  ng.append("rect").attr("x", n.x - n.width / 2).attr("y", n.y - M.nodeH / 2).attr("width", n.width).attr("height", M.nodeH)
    .attr("rx", 6).attr("fill", p.node).attr("stroke", p.boxLine);
  text(ng as G, n.x, n.y + 5, n.ifname || "stack", M.nodeFont, p.text, { class: "pp-node-label", "text-anchor": "middle",
    "font-weight": 600, "font-family": MONO });
  n.above.forEach((line, i) => {
    text(ng as G, n.x, n.y - M.nodeH / 2 - 6 - (n.above.length - 1 - i) * M.line, line, 12, p.request,
      { class: "pp-node-event", "text-anchor": "middle", "font-family": FONT });
  });
  n.below.forEach((line, i) => {
    text(ng as G, n.x, n.y + M.nodeH / 2 + 15 + i * M.line, line, 12, p[n.belowSides[i] ?? "reply"],
      { class: "pp-node-event", "text-anchor": "middle", "font-family": FONT });
  });
  ng.append("title").text(`${n.ifname || "stack"}\nrequest: ${n.above.join(" · ") || "—"}\nanswer: ${n.below.join(" · ") || "—"}`);
}

function edge(g: G, e: EdgeGeom, p: Palette, id: string): void {
  const eg = g.append("g").attr("class", "pp-edge").attr("data-side", e.side).attr("data-count", e.count);
  const colour = colourOf(p, e.side);
  if (e.tunnel) eg.append("path").attr("d", e.d).attr("fill", "none").attr("stroke", p.tunnel).attr("stroke-width", 10).attr("stroke-opacity", 0.3);
  eg.append("path").attr("d", e.d).attr("fill", "none").attr("stroke", colour).attr("stroke-width", 2)
    .attr("stroke-dasharray", e.side === "turn" ? "5 4" : e.side === "end" ? "2 4" : null)
    .attr("marker-end", e.side === "end" ? null : `url(#${id}-arrow-${e.side})`);
  if (e.label) {
    const t = text(eg as G, e.labelX, e.labelY, e.label, 12, p.text, { class: "pp-edge-label", "text-anchor": "middle", "font-family": MONO });
    halo(t, p);
  }
}

/** The map into `g` (a group of an svg); `id` keeps marker ids apart when two drawings share a page. */
export function drawMap(g: G, map: PathMap, p: Palette, id = "pp"): void {
  defs(g, p, id);
  g.append("rect").attr("width", map.width).attr("height", map.height).attr("fill", p.background);
  legend(g, map, p);
  const boxes = g.append("g").attr("class", "pp-boxes").attr("font-family", FONT);
  for (const b of map.boxes) box(boxes, b, p);
  const bands = g.append("g").attr("class", "pp-bands").attr("font-family", FONT);
  for (const b of map.bands) {
    bands.append("rect").attr("class", "pp-tunnel").attr("x", b.x).attr("y", b.y).attr("width", b.width).attr("height", b.height)
      .attr("rx", 10).attr("fill", p.tunnel).attr("fill-opacity", 0.12).attr("stroke", p.tunnel).attr("stroke-dasharray", "6 3")
      .append("title").text(b.text);
  }
  const edges = g.append("g").attr("class", "pp-edges");
  for (const e of map.edges) edge(edges, e, p, id);
  const nodes = g.append("g").attr("class", "pp-nodes").attr("font-family", FONT);
  for (const n of map.nodes) node(nodes, n, p);
}

export function drawWaterfall(g: G, wf: Waterfall, p: Palette): void {
  g.attr("class", "pp-waterfall").attr("font-family", FONT);
  g.append("rect").attr("width", wf.width).attr("height", wf.height).attr("fill", p.background);
  text(g, 16, 18, "where · interface", 12, p.muted, { "font-weight": 600 });
  text(g, wf.stepX, 18, "step", 12, p.muted, { "font-weight": 600 });
  for (const t of wf.ticks) {
    g.append("line").attr("x1", t.x).attr("x2", t.x).attr("y1", wf.top - 8).attr("y2", wf.top + wf.rows.length * 18)
      .attr("stroke", p.boxLine).attr("stroke-dasharray", "2 3");
    text(g, t.x, wf.top - 12, t.label, 12, p.muted, { "text-anchor": "middle", "font-family": MONO });
  }
  for (const r of wf.rows) {
    const row = g.append("g").attr("class", "pp-wf-row").attr("data-side", r.side);
    text(row as G, 16, r.y + 4, r.where, 12, p.text, { "font-family": MONO });
    text(row as G, wf.stepX, r.y + 4, r.step, 12, p[r.side]);
    row.append("rect").attr("x", r.x0).attr("y", r.y - 5).attr("width", Math.max(2, r.x1 - r.x0)).attr("height", 10).attr("rx", 2)
      .attr("fill", p[r.side]).attr("fill-opacity", 0.85);
    text(row as G, wf.deltaX, r.y + 4, r.delta, 12, p.muted, { "font-family": MONO });
  }
  if (wf.drop) text(g, 16, wf.drop.y + 4, wf.drop.text, 12, p.drop, { class: "pp-wf-drop", "font-weight": 700 });
}

function prepare(el: SVGSVGElement, width: number, height: number, label: string): Selection<SVGSVGElement, unknown, null, undefined> {
  const svg = select(el);
  svg.selectAll("*").remove();
  return svg.attr("xmlns", "http://www.w3.org/2000/svg").attr("viewBox", `0 0 ${width} ${height}`)
    .attr("width", width).attr("height", height).attr("role", "img").attr("aria-label", label);
}

export function renderMap(el: SVGSVGElement, map: PathMap, p: Palette, label: string): void {
  drawMap(prepare(el, map.width, map.height, label).append("g"), map, p);
}

export function renderWaterfall(el: SVGSVGElement, wf: Waterfall, p: Palette, label: string): void {
  drawWaterfall(prepare(el, wf.width, wf.height, label).append("g"), wf, p);
}

/** A picture that stands on its own: what, where and when over the map, the waterfall under it. */
export function renderExport(el: SVGSVGElement, map: PathMap, wf: Waterfall, p: Palette, header: string[], label: string): void {
  const headH = 16 + header.length * 20;
  const width = Math.max(map.width, wf.width);
  const svg = prepare(el, width, headH + map.height + wf.height, label);
  svg.append("rect").attr("width", width).attr("height", headH + map.height + wf.height).attr("fill", p.background);
  const head = svg.append("g").attr("class", "pp-export-header").attr("font-family", FONT);
  header.forEach((line, i) => text(head, M.margin, 24 + i * 20, line, i === 0 ? 15 : 13, i === 0 ? p.text : p.muted,
    { "font-weight": i === 0 ? 700 : 400 }));
  drawMap(svg.append("g").attr("transform", `translate(0,${headH})`), map, p, "ppx");
  drawWaterfall(svg.append("g").attr("transform", `translate(0,${headH + map.height})`), wf, p);
}
