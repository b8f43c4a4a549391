// The session as a capture file: the newest raw events the pipeline ingested (after netns naming), so
// the dashboard's "Save capture" downloads what `record` would have written. Bounded by count: a long
// session keeps its newest events and counts the ones that fell off.
import type { ServerResponse } from "node:http";
import type { RawEvent } from "../shared/types.ts";
import { captureHeaderLine } from "./capture/file.ts";
import type { RawBatch } from "./capture/source.ts";
import { isoMicros } from "../shared/wallclock.ts";
import type { Pipeline } from "./pipeline.ts";

/**
 * About the events of the store's 10 000 pings (an echo is 8-20 hops and 2 frees). A live eBPF
 * source's events are kept as the kernel wrote them (its ring's bytes, about 210 per record: 30 MiB),
 * and made into events again only for a download; other sources' events are kept as objects.
 */
export const DEFAULT_CAPTURE_LOG_EVENTS = 150_000;

/** Events per block of the log (objects): what a download's view copies is one reference per block. */
const BLOCK_EVENTS = 1024;

/** Lines per res.write: big enough to be cheap, small enough that a reader that stops holds little. */
const LINES_PER_CHUNK = 256;

/** A download's stall time: a socket that took nothing for this long is cut. */
export const DEFAULT_STALL_MS = 30_000;

/**
 * Events kept as objects (appended to until full), or a source's raw batch with the netns names the
 * pipeline gave its events (a namespace gone by the time of the download keeps its name).
 */
type Block =
  | { events: RawEvent[]; raw?: undefined; count: number }
  | { events?: undefined; raw: RawBatch; names: Map<number, string>; count: number };

/**
 * The log as it was when a download began, without a copy of it: the blocks it spanned and where in
 * them it began and ended. Blocks are only ever appended to, so later events are not in it, and ones
 * that fall off the log meanwhile stay readable through it until the download is done. A part of raw
 * records is made into events when its `events` are read.
 */
export interface CaptureView {
  size: number;
  dropped: number;
  parts: { readonly events: readonly RawEvent[]; from: number; to: number }[];
}

/** A raw block's events, named as they were when they were correlated. */
function eventsOf(block: Extract<Block, { raw: RawBatch }>): RawEvent[] {
  const events = block.raw.decode(block.raw.bytes);
  if (block.names.size > 0) {
    for (const ev of events) {
      if (ev.netns === undefined || ev.netnsName !== undefined) continue;
      const name = block.names.get(ev.netns);
      if (name !== undefined) ev.netnsName = name;
    }
  }
  return events;
}

export class CaptureLog implements CaptureFeedSource {
  /** oldest first; only the last one grows, if it holds objects */
  private readonly blocks: Block[] = [];
  /** index in blocks[0] of the oldest event kept */
  private first = 0;
  private kept = 0;
  private readonly blockEvents: number;
  /** events that fell off the front */
  dropped = 0;
  /** wall time of the source's tNs 0, estimated from the first event's arrival */
  private zeroMs: number | undefined;

  constructor(readonly capacity = DEFAULT_CAPTURE_LOG_EVENTS, private readonly createdMs = Date.now()) {
    if (!(capacity >= 1)) throw new Error("capture log capacity must be at least 1");
    this.blockEvents = Math.min(BLOCK_EVENTS, capacity);
  }

  /** the source's clock origin (µs since the epoch), when it knows it: the header's startedAt */
  originUs: () => number | undefined = () => undefined;

  /** Follows a pipeline's events; returns the unsubscribe. */
  static follow(pipeline: Pipeline, capacity?: number): { log: CaptureLog; detach: () => void } {
    const log = new CaptureLog(capacity);
    log.originUs = () => pipeline.source.originUs?.();
    return { log, detach: pipeline.onEvents((events, raw) => log.add(events, raw)) };
  }

  get size(): number {
    return this.kept;
  }

  /** `raw`: the records these events were made from, kept instead of them. */
  add(events: RawEvent[], raw?: RawBatch): void {
    if (events.length === 0) return;
    this.zeroMs ??= Date.now() - (events[0]?.tNs ?? 0) / 1e6;
    if (raw !== undefined) {
      const names = new Map<number, string>();
      for (const ev of events) if (ev.netns !== undefined && ev.netnsName !== undefined) names.set(ev.netns, ev.netnsName);
      this.blocks.push({ raw, names, count: events.length });
    } else {
      for (const ev of events) {
        let last = this.blocks[this.blocks.length - 1];
        if (last?.events === undefined || last.count === this.blockEvents) this.blocks.push((last = { events: [], count: 0 }));
        last.events.push(ev);
        last.count++;
      }
    }
    this.kept += events.length;
    // Whole blocks leave once their last event fell off; a view may still hold them.
    while (this.kept > this.capacity) {
      const oldest = this.blocks[0]!;
      const over = this.kept - this.capacity, left = oldest.count - this.first;
      const off = Math.min(over, left);
      this.kept -= off;
      this.dropped += off;
      if (off === left) {
        this.blocks.shift();
        this.first = 0;
      } else {
        this.first += off;
      }
    }
  }

  /** What a download sends: O(blocks), not O(events). */
  view(): CaptureView {
    const parts = this.blocks.map((block, i) => {
      const from = i === 0 ? this.first : 0, to = block.count;
      if (block.events !== undefined) return { events: block.events, from, to };
      return { get events() { return eventsOf(block); }, from, to };
    });
    return { size: this.kept, dropped: this.dropped, parts };
  }

  /** A download of the log as it is now. */
  open(sourceName: string): Promise<CaptureFeed> {
    const view = this.view();
    const chunks = viewChunks(view);
    return Promise.resolve({
      size: view.size, dropped: view.dropped, header: captureHeader(this, sourceName),
      next: () => Promise.resolve(chunks.next().value ?? undefined),
      cancel: () => void chunks.return(undefined),
    });
  }

  /** Oldest first, copied: for tests and small logs. */
  events(): RawEvent[] {
    return this.view().parts.flatMap((p) => p.events.slice(p.from, p.to));
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
 * A download as it is read: the header line, then chunks of event lines. The session's log lives
 * either here (CaptureLog) or in the pipeline worker (server/offload.ts), which sends it chunk by chunk.
 */
export interface CaptureFeed {
  size: number;
  dropped: number;
  header: string;
  /** the next chunk of lines, or undefined at the end */
  next(): Promise<string | undefined>;
  /** the client went away: nothing more will be asked */
  cancel(): void;
}

export interface CaptureFeedSource {
  open(sourceName: string): Promise<CaptureFeed>;
}

/** The lines of a view, LINES_PER_CHUNK at a time. */
export function* viewChunks(view: CaptureView): Generator<string> {
  for (const part of view.parts) {
    const { events } = part;
    for (let i = part.from; i < part.to; i += LINES_PER_CHUNK) {
      let chunk = "";
      for (let k = i; k < Math.min(i + LINES_PER_CHUNK, part.to); k++) chunk += JSON.stringify(events[k]) + "\n";
      yield chunk;
    }
  }
}

/** The header line of a download of this log. */
export function captureHeader(log: CaptureLog, sourceName: string): string {
  const origin = log.originUs();
  return captureHeaderLine(sourceName, origin === undefined ? log.startedAt() : isoMicros(origin));
}

/**
 * Streams the log as a capture file: the header `record` writes, then one event per line, in chunks
 * that wait for the socket to drain. Stops quietly when the client goes away; cuts a client that
 * takes nothing for stallMs (the file it has is then short).
 */
export async function sendCapture(res: ServerResponse, log: CaptureFeedSource, sourceName: string, now = new Date(),
  stallMs = DEFAULT_STALL_MS): Promise<void> {
  const feed = await log.open(sourceName);
  res.writeHead(200, {
    "Content-Type": "application/x-ndjson; charset=utf-8",
    "Content-Disposition": `attachment; filename="${captureFileName(now)}"`,
    "Cache-Control": "no-store",
    "X-Pktpath-Events": String(feed.size),
    // Older events fell off the bounded log: the file starts mid-session (its first pings may lack requests).
    "X-Pktpath-Dropped-Events": String(feed.dropped),
  });
  let closed = false;
  res.once("close", () => (closed = true));
  res.write(feed.header);
  try {
    for (;;) {
      // writableNeedDrain, not write()'s last answer: a drain that came while we yielded is not missed.
      if (res.writableNeedDrain) {
        if (!(await drainedOrClosed(res, stallMs))) return void res.destroy();
      } else {
        // Else let the pipeline and other requests run between chunks even when the socket keeps up.
        await new Promise<void>((r) => setImmediate(r));
      }
      if (closed) return;
      const chunk = await feed.next();
      if (chunk === undefined) break;
      if (closed) return;
      res.write(chunk);
    }
  } finally {
    if (closed) feed.cancel();
  }
  if (!closed) res.end();
}

/** Resolves true when the socket takes more or is gone, false after stallMs; leaves no listener behind. */
function drainedOrClosed(res: ServerResponse, stallMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (drained: boolean) => (): void => {
      clearTimeout(timer);
      res.off("drain", onDrain);
      res.off("close", onDrain);
      resolve(drained);
    };
    const onDrain = done(true);
    const timer = setTimeout(done(false), stallMs);
    res.on("drain", onDrain);
    res.on("close", onDrain);
  });
}
