// WS /api/stream: hello + snapshot on connect, then new pings batched every ~100 ms and stats every
// second. A client that cannot keep up is skipped (not buffered without bound) and gets a fresh
// snapshot once its socket drains.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import {
  MAX_CLIENT_MESSAGE_BYTES, MAX_SNAPSHOT, parseClientMessage, PROTOCOL_VERSION, type ErrorCode, type ServerMessage,
} from "../shared/protocol.ts";
import type { Ping } from "../shared/types.ts";
import type { Pipeline } from "./pipeline.ts";

export interface StreamOptions {
  batchMs?: number;
  statsMs?: number;
  heartbeatMs?: number;
  /** pings in the snapshot sent on connect */
  snapshotLimit?: number;
  /** bytes queued on a socket above which it is skipped */
  maxBufferedBytes?: number;
}

interface Client {
  ws: WebSocket;
  paused: boolean;
  /** missed pings while overloaded or paused: gets a snapshot once it can take one */
  stale: boolean;
  alive: boolean;
  snapshotLimit: number;
}

export class StreamHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private pending: Ping[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;
  private readonly opts: Required<StreamOptions>;

  constructor(private readonly pipeline: Pipeline, opts: StreamOptions = {}) {
    this.opts = { batchMs: 100, statsMs: 1000, heartbeatMs: 30_000, snapshotLimit: 100,
      maxBufferedBytes: 4 * 1024 * 1024, ...opts };
    // maxPayload makes ws close an oversized message with 1009 before reading it whole.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, clientTracking: false });
    this.wss.on("connection", (ws) => this.accept(ws));
    this.unsubscribe = pipeline.onPings((pings) => {
      if (this.clients.size === 0) return;
      // A page keeps at most MAX_SNAPSHOT pings: under a flood, older ones in a batch would be
      // serialised only to be dropped there (they stay in the store, for the REST API). Only the
      // tail is taken, item by item: a timeout can finalise tens of thousands at once, too many to spread.
      for (const p of pings.length > MAX_SNAPSHOT ? pings.slice(-MAX_SNAPSHOT) : pings) this.pending.push(p);
      if (this.pending.length > 2 * MAX_SNAPSHOT) this.pending = this.pending.slice(-MAX_SNAPSHOT);
    });
    this.timers.push(
      setInterval(() => this.flushPings(), this.opts.batchMs),
      setInterval(() => this.broadcast({ type: "stats", stats: { ...this.pipeline.sampleRate(), pings: this.pipeline.store.size } }), this.opts.statsMs),
      setInterval(() => this.heartbeat(), this.opts.heartbeatMs),
    );
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit("connection", ws, req));
  }

  /** Closes every connection (1001 going away) and stops the timers. */
  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe();
    for (const c of this.clients) c.ws.close(1001, "server shutting down");
    this.clients.clear();
    this.wss.close();
  }

  private accept(ws: WebSocket): void {
    const client: Client = { ws, paused: false, stale: false, alive: true, snapshotLimit: this.opts.snapshotLimit };
    this.clients.add(client);
    ws.on("pong", () => (client.alive = true));
    ws.on("message", (data, isBinary) => this.receive(client, data, isBinary));
    ws.on("close", () => this.clients.delete(client));
    ws.on("error", () => this.clients.delete(client));
    send(client, { type: "hello", version: PROTOCOL_VERSION, stats: { ...this.pipeline.stats(), pings: this.pipeline.store.size } });
    this.sendSnapshot(client);
  }

  private receive(client: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) return sendError(client, "bad_message", "binary messages are not part of the protocol");
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) return sendError(client, "bad_message", parsed.error);
    const msg = parsed.value;
    switch (msg.type) {
      case "resync":
        client.snapshotLimit = msg.limit;
        this.sendSnapshot(client);
        return;
      case "pause":
        if (client.paused && !msg.paused) client.stale = true;
        client.paused = msg.paused;
        if (!client.paused && client.stale) this.sendSnapshot(client);
        return;
    }
  }

  private sendSnapshot(client: Client): void {
    client.stale = false;
    send(client, { type: "snapshot", pings: this.pipeline.store.newest(client.snapshotLimit) });
  }

  private flushPings(): void {
    const pings = this.pending.length > MAX_SNAPSHOT ? this.pending.slice(-MAX_SNAPSHOT) : this.pending;
    this.pending = [];
    // Serialised once for every client that takes it.
    let text: string | null = null;
    for (const c of this.clients) {
      if (c.ws.readyState !== WebSocket.OPEN || c.paused) continue;
      const overloaded = c.ws.bufferedAmount > this.opts.maxBufferedBytes;
      if (overloaded) {
        if (pings.length > 0) c.stale = true;
        continue;
      }
      if (c.stale) {
        this.sendSnapshot(c);
        continue;
      }
      if (pings.length === 0) continue;
      text ??= JSON.stringify({ type: "pings", pings } satisfies ServerMessage);
      c.ws.send(text);
    }
  }

  private broadcast(msg: ServerMessage): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(msg);
    for (const c of this.clients) {
      if (c.ws.readyState === WebSocket.OPEN && c.ws.bufferedAmount <= this.opts.maxBufferedBytes) c.ws.send(text);
    }
  }

  /** A peer that did not answer the last ping is gone (a dead TCP peer never says so). */
  private heartbeat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.ws.terminate();
        this.clients.delete(c);
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data).toString("utf8");
}

function send(client: Client, msg: ServerMessage): void {
  if (client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(msg));
}

function sendError(client: Client, code: ErrorCode, message: string): void {
  send(client, { type: "error", code, message });
}
