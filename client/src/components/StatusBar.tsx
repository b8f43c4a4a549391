// Capture and connection state, always visible (also in presentation mode: the audience should know
// whether they watch live traffic or a replay).
import { useEffect, useState } from "react";
import type { CaptureStats } from "../../../shared/protocol.ts";
import type { FileView } from "../openFile.ts";
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

export function StatusBar({ live, file }: { live: LiveState; file?: FileView }) {
  const { conn, retryAtMs } = live;
  const now = useNowMs(conn === "reconnecting" && retryAtMs !== undefined);
  const retry = conn === "reconnecting" && retryAtMs !== undefined ? ` (retry in ${Math.max(0, Math.ceil((retryAtMs - now) / 1000))} s)` : "";
  return (
    <footer className="status-bar" aria-label="Capture status">
      <span className={`conn conn-${conn}`} data-conn={conn} role="status">
        <span className="dot" aria-hidden="true" />{CONN_LABEL[conn]}{retry}
      </span>
      {file ? <FileItems file={file} /> : <LiveItems live={live} />}
      {live.lastError && <span className="item warn" title={live.lastError}>⚠ {live.lastError}</span>}
    </footer>
  );
}

/** An opened file: what it is and holds; the live stream is still connected, just not shown. */
function FileItems({ file }: { file: FileView }) {
  const n = (v: number): string => v.toLocaleString("en-US");
  return (
    <>
      <span className="item file-name" title={`${file.source} capture opened in this page`}>file: <b>{file.name}</b></span>
      <span className="item"><b className="mode-file">{file.source}</b></span>
      <span className="item"><b>{n(file.events)}</b> events</span>
      <span className="item"><b>{n(file.journeys)}</b> journeys</span>
      <span className="item"><b>{n(file.pings.length)}</b> pings</span>
      {file.listed.length < file.pings.length && <span className="item">list shows the newest {n(file.listed.length)}</span>}
      <span className="item warn">live paused</span>
    </>
  );
}

function LiveItems({ live }: { live: LiveState }) {
  const { stats } = live;
  const n = (v: number): string => v.toLocaleString("en-US");
  return (
    <>
      <span className="item" title="capture source">source <b className="source">{stats?.source ?? "—"}</b></span>
      <span className="item">{stats ? (stats.live ? <b className="mode-live">live</b> : <b className="mode-replay">replay</b>) : "—"}</span>
      <span className="item"><b>{stats ? n(Math.round(stats.eventsPerSec)) : "—"}</b> events/s</span>
      <span className="item" title="records the capture produced, lost ones included"><b>{stats ? n(stats.events) : "—"}</b> events</span>
      <span className={`item lost${stats && stats.lost > 0 ? " warn" : ""}`} title={stats ? lostTitle(stats) : undefined}>
        <b>{stats ? n(stats.lost) : "—"}</b> lost{stats?.lostBy && stats.lost > 0 && <LostCauses stats={stats} />}
      </span>
      {stats?.sampled !== undefined && stats.sampled > 0 && (
        <span className="item sampled" title="packets the kernel did not follow: its ring was filling faster than the server correlates, so heavy flows were sampled (one in N of their exchanges followed, whole) while light ones, your own pings among them, were all followed">
          <b>{n(stats.sampled)}</b> packets of heavy flows sampled out
        </span>
      )}
      {live.summarised !== undefined && live.summarised > 0 && (
        <span className="item summarised" title="finished pings the server left out of the live stream under load: it sent the newest, every one that did not complete and the newest of each ping session; the server holds them (search, links)">
          <b>{n(live.summarised)}</b> complete pings summarised
        </span>
      )}
      {live.paused && <span className="item warn">updates paused</span>}
    </>
  );
}

/** The causes with a count, in the order events pass them: kernel ring, server queue, decoding. */
function LostCauses({ stats }: { stats: CaptureStats }) {
  const by = stats.lostBy;
  if (!by) return null;
  const parts = ([["ring", by.ring], ["queue", by.queue], ["undecodable", by.malformed]] as const).filter(([, v]) => v > 0);
  return <span className="lost-by"> ({parts.map(([k, v]) => `${k} ${v.toLocaleString("en-US")}`).join(", ")})</span>;
}

function lostTitle(stats: CaptureStats): string {
  const n = (v: number): string => v.toLocaleString("en-US");
  const lines = ["events that never reached correlation"];
  if (stats.lostBy) {
    lines.push(`kernel ring full (the reader behind): ${n(stats.lostBy.ring)}`,
      `server queue bound (correlation behind): ${n(stats.lostBy.queue)}`,
      `undecodable records: ${n(stats.lostBy.malformed)}`);
  }
  if (stats.collisions !== undefined) lines.push(`tracked skbs evicted by a table collision (later hops unrecorded): ${n(stats.collisions)}`);
  return lines.join("\n");
}
