// The live list: newest first, filterable, a keyboard-navigable listbox (arrows, Home/End, Page keys).
import { useEffect, useMemo, useRef, type KeyboardEvent } from "react";
import type { Ping } from "../../../shared/types.ts";
import { matchesFilter } from "../filter.ts";
import { formatDurationNs } from "../format.ts";
import { StatusBadge } from "./StatusBadge.tsx";

interface Props {
  pings: readonly Ping[];
  selectedId: string | undefined;
  filter: string;
  onFilter(filter: string): void;
  onSelect(id: string): void;
  /** what an empty list says; live pages wait for traffic */
  emptyText?: string;
}

const optionId = (id: string): string => `ping-opt-${id}`;

const WAITING = "Waiting for pings… run ping somewhere on this host.";

export function PingList({ pings, selectedId, filter, onFilter, onSelect, emptyText = WAITING }: Props) {
  const visible = useMemo(() => pings.filter((p) => matchesFilter(p, filter)), [pings, filter]);
  const listRef = useRef<HTMLUListElement>(null);
  const selectedIndex = visible.findIndex((p) => p.id === selectedId);

  useEffect(() => {
    if (!selectedId) return;
    document.getElementById(optionId(selectedId))?.scrollIntoView({ block: "nearest" });
  }, [selectedId]);

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>): void => {
    const page = 10;
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    let next: number | undefined;
    if (e.key in moves) next = (selectedIndex < 0 ? -1 : selectedIndex) + (moves[e.key] ?? 0);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = visible.length - 1;
    if (next === undefined || visible.length === 0) return;
    e.preventDefault();
    const target = visible[Math.max(0, Math.min(visible.length - 1, next))];
    if (target) onSelect(target.id);
  };

  return (
    <section className="list-pane" aria-label="Pings">
      <div className="list-tools">
        <input type="search" className="filter" placeholder="Filter: 10.0.0.2 seq=3 dropped eth0" value={filter}
          aria-label="Filter pings" onChange={(e) => onFilter(e.target.value)} />
        <span className="count" aria-live="polite">{visible.length === pings.length ? `${pings.length}` : `${visible.length}/${pings.length}`}</span>
      </div>
      {visible.length === 0 ? (
        <p className="empty">{pings.length === 0 ? emptyText : "No ping matches the filter."}</p>
      ) : (
        <ul ref={listRef} className="ping-list" role="listbox" tabIndex={0} aria-label="Pings, newest first"
          aria-activedescendant={selectedIndex >= 0 && selectedId ? optionId(selectedId) : undefined} onKeyDown={onKeyDown}>
          {visible.map((p) => (
            <li key={p.id} id={optionId(p.id)} role="option" aria-selected={p.id === selectedId}
              className={`ping-row${p.id === selectedId ? " selected" : ""}`} data-ping-id={p.id}
              onClick={() => onSelect(p.id)}>
              <span className="row-main">
                <span className="addr">{p.src} <span className="arrow">→</span> {p.dst}</span>
                <span className="rtt">{p.rttNs !== undefined ? formatDurationNs(p.rttNs) : "—"}</span>
              </span>
              <span className="row-sub">
                <StatusBadge status={p.status} />
                <span className="seq">seq {p.seq}</span>
                <span className="pid">{p.id}</span>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
