// Group by flow: exchanges of one kind between the same two addresses (and, for TCP/UDP, the same
// destination port) in one row, with counts and round-trip percentiles. Pure.
import { asExchange } from "./describe.ts";
import type { Exchange, ExchangeKind, Ping } from "./types.ts";

export interface FlowGroup {
  key: string;
  kind: ExchangeKind;
  family: 4 | 6;
  src: string;
  dst: string;
  dport?: number;
  count: number;
  dropped: number;
  errors: number;
  noReply: number;
  refused: number;
  /** nearest-rank percentiles of the round trips measured */
  rttP50Ns?: number;
  rttP99Ns?: number;
  /** newest first, as given */
  ids: string[];
}

export function flowKeyOf(x: Exchange): string {
  return `${x.kind} ${x.src} ${x.dst}${x.kind === "icmp-echo" ? "" : ` ${x.dport ?? ""}`}`;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

/** Groups in order of their newest member (items come newest first). */
export function groupFlows(items: readonly (Ping | Exchange)[]): FlowGroup[] {
  const groups = new Map<string, FlowGroup & { rtts: number[] }>();
  for (const item of items) {
    const x = asExchange(item);
    const key = flowKeyOf(x);
    let g = groups.get(key);
    if (!g) {
      g = { key, kind: x.kind, family: x.family, src: x.src, dst: x.dst, count: 0, dropped: 0, errors: 0, noReply: 0, refused: 0,
        ids: [], rtts: [] };
      if (x.kind !== "icmp-echo" && x.dport !== undefined) g.dport = x.dport;
      groups.set(key, g);
    }
    g.count++;
    g.ids.push(x.id);
    if (x.status === "dropped") g.dropped++;
    else if (x.status === "error") g.errors++;
    else if (x.status === "no-reply") g.noReply++;
    else if (x.status === "refused") g.refused++;
    if (x.rttNs !== undefined) g.rtts.push(x.rttNs);
  }
  return [...groups.values()].map(({ rtts, ...g }) => {
    const sorted = rtts.sort((a, b) => a - b);
    const p50 = percentile(sorted, 50), p99 = percentile(sorted, 99);
    const out: FlowGroup = g;
    if (p50 !== undefined) out.rttP50Ns = p50;
    if (p99 !== undefined) out.rttP99Ns = p99;
    return out;
  });
}
