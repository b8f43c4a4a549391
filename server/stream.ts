// WS /api/stream: hello + snapshot on connect, then new pings batched every ~100 ms and stats every
// second. Every message leaves through one bounded path (send): a client whose socket holds more than
// its budget unsent is skipped, not buffered for, and counted; if what it missed was state (pings, a
// snapshot) it gets one fresh snapshot once it drains. A client that stops reading altogether stops
// answering pings too, and the heartbeat closes it. Snapshots, the one large message a client can
// ask for, go out at most once per batch interval however often it asks.
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import {
  MAX_CLIENT_MESSAGE_BYTES, MAX_SNAPSHOT, parseClientMessage, PROTOCOL_VERSION, type ErrorCode, type ServerMessage,
} from "../shared/protocol.ts";
import { addSummarised, NONE_SUMMARISED, sampleNewest, type Summarised } from "../shared/sample.ts";
import type { ServedPipeline } from "./pipeline.ts";
import type { StreamedPing } from "./storeQuery.ts";

export interface StreamOptions {
  batchMs?: number;
  statsMs?: number;
  heartbeatMs?: number;
  /** pings in the snapshot sent on connect */
  snapshotLimit?: number;
  /** bytes queued on a socket above which it is skipped */
  maxBufferedBytes?: number;
  /** connections at once; an upgrade past it is refused with 503 */
  maxClients?: number;
  /**
   * complete pings per batch, at most: more than a page can draw in batchMs are summarised (the
   * newest are sent, and every one that did not complete, up to MAX_SNAPSHOT)
   */
  maxPingsPerBatch?: number;
}

export interface StreamCounters {
  /** messages not sent because the client's socket was over its budget */
  skipped: number;
  /** clients closed by the server: stopped answering (reading) */
  closed: number;
  /** upgrades refused: too many clients */
  refused: number;
}

interface Client {
  ws: WebSocket;
  paused: boolean;
  /** missed state (skipped, paused, or asked for a resync): gets a snapshot once it can take one */
  stale: boolean;
  alive: boolean;
  snapshotLimit: number;
  /** performance.now() of the last snapshot sent */
  snapshotAtMs: number;
  /** its snapshot is being read from the store: batches meanwhile are in it */
  awaiting: boolean;
}

/** A message serialised at most once, however many clients take it. */
class Outgoing {
  private text: string | undefined;
  private constructor(readonly type: ServerMessage["type"], private readonly make: () => string) {}
  static of(msg: ServerMessage): Outgoing {
    return new Outgoing(msg.type, () => JSON.stringify(msg));
  }
  /** Pings already in text (made where they were finished), sent as they are. */
  static pings(pings: readonly StreamedPing[], summarised?: Summarised): Outgoing {
    return new Outgoing("pings", () => `{"type":"pings","pings":[${pings.map((p) => p.json).join(",")}]` +
      `${summarised ? `,"summarised":${JSON.stringify(summarised)}` : ""}}`);
  }
  /** `pings`: the JSON text of a Ping[], as the store answered it. */
  static snapshot(pings: string): Outgoing {
    return new Outgoing("snapshot", () => `{"type":"snapshot","pings":${pings}}`);
  }
  get json(): string {
    return (this.text ??= this.make());
  }
}

/**
 * Whether a client that missed this message needs a snapshot to be right again: what it says is not
 * repeated later. Exhaustive, so a new message type (exchanges) must decide.
 */
function carriesState(type: ServerMessage["type"]): boolean {
  switch (type) {
    case "snapshot":
    case "pings":
      return true;
    case "hello":
    case "stats":
    case "error":
      return false;
  }
}

export class StreamHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private pending: StreamedPing[] = [];
  /** left out of what is pending (by the pipeline's worker, or here) */
  private summarised: Summarised = { ...NONE_SUMMARISED };
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;
  private readonly opts: Required<StreamOptions>;
  private readonly count: StreamCounters = { skipped: 0, closed: 0, refused: 0 };

  constructor(private readonly pipeline: ServedPipeline, opts: StreamOptions = {}) {
    this.opts = { batchMs: 100, statsMs: 1000, heartbeatMs: 30_000, snapshotLimit: 100,
      maxBufferedBytes: 4 * 1024 * 1024, maxClients: 64, maxPingsPerBatch: 100, ...opts };
    // maxPayload makes ws close an oversized message with 1009 before reading it whole.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, clientTracking: false });
    this.wss.on("connection", (ws) => this.accept(ws));
    this.unsubscribe = pipeline.onStream((pings, summarised) => {
      if (this.clients.size === 0) return;
      if (summarised) this.summarised = addSummarised(this.summarised, summarised);
      // Sampled as they come (a timeout can finalise tens of thousands at once): what waits stays bounded.
      for (const p of pings) this.pending.push(p);
      if (this.pending.length > 2 * MAX_SNAPSHOT) this.sample();
    });
    this.timers.push(
      setInterval(() => this.flush(), this.opts.batchMs),
      setInterval(() => this.broadcast(Outgoing.of({ type: "stats", stats: { ...this.pipeline.sampleRate(), pings: this.pipeline.held() } })), this.opts.statsMs),
      setInterval(() => this.heartbeat(), this.opts.heartbeatMs),
    );
  }

  counters(): StreamCounters {
    return { ...this.count };
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.clients.size >= this.opts.maxClients) {
      this.count.refused++;
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit("connection", ws, req));
  }

  /**
   * Closes every connection (1001 going away) and stops the timers. A peer that does not read never
   * answers the close, and ws would wait 30 s for it: after graceMs the rest are cut.
   */
  async close(graceMs = 500): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe();
    const closing = [...this.clients].map((c) => c.ws);
    this.clients.clear();
    for (const ws of closing) ws.close(1001, "server shutting down");
    const grace = new AbortController();
    await Promise.race([
      Promise.all(closing.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : once(ws, "close")))),
      sleep(graceMs, undefined, { signal: grace.signal }).catch(() => undefined),
    ]);
    grace.abort();
    for (const ws of closing) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket): void {
    const client: Client = { ws, paused: false, stale: true, alive: true, snapshotLimit: this.opts.snapshotLimit,
      snapshotAtMs: -Infinity, awaiting: false };
    this.clients.add(client);
    ws.on("pong", () => (client.alive = true));
    ws.on("message", (data, isBinary) => this.receive(client, data, isBinary));
    ws.on("close", () => this.clients.delete(client));
    ws.on("error", () => this.clients.delete(client));
    this.send(client, Outgoing.of({ type: "hello", version: PROTOCOL_VERSION, stats: { ...this.pipeline.stats(), pings: this.pipeline.held() } }));
    this.snapshot(client);
  }

  private receive(client: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) return this.sendError(client, "bad_message", "binary messages are not part of the protocol");
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) return this.sendError(client, "bad_message", parsed.error);
    const msg = parsed.value;
    switch (msg.type) {
      case "resync":
        client.snapshotLimit = msg.limit;
        client.stale = true;
        this.snapshot(client);
        return;
      case "pause":
        // Resuming after a pause: what came meanwhile was not sent.
        if (client.paused && !msg.paused) client.stale = true;
        client.paused = msg.paused;
        if (!client.paused) this.snapshot(client);
        return;
    }
  }

  /**
   * Sends the stale client its snapshot, unless one went out within the batch interval: flush() retries.
   * The store answers in order with the pings it streams (a worker's messages arrive in the order
   * sent), so batches that come while the snapshot is read are in it and are not sent to this client.
   */
  private snapshot(client: Client): void {
    if (!client.stale || client.awaiting) return;
    const nowMs = performance.now();
    if (nowMs - client.snapshotAtMs < this.opts.batchMs) return;
    // Checked before the snapshot is built: a client over its budget costs nothing.
    if (!this.fits(client)) return this.skip(client);
    client.stale = false;
    client.snapshotAtMs = nowMs;
    client.awaiting = true;
    void this.pipeline.query({ type: "newest", limit: client.snapshotLimit }).then((answer) => {
      client.awaiting = false;
      if (answer.status === 200) this.send(client, Outgoing.snapshot(answer.body));
    }, () => (client.awaiting = false));
  }

  private sample(): void {
    const s = sampleNewest(this.pending, this.opts.maxPingsPerBatch, MAX_SNAPSHOT, (p) => p.session);
    this.pending = s.pings;
    this.summarised = addSummarised(this.summarised, s.summarised);
  }

  private flush(): void {
    this.sample();
    const { pending: pings, summarised } = this;
    this.pending = [];
    this.summarised = { ...NONE_SUMMARISED };
    const left = summarised.complete + summarised.other > 0;
    const batch = pings.length > 0 || left ? Outgoing.pings(pings, left ? summarised : undefined) : null;
    for (const c of this.clients) {
      if (c.ws.readyState !== WebSocket.OPEN || c.paused || c.awaiting) continue;
      if (c.stale) this.snapshot(c);
      // A snapshot due and not yet sent covers the batch too.
      else if (batch !== null) this.send(c, batch);
    }
  }

  private broadcast(out: Outgoing): void {
    for (const c of this.clients) this.send(c, out);
  }

  private sendError(client: Client, code: ErrorCode, message: string): void {
    this.send(client, Outgoing.of({ type: "error", code, message }));
  }

  private fits(client: Client): boolean {
    return client.ws.bufferedAmount <= this.opts.maxBufferedBytes;
  }

  private skip(client: Client, out?: Outgoing): void {
    this.count.skipped++;
    if (out === undefined || carriesState(out.type)) client.stale = true;
  }

  /** The one way out. A socket already holding more than its budget is skipped. */
  private send(client: Client, out: Outgoing): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (!this.fits(client)) return this.skip(client, out);
    client.ws.send(out.json);
  }

  /** A peer that did not answer the last ping is gone (a dead TCP peer never says so), or not reading. */
  private heartbeat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.ws.terminate();
        this.clients.delete(c);
        this.count.closed++;
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
