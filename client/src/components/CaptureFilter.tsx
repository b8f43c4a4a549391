// The capture filter in the header: what the kernel captures, editable. A change is applied at once
// (for every client); a bad expression stays where it was typed with the parser's message and column;
// each applied filter is a history entry (?filter=), so Back offers the previous one again.
import { useEffect, useState, type FormEvent } from "react";
import { getFilter, putFilter } from "../api.ts";

/** How often the box asks what the capture's filter is now (another client may have changed it). */
const POLL_MS = 3000;
const fromUrl = (): string | undefined => new URLSearchParams(location.search).get("filter") ?? undefined;

export function CaptureFilter() {
  const [applied, setApplied] = useState<string | undefined>(undefined);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<{ message: string; column?: number } | undefined>(undefined);
  const [supported, setSupported] = useState(true);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void getFilter().then((r) => {
      if (r.ok === "unsupported") return setSupported(false);
      if (r.ok) {
        setApplied(r.expression);
        setDraft(fromUrl() ?? r.expression);
      }
    });
    // Back/forward: the history's filter is offered in the box, applied only when the user says so.
    const onPop = (): void => setDraft(fromUrl() ?? "");
    window.addEventListener("popstate", onPop);
    // The filter is the capture's, shared by every client: a change made elsewhere shows here too,
    // unless this box holds an edit of its own.
    const poll = setInterval(() => void getFilter().then((r) => {
      if (r.ok !== true) return;
      setApplied((was) => {
        if (was !== r.expression) setDraft((d) => (d === was ? r.expression : d));
        return r.expression;
      });
    }), POLL_MS);
    return () => {
      window.removeEventListener("popstate", onPop);
      clearInterval(poll);
    };
  }, []);

  if (!supported) return null;
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setBusy(true);
    void putFilter(draft).then((r) => {
      setBusy(false);
      if (r.ok === "unsupported") return setSupported(false);
      if (!r.ok) return setError({ message: r.error, column: r.column });
      setError(undefined);
      setApplied(r.expression);
      setDraft(r.expression);
      const url = new URL(location.href);
      url.searchParams.set("filter", r.expression);
      history.pushState(null, "", url);
    });
  };
  const pending = applied !== undefined && draft !== applied;
  return (
    <form className="capture-filter" onSubmit={submit} role="search" aria-label="Capture filter">
      <label htmlFor="capture-filter-input">capture</label>
      <div className="filter-box">
        <input id="capture-filter-input" className={`filter-expr${error ? " bad" : ""}`} value={draft} spellCheck={false}
          placeholder="default: ICMP echoes and their errors (pcap-filter)" aria-invalid={error ? true : undefined} aria-describedby={error ? "capture-filter-error" : undefined}
          onChange={(e) => { setDraft(e.target.value); setError(undefined); }} />
        {error && (
          <div id="capture-filter-error" className="filter-error" role="alert">
            {error.column !== undefined && <code className="caret">{`${draft}\n${" ".repeat(Math.max(0, Math.min(draft.length, error.column)))}^`}</code>}
            <span>{error.message}</span>
          </div>
        )}
      </div>
      <button type="submit" disabled={busy || !pending} title="Apply in the kernel now, for every client">{pending ? "Apply" : "Applied"}</button>
    </form>
  );
}
