// The dashboard shell: header (actions, capture filter), list (live, searched, or an opened file's),
// detail pane, status bar. The selection lives in the URL hash; presentation mode moves with ←/→ j/k.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { matchesWords, queryWords } from "../../shared/search.ts";
import type { Exchange, Ping } from "../../shared/types.ts";
import type { FlowGroup } from "../../shared/flows.ts";
import { mergeNewestFirst } from "./listRows.ts";
import { downloadCapture, fetchExchanges, fetchFlows, fetchInfo, hashForPing, linkFromHash, searchPings, type PingLink, type ServerInfo } from "./api.ts";
import { CaptureFilter } from "./components/CaptureFilter.tsx";
import { DetailPane } from "./components/DetailPane.tsx";
import { FileBanner } from "./components/FileBanner.tsx";
import { PingList } from "./components/PingList.tsx";
import { StatusBar } from "./components/StatusBar.tsx";
import { viewerZone } from "./format.ts";
import type { FileView } from "./openFile.ts";
import type { PingStore } from "./store.ts";
import type { StreamHandle } from "./stream.ts";
import { useCaptureFile } from "./useCaptureFile.ts";

interface Props {
  store: PingStore;
  stream: StreamHandle;
}

const SEARCH_LIMIT = 1000;
const isTyping = (t: EventTarget | null): boolean =>
  t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));

type Search = { q: string; pings: Ping[]; matched: number; busy: boolean; error?: string };

/** Server-side search, debounced: it finds pings the page never received. */
function useServerSearch(query: string, enabled: boolean): Search | undefined {
  const [search, setSearch] = useState<Search | undefined>(undefined);
  useEffect(() => {
    const q = query.trim();
    if (!enabled || q === "") return setSearch(undefined);
    setSearch((s) => ({ q, pings: s?.pings ?? [], matched: s?.matched ?? 0, busy: true }));
    const ctrl = new AbortController();
    const t = setTimeout(() => {
      void searchPings(q, SEARCH_LIMIT, ctrl.signal).then((r) => {
        if (ctrl.signal.aborted) return;
        setSearch(r.ok ? { q, pings: r.value.pings, matched: r.value.matched, busy: false } : { q, pings: [], matched: 0, busy: false, error: r.error });
      });
    }, 250);
    return () => { clearTimeout(t); ctrl.abort(); };
  }, [query, enabled]);
  return search;
}

/** The server's flow groups while the list is grouped, refreshed every few seconds unless paused. */
function useServerFlows(query: string, enabled: boolean, paused: boolean): FlowGroup[] | undefined {
  const [flows, setFlows] = useState<FlowGroup[] | undefined>(undefined);
  useEffect(() => {
    if (!enabled) return setFlows(undefined);
    const ctrl = new AbortController();
    const load = (): void => void fetchFlows(query.trim(), ctrl.signal).then((r) => {
      if (!ctrl.signal.aborted && r.ok) setFlows(r.value.flows);
    });
    const t0 = setTimeout(load, 150);
    const timer = paused ? undefined : setInterval(load, 3000);
    return () => { clearTimeout(t0); if (timer) clearInterval(timer); ctrl.abort(); };
  }, [query, enabled, paused]);
  return flows;
}

/** TCP and UDP exchanges, polled while live and not paused; none from a server without /api/exchanges. */
function useServerExchanges(enabled: boolean): Exchange[] {
  const [xs, setXs] = useState<Exchange[]>([]);
  const supported = useRef(true);
  useEffect(() => {
    if (!enabled || !supported.current) return;
    const ctrl = new AbortController();
    // Echoes come with the stream; only the other kinds are asked for.
    const load = (): void => void Promise.all([fetchExchanges("tcp", SEARCH_LIMIT, ctrl.signal), fetchExchanges("udp", SEARCH_LIMIT, ctrl.signal)])
      .then((rs) => {
        if (ctrl.signal.aborted) return;
        if (rs.some((r) => r.ok && r.value === "unsupported")) {
          supported.current = false;
          clearInterval(timer);
          return;
        }
        const got = rs.flatMap((r) => (r.ok && r.value !== "unsupported" ? r.value : []));
        setXs((old) => (old.length === 0 && got.length === 0 ? old : mergeNewestFirst(got.filter((x) => x.kind === "tcp"), got.filter((x) => x.kind === "udp"))));
      });
    load();
    const timer = setInterval(load, 2000);
    return () => { clearInterval(timer); ctrl.abort(); };
  }, [enabled]);
  return xs;
}

export function App({ store, stream }: Props) {
  const live = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [link, setLink] = useState<PingLink | undefined>(() => linkFromHash(location.hash));
  const [presenting, setPresenting] = useState(false);
  const [query, setQuery] = useState("");
  const [grouped, setGrouped] = useState(false);
  const [info, setInfo] = useState<ServerInfo | undefined>(undefined);
  const zone = useMemo(viewerZone, []);
  useEffect(() => void fetchInfo().then(setInfo), []);

  const select = useCallback((id: string) => {
    setLink({ id });
    // replaceState: arrowing through the list should not fill the back button's history.
    history.replaceState(null, "", `${location.pathname}${location.search}${hashForPing(id)}`);
  }, []);
  const clearSelection = useCallback(() => {
    setLink(undefined);
    history.replaceState(null, "", `${location.pathname}${location.search}`);
  }, []);
  const file = useCaptureFile(clearSelection);

  useEffect(() => {
    const onHash = (): void => setLink(linkFromHash(location.hash));
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const search = useServerSearch(query, !file.view);
  const flows = useServerFlows(query, grouped && !file.view, live.paused);
  const exchanges = useServerExchanges(!file.view && !live.paused);
  const words = useMemo(() => queryWords(query), [query]);
  const pingItems: readonly Ping[] = useMemo(() => {
    if (file.view) return words.length ? file.view.pings.filter((p) => matchesWords(p, words)) : file.view.pings;
    if (!search) return live.pings;
    // New arrivals that match go on top of the server's answer.
    const ids = new Set(search.pings.map((p) => p.id));
    const fresh = live.pings.filter((p) => !ids.has(p.id) && matchesWords(p, words));
    return fresh.length ? [...fresh, ...search.pings] : search.pings;
  }, [file.view, search, live.pings, words]);
  const items: readonly (Ping | Exchange)[] = useMemo(() => {
    if (file.view || exchanges.length === 0) return pingItems;
    return mergeNewestFirst(pingItems, words.length ? exchanges.filter((x) => matchesWords(x, words)) : exchanges);
  }, [file.view, pingItems, exchanges, words]);
  const total = file.view ? file.view.pings.length : search ? Math.max(search.matched, items.length) : live.stats?.pings;

  const itemsRef = useRef(items);
  itemsRef.current = items;
  const selectedId = link?.id;
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (e.key === "p") return setPresenting((v) => !v);
      if (e.key === "Escape") return setPresenting(false);
      const step = { ArrowRight: 1, j: 1, ArrowLeft: -1, k: -1 }[e.key];
      if (step === undefined || !document.querySelector(".app.presenting")) return;
      e.preventDefault();
      const list = itemsRef.current;
      const i = list.findIndex((p) => p.id === selectedId);
      const next = list[Math.max(0, Math.min(list.length - 1, i < 0 ? 0 : i + step))];
      if (next) select(next.id);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [selectedId, select]);

  const fromItems = useMemo(() => (selectedId ? items.find((p) => p.id === selectedId) : undefined), [items, selectedId]);
  const held = fromItems ?? (selectedId ? store.find(selectedId) : undefined);
  return (
    <div className={`app${presenting ? " presenting" : ""}`}>
      <header className="app-header">
        <h1 className="brand">pktpath <span className="tagline">{info ? `on ${info.host}` : "packet paths across interfaces and namespaces"}</span></h1>
        {!file.view && <CaptureFilter />}
        <div className="header-actions">
          {file.view ? (
            <button type="button" className="back-live" onClick={file.close} title="Close the file and show live traffic again">Back to live</button>
          ) : (
            <>
              <button type="button" aria-pressed={live.paused} onClick={() => stream.setPaused(!live.paused)}
                title="Freeze the list for discussion; the capture keeps running">{live.paused ? "Resume updates" : "Pause updates"}</button>
              <button type="button" onClick={downloadCapture} title="Download what the server has captured so far, to open later">Save capture</button>
            </>
          )}
          <OpenButton onFile={file.open} />
          <button type="button" aria-pressed={presenting} onClick={() => setPresenting((v) => !v)} title="Toggle with p; Esc leaves; ←/→ or j/k move between pings">
            {presenting ? "Exit presentation" : "Presentation"} <kbd>p</kbd>
          </button>
        </div>
      </header>
      <FileBanner progress={file.progress} error={file.error} onCancel={file.close} onDismiss={file.dismissError} />
      <main className="app-main">
        {!presenting && (
          <PingList items={items} total={total} selectedId={selectedId} query={query} onQuery={setQuery} onSelect={select}
            searchState={search ? { busy: search.busy, error: search.error } : undefined}
            emptyText={file.view ? emptyFileText(file.view) : undefined} grouped={grouped} onGrouped={setGrouped}
            flows={file.view ? undefined : flows} />
        )}
        <DetailPane link={link} held={held} zone={zone} info={info} offline={file.view !== undefined} fileName={file.view?.name}
          presenting={presenting} />
      </main>
      <StatusBar live={live} file={file.view} />
    </div>
  );
}

function emptyFileText(view: FileView): string {
  return `No pings in ${view.name}: ${view.journeys} journeys, none an echo request with its answer.`;
}

/** A button, not a bare file input: same look as the others, and the input's value is reset so the same file can be opened again. */
function OpenButton({ onFile }: { onFile: (file: File) => void }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" onClick={() => input.current?.click()}
        title="Open a capture file in this page (pktpath, perf trace, perf script or tracefs text); nothing is uploaded">Open capture…</button>
      <input ref={input} type="file" className="file-input" aria-label="Capture file to open"
        onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = "";
          if (f) onFile(f);
        }} />
    </>
  );
}
