// Where a capture has holes: when its source lost records (a full kernel ring says so with a
// records_lost event, the first and last time; a pipeline that drops a batch, with the batch's
// span), and which exchanges were open then. Such an exchange may lack hops, or its answer: its path
// and its status ("no-reply", where it ended) are then what was left, not what happened. Pure.
import type { Exchange } from "./types.ts";

/** The event a source reports lost records with: `len` of them, from lostFromNs to tNs. */
export const RECORDS_LOST = "records_lost";

/** Records lost just before an exchange's first hop seen can be its earlier hops, up to this long before. */
export const GAP_SLACK_NS = 1e6;
/** Gaps older than this, on the capture's clock, are forgotten: nothing stays open that long. */
const KEEP_NS = 600e9;
const MAX_GAPS = 65_536;

/** When an exchange began: the first hop of any of its journeys. */
function beganNs(x: Exchange): number | undefined {
  let t: number | undefined;
  for (const j of [x.request, x.reply, x.error?.journey, ...(x.retries ?? []), ...(x.fragments ?? [])]) {
    const first = j?.hops[0]?.tNs;
    if (first !== undefined && (t === undefined || first < t)) t = first;
  }
  return t;
}

export class Gaps {
  /** when records were lost, as disjoint spans of the capture's clock, ascending */
  private from: number[] = [];
  private to: number[] = [];

  /** Records were lost from fromNs to toNs (a full kernel ring: the last loss, fromNs = toNs; a batch dropped: its span). */
  note(fromNs: number, toNs = fromNs): void {
    const { from, to } = this;
    // The first span that ends at or after fromNs, and the last that begins at or before toNs: merged.
    let lo = to.length;
    while (lo > 0 && to[lo - 1]! >= fromNs) lo--;
    let hi = lo;
    while (hi < from.length && from[hi]! <= toNs) hi++;
    const f = hi > lo ? Math.min(fromNs, from[lo]!) : fromNs, t = hi > lo ? Math.max(toNs, to[hi - 1]!) : toNs;
    from.splice(lo, hi - lo, f);
    to.splice(lo, hi - lo, t);
    if (from.length > MAX_GAPS) {
      this.from = from.slice(MAX_GAPS / 2);
      this.to = to.slice(MAX_GAPS / 2);
    }
  }

  /** Forgets what no open exchange can have been open across. */
  prune(nowNs: number): void {
    let n = 0;
    while (n < this.to.length && this.to[n]! <= nowNs - KEEP_NS) n++;
    if (n === 0) return;
    this.from = this.from.slice(n);
    this.to = this.to.slice(n);
  }

  /** Whether records were lost between the exchange's first hop (less the slack) and nowNs, when it ended. */
  crossed(x: Exchange, nowNs: number): boolean {
    const { from, to } = this;
    if (to.length === 0) return false;
    const begin = (beganNs(x) ?? nowNs) - GAP_SLACK_NS;
    // The first span that ends at or after the exchange began: lost in it if it began before the end.
    let lo = 0, hi = to.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (to[mid]! < begin) lo = mid + 1;
      else hi = mid;
    }
    return lo < to.length && from[lo]! <= nowNs;
  }

  /** Marks those of `exchanges` (from index `start`) that were open across a loss. */
  mark(exchanges: Exchange[], start: number, nowNs: number): void {
    if (this.to.length === 0) return;
    for (let i = start; i < exchanges.length; i++) {
      const x = exchanges[i]!;
      if (this.crossed(x, nowNs)) x.recordsLost = true;
    }
  }
}
