// WebSocket client of /api/stream: every message parsed with the shared protocol, reconnect with
// exponential backoff, and a resync whenever the list may have missed something (a reconnect or an
// unparseable message).
import { parseServerMessage, type ClientMessage, type ServerMessage } from "../../shared/protocol.ts";
import type { PingStore } from "./store.ts";

const RESYNC_LIMIT = 500;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** A server that keeps sending bad messages must not get a resync per message. */
const RESYNC_MIN_GAP_MS = 5_000;

export interface StreamHandle {
  setPaused(paused: boolean): void;
  close(): void;
}

/** ws(s)://host/api/stream, carrying the page's ?token= along when the server was started with one. */
export function streamUrl(loc: Location): string {
  const proto = loc.protocol === "https:" ? "wss:" : "ws:";
  const token = new URLSearchParams(loc.search).get("token");
  return `${proto}//${loc.host}/api/stream${token ? `?token=${encodeURIComponent(token)}` : ""}`;
}

export function backoffMs(attempt: number, jitter01: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * jitter01));
}

export function connectStream(url: string, store: PingStore): StreamHandle {
  let ws: WebSocket | undefined;
  let attempt = 0;
  let everOpen = false;
  let closed = false;
  let paused = false;
  /** the next snapshot answers a resume: it tops the list up instead of replacing it */
  let resuming = false;
  let lastResyncMs = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const send = (msg: ClientMessage): void => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };

  const resync = (): void => {
    lastResyncMs = Date.now();
    send({ type: "resync", limit: RESYNC_LIMIT });
  };

  const handle = (msg: ServerMessage): void => {
    switch (msg.type) {
      case "hello":
        attempt = 0;
        store.patch({ conn: "open", stats: msg.stats, retryAtMs: undefined, lastError: undefined });
        if (everOpen) resync();
        if (paused) send({ type: "pause", paused: true });
        everOpen = true;
        return;
      case "snapshot":
        store.replaceAll(msg.pings, resuming);
        resuming = false;
        return;
      case "pings":
        store.upsert(msg.pings);
        if (msg.summarised) store.addSummarised(msg.summarised.complete + msg.summarised.other);
        return;
      case "stats":
        store.patch({ stats: msg.stats });
        return;
      case "error":
        store.patch({ lastError: `${msg.code}: ${msg.message}` });
        return;
      default: {
        const unreachable: never = msg;
        return unreachable;
      }
    }
  };

  const onMessage = (ev: MessageEvent): void => {
    if (typeof ev.data !== "string") {
      store.noteBadMessage("binary message on the stream");
      return;
    }
    const parsed = parseServerMessage(ev.data);
    if (parsed.ok) {
      handle(parsed.value);
      return;
    }
    store.noteBadMessage(parsed.error);
    // The message may have carried pings we now lack: ask for the whole list again.
    if (Date.now() - lastResyncMs > RESYNC_MIN_GAP_MS) resync();
  };

  const open = (): void => {
    timer = undefined;
    store.patch({ conn: everOpen ? "reconnecting" : "connecting" });
    const socket = new WebSocket(url);
    ws = socket;
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", () => {
      if (ws !== socket || closed) return;
      const delayMs = backoffMs(attempt++, Math.random());
      store.patch({ conn: "reconnecting", retryAtMs: Date.now() + delayMs });
      timer = setTimeout(open, delayMs);
    });
  };

  open();
  return {
    setPaused(p: boolean) {
      if (paused && !p) resuming = true;
      paused = p;
      store.patch({ paused: p });
      send({ type: "pause", paused: p });
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      ws?.close();
      store.patch({ conn: "closed" });
    },
  };
}
