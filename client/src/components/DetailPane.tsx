// The selected exchange: what it is and when, actions (export, link), the notes, the map with its
// waterfall and the hop table. A ping the stream delivered whole is not fetched again.
import { useEffect, useRef, useState } from "react";
import { asExchange, exchangeLine, formatDurationNs, formatWallClock } from "../../../shared/describe.ts";
import type { Exchange, Ping } from "../../../shared/types.ts";
import { downloadCapture, fetchPing, hashForPing, type PingLink, type ServerInfo } from "../api.ts";
import type { StepMode } from "../draw/layout.ts";
import { exportPicture } from "../exportImage.ts";
import { HopTable } from "./HopTable.tsx";
import { PathNotes } from "./PathNotes.tsx";
import { PathView } from "./PathView.tsx";
import { StatusBadge } from "./StatusBadge.tsx";

interface Props {
  link: PingLink | undefined;
  /** the copy the page holds (from the stream or a search), shown at once */
  held: Ping | Exchange | undefined;
  zone: string;
  info?: ServerInfo;
  /** a ping of an opened file: the held copy is whole, and the server does not know it */
  offline?: boolean;
  fileName?: string;
  presenting?: boolean;
}

type Load = { id: string; item?: Ping | Exchange; gone?: boolean; error?: string };

const hopCount = (x: Ping | Exchange | undefined): number =>
  x ? (x.request?.hops.length ?? 0) + (x.reply?.hops.length ?? 0) + (x.error?.journey?.hops.length ?? 0) : 0;

export function DetailPane({ link, held, zone, info, offline = false, fileName, presenting = false }: Props) {
  const id = link?.id;
  const [load, setLoad] = useState<Load | undefined>(undefined);
  const [note, setNote] = useState<string | undefined>(undefined);
  const [steps, setSteps] = useState<StepMode>("devices");
  const [theme, setTheme] = useState<"light" | "dark">("light");
  const widthRef = useRef(1200);
  // Held with its hops (the stream sends them): nothing to fetch. A search result lists without hops.
  const whole = held !== undefined && (offline || hopCount(held) > 0);
  const heldKind = held && "kind" in held ? held.kind : undefined;

  useEffect(() => {
    if (!id || offline || whole) return;
    const ctrl = new AbortController();
    setLoad({ id });
    void fetchPing(id, ctrl.signal, heldKind).then((r) => {
      if (ctrl.signal.aborted) return;
      setLoad(r.kind === "ping" ? { id, item: r.ping } : r.kind === "gone" ? { id, gone: true } : { id, error: r.error });
    });
    return () => ctrl.abort();
  }, [id, offline, whole, heldKind]);

  if (!id) {
    return (
      <section className="detail-pane empty-detail" aria-label="Ping detail">
        <p>Select a ping to see its path across interfaces and namespaces.</p>
        <p className="hint">↑/↓ in the list · <kbd>p</kbd> presentation · <kbd>←</kbd>/<kbd>→</kbd> or <kbd>j</kbd>/<kbd>k</kbd> next/previous there · links can be shared</p>
      </section>
    );
  }
  const fetched = load?.id === id ? load : undefined;
  const item = whole ? held : fetched?.item ?? (held && hopCount(held) > 0 ? held : undefined);
  if (!item) {
    if (fetched?.gone || (offline && !held)) return <Gone link={link} offline={offline} fileName={fileName} />;
    if (fetched?.error) return <section className="detail-pane"><p className="error" role="alert">{fetched.error}</p></section>;
    return <section className="detail-pane"><p className="loading">Loading {id}…</p></section>;
  }
  const x = asExchange(item);
  const when = x.at ? formatWallClock(x.at, { timeZone: zone, date: true }) : undefined;
  const title = `${x.id} · ${exchangeLine(x)}${x.rttNs !== undefined ? ` · rtt ${formatDurationNs(x.rttNs)}` : ""}`;
  const about = { at: x.at, what: exchangeLine(x) };

  const exportAs = (kind: "svg" | "png"): void => {
    setNote(undefined);
    const header = [title, [when ?? "time unknown", info ? `host ${info.host}` : undefined, `source ${info?.source ?? fileName ?? "?"}`,
      steps === "all" ? "every step" : "device hops"].filter(Boolean).join(" · ")];
    exportPicture(kind, x, { width: widthRef.current ?? 1200, steps, theme, header, title })
      .catch((e: unknown) => setNote(e instanceof Error ? e.message : String(e)));
  };
  const copyLink = (): void => {
    const url = `${location.origin}${location.pathname}${location.search}${hashForPing(x.id, about)}`;
    navigator.clipboard?.writeText(url).then(() => setNote("Link copied: it names the time and endpoints, so it still says what it was if the server has forgotten it."),
      () => setNote(`The clipboard is not available; the link is ${url}`));
  };

  return (
    <section className="detail-pane" aria-label="Ping detail">
      <div className="detail-head">
        <h2 className="detail-title">
          <StatusBadge status={x.status} />
          <span className="addr">{exchangeLine(x).replace(/ · [a-z-]+$/, "")}</span>
          <span className="meta">rtt {x.rttNs !== undefined ? formatDurationNs(x.rttNs) : "—"}</span>
          {when && <span className="meta when">{when}</span>}
          <span className="meta pid">{x.id}</span>
        </h2>
        <div className="actions">
          <div className="seg" role="group" aria-label="Steps shown">
            <button type="button" aria-pressed={steps === "devices"} onClick={() => setSteps("devices")}>Devices</button>
            <button type="button" aria-pressed={steps === "all"} onClick={() => setSteps("all")}>Every step</button>
          </div>
          <select aria-label="Export theme" value={theme} onChange={(e) => setTheme(e.target.value === "dark" ? "dark" : "light")}>
            <option value="light">light export</option><option value="dark">dark export</option>
          </select>
          <button type="button" onClick={() => exportAs("svg")}>Export SVG</button>
          <button type="button" onClick={() => exportAs("png")}>Export PNG</button>
          {!offline && <button type="button" onClick={copyLink} title="Copy a link that opens this ping and says what it was">Copy link</button>}
        </div>
      </div>
      {note && <p className="note-line" role="status">{note}</p>}
      <PathNotes subject={x} />
      <PathView subject={x} title={title} steps={steps} presenting={presenting} widthRef={widthRef} />
      <HopTable subject={x} zone={zone} />
    </section>
  );
}

function Gone({ link, offline, fileName }: { link: PingLink; offline: boolean; fileName?: string }) {
  return (
    <section className="detail-pane gone" aria-label="Ping detail">
      <p className="error" role="alert">
        {offline ? `${fileName ?? "The file"} has no ping ${link.id}.` : `This server no longer has ping ${link.id}: it aged out of the store or came from another run.`}
      </p>
      {(link.what || link.at) && (
        <p className="gone-what">The link was to <b>{link.what ?? link.id}</b>{link.at ? <> at <b>{link.at}</b></> : null}.</p>
      )}
      {!offline && (
        <p>
          <button type="button" onClick={downloadCapture}>Save capture</button>{" "}
          keeps what the server still has; a capture saved when the ping happened opens with <b>Open capture…</b> above.
        </p>
      )}
    </section>
  );
}
