// The routes of the path map: one edge per step from interface to interface, as an SVG path with
// its time label. Straight along a row; over an arc when it skips nodes or goes against its track;
// down (or up) through the gap between rows when the path wraps. Pure.
import { formatDeltaNs } from "../../../shared/describe.ts";
import type { Side, Visit } from "../../../shared/topology.ts";
import type { Hop } from "../../../shared/types.ts";
import type { BoxGeom, NodeGeom } from "./layout.ts";

export interface EdgeGeom {
  id: string;
  /** a route's step; "turn" is time at the far end; "end" leads to a drop or no-reply mark */
  side: Side | "turn" | "end";
  from: string;
  to: string;
  /** SVG path data */
  d: string;
  label: string;
  labelX: number;
  labelY: number;
  /** passes over this edge (a loop passes more than once) */
  count: number;
  dtNs: number;
  /** carried encapsulated (both ends saw the outer header) */
  tunnel: boolean;
}

interface SideVisits {
  side: Side;
  hops: Hop[];
  visits: Visit[];
}

const TRACK = 7;
const WRAP_REACH = 18;
const r1 = (n: number): number => Math.round(n * 10) / 10;
const trackY = (n: NodeGeom, upper: boolean): number => (upper ? n.y - TRACK : n.y + TRACK);

/** The last moment at `a` before the skb showed up at `b` (a veth's xmit may come after the peer's rx). */
function departTNs(hops: Hop[], a: Visit, b: Visit): number {
  let t = a.firstTNs;
  for (const i of a.hops) {
    const h = hops[i];
    if (h && h.tNs <= b.firstTNs) t = Math.max(t, h.tNs);
  }
  return t;
}

function geometry(a: NodeGeom, b: NodeGeom, upper: boolean, rowOf: (n: NodeGeom) => number, rowBottom: (r: number) => number,
  nodes: NodeGeom[], rowGap: number): { d: string; lx: number; ly: number } {
  const ya = trackY(a, upper), yb = trackY(b, upper);
  const below = !upper;
  const ra = rowOf(a), rb = rowOf(b);
  if (ra !== rb) {
    const down = rb > ra;
    const xa = down ? a.x + a.width / 2 : a.x - a.width / 2, xb = down ? b.x - b.width / 2 : b.x + b.width / 2;
    const outA = down ? xa + WRAP_REACH : xa - WRAP_REACH, inB = down ? xb - WRAP_REACH : xb + WRAP_REACH;
    // Through the middle of the gap between the rows: request a little above, reply a little below,
    // each label on its own side so neither touches a box.
    const mid = rowBottom(Math.min(ra, rb)) + rowGap / 2 + (below ? 6 : -6);
    const d = `M${r1(xa)},${r1(ya)} H${r1(outA)} V${r1(mid)} H${r1(inB)} V${r1(yb)} H${r1(xb)}`;
    return { d, lx: r1((outA + inB) / 2), ly: r1(below ? mid + 14 : mid - 5) };
  }
  const right = b.x > a.x;
  const xa = right ? a.x + a.width / 2 : a.x - a.width / 2, xb = right ? b.x - b.width / 2 : b.x + b.width / 2;
  const between = nodes.some((n) => rowOf(n) === ra && n.x > Math.min(a.x, b.x) && n.x < Math.max(a.x, b.x));
  const against = upper ? !right : right;
  if (!between && !against) {
    return { d: `M${r1(xa)},${r1(ya)} L${r1(xb)},${r1(yb)}`, lx: r1((xa + xb) / 2), ly: r1(below ? ya + 16 : ya - 6) };
  }
  // Over (request) or under (reply) the nodes it passes, so it is not read as going through them.
  const bulge = below ? 46 : -46;
  const cx = (xa + xb) / 2, cy = (ya + yb) / 2 + 2 * bulge;
  const apexY = (ya + yb) / 4 + cy / 2;
  return { d: `M${r1(xa)},${r1(ya)} Q${r1(cx)},${r1(cy)} ${r1(xb)},${r1(yb)}`, lx: r1(cx), ly: r1(below ? apexY + 15 : apexY - 5) };
}

export function routeEdges(sv: SideVisits[], byId: Map<string, NodeGeom>, boxes: BoxGeom[],
  rowBottom: (r: number) => number, rowGap: number): EdgeGeom[] {
  const rowByLane = new Map(boxes.map((b) => [b.key, b.row]));
  const rowOf = (n: NodeGeom): number => rowByLane.get(n.lane) ?? 0;
  const nodes = [...byId.values()];
  const edges = new Map<string, EdgeGeom>();
  const add = (side: EdgeGeom["side"], from: string, to: string, dtNs: number | undefined, tunnel: boolean, upper = side === "request"): void => {
    const a = byId.get(from), b = byId.get(to);
    if (!a || !b || from === to) return;
    const id = `${side}:${from}>${to}`;
    const seen = edges.get(id);
    if (seen) {
      seen.count++;
      seen.label = `${formatDeltaNs(seen.dtNs)} ×${seen.count}`;
      return;
    }
    const g = geometry(a, b, upper, rowOf, rowBottom, nodes, rowGap);
    edges.set(id, { id, side, from, to, d: g.d, label: dtNs === undefined ? "" : formatDeltaNs(dtNs), labelX: g.lx, labelY: g.ly,
      count: 1, dtNs: dtNs ?? 0, tunnel });
  };
  const encapsulated = (s: SideVisits, v: Visit): boolean => v.hops.some((i) => s.hops[i]?.outer !== undefined);
  const req = sv.find((s) => s.side === "request");
  for (const s of sv) {
    s.visits.forEach((v, i) => {
      const next = s.visits[i + 1];
      if (next) add(s.side, v.node, next.node, next.firstTNs - departTNs(s.hops, v, next), encapsulated(s, v) && encapsulated(s, next));
    });
    const end = nodes.find((n) => n.mark?.side === s.side);
    const last = s.visits[s.visits.length - 1];
    if (end && last) add("end", last.node, end.id, undefined, false, s.side === "request");
    // The far end: the request's last interface to where the answer starts, when they differ.
    const lastReq = req?.visits[req.visits.length - 1], first = s.visits[0];
    if (s.side !== "request" && lastReq && first) add("turn", lastReq.node, first.node, first.firstTNs - lastReq.lastTNs, false);
  }
  return [...edges.values()];
}
