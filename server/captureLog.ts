// The session as a capture file: the newest raw events the pipeline ingested (after netns naming), so
// the dashboard's "Save capture" downloads what `record` would have written. Bounded by count: a long
// session keeps its newest events and counts the ones that fell off.
import type { ServerResponse } from "node:http";
import type { RawEvent } from "../shared/types.ts";
import { captureHeaderLine } from "./capture/file.ts";
import { isoMicros } from "../shared/wallclock.ts";
import type { Pipeline } from "./pipeline.ts";

/**
 * About the events of the store's 10 000 pings (an echo is 8-16 hops and 2 frees). Events are kept as
 * objects, roughly 1.3 KB each in the heap (bench/soak.ts): 500 000 of them held a gigabyte under a flood.
 */
export const DEFAULT_CAPTURE_LOG_EVENTS = 150_000;

/** Lines per res.write: big enough to be cheap, small enough that one chunk never stalls the loop. */
const LINES_PER_CHUNK = 2000;

export class CaptureLog {
  /** a ring once full: `head` is the oldest */
  private readonly ring: RawEvent[] = [];
  private head = 0;
  /** events that fell off the front */
  dropped = 0;
  /** wall time of the source's tNs 0, estimated from the first event's arrival */
  private zeroMs: number | undefined;

  constructor(readonly capacity = DEFAULT_CAPTURE_LOG_EVENTS, private readonly createdMs = Date.now()) {
    if (!(capacity >= 1)) throw new Error("capture log capacity must be at least 1");
  }

  /** the source's clock origin (µs since the epoch), when it knows it: the header's startedAt */
  originUs: () => number | undefined = () => undefined;

  /** Follows a pipeline's events; returns the unsubscribe. */
  static follow(pipeline: Pipeline, capacity?: number): { log: CaptureLog; detach: () => void } {
    const log = new CaptureLog(capacity);
    log.originUs = () => pipeline.source.originUs?.();
    return { log, detach: pipeline.onEvents((events) => log.add(events)) };
  }

  get size(): number {
    return this.ring.length;
  }

  add(events: RawEvent[]): void {
    if (events.length > 0) this.zeroMs ??= Date.now() - (events[0]?.tNs ?? 0) / 1e6;
    for (const ev of events) {
      if (this.ring.length < this.capacity) {
        this.ring.push(ev);
        continue;
      }
      this.ring[this.head] = ev;
      this.head = (this.head + 1) % this.capacity;
      this.dropped++;
    }
  }

  /** Oldest first. A copy of references: the download stays consistent while events keep coming. */
  snapshot(): RawEvent[] {
    return this.ring.slice(this.head).concat(this.ring.slice(0, this.head));
  }

  startedAt(): Date {
    return new Date(Math.round(this.zeroMs ?? this.createdMs));
  }
}

/** `20260101T120000Z`: ISO 8601 (basic format), and safe in a file name on every system. */
export function captureFileName(now: Date): string {
  return `pktpath-${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}.ndjson`;
}

/**
 * Streams the log as a capture file: the header `record` writes, then one event per line, in chunks
 * that wait for the socket to drain. Stops quietly when the client goes away.
 */
export async function sendCapture(res: ServerResponse, log: CaptureLog, sourceName: string, now = new Date()): Promise<void> {
  const events = log.snapshot();
  res.writeHead(200, {
    "Content-Type": "application/x-ndjson; charset=utf-8",
    "Content-Disposition": `attachment; filename="${captureFileName(now)}"`,
    "Cache-Control": "no-store",
    "X-Pktpath-Events": String(events.length),
    // Older events fell off the bounded log: the file starts mid-session (its first pings may lack requests).
    "X-Pktpath-Dropped-Events": String(log.dropped),
  });
  let closed = false;
  res.once("close", () => (closed = true));
  const origin = log.originUs();
  res.write(captureHeaderLine(sourceName, origin === undefined ? log.startedAt() : isoMicros(origin)));
  for (let i = 0; i < events.length && !closed; i += LINES_PER_CHUNK) {
    // writableNeedDrain, not write()'s last answer: a drain that came while we yielded is not missed.
    if (res.writableNeedDrain) await drainedOrClosed(res);
    // Else let the pipeline and other requests run between chunks even when the socket keeps up.
    else await new Promise<void>((r) => setImmediate(r));
    if (closed) return;
    let chunk = "";
    for (const ev of events.slice(i, i + LINES_PER_CHUNK)) chunk += JSON.stringify(ev) + "\n";
    res.write(chunk);
  }
  if (!closed) res.end();
}

/** Resolves when the socket takes more, or is gone; leaves no listener behind. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
