// The dashboard shell: header, live list, detail pane, status bar; selection lives in the URL hash.
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { hashForPing, pingIdFromHash } from "./api.ts";
import { DetailPane } from "./components/DetailPane.tsx";
import { PingList } from "./components/PingList.tsx";
import { StatusBar } from "./components/StatusBar.tsx";
import type { PingStore } from "./store.ts";
import type { StreamHandle } from "./stream.ts";

interface Props {
  store: PingStore;
  stream: StreamHandle;
}

const isTyping = (t: EventTarget | null): boolean =>
  t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));

export function App({ store, stream }: Props) {
  const live = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [selectedId, setSelectedId] = useState<string | undefined>(() => pingIdFromHash(location.hash));
  const [presenting, setPresenting] = useState(false);
  const [filter, setFilter] = useState("");

  const select = useCallback((id: string) => {
    setSelectedId(id);
    // replaceState: arrowing through the list should not fill the back button's history.
    history.replaceState(null, "", hashForPing(id));
  }, []);

  useEffect(() => {
    const onHash = (): void => setSelectedId(pingIdFromHash(location.hash));
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key !== "p" || e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      setPresenting((v) => !v);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const listPing = selectedId ? live.pings.find((p) => p.id === selectedId) : undefined;
  return (
    <div className={`app${presenting ? " presenting" : ""}`}>
      <header className="app-header">
        <h1 className="brand">pktpath <span className="tagline">packet paths across interfaces and namespaces</span></h1>
        <div className="header-actions">
          <button type="button" aria-pressed={live.paused} onClick={() => stream.setPaused(!live.paused)}
            title="Freeze the list for discussion; the capture keeps running">
            {live.paused ? "Resume updates" : "Pause updates"}
          </button>
          <button type="button" aria-pressed={presenting} onClick={() => setPresenting((v) => !v)} title="Toggle with p">
            {presenting ? "Exit presentation" : "Presentation"} <kbd>p</kbd>
          </button>
        </div>
      </header>
      <main className="app-main">
        {!presenting && (
          <PingList pings={live.pings} selectedId={selectedId} filter={filter} onFilter={setFilter} onSelect={select} />
        )}
        <DetailPane id={selectedId} listPing={listPing} presenting={presenting} />
      </main>
      <StatusBar live={live} />
    </div>
  );
}
