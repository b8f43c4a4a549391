// What the list shows, as plain rows for the virtual list: exchanges, or flow groups with the
// members of the expanded ones under them. Pure.
import { asExchange } from "../../shared/describe.ts";
import { flowKeyOf, groupFlows, type FlowGroup } from "../../shared/flows.ts";
import { dropPointOf } from "../../shared/topology.ts";
import type { Exchange, Ping } from "../../shared/types.ts";

export type ListRow = { type: "item"; item: Exchange; depth: 0 | 1 } | { type: "group"; group: FlowGroup; open: boolean }
  /** an open group has more members on the server than the page holds */
  | { type: "more"; group: FlowGroup; count: number };

/**
 * Items, or groups: the server's (`flows`, over everything it holds) when given, else the items' own.
 * An open group lists the members the page holds.
 */
/** One Exchange view per Ping object, so a row's item keeps its identity between frames (memoised rows stay drawn). */
const views = new WeakMap<Ping | Exchange, Exchange>();
function viewOf(item: Ping | Exchange): Exchange {
  let x = views.get(item);
  if (!x) {
    x = asExchange(item);
    views.set(item, x);
  }
  return x;
}

export function rowsOf(items: readonly (Ping | Exchange)[], grouped: boolean, expanded: ReadonlySet<string>, flows?: readonly FlowGroup[]): ListRow[] {
  const xs = items.map(viewOf);
  if (!grouped) return xs.map((item) => ({ type: "item", item, depth: 0 }));
  const rows: ListRow[] = [];
  for (const group of flows ?? groupFlows(xs)) {
    const open = expanded.has(group.key);
    rows.push({ type: "group", group, open });
    if (!open) continue;
    let shown = 0;
    for (const item of xs) {
      if (flowKeyOf(item) !== group.key) continue;
      rows.push({ type: "item", item, depth: 1 });
      shown++;
    }
    if (group.count > shown) rows.push({ type: "more", group, count: group.count - shown });
  }
  return rows;
}

/** The row's reason: the rule or drop reason, the ICMP error, else nothing. */
export function reasonOf(x: Exchange): string | undefined {
  const drop = dropPointOf(x);
  if (drop) return drop.rule ? `nft ${drop.rule}` : drop.reason;
  if (x.error) return `${x.error.text} from ${x.error.from}`;
  return undefined;
}

export const rowKey = (r: ListRow): string => (r.type === "item" ? `i:${r.item.id}` : `${r.type}:${r.group.key}`);

/**
 * Pings (from the stream) and exchanges (polled) in one list, newest first by their `at`; an item
 * without one keeps its place relative to its own list.
 */
export function mergeNewestFirst<A extends { at?: string }, B extends { at?: string }>(a: readonly A[], b: readonly B[]): (A | B)[] {
  const out: (A | B)[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i], y = b[j];
    if (x === undefined) out.push(b[j++] as B);
    else if (y === undefined) out.push(a[i++] as A);
    else if (x.at === undefined || y.at === undefined || x.at >= y.at) out.push(a[i++] as A);
    else out.push(b[j++] as B);
  }
  return out;
}
