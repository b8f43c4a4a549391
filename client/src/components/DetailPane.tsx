// The selected ping: a summary line, export/permalink actions, the path view and the hop table.
import { useEffect, useRef, useState } from "react";
import type { Ping } from "../../../shared/types.ts";
import { fetchPing, hashForPing } from "../api.ts";
import { pingDrop } from "../drops.ts";
import { downloadPng, downloadSvg } from "../exportImage.ts";
import { formatDurationNs } from "../format.ts";
import { HopTable } from "./HopTable.tsx";
import { PathView } from "./PathView.tsx";
import { StatusBadge } from "./StatusBadge.tsx";

interface Props {
  id: string | undefined;
  /** the list's copy, shown at once while the full one (hops included) loads */
  listPing: Ping | undefined;
  presenting: boolean;
  /** a ping of an opened file: the list's copy is whole, and the server does not know it */
  offline?: boolean;
}

type Load = { id: string; ping?: Ping; error?: string };

export function pingTitle(p: Ping): string {
  const rtt = p.rttNs !== undefined ? ` · rtt ${formatDurationNs(p.rttNs)}` : "";
  return `${p.id} · ICMPv${p.family === 4 ? 4 : 6} ${p.src} → ${p.dst} · id ${p.icmpId} seq ${p.seq} · ${p.status}${rtt}`;
}

const hasHops = (p: Ping | undefined): boolean => Boolean(p && ((p.request?.hops.length ?? 0) + (p.reply?.hops.length ?? 0)) > 0);

export function DetailPane({ id, listPing, presenting, offline = false }: Props) {
  const [load, setLoad] = useState<Load | undefined>(undefined);
  const [exportError, setExportError] = useState<string | undefined>(undefined);
  const svgRef = useRef<SVGSVGElement | null>(null);

  useEffect(() => {
    if (!id || offline) return;
    const ctrl = new AbortController();
    setLoad({ id });
    void fetchPing(id, ctrl.signal).then((r) => {
      if (!ctrl.signal.aborted) setLoad(r.ok ? { id, ping: r.value } : { id, error: r.error });
    });
    return () => ctrl.abort();
  }, [id, offline]);

  if (!id) {
    return (
      <section className="detail-pane empty-detail" aria-label="Ping detail">
        <p>Select a ping to see its path across interfaces and namespaces.</p>
        <p className="hint">↑/↓ in the list · <kbd>p</kbd> presentation mode · links to a ping can be shared</p>
      </section>
    );
  }
  const fetched = load?.id === id && !offline ? load.ping : undefined;
  const ping = fetched ?? (hasHops(listPing) || offline ? listPing : undefined);
  const error = offline ? (listPing ? undefined : `the file has no ping ${id}`) : load?.id === id ? load.error : undefined;
  const base = ping ? `pktpath-${ping.id}-${ping.dst}-seq${ping.seq}`.replace(/[^\w.-]+/g, "_") : "pktpath";

  const exportAs = (kind: "svg" | "png"): void => {
    const svg = svgRef.current;
    if (!svg) return;
    setExportError(undefined);
    if (kind === "svg") downloadSvg(svg, `${base}.svg`);
    else downloadPng(svg, `${base}.png`).catch((e: unknown) => setExportError(e instanceof Error ? e.message : String(e)));
  };
  const copyLink = (): void => {
    const url = `${location.origin}${location.pathname}${location.search}${hashForPing(id)}`;
    navigator.clipboard?.writeText(url).catch(() => setExportError("the clipboard is not available; copy the address bar"));
  };

  return (
    <section className="detail-pane" aria-label="Ping detail">
      {ping ? (
        <>
          <div className="detail-head">
            <h2 className="detail-title">
              <StatusBadge status={ping.status} />
              <span className="addr">{ping.src} <span className="arrow">→</span> {ping.dst}</span>
              <span className="meta">ICMPv{ping.family === 4 ? 4 : 6} id {ping.icmpId} seq {ping.seq}</span>
              <span className="meta">rtt {ping.rttNs !== undefined ? formatDurationNs(ping.rttNs) : "—"}</span>
              <span className="meta pid">{ping.id}</span>
            </h2>
            <div className="actions">
              <button type="button" onClick={() => exportAs("svg")}>Export SVG</button>
              <button type="button" onClick={() => exportAs("png")}>Export PNG</button>
              {!offline && <button type="button" onClick={copyLink} title="Copy a link that opens this ping">Copy link</button>}
            </div>
          </div>
          {exportError && <p className="error" role="alert">{exportError}</p>}
          <DropNote ping={ping} />
          <PathView ping={ping} title={pingTitle(ping)} presenting={presenting} svgRef={svgRef} />
          <HopTable ping={ping} />
        </>
      ) : error ? (
        <p className="error" role="alert">{error}</p>
      ) : (
        <p className="loading">Loading {id}…</p>
      )}
    </section>
  );
}

function DropNote({ ping }: { ping: Ping }) {
  const shown = pingDrop(ping);
  if (!shown) return null;
  const { side, drop: d } = shown;
  const last = ping[side]?.hops.at(-1);
  return (
    <p className="drop-note" role="status">
      <strong>Dropped</strong> on the {side} path{last ? ` after ${last.ifname}` : ""}: <code>{d.reason}</code>
      {d.location ? <> at <code>{d.location}</code></> : null}
    </p>
  );
}
