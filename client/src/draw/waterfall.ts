// The waterfall under the map: time on x, one row per hop in causal order, each bar the time since
// the row before, so the long bars are where the time went. Pure, like layout.ts.
import { formatDeltaNs, formatDurationNs } from "../../../shared/describe.ts";
import { stepLabel } from "../../../shared/pathNotes.ts";
import { effectiveDrop } from "../../../shared/pings.ts";
import { dropText, isDeviceEvent, journeyOf, laneKeyOf, laneLabel, lanesOf, SIDES, type PathSubject, type Side } from "../../../shared/topology.ts";
import { estimateTextWidth } from "../format.ts";
import type { StepMode } from "./layout.ts";

export interface WaterfallRow {
  side: Side;
  /** "ppU-r3 · rt1" */
  where: string;
  step: string;
  y: number;
  /** bar from the previous row's time to this one's */
  x0: number;
  x1: number;
  tNs: number;
  delta: string;
}

export interface WaterfallTick {
  x: number;
  label: string;
}

export interface Waterfall {
  width: number;
  height: number;
  /** left edges of the columns: where, step, the plot, the Δ text */
  stepX: number;
  plotX: number;
  plotW: number;
  deltaX: number;
  rows: WaterfallRow[];
  ticks: WaterfallTick[];
  /** the last line, when the path ended in a drop */
  drop?: { y: number; text: string };
  top: number;
}

const ROW = 18;
const TOP = 40;
const FONT = 12;
const w = (t: string): number => estimateTextWidth(t, FONT);

/** Ticks at 1, 2 or 5 × 10^k, about five of them across the span. */
export function niceTicks(spanNs: number): number[] {
  if (!(spanNs > 0)) return [0];
  const raw = spanNs / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  for (let t = 0; t <= spanNs + 1e-9; t += step) out.push(Math.round(t));
  return out;
}

export function layoutWaterfall(subject: PathSubject, opts: { width: number; steps: StepMode }): Waterfall {
  const names = new Map(lanesOf(subject).map((l) => [l.key, laneLabel(l)]));
  const hops = SIDES.flatMap((side) => (journeyOf(subject, side)?.hops ?? [])
    .filter((h) => opts.steps === "all" || isDeviceEvent(h.event)).map((hop) => ({ side, hop })));
  const whereOf = (h: (typeof hops)[number]["hop"]): string => `${names.get(laneKeyOf(h)) ?? "?"} · ${h.ifname || "stack"}`;
  const whereW = Math.min(300, Math.max(120, ...hops.map((h) => w(whereOf(h.hop)))));
  const stepW = Math.min(220, Math.max(80, ...hops.map((h) => w(stepLabel(h.hop)))));
  const stepX = 16 + whereW + 12, plotX = stepX + stepW + 12;
  const deltaW = 90;
  const plotW = Math.max(200, opts.width - plotX - deltaW - 16);
  const t0 = hops[0]?.hop.tNs ?? 0;
  const t1 = Math.max(t0, ...hops.map((h) => h.hop.tNs));
  const span = t1 - t0;
  const xOf = (t: number): number => Math.round((plotX + (span > 0 ? ((t - t0) / span) * plotW : 0)) * 10) / 10;
  const rows: WaterfallRow[] = hops.map(({ side, hop }, i) => {
    const prev = hops[i - 1]?.hop.tNs ?? hop.tNs;
    return { side, where: whereOf(hop), step: stepLabel(hop), y: TOP + i * ROW + ROW / 2, x0: xOf(prev), x1: xOf(hop.tNs), tNs: hop.tNs,
      delta: i === 0 ? formatDurationNs(0) : formatDeltaNs(hop.tNs - prev) };
  });
  const ticks = niceTicks(span).map((t) => ({ x: xOf(t0 + t), label: formatDurationNs(t) }));
  let height = TOP + rows.length * ROW + 12;
  const out: Waterfall = { width: plotX + plotW + deltaW + 16, height, stepX, plotX, plotW, deltaX: plotX + plotW + 10, rows, ticks, top: TOP };
  if (subject.status === "dropped") {
    for (const side of SIDES) {
      const j = journeyOf(subject, side);
      const d = j ? effectiveDrop(j) : undefined;
      if (!d) continue;
      out.drop = { y: height + 4, text: `✕ ${side} ${dropText(d)}${d.location ? ` at ${d.location}` : ""}` };
      height += ROW + 4;
      break;
    }
  }
  out.height = height;
  return out;
}
