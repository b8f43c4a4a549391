// The list: compact rows (time, route, status, RTT, reason), virtualised so 100,000 entries scroll
// smoothly (only the rows in view are in the DOM), searchable, and groupable by flow.
import { memo, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { exchangeFlags, exchangeRoute, formatDurationNs, formatWallClock } from "../../../shared/describe.ts";
import type { FlowGroup } from "../../../shared/flows.ts";
import type { Exchange, Ping } from "../../../shared/types.ts";
import { reasonOf, rowKey, rowsOf, type ListRow } from "../listRows.ts";
import { viewerZone } from "../format.ts";
import { StatusBadge } from "./StatusBadge.tsx";

export const ROW_PX = 40;
const OVERSCAN = 8;

interface Props {
  items: readonly (Ping | Exchange)[];
  /** what "of M" says: the server's total (or matches), when known */
  total?: number;
  selectedId: string | undefined;
  query: string;
  onQuery(q: string): void;
  /** a server search is under way, or failed */
  searchState?: { busy: boolean; error?: string };
  onSelect(id: string): void;
  emptyText?: string;
  grouped: boolean;
  onGrouped(grouped: boolean): void;
  /** the server's groups over everything it holds; without them the list groups what it has */
  flows?: readonly FlowGroup[];
}

const optionId = (id: string): string => `ping-opt-${id}`;
const WAITING = "Waiting for pings… run ping somewhere on this host.";
const n = (v: number): string => v.toLocaleString("en-US");

export function PingList({ items, total, selectedId, query, onQuery, searchState, onSelect, emptyText = WAITING, grouped, onGrouped, flows }: Props) {
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const rows = useMemo(() => rowsOf(items, grouped, expanded, flows), [items, grouped, expanded, flows]);
  const viewport = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 800 });
  const zone = useMemo(viewerZone, []);

  useEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const measure = (): void => setScroll({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [rows.length === 0]);

  const selectedIndex = useMemo(() => rows.findIndex((r) => r.type === "item" && r.item.id === selectedId), [rows, selectedId]);
  const flowCount = useMemo(() => rows.filter((r) => r.type === "group").length, [rows]);
  // One state update per animation frame however many scroll events come (excalidraw's throttleRAF).
  const frame = useRef<number | undefined>(undefined);
  useEffect(() => () => { if (frame.current !== undefined) cancelAnimationFrame(frame.current); }, []);
  const onScroll = (el: HTMLDivElement): void => {
    if (frame.current !== undefined) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = undefined;
      setScroll({ top: el.scrollTop, height: el.clientHeight });
    });
  };
  useEffect(() => {
    const el = viewport.current;
    if (!el || selectedIndex < 0) return;
    const top = selectedIndex * ROW_PX;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_PX > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_PX - el.clientHeight;
  }, [selectedIndex]);

  const toggle = useCallback((key: string): void => setExpanded((s) => {
    const next = new Set(s);
    if (!next.delete(key)) next.add(key);
    return next;
  }), []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    const page = Math.max(1, Math.floor(scroll.height / ROW_PX) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    let next: number | undefined;
    if (e.key in moves) next = (selectedIndex < 0 ? -1 : selectedIndex) + (moves[e.key] ?? 0);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = rows.length - 1;
    if (next === undefined || rows.length === 0) return;
    e.preventDefault();
    const target = rows[Math.max(0, Math.min(rows.length - 1, next))];
    if (target?.type === "item") onSelect(target.item.id);
    else if (target?.type !== undefined && target.group.ids[0]) onSelect(target.group.ids[0]);
  };

  const first = Math.max(0, Math.floor(scroll.top / ROW_PX) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scroll.top + scroll.height) / ROW_PX) + OVERSCAN);
  const shown = items.length;
  const count = total !== undefined && total > shown ? `${n(shown)} of ${n(total)}` : n(shown);
  return (
    <section className="list-pane" aria-label="Pings">
      <div className="list-tools">
        <input type="search" className="filter" placeholder="Search: 10.0.0.2 dropped NETFILTER_DROP eth0 forward"
          value={query} aria-label="Search pings" onChange={(e) => onQuery(e.target.value)} />
        <button type="button" className="group-toggle" aria-pressed={grouped} onClick={() => onGrouped(!grouped)}
          title="One row per flow (kind, source, destination) with counts and RTT percentiles">Flows</button>
      </div>
      <div className="list-count" aria-live="polite">
        <span className="count">{count}</span>
        <span>{query.trim() ? "matching" : "pings"}{grouped ? ` · ${n(flowCount)} flows` : ""}</span>
        {searchState?.busy && <span className="muted"> · searching…</span>}
        {searchState?.error && <span className="warn"> · {searchState.error}</span>}
        <span className="zone" title="times in your time zone">{zone}</span>
      </div>
      {rows.length === 0 ? (
        <p className="empty">{query.trim() ? "Nothing matches the search." : emptyText}</p>
      ) : (
        <div ref={viewport} className="ping-list" role="listbox" tabIndex={0} aria-label="Pings, newest first"
          aria-activedescendant={selectedIndex >= 0 && selectedId ? optionId(selectedId) : undefined} onKeyDown={onKeyDown}
          onScroll={(e) => onScroll(e.currentTarget)}>
          <div className="ping-list-inner" style={{ height: rows.length * ROW_PX }}>
            {rows.slice(first, last).map((r, i) => (
              r.type === "more" ? (
                <div key={rowKey(r)} className="more-row" role="option" aria-selected={false} style={{ top: (first + i) * ROW_PX }}
                  onClick={() => onQuery(`${r.group.src} ${r.group.dst}`)}>
                  {n(r.count)} more on the server: search “{r.group.src} {r.group.dst}” to list them
                </div>
              ) : (
                <Row key={rowKey(r)} row={r} top={(first + i) * ROW_PX} zone={zone} selected={r.type === "item" && r.item.id === selectedId}
                  onSelect={onSelect} onToggle={toggle} />
              )
            ))}
          </div>
        </div>
      )}
    </section>
  );
}

/** Memoised: a scroll redraws only the rows that came into view. */
const Row = memo(function Row({ row, top, zone, selected, onSelect, onToggle }: { row: Exclude<ListRow, { type: "more" }>; top: number; zone: string; selected: boolean;
  onSelect(id: string): void; onToggle(key: string): void }) {
  if (row.type === "group") return <GroupRow group={row.group} open={row.open} top={top} onToggle={onToggle} />;
  const x = row.item;
  const reason = reasonOf(x), flags = exchangeFlags(x);
  return (
    <div id={optionId(x.id)} role="option" aria-selected={selected} data-ping-id={x.id} style={{ top }}
      className={`ping-row${selected ? " selected" : ""}${row.depth ? " member" : ""}`} onClick={() => onSelect(x.id)}>
      <span className="row-main">
        <span className="time">{x.at ? formatWallClock(x.at, { timeZone: zone, fractionDigits: 3 }).replace(/ \S+$/, "") : "—"}</span>
        <span className="addr" title={exchangeRoute(x)}>{exchangeRoute(x)}</span>
        <span className="rtt">{x.rttNs !== undefined ? formatDurationNs(x.rttNs) : "—"}</span>
      </span>
      <span className="row-sub">
        <StatusBadge status={x.status} />
        {x.recordsLost && <span className="lost" title="the capture lost records while this was open (the kernel's ring was full): its path and status may be incomplete">records lost</span>}
        {x.kind !== "icmp-echo" && x.dport !== undefined && <span className="flags" title="destination port">:{x.dport}</span>}
        {flags && <span className="flags">{flags}</span>}
        {reason && <span className="reason" title={reason}>{reason}</span>}
        <span className="pid">{x.id}</span>
      </span>
    </div>
  );
}, sameRow);

type RowProps = { row: Exclude<ListRow, { type: "more" }>; top: number; zone: string; selected: boolean };

/** Rows are rebuilt each frame; what is drawn changes only with the item, its place or its selection. */
function sameRow(a: RowProps, b: RowProps): boolean {
  if (a.top !== b.top || a.selected !== b.selected || a.zone !== b.zone || a.row.type !== b.row.type) return false;
  if (a.row.type === "item" && b.row.type === "item") return a.row.item === b.row.item && a.row.depth === b.row.depth;
  if (a.row.type === "group" && b.row.type === "group") {
    const [g, h] = [a.row.group, b.row.group];
    return a.row.open === b.row.open && g.key === h.key && g.count === h.count && g.dropped === h.dropped && g.errors === h.errors
      && g.noReply === h.noReply && g.refused === h.refused && g.rttP50Ns === h.rttP50Ns && g.rttP99Ns === h.rttP99Ns;
  }
  return false;
}

function GroupRow({ group: g, open, top, onToggle }: { group: FlowGroup; open: boolean; top: number; onToggle(key: string): void }) {
  const proto = g.kind === "icmp-echo" ? (g.family === 6 ? "icmp6" : "icmp") : g.kind;
  const rtt = g.rttP50Ns !== undefined ? `p50 ${formatDurationNs(g.rttP50Ns)} · p99 ${formatDurationNs(g.rttP99Ns ?? g.rttP50Ns)}` : "no RTT";
  return (
    <div className="flow-row" role="option" aria-selected={false} aria-expanded={open} data-flow={g.key} style={{ top }}
      onClick={() => onToggle(g.key)}>
      <span className="row-main">
        <span className="caret" aria-hidden="true">{open ? "▾" : "▸"}</span>
        <span className="addr">{proto} {g.src} → {g.dst}{g.dport !== undefined ? `:${g.dport}` : ""}</span>
        <span className="flow-count">{n(g.count)}</span>
      </span>
      <span className="row-sub">
        <span className={g.dropped ? "bad" : ""}>{n(g.dropped)} dropped</span>
        <span className={g.errors ? "bad" : ""}>{n(g.errors)} errors</span>
        {g.noReply > 0 && <span className="warn">{n(g.noReply)} no reply</span>}
        {g.refused > 0 && <span className="warn">{n(g.refused)} refused</span>}
        <span className="flow-rtt">{rtt}</span>
      </span>
    </div>
  );
}
