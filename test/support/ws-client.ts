// A WebSocket client for the tests: every server message parsed with the protocol's own parser, kept
// in arrival order with its arrival time, and waited for by predicate.
import { once } from "node:events";
import { WebSocket } from "ws";
import { parseServerMessage, type ServerMessage } from "../../shared/protocol.ts";

export interface Arrival {
  msg: ServerMessage;
  atMs: number;
}

export class TestClient {
  readonly arrivals: Arrival[] = [];
  private cursor = 0;
  private wake: (() => void) | null = null;
  closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      const parsed = parseServerMessage(isBinary ? "<binary>" : String(data));
      if (!parsed.ok) throw new Error(`server sent a bad message: ${parsed.error}`);
      this.arrivals.push({ msg: parsed.value, atMs: performance.now() });
      this.wake?.();
    });
    this.closed = once(ws, "close").then(([code, reason]) => ({ code: Number(code), reason: String(reason) }));
  }

  static async connect(httpUrl: string, path = "/api/stream"): Promise<TestClient> {
    const ws = new WebSocket(httpUrl.replace(/^http/, "ws") + path);
    const client = new TestClient(ws);
    await once(ws, "open");
    return client;
  }

  /** The next message (after those already taken) that matches; earlier non-matching ones are skipped. */
  async next<T extends ServerMessage["type"]>(type: T, timeoutMs = 3000): Promise<Extract<ServerMessage, { type: T }>> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.arrivals.length) {
        const { msg } = this.arrivals[this.cursor++] as Arrival;
        if (msg.type === type) return msg as Extract<ServerMessage, { type: T }>;
      }
      const left = until - performance.now();
      if (left <= 0) throw new Error(`no ${type} message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  send(text: string | Buffer): void {
    this.ws.send(text);
  }

  close(): Promise<unknown> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    this.ws.close();
    return this.closed;
  }
}
