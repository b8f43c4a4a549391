// Capture and connection state, always visible (also in presentation mode: the audience should know
// whether they watch live traffic or a replay).
import { useEffect, useState } from "react";
import type { LiveState } from "../store.ts";

const CONN_LABEL: Record<LiveState["conn"], string> = {
  connecting: "connecting",
  open: "connected",
  reconnecting: "reconnecting",
  closed: "disconnected",
};

function useNowMs(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

export function StatusBar({ live }: { live: LiveState }) {
  const { stats, conn, retryAtMs } = live;
  const now = useNowMs(conn === "reconnecting" && retryAtMs !== undefined);
  const retry = conn === "reconnecting" && retryAtMs !== undefined ? ` (retry in ${Math.max(0, Math.ceil((retryAtMs - now) / 1000))} s)` : "";
  return (
    <footer className="status-bar" aria-label="Capture status">
      <span className={`conn conn-${conn}`} data-conn={conn} role="status">
        <span className="dot" aria-hidden="true" />{CONN_LABEL[conn]}{retry}
      </span>
      <span className="item" title="capture source">source <b className="source">{stats?.source ?? "—"}</b></span>
      <span className="item">{stats ? (stats.live ? <b className="mode-live">live</b> : <b className="mode-replay">replay</b>) : "—"}</span>
      <span className="item"><b>{stats ? Math.round(stats.eventsPerSec).toLocaleString("en-US") : "—"}</b> events/s</span>
      <span className="item"><b>{stats ? stats.events.toLocaleString("en-US") : "—"}</b> events</span>
      <span className={`item${stats && stats.lost > 0 ? " warn" : ""}`} title="events the kernel could not hand over">
        <b>{stats ? stats.lost.toLocaleString("en-US") : "—"}</b> lost
      </span>
      {live.paused && <span className="item warn">updates paused</span>}
      {live.lastError && <span className="item warn" title={live.lastError}>⚠ {live.lastError}</span>}
    </footer>
  );
}
