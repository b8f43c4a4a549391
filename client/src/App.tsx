// The dashboard shell: header, live list (or an opened file's), detail pane, status bar; selection
// lives in the URL hash.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { downloadCapture, hashForPing, pingIdFromHash } from "./api.ts";
import { DetailPane } from "./components/DetailPane.tsx";
import { FileBanner } from "./components/FileBanner.tsx";
import { PingList } from "./components/PingList.tsx";
import { StatusBar } from "./components/StatusBar.tsx";
import type { FileView } from "./openFile.ts";
import type { PingStore } from "./store.ts";
import type { StreamHandle } from "./stream.ts";
import { useCaptureFile } from "./useCaptureFile.ts";

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

  // Live and file ids are both p-1, p-2…: a selection does not carry over between them.
  const clearSelection = useCallback(() => {
    setSelectedId(undefined);
    history.replaceState(null, "", `${location.pathname}${location.search}`);
  }, []);
  const file = useCaptureFile(clearSelection);

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

  // While a file is open the live stream keeps running (and the store current), but its pings are not shown.
  const pings = file.view ? file.view.listed : live.pings;
  const listPing = selectedId ? pings.find((p) => p.id === selectedId) : undefined;
  return (
    <div className={`app${presenting ? " presenting" : ""}`}>
      <header className="app-header">
        <h1 className="brand">pktpath <span className="tagline">packet paths across interfaces and namespaces</span></h1>
        <div className="header-actions">
          {file.view ? (
            <button type="button" className="back-live" onClick={file.close} title="Close the file and show live traffic again">
              Back to live
            </button>
          ) : (
            <>
              <button type="button" aria-pressed={live.paused} onClick={() => stream.setPaused(!live.paused)}
                title="Freeze the list for discussion; the capture keeps running">
                {live.paused ? "Resume updates" : "Pause updates"}
              </button>
              <button type="button" onClick={downloadCapture} title="Download what the server has captured so far, to open later">
                Save capture
              </button>
            </>
          )}
          <OpenButton onFile={file.open} />
          <button type="button" aria-pressed={presenting} onClick={() => setPresenting((v) => !v)} title="Toggle with p">
            {presenting ? "Exit presentation" : "Presentation"} <kbd>p</kbd>
          </button>
        </div>
      </header>
      <FileBanner progress={file.progress} error={file.error} onCancel={file.close} onDismiss={file.dismissError} />
      <main className="app-main">
        {!presenting && (
          <PingList pings={pings} selectedId={selectedId} filter={filter} onFilter={setFilter} onSelect={select}
            emptyText={file.view ? emptyFileText(file.view) : undefined} />
        )}
        <DetailPane id={selectedId} listPing={listPing} presenting={presenting} offline={file.view !== undefined} />
      </main>
      <StatusBar live={live} file={file.view} />
    </div>
  );
}

function emptyFileText(view: FileView): string {
  return `No pings in ${view.name}: ${view.journeys} journeys, none an echo request with a reply`
    + " (a capture without packet headers cannot pair them).";
}

/** A button, not a bare file input: same look as the others, and the input's value is reset so the same file can be opened again. */
function OpenButton({ onFile }: { onFile: (file: File) => void }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" onClick={() => input.current?.click()}
        title="Open a capture file in this page (pktpath, perf trace, perf script or tracefs text); nothing is uploaded">
        Open capture…
      </button>
      <input ref={input} type="file" className="file-input" aria-label="Capture file to open"
        onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = "";
          if (f) onFile(f);
        }} />
    </>
  );
}
